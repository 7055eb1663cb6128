//! Drop-in compatibility with the Python relay-shell v0.5.0, over stdio with the real binary:
//! `RELAY_SHELL_MAX_INPUT`, `[NOTICE …]` lines, `intent` and `cancelled` records, `timeout=0`,
//! `session_kill`/`session_resize`, `server_info`'s new fields (docs/compatibility.md); more
//! in `compat_v05_config_ssh.rs`, `compat_v05_sessions.rs`, `compat_v05_http.rs`. Exact strings
//! throughout.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Completion records of `tool` (no start records).
fn of(s: &common::Server, tool: &str) -> Vec<Value> {
    s.completion_records()
        .into_iter()
        .filter(|r| r["tool"] == tool)
        .collect()
}

#[tokio::test]
async fn max_input_counts_characters_and_refuses_at_the_boundary() {
    let s = common::start(&[("RELAY_SHELL_MAX_INPUT", "1024")]).await;
    // 1024 characters (2043 bytes): admitted. Multibyte characters count once.
    let at = format!("echo {}", "é".repeat(1019));
    assert_eq!(at.chars().count(), 1024);
    let out = s.call("shell_exec", json!({"command": at})).await;
    assert!(out.starts_with("[exit 0]\n"), "{out}");
    let over = format!("echo {}", "é".repeat(1020));
    let out = s.call("shell_exec", json!({"command": over})).await;
    assert_eq!(
        out,
        "[DENIED tier 1 (REVERSIBLE): input is 1025 characters, over RELAY_SHELL_MAX_INPUT (1024)]"
    );
    let rec = of(&s, "shell_exec").pop().expect("record");
    assert_eq!(rec["denied"], true);
    assert_eq!(rec["tier"], 1);
    assert_eq!(rec["output_sha256"], sha(&out));
    // Command, stdin and env_json are joined by newlines: 3 + 1 + 1020 + 1 + 2 = 1027.
    let out = s
        .call(
            "shell_exec",
            json!({"command": "cat", "stdin": "x".repeat(1020), "env_json": "{}"}),
        )
        .await;
    assert_eq!(
        out,
        "[DENIED tier 1 (REVERSIBLE): input is 1027 characters, over RELAY_SHELL_MAX_INPUT (1024)]"
    );
    // A tier-3 text over the limit is refused under the tool's base tier, before the
    // classifier reads it.
    let out = s
        .call(
            "shell_exec",
            json!({"command": format!("rm -rf /{}", "x".repeat(1100))}),
        )
        .await;
    assert!(out.starts_with("[DENIED tier 1 (REVERSIBLE): input is 1108 characters"));
    // A read-only tool's base tier is 0.
    let hosts: Vec<String> = (0..200).map(|i| format!("host{i:03}")).collect();
    let out = s.call("ssh_check", json!({"hosts": hosts.join(",")})).await;
    assert!(
        out.starts_with("[DENIED tier 0 (READ_ONLY): input is "),
        "{out}"
    );
    assert!(out.ends_with(" characters, over RELAY_SHELL_MAX_INPUT (1024)]"));
    s.stop().await;
}

#[tokio::test]
async fn max_input_counts_a_sessions_pending_line_and_leaves_it_unchanged() {
    let s = common::start(&[("RELAY_SHELL_MAX_INPUT", "1024")]).await;
    let out = s.call("shell_spawn", json!({"command": "cat"})).await;
    let sid = out.split_whitespace().nth(1).expect("id").to_string();
    let first = s
        .call(
            "session_send",
            json!({"session_id": sid, "data": format!("echo {}", "a".repeat(595)), "enter": false}),
        )
        .await;
    assert_eq!(first, format!("sent 600 bytes to {sid}"));
    // The pending 600 plus 500 more is 1100 characters.
    let out = s
        .call(
            "session_send",
            json!({"session_id": sid, "data": "b".repeat(500), "enter": false}),
        )
        .await;
    assert_eq!(
        out,
        "[DENIED tier 1 (REVERSIBLE): input is 1100 characters, over RELAY_SHELL_MAX_INPUT (1024)]"
    );
    // The refused send left the pending line as it was: 600 + 424 = 1024 fits.
    let out = s
        .call(
            "session_send",
            json!({"session_id": sid, "data": "c".repeat(424), "enter": false}),
        )
        .await;
    assert_eq!(out, format!("sent 424 bytes to {sid}"));
    // Erase keys shorten the line the policy judges, not the input counted: 600 "a" + DEL
    // pairs are 1200 characters.
    let out = s.call("shell_spawn", json!({"command": "cat"})).await;
    let sid = out.split_whitespace().nth(1).expect("id").to_string();
    let out = s
        .call(
            "session_send",
            json!({"session_id": sid, "data": "a\u{7f}".repeat(600), "enter": false}),
        )
        .await;
    assert_eq!(
        out,
        "[DENIED tier 1 (REVERSIBLE): input is 1200 characters, over RELAY_SHELL_MAX_INPUT (1024)]"
    );
    s.stop().await;
}

#[tokio::test]
async fn notices_follow_the_result_and_stay_out_of_its_hash() {
    let s = common::start(&[]).await;
    let dir = s.dir.path().display().to_string();
    let out = s
        .call(
            "shell_exec",
            json!({"command": format!("rm -rf {dir}/nothing-here")}),
        )
        .await;
    assert_eq!(
        out,
        "[exit 0]\n\n[NOTICE tier 3 (IRREVERSIBLE), matched an irreversible-operation pattern. It may not be undoable and ran with no confirmation step; verify the target and take a backup or snapshot first. Classification is a heuristic, not a boundary]"
    );
    let rec = of(&s, "shell_exec").pop().expect("record");
    assert_eq!(rec["output_sha256"], sha("[exit 0]\n"));
    assert_eq!(rec["output_len"], 9);
    let out = s
        .call(
            "shell_exec",
            json!({"command": "sudo -n useradd 2>/dev/null; true"}),
        )
        .await;
    assert_eq!(
        out,
        "[exit 0]\n\n[NOTICE tier 2 (STATEFUL), matched a privilege-escalation pattern. It runs with elevated privileges and can change anything the target account can. Classification is a heuristic, not a boundary]"
    );
    // An error of an admitted call gets its notice too.
    let out = s
        .call(
            "shell_exec",
            json!({"command": "rm gone", "cwd": format!("{dir}/no-such-dir")}),
        )
        .await;
    assert!(out.starts_with("[ERROR: NotFound: "), "{out}");
    assert!(out.ends_with(
        "\n[NOTICE tier 2 (STATEFUL), matched a state-changing pattern. It changes state that a user or dependent service may notice. Classification is a heuristic, not a boundary]"
    ));
    let rec = of(&s, "shell_exec").pop().expect("record");
    let body = out.split("\n[NOTICE ").next().expect("body");
    assert_eq!(rec["output_sha256"], sha(body));
    // Tier 1 gets none.
    let out = s
        .call("shell_exec", json!({"command": format!("touch {dir}/t")}))
        .await;
    assert_eq!(out, "[exit 0]\n");
    s.stop().await;

    // Never on a refusal or a confirmation challenge; off with UNSAFE_NOTICES=false.
    let s = common::start(&[("RELAY_SHELL_POLICY_MODE", "guarded")]).await;
    let out = s.call("shell_exec", json!({"command": "rm -rf /x"})).await;
    assert_eq!(
        out,
        "[DENIED tier 3 (IRREVERSIBLE): guarded mode refuses Tier 3 (IRREVERSIBLE) without an RELAY_SHELL_POLICY_ALLOW match]"
    );
    s.stop().await;
    let s = common::start(&[("RELAY_SHELL_CONFIRM_TIER3", "true")]).await;
    let out = s.call("shell_exec", json!({"command": "rm -rf /x"})).await;
    assert!(out.starts_with("[CONFIRM REQUIRED ") && !out.contains("NOTICE"));
    s.stop().await;
    let s = common::start(&[("RELAY_SHELL_UNSAFE_NOTICES", "false")]).await;
    let dir = s.dir.path().display().to_string();
    let out = s
        .call("shell_exec", json!({"command": format!("rm -rf {dir}/x")}))
        .await;
    assert_eq!(out, "[exit 0]\n");
    s.stop().await;
}

#[tokio::test]
async fn intent_records_precede_the_work_of_admitted_calls() {
    let s = common::start(&[
        ("RELAY_SHELL_AUDIT_INTENT", "true"),
        ("RELAY_SHELL_POLICY_DENY", "forbidden"),
    ])
    .await;
    assert_eq!(
        s.call("shell_exec", json!({"command": "echo hi"})).await,
        "[exit 0]\nhi\n"
    );
    s.call("shell_exec", json!({"command": "echo forbidden"}))
        .await;
    s.call("server_info", json!({})).await;
    let recs = s.audit_records();
    let shell: Vec<&Value> = recs.iter().filter(|r| r["tool"] == "shell_exec").collect();
    // Intent, start, completion for the admitted call; only a completion for the denied one.
    assert_eq!(shell.len(), 4, "{shell:?}");
    let intent = shell[0];
    assert_eq!(intent["action"], "intent");
    assert_eq!(intent["denied"], false);
    assert_eq!(intent["tier"], 0);
    assert_eq!(intent["args"]["command"], "echo hi");
    assert_eq!(
        intent["output_sha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(intent["output_len"], 0);
    assert_eq!(intent["exit_code"], Value::Null);
    assert!(intent.get("duration_ms").is_none());
    assert_eq!(shell[1]["event"], "start");
    assert!(shell[2].get("action").is_none());
    assert_eq!(shell[3]["denied"], true);
    // Tier-0 tools get one too.
    let info: Vec<&Value> = recs.iter().filter(|r| r["tool"] == "server_info").collect();
    assert_eq!(info.len(), 2);
    assert_eq!(info[0]["action"], "intent");
    // Off by default.
    s.stop().await;
    let s = common::start(&[]).await;
    s.call("shell_exec", json!({"command": "true"})).await;
    assert!(
        s.audit_records()
            .iter()
            .all(|r| r.get("action") != Some(&json!("intent")))
    );
    s.stop().await;
}

/// Wait (polling the audit file) until a record satisfies `pred`.
async fn wait_for_record(path: &std::path::Path, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..1200 {
        if let Some(r) = common::read_records(path).into_iter().find(|r| pred(r)) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no such record in {:?}",
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_is_recorded_as_cancelled_and_its_process_stops() {
    use rmcp::model::{CallToolRequest, ClientRequest};
    use rmcp::service::PeerRequestOptions;
    let s = common::start(&[]).await;
    let req = ClientRequest::CallToolRequest(CallToolRequest::new(common::params(
        "shell_exec",
        json!({"command": "sleep 7031", "timeout": 600}),
    )));
    let handle = s
        .client
        .peer()
        .send_cancellable_request(req, PeerRequestOptions::no_options())
        .await
        .expect("request sent");
    wait_for_record(&s.audit, |r| r["event"] == "start").await;
    handle.cancel(None).await.expect("cancelled");
    let rec = wait_for_record(&s.audit, |r| r["action"] == "cancelled").await;
    assert_eq!(rec["tool"], "shell_exec");
    assert_eq!(rec["denied"], false);
    assert_eq!(rec["tier"], 0);
    assert_eq!(rec["exit_code"], Value::Null);
    assert_eq!(rec["output_len"], 11);
    assert_eq!(rec["output_sha256"], sha("[CANCELLED]"));
    // The process group was killed.
    for _ in 0..400 {
        if !sleeping("7031") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!sleeping("7031"), "the cancelled command is still running");
    // The server goes on serving.
    assert_eq!(
        s.call("shell_exec", json!({"command": "echo ok"})).await,
        "[exit 0]\nok\n"
    );
    s.stop().await;
}

/// A server driven by hand over its stdin: initialize, then one long `tools/call`; returns
/// the child and its audit path once the call's start record is written.
async fn raw_server_running(tag: &str) -> (std::process::Child, tempfile::TempDir) {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tmp");
    let audit = dir.path().join("audit.jsonl");
    let mut child = common::command(&[
        ("RELAY_SHELL_AUDIT_PATH", &audit.display().to_string()),
        ("RELAY_SHELL_LOG", "warn"),
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("spawn");
    let stdin = child.stdin.as_mut().expect("stdin");
    let lines = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#.to_string(),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_string(),
        format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"shell_exec","arguments":{{"command":"sleep {tag}","timeout":600}}}}}}"#
        ),
    ];
    for l in lines {
        writeln!(stdin, "{l}").expect("write");
    }
    stdin.flush().expect("flush");
    wait_for_record(&audit, |r| r["event"] == "start").await;
    (child, dir)
}

#[tokio::test]
async fn a_call_cut_off_by_a_disconnect_is_recorded_as_cancelled() {
    let (mut child, dir) = raw_server_running("7032").await;
    drop(child.stdin.take());
    let status = child.wait().expect("exit");
    assert!(status.success(), "{status:?}");
    let audit = dir.path().join("audit.jsonl");
    let rec = wait_for_record(&audit, |r| r["action"] == "cancelled").await;
    assert_eq!(rec["output_sha256"], sha("[CANCELLED]"));
    assert!(!sleeping("7032"));
}

#[tokio::test]
async fn a_call_cut_off_by_shutdown_is_recorded_as_cancelled() {
    let (mut child, dir) = raw_server_running("7033").await;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    child.wait().expect("exit");
    let audit = dir.path().join("audit.jsonl");
    let rec = wait_for_record(&audit, |r| r["action"] == "cancelled").await;
    assert_eq!(rec["tool"], "shell_exec");
    assert!(!sleeping("7033"));
}

/// Whether a `sleep <tag>` process is alive.
fn sleeping(tag: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rfind(')')
            .is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z'));
        !zombie && cmd == format!("sleep\0{tag}\0").as_bytes()
    })
}

#[tokio::test]
async fn timeout_zero_means_the_default_and_negatives_become_one() {
    let s = common::start(&[("RELAY_SHELL_DEFAULT_TIMEOUT", "7")]).await;
    for (given, used) in [
        (json!(0), 7),
        (json!(-5), 1),
        (json!(3), 3),
        (Value::Null, 7),
    ] {
        let mut args = json!({"command": "true"});
        if !given.is_null() {
            args["timeout"] = given;
        }
        s.call("shell_exec", args).await;
        let rec = of(&s, "shell_exec").pop().expect("record");
        assert_eq!(rec["args"]["timeout"], used);
    }
    s.call("shell_script", json!({"script": "true", "timeout": 0}))
        .await;
    assert_eq!(of(&s, "shell_script")[0]["args"]["timeout"], 14);
    s.stop().await;
}

#[tokio::test]
async fn session_kill_refuses_unknown_signals_and_resize_reports_the_clamped_size() {
    let s = common::start(&[]).await;
    let out = s.call("shell_spawn", json!({"command": "cat"})).await;
    let sid = out.split_whitespace().nth(1).expect("id").to_string();
    for (name, shown) in [("FOO", "'FOO'"), ("SIG_IGN", "'SIG_IGN'")] {
        let out = s
            .call(
                "session_kill",
                json!({"session_id": sid, "signal_name": name}),
            )
            .await;
        assert_eq!(
            out,
            format!("[ERROR: InvalidArgument: unknown signal: {shown}]")
        );
        let rec = of(&s, "session_kill").pop().expect("record");
        assert_eq!(rec["denied"], false);
    }
    let out = s
        .call(
            "session_resize",
            json!({"session_id": sid, "cols": 70000, "rows": 0}),
        )
        .await;
    assert_eq!(out, format!("resized {sid} to 65535x1"));
    let rec = of(&s, "session_resize").pop().expect("record");
    assert_eq!(rec["args"]["cols"], 70000);
    assert_eq!(rec["args"]["rows"], 0);
    // session_recv records the wait it used, as a float.
    s.call("session_recv", json!({"session_id": sid, "timeout": -3}))
        .await;
    assert!(
        last_line(&s, "session_recv").contains("\"timeout\": 0.0}"),
        "{}",
        last_line(&s, "session_recv")
    );
    assert_eq!(
        s.call("session_kill", json!({"session_id": sid})).await,
        format!("killed and closed {sid}")
    );
    s.stop().await;
}

/// The keys of the object at `path` in JSON `text`, in document order.
fn keys(text: &str, path: &[&str]) -> Vec<String> {
    use relay_shell::audit::Json;
    let mut v = Json::parse(text).expect("JSON");
    for p in path {
        v = v.get(p).cloned().expect("path");
    }
    match v {
        Json::Obj(fields) => fields.into_iter().map(|(k, _)| k.into_owned()).collect(),
        _ => Vec::new(),
    }
}

/// The raw line of the last completion record of `tool`.
fn last_line(s: &common::Server, tool: &str) -> String {
    std::fs::read_to_string(&s.audit)
        .expect("audit")
        .lines()
        .rfind(|l| {
            !l.contains("\"event\": \"start\"") && l.contains(&format!("\"tool\": \"{tool}\""))
        })
        .expect("record")
        .to_string()
}

#[tokio::test]
async fn server_info_has_the_v05_fields_in_order() {
    let s = common::start(&[
        ("RELAY_SHELL_MAX_INPUT", "4096"),
        ("RELAY_SHELL_AUDIT_SESSION_INPUT", "hash"),
        ("RELAY_SHELL_AUDIT_INTENT", "true"),
        ("RELAY_SHELL_SSH_ALLOW_WEAKER_KNOWN_HOSTS", "false"),
        ("RELAY_SHELL_AUDIT_CHAIN", "false"),
    ])
    .await;
    let text = s.call("server_info", json!({})).await;
    let info: Value = serde_json::from_str(&text).expect("JSON");
    let top = keys(&text, &[]);
    let at = top.iter().position(|k| *k == "policy_mode").expect("mode");
    assert_eq!(top[at + 1], "warnings");
    let warnings: Vec<&str> = info["warnings"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(warnings.contains(
        &"RELAY_SHELL_AUDIT_CHAIN is off: the audit log is not tamper-evident on its own"
    ));
    assert!(
        !warnings
            .iter()
            .any(|w| w.contains("known_hosts=ignore per call"))
    );
    assert_eq!(
        keys(&text, &["limits"]).last().map(String::as_str),
        Some("max_input")
    );
    assert_eq!(info["limits"]["max_input"], 4096);
    assert_eq!(&keys(&text, &["audit"])[..2], ["path", "session_input"]);
    assert_eq!(info["audit"]["session_input"], "hash");
    assert_eq!(
        keys(&text, &["audit"]).last().map(String::as_str),
        Some("intent")
    );
    assert_eq!(info["audit"]["intent"], true);
    assert_eq!(
        &keys(&text, &["ssh"])[..2],
        ["known_hosts_default", "allow_weaker_known_hosts"]
    );
    assert_eq!(info["ssh"]["allow_weaker_known_hosts"], false);
    assert_eq!(info["seccomp"]["filter_version"], 3);
    s.stop().await;
}

#[tokio::test]
async fn shell_spawn_points_to_shell_exec() {
    let s = common::start(&[]).await;
    let tools = s.client.list_all_tools().await.expect("tools");
    let spawn = tools
        .iter()
        .find(|t| t.name == "shell_spawn")
        .expect("shell_spawn");
    assert!(
        spawn
            .description
            .as_deref()
            .unwrap_or_default()
            .contains("For a command that exits by itself, use shell_exec instead.")
    );
    s.stop().await;
}
