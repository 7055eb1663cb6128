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

/// Run one process to completion under `req`'s bounds.
pub async fn run(req: ExecRequest) -> Result<ExecOutcome, ToolError> {
    let _ = req;
    Err(ToolError::new(
        crate::error::ErrorKind::Internal,
        "local execution is not built yet",
    ))
}
