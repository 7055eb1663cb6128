//! The parse budget: how much parsing one classification may do, counted in work so that a
//! text gets the same verdict on an idle and on a loaded machine, with a wall-clock backstop
//! that is counted when it fires.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Parsing of one classification (the text and every body nested in it) stops after this
/// much work. One unit is roughly ten microseconds of parsing: starting a parse (of a segment
/// or a whole text) costs one unit, and each progress report from tree-sitter — one every
/// hundred parser operations — costs [`UNITS_PER_REPORT`]. tree-sitter-bash is super-linear on
/// some pathological shapes (thousands of pipeline stages, unterminated arrays, stacked
/// here-documents): a text that exhausts the budget is classified as unparseable (tier ≥ 2
/// plus the raw-text floor). Counting work instead of time makes the verdict on a text the
/// same on an idle and on a loaded machine. A typical command spends one or two units; a
/// 40 KB maintainer script about 2,000; the list `ls; ` × 4096 about 4,100.
pub(super) const PARSE_BUDGET: u64 = 10_000;

/// Budget units one tree-sitter progress report (a hundred parser operations) costs.
pub(super) const UNITS_PER_REPORT: u64 = 10;

/// A wall-clock backstop behind [`PARSE_BUDGET`], for a machine so slow (or a shape so costly
/// per operation) that the work budget alone would hold a call too long. It should never fire;
/// when it does the text fails closed and [`parse_backstops`] counts it.
pub(super) const PARSE_BACKSTOP: Duration = Duration::from_secs(2);

/// How often the wall-clock backstop cut a parse short since the process started.
static BACKSTOPS: AtomicU64 = AtomicU64::new(0);

/// Parses cut short by [`PARSE_BACKSTOP`] since the process started (a metric: on a healthy
/// machine it stays 0, and every verdict then depends only on the text).
pub fn parse_backstops() -> u64 {
    BACKSTOPS.load(Ordering::Relaxed)
}

/// The parse work left to one classification, shared by every body nested in it.
pub(crate) struct Budget {
    units: Cell<u64>,
    started: Instant,
    exhausted: Cell<bool>,
}

impl Budget {
    pub(super) fn new() -> Self {
        Budget {
            units: Cell::new(PARSE_BUDGET),
            started: Instant::now(),
            exhausted: Cell::new(false),
        }
    }

    /// Spend `units`; false once the budget (or the backstop) is used up.
    pub(super) fn spend(&self, units: u64) -> bool {
        if self.exhausted.get() {
            return false;
        }
        let left = self.units.get();
        if left < units {
            self.units.set(0);
            self.exhausted.set(true);
            return false;
        }
        self.units.set(left - units);
        if self.started.elapsed() > PARSE_BACKSTOP {
            BACKSTOPS.fetch_add(1, Ordering::Relaxed);
            self.exhausted.set(true);
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Tier;
    use crate::policy::classify::paths::Cwd;
    use crate::policy::classify::shell::{Input, Shared, classify_within};

    /// Units a classification of `text` spends, and its highest tier.
    fn spend(text: &str) -> (u64, Option<Tier>) {
        let shared = Shared {
            budget: Budget::new(),
            stdin: None,
        };
        let v = classify_within(text, 0, false, &shared, &Cwd::Start, &Input::Call);
        (
            PARSE_BUDGET - shared.budget.units.get(),
            v.reasons.iter().map(|r| r.tier).max(),
        )
    }

    #[test]
    fn the_budget_counts_work_not_time() {
        // The same text spends the same units every time, so its verdict cannot depend on
        // how busy the machine is.
        let list = "ls; ".repeat(4096);
        let first = spend(&list);
        assert_eq!(first, spend(&list));
        assert_eq!(first, (4096, Some(Tier::ReadOnly)));
        assert_eq!(spend("ls -la"), (1, Some(Tier::ReadOnly)));
    }

    #[test]
    fn pathological_shapes_exhaust_the_budget_and_fail_closed() {
        let unterminated_array = format!("a=({}", "x ".repeat(30_000));
        let (units, tier) = spend(&unterminated_array);
        assert_eq!(units, PARSE_BUDGET);
        assert_eq!(tier, Some(Tier::Stateful));
        let long_list = "ls; ".repeat(16_384);
        let (units, tier) = spend(&long_list);
        assert_eq!(units, PARSE_BUDGET);
        assert_eq!(tier, Some(Tier::Stateful));
    }
}
