//! Prometheus metrics: tool calls by tool, tier, mode and outcome; call durations; bytes
//! returned; live gauges (sessions, forwards, SSH masters, MCP sessions, audit health).
//!
//! No global registry: the server owns one [`Metrics`] and the HTTP transport renders it at
//! `GET /metrics`. No metric carries a principal: label values come from fixed sets (tool
//! names, tiers, modes, outcomes), so a client cannot grow the series count.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the tool-call counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Tool name.
    pub tool: String,
    /// Tier 0..3 as text.
    pub tier: String,
    /// The admission mode the call was judged under (the server's, or a token's ceiling).
    pub mode: String,
    /// `ok`, `denied`, `error`, `timeout`, `busy`, `confirm_required`, `cancelled`.
    pub outcome: String,
}

/// Labels of the per-tool duration histogram and byte counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabel {
    /// Tool name.
    pub tool: String,
}

/// Values read live when `/metrics` is scraped (set just before rendering).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// PTY sessions whose program still runs.
    pub pty_sessions: usize,
    /// SSH port forwards open.
    pub forwards: usize,
    /// SSH master connections open.
    pub ssh_masters: usize,
    /// MCP sessions over HTTP.
    pub mcp_sessions: usize,
    /// Whether the audit sink is degraded.
    pub audit_degraded: bool,
}

fn duration_histogram() -> Histogram {
    // 1 ms … ~65 s, factor 4: a spawned `true` lands in the first buckets, a long job in
    // the last ones.
    Histogram::new(exponential_buckets(0.001, 4.0, 9))
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    durations: Family<ToolLabel, Histogram>,
    bytes: Family<ToolLabel, Counter>,
    audit_failures: Counter,
    audit_degraded: Gauge,
    pty_sessions: Gauge,
    forwards: Gauge,
    ssh_masters: Gauge,
    mcp_sessions: Gauge,
    /// Mirrors [`crate::policy::parse_backstops`] (a process-wide count kept by the pure
    /// policy module) each time the metrics are rendered.
    parse_backstops: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "relay_shell_tool_calls",
            "Tool calls by tool, tier, mode and outcome",
            calls.clone(),
        );
        let durations =
            Family::<ToolLabel, Histogram>::new_with_constructor(duration_histogram as fn() -> _);
        registry.register(
            "relay_shell_tool_call_duration_seconds",
            "Wall time of tool calls, from admission to the completion record",
            durations.clone(),
        );
        let bytes = Family::<ToolLabel, Counter>::default();
        registry.register(
            "relay_shell_tool_output_bytes",
            "Bytes of result text returned to clients",
            bytes.clone(),
        );
        let audit_failures = Counter::default();
        registry.register(
            "relay_shell_audit_write_failures",
            "Audit records that could not be written when first tried",
            audit_failures.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let audit_degraded = gauge(
            &mut registry,
            "relay_shell_audit_degraded",
            "1 while audit records cannot be written, else 0",
        );
        let pty_sessions = gauge(
            &mut registry,
            "relay_shell_active_sessions",
            "PTY sessions (local and SSH) whose program is still running",
        );
        let forwards = gauge(
            &mut registry,
            "relay_shell_active_forwards",
            "SSH port forwards open",
        );
        let ssh_masters = gauge(
            &mut registry,
            "relay_shell_ssh_masters",
            "SSH master connections open",
        );
        let mcp_sessions = gauge(
            &mut registry,
            "relay_shell_mcp_sessions",
            "MCP sessions open on the HTTP transport",
        );
        let parse_backstops = Counter::default();
        registry.register(
            "relay_shell_parse_backstops",
            "Classifications whose parse hit the wall-clock backstop instead of the work budget \
             (the text then fails closed; stays 0 on a healthy machine)",
            parse_backstops.clone(),
        );
        Self {
            registry,
            calls,
            durations,
            bytes,
            audit_failures,
            audit_degraded,
            pty_sessions,
            forwards,
            ssh_masters,
            mcp_sessions,
            parse_backstops,
        }
    }

    /// Count one finished call: its labels, its duration and the bytes returned.
    pub fn count_call(
        &self,
        tool: &str,
        tier: u8,
        mode: &str,
        outcome: &str,
        seconds: f64,
        bytes: usize,
    ) {
        self.calls
            .get_or_create(&CallLabels {
                tool: tool.to_string(),
                tier: tier.to_string(),
                mode: mode.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        let label = ToolLabel {
            tool: tool.to_string(),
        };
        self.durations.get_or_create(&label).observe(seconds);
        self.bytes.get_or_create(&label).inc_by(bytes as u64);
    }

    /// Count one failed audit write.
    pub fn count_audit_failure(&self) {
        self.audit_failures.inc();
    }

    /// How many calls were counted with these labels (for tests and `server_info`).
    pub fn calls(&self, tool: &str, tier: u8, mode: &str, outcome: &str) -> u64 {
        self.calls
            .get(&CallLabels {
                tool: tool.to_string(),
                tier: tier.to_string(),
                mode: mode.to_string(),
                outcome: outcome.to_string(),
            })
            .map_or(0, |c| c.get())
    }

    /// Set the live gauges (the scrape handler calls this just before [`Metrics::render`]).
    pub fn set_live(&self, live: Live) {
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.pty_sessions.set(n(live.pty_sessions));
        self.forwards.set(n(live.forwards));
        self.ssh_masters.set(n(live.ssh_masters));
        self.mcp_sessions.set(n(live.mcp_sessions));
        self.audit_degraded.set(i64::from(live.audit_degraded));
    }

    /// OpenMetrics text exposition (`application/openmetrics-text; version=1.0.0`), which
    /// Prometheus scrapes natively.
    pub fn render(&self) -> String {
        let seen = crate::policy::parse_backstops();
        let shown = self.parse_backstops.get();
        if seen > shown {
            self.parse_backstops.inc_by(seen - shown);
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_histogram_and_gauges_render() {
        let m = Metrics::new();
        m.count_call("shell_exec", 1, "open", "ok", 0.002, 12);
        m.count_call("shell_exec", 1, "open", "ok", 0.003, 8);
        m.set_live(Live {
            pty_sessions: 2,
            audit_degraded: true,
            ..Live::default()
        });
        assert_eq!(m.calls("shell_exec", 1, "open", "ok"), 2);
        assert_eq!(m.calls("shell_exec", 1, "readonly", "ok"), 0);
        let text = m.render();
        assert!(text.contains(
            "relay_shell_tool_calls_total{tool=\"shell_exec\",tier=\"1\",mode=\"open\",outcome=\"ok\"} 2"
        ));
        assert!(text.contains("relay_shell_tool_output_bytes_total{tool=\"shell_exec\"} 20"));
        assert!(
            text.contains("relay_shell_tool_call_duration_seconds_count{tool=\"shell_exec\"} 2")
        );
        assert!(text.contains("relay_shell_active_sessions 2"));
        assert!(text.contains("relay_shell_audit_degraded 1"));
        assert!(text.ends_with("# EOF\n"));
    }
}
