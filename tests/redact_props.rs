//! Properties of the redactor: idempotent (plain and keyed), total, identity on text with no
//! secret shape, object keys preserved by `scrub_value`, output bounded by `scrub_str`.

use proptest::prelude::*;
use relay_shell::redact::{ARG_MAX_CHARS, Redactor};
use serde_json::{Map, Value};

/// Fragments that build near-secrets: keywords, flags, quotes, separators, token shapes.
const FRAGMENTS: &[&str] = &[
    "--password",
    "-password",
    "--pwd",
    "-Secret",
    "--token",
    "--api-key",
    "--db-password",
    "--jwt",
    "x",
    "-",
    "--",
    "=",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\"",
    "'",
    "\\",
    "\\\"",
    "a b",
    "val",
    "Get",
    "Authorization",
    "proxy-authorization",
    ":",
    " && ",
    " || ",
    " | ",
    "|",
    "Bearer ",
    "password",
    "secret",
    "token",
    "credential",
    "api_key",
    "aws_secret_access_key",
    "AccountKey",
    "SharedAccessKey",
    ";",
    "?sig=",
    "&sig=",
    "abcdefghijklmnopqrstuvwxyz0123",
    "ConvertTo-SecureString",
    "-AsPlainText",
    "$x",
    "mysql",
    "mariadb",
    "-p",
    "-pfoo",
    "-p22",
    "://",
    "user:pw@",
    "https://u:p@h/",
    "@",
    "/",
    "ghp_aaaaaaaaaaaaaaaaaaaaaaaa",
    "sk-abcdefghijklmnopqr",
    "sk-build-step",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    ".eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    "AKIAABCDEFGHIJKLMNOP",
    "xoxb-1234567890-abc",
    "-----BEGIN RSA PRIVATE KEY-----",
    "MIIEowIBAAKCAQEAx4Y0c2VjcmV0a2V5bWF0ZXJpYWw=",
    "-----END RSA PRIVATE KEY-----",
    "é",
    "\u{a0}",
    "\u{1c}",
    "sshpass",
    "machine h login u",
    "db.example.com:5432:app:alice:",
    "[REDACTED]",
    "[REDACTED:0123abcd]",
    "[REDACTED:",
    "https://hooks.slack.com/services/T0/B0/x",
    "hf_",
    "npm_",
    "glpat-",
    "ya29.",
    "GR1348941",
    "<<<",
    " <<< ",
    "sudo -S ",
    "--password-stdin",
    "chpasswd",
    "az keyvault secret set --value ",
    "aws secretsmanager create-secret --secret-string ",
    "file://",
    "Cookie: ",
    "set-cookie:",
    "sid=",
    "; ",
    ";",
    " IDENTIFIED BY ",
    "SET PASSWORD ",
    " PASSWORD ",
    "PASSWORD(",
    "'",
    " = ",
    "redis-cli AUTH ",
    "consul kv put db/password ",
];

fn near_secret_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..18).prop_map(|parts| parts.concat())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![near_secret_text(), any::<String>(), "[ -~\n\t]{0,120}"]
}

/// Characters from which no rule, hint or gate can be assembled.
fn secret_free_text() -> impl Strategy<Value = String> {
    "[bcfgjlmnqvz0-9 ,./_=\n-]{0,200}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn redact_is_idempotent(text in any_text()) {
        let r = Redactor::new();
        let once = r.redact(&text).into_owned();
        prop_assert_eq!(r.redact(&once).into_owned(), once);
    }

    #[test]
    fn keyed_redact_is_idempotent(text in any_text()) {
        let r = Redactor::with_key(b"property-key".to_vec());
        let once = r.redact(&text).into_owned();
        prop_assert_eq!(r.redact(&once).into_owned(), once);
    }

    #[test]
    fn scrub_str_is_total_and_bounded(text in any_text(), max_len in 0usize..64) {
        let out = Redactor::new().scrub_str(&text, max_len);
        let head = out.split("...(+").next().unwrap_or("");
        prop_assert!(head.chars().count() <= max_len);
    }

    #[test]
    fn secret_free_text_is_unchanged(text in secret_free_text()) {
        let r = Redactor::new();
        prop_assert_eq!(r.redact(&text).into_owned(), text.clone());
        prop_assert_eq!(r.scrub_str(&text, ARG_MAX_CHARS), text);
    }

    #[test]
    fn scrub_value_preserves_secret_free_keys(
        keys in prop::collection::btree_set("[bcfgjlmnqvz_]{1,12}", 0..8),
        values in prop::collection::vec(any_text(), 8),
    ) {
        let mut map = Map::new();
        for (k, v) in keys.iter().zip(values.iter().cycle()) {
            map.insert(k.clone(), Value::String(v.clone()));
        }
        let out = Redactor::new().scrub_value(&Value::Object(map), ARG_MAX_CHARS);
        let out_keys: Vec<&String> = out.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        prop_assert_eq!(out_keys, keys.iter().collect::<Vec<_>>());
    }

    #[test]
    fn scrub_value_keys_are_the_scrubbed_keys(
        keys in prop::collection::btree_set(near_secret_text(), 0..6),
    ) {
        let r = Redactor::new();
        let map: Map<String, Value> = keys.iter().map(|k| (k.clone(), Value::Null)).collect();
        let out = r.scrub_value(&Value::Object(map), ARG_MAX_CHARS);
        let mut want: Vec<String> = keys.iter().map(|k| r.scrub_str(k, ARG_MAX_CHARS)).collect();
        want.sort();
        want.dedup();
        let got: Vec<String> = out.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        prop_assert_eq!(got, want);
    }
}
