//! The pipeline driver: prefilter, rules in order, placeholder substitution, fixed point.

use std::sync::OnceLock;

use std::cell::RefCell;

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::scan::{Rule, ScanState, next_char_boundary};
use super::{PLACEHOLDER, extra, provider, rules};

/// A pass is repeated until it changes nothing, at most this many times. One pass is the
/// spec's pipeline; a second is needed only when a late rule uncovers an earlier rule's shape
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
    /// SIMD literal search over case-folded bytes: does any hint occur at all? Most text has
    /// none, and this answers that several times faster than the full automaton.
    any_hint: Option<packed::Searcher>,
}

/// Bytes folded per step by the quick hint check (plus an overlap of the longest hint).
const FOLD_CHUNK: usize = 32 << 10;

/// Case folding for the quick check: `b | 0x20` lowers ASCII letters and maps a few other
/// bytes onto each other (`_` onto DEL, `\r` onto `-`). Hints are folded the same way, so the
/// check can only say "maybe" too often, never miss a hint.
fn fold(b: u8) -> u8 {
    b | 0x20
}

/// How a secret is replaced.
pub(crate) enum Substitution<'k> {
    /// `[REDACTED]`.
    Plain,
    /// `[REDACTED:xxxxxxxx]`, the first 8 hex digits of HMAC-SHA256 under this key.
    Keyed(&'k [u8]),
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
        rules.push(rules::mysql_rule());
        rules.extend(extra::extra_rules());
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
        let hints = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&literals)
            .expect("hint automaton builds"); // ok: a fixed list of short literals always builds
        // A hint that contains another hint adds nothing to "is any hint present?".
        let folded: Vec<Vec<u8>> = literals
            .iter()
            .filter(|l| {
                !literals.iter().any(|o| {
                    o.len() < l.len() && l.to_ascii_lowercase().contains(&o.to_ascii_lowercase())
                })
            })
            .map(|l| l.bytes().map(fold).collect())
            .collect();
        // `None` when the table outgrows the SIMD searcher (64 literals): every text then
        // takes the full automaton, which is slower but equally exact.
        let any_hint = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(&folded)
            .build();
        Engine {
            rules,
            hints,
            hint_rules,
            always,
            any_hint,
        }
    }

    /// Whether any hint may occur in `text` (false positives possible, no false negatives).
    fn may_have_hint(&self, text: &str) -> bool {
        let Some(any_hint) = &self.any_hint else {
            return true;
        };
        thread_local! {
            static FOLDED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        const OVERLAP: usize = 64;
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
                if any_hint.find(&buf[..]).is_some() {
                    return true;
                }
                if end == bytes.len() {
                    return false;
                }
                start = end - OVERLAP;
            }
        })
    }

    /// The set of rules whose hints occur in `text`.
    fn candidates(&self, text: &str) -> u128 {
        let mut mask = self.always;
        if !self.may_have_hint(text) {
            return mask;
        }
        for m in self.hints.find_overlapping_iter(text) {
            mask |= self.hint_rules[m.pattern().as_usize()];
        }
        mask
    }

    /// Redacts `text` to a fixed point. `None` when nothing changed.
    pub(crate) fn redact(&self, text: &str, sub: &Substitution<'_>) -> Option<String> {
        let mut current = self.pass(text, sub)?;
        for _ in 1..MAX_PASSES {
            match self.pass(&current, sub) {
                Some(next) => current = next,
                None => break,
            }
        }
        Some(current)
    }

    /// One run of the pipeline. `None` when nothing changed.
    fn pass(&self, text: &str, sub: &Substitution<'_>) -> Option<String> {
        let mask = self.candidates(text);
        if mask == 0 {
            return None;
        }
        let mut changed: Option<String> = None;
        for (i, rule) in self.rules.iter().enumerate() {
            if mask & (1 << i) == 0 {
                continue;
            }
            let current = changed.as_deref().unwrap_or(text);
            if !rule.gate(current) {
                continue;
            }
            if let Some(next) = apply(rule.as_ref(), current, sub) {
                changed = Some(next);
            }
        }
        changed
    }
}

/// Applies one rule left to right, non-overlapping (Python `re.sub`). `None` if no change.
fn apply(rule: &dyn Rule, text: &str, sub: &Substitution<'_>) -> Option<String> {
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
        if hit.secret.start >= copied
            && hit.secret.start < hit.secret.end
            && let Some(secret) = text.get(hit.secret.clone())
            && !is_placeholder(secret)
        {
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[copied..hit.secret.start]);
            push_placeholder(buf, secret, sub);
            copied = hit.secret.end;
        }
        pos = next;
    }
    let mut buf = out?;
    buf.push_str(&text[copied..]);
    Some(buf)
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

    #[test]
    fn quick_hint_check_fits_the_simd_searcher() {
        assert!(
            Engine::get().any_hint.is_some(),
            "hint table outgrew 64 literals"
        );
    }

    #[test]
    fn quick_hint_check_spans_chunk_boundaries() {
        let engine = Engine::get();
        for offset in [FOLD_CHUNK - 70, FOLD_CHUNK - 3, FOLD_CHUNK, FOLD_CHUNK + 5] {
            let text = format!("{}PassWord", " ".repeat(offset));
            assert!(engine.may_have_hint(&text), "{offset}");
        }
        assert!(!engine.may_have_hint(&" ".repeat(3 * FOLD_CHUNK)));
    }
}
