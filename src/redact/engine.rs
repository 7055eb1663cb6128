//! The pipeline driver: prefilter, rules in order, fixed point (the hint search that picks
//! a text's candidate rules is `engine_hints.rs`, the substitution of each rule's findings
//! `substitute.rs`).

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use aho_corasick::packed;

use super::replay::{Edits, Proposals, replayable};
use super::scan::Rule;
use super::substitute::{Substitution, apply};
use super::{cmdline, extra, mysql, provider, rules, verify};

#[path = "engine_hints.rs"]
mod hints;

use hints::{Head, fold, search_literals};

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
    /// Its first eight bytes, as compared first.
    head: Head,
    /// Rules this hint enables.
    rules: u128,
    /// The hint's check ([`verify`]): an occurrence counts only where it says yes.
    verify: Option<Verifier>,
    /// Each longer hint containing this one. Every occurrence of a longer hint contains an
    /// occurrence of this one at its offset, so checking there finds them all.
    containing: Vec<Containing>,
}

/// A hint that contains a minimal hint.
struct Containing {
    /// Where the minimal hint lies inside it.
    offset: usize,
    /// The hint, ASCII lower case.
    text: Vec<u8>,
    /// Its first eight bytes, as compared first.
    head: Head,
    /// Rules it enables.
    rules: u128,
    /// Its check ([`verify`]).
    verify: Option<Verifier>,
}

/// See [`verify::verifier`].
type Verifier = fn(&[u8], usize) -> bool;

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
        rules.extend(extra::late_rules());
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
                    contained_in(m, o).map(|offset| Containing {
                        offset,
                        text: lower[o].clone(),
                        head: Head::of(&lower[o]),
                        rules: hint_rules[o],
                        verify: verify::verifier(&lower[o]),
                    })
                })
                .collect();
            minimal.push(MinimalHint {
                text: lower[m].clone(),
                head: Head::of(&lower[m]),
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

    /// Whether every rule of `rules` leaves `text` unchanged as a pass runs it (for debug
    /// checks).
    fn rules_leave(&self, rules: u128, text: &str, sub: &Substitution<'_>) -> bool {
        self.rules.iter().enumerate().all(|(i, rule)| {
            rules & (1 << i) == 0
                || !rule.gate(text)
                || apply(rule.as_ref(), text, sub, &mut Edits::new(), &mut None).is_none()
        })
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
        // A text no longer needed, whose buffer the next output reuses.
        let mut spare = None;
        let (mut current, mut settled) =
            self.pass(text, sub, 0, &mut proposals, &mut edits, &mut spare)?;
        for _ in 1..MAX_PASSES {
            match self.pass(
                &current,
                sub,
                settled,
                &mut proposals,
                &mut edits,
                &mut spare,
            ) {
                Some((next, now_settled)) => {
                    spare = Some(std::mem::replace(&mut current, next));
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
    /// pass); they replace the search, and leave this pass mapped to its output. `spare`: a
    /// buffer for the next output (see [`apply`]); the texts this pass replaces go there.
    fn pass(
        &self,
        text: &str,
        sub: &Substitution<'_>,
        settled: u128,
        proposals: &mut Proposals,
        edits: &mut Edits,
        spare: &mut Option<String>,
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
            match apply(rule.as_ref(), current, sub, edits, spare) {
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
                    if let Some(old) = changed.replace(next) {
                        *spare = Some(old);
                    }
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
