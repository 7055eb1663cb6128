//! The built binary driven by rmcp's client over child-process stdio: the spine's contract.

mod common;

/// The notice a tier-2 result ends with (v0.5).
const STATE_NOTICE: &str = "[NOTICE tier 2 (STATEFUL), matched a state-changing pattern. It changes state that a user or dependent service may notice. Classification is a heuristic, not a boundary]";

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use common::{processes_in_group, start, text};

#[tokio::test]
async fn initialize_reports_name_version_and_instructions() {
    let s = start(&[]).await;
    let info = s.client.peer_info().expect("server info");
    let implementation = info.server_info.clone().expect("serverInfo");
    assert_eq!(implementation.name, "relay-shell");
    assert_eq!(implementation.version, env!("CARGO_PKG_VERSION"));
    let instructions = info.instructions.clone().unwrap_or_default();
    let tools = s.client.list_all_tools().await.expect("tools/list");
    for t in &tools {
        assert!(
            instructions.contains(t.name.as_ref()),
            "instructions do not name {}",
            t.name
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn tool_list_has_the_spec_parameters() {
    let s = start(&[]).await;
    let tools = s.client.list_all_tools().await.expect("tools/list");
    let listed: BTreeMap<String, Vec<String>> = tools
        .iter()
        .map(|t| {
            let mut names: Vec<String> = t
                .input_schema
                .get("properties")
                .and_then(|p| p.as_object())
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            names.sort();
            (t.name.to_string(), names)
        })
        .collect();
    let expect = |names: &[&str]| {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    expected.insert(
        "shell_exec".into(),
        expect(&[
            "command",
            "timeout",
            "max_output",
            "cwd",
            "stdin",
            "merge_stderr",
            "use_shell",
            "env_json",
        ]),
    );
    expected.insert(
        "shell_script".into(),
        expect(&[
            "script",
            "interpreter",
            "strict",
            "timeout",
            "cwd",
            "env_json",
        ]),
    );
    expected.insert("server_info".into(), vec![]);
    expected.insert("operation_confirm".into(), expect(&["token"]));
    expected.insert(
        "audit_tail".into(),
        expect(&["lines", "tool", "tier", "denied"]),
    );
    for (name, params) in &expected {
        assert_eq!(listed.get(name), Some(params), "parameters of {name}");
    }
    for t in &tools {
        assert!(
            t.description.as_deref().unwrap_or_default().len() > 10,
            "{} has a description",
            t.name
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn exec_basics() {
    let s = start(&[]).await;
    assert_eq!(
        s.call("shell_exec", json!({"command": "echo hi"})).await,
        "[exit 0]\nhi\n"
    );
    assert_eq!(
        s.call("shell_exec", json!({"command": "exit 3"})).await,
        "[exit 3]\n"
    );
    assert_eq!(
        s.call("shell_exec", json!({"command": "kill -9 $$"})).await,
        format!("[exit -9]\n\n{STATE_NOTICE}")
    );
    assert_eq!(
        s.call(
            "shell_exec",
            json!({"command": "cat", "stdin": "hello\nworld"})
        )
        .await,
        "[exit 0]\nhello\nworld"
    );
    // No stdin given: the child's stdin is empty, so a reader finishes at once.
    assert_eq!(
        s.call("shell_exec", json!({"command": "cat; echo done"}))
            .await,
        "[exit 0]\ndone\n"
    );
    let cwd = s.dir.path().display().to_string();
    assert_eq!(
        s.call("shell_exec", json!({"command": "pwd", "cwd": cwd}))
            .await,
        format!("[exit 0]\n{cwd}\n")
    );
    assert_eq!(
        s.call(
            "shell_exec",
            json!({"command": "echo \"$FOO-${HOME:-unset}\"", "env_json": "{\"FOO\": \"bar\", \"HOME\": null}"})
        )
        .await,
        // Removing HOME changes what later commands see: tier 2, so the result has a notice.
        format!("[exit 0]\nbar-unset\n\n{STATE_NOTICE}")
    );
    assert_eq!(
        s.call(
            "shell_exec",
            json!({"command": "printf '%s|' \"a b\" 'c d' e\\ f", "use_shell": false})
        )
        .await,
        "[exit 0]\na b|c d|e f|"
    );
    // The child never sees the server's own RELAY_SHELL_* configuration.
    assert_eq!(
        s.call(
            "shell_exec",
            json!({"command": "env | grep -c '^RELAY_SHELL_' || true"})
        )
        .await,
        "[exit 0]\n0\n"
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_arguments_are_errors_and_audited() {
    let s = start(&[]).await;
    let r = s
        .call(
            "shell_exec",
            json!({"command": "echo 'unbalanced", "use_shell": false}),
        )
        .await;
    assert!(r.starts_with("[ERROR: InvalidArgument: "), "{r}");
    let r = s
        .call(
            "shell_exec",
            json!({"command": "env", "env_json": "[1, 2]"}),
        )
        .await;
    assert!(r.starts_with("[ERROR: InvalidArgument: "), "{r}");
    let r = s
        .call("shell_exec", json!({"command": "true", "bogus": 1}))
        .await;
    assert!(
        r.starts_with("[ERROR: InvalidArgument: shell_exec: unknown field `bogus`"),
        "{r}"
    );
    let r = s.call("shell_exec", json!({"timeout": 5})).await;
    assert!(
        r.starts_with("[ERROR: InvalidArgument: shell_exec: missing field `command`"),
        "{r}"
    );
    let r = s
        .call(
            "shell_script",
            json!({"script": "x", "interpreter": "ruby"}),
        )
        .await;
    assert_eq!(
        r,
        "[ERROR: InvalidArgument: unsupported interpreter: ruby (expected bash, sh or python3)]"
    );
    // "60" as a string is accepted the way the Python SDK coerced it.
    assert_eq!(
        s.call("shell_exec", json!({"command": "echo ok", "timeout": "60"}))
            .await,
        "[exit 0]\nok\n"
    );
    let completions = s.completion_records();
    assert_eq!(completions.len(), 6, "every call is audited once");
    assert!(completions[..5].iter().all(|r| r["exit_code"].is_null()));
    s.stop().await;
}

#[tokio::test]
async fn timeout_kills_the_whole_group() {
    let s = start(&[]).await;
    let pidfile = s.dir.path().join("pid");
    let cmd = format!("echo $$ > {}; sleep 300 & sleep 30", pidfile.display());
    let r = s
        .call_full("shell_exec", json!({"command": cmd, "timeout": 1}))
        .await;
    assert_eq!(text(&r), "[TIMEOUT after 1s]");
    let structured = r.structured_content.clone().unwrap_or_default();
    assert_eq!(structured["timed_out"], json!(true));
    assert_eq!(structured["exit_code"], json!(null));
    let pgid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid written")
        .trim()
        .parse()
        .expect("pid");
    assert_eq!(
        processes_in_group(pgid),
        Vec::<i32>::new(),
        "group {pgid} is gone"
    );
    s.stop().await;
}

#[tokio::test]
async fn output_is_bounded_byte_exactly() {
    let s = start(&[]).await;
    let r = s
        .call_full(
            "shell_exec",
            json!({"command": "head -c 5000 /dev/zero | tr '\\0' a", "max_output": 1024}),
        )
        .await;
    assert_eq!(
        text(&r),
        format!(
            "[exit 0]\n{}\n\n[TRUNCATED - 5000 bytes total, 1024 shown]",
            "a".repeat(1024)
        )
    );
    let st = r.structured_content.clone().unwrap_or_default();
    assert_eq!(st["truncated"], json!(true));
    assert_eq!(st["output_bytes"], json!(5000));
    assert_eq!(st["exit_code"], json!(0));
    s.stop().await;
}

#[tokio::test]
async fn invalid_utf8_and_binary_output_do_not_break_the_protocol() {
    let s = start(&[]).await;
    let r = s
        .call(
            "shell_exec",
            json!({"command": "printf 'a\\377\\376\\000b'"}),
        )
        .await;
    assert_eq!(r, "[exit 0]\na\u{fffd}\u{fffd}\u{0}b");
    let r = s
        .call(
            "shell_exec",
            json!({"command": "head -c 20000 /dev/urandom"}),
        )
        .await;
    assert!(r.starts_with("[exit 0]\n"));
    assert_eq!(
        s.call("shell_exec", json!({"command": "echo still"})).await,
        "[exit 0]\nstill\n"
    );
    s.stop().await;
}

#[tokio::test]
async fn merge_stderr_both_ways() {
    let s = start(&[]).await;
    assert_eq!(
        s.call(
            "shell_exec",
            json!({"command": "echo out1; sleep 0.2; echo err >&2; sleep 0.2; echo out2"})
        )
        .await,
        "[exit 0]\nout1\nerr\nout2\n"
    );
    assert_eq!(
        s.call(
            "shell_exec",
            json!({"command": "echo err >&2; sleep 0.2; echo out", "merge_stderr": false})
        )
        .await,
        "[exit 0]\nout\nerr\n"
    );
    s.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_calls_are_all_answered() {
    let s = start(&[]).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..50 {
        let peer = s.client.peer().clone();
        set.spawn(async move {
            let r = peer
                .call_tool(common::params(
                    "shell_exec",
                    json!({"command": format!("echo {i}")}),
                ))
                .await
                .expect("answered");
            (i, text(&r))
        });
    }
    let mut seen = 0;
    while let Some(res) = set.join_next().await {
        let (i, t) = res.expect("task");
        assert_eq!(t, format!("[exit 0]\n{i}\n"));
        seen += 1;
    }
    assert_eq!(seen, 50);
    assert_eq!(s.completion_records().len(), 50);
    s.stop().await;
}

#[tokio::test]
async fn readonly_refusal_runs_nothing_and_is_audited() {
    let s = start(&[("RELAY_SHELL_POLICY_MODE", "readonly")]).await;
    let marker = s.dir.path().join("marker");
    let cmd = format!("touch {}", marker.display());
    let r = s.call_full("shell_exec", json!({"command": cmd})).await;
    let t = text(&r);
    assert!(t.starts_with("[DENIED tier "), "{t}");
    assert!(t.contains(": readonly mode refuses Tier "), "{t}");
    assert_eq!(r.is_error, Some(true));
    assert!(!marker.exists(), "a refused call ran nothing");
    let recs = s.audit_records();
    assert_eq!(recs.len(), 1, "no start record for a refused call");
    assert_eq!(recs[0]["denied"], json!(true));
    assert_eq!(recs[0]["exit_code"], json!(null));
    assert_eq!(recs[0]["tool"], json!("shell_exec"));
    // server_info is tier 0 and still works in readonly mode.
    assert!(
        s.call("server_info", json!({}))
            .await
            .contains("\"policy_mode\": \"readonly\"")
    );
    s.stop().await;
}

#[tokio::test]
async fn deny_regex_refuses_in_open_mode() {
    let s = start(&[("RELAY_SHELL_POLICY_DENY", "(?s)^shell_exec .*forbidden")]).await;
    let r = s
        .call("shell_exec", json!({"command": "echo forbidden"}))
        .await;
    assert!(r.starts_with("[DENIED tier "), "{r}");
    assert!(r.ends_with("): matched RELAY_SHELL_POLICY_DENY]"), "{r}");
    // The deny regex sees stdin too.
    let r = s
        .call(
            "shell_exec",
            json!({"command": "cat", "stdin": "forbidden"}),
        )
        .await;
    assert!(r.ends_with("): matched RELAY_SHELL_POLICY_DENY]"), "{r}");
    assert_eq!(
        s.call("shell_exec", json!({"command": "echo fine"})).await,
        "[exit 0]\nfine\n"
    );
    s.stop().await;
}

#[tokio::test]
async fn audit_has_one_completion_per_call_0600_and_no_body() {
    let s = start(&[]).await;
    assert_eq!(
        s.call("shell_exec", json!({"command": "printf 'BODY%s' MARKER"}))
            .await,
        "[exit 0]\nBODYMARKER"
    );
    let _ = s.call("server_info", json!({})).await;
    let _ = s
        .call("shell_script", json!({"script": "echo one\necho two"}))
        .await;
    let mode = std::fs::metadata(&s.audit)
        .expect("audit exists")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let raw = std::fs::read_to_string(&s.audit).expect("audit readable");
    assert!(
        !raw.contains("BODYMARKER"),
        "the output body is never logged"
    );
    let completions = s.completion_records();
    assert_eq!(completions.len(), 3);
    let tools: Vec<&str> = completions
        .iter()
        .filter_map(|r| r["tool"].as_str())
        .collect();
    assert_eq!(tools, ["shell_exec", "server_info", "shell_script"]);
    let first = &completions[0];
    let keys: Vec<&str> = first
        .as_object()
        .map(|o| o.keys().map(|k| k.as_str()).collect())
        .unwrap_or_default();
    for k in [
        "ts",
        "tool",
        "tier",
        "denied",
        "args",
        "output_sha256",
        "output_len",
        "exit_code",
        "request_id",
        "principal",
    ] {
        assert!(keys.contains(&k), "record has {k}");
    }
    assert_eq!(first["principal"], json!("stdio"));
    assert_eq!(first["output_len"], json!("[exit 0]\nBODYMARKER".len()));
    use sha2::Digest;
    assert_eq!(
        first["output_sha256"],
        json!(hex::encode(sha2::Sha256::digest(b"[exit 0]\nBODYMARKER")))
    );
    // Start records precede the work of calls that run something (shell_exec, shell_script).
    let starts: Vec<_> = s
        .audit_records()
        .into_iter()
        .filter(|r| r.get("event") == Some(&json!("start")))
        .collect();
    assert_eq!(starts.len(), 2);
    s.stop().await;
}

#[tokio::test]
async fn shell_script_interpreters() {
    let s = start(&[]).await;
    assert_eq!(
        s.call("shell_script", json!({"script": "echo a\nfalse\necho b"}))
            .await,
        "[exit 1]\na\n"
    );
    assert_eq!(
        s.call(
            "shell_script",
            json!({"script": "echo a\nfalse\necho b", "strict": false})
        )
        .await,
        "[exit 0]\na\nb\n"
    );
    // sh gets POSIX strict options (no bash-only pipefail).
    assert_eq!(
        s.call(
            "shell_script",
            json!({"script": "echo ok", "interpreter": "sh"})
        )
        .await,
        "[exit 0]\nok\n"
    );
    let r = s
        .call(
            "shell_script",
            json!({"script": "echo \"$UNSET_VAR\"", "interpreter": "sh"}),
        )
        .await;
    assert!(
        r.starts_with("[exit 2]\n") && r.contains("parameter not set"),
        "{r}"
    );
    assert_eq!(
        s.call(
            "shell_script",
            json!({"script": "print(6*7)", "interpreter": "python3"})
        )
        .await,
        format!("[exit 0]\n42\n\n{STATE_NOTICE}")
    );
    s.stop().await;
}

#[tokio::test]
async fn secrets_never_reach_the_audit_log_or_error_strings() {
    let key = tempfile::NamedTempFile::new().expect("key file");
    std::fs::write(key.path(), b"correlation-key").expect("write key");
    let key_path = key.path().display().to_string();
    let s = start(&[("RELAY_SHELL_REDACT_KEY_FILE", &key_path)]).await;
    let r = s
        .call(
            "shell_exec",
            json!({"command": "curl -s --password=hunter2secret http://127.0.0.1:1/ || true"}),
        )
        .await;
    assert!(r.starts_with("[exit 0]"), "{r}");
    let r = s
        .call(
            "shell_exec",
            json!({"command": "true", "env_json": "{\"API_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123\": \"x\"}"}),
        )
        .await;
    assert!(r.starts_with("[ERROR: InvalidArgument: "), "{r}");
    assert!(
        !r.contains("ghp_abcdefghijklmnopqrstuvwxyz0123"),
        "error strings are scrubbed: {r}"
    );
    let raw = std::fs::read_to_string(&s.audit).expect("audit");
    assert!(!raw.contains("hunter2secret"), "{raw}");
    assert!(!raw.contains("ghp_abcdefghijklmnopqrstuvwxyz0123"), "{raw}");
    assert!(
        raw.contains("--password=[REDACTED:"),
        "correlation tags are used: {raw}"
    );
    s.stop().await;
}

#[tokio::test]
async fn calls_beyond_max_concurrent_wait_then_get_busy() {
    let s = start(&[("RELAY_SHELL_MAX_CONCURRENT", "1")]).await;
    let peer = s.client.peer().clone();
    let slow = tokio::spawn(async move {
        peer.call_tool(common::params(
            "shell_exec",
            json!({"command": "sleep 12; echo slow"}),
        ))
        .await
        .map(|r| text(&r))
    });
    // Wait until the slow call holds the only slot (its start record is written inside it).
    for _ in 0..200 {
        if s.audit_records().iter().any(|r| r.get("event").is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let r = s
        .call_full("shell_exec", json!({"command": "echo fast"}))
        .await;
    let t = text(&r);
    assert!(t.starts_with("[ERROR: Busy: "), "{t}");
    assert_eq!(
        t,
        "[ERROR: Busy: 1 calls already running; none finished within 10s (RELAY_SHELL_MAX_CONCURRENT)]"
    );
    assert_eq!(r.is_error, Some(true));
    assert_eq!(
        slow.await.expect("task").expect("answered"),
        "[exit 0]\nslow\n"
    );
    let busy: Vec<_> = s
        .completion_records()
        .into_iter()
        .filter(|r| r["args"]["command"] == json!("echo fast"))
        .collect();
    assert_eq!(busy.len(), 1, "the Busy refusal is audited");
    assert_eq!(busy[0]["exit_code"], json!(null));
    s.stop().await;
}
