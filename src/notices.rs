//! `[NOTICE …]` lines: what the result of a risky call tells the model besides its output
//! (the Python relay-shell v0.5.0's texts and rules, `docs/tools.md`).
//!
//! Three kinds, in this order: the tier notice (tier 2 or 3, decided by the gate from the
//! policy's verdict), the per-call SSH notice (a call that connects with host-key verification
//! off) and the host-list notice (`ssh_check`, `ssh_fanout`). Tools declare the last two when
//! they plan a call ([`crate::gate::Plan::notice`]); the gate appends every notice after the
//! complete, bounded result — never on a refusal, a confirmation challenge or a cancelled
//! call — and computes `output_sha256` and `output_len` before appending, so a notice never
//! changes a record's hash.

use crate::audit::Json;
use crate::policy::{PolicyClass, Reason, Tier};

/// The per-call SSH notice: the connection's host key is not verified.
pub const SSH_IGNORE: &str = "ssh: host-key verification is off (known_hosts=ignore); the peer \
    is not authenticated and the connection can be intercepted";

/// Hosts of a host-list notice that are looked at (the rest are not counted).
const HOST_LIST_LIMIT: usize = 200;
/// Hosts named in a host-list notice before ` and N more`.
const HOST_LIST_SHOWN: usize = 5;

/// The tier notice for an admitted call of `class` classified `tier` for `reasons`; `None`
/// below tier 2.
pub fn tier_notice(tier: Tier, class: PolicyClass, reasons: &[Reason]) -> Option<String> {
    if tier < Tier::Stateful {
        return None;
    }
    let privileged = reasons.iter().any(|r| is_privilege(&r.rule));
    let (basis, advice) = if tier == Tier::Irreversible {
        (
            "matched an irreversible-operation pattern",
            "It may not be undoable and ran with no confirmation step; verify the target and \
             take a backup or snapshot first",
        )
    } else if privileged {
        (
            "matched a privilege-escalation pattern",
            "It runs with elevated privileges and can change anything the target account can",
        )
    } else if class == PolicyClass::Stateful {
        (
            "the tool changes local or remote state",
            "It changes state that a user or dependent service may notice",
        )
    } else {
        (
            "matched a state-changing pattern",
            "It changes state that a user or dependent service may notice",
        )
    };
    Some(format!(
        "tier {} ({}), {basis}. {advice}. Classification is a heuristic, not a boundary",
        tier.as_u8(),
        tier.name()
    ))
}

/// Whether a classifier finding is about running with someone else's privileges (`sudo`,
/// `doas`, `pkexec`, `su`, `runas`).
fn is_privilege(rule: &str) -> bool {
    let rule = rule.to_ascii_lowercase();
    rule.contains("privilege")
        || rule.starts_with("su ")
        || rule.contains("(su)")
        || rule.contains("as another user")
        || rule.contains("root shell")
}

/// The host-list notice for the hosts of `ssh_check`/`ssh_fanout` whose effective host-key
/// policy `is_ignore` says is `ignore` (only the first 200 hosts count).
pub fn host_list_notice<'a>(
    hosts: impl IntoIterator<Item = &'a str>,
    is_ignore: impl Fn(&str) -> bool,
) -> Option<String> {
    let off: Vec<&str> = hosts
        .into_iter()
        .take(HOST_LIST_LIMIT)
        .filter(|h| is_ignore(h))
        .collect();
    if off.is_empty() {
        return None;
    }
    let mut shown = off[..off.len().min(HOST_LIST_SHOWN)].join(", ");
    if off.len() > HOST_LIST_SHOWN {
        shown.push_str(&format!(" and {} more", off.len() - HOST_LIST_SHOWN));
    }
    Some(format!(
        "ssh: host-key verification is off for {shown} (known_hosts=ignore); the peer is not \
         authenticated and the connection can be intercepted"
    ))
}

/// `result` with `notices` placed: as a final `"notices"` key when `json` is set and the
/// result is one JSON object (rendered like Python's `json.dumps`), else one
/// `\n[NOTICE <text>]` line per notice.
pub fn place(result: &str, notices: &[String], json: bool) -> String {
    if notices.is_empty() {
        return result.to_string();
    }
    if json && let Ok(Json::Obj(_)) = Json::parse(result) {
        let list = Json::Arr(notices.iter().cloned().map(Json::Str).collect()).to_python();
        let body = result.trim_end();
        if let Some(open) = body.strip_suffix('}') {
            let sep = if open.trim_end().ends_with('{') {
                ""
            } else {
                ", "
            };
            return format!("{open}{sep}\"notices\": {list}}}");
        }
    }
    let mut out = result.to_string();
    for n in notices {
        out.push_str("\n[NOTICE ");
        out.push_str(n);
        out.push(']');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(rule: &str, tier: Tier) -> Reason {
        Reason {
            subject: "x".into(),
            rule: rule.into(),
            tier,
        }
    }

    #[test]
    fn tier_notices_name_their_basis() {
        assert_eq!(tier_notice(Tier::Reversible, PolicyClass::Shell, &[]), None);
        assert_eq!(
            tier_notice(Tier::Irreversible, PolicyClass::Shell, &[]).unwrap(),
            "tier 3 (IRREVERSIBLE), matched an irreversible-operation pattern. It may not be undoable and ran with no confirmation step; verify the target and take a backup or snapshot first. Classification is a heuristic, not a boundary"
        );
        assert_eq!(
            tier_notice(
                Tier::Stateful,
                PolicyClass::Shell,
                &[reason("privilege wrapper (sudo)", Tier::Stateful)]
            )
            .unwrap(),
            "tier 2 (STATEFUL), matched a privilege-escalation pattern. It runs with elevated privileges and can change anything the target account can. Classification is a heuristic, not a boundary"
        );
        assert_eq!(
            tier_notice(Tier::Stateful, PolicyClass::Shell, &[]).unwrap(),
            "tier 2 (STATEFUL), matched a state-changing pattern. It changes state that a user or dependent service may notice. Classification is a heuristic, not a boundary"
        );
        assert!(
            tier_notice(Tier::Stateful, PolicyClass::Stateful, &[])
                .unwrap()
                .contains("the tool changes local or remote state")
        );
    }

    #[test]
    fn host_lists_show_five_and_count_the_rest() {
        let hosts: Vec<String> = (1..=8).map(|i| format!("h{i}")).collect();
        let n = host_list_notice(hosts.iter().map(String::as_str), |h| h != "h2").unwrap();
        assert_eq!(
            n,
            "ssh: host-key verification is off for h1, h3, h4, h5, h6 and 2 more (known_hosts=ignore); the peer is not authenticated and the connection can be intercepted"
        );
        assert_eq!(host_list_notice(["a"], |_| false), None);
        let many: Vec<String> = (0..300).map(|i| format!("h{i}")).collect();
        let n = host_list_notice(many.iter().map(String::as_str), |_| true).unwrap();
        assert!(n.contains(" and 195 more "), "{n}");
    }

    #[test]
    fn placement() {
        let notes = vec!["a".to_string(), "é".to_string()];
        assert_eq!(
            place("[exit 0]\nout", &notes, false),
            "[exit 0]\nout\n[NOTICE a]\n[NOTICE é]"
        );
        assert_eq!(
            place("{\"x\": 1}", &notes, true),
            "{\"x\": 1, \"notices\": [\"a\", \"\\u00e9\"]}"
        );
        assert_eq!(place("{}", &notes[..1], true), "{\"notices\": [\"a\"]}");
        assert_eq!(
            place("[no hosts]", &notes[..1], true),
            "[no hosts]\n[NOTICE a]"
        );
        assert_eq!(place("x", &[], false), "x");
    }
}
