//! The fleet tools: `ssh_hosts`, `ssh_check`, `ssh_fanout`, `ssh_keyscan` (spec §5.16–§5.19).
//! With no `hosts`, `ssh_check` and `ssh_fanout` use every inventory host, and the policy
//! probe lists each of them, so a deny rule on a host sees the fleet members too.

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::JsonObject;
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::info::NoParams;
use super::params;
use super::ssh::{host_probe, host_tokens};
use super::{ToolDef, raw_args};
use crate::audit::Json;
use crate::config::KnownHosts;
use crate::error::ToolError;
use crate::gate::{Caller, Output, ToolCall};
use crate::server::State;
use crate::ssh::keyscan::{self, Checked};
use crate::ssh::{Ssh, fanout, validate};
use crate::text;

/// Reply when there is nothing to run on.
const NO_HOSTS: &str = "[no hosts configured; pass hosts= or add an inventory]";

/// Parameters of `ssh_check`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshCheckParams {
    /// Hosts separated by commas or spaces; empty = every inventory host.
    #[serde(default)]
    pub hosts: String,
    /// Seconds per host for the dial and the probe (default 5, clamped to 1..60).
    #[serde(default = "five", deserialize_with = "params::int")]
    pub timeout: i64,
}

/// Parameters of `ssh_fanout`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshFanoutParams {
    /// The command, run by each host's login shell.
    pub command: String,
    /// Hosts separated by commas or spaces; empty = every inventory host.
    #[serde(default)]
    pub hosts: String,
    /// Seconds per host for the dial and the command (default 30).
    #[serde(default = "thirty", deserialize_with = "params::int")]
    pub timeout: i64,
    /// Hosts at once (default 8, clamped to 1..32).
    #[serde(default = "eight", deserialize_with = "params::int")]
    pub concurrency: i64,
}

/// Parameters of `ssh_keyscan`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshKeyscanParams {
    /// Hosts separated by commas or spaces (at most 32).
    pub hosts: String,
    /// Port (default 22).
    #[serde(default = "twenty_two", deserialize_with = "params::int")]
    pub port: i64,
    /// Key types from rsa, ecdsa, ed25519, dsa (default rsa,ecdsa,ed25519).
    #[serde(default = "default_types")]
    pub key_types: String,
    /// Seconds to wait for each host (default 10, clamped to 1..60); the whole scan may take
    /// twice that plus 5 s.
    #[serde(default = "ten", deserialize_with = "params::int")]
    pub timeout: i64,
}

fn five() -> i64 {
    5
}
fn eight() -> i64 {
    8
}
fn ten() -> i64 {
    10
}
fn thirty() -> i64 {
    30
}
fn twenty_two() -> i64 {
    22
}
fn default_types() -> String {
    "rsa,ecdsa,ed25519".into()
}

/// `ssh_hosts`: the inventory.
pub const SSH_HOSTS: ToolDef = ToolDef {
    name: "ssh_hosts",
    description: "List the SSH inventory (ssh_config aliases and the inventory file) as JSON: \
        name, hostname, user, port, identity_file, jump, source.",
    summary: "list the SSH inventory",
    read_only: true,
    destructive: false,
    schema: schema_for_type::<NoParams>,
    build: build_hosts,
};

/// `ssh_check`: reachability of many hosts.
pub const SSH_CHECK: ToolDef = ToolDef {
    name: "ssh_check",
    description: "Check which hosts answer over SSH (runs `echo ok`, 8 at a time): one line \
        per host, `<host>: ok` or `<host>: UNREACHABLE (<Kind>)`. Empty hosts = the inventory.",
    summary: "check which hosts answer over SSH",
    read_only: true,
    destructive: false,
    schema: schema_for_type::<SshCheckParams>,
    build: build_check,
};

/// `ssh_fanout`: one command on many hosts.
pub const SSH_FANOUT: ToolDef = ToolDef {
    name: "ssh_fanout",
    description: "Run one command on many hosts with bounded concurrency and return one JSON \
        object: command, concurrency, timeout, host_count, results [{host, exit_code, output}]. \
        The JSON always fits the output budget: long outputs are shortened. Empty hosts = the \
        inventory.",
    summary: "run one command on many hosts (JSON results)",
    read_only: false,
    destructive: true,
    schema: schema_for_type::<SshFanoutParams>,
    build: build_fanout,
};

/// `ssh_keyscan`: fetch host keys.
pub const SSH_KEYSCAN: ToolDef = ToolDef {
    name: "ssh_keyscan",
    description: "Fetch the SSH host keys of hosts with ssh-keyscan, as known_hosts lines, to \
        check out of band and add to known_hosts before strict connections.",
    summary: "fetch SSH host keys (known_hosts lines)",
    read_only: false,
    destructive: false,
    schema: schema_for_type::<SshKeyscanParams>,
    build: build_keyscan,
};

/// The hosts a fleet call names: its list, or the whole inventory when empty.
fn fleet(ssh: &Ssh, hosts: &str) -> Vec<String> {
    let listed = validate::split_hosts(hosts);
    if listed.is_empty() {
        ssh.inventory().hosts().map(|h| h.name.clone()).collect()
    } else {
        listed.into_iter().map(str::to_string).collect()
    }
}

fn cap_error(n: usize) -> ToolError {
    ToolError::invalid(format!(
        "{n} hosts exceeds the per-call cap of {}; split into smaller batches",
        fanout::MAX_HOSTS
    ))
}

/// The v0.5 notice for hosts whose effective policy is `ignore`.
fn ignore_notice(ssh: &Ssh, hosts: &[String]) -> Option<String> {
    let off: Vec<&str> = hosts
        .iter()
        .take(200)
        .filter(|h| ssh.effective_mode_name(h, "") == KnownHosts::Ignore.as_str())
        .map(String::as_str)
        .collect();
    if off.is_empty() {
        return None;
    }
    let mut shown = off[..off.len().min(5)].join(", ");
    if off.len() > 5 {
        shown.push_str(&format!(" and {} more", off.len() - 5));
    }
    Some(format!(
        "ssh: host-key verification is off for {shown} (known_hosts=ignore); the peer is not \
         authenticated and the connection can be intercepted"
    ))
}

fn build_hosts(state: &Arc<State>, _caller: &Caller, raw: &JsonObject) -> ToolCall {
    if let Err(e) = params::parse::<NoParams>(SSH_HOSTS.name, raw) {
        return ToolCall::invalid(SSH_HOSTS.name, raw_args(raw), e);
    }
    let ssh = state.ssh.clone();
    ToolCall::new(
        SSH_HOSTS.name,
        vec![],
        String::new(),
        32768,
        None,
        false,
        async move { Ok(Output::text(inventory_json(&ssh).to_pretty())) },
    )
}

/// Every host spec, sorted by name.
pub fn inventory_json(ssh: &Ssh) -> Json {
    Json::Arr(ssh.inventory().hosts().map(|h| h.to_json()).collect())
}

fn build_check(state: &Arc<State>, _caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: SshCheckParams = match params::parse(SSH_CHECK.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SSH_CHECK.name, raw_args(raw), e),
    };
    let ssh = state.ssh.clone();
    let timeout = text::clamp_i64(p.timeout, 1, 60) as u64;
    let hosts = fleet(&ssh, &p.hosts);
    let shown = if p.hosts.trim().is_empty() {
        "inventory"
    } else {
        p.hosts.as_str()
    };
    let args = vec![("hosts", json!(shown))];
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let probe = host_probe("", &host_tokens(&ssh, &refs, ""));
    let deadline = Duration::from_secs(timeout * 2 * hosts.len().div_ceil(8).max(1) as u64 + 10);
    ToolCall::new(
        SSH_CHECK.name,
        args,
        probe,
        8192,
        Some(deadline),
        true,
        async move {
            if hosts.is_empty() {
                return Ok(Output::text(NO_HOSTS));
            }
            if hosts.len() > fanout::MAX_HOSTS {
                return Err(cap_error(hosts.len()));
            }
            let results = fanout::run(ssh, hosts, "echo ok".into(), timeout, 8, 4096, false).await;
            let lines: Vec<String> = results
                .iter()
                .map(|r| {
                    let ok = r.exit_code == Some(0) && r.output.contains("ok");
                    match (ok, r.error_kind) {
                        (true, _) => format!("{}: ok", r.host),
                        (false, Some(kind)) => format!("{}: UNREACHABLE ({kind})", r.host),
                        (false, None) => format!("{}: UNREACHABLE", r.host),
                    }
                })
                .collect();
            Ok(Output::text(lines.join("\n")))
        },
    )
}

fn build_fanout(state: &Arc<State>, _caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: SshFanoutParams = match params::parse(SSH_FANOUT.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SSH_FANOUT.name, raw_args(raw), e),
    };
    let s = &state.settings;
    let ssh = state.ssh.clone();
    let args = vec![
        ("command", json!(p.command)),
        ("hosts", json!(p.hosts)),
        ("timeout", json!(p.timeout)),
        ("concurrency", json!(p.concurrency)),
    ];
    let timeout = text::clamp_timeout(p.timeout, s.max_timeout);
    let concurrency = text::clamp_i64(p.concurrency, 1, 32) as usize;
    let budget = text::clamp_output(s.max_output as i64, s.max_output_hard);
    let hosts = fleet(&ssh, &p.hosts);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let probe = host_probe(&p.command, &host_tokens(&ssh, &refs, ""));
    let waves = hosts.len().div_ceil(concurrency).max(1) as u64;
    let deadline = Duration::from_secs((2 * timeout + 10) * waves);
    ToolCall::new(
        SSH_FANOUT.name,
        args,
        probe,
        budget,
        Some(deadline),
        true,
        async move {
            if hosts.is_empty() {
                return Ok(Output::text(NO_HOSTS));
            }
            if hosts.len() > fanout::MAX_HOSTS {
                return Err(cap_error(hosts.len()));
            }
            let notices: Vec<String> = ignore_notice(&ssh, &hosts).into_iter().collect();
            let echo_len = text::truncate(&p.command, (budget / 4).min(2048), None)
                .0
                .len();
            let capture = fanout::per_host_budget(budget, echo_len, hosts.len());
            let results = fanout::run(
                ssh,
                hosts,
                p.command.clone(),
                timeout,
                concurrency,
                capture,
                true,
            )
            .await;
            Ok(Output::text(fanout::render(
                &p.command,
                concurrency,
                timeout,
                &results,
                &notices,
                budget,
            )))
        },
    )
}

fn build_keyscan(state: &Arc<State>, _caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: SshKeyscanParams = match params::parse(SSH_KEYSCAN.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SSH_KEYSCAN.name, raw_args(raw), e),
    };
    let s = &state.settings;
    let args = vec![
        ("hosts", json!(p.hosts)),
        ("port", json!(p.port)),
        ("key_types", json!(p.key_types)),
    ];
    let list = validate::split_hosts(&p.hosts);
    let tokens: Vec<String> = list.iter().map(|h| h.to_string()).collect();
    let probe = host_probe("", &tokens);
    let budget = text::clamp_output(s.max_output as i64, s.max_output_hard);
    let per_host = text::clamp_i64(p.timeout, 1, 60) as u64;
    let scan = match keyscan::check(&p.hosts, p.port, &p.key_types, per_host) {
        Ok(Checked::Run(scan)) => scan,
        Ok(Checked::NoHosts(msg)) => {
            return ToolCall::new(
                SSH_KEYSCAN.name,
                args,
                probe,
                budget,
                None,
                false,
                async move { Ok(Output::text(msg)) },
            );
        }
        Err(e) => {
            let mut c = ToolCall::invalid(SSH_KEYSCAN.name, args, e);
            c.probe = probe;
            return c;
        }
    };
    let overall = scan.overall(s.max_timeout);
    let capture = s.max_output_hard;
    ToolCall::new(
        SSH_KEYSCAN.name,
        args,
        probe,
        budget,
        Some(overall),
        true,
        async move {
            let o = scan.run(overall, capture).await?;
            if o.timed_out {
                return Ok(Output {
                    body: format!("[TIMEOUT after {}s]", overall.as_secs()),
                    timed_out: true,
                    ..Output::default()
                });
            }
            Ok(Output {
                body: text::lossy(&o.output),
                exit_code: o.exit_code.map(i64::from),
                timed_out: false,
                total_bytes: Some(o.total_bytes as usize),
            })
        },
    )
}
