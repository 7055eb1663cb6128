//! The command line: configuration errors, `--check-config`, `--version`, `--help`.

mod common;

use common::command;

fn run(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = command(envs).args(args).output().expect("run relay-shell");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn each_invalid_value_exits_2_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let cases: &[(&str, &str, &str)] = &[
        (
            "RELAY_SHELL_TRANSPORT",
            "carrier-pigeon",
            "RELAY_SHELL_TRANSPORT=carrier-pigeon (expected stdio or http)",
        ),
        (
            "RELAY_SHELL_HTTP_PORT",
            "65536",
            "RELAY_SHELL_HTTP_PORT=65536 (expected an integer from 0 to 65535)",
        ),
        (
            "RELAY_SHELL_HTTP_PORT",
            "eighty",
            "RELAY_SHELL_HTTP_PORT=eighty (expected an integer from 0 to 65535)",
        ),
        (
            "RELAY_SHELL_HTTP_MAX_SESSIONS",
            "0",
            "RELAY_SHELL_HTTP_MAX_SESSIONS=0 (expected an integer from 1 to 4096)",
        ),
        (
            "RELAY_SHELL_HTTP_ALLOWED_ORIGINS",
            "evil",
            "RELAY_SHELL_HTTP_ALLOWED_ORIGINS=evil (expected http(s)://host[:port|:*] entries, comma-separated)",
        ),
        (
            "RELAY_SHELL_MAX_OUTPUT",
            "12",
            "RELAY_SHELL_MAX_OUTPUT=12 (expected an integer from 1024 to 16777216)",
        ),
        (
            "RELAY_SHELL_MAX_OUTPUT_HARD",
            "999999999999",
            "RELAY_SHELL_MAX_OUTPUT_HARD=999999999999 (expected an integer from 4096 to 134217728)",
        ),
        (
            "RELAY_SHELL_DEFAULT_TIMEOUT",
            "0",
            "RELAY_SHELL_DEFAULT_TIMEOUT=0 (expected an integer from 1 to 86400)",
        ),
        (
            "RELAY_SHELL_MAX_TIMEOUT",
            "-1",
            "RELAY_SHELL_MAX_TIMEOUT=-1 (expected an integer from 1 to 86400)",
        ),
        (
            "RELAY_SHELL_MAX_SESSIONS",
            "2000",
            "RELAY_SHELL_MAX_SESSIONS=2000 (expected an integer from 1 to 1024)",
        ),
        (
            "RELAY_SHELL_MAX_FORWARDS",
            "0",
            "RELAY_SHELL_MAX_FORWARDS=0 (expected an integer from 1 to 1024)",
        ),
        (
            "RELAY_SHELL_MAX_CONNS",
            "5000",
            "RELAY_SHELL_MAX_CONNS=5000 (expected an integer from 1 to 4096)",
        ),
        (
            "RELAY_SHELL_MAX_CONCURRENT",
            "0",
            "RELAY_SHELL_MAX_CONCURRENT=0 (expected an integer from 1 to 1024)",
        ),
        (
            "RELAY_SHELL_SESSION_IDLE_TIMEOUT",
            "5",
            "RELAY_SHELL_SESSION_IDLE_TIMEOUT=5 (expected an integer from 10 to 86400)",
        ),
        (
            "RELAY_SHELL_SESSION_MAX_LIFETIME",
            "1",
            "RELAY_SHELL_SESSION_MAX_LIFETIME=1 (expected an integer from 10 to 604800)",
        ),
        (
            "RELAY_SHELL_SESSION_BUFFER_BYTES",
            "10",
            "RELAY_SHELL_SESSION_BUFFER_BYTES=10 (expected an integer from 4096 to 16777216)",
        ),
        (
            "RELAY_SHELL_POLICY_MODE",
            "strict",
            "RELAY_SHELL_POLICY_MODE=strict (expected open, guarded or readonly)",
        ),
        (
            "RELAY_SHELL_CONFIRM_TIER3",
            "maybe",
            "RELAY_SHELL_CONFIRM_TIER3=maybe (expected true or false; also 1/0, yes/no, on/off)",
        ),
        (
            "RELAY_SHELL_CONFIRM_TTL",
            "1",
            "RELAY_SHELL_CONFIRM_TTL=1 (expected an integer from 5 to 3600)",
        ),
        (
            "RELAY_SHELL_AUDIT_STDERR",
            "2",
            "RELAY_SHELL_AUDIT_STDERR=2 (expected true or false; also 1/0, yes/no, on/off)",
        ),
        (
            "RELAY_SHELL_AUDIT_FORMAT",
            "xml",
            "RELAY_SHELL_AUDIT_FORMAT=xml (expected jsonl, cef or leef)",
        ),
        (
            "RELAY_SHELL_AUDIT_CHAIN",
            "perhaps",
            "RELAY_SHELL_AUDIT_CHAIN=perhaps (expected true or false; also 1/0, yes/no, on/off)",
        ),
        (
            "RELAY_SHELL_AUDIT_FSYNC",
            "sometimes",
            "RELAY_SHELL_AUDIT_FSYNC=sometimes (expected always, interval or never)",
        ),
        (
            "RELAY_SHELL_AUDIT_ON_FAILURE",
            "panic",
            "RELAY_SHELL_AUDIT_ON_FAILURE=panic (expected refuse or continue)",
        ),
        (
            "RELAY_SHELL_AUDIT_START_RECORDS",
            "x",
            "RELAY_SHELL_AUDIT_START_RECORDS=x (expected true or false; also 1/0, yes/no, on/off)",
        ),
        (
            "RELAY_SHELL_SECCOMP_NOTIFY_CAP",
            "0",
            "RELAY_SHELL_SECCOMP_NOTIFY_CAP=0 (expected an integer from 1 to 65536)",
        ),
        (
            "RELAY_SHELL_SSH_KNOWN_HOSTS",
            "trusting",
            "RELAY_SHELL_SSH_KNOWN_HOSTS=trusting (expected strict, accept-new or ignore)",
        ),
        (
            "RELAY_SHELL_SSH_CONNECT_TIMEOUT",
            "0",
            "RELAY_SHELL_SSH_CONNECT_TIMEOUT=0 (expected an integer from 1 to 120)",
        ),
        (
            "RELAY_SHELL_SSH_KEEPALIVE",
            "601",
            "RELAY_SHELL_SSH_KEEPALIVE=601 (expected an integer from 0 to 600)",
        ),
        (
            "RELAY_SHELL_SSH_IDLE_TIMEOUT",
            "x",
            "RELAY_SHELL_SSH_IDLE_TIMEOUT=x (expected an integer from 0 to 86400)",
        ),
        (
            "RELAY_SHELL_AUTH_ENABLED",
            "nope",
            "RELAY_SHELL_AUTH_ENABLED=nope (expected true or false; also 1/0, yes/no, on/off)",
        ),
        (
            "RELAY_SHELL_AUTH_ISSUER",
            "ftp://x",
            "RELAY_SHELL_AUTH_ISSUER=ftp://x (expected an http(s) URL)",
        ),
        (
            "RELAY_SHELL_AUTH_ACCESS_TTL",
            "59",
            "RELAY_SHELL_AUTH_ACCESS_TTL=59 (expected an integer of at least 60)",
        ),
        (
            "RELAY_SHELL_AUTH_CODE_TTL",
            "1",
            "RELAY_SHELL_AUTH_CODE_TTL=1 (expected an integer of at least 30)",
        ),
    ];
    for (var, value, message) in cases {
        let (code, stdout, stderr) = run(
            &["--check-config"],
            &[("RELAY_SHELL_AUDIT_PATH", &audit), (var, value)],
        );
        assert_eq!(code, 2, "{var}={value}: {stderr}");
        assert_eq!(stdout, "", "{var}: nothing on stdout");
        // The field is named first, as the Python implementation's validation names it.
        let field = var.trim_start_matches("RELAY_SHELL_").to_ascii_lowercase();
        assert_eq!(
            stderr,
            format!("relay-shell: invalid configuration: {field}: {message}\n"),
            "{var}={value}"
        );
    }
}

#[test]
fn invalid_regexes_and_cross_field_rules_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl").display().to_string();
    for (var, value) in [
        ("RELAY_SHELL_POLICY_DENY", "(unclosed"),
        ("RELAY_SHELL_POLICY_ALLOW", "a{99999}{99999}"),
    ] {
        let (code, _, stderr) = run(
            &["--check-config"],
            &[("RELAY_SHELL_AUDIT_PATH", &audit), (var, value)],
        );
        assert_eq!(code, 2, "{stderr}");
        let field = var.trim_start_matches("RELAY_SHELL_").to_ascii_lowercase();
        assert!(
            stderr.starts_with(&format!(
                "relay-shell: invalid configuration: {field}: {var} is not a valid regex: "
            )),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
    let (code, _, stderr) = run(
        &["--check-config"],
        &[
            ("RELAY_SHELL_AUDIT_PATH", &audit),
            ("RELAY_SHELL_AUDIT_FORMAT", "cef"),
            ("RELAY_SHELL_AUDIT_CHAIN", "true"),
        ],
    );
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "relay-shell: invalid configuration: audit_chain: RELAY_SHELL_AUDIT_CHAIN=true requires RELAY_SHELL_AUDIT_FORMAT=jsonl\n"
    );
    // Transfer roots must be absolute.
    for (var, value, shown) in [
        ("RELAY_SHELL_TRANSFER_LOCAL_ROOT", "srv/files", "srv/files"),
        ("RELAY_SHELL_TRANSFER_REMOTE_ROOT", "data", "data"),
    ] {
        let (code, _, stderr) = run(
            &["--check-config"],
            &[("RELAY_SHELL_AUDIT_PATH", &audit), (var, value)],
        );
        assert_eq!(code, 2);
        assert_eq!(
            stderr,
            format!(
                "relay-shell: invalid configuration: {var}={shown} (expected an absolute path)\n"
            )
        );
    }
    // Invalid configuration also stops run mode, not only --check-config.
    let (code, _, stderr) = run(
        &[],
        &[
            ("RELAY_SHELL_AUDIT_PATH", &audit),
            ("RELAY_SHELL_MAX_TIMEOUT", "0"),
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.starts_with("relay-shell: invalid configuration: "));
}

#[test]
fn flags_work_like_variables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let (code, _, stderr) = run(
        &[
            "--check-config",
            "--policy-mode",
            "paranoid",
            "--audit-path",
            &audit,
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "relay-shell: invalid configuration: policy_mode: RELAY_SHELL_POLICY_MODE=paranoid (expected open, guarded or readonly)\n"
    );
}

/// Serve with `envs`, which must be refused before anything listens: the exit code and
/// stderr. A server that does not refuse is killed (after a minute) and fails the test
/// instead of hanging it.
fn serve_refused(envs: &[(&str, &str)]) -> (i32, String) {
    use std::io::Read;
    let mut child = command(envs)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn relay-shell");
    let mut status = None;
    for _ in 0..600 {
        if let Some(s) = child.try_wait().expect("wait") {
            status = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("relay-shell served with {envs:?} instead of refusing");
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    (status.code().unwrap_or(-1), stderr)
}

#[test]
fn check_config_refuses_what_serving_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let public_tokens = dir.path().join("tokens-0644");
    std::fs::write(&public_tokens, format!("ops:{}\n", "ab".repeat(32))).expect("write");
    let open = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o644);
    std::fs::set_permissions(&public_tokens, open).expect("chmod");
    let public_tokens = public_tokens.display().to_string();
    let missing_tokens = dir.path().join("no-such-file").display().to_string();
    let exposed_state = dir.path().join("oauth-0755");
    std::fs::create_dir(&exposed_state).expect("mkdir");
    let exposed = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(&exposed_state, exposed).expect("chmod");
    let exposed_state = exposed_state.display().to_string();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("RELAY_SHELL_HTTP_HOST", "0.0.0.0")],
            "relay-shell: invalid configuration: refusing to serve HTTP on 0.0.0.0 without \
             authentication: set RELAY_SHELL_AUTH_ENABLED=true or RELAY_SHELL_AUTH_TOKENS_FILE, \
             bind a loopback address, or set RELAY_SHELL_ALLOW_UNAUTH_NETWORK=true if an \
             authenticating proxy is the only way to reach the port\n",
        ),
        (
            &[("RELAY_SHELL_HTTP_HOST", "::")],
            "relay-shell: invalid configuration: refusing to serve HTTP on :: without",
        ),
        (
            &[
                ("RELAY_SHELL_AUTH_ENABLED", "true"),
                ("RELAY_SHELL_AUTH_ISSUER", "http://relay.example"),
            ],
            "relay-shell: invalid configuration: RELAY_SHELL_AUTH_ISSUER=http://relay.example \
             (https is required unless the host is loopback)\n",
        ),
        (
            &[
                ("RELAY_SHELL_AUTH_ENABLED", "true"),
                ("RELAY_SHELL_AUTH_STATE_DIR", &exposed_state),
            ],
            "relay-shell: invalid configuration: RELAY_SHELL_AUTH_STATE_DIR: ",
        ),
        (
            &[("RELAY_SHELL_AUTH_TOKENS_FILE", &public_tokens)],
            "relay-shell: invalid configuration: RELAY_SHELL_AUTH_TOKENS_FILE: ",
        ),
        (
            &[("RELAY_SHELL_AUTH_TOKENS_FILE", &missing_tokens)],
            "relay-shell: invalid configuration: RELAY_SHELL_AUTH_TOKENS_FILE: ",
        ),
    ];
    for (extra, expected) in cases {
        let mut envs = vec![
            ("RELAY_SHELL_AUDIT_PATH", audit.as_str()),
            ("RELAY_SHELL_TRANSPORT", "http"),
            ("RELAY_SHELL_HTTP_PORT", "0"),
        ];
        envs.extend_from_slice(extra);
        let (check, _, check_err) = run(&["--check-config"], &envs);
        let (serve, serve_err) = serve_refused(&envs);
        assert_eq!(
            (check, serve),
            (2, 2),
            "{extra:?}: {check_err} / {serve_err}"
        );
        assert_eq!(check_err, serve_err, "{extra:?}");
        assert!(check_err.starts_with(expected), "{extra:?}: {check_err}");
        assert_eq!(check_err.lines().count(), 1, "{check_err}");
    }
    // What is refused without authentication is accepted with it, or on loopback.
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("ops:{}\n", "ab".repeat(32))).expect("write");
    let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600);
    std::fs::set_permissions(&tokens, private).expect("chmod");
    let tokens = tokens.display().to_string();
    for extra in [
        &[
            ("RELAY_SHELL_HTTP_HOST", "0.0.0.0"),
            ("RELAY_SHELL_AUTH_TOKENS_FILE", &tokens),
        ][..],
        &[("RELAY_SHELL_HTTP_HOST", "localhost")][..],
    ] {
        let mut envs = vec![
            ("RELAY_SHELL_AUDIT_PATH", audit.as_str()),
            ("RELAY_SHELL_TRANSPORT", "http"),
        ];
        envs.extend_from_slice(extra);
        let (code, _, stderr) = run(&["--check-config"], &envs);
        assert_eq!(code, 0, "{extra:?}: {stderr}");
        assert_eq!(
            config_ok(&stderr),
            format!("relay-shell: config OK (transport=http, policy=open, audit={audit})")
        );
    }
}

/// The `config OK` line of `--check-config`'s stderr, after checking that every line before
/// it is a standing-warning note.
fn config_ok(stderr: &str) -> &str {
    let mut lines: Vec<&str> = stderr.lines().collect();
    let last = lines.pop().unwrap_or_default();
    for l in lines {
        assert!(l.starts_with("relay-shell: note: "), "{stderr}");
    }
    assert!(stderr.ends_with('\n'));
    last
}

#[test]
fn check_config_ok_and_degraded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("sub/audit.jsonl");
    let audit_s = audit.display().to_string();
    let (code, stdout, stderr) = run(&["--check-config"], &[("RELAY_SHELL_AUDIT_PATH", &audit_s)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        config_ok(&stderr),
        format!("relay-shell: config OK (transport=stdio, policy=open, audit={audit_s})")
    );
    assert!(audit.is_file(), "check-config creates the audit file");
    // Not a regular file: degraded, refused for production.
    let (code, _, stderr) = run(
        &["--check-config"],
        &[("RELAY_SHELL_AUDIT_PATH", "/dev/null")],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("relay-shell: audit sink degraded ("),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("refuse this configuration for production deployment.\n"),
        "{stderr}"
    );
}

#[test]
fn default_audit_path_works_for_a_normal_user() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(common::bin())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .arg("--check-config")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // As root on a machine with a writable /var/log/relay-shell the system path wins;
    // otherwise the state directory under HOME is used.
    let expected = if std::path::Path::new("/var/log/relay-shell").is_dir() {
        "/var/log/relay-shell/audit.jsonl".to_string()
    } else {
        home.path()
            .join(".local/state/relay-shell/audit.jsonl")
            .display()
            .to_string()
    };
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("audit={expected})")), "{stderr}");
}

#[test]
fn version_and_help() {
    let (code, stdout, _) = run(&["--version"], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        format!("relay-shell {}\n", env!("CARGO_PKG_VERSION"))
    );
    let (code, stdout, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    for needle in [
        "--check-config",
        "--verify-audit",
        "RELAY_SHELL_POLICY_MODE",
        "explain",
        "redact",
    ] {
        assert!(stdout.contains(needle), "--help mentions {needle}");
    }
    let (code, _, stderr) = run(&["--no-such-flag"], &[]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn explain_prints_the_decision_and_exits_by_it() {
    let (code, stdout, _) = run(&["explain", "ls -la | grep foo"], &[]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["tier"], serde_json::json!(0));
    assert_eq!(v["tier_name"], serde_json::json!("READ_ONLY"));
    assert_eq!(v["decision"]["admitted"], serde_json::json!(true));
    assert_eq!(v["reasons"].as_array().map(|a| a.len()), Some(2));

    let (code, stdout, _) = run(&["explain", "--mode", "readonly", "rm -rf /"], &[]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["tier"], serde_json::json!(3));
    assert_eq!(
        v["decision"]["reason"],
        serde_json::json!("readonly mode refuses Tier 3 (IRREVERSIBLE)")
    );

    // The deny regex of the effective configuration applies.
    let (code, _, _) = run(
        &["explain", "uptime"],
        &[("RELAY_SHELL_POLICY_DENY", "uptime")],
    );
    assert_eq!(code, 1);

    // Text from stdin.
    let mut child = command(&[])
        .args(["explain", "--tool", "shell_exec", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"systemctl restart nginx").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["tier"], serde_json::json!(2));

    let (code, _, stderr) = run(&["explain", "--mode", "bogus", "x"], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "relay-shell: explain: --mode bogus (expected open, guarded or readonly)\n"
    );
}

/// `relay-shell redact` with piped stdin and stdout.
fn spawn_redact() -> std::process::Child {
    command(&[])
        .arg("redact")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn")
}

#[test]
fn redact_verb_scrubs_stdin() {
    use std::io::Write;
    let mut child = spawn_redact();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"curl -H \"Authorization: Bearer X\" https://h\nplain line\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "curl -H \"Authorization: [REDACTED]\" https://h\nplain line\n"
    );
}

/// The text mode writes each line as it arrives: a log followed live
/// (`journalctl -f | relay-shell redact`) is not held back until a chunk fills or the input
/// ends, whatever number of threads redacts it.
#[test]
fn redact_verb_streams_lines_as_they_arrive() {
    use std::io::{BufRead, BufReader, Write};
    let mut child = spawn_redact();
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    for (line, expected) in [
        (
            "export DB_PASSWORD=hunter2\n",
            "export DB_PASSWORD=[REDACTED]\n",
        ),
        ("plain line\n", "plain line\n"),
        (
            "mysql -u root -pS3cret db\n",
            "mysql -u root -p[REDACTED] db\n",
        ),
    ] {
        stdin.write_all(line.as_bytes()).expect("write");
        stdin.flush().expect("flush");
        // Blocks until the line comes out; stdin is still open.
        let mut out = String::new();
        stdout.read_line(&mut out).expect("read");
        assert_eq!(out, expected);
    }
    drop(stdin);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}
