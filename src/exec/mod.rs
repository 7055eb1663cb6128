//! One-shot local processes: process groups, bounded concurrent drain, deadlines, and the
//! child environment.
//!
//! Architecture invariant: runs things and returns outcomes; never writes audit records and
//! knows nothing about MCP.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::ToolError;

/// What to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// `/bin/sh -c <text>`.
    Shell(String),
    /// Exec `argv[0]` directly with these arguments (no shell).
    Argv(Vec<String>),
}

/// One environment change requested by the caller: `Some` sets, `None` removes.
pub type EnvOverlay = Vec<(String, Option<String>)>;

/// A fully validated request to run one process to completion.
#[derive(Clone, Debug)]
pub struct ExecRequest {
    /// The program and its arguments.
    pub program: Program,
    /// Working directory; `None` inherits the server's.
    pub cwd: Option<PathBuf>,
    /// Bytes fed to stdin concurrently with reading output; `None` = empty stdin.
    pub stdin: Option<Vec<u8>>,
    /// Caller's environment overlay, applied after the base environment (spec §5.1.1).
    pub env: EnvOverlay,
    /// Wall-clock limit; at the deadline the whole process group is killed.
    pub timeout: Duration,
    /// Most bytes kept in memory across stdout and stderr together (`MAX_OUTPUT_HARD`).
    pub capture_limit: usize,
    /// `true`: stdout and stderr interleaved in arrival order; `false`: stdout then stderr.
    pub merge_stderr: bool,
}

/// How a process run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutcome {
    /// Captured output (at most `capture_limit` bytes), raw bytes as the child wrote them.
    pub output: Vec<u8>,
    /// Every byte the child wrote to stdout and stderr, kept or not.
    pub total_bytes: u64,
    /// Exit status; negative N when killed by signal N; `None` when timed out.
    pub exit_code: Option<i32>,
    /// Whether the deadline fired (the group was killed).
    pub timed_out: bool,
}

/// Run one process to completion under `req`'s bounds (simple placeholder executor).
pub async fn run(req: ExecRequest) -> Result<ExecOutcome, ToolError> {
    use tokio::io::AsyncWriteExt;
    let mut cmd = match &req.program {
        Program::Shell(text) => {
            let mut c = tokio::process::Command::new("/bin/sh");
            c.arg("-c").arg(text);
            c
        }
        Program::Argv(argv) => {
            let Some((first, rest)) = argv.split_first() else {
                return Err(ToolError::invalid("empty command"));
            };
            let mut c = tokio::process::Command::new(first);
            c.args(rest);
            c
        }
    };
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        if !k.to_string_lossy().starts_with("RELAY_SHELL_") {
            cmd.env(k, v);
        }
    }
    for (k, v) in &req.env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    if let Some(cwd) = &req.cwd {
        cmd.current_dir(cwd);
    }
    cmd.process_group(0)
        .kill_on_drop(true)
        .stdin(if req.stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| ToolError::from_io(&e, "spawn"))?;
    let pid = child.id().unwrap_or(0) as i32;
    if let (Some(data), Some(mut stdin)) = (req.stdin.clone(), child.stdin.take()) {
        tokio::spawn(async move {
            let _ = stdin.write_all(&data).await;
        });
    }
    match tokio::time::timeout(req.timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let mut output = out.stdout;
            output.extend_from_slice(&out.stderr);
            let total = output.len() as u64;
            output.truncate(req.capture_limit);
            use std::os::unix::process::ExitStatusExt;
            let code = out
                .status
                .code()
                .or_else(|| out.status.signal().map(|s| -s));
            Ok(ExecOutcome {
                output,
                total_bytes: total,
                exit_code: code,
                timed_out: false,
            })
        }
        Ok(Err(e)) => Err(ToolError::from_io(&e, "wait")),
        Err(_) => {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            Ok(ExecOutcome {
                output: vec![],
                total_bytes: 0,
                exit_code: None,
                timed_out: true,
            })
        }
    }
}

/// Parse an `env_json` overlay (placeholder until the executor lands).
pub fn parse_env_json(s: &str) -> Result<EnvOverlay, ToolError> {
    if s.trim().is_empty() {
        return Ok(vec![]);
    }
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Object(m)) => Ok(m
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::Null => (k, None),
                serde_json::Value::String(s) => (k, Some(s)),
                other => (k, Some(other.to_string())),
            })
            .collect()),
        _ => Err(ToolError::invalid("env_json must be a JSON object")),
    }
}

/// Split a command line with POSIX shell rules (placeholder until the executor lands).
pub fn split_words(s: &str) -> Result<Vec<String>, ToolError> {
    shlex::split(s).ok_or_else(|| ToolError::invalid("No closing quotation"))
}
