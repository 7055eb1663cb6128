//! `ssh_upload` and `ssh_download`: files and trees over SFTP on the pooled master
//! (docs/tools.md, ADR 0010). The SSH side is [`crate::ssh::transfer`]; these entries parse
//! arguments, name what the gate records and classifies, and phrase the results.
//!
//! What runs is taken from the judged probe: the direction, both paths and `recursive` from
//! its transfer payload, the destination and jump chain from its host list.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::params;
use super::ssh::{host_probe, opt_int, target};
use super::{Context, Tool};
use crate::error::{ErrorKind, ToolError};
use crate::gate::{Output, Processes, ToolCall};
use crate::policy::{Direction, Payload, PolicyClass, Transfer};
use crate::ssh::fanout;
use crate::ssh::transfer::{self, Progress, Report, Request, Root};

/// Parameters of `ssh_upload` and `ssh_download`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TransferParams {
    /// Inventory alias, ssh_config alias, `[user@]host[:port]`, name or address.
    pub host: String,
    /// Path on the server's host (relative paths start in the server's working directory,
    /// or in RELAY_SHELL_TRANSFER_LOCAL_ROOT when set). An existing directory receives the
    /// file or tree under its own name.
    pub local_path: String,
    /// Path on the remote host (relative paths start in the login directory, or in
    /// RELAY_SHELL_TRANSFER_REMOTE_ROOT when set). An existing directory receives the file or
    /// tree under its own name.
    pub remote_path: String,
    /// Copy a directory and everything below it (default false: a single file).
    #[serde(default, deserialize_with = "params::boolean")]
    pub recursive: bool,
    /// Seconds the transfer may take after the connection is up (0 or absent =
    /// RELAY_SHELL_TRANSFER_TIMEOUT; a larger value is lowered to it).
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

/// `ssh_upload`: a local file or tree to a remote host.
pub(super) struct SshUpload;

impl Tool for SshUpload {
    type Params = TransferParams;
    const NAME: &'static str = "ssh_upload";
    const DESCRIPTION: &'static str = "Copy a local file (or, with recursive=true, a directory \
        tree) to a remote host over SFTP. Modes and times are kept; each file is written under \
        a temporary name and renamed into place when complete, so no partial file is ever left \
        under its final name. Symbolic links are never followed out of a tree. Bounded by \
        RELAY_SHELL_TRANSFER_TIMEOUT and RELAY_SHELL_TRANSFER_MAX_BYTES. Returns the file \
        count, bytes and, for one file, its SHA-256.";
    const SUMMARY: &'static str = "copy a local file or tree to a remote host (SFTP)";
    const CLASS: PolicyClass = PolicyClass::Stateful;
    const PROCESSES: Processes = Processes::Ssh;
    const DESTRUCTIVE: bool = true;

    fn call(cx: &Context<'_>, p: TransferParams) -> ToolCall {
        transfer_call(cx, p, Direction::Upload)
    }
}

/// `ssh_download`: a remote file or tree to the local host.
pub(super) struct SshDownload;

impl Tool for SshDownload {
    type Params = TransferParams;
    const NAME: &'static str = "ssh_download";
    const DESCRIPTION: &'static str = "Copy a remote file (or, with recursive=true, a directory \
        tree) to this host over SFTP. Modes and times are kept; each file is written under a \
        temporary name and renamed into place when complete, never through a symbolic link, \
        and symbolic links are never followed out of the remote tree. Bounded by \
        RELAY_SHELL_TRANSFER_TIMEOUT and RELAY_SHELL_TRANSFER_MAX_BYTES. Returns the file \
        count, bytes and, for one file, its SHA-256.";
    const SUMMARY: &'static str = "copy a remote file or tree to this host (SFTP)";
    const CLASS: PolicyClass = PolicyClass::Stateful;
    const PROCESSES: Processes = Processes::Ssh;
    const DESTRUCTIVE: bool = true;

    fn call(cx: &Context<'_>, p: TransferParams) -> ToolCall {
        transfer_call(cx, p, Direction::Download)
    }
}

/// The transfer roots from the settings.
fn roots(cx: &Context<'_>) -> (Root, Root) {
    let s = &cx.state.settings;
    let local = s
        .transfer_local_root
        .clone()
        .map_or_else(Root::anywhere, Root::inside);
    let remote = Root::inside(PathBuf::from(&s.transfer_remote_root));
    (local, remote)
}

fn transfer_call(cx: &Context<'_>, p: TransferParams, direction: Direction) -> ToolCall {
    let s = &cx.state.settings;
    let limit = s.transfer_timeout.max(1);
    let timeout = match p.timeout {
        None | Some(0) => limit,
        Some(t) => t.clamp(1, limit as i64) as u64,
    };
    let ssh = cx.state.ssh.clone();
    let mut args = vec![("host", json!(p.host))];
    let (shown, paths) = match direction {
        Direction::Upload => (
            format!("upload {} {}:{}", p.local_path, p.host, p.remote_path),
            [("local", &p.local_path), ("remote", &p.remote_path)],
        ),
        Direction::Download => (
            format!("download {}:{} {}", p.host, p.remote_path, p.local_path),
            [("remote", &p.remote_path), ("local", &p.local_path)],
        ),
    };
    args.extend(paths.iter().map(|(k, v)| (*k, json!(v))));
    args.extend([
        ("recursive", json!(p.recursive)),
        ("timeout", json!(timeout)),
        ("user", json!(p.user)),
        ("port", json!(p.port)),
        ("key_path", json!(p.key_path)),
        ("jump", json!(p.jump)),
        (
            "known_hosts",
            json!(ssh.effective_mode_name(&p.host, &p.known_hosts)),
        ),
    ]);
    let plan = cx.plan(args).budget(2048);
    let judged_transfer = Transfer {
        direction,
        local: p.local_path.clone(),
        remote: p.remote_path.clone(),
        recursive: p.recursive,
    };
    let (probe, layout) = host_probe(
        cx.probe().transfer(judged_transfer, &shown),
        &ssh.inventory(),
        &[&p.host],
        &p.jump,
    );
    let plan = plan.probe(probe);
    let t = target(
        &p.host,
        &p.user,
        p.port,
        &p.key_path,
        &p.jump,
        &p.known_hosts,
    );
    let (local_root, remote_root) = roots(cx);
    let checked = ssh
        .prepare(&t)
        .and_then(|_| local_root.place("local path", &p.local_path))
        .and_then(|_| remote_root.place("remote path", &p.remote_path));
    if let Err(e) = checked {
        return plan.fail(e);
    }
    let max_bytes = s.transfer_max_bytes;
    let dial = s.ssh_connect_timeout.saturating_mul(9) + 10;
    plan.deadline(Duration::from_secs(timeout + dial))
        .runs()
        .work(move |judged| async move {
            let Payload::Transfer(tr) = &judged.probe.payload else {
                return Err(ToolError::new(
                    ErrorKind::Internal,
                    "a transfer was planned without its paths",
                ));
            };
            let t = layout.target(&judged.probe, t)?;
            let prepared = ssh.prepare(&t)?;
            let lease = ssh.connect(&prepared, None).await?;
            let req = Request {
                local: tr.local.clone(),
                remote: tr.remote.clone(),
                recursive: tr.recursive,
                local_root,
                remote_root,
            };
            let progress = Arc::new(Progress::new(max_bytes));
            let run = transfer::run(lease.master(), tr.direction, &req, &progress);
            let what = match tr.direction {
                Direction::Upload => format!("{} -> {}:{}", tr.local, t.host, tr.remote),
                Direction::Download => format!("{}:{} -> {}", t.host, tr.remote, tr.local),
            };
            let verb = match tr.direction {
                Direction::Upload => "upload",
                Direction::Download => "download",
            };
            match tokio::time::timeout(Duration::from_secs(timeout), run).await {
                Ok(Ok(report)) => Ok(done(&what, &req, tr.direction, &report)),
                Ok(Err(e)) => Err(e),
                Err(_) => Ok(Output {
                    body: format!(
                        "{}; partial {verb} {what} ({} of {} files complete, {} bytes moved; the file \
                         being written was removed, none is left under its final name)",
                        fanout::timeout_text(timeout),
                        progress.files(),
                        progress.total_files(),
                        progress.bytes()
                    ),
                    timed_out: true,
                    record: vec![
                        ("files", json!(progress.files())),
                        ("bytes", json!(progress.bytes())),
                    ],
                    ..Output::default()
                }),
            }
        })
}

/// The result of a finished transfer: `uploaded <local> -> <host>:<remote>` (or
/// `downloaded …`) with what moved, and the same figures for the audit record.
fn done(what: &str, req: &Request, direction: Direction, r: &Report) -> Output {
    let verb = match direction {
        Direction::Upload => "uploaded",
        Direction::Download => "downloaded",
    };
    let mut body = format!(
        "{verb} {what} ({} file{}, {} bytes",
        r.files,
        if r.files == 1 { "" } else { "s" },
        r.bytes
    );
    if let Some(h) = &r.sha256 {
        body.push_str(&format!(", sha256 {h}"));
    }
    body.push(')');
    let given = match direction {
        Direction::Upload => &req.remote,
        Direction::Download => &req.local,
    };
    if r.dest != *given {
        body.push_str(&format!("\nwritten to {}", r.dest));
    }
    if r.skipped > 0 {
        body.push_str(&format!(
            "\n{} entr{} skipped (symbolic links to directories or out of the tree, special \
             files, unusable names are never copied)",
            r.skipped,
            if r.skipped == 1 { "y" } else { "ies" }
        ));
    }
    Output {
        body,
        record: vec![
            ("files", json!(r.files)),
            ("bytes", json!(r.bytes)),
            ("sha256", json!(r.sha256)),
            ("skipped", json!(r.skipped)),
        ],
        ..Output::default()
    }
}
