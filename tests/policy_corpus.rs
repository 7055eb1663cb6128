//! The labelled corpus: every case in `tests/data/policy_corpus.tsv` must classify at exactly
//! its expected tier. Categories: irreversible commands, each obfuscation family applied to
//! dangerous commands, stateful changes, read-only diagnostics (tier 0), readers with side
//! effects (never 0), the spec's PowerShell/cmd examples, and false-positive traps.

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
    let data = include_str!("data/policy_corpus.tsv");
    data.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let tool = parts.next().unwrap_or_default().to_string();
            let tier = parts
                .next()
                .unwrap_or_default()
                .parse::<u8>()
                .expect("tier column is a number");
            let text = unescape(parts.next().unwrap_or_default());
            (tool, tier, text)
        })
        .collect()
}

#[test]
fn corpus_has_at_least_300_cases() {
    assert!(cases().len() >= 300, "corpus has {} cases", cases().len());
}

#[test]
fn every_case_classifies_at_its_expected_tier() {
    let mut failures = Vec::new();
    for (tool, expected, text) in cases() {
        let c = classify(&tool, &text);
        if c.tier.as_u8() != expected {
            let why: Vec<String> = c
                .reasons
                .iter()
                .map(|r| format!("{} [{}] {}", r.tier.as_u8(), r.rule, r.subject))
                .collect();
            failures.push(format!(
                "{tool}\t{expected}\t{text:?} => {}\n      {}",
                c.tier.as_u8(),
                why.join("\n      ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
