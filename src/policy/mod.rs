//! Policy: tier classification and admission. Pure: text in, decision out — no I/O.
//!
//! Architecture invariant: nothing in this module performs I/O, spawns processes or writes
//! audit records. The gate asks [`Policy::check`] and acts on the [`Decision`].

mod admit;
pub mod broker;
mod classify;
pub mod explain;
mod hosts;
pub(crate) mod input;
// Public: the oracle (tests/policy_oracle.rs) generates option combinations from the grammars.
pub mod options;
pub mod probe;
mod tier;

pub use admit::{Decision, Policy, PolicyError, USER_REGEX_SIZE_LIMIT};
pub use classify::{classify, declared_programs, parse_backstops, prepare};
pub use hosts::widen_hosts;
pub use probe::{
    Direction, Forward, ForwardKind, Interpreter, Payload, PolicyClass, Probe, Script, Transfer,
};
pub use tier::Tier;

use std::fmt;
use std::str::FromStr;

/// Admission mode (docs/compatibility.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Everything not denied is admitted; tiers are advisory.
    Open,
    /// Tier ≥ 2 needs an allow-regex match.
    Guarded,
    /// Only tier 0 is admitted.
    Readonly,
}

impl Mode {
    /// The stricter of `self` and an optional ceiling (open < guarded < readonly): a
    /// principal's mode caps the server's, never widens it.
    pub fn capped(self, ceiling: Option<Mode>) -> Mode {
        let rank = |m: Mode| match m {
            Mode::Open => 0,
            Mode::Guarded => 1,
            Mode::Readonly => 2,
        };
        match ceiling {
            Some(c) if rank(c) > rank(self) => c,
            _ => self,
        }
    }

    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Open => "open",
            Mode::Guarded => "guarded",
            Mode::Readonly => "readonly",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Mode::Open),
            "guarded" => Ok(Mode::Guarded),
            "readonly" => Ok(Mode::Readonly),
            other => Err(format!("{other} (expected open, guarded or readonly)")),
        }
    }
}

/// The most a principal may do, on top of the server's mode: a bearer token's mode, or what an
/// OAuth token's scope grants. A ceiling only ever narrows what the server allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ceiling {
    /// A mode the server's mode is capped by (the stricter of the two applies).
    pub mode: Option<Mode>,
    /// The highest tier admitted, and the grant that sets it (named in the refusal): an
    /// OAuth `shell:write` token stops at tier 2 whatever the allow regex says.
    pub max_tier: Option<(Tier, &'static str)>,
}

impl Ceiling {
    /// No ceiling: the server's policy alone decides.
    pub const NONE: Ceiling = Ceiling {
        mode: None,
        max_tier: None,
    };

    /// A mode ceiling only (a bearer token's `:mode`).
    pub fn mode(mode: Option<Mode>) -> Ceiling {
        Ceiling {
            mode,
            max_tier: None,
        }
    }
}

/// One finding of the classifier: what was seen, which rule fired, and its tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// The command (or text fragment) the rule looked at.
    pub subject: String,
    /// The rule that fired, in words an operator can act on.
    pub rule: String,
    /// The tier this finding imposes.
    pub tier: Tier,
}

/// The classifier's verdict: the highest tier found and every finding that led to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// Highest tier of all findings (the floor for the tool when there are none).
    pub tier: Tier,
    /// Each finding, in the order found.
    pub reasons: Vec<Reason>,
}
