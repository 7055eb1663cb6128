//! Signal names and delivery to everything a session started.
//!
//! A session's child is a session leader (pid = pgid = sid). An interactive shell with job
//! control puts each job in its own process group inside that session, so "the whole
//! process group" of a session is, in practice, every process group whose members share the
//! session id. Delivery therefore finds them in `/proc` and signals each group.

use std::str::FromStr;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::error::ToolError;

/// Resolve a caller's signal name: case-insensitive, with or without the `SIG` prefix, or a
/// signal number. Blank means `TERM` (the tool's default).
///
/// Unknown names are an error rather than a silent fallback to `TERM`, and `SIG_DFL`/`SIG_IGN`
/// are not signals.
pub fn parse_signal(name: &str) -> Result<Signal, ToolError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Ok(Signal::SIGTERM);
    }
    let unknown = || {
        let shown: String = name.chars().take(32).collect();
        ToolError::invalid(format!("unknown signal: {}", py_repr(&shown)))
    };
    if let Ok(n) = trimmed.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| unknown());
    }
    let upper = trimmed.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    Signal::from_str(&format!("SIG{bare}")).map_err(|_| unknown())
}

/// `s` quoted the way Python's `repr` quotes a string (single quotes unless it holds one and
/// no double quote; backslash escapes for quotes, backslashes and control characters).
pub(crate) fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// One line of `/proc/<pid>/stat`, the fields process-group bookkeeping needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// Process id.
    pub pid: i32,
    /// State letter (`R`, `S`, `T`, `Z`, …).
    pub state: char,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
}

impl ProcStat {
    /// Whether the process can still run (a zombie has exited and only awaits its reaper).
    pub fn is_live(&self) -> bool {
        self.state != 'Z' && self.state != 'X'
    }
}

/// Parse the text of `/proc/<pid>/stat`. The command name may contain spaces and
/// parentheses, so fields are counted from the last `)`.
pub(super) fn parse_stat(text: &str) -> Option<ProcStat> {
    let pid = text.split_whitespace().next()?.parse().ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        state,
        pgrp,
        session,
    })
}

/// Every process visible in `/proc` (an empty list where `/proc` is unavailable).
pub fn all_processes() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let entry = entry.ok()?;
        let name = entry.file_name();
        let name = name.to_str()?;
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // A process may exit between listing and reading: skip it.
        let text = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        parse_stat(&text)
    })
    .collect()
}

/// Live (non-zombie) processes belonging to session `sid` or to process group `sid`.
pub fn live_members(sid: i32) -> Vec<ProcStat> {
    all_processes()
        .into_iter()
        .filter(|p| p.is_live() && (p.session == sid || p.pgrp == sid))
        .collect()
}

/// Whether anything started by the session led by `sid` can still run.
pub fn session_alive(sid: i32) -> bool {
    if std::path::Path::new("/proc/self/stat").exists() {
        !live_members(sid).is_empty()
    } else {
        // No /proc: the leader's group is the best we can see.
        killpg(Pid::from_raw(sid), None::<Signal>).is_ok()
    }
}

/// Send `sig` to every process group that has a live member in the session led by `sid`.
/// Groups are taken from `/proc` at the moment of sending, so an id whose processes are all
/// gone (and which the kernel may have reused) is not signalled. Without `/proc`, only the
/// leader's group is reachable.
pub(super) fn signal_session(sid: i32, sig: Signal) {
    if !std::path::Path::new("/proc/self/stat").exists() {
        signal_group(sid, sig);
        return;
    }
    let mut groups = Vec::new();
    for p in live_members(sid) {
        if !groups.contains(&p.pgrp) {
            groups.push(p.pgrp);
        }
    }
    for g in groups {
        signal_group(g, sig);
    }
}

/// Send `sig` to process group `pgid`, ignoring a group that no longer exists.
pub(super) fn signal_group(pgid: i32, sig: Signal) {
    if pgid <= 1 {
        return; // never signal "every process" or init's group by accident
    }
    match killpg(Pid::from_raw(pgid), sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::debug!(pgid, signal = %sig, error = %e, "signal not delivered"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_like_a_shell_user_expects() {
        assert_eq!(parse_signal("TERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("sigint"), Ok(Signal::SIGINT));
        assert_eq!(parse_signal(" kill "), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal(""), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("winch"), Ok(Signal::SIGWINCH));
    }

    #[test]
    fn unknown_names_are_errors() {
        for bad in ["_DFL", "SIG_IGN", "FOO", "0", "999", "SIG"] {
            let err = parse_signal(bad).unwrap_err();
            assert_eq!(
                err.render(),
                format!("[ERROR: InvalidArgument: unknown signal: '{bad}']")
            );
        }
        assert_eq!(
            parse_signal(&format!("it's{}", "x".repeat(40)))
                .unwrap_err()
                .message,
            format!("unknown signal: \"it's{}\"", "x".repeat(28))
        );
        assert_eq!(py_repr("a\\b\n"), "'a\\\\b\\n'");
    }

    #[test]
    fn stat_lines_with_awkward_names_parse() {
        let s = parse_stat("4242 (a) b (c)) S 1 4240 4239 34816 4240 4194560 0 0").unwrap();
        assert_eq!(
            s,
            ProcStat {
                pid: 4242,
                state: 'S',
                pgrp: 4240,
                session: 4239
            }
        );
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn this_process_is_visible() {
        let me = std::process::id() as i32;
        assert!(all_processes().iter().any(|p| p.pid == me && p.is_live()));
    }
}
