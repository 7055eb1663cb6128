//! Tiers of authority: 0 read-only … 3 irreversible.

use std::fmt;

/// How much a call can change: the unit every admission decision is made in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Observes only.
    ReadOnly = 0,
    /// Changes that are easy to undo.
    Reversible = 1,
    /// Changes system state (services, packages, permissions).
    Stateful = 2,
    /// Cannot be undone (data destruction, power, accounts).
    Irreversible = 3,
}

impl Tier {
    /// Numeric tier, as recorded in the audit log.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The Python implementation's upper-case name (`READ_ONLY`, `REVERSIBLE`, `STATEFUL`, `IRREVERSIBLE`).
    pub fn name(self) -> &'static str {
        match self {
            Tier::ReadOnly => "READ_ONLY",
            Tier::Reversible => "REVERSIBLE",
            Tier::Stateful => "STATEFUL",
            Tier::Irreversible => "IRREVERSIBLE",
        }
    }

    /// The tier for a number, if it is one.
    pub fn from_u8(n: u8) -> Option<Tier> {
        match n {
            0 => Some(Tier::ReadOnly),
            1 => Some(Tier::Reversible),
            2 => Some(Tier::Stateful),
            3 => Some(Tier::Irreversible),
            _ => None,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_u8(), self.name())
    }
}
