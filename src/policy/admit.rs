//! Admission (docs/compatibility.md): deny first in every mode, then the mode; the allow regex only lifts
//! a `guarded` refusal. Operator regexes use the linear-time `regex` crate under a size limit.

use super::{Ceiling, Classification, Mode, Probe, Tier, classify};

/// Size limit for operator-supplied deny/allow regexes (compiled program size, bytes).
pub const USER_REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The admission decision for one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The classified tier.
    pub tier: Tier,
    /// Whether the call may run.
    pub admitted: bool,
    /// Why (the Python implementation's reason strings: `permitted`, `matched RELAY_SHELL_POLICY_DENY`, …).
    pub reason: String,
    /// The classifier's findings behind `tier`.
    pub classification: Classification,
    /// Admitted only because `RELAY_SHELL_POLICY_ALLOW` matched (guarded mode, tier ≥ 2): the
    /// operator's deliberate choice, which runs unconfined.
    pub allowed_by_rule: bool,
    /// The mode the call was judged under (the stricter of the server's and the caller's
    /// ceiling): the kernel profile is chosen from it.
    pub mode: Mode,
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

    /// In `readonly` mode, admit `shell_spawn` of a program whose every finding is read-only
    /// (only the session floor made it tier 1), because the kernel confines the session
    /// read-only for its whole life. Set when confinement is enforced in full; what is typed
    /// into the session is still classified and admitted at tier 0 only.
    pub fn with_confined_sessions(mut self, on: bool) -> Self {
        self.confined_sessions = on;
        self
    }

    /// Whether `readonly` admits this call as a confined read-only local session.
    fn is_confined_session(&self, probe: &Probe, c: &Classification) -> bool {
        self.confined_sessions
            && probe.tool() == "shell_spawn"
            && c.tier == Tier::Reversible
            && !c.reasons.is_empty()
            && c.reasons.iter().all(|r| r.tier == Tier::ReadOnly)
    }

    /// The configured mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Classify and admit one call: deny first in every mode, then the mode. The operator's
    /// regexes see `"<tool> <text>"` trimmed, exactly as the Python implementation built it.
    pub fn check(&self, probe: &Probe) -> Decision {
        self.check_capped(probe, Ceiling::NONE)
    }

    /// [`Policy::check`] under the caller's `ceiling`: the stricter of the configured mode and
    /// the ceiling's mode (a `readonly` token never runs tier 1), then the ceiling's highest
    /// tier (an OAuth `shell:write` token never runs tier 3), which the allow regex cannot lift.
    pub fn check_capped(&self, probe: &Probe, ceiling: Ceiling) -> Decision {
        let mode = self.mode.capped(ceiling.mode);
        let classification = classify(probe);
        let tier = classification.tier.max(probe.min_tier());
        let confined_session = self.is_confined_session(probe, &classification);
        let probe = format!("{} {}", probe.tool(), probe.text());
        let probe = probe.trim();
        let mut allowed_by_rule = false;
        let (admitted, reason) = if self.deny.as_ref().is_some_and(|d| d.is_match(probe)) {
            (false, "matched RELAY_SHELL_POLICY_DENY".to_string())
        } else if mode == Mode::Readonly && tier != Tier::ReadOnly && !confined_session {
            (
                false,
                format!(
                    "readonly mode refuses Tier {} ({})",
                    tier.as_u8(),
                    tier.name()
                ),
            )
        } else if let Some((max, grant)) = ceiling.max_tier.filter(|(max, _)| tier > *max) {
            (
                false,
                format!(
                    "{grant} allows up to Tier {}; Tier {} ({}) is refused",
                    max.as_u8(),
                    tier.as_u8(),
                    tier.name()
                ),
            )
        } else if mode == Mode::Guarded && tier >= Tier::Stateful {
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
            mode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Mode, PolicyClass};

    fn check(p: &Policy, tool: &'static str, text: &str) -> Decision {
        let probe = match tool {
            "ssh_exec" => {
                let (cmd, host) = text.split_once('\n').unwrap_or((text, ""));
                Probe::new(tool, PolicyClass::Shell)
                    .shell(cmd)
                    .hosts(vec![host.to_string()], host)
            }
            "audit_tail" | "server_info" => Probe::from_text(tool, PolicyClass::ReadOnly, text),
            _ => Probe::from_text(tool, PolicyClass::Shell, text),
        };
        p.check(&probe)
    }

    fn policy(mode: Mode, deny: &str, allow: &str) -> Policy {
        Policy::new(mode, deny, allow).expect("valid policy") // ok: test
    }

    #[test]
    fn open_admits_everything_not_denied() {
        let p = policy(Mode::Open, "", "");
        let d = check(&p, "shell_exec", "rm -rf /");
        assert!(d.admitted);
        assert_eq!(d.reason, "permitted");
        assert_eq!(d.tier, Tier::Irreversible);
    }

    #[test]
    fn deny_applies_first_in_every_mode() {
        for mode in [Mode::Open, Mode::Guarded, Mode::Readonly] {
            let p = policy(mode, "169\\.254\\.169\\.254", ".*");
            let d = check(&p, "ssh_exec", "uptime\n169.254.169.254");
            assert!(!d.admitted, "{mode}");
            assert_eq!(d.reason, "matched RELAY_SHELL_POLICY_DENY");
        }
        // Deny refuses even tier-0 tools.
        let p = policy(Mode::Open, "^audit_tail", "");
        assert!(!check(&p, "audit_tail", "").admitted);
    }

    #[test]
    fn probe_starts_with_the_tool_name() {
        let p = policy(Mode::Open, "^rm", "");
        assert!(
            check(&p, "shell_exec", "rm -rf /").admitted,
            "^rm never matches: the probe starts with the tool"
        );
        let p = policy(Mode::Open, "^shell_exec rm ", "");
        assert!(!check(&p, "shell_exec", "rm -rf /").admitted);
    }

    #[test]
    fn readonly_admits_only_tier_zero() {
        let p = policy(Mode::Readonly, "", ".*");
        assert!(check(&p, "shell_exec", "df -h && free -m").admitted);
        assert!(check(&p, "server_info", "").admitted);
        let d = check(&p, "shell_exec", "touch x");
        assert!(!d.admitted);
        assert_eq!(d.reason, "readonly mode refuses Tier 1 (REVERSIBLE)");
        let d = check(&p, "shell_exec", "rm -rf /");
        assert_eq!(d.reason, "readonly mode refuses Tier 3 (IRREVERSIBLE)");
    }

    #[test]
    fn readonly_admits_read_only_sessions_only_when_the_kernel_confines_them() {
        let spawn = |text: &str| {
            let argv = text.split_whitespace().map(str::to_string).collect();
            Probe::new("shell_spawn", PolicyClass::Session).argv(argv, text)
        };
        let p = policy(Mode::Readonly, "", "");
        assert!(!p.check(&spawn("git status")).admitted);
        let p = p.with_confined_sessions(true);
        let d = p.check(&spawn("git status"));
        assert!(d.admitted, "{}", d.reason);
        assert_eq!(d.tier, Tier::Reversible);
        for refused in ["", "bash", "less /etc/hosts", "touch x"] {
            assert!(!p.check(&spawn(refused)).admitted, "{refused}");
        }
        let ssh = Probe::new("ssh_spawn", PolicyClass::Session)
            .argv(vec!["uptime".into()], "uptime")
            .hosts(vec!["host1".into()], "host1");
        assert!(!p.check(&ssh).admitted, "a remote session is not confined");
        // A token's readonly ceiling on an open server admits it the same way.
        let open = policy(Mode::Open, "", "").with_confined_sessions(true);
        let d = open.check_capped(&spawn("git status"), Ceiling::mode(Some(Mode::Readonly)));
        assert!(d.admitted);
        assert_eq!(d.mode, Mode::Readonly);
        assert!(
            !open
                .check_capped(&spawn("bash"), Ceiling::mode(Some(Mode::Readonly)))
                .admitted
        );
    }

    #[test]
    fn guarded_needs_allow_from_tier_two() {
        let p = policy(Mode::Guarded, "", "");
        assert!(check(&p, "shell_exec", "touch x").admitted);
        let d = check(&p, "shell_exec", "systemctl restart nginx");
        assert!(!d.admitted);
        assert_eq!(
            d.reason,
            "guarded mode refuses Tier 2 (STATEFUL) without an RELAY_SHELL_POLICY_ALLOW match"
        );
        let p = policy(Mode::Guarded, "", "systemctl restart nginx$");
        let d = check(&p, "shell_exec", "systemctl restart nginx");
        assert!(d.admitted);
        assert!(d.allowed_by_rule);
        assert_eq!(d.reason, "guarded: allowed by RELAY_SHELL_POLICY_ALLOW");
        assert!(!check(&p, "shell_exec", "systemctl restart nginx; reboot").admitted);
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
    fn a_ceiling_only_narrows_the_mode() {
        use Mode::*;
        assert_eq!(Open.capped(Some(Readonly)), Readonly);
        assert_eq!(Readonly.capped(Some(Open)), Readonly);
        assert_eq!(Guarded.capped(Some(Open)), Guarded);
        assert_eq!(Open.capped(Some(Guarded)), Guarded);
        assert_eq!(Guarded.capped(None), Guarded);
        let p = policy(Open, "", "");
        let shell = |text: &str| Probe::from_text("shell_exec", PolicyClass::Shell, text);
        let d = p.check_capped(&shell("touch x"), Ceiling::mode(Some(Readonly)));
        assert!(!d.admitted);
        assert_eq!(d.reason, "readonly mode refuses Tier 1 (REVERSIBLE)");
        assert!(
            p.check_capped(&shell("ls"), Ceiling::mode(Some(Readonly)))
                .admitted
        );
        assert!(
            !p.check_capped(&shell("systemctl restart x"), Ceiling::mode(Some(Guarded)))
                .admitted
        );
        let p = policy(Readonly, "", "");
        assert!(
            !p.check_capped(&shell("touch x"), Ceiling::mode(Some(Open)))
                .admitted
        );
    }

    #[test]
    fn a_tier_ceiling_refuses_above_it_even_when_allowed() {
        let write = Ceiling {
            mode: None,
            max_tier: Some((Tier::Stateful, "scope shell:write")),
        };
        let shell = |text: &str| Probe::from_text("shell_exec", PolicyClass::Shell, text);
        let p = policy(Mode::Open, "", "");
        assert!(
            p.check_capped(&shell("systemctl restart x"), write)
                .admitted
        );
        let d = p.check_capped(&shell("rm -rf /srv"), write);
        assert!(!d.admitted);
        assert_eq!(
            d.reason,
            "scope shell:write allows up to Tier 2; Tier 3 (IRREVERSIBLE) is refused"
        );
        // The allow regex lifts guarded refusals, never a ceiling.
        let p = policy(Mode::Guarded, "", ".*");
        assert!(!p.check_capped(&shell("rm -rf /srv"), write).admitted);
        assert!(
            p.check_capped(&shell("systemctl restart x"), write)
                .admitted
        );
        // Deny still comes first.
        let p = policy(Mode::Open, "restart", "");
        let d = p.check_capped(&shell("systemctl restart x"), write);
        assert_eq!(d.reason, "matched RELAY_SHELL_POLICY_DENY");
    }

    #[test]
    fn mode_parses() {
        assert_eq!(" ReadOnly ".parse::<Mode>(), Ok(Mode::Readonly));
        assert!("strict".parse::<Mode>().is_err());
        assert_eq!(Mode::Guarded.as_str(), "guarded");
    }
}
