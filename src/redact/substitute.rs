//! Placeholder substitution: one rule's findings replaced left to right, non-overlapping
//! (Python `re.sub`), with the checks that keep redaction idempotent — a value that already is
//! a placeholder stays, a span never cuts a placeholder in two, and the quoting around a
//! replaced value is kept.

use super::PLACEHOLDER;
use super::replay::Edits;
use super::scan::{Rule, ScanState, next_char_boundary};

/// How a secret is replaced.
pub(crate) enum Substitution<'k> {
    /// `[REDACTED]`.
    Plain,
    /// `[REDACTED:xxxxxxxx]`, the first 8 hex digits of HMAC-SHA256 under this key.
    Keyed(&'k [u8]),
}

/// Applies one rule left to right, non-overlapping (Python `re.sub`). `None` if no change.
///
/// Each replacement is recorded in `edits`, for the engine to map positions in `text` to the
/// output. The output is written into `spare` when there is one (a text the engine no longer
/// needs), else into a new string.
pub(super) fn apply(
    rule: &dyn Rule,
    text: &str,
    sub: &Substitution<'_>,
    edits: &mut Edits,
    spare: &mut Option<String>,
) -> Option<String> {
    let mut state = ScanState::default();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut pos = 0;
    while pos <= text.len() {
        let Some(hit) = rule.find(text, pos, &mut state) else {
            break;
        };
        let next = if hit.resume > pos {
            hit.resume
        } else {
            next_char_boundary(text, pos)
        };
        let span = outside_placeholders(text, hit.secret.clone());
        if span.start >= copied
            && span.start < span.end
            && let Some(secret) = text.get(span.clone())
            && !is_placeholder(secret)
            && (rule.extends_placeholders() || !starts_with_placeholder(secret))
        {
            // The quotes written after the placeholder: the rule's own when it reads the
            // quoting, else those of the replaced text that are not seen paired inside it.
            let keep = if rule.reads_quotes() {
                hit.keep
            } else {
                unpaired_quotes(text, span.clone(), secret)
            };
            // A placeholder already followed by exactly those quotes is final.
            if !placeholder_then(secret, keep) {
                let buf = out.get_or_insert_with(|| match spare.take() {
                    Some(mut buf) => {
                        buf.clear();
                        buf.reserve(text.len());
                        buf
                    }
                    None => String::with_capacity(text.len()),
                });
                buf.push_str(&text[copied..span.start]);
                let written = buf.len();
                push_placeholder(buf, secret, sub);
                buf.push_str(keep);
                edits.push(span.start, span.end, buf.len() - written);
                copied = span.end;
            }
        }
        pos = next;
    }
    let mut buf = out?;
    buf.push_str(&text[copied..]);
    Some(buf)
}

/// The placeholder that strictly contains byte offset `at` (starts before it, ends after it).
///
/// Every byte of a placeholder before its closing `]` is `[` (its first), a letter of
/// `REDACTED`, `:` or a lower-case hex digit. So the search goes back from `at` over such bytes
/// only, at most 18 (a placeholder is at most 19 bytes long): the first `[` it meets is the
/// only possible start, and any other byte ends it at once — as it does for nearly every span,
/// which a byte search set up per call cost several times more for.
fn placeholder_around(text: &str, at: usize) -> Option<std::ops::Range<usize>> {
    const INSIDE: [bool; 256] = super::scan::byte_set(b"REDACT:0123456789abcdef");
    let bytes = text.as_bytes();
    if at > bytes.len() {
        return None;
    }
    let floor = at.saturating_sub(18);
    let mut start = at;
    while start > floor {
        start -= 1;
        match bytes[start] {
            b'[' => {
                if !bytes[start..].starts_with(b"[REDACTED") {
                    return None;
                }
                return [10, 19].into_iter().find_map(|len| {
                    let end = start + len;
                    (end > at && text.get(start..end).is_some_and(is_placeholder))
                        .then_some(start..end)
                });
            }
            b if INSIDE[usize::from(b)] => {}
            _ => return None,
        }
    }
    None
}

/// A secret span with its ends moved out of any placeholder they fall inside: a rule that
/// splits a value at `:` or `%` must not cut a keyed placeholder `[REDACTED:xxxxxxxx]` in
/// two (that would not be idempotent). The start moves past the placeholder, the end to its end.
fn outside_placeholders(text: &str, span: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let start = placeholder_around(text, span.start).map_or(span.start, |p| p.end);
    let end = placeholder_around(text, span.end).map_or(span.end, |p| p.end);
    start..end.max(start)
}

/// For a rule that does not read quoting: the quotes of `secret` (at `span` in `text`) that
/// are not paired inside it and that a quote of the same kind elsewhere on its line may pair
/// with. An unterminated quote with no partner on the line stays part of the secret (as the
/// compatible rules replace it).
fn unpaired_quotes(text: &str, span: std::ops::Range<usize>, secret: &str) -> &'static str {
    let net = super::scan::unescaped_quotes(secret);
    if net.is_empty() {
        return net;
    }
    let before = &text[..span.start];
    let before = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let after = &text[span.end..];
    let after = &after[..after.find('\n').unwrap_or(after.len())];
    let kept = net
        .bytes()
        .filter(|&q| before.as_bytes().contains(&q) || after.as_bytes().contains(&q));
    super::scan::net_quotes(kept)
}

/// The length of the placeholder, plain or keyed, that `s` begins with.
fn placeholder_prefix(s: &str) -> Option<usize> {
    if !s.starts_with("[REDACTED") {
        return None;
    }
    [PLACEHOLDER.len(), 19]
        .into_iter()
        .find(|&n| s.get(..n).is_some_and(is_placeholder))
}

/// Whether `s` begins with a placeholder, plain or keyed.
fn starts_with_placeholder(s: &str) -> bool {
    placeholder_prefix(s).is_some()
}

/// Whether `s` is a placeholder followed by exactly `keep` (which a replacement would write
/// again unchanged).
fn placeholder_then(s: &str, keep: &str) -> bool {
    !keep.is_empty() && placeholder_prefix(s).is_some_and(|n| &s[n..] == keep)
}

/// Whether `s` is already a placeholder, plain or keyed. Such a value is left as it is, so
/// redaction is idempotent in both modes.
pub(crate) fn is_placeholder(s: &str) -> bool {
    if s == PLACEHOLDER {
        return true;
    }
    s.len() == 19
        && s.starts_with("[REDACTED:")
        && s.ends_with(']')
        && s[10..18]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn push_placeholder(out: &mut String, secret: &str, sub: &Substitution<'_>) {
    match sub {
        Substitution::Plain => out.push_str(PLACEHOLDER),
        Substitution::Keyed(key) => {
            out.push_str("[REDACTED:");
            out.push_str(&super::correlation_tag(key, secret));
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: every start from the nearest byte back, at most 18 bytes back.
    fn reference(text: &str, at: usize) -> Option<std::ops::Range<usize>> {
        (1..=at.min(18)).map(|k| at - k).find_map(|start| {
            if !text.as_bytes()[start..].starts_with(b"[REDACTED") {
                return None;
            }
            [10, 19].into_iter().find_map(|len| {
                let end = start + len;
                (end > at && text.get(start..end).is_some_and(is_placeholder)).then_some(start..end)
            })
        })
    }

    #[test]
    fn placeholder_around_finds_the_nearest_enclosing_placeholder() {
        let texts = [
            "a [REDACTED] b [REDACTED:0123abcd] c",
            "[REDACTED:0123abcd][REDACTED]",
            "[[REDACTED:zz][REDACTED:01234567]]",
            "[REDACTED:0123abc] [REDACTED",
            "é[REDACTED]é[REDACTED:89abcdef]",
            "[REDACTED[REDACTED]]",
            "[REDACTED:[REDACTED] [RED[REDACTED:0123abcd]x[REDACTED:0123ABCD]",
            "a:[REDACTED:deadbeef]:b [REDACTED]: [REDACTED:]",
            "no brackets here at all, just text",
        ];
        for text in texts {
            for at in 0..=text.len() {
                assert_eq!(
                    placeholder_around(text, at),
                    reference(text, at),
                    "{text:?} at {at}"
                );
            }
        }
    }
}
