//! Shared scanning primitives for the redaction rules.
//!
//! The rules of docs/compatibility.md were written for a backtracking engine with look-arounds. Here every
//! look-around is an explicit check in code, and every scan that could be repeated from many
//! starting points keeps a small memo ([`ScanState`]) so that one rule pass over a text reads
//! each byte a bounded number of times. That is what makes redaction linear by construction.

use std::ops::Range;

use std::sync::OnceLock;

use regex::Regex;

/// One secret found by a rule: the span to replace and where the next search starts.
///
/// `resume` is the end of the whole match (Python's `re.sub` continues there), which can lie
/// past the secret: the URL rule keeps the `@` that ends its match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Byte range of the secret value inside the text the rule scanned.
    pub secret: Range<usize>,
    /// Byte offset where the next search for this rule starts.
    pub resume: usize,
    /// Quote characters written after the placeholder, so that the text around it is read
    /// as before: the command-line rule's value may contain the quote that closes a part
    /// opened before it (`-'pSECRET'`), and dropping that quote would change which words
    /// the next pass sees. Empty for every other rule.
    pub keep: &'static str,
}

/// A secret span of the command-line rule with the quote characters to write after its
/// placeholder (see [`Hit::keep`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    /// Byte range of the value in the source text.
    pub range: Range<usize>,
    /// At most two quote characters: the net effect of the quotes inside `range`.
    pub keep: &'static str,
}

impl Span {
    /// The span of `range` whose quotes inside it are `quotes`, in source order (each `'` or
    /// `"` that opens or closes a quoted part, not a quote character of the value; any other
    /// byte among them is passed over).
    ///
    /// An opening quote followed by its closing one cancels out, as does a closing quote
    /// followed by an opening one of the same kind, so what remains is at most one closing
    /// quote then one opening quote.
    pub(crate) fn with_quotes(range: Range<usize>, quotes: impl IntoIterator<Item = u8>) -> Self {
        Self {
            range,
            keep: net_quotes(quotes),
        }
    }

    /// Joins a span that starts inside this one (sorted by start).
    pub(crate) fn absorb(&mut self, other: &Span) {
        if other.range.end <= self.range.end {
            return;
        }
        let joined = self.keep.bytes().chain(other.keep.bytes());
        *self = Self::with_quotes(self.range.start..other.range.end, joined);
    }
}

/// The net effect of a sequence of quotes (`'` and `"`; other bytes are not quotes and are
/// passed over): adjacent equal quotes cancel (an opening quote and its closing one, or a
/// closing quote and a reopening one), as a static string.
///
/// What remains never holds two equal quotes side by side, so with two kinds of quote it
/// alternates: its first quote and its length say all of it, and no list is kept.
pub(crate) fn net_quotes(quotes: impl IntoIterator<Item = u8>) -> &'static str {
    let other = |q: u8| if q == b'\'' { b'"' } else { b'\'' };
    let mut first = 0u8;
    let mut len = 0usize;
    for q in quotes.into_iter().filter(|&q| q == b'\'' || q == b'"') {
        let top = if len % 2 == 1 { first } else { other(first) };
        if len > 0 && top == q {
            len -= 1;
        } else {
            if len == 0 {
                first = q;
            }
            len += 1;
        }
    }
    match len {
        0 => "",
        1 => keep_str(&[first]),
        2 => keep_str(&[first, other(first)]),
        3 => keep_str(&[first, other(first), first]),
        _ => "",
    }
}

/// The net quotes of `text` read as a regular-expression rule sees it: every `'` and `"` not
/// escaped by a backslash (see [`net_quotes`]).
pub(crate) fn unescaped_quotes(text: &str) -> &'static str {
    // Most secrets hold no quote at all: one byte search answers that.
    if memchr::memchr2(b'\'', b'"', text.as_bytes()).is_none() {
        return "";
    }
    let mut escaped = false;
    net_quotes(text.bytes().filter(move |&b| {
        let was = escaped;
        escaped = !was && b == b'\\';
        !was && (b == b'\'' || b == b'"')
    }))
}

/// A byte class as a lookup table: `true` for each byte of `bytes`.
pub(crate) const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

/// A case-insensitive DFA over fixed short literals (the engine's hints, the command-line
/// rule's program names), every overlapping occurrence reported.
pub(crate) fn literal_automaton<P: AsRef<[u8]>>(literals: &[P]) -> aho_corasick::AhoCorasick {
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::Standard)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(literals)
        .expect("literal automaton builds") // ok: fixed lists of short literals always build
}

/// The static string of a short quote sequence. One word's quotes cancel down to at most two;
/// three can come from joining spans of two reading levels. Anything longer keeps none: the
/// text may then read differently, and the engine's next pass redacts what that exposes.
fn keep_str(net: &[u8]) -> &'static str {
    match net {
        [] => "",
        [b'\''] => "'",
        [b'"'] => "\"",
        [b'\'', b'"'] => "'\"",
        [b'"', b'\''] => "\"'",
        [b'\'', b'"', b'\''] => "'\"'",
        [b'"', b'\'', b'"'] => "\"'\"",
        _ => "",
    }
}

/// Memo carried through one pass of one rule over one text (see the module comment).
#[derive(Debug, Default)]
pub(crate) struct ScanState {
    /// For `"` and `'`: an escape-aware closed-quote scan failed at this offset, so any later
    /// scan that opens before it fails too (the scans converge on the same path).
    pub quote_fail: [Option<usize>; 2],
    /// The last computed run of non-quote, non-newline characters: `(start, end)`.
    pub plain_run: Option<(usize, usize)>,
    /// The last footer search of the private-key rule: `(searched_from, found)`.
    pub footer: Option<(usize, Option<Range<usize>>)>,
    /// Capture slots of a pattern rule, allocated on its first search and then reused.
    pub captures: Option<regex::CaptureLocations>,
    /// Every secret span of a rule that finds them all at once (the command-line rule).
    pub spans: Option<Vec<Span>>,
    /// Index of the first span of `spans` not yet returned (searches only move forward).
    pub span_next: usize,
}

/// [`Rule::find`] for a rule that finds all its spans of a text at once (`all`, sorted and
/// without overlaps): computes them on the first search of the text and hands out the first
/// one starting at or after `from` (searches only move forward).
pub(crate) fn next_span(
    state: &mut ScanState,
    from: usize,
    all: impl FnOnce() -> Vec<Span>,
) -> Option<Hit> {
    let spans = state.spans.get_or_insert_with(all);
    while spans
        .get(state.span_next)
        .is_some_and(|s| s.range.start < from)
    {
        state.span_next += 1;
    }
    let next = spans.get(state.span_next)?;
    Some(Hit {
        secret: next.range.clone(),
        resume: next.range.end,
        keep: next.keep,
    })
}

/// A redaction rule: finds the next secret at or after `from`.
pub(crate) trait Rule: Send + Sync {
    /// Case-insensitive literals of which at least one must occur for the rule to match
    /// (an empty list means "always run"). Used only to skip work, never to decide a match.
    fn hints(&self) -> &'static [&'static str];

    /// Whether the rule may run on `text` at all (the MySQL rule's whole-text gate).
    fn gate(&self, _text: &str) -> bool {
        true
    }

    /// For a rule without hints: a pattern (`regex::bytes` syntax) that every text the rule
    /// can change contains. `relay-shell redact` searches a whole block of lines for it once
    /// instead of asking [`Rule::gate`] line by line; `None` makes every line a candidate.
    fn scan_filter(&self) -> Option<&'static str> {
        None
    }

    /// Whether the rule's hits say themselves which quotes follow their placeholder
    /// ([`Hit::keep`], the command-line rule, which reads the quoting). For every other rule
    /// the engine keeps the quote characters of the replaced text that it cannot see paired
    /// (see `substitute::unpaired_quotes`), so a replacement never changes how the text around it is
    /// quoted for the rules that read it next.
    fn reads_quotes(&self) -> bool {
        false
    }

    /// Whether a value that begins with a placeholder is still redacted, its placeholder and
    /// all. True for most rules (a late rule may uncover more of a secret behind an early
    /// rule's placeholder: `://[REDACTED]:pw@`). The MySQL `-p` rule says no: its value is
    /// the rest of a word by Python's `\s`, which ends words elsewhere than the command-line
    /// rule's shell reading, and each extending the other's placeholder by a stretch per pass
    /// kept redaction from reaching its fixed point (a fuzz finding).
    fn extends_placeholders(&self) -> bool {
        true
    }

    /// The leftmost secret whose match starts at or after `from`.
    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit>;
}

/// Python's `\s` for `str` patterns: Unicode whitespace plus the separators `\x1c`–`\x1f`.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `\w` for `str` patterns, near enough: Unicode alphanumerics and `_`.
pub(crate) fn is_py_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The character that ends right before byte offset `at`, if any.
pub(crate) fn char_before(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|head| head.chars().next_back())
}

/// The character that starts at byte offset `at`, if any.
pub(crate) fn char_at(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|tail| tail.chars().next())
}

/// Byte offset of the character after the one at `at` (or `at + 1` past the end).
pub(crate) fn next_char_boundary(text: &str, at: usize) -> usize {
    char_at(text, at).map_or(at + 1, |c| at + c.len_utf8())
}

/// End of the run of Python-whitespace characters starting at `at`.
pub(crate) fn skip_py_space(text: &str, at: usize) -> usize {
    let mut end = at;
    for c in text[at..].chars() {
        if !is_py_space(c) {
            break;
        }
        end += c.len_utf8();
    }
    end
}

/// Scans an escape-aware quoted string `Q(?:[^Q\\]|\\.)*Q` whose opening quote is at `open`.
/// Returns the offset just past the closing quote, or `None` when the string never closes.
///
/// Python's `.` does not match `\n`, so a backslash before a newline (or at the very end)
/// ends the scan without a match, exactly as the backtracking engine would.
pub(crate) fn closed_quote_end(text: &str, open: usize, state: &mut ScanState) -> Option<usize> {
    let bytes = text.as_bytes();
    let quote = bytes[open];
    let slot = usize::from(quote == b'\'');
    if let Some(fail) = state.quote_fail[slot]
        && open < fail
    {
        return None;
    }
    // Byte-wise is safe: the bytes we test for are ASCII and never occur inside a multi-byte
    // UTF-8 sequence, and a skipped escape's continuation bytes count as ordinary characters.
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b if b == quote => return Some(i + 1),
            b'\\' => {
                if i + 1 < bytes.len() && bytes[i + 1] != b'\n' {
                    i += 2;
                } else {
                    state.quote_fail[slot] = Some(i);
                    return None;
                }
            }
            _ => i += 1,
        }
    }
    state.quote_fail[slot] = Some(bytes.len());
    None
}

/// End of the line that contains `at`: the first `\r` or `\n` at or after it, or the end.
pub(crate) fn line_end(text: &str, at: usize) -> usize {
    text.as_bytes()[at..]
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .map_or(text.len(), |p| at + p)
}

/// The value of a CLI secret flag (docs/compatibility.md) starting at `at`, if one starts there:
/// a double- or single-quoted escape-aware string, an unterminated quote running to the end
/// of the line, or a bare token (`\\.` or a non-space) that does not begin with `--`.
/// Returns the end offset of the value.
pub(crate) fn flag_value_end(text: &str, at: usize, state: &mut ScanState) -> Option<usize> {
    let first = char_at(text, at)?;
    if first == '"' || first == '\'' {
        return Some(closed_quote_end(text, at, state).unwrap_or_else(|| line_end(text, at)));
    }
    if first == '-' && char_at(text, at + 1) == Some('-') {
        return None;
    }
    if let Some(after) = continuation_end(text, at) {
        // `--password \<newline>  VALUE`: the value is on the continued line.
        let next = after
            + text[after..]
                .bytes()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
        if next == after || continuation_end(text, next).is_some() {
            return None;
        }
        return flag_value_end(text, next, state);
    }
    let end = bare_token_end(text, at);
    (end > at).then_some(end)
}

/// Where a value starting at `at` really starts: past any line continuations, each followed
/// by blanks (`--password \<newline>  VALUE`).
pub(crate) fn skip_continuations(text: &str, mut at: usize) -> usize {
    while let Some(after) = continuation_end(text, at) {
        at = after
            + text[after..]
                .bytes()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
    }
    at
}

/// Whether the line break at `nl` is escaped by a backslash (an odd run of them right before
/// it, or before its `\r`): the shell reads the next line as part of the same command. A run
/// inside single quotes is counted too, which can only join more lines, never fewer.
pub(crate) fn escaped_line_break(bytes: &[u8], nl: usize) -> bool {
    let before = &bytes[..nl];
    let before = before.strip_suffix(b"\r").unwrap_or(before);
    before.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// The end of a line continuation (a backslash, then `\n` or `\r\n`) starting at `at`.
pub(crate) fn continuation_end(text: &str, at: usize) -> Option<usize> {
    let rest = text.as_bytes().get(at..)?;
    if rest.starts_with(b"\\\n") {
        Some(at + 2)
    } else if rest.starts_with(b"\\\r\n") {
        Some(at + 3)
    } else {
        None
    }
}

/// End of the run of units `\\.|\S` starting at `at` (Python semantics: `.` is not `\n`).
/// A line continuation inside the run (`abc\<newline>def`) joins it, as the shell does; one
/// followed by whitespace ends it before the backslash.
pub(crate) fn bare_token_end(text: &str, at: usize) -> usize {
    let mut chars = text[at..].char_indices().peekable();
    let mut end = at;
    while let Some((i, c)) = chars.next() {
        if c == '\\'
            && let Some(after) = continuation_end(text, at + i)
        {
            if i > 0 && char_at(text, after).is_some_and(|n| !is_py_space(n)) {
                while chars.peek().is_some_and(|&(j, _)| at + j < after) {
                    chars.next();
                }
                continue;
            }
            break;
        }
        if c == '\\'
            && let Some(&(_, next)) = chars.peek()
            && next != '\n'
        {
            chars.next();
            end = at + i + 1 + next.len_utf8();
            continue;
        }
        if is_py_space(c) {
            break;
        }
        end = at + i + c.len_utf8();
    }
    end
}

/// Rewrites a pattern's `\s` / `\S` into Python's whitespace class (adds `\x1c`–`\x1f`).
pub(crate) fn py_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut in_class = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('s') if in_class => out.push_str(r"\s\x1C-\x1F"),
                Some('s') => out.push_str(r"[\s\x1C-\x1F]"),
                Some('S') => out.push_str(r"[^\s\x1C-\x1F]"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A leading `]` or `^]` is a literal member, not the end of the class.
                let rest = chars.as_str();
                if let Some(after) = rest.strip_prefix('^') {
                    out.push('^');
                    chars = after.chars();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A built-in pattern (after [`py_pattern`]), compiled the first time it is used. Most rules
/// run only when their hint literal occurs, so most output never builds most of them (each
/// costs tens of KiB). The tables are constants covered by tests (`every_pattern_compiles`),
/// so a failure to compile is a programming error caught before release.
pub(crate) struct LazyRegex {
    pattern: String,
    compiled: OnceLock<Regex>,
}

impl std::ops::Deref for LazyRegex {
    type Target = Regex;

    fn deref(&self) -> &Regex {
        self.compiled.get_or_init(|| {
            Regex::new(&self.pattern).expect("built-in redaction pattern compiles") // ok: constant pattern, compiled by every_pattern_compiles
        })
    }
}

/// Patterns handed to [`compile`] (tests compile every one).
#[cfg(test)]
pub(crate) static PATTERNS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A built-in pattern with Python's `\s` semantics, compiled on first use.
pub(crate) fn compile(pattern: &str) -> LazyRegex {
    let pattern = py_pattern(pattern);
    #[cfg(test)]
    PATTERNS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(pattern.clone());
    LazyRegex {
        pattern,
        compiled: OnceLock::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_quotes_is_the_cancelling_stack() {
        // The stack the definition describes, against the alternating form kept instead.
        let by_stack = |quotes: &[u8]| {
            let mut net: Vec<u8> = Vec::new();
            for &q in quotes.iter().filter(|&&q| q == b'\'' || q == b'"') {
                if net.last() == Some(&q) {
                    net.pop();
                } else {
                    net.push(q);
                }
            }
            keep_str(&net)
        };
        for text in crate::redact::generated_texts(&["'", "\"", "x"], 9, 20_000, 5) {
            assert_eq!(
                net_quotes(text.bytes()),
                by_stack(text.as_bytes()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn every_pattern_compiles() {
        let _ = crate::redact::Redactor::new().redact("x");
        let patterns = PATTERNS.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(patterns.len() > 20, "the engine registered its patterns");
        for p in patterns {
            assert!(Regex::new(&p).is_ok(), "{p}");
        }
    }

    #[test]
    fn py_pattern_rewrites_whitespace_inside_and_outside_classes() {
        assert_eq!(py_pattern(r"a\s+b"), r"a[\s\x1C-\x1F]+b");
        assert_eq!(py_pattern(r"[^\s'\r\n]+"), r"[^\s\x1C-\x1F'\r\n]+");
        assert_eq!(py_pattern(r"(?:\\.|\S)+"), r"(?:\\.|[^\s\x1C-\x1F])+");
    }

    #[test]
    fn closed_quote_scan_honours_escapes_and_newline_rule() {
        let mut st = ScanState::default();
        assert_eq!(closed_quote_end(r#""a\"b" x"#, 0, &mut st), Some(6));
        let mut st = ScanState::default();
        assert_eq!(closed_quote_end("\"ab\\\ncd\"", 0, &mut st), None);
        let mut st = ScanState::default();
        assert_eq!(closed_quote_end("\"a\nb\"", 0, &mut st), Some(5));
    }

    #[test]
    fn bare_token_keeps_escaped_spaces() {
        assert_eq!(bare_token_end(r"top\ secret next", 0), 11);
        assert_eq!(bare_token_end("a\\", 0), 2);
        // A continuation joins the token, unless whitespace follows it.
        assert_eq!(bare_token_end("a\\\nb", 0), 4);
        assert_eq!(bare_token_end("a\\\n b", 0), 1);
    }
}
