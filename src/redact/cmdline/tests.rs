//! Unit tests of the client table and the key-name check; the exact redactions are in
//! `tests/redact_cli_secrets.rs`.

use super::forms::names_secret;
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
        "db/password",
        "/secrets/password.txt",
        "app/api_token.json",
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
        "/app/password_policy.json",
        "token_file.yaml",
    ] {
        assert!(!names_secret(k), "{k}");
    }
}

/// The secret spans of `text` as the strings they cover.
fn secret_texts(text: &str) -> Vec<&str> {
    secrets(text)
        .iter()
        .map(|s| &text[s.range.clone()])
        .collect()
}

#[test]
fn quoted_parts_are_read_when_a_word_in_them_may_be_a_name() {
    // A name, an escaped name and a name joined from quoted pieces, one level down (a line
    // is read at all only when a name stands in it as written: `echo`).
    assert_eq!(secret_texts(r#"log cmd="mysql -pS3cret db" x"#), ["S3cret"]);
    assert_eq!(
        secret_texts(r#"echo; log cmd="my\sql -pS3cret db" x"#),
        ["S3cret"]
    );
    assert_eq!(
        secret_texts(r#"echo; log cmd="my'sql' -pS3cret db" x"#),
        ["S3cret"]
    );
    assert_eq!(
        secret_texts(r#"mysql -pA "sshpass -p B ssh h" "Authorization: none here""#),
        ["A", "B"]
    );
}

#[test]
fn a_pipe_leads_only_to_a_command_of_its_own_text() {
    // Within one text the writer's pipe reaches `tee`.
    assert_eq!(
        secret_texts(r#"sh -c "printf '%s' S3cret | tee ~/.vault-token""#),
        ["S3cret"]
    );
    // A pipe that ends a quoted part has no command after it: another quoted part (read
    // after it) is not where its output goes.
    assert!(secret_texts(r#"x "tee  ~/.vault-token" "echo S3cret |""#).is_empty());
}

/// The first whole-word name at or after `from`, by the definition `next_name` implements:
/// any position where a name occurs (ASCII case-insensitive), with no letter, digit, `_`,
/// `-` or `.` before it and no letter, digit, `_` or `-` after it.
fn next_name_by_definition(bytes: &[u8], from: usize) -> Option<usize> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let names: Vec<&[u8]> = table().by_name.keys().copied().collect();
    (from..bytes.len()).find(|&at| {
        let starts = at == 0 || !(word(bytes[at - 1]) || bytes[at - 1] == b'.');
        starts
            && names.iter().any(|n| {
                bytes.len() - at >= n.len()
                    && bytes[at..at + n.len()].eq_ignore_ascii_case(n)
                    && bytes.get(at + n.len()).is_none_or(|&b| !word(b))
            })
    })
}

#[test]
fn every_name_is_made_of_name_bytes() {
    for name in table().by_name.keys() {
        assert!(
            name.iter().all(|&b| NAME_BYTES[usize::from(b)]),
            "{:?}",
            String::from_utf8_lossy(name)
        );
    }
}

#[test]
fn the_name_scan_finds_what_the_definition_finds() {
    let pieces = [
        "mysql",
        "MySQL",
        "mysqldump",
        "curl",
        "net",
        "net-rpc",
        "rpc",
        "echo",
        "set",
        ".exe",
        ".",
        "-",
        "_",
        "/",
        "\\",
        " ",
        "x",
        "9",
        "\"",
        "'",
        "\n",
        "é",
        "=",
        ":",
    ];
    for text in crate::redact::generated_texts(&pieces, 10, 20_000, 11) {
        let bytes = text.as_bytes();
        for from in 0..=bytes.len() {
            assert_eq!(
                next_name(bytes, from).map(|r| r.start),
                next_name_by_definition(bytes, from),
                "{text:?} from {from}"
            );
        }
    }
}

#[test]
fn every_subcommand_fits_the_lookahead() {
    for client in table::clients() {
        assert!(
            client.sub.len() <= MAX_SUBCOMMAND_WORDS,
            "{:?}: raise MAX_SUBCOMMAND_WORDS",
            client.names
        );
    }
}

/// A long command read in windows gives the secrets it gives read whole: every name is read
/// in exactly one window, with every word after it that it reads.
#[test]
fn long_commands_read_in_windows_give_what_whole_ones_give() {
    let pieces = [
        "mysql ",
        "docker ",
        "helm ",
        "registry ",
        "login ",
        "-v ",
        "-v ",
        "-v ",
        "-u ",
        "x ",
        "-pS3cr3t ",
        "-p ",
        "hunter2 ",
        "--password=pw1 ",
        "set ",
        "requirepass ",
        "echo ",
        "printf ",
        "tee ",
        "> /etc/rsync.pass ",
        ">> log ",
        "| ",
        "'a b' ",
        "\"mysql -pQ db\" ",
        "\\\n",
        "sshpass ",
        "vault ",
        "tok3n ",
    ];
    // Runs of fillers make commands of hundreds of words, whose names' arguments reach
    // across window ends.
    let filler = "-v ".repeat(40);
    let mut with_filler: Vec<&str> = pieces.to_vec();
    with_filler.push(&filler);
    let mut checked = 0;
    for text in crate::redact::generated_texts(&with_filler, 400, 300, 7) {
        let whole = secrets_in_windows(&text, usize::MAX);
        for window in [LOOKAHEAD + 1, LOOKAHEAD + 7, WINDOW] {
            assert_eq!(
                secrets_in_windows(&text, window),
                whole,
                "window {window}: {text:?}"
            );
        }
        checked += usize::from(!whole.is_empty());
    }
    assert!(checked > 250, "too few texts with secrets: {checked}");
    // The far end of the lookahead: a subcommand found at its last place, two words long,
    // then the last argument parsed.
    let far = format!(
        "x helm -a -b -c -d -e registry login {}-pFAR",
        "-v ".repeat(MAX_ARGS - 1)
    );
    let far = format!("{}{far}", "y ".repeat(LOOKAHEAD));
    assert_eq!(secret_texts(&far), ["FAR"]);
    assert_eq!(secrets_in_windows(&far, LOOKAHEAD + 1), secrets(&far));
}
