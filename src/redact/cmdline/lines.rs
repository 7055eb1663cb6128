//! Where the command-line rule reads: the names that stand as words of their own, and the
//! logical lines around them (lines joined by `\` continuations and trailing pipes).

use std::ops::Range;

use super::table;
use crate::redact::scan::escaped_line_break;

/// The bytes program and verb names are made of (a unit test checks every name), which are
/// also the bytes that join a name to the word around it (`mysql_config`, `my-mysql`).
pub(super) static NAME_BYTES: [bool; 256] = crate::redact::scan::byte_set(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
);

/// Where the first name of the table at or after `from` stands as a word of its own: a whole
/// maximal run of [`NAME_BYTES`] that is a name (ASCII case-insensitive) and does not follow a
/// `.` (`my.mysql` names no program; `mysql.exe` does). Every word whose base name is a name
/// holds one: a base name starts after a `/`, a blank or a shell operator and ends at the
/// word's end or its `.exe`. Each byte is read once, where a search for every name at every
/// position cost several times as much on text with a name in every line.
pub(super) fn next_name(bytes: &[u8], from: usize) -> Option<Range<usize>> {
    let t = table();
    let is_name_byte = |b: &u8| NAME_BYTES[usize::from(*b)];
    let run_end = |at: usize| {
        bytes
            .get(at..)
            .and_then(|rest| rest.iter().position(|b| !is_name_byte(b)))
            .map_or(bytes.len(), |p| at + p)
    };
    let mut at = from;
    // A run that `from` falls inside starts before it.
    if at > 0 && bytes.get(at - 1).is_some_and(is_name_byte) {
        at = run_end(at);
    }
    let mut buf = [0u8; 32];
    loop {
        let start = at + bytes.get(at..)?.iter().position(is_name_byte)?;
        let end = run_end(start);
        at = end;
        if (start == 0 || bytes[start - 1] != b'.')
            && t.named(&bytes[start..end], &mut buf).is_some()
        {
            return Some(start..end);
        }
    }
}

/// Whether the line that ends at `nl` ends with a pipe (`echo x |` then `tee f` on the next
/// line is one pipeline).
fn ends_with_pipe(bytes: &[u8], nl: usize) -> bool {
    bytes[..nl]
        .iter()
        .rev()
        .find(|&&b| !matches!(b, b' ' | b'\t' | b'\r'))
        == Some(&b'|')
}

/// The start of the logical line (lines joined by `\` continuations) that holds `at`.
pub(super) fn logical_line_start(bytes: &[u8], mut at: usize) -> usize {
    while let Some(nl) = memchr::memrchr(b'\n', &bytes[..at]) {
        if !escaped_line_break(bytes, nl) {
            return nl + 1;
        }
        at = nl;
    }
    0
}

/// The end (past its line break) of the logical line that holds `at`, joined with the next
/// one while it ends in a pipe.
pub(super) fn logical_line_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(p) = memchr::memchr(b'\n', &bytes[at..]) {
        let nl = at + p;
        if !escaped_line_break(bytes, nl) && !ends_with_pipe(bytes, nl) {
            return nl + 1;
        }
        at = nl + 1;
    }
    bytes.len()
}
