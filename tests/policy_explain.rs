//! `relay-shell explain` output is valid JSON for any input: string values are redacted before
//! serialization (`Redactor::scrub_document`), never the serialized text (a secret's pattern
//! does not stop at a closing quote or an escape). Tried on generated text full of secret
//! shapes, quotes and escapes, and on the operator's example from the issue through the built
//! binary.

use proptest::prelude::*;
use relay_shell::policy::explain::explain_json;
use relay_shell::policy::probe::test_probe;
use relay_shell::policy::{Mode, Policy};
use relay_shell::redact::Redactor;

const VOCABULARY: &[&str] = &[
    "kubectl",
    "config",
    "set-credentials",
    "x",
    "--token=",
    "--token",
    "y",
    "\"",
    "\\",
    "\\\"",
    "'",
    "password=",
    "--password=hunter2",
    "-psecret",
    "mysql",
    "-u",
    "root",
    "Authorization: Bearer ",
    "abc.def.ghi",
    "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
    "https://user:pass@example.com/x",
    "curl",
    "-H",
    "echo",
    "\n",
    "\t",
    "\u{1}",
    "é",
    "}",
    "{",
    "]",
    ",",
    ":",
    "$(",
    ")",
    "=",
    "rm -rf /",
];

fn secretish() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(VOCABULARY), 0..16).prop_map(|w| w.join(" ")),
        prop::collection::vec(prop::sample::select(VOCABULARY), 0..16).prop_map(|w| w.concat()),
        "\\PC{0,80}",
        prop::collection::vec(any::<u8>(), 0..128)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

fn render(tool: &str, text: &str) -> String {
    let policy = Policy::new(Mode::Guarded, "", "").expect("policy"); // ok: test
    let redactor = Redactor::new();
    // As `relay-shell explain` does: values redacted, then serialised.
    let (doc, _) = explain_json(&policy, &test_probe(tool, text));
    serde_json::to_string_pretty(&redactor.scrub_document(&doc)).expect("serialise") // ok: test
}

/// Every string in the document, recursively.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn explain_output_is_always_json_and_redacted(text in secretish(), tool in prop::sample::select(&["shell_exec", "ssh_exec", "session_send", "ssh_upload"][..])) {
        let out = render(tool, &text);
        let parsed: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
        let mut all = Vec::new();
        strings(&parsed, &mut all);
        let redactor = Redactor::new();
        for s in all {
            prop_assert_eq!(redactor.redact(&s).into_owned(), s.clone(), "unredacted value {:?}", s);
        }
    }
}

#[test]
fn the_operators_example_is_valid_json_without_the_token() {
    let out = render("shell_exec", "kubectl config set-credentials x --token=y");
    let parsed: serde_json::Value = serde_json::from_str(&out).expect("valid JSON"); // ok: test
    assert_eq!(parsed["tier"], 2);
    assert!(!out.contains("--token=y"), "{out}");
    assert!(out.contains("[REDACTED]"), "{out}");
}

#[test]
fn the_built_binary_prints_valid_json_for_the_example() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relay-shell"))
        .args([
            "explain",
            "--mode",
            "open",
            "kubectl config set-credentials x --token=y",
        ])
        .env_clear()
        .output()
        .expect("run relay-shell"); // ok: test
    let stdout = String::from_utf8(out.stdout).expect("utf-8"); // ok: test
    let parsed: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON"); // ok: test
    assert_eq!(parsed["decision"]["admitted"], true);
    assert!(!stdout.contains("--token=y"), "{stdout}");
}
