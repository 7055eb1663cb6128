//! Running one command on many hosts with bounded concurrency, and rendering the result as
//! JSON that is valid whatever the budget: per-host outputs shrink (and, at worst, trailing
//! results are left out and counted) until the whole document fits; the JSON is never cut.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::audit::Json;
use crate::ssh::{Ssh, Target};
use crate::text;

/// Most hosts one `ssh_fanout` or `ssh_check` may name.
pub const MAX_HOSTS: usize = 100;

/// One host's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostResult {
    /// The host as named in the call (or the inventory).
    pub host: String,
    /// Remote exit status; `None` for unreachable hosts, timeouts and signals.
    pub exit_code: Option<i32>,
    /// Output (or the `[UNREACHABLE …]` / `[TIMEOUT …]` text).
    pub output: String,
    /// Bytes the host produced (for the truncation marker).
    pub total_bytes: usize,
    /// Error kind when the host could not be reached.
    pub error_kind: Option<&'static str>,
}

/// The text a timed-out host shows (docs/tools.md).
pub fn timeout_text(t: u64) -> String {
    format!(
        "[TIMEOUT after {t}s] outcome unknown: the remote side may still be running, may have \
         completed, or may have applied part of the change; verify the remote state before \
         retrying a mutation"
    )
}

/// Run `command` on every host, at most `concurrency` at a time; results in input order.
/// `timeout` bounds both the dial and the command on each host; each host keeps at most
/// `capture` bytes.
pub async fn run(
    ssh: Arc<Ssh>,
    hosts: Vec<String>,
    command: String,
    timeout: u64,
    concurrency: usize,
    capture: usize,
    mark_pid: bool,
) -> Vec<HostResult> {
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let command = Arc::new(command);
    let mut set = tokio::task::JoinSet::new();
    for (i, host) in hosts.iter().cloned().enumerate() {
        let (ssh, sem, command) = (ssh.clone(), sem.clone(), command.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (
                i,
                one(&ssh, host, &command, timeout, capture, mark_pid).await,
            )
        });
    }
    let mut out: Vec<Option<HostResult>> = vec![None; hosts.len()];
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            out[i] = Some(r);
        }
    }
    out.into_iter()
        .zip(hosts)
        .map(|(r, host)| {
            r.unwrap_or(HostResult {
                host,
                exit_code: None,
                output: "[UNREACHABLE: Internal: the host's task failed]".into(),
                total_bytes: 0,
                error_kind: Some("Internal"),
            })
        })
        .collect()
}

async fn one(
    ssh: &Ssh,
    host: String,
    command: &str,
    timeout: u64,
    capture: usize,
    mark_pid: bool,
) -> HostResult {
    let unreachable = |host: String, e: crate::error::ToolError| HostResult {
        host,
        exit_code: None,
        output: format!("[UNREACHABLE: {}: {}]", e.kind, e.message),
        total_bytes: 0,
        error_kind: Some(e.kind.as_str()),
    };
    let prepared = match ssh.prepare(&Target {
        host: host.clone(),
        ..Target::default()
    }) {
        Ok(p) => p,
        Err(e) => return unreachable(host, e),
    };
    let ran = ssh
        .exec(
            &prepared,
            command,
            Duration::from_secs(timeout),
            capture,
            Some(timeout),
            mark_pid,
        )
        .await;
    match ran {
        Err(e) => unreachable(host, e),
        // As `ssh_exec`: the timeout text, then the output read before the deadline.
        Ok(o) if o.timed_out => HostResult {
            host,
            exit_code: None,
            output: text::after_marker(&timeout_text(timeout), &o.output),
            total_bytes: o.total_bytes,
            error_kind: None,
        },
        Ok(o) => HostResult {
            host,
            exit_code: o.exit_code,
            output: text::lossy(&o.output),
            total_bytes: o.total_bytes,
            error_kind: None,
        },
    }
}

/// The per-host byte budget derived from the aggregate budget (docs/tools.md).
pub fn per_host_budget(budget: usize, echo_len: usize, hosts: usize) -> usize {
    let n = hosts.max(1);
    let envelope = 1024 + echo_len + 200 * n;
    (budget.saturating_sub(envelope) / n).max(128)
}

/// The whole fan-out document, at most `budget` bytes, always valid JSON (one line, Python
/// separators, ASCII escapes). Keys: `command`, `concurrency`, `timeout`, `host_count`,
/// `results` (`host`, `exit_code`, `output`), then `results_omitted` when results had to be
/// left out and `notices` when there are any.
pub fn render(
    command: &str,
    concurrency: usize,
    timeout: u64,
    results: &[HostResult],
    notices: &[String],
    budget: usize,
) -> String {
    let mut echo_limit = (budget / 4).min(2048);
    let mut limits: Vec<usize> = {
        let echo = text::truncate(command, echo_limit, None).0;
        let per = per_host_budget(budget, echo.len(), results.len());
        vec![per; results.len()]
    };
    let mut kept = results.len();
    loop {
        let echo = text::truncate(command, echo_limit, None).0;
        let outputs: Vec<String> = results[..kept]
            .iter()
            .zip(&limits)
            .map(|(r, l)| {
                if *l == 0 {
                    String::new()
                } else {
                    text::truncate(&r.output, *l, Some(r.total_bytes.max(r.output.len()))).0
                }
            })
            .collect();
        let doc = document(
            &echo,
            concurrency,
            timeout,
            results,
            &outputs,
            kept,
            notices,
        );
        if doc.len() <= budget {
            return doc;
        }
        let over = doc.len() - budget;
        // Shrink the largest output first; when none is left, drop results from the end;
        // when none is left either, shorten the echoed command.
        let largest = outputs
            .iter()
            .enumerate()
            .filter(|(_, o)| !o.is_empty())
            .max_by_key(|(_, o)| o.len())
            .map(|(i, _)| i);
        if let Some(i) = largest {
            let cur = limits[i].min(results[i].output.len());
            limits[i] = cur.saturating_sub(over.max(16));
        } else if kept > 0 {
            kept -= 1;
        } else if echo_limit > 0 {
            echo_limit = echo_limit.saturating_sub(over.max(16));
        } else {
            return doc;
        }
    }
}

fn document(
    echo: &str,
    concurrency: usize,
    timeout: u64,
    results: &[HostResult],
    outputs: &[String],
    kept: usize,
    notices: &[String],
) -> String {
    let rows = results[..kept]
        .iter()
        .zip(outputs)
        .map(|(r, o)| {
            obj(vec![
                ("host", Json::Str(r.host.clone())),
                (
                    "exit_code",
                    r.exit_code.map_or(Json::Null, |c| Json::Int(c.into())),
                ),
                ("output", Json::Str(o.clone())),
            ])
        })
        .collect();
    let mut fields = vec![
        ("command", Json::Str(echo.to_string())),
        ("concurrency", Json::Int(concurrency as i64)),
        ("timeout", Json::Int(timeout as i64)),
        ("host_count", Json::Int(results.len() as i64)),
        ("results", Json::Arr(rows)),
    ];
    if kept < results.len() {
        fields.push(("results_omitted", Json::Int((results.len() - kept) as i64)));
    }
    if !notices.is_empty() {
        fields.push((
            "notices",
            Json::Arr(notices.iter().cloned().map(Json::Str).collect()),
        ));
    }
    obj(fields).to_python()
}

fn obj(fields: Vec<(&'static str, Json)>) -> Json {
    Json::Obj(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(host: &str, out: &str) -> HostResult {
        HostResult {
            host: host.into(),
            exit_code: Some(0),
            output: out.into(),
            total_bytes: out.len(),
            error_kind: None,
        }
    }

    #[test]
    fn small_results_render_as_python_json() {
        let doc = render("uptime", 8, 30, &[r("a", "up\n")], &[], 65536);
        assert_eq!(
            doc,
            r#"{"command": "uptime", "concurrency": 8, "timeout": 30, "host_count": 1, "results": [{"host": "a", "exit_code": 0, "output": "up\n"}]}"#
        );
    }

    #[test]
    fn always_valid_json_under_the_budget() {
        // Escape-heavy output (control characters become \u00XX, non-ASCII \uXXXX).
        let nasty: String = "\u{1}é\"\\😀".repeat(5000);
        for budget in [1024usize, 1500, 4096, 65536] {
            for n in [1usize, 3, 20, 100] {
                let results: Vec<HostResult> =
                    (0..n).map(|i| r(&format!("host-{i}"), &nasty)).collect();
                let doc = render(&nasty, 8, 30, &results, &["a notice".into()], budget);
                assert!(
                    doc.len() <= budget,
                    "{} > {budget} for {n} hosts",
                    doc.len()
                );
                let v: serde_json::Value = serde_json::from_str(&doc).expect("valid JSON");
                assert_eq!(v["host_count"], n);
                assert_eq!(v["notices"][0], "a notice");
                let shown = v["results"].as_array().unwrap().len();
                let omitted = v
                    .get("results_omitted")
                    .and_then(|o| o.as_u64())
                    .unwrap_or(0);
                assert_eq!(shown as u64 + omitted, n as u64);
            }
        }
    }

    #[test]
    fn budget_formula() {
        assert_eq!(per_host_budget(65536, 6, 3), (65536 - 1024 - 6 - 600) / 3);
        assert_eq!(per_host_budget(1024, 6, 100), 128);
    }
}
