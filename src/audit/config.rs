//! Audit configuration knobs, parsed from `RELAY_SHELL_AUDIT_*`.

use std::fmt;
use std::str::FromStr;

/// On-disk line format (docs/compatibility.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (the default; the only format that can be chained).
    Jsonl,
    /// ArcSight Common Event Format.
    Cef,
    /// IBM QRadar Log Event Extended Format.
    Leef,
}

/// When the writer calls `fsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Before every tool result is returned (group commit shares one sync).
    Always,
    /// At most every 100 ms in the background.
    Interval,
    /// Leave it to the kernel.
    Never,
}

/// What the server does when records cannot be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Refuse new calls with `[ERROR: AuditUnavailable: …]` until writes succeed again.
    Refuse,
    /// Keep serving and mark the sink degraded.
    Continue,
}

macro_rules! spelled_enum {
    ($ty:ty, $what:literal, $( $variant:path => $s:literal ),+ ) => {
        impl $ty {
            /// The configuration spelling.
            pub fn as_str(self) -> &'static str {
                match self { $( $variant => $s ),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let v = s.trim().to_ascii_lowercase();
                $( if v == $s { return Ok($variant); } )+
                Err(format!(concat!("{} (expected ", $what, ")"), s.trim()))
            }
        }
    };
}

spelled_enum!(Format, "jsonl, cef or leef", Format::Jsonl => "jsonl", Format::Cef => "cef", Format::Leef => "leef");
spelled_enum!(FsyncPolicy, "always, interval or never", FsyncPolicy::Always => "always", FsyncPolicy::Interval => "interval", FsyncPolicy::Never => "never");
spelled_enum!(OnFailure, "refuse or continue", OnFailure::Refuse => "refuse", OnFailure::Continue => "continue");

/// How to open the audit log.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// Where the active log file lives (`~/` is expanded).
    pub path: std::path::PathBuf,
    /// Mirror each written line to stderr prefixed with `AUDIT `.
    pub mirror_stderr: bool,
    /// Line format.
    pub format: Format,
    /// Hash-chain records (jsonl only; ignored for CEF and LEEF).
    pub chain: bool,
    /// When to fsync.
    pub fsync: FsyncPolicy,
    /// Refuse or continue when writes fail.
    pub on_failure: OnFailure,
    /// Write a start record before the work of calls that run something.
    pub start_records: bool,
}

impl AuditConfig {
    /// The defaults of a fresh install for `path`: jsonl, chained, fsync every 100 ms,
    /// refuse on failure, start records on.
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            path: path.into(),
            mirror_stderr: false,
            format: Format::Jsonl,
            chain: true,
            fsync: FsyncPolicy::Interval,
            on_failure: OnFailure::Refuse,
            start_records: true,
        }
    }

    /// Whether lines carry `seq`/`prev`/`chain` (chaining is only defined for jsonl).
    pub fn chained(&self) -> bool {
        self.chain && self.format == Format::Jsonl
    }
}
