//! The real binary under concurrent callers, killed with SIGKILL: the log still verifies,
//! every answered call has its completion record, and every started call its start record.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::ClientConfig;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

use relay_shell::audit::{sha256_hex, verify_audit};

const CALLERS: usize = 8;

/// Wait (bounded) until `pred` holds for the audit records.
async fn wait_for_records(path: &std::path::Path, pred: impl Fn(&[Value]) -> bool) -> bool {
    for _ in 0..500 {
        let recs: Vec<Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if pred(&recs) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_concurrent_callers_leaves_a_verifiable_complete_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    let cmd = tokio::process::Command::new(common::bin()).configure(|c| {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
            )
            .env("RELAY_SHELL_LOG", "warn")
            .env("RELAY_SHELL_AUDIT_PATH", &audit_s);
    });
    let transport = TokioChildProcess::new(cmd).expect("spawn");
    let pid = transport.id().expect("pid") as i32;
    let client = ClientConfig::default()
        .serve(transport)
        .await
        .expect("initialize");
    let peer = client.peer().clone();

    // Answers that reached this client: (command, text).
    let answered: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut callers = Vec::new();
    for t in 0..CALLERS {
        let peer = peer.clone();
        let answered = Arc::clone(&answered);
        callers.push(tokio::spawn(async move {
            for i in 0.. {
                // One caller in four runs something slow, so calls are in flight at the kill.
                let command = if t % 4 == 0 && i % 3 == 2 {
                    format!("sleep 2; echo slow-{t}-{i}")
                } else {
                    format!("echo fast-{t}-{i}")
                };
                let r = peer
                    .call_tool(common::params("shell_exec", json!({ "command": command })))
                    .await;
                match r {
                    Ok(r) => answered
                        .lock()
                        .expect("lock")
                        .push((command, common::text(&r))),
                    Err(_) => return,
                }
            }
        }));
    }
    // Let a good number of calls complete and a slow one start, then kill mid-flight.
    let started = wait_for_records(&audit, |recs| {
        recs.len() > 240
            && recs.iter().any(|r| {
                r["event"] == "start"
                    && r["args"]["command"]
                        .as_str()
                        .is_some_and(|c| c.starts_with("sleep 2"))
            })
    })
    .await;
    assert!(started, "calls did not progress");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    for c in callers {
        let _ = tokio::time::timeout(Duration::from_secs(10), c).await;
    }
    drop(client);

    // The log verifies; a torn tail is the only finding allowed.
    let v = verify_audit(&audit, false);
    assert!(v.ok, "{}", v.reason);
    assert!(v.torn.iter().all(|(_, t)| t.tail), "{:?}", v.torn);

    let recs: Vec<Value> = std::fs::read_to_string(&audit)
        .expect("read")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let starts: HashSet<String> = recs
        .iter()
        .filter(|r| r["event"] == "start")
        .map(|r| r["request_id"].as_str().unwrap_or_default().to_string())
        .collect();
    let completions: Vec<&Value> = recs.iter().filter(|r| r.get("event").is_none()).collect();

    // Every answer that reached the client has its completion record (same command, same
    // output hash).
    let answered = answered.lock().expect("lock").clone();
    assert!(answered.len() > 60, "only {} answers", answered.len());
    let done: HashSet<(String, String)> = completions
        .iter()
        .map(|r| {
            (
                r["args"]["command"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["output_sha256"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (command, text) in &answered {
        assert!(
            done.contains(&(command.clone(), sha256_hex(text.as_bytes()))),
            "answered call without completion record: {command}"
        );
    }
    // Every completed call that ran something was started first, in the log.
    for r in &completions {
        let id = r["request_id"].as_str().unwrap_or_default();
        assert!(starts.contains(id), "completion without start record: {r}");
    }
    // Calls that were running at the kill left their start record.
    let open: Vec<&String> = starts
        .iter()
        .filter(|id| !completions.iter().any(|r| r["request_id"] == id.as_str()))
        .collect();
    assert!(!open.is_empty(), "no call was in flight at the kill");
}
