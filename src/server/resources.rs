//! MCP resources (the SSH inventory) and the `operating_guide` prompt (docs/tools.md). Each
//! read is a gate call of its own with a `ReadOnly` probe under a fixed name per kind
//! (`resource:inventory`, `resource:inventory_host`, `resource:ssh-config`,
//! `prompt:operating_guide`; tier 0, running nothing), so it is bounded, audited and counted
//! like a tool call.

use std::sync::Arc;

use rmcp::model::{Resource, ResourceTemplate};
use serde_json::json;

use crate::audit::Json;
use crate::gate::{Output, Plan, ToolCall};
use crate::policy::PolicyClass;
use crate::server::State;
use crate::text;

/// The whole inventory.
pub(super) const INVENTORY_URI: &str = "relay-shell://inventory";
/// One host of the inventory.
pub(super) const HOST_URI_PREFIX: &str = "relay-shell://inventory/";
/// ssh_config metadata.
pub(super) const SSH_CONFIG_URI: &str = "relay-shell://ssh-config";
/// The prompt's name.
pub(super) const GUIDE_NAME: &str = "operating_guide";

/// The listed resources.
pub(super) fn list() -> Vec<Resource> {
    vec![
        Resource::new(INVENTORY_URI, "inventory")
            .with_title("Host inventory")
            .with_mime_type("application/json"),
        Resource::new(SSH_CONFIG_URI, "ssh_config")
            .with_title("SSH config metadata")
            .with_mime_type("application/json"),
    ]
}

/// The listed resource templates.
pub(super) fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(format!("{HOST_URI_PREFIX}{{host}}"), "inventory_host")
            .with_title("Single host spec")
            .with_mime_type("application/json"),
    ]
}

/// Decode `%XX` escapes (a host in a URI may carry `%40` for `@`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The gate call that reads `uri`, or `None` for a URI we do not serve.
pub(super) fn read_call(state: &Arc<State>, uri: &str) -> Option<ToolCall> {
    let s = &state.settings;
    let budget = text::clamp_output(s.max_output as i64, s.max_output_hard);
    let ssh = state.ssh.clone();
    let (tool, args, body): (&'static str, _, Box<dyn FnOnce() -> String + Send>) =
        if uri == INVENTORY_URI {
            (
                "resource:inventory",
                vec![],
                Box::new(move || ssh.inventory().to_json().to_python()),
            )
        } else if uri == SSH_CONFIG_URI {
            (
                "resource:ssh-config",
                vec![],
                Box::new(move || {
                    let inv = ssh.inventory();
                    let fields = vec![
                        (
                            "path",
                            inv.config_path()
                                .map_or(Json::Null, |p| Json::Str(p.display().to_string())),
                        ),
                        (
                            "aliases",
                            Json::Arr(
                                inv.config_aliases()
                                    .iter()
                                    .cloned()
                                    .map(Json::Str)
                                    .collect(),
                            ),
                        ),
                    ];
                    Json::Obj(fields.into_iter().map(|(k, v)| (k.into(), v)).collect()).to_python()
                }),
            )
        } else if let Some(host) = uri.strip_prefix(HOST_URI_PREFIX) {
            let host = percent_decode(host);
            (
                "resource:inventory_host",
                vec![("host", json!(host))],
                Box::new(move || ssh.inventory().lookup(&host).to_json().to_python()),
            )
        } else {
            return None;
        };
    Some(
        Plan::new(tool, PolicyClass::ReadOnly, args)
            .budget(budget)
            .work(move |_| async move { Ok(Output::text(body())) }),
    )
}

/// The gate call that fetches the operating guide.
pub(super) fn guide_call(state: &Arc<State>) -> ToolCall {
    let s = &state.settings;
    let budget = text::clamp_output(s.max_output as i64, s.max_output_hard);
    Plan::new("prompt:operating_guide", PolicyClass::ReadOnly, vec![])
        .budget(budget)
        .work(|_| async { Ok(Output::text(GUIDE)) })
}

/// The operating guide: how to work with this server.
pub(super) const GUIDE: &str = "\
relay-shell operating guide

1. What every call goes through
Each tool call is classified into a tier (0 read-only, 1 reversible, 2 stateful, 3 \
irreversible), admitted or refused by the operator's policy, bounded in time and output, and \
written to a hash-chained audit log. The log keeps a hash of the output, never the output.

2. Picking a tool
- A command that runs and exits by itself: shell_exec here, ssh_exec on a remote host.
- Several statements, or a python3 script: shell_script.
- Anything that needs a terminal (a REPL, a prompt, a pager, a job you want to watch): \
shell_spawn here, ssh_spawn on a remote host.
- The same command on many hosts: ssh_fanout.
- Files and trees between here and a remote host: ssh_upload, ssh_download (SFTP; each file \
appears under its final name only when complete).
- A tunnel: ssh_forward (L: listen here, R: listen there, D: SOCKS here; 127.0.0.1 by \
default), then ssh_forward_list and ssh_forward_close.

3. Sessions are one workflow
shell_spawn / ssh_spawn return a session id. Then loop: session_send to type (a newline is \
added unless enter=false; \"\\u0003\" is Ctrl-C), session_recv with a timeout to read what \
arrived, and repeat until the output shows what you need. session_resize changes the window, \
session_kill ends the session and everything it started (remotely too), session_list shows \
your sessions. Example: ssh_spawn(host=\"web01\", command=\"python3\") -> session_send(id, \
\"2+2\") -> session_recv(id, timeout=2) -> \"4\" -> session_kill(id).

4. Fleet work
ssh_hosts lists the inventory; ssh_check tells which hosts answer; ssh_fanout runs one \
command on many hosts and returns JSON that always parses; ssh_keyscan fetches host keys to \
verify out of band before strict connections. Host keys follow the host's known_hosts \
policy: strict (known keys only), accept-new (first key recorded, a changed key refused), \
ignore.

5. Diagnostics
server_info shows the configuration, limits and audit health; audit_tail shows recent \
records, filtered by tool, tier or denied.

6. Irreversible operations
When the operator enables confirmation, a tier-3 call first returns [CONFIRM REQUIRED ...] \
with a token: call operation_confirm with it, then send exactly the same call again.

7. Reading results
[exit N] then the output: a process finished with status N. [DENIED tier N (NAME): why]: \
refused by policy, nothing ran. [TIMEOUT after Ns]: the deadline hit and the command was \
stopped; over SSH the outcome is unknown, so check the remote state before retrying a \
change. [ERROR: Kind: message]: a contained failure; the message says what to fix. A \
trailing [TRUNCATED - N bytes total, M shown] means the output was cut to the budget. \
[NOTICE ...] lines after a result flag a risky call (tier 2 or 3, or SSH without host-key \
verification): read them before the next step; they are not output of the command.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("root%40web"), "root@web");
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
    }
}
