//! Confirmation tokens are bound to the client that planned them (over HTTP, the bearer
//! token's principal): another client cannot arm them, and its identical call gets a fresh
//! challenge (the Python relay-shell v0.5.0's rule).

mod http_support;

use http_support::{HttpServer, call, write_tokens};
use serde_json::json;

fn token_of(challenge: &str) -> String {
    challenge
        .split("operation_confirm(token=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("token in challenge")
        .to_string()
}

#[tokio::test]
async fn a_confirmation_token_is_bound_to_its_client() {
    let dir = tempfile::tempdir().expect("tmp");
    let tokens = dir.path().join("tokens");
    write_tokens(&tokens, &[("alice", "tok-a", None), ("bob", "tok-b", None)]);
    let tokens_s = tokens.display().to_string();
    let target = dir.path().join("doomed");
    std::fs::create_dir(&target).expect("mkdir");
    let server = HttpServer::start_in(
        dir,
        &[
            ("RELAY_SHELL_AUTH_TOKENS_FILE", &tokens_s),
            ("RELAY_SHELL_CONFIRM_TIER3", "true"),
        ],
    )
    .await;
    let alice = server.client(Some("tok-a")).await;
    let bob = server.client(Some("tok-b")).await;
    let cmd = json!({"command": format!("rm -rf {}", target.display())});
    let challenge = call(&alice, "shell_exec", cmd.clone()).await;
    assert!(challenge.starts_with("[CONFIRM REQUIRED tier 3 (IRREVERSIBLE): "));
    let token = token_of(&challenge);
    assert_eq!(
        call(&bob, "operation_confirm", json!({"token": token})).await,
        "[invalid or expired confirmation token]"
    );
    let fresh = call(&bob, "shell_exec", cmd.clone()).await;
    assert!(fresh.starts_with("[CONFIRM REQUIRED "), "{fresh}");
    assert_ne!(token_of(&fresh), token);
    assert_eq!(
        call(&alice, "operation_confirm", json!({"token": token})).await,
        "[armed: re-issue the exact Tier-3 call now to execute it]"
    );
    let ran = call(&alice, "shell_exec", cmd).await;
    assert!(ran.starts_with("[exit 0]\n"), "{ran}");
    assert!(!target.exists());
    let rec = server
        .completions()
        .into_iter()
        .rfind(|r| r["tool"] == "shell_exec")
        .expect("record");
    assert_eq!(rec["action"], "confirm_execute");
    assert_eq!(rec["principal"], "alice");
    assert!(rec.get("client_id").is_none(), "no OAuth: no client_id");
}
