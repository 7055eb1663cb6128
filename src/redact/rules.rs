//! The structure-preserving rules of docs/compatibility.md (steps 1 and 2), in the Python
//! implementation's order (step 4, the MySQL `-p` rule, is `mysql.rs`; the CLI flag rule of
//! step 2 is `cli_flag.rs`).
//!
//! Each rule keeps its prefix (`password=`, `://`, `-p`) and replaces only the value. Rules
//! whose Python pattern has no look-around are a single `regex` pattern: the `regex` crate's
//! leftmost-first semantics pick the same match as Python's backtracking engine for such
//! patterns. Rules with look-arounds (authorization, CLI flags, `ConvertTo-SecureString`) are
//! a literal-ish prefix pattern plus an explicit value parser that follows the backtracking
//! order of the original pattern.
//!
//! Word boundaries are ASCII (`(?-u:\b)`): a non-ASCII letter next to a keyword counts as a
//! boundary. Python treats it as a word character, so we can only redact more, never less,
//! and the lazy DFA stays usable on non-ASCII text.

use std::ops::Range;

use super::scan::{
    Hit, LazyRegex, Rule, ScanState, char_at, char_before, compile, is_py_space,
    next_char_boundary, skip_py_space,
};
use super::shape::Shape;

/// A rule that is one pattern. The secret is capture group `v` (or the whole match).
pub(crate) struct PatternRule {
    /// The compiled pattern (Python `\s` semantics already applied).
    re: LazyRegex,
    /// The secret is capture group `v` (else the whole match).
    valued: bool,
    /// The pattern begins by consuming the character before the match (an emulated
    /// one-character look-behind), so searches start one character early.
    reads_previous_char: bool,
    /// The pattern ends by consuming a terminator (an emulated look-ahead), so the next
    /// search resumes at the end of the secret instead of the end of the match.
    resume_at_secret_end: bool,
    /// See [`Rule::hints`].
    hints: &'static [&'static str],
    /// Optional whole-text gate (see [`Rule::gate`]).
    gate: Option<LazyRegex>,
    /// Optional cheap check run before the gate pattern.
    precheck: Option<fn(&str) -> bool>,
    /// See [`Rule::scan_filter`].
    filter: Option<&'static str>,
    /// Where group `v` lies inside a match, for a pattern whose shape fixes it (see
    /// [`Self::value_within`]).
    value_in: Option<fn(&str) -> Range<usize>>,
    /// For a whole-match pattern that is a token shape: the hand matcher that stands for it.
    shape: Option<Shape>,
}

impl PatternRule {
    /// A rule whose whole match is the secret.
    pub(crate) fn whole(pattern: &str, hints: &'static [&'static str]) -> Self {
        Self {
            shape: Shape::parse(pattern),
            re: compile(pattern),
            valued: false,
            reads_previous_char: false,
            resume_at_secret_end: false,
            hints,
            gate: None,
            precheck: None,
            filter: None,
            value_in: None,
        }
    }

    /// A rule whose secret is the named group `v`.
    pub(crate) fn valued(pattern: &str, hints: &'static [&'static str]) -> Self {
        Self {
            re: compile(pattern),
            valued: true,
            reads_previous_char: false,
            resume_at_secret_end: false,
            hints,
            gate: None,
            precheck: None,
            filter: None,
            value_in: None,
            shape: None,
        }
    }

    /// Marks the pattern as starting with a consumed look-behind character.
    pub(crate) fn reading_previous_char(mut self) -> Self {
        self.reads_previous_char = true;
        self
    }

    /// Marks the pattern as ending with a consumed look-ahead terminator.
    pub(crate) fn resuming_at_secret_end(mut self) -> Self {
        self.resume_at_secret_end = true;
        self
    }

    /// Adds a cheap whole-text check that must pass before the gate pattern runs.
    pub(crate) fn prechecked_by(mut self, check: fn(&str) -> bool) -> Self {
        self.precheck = Some(check);
        self
    }

    /// Declares the block filter of a rule without hints (see [`Rule::scan_filter`]). A
    /// match of the filter must lie within one line (the text mode searches it only up to the
    /// end of the line of the first hint); the engine's tests check it on split lines.
    pub(crate) fn filtered_by(mut self, pattern: &'static str) -> Self {
        self.filter = Some(pattern);
        self
    }

    /// Declares where group `v` lies inside any match of the pattern (a range of the matched
    /// text). Capture groups cost a backtracking search over the match, ~7,700 instructions
    /// for the URL and bearer patterns; a plain match and this function cost a few hundred.
    /// Debug builds compare the two on every match, and a test does on generated texts.
    pub(crate) fn value_within(mut self, value_in: fn(&str) -> Range<usize>) -> Self {
        self.value_in = Some(value_in);
        self
    }

    /// The span of group `v` (or the first of `v1`, `v2`, … that took part) of the first
    /// match at or after `start`, and the match's end.
    fn captured(
        &self,
        text: &str,
        start: usize,
        state: &mut ScanState,
    ) -> Option<(Range<usize>, usize)> {
        // One set of capture slots per rule pass, reused for every hit.
        let locs = state
            .captures
            .get_or_insert_with(|| self.re.capture_locations());
        let whole = self.re.captures_read_at(locs, text, start)?;
        // The secret is group `v`, or the first of `v1`, `v2`, … that took part in the match
        // (a pattern with alternative value shapes).
        let (secret_start, secret_end) = self
            .re
            .capture_names()
            .enumerate()
            .filter(|(_, n)| n.is_some_and(|n| n.starts_with('v')))
            .find_map(|(i, _)| locs.get(i))?;
        Some((secret_start..secret_end, whole.end()))
    }

    /// Adds a whole-text gate pattern.
    pub(crate) fn gated_by(mut self, pattern: &str) -> Self {
        self.gate = Some(compile(pattern));
        self
    }
}

impl Rule for PatternRule {
    fn hints(&self) -> &'static [&'static str] {
        self.hints
    }

    fn gate(&self, text: &str) -> bool {
        self.precheck.is_none_or(|check| check(text))
            && self.gate.as_ref().is_none_or(|g| g.is_match(text))
    }

    fn scan_filter(&self) -> Option<&'static str> {
        self.filter
    }

    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit> {
        let start = if self.reads_previous_char {
            char_before(text, from).map_or(from, |c| from - c.len_utf8())
        } else {
            from
        };
        if let Some(shape) = &self.shape {
            let found = shape.find_at(text, start);
            debug_assert_eq!(
                found,
                self.re.find_at(text, start).map(|m| m.range()),
                "the token shape disagrees with its pattern in {text:?}"
            );
            let secret = found?;
            return Some(Hit {
                resume: secret.end,
                secret,
                keep: "",
            });
        }
        if !self.valued {
            let m = self.re.find_at(text, start)?;
            return Some(Hit {
                secret: m.range(),
                resume: m.end(),
                keep: "",
            });
        };
        let (secret, end) = match self.value_in {
            Some(value_in) => {
                let m = self.re.find_at(text, start)?;
                let value = value_in(m.as_str());
                let found = (m.start() + value.start..m.start() + value.end, m.end());
                debug_assert_eq!(
                    Some(&found),
                    self.captured(text, start, state).as_ref(),
                    "value_within disagrees with the capture group in {text:?}"
                );
                found
            }
            None => self.captured(text, start, state)?,
        };
        let resume = if self.resume_at_secret_end {
            secret.end
        } else {
            end
        };
        Some(Hit {
            secret,
            resume,
            keep: "",
        })
    }
}

/// The separator of a keyword assignment (v0.5): `:`, `=` or `:=`, and the whitespace after it.
const SEPARATOR: &str = r"(?::=|[:=])\s*";

/// A keyword assignment (v0.5): a keyword, an optional quote, the separator, then a value that
/// is a closed quoted string (`PASSWORD="a b c"`: everything inside), else a bare run that ends
/// at whitespace, a quote, or a shell operator `;`, `&`, `|` (`token=a;rm -rf /x`). A line
/// continuation inside a bare run joins it. The prefix is one capture-free pattern (a DFA
/// search); the value is read here, following the order of the alternatives.
pub(crate) struct AssignmentRule {
    prefix: LazyRegex,
    hints: &'static [&'static str],
}

impl AssignmentRule {
    /// A rule for the keywords `keywords` (a pattern alternation, case-insensitive).
    pub(crate) fn new(keywords: &str, hints: &'static [&'static str]) -> Self {
        Self {
            prefix: compile(&format!(r#"(?i)(?:{keywords})["']?\s*{SEPARATOR}"#)),
            hints,
        }
    }

    /// A rule for the keywords `keywords` written right against the separator, as a shell or
    /// environment assignment is (`DB_PASS=x`), not as code spaces it (`first_pass = True`).
    pub(crate) fn tight(keywords: &str, hints: &'static [&'static str]) -> Self {
        Self {
            prefix: compile(&format!(r#"(?i)(?:{keywords})["']?{SEPARATOR}"#)),
            hints,
        }
    }

    /// Whether a bare value may hold `c`.
    fn bare(c: char) -> bool {
        !(is_py_space(c) || matches!(c, '"' | '\'' | '\r' | '\n' | ';' | '&' | '|'))
    }

    /// The value at `at`: its span and the end of the whole match.
    fn value(text: &str, at: usize) -> Option<(std::ops::Range<usize>, usize)> {
        let bytes = text.as_bytes();
        let quote = bytes.get(at).copied();
        if let Some(q @ (b'"' | b'\'')) = quote {
            let mut i = at + 1;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'\r' | b'\n' => break,
                    b if b == q => {
                        if i > at + 1 {
                            return Some((at + 1..i, i + 1));
                        }
                        break;
                    }
                    b'\\' if q == b'"' => {
                        if matches!(bytes.get(i + 1), None | Some(b'\r' | b'\n')) {
                            break;
                        }
                        i += 2;
                    }
                    _ => i += 1,
                }
            }
        }
        let start = if matches!(quote, Some(b'"' | b'\'')) {
            at + 1
        } else {
            at
        };
        let mut end = start;
        let mut chars = text[start..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\\' {
                if let Some(after) = super::scan::continuation_end(text, start + i) {
                    if char_at(text, after).is_some_and(Self::bare) {
                        while chars.peek().is_some_and(|&(j, _)| start + j < after) {
                            chars.next();
                        }
                        continue;
                    }
                    break;
                }
                match chars.next() {
                    Some((j, n)) if n != '\r' && n != '\n' => {
                        end = start + j + n.len_utf8();
                        continue;
                    }
                    _ => break,
                }
            }
            if !Self::bare(c) {
                break;
            }
            end = start + i + c.len_utf8();
        }
        (end > start).then_some((start..end, end))
    }
}

impl Rule for AssignmentRule {
    fn hints(&self) -> &'static [&'static str] {
        self.hints
    }

    fn find(&self, text: &str, from: usize, _state: &mut ScanState) -> Option<Hit> {
        let mut at = from;
        loop {
            let m = self.prefix.find_at(text, at)?;
            if let Some((secret, resume)) = Self::value(text, m.end()) {
                return Some(Hit {
                    secret,
                    resume,
                    keep: "",
                });
            }
            at = next_char_boundary(text, m.start());
        }
    }
}

/// Keyword hints shared by the assignment rule and the CLI-flag rule (`cli_flag.rs`).
pub(super) const KEYWORD_HINTS: &[&str] = &[
    "api_key",
    "api-key",
    "apikey",
    "secret",
    "token",
    "passw",
    "pwd",
    "credential",
];

/// The Python implementation's rule (h): the plaintext operand of `ConvertTo-SecureString`, after up to eight
/// leading switches (`-AsPlainText -Force`). A `$variable` operand is not a secret.
struct SecureStringRule {
    /// The cmdlet name.
    prefix: LazyRegex,
}

impl SecureStringRule {
    const MAX_SWITCHES: usize = 8;

    /// The operand starting at `at`: an escape-aware quoted string, else a bare token that
    /// does not start with `-` or `$`.
    fn operand_end(text: &str, at: usize, state: &mut ScanState) -> Option<usize> {
        let first = char_at(text, at)?;
        if (first == '"' || first == '\'')
            && let Some(end) = super::scan::closed_quote_end(text, at, state)
        {
            return Some(end);
        }
        if first == '-' || first == '$' || is_py_space(first) {
            return None;
        }
        let len: usize = text[at..]
            .chars()
            .take_while(|&c| !is_py_space(c))
            .map(char::len_utf8)
            .sum();
        Some(at + len)
    }

    /// End of a switch `-\w+\s+` starting at `at`.
    fn switch_end(text: &str, at: usize) -> Option<usize> {
        if char_at(text, at) != Some('-') {
            return None;
        }
        let name_len: usize = text[at + 1..]
            .chars()
            .take_while(|&c| super::scan::is_py_word(c))
            .map(char::len_utf8)
            .sum();
        if name_len == 0 {
            return None;
        }
        let end = skip_py_space(text, at + 1 + name_len);
        (end > at + 1 + name_len).then_some(end)
    }
}

impl Rule for SecureStringRule {
    fn hints(&self) -> &'static [&'static str] {
        &["convertto-securestring"]
    }

    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit> {
        let mut at = from;
        'candidates: loop {
            let m = self.prefix.find_at(text, at)?;
            at = next_char_boundary(text, m.start());
            let mut pos = skip_py_space(text, m.end());
            if pos == m.end() {
                continue;
            }
            for switches in 0..=Self::MAX_SWITCHES {
                if let Some(end) = Self::operand_end(text, pos, state) {
                    return Some(Hit {
                        secret: pos..end,
                        resume: end,
                        keep: "",
                    });
                }
                if switches == Self::MAX_SWITCHES {
                    break;
                }
                match Self::switch_end(text, pos) {
                    Some(next) => pos = next,
                    None => continue 'candidates,
                }
            }
        }
    }
}

/// Steps 1 and 2 of docs/compatibility.md, in order.
pub(crate) fn structure_rules() -> Vec<Box<dyn Rule>> {
    vec![
        // 1. URL credentials: user and password both go.
        // The password part runs to the last `@` of the authority (`u:p@ss@host`); a user
        // part of 12 or more characters alone is a token (`https://ghp_…@github.com`).
        // Ours: the user may be empty (`redis://:PASSWORD@host`), and a `\`-newline inside
        // the password joins it, as the shell joins the word (`https://u:to\<newline>ken@h`).
        Box::new(
            PatternRule::valued(
                r#"://(?P<v>[^/\s:@]*:(?:[^/\s?#"'<>]|\\\r?\n)+|[^/\s:@"'<>]{12,})@"#,
                &["://"],
            )
            // The value is all but the `://` before it and the `@` after it.
            .value_within(|m| 3..m.len() - 1),
        ),
        // 2a. Authorization header.
        Box::new(super::authorization::AuthorizationRule::new()),
        // 2b. Bearer.
        Box::new(
            PatternRule::valued(r"(?i)(?-u:\b)bearer\s+(?P<v>[A-Za-z0-9._\-]+)", &["bearer"])
                // The value is the match's last run of value bytes: the whitespace before it
                // holds none (multi-byte spaces are bytes over 0x7f).
                .value_within(|m| {
                    let value =
                        |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
                    m.bytes().rposition(|b| !value(&b)).map_or(0, |i| i + 1)..m.len()
                }),
        ),
        // 2c. Keyword assignment, no leading boundary (DB_PASSWORD=, MYSQL_PWD=).
        Box::new(AssignmentRule::new(
            "api[_-]?key|secret|token|password|passwd|pwd|credential",
            KEYWORD_HINTS,
        )),
        // 2d. AWS secret access key.
        Box::new(PatternRule::valued(
            r#"(?i)(?:aws[_-]?)?secret[_-]?access[_-]?key["']?\s*[:=]\s*["']?(?P<v>[^\s"'\r\n]+)"#,
            &["secret"],
        )),
        // 2e. Azure connection-string key.
        Box::new(PatternRule::valued(
            r#"(?i)(?:account|sharedaccess)key\s*=\s*(?P<v>[^;\s"']+)"#,
            &["accountkey", "accesskey"],
        )),
        // 2f. Azure SAS signature.
        Box::new(PatternRule::valued(
            r"(?i)[?&]sig=(?P<v>[A-Za-z0-9%/+]{20,})",
            &["sig="],
        )),
        // 2g. CLI secret flag.
        Box::new(super::cli_flag::CliFlagRule::spec()),
        // 2h. PowerShell inline plaintext.
        Box::new(SecureStringRule {
            prefix: compile(r"(?i)convertto-securestring"),
        }),
    ]
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
