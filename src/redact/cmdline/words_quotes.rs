//! Quoted parts: where a quote closes, and what the inside of one adds to a word (a child
//! module of `words.rs`, whose reader calls these).

use std::ops::Range;

use super::Reader;
use super::build::WordBuilder;

impl<'t> Reader<'t, '_> {
    /// The offset of the quote that closes the one at `self.pos`, on the same logical line
    /// (a double-quoted part may hold escaped quotes and continued lines).
    pub(super) fn closing_quote(&self, quote: char) -> Option<usize> {
        let bytes = &self.text.as_bytes()[..self.end];
        let quote = quote as u8;
        let mut i = self.pos + 1;
        // Byte searches for the bytes that matter: the quote, a line break and (in double
        // quotes) a backslash. Every other byte is skipped, as a byte-by-byte scan would.
        while i < bytes.len() {
            let rest = &bytes[i..];
            let p = if quote == b'"' {
                let p = memchr::memchr3(quote, b'\\', b'\n', rest)?;
                if memchr::memchr(b'\r', &rest[..p]).is_some() {
                    return None;
                }
                p
            } else {
                memchr::memchr3(quote, b'\n', b'\r', rest)?
            };
            i += p;
            match bytes[i] {
                b'\\' => {
                    if bytes.get(i + 1) == Some(&b'\r') {
                        i += 1;
                    }
                    i += 2;
                }
                b'\n' | b'\r' => return None,
                _ => return Some(i),
            }
        }
        None
    }

    /// Appends the inside of a quoted part. In double quotes a backslash escapes `\ " $ ``
    /// and a line break (removed); elsewhere it is literal.
    pub(super) fn quoted(&self, word: &mut WordBuilder<'t, '_>, inner: Range<usize>, double: bool) {
        if !double || !self.text.as_bytes()[inner.clone()].contains(&b'\\') {
            word.push_run(inner.start, inner.end);
            return;
        }
        let mut chars = self.text[inner.clone()].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let at = inner.start + i;
            if double && c == '\\' {
                match chars.peek().copied() {
                    Some((_, '\n')) => {
                        chars.next();
                        continue;
                    }
                    Some((_, '\r')) => {
                        chars.next();
                        if chars.peek().is_some_and(|&(_, n)| n == '\n') {
                            chars.next();
                        }
                        continue;
                    }
                    Some((j, n @ ('\\' | '"' | '$' | '`'))) => {
                        chars.next();
                        word.push(n, inner.start + j);
                        continue;
                    }
                    _ => {}
                }
            }
            word.push(c, at);
        }
    }
}
