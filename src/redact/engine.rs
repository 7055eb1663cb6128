//! The pipeline driver: prefilter, rules in order, placeholder substitution, fixed point.

use std::sync::OnceLock;

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
            // ok: a fixed list of short literals always builds
            .expect("hint automaton builds");
        Engine {
            rules,
            hints,
            hint_rules,
            always,
        }
    }

    /// The set of rules whose hints occur in `text`.
    fn candidates(&self, text: &str) -> u128 {
        let mut mask = self.always;
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
