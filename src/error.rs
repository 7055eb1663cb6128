//! The one error type tool work returns, and its stable, documented rendering.
//!
//! A tool never panics and never answers with a protocol error for a failure of its own:
//! it returns a [`ToolError`], which the gate renders as `[ERROR: Kind: message]`, bounds,
//! redacts and audits. Kinds are short, stable names of our own (see `docs/tools.md`),
//! never Rust type names, so clients can match on them across releases.

use std::fmt;

/// Stable error kinds. The string form is part of the result-string contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// An argument has the wrong shape or value (bad JSON, unbalanced quote, unknown name).
    InvalidArgument,
    /// A file, directory or program named by the call does not exist.
    NotFound,
    /// The operating system refused access.
    PermissionDenied,
    /// A child process could not be started for another reason.
    SpawnFailed,
    /// The session id is unknown, closed, or belongs to another principal.
    SessionNotFound,
    /// A bounded resource (sessions, forwards, concurrent calls) is exhausted.
    Busy,
    /// The audit log cannot be written and the server is configured to refuse work.
    AuditUnavailable,
    /// An I/O failure while talking to a child, a file or a peer.
    Io,
    /// The client cancelled the request; the work was stopped.
    Cancelled,
    /// SSH: the server's host key is unknown under `strict`, or differs from the recorded one.
    HostKeyNotVerifiable,
    /// SSH: the server accepted none of the offered credentials (no prompt is ever shown).
    AuthenticationFailed,
    /// SSH: the host could not be reached (refused, timed out, unknown name, lost connection).
    ConnectionFailed,
    /// Something that should not happen; the message says what.
    Internal,
}

impl ErrorKind {
    /// The stable name shown in `[ERROR: <name>: …]`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::PermissionDenied => "PermissionDenied",
            ErrorKind::SpawnFailed => "SpawnFailed",
            ErrorKind::SessionNotFound => "SessionNotFound",
            ErrorKind::Busy => "Busy",
            ErrorKind::AuditUnavailable => "AuditUnavailable",
            ErrorKind::Io => "Io",
            ErrorKind::Cancelled => "Cancelled",
            ErrorKind::HostKeyNotVerifiable => "HostKeyNotVerifiable",
            ErrorKind::AuthenticationFailed => "AuthenticationFailed",
            ErrorKind::ConnectionFailed => "ConnectionFailed",
            ErrorKind::Internal => "Internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A contained tool failure: a kind and a one-line message naming the offending value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolError {
    /// Which stable class of failure this is.
    pub kind: ErrorKind,
    /// Human-readable detail; newlines are flattened when rendered.
    pub message: String,
}

impl ToolError {
    /// Build an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Shorthand for [`ErrorKind::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// Map an OS error from spawning or file access to a stable kind, naming `what`.
    pub fn from_io(err: &std::io::Error, what: &str) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        };
        Self::new(kind, format!("{what}: {err}"))
    }

    /// The result-string form: `[ERROR: Kind: message]`, on one line.
    pub fn render(&self) -> String {
        let msg = self.message.trim();
        let msg = if msg.is_empty() {
            self.kind.as_str()
        } else {
            msg
        };
        let one_line: String = msg
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        format!("[ERROR: {}: {}]", self.kind, one_line)
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for ToolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line() {
        let e = ToolError::invalid("bad\nvalue");
        assert_eq!(e.render(), "[ERROR: InvalidArgument: bad value]");
        let e = ToolError::new(ErrorKind::Busy, "  ");
        assert_eq!(e.render(), "[ERROR: Busy: Busy]");
    }
}
