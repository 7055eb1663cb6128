//! SSH tools end to end: the real binary, driven by rmcp's client, against real OpenSSH
//! daemons on 127.0.0.1 (`ssh_support`): exec, timeouts that stop the remote command, host-key
//! policies, jump hosts, the pool, fan-out and key scanning.

mod common;
mod ssh_support;

use std::time::Duration;

use serde_json::json;
use ssh_support::{lab, masters, pgrep, wait_until};

/// A server using the lab's ssh_config (strict by default), with its own runtime directory so
/// its masters can be found.
async fn server(extra: &[(&str, &str)]) -> (common::Server, tempfile::TempDir) {
    let lab = lab();
    let xdg = tempfile::tempdir().expect("xdg");
    let cfg = lab.ssh_config.display().to_string();
    let xdg_s = xdg.path().display().to_string();
    let mut envs: Vec<(&str, &str)> = vec![
        ("RELAY_SHELL_SSH_CONFIG", &cfg),
        ("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict"),
        ("XDG_RUNTIME_DIR", &xdg_s),
    ];
    envs.extend_from_slice(extra);
    (common::start(&envs).await, xdg)
}

/// `sleep <n>` with an `n` no other run uses, to find the remote process afterwards.
fn unique_sleep() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("sleep {}{:03}", 900_000 + std::process::id() % 90_000, n)
}

#[tokio::test]
async fn exec_returns_exit_code_and_both_streams() {
    let (s, _x) = server(&[]).await;
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "command": "echo out; echo err >&2; exit 3"}),
        )
        .await;
    assert!(out.starts_with("[exit 3]\n"), "{out}");
    assert!(out.contains("out\n") && out.contains("err\n"), "{out}");
    assert!(!out.contains("relay-shell-"), "marker leaked: {out}");
    let out = s
        .call("ssh_exec", json!({"host": "target", "command": "true"}))
        .await;
    assert_eq!(out, "[exit 0]\n");
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "command": "nosuchcommand-xyz"}),
        )
        .await;
    assert!(out.starts_with("[exit 127]\n"), "{out}");
    let recs = s.completion_records();
    let last = recs.last().unwrap();
    assert_eq!(last["tool"], "ssh_exec");
    let line = std::fs::read_to_string(&s.audit).unwrap();
    let line = line.lines().last().unwrap();
    let parsed = relay_shell::audit::Json::parse(line).unwrap();
    let relay_shell::audit::Json::Obj(args) = parsed.get("args").unwrap() else {
        panic!("args")
    };
    let keys: Vec<&str> = args.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(
        keys,
        vec![
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
    assert_eq!(last["args"]["known_hosts"], "strict");
    s.stop().await;
}

#[tokio::test]
async fn timeout_terminates_the_remote_command() {
    let (s, _x) = server(&[]).await;
    let tag = unique_sleep();
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "command": format!("{tag}; echo never"), "timeout": 1}),
        )
        .await;
    assert!(
        out.starts_with("[TIMEOUT after 1s] outcome unknown"),
        "{out}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || pgrep(&tag).is_empty()),
        "remote sleep still running: {:?}",
        pgrep(&tag)
    );
    s.stop().await;
}
