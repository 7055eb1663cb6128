//! Which rules a text may need: the hint search. A SIMD search over case-folded bytes
//! proposes the positions where a minimal hint may start; each proposal is checked exactly
//! ([`Engine::hints_at`]) and recorded, so the next pass can replay it instead of searching
//! (`replay.rs`). [`Engine::first_work`] finds where the text mode's first work is.

use std::cell::RefCell;

use aho_corasick::packed;

use super::super::replay::Proposals;
use super::super::verify;
use super::{Engine, Unhinted};

/// Whether `text` holds `hint` (ASCII lower case) at byte offset `at`, ignoring ASCII case.
pub(super) fn hint_at(text: &[u8], at: usize, hint: &[u8]) -> bool {
    text.get(at..at + hint.len())
        .is_some_and(|window| window.eq_ignore_ascii_case(hint))
}

/// A hint's first eight bytes as one word, for [`Head::at`]: every proposal of a secret-dense
/// text compares one or two hints, and the byte loop of `eq_ignore_ascii_case` cost about a
/// hundred instructions per proposal.
#[derive(Clone, Copy)]
pub(super) struct Head {
    /// The hint's first bytes (ASCII lower case), little-endian; zero past its end.
    bytes: u64,
    /// `0x20` in the byte of each ASCII letter: a text byte ORed with it equals a lower-case
    /// letter exactly when it is that letter in either case, and any other hint byte must
    /// match exactly (lower-casing maps only `A`–`Z`).
    case: u64,
    /// `0xff` in each byte the hint has.
    mask: u64,
}

impl Head {
    /// The head of `hint` (ASCII lower case).
    pub(super) fn of(hint: &[u8]) -> Head {
        let mut head = Head {
            bytes: 0,
            case: 0,
            mask: 0,
        };
        for (i, &b) in hint.iter().take(8).enumerate() {
            let shift = 8 * i;
            head.bytes |= u64::from(b) << shift;
            head.mask |= 0xff << shift;
            if b.is_ascii_lowercase() {
                head.case |= 0x20 << shift;
            }
        }
        head
    }

    /// Whether `text` holds `hint` (whose head this is) at `at`, ignoring ASCII case: the
    /// same answer as [`hint_at`].
    #[inline]
    pub(super) fn at(&self, text: &[u8], at: usize, hint: &[u8]) -> bool {
        let Some(word) = text.get(at..).and_then(|rest| rest.first_chunk::<8>()) else {
            return hint_at(text, at, hint);
        };
        let word = u64::from_le_bytes(*word);
        (word | self.case) & self.mask == self.bytes
            && (hint.len() <= 8 || hint_at(text, at + 8, &hint[8..]))
    }
}

/// Most literals of a searcher. A searcher of up to 32 literals scans 32 bytes per step (one
/// of more steps 16 bytes at a time and costs over twice as much per byte; a searcher holds
/// at most 64), but it sorts its literals into eight buckets and checks every position whose
/// bytes match any literal of a bucket nibble by nibble: the more literals per bucket, the
/// more positions of ordinary text it checks. At 24, one more scan of the text costs less
/// than the checks it saves (docs/performance.md, "Attacked forms").
pub(super) const SLIM_GROUP: usize = 24;

/// Most long literals ([`search_literals`]) before a family of them moves to the short group:
/// three searchers' worth.
pub(super) const LONG_LITERALS: usize = 3 * SLIM_GROUP;

/// Bytes folded per step by the quick hint check (plus an overlap of the longest hint).
pub(super) const FOLD_CHUNK: usize = 32 << 10;

/// The first chunk [`Engine::first_work`] folds; each next one is twice as long.
pub(super) const FIRST_CHUNK: usize = 4 * HINT_OVERLAP;

/// Texts up to this many bytes are folded into a stack buffer for the hint scan.
pub(super) const SHORT_TEXT: usize = 512;

/// Bytes shared by consecutive chunks of the quick check: more than the longest hint, so a
/// hint that straddles a chunk end lies whole in the next chunk.
pub(super) const HINT_OVERLAP: usize = 64;

/// Case folding for the quick check: `b | 0x20` lowers ASCII letters and maps a few other
/// bytes onto each other (`_` onto DEL, `\r` onto `-`). Hints are folded the same way, so the
/// check can only say "maybe" too often, never miss a hint.
pub(super) fn fold(b: u8) -> u8 {
    b | 0x20
}

thread_local! {
    /// The buffer a thread folds text into for the hint search.
    static FOLDED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's fold buffer (a new one while it is in use).
fn with_folded<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    FOLDED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut Vec::new()),
    })
}

/// The literal groups the SIMD searchers look for: a prefix cover of `hints` (folded,
/// minimal). Every hint starts with a literal of some group, so a position where none starts
/// holds no hint; where one does, [`Engine::hints_at`] compares the hints exactly.
///
/// A searcher compares as many leading bytes per candidate position as its shortest literal
/// has (at most four), so literals of three bytes and longer ones are searched apart: the
/// long ones then reject nearly every position on four bytes. While the long group has more
/// than [`LONG_LITERALS`], its largest family sharing a two-byte prefix (the `gl…-` GitLab
/// token prefixes) joins the short group as the family's three-byte prefixes.
pub(super) fn search_literals(hints: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
    let (mut short, mut long): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
        hints.into_iter().partition(|h| h.len() < 4);
    while long.len() > LONG_LITERALS {
        let mut families: Vec<(&[u8], usize)> = Vec::new();
        for h in &long {
            let two = &h[..2];
            match families.iter_mut().find(|(p, _)| *p == two) {
                Some((_, n)) => *n += 1,
                None => families.push((two, 1)),
            }
        }
        let Some(&(two, n)) = families.iter().max_by_key(|(_, n)| *n) else {
            break;
        };
        if n < 2 {
            break;
        }
        let two = two.to_vec();
        for h in long.iter().filter(|h| h.starts_with(&two)) {
            if !short.iter().any(|s| h.starts_with(s)) {
                short.push(h[..3].to_vec());
            }
        }
        long.retain(|h| !h.starts_with(&two));
    }
    // Groups are cut to at most SLIM_GROUP literals, balanced.
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    for group in [short, long] {
        let size = group
            .len()
            .div_ceil(group.len().div_ceil(SLIM_GROUP).max(1));
        groups.extend(group.chunks(size.max(1)).map(<[Vec<u8>]>::to_vec));
    }
    groups.retain(|g| !g.is_empty());
    groups
}

impl Engine {
    /// Whether any hint may occur in `text` (false positives possible, no false negatives).
    /// Only the tests ask this alone; [`Self::candidates`] runs the same search.
    #[cfg(test)]
    pub(super) fn may_have_hint(&self, text: &str) -> bool {
        let Some(any_hint) = &self.any_hint else {
            return true;
        };
        let bytes = text.as_bytes();
        with_folded(|buf| {
            let mut start = 0;
            loop {
                let end = (start + FOLD_CHUNK).min(bytes.len());
                buf.clear();
                buf.extend(bytes[start..end].iter().copied().map(fold));
                if any_hint.iter().any(|h| h.find(&buf[..]).is_some()) {
                    return true;
                }
                if end == bytes.len() {
                    return false;
                }
                start = end - HINT_OVERLAP;
            }
        })
    }

    /// The set of rules whose hints occur in `text`.
    ///
    /// The SIMD search over case-folded bytes proposes every position where a minimal hint
    /// may start (it can over-report, never miss); each proposal is then checked exactly
    /// against the text, with the longer hints that contain the one found. This gives the
    /// same set as an overlapping case-insensitive scan for every hint.
    ///
    /// The proposals are recorded in `proposals` for the next pass ([`Self::replay`]).
    pub(super) fn candidates(&self, text: &str, proposals: &mut Proposals) -> u128 {
        proposals.len = 0;
        proposals.complete = proposals.allowed;
        let Some(any_hint) = &self.any_hint else {
            proposals.complete = false;
            let mut mask = self.always;
            for m in self.hints.find_overlapping_iter(text) {
                let hint = text[m.range()].to_ascii_lowercase();
                if verify::verifier(hint.as_bytes()).is_none_or(|v| v(text.as_bytes(), m.start())) {
                    mask |= self.hint_rules[m.pattern().as_usize()];
                }
            }
            return mask;
        };
        let bytes = text.as_bytes();
        // A line usually fits on the stack, which saves the thread-local buffer.
        if bytes.len() <= SHORT_TEXT {
            let mut buf = [0u8; SHORT_TEXT];
            for (folded, &b) in buf.iter_mut().zip(bytes) {
                *folded = fold(b);
            }
            return self.always
                | self.scan_chunk(any_hint, &buf[..bytes.len()], bytes, 0, proposals);
        }
        with_folded(|buf| {
            let mut mask = self.always;
            let mut start = 0;
            loop {
                let end = (start + FOLD_CHUNK).min(bytes.len());
                buf.clear();
                buf.extend(bytes[start..end].iter().copied().map(fold));
                mask |= self.scan_chunk(any_hint, buf, bytes, start, proposals);
                if end == bytes.len() {
                    return mask;
                }
                start = end - HINT_OVERLAP;
            }
        })
    }

    /// The rules enabled by the hints found in `folded`, the folded copy of `text` from byte
    /// offset `start`. Every proposal is recorded in `proposals`.
    pub(super) fn scan_chunk(
        &self,
        any_hint: &[packed::Searcher],
        folded: &[u8],
        text: &[u8],
        start: usize,
        proposals: &mut Proposals,
    ) -> u128 {
        let mut mask = 0;
        for (group, searcher) in any_hint.iter().enumerate() {
            let mut from = 0;
            while let Some(m) =
                searcher.find_in(folded, aho_corasick::Span::from(from..folded.len()))
            {
                let (at, literal) = (start + m.start(), m.pattern().as_usize());
                let (verified, present) = self.hints_at(text, at, group, literal);
                proposals.record(at, group, literal, present);
                mask |= verified;
                from = m.start() + 1;
            }
        }
        mask
    }

    /// The rules enabled by the hints at `proposals` in `text`: the candidates of a pass whose
    /// input is the output of the pass that recorded them ([`Proposals`]).
    pub(super) fn replay(&self, text: &str, proposals: &mut Proposals) -> u128 {
        let bytes = text.as_bytes();
        let mut mask = self.always;
        for (&(at, group, literal), present) in proposals.at[..proposals.len]
            .iter()
            .zip(&mut proposals.present)
        {
            let found = self.hints_at(bytes, at, usize::from(group), usize::from(literal));
            mask |= found.0;
            *present = found.1;
        }
        mask
    }

    /// The offset of the first place in `bytes` where redaction may have work: the start of
    /// a hint, or a match of the block filter of a rule without hints. `None` means no line
    /// of `bytes` can change, so `relay-shell redact` copies it through. `bytes` need not be
    /// UTF-8 (hints are ASCII). One SIMD search over the block, no per-line work.
    pub(crate) fn first_work(&self, bytes: &[u8]) -> Option<usize> {
        if matches!(self.unhinted, Unhinted::Every) {
            return (!bytes.is_empty()).then_some(0);
        }
        let hint = self.first_hint(bytes);
        let Unhinted::Filter(filter) = &self.unhinted else {
            return hint;
        };
        // The filter is searched only up to the end of the hint's line: a filter match lies
        // within one line (see `PatternRule::filtered_by`), so one that starts after that line
        // cannot come first. Searching the whole rest of the block for every line redacted
        // made secret-dense text quadratic in the block size.
        let limit = hint.map_or(bytes.len(), |h| {
            memchr::memchr(b'\n', &bytes[h..]).map_or(bytes.len(), |i| h + i + 1)
        });
        let unhinted = filter.find(&bytes[..limit]).map(|m| m.start());
        match (hint, unhinted) {
            (Some(h), Some(u)) => Some(h.min(u)),
            (h, u) => h.or(u),
        }
    }

    /// The offset of the first hint in `bytes` (see [`Self::first_work`]).
    pub(super) fn first_hint(&self, bytes: &[u8]) -> Option<usize> {
        let Some(any_hint) = &self.any_hint else {
            return self.hints.find(bytes).map(|m| m.start());
        };
        with_folded(|folded| {
            let mut start = 0;
            // Chunks grow from small to FOLD_CHUNK: the text mode asks again after every line
            // it redacts, and on secret-dense text the first hint is a line away.
            let mut chunk = FIRST_CHUNK;
            loop {
                let end = (start + chunk).min(bytes.len());
                chunk = (chunk * 2).min(FOLD_CHUNK);
                folded.clear();
                folded.extend(bytes[start..end].iter().copied().map(fold));
                // A hint that starts in the overlap with the next chunk may not lie whole in
                // this one: it is left to the next chunk, which holds it whole.
                let accept = if end == bytes.len() {
                    folded.len()
                } else {
                    folded.len() - HINT_OVERLAP
                };
                let mut first: Option<usize> = None;
                let folded: &[u8] = folded;
                for (group, searcher) in any_hint.iter().enumerate() {
                    // Past the first hint found so far, nothing can come first.
                    let span_end =
                        first.map_or(folded.len(), |f| (f + HINT_OVERLAP).min(folded.len()));
                    let mut from = 0;
                    while let Some(m) =
                        searcher.find_in(folded, aho_corasick::Span::from(from..span_end))
                    {
                        if m.start() >= accept || first.is_some_and(|f| m.start() >= f) {
                            break;
                        }
                        let literal = m.pattern().as_usize();
                        if self.hints_at(bytes, start + m.start(), group, literal).0 != 0 {
                            first = Some(m.start());
                            break;
                        }
                        from = m.start() + 1;
                    }
                }
                if let Some(f) = first {
                    return Some(start + f);
                }
                if end == bytes.len() {
                    return None;
                }
                start = end - HINT_OVERLAP;
            }
        })
    }

    /// The rules enabled by every hint that has an occurrence of a minimal hint at `at`, where
    /// searcher `group` reported its literal `literal`.
    ///
    /// Also returns the rules of every hint that occurs there, checked or not: a rule outside
    /// that set for every proposal of a text has no hint in it.
    pub(super) fn hints_at(
        &self,
        text: &[u8],
        at: usize,
        group: usize,
        literal: usize,
    ) -> (u128, u128) {
        let Some(candidates) = self.by_literal.get(group).and_then(|g| g.get(literal)) else {
            return (0, 0);
        };
        let mut mask = 0;
        let mut present = 0;
        for minimal in candidates
            .iter()
            .filter_map(|&h| self.minimal.get(usize::from(h)))
        {
            if !minimal.head.at(text, at, &minimal.text) {
                continue;
            }
            present |= minimal.rules;
            if minimal.verify.is_none_or(|v| v(text, at)) {
                mask |= minimal.rules;
            }
            for longer in &minimal.containing {
                if let Some(outer) = at.checked_sub(longer.offset)
                    && longer.head.at(text, outer, &longer.text)
                {
                    present |= longer.rules;
                    if longer.verify.is_none_or(|v| v(text, outer)) {
                        mask |= longer.rules;
                    }
                }
            }
        }
        (mask, present)
    }
}
