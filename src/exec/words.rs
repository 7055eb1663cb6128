//! Shell-word splitting for `use_shell=false` and session commands.
//!
//! The rules are those of the Python implementation's `shlex.split(text)` (POSIX mode, no
//! comments), reproduced character for character because callers send the same strings to both
//! implementations:
//! - space, tab, CR and LF separate words; nothing else does (`#`, `;`, `|` are ordinary);
//! - outside quotes a backslash takes the next character literally (so backslash-newline yields a
//!   newline inside the word);
//! - single quotes are literal to the closing quote;
//! - inside double quotes a backslash escapes only `\` and `"`; before any other character the
//!   backslash is kept (`"\$x"` is `\$x`, as in Python — not as in a POSIX shell);
//! - quotes may join a word (`a"b c"d` is one word) and an empty quoted string is a word.

use crate::error::ToolError;

/// How many characters of the offending text an error message quotes.
const QUOTED_PREFIX_CHARS: usize = 80;

/// Where the splitter is inside the text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between words.
    Gap,
    /// Inside an unquoted part of a word.
    Word,
    /// Inside `'…'`.
    Single,
    /// Inside `"…"`.
    Double,
}

/// Split `s` into words the way Python's `shlex.split(s)` does (see the module doc).
///
/// Errors are `InvalidArgument`: `No closing quotation in <text>` for an unbalanced quote and
/// `No escaped character in <text>` for a trailing lone backslash, quoting the first 80
/// characters of the text.
pub fn split_words(s: &str) -> Result<Vec<String>, ToolError> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word exists once any character or quote of it has been seen; `''` is a word.
    let mut in_word = false;
    let mut state = State::Gap;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match state {
            State::Gap | State::Word => match c {
                ' ' | '\t' | '\r' | '\n' => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                    state = State::Gap;
                }
                '\\' => {
                    let escaped = chars.next().ok_or_else(|| no_escaped_character(s))?;
                    word.push(escaped);
                    in_word = true;
                    state = State::Word;
                }
                '\'' => {
                    in_word = true;
                    state = State::Single;
                }
                '"' => {
                    in_word = true;
                    state = State::Double;
                }
                other => {
                    word.push(other);
                    in_word = true;
                    state = State::Word;
                }
            },
            State::Single => match c {
                '\'' => state = State::Word,
                other => word.push(other),
            },
            State::Double => match c {
                '"' => state = State::Word,
                '\\' => {
                    let escaped = chars.next().ok_or_else(|| no_escaped_character(s))?;
                    if escaped != '\\' && escaped != '"' {
                        word.push('\\');
                    }
                    word.push(escaped);
                }
                other => word.push(other),
            },
        }
    }
    match state {
        State::Single | State::Double => Err(no_closing_quotation(s)),
        State::Gap | State::Word => {
            if in_word {
                words.push(word);
            }
            Ok(words)
        }
    }
}

fn no_closing_quotation(s: &str) -> ToolError {
    ToolError::invalid(format!("No closing quotation in {}", quoted_prefix(s)))
}

fn no_escaped_character(s: &str) -> ToolError {
    ToolError::invalid(format!("No escaped character in {}", quoted_prefix(s)))
}

fn quoted_prefix(s: &str) -> String {
    s.chars().take(QUOTED_PREFIX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn words(s: &str) -> Vec<String> {
        match split_words(s) {
            Ok(w) => w,
            Err(e) => panic!("split_words({s:?}) failed: {e}"),
        }
    }

    // Expected values below were produced by Python 3.11:
    // python3 -c 'import shlex,sys,json; print(json.dumps(shlex.split(sys.argv[1])))' TEXT
    #[test]
    fn matches_python_shlex() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   \t\n ", &[]),
            ("echo hello world", &["echo", "hello", "world"]),
            ("  a   b  ", &["a", "b"]),
            ("a\tb\nc\rd", &["a", "b", "c", "d"]),
            ("a#b #c", &["a#b", "#c"]),
            ("a;b|c&&d", &["a;b|c&&d"]),
            ("''", &[""]),
            ("\"\"", &[""]),
            ("a '' b", &["a", "", "b"]),
            ("a\"\"b", &["ab"]),
            ("a\"b c\"d", &["ab cd"]),
            ("'a\\b'", &["a\\b"]),
            ("'a\"b'", &["a\"b"]),
            ("\"a'b\"", &["a'b"]),
            ("\"b\\$c\"", &["b\\$c"]),
            ("\"a\\\\b\"", &["a\\b"]),
            ("\"a\\\"b\" c", &["a\"b", "c"]),
            ("\"\\`x\\`\"", &["\\`x\\`"]),
            ("\"a\\\nb\"", &["a\\\nb"]),
            ("\"a\\nb\"", &["a\\nb"]),
            ("a\\\nb", &["a\nb"]),
            ("\\a\\ b", &["a b"]),
            ("\\'x", &["'x"]),
            ("\\\\", &["\\"]),
            ("$HOME ~ *.rs", &["$HOME", "~", "*.rs"]),
            (
                "grep -e 'a b' \"c d\" e\\ f",
                &["grep", "-e", "a b", "c d", "e f"],
            ),
            ("héllo 'wörld ✓'", &["héllo", "wörld ✓"]),
        ];
        for (input, expected) in cases {
            assert_eq!(words(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn unbalanced_quotes_are_invalid() {
        for input in ["a \"b", "'abc", "a 'b\"", "\"a\\\""] {
            let err = split_words(input).err();
            assert_eq!(
                err,
                Some(ToolError::invalid(format!(
                    "No closing quotation in {input}"
                ))),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn trailing_backslash_is_invalid() {
        for input in ["a \\", "\"trailing\\"] {
            let err = split_words(input).err();
            assert_eq!(
                err,
                Some(ToolError::invalid(format!(
                    "No escaped character in {input}"
                ))),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn error_quotes_at_most_80_chars() {
        let input = format!("'{}", "x".repeat(200));
        let err = split_words(&input).err().map(|e| (e.kind, e.message));
        let expected = format!("No closing quotation in '{}", "x".repeat(79));
        assert_eq!(err, Some((ErrorKind::InvalidArgument, expected)));
    }
}
