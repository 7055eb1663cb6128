//! The HTTP transport with the SSH tools, against the built binary and real OpenSSH daemons on
//! 127.0.0.1: calls, resource reads and SSH sessions belong to the bearer token's principal,
//! `/metrics` counts live SSH masters, PTY sessions and forwards, and SIGTERM leaves no master,
//! session, forward or remote process behind.

mod http_support;
mod ssh_support;

use std::time::Duration;

use http_support::{Client, HttpServer, call, sample, write_tokens};
use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use serde_json::json;
use ssh_support::{lab, masters, pgrep, wait_until};

async fn recv_until(client: &Client, id: &str, want: &str) -> String {
    let mut seen = String::new();
    for _ in 0..15 {
        seen.push_str(
            &call(
                client,
                "session_recv",
                json!({"session_id": id, "timeout": 2}),
            )
            .await,
        );
        if seen.contains(want) {
            return seen;
        }
    }
    panic!("{want:?} never arrived; got {seen:?}");
}

// Multi-threaded: `wait_until` blocks its thread while the server is polled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_over_http_belongs_to_the_principal_is_counted_and_ends_with_sigterm() {
    let lab = lab();
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    write_tokens(&tokens, &[("alice", "tok-a", None), ("bob", "tok-b", None)]);
    let tokens = tokens.display().to_string();
    let xdg = tempfile::tempdir().expect("xdg");
    let xdg_s = xdg.path().display().to_string();
    let cfg = lab.ssh_config.display().to_string();
    let mut server = HttpServer::start_in(
        dir,
        &[
            ("RELAY_SHELL_AUTH_TOKENS_FILE", &tokens),
            ("RELAY_SHELL_SSH_CONFIG", &cfg),
            ("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict"),
            ("XDG_RUNTIME_DIR", &xdg_s),
        ],
    )
    .await;
    let alice = server.client(Some("tok-a")).await;
    let bob = server.client(Some("tok-b")).await;
    let text = server.metrics().await;
    assert_eq!(sample(&text, "relay_shell_ssh_masters"), Some(0.0));
    assert_eq!(sample(&text, "relay_shell_active_sessions"), Some(0.0));

    assert_eq!(
        call(
            &alice,
            "ssh_exec",
            json!({"host": "target", "command": "echo over-http"})
        )
        .await,
        "[exit 0]\nover-http\n"
    );
    assert_eq!(masters(xdg.path()).len(), 1);
    let text = server.metrics().await;
    assert_eq!(
        sample(&text, "relay_shell_ssh_masters"),
        Some(1.0),
        "{text}"
    );

    // An interactive remote session, owned by alice.
    let tag = format!("http-ssh-tag-{}", std::process::id());
    let out = call(
        &alice,
        "ssh_spawn",
        json!({"host": "target", "command": format!("python3 -q -i -c \"tag='{tag}'\"")}),
    )
    .await;
    let id = out
        .strip_prefix("session ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    assert!(id.starts_with("ssh-"), "{out}");
    recv_until(&alice, &id, ">>> ").await;
    let text = server.metrics().await;
    assert_eq!(sample(&text, "relay_shell_active_sessions"), Some(1.0));
    assert_eq!(
        sample(&text, "relay_shell_ssh_masters"),
        Some(1.0),
        "the session shares the pooled master"
    );
    assert!(call(&alice, "session_list", json!({})).await.contains(&id));
    // Bob cannot see or drive it.
    assert!(!call(&bob, "session_list", json!({})).await.contains(&id));
    for (tool, args) in [
        ("session_recv", json!({"session_id": id, "timeout": 0})),
        (
            "session_send",
            json!({"session_id": id, "data": "print(1)"}),
        ),
        ("session_kill", json!({"session_id": id})),
    ] {
        let out = call(&bob, tool, args).await;
        assert!(
            out.contains(&format!("no such session: {id}")),
            "{tool}: {out}"
        );
    }

    // A resource read is recorded under the reader's principal too.
    let read = bob
        .read_resource(ReadResourceRequestParams::new("relay-shell://inventory"))
        .await
        .expect("resources/read");
    assert!(matches!(
        &read.contents[0],
        ResourceContents::TextResourceContents { .. }
    ));
    let completions = server.completions();
    let principal_of = |tool: &str| -> Vec<String> {
        completions
            .iter()
            .filter(|r| r["tool"] == tool)
            .map(|r| r["principal"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(principal_of("ssh_exec"), ["alice"]);
    assert_eq!(principal_of("ssh_spawn"), ["alice"]);
    assert_eq!(principal_of("resource:inventory"), ["bob"]);

    // A forward: counted, alice's only, and closed by SIGTERM.
    let text = server.metrics().await;
    assert_eq!(sample(&text, "relay_shell_active_forwards"), Some(0.0));
    let out = call(
        &alice,
        "ssh_forward",
        json!({"host": "target", "spec": "D:0"}),
    )
    .await;
    let fwd = out
        .strip_prefix("forward ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let port: u16 = out
        .lines()
        .next()
        .unwrap_or_default()
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    let text = server.metrics().await;
    assert_eq!(
        sample(&text, "relay_shell_active_forwards"),
        Some(1.0),
        "{text}"
    );
    assert!(
        call(&alice, "ssh_forward_list", json!({}))
            .await
            .contains(&fwd)
    );
    assert_eq!(call(&bob, "ssh_forward_list", json!({})).await, "[]");
    assert_eq!(
        call(&bob, "ssh_forward_close", json!({"forward_id": fwd})).await,
        format!("[ERROR: unknown forward: {fwd}]")
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert_eq!(
        server
            .completions()
            .iter()
            .filter(|r| r["tool"] == "ssh_forward")
            .map(|r| r["principal"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>(),
        ["alice"]
    );

    // SIGTERM: the session, its remote program, the forward and the master all end; the
    // server exits 0.
    assert!(!pgrep(&tag).is_empty());
    server.sigterm();
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(
        wait_until(Duration::from_secs(15), || masters(xdg.path()).is_empty()),
        "masters outlived the server: {:?}",
        masters(xdg.path())
    );
    assert!(
        wait_until(Duration::from_secs(15), || pgrep(&tag).is_empty()),
        "the remote session outlived the server: {:?}",
        pgrep(&tag)
    );
    assert!(
        wait_until(Duration::from_secs(15), || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_err()),
        "the forward outlived the server"
    );
    drop((alice, bob));
}
