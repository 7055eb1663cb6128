//! Prometheus metrics: tool calls by tool, tier and outcome.
//!
//! No global registry: the server owns one [`Metrics`] and the HTTP transport renders it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of the tool-call counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Tool name.
    pub tool: String,
    /// Tier 0..3 as text.
    pub tier: String,
    /// `ok`, `denied`, `error`, `timeout`, `busy`, `confirm_required`.
    pub outcome: String,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    audit_failures: Counter,
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
            "Tool calls by tool, tier and outcome",
            calls.clone(),
        );
        let audit_failures = Counter::default();
        registry.register(
            "relay_shell_audit_write_failures",
            "Audit records that could not be written when first tried",
            audit_failures.clone(),
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
            audit_failures,
            parse_backstops,
        }
    }

    /// Count one call.
    pub fn count_call(&self, tool: &str, tier: u8, outcome: &str) {
        self.calls
            .get_or_create(&CallLabels {
                tool: tool.to_string(),
                tier: tier.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Count one failed audit write.
    pub fn count_audit_failure(&self) {
        self.audit_failures.inc();
    }

    /// How many calls were counted with these labels (for tests and `server_info`).
    pub fn calls(&self, tool: &str, tier: u8, outcome: &str) -> u64 {
        self.calls
            .get_or_create(&CallLabels {
                tool: tool.to_string(),
                tier: tier.to_string(),
                outcome: outcome.to_string(),
            })
            .get()
    }

    /// OpenMetrics text exposition.
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
