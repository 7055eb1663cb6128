//! The CLI flag rules: the Python implementation's rule (g), `--password VALUE`,
//! `-Secret VALUE`, …, and our extension for compound flag names (`--db-password`,
//! `--client-secret`, `--jwt`). The flag is found by a pattern tried anchored at each dash
//! its look-behind allows; the value after it is read by hand (`scan::flag_value_end`).

use super::rules::KEYWORD_HINTS;
use super::scan::{
    Hit, LazyRegex, Rule, ScanState, char_before, compile, flag_value_end, skip_continuations,
};

/// The Python implementation's rule (g): `--password VALUE`, `-Secret VALUE`, … and our extension for
/// compound flag names (`--db-password`, `--client-secret`, `--jwt`).
pub(crate) struct CliFlagRule {
    /// The flag itself (`--?` plus the secret word), without the separator: the compatible
    /// pattern, kept where [`Self::reference_flag`] checks the search against it.
    #[cfg(any(test, debug_assertions))]
    prefix: LazyRegex,
    /// The flag pattern, anchored at the start of the haystack.
    anchored: LazyRegex,
    /// The explicit look-behind: whether the character before the flag allows a match.
    allows_before: fn(Option<char>) -> bool,
    /// See [`Rule::hints`].
    hints: &'static [&'static str],
    /// Flags that match the prefix but take no value (`--ask-password`).
    is_switch: fn(&str) -> bool,
}

impl CliFlagRule {
    /// The Python implementation's rule: no ASCII letter right before the dash (`Get-Credential` is safe).
    pub(crate) fn spec() -> Self {
        Self::with_prefix(
            r"(?i)--?(?:password|passwd|pwd|secret|token|api[_-]?key|credential)",
            |c| !c.is_some_and(|c| c.is_ascii_alphabetic()),
            KEYWORD_HINTS,
            |_| false,
        )
    }

    fn with_prefix(
        prefix: &str,
        allows_before: fn(Option<char>) -> bool,
        hints: &'static [&'static str],
        is_switch: fn(&str) -> bool,
    ) -> Self {
        Self {
            #[cfg(any(test, debug_assertions))]
            prefix: compile(prefix),
            anchored: compile(&format!("^(?:{prefix})")),
            allows_before,
            hints,
            is_switch,
        }
    }

    /// The compatible rule's first stage as the Python pattern reads it: the leftmost match of
    /// `prefix` from `at` whose look-behind holds. Debug builds check [`Self::flag_at`]
    /// against it.
    #[cfg(any(test, debug_assertions))]
    fn reference_flag(&self, text: &str, mut at: usize) -> Option<std::ops::Range<usize>> {
        loop {
            let m = self.prefix.find_at(text, at)?;
            at = super::scan::next_char_boundary(text, m.start());
            if (self.allows_before)(char_before(text, m.start())) && !(self.is_switch)(m.as_str()) {
                return Some(m.range());
            }
        }
    }

    /// The first flag at or after `at` whose look-behind holds, as [`Self::reference_flag`]
    /// finds it. Every match starts with a `-`, and the look-behind depends only on the byte
    /// before it, so the pattern is tried, anchored, only at a dash that it allows and that a
    /// letter, digit or non-ASCII byte follows (after at most one more dash): on most text
    /// that is no position at all, where the unanchored search ran its prefilter and
    /// automata again from every rejected match.
    fn flag_at(&self, text: &str, at: usize) -> Option<std::ops::Range<usize>> {
        let bytes = text.as_bytes();
        let mut search = at;
        while let Some(i) = memchr::memchr(b'-', bytes.get(search..)?) {
            let dash = search + i;
            search = dash + 1;
            if !(self.allows_before)(char_before(text, dash)) {
                continue;
            }
            let after = if bytes.get(dash + 1) == Some(&b'-') {
                dash + 2
            } else {
                dash + 1
            };
            if !bytes
                .get(after)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || !b.is_ascii())
            {
                continue;
            }
            let Some(m) = self.anchored.find(&text[dash..]) else {
                continue;
            };
            let flag = dash..dash + m.end();
            if !(self.is_switch)(&text[flag.clone()]) {
                return Some(flag);
            }
        }
        None
    }

    /// Compound and extra flag names the Python implementation misses (docs/compatibility.md).
    pub(crate) fn compound() -> Self {
        Self::with_prefix(
            r"(?i)--?(?:[a-z0-9]+[-_])*(?:jwt|passphrase|password|passwd|secret|token|credentials?|api[-_]?key|secret[-_]?key)",
            |c| !c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_'),
            &[
                "jwt",
                "passphrase",
                "passw",
                "secret",
                "token",
                "credential",
                "api_key",
                "api-key",
                "apikey",
            ],
            // Switches that ask for a secret instead of taking one (wget, curl, psql, git).
            |flag| {
                let name = flag.trim_start_matches('-').to_ascii_lowercase();
                ["ask-", "no-", "prompt-", "use-"]
                    .iter()
                    .any(|p| name.starts_with(p))
            },
        )
    }
}

impl Rule for CliFlagRule {
    fn hints(&self) -> &'static [&'static str] {
        self.hints
    }

    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit> {
        let bytes = text.as_bytes();
        let mut at = from;
        loop {
            let flag = self.flag_at(text, at);
            #[cfg(debug_assertions)]
            debug_assert_eq!(flag, self.reference_flag(text, at), "{text:?} from {at}");
            let m = flag?;
            // The flag starts with an ASCII dash.
            at = m.start + 1;
            // `[= \t]+`, greedy; on failure give back separators one by one. Only a given-back
            // `=` can start a value (a bare token), so the retry is a scan for the last `=`.
            let sep_start = m.end;
            let sep_len = bytes[sep_start..]
                .iter()
                .take_while(|b| matches!(b, b'=' | b' ' | b'\t'))
                .count();
            if sep_len == 0 {
                continue;
            }
            let value_at = skip_continuations(text, sep_start + sep_len);
            // Ours: a PowerShell subexpression goes whole. The compatible bare token would take
            // `(ConvertTo-SecureString` alone and hide the hint of the rule that redacts the
            // plaintext after it (`-Password (ConvertTo-SecureString "X" -AsPlainText)`).
            if bytes.get(value_at) == Some(&b'(') {
                let end = paren_end(bytes, value_at);
                return Some(Hit {
                    secret: value_at..end,
                    resume: end,
                    keep: "",
                });
            }
            if let Some(end) = flag_value_end(text, value_at, state) {
                return Some(Hit {
                    secret: value_at..end,
                    resume: end,
                    keep: "",
                });
            }
            if let Some(eq) = bytes[sep_start + 1..value_at]
                .iter()
                .rposition(|&b| b == b'=')
            {
                let start = sep_start + 1 + eq;
                if let Some(end) = flag_value_end(text, start, state) {
                    return Some(Hit {
                        secret: start..end,
                        resume: end,
                        keep: "",
                    });
                }
            }
        }
    }
}

/// The end of the parenthesised expression that opens at `open`: past its matching `)`, with
/// quoted parts passed over, or the end of the line when it does not close there (as an
/// unterminated quoted value runs to the end of its line). Reads each byte once, and the
/// search resumes after it, so the rule stays linear.
fn paren_end(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match (quote, b) {
            (_, b'\r' | b'\n') => return i,
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'(') => depth += 1,
            (None, b')') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            (None, _) => {}
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::generated_texts;

    #[test]
    fn a_subexpression_value_goes_whole() {
        let bytes = br#"-Password (ConvertTo-SecureString "a)b" -AsPlainText -Force) -Name x"#;
        let open = 10;
        assert_eq!(bytes[open], b'(');
        assert_eq!(
            &bytes[open..paren_end(bytes, open)],
            br#"(ConvertTo-SecureString "a)b" -AsPlainText -Force)"#
        );
        assert_eq!(paren_end(b"(a (b) c) d", 0), 9);
        assert_eq!(paren_end(b"(a 'b\nc", 0), 5);
        assert_eq!(paren_end(b"(never closed", 0), 13);
    }

    /// The anchored flag search finds what the compatible pattern's leftmost search with its
    /// look-behind finds, from every offset of texts built from the pieces that decide it.
    #[test]
    fn flags_are_found_as_the_compatible_search_finds_them() {
        let pieces = [
            "-",
            "--",
            "---",
            "x",
            "X",
            "_",
            "1",
            " ",
            "=",
            "password",
            "PassWd",
            "pwd",
            "token",
            "ſecret",
            "api_key",
            "api-KEY",
            "credentials",
            "jwt",
            "ask-",
            "no-",
            "db",
            "é",
            "\n",
        ];
        for rule in [CliFlagRule::spec(), CliFlagRule::compound()] {
            for text in generated_texts(&pieces, 12, 400, 7) {
                for at in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                    assert_eq!(
                        rule.flag_at(&text, at),
                        rule.reference_flag(&text, at),
                        "{text:?} from {at}"
                    );
                }
            }
        }
    }
}
