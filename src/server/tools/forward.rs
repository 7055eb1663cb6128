//! `ssh_forward`, `ssh_forward_list` and `ssh_forward_close`: port forwards over the pooled
//! master (docs/tools.md, ADR 0010). The registry is [`crate::ssh::forward`]; forwards belong
//! to the principal that opened them.
//!
//! What opens is taken from the judged probe: the kind, listen address and port, and
//! destination from its forward payload; the SSH destination and jump chain from its host
//! list.

use std::time::Duration;

use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::params;
use super::ssh::{host_probe, target};
use super::{Context, Tool};
use crate::audit::Json;
use crate::error::{ErrorKind, ToolError};
use crate::gate::{Output, Processes, ToolCall};
use crate::policy::{Payload, PolicyClass, widen_hosts};
use crate::ssh::forward::{ForwardInfo, check_bind, parse_spec};

/// Deadline of an `ssh_forward` beyond the dial (one control request to the master).
const FORWARD_DEADLINE: Duration = Duration::from_secs(20);

/// Parameters of `ssh_forward`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SshForwardParams {
    /// Inventory alias, ssh_config alias, `[user@]host[:port]`, name or address.
    pub host: String,
    /// `L:[bind:]<listen_port>:<dest_host>:<dest_port>` (listen here, connect from the remote
    /// host), `R:[bind:]<listen_port>:<dest_host>:<dest_port>` (listen on the remote host,
    /// connect from here) or `D:[bind:]<listen_port>` (SOCKS here). Port 0 = any free port
    /// (the result names it). The bind address defaults to 127.0.0.1; another one needs
    /// RELAY_SHELL_FORWARD_ALLOW_NONLOOPBACK=true.
    pub spec: String,
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

/// Parameters of `ssh_forward_close`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SshForwardCloseParams {
    /// A forward id from `ssh_forward` (`fwd-…`).
    pub forward_id: String,
}

/// No parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NoParams {}

/// `ssh_forward`: open a port forward.
pub(super) struct SshForward;

impl Tool for SshForward {
    type Params = SshForwardParams;
    const NAME: &'static str = "ssh_forward";
    const DESCRIPTION: &'static str = "Open a port forward over SSH and return its id and the \
        port it listens on: L: listens on this host (127.0.0.1 unless the operator allows \
        other addresses) and carries connections to dest_host:dest_port as seen from the remote \
        host; R: listens on the remote host and carries connections back to dest_host:dest_port \
        as seen from here; D: is a SOCKS proxy on this host whose connections leave from the \
        remote host. Port 0 picks a free port. Close it with ssh_forward_close; \
        ssh_forward_list shows yours and whether each is alive.";
    const SUMMARY: &'static str = "open an SSH port forward (L:, R: or D:)";
    const CLASS: PolicyClass = PolicyClass::Stateful;
    const PROCESSES: Processes = Processes::Ssh;
    const DESTRUCTIVE: bool = false;

    fn call(cx: &Context<'_>, p: SshForwardParams) -> ToolCall {
        let ssh = cx.state.ssh.clone();
        let plan = cx
            .plan(vec![
                ("host", json!(p.host)),
                ("spec", json!(p.spec)),
                ("user", json!(p.user)),
                ("port", json!(p.port)),
                ("key_path", json!(p.key_path)),
                ("jump", json!(p.jump)),
                (
                    "known_hosts",
                    json!(ssh.effective_mode_name(&p.host, &p.known_hosts)),
                ),
            ])
            .budget(1024);
        let parsed = parse_spec(&p.spec);
        let dest_host = parsed
            .as_ref()
            .ok()
            .and_then(|f| f.dest.as_ref().map(|(h, _)| h.clone()));
        let shown = widen_hosts(
            &format!("forward {}", p.spec),
            &dest_host.as_deref().into_iter().collect::<Vec<_>>(),
        );
        let base = match &parsed {
            Ok(f) => cx.probe().forward(f.clone(), &shown),
            Err(_) => cx.probe().describe(&shown),
        };
        let (probe, layout) = host_probe(base, &ssh.inventory(), &[&p.host], &p.jump);
        let plan = plan.probe(probe);
        let t = target(
            &p.host,
            &p.user,
            p.port,
            &p.key_path,
            &p.jump,
            &p.known_hosts,
        );
        let checked = parsed
            .and_then(|f| check_bind(&f, ssh.forwards().limits()))
            .and_then(|_| ssh.prepare(&t).map(|_| ()));
        if let Err(e) = checked {
            return plan.fail(e);
        }
        let principal = cx.caller.principal.clone();
        let spec = p.spec.clone();
        let dial = cx.state.settings.ssh_connect_timeout.saturating_mul(9) + 10;
        plan.deadline(FORWARD_DEADLINE + Duration::from_secs(dial))
            .runs()
            .work(move |judged| async move {
                let Payload::Forward(f) = &judged.probe.payload else {
                    return Err(ToolError::new(
                        ErrorKind::Internal,
                        "a forward was planned without its spec",
                    ));
                };
                let t = layout.target(&judged.probe, t)?;
                let prepared = ssh.prepare(&t)?;
                let lease = ssh.connect(&prepared, None).await?;
                let opened = ssh
                    .forwards()
                    .open(&principal, &t.host, &spec, f, lease)
                    .await?;
                Ok(Output {
                    body: format!(
                        "forward {} active: {} {spec} listening on port {}",
                        opened.id,
                        f.kind.as_str(),
                        opened.port
                    ),
                    record: vec![
                        ("forward_id", json!(opened.id)),
                        ("listen_port", json!(opened.port)),
                    ],
                    ..Output::default()
                })
            })
    }
}

/// `ssh_forward_list`: the caller's forwards.
pub(super) struct SshForwardList;

impl Tool for SshForwardList {
    type Params = NoParams;
    const NAME: &'static str = "ssh_forward_list";
    const DESCRIPTION: &'static str = "List your SSH port forwards as JSON, oldest first: id, \
        kind, spec, listen_port, target, host, bind, alive. A forward whose SSH connection died \
        is shown with alive=false once, then forgotten.";
    const SUMMARY: &'static str = "list your SSH port forwards";
    const CLASS: PolicyClass = PolicyClass::ReadOnly;
    const PROCESSES: Processes = Processes::Ssh;
    const DESTRUCTIVE: bool = false;

    fn call(cx: &Context<'_>, _: NoParams) -> ToolCall {
        let ssh = cx.state.ssh.clone();
        let principal = cx.caller.principal.clone();
        cx.plan(vec![]).budget(8192).work(move |_| async move {
            let rows = ssh.forwards().list(&principal).iter().map(row).collect();
            Ok(Output::text(Json::Arr(rows).to_pretty()))
        })
    }
}

/// One `ssh_forward_list` entry: the Python implementation's keys first, then ours.
fn row(f: &ForwardInfo) -> Json {
    let fields = vec![
        ("id", Json::Str(f.id.clone())),
        ("kind", Json::Str(f.kind.into())),
        ("spec", Json::Str(f.spec.clone())),
        ("listen_port", Json::Int(f.listen_port.into())),
        ("target", Json::Str(f.target.clone())),
        ("host", Json::Str(f.host.clone())),
        ("bind", Json::Str(f.bind.clone())),
        ("alive", Json::Bool(f.alive)),
    ];
    Json::Obj(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// `ssh_forward_close`: close one of the caller's forwards.
pub(super) struct SshForwardClose;

impl Tool for SshForwardClose {
    type Params = SshForwardCloseParams;
    const NAME: &'static str = "ssh_forward_close";
    const DESCRIPTION: &'static str =
        "Close one of your SSH port forwards by id; its listener stops accepting connections.";
    const SUMMARY: &'static str = "close an SSH port forward";
    const CLASS: PolicyClass = PolicyClass::Control;
    const PROCESSES: Processes = Processes::Ssh;
    const DESTRUCTIVE: bool = false;

    fn call(cx: &Context<'_>, p: SshForwardCloseParams) -> ToolCall {
        let ssh = cx.state.ssh.clone();
        let principal = cx.caller.principal.clone();
        let id = p.forward_id;
        cx.plan(vec![("forward_id", json!(id))])
            .budget(512)
            .deadline(Duration::from_secs(20))
            .runs()
            .work(move |_| async move {
                if ssh.forwards().close(&principal, &id).await {
                    Ok(Output::text(format!("closed forward {id}")))
                } else {
                    Ok(Output::text(format!("[ERROR: unknown forward: {id}]")))
                }
            })
    }
}
