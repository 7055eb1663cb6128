//! Admission (spec §7.3): deny first in every mode, then the mode; the allow regex only lifts
//! a `guarded` refusal. Operator regexes use the linear-time `regex` crate under a size limit.

use super::{Classification, Mode, Tier, classify};

/// Size limit for operator-supplied deny/allow regexes (compiled program size, bytes).
pub const USER_REGEX_SIZE_LIMIT: usize = 1 << 20;

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
