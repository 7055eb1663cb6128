//! Interactive input: `session_send` text is classified as the command line it completes,
//! not as a fragment. `rm -rf` sent now and ` /` + Enter sent later is classified as
//! `rm -rf /` on the second send (docs/compatibility.md: split payloads evaded the Python classifier).
//!
//! The model is a line editor's: printable text appends, `\x7f`/`\x08` erase a character,
//! `^W` erases a word, `^U` kills the line, `^C` clears it, `\r` or `\n` submits. It cannot
//! see what a program does with escape sequences (history recall, completion): those bytes
//! are kept in the text as typed.

/// Most bytes of unsubmitted input remembered per session.
pub(crate) const MAX_PENDING_BYTES: usize = 64 * 1024;

/// A line that makes the probe fail closed (tier ≥ 2: its command word is not a literal) when
/// the pending input overflowed [`MAX_PENDING_BYTES`] and its start was forgotten.
pub(crate) const TRUNCATION_MARKER: &str = "${RELAY_SHELL_PENDING_INPUT_TRUNCATED}";

/// The unsubmitted line of one session.
#[derive(Clone, Debug, Default)]
pub struct PendingLine {
    /// Text typed since the last submitted line.
    pending: String,
    /// The start of the pending line was dropped to respect the bound.
    truncated: bool,
}

/// The outcome of applying keystrokes to a pending line.
struct Edit {
    /// Lines submitted by the keystrokes.
    submitted: Vec<String>,
    /// What remains unsubmitted.
    rest: String,
    /// Whether the remainder lost its start.
    truncated: bool,
}

impl PendingLine {
    fn apply(&self, data: &str, enter: bool) -> Edit {
        let mut line = self.pending.clone();
        let mut truncated = self.truncated;
        let mut submitted = Vec::new();
        for c in data.chars() {
            match c {
                '\x7f' | '\x08' => {
                    line.pop();
                }
                '\x17' => {
                    let kept = line.trim_end().len();
                    line.truncate(kept);
                    let cut = line.rfind(char::is_whitespace).map_or(0, |i| i + 1);
                    line.truncate(cut);
                }
                '\x15' | '\x03' => {
                    line.clear();
                    truncated = false;
                }
                '\r' | '\n' => {
                    submitted.push(mark(std::mem::take(&mut line), truncated));
                    truncated = false;
                }
                _ => {
                    line.push(c);
                    if line.len() > MAX_PENDING_BYTES {
                        let mut cut = line.len() - MAX_PENDING_BYTES;
                        while !line.is_char_boundary(cut) {
                            cut += 1;
                        }
                        line.drain(..cut);
                        truncated = true;
                    }
                }
            }
        }
        if enter {
            submitted.push(mark(std::mem::take(&mut line), truncated));
            truncated = false;
        }
        Edit {
            submitted,
            rest: line,
            truncated,
        }
    }

    /// The text to classify for sending `data` (plus Enter when `enter`): every line the send
    /// completes, then what stays unsubmitted, joined by `\n`. A line whose start was dropped
    /// is preceded by [`TRUNCATION_MARKER`].
    pub fn probe(&self, data: &str, enter: bool) -> String {
        let edit = self.apply(data, enter);
        let mut parts = edit.submitted;
        if !edit.rest.is_empty() || edit.truncated {
            parts.push(mark(edit.rest, edit.truncated));
        }
        parts.join("\n")
    }

    /// Record a send that was admitted: keep what stays unsubmitted.
    pub fn commit(&mut self, data: &str, enter: bool) {
        let edit = self.apply(data, enter);
        self.pending = edit.rest;
        self.truncated = edit.truncated;
    }

    /// The unsubmitted text (for diagnostics).
    pub fn pending(&self) -> &str {
        &self.pending
    }
}

fn mark(line: String, truncated: bool) -> String {
    if truncated {
        format!("{TRUNCATION_MARKER}\n{line}")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PolicyClass, Probe, Tier, classify};

    fn tier(text: &str) -> Tier {
        classify(&Probe::new("session_send", PolicyClass::Shell).input(text, text)).tier
    }

    #[test]
    fn split_payload_is_classified_whole() {
        let mut p = PendingLine::default();
        assert_eq!(p.probe("rm -r", false), "rm -r");
        p.commit("rm -r", false);
        assert_eq!(p.probe("f /", true), "rm -rf /");
        assert_eq!(tier(&p.probe("f /", true)), Tier::Irreversible);
        p.commit("f /", true);
        assert_eq!(p.pending(), "");
        assert_eq!(p.probe("ls", true), "ls");
    }

    #[test]
    fn split_command_word_is_joined() {
        let mut p = PendingLine::default();
        p.commit("reb", false);
        assert_eq!(p.probe("oot", true), "reboot");
        assert_eq!(tier(&p.probe("oot", true)), Tier::Irreversible);
    }

    #[test]
    fn line_editing() {
        let mut p = PendingLine::default();
        p.commit("rm -rf /tmp/x", false);
        assert_eq!(p.probe("\x15ls", true), "ls");
        assert_eq!(p.probe("\x03uptime", true), "uptime");
        assert_eq!(p.probe("\x7f\x7f\x7f\x7f\x7f\x7f", true), "rm -rf ");
        assert_eq!(p.probe("\x17", false), "rm -rf ");
        assert_eq!(p.probe("\x08y", false), "rm -rf /tmp/y");
    }

    #[test]
    fn embedded_newlines_submit_every_line() {
        let p = PendingLine::default();
        assert_eq!(p.probe("ls\nrm -rf /\n", false), "ls\nrm -rf /");
        assert_eq!(p.probe("ls\r", true), "ls\n");
        assert_eq!(tier(&p.probe("ls\nrm -rf /\n", false)), Tier::Irreversible);
        let mut q = PendingLine::default();
        q.commit("echo a\nrm -r", false);
        assert_eq!(q.pending(), "rm -r");
    }

    #[test]
    fn overflow_fails_closed() {
        let mut p = PendingLine::default();
        let chunk = "a".repeat(40 * 1024);
        p.commit(&chunk, false);
        p.commit(&chunk, false);
        assert!(p.pending().len() <= MAX_PENDING_BYTES);
        let probe = p.probe("", true);
        assert!(probe.starts_with(TRUNCATION_MARKER));
        assert!(tier(&probe) >= Tier::Stateful);
        // After submitting, the next line starts clean.
        p.commit("", true);
        assert_eq!(tier(&p.probe("ls", true)), Tier::ReadOnly);
    }
}
