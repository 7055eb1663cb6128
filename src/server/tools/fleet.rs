//! The fleet tools: `ssh_hosts`, `ssh_check`, `ssh_fanout`, `ssh_keyscan` (docs/tools.md).
//! With no `hosts`, `ssh_check` and `ssh_fanout` use every inventory host, and the policy
//! probe lists each of them, so a deny rule on a host sees the fleet members too. The work
//! takes the hosts it contacts (and `ssh_fanout` its command) from the judged probe.

use std::time::Duration;

use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::info::NoParams;
use super::params;
use super::ssh::{host_probe, remote_command};
use super::{Context, Tool};
use crate::config::KnownHosts;
use crate::error::ToolError;
use crate::gate::{Output, Plan, Processes, ToolCall};
use crate::notices;
use crate::policy::{PolicyClass, Tier};
use crate::ssh::keyscan::{self, Checked};
use crate::ssh::{Ssh, fanout, validate};
use crate::text;

/// Reply when there is nothing to run on.
const NO_HOSTS: &str = "[no hosts configured; pass hosts= or add an inventory]";

/// Parameters of `ssh_check`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SshCheckParams {
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
pub(super) struct SshFanoutParams {
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
pub(super) struct SshKeyscanParams {
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
pub(super) struct SshHosts;

impl Tool for SshHosts {
    type Params = NoParams;
    const NAME: &'static str = "ssh_hosts";
    const DESCRIPTION: &'static str = "List the SSH inventory (ssh_config aliases and the \
        inventory file) as JSON: name, hostname, user, port, identity_file, jump, source.";
    const SUMMARY: &'static str = "list the SSH inventory";
    const CLASS: PolicyClass = PolicyClass::ReadOnly;
    const DESTRUCTIVE: bool = false;
    const PROCESSES: Processes = Processes::None;

    fn call(cx: &Context<'_>, _: NoParams) -> ToolCall {
        let ssh = cx.state.ssh.clone();
        cx.plan(vec![])
            .budget(32768)
            .work(move |_| async move { Ok(Output::text(ssh.inventory().to_json().to_pretty())) })
    }
}

/// `ssh_check`: reachability of many hosts.
pub(super) struct SshCheck;

impl Tool for SshCheck {
    type Params = SshCheckParams;
    const NAME: &'static str = "ssh_check";
    const DESCRIPTION: &'static str = "Check which hosts answer over SSH (runs `echo ok`, 8 at \
        a time): one line per host, `<host>: ok` or `<host>: UNREACHABLE (<Kind>)`. Empty hosts \
        = the inventory.";
    const SUMMARY: &'static str = "check which hosts answer over SSH";
    const CLASS: PolicyClass = PolicyClass::ReadOnly;
    const DESTRUCTIVE: bool = false;
    const PROCESSES: Processes = Processes::Ssh;

    fn call(cx: &Context<'_>, p: SshCheckParams) -> ToolCall {
        let ssh = cx.state.ssh.clone();
        let timeout = text::clamp_i64(p.timeout, 1, 60) as u64;
        let hosts = fleet(&ssh, &p.hosts);
        let shown = if p.hosts.trim().is_empty() {
            "inventory"
        } else {
            p.hosts.as_str()
        };
        let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let inv = ssh.inventory();
        let (mut probe, layout) = host_probe(cx.probe(), &inv, &refs, "");
        // Contacting a host the operator did not list is more than observing: at least
        // tier 1 (a `user@host` spelling is never an inventory entry).
        let listed = validate::split_hosts(&p.hosts);
        if listed
            .iter()
            .any(|h| inv.get(h).is_none() && !inv.hosts().any(|e| e.hostname == *h))
        {
            probe = probe.at_least(Tier::Reversible);
        }
        let deadline =
            Duration::from_secs(timeout * 2 * hosts.len().div_ceil(8).max(1) as u64 + 10);
        let plan = cx.plan(vec![("hosts", json!(shown))]);
        with_host_notice(plan, &ssh, &hosts)
            .probe(probe)
            .budget(8192)
            .deadline(deadline)
            .runs()
            .work(move |judged| async move {
                let hosts = layout.dests(&judged.probe).to_vec();
                if hosts.is_empty() {
                    return Ok(Output::text(NO_HOSTS));
                }
                if hosts.len() > fanout::MAX_HOSTS {
                    return Err(cap_error(hosts.len()));
                }
                let results =
                    fanout::run(ssh, hosts, "echo ok".into(), timeout, 8, 4096, false).await;
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
            })
    }
}

/// `ssh_fanout`: one command on many hosts.
pub(super) struct SshFanout;

impl Tool for SshFanout {
    type Params = SshFanoutParams;
    const NAME: &'static str = "ssh_fanout";
    const DESCRIPTION: &'static str = "Run one command on many hosts with bounded concurrency \
        and return one JSON object: command, concurrency, timeout, host_count, results [{host, \
        exit_code, output}]. The JSON always fits the output budget: long outputs are \
        shortened. Empty hosts = the inventory.";
    const SUMMARY: &'static str = "run one command on many hosts (JSON results)";
    const CLASS: PolicyClass = PolicyClass::Shell;
    const DESTRUCTIVE: bool = true;
    const PROCESSES: Processes = Processes::Ssh;

    fn call(cx: &Context<'_>, p: SshFanoutParams) -> ToolCall {
        let s = &cx.state.settings;
        let ssh = cx.state.ssh.clone();
        let plan = cx.plan(vec![
            ("command", json!(p.command)),
            ("hosts", json!(p.hosts)),
            ("timeout", json!(p.timeout)),
            ("concurrency", json!(p.concurrency)),
        ]);
        let timeout = text::clamp_timeout(p.timeout, s.max_timeout);
        let concurrency = text::clamp_i64(p.concurrency, 1, 32) as usize;
        let budget = text::clamp_output(s.max_output as i64, s.max_output_hard);
        let hosts = fleet(&ssh, &p.hosts);
        let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let (probe, layout) = host_probe(cx.probe().shell(&p.command), &ssh.inventory(), &refs, "");
        let waves = hosts.len().div_ceil(concurrency).max(1) as u64;
        let deadline = Duration::from_secs((2 * timeout + 10) * waves);
        with_host_notice(plan, &ssh, &hosts)
            .notices_in_json()
            .probe(probe)
            .budget(budget)
            .deadline(deadline)
            .runs()
            .work(move |judged| async move {
                let command = remote_command(&judged.probe)?;
                let hosts = layout.dests(&judged.probe).to_vec();
                if hosts.is_empty() {
                    return Ok(Output::text(NO_HOSTS));
                }
                if hosts.len() > fanout::MAX_HOSTS {
                    return Err(cap_error(hosts.len()));
                }
                let echo_len = text::truncate(&command, (budget / 4).min(2048), None)
                    .0
                    .len();
                let capture = fanout::per_host_budget(budget, echo_len, hosts.len());
                let results = fanout::run(
                    ssh,
                    hosts,
                    command.clone(),
                    timeout,
                    concurrency,
                    capture,
                    true,
                )
                .await;
                Ok(Output::text(fanout::render(
                    &command,
                    concurrency,
                    timeout,
                    &results,
                    &[],
                    budget,
                )))
            })
    }
}

/// `ssh_keyscan`: fetch host keys.
pub(super) struct SshKeyscan;

impl Tool for SshKeyscan {
    type Params = SshKeyscanParams;
    const NAME: &'static str = "ssh_keyscan";
    const DESCRIPTION: &'static str = "Fetch the SSH host keys of hosts with ssh-keyscan, as \
        known_hosts lines, to check out of band and add to known_hosts before strict \
        connections.";
    const SUMMARY: &'static str = "fetch SSH host keys (known_hosts lines)";
    const CLASS: PolicyClass = PolicyClass::Control;
    const DESTRUCTIVE: bool = false;
    const PROCESSES: Processes = Processes::Ssh;

    fn call(cx: &Context<'_>, p: SshKeyscanParams) -> ToolCall {
        let s = &cx.state.settings;
        let budget = text::clamp_output(s.max_output as i64, s.max_output_hard);
        let list: Vec<String> = validate::split_hosts(&p.hosts)
            .into_iter()
            .map(str::to_string)
            .collect();
        let shown = list.join(" ");
        let plan = cx
            .plan(vec![
                ("hosts", json!(p.hosts)),
                ("port", json!(p.port)),
                ("key_types", json!(p.key_types)),
            ])
            .probe(cx.probe().hosts(list, &shown))
            .budget(budget);
        let per_host = text::clamp_i64(p.timeout, 1, 60) as u64;
        let scan = match keyscan::check(&p.hosts, p.port, &p.key_types, per_host) {
            Ok(Checked::Run(scan)) => scan,
            Ok(Checked::NoHosts(msg)) => {
                return plan.work(move |_| async move { Ok(Output::text(msg)) });
            }
            Err(e) => return plan.fail(e),
        };
        let overall = scan.overall(s.max_timeout);
        let capture = s.max_output_hard;
        plan.deadline(overall)
            .runs()
            .work(move |judged| async move {
                // The hosts scanned are the ones judged (the same validated list).
                let scan = keyscan::Scan {
                    hosts: judged.probe.hosts,
                    ..scan
                };
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
                    ..Output::default()
                })
            })
    }
}

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

/// `plan` with the host-list notice for the hosts whose effective host-key policy is
/// `ignore` (docs/tools.md), if any.
fn with_host_notice(plan: Plan, ssh: &Ssh, hosts: &[String]) -> Plan {
    let notice = notices::host_list_notice(hosts.iter().map(String::as_str), |h| {
        ssh.effective_mode_name(h, "") == KnownHosts::Ignore.as_str()
    });
    match notice {
        Some(n) => plan.notice(n),
        None => plan,
    }
}
