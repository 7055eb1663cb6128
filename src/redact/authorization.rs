//! The `Authorization` header rule (compatibility rule (a)): its prefix is read by hand, its
//! value by the backtracking order of the compatible pattern.

use super::scan::{Hit, Rule, ScanState, char_at, is_py_space, next_char_boundary, skip_py_space};

/// The Python implementation's rule (a) (docs/compatibility.md, "Redaction"): `Authorization:` / `Proxy-Authorization:` header values.
///
/// Value: a run of non-quote, non-newline characters that is followed by a quote; otherwise
/// the shortest such run that ends before ` && `, ` || `, ` | `, a line break or the end.
pub(crate) struct AuthorizationRule;

/// The deterministic part of the `Authorization` rule's prefix as a pattern:
/// [`AuthorizationRule::prefix`] reads it by hand.
#[cfg(test)]
const AUTHORIZATION_PREFIX: &str = r#"(?i)(?-u:\b)(?:proxy-)?authorization["']?\s*[:=]"#;

impl AuthorizationRule {
    pub(crate) fn new() -> Self {
        Self
    }

    /// The leftmost match starting at or after `at` of
    /// `(?i)\b(?:proxy-)?authorization["']?\s*[:=]` (ASCII word boundary, Python `\s`):
    /// its start and end. Read by hand: the regex engine's overhead per search was most of
    /// this rule's cost on a line with a header. None of the letters has a non-ASCII case
    /// variant, so ASCII case-insensitivity is the pattern's.
    fn prefix(text: &str, at: usize) -> Option<(usize, usize)> {
        const NAME: &[u8] = b"authorization";
        /// Where the name's `z`, its rarest letter in text, lies.
        const Z: usize = 7;
        const _: () = assert!(NAME[Z] == b'z');
        let bytes = text.as_bytes();
        let word = |i: usize| {
            bytes
                .get(i)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
        };
        let zs = memchr::memchr2_iter(b'z', b'Z', bytes.get(at + Z..)?);
        for q in zs.map(|z| at + z) {
            if !bytes
                .get(q..q + NAME.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(NAME))
            {
                continue;
            }
            // The name starts with a letter, so a boundary before it is a non-word byte there.
            let start = if q >= at + 6
                && bytes[q - 6..q].eq_ignore_ascii_case(b"proxy-")
                && (q == 6 || !word(q - 7))
            {
                q - 6
            } else if q == 0 || !word(q - 1) {
                q
            } else {
                continue;
            };
            let mut sep = q + NAME.len();
            if matches!(bytes.get(sep), Some(b'"' | b'\'')) {
                sep += 1;
            }
            let sep = skip_py_space(text, sep);
            if matches!(bytes.get(sep), Some(b':' | b'=')) {
                return Some((start, sep + 1));
            }
        }
        None
    }

    /// Where the value starts after the separator at `sep_end`, following the backtracking
    /// order of `\s*["']?` (greedy whitespace, optional quote), or `None`.
    fn value_start(text: &str, sep_end: usize, state: &mut ScanState) -> Option<usize> {
        let ws_end = skip_py_space(text, sep_end);
        match char_at(text, ws_end) {
            Some('"' | '\'') => {
                if Self::plain_run_end(text, ws_end + 1, state) > ws_end + 1 {
                    return Some(ws_end + 1);
                }
            }
            Some('\r' | '\n') | None => {}
            Some(_) => return Some(ws_end),
        }
        // Give back whitespace: the value may start at the last whitespace character that is
        // not a line break (a value may begin with a space, never with a newline).
        text[sep_end..ws_end]
            .char_indices()
            .rev()
            .find(|&(_, c)| c != '\r' && c != '\n')
            .map(|(i, _)| sep_end + i)
    }

    /// End of the run of characters other than `"`, `'`, `\r`, `\n` starting at `at`. Memoised:
    /// every start inside one run shares its end, which keeps repeated headers linear.
    fn plain_run_end(text: &str, at: usize, state: &mut ScanState) -> usize {
        if let Some((start, end)) = state.plain_run
            && start <= at
            && at <= end
        {
            return end;
        }
        // Two byte searches (three of the bytes, then a `\r` before that end) instead of a
        // byte loop: a header value is tens of bytes long.
        let rest = &text.as_bytes()[at..];
        let end = memchr::memchr3(b'"', b'\'', b'\n', rest).unwrap_or(rest.len());
        let end = at + memchr::memchr(b'\r', &rest[..end]).unwrap_or(end);
        state.plain_run = Some((at, end));
        end
    }

    /// The earliest `k` in `(start, run_end]` where ` && `, ` || ` or ` | ` begins (each with
    /// whitespace on both sides), else `run_end` (a line break or the end of the text).
    fn lazy_value_end(text: &str, start: usize, run_end: usize) -> usize {
        let bytes = text.as_bytes();
        let spaced_at = |at: usize| char_at(text, at).is_some_and(is_py_space);
        let mut k = next_char_boundary(text, start);
        while k < run_end {
            let c = char_at(text, k).unwrap_or('\0');
            if is_py_space(c) {
                let op = &bytes[k + c.len_utf8()..];
                let after = k + c.len_utf8();
                if ((op.starts_with(b"&&") || op.starts_with(b"||")) && spaced_at(after + 2))
                    || (op.starts_with(b"|") && spaced_at(after + 1))
                {
                    return k;
                }
            }
            k += c.len_utf8().max(1);
        }
        run_end
    }
}

impl Rule for AuthorizationRule {
    fn hints(&self) -> &'static [&'static str] {
        &["authorization"]
    }

    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit> {
        let mut at = from;
        loop {
            let (m_start, m_end) = Self::prefix(text, at)?;
            if let Some(start) = Self::value_start(text, m_end, state) {
                let run_end = Self::plain_run_end(text, start, state);
                let end = if matches!(char_at(text, run_end), Some('"' | '\'')) {
                    run_end
                } else {
                    Self::lazy_value_end(text, start, run_end)
                };
                return Some(Hit {
                    secret: start..end,
                    resume: end,
                    keep: "",
                });
            }
            at = next_char_boundary(text, m_start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::generated_texts;
    use crate::redact::scan::compile;

    #[test]
    fn plain_run_ends_at_the_first_quote_or_line_break() {
        let pieces = ["a", " ", "\"", "'", "\r", "\n", "é", "\\"];
        for t in generated_texts(&pieces, 10, 5_000, 0x7275_6e73) {
            for at in (0..=t.len()).filter(|&at| t.is_char_boundary(at)) {
                let expected = t.as_bytes()[at..]
                    .iter()
                    .position(|b| matches!(b, b'"' | b'\'' | b'\r' | b'\n'))
                    .map_or(t.len(), |p| at + p);
                let found = AuthorizationRule::plain_run_end(&t, at, &mut ScanState::default());
                assert_eq!(found, expected, "{t:?} at {at}");
            }
        }
    }

    #[test]
    fn authorization_prefix_is_the_patterns_leftmost_match() {
        let pattern = compile(AUTHORIZATION_PREFIX);
        let pieces = [
            "authorization",
            "Authorization",
            "AUTHORIZATION",
            "authorizatio",
            "proxy-",
            "Proxy-",
            "xproxy-",
            "x",
            "_",
            "-",
            ":",
            "=",
            " ",
            "\"",
            "'",
            "\u{a0}",
            "\u{1c}",
            "é",
            "\n",
        ];
        let mut texts = generated_texts(&pieces, 8, 20_000, 0x4175_7468);
        texts.extend(
            [
                "Authorization: Bearer x",
                "proxy-authorization=\"a\"",
                "x-authorization : y",
                "xauthorization: y",
                "authorization\u{a0}\u{1c}= y",
                "'authorization' : y",
            ]
            .map(String::from),
        );
        let mut found = 0;
        for t in &texts {
            for at in (0..=t.len()).filter(|&at| t.is_char_boundary(at)) {
                let expected = pattern.find_at(t, at).map(|m| (m.start(), m.end()));
                found += usize::from(expected.is_some());
                assert_eq!(AuthorizationRule::prefix(t, at), expected, "{t:?} at {at}");
            }
        }
        assert!(found > 20_000, "only {found} matches");
    }
}
