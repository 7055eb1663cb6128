//! The flattened-probe bypass family, through the built binary: a JSON-looking (or
//! comment-looking) last line in `command`, `script`, `stdin` or session input is judged as
//! what the executor does with it, in every mode. The payload of each case would create a
//! marker file; a refused call must leave none, and in `open` mode (which admits everything)
//! the recorded tier must still say what the call was.

mod common;

use serde_json::{Value, json};

use common::start;

/// The payload a flattened probe once hid: a JSON object whose string runs `touch`.
fn json_line(marker: &str) -> String {
    format!("{{\"x\":\"$(touch {marker})\"}}")
}

/// Tier recorded in the newest completion record of `tool`.
fn last_tier(records: &[Value], tool: &str) -> i64 {
    records
        .iter()
        .rev()
        .find(|r| r["tool"] == tool)
        .and_then(|r| r["tier"].as_i64())
        .unwrap_or(-1)
}

#[tokio::test]
async fn a_json_looking_last_line_is_shell_in_every_mode() {
    for mode in ["readonly", "guarded", "open"] {
        let s = start(&[("RELAY_SHELL_POLICY_MODE", mode)]).await;
        let marker = s.dir.path().join("p");
        let m = marker.display().to_string();
        // (tool, arguments, lowest tier the call may be recorded at)
        let cases = [
            (
                "shell_exec",
                json!({"command": format!("true\n{}", json_line(&m))}),
                2,
            ),
            (
                "shell_exec",
                json!({"command": format!("true\n{}", json_line(&m)), "env_json": "{\"A\":\"1\"}"}),
                2,
            ),
            (
                "shell_exec",
                json!({"command": "sh", "stdin": format!("true\n{}", json_line(&m))}),
                2,
            ),
            (
                "shell_exec",
                json!({"command": "bash -s", "stdin": format!("touch {m}")}),
                1,
            ),
            (
                "shell_script",
                json!({"script": format!("true\n{}", json_line(&m))}),
                2,
            ),
            (
                "shell_script",
                json!({"script": format!("true\n# {{\"a\":1}}\ntouch {m}")}),
                1,
            ),
            (
                "shell_script",
                json!({"script": format!("true\n{}", json_line(&m)), "interpreter": "sh"}),
                2,
            ),
        ];
        for (tool, args, lowest) in cases {
            let r = s.call(tool, args.clone()).await;
            let tier = last_tier(&s.completion_records(), tool);
            assert!(
                tier >= lowest,
                "{mode} {tool} {args}: recorded tier {tier}: {r}"
            );
            let refused = r.starts_with("[DENIED tier ");
            match mode {
                "readonly" => assert!(refused, "{mode} {tool} {args}: {r}"),
                "guarded" => assert_eq!(refused, tier >= 2, "{mode} {tool} {args}: {r}"),
                _ => assert!(!refused, "{mode} {tool} {args}: {r}"),
            }
            if refused {
                assert!(!marker.exists(), "{mode} {tool} {args} ran: {r}");
            }
            let _ = std::fs::remove_file(&marker);
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn stdin_is_data_for_readers_and_code_for_shells() {
    let s = start(&[("RELAY_SHELL_POLICY_MODE", "readonly")]).await;
    let marker = s.dir.path().join("q");
    let m = marker.display().to_string();
    // A reader: the text on stdin is data, whatever it looks like.
    let r = s
        .call(
            "shell_exec",
            json!({"command": "grep -c rm", "stdin": format!("rm -rf /\n{}\n", json_line(&m))}),
        )
        .await;
    assert_eq!(r, "[exit 0]\n1\n");
    // The same text fed to a shell is code.
    for shell in ["sh", "bash", "sudo bash", "xargs -0 sh -c"] {
        let r = s
            .call(
                "shell_exec",
                json!({"command": shell, "stdin": format!("touch {m}")}),
            )
            .await;
        assert!(r.starts_with("[DENIED tier "), "{shell}: {r}");
        assert!(!marker.exists(), "{shell} ran: {r}");
    }
    s.stop().await;
}

#[tokio::test]
async fn an_environment_overlay_is_judged_by_name_and_value() {
    let s = start(&[("RELAY_SHELL_POLICY_MODE", "readonly")]).await;
    // A harmless overlay keeps a read-only command at tier 0.
    let r = s
        .call(
            "shell_exec",
            json!({"command": "printenv LANG", "env_json": "{\"LANG\":\"C\"}"}),
        )
        .await;
    assert_eq!(r, "[exit 0]\nC\n");
    // A name that changes what runs is tier 2, whatever the command.
    let r = s
        .call(
            "shell_exec",
            json!({"command": "ls", "env_json": "{\"LD_PRELOAD\":\"/tmp/x.so\"}"}),
        )
        .await;
    assert!(r.starts_with("[DENIED tier 2 (STATEFUL)"), "{r}");
    // An overlay that is not an object is an error, and the command never runs.
    let r = s
        .call("shell_exec", json!({"command": "ls", "env_json": "[1]"}))
        .await;
    assert_eq!(
        r,
        "[ERROR: InvalidArgument: env_json must be a JSON object, got an array]"
    );
    s.stop().await;
}

#[tokio::test]
async fn session_input_with_a_json_looking_line_is_shell() {
    // Guarded mode lets a session start (tier 1) and refuses tier 2 input without an allow.
    let s = start(&[("RELAY_SHELL_POLICY_MODE", "guarded")]).await;
    let marker = s.dir.path().join("s");
    let m = marker.display().to_string();
    let r = s
        .call("shell_spawn", json!({"command": "bash --norc"}))
        .await;
    let id = r
        .split_whitespace()
        .nth(1)
        .expect("session id") // ok: test
        .to_string();
    for data in [
        format!("true\n{}", json_line(&m)),
        format!("# {{\"a\":1}}\ntouch {m} && rm -rf {m}"),
        format!("true\n{{\"a\":1}}\nrm -rf {m}"),
    ] {
        let r = s
            .call("session_send", json!({"session_id": id, "data": data}))
            .await;
        assert!(r.starts_with("[DENIED tier "), "{data}: {r}");
    }
    // Typed in two sends, the JSON line is still judged as part of the line it completes.
    let r = s
        .call(
            "session_send",
            json!({"session_id": id, "data": "{\"x\":\"$(touch ", "enter": false}),
        )
        .await;
    assert!(
        r.starts_with("[DENIED tier ") || r.starts_with("sent "),
        "{r}"
    );
    let r = s
        .call(
            "session_send",
            json!({"session_id": id, "data": format!("{m})\"}}")}),
        )
        .await;
    assert!(r.starts_with("[DENIED tier "), "{r}");
    let _ = s
        .call("session_recv", json!({"session_id": id, "timeout": 0.5}))
        .await;
    assert!(!marker.exists());
    s.call("session_kill", json!({"session_id": id})).await;
    s.stop().await;
}
