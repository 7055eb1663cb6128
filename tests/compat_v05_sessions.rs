//! How `session_send` input is recorded (`RELAY_SHELL_AUDIT_SESSION_INPUT`), and that input
//! typed at a real secret prompt never reaches the audit log — while an ordinary line typed
//! into bash is recorded (bash's readline turns echo off at every prompt; that alone is not a
//! secret prompt). Real PTYs, the real binary, exact records.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SECRET: &str = "hunter2-Zq9-secret";

/// Start a session running `command` (with PS1 `READY> ` for bash) and return its id.
async fn spawn(s: &common::Server, command: &str) -> String {
    let out = s
        .call(
            "shell_spawn",
            json!({"command": command, "env_json": "{\"PS1\": \"READY> \"}"}),
        )
        .await;
    assert!(out.starts_with("session "), "{out}");
    out.split_whitespace().nth(1).expect("id").to_string()
}

/// Read the session until its output so far ends with `end` (bounded by a generous number
/// of reads, each waiting up to 2 s).
async fn read_until(s: &common::Server, sid: &str, end: &str) -> String {
    let mut seen = String::new();
    for _ in 0..60 {
        let out = s
            .call("session_recv", json!({"session_id": sid, "timeout": 2}))
            .await;
        seen.push_str(&out);
        if seen.ends_with(end) {
            return seen;
        }
    }
    panic!("never saw {end:?} at the end of {seen:?}");
}

async fn send(s: &common::Server, sid: &str, data: &str) {
    let out = s
        .call("session_send", json!({"session_id": sid, "data": data}))
        .await;
    assert!(out.starts_with("sent "), "{out}");
}

/// The `args` of every `session_send` completion record.
fn sends(s: &common::Server) -> Vec<Value> {
    s.completion_records()
        .into_iter()
        .filter(|r| r["tool"] == "session_send")
        .map(|r| r["args"].clone())
        .collect()
}

/// The keys of `args` of the `n`th `session_send` completion record, in the file's order.
fn arg_keys(s: &common::Server, n: usize) -> Vec<String> {
    use relay_shell::audit::Json;
    let text = std::fs::read_to_string(&s.audit).expect("audit");
    let line = text
        .lines()
        .filter(|l| !l.contains("\"event\": \"start\"") && l.contains("\"tool\": \"session_send\""))
        .nth(n)
        .expect("record");
    match Json::parse(line).expect("JSON").get("args") {
        Some(Json::Obj(fields)) => fields.iter().map(|(k, _)| k.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Drive bash: an ordinary command, a `read -s` password prompt, a `read -p 'Enter token: '`
/// prompt (echo on, prompt text only), and a hidden read with a prompt that says nothing
/// (echo off in canonical mode only).
async fn drive_bash(s: &common::Server) -> String {
    let sid = spawn(s, "bash --norc --noprofile").await;
    read_until(s, &sid, "READY> ").await;
    send(s, &sid, "echo hello").await;
    read_until(s, &sid, "READY> ").await;
    send(s, &sid, "read -s -p 'Password: ' pw; echo \"got ${#pw}\"").await;
    read_until(s, &sid, "Password: ").await;
    send(s, &sid, SECRET).await;
    let out = read_until(s, &sid, "READY> ").await;
    assert!(out.contains(&format!("got {}", SECRET.len())), "{out}");
    send(s, &sid, "read -p 'Enter token: ' tok; echo \"tok ${#tok}\"").await;
    read_until(s, &sid, "Enter token: ").await;
    send(s, &sid, SECRET).await;
    read_until(s, &sid, "READY> ").await;
    send(
        s,
        &sid,
        "stty -echo; read -p '> ' x; stty echo; echo \"x ${#x}\"",
    )
    .await;
    read_until(s, &sid, "> ").await;
    send(s, &sid, SECRET).await;
    read_until(s, &sid, "READY> ").await;
    s.call("session_kill", json!({"session_id": sid})).await;
    sid
}

fn withheld(sid: &str) -> Value {
    json!({"session_id": sid, "enter": true, "data": "[REDACTED: secret prompt]", "data_len": SECRET.len()})
}

#[tokio::test]
async fn redacted_mode_records_bash_lines_and_withholds_secrets() {
    let s = common::start(&[]).await;
    let sid = drive_bash(&s).await;
    let recs = sends(&s);
    assert_eq!(recs.len(), 7, "{recs:?}");
    assert_eq!(
        recs[0],
        json!({"session_id": sid, "enter": true, "data": "echo hello"})
    );
    assert_eq!(arg_keys(&s, 0), ["session_id", "enter", "data"]);
    assert_eq!(recs[2], withheld(&sid), "read -s");
    assert_eq!(arg_keys(&s, 2), ["session_id", "enter", "data", "data_len"]);
    assert_eq!(recs[4], withheld(&sid), "Enter token:");
    assert_eq!(recs[6], withheld(&sid), "stty -echo");
    let log = std::fs::read_to_string(&s.audit).expect("audit");
    assert!(!log.contains(SECRET), "the secret reached the audit log");
    assert!(!log.contains(&hex::encode(Sha256::digest(SECRET.as_bytes()))));
    s.stop().await;
}

#[tokio::test]
async fn hash_mode_records_length_and_digest_and_withholds_secrets() {
    let s = common::start(&[("RELAY_SHELL_AUDIT_SESSION_INPUT", "hash")]).await;
    let sid = drive_bash(&s).await;
    let recs = sends(&s);
    assert_eq!(
        recs[0],
        json!({
            "session_id": sid,
            "enter": true,
            "data_len": 10,
            "data_sha256": hex::encode(Sha256::digest(b"echo hello")),
        })
    );
    assert_eq!(
        arg_keys(&s, 0),
        ["session_id", "enter", "data_len", "data_sha256"]
    );
    for i in [2, 4, 6] {
        assert_eq!(recs[i], withheld(&sid), "send {i}");
    }
    let log = std::fs::read_to_string(&s.audit).expect("audit");
    assert!(!log.contains(SECRET));
    assert!(!log.contains(&hex::encode(Sha256::digest(SECRET.as_bytes()))));
    s.stop().await;
}

#[tokio::test]
async fn a_getpass_prompt_is_a_secret_prompt_and_lengths_count_characters() {
    let s = common::start(&[("RELAY_SHELL_AUDIT_SESSION_INPUT", "hash")]).await;
    // Python's getpass turns echo off (canonical mode stays on) before it prints its prompt.
    let sid = spawn(
        &s,
        "python3 -c \"import getpass; s = getpass.getpass('>> '); print(len(s)); input('next: ')\"",
    )
    .await;
    read_until(&s, &sid, ">> ").await;
    send(&s, &sid, "ééé").await;
    read_until(&s, &sid, "next: ").await;
    send(&s, &sid, "日本").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let recs = sends(&s);
    assert_eq!(
        recs[0],
        json!({"session_id": sid, "enter": true, "data": "[REDACTED: secret prompt]", "data_len": 3})
    );
    assert_eq!(recs[1]["data_len"], 2);
    assert_eq!(
        recs[1]["data_sha256"],
        hex::encode(Sha256::digest("日本".as_bytes()))
    );
    s.stop().await;
}

#[tokio::test]
async fn a_denied_send_at_a_secret_prompt_is_withheld_too() {
    let s = common::start(&[("RELAY_SHELL_POLICY_DENY", "Zq9")]).await;
    let sid = spawn(&s, "bash --norc --noprofile").await;
    read_until(&s, &sid, "READY> ").await;
    send(&s, &sid, "read -s -p 'Password: ' pw").await;
    read_until(&s, &sid, "Password: ").await;
    let out = s
        .call("session_send", json!({"session_id": sid, "data": SECRET}))
        .await;
    assert!(
        out.starts_with("[DENIED tier ") && out.ends_with(": matched RELAY_SHELL_POLICY_DENY]"),
        "{out}"
    );
    let rec = s
        .completion_records()
        .into_iter()
        .rfind(|r| r["tool"] == "session_send")
        .expect("record");
    assert_eq!(rec["denied"], true);
    assert_eq!(rec["args"]["data"], "[REDACTED: secret prompt]");
    assert!(
        !std::fs::read_to_string(&s.audit)
            .expect("audit")
            .contains(SECRET)
    );
    s.stop().await;
}
