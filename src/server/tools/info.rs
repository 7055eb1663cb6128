//! `server_info`: what this server is, how it is configured, and the audit sink's health
//! (docs/tools.md, extended with our own limits and audit fields).

use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;

use super::{Context, Tool};
use crate::audit::Json;
use crate::gate::{Caller, Output, Processes, ToolCall};
use crate::policy::PolicyClass;
use crate::server::State;

/// `server_info` takes no parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NoParams {}

/// `server_info`: configuration and health as JSON.
pub(super) struct ServerInfo;

impl Tool for ServerInfo {
    type Params = NoParams;
    const NAME: &'static str = "server_info";
    const DESCRIPTION: &'static str = "Show this server's version, transport, policy mode, \
        runtime identity, limits, audit sink health (path, degraded, chain), SSH defaults and \
        kernel confinement, as JSON.";
    const SUMMARY: &'static str = "show configuration, limits and audit health";
    const CLASS: PolicyClass = PolicyClass::ReadOnly;
    const DESTRUCTIVE: bool = false;
    const PROCESSES: Processes = Processes::None;

    fn call(cx: &Context<'_>, _: NoParams) -> ToolCall {
        let state = cx.state.clone();
        let caller = cx.caller.clone();
        cx.plan(vec![]).budget(8192).work(move |_| async move {
            let mut doc = document(&state, &caller);
            // An OAuth token's scope can stop below tier 3: say where, after the mode.
            if let (Json::Obj(fields), Some((tier, _))) = (&mut doc, caller.ceiling.max_tier) {
                let at = fields.len().min(6);
                fields.insert(
                    at,
                    ("principal_max_tier".into(), Json::Int(tier.as_u8().into())),
                );
            }
            let text = doc.to_pretty();
            Ok(Output::text(
                state.gate.redactor().redact(&text).into_owned(),
            ))
        })
    }
}

fn s(v: impl Into<String>) -> Json {
    Json::Str(v.into())
}

fn obj(fields: Vec<(&'static str, Json)>) -> Json {
    Json::Obj(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default()
}

/// Build the `server_info` document as `caller` sees it (its principal and effective mode).
pub(super) fn document(state: &State, caller: &Caller) -> Json {
    let st = &state.settings;
    let uid = nix::unistd::getuid().as_raw();
    let euid = nix::unistd::geteuid().as_raw();
    let sudo = ["/usr/bin/sudo", "/bin/sudo", "/usr/local/bin/sudo"]
        .into_iter()
        .find(|p| nix::unistd::access(*p, nix::unistd::AccessFlags::X_OK).is_ok())
        .unwrap_or("");
    let audit = state.gate.audit().status();
    let n = |v: u64| Json::Int(v as i64);
    obj(vec![
        ("name", s("relay-shell")),
        ("version", s(env!("CARGO_PKG_VERSION"))),
        ("transport", s(st.transport.as_str())),
        ("policy_mode", s(st.policy_mode.as_str())),
        (
            "warnings",
            Json::Arr(
                crate::config::standing_warnings(st, euid == 0)
                    .into_iter()
                    .map(Json::Str)
                    .collect(),
            ),
        ),
        ("principal", s(caller.principal.clone())),
        (
            "principal_mode",
            s(st.policy_mode.capped(caller.ceiling.mode).as_str()),
        ),
        (
            "runtime",
            obj(vec![
                ("uid", n(uid.into())),
                ("euid", n(euid.into())),
                ("user", s(user_name(euid))),
                ("is_root", Json::Bool(euid == 0)),
                ("sudo_binary", s(sudo)),
            ]),
        ),
        (
            "limits",
            obj(vec![
                ("default_timeout", n(st.default_timeout)),
                ("max_timeout", n(st.max_timeout)),
                ("max_output", n(st.max_output as u64)),
                ("max_output_hard", n(st.max_output_hard as u64)),
                ("max_sessions", n(st.max_sessions as u64)),
                ("max_forwards", n(st.max_forwards as u64)),
                ("max_conns", n(st.max_conns as u64)),
                ("max_concurrent", n(st.max_concurrent as u64)),
                ("session_idle_timeout", n(st.session_idle_timeout)),
                ("session_max_lifetime", n(st.session_max_lifetime)),
                ("max_input", n(st.max_input as u64)),
            ]),
        ),
        (
            "audit",
            obj(vec![
                ("path", s(audit.path.clone())),
                ("session_input", s(st.audit_session_input.as_str())),
                ("degraded", Json::Bool(audit.degraded)),
                ("reason", s(audit.reason.clone())),
                ("format", s(st.audit_format.as_str())),
                ("chain", Json::Bool(st.audit_chain)),
                ("fsync", s(st.audit_fsync.as_str())),
                ("on_failure", s(st.audit_on_failure.as_str())),
                ("start_records", Json::Bool(st.audit_start_records)),
                ("intent", Json::Bool(st.audit_intent)),
            ]),
        ),
        (
            "confirm",
            obj(vec![
                ("tier3", Json::Bool(st.confirm_tier3)),
                ("ttl", n(st.confirm_ttl)),
                (
                    "pending",
                    n(state.gate.broker().map_or(0, |b| b.pending() as u64)),
                ),
            ]),
        ),
        (
            "seccomp",
            obj(vec![
                ("notify", Json::Bool(st.seccomp_notify)),
                ("supported", Json::Bool(false)),
                (
                    "reason",
                    s("the syscall audit channel is not part of this build"),
                ),
                ("cap", n(st.seccomp_notify_cap.into())),
                ("filter_version", n(3)),
            ]),
        ),
        (
            "ssh",
            obj(vec![
                ("known_hosts_default", s(st.ssh_known_hosts.as_str())),
                (
                    "allow_weaker_known_hosts",
                    Json::Bool(st.ssh_allow_weaker_known_hosts),
                ),
                ("inventory_hosts", n(state.ssh.inventory().len() as u64)),
                (
                    "ssh_config",
                    if st.ssh_config.is_file() {
                        s(st.ssh_config.display().to_string())
                    } else {
                        Json::Null
                    },
                ),
                ("connect_timeout", n(st.ssh_connect_timeout)),
                ("keepalive", n(st.ssh_keepalive)),
                ("idle_timeout", n(st.ssh_idle_timeout)),
            ]),
        ),
        ("confinement", confinement(&state.gate.confiner().status())),
    ])
}

/// Kernel confinement: the setting, what this kernel enforces, and the start-up warning.
fn confinement(c: &crate::confine::Status) -> Json {
    let strings = |v: &[&str]| Json::Arr(v.iter().map(|x| s(*x)).collect());
    obj(vec![
        ("setting", s(c.setting.as_str())),
        ("landlock_abi", Json::Int(c.landlock_abi.into())),
        ("enforced", strings(&c.enforced)),
        ("missing", strings(&c.missing)),
        ("warning", s(c.warning.clone())),
        ("readonly_network", s(c.network.as_str())),
        (
            "writable_roots",
            Json::Arr(
                c.writable_roots
                    .iter()
                    .map(|p| s(p.display().to_string()))
                    .collect(),
            ),
        ),
        ("capabilities_kept", strings(&c.capabilities_kept)),
        // SSH tools start only the local ssh client, which runs unconfined; the remote
        // command rests on the classifier alone (docs/architecture.md).
        ("ssh", s("none")),
    ])
}
