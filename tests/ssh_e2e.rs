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

#[tokio::test]
async fn jump_hosts_from_config_and_from_the_call() {
    let lab = lab();
    let (s, _x) = server(&[]).await;
    let accepted = || {
        std::fs::read_to_string(&lab.jump.log)
            .unwrap_or_default()
            .matches("Accepted publickey")
            .count()
    };
    let before = accepted();
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "behind", "command": "echo via-jump"}),
        )
        .await;
    assert_eq!(out, "[exit 0]\nvia-jump\n");
    assert!(accepted() > before, "the jump host saw no login");
    let before = accepted();
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "jump": "jumphost", "command": "echo hop"}),
        )
        .await;
    assert_eq!(out, "[exit 0]\nhop\n");
    assert!(accepted() > before, "the per-call jump was not used");
    s.stop().await;
}

#[tokio::test]
async fn one_master_per_identity_and_single_flight() {
    let lab = lab();
    let (s, x) = server(&[]).await;
    // Two concurrent first calls open one master, not two.
    let a = s.call("ssh_exec", json!({"host": "target", "command": "echo a"}));
    let b = s.call("ssh_exec", json!({"host": "target", "command": "echo b"}));
    let (a, b) = tokio::join!(a, b);
    assert_eq!((a.as_str(), b.as_str()), ("[exit 0]\na\n", "[exit 0]\nb\n"));
    let first = masters(x.path());
    assert_eq!(first.len(), 1, "{first:?}");
    for _ in 0..5 {
        assert_eq!(
            s.call("ssh_exec", json!({"host": "target", "command": "true"}))
                .await,
            "[exit 0]\n"
        );
    }
    assert_eq!(
        masters(x.path()),
        first,
        "calls with one identity share one master"
    );
    // Another key is another identity.
    let key2 = lab.key2.display().to_string();
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "key_path": key2, "command": "true"}),
        )
        .await;
    assert_eq!(out, "[exit 0]\n");
    assert_eq!(masters(x.path()).len(), 2);
    // So is another host-key policy.
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "known_hosts": "accept-new", "command": "true"}),
        )
        .await;
    assert_eq!(out, "[exit 0]\n");
    assert_eq!(masters(x.path()).len(), 3);
    s.stop().await;
    assert!(
        wait_until(Duration::from_secs(10), || masters(x.path()).is_empty()),
        "masters outlived the server"
    );
}

#[tokio::test]
async fn idle_masters_are_closed() {
    let (s, x) = server(&[("RELAY_SHELL_SSH_IDLE_TIMEOUT", "1")]).await;
    assert_eq!(
        s.call("ssh_exec", json!({"host": "target", "command": "true"}))
            .await,
        "[exit 0]\n"
    );
    assert!(
        wait_until(Duration::from_secs(20), || masters(x.path()).is_empty()),
        "idle master not closed"
    );
    // The next call dials again.
    assert_eq!(
        s.call("ssh_exec", json!({"host": "target", "command": "true"}))
            .await,
        "[exit 0]\n"
    );
    assert_eq!(masters(x.path()).len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn capacity_evicts_the_least_recently_used_idle_master() {
    let (s, x) = server(&[("RELAY_SHELL_MAX_CONNS", "2")]).await;
    for h in ["t01", "t02", "t03"] {
        assert_eq!(
            s.call("ssh_exec", json!({"host": h, "command": "true"}))
                .await,
            "[exit 0]\n"
        );
    }
    assert!(
        wait_until(Duration::from_secs(10), || masters(x.path()).len() == 2),
        "{:?}",
        masters(x.path())
    );
    s.stop().await;
}

#[tokio::test]
async fn a_dead_master_is_replaced_transparently() {
    let (s, x) = server(&[]).await;
    assert_eq!(
        s.call("ssh_exec", json!({"host": "target", "command": "true"}))
            .await,
        "[exit 0]\n"
    );
    let old = masters(x.path());
    assert_eq!(old.len(), 1);
    // SAFETY: killing the master process this test's server started.
    unsafe {
        libc::kill(old[0], libc::SIGKILL);
    }
    assert!(wait_until(Duration::from_secs(10), || masters(x.path()).is_empty()));
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "command": "echo again"}),
        )
        .await;
    assert_eq!(out, "[exit 0]\nagain\n");
    let new = masters(x.path());
    assert_eq!(new.len(), 1);
    assert_ne!(new, old);
    s.stop().await;
}

/// Read a session until `want` appears (each read waits up to 2 s for output).
async fn recv_until(s: &common::Server, id: &str, want: &str) -> String {
    let mut seen = String::new();
    for _ in 0..15 {
        seen.push_str(
            &s.call("session_recv", json!({"session_id": id, "timeout": 2}))
                .await,
        );
        if seen.contains(want) {
            return seen;
        }
    }
    panic!("{want:?} never arrived; got {seen:?}");
}

#[tokio::test]
async fn ssh_spawn_runs_a_repl_resizes_and_kill_leaves_nothing() {
    let (s, x) = server(&[]).await;
    let tag = format!("spawn-tag-{}", std::process::id());
    let out = s
        .call(
            "ssh_spawn",
            json!({"host": "target", "command": format!("python3 -q -i -c \"tag='{tag}'\""), "cols": 120, "rows": 40}),
        )
        .await;
    let id = out
        .strip_prefix("session ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    assert!(id.starts_with("ssh-"), "{out}");
    // An interactive interpreter is tier 2: the result carries the tier notice (v0.5).
    assert!(
        out.ends_with(&format!(
            "started (ssh target); use session_recv/session_send\n{}",
            "[NOTICE tier 2 (STATEFUL), matched a state-changing pattern. It changes state that a user or dependent service may notice. Classification is a heuristic, not a boundary]"
        )),
        "{out}"
    );
    recv_until(&s, &id, ">>> ").await;
    let probe = "import os; print(os.get_terminal_size())";
    s.call("session_send", json!({"session_id": id, "data": probe}))
        .await;
    recv_until(&s, &id, "columns=120, lines=40").await;
    let r = s
        .call(
            "session_resize",
            json!({"session_id": id, "cols": 100, "rows": 30}),
        )
        .await;
    assert_eq!(r, format!("resized {id} to 100x30"));
    // readline redraws its prompt on SIGWINCH: wait for that before typing again.
    recv_until(&s, &id, ">>> ").await;
    s.call("session_send", json!({"session_id": id, "data": probe}))
        .await;
    recv_until(&s, &id, "columns=100, lines=30").await;
    let list = s.call("session_list", json!({})).await;
    assert!(list.contains("\"kind\": \"ssh\""), "{list}");
    assert!(!pgrep(&tag).is_empty());
    let k = s.call("session_kill", json!({"session_id": id})).await;
    assert_eq!(k, format!("killed and closed {id}"));
    assert!(
        wait_until(Duration::from_secs(15), || pgrep(&tag).is_empty()),
        "still running after kill: {:?}",
        pgrep(&tag)
    );
    // The master outlives the session (it is pooled).
    assert_eq!(masters(x.path()).len(), 1);
    s.stop().await;
}

// Multi-threaded: `wait_until` blocks its thread while the client's task sends the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_stops_the_remote_command() {
    use rmcp::model::{CallToolRequest, ClientRequest};
    use rmcp::service::PeerRequestOptions;
    let (s, _x) = server(&[]).await;
    let tag = unique_sleep();
    let req = ClientRequest::CallToolRequest(CallToolRequest::new(common::params(
        "ssh_exec",
        json!({"host": "target", "command": tag.clone(), "timeout": 600}),
    )));
    let handle = s
        .client
        .peer()
        .send_cancellable_request(req, PeerRequestOptions::no_options())
        .await
        .expect("request sent");
    let started = tokio::time::Instant::now();
    while pgrep(&tag).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "remote command never started"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    handle.cancel(None).await.expect("cancelled");
    assert!(
        wait_until(Duration::from_secs(15), || pgrep(&tag).is_empty()),
        "remote command outlived the cancelled call: {:?}",
        pgrep(&tag)
    );
    s.stop().await;
}
