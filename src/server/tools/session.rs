//! `shell_spawn` and the `session_*` tools: interactive programs in a PTY (docs/tools.md,
//! docs/tools.md). The sessions themselves live in [`crate::session`]; these entries only parse
//! arguments, name what the gate records and classifies, and phrase the results.

use std::path::PathBuf;
use std::time::Duration;

use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::info::NoParams;
use super::params::{self, defaults};
use super::{Context, Tool};
use crate::audit::{Json, sha256_hex};
use crate::config::SessionInput;
use crate::error::{ErrorKind, ToolError};
use crate::exec;
use crate::gate::{Output, Processes, ToolCall};
use crate::policy::{Payload, PolicyClass, Probe};
use crate::session::{
    self, Registry, SessionKind, SessionSummary, SpawnRequest, TermSize, local_session_env,
};
use crate::text;

/// The program a blank `shell_spawn` command starts.
const DEFAULT_SHELL: &str = "/bin/bash";
/// Deadline of a spawn (starting a process is quick; this only bounds a wedged system).
const SPAWN_DEADLINE: Duration = Duration::from_secs(30);
/// How long `session_send` waits for a program that is not reading its input.
const SEND_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline of `session_kill` (the close sequence takes at most a few seconds).
const KILL_DEADLINE: Duration = Duration::from_secs(30);
/// Longest `session_recv` wait, seconds (docs/tools.md).
const RECV_MAX_WAIT: f64 = 60.0;
/// Smallest read a `session_recv` makes, bytes (docs/tools.md).
const RECV_MIN_BYTES: i64 = 256;
/// Room kept in a `session_recv` result for its `[N bytes dropped]` line and end marker, so
/// the output taken from the ring is never cut by the truncation marker.
const RECV_MARKER_ROOM: usize = 128;

/// Parameters of `shell_spawn`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShellSpawnParams {
    /// Program and arguments, split with POSIX shell quoting rules (no shell runs it);
    /// empty = /bin/bash.
    #[serde(default)]
    pub command: String,
    /// Terminal width in columns (default 120).
    #[serde(default = "default_cols", deserialize_with = "params::int")]
    pub cols: i64,
    /// Terminal height in rows (default 40).
    #[serde(default = "default_rows", deserialize_with = "params::int")]
    pub rows: i64,
    /// Working directory; empty = the server's.
    #[serde(default)]
    pub cwd: String,
    /// A JSON object of environment changes: strings set, null removes. TERM defaults to
    /// xterm-256color.
    #[serde(default)]
    pub env_json: String,
}

fn default_cols() -> i64 {
    120
}

fn default_rows() -> i64 {
    40
}

/// Parameters of `session_send`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionSendParams {
    /// The session id from shell_spawn.
    pub session_id: String,
    /// Text to type. Control characters work: "\u0003" is Ctrl-C, "\u0004" Ctrl-D.
    pub data: String,
    /// Append a newline (default true).
    #[serde(default = "defaults::yes", deserialize_with = "params::boolean")]
    pub enter: bool,
}

/// Parameters of `session_recv`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionRecvParams {
    /// The session id.
    pub session_id: String,
    /// Seconds to wait for output (default 2, clamped to 0..60). Returns as soon as output
    /// has arrived and paused.
    #[serde(default = "default_recv_timeout", deserialize_with = "params::float")]
    pub timeout: f64,
    /// Most bytes returned (default 65536, clamped to 256..RELAY_SHELL_MAX_OUTPUT_HARD).
    #[serde(default = "default_max_bytes", deserialize_with = "params::int")]
    pub max_bytes: i64,
}

fn default_recv_timeout() -> f64 {
    2.0
}

fn default_max_bytes() -> i64 {
    65536
}

/// Parameters of `session_resize`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionResizeParams {
    /// The session id.
    pub session_id: String,
    /// New width in columns (clamped to 1..65535).
    #[serde(deserialize_with = "params::int")]
    pub cols: i64,
    /// New height in rows (clamped to 1..65535).
    #[serde(deserialize_with = "params::int")]
    pub rows: i64,
}

/// Parameters of `session_kill`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionKillParams {
    /// The session id.
    pub session_id: String,
    /// Signal name, with or without SIG (default TERM): INT, HUP, KILL, …
    #[serde(default = "default_signal")]
    pub signal_name: String,
    /// Also end the session: SIGHUP/SIGTERM to all its processes, SIGKILL after 2 s
    /// (default true).
    #[serde(default = "defaults::yes", deserialize_with = "params::boolean")]
    pub close: bool,
}

fn default_signal() -> String {
    "TERM".into()
}

/// `shell_spawn`: start a program in a new PTY session.
pub(super) struct ShellSpawn;

impl Tool for ShellSpawn {
    type Params = ShellSpawnParams;
    const NAME: &'static str = "shell_spawn";
    const DESCRIPTION: &'static str = "Start an interactive program (default /bin/bash) in a \
        pseudo-terminal and return a session id. Use for REPLs, prompts, long-running jobs and \
        anything that needs a terminal; then session_send to type, session_recv to read output, \
        session_kill to end it. Ctrl-C, job control and resizing behave as in a real terminal. \
        For a command that exits by itself, use shell_exec instead.";
    const SUMMARY: &'static str =
        "start an interactive program in a terminal session (default bash)";
    const CLASS: PolicyClass = PolicyClass::Session;
    const DESTRUCTIVE: bool = true;
    const PROCESSES: Processes = Processes::Local;

    fn call(cx: &Context<'_>, p: ShellSpawnParams) -> ToolCall {
        let size = TermSize::clamped(p.cols, p.rows);
        let blank = p.command.trim().is_empty();
        let plan = cx
            .plan(vec![
                (
                    "command",
                    json!(if blank { DEFAULT_SHELL } else { &p.command }),
                ),
                ("size", json!(size.to_string())),
                ("cwd", json!(p.cwd)),
                ("env_json", json!(p.env_json)),
            ])
            .budget(4096);
        let argv = if blank {
            Ok(vec![DEFAULT_SHELL.to_string()])
        } else {
            exec::split_words(&p.command).and_then(|argv| {
                if argv.is_empty() {
                    Err(ToolError::invalid("empty command"))
                } else {
                    Ok(argv)
                }
            })
        };
        let (probe, argv_err) = match argv {
            Ok(argv) => (cx.probe().argv(argv, &p.command), None),
            Err(e) => (cx.probe().unprepared(&p.command), Some(e)),
        };
        let (probe, env_err) = match exec::parse_env_json(&p.env_json) {
            Ok(env) => (probe.env(&p.env_json, env), None),
            Err(e) => (probe.env(&p.env_json, Vec::new()), Some(e)),
        };
        let plan = plan.probe(probe.cwd(&p.cwd));
        if let Some(e) = argv_err.or(env_err) {
            return plan.fail(e);
        }
        let sessions = cx.state.sessions.clone();
        let principal = cx.caller.principal.clone();
        plan.deadline(SPAWN_DEADLINE)
            .runs()
            .work(move |judged| async move {
                let Probe {
                    payload, env, cwd, ..
                } = judged.probe;
                let Payload::Argv(argv) = payload else {
                    return Err(ToolError::new(
                        ErrorKind::Internal,
                        "a session was planned without a program",
                    ));
                };
                let req = SpawnRequest {
                    title: argv.join(" "),
                    argv,
                    cwd: cwd.map(PathBuf::from),
                    env: local_session_env(&env),
                    size,
                    kind: SessionKind::Local,
                    // The session runs under this profile for its whole life.
                    confinement: judged.confinement,
                };
                let title = req.title.clone();
                let s = sessions.spawn(&principal, req).await?;
                Ok(Output::text(format!(
                    "session {} started ({title}); use session_recv/session_send with this id",
                    s.id()
                )))
            })
    }
}

/// `session_send`: type into a session.
pub(super) struct SessionSend;

impl Tool for SessionSend {
    type Params = SessionSendParams;
    const NAME: &'static str = "session_send";
    const DESCRIPTION: &'static str = "Type text into a session started by shell_spawn (a \
        newline is appended unless enter is false). The text is classified like a command. Send \
        \"\\u0003\" with enter=false for Ctrl-C.";
    const SUMMARY: &'static str = "type text into a session (Ctrl-C is \\u0003)";
    const CLASS: PolicyClass = PolicyClass::Shell;
    const DESTRUCTIVE: bool = true;
    const PROCESSES: Processes = Processes::Session;

    fn call(cx: &Context<'_>, p: SessionSendParams) -> ToolCall {
        let session = cx.state.sessions.get(&cx.caller.principal, &p.session_id);
        // Input typed at a secret prompt is never recorded, whatever the audit mode.
        let secret = session.as_ref().is_ok_and(|s| s.at_secret_prompt());
        let plan = cx.plan(send_args(&p, secret, cx.state.settings.audit_session_input));
        // Text typed earlier without Enter is part of the command this send completes: the
        // policy judges the whole line (or lines) this input submits.
        let pending = session
            .as_ref()
            .map(|s| s.pending_line())
            .unwrap_or_default();
        let mut keys = p.data.clone();
        if p.enter {
            keys.push('\n');
        }
        // The input limit counts the pending line plus the data as typed (erase keys count).
        let carried = pending.pending().chars().count() + p.data.chars().count();
        let probe = cx
            .probe()
            .input(keys, pending.probe(&p.data, p.enter))
            .carrying(carried);
        plan.probe(probe)
            .budget(2048)
            .deadline(SEND_DEADLINE)
            .runs()
            .work(move |judged| async move {
                // The typed text runs under the session's profile, chosen when it was spawned.
                judged
                    .applied
                    .report(session.as_ref().map_or("none", |s| s.confinement()));
                let s = session?;
                let Payload::Input { keys, .. } = judged.probe.payload else {
                    return Err(ToolError::new(
                        ErrorKind::Internal,
                        "session input was planned without keystrokes",
                    ));
                };
                let sent = tokio::time::timeout(SEND_DEADLINE, s.send(keys.as_bytes()))
                    .await
                    .map_err(|_| {
                        ToolError::new(
                            ErrorKind::Io,
                            format!(
                                "session {} did not take its input within {}s (the program is not reading)",
                                s.id(),
                                SEND_DEADLINE.as_secs()
                            ),
                        )
                    })??;
                // What stays unsubmitted is remembered, so the next send is judged as the
                // whole line (Enter, if sent, is the last key).
                let typed = keys.strip_suffix('\n').filter(|_| p.enter).unwrap_or(&keys);
                s.update_pending_line(|line| line.commit(typed, p.enter));
                Ok(Output::text(format!("sent {sent} bytes to {}", s.id())))
            })
    }
}

/// What the audit record of a `session_send` holds: the data itself (redacted like any
/// argument), or with `RELAY_SHELL_AUDIT_SESSION_INPUT=hash` its length in characters and the
/// SHA-256 of its UTF-8 bytes (Enter excluded); at a secret prompt, in either mode, a
/// placeholder and the length only.
fn send_args(
    p: &SessionSendParams,
    secret: bool,
    mode: SessionInput,
) -> Vec<(&'static str, serde_json::Value)> {
    let mut args = vec![
        ("session_id", json!(p.session_id)),
        ("enter", json!(p.enter)),
    ];
    let len = p.data.chars().count();
    match (secret, mode) {
        (true, _) => {
            args.push(("data", json!(SECRET_PLACEHOLDER)));
            args.push(("data_len", json!(len)));
        }
        (false, SessionInput::Hash) => {
            args.push(("data_len", json!(len)));
            args.push(("data_sha256", json!(sha256_hex(p.data.as_bytes()))));
        }
        (false, SessionInput::Redacted) => args.push(("data", json!(p.data))),
    }
    args
}

/// Recorded instead of input typed at a secret prompt.
const SECRET_PLACEHOLDER: &str = "[REDACTED: secret prompt]";

/// `session_recv`: read a session's output.
pub(super) struct SessionRecv;

impl Tool for SessionRecv {
    type Params = SessionRecvParams;
    const NAME: &'static str = "session_recv";
    const DESCRIPTION: &'static str = "Read a session's new output, waiting up to timeout \
        seconds for some to arrive; returns once output has paused. Reading consumes it. A first \
        line `[N bytes dropped]` means older output overflowed the buffer; \
        `[session <id> ended, exit=N]` means the program has exited.";
    const SUMMARY: &'static str = "read a session's new output";
    const CLASS: PolicyClass = PolicyClass::ReadOnly;
    const DESTRUCTIVE: bool = false;
    const PROCESSES: Processes = Processes::None;

    fn call(cx: &Context<'_>, p: SessionRecvParams) -> ToolCall {
        let hard = cx.state.settings.max_output_hard;
        let wait = Duration::from_secs_f64(p.timeout.clamp(0.0, RECV_MAX_WAIT));
        let budget = text::clamp_output(p.max_bytes, hard);
        let read = text::clamp_i64(p.max_bytes, RECV_MIN_BYTES, hard as i64) as usize;
        let read = read.min(budget.saturating_sub(RECV_MARKER_ROOM)).max(1);
        let session = cx.state.sessions.get(&cx.caller.principal, &p.session_id);
        // The record holds the wait actually used, as a float (v0.5: 100 → 60.0).
        cx.plan(vec![
            ("session_id", json!(p.session_id)),
            ("timeout", json!(p.timeout.clamp(0.0, RECV_MAX_WAIT))),
        ])
        .budget(budget)
        .deadline(wait)
        .work(move |_| async move {
            let s = session?;
            let got = s.recv(wait, read).await;
            Ok(Output::text(got.render(s.id())))
        })
    }
}

/// `session_resize`: change a session's window size.
pub(super) struct SessionResize;

impl Tool for SessionResize {
    type Params = SessionResizeParams;
    const NAME: &'static str = "session_resize";
    const DESCRIPTION: &'static str = "Change a session's terminal size (columns x rows); the \
        program receives SIGWINCH.";
    const SUMMARY: &'static str = "change a session's terminal size";
    const CLASS: PolicyClass = PolicyClass::Control;
    const DESTRUCTIVE: bool = false;
    const PROCESSES: Processes = Processes::None;

    fn call(cx: &Context<'_>, p: SessionResizeParams) -> ToolCall {
        let session = cx.state.sessions.get(&cx.caller.principal, &p.session_id);
        cx.plan(vec![
            ("session_id", json!(p.session_id)),
            ("cols", json!(p.cols)),
            ("rows", json!(p.rows)),
        ])
        .budget(512)
        .deadline(SEND_DEADLINE)
        .runs()
        .work(move |_| async move {
            let s = session?;
            // Each dimension is clamped to 1..65535; the reply names the size set (the
            // record keeps the values as given).
            let size = TermSize::clamped(p.cols, p.rows);
            s.resize(size).await?;
            Ok(Output::text(format!("resized {} to {size}", s.id())))
        })
    }
}

/// `session_kill`: signal or end a session.
pub(super) struct SessionKill;

impl Tool for SessionKill {
    type Params = SessionKillParams;
    const NAME: &'static str = "session_kill";
    const DESCRIPTION: &'static str = "Send a signal to a session's processes (default TERM) \
        and, unless close is false, end the session: every process it started is terminated, \
        killed if needed. Its last output and exit status stay readable with session_recv for a \
        while.";
    const SUMMARY: &'static str = "signal or end a session and every process it started";
    const CLASS: PolicyClass = PolicyClass::Control;
    const DESTRUCTIVE: bool = true;
    const PROCESSES: Processes = Processes::None;

    fn call(cx: &Context<'_>, p: SessionKillParams) -> ToolCall {
        let plan = cx
            .plan(vec![
                ("session_id", json!(p.session_id)),
                ("signal", json!(p.signal_name)),
                ("close", json!(p.close)),
            ])
            .budget(512);
        let sig = match session::parse_signal(&p.signal_name) {
            Ok(sig) => sig,
            Err(e) => return plan.fail(e),
        };
        let sessions: Registry = cx.state.sessions.clone();
        let principal = cx.caller.principal.clone();
        plan.deadline(KILL_DEADLINE)
            .runs()
            .work(move |_| async move {
                sessions
                    .kill(&principal, &p.session_id, sig, p.close)
                    .await?;
                Ok(Output::text(if p.close {
                    format!("killed and closed {}", p.session_id)
                } else {
                    format!("sent {} to {}", sig.as_str(), p.session_id)
                }))
            })
    }
}

/// `session_list`: the caller's sessions.
pub(super) struct SessionList;

impl Tool for SessionList {
    type Params = NoParams;
    const NAME: &'static str = "session_list";
    const DESCRIPTION: &'static str = "List your sessions as JSON: id, kind, title, size, \
        age_s, idle_s, buffered, produced, dropped (bytes), closed, exit_code.";
    const SUMMARY: &'static str = "list your sessions";
    const CLASS: PolicyClass = PolicyClass::ReadOnly;
    const DESTRUCTIVE: bool = false;
    const PROCESSES: Processes = Processes::None;

    fn call(cx: &Context<'_>, _: NoParams) -> ToolCall {
        let sessions = cx.state.sessions.clone();
        let principal = cx.caller.principal.clone();
        cx.plan(vec![]).budget(65536).work(move |_| async move {
            let rows = sessions.list(&principal).iter().map(summary_json).collect();
            Ok(Output::text(Json::Arr(rows).to_pretty()))
        })
    }
}

/// Seconds rounded to one decimal, as `session_list` shows them.
fn tenths(secs: f64) -> Json {
    Json::Float((secs * 10.0).round() / 10.0)
}

/// One `session_list` entry, keys in the Python implementation's order.
pub(super) fn summary_json(s: &SessionSummary) -> Json {
    let fields = vec![
        ("id", Json::Str(s.id.clone())),
        ("kind", Json::Str(s.kind.as_str().into())),
        ("title", Json::Str(s.title.clone())),
        ("size", Json::Str(s.size.to_string())),
        ("age_s", tenths(s.age_s)),
        ("idle_s", tenths(s.idle_s)),
        ("buffered", Json::Int(s.buffered as i64)),
        ("produced", Json::Int(s.produced as i64)),
        ("dropped", Json::Int(s.dropped as i64)),
        ("closed", Json::Bool(s.closed)),
        (
            "exit_code",
            s.exit_code.map_or(Json::Null, |c| Json::Int(c.into())),
        ),
    ];
    Json::Obj(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_json_has_the_spec_keys_in_order() {
        let row = SessionSummary {
            id: "sh-1".into(),
            kind: SessionKind::Local,
            title: "bash é".into(),
            size: TermSize { cols: 80, rows: 24 },
            age_s: 1.26,
            idle_s: 0.0,
            buffered: 3,
            produced: 10,
            dropped: 0,
            closed: false,
            exit_code: None,
        };
        assert_eq!(
            Json::Arr(vec![summary_json(&row)]).to_pretty(),
            "[\n  {\n    \"id\": \"sh-1\",\n    \"kind\": \"local\",\n    \"title\": \"bash \\u00e9\",\n    \"size\": \"80x24\",\n    \"age_s\": 1.3,\n    \"idle_s\": 0.0,\n    \"buffered\": 3,\n    \"produced\": 10,\n    \"dropped\": 0,\n    \"closed\": false,\n    \"exit_code\": null\n  }\n]"
        );
        assert_eq!(Json::Arr(vec![]).to_pretty(), "[]");
    }
}
