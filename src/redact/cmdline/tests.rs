//! Unit tests of the client table and the key-name check; the exact redactions are in
//! `tests/redact_cli_secrets.rs`.

use super::*;

#[test]
fn every_row_builds_and_names_only_declared_options() {
    let t = table();
    assert_eq!(
        t.built.len(),
        table::clients().len(),
        "a grammar failed to build"
    );
    for b in &t.built {
        assert_eq!(
            b.secrets.len(),
            b.client.secrets.len(),
            "{:?}: a secret option is not in its grammar",
            b.client.names
        );
    }
}

#[test]
fn key_names() {
    for k in [
        "requirepass",
        "masterauth",
        "user.password",
        "//registry.npmjs.org/:_authToken",
        "API_TOKEN",
        "aws_secret_access_key",
        "github.token",
        "db-passwd",
        "private_key",
        "ApiKey",
    ] {
        assert!(names_secret(k), "{k}");
    }
    for k in [
        "credential.helper",
        "token_file",
        "password_min_length",
        "user.name",
        "core.editor",
        "pipefail",
        "bypass_cache_enabled",
        "auth_method",
        "compass",
    ] {
        assert!(!names_secret(k), "{k}");
    }
}
