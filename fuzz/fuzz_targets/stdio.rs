//! Fuzz target `stdio`: the MCP server fed arbitrary bytes on its stdio channel.
//!
//! The server is served in-process over a `tokio::io::duplex` pipe by
//! `relay_shell::server::stdio::serve`, the framing layer `relay-shell` runs on stdin and
//! stdout (bounded lines, `-32700` answers, back-pressure) in front of rmcp. When the first
//! byte is even, a valid `initialize` request and `initialized` notification come first, so
//! the bytes reach the request handlers rather than only the handshake. The input is written,
//! the pipe's write half closed, and every reply read.
//!
//! Checks: nothing panics; the server ends within [`DEADLINE`] of its input closing (no
//! hang); every line it writes is a JSON-RPC 2.0 object; it writes no more messages than it
//! was sent lines (one reply per request at most).
//!
//! The server's policy refuses every call (`RELAY_SHELL_POLICY_DENY=(?s).`, mode
//! `readonly`): fuzzed input must never run a command on the fuzzing machine.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use relay_shell::audit::{AuditConfig, AuditLog, FsyncPolicy};
use relay_shell::config::{Settings, SettingsArgs};
use relay_shell::gate::Gate;
use relay_shell::metrics::Metrics;
use relay_shell::policy::Policy;
use relay_shell::redact::Redactor;
use relay_shell::server::State;
use relay_shell::session::{Registry, SessionLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the server may take to finish after its input closed.
const DEADLINE: Duration = Duration::from_secs(10);

/// Replies read at most (a flood of `tools/list` answers is large, but bounded by this).
const MAX_OUTPUT: usize = 64 * 1024 * 1024;

const HANDSHAKE: &str = concat!(
    r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","#,
    r#""capabilities":{},"clientInfo":{"name":"fuzz","version":"0"}}}"#,
    "\n",
    r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    "\n"
);

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime") // ok: the harness cannot run without one
    })
}

/// The server state, built once: a deny-everything policy, an audit log in a temporary
/// directory, no confinement, no SSH configuration.
fn state() -> Arc<State> {
    static STATE: OnceLock<Arc<State>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            // The session registry and the SSH pool start their sweepers on the runtime.
            let _entered = runtime().enter();
            let dir =
                std::env::temp_dir().join(format!("relay-shell-fuzz-stdio-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temporary directory"); // ok: harness
            let audit_path = dir.join("audit.jsonl");
            let audit_text = audit_path.to_string_lossy().into_owned();
            let pairs = [
                ("RELAY_SHELL_POLICY_MODE", "readonly"),
                ("RELAY_SHELL_POLICY_DENY", "(?s)."),
                ("RELAY_SHELL_CONFINE", "off"),
                ("RELAY_SHELL_AUDIT_PATH", audit_text.as_str()),
                ("RELAY_SHELL_AUDIT_FSYNC", "never"),
                (
                    "RELAY_SHELL_SSH_CONFIG",
                    "/nonexistent/relay-shell-fuzz/ssh_config",
                ),
            ];
            let settings =
                Settings::from_args(&SettingsArgs::from_pairs(&pairs)).expect("settings"); // ok: constant
            let policy = Policy::new(
                settings.policy_mode,
                &settings.policy_deny,
                &settings.policy_allow,
            )
            .expect("policy"); // ok: constant
            let mut audit = AuditConfig::new(settings.audit_path.clone());
            audit.fsync = FsyncPolicy::Never;
            let gate = Gate::new(
                policy,
                Redactor::new(),
                Arc::new(AuditLog::open(audit)),
                Arc::new(Metrics::new()),
                settings.max_concurrent,
                None,
            );
            let sessions = Registry::new(SessionLimits {
                max_sessions: settings.max_sessions,
                buffer_bytes: settings.session_buffer_bytes,
                idle_timeout: Duration::from_secs(settings.session_idle_timeout),
                max_lifetime: Duration::from_secs(settings.session_max_lifetime),
            });
            let ssh = {
                relay_shell::ssh::Ssh::new(relay_shell::ssh::SshSettings {
                    ssh_config: settings.ssh_config.clone(),
                    inventory: settings.inventory.clone(),
                    default_mode: settings.ssh_known_hosts,
                    allow_weaker: settings.ssh_allow_weaker_known_hosts,
                    connect_timeout: settings.ssh_connect_timeout,
                    keepalive: settings.ssh_keepalive,
                    idle_timeout: settings.ssh_idle_timeout,
                    max_conns: settings.max_conns,
                    forwards: relay_shell::ssh::forward::ForwardLimits {
                        max: settings.max_forwards,
                        allow_nonloopback: settings.forward_allow_nonloopback,
                    },
                })
                .expect("ssh runtime directory") // ok: harness
            };
            Arc::new(State {
                ssh: Arc::new(ssh),
                settings: Arc::new(settings),
                gate,
                calls: tokio_util::task::TaskTracker::new(),
                sessions,
            })
        })
        .clone()
}

/// Serve one connection fed `input`; the bytes the server wrote.
async fn serve_once(state: Arc<State>, input: Vec<u8>) -> Vec<u8> {
    let (client, server_end) = tokio::io::duplex(64 * 1024);
    let (server_rx, server_tx) = tokio::io::split(server_end);
    let serving = tokio::spawn(relay_shell::server::stdio::serve(state, server_rx, server_tx));
    let (mut rx, mut tx) = tokio::io::split(client);
    let write = async move {
        let _ = tx.write_all(&input).await;
        let _ = tx.shutdown().await;
        // Keep the write half until the server is done reading, as a client would.
        tx
    };
    let read = async move {
        let mut out = Vec::new();
        let _ = (&mut rx)
            .take(MAX_OUTPUT as u64)
            .read_to_end(&mut out)
            .await;
        out
    };
    let finished = tokio::time::timeout(DEADLINE, async {
        let (tx, out) = tokio::join!(write, read);
        drop(tx);
        let _ = serving.await;
        out
    })
    .await;
    match finished {
        Ok(out) => out,
        Err(_) => panic!("the server did not finish within {DEADLINE:?} of its input closing"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut input = Vec::with_capacity(HANDSHAKE.len() + rest.len());
    if selector % 2 == 0 {
        input.extend_from_slice(HANDSHAKE.as_bytes());
    }
    input.extend_from_slice(rest);
    let sent_lines = input.split(|&b| b == b'\n').count();
    let state = state();
    let out = runtime().block_on(serve_once(state, input));
    let mut messages = 0;
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
            panic!(
                "the server wrote a line that is not JSON ({e}): {:?}",
                String::from_utf8_lossy(line)
            )
        });
        assert_eq!(
            v.get("jsonrpc").and_then(|j| j.as_str()),
            Some("2.0"),
            "not JSON-RPC 2.0: {v}"
        );
        messages += 1;
    }
    assert!(
        messages <= sent_lines,
        "{messages} messages for {sent_lines} lines"
    );
});
