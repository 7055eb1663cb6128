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
    /// Admitted only because `RELAY_SHELL_POLICY_ALLOW` matched (guarded mode, tier ≥ 2): the
    /// operator's deliberate choice, which runs unconfined.
    pub allowed_by_rule: bool,
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
    /// The kernel keeps local sessions read-only in `readonly` mode (see
    /// [`Policy::with_confined_sessions`]).
    confined_sessions: bool,
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
            confined_sessions: false,
        })
    }

    /// In `readonly` mode, admit `shell_spawn` of a command whose every finding is read-only
    /// (only the session floor made it tier 1), because the kernel confines the session
    /// read-only for its whole life. Set when confinement is enforced in full; the input
    /// typed into the session is still classified and admitted at tier 0 only.
    pub fn with_confined_sessions(mut self, on: bool) -> Self {
        self.confined_sessions = on;
        self
    }

    /// Whether `readonly` admits this call as a confined read-only session.
    fn is_confined_session(&self, tool: &str, c: &Classification) -> bool {
        self.confined_sessions
            && tool == "shell_spawn"
            && c.tier == Tier::Reversible
            && !c.reasons.is_empty()
            && c.reasons.iter().all(|r| r.tier == Tier::ReadOnly)
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
        let mut allowed_by_rule = false;
        let (admitted, reason) = if self.deny.as_ref().is_some_and(|d| d.is_match(probe)) {
            (false, "matched RELAY_SHELL_POLICY_DENY".to_string())
        } else if self.mode == Mode::Readonly
            && tier != Tier::ReadOnly
            && !self.is_confined_session(tool, &classification)
        {
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
                allowed_by_rule = true;
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
            allowed_by_rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Mode;

    fn policy(mode: Mode, deny: &str, allow: &str) -> Policy {
        Policy::new(mode, deny, allow).expect("valid policy") // ok: test
    }

    #[test]
    fn open_admits_everything_not_denied() {
        let p = policy(Mode::Open, "", "");
        let d = p.check("shell_exec", "rm -rf /");
        assert!(d.admitted);
        assert_eq!(d.reason, "permitted");
        assert_eq!(d.tier, Tier::Irreversible);
    }

    #[test]
    fn deny_applies_first_in_every_mode() {
        for mode in [Mode::Open, Mode::Guarded, Mode::Readonly] {
            let p = policy(mode, "169\\.254\\.169\\.254", ".*");
            let d = p.check("ssh_exec", "uptime\n169.254.169.254");
            assert!(!d.admitted, "{mode}");
            assert_eq!(d.reason, "matched RELAY_SHELL_POLICY_DENY");
        }
        // Deny refuses even tier-0 tools.
        let p = policy(Mode::Open, "^audit_tail", "");
        assert!(!p.check("audit_tail", "").admitted);
    }

    #[test]
    fn probe_starts_with_the_tool_name() {
        let p = policy(Mode::Open, "^rm", "");
        assert!(
            p.check("shell_exec", "rm -rf /").admitted,
            "^rm never matches: the probe starts with the tool"
        );
        let p = policy(Mode::Open, "^shell_exec rm ", "");
        assert!(!p.check("shell_exec", "rm -rf /").admitted);
    }

    #[test]
    fn readonly_admits_only_tier_zero() {
        let p = policy(Mode::Readonly, "", ".*");
        assert!(p.check("shell_exec", "df -h && free -m").admitted);
        assert!(p.check("server_info", "").admitted);
        let d = p.check("shell_exec", "touch x");
        assert!(!d.admitted);
        assert_eq!(d.reason, "readonly mode refuses Tier 1 (REVERSIBLE)");
        let d = p.check("shell_exec", "rm -rf /");
        assert_eq!(d.reason, "readonly mode refuses Tier 3 (IRREVERSIBLE)");
    }

    #[test]
    fn readonly_admits_read_only_sessions_only_when_the_kernel_confines_them() {
        let p = policy(Mode::Readonly, "", "");
        assert!(!p.check("shell_spawn", "git status").admitted);
        let p = p.with_confined_sessions(true);
        let d = p.check("shell_spawn", "git status");
        assert!(d.admitted, "{}", d.reason);
        assert_eq!(d.tier, Tier::Reversible);
        for refused in ["", "bash", "less /etc/hosts", "git status; touch x"] {
            assert!(!p.check("shell_spawn", refused).admitted, "{refused}");
        }
        assert!(!p.check("session_kill", "").admitted);
        assert!(!p.check("ssh_spawn", "uptime\nhost1").admitted);
    }

    #[test]
    fn guarded_needs_allow_from_tier_two() {
        let p = policy(Mode::Guarded, "", "");
        assert!(p.check("shell_exec", "touch x").admitted);
        let d = p.check("shell_exec", "systemctl restart nginx");
        assert!(!d.admitted);
        assert_eq!(
            d.reason,
            "guarded mode refuses Tier 2 (STATEFUL) without an RELAY_SHELL_POLICY_ALLOW match"
        );
        let p = policy(Mode::Guarded, "", "systemctl restart nginx$");
        let d = p.check("shell_exec", "systemctl restart nginx");
        assert!(d.admitted);
        assert!(d.allowed_by_rule);
        assert_eq!(d.reason, "guarded: allowed by RELAY_SHELL_POLICY_ALLOW");
        assert!(
            !p.check("shell_exec", "systemctl restart nginx; reboot")
                .admitted
        );
    }

    #[test]
    fn invalid_regex_is_a_configuration_error_naming_the_variable() {
        let e = Policy::new(Mode::Open, "(", "").expect_err("invalid deny"); // ok: test
        assert!(
            e.to_string()
                .starts_with("RELAY_SHELL_POLICY_DENY is not a valid regex"),
            "{e}"
        );
        let e = Policy::new(Mode::Open, "", "(?<=x)y").expect_err("look-behind is unsupported"); // ok: test
        assert!(
            e.to_string()
                .starts_with("RELAY_SHELL_POLICY_ALLOW is not a valid regex"),
            "{e}"
        );
        let huge = format!("(?:{}){{1000}}", "a{1000}");
        assert!(Policy::new(Mode::Open, &huge, "").is_err(), "size limit");
    }

    #[test]
    fn mode_parses() {
        assert_eq!(" ReadOnly ".parse::<Mode>(), Ok(Mode::Readonly));
        assert!("strict".parse::<Mode>().is_err());
        assert_eq!(Mode::Guarded.as_str(), "guarded");
    }
}
