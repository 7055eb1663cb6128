//! Drop-in compatibility with the Python relay-shell v0.5.0, continued: `./.env` and unknown
//! setting names, SSH target fields and notices, `ssh_check`'s tier for hosts outside the
//! inventory (real binary over stdio; no SSH server is needed: the calls fail to connect, or
//! are refused, and still carry their notices and fields).

mod common;

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

/// An SSH config with no hosts, so the inventory is empty whatever `~/.ssh/config` says.
fn no_inventory(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("ssh_config");
    std::fs::write(&path, "").expect("write ssh_config");
    path.display().to_string()
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
async fn ssh_check_is_tier_1_for_hosts_outside_the_inventory() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = no_inventory(&dir);
    let s = common::start(&[
        ("RELAY_SHELL_POLICY_MODE", "readonly"),
        ("RELAY_SHELL_SSH_CONFIG", &config),
    ])
    .await;
    let out = s.call("ssh_check", json!({"hosts": "127.0.0.1"})).await;
    assert_eq!(
        out,
        "[DENIED tier 1 (REVERSIBLE): readonly mode refuses Tier 1 (REVERSIBLE)]"
    );
    let out = s.call("ssh_check", json!({"hosts": ""})).await;
    assert_eq!(
        out,
        "[no hosts configured; pass hosts= or add an inventory]"
    );
    assert_eq!(of(&s, "ssh_check").pop().expect("record")["tier"], 0);
    s.stop().await;
}

const SSH_NOTICE: &str = "\n[NOTICE ssh: host-key verification is off (known_hosts=ignore); the peer is not authenticated and the connection can be intercepted]";

#[tokio::test]
async fn ssh_calls_record_their_target_and_warn_when_keys_are_not_verified() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = no_inventory(&dir);
    let s = common::start(&[
        ("RELAY_SHELL_SSH_CONFIG", &config),
        ("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict"),
        ("RELAY_SHELL_SSH_ALLOW_WEAKER_KNOWN_HOSTS", "false"),
        ("RELAY_SHELL_SSH_CONNECT_TIMEOUT", "3"),
    ])
    .await;
    // Refused as a downgrade: an error (not a denial), and the notice still comes.
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "127.0.0.1", "port": 1, "command": "true", "known_hosts": "ignore"}),
        )
        .await;
    assert!(
        out.starts_with("[ERROR: ") && out.contains("known_hosts=ignore would weaken the server default 'strict'; refused (RELAY_SHELL_SSH_ALLOW_WEAKER_KNOWN_HOSTS=false)"),
        "{out}"
    );
    assert!(out.ends_with(SSH_NOTICE), "{out}");
    let rec = of(&s, "ssh_exec").pop().expect("record");
    assert_eq!(rec["denied"], false);
    assert_eq!(
        keys(&last_line(&s, "ssh_exec"), &["args"]),
        [
            "host",
            "command",
            "timeout",
            "user",
            "port",
            "key_path",
            "jump",
            "known_hosts"
        ]
    );
    assert_eq!(rec["args"]["known_hosts"], "ignore");
    let body = out.strip_suffix(SSH_NOTICE).expect("notice");
    assert_eq!(rec["output_sha256"], sha(body));
    // The effective mode is recorded: the server default when the call names none.
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "127.0.0.1", "port": 1, "command": "true"}),
        )
        .await;
    assert!(!out.contains("[NOTICE"), "{out}");
    assert_eq!(
        of(&s, "ssh_exec").pop().expect("record")["args"]["known_hosts"],
        "strict"
    );
    s.stop().await;
}

#[tokio::test]
async fn fleet_notices_list_the_unverified_hosts() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = no_inventory(&dir);
    let s = common::start(&[
        ("RELAY_SHELL_SSH_CONFIG", &config),
        ("RELAY_SHELL_SSH_KNOWN_HOSTS", "ignore"),
        ("RELAY_SHELL_SSH_CONNECT_TIMEOUT", "3"),
    ])
    .await;
    let notice = "ssh: host-key verification is off for 127.0.0.1:1, 127.0.0.2:1 (known_hosts=ignore); the peer is not authenticated and the connection can be intercepted";
    let out = s
        .call(
            "ssh_fanout",
            json!({"hosts": "127.0.0.1:1 127.0.0.2:1", "command": "true", "timeout": 5}),
        )
        .await;
    let doc: Value = serde_json::from_str(&out).expect("fanout JSON");
    assert_eq!(keys(&out, &[]).last().map(String::as_str), Some("notices"));
    assert_eq!(doc["notices"], json!([notice]));
    let tail = format!(", \"notices\": [\"{notice}\"]}}");
    assert!(out.ends_with(&tail), "{out}");
    let rec = of(&s, "ssh_fanout").pop().expect("record");
    let body = format!("{}}}", out.strip_suffix(&tail).expect("tail"));
    assert_eq!(rec["output_sha256"], sha(&body));
    let out = s
        .call(
            "ssh_check",
            json!({"hosts": "127.0.0.1:1,127.0.0.2:1", "timeout": 5}),
        )
        .await;
    assert!(out.ends_with(&format!("\n[NOTICE {notice}]")), "{out}");
    s.stop().await;
}

#[test]
fn dotenv_fills_settings_and_unknown_names_are_warned() {
    let dir = tempfile::tempdir().expect("tmp");
    let audit = dir.path().join("audit.jsonl").display().to_string();
    std::fs::write(
        dir.path().join(".env"),
        "RELAY_SHELL_POLICY_MODE=readonly\nexport RELAY_SHELL_MAX_OUTPT=1\nRELAY_SHELL_EDGE_DOMAIN=x\n",
    )
    .expect("write .env");
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut all = vec![("RELAY_SHELL_AUDIT_PATH", audit.as_str())];
        all.extend_from_slice(envs);
        let out = common::command(&all)
            .current_dir(dir.path())
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[("RELAY_SHELL_ZZZ_TOP", "1")], &["--check-config"]);
    assert_eq!(code, Some(0), "{err}");
    let warned: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split("relay_shell::config: ").nth(1))
        .collect();
    assert_eq!(
        warned,
        [
            "ignoring unknown setting RELAY_SHELL_MAX_OUTPT (did you mean RELAY_SHELL_MAX_OUTPUT?)",
            "ignoring unknown setting RELAY_SHELL_ZZZ_TOP",
        ]
    );
    assert!(err.contains("relay-shell: config OK (transport=stdio, policy=readonly, "));
    assert!(
        !err.contains("reading settings from"),
        "only at server start"
    );
    // The environment ranks above .env.
    let (_, err) = run(
        &[("RELAY_SHELL_POLICY_MODE", "guarded")],
        &["--check-config"],
    );
    assert!(err.contains("policy=guarded"), "{err}");
    // Serving (stdin is closed at once): the .env warning and the standing warnings.
    // (No client ever initializes, so the session ends at once; the warnings come first.)
    let (_, err) = run(&[("RELAY_SHELL_LOG", "warn")], &[]);
    let env_path = dir.path().canonicalize().expect("path").join(".env");
    assert!(
        err.contains(&format!(
            "reading settings from {} in the working directory; run from a directory only the service account can write (systemd: WorkingDirectory=)",
            env_path.display()
        )),
        "{err}"
    );
    assert!(err.contains(
        "unsafe setting: RELAY_SHELL_SSH_KNOWN_HOSTS=accept-new: an unknown host key is trusted on first contact; 'strict' with ssh_keyscan removes the exposure"
    ));
    // Bad values name the field; AUDIT_SESSION_INPUT says what the Python server says.
    let (code, err) = run(
        &[("RELAY_SHELL_AUDIT_SESSION_INPUT", "plain")],
        &["--check-config"],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "relay-shell: invalid configuration: audit_session_input: RELAY_SHELL_AUDIT_SESSION_INPUT=plain (audit_session_input must be one of ['hash', 'redacted'])\n"
    );
}
