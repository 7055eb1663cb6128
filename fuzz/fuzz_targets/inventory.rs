//! Fuzz target `inventory`: the ssh_config reader, the JSON inventory file and the `Include`
//! glob matcher (`ssh::inventory`, `ssh::validate`).
//!
//! The first byte chooses: an ssh_config text (its `Include` lines skipped, so the machine's
//! files are never read), a JSON inventory written to a temporary file and loaded, or a glob
//! and a file name separated by `/`. Checks: nothing panics; every listed host passes
//! `validate::host` with a port of 1..65535; config aliases are sorted, unique and never
//! wildcards; inventory entries are either listed or rejected, never lost; loading is
//! deterministic; a keyword is lower-case and arguments carry no `"`; a glob without
//! wildcards matches only its own name, `*` matches every visible name, and the matcher is
//! the slow recursive definition's equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_shell::fuzzing::{include_glob_matches, ssh_config_inventory, ssh_config_line};
use relay_shell::ssh::inventory::{Inventory, Source};
use relay_shell::ssh::validate;

fn check(inv: &Inventory) {
    for h in inv.hosts() {
        assert!(
            validate::host(&h.name).is_ok(),
            "listed invalid host {:?}",
            h.name
        );
        assert!(h.port != Some(0), "port 0 listed for {:?}", h.name);
        if h.source == Source::Inventory {
            assert!(validate::host(&h.hostname).is_ok());
            assert!(!h.name.contains(['%', '[', ']']));
        }
    }
    let aliases = inv.config_aliases();
    assert!(
        aliases.windows(2).all(|w| w[0] < w[1]),
        "aliases not sorted and unique"
    );
    assert!(aliases.iter().all(|a| !a.contains(['*', '?', '!'])));
}

/// The definition the matcher must agree with (exponential: only for short inputs).
fn reference(p: &[u8], n: &[u8]) -> bool {
    match (p.first(), n.first()) {
        (None, None) => true,
        (Some(b'*'), _) => reference(&p[1..], n) || (!n.is_empty() && reference(p, &n[1..])),
        (Some(b'?'), Some(_)) => reference(&p[1..], &n[1..]),
        (Some(a), Some(b)) if a == b => reference(&p[1..], &n[1..]),
        _ => false,
    }
}

fn config(text: &str) {
    let inv = ssh_config_inventory(text);
    check(&inv);
    let again = ssh_config_inventory(text);
    assert_eq!(inv.to_json(), again.to_json(), "not deterministic");
    for line in text.lines() {
        if let Some((key, args)) = ssh_config_line(line) {
            assert!(!key.is_empty() || line.trim_start().starts_with('='));
            assert!(!key.chars().any(|c| c.is_ascii_uppercase()));
            assert!(args.iter().all(|a| !a.contains('"')));
        }
    }
}

fn inventory_file(bytes: &[u8]) {
    let path = std::env::temp_dir().join(format!(
        "relay-shell-fuzz-inventory-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, bytes).expect("temporary file");
    let missing = std::path::Path::new("/nonexistent/relay-shell-fuzz/ssh_config");
    let inv = Inventory::load(missing, &path.to_string_lossy());
    check(&inv);
    if let Ok(serde_json::Value::Object(top)) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let entries = top.values().filter(|v| v.is_object()).count();
        assert_eq!(
            inv.len() + inv.rejected.len(),
            entries,
            "an inventory entry was lost"
        );
    }
    let _ = std::fs::remove_file(&path);
}

fn glob(text: &str) {
    let (pattern, name) = text.split_once('/').unwrap_or((text, ""));
    let got = include_glob_matches(pattern, name);
    if !name.starts_with('.') && pattern.len() <= 12 && name.len() <= 24 {
        assert_eq!(
            got,
            reference(pattern.as_bytes(), name.as_bytes()),
            "{pattern:?} {name:?}"
        );
    }
    if !pattern.contains(['*', '?']) {
        assert_eq!(got, !name.starts_with('.') && pattern == name);
    }
    if pattern == "*" {
        assert_eq!(got, !name.starts_with('.'));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => config(&String::from_utf8_lossy(rest)),
        1 => inventory_file(rest),
        _ => glob(&String::from_utf8_lossy(rest)),
    }
});
