//! Is a session waiting for a secret? `session_send` asks before its input is recorded, so a
//! password typed at a password prompt never reaches the audit log (in any audit mode).
//!
//! Two signals, either of which is enough:
//!
//! 1. **The terminal reads a hidden line**: echo is off *and* the line discipline is canonical
//!    (`ICANON`). That is what `getpass(3)`, `sudo`, `passwd`, `ssh`'s passphrase prompt,
//!    `read -s` and Python's `getpass` set up. A line editor (bash's readline, a REPL, an
//!    editor) turns echo off too, but also leaves canonical mode, since it reads key by key and
//!    echoes itself — so an ordinary shell prompt is *not* a secret prompt, and `echo hello`
//!    typed into bash is recorded like any input. (The Python relay-shell v0.5.0 looked at the
//!    echo flag alone and so withheld every line typed into bash.) An SSH session's local
//!    terminal belongs to the `ssh` client, which keeps it raw whatever the remote side does:
//!    only the second signal applies to it.
//! 2. **The last output line looks like a prompt for a secret**: the last [`TAIL_BYTES`] bytes
//!    of output (cleared by every send), with CSI and OSC sequences and trailing blanks
//!    removed, after the last `\r` or `\n`, match [`PROMPT_PATTERN`] (`Password: `,
//!    `Enter token: `, `Verification code?`).

use std::sync::LazyLock;

use regex::Regex;

/// Output bytes kept for the prompt check.
pub(super) const TAIL_BYTES: usize = 512;

/// A last output line that asks for a secret (the Python relay-shell v0.5.0's pattern).
pub const PROMPT_PATTERN: &str = r"(?i)(?:pass(?:word|phrase|code)|\bpin\b|secret|token|api[ _-]?key|verification code|one-time|otp)[^\r\n]{0,80}[:?]\s*$";

static PROMPT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(PROMPT_PATTERN).ok());

/// Terminal modes that matter here, read from the PTY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineModes {
    /// `ECHO` is set.
    pub echo: bool,
    /// `ICANON` is set (the kernel assembles lines; no line editor is reading key by key).
    pub canonical: bool,
}

impl LineModes {
    /// A hidden line is being read: echo off in canonical mode.
    pub fn reads_hidden_line(self) -> bool {
        !self.echo && self.canonical
    }
}

/// Whether a session whose terminal is in `modes` (`None`: not known, or an SSH client's
/// terminal) and whose recent output is `tail` is at a secret prompt.
pub fn at_secret_prompt(modes: Option<LineModes>, tail: &[u8]) -> bool {
    modes.is_some_and(LineModes::reads_hidden_line) || looks_like_secret_prompt(tail)
}

/// Whether the last line of `tail` asks for a secret.
pub(super) fn looks_like_secret_prompt(tail: &[u8]) -> bool {
    let text = strip_escapes(&String::from_utf8_lossy(tail));
    let text = text.trim_end();
    let last = text.rsplit(['\r', '\n']).next().unwrap_or_default();
    PROMPT.as_ref().is_some_and(|re| re.is_match(last))
}

/// `text` without CSI (`ESC [ … final`) and OSC (`ESC ] … BEL` or `ESC \`) sequences; other
/// escapes lose their `ESC` and the character after it.
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIDDEN: Option<LineModes> = Some(LineModes {
        echo: false,
        canonical: true,
    });
    const READLINE: Option<LineModes> = Some(LineModes {
        echo: false,
        canonical: false,
    });
    const COOKED: Option<LineModes> = Some(LineModes {
        echo: true,
        canonical: true,
    });

    #[test]
    fn a_line_editor_is_not_a_secret_prompt() {
        assert!(!at_secret_prompt(READLINE, b"root@host:~# "));
        assert!(!at_secret_prompt(COOKED, b"hello\r\n"));
        assert!(!at_secret_prompt(None, b"$ "));
    }

    #[test]
    fn a_hidden_line_or_a_prompt_text_is() {
        assert!(at_secret_prompt(HIDDEN, b"> "));
        assert!(at_secret_prompt(READLINE, b"[sudo] password for ops: "));
        assert!(at_secret_prompt(None, b"Enter token: "));
        assert!(at_secret_prompt(COOKED, b"out\r\nPassword: "));
        assert!(at_secret_prompt(
            COOKED,
            b"\x1b]0;title\x07\x1b[1mEnter passphrase for key '/k':\x1b[0m "
        ));
        assert!(at_secret_prompt(COOKED, b"Verification code? "));
        // Only the last line counts.
        assert!(!at_secret_prompt(COOKED, b"Password:\r\nok\r\n$ "));
        assert!(!at_secret_prompt(COOKED, b"tokens used: 3 of 5"));
        assert!(!at_secret_prompt(COOKED, b"spinning"));
    }
}
