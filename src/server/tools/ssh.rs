//! `ssh_exec` and `ssh_spawn`: one remote command, or a remote PTY session in the session
//! registry (docs/tools.md). The SSH layer is [`crate::ssh`]; these entries parse arguments,
//! name what the gate records and classifies, and phrase the results.
//!
//! What runs is taken from the judged probe: the remote command from its shell payload, the
//! destination and the jump chain from its host list ([`HostLayout`]).

use std::time::Duration;

use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::params;
use super::{Context, Tool};
use crate::config::KnownHosts;
use crate::error::{ErrorKind, ToolError};
use crate::gate::{Output, Plan, Processes, ToolCall};
use crate::notices;
use crate::policy::{Payload, PolicyClass, Probe};
use crate::session::{SessionKind, SpawnRequest, TermSize, local_session_env};
use crate::ssh::inventory::Inventory;
use crate::ssh::{Ssh, Target, fanout, validate};
use crate::text;

/// Deadline of an `ssh_spawn` beyond the dial (starting the local client is quick).
const SPAWN_DEADLINE: Duration = Duration::from_secs(30);

/// Parameters of `ssh_exec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SshExecParams {
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
pub(super) struct SshSpawnParams {
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

pub(super) fn opt_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    params::int(d).map(Some)
}

/// `ssh_exec`: one remote command.
pub(super) struct SshExec;

impl Tool for SshExec {
    type Params = SshExecParams;
    const NAME: &'static str = "ssh_exec";
    const DESCRIPTION: &'static str = "Run one non-interactive command on a remote host over \
        SSH and return `[exit N]` plus its output (stdout and stderr in arrival order). host is \
        an inventory or ssh_config alias, or [user@]host[:port]. At the timeout the remote \
        command is terminated. Connections are pooled per identity and reuse OpenSSH's config, \
        agent and known_hosts.";
    const SUMMARY: &'static str = "run one command on a remote host";
    const CLASS: PolicyClass = PolicyClass::Shell;
    const DESTRUCTIVE: bool = true;
    const PROCESSES: Processes = Processes::Ssh;

    fn call(cx: &Context<'_>, p: SshExecParams) -> ToolCall {
        let s = &cx.state.settings;
        let timeout = match p.timeout {
            None | Some(0) => s.default_timeout.clamp(1, s.max_timeout.max(1)),
            Some(t) => text::clamp_timeout(t, s.max_timeout),
        };
        let ssh = cx.state.ssh.clone();
        let t = target(
            &p.host,
            &p.user,
            p.port,
            &p.key_path,
            &p.jump,
            &p.known_hosts,
        );
        let plan = cx
            .plan(vec![
                ("host", json!(p.host)),
                ("command", json!(p.command)),
                ("timeout", json!(timeout)),
            ])
            .budget(65536);
        let plan = declare_target(plan, &ssh, &t);
        let (probe, layout) = host_probe(
            cx.probe().shell(&p.command),
            &ssh.inventory(),
            &[&p.host],
            &p.jump,
        );
        let plan = plan.probe(probe);
        if let Err(e) = ssh.prepare(&t) {
            return plan.fail(e);
        }
        let capture = s.max_output_hard;
        let dial = s.ssh_connect_timeout.saturating_mul(9) + 10;
        plan.deadline(Duration::from_secs(timeout + dial))
            .runs()
            .work(move |judged| async move {
                let command = remote_command(&judged.probe)?;
                let prepared = ssh.prepare(&layout.target(&judged.probe, t)?)?;
                let o = ssh
                    .exec(
                        &prepared,
                        &command,
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
                    ..Output::default()
                })
            })
    }
}

/// `ssh_spawn`: a remote PTY session.
pub(super) struct SshSpawn;

impl Tool for SshSpawn {
    type Params = SshSpawnParams;
    const NAME: &'static str = "ssh_spawn";
    const DESCRIPTION: &'static str = "Start an interactive remote program (default the login \
        shell) in a terminal over SSH and return a session id; drive it with session_send, \
        session_recv, session_resize and session_kill like a local session. Killing the session \
        ends the remote side too.";
    const SUMMARY: &'static str = "start an interactive remote program in a terminal session";
    const CLASS: PolicyClass = PolicyClass::Session;
    const DESTRUCTIVE: bool = true;
    const PROCESSES: Processes = Processes::Ssh;

    fn call(cx: &Context<'_>, p: SshSpawnParams) -> ToolCall {
        let ssh = cx.state.ssh.clone();
        let size = TermSize::clamped(p.cols, p.rows);
        let shown = if p.command.trim().is_empty() {
            "shell"
        } else {
            p.command.as_str()
        };
        let t = target(
            &p.host,
            &p.user,
            p.port,
            &p.key_path,
            &p.jump,
            &p.known_hosts,
        );
        let plan = cx
            .plan(vec![
                ("host", json!(p.host)),
                ("command", json!(shown)),
                ("size", json!(size.to_string())),
            ])
            .budget(4096);
        let plan = declare_target(plan, &ssh, &t);
        let (probe, layout) = host_probe(
            cx.probe().shell(&p.command),
            &ssh.inventory(),
            &[&p.host],
            &p.jump,
        );
        let plan = plan.probe(probe);
        if let Err(e) = ssh.prepare(&t) {
            return plan.fail(e);
        }
        let sessions = cx.state.sessions.clone();
        let principal = cx.caller.principal.clone();
        let dial = cx.state.settings.ssh_connect_timeout.saturating_mul(9) + 10;
        plan.deadline(SPAWN_DEADLINE + Duration::from_secs(dial))
            .runs()
            .work(move |judged| async move {
                let command = remote_command(&judged.probe)?;
                let t = layout.target(&judged.probe, t)?;
                let prepared = ssh.prepare(&t)?;
                let lease = ssh.connect(&prepared, None).await?;
                let req = SpawnRequest {
                    argv: ssh.pty_argv(&lease, &command),
                    cwd: None,
                    env: local_session_env(&Default::default()),
                    size,
                    kind: SessionKind::Ssh,
                    title: format!("ssh {}", t.host),
                    // The remote side cannot be confined from here, and the local client
                    // needs the pool's control socket: it runs unconfined, recorded `none`
                    // (docs/architecture.md, confinement and SSH).
                    confinement: None,
                };
                let session = sessions.spawn(&principal, req).await?;
                lease.master().pin_session(&session);
                Ok(Output::text(format!(
                    "session {} started (ssh {}); use session_recv/session_send",
                    session.id(),
                    t.host
                )))
            })
    }
}

/// Declare the SSH target of a call that connects to one host (`ssh_exec`, `ssh_spawn`, and
/// the transfer and forward tools): after the tool's own audit arguments come `user`,
/// `port`, `key_path`, `jump` and `known_hosts` — the *effective* host-key policy (the
/// per-call value, else the inventory entry's, else the server default) — and when that
/// policy is `ignore` the result gets the per-call SSH notice (even if the call is then
/// refused as a downgrade).
pub(super) fn declare_target(plan: Plan, ssh: &Ssh, t: &Target) -> Plan {
    let known_hosts = ssh.effective_mode_name(&t.host, &t.known_hosts);
    let ignore = known_hosts == KnownHosts::Ignore.as_str();
    let plan = plan
        .arg("user", json!(t.user))
        .arg("port", json!(t.port))
        .arg("key_path", json!(t.key_path))
        .arg("jump", json!(t.jump))
        .arg("known_hosts", json!(known_hosts));
    if ignore {
        plan.notice(notices::SSH_IGNORE)
    } else {
        plan
    }
}

/// How an SSH call's hosts are laid out in its probe's host list: first the destinations
/// the executor dials, in the caller's order; then the jump hops, in chain order; then every
/// other spelling of them (host part without user or port, inventory address), which only the
/// operator's regexes and the raw-text floor use. The work reads its destinations and jump
/// chain back from the judged probe through this layout, so it dials exactly what was judged.
#[derive(Clone, Copy, Debug)]
pub(super) struct HostLayout {
    dests: usize,
    hops: usize,
}

impl HostLayout {
    /// The destinations, as judged.
    pub(super) fn dests<'a>(&self, probe: &'a Probe) -> &'a [String] {
        probe.hosts.get(..self.dests).unwrap_or_default()
    }

    /// The jump chain, as judged (hops joined by commas, as the caller wrote it).
    fn jump(&self, probe: &Probe) -> String {
        probe
            .hosts
            .get(self.dests..self.dests + self.hops)
            .unwrap_or_default()
            .join(",")
    }

    /// `t` with its host and jump chain taken from the judged probe (one destination).
    pub(super) fn target(&self, probe: &Probe, t: Target) -> Result<Target, ToolError> {
        match self.dests(probe) {
            [host] => Ok(Target {
                host: host.clone(),
                jump: self.jump(probe),
                ..t
            }),
            _ => Err(ToolError::new(
                ErrorKind::Internal,
                "an SSH call was planned without its destination",
            )),
        }
    }
}

/// Add the hosts of an SSH call to `probe`: `dests` (each as given) and the hops of `jump`,
/// laid out as [`HostLayout`] says, and for the regexes one line of every spelling — each
/// destination and hop as given, then its host part or inventory address — de-duplicated and
/// widened with canonical IP spellings, after the command.
pub(super) fn host_probe(
    probe: Probe,
    inv: &Inventory,
    dests: &[&str],
    jump: &str,
) -> (Probe, HostLayout) {
    let hops: Vec<&str> = jump.split(',').filter(|h| !h.is_empty()).collect();
    let mut shown: Vec<String> = Vec::new();
    for h in dests.iter().chain(&hops) {
        for part in h.split(',') {
            push(&mut shown, part);
            if let Some(spec) = inv.get(part) {
                push(&mut shown, &spec.hostname);
            } else if let Ok(d) = validate::destination(part) {
                push(&mut shown, &d.host);
            }
        }
    }
    let mut hosts: Vec<String> = dests.iter().chain(&hops).map(|h| h.to_string()).collect();
    for t in &shown {
        push(&mut hosts, t);
    }
    let layout = HostLayout {
        dests: dests.len(),
        hops: hops.len(),
    };
    (probe.hosts(hosts, &shown.join(" ")), layout)
}

/// The remote command of a judged probe (its shell payload).
pub(super) fn remote_command(probe: &Probe) -> Result<String, ToolError> {
    match &probe.payload {
        Payload::Shell(command) => Ok(command.clone()),
        _ => Err(ToolError::new(
            ErrorKind::Internal,
            "a remote command was planned without its text",
        )),
    }
}

/// Append `t` to `list` unless it is empty or already there.
fn push(list: &mut Vec<String>, t: &str) {
    if !t.is_empty() && !list.iter().any(|o| o == t) {
        list.push(t.to_string());
    }
}

pub(super) fn target(host: &str, user: &str, port: i64, key: &str, jump: &str, kh: &str) -> Target {
    Target {
        host: host.into(),
        user: user.into(),
        port,
        key_path: key.into(),
        jump: jump.into(),
        known_hosts: kh.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory(dir: &tempfile::TempDir) -> Inventory {
        let config = dir.path().join("config");
        std::fs::write(&config, "Host web01\n  HostName 10.0.0.5\n").unwrap();
        Inventory::load(&config, "")
    }

    #[test]
    fn destinations_come_first_then_the_jump_hops_then_other_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let inv = inventory(&dir);
        let probe = Probe::new("ssh_exec", PolicyClass::Shell).shell("uptime");
        let (probe, layout) = host_probe(probe, &inv, &["root@2130706433:2222"], "a@j1:22,web01");
        assert_eq!(
            probe.hosts,
            [
                "root@2130706433:2222",
                "a@j1:22",
                "web01",
                "2130706433",
                "j1",
                "10.0.0.5"
            ]
        );
        // The regex text: the command, then every spelling once, then canonical IPs.
        assert_eq!(
            probe.text(),
            "uptime\nroot@2130706433:2222 2130706433 a@j1:22 j1 web01 10.0.0.5 127.0.0.1"
        );
        assert_eq!(layout.dests(&probe), ["root@2130706433:2222"]);
        let t = layout.target(&probe, Target::default()).unwrap();
        assert_eq!(t.host, "root@2130706433:2222");
        assert_eq!(t.jump, "a@j1:22,web01");
    }

    #[test]
    fn fleet_destinations_keep_their_order_and_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let inv = inventory(&dir);
        let probe = Probe::new("ssh_fanout", PolicyClass::Shell).shell("true");
        let (probe, layout) = host_probe(probe, &inv, &["db", "web01", "db"], "");
        assert_eq!(layout.dests(&probe), ["db", "web01", "db"]);
        assert_eq!(probe.text(), "true\ndb web01 10.0.0.5");
        // A fleet has no single destination to dial.
        assert!(layout.target(&probe, Target::default()).is_err());
    }

    #[test]
    fn the_remote_command_is_the_judged_shell_payload() {
        let probe = Probe::new("ssh_exec", PolicyClass::Shell).shell("true\n{\"x\":\"$(id)\"}");
        assert_eq!(remote_command(&probe).unwrap(), "true\n{\"x\":\"$(id)\"}");
        let empty = Probe::new("ssh_exec", PolicyClass::Shell);
        assert_eq!(
            remote_command(&empty).unwrap_err().kind,
            ErrorKind::Internal
        );
    }
}
