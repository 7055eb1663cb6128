//! Step 4 of docs/compatibility.md: `-pSECRET` when a MySQL client is named anywhere in the
//! text. The compatible rule is the pattern
//!
//! ```text
//! (?:\A|[^A-Za-z0-9-])-p(?:'(?P<v1>[^'\r\n]+)'|"(?P<v2>(?:[^"\\\r\n]|\\[^\r\n])+)"|(?P<v3>[^\s=-](?:[^\s\\]|\\[^\r\n]|\\\r?\n[^\s])*))
//! ```
//!
//! (`\s` with Python's meaning) with one change of ours: `(?:\\\r?\n)*` before `v3`, so a value
//! that starts on a `\`-continued line is read whole (see [`value`]). It is read here by hand:
//! a byte search for `-p`, then the three value shapes in the pattern's order. Each shape's
//! next step depends on one character, so the first way through is the pattern's
//! leftmost-first match. The regex engine's per-search overhead made this rule one of the
//! costliest on secret-dense text; a unit test compares the two on generated text.

use std::ops::Range;
use std::sync::LazyLock;

use super::scan::{
    Hit, LazyRegex, Rule, ScanState, char_at, char_before, compile, continuation_end, is_py_space,
};

/// The rule (see the module documentation).
pub(crate) struct MysqlPasswordRule;

impl MysqlPasswordRule {
    pub(crate) fn new() -> Self {
        Self
    }
}

/// Whether a MySQL client is named in `text`: the compatible gate
/// `(?i)\b(?:mysql|mariadb|mycli\b)` (ASCII word boundaries), read by hand — every name
/// starts with `m`, and the regex engine's per-search overhead cost more than the search.
/// Case-insensitive matching also lets the long s (`ſ`) stand for `s`; a text holding one is
/// given to the pattern itself.
fn names_client(text: &str) -> bool {
    static GATE: LazyLock<LazyRegex> =
        LazyLock::new(|| compile(r"(?i)(?-u:\b)(?:mysql|mariadb|mycli(?-u:\b))"));
    // One pass, stopping at `m`, `M` and the first byte of `ſ` (C5 BF in UTF-8): a name
    // found before any `ſ` is a match of the pattern too; at an `ſ` the pattern decides.
    // (Two byte searches with their set-up cost more than the pass on a line.)
    const STOP: [bool; 256] = super::scan::byte_set(b"mM\xc5");
    let bytes = text.as_bytes();
    let word = |at: usize| {
        bytes
            .get(at)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let at_ci = |at: usize, name: &[u8]| {
        bytes
            .get(at..at + name.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(name))
    };
    let mut i = 0;
    while let Some(p) = bytes[i..].iter().position(|&b| STOP[usize::from(b)]) {
        let at = i + p;
        if bytes[at] == 0xc5 {
            if bytes.get(at + 1) == Some(&0xbf) {
                return GATE.is_match(text);
            }
        } else if (at == 0 || !word(at - 1))
            && (at_ci(at, b"mysql")
                || at_ci(at, b"mariadb")
                || (at_ci(at, b"mycli") && !word(at + 5)))
        {
            return true;
        }
        i = at + 1;
    }
    false
}

impl Rule for MysqlPasswordRule {
    fn hints(&self) -> &'static [&'static str] {
        &["mysql", "mariadb", "mycli"]
    }

    fn gate(&self, text: &str) -> bool {
        names_client(text)
    }

    fn extends_placeholders(&self) -> bool {
        false
    }

    fn find(&self, text: &str, from: usize, _state: &mut ScanState) -> Option<Hit> {
        // The pattern consumes the character before `-p`, so a match may begin one character
        // before `from` (the compatible rule's search started there).
        let start = char_before(text, from).map_or(from, |c| from - c.len_utf8());
        let bytes = text.as_bytes();
        let mut at = start;
        // Built once: building a substring searcher cost more than the search on a line.
        static DASH_P: LazyLock<memchr::memmem::Finder<'static>> =
            LazyLock::new(|| memchr::memmem::Finder::new(b"-p"));
        while let Some(i) = DASH_P.find(&bytes[at..]).map(|i| at + i) {
            at = i + 1;
            let allowed = match char_before(text, i) {
                // `\A`.
                None => true,
                Some(c) => i - c.len_utf8() >= start && !(c.is_ascii_alphanumeric() || c == '-'),
            };
            if !allowed {
                continue;
            }
            if let Some((secret, end)) = value(text, i + 2) {
                return Some(Hit {
                    secret,
                    resume: end,
                    keep: "",
                });
            }
        }
        None
    }
}

/// The value after `-p` at `at`: its span and the end of the match.
///
/// Ours adds `(?:\\\r?\n)*` before the bare shape (`v3`): the shell joins `-p\<newline>SECRET`
/// into one word, `-pSECRET`, where the compatible pattern took the backslash alone as the value
/// and left the password on the next line. As in the pattern, the continuations are given back
/// one by one when no value starts after them, so the last backslash is the value then.
fn value(text: &str, at: usize) -> Option<(Range<usize>, usize)> {
    let mut after = at;
    let mut last = None;
    while let Some(next) = continuation_end(text, after) {
        last = Some(after);
        after = next;
    }
    let Some(last) = last else {
        return shaped_value(text, at);
    };
    match bare_value(text, after) {
        Some(end) => Some((at..end, end)),
        // Given back: the pattern matches `[^\s=-]` at the last continuation's backslash, and
        // the line break after it ends the run.
        None => Some((at..last + 1, last + 1)),
    }
}

/// The compatible pattern's three value shapes at `at` (see [`value`]).
fn shaped_value(text: &str, at: usize) -> Option<(Range<usize>, usize)> {
    let bytes = text.as_bytes();
    match bytes.get(at) {
        // `'(?P<v1>[^'\r\n]+)'`
        Some(b'\'') => {
            let inner = at + 1;
            if let Some(k) = memchr::memchr3(b'\'', b'\r', b'\n', &bytes[inner..])
                && k > 0
                && bytes[inner + k] == b'\''
            {
                return Some((inner..inner + k, inner + k + 1));
            }
        }
        // `"(?P<v2>(?:[^"\\\r\n]|\\[^\r\n])+)"`
        Some(b'"') => {
            let inner = at + 1;
            let mut k = inner;
            loop {
                match bytes.get(k) {
                    Some(b'"') if k > inner => return Some((inner..k, k + 1)),
                    Some(b'"' | b'\r' | b'\n') | None => break,
                    Some(b'\\') => match bytes.get(k + 1) {
                        // A non-ASCII escaped character: its other bytes are stepped over
                        // one at a time below, and none of them is special.
                        Some(b'\r' | b'\n') | None => break,
                        Some(_) => k += 2,
                    },
                    Some(_) => k += 1,
                }
            }
        }
        _ => {}
    }
    let end = bare_value(text, at)?;
    Some((at..end, end))
}

/// The end of the bare shape `(?P<v3>[^\s=-](?:[^\s\\]|\\[^\r\n]|\\\r?\n[^\s])*)` at `at`.
fn bare_value(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let first = char_at(text, at)?;
    if is_py_space(first) || first == '=' || first == '-' {
        return None;
    }
    let mut k = at + first.len_utf8();
    let not_space = |at: usize| char_at(text, at).filter(|&c| !is_py_space(c));
    while let Some(c) = char_at(text, k) {
        if c == '\\' {
            match char_at(text, k + 1) {
                Some('\r') if bytes.get(k + 2) == Some(&b'\n') => match not_space(k + 3) {
                    Some(n) => k += 3 + n.len_utf8(),
                    None => break,
                },
                Some('\n') => match not_space(k + 2) {
                    Some(n) => k += 2 + n.len_utf8(),
                    None => break,
                },
                Some('\r') | None => break,
                Some(n) => k += 1 + n.len_utf8(),
            }
        } else if is_py_space(c) {
            break;
        } else {
            k += c.len_utf8();
        }
    }
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::generated_texts;
    use crate::redact::rules::PatternRule;

    /// The compatible rule as a pattern: the reference.
    fn reference() -> PatternRule {
        PatternRule::valued(
            r#"(?:\A|[^A-Za-z0-9-])-p(?:'(?P<v1>[^'\r\n]+)'|"(?P<v2>(?:[^"\\\r\n]|\\[^\r\n])+)"|(?P<v3>(?:\\\r?\n)*[^\s=-](?:[^\s\\]|\\[^\r\n]|\\\r?\n[^\s])*))"#,
            &["mysql", "mariadb", "mycli"],
        )
        .reading_previous_char()
    }

    fn hits(rule: &dyn Rule, text: &str) -> Vec<Option<(Range<usize>, usize)>> {
        (0..=text.len())
            .filter(|&at| text.is_char_boundary(at))
            .map(|from| {
                rule.find(text, from, &mut ScanState::default())
                    .map(|h| (h.secret, h.resume))
            })
            .collect()
    }

    #[test]
    fn names_a_client_as_the_compatible_gate_does() {
        let gate = regex::Regex::new(r"(?i)(?-u:\b)(?:mysql|mariadb|mycli(?-u:\b))").unwrap();
        let pieces = [
            "mysql", "MySQL", "mariadb", "MARIADB", "mycli", "myclix", "m", "M", "y", "_", "-",
            " ", "é", "1", "mysq", "maria", "ſ", "myſql", "ő",
        ];
        let mut named = 0;
        for t in generated_texts(&pieces, 6, 30_000, 0x6761_7465) {
            let expected = gate.is_match(&t);
            named += usize::from(expected);
            assert_eq!(names_client(&t), expected, "{t:?}");
        }
        assert!(named > 5_000 && named < 25_000, "{named}");
    }

    #[test]
    fn reads_values_as_the_compatible_pattern_does() {
        let reference = reference();
        let rule = MysqlPasswordRule::new();
        let pieces = [
            "-p", "-p", "-p", "'", "\"", "\\", "\r", "\n", " ", "=", "-", "a", "Z", "7", "é",
            "\u{1c}", "\u{a0}", "x", "\t", "\\\n", "\\\r\n", "mysql ",
        ];
        let mut texts: Vec<String> = [
            "mysql -u root -p'Tr0ub4dor&3' shop",
            "mysql -p\"a\\\"b\" db",
            "mysql -psecret\\\n  more",
            "mysql -p\\\nsecret db",
            "mysql -p\\\r\n\\\n'sec ret' db",
            "mysql -p\\\n\\\n db",
            "mysql -p'' x",
            "mysql -p\"\" x",
            "-pX",
            "é-pé",
            "mysql -p=x -p-y -p z",
            "x-p1 .-p2 _-p3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.extend(generated_texts(&pieces, 12, 30_000, 0x6d79_7371_6c00));
        let mut found = 0;
        for t in &texts {
            let expected = hits(&reference, t);
            found += expected.iter().filter(|h| h.is_some()).count();
            assert_eq!(hits(&rule, t), expected, "{t:?}");
        }
        assert!(found > 10_000, "only {found} hits");
    }
}
