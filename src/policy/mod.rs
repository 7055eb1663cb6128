//! Policy: tier classification and admission. Pure: text in, decision out — no I/O.
//!
//! Architecture invariant: nothing in this module performs I/O, spawns processes or writes
//! audit records. The gate asks [`Policy::check`] and acts on the [`Decision`].

pub mod tier;

pub use tier::Tier;

use std::fmt;
use std::str::FromStr;

/// Size limit for operator-supplied deny/allow regexes (compiled program size, bytes).
pub const USER_REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Admission mode (spec §7.3).
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

/// Tools whose tier is fixed at 0 whatever the text (spec §7.1 step 1).
pub const READ_ONLY_TOOLS: &[&str] = &[
    "server_info",
    "ssh_hosts",
    "ssh_check",
    "session_list",
    "session_recv",
    "ssh_forward_list",
    "audit_tail",
    "operation_confirm",
];

/// Tools that are at least tier 2 whatever the text (spec §7.1 step 5).
pub const STATEFUL_TOOLS: &[&str] = &["ssh_upload", "ssh_download", "ssh_forward"];

/// Classify `text` as it would be handed to `tool`. Total: never panics, any input.
pub fn classify(tool: &str, text: &str) -> Classification {
    if READ_ONLY_TOOLS.contains(&tool) {
        return Classification {
            tier: Tier::ReadOnly,
            reasons: vec![],
        };
    }
    let floor = if STATEFUL_TOOLS.contains(&tool) {
        Tier::Stateful
    } else {
        Tier::Reversible
    };
    let _ = text;
    Classification {
        tier: floor,
        reasons: vec![],
    }
}

/// The admission decision for one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The classified tier.
    pub tier: Tier,
    /// Whether the call may run.
    pub admitted: bool,
    /// Why (the spec's reason strings: `permitted`, `matched RELAY_SHELL_POLICY_DENY`, …).
    pub reason: String,
    /// The classifier's findings behind `tier`.
    pub classification: Classification,
}

/// Error building a policy from configuration.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A deny or allow regex did not compile (or exceeded the size limit).
    #[error("{name} is not a valid regex: {detail}")]
    BadRegex {
        /// The variable name, e.g. `RELAY_SHELL_POLICY_DENY`.
        name: &'static str,
        /// What the regex engine said.
        detail: String,
    },
}

/// Mode plus the operator's deny/allow regexes, compiled once at startup.
#[derive(Clone, Debug)]
pub struct Policy {
    mode: Mode,
    deny: Option<regex::Regex>,
    allow: Option<regex::Regex>,
}

fn compile_user_regex(name: &'static str, src: &str) -> Result<Option<regex::Regex>, PolicyError> {
    if src.is_empty() {
        return Ok(None);
    }
    regex::RegexBuilder::new(src)
        .size_limit(USER_REGEX_SIZE_LIMIT)
        .build()
        .map(Some)
        .map_err(|e| PolicyError::BadRegex {
            name,
            detail: e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_string(),
        })
}

impl Policy {
    /// Build a policy; an empty regex means "none".
    pub fn new(mode: Mode, deny: &str, allow: &str) -> Result<Self, PolicyError> {
        Ok(Self {
            mode,
            deny: compile_user_regex("RELAY_SHELL_POLICY_DENY", deny)?,
            allow: compile_user_regex("RELAY_SHELL_POLICY_ALLOW", allow)?,
        })
    }

    /// The configured mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Classify and admit one call (spec §7.3): deny first in every mode, then the mode.
    pub fn check(&self, tool: &str, text: &str) -> Decision {
        let classification = classify(tool, text);
        let tier = classification.tier;
        let probe = format!("{tool} {text}");
        let probe = probe.trim();
        let (admitted, reason) = if self.deny.as_ref().is_some_and(|d| d.is_match(probe)) {
            (false, "matched RELAY_SHELL_POLICY_DENY".to_string())
        } else if self.mode == Mode::Readonly && tier != Tier::ReadOnly {
            (
                false,
                format!(
                    "readonly mode refuses Tier {} ({})",
                    tier.as_u8(),
                    tier.name()
                ),
            )
        } else if self.mode == Mode::Guarded && tier >= Tier::Stateful {
            if self.allow.as_ref().is_some_and(|a| a.is_match(probe)) {
                (
                    true,
                    "guarded: allowed by RELAY_SHELL_POLICY_ALLOW".to_string(),
                )
            } else {
                (
                    false,
                    format!(
                        "guarded mode refuses Tier {} ({}) without an RELAY_SHELL_POLICY_ALLOW match",
                        tier.as_u8(),
                        tier.name()
                    ),
                )
            }
        } else {
            (true, "permitted".to_string())
        };
        Decision {
            tier,
            admitted,
            reason,
            classification,
        }
    }
}
