//! `shell_exec` and `shell_script`: one-shot local commands (docs/tools.md).

use std::path::PathBuf;
use std::time::Duration;

use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::params::{self, defaults};
use super::{Context, Tool};
use crate::error::ToolError;
use crate::exec::{self, ExecOutcome, ExecRequest, Program};
use crate::gate::{Judged, Output, Processes, ToolCall};
use crate::policy::{Interpreter, Payload, PolicyClass, Probe};
use crate::procs::Leftovers;
use crate::text;

/// Parameters of `shell_exec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShellExecParams {
    /// The command line. Run by `/bin/sh -c` unless `use_shell` is false.
    pub command: String,
    /// Seconds before the process group is killed (0 or absent = RELAY_SHELL_DEFAULT_TIMEOUT;
    /// otherwise clamped to 1..RELAY_SHELL_MAX_TIMEOUT).
    #[serde(default, deserialize_with = "opt_int")]
    pub timeout: Option<i64>,
    /// Most bytes of output returned (default RELAY_SHELL_MAX_OUTPUT, clamped to
    /// 1024..RELAY_SHELL_MAX_OUTPUT_HARD).
    #[serde(default, deserialize_with = "opt_int")]
    pub max_output: Option<i64>,
    /// Working directory; empty = the server's.
    #[serde(default)]
    pub cwd: String,
    /// Text written to the command's stdin; empty = empty stdin.
    #[serde(default)]
    pub stdin: String,
    /// Interleave stderr with stdout in arrival order (default true); false appends stderr
    /// after stdout.
    #[serde(default = "defaults::yes", deserialize_with = "params::boolean")]
    pub merge_stderr: bool,
    /// Run through `/bin/sh -c` (default true); false splits the command with POSIX shell
    /// quoting rules and runs it directly.
    #[serde(default = "defaults::yes", deserialize_with = "params::boolean")]
    pub use_shell: bool,
    /// A JSON object of environment changes: strings set, null removes.
    #[serde(default)]
    pub env_json: String,
}

/// Parameters of `shell_script`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShellScriptParams {
    /// The script, fed to the interpreter on stdin.
    pub script: String,
    /// `bash` (default), `sh`, or `python` / `python3` / `py` (python3 from PATH).
    #[serde(default = "default_interpreter")]
    pub interpreter: String,
    /// Shell interpreters only: stop at the first failing command (default true).
    #[serde(default = "defaults::yes", deserialize_with = "params::boolean")]
    pub strict: bool,
    /// Seconds before the process group is killed (0 or absent = twice
    /// RELAY_SHELL_DEFAULT_TIMEOUT; otherwise clamped to 1..RELAY_SHELL_MAX_TIMEOUT).
    #[serde(default, deserialize_with = "opt_int")]
    pub timeout: Option<i64>,
    /// Working directory; empty = the server's.
    #[serde(default)]
    pub cwd: String,
    /// A JSON object of environment changes: strings set, null removes.
    #[serde(default)]
    pub env_json: String,
}

fn default_interpreter() -> String {
    "bash".into()
}

fn opt_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    params::int(d).map(Some)
}

/// `shell_exec`: one non-interactive local command.
pub(super) struct ShellExec;

impl Tool for ShellExec {
    type Params = ShellExecParams;
    const NAME: &'static str = "shell_exec";
    const DESCRIPTION: &'static str = "Run one non-interactive command on this host and return \
        `[exit N]` plus its output. Use for commands that finish by themselves; use shell_spawn \
        for anything that needs a terminal. Output is bounded and the call is classified, \
        admitted and audited.";
    const SUMMARY: &'static str = "run one command that exits by itself";
    const CLASS: PolicyClass = PolicyClass::Shell;
    const DESTRUCTIVE: bool = true;
    const PROCESSES: Processes = Processes::Local;

    fn call(cx: &Context<'_>, p: ShellExecParams) -> ToolCall {
        let s = &cx.state.settings;
        let timeout = timeout_or(p.timeout, s.default_timeout, s.max_timeout);
        let budget = text::clamp_output(
            p.max_output.unwrap_or(s.max_output as i64),
            s.max_output_hard,
        );
        let plan = cx.plan(vec![
            ("command", json!(p.command)),
            ("timeout", json!(timeout)),
            ("cwd", json!(p.cwd)),
            ("use_shell", json!(p.use_shell)),
            ("stdin", json!(p.stdin)),
            ("env_json", json!(p.env_json)),
        ]);
        let probe = cx.probe();
        let (probe, program_err) = if p.use_shell {
            (probe.shell(&p.command), None)
        } else {
            match exec::split_words(&p.command) {
                Ok(argv) if !argv.is_empty() => (probe.argv(argv, &p.command), None),
                Ok(_) => (
                    probe.unprepared(&p.command),
                    Some(ToolError::invalid("empty command")),
                ),
                Err(e) => (probe.unprepared(&p.command), Some(e)),
            }
        };
        let (probe, env_err) = with_env(probe.stdin(&p.stdin), &p.env_json);
        let plan = plan.probe(probe.cwd(&p.cwd)).budget(budget);
        if let Some(e) = program_err.or(env_err) {
            return plan.fail(e);
        }
        let capture_limit = s.max_output_hard;
        let merge_stderr = p.merge_stderr;
        plan.deadline(Duration::from_secs(timeout))
            .runs()
            .work(move |judged| async move {
                let req = exec_request(judged, false, timeout, capture_limit, merge_stderr)?;
                exec::run(req).await.map(|o| outcome_to_output(o, timeout))
            })
    }
}

/// `shell_script`: a multi-line script on an interpreter's stdin.
pub(super) struct ShellScript;

impl Tool for ShellScript {
    type Params = ShellScriptParams;
    const NAME: &'static str = "shell_script";
    const DESCRIPTION: &'static str = "Run a multi-line script with bash (default), sh or \
        python3, fed on stdin. Shell scripts run with `set -euo pipefail` (sh: `set -eu`) unless \
        strict is false. stderr is merged into the output.";
    const SUMMARY: &'static str = "run several statements, or a python3 script";
    const CLASS: PolicyClass = PolicyClass::Shell;
    const DESTRUCTIVE: bool = true;
    const PROCESSES: Processes = Processes::Local;

    fn call(cx: &Context<'_>, p: ShellScriptParams) -> ToolCall {
        let s = &cx.state.settings;
        let timeout = timeout_or(p.timeout, 2 * s.default_timeout, s.max_timeout);
        let plan = cx
            .plan(vec![
                ("interpreter", json!(p.interpreter)),
                ("strict", json!(p.strict)),
                ("script", json!(p.script)),
                ("timeout", json!(timeout)),
                ("cwd", json!(p.cwd)),
                ("env_json", json!(p.env_json)),
            ])
            .budget(SCRIPT_BUDGET);
        let interpreter = Interpreter::parse(&p.interpreter);
        let probe = match interpreter {
            Some(i) => cx.probe().script(i, &p.script),
            None => cx.probe().unprepared(&p.script),
        };
        let (probe, env_err) = with_env(probe, &p.env_json);
        let plan = plan.probe(probe.cwd(&p.cwd));
        if interpreter.is_none() {
            return plan.fail(ToolError::invalid(format!(
                "unsupported interpreter: {} (expected bash, sh or python3)",
                p.interpreter
            )));
        }
        if let Some(e) = env_err {
            return plan.fail(e);
        }
        let capture_limit = s.max_output_hard;
        let strict = p.strict;
        plan.deadline(Duration::from_secs(timeout))
            .runs()
            .work(move |judged| async move {
                let req = exec_request(judged, strict, timeout, capture_limit, true)?;
                exec::run(req).await.map(|o| outcome_to_output(o, timeout))
            })
    }
}

/// A call's timeout: `0` or absent means `default`; anything else is clamped to
/// `1..=max` (so a negative one becomes 1 s). The default itself is clamped the same way.
fn timeout_or(given: Option<i64>, default: u64, max: u64) -> u64 {
    match given {
        None | Some(0) => text::clamp_timeout(default.min(i64::MAX as u64) as i64, max),
        Some(t) => text::clamp_timeout(t, max),
    }
}

/// Output budget of `shell_script` (the Python implementation's fixed 64 KiB).
const SCRIPT_BUDGET: usize = 65536;

/// The `set` line a strict shell script starts with.
fn prelude(interpreter: Interpreter) -> &'static str {
    match interpreter {
        Interpreter::Bash => "set -euo pipefail\n",
        Interpreter::Sh => "set -eu\n",
        Interpreter::Python => "",
    }
}

/// Add the environment overlay to a probe; the error is the call's when it does not parse.
fn with_env(probe: Probe, env_json: &str) -> (Probe, Option<ToolError>) {
    match exec::parse_env_json(env_json) {
        Ok(env) => (probe.env(env_json, env), None),
        Err(e) => (probe.env(env_json, Vec::new()), Some(e)),
    }
}

/// The process to run, taken from the judged probe: the executor sees exactly the payload,
/// standard input and environment the policy judged (a strict script also gets its `set -e…`
/// line, which can only stop it earlier), under the kernel profile the gate chose.
fn exec_request(
    judged: Judged,
    strict: bool,
    timeout: u64,
    capture_limit: usize,
    merge_stderr: bool,
) -> Result<ExecRequest, ToolError> {
    let Judged {
        probe:
            Probe {
                payload,
                stdin,
                env,
                cwd,
                ..
            },
        confinement,
        ..
    } = judged;
    let (program, stdin) = match payload {
        Payload::Shell(text) => (Program::Shell(text), stdin.map(String::into_bytes)),
        Payload::Argv(argv) => (Program::Argv(argv), stdin.map(String::into_bytes)),
        Payload::Script(script) => {
            let argv: &[&str] = match script.interpreter {
                Interpreter::Bash => &["/bin/bash", "-s"],
                Interpreter::Sh => &["/bin/sh", "-s"],
                Interpreter::Python => &["python3", "-"],
            };
            let mut body = if strict {
                prelude(script.interpreter).to_string()
            } else {
                String::new()
            };
            body.push_str(&script.body);
            (
                Program::Argv(argv.iter().map(|a| a.to_string()).collect()),
                Some(body.into_bytes()),
            )
        }
        Payload::None | Payload::Input { .. } | Payload::Transfer(_) | Payload::Forward(_) => {
            return Err(ToolError::new(
                crate::error::ErrorKind::Internal,
                "a one-shot command was planned without a program",
            ));
        }
    };
    Ok(ExecRequest {
        program,
        cwd: cwd.map(PathBuf::from),
        stdin,
        env,
        timeout: Duration::from_secs(timeout),
        capture_limit,
        merge_stderr,
        confinement,
    })
}

/// Turn a finished process into the gate's output. A timed-out run keeps the output read
/// before the deadline after the `[TIMEOUT after Ns]` line (docs/tools.md): the first line is
/// the v0.5 result string, and an operator sees how far the command got.
fn outcome_to_output(o: ExecOutcome, timeout: u64) -> Output {
    if o.timed_out {
        return Output {
            body: text::after_marker(&format!("[TIMEOUT after {timeout}s]"), &o.output),
            timed_out: true,
            total_bytes: Some(o.total_bytes as usize),
            ..Output::default()
        };
    }
    Output {
        body: text::lossy(&o.output),
        exit_code: o.exit_code.map(i64::from),
        timed_out: false,
        total_bytes: Some(o.total_bytes as usize),
        record: left_running_record(&o.left_running),
        hold: o.hold,
    }
}

/// The completion record's `left_running` (pid and command line of each process the call
/// left running, redacted by the gate like every argument) and `left_running_more` (how many
/// past the listed ones); nothing when the call left nothing running.
fn left_running_record(left: &Leftovers) -> Vec<(&'static str, serde_json::Value)> {
    if left.is_empty() {
        return Vec::new();
    }
    let listed: Vec<serde_json::Value> = left
        .listed
        .iter()
        .map(|l| json!({"pid": l.pid, "cmdline": l.cmdline}))
        .collect();
    let mut record = vec![("left_running", json!(listed))];
    if left.more > 0 {
        record.push(("left_running_more", json!(left.more)));
    }
    record
}
