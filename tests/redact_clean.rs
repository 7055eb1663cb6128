//! No new false positives: every line of `tests/data/redact_clean.txt` (ordinary commands,
//! including the clients the command-line rule reads, paths, git hashes, UUIDs, base64 that is
//! not a key, prose with "token" and "password") comes out of the redactor unchanged, alone
//! and through `relay-shell redact`'s text mode.

use relay_shell::redact::{Redactor, redact_stream};

const CLEAN: &str = include_str!("data/redact_clean.txt");

#[test]
fn the_clean_corpus_has_at_least_200_lines() {
    assert!(CLEAN.lines().count() >= 200, "{}", CLEAN.lines().count());
}

#[test]
fn every_clean_line_is_unchanged() {
    let r = Redactor::new();
    let changed: Vec<String> = CLEAN
        .lines()
        .filter_map(|l| {
            let out = r.redact(l);
            (out != l).then(|| format!("  {l}\n  -> {out}"))
        })
        .collect();
    assert!(changed.is_empty(), "changed:\n{}", changed.join("\n"));
}

/// Line by line, as `relay-shell redact` reads it. (As one text the corpus would name a MySQL
/// client, and the compatibility rule for `-pSECRET` then applies to every line — a documented
/// over-scrub, docs/compatibility.md.)
#[test]
fn the_clean_corpus_is_unchanged_through_the_stream() {
    let r = Redactor::new();
    let mut out = Vec::new();
    redact_stream(CLEAN.as_bytes(), &mut out, &r).expect("in-memory");
    assert_eq!(String::from_utf8(out).expect("utf-8"), CLEAN);
}

/// The text mode's fast path (hint search per block, clean lines copied through) gives what
/// redacting every line on its own gives, on a multi-block input whose secrets fall on and
/// around the block boundaries.
#[test]
fn the_stream_equals_line_by_line_redaction_across_blocks() {
    let r = Redactor::new();
    let secrets = [
        "mysql -u root -phunter2 db",
        "export DB_PASSWORD=hunter2",
        "db.example.com:5432:app:bob:hunter2",
        "curl -u a:pw https://h",
    ];
    let mut input = String::new();
    let mut expected = String::new();
    let mut i = 0usize;
    while input.len() < 1_200_000 {
        let line = if i.is_multiple_of(97) || (i > 3000 && i < 3010) {
            secrets[i % secrets.len()].to_string()
        } else {
            CLEAN.lines().nth(i % 200).unwrap_or("x").to_string()
        };
        expected.push_str(&r.redact(&line));
        expected.push('\n');
        input.push_str(&line);
        input.push('\n');
        i += 1;
    }
    let mut out = Vec::new();
    redact_stream(input.as_bytes(), &mut out, &r).expect("in-memory");
    assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
}
