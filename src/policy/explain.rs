//! `relay-shell explain`: what the policy would decide for one call, as JSON, so operators can
//! test a configuration before deploying it.

use serde_json::{Value, json};

use super::{Policy, Probe};

/// Explain a call, given as its probe, under `policy`. Returns the JSON and whether the call is
/// admitted (the CLI exits 0 when admitted, 1 when refused).
///
/// Shape (keys are emitted in lexicographic order by `serde_json`, which is stable):
///
/// ```json
/// {
///   "decision": { "admitted": false, "reason": "readonly mode refuses Tier 3 (IRREVERSIBLE)" },
///   "mode": "readonly",
///   "reasons": [ { "rule": "rm -r/-f removes files irrecoverably", "subject": "rm -rf /", "tier": 3 } ],
///   "tier": 3,
///   "tier_name": "IRREVERSIBLE",
///   "tool": "shell_exec"
/// }
/// ```
///
/// `reasons` lists every command found, the rule that fired and its tier, in the order found;
/// the decision's `reason` is the exact string the gate would put in a `[DENIED …]` result.
/// The output is not redacted here: the caller redacts before printing.
pub fn explain_json(policy: &Policy, probe: &Probe) -> (Value, bool) {
    let decision = policy.check(probe);
    let reasons: Vec<Value> = decision
        .classification
        .reasons
        .iter()
        .map(|r| {
            json!({
                "subject": r.subject,
                "rule": r.rule,
                "tier": r.tier.as_u8(),
            })
        })
        .collect();
    let value = json!({
        "tool": probe.tool(),
        "mode": policy.mode().as_str(),
        "tier": decision.tier.as_u8(),
        "tier_name": decision.tier.name(),
        "decision": {
            "admitted": decision.admitted,
            "reason": decision.reason,
        },
        "reasons": reasons,
    });
    (value, decision.admitted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Mode, PolicyClass};

    fn shell(text: &str) -> Probe {
        Probe::from_text("shell_exec", PolicyClass::Shell, text)
    }

    #[test]
    fn readonly_refuses_a_write_and_says_why() {
        let policy = Policy::new(Mode::Readonly, "", "").expect("valid policy"); // ok: test
        let (v, admitted) = explain_json(&policy, &shell("ls; rm -rf /tmp/x"));
        assert!(!admitted);
        assert_eq!(v["tier"], 3);
        assert_eq!(v["tier_name"], "IRREVERSIBLE");
        assert_eq!(v["mode"], "readonly");
        assert_eq!(v["decision"]["admitted"], false);
        assert_eq!(
            v["decision"]["reason"],
            "readonly mode refuses Tier 3 (IRREVERSIBLE)"
        );
        let subjects: Vec<&str> = v["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["subject"].as_str())
            .collect();
        assert_eq!(subjects, vec!["ls", "rm -rf /tmp/x"]);
        assert_eq!(v["reasons"][0]["tier"], 0);
    }

    #[test]
    fn readonly_admits_diagnostics() {
        let policy = Policy::new(Mode::Readonly, "", "").expect("valid policy"); // ok: test
        let (v, admitted) =
            explain_json(&policy, &shell("journalctl -u nginx -n 50 | grep -i error"));
        assert!(admitted);
        assert_eq!(v["tier"], 0);
        assert_eq!(v["decision"]["reason"], "permitted");
    }
}
