//! `ssh_exec` and `ssh_spawn`: one remote command, or a remote PTY session in the session
//! registry (spec §5.4, §5.5). The SSH layer is [`crate::ssh`]; these entries parse
//! arguments, name what the gate records and classifies, and phrase the results.

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::JsonObject;
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::params;
use super::{ToolDef, raw_args};
use crate::gate::{Caller, Output, ToolCall};
use crate::server::State;
use crate::session::{SessionKind, SpawnRequest, TermSize, local_session_env};
use crate::ssh::{Ssh, Target, fanout, validate};
use crate::text;

/// Deadline of an `ssh_spawn` beyond the dial (starting the local client is quick).
const SPAWN_DEADLINE: Duration = Duration::from_secs(30);

/// Parameters of `ssh_exec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshExecParams {
    /// Inventory alias, ssh_config alias, `[user@]host[:port]`, name or address.
    pub host: String,
    /// The command, interpreted by the remote user's login shell.
    pub command: String,
    /// Seconds before the remote command is terminated (0 or absent = RELAY_SHELL_DEFAULT_TIMEOUT,
    /// clamped to 1..RELAY_SHELL_MAX_TIMEOUT). The dial has its own connect timeout.
    #[serde(default, deserialize_with = "opt_int")]
    pub timeout: Option<i64>,
    /// Login user ("" = from the host string, inventory or ssh_config).
    #[serde(default)]
    pub user: String,
    /// Port (0 = from the host string, inventory or ssh_config).
    #[serde(default, deserialize_with = "params::int")]
    pub port: i64,
    /// Identity file ("" = ssh_config, agent or default keys).
    #[serde(default)]
    pub key_path: String,
    /// Host-key policy: strict, accept-new or ignore ("" = inventory entry or server default).
    #[serde(default)]
    pub known_hosts: String,
    /// Jump chain `[user@]host[:port][,...]` ("" = from ssh_config).
    #[serde(default)]
    pub jump: String,
}

/// Parameters of `ssh_spawn`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshSpawnParams {
    /// Inventory alias, ssh_config alias, `[user@]host[:port]`, name or address.
    pub host: String,
    /// Remote command; empty = the login shell.
    #[serde(default)]
    pub command: String,
    /// Terminal width in columns (default 120).
    #[serde(default = "default_cols", deserialize_with = "params::int")]
    pub cols: i64,
    /// Terminal height in rows (default 40).
    #[serde(default = "default_rows", deserialize_with = "params::int")]
    pub rows: i64,
    /// Login user ("" = from the host string, inventory or ssh_config).
    #[serde(default)]
    pub user: String,
    /// Port (0 = from the host string, inventory or ssh_config).
    #[serde(default, deserialize_with = "params::int")]
    pub port: i64,
    /// Identity file ("" = ssh_config, agent or default keys).
    #[serde(default)]
    pub key_path: String,
    /// Host-key policy: strict, accept-new or ignore ("" = inventory entry or server default).
    #[serde(default)]
    pub known_hosts: String,
    /// Jump chain `[user@]host[:port][,...]` ("" = from ssh_config).
    #[serde(default)]
    pub jump: String,
}

fn default_cols() -> i64 {
    120
}

fn default_rows() -> i64 {
    40
}

fn opt_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    params::int(d).map(Some)
}

/// `ssh_exec`: one remote command.
pub const SSH_EXEC: ToolDef = ToolDef {
    name: "ssh_exec",
    description: "Run one non-interactive command on a remote host over SSH and return \
        `[exit N]` plus its output (stdout and stderr in arrival order). host is an inventory or \
        ssh_config alias, or [user@]host[:port]. At the timeout the remote command is \
        terminated. Connections are pooled per identity and reuse OpenSSH's config, agent and \
        known_hosts.",
    summary: "run one command on a remote host",
    read_only: false,
    destructive: true,
    schema: schema_for_type::<SshExecParams>,
    build: build_exec,
};

/// `ssh_spawn`: a remote PTY session.
pub const SSH_SPAWN: ToolDef = ToolDef {
    name: "ssh_spawn",
    description: "Start an interactive remote program (default the login shell) in a \
        terminal over SSH and return a session id; drive it with session_send, session_recv, \
        session_resize and session_kill like a local session. Killing the session ends the \
        remote side too.",
    summary: "start an interactive remote program in a terminal session",
    read_only: false,
    destructive: true,
    schema: schema_for_type::<SshSpawnParams>,
    build: build_spawn,
};

/// The host tokens of a call: each host as given, its host part without user or port, its
/// inventory address, and each jump hop, de-duplicated.
pub fn host_tokens(ssh: &Ssh, hosts: &[&str], jump: &str) -> Vec<String> {
    let inv = ssh.inventory();
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: &str| {
        if !t.is_empty() && !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    };
    for h in hosts.iter().copied().chain(validate::split_hosts(jump)) {
        for part in h.split(',') {
            push(part);
            if let Some(spec) = inv.get(part) {
                push(&spec.hostname);
            } else if let Ok(d) = validate::destination(part) {
                push(&d.host);
            }
        }
    }
    out
}

/// `command`, then one line of host tokens, widened with canonical IP spellings (§7.4). The
/// host line is always the last line, after a newline even when there is no command, so the
/// classifier never reads a host name as a command.
pub fn host_probe(command: &str, tokens: &[String]) -> String {
    let line = tokens.join(" ");
    let base = if tokens.is_empty() {
        command.to_string()
    } else {
        format!("{command}\n{line}")
    };
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    crate::policy::widen_hosts(&base, &refs)
}

fn target(host: &str, user: &str, port: i64, key: &str, jump: &str, kh: &str) -> Target {
    Target {
        host: host.into(),
        user: user.into(),
        port,
        key_path: key.into(),
        jump: jump.into(),
        known_hosts: kh.into(),
    }
}

fn build_exec(state: &Arc<State>, _caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: SshExecParams = match params::parse(SSH_EXEC.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SSH_EXEC.name, raw_args(raw), e),
    };
    let s = &state.settings;
    let timeout = match p.timeout {
        None | Some(0) => s.default_timeout.clamp(1, s.max_timeout.max(1)),
        Some(t) => text::clamp_timeout(t, s.max_timeout),
    };
    let ssh = state.ssh.clone();
    let args = vec![
        ("host", json!(p.host)),
        ("command", json!(p.command)),
        ("timeout", json!(timeout)),
        ("user", json!(p.user)),
        ("port", json!(p.port)),
        ("key_path", json!(p.key_path)),
        ("jump", json!(p.jump)),
        (
            "known_hosts",
            json!(ssh.effective_mode_name(&p.host, &p.known_hosts)),
        ),
    ];
    let probe = host_probe(&p.command, &host_tokens(&ssh, &[&p.host], &p.jump));
    let t = target(
        &p.host,
        &p.user,
        p.port,
        &p.key_path,
        &p.jump,
        &p.known_hosts,
    );
    let prepared = match ssh.prepare(&t) {
        Ok(pr) => pr,
        Err(e) => {
            let mut c = ToolCall::invalid(SSH_EXEC.name, args, e);
            c.probe = probe;
            return c;
        }
    };
    let capture = s.max_output_hard;
    let dial = s.ssh_connect_timeout.saturating_mul(9) + 10;
    ToolCall::new(
        SSH_EXEC.name,
        args,
        probe,
        65536,
        Some(Duration::from_secs(timeout + dial)),
        true,
        async move {
            let o = ssh
                .exec(
                    &prepared,
                    &p.command,
                    Duration::from_secs(timeout),
                    capture,
                    None,
                    true,
                )
                .await?;
            if o.timed_out {
                return Ok(Output {
                    body: fanout::timeout_text(timeout),
                    timed_out: true,
                    ..Output::default()
                });
            }
            Ok(Output {
                body: text::lossy(&o.output),
                exit_code: o.exit_code.map(i64::from),
                timed_out: false,
                total_bytes: Some(o.total_bytes),
            })
        },
    )
}

fn build_spawn(state: &Arc<State>, caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: SshSpawnParams = match params::parse(SSH_SPAWN.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SSH_SPAWN.name, raw_args(raw), e),
    };
    let ssh = state.ssh.clone();
    let size = TermSize::clamped(p.cols, p.rows);
    let shown = if p.command.trim().is_empty() {
        "shell".to_string()
    } else {
        p.command.clone()
    };
    let args = vec![
        ("host", json!(p.host)),
        ("command", json!(shown)),
        ("size", json!(size.to_string())),
        ("user", json!(p.user)),
        ("port", json!(p.port)),
        ("key_path", json!(p.key_path)),
        ("jump", json!(p.jump)),
        (
            "known_hosts",
            json!(ssh.effective_mode_name(&p.host, &p.known_hosts)),
        ),
    ];
    let probe = host_probe(&p.command, &host_tokens(&ssh, &[&p.host], &p.jump));
    let t = target(
        &p.host,
        &p.user,
        p.port,
        &p.key_path,
        &p.jump,
        &p.known_hosts,
    );
    let prepared = match ssh.prepare(&t) {
        Ok(pr) => pr,
        Err(e) => {
            let mut c = ToolCall::invalid(SSH_SPAWN.name, args, e);
            c.probe = probe;
            return c;
        }
    };
    let sessions = state.sessions.clone();
    let principal = caller.principal.clone();
    let dial = state.settings.ssh_connect_timeout.saturating_mul(9) + 10;
    ToolCall::new(
        SSH_SPAWN.name,
        args,
        probe,
        4096,
        Some(SPAWN_DEADLINE + Duration::from_secs(dial)),
        true,
        async move {
            let lease = ssh.connect(&prepared, None).await?;
            let req = SpawnRequest {
                argv: ssh.pty_argv(&lease, &p.command),
                cwd: None,
                env: local_session_env(&Default::default()),
                size,
                kind: SessionKind::Ssh,
                title: format!("ssh {}", p.host),
            };
            let session = sessions.spawn(&principal, req).await?;
            lease.master().pin_session(&session);
            Ok(Output::text(format!(
                "session {} started (ssh {}); use session_recv/session_send",
                session.id(),
                p.host
            )))
        },
    )
}
