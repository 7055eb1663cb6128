//! Modes, deny/allow and the tier-3 confirmation broker, end to end through the MCP client.

mod common;

/// The notice an admitted tier-3 call's result ends with (v0.5; also after a confirmation).
const TIER3_NOTICE: &str = "\n[NOTICE tier 3 (IRREVERSIBLE), matched an irreversible-operation pattern. It may not be undoable and ran with no confirmation step; verify the target and take a backup or snapshot first. Classification is a heuristic, not a boundary]";

use serde_json::json;

use common::start;

#[tokio::test]
async fn readonly_admits_diagnostics_and_refuses_writes() {
    let s = start(&[("RELAY_SHELL_POLICY_MODE", "readonly")]).await;
    let dir = s.dir.path().display().to_string();
    let r = s
        .call(
            "shell_exec",
            json!({"command": format!("ls -la {dir} | wc -l && uname -s")}),
        )
        .await;
    assert!(r.starts_with("[exit 0]\n"), "{r}");
    assert!(r.ends_with("Linux\n"), "{r}");
    let r = s
        .call(
            "shell_exec",
            json!({"command": format!("echo x > {dir}/f")}),
        )
        .await;
    assert!(
        r.starts_with("[DENIED tier 1 (REVERSIBLE): readonly mode refuses Tier 1"),
        "{r}"
    );
    assert!(!s.dir.path().join("f").exists());
    let r = s
        .call(
            "shell_exec",
            json!({"command": format!("find {dir} -delete")}),
        )
        .await;
    assert!(r.starts_with("[DENIED tier "), "{r}");
    assert!(s.dir.path().exists());
    s.stop().await;
}

#[tokio::test]
async fn guarded_needs_an_allow_match_for_tier_two_and_up() {
    let s = start(&[
        ("RELAY_SHELL_POLICY_MODE", "guarded"),
        ("RELAY_SHELL_POLICY_ALLOW", "allowed-victim"),
    ])
    .await;
    let victim = s.dir.path().join("victim");
    std::fs::create_dir(&victim).expect("mkdir");
    let r = s
        .call(
            "shell_exec",
            json!({"command": format!("rm -rf {}", victim.display())}),
        )
        .await;
    assert_eq!(
        r,
        "[DENIED tier 3 (IRREVERSIBLE): guarded mode refuses Tier 3 (IRREVERSIBLE) without an RELAY_SHELL_POLICY_ALLOW match]"
    );
    assert!(victim.exists(), "refused call ran nothing");
    // Obfuscation does not get through either.
    for cmd in [
        format!("r''m -rf {}", victim.display()),
        format!("bash -c 'rm -rf {}'", victim.display()),
        format!("S=rm; $S -rf {}", victim.display()),
    ] {
        let r = s.call("shell_exec", json!({ "command": cmd })).await;
        assert!(r.starts_with("[DENIED tier "), "{cmd}: {r}");
        assert!(victim.exists());
    }
    let allowed = s.dir.path().join("allowed-victim");
    std::fs::create_dir(&allowed).expect("mkdir");
    let r = s
        .call(
            "shell_exec",
            json!({"command": format!("rm -rf {}", allowed.display())}),
        )
        .await;
    assert_eq!(r, format!("[exit 0]\n{TIER3_NOTICE}"));
    assert!(!allowed.exists());
    // Tier 0 and 1 run without an allow match.
    assert_eq!(
        s.call("shell_exec", json!({"command": "echo fine"})).await,
        "[exit 0]\nfine\n"
    );
    s.stop().await;
}

#[tokio::test]
async fn deny_wins_over_allow_in_every_mode() {
    for mode in ["open", "guarded", "readonly"] {
        let s = start(&[
            ("RELAY_SHELL_POLICY_MODE", mode),
            ("RELAY_SHELL_POLICY_ALLOW", "."),
            ("RELAY_SHELL_POLICY_DENY", "uptime"),
        ])
        .await;
        let r = s.call("shell_exec", json!({"command": "uptime"})).await;
        assert!(
            r.ends_with("): matched RELAY_SHELL_POLICY_DENY]"),
            "{mode}: {r}"
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn split_session_input_is_classified_as_the_whole_line() {
    let s = start(&[("RELAY_SHELL_POLICY_MODE", "guarded")]).await;
    let r = s.call("shell_spawn", json!({})).await;
    let id = r.split_whitespace().nth(1).expect("session id").to_string();
    let r = s
        .call(
            "session_send",
            json!({"session_id": id, "data": "echo hi; nice", "enter": false}),
        )
        .await;
    assert!(r.starts_with("sent "), "{r}");
    let r = s
        .call(
            "session_send",
            json!({"session_id": id, "data": " reboot", "enter": true}),
        )
        .await;
    assert!(
        r.starts_with("[DENIED tier 3 (IRREVERSIBLE): guarded mode refuses"),
        "{r}"
    );
    let _ = s.call("session_kill", json!({"session_id": id})).await;
    s.stop().await;
}

#[tokio::test]
async fn tier_three_needs_a_confirmed_second_call() {
    let s = start(&[("RELAY_SHELL_CONFIRM_TIER3", "true")]).await;
    let victim = s.dir.path().join("victim");
    let other = s.dir.path().join("other");
    std::fs::create_dir(&victim).expect("mkdir");
    std::fs::create_dir(&other).expect("mkdir");
    let cmd = format!("rm -rf {}", victim.display());
    let r = s.call("shell_exec", json!({ "command": cmd })).await;
    let prefix = "[CONFIRM REQUIRED tier 3 (IRREVERSIBLE): this irreversible operation needs a second step. Call operation_confirm(token=\"";
    assert!(r.starts_with(prefix), "{r}");
    assert!(
        r.ends_with("\") then re-issue this exact call within 120s.]"),
        "{r}"
    );
    let token = r[prefix.len()..prefix.len() + 22].to_string();
    assert!(victim.exists(), "nothing ran before confirmation");

    assert_eq!(
        s.call("operation_confirm", json!({"token": "not-a-token"}))
            .await,
        "[invalid or expired confirmation token]"
    );
    assert_eq!(
        s.call("operation_confirm", json!({"token": token})).await,
        "[armed: re-issue the exact Tier-3 call now to execute it]"
    );
    // The armed token is bound to the exact call: another target does not consume it.
    let r = s
        .call(
            "shell_exec",
            json!({"command": format!("rm -rf {}", other.display())}),
        )
        .await;
    assert!(r.starts_with(prefix), "{r}");
    assert!(other.exists());
    // Same command with a different timeout is a different call too.
    let r = s
        .call("shell_exec", json!({"command": cmd, "timeout": 5}))
        .await;
    assert!(r.starts_with(prefix), "{r}");
    assert_eq!(
        s.call("shell_exec", json!({ "command": cmd })).await,
        format!("[exit 0]\n{TIER3_NOTICE}")
    );
    assert!(!victim.exists());
    // Single use.
    let r = s.call("shell_exec", json!({ "command": cmd })).await;
    assert!(r.starts_with(prefix), "{r}");

    let raw = std::fs::read_to_string(&s.audit).expect("audit");
    assert!(!raw.contains(&token), "the raw token never reaches the log");
    let recs = s.completion_records();
    let actions: Vec<&str> = recs.iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "confirm_plan",
            "confirm_plan",
            "confirm_plan",
            "confirm_execute",
            "confirm_plan"
        ]
    );
    let confirm = recs
        .iter()
        .find(|r| r["tool"] == json!("operation_confirm") && r["args"]["token_sha256"] != json!(""))
        .expect("confirm record");
    assert_eq!(confirm["tier"], json!(0));
    assert_eq!(
        confirm["args"]["token_sha256"].as_str().map(str::len),
        Some(12)
    );
    // Non-tier-3 calls are unaffected.
    assert_eq!(
        s.call("shell_exec", json!({"command": "echo ok"})).await,
        "[exit 0]\nok\n"
    );
    s.stop().await;
}

#[tokio::test]
async fn confirm_is_disabled_by_default() {
    let s = start(&[]).await;
    assert_eq!(
        s.call("operation_confirm", json!({"token": "x"})).await,
        "[confirmation broker disabled (RELAY_SHELL_CONFIRM_TIER3 is off)]"
    );
    let recs = s.completion_records();
    assert!(recs.iter().all(|r| r.get("action").is_none()));
    s.stop().await;
}
