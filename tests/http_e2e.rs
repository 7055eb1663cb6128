//! The HTTP transport end to end, through rmcp's streamable HTTP client against the built
//! binary on 127.0.0.1: tools, bearer tokens and principals, sessions per principal, mode
//! ceilings, metrics, and the global concurrency limit.

mod http_support;

use http_support::{HttpServer, call, initialize_body, mcp_post, sample, write_tokens};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_calls_tools_over_http() {
    let server = HttpServer::start(&[]).await;
    let client = server.client(None).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("relay-shell")
    );
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(
        names.contains(&"shell_exec") && names.contains(&"server_info"),
        "{names:?}"
    );
    assert_eq!(
        call(&client, "shell_exec", json!({"command": "echo over-http"})).await,
        "[exit 0]\nover-http\n"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&call(&client, "server_info", json!({})).await).expect("json");
    assert_eq!(doc["transport"], "http");
    assert_eq!(doc["principal"], "anonymous");
    let recs = server.completions();
    assert!(
        recs.iter().all(|r| r["principal"] == "anonymous"),
        "{recs:?}"
    );
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_authenticate_and_name_the_principal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    write_tokens(
        &tokens,
        &[
            ("alice", "tok-alice", None),
            ("ro", "tok-ro", Some("readonly")),
        ],
    );
    let tokens_s = tokens.display().to_string();
    let server = HttpServer::start_in(dir, &[("RELAY_SHELL_AUTH_TOKENS_FILE", &tokens_s)]).await;

    // No token, a wrong one: the MCP client cannot connect; the raw answer is a 401 with a
    // Bearer challenge, the same for both.
    assert!(server.connect(None).await.is_err());
    assert!(server.connect(Some("tok-wrong")).await.is_err());
    let http = reqwest::Client::new();
    for auth in [
        None,
        Some("Bearer tok-wrong"),
        Some("Basic dG9rLWFsaWNl"),
        Some("Bearer "),
    ] {
        let mut req = mcp_post(&http, &server.url("/mcp")).body(initialize_body());
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.expect("POST");
        assert_eq!(r.status(), 401, "{auth:?}");
        let challenge = r.headers()["www-authenticate"].to_str().expect("ascii");
        assert!(
            challenge.starts_with("Bearer realm=\"relay-shell\""),
            "{challenge}"
        );
    }

    let alice = server.client(Some("tok-alice")).await;
    assert_eq!(
        call(&alice, "shell_exec", json!({"command": "echo hi"})).await,
        "[exit 0]\nhi\n"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&call(&alice, "server_info", json!({})).await).expect("json");
    assert_eq!(doc["principal"], "alice");
    assert_eq!(doc["principal_mode"], "open");
    let recs = server.records();
    let exec: Vec<_> = recs.iter().filter(|r| r["tool"] == "shell_exec").collect();
    assert_eq!(exec.len(), 2, "a start and a completion record: {recs:?}");
    assert!(exec.iter().all(|r| r["principal"] == "alice"), "{exec:?}");

    // A readonly token is a ceiling: tier 1 is refused although the server is open.
    let ro = server.client(Some("tok-ro")).await;
    assert_eq!(
        call(
            &ro,
            "shell_exec",
            json!({"command": "touch /tmp/relay-shell-ro-probe"})
        )
        .await,
        "[DENIED tier 1 (REVERSIBLE): readonly mode refuses Tier 1 (REVERSIBLE)]"
    );
    assert!(!std::path::Path::new("/tmp/relay-shell-ro-probe").exists());
    assert_eq!(
        call(&ro, "shell_exec", json!({"command": "echo read"})).await,
        "[exit 0]\nread\n"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&call(&ro, "server_info", json!({})).await).expect("json");
    assert_eq!(doc["policy_mode"], "open");
    assert_eq!(doc["principal_mode"], "readonly");
    let denied = server
        .completions()
        .into_iter()
        .find(|r| r["denied"] == true)
        .expect("denied record");
    assert_eq!(denied["principal"], "ro");
    // The ceiling also chooses the kernel profile: the open server ran alice's command
    // unconfined and the readonly token's read-only.
    let confinement = |principal: &str| -> Vec<String> {
        server
            .completions()
            .into_iter()
            .filter(|r| r["principal"] == principal && r["tool"] == "shell_exec")
            .map(|r| r["confinement"].as_str().unwrap_or("missing").to_string())
            .collect()
    };
    assert_eq!(confinement("alice"), vec!["none"]);
    let ro_profiles = confinement("ro");
    assert_eq!(ro_profiles.len(), 2, "{ro_profiles:?}");
    assert_eq!(ro_profiles[0], "none", "refused: nothing ran");
    assert!(ro_profiles[1].starts_with("read-only"), "{ro_profiles:?}");

    // The log never carries a token.
    let log = server.log();
    assert!(
        !log.contains("tok-alice") && !log.contains("tok-wrong"),
        "{log}"
    );
    alice.cancel().await.expect("close");
    ro.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    let tokens_s = tokens.display().to_string();
    let env = [("RELAY_SHELL_AUTH_TOKENS_FILE", tokens_s.as_str())];
    let new_token = |name: &str| {
        let out = http_support::command(&env)
            .args(["token", "new", name])
            .output()
            .expect("token new");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_string()
    };
    let keep = new_token("keep");
    let gone = new_token("gone");
    let text = std::fs::read_to_string(&tokens).expect("read");
    assert!(
        !text.contains(&keep) && !text.contains(&gone),
        "only hashes are stored"
    );
    let server = HttpServer::start_in(dir, &env).await;
    let kept = server.client(Some(&keep)).await;
    let doomed = server.client(Some(&gone)).await;
    assert_eq!(
        call(&doomed, "shell_exec", json!({"command": "echo a"})).await,
        "[exit 0]\na\n"
    );

    let out = http_support::command(&env)
        .args(["token", "revoke", "gone"])
        .output()
        .expect("token revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The very next request with the revoked token is refused; the other token works.
    assert!(
        doomed
            .call_tool(http_support::params(
                "shell_exec",
                json!({"command": "echo b"})
            ))
            .await
            .is_err()
    );
    assert!(server.connect(Some(&gone)).await.is_err());
    assert_eq!(
        call(&kept, "shell_exec", json!({"command": "echo c"})).await,
        "[exit 0]\nc\n"
    );
    let listed = http_support::command(&env)
        .args(["token", "list"])
        .output()
        .expect("list");
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "keep\t-\n");
    kept.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_belong_to_the_principal_that_opened_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    write_tokens(&tokens, &[("alice", "tok-a", None), ("bob", "tok-b", None)]);
    let tokens_s = tokens.display().to_string();
    let server = HttpServer::start_in(dir, &[("RELAY_SHELL_AUTH_TOKENS_FILE", &tokens_s)]).await;
    let alice = server.client(Some("tok-a")).await;
    let bob = server.client(Some("tok-b")).await;

    let spawned = call(&alice, "shell_spawn", json!({"command": "cat"})).await;
    let id = spawned
        .split_whitespace()
        .find(|w| w.starts_with("sh-"))
        .expect("session id")
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    let missing = format!("[ERROR: SessionNotFound: no such session: {id}]");
    assert_eq!(
        call(
            &bob,
            "session_recv",
            json!({"session_id": id, "timeout": 0})
        )
        .await,
        missing
    );
    assert_eq!(
        call(
            &bob,
            "session_send",
            json!({"session_id": id, "data": "echo x"})
        )
        .await,
        missing
    );
    assert_eq!(
        call(&bob, "session_kill", json!({"session_id": id})).await,
        missing
    );
    assert_eq!(call(&bob, "session_list", json!({})).await, "[]");
    let mine = call(&alice, "session_list", json!({})).await;
    assert!(mine.contains(&id), "{mine}");
    call(&alice, "session_kill", json!({"session_id": id})).await;

    // The MCP session id is bound too: bob presenting alice's session gets the 404 an
    // unknown session gets, and cannot delete it.
    let http = reqwest::Client::new();
    let r = mcp_post(&http, &server.url("/mcp"))
        .header("authorization", "Bearer tok-a")
        .body(initialize_body())
        .send()
        .await
        .expect("initialize");
    let sid = r.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let r = mcp_post(&http, &server.url("/mcp"))
        .header("authorization", "Bearer tok-b")
        .header("mcp-session-id", &sid)
        .body(list.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 404);
    let r = http
        .delete(server.url("/mcp"))
        .header("authorization", "Bearer tok-b")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status(), 404);
    let r = mcp_post(&http, &server.url("/mcp"))
        .header("authorization", "Bearer tok-a")
        .header("mcp-session-id", &sid)
        .body(list)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 200, "the owner still has it");
    alice.cancel().await.expect("close");
    bob.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_move_after_calls() {
    let server = HttpServer::start(&[]).await;
    let client = server.client(None).await;
    let series =
        r#"relay_shell_tool_calls_total{tool="shell_exec",tier="0",mode="open",outcome="ok"}"#;
    let before = sample(&server.metrics().await, series).unwrap_or(0.0);
    for _ in 0..3 {
        call(&client, "shell_exec", json!({"command": "true"})).await;
    }
    call(&client, "shell_exec", json!({"command": "touch /dev/null"})).await;
    let text = server.metrics().await;
    assert_eq!(sample(&text, series), Some(before + 3.0), "{text}");
    let duration = r#"relay_shell_tool_call_duration_seconds_count{tool="shell_exec"}"#;
    assert_eq!(sample(&text, duration), Some(before + 4.0));
    assert!(
        sample(
            &text,
            r#"relay_shell_tool_output_bytes_total{tool="shell_exec"}"#
        ) >= Some(32.0)
    );
    assert_eq!(sample(&text, "relay_shell_mcp_sessions"), Some(1.0));
    assert_eq!(sample(&text, "relay_shell_audit_degraded"), Some(0.0));
    assert!(!text.contains("principal"));

    // Every line is a comment or `name[{labels}] value`, the exposition ends with # EOF,
    // and every sample belongs to a family declared by # TYPE.
    assert!(text.ends_with("# EOF\n"), "{text}");
    let mut families = vec![];
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let name = it.next().expect("name").to_string();
            let kind = it.next().expect("type");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            families.push(name);
            continue;
        }
        if line.starts_with('#') {
            assert!(line.starts_with("# HELP ") || line == "# EOF", "{line}");
            continue;
        }
        let (name_labels, value) = line.rsplit_once(' ').expect("sample");
        assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "{line}");
        let name = name_labels.split('{').next().expect("name");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if let Some(labels) = name_labels.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        assert!(
            families.iter().any(|f| name == f
                || name.strip_prefix(f.as_str()).is_some_and(|s| {
                    ["_total", "_bucket", "_sum", "_count", "_created"].contains(&s)
                })),
            "{line} has no family"
        );
    }
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_calls_with_eight_slots_all_complete() {
    let server = HttpServer::start(&[("RELAY_SHELL_MAX_CONCURRENT", "8")]).await;
    let mut clients = vec![];
    for _ in 0..8 {
        clients.push(server.client(None).await);
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..200 {
        let peer = clients[i % clients.len()].peer().clone();
        set.spawn(async move {
            let r = peer
                .call_tool(http_support::params(
                    "shell_exec",
                    json!({"command": format!("echo call-{i}")}),
                ))
                .await
                .expect("tools/call");
            (i, http_support::text(&r))
        });
    }
    let mut seen = 0;
    while let Some(r) = set.join_next().await {
        let (i, text) = r.expect("task");
        assert_eq!(text, format!("[exit 0]\ncall-{i}\n"));
        seen += 1;
    }
    assert_eq!(seen, 200);
    let done = server
        .completions()
        .into_iter()
        .filter(|r| r["tool"] == "shell_exec" && r["exit_code"] == 0)
        .count();
    assert_eq!(done, 200);
    for c in clients {
        c.cancel().await.expect("close");
    }
}
