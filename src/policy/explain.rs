//! `relay-shell explain`: what the policy would decide for one call, as JSON, so operators can
//! test a configuration before deploying it.

use serde_json::{Value, json};

use super::Policy;

/// Explain `tool` + `text` under `policy`. Returns the JSON and whether the call is admitted
/// (the CLI exits 0 when admitted, 1 when refused).
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
/// The output is not redacted here: see [`explain_redacted`].
pub fn explain_json(policy: &Policy, tool: &str, text: &str) -> (Value, bool) {
    explain_with(policy, tool, text, &|s| s.to_string())
}

/// [`explain_json`] rendered as the pretty JSON `relay-shell explain` prints, with `redact`
/// applied to every string *value* before serialization. Redacting the serialized text instead
/// could cut through an escape or a closing quote (a token's pattern does not stop at `"`):
/// this way the output is always valid JSON, whatever the input and the redaction rules.
pub fn explain_redacted(
    policy: &Policy,
    tool: &str,
    text: &str,
    redact: &dyn Fn(&str) -> String,
) -> (String, bool) {
    let (value, admitted) = explain_with(policy, tool, text, redact);
    let rendered = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into()); // ok: a Value of strings, numbers and bools always serializes
    (rendered, admitted)
}

fn explain_with(
    policy: &Policy,
    tool: &str,
    text: &str,
    redact: &dyn Fn(&str) -> String,
) -> (Value, bool) {
    let decision = policy.check(tool, text);
    let reasons: Vec<Value> = decision
        .classification
        .reasons
        .iter()
        .map(|r| {
            json!({
                "subject": redact(&r.subject),
                "rule": redact(&r.rule),
                "tier": r.tier.as_u8(),
            })
        })
        .collect();
    let value = json!({
        "tool": redact(tool),
        "mode": policy.mode().as_str(),
        "tier": decision.tier.as_u8(),
        "tier_name": decision.tier.name(),
        "decision": {
            "admitted": decision.admitted,
            "reason": redact(&decision.reason),
        },
        "reasons": reasons,
    });
    (value, decision.admitted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Mode;

    #[test]
    fn readonly_refuses_a_write_and_says_why() {
        let policy = Policy::new(Mode::Readonly, "", "").expect("valid policy"); // ok: test
        let (v, admitted) = explain_json(&policy, "shell_exec", "ls; rm -rf /tmp/x");
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
        let (v, admitted) = explain_json(
            &policy,
            "shell_exec",
            "journalctl -u nginx -n 50 | grep -i error",
        );
        assert!(admitted);
        assert_eq!(v["tier"], 0);
        assert_eq!(v["decision"]["reason"], "permitted");
    }
}
