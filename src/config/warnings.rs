//! Standing warnings: settings (and facts about the process) that leave the server exposed in
//! a way the operator should keep in view. The texts and their order are the Python
//! relay-shell v0.5.0's. They are shown in `server_info.warnings`, by `--check-config` as
//! `note:` lines, and in the start-up log as `unsafe setting: …`; `RELAY_SHELL_UNSAFE_NOTICES`
//! does not turn them off.

use super::{KnownHosts, Settings, Transport};
use crate::policy::Mode;

/// The standing warnings for `s`, in order; `is_root` is whether the server runs as root.
pub fn standing_warnings(s: &Settings, is_root: bool) -> Vec<String> {
    let mut w = Vec::new();
    if is_root {
        w.push(
            "running as root: every command, session and SSH key use has root's reach; there \
             is no internal sandbox"
                .to_string(),
        );
    }
    if s.policy_mode == Mode::Open {
        let list = if s.policy_deny.is_empty() {
            "no RELAY_SHELL_POLICY_DENY"
        } else {
            "a deny list is set"
        };
        let effect = if s.confirm_tier3 {
            "irreversible (Tier 3) commands need the two-step confirmation, every other command \
             runs on the first request"
        } else {
            "irreversible commands run on the first request (RELAY_SHELL_CONFIRM_TIER3 off)"
        };
        w.push(format!(
            "policy mode is open ({list}): {effect}; 'guarded' or 'readonly' narrows this"
        ));
    }
    match s.ssh_known_hosts {
        KnownHosts::Ignore => w.push(
            "RELAY_SHELL_SSH_KNOWN_HOSTS=ignore: SSH host keys are not verified by default".into(),
        ),
        KnownHosts::AcceptNew => w.push(
            "RELAY_SHELL_SSH_KNOWN_HOSTS=accept-new: an unknown host key is trusted on first \
             contact; 'strict' with ssh_keyscan removes the exposure"
                .into(),
        ),
        KnownHosts::Strict => {}
    }
    if s.ssh_allow_weaker_known_hosts && s.ssh_known_hosts != KnownHosts::Ignore {
        w.push(
            "a caller may pass known_hosts=ignore per call \
             (RELAY_SHELL_SSH_ALLOW_WEAKER_KNOWN_HOSTS=false refuses it)"
                .into(),
        );
    }
    if s.transport == Transport::Http && !s.auth_enabled && s.auth_tokens_file.is_none() {
        w.push(
            "HTTP transport without OAuth: any client that reaches the port can run commands \
             as the service user"
                .into(),
        );
    }
    if !s.audit_chain {
        w.push(
            "RELAY_SHELL_AUDIT_CHAIN is off: the audit log is not tamper-evident on its own".into(),
        );
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SettingsArgs;

    fn with(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_args(&SettingsArgs::from_pairs(pairs)).expect("valid") // ok: test
    }

    #[test]
    fn defaults_warn_about_open_mode_and_first_contact() {
        assert_eq!(
            standing_warnings(&with(&[]), false),
            [
                "policy mode is open (no RELAY_SHELL_POLICY_DENY): irreversible commands run on the first request (RELAY_SHELL_CONFIRM_TIER3 off); 'guarded' or 'readonly' narrows this",
                "RELAY_SHELL_SSH_KNOWN_HOSTS=accept-new: an unknown host key is trusted on first contact; 'strict' with ssh_keyscan removes the exposure",
                "a caller may pass known_hosts=ignore per call (RELAY_SHELL_SSH_ALLOW_WEAKER_KNOWN_HOSTS=false refuses it)",
            ]
        );
    }

    #[test]
    fn every_warning_in_order() {
        let s = with(&[
            ("RELAY_SHELL_POLICY_DENY", "x"),
            ("RELAY_SHELL_CONFIRM_TIER3", "true"),
            ("RELAY_SHELL_SSH_KNOWN_HOSTS", "ignore"),
            ("RELAY_SHELL_TRANSPORT", "http"),
            ("RELAY_SHELL_AUDIT_CHAIN", "false"),
        ]);
        let w = standing_warnings(&s, true);
        assert_eq!(w.len(), 5, "{w:?}");
        assert!(w[0].starts_with("running as root: "));
        assert_eq!(
            w[1],
            "policy mode is open (a deny list is set): irreversible (Tier 3) commands need the two-step confirmation, every other command runs on the first request; 'guarded' or 'readonly' narrows this"
        );
        assert_eq!(
            w[2],
            "RELAY_SHELL_SSH_KNOWN_HOSTS=ignore: SSH host keys are not verified by default"
        );
        assert!(w[3].starts_with("HTTP transport without OAuth: "));
        assert!(w[4].starts_with("RELAY_SHELL_AUDIT_CHAIN is off: "));
        let quiet = with(&[
            ("RELAY_SHELL_POLICY_MODE", "guarded"),
            ("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict"),
            ("RELAY_SHELL_SSH_ALLOW_WEAKER_KNOWN_HOSTS", "false"),
        ]);
        assert!(standing_warnings(&quiet, false).is_empty());
    }
}
