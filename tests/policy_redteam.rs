//! The red-team corpus (`tests/data/policy_redteam.tsv`): commands written to break the
//! classifier, one family per section (option grammars, code passed as data, inherited state,
//! write destinations, verb-judged CLIs, data sent out, and the everyday forms it must not judge
//! too strictly). Every case must classify at exactly its expected tier; the test prints how
//! the mismatches split into false admits (tier 0 for a command that is not read-only),
//! under-tiers and over-strict verdicts.

/// A case stated as (tool, text), classified from its typed probe.
fn classify(tool: &str, text: &str) -> relay_shell::policy::Classification {
    relay_shell::policy::classify(&relay_shell::policy::probe::test_probe(tool, text))
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn cases() -> Vec<(String, u8, String)> {
    include_str!("data/policy_redteam.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let tool = parts.next().unwrap_or_default().to_string();
            let tier = parts
                .next()
                .unwrap_or_default()
                .parse::<u8>()
                .expect("tier column is a number");
            (tool, tier, unescape(parts.next().unwrap_or_default()))
        })
        .collect()
}

#[test]
fn red_team_corpus_has_many_hundreds_of_cases() {
    assert!(cases().len() >= 1000, "{} cases", cases().len());
}

#[test]
fn every_red_team_case_classifies_at_its_expected_tier() {
    let (mut false_admit, mut under, mut over) = (0, 0, 0);
    let mut failures = Vec::new();
    let all = cases();
    for (tool, expected, text) in &all {
        let c = classify(tool, text);
        let got = c.tier.as_u8();
        if got == *expected {
            continue;
        }
        let kind = if got == 0 {
            false_admit += 1;
            "FALSE-ADMIT"
        } else if got < *expected {
            under += 1;
            "UNDER"
        } else {
            over += 1;
            "OVER"
        };
        let why: Vec<String> = c
            .reasons
            .iter()
            .map(|r| format!("{} [{}] {}", r.tier.as_u8(), r.rule, r.subject))
            .collect();
        failures.push(format!(
            "{kind} {expected}->{got}\t{text:?}\n      {}",
            why.join("\n      ")
        ));
    }
    println!(
        "red-team corpus: {} cases, {} false admits, {} under-tier, {} over-strict",
        all.len(),
        false_admit,
        under,
        over
    );
    assert!(
        failures.is_empty(),
        "{} mismatches ({false_admit} false admits, {under} under-tier, {over} over-strict):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
