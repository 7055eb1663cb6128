//! Corpus of realistic positives (one or more per rule) and near-miss negatives, with exact
//! expected outputs. Data: `tests/data/redact_corpus.tsv` (`name<TAB>input<TAB>expected`,
//! `=` meaning "unchanged"; escapes `\\`, `\t`, `\n`, `\r`).

use relay_shell::redact::Redactor;

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            other => panic!("bad escape \\{other:?} in corpus"),
        }
    }
    out
}

fn corpus() -> Vec<(String, String, String)> {
    let data = include_str!("data/redact_corpus.tsv");
    data.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "corpus line needs 3 fields: {line}");
            let input = unescape(fields[1]);
            let expected = if fields[2] == "=" {
                input.clone()
            } else {
                unescape(fields[2])
            };
            (fields[0].to_string(), input, expected)
        })
        .collect()
}

#[test]
fn corpus_has_at_least_150_cases_with_unique_names() {
    let cases = corpus();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|(n, _, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "duplicate case names");
}

#[test]
fn every_corpus_case_redacts_exactly() {
    let redactor = Redactor::new();
    let mut failures = Vec::new();
    for (name, input, expected) in corpus() {
        let got = redactor.redact(&input);
        if got != expected {
            failures.push(format!(
                "{name}\n  input:    {input:?}\n  expected: {expected:?}\n  got:      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_corpus_output_is_a_fixed_point() {
    let redactor = Redactor::new();
    let keyed = Redactor::with_key(b"corpus-key".to_vec());
    for (name, input, _) in corpus() {
        let once = redactor.redact(&input).into_owned();
        assert_eq!(redactor.redact(&once), once, "{name}");
        let once = keyed.redact(&input).into_owned();
        assert_eq!(keyed.redact(&once), once, "{name} (keyed)");
    }
}

#[test]
fn keyed_mode_redacts_the_same_spans() {
    let plain = Redactor::new();
    let keyed = Redactor::with_key(b"corpus-key".to_vec());
    for (name, input, _) in corpus() {
        if input.contains("[REDACTED") {
            continue;
        }
        let want = plain.redact(&input).into_owned();
        let got = keyed.redact(&input).into_owned();
        let normalised = normalise_tags(&got);
        assert_eq!(normalised, want, "{name}");
    }
}

/// `[REDACTED:xxxxxxxx]` → `[REDACTED]`.
fn normalise_tags(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("[REDACTED:") {
        let tagged = &rest[i..];
        if tagged.len() >= 19 && tagged.as_bytes()[18] == b']' {
            out.push_str(&rest[..i]);
            out.push_str("[REDACTED]");
            rest = &tagged[19..];
        } else {
            out.push_str(&rest[..i + 10]);
            rest = &tagged[10..];
        }
    }
    out.push_str(rest);
    out
}
