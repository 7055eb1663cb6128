//! Interactive sessions: a child in a PTY (a local shell or `ssh -tt` alike), a bounded ring
//! buffer of its output, and the registry and reaper that own them.
//!
//! Architecture invariant: runs things and returns outcomes; never writes audit records and
//! knows nothing about MCP.
//!
//! A session is "a child in a PTY" whatever the child is: [`SpawnRequest`] takes an argv, a
//! working directory, a complete environment, a window size, a kind and a title, so SSH
//! sessions (`ssh -tt` in a local PTY) use the same registry, ring and reaper as local shells.
//!
//! Output shape of a read ([`Received::render`]): an optional first line
//! `[<N> bytes dropped]` when the ring overflowed since the previous read, then the output,
//! then `\n[session <id> ended, exit=<code>]` (or `\n[session <id> ended]`) once the child has
//! exited and all its output has been read.

mod env;
mod prompt;
mod pty;
mod registry;
mod ring;
mod signal;
mod state;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use env::local_session_env;
pub use prompt::{LineModes, PROMPT_PATTERN, at_secret_prompt};
pub use registry::{ENDED_LINGER, Registry, new_session_id};
pub use ring::{OutputRing, Taken};
pub use signal::{ProcStat, all_processes, live_members, parse_signal, session_alive};
pub use state::{CLOSE_GRACE, RECV_QUIET, Received, Session, SessionSummary};

/// Re-exported so callers can name signals without depending on `nix` themselves.
pub use nix::sys::signal::Signal;

/// The bounds every session lives under (from `RELAY_SHELL_MAX_SESSIONS`,
/// `RELAY_SHELL_SESSION_BUFFER_BYTES`, `RELAY_SHELL_SESSION_IDLE_TIMEOUT` and
/// `RELAY_SHELL_SESSION_MAX_LIFETIME`). Any values are accepted here; the configuration layer
/// enforces the documented ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Most live sessions at once, across all principals.
    pub max_sessions: usize,
    /// Size of each session's output ring in bytes.
    pub buffer_bytes: usize,
    /// A live session with no input, output or call for this long is closed and forgotten.
    pub idle_timeout: Duration,
    /// A live session older than this is closed, busy or not.
    pub max_lifetime: Duration,
}

impl Default for SessionLimits {
    /// The documented defaults: 64 sessions, 256 KiB rings, 30 min idle, 8 h lifetime.
    fn default() -> Self {
        Self {
            max_sessions: 64,
            buffer_bytes: 262_144,
            idle_timeout: Duration::from_secs(1800),
            max_lifetime: Duration::from_secs(28_800),
        }
    }
}

/// What kind of child a session runs; it picks the id prefix and shows in `session_list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// A local program in a local PTY (`shell_spawn`).
    Local,
    /// `ssh -tt` to a remote host, in a local PTY (`ssh_spawn`).
    Ssh,
}

impl SessionKind {
    /// `local` or `ssh`, as `session_list` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Local => "local",
            SessionKind::Ssh => "ssh",
        }
    }

    /// The id prefix: `sh` or `ssh`.
    pub fn id_prefix(self) -> &'static str {
        match self {
            SessionKind::Local => "sh",
            SessionKind::Ssh => "ssh",
        }
    }
}

impl fmt::Display for SessionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A terminal window size in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TermSize {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
}

impl TermSize {
    /// A size from caller-supplied numbers, each clamped to `1..=65535`.
    pub fn clamped(cols: i64, rows: i64) -> TermSize {
        let c = |v: i64| v.clamp(1, i64::from(u16::MAX)) as u16;
        TermSize {
            cols: c(cols),
            rows: c(rows),
        }
    }

    fn to_pty(self) -> pty_process::Size {
        pty_process::Size::new(self.rows, self.cols)
    }
}

impl fmt::Display for TermSize {
    /// `<cols>x<rows>`, the Python implementation's spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.cols, self.rows)
    }
}

/// Everything needed to start a session. Not specific to shells: any argv runs.
#[derive(Clone, Debug)]
pub struct SpawnRequest {
    /// Program and arguments; `argv[0]` is looked up in the child's `PATH`.
    pub argv: Vec<String>,
    /// Working directory; `None` inherits the server's.
    pub cwd: Option<PathBuf>,
    /// The child's complete environment (nothing else is inherited).
    pub env: Vec<(OsString, OsString)>,
    /// Initial window size.
    pub size: TermSize,
    /// Local or SSH.
    pub kind: SessionKind,
    /// Label for `session_list` (e.g. the argv joined by spaces, or `ssh <host>`).
    pub title: String,
    /// The kernel profile the session's processes run under for its whole life (`None`:
    /// unconfined). `TMPDIR` is then set to the profile's scratch directory.
    pub confinement: Option<crate::confine::Confinement>,
}
