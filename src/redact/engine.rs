//! The pipeline driver: prefilter, rules in order, fixed point (the substitution of each
//! rule's findings is `substitute.rs`).

use std::sync::OnceLock;

use std::cell::RefCell;

use aho_corasick::AhoCorasick;
use aho_corasick::packed;

use super::replay::{Edits, Proposals, replayable};
use super::scan::Rule;
use super::substitute::{Substitution, apply};
use super::{cmdline, extra, mysql, provider, rules, verify};

/// A pass is repeated until it changes nothing, at most this many times. One pass is the
/// Python implementation's pipeline; a second is needed only when a late rule uncovers an earlier rule's shape
/// (for example a Slack webhook inside URL credentials). Redacted text converges in two or
/// three passes; the bound keeps the worst case linear.
const MAX_PASSES: usize = 6;

/// The compiled rule table and its literal prefilter. Built once per process.
pub(crate) struct Engine {
    /// Every rule, in pipeline order.
    rules: Vec<Box<dyn Rule>>,
    /// Finds hint literals (ASCII case-insensitive) in one pass over the text.
    hints: AhoCorasick,
    /// For each hint pattern, the set of rules it enables (bit `i` = `rules[i]`).
    hint_rules: Vec<u128>,
    /// Rules with no hints: they always run (subject to their gate).
    always: u128,
    /// How the text mode finds lines that the rules without hints may change.
    unhinted: Unhinted,
    /// SIMD literal search over case-folded bytes: does any hint occur at all? Most text has
    /// none, and this answers that several times faster than the full automaton.
    /// One searcher per group of [`search_literals`]: the literals are a prefix cover of the
    /// minimal hints, short and long ones apart, at most [`SLIM_GROUP`] per searcher.
    any_hint: Option<Vec<packed::Searcher>>,
    /// The minimal hints (those that contain no other hint).
    minimal: Vec<MinimalHint>,
    /// For each searcher of `any_hint` and each of its literals: the minimal hints (indices
    /// into `minimal`) that may occur where the searcher reports that literal. A searcher
    /// reports one literal per position; a hint that occurs there has a covering literal in
    /// the same searcher that also matches there, so one of the two is a prefix of the other.
    /// Usually one hint: comparing every hint with the same first byte cost ~500 instructions
    /// per proposed position.
    by_literal: Vec<Vec<Vec<u16>>>,
    /// No hint can overlap text a rule writes (see [`replayable`]), with plain and with keyed
    /// placeholders: a pass may then find its candidates by replaying the previous pass's
    /// proposals ([`Proposals`]) instead of searching its whole text again.
    replayable: [bool; 2],
}

/// How [`Engine::first_work`] finds work for the rules without hints.
enum Unhinted {
    /// There are none.
    None,
    /// Each declares a block filter; this is their alternation.
    Filter(regex::bytes::Regex),
    /// One declares none: every line is a candidate.
    Every,
}

/// A hint that contains no other hint, and the longer hints that contain it.
struct MinimalHint {
    /// The hint, ASCII lower case.
    text: Vec<u8>,
    /// Rules this hint enables.
    rules: u128,
    /// The hint's check ([`verify`]): an occurrence counts only where it says yes.
    verify: Option<Verifier>,
    /// Each longer hint containing this one: (offset of this hint inside it, the longer hint
    /// in ASCII lower case, the rules it enables, its check). Every occurrence of a longer
    /// hint contains an occurrence of this one at that offset, so checking there finds them all.
    containing: Vec<(usize, Vec<u8>, u128, Option<Verifier>)>,
}

/// See [`verify::verifier`].
type Verifier = fn(&[u8], usize) -> bool;

/// Whether `text` holds `hint` (ASCII lower case) at byte offset `at`, ignoring ASCII case.
fn hint_at(text: &[u8], at: usize, hint: &[u8]) -> bool {
    text.get(at..at + hint.len())
        .is_some_and(|window| window.eq_ignore_ascii_case(hint))
}

/// Most literals of a searcher that scans 32 bytes per step (one of more literals steps 16
/// bytes at a time and costs over twice as much per byte; a searcher holds at most 64).
const SLIM_GROUP: usize = 32;

/// Most long literals ([`search_literals`]): two searchers' worth.
const LONG_LITERALS: usize = 2 * SLIM_GROUP;

/// Bytes folded per step by the quick hint check (plus an overlap of the longest hint).
const FOLD_CHUNK: usize = 32 << 10;

/// The first chunk [`Engine::first_work`] folds; each next one is twice as long.
const FIRST_CHUNK: usize = 4 * HINT_OVERLAP;

/// Texts up to this many bytes are folded into a stack buffer for the hint scan.
const SHORT_TEXT: usize = 512;

/// Bytes shared by consecutive chunks of the quick check: more than the longest hint, so a
/// hint that straddles a chunk end lies whole in the next chunk.
const HINT_OVERLAP: usize = 64;

/// Case folding for the quick check: `b | 0x20` lowers ASCII letters and maps a few other
/// bytes onto each other (`_` onto DEL, `\r` onto `-`). Hints are folded the same way, so the
/// check can only say "maybe" too often, never miss a hint.
fn fold(b: u8) -> u8 {
    b | 0x20
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
fn search_literals(hints: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
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
    /// The shared engine.
    pub(crate) fn get() -> &'static Engine {
        static ENGINE: OnceLock<Engine> = OnceLock::new();
        ENGINE.get_or_init(Engine::build)
    }

    fn build() -> Engine {
        let mut rules = rules::structure_rules();
        rules.extend(provider::provider_rules());
        rules.push(Box::new(mysql::MysqlPasswordRule::new()));
        rules.extend(extra::extra_rules());
        rules.push(Box::new(cmdline::CommandLineRule));
        assert!(rules.len() <= 128, "rule bitmask holds 128 rules"); // ok: constant table size

        let mut literals: Vec<&'static str> = Vec::new();
        let mut hint_rules: Vec<u128> = Vec::new();
        let mut always = 0u128;
        for (i, rule) in rules.iter().enumerate() {
            if rule.hints().is_empty() {
                always |= 1 << i;
            }
            for &hint in rule.hints() {
                let lower = hint.to_ascii_lowercase();
                match literals.iter().position(|l| l.eq_ignore_ascii_case(&lower)) {
                    Some(p) => hint_rules[p] |= 1 << i,
                    None => {
                        literals.push(hint);
                        hint_rules.push(1 << i);
                    }
                }
            }
        }
        let hints = super::scan::literal_automaton(&literals);
        // A hint that contains another hint adds nothing to "is any hint present?".
        let lower: Vec<Vec<u8>> = literals
            .iter()
            .map(|l| l.to_ascii_lowercase().into_bytes())
            .collect();
        let contained_in = |inner: usize, outer: usize| {
            let (i, o) = (&lower[inner], &lower[outer]);
            (i.len() < o.len())
                .then(|| o.windows(i.len()).position(|w| w == i.as_slice()))
                .flatten()
        };
        let is_minimal = |l: usize| (0..lower.len()).all(|o| contained_in(o, l).is_none());
        let folded: Vec<Vec<u8>> = (0..lower.len())
            .filter(|&l| is_minimal(l))
            .map(|l| lower[l].iter().copied().map(fold).collect())
            .collect();
        let mut minimal: Vec<MinimalHint> = Vec::new();
        for m in (0..lower.len()).filter(|&l| is_minimal(l)) {
            let containing = (0..lower.len())
                .filter_map(|o| {
                    contained_in(m, o).map(|at| {
                        (
                            at,
                            lower[o].clone(),
                            hint_rules[o],
                            verify::verifier(&lower[o]),
                        )
                    })
                })
                .collect();
            minimal.push(MinimalHint {
                text: lower[m].clone(),
                rules: hint_rules[m],
                verify: verify::verifier(&lower[m]),
                containing,
            });
        }
        // `folded[h]` is `minimal[h]` folded: both list the minimal hints in table order.
        let groups = search_literals(folded.clone());
        let prefix_related = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
        let by_literal: Vec<Vec<Vec<u16>>> = groups
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|literal| {
                        (0..minimal.len())
                            .filter(|&h| {
                                group.iter().any(|cover| {
                                    folded[h].starts_with(cover) && prefix_related(cover, literal)
                                })
                            })
                            .filter_map(|h| u16::try_from(h).ok())
                            .collect()
                    })
                    .collect()
            })
            .collect();
        // `None` when the table outgrows the SIMD searcher (64 literals): every text then
        // takes the full automaton, which is slower but equally exact.
        let any_hint: Option<Vec<packed::Searcher>> = groups
            .into_iter()
            .map(|group| {
                packed::Config::new()
                    .match_kind(packed::MatchKind::LeftmostFirst)
                    .builder()
                    .extend(group)
                    .build()
            })
            .collect();
        let filters: Option<Vec<&str>> = rules
            .iter()
            .filter(|r| r.hints().is_empty())
            .map(|r| r.scan_filter())
            .collect();
        let unhinted = match filters {
            None => Unhinted::Every,
            Some(f) if f.is_empty() => Unhinted::None,
            Some(f) => {
                let alternation = f
                    .iter()
                    .map(|p| format!("(?:{p})"))
                    .collect::<Vec<_>>()
                    .join("|");
                match regex::bytes::Regex::new(&alternation) {
                    Ok(re) => Unhinted::Filter(re),
                    Err(_) => Unhinted::Every,
                }
            }
        };
        let replayable = replayable(&lower);
        Engine {
            rules,
            hints,
            hint_rules,
            always,
            unhinted,
            any_hint,
            minimal,
            by_literal,
            replayable,
        }
    }

    /// Whether any hint may occur in `text` (false positives possible, no false negatives).
    /// Only the tests ask this alone; [`Self::candidates`] runs the same search.
    #[cfg(test)]
    fn may_have_hint(&self, text: &str) -> bool {
        let Some(any_hint) = &self.any_hint else {
            return true;
        };
        thread_local! {
            static FOLDED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        let bytes = text.as_bytes();
        FOLDED.with(|cell| {
            let Ok(mut buf) = cell.try_borrow_mut() else {
                return true;
            };
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
    fn candidates(&self, text: &str, proposals: &mut Proposals) -> u128 {
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
        thread_local! {
            static FOLDED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        FOLDED.with(|cell| {
            let mut owned = Vec::new();
            let mut borrowed = cell.try_borrow_mut();
            let buf = match borrowed.as_deref_mut() {
                Ok(buf) => buf,
                Err(_) => &mut owned,
            };
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
    fn scan_chunk(
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

    /// Whether every rule of `rules` leaves `text` unchanged as a pass runs it (for debug
    /// checks).
    fn rules_leave(&self, rules: u128, text: &str, sub: &Substitution<'_>) -> bool {
        self.rules.iter().enumerate().all(|(i, rule)| {
            rules & (1 << i) == 0
                || !rule.gate(text)
                || apply(rule.as_ref(), text, sub, &mut Edits::new()).is_none()
        })
    }

    /// The rules enabled by the hints at `proposals` in `text`: the candidates of a pass whose
    /// input is the output of the pass that recorded them ([`Proposals`]).
    fn replay(&self, text: &str, proposals: &mut Proposals) -> u128 {
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
    fn first_hint(&self, bytes: &[u8]) -> Option<usize> {
        let Some(any_hint) = &self.any_hint else {
            return self.hints.find(bytes).map(|m| m.start());
        };
        thread_local! {
            static FOLDED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        FOLDED.with(|cell| {
            let mut owned = Vec::new();
            let mut borrowed = cell.try_borrow_mut();
            let folded = match borrowed.as_deref_mut() {
                Ok(buf) => buf,
                Err(_) => &mut owned,
            };
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
    fn hints_at(&self, text: &[u8], at: usize, group: usize, literal: usize) -> (u128, u128) {
        let Some(candidates) = self.by_literal.get(group).and_then(|g| g.get(literal)) else {
            return (0, 0);
        };
        let mut mask = 0;
        let mut present = 0;
        for minimal in candidates
            .iter()
            .filter_map(|&h| self.minimal.get(usize::from(h)))
        {
            if !hint_at(text, at, &minimal.text) {
                continue;
            }
            present |= minimal.rules;
            if minimal.verify.is_none_or(|v| v(text, at)) {
                mask |= minimal.rules;
            }
            for (offset, longer, rules, verify) in &minimal.containing {
                if let Some(outer) = at.checked_sub(*offset)
                    && hint_at(text, outer, longer)
                {
                    present |= rules;
                    if verify.is_none_or(|v| v(text, outer)) {
                        mask |= rules;
                    }
                }
            }
        }
        (mask, present)
    }

    /// Redacts `text` to a fixed point. `None` when nothing changed.
    ///
    /// Each pass reports the rules it already ran on its own output without a change (those
    /// after its last change). The next pass starts from that output, so until it changes
    /// something itself it may skip them: a rule is a pure function of the text it sees, so
    /// running it again on the same text would again change nothing. In the common case,
    /// where the confirming pass changes nothing, only the rules up to the last one that hit
    /// run a second time.
    pub(crate) fn redact(&self, text: &str, sub: &Substitution<'_>) -> Option<String> {
        let keyed = matches!(sub, Substitution::Keyed(_));
        let mut proposals = Proposals::new(self.replayable[usize::from(keyed)]);
        let mut edits = Edits::new();
        let (mut current, mut settled) = self.pass(text, sub, 0, &mut proposals, &mut edits)?;
        for _ in 1..MAX_PASSES {
            match self.pass(&current, sub, settled, &mut proposals, &mut edits) {
                Some((next, now_settled)) => {
                    current = next;
                    settled = now_settled;
                }
                None => break,
            }
        }
        Some(current)
    }

    /// One run of the pipeline. `None` when nothing changed; otherwise the new text and the
    /// set of rules known to leave it unchanged.
    ///
    /// `settled` holds rules known to leave `text` itself unchanged; they are skipped while
    /// this pass has changed nothing yet.
    ///
    /// `proposals` holds, when complete, the hint proposals of `text` (mapped from the previous
    /// pass); they replace the search, and leave this pass mapped to its output.
    fn pass(
        &self,
        text: &str,
        sub: &Substitution<'_>,
        settled: u128,
        proposals: &mut Proposals,
        edits: &mut Edits,
    ) -> Option<(String, u128)> {
        let mask = if proposals.complete {
            let replayed = self.replay(text, proposals);
            debug_assert_eq!(
                replayed,
                self.candidates(text, &mut Proposals::new(false)),
                "replayed proposals differ from a search of {text:?}"
            );
            replayed
        } else {
            self.candidates(text, proposals)
        };
        if mask == 0 {
            return None;
        }
        let mut changed: Option<String> = None;
        // Rules run on the current text since its last change, without changing it.
        let mut unchanged_by = 0u128;
        // Visit only the candidate rules, lowest index (earliest in the pipeline) first.
        let mut remaining = mask;
        while remaining != 0 {
            let i = remaining.trailing_zeros() as usize;
            let bit = 1u128 << i;
            remaining &= !bit;
            let Some(rule) = self.rules.get(i) else {
                break;
            };
            if changed.is_none() && settled & bit != 0 {
                continue;
            }
            let current = changed.as_deref().unwrap_or(text);
            if !rule.gate(current) {
                unchanged_by |= bit;
                continue;
            }
            edits.clear();
            match apply(rule.as_ref(), current, sub, edits) {
                Some(next) => {
                    proposals.shift(edits);
                    unchanged_by = 0;
                    // A later candidate whose every hint lay in replaced text has none left
                    // (no hint can overlap a placeholder), so it cannot change the new text.
                    if let Some(present) = proposals.present() {
                        let gone = remaining & !(present | self.always);
                        debug_assert!(
                            self.rules_leave(gone, &next, sub),
                            "a rule without hints changed {next:?}"
                        );
                        remaining &= !gone;
                        unchanged_by |= gone;
                    }
                    changed = Some(next);
                }
                None => unchanged_by |= bit,
            }
        }
        changed.map(|text| (text, unchanged_by))
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
