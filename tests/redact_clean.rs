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
