//! `shell_exec` and `shell_script`: one-shot local commands (spec §5.1, §5.2).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::JsonObject;
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::params::{self, defaults};
use super::{ToolDef, probe, raw_args};
use crate::confine;
use crate::error::ToolError;
use crate::exec::{self, ExecOutcome, ExecRequest, Program};
use crate::gate::{Caller, Output, ToolCall};
use crate::server::State;
use crate::text;

/// Parameters of `shell_exec`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShellExecParams {
    /// The command line. Run by `/bin/sh -c` unless `use_shell` is false.
    pub command: String,
    /// Seconds before the process group is killed (default RELAY_SHELL_DEFAULT_TIMEOUT,
    /// clamped to 1..RELAY_SHELL_MAX_TIMEOUT).
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
pub struct ShellScriptParams {
    /// The script, fed to the interpreter on stdin.
    pub script: String,
    /// `bash` (default), `sh`, or `python` / `python3` / `py` (python3 from PATH).
    #[serde(default = "default_interpreter")]
    pub interpreter: String,
    /// Shell interpreters only: stop at the first failing command (default true).
    #[serde(default = "defaults::yes", deserialize_with = "params::boolean")]
    pub strict: bool,
    /// Seconds before the process group is killed (default twice RELAY_SHELL_DEFAULT_TIMEOUT).
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
pub const SHELL_EXEC: ToolDef = ToolDef {
    name: "shell_exec",
    description: "Run one non-interactive command on this host and return `[exit N]` plus its \
        output. Use for commands that finish by themselves; use shell_spawn for anything that \
        needs a terminal. Output is bounded and the call is classified, admitted and audited.",
    summary: "run one command that exits by itself",
    read_only: false,
    destructive: true,
    schema: schema_for_type::<ShellExecParams>,
    build: build_exec,
};

/// `shell_script`: a multi-line script on an interpreter's stdin.
pub const SHELL_SCRIPT: ToolDef = ToolDef {
    name: "shell_script",
    description: "Run a multi-line script with bash (default), sh or python3, fed on stdin. \
        Shell scripts run with `set -euo pipefail` (sh: `set -eu`) unless strict is false. \
        stderr is merged into the output.",
    summary: "run several statements, or a python3 script",
    read_only: false,
    destructive: true,
    schema: schema_for_type::<ShellScriptParams>,
    build: build_script,
};

/// Turn a finished process into the gate's output.
fn outcome_to_output(o: ExecOutcome, timeout: u64) -> Output {
    if o.timed_out {
        return Output {
            body: format!("[TIMEOUT after {timeout}s]"),
            timed_out: true,
            ..Output::default()
        };
    }
    Output {
        body: text::lossy(&o.output),
        exit_code: o.exit_code.map(i64::from),
        timed_out: false,
        total_bytes: Some(o.total_bytes as usize),
    }
}

fn cwd_of(cwd: &str) -> Option<PathBuf> {
    (!cwd.is_empty()).then(|| PathBuf::from(cwd))
}

fn build_exec(state: &Arc<State>, _caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: ShellExecParams = match params::parse(SHELL_EXEC.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SHELL_EXEC.name, raw_args(raw), e),
    };
    let s = &state.settings;
    let timeout = text::clamp_timeout(p.timeout.unwrap_or(s.default_timeout as i64), s.max_timeout);
    let budget = text::clamp_output(
        p.max_output.unwrap_or(s.max_output as i64),
        s.max_output_hard,
    );
    let args = vec![
        ("command", json!(p.command)),
        ("timeout", json!(timeout)),
        ("cwd", json!(p.cwd)),
        ("use_shell", json!(p.use_shell)),
        ("stdin", json!(p.stdin)),
        ("env_json", json!(p.env_json)),
    ];
    let probe = probe(&[&p.command, &p.stdin, &p.env_json]);
    let prepared = (|| -> Result<ExecRequest, ToolError> {
        let program = if p.use_shell {
            Program::Shell(p.command.clone())
        } else {
            let argv = exec::split_words(&p.command)?;
            if argv.is_empty() {
                return Err(ToolError::invalid("empty command"));
            }
            Program::Argv(argv)
        };
        Ok(ExecRequest {
            program,
            cwd: cwd_of(&p.cwd),
            stdin: (!p.stdin.is_empty()).then(|| p.stdin.clone().into_bytes()),
            env: exec::parse_env_json(&p.env_json)?,
            timeout: Duration::from_secs(timeout),
            capture_limit: s.max_output_hard,
            merge_stderr: p.merge_stderr,
            confinement: None,
        })
    })();
    exec_call(SHELL_EXEC.name, args, probe, budget, timeout, prepared)
}

fn build_script(state: &Arc<State>, _caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: ShellScriptParams = match params::parse(SHELL_SCRIPT.name, raw) {
        Ok(p) => p,
        Err(e) => return ToolCall::invalid(SHELL_SCRIPT.name, raw_args(raw), e),
    };
    let s = &state.settings;
    let timeout = text::clamp_timeout(
        p.timeout.unwrap_or(2 * s.default_timeout as i64),
        s.max_timeout,
    );
    let args = vec![
        ("interpreter", json!(p.interpreter)),
        ("strict", json!(p.strict)),
        ("script", json!(p.script)),
        ("timeout", json!(timeout)),
        ("cwd", json!(p.cwd)),
        ("env_json", json!(p.env_json)),
    ];
    let interpreter = p.interpreter.trim().to_ascii_lowercase();
    // A python script is code handed to an interpreter: say so in the probe, so the policy
    // sees what will run rather than mistaking Python for shell text.
    let probe = match interpreter.as_str() {
        "python" | "python3" | "py" => {
            let body = format!(
                "python3 - <<'RELAY_SHELL_SCRIPT'\n{}\nRELAY_SHELL_SCRIPT",
                p.script
            );
            super::probe(&[&body, &p.env_json])
        }
        _ => super::probe(&[&p.script, &p.env_json]),
    };
    let prepared = (|| -> Result<ExecRequest, ToolError> {
        let (argv, prelude): (Vec<&str>, &str) = match interpreter.as_str() {
            "bash" => (vec!["/bin/bash", "-s"], "set -euo pipefail\n"),
            "sh" => (vec!["/bin/sh", "-s"], "set -eu\n"),
            "python" | "python3" | "py" => (vec!["python3", "-"], ""),
            _ => {
                return Err(ToolError::invalid(format!(
                    "unsupported interpreter: {} (expected bash, sh or python3)",
                    p.interpreter
                )));
            }
        };
        let mut stdin = String::new();
        if p.strict {
            stdin.push_str(prelude);
        }
        stdin.push_str(&p.script);
        Ok(ExecRequest {
            program: Program::Argv(argv.into_iter().map(String::from).collect()),
            cwd: cwd_of(&p.cwd),
            stdin: Some(stdin.into_bytes()),
            env: exec::parse_env_json(&p.env_json)?,
            timeout: Duration::from_secs(timeout),
            capture_limit: s.max_output_hard,
            merge_stderr: true,
            confinement: None,
        })
    })();
    exec_call(SHELL_SCRIPT.name, args, probe, 65536, timeout, prepared)
}

fn exec_call(
    tool: &'static str,
    args: Vec<(&'static str, serde_json::Value)>,
    probe: String,
    budget: usize,
    timeout: u64,
    prepared: Result<ExecRequest, ToolError>,
) -> ToolCall {
    match prepared {
        Ok(mut req) => {
            // The gate offers the profile its decision calls for before the work first runs.
            let slot = confine::Slot::default();
            let offered = slot.clone();
            ToolCall::new(
                tool,
                args,
                probe,
                budget,
                Some(Duration::from_secs(timeout)),
                true,
                async move {
                    req.confinement = offered.take();
                    exec::run(req).await.map(|o| outcome_to_output(o, timeout))
                },
            )
            .confined(slot)
        }
        Err(e) => ToolCall::new(
            tool,
            args,
            probe,
            budget,
            None,
            false,
            async move { Err(e) },
        ),
    }
}
