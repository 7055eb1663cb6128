//! `shell_spawn` and the `session_*` tools: interactive programs in a PTY (spec §5.3,
//! §5.6–§5.10). The sessions themselves live in [`crate::session`]; these entries only parse
//! arguments, name what the gate records and classifies, and phrase the results.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::JsonObject;
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::info::NoParams;
use super::params::{self, defaults};
use super::{ToolDef, probe, raw_args};
use crate::audit::Json;
use crate::confine;
use crate::error::ToolError;
use crate::exec;
use crate::gate::{Caller, Output, ToolCall};
use crate::server::State;
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
/// Longest `session_recv` wait, seconds (spec §5.7).
const RECV_MAX_WAIT: f64 = 60.0;
/// Smallest read a `session_recv` makes, bytes (spec §5.7).
const RECV_MIN_BYTES: i64 = 256;
/// Room kept in a `session_recv` result for its `[N bytes dropped]` line and end marker, so
/// the output taken from the ring is never cut by the truncation marker.
const RECV_MARKER_ROOM: usize = 128;

/// Parameters of `shell_spawn`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShellSpawnParams {
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
pub struct SessionSendParams {
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
pub struct SessionRecvParams {
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
pub struct SessionResizeParams {
    /// The session id.
    pub session_id: String,
    /// New width in columns (values below 1 become 1).
    #[serde(deserialize_with = "params::int")]
    pub cols: i64,
    /// New height in rows (values below 1 become 1).
    #[serde(deserialize_with = "params::int")]
    pub rows: i64,
}

/// Parameters of `session_kill`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionKillParams {
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
pub const SHELL_SPAWN: ToolDef = ToolDef {
    name: "shell_spawn",
    description: "Start an interactive program (default /bin/bash) in a pseudo-terminal and \
        return a session id. Use for REPLs, prompts, long-running jobs and anything that needs \
        a terminal; then session_send to type, session_recv to read output, session_kill to \
        end it. Ctrl-C, job control and resizing behave as in a real terminal.",
    summary: "start an interactive program in a terminal session (default bash)",
    read_only: false,
    destructive: true,
    schema: schema_for_type::<ShellSpawnParams>,
    build: build_spawn,
};

/// `session_send`: type into a session.
pub const SESSION_SEND: ToolDef = ToolDef {
    name: "session_send",
    description: "Type text into a session started by shell_spawn (a newline is appended \
        unless enter is false). The text is classified like a command. Send \"\\u0003\" with \
        enter=false for Ctrl-C.",
    summary: "type text into a session (Ctrl-C is \\u0003)",
    read_only: false,
    destructive: true,
    schema: schema_for_type::<SessionSendParams>,
    build: build_send,
};

/// `session_recv`: read a session's output.
pub const SESSION_RECV: ToolDef = ToolDef {
    name: "session_recv",
    description: "Read a session's new output, waiting up to timeout seconds for some to \
        arrive; returns once output has paused. Reading consumes it. A first line \
        `[N bytes dropped]` means older output overflowed the buffer; \
        `[session <id> ended, exit=N]` means the program has exited.",
    summary: "read a session's new output",
    read_only: true,
    destructive: false,
    schema: schema_for_type::<SessionRecvParams>,
    build: build_recv,
};

/// `session_resize`: change a session's window size.
pub const SESSION_RESIZE: ToolDef = ToolDef {
    name: "session_resize",
    description: "Change a session's terminal size (columns x rows); the program receives \
        SIGWINCH.",
    summary: "change a session's terminal size",
    read_only: false,
    destructive: false,
    schema: schema_for_type::<SessionResizeParams>,
    build: build_resize,
};

/// `session_kill`: signal or end a session.
pub const SESSION_KILL: ToolDef = ToolDef {
    name: "session_kill",
    description: "Send a signal to a session's processes (default TERM) and, unless close is \
        false, end the session: every process it started is terminated, killed if needed. Its \
        last output and exit status stay readable with session_recv for a while.",
    summary: "signal or end a session and every process it started",
    read_only: false,
    destructive: true,
    schema: schema_for_type::<SessionKillParams>,
    build: build_kill,
};

/// `session_list`: the caller's sessions.
pub const SESSION_LIST: ToolDef = ToolDef {
    name: "session_list",
    description: "List your sessions as JSON: id, kind, title, size, age_s, idle_s, buffered, \
        produced, dropped (bytes), closed, exit_code.",
    summary: "list your sessions",
    read_only: true,
    destructive: false,
    schema: schema_for_type::<NoParams>,
    build: build_list,
};

fn build_spawn(state: &Arc<State>, caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: ShellSpawnParams = match params::parse(SHELL_SPAWN.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SHELL_SPAWN.name, raw_args(raw), e),
    };
    let size = TermSize::clamped(p.cols, p.rows);
    let shown_command = if p.command.trim().is_empty() {
        DEFAULT_SHELL.to_string()
    } else {
        p.command.clone()
    };
    let args = vec![
        ("command", json!(shown_command)),
        ("size", json!(size.to_string())),
        ("cwd", json!(p.cwd)),
        ("env_json", json!(p.env_json)),
    ];
    let probe = probe(&[&p.command, &p.env_json]);
    let prepared = (|| -> Result<SpawnRequest, ToolError> {
        let argv = if p.command.trim().is_empty() {
            vec![DEFAULT_SHELL.to_string()]
        } else {
            exec::split_words(&p.command)?
        };
        if argv.is_empty() {
            return Err(ToolError::invalid("empty command"));
        }
        let overlay = exec::parse_env_json(&p.env_json)?;
        Ok(SpawnRequest {
            title: argv.join(" "),
            argv,
            cwd: (!p.cwd.is_empty()).then(|| PathBuf::from(&p.cwd)),
            env: local_session_env(&overlay),
            size,
            kind: SessionKind::Local,
            confinement: None,
        })
    })();
    let req = match prepared {
        Ok(req) => req,
        Err(e) => {
            let mut c = ToolCall::invalid(SHELL_SPAWN.name, args, e);
            c.probe = probe;
            return c;
        }
    };
    let sessions = state.sessions.clone();
    let principal = caller.principal.clone();
    let slot = confine::Slot::default();
    let offered = slot.clone();
    ToolCall::new(
        SHELL_SPAWN.name,
        args,
        probe,
        4096,
        Some(SPAWN_DEADLINE),
        true,
        async move {
            let title = req.title.clone();
            let mut req = req;
            req.confinement = offered.take();
            let s = sessions.spawn(&principal, req).await?;
            Ok(Output::text(format!(
                "session {} started ({title}); use session_recv/session_send with this id",
                s.id()
            )))
        },
    )
    .confined(slot)
}

fn build_send(state: &Arc<State>, caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: SessionSendParams = match params::parse(SESSION_SEND.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SESSION_SEND.name, raw_args(raw), e),
    };
    let args = vec![
        ("session_id", json!(p.session_id)),
        ("data", json!(p.data)),
        ("enter", json!(p.enter)),
    ];
    let session = state.sessions.get(&caller.principal, &p.session_id);
    // Text typed earlier without Enter is part of the command this send completes: the
    // probe is the whole line (or lines) this input submits, as the policy engine sees it.
    let pending = session
        .as_ref()
        .map(|s| s.pending_line())
        .unwrap_or_default();
    let probe = pending.probe(&p.data, p.enter);
    // The typed text runs under the session's profile, chosen when it was spawned.
    let slot = confine::Slot::default();
    let report = slot.clone();
    ToolCall::new(
        SESSION_SEND.name,
        args,
        probe,
        2048,
        Some(SEND_DEADLINE),
        true,
        async move {
            report.report(session.as_ref().map_or("none", |s| s.confinement()));
            let s = session?;
            let mut bytes = p.data.into_bytes();
            let data_len = bytes.len();
            if p.enter {
                bytes.push(b'\n');
            }
            let sent = tokio::time::timeout(SEND_DEADLINE, s.send(&bytes))
                .await
                .map_err(|_| {
                    ToolError::new(
                        crate::error::ErrorKind::Io,
                        format!(
                            "session {} did not take its input within {}s (the program is not reading)",
                            s.id(),
                            SEND_DEADLINE.as_secs()
                        ),
                    )
                })??;
            let data = String::from_utf8_lossy(&bytes[..data_len]);
            s.update_pending_line(|line| line.commit(&data, p.enter));
            Ok(Output::text(format!("sent {sent} bytes to {}", s.id())))
        },
    )
    .confined(slot)
}

fn build_recv(state: &Arc<State>, caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: SessionRecvParams = match params::parse(SESSION_RECV.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SESSION_RECV.name, raw_args(raw), e),
    };
    let args = vec![
        ("session_id", json!(p.session_id)),
        ("timeout", json!(p.timeout)),
    ];
    let hard = state.settings.max_output_hard;
    let wait = Duration::from_secs_f64(p.timeout.clamp(0.0, RECV_MAX_WAIT));
    let budget = text::clamp_output(p.max_bytes, hard);
    let read = text::clamp_i64(p.max_bytes, RECV_MIN_BYTES, hard as i64) as usize;
    let read = read.min(budget.saturating_sub(RECV_MARKER_ROOM)).max(1);
    let session = state.sessions.get(&caller.principal, &p.session_id);
    ToolCall::new(
        SESSION_RECV.name,
        args,
        String::new(),
        budget,
        Some(wait),
        false,
        async move {
            let s = session?;
            let got = s.recv(wait, read).await;
            Ok(Output::text(got.render(s.id())))
        },
    )
}

fn build_resize(state: &Arc<State>, caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: SessionResizeParams = match params::parse(SESSION_RESIZE.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SESSION_RESIZE.name, raw_args(raw), e),
    };
    let args = vec![
        ("session_id", json!(p.session_id)),
        ("cols", json!(p.cols)),
        ("rows", json!(p.rows)),
    ];
    let session = state.sessions.get(&caller.principal, &p.session_id);
    ToolCall::new(
        SESSION_RESIZE.name,
        args,
        String::new(),
        512,
        Some(SEND_DEADLINE),
        true,
        async move {
            let s = session?;
            s.resize(TermSize::clamped(p.cols, p.rows)).await?;
            // The reply echoes the values as given, as the reference implementation does.
            Ok(Output::text(format!(
                "resized {} to {}x{}",
                s.id(),
                p.cols,
                p.rows
            )))
        },
    )
}

fn build_kill(state: &Arc<State>, caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: SessionKillParams = match params::parse(SESSION_KILL.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SESSION_KILL.name, raw_args(raw), e),
    };
    let args = vec![
        ("session_id", json!(p.session_id)),
        ("signal", json!(p.signal_name)),
        ("close", json!(p.close)),
    ];
    let sig = match session::parse_signal(&p.signal_name) {
        Ok(sig) => sig,
        Err(e) => return ToolCall::invalid(SESSION_KILL.name, args, e),
    };
    let sessions: Registry = state.sessions.clone();
    let principal = caller.principal.clone();
    ToolCall::new(
        SESSION_KILL.name,
        args,
        String::new(),
        512,
        Some(KILL_DEADLINE),
        true,
        async move {
            sessions
                .kill(&principal, &p.session_id, sig, p.close)
                .await?;
            Ok(Output::text(if p.close {
                format!("killed and closed {}", p.session_id)
            } else {
                format!("sent {} to {}", sig.as_str(), p.session_id)
            }))
        },
    )
}

/// Seconds rounded to one decimal, as `session_list` shows them.
fn tenths(secs: f64) -> Json {
    Json::Float((secs * 10.0).round() / 10.0)
}

/// One `session_list` entry, keys in the spec's order.
pub fn summary_json(s: &SessionSummary) -> Json {
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

fn build_list(state: &Arc<State>, caller: &Caller, raw: &JsonObject) -> ToolCall {
    if let Err(e) = params::parse::<NoParams>(SESSION_LIST.name, raw) {
        return ToolCall::invalid(SESSION_LIST.name, raw_args(raw), e);
    }
    let sessions = state.sessions.clone();
    let principal = caller.principal.clone();
    ToolCall::new(
        SESSION_LIST.name,
        vec![],
        String::new(),
        65536,
        None,
        false,
        async move {
            let rows = sessions.list(&principal).iter().map(summary_json).collect();
            Ok(Output::text(Json::Arr(rows).to_pretty()))
        },
    )
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
