//! The audit log through the real binary: write failures (a real RLIMIT_FSIZE on the server
//! process), rotation while serving, and the `--verify-audit` command line.

mod common;

use common::limited::{Served, serve};

use std::path::Path;
use std::process::Command;

use serde_json::json;

use relay_shell::audit::{IDENTITY_CHECK_EVERY, verify_audit};

impl Served {
    async fn call(&self, command: &str) -> String {
        let r = self
            .client
            .call_tool(common::params("shell_exec", json!({ "command": command })))
            .await
            .expect("answered");
        common::text(&r)
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

fn commands_in_log(path: &Path) -> Vec<String> {
    read_lossy(path)
        .iter()
        .filter(|r| r.get("event").is_none())
        .filter_map(|r| r["args"]["command"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_mode_refuses_while_writes_fail_and_loses_nothing() {
    let s = serve(&[], Some(3000)).await;
    let mut answered = Vec::new();
    let mut refused = None;
    for i in 0..40 {
        let cmd = format!("echo call-{i}");
        let out = s.call(&cmd).await;
        if out.starts_with("[ERROR: AuditUnavailable: ") {
            refused = Some(out);
            break;
        }
        assert_eq!(out, format!("[exit 0]\ncall-{i}\n"));
        answered.push(cmd);
    }
    let refused = refused.expect("the limit was reached and calls were refused");
    assert!(refused.contains("File too large"), "{refused}");
    // Still refused until the writes succeed again.
    assert!(
        s.call("echo again")
            .await
            .starts_with("[ERROR: AuditUnavailable: ")
    );

    unlimit(s.pid);
    assert_eq!(s.call("echo after").await, "[exit 0]\nafter\n");
    s.client.cancel().await.expect("stop");

    let v = verify_audit(&s.audit, false);
    assert!(v.ok, "{}", v.reason);
    let logged = commands_in_log(&s.audit);
    for cmd in answered
        .iter()
        .chain(std::iter::once(&"echo after".to_string()))
    {
        assert!(logged.contains(cmd), "{cmd} missing from the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_mode_keeps_serving_degraded() {
    let s = serve(&[("RELAY_SHELL_AUDIT_ON_FAILURE", "continue")], Some(3000)).await;
    for i in 0..30 {
        assert_eq!(
            s.call(&format!("echo c-{i}")).await,
            format!("[exit 0]\nc-{i}\n")
        );
    }
    let info = s
        .client
        .call_tool(common::params("server_info", json!({})))
        .await
        .expect("server_info");
    let info: serde_json::Value =
        serde_json::from_str(&common::text(&info)).expect("server_info JSON");
    assert_eq!(info["audit"]["degraded"], true, "{info}");
    unlimit(s.pid);
    assert_eq!(s.call("echo after").await, "[exit 0]\nafter\n");
    s.client.cancel().await.expect("stop");
    let v = verify_audit(&s.audit, false);
    assert!(v.ok, "{}", v.reason);
    let logged = commands_in_log(&s.audit);
    for i in 0..30 {
        assert!(logged.contains(&format!("echo c-{i}")), "c-{i} lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_while_serving_verifies_as_a_directory() {
    let s = serve(&[], None).await;
    for i in 0..3 {
        s.call(&format!("echo a-{i}")).await;
    }
    let dir = s.audit.parent().expect("dir").to_path_buf();
    std::fs::rename(&s.audit, dir.join("audit.jsonl-20260101")).expect("rotate");
    std::fs::File::create(&s.audit).expect("create");
    std::thread::sleep(IDENTITY_CHECK_EVERY * 2);
    for i in 0..3 {
        s.call(&format!("echo b-{i}")).await;
    }
    s.client.cancel().await.expect("stop");
    let v = verify_audit(&dir, false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.segments.len(), 2);
    assert_eq!(v.records, 12); // start + completion per call
    assert_eq!(
        commands_in_log(&s.audit),
        ["echo b-0", "echo b-1", "echo b-2"]
    );
}

/// `--verify-audit` through the binary.
fn verify_cli(path: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::bin())
        .arg("--verify-audit")
        .arg("--audit-path")
        .arg(path)
        .args(extra)
        .env("RELAY_SHELL_LOG", "warn")
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/python-chain.jsonl");

#[test]
fn cli_verify_audit_ok_failed_json_and_segment() {
    let (code, stdout, stderr) = verify_cli(Path::new(VECTORS), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "chain intact and genesis-anchored: 5 record(s) from seq 0\n"
    );
    assert_eq!(stderr, "relay-shell: verify-audit OK\n");

    let dir = tempfile::tempdir().expect("tmp");
    let cut = dir.path().join("cut.jsonl");
    let text = std::fs::read_to_string(VECTORS).expect("read");
    std::fs::write(
        &cut,
        text.lines().skip(2).collect::<Vec<_>>().join("\n") + "\n",
    )
    .expect("write");
    let (code, _, stderr) = verify_cli(&cut, &[]);
    assert_eq!(
        (code, stderr.as_str()),
        (2, "relay-shell: verify-audit FAILED\n")
    );
    let (code, _, _) = verify_cli(&cut, &["--segment"]);
    assert_eq!(code, 0);

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, text.replacen("df -h", "df -H", 1)).expect("write");
    let (code, stdout, stderr) = verify_cli(&bad, &["--json"]);
    assert_eq!(code, 2);
    assert_eq!(stderr, "relay-shell: verify-audit FAILED (line 1)\n");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["broken_at"], 1);
    assert!(stdout.starts_with("{\n  \"ok\": false,\n  \"chain_ok\": false,\n"));

    let (code, _, stderr) = verify_cli(&dir.path().join("missing.jsonl"), &[]);
    assert_eq!(code, 2, "{stderr}");
}

/// Every audit line that parses as JSON (a torn line does not).
fn read_lossy(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `RELAY_SHELL_AUDIT_STDERR=true` mirrors every line written to the log, byte for byte, on
/// stderr after `AUDIT `.
#[test]
fn audit_stderr_mirrors_each_written_line() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tmp");
    let audit = dir.path().join("audit.jsonl");
    let mut child = common::command(&[
        ("RELAY_SHELL_AUDIT_PATH", &audit.display().to_string()),
        ("RELAY_SHELL_AUDIT_STDERR", "true"),
        ("RELAY_SHELL_LOG", "warn"),
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn");
    let script = [
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "shell_exec", "arguments": {"command": "echo mirrored"}}}),
    ];
    let mut stdin = child.stdin.take().expect("stdin");
    for m in &script {
        writeln!(stdin, "{m}").expect("write");
    }
    // Wait for the call's answer before closing stdin, so the call is not cut short.
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut answers = 0;
    let mut line = String::new();
    while answers < 2 {
        line.clear();
        let n = std::io::BufRead::read_line(&mut stdout, &mut line).expect("read");
        assert!(n > 0, "server closed stdout early");
        answers += usize::from(line.contains("\"id\":"));
    }
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    let mirrored: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("AUDIT ").map(str::to_string))
        .collect();
    let written: Vec<String> = std::fs::read_to_string(&audit)
        .expect("audit file")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(written.len(), 2, "start and completion records");
    assert_eq!(mirrored, written);
}
