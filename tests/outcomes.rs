//! Honest outcomes through the real binary: every completion record says how its call ended
//! (`outcome`, one closed set), refusals say nothing ran, a timeout keeps the output read so
//! far, output is counted in the bytes the program wrote, and records dropped while the audit
//! log could not be written (a real RLIMIT_FSIZE on the server) are announced by a chained gap
//! record that `--verify-audit` reports.

mod common;

use common::limited::{Served, serve};

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::model::{CallToolRequest, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

use relay_shell::audit::{sha256_hex, verify_audit};

impl Served {
    async fn call(&self, tool: &str, args: Value) -> rmcp::model::CallToolResult {
        self.client
            .call_tool(common::params(tool, args))
            .await
            .expect("answered")
    }

    async fn exec(&self, args: Value) -> (String, Value) {
        let r = self.call("shell_exec", args).await;
        (
            common::text(&r),
            r.structured_content.clone().unwrap_or(Value::Null),
        )
    }
}

/// Lift the server's file-size limit from outside.
fn unlimit(pid: i32) {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain system call on a pid we started.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &lim, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// Every audit line that parses as JSON (a torn line does not).
fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Wait (polling the audit file) until a record satisfies `pred`.
async fn wait_for_record(path: &Path, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..1200 {
        if let Some(r) = records(path).into_iter().find(|r| pred(r)) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no such record in {:?}",
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

/// The completion record whose result hashes to `text` (the newest, if several).
fn record_of(path: &Path, tool: &str, text: &str) -> Value {
    let sha = sha256_hex(text.as_bytes());
    records(path)
        .into_iter()
        .rev()
        .find(|r| r["tool"] == tool && r["output_sha256"] == sha.as_str())
        .unwrap_or_else(|| panic!("no record of {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_but_audit_unavailable_is_recorded_from_a_real_call() {
    let s = serve(
        &[
            ("RELAY_SHELL_MAX_CONCURRENT", "1"),
            ("RELAY_SHELL_CONFIRM_TIER3", "true"),
            ("RELAY_SHELL_POLICY_DENY", "forbidden"),
            ("RELAY_SHELL_UNSAFE_NOTICES", "false"),
        ],
        None,
    )
    .await;
    let a = &s.audit;

    // ok, with the process's own status in exit_code.
    let (t, _) = s.exec(json!({"command": "echo hi"})).await;
    assert_eq!(t, "[exit 0]\nhi\n");
    let r = record_of(a, "shell_exec", &t);
    assert_eq!(
        (&r["outcome"], &r["exit_code"], &r["denied"]),
        (&json!("ok"), &json!(0), &json!(false))
    );
    let (t, _) = s.exec(json!({"command": "exit 3"})).await;
    assert_eq!(t, "[exit 3]\n");
    let r = record_of(a, "shell_exec", &t);
    assert_eq!((&r["outcome"], &r["exit_code"]), (&json!("ok"), &json!(3)));

    // error: the work failed before the command could run.
    let (t, _) = s
        .exec(json!({"command": "echo x", "cwd": "/nonexistent-relay-outcomes"}))
        .await;
    assert!(t.starts_with("[ERROR: NotFound: "), "{t}");
    let r = record_of(a, "shell_exec", &t);
    assert_eq!(
        (&r["outcome"], &r["exit_code"], &r["denied"]),
        (&json!("error"), &Value::Null, &json!(false))
    );

    // timeout: the output read before the deadline follows the marker line, and the record
    // hashes exactly that text.
    let (t, st) = s
        .exec(json!({"command": "printf 'partial\\377'; sleep 30", "timeout": 1}))
        .await;
    assert_eq!(t, "[TIMEOUT after 1s]\npartial\u{fffd}");
    assert_eq!(st["timed_out"], true);
    assert_eq!(st["outcome"], "timeout");
    assert_eq!(st["output_bytes"], 8, "the bytes the program wrote");
    let r = record_of(a, "shell_exec", &t);
    assert_eq!(
        (&r["outcome"], &r["exit_code"], &r["output_len"]),
        (&json!("timeout"), &Value::Null, &json!(t.len()))
    );
    // A timeout with no output is the v0.5 result string, byte for byte.
    let (t, _) = s.exec(json!({"command": "sleep 30", "timeout": 1})).await;
    assert_eq!(t, "[TIMEOUT after 1s]");

    // denied and confirm_required: nothing ran.
    let (t, _) = s.exec(json!({"command": "echo forbidden"})).await;
    assert!(t.starts_with("[DENIED tier "), "{t}");
    let r = record_of(a, "shell_exec", &t);
    assert_eq!(
        (&r["outcome"], &r["denied"], &r["exit_code"]),
        (&json!("denied"), &json!(true), &Value::Null)
    );
    let (t, _) = s.exec(json!({"command": "rm -rf /x"})).await;
    assert!(t.starts_with("[CONFIRM REQUIRED "), "{t}");
    let r = record_of(a, "shell_exec", &t);
    assert_eq!(
        (&r["outcome"], &r["denied"], &r["action"]),
        (
            &json!("confirm_required"),
            &json!(false),
            &json!("confirm_plan")
        )
    );

    // 1,000 bytes of 0xff: 1,000 bytes written, 3,000 bytes of replacement characters shown.
    let (t, st) = s
        .exec(json!({"command": "head -c 1000 /dev/zero | tr '\\000' '\\377'", "max_output": 8192}))
        .await;
    assert_eq!(t, format!("[exit 0]\n{}", "\u{fffd}".repeat(1000)));
    assert_eq!(st["output_bytes"], 1000);
    assert_eq!(st["truncated"], false);

    // cancelled: the client cancels a running call.
    let req = ClientRequest::CallToolRequest(CallToolRequest::new(common::params(
        "shell_exec",
        json!({"command": "sleep 7032", "timeout": 600}),
    )));
    let handle = s
        .client
        .peer()
        .send_cancellable_request(req, PeerRequestOptions::no_options())
        .await
        .expect("request sent");
    wait_for_record(a, |r| {
        r["event"] == "start" && r["args"]["command"] == "sleep 7032"
    })
    .await;
    handle.cancel(None).await.expect("cancelled");
    let r = wait_for_record(a, |r| {
        r["event"].is_null() && r["args"]["command"] == "sleep 7032"
    })
    .await;
    assert_eq!(
        (&r["outcome"], &r["action"], &r["exit_code"]),
        (&json!("cancelled"), &json!("cancelled"), &Value::Null)
    );

    // busy: the only slot stays taken for the whole queue wait.
    let peer = s.client.peer().clone();
    let slow = tokio::spawn(async move {
        peer.call_tool(common::params(
            "shell_exec",
            json!({"command": "sleep 12; echo slow"}),
        ))
        .await
        .map(|r| common::text(&r))
    });
    wait_for_record(a, |r| {
        r["event"] == "start" && r["args"]["command"] == "sleep 12; echo slow"
    })
    .await;
    let (t, st) = s.exec(json!({"command": "echo fast"})).await;
    assert_eq!(
        t,
        "[ERROR: Busy: the call was not run: all 1 call slots (RELAY_SHELL_MAX_CONCURRENT) stayed \
         taken for the 10s it waited in the queue of calls; retry later]"
    );
    assert_eq!(st["outcome"], "busy");
    let r = record_of(a, "shell_exec", &t);
    assert_eq!(
        (&r["outcome"], &r["denied"], &r["exit_code"]),
        (&json!("busy"), &json!(false), &Value::Null)
    );
    assert_eq!(
        slow.await.expect("join").expect("answered"),
        "[exit 0]\nslow\n"
    );
    s.client.cancel().await.expect("stop");

    // Every completion record carries an outcome from the closed set; all but
    // audit_unavailable (the next test) occurred.
    let seen: BTreeSet<String> = records(a)
        .iter()
        .filter(|r| r["event"].is_null())
        .map(|r| r["outcome"].as_str().expect("outcome").to_string())
        .collect();
    let expected: BTreeSet<String> = [
        "ok",
        "error",
        "timeout",
        "cancelled",
        "denied",
        "confirm_required",
        "busy",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(seen, expected);
    let v = verify_audit(a, false);
    assert!(v.ok, "{}", v.reason);
}

/// `--verify-audit` through the binary.
fn verify_cli(path: &Path) -> (i32, String, String) {
    let out = std::process::Command::new(common::bin())
        .arg("--verify-audit")
        .arg("--audit-path")
        .arg(path)
        .env("RELAY_SHELL_LOG", "warn")
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// How many calls overflow the sink's in-memory queue (10,000 records) while writes fail.
const FLOOD: u64 = 10_100;
const CALLERS: u64 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_records_and_the_log_then_says_how_many() {
    let s = serve(&[], Some(3000)).await;
    let path = s.audit.display().to_string();
    let made = Arc::new(AtomicU64::new(0));

    // Calls until the limit is hit; the first refusal says the call was not run.
    let refused = loop {
        let i = made.fetch_add(1, Ordering::SeqCst);
        let (t, st) = s.exec(json!({"command": format!("echo call-{i}")})).await;
        if t.starts_with("[ERROR: AuditUnavailable: the call was not run") {
            assert_eq!(st["outcome"], "audit_unavailable");
            break t;
        }
        assert!(i < 50, "the limit was never reached: {t}");
    };
    assert_eq!(
        refused,
        format!(
            "[ERROR: AuditUnavailable: the call was not run: its audit record cannot be written \
             (audit write to {path} failed: File too large (os error 27)); calls are refused \
             until the audit log is writable again]"
        )
    );

    // A flood of refused calls overflows the in-memory queue.
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let peer = s.client.peer().clone();
        let made = Arc::clone(&made);
        tasks.push(tokio::spawn(async move {
            for _ in 0..FLOOD / CALLERS {
                let i = made.fetch_add(1, Ordering::SeqCst);
                let r = peer
                    .call_tool(common::params(
                        "shell_exec",
                        json!({"command": format!("echo flood-{i}")}),
                    ))
                    .await
                    .expect("answered");
                assert!(
                    common::text(&r).starts_with("[ERROR: AuditUnavailable: the call was not run"),
                    "{}",
                    common::text(&r)
                );
            }
        }));
    }
    for t in tasks {
        t.await.expect("caller");
    }

    // server_info answers while the sink refuses, with the counters.
    made.fetch_add(1, Ordering::SeqCst);
    let r = s.call("server_info", json!({})).await;
    assert_ne!(r.is_error, Some(true), "{}", common::text(&r));
    let info: Value = serde_json::from_str(&common::text(&r)).expect("server_info JSON");
    let audit = &info["audit"];
    assert_eq!(audit["degraded"], true, "{audit}");
    assert_eq!(audit["queued"], 10_000, "{audit}");
    let dropped = audit["dropped"].as_u64().expect("dropped");
    assert!(dropped > 0, "{audit}");
    assert_eq!(audit["dropped_unreported"], dropped);
    assert_eq!(audit["gap_records"], 0);
    assert!(audit["write_failures"].as_u64().expect("failures") > 0);
    assert!(
        audit["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("File too large")),
        "{audit}"
    );

    // Writes succeed again: the queue is written, then the gap record, then new records.
    unlimit(s.pid);
    made.fetch_add(1, Ordering::SeqCst);
    let (t, _) = s.exec(json!({"command": "echo after"})).await;
    assert_eq!(t, "[exit 0]\nafter\n");
    made.fetch_add(1, Ordering::SeqCst);
    let r = s.call("server_info", json!({})).await;
    let info: Value = serde_json::from_str(&common::text(&r)).expect("server_info JSON");
    assert_eq!(info["audit"]["degraded"], false, "{info}");
    assert_eq!(info["audit"]["queued"], 0);
    assert_eq!(info["audit"]["dropped_unreported"], 0);
    assert_eq!(info["audit"]["gap_records"], 1);
    // server_info's own record was dropped too (the queue was still full).
    let lost = dropped + 1;
    assert_eq!(info["audit"]["dropped"], lost);
    s.client.cancel().await.expect("stop");

    let recs = records(&s.audit);
    let gaps: Vec<&Value> = recs.iter().filter(|r| r["event"] == "gap").collect();
    assert_eq!(gaps.len(), 1);
    let gap = gaps[0];
    assert_eq!(gap["lost"], lost);
    assert!(gap["seq"].is_u64() && gap["chain"].is_string(), "chained");
    assert!(
        gap["reason"]
            .as_str()
            .is_some_and(|r| r.contains("File too large")),
        "{gap}"
    );
    // Nothing else is missing: every call has a completion record or is counted as lost.
    let completions = recs.iter().filter(|r| r["event"].is_null()).count() as u64;
    assert_eq!(completions + lost, made.load(Ordering::SeqCst));
    // Refused calls are recorded as such.
    let r = record_of(&s.audit, "shell_exec", &refused);
    assert_eq!(
        (&r["outcome"], &r["denied"], &r["exit_code"]),
        (&json!("audit_unavailable"), &json!(false), &Value::Null)
    );
    // The record written after the gap is the call made after recovery.
    let at = recs.iter().position(|r| r["event"] == "gap").expect("gap");
    assert_eq!(recs[at + 1]["args"]["command"], "echo after");

    // The chain verifies; the gap is a warning with its count, and the exit status is 0.
    let v = verify_audit(&s.audit, false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.lost(), lost);
    let (code, stdout, stderr) = verify_cli(&s.audit);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let line = v.gaps[0].1.line;
    assert!(
        stdout.contains(&format!(
            "  warning: {path} line {line}: gap record: {lost} record(s) lost (dropped by the \
             server while the log could not be written)\n"
        )),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        format!(
            "relay-shell: verify-audit OK (warning: {lost} record(s) lost, see the gap records)\n"
        )
    );
}
