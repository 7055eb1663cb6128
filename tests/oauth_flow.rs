//! OAuth end to end against the built binary: discovery, registration (pending, then
//! `--auth-approve`), authorization, token, a tool call whose audit record names the client,
//! refresh, revocation — driven by rmcp's own OAuth client (the `auth` feature, built on the
//! `oauth2` crate) and by raw HTTP where exact answers are asserted.

mod http_support;
mod oauth_support;

use http_support::{call, initialize_body, mcp_post};
use oauth_support::{OAuthServer, location, pkce, query, raw};
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{AuthClient, AuthorizationRequest, OAuthState};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_documents_and_the_challenge() {
    let s = OAuthServer::start(&[]).await;
    let http = raw();
    let r = mcp_post(&http, &s.resource())
        .body(initialize_body())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        format!(
            "Bearer realm=\"relay-shell\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"shell:admin\"",
            s.issuer
        )
        .as_str()
    );
    let prm_expected = json!({
        "resource": s.resource(),
        "authorization_servers": [s.issuer],
        "scopes_supported": ["shell:read", "shell:write", "shell:admin", "mcp:tools"],
        "bearer_methods_supported": ["header"],
        "resource_name": "relay-shell",
    });
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let r = http.get(s.url(path)).send().await.expect("GET");
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(
            r.json::<serde_json::Value>().await.expect("json"),
            prm_expected
        );
    }
    let r = http
        .get(s.url("/.well-known/oauth-protected-resource/other"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 404);
    let meta: serde_json::Value = http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let i = &s.issuer;
    assert_eq!(meta["issuer"], json!(i));
    assert_eq!(
        meta["authorization_endpoint"],
        json!(format!("{i}/authorize"))
    );
    assert_eq!(meta["token_endpoint"], json!(format!("{i}/token")));
    assert_eq!(
        meta["registration_endpoint"],
        json!(format!("{i}/register"))
    );
    assert_eq!(meta["revocation_endpoint"], json!(format!("{i}/revoke")));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        meta["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(
        meta["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    assert_eq!(meta["scopes_supported"], prm_expected["scopes_supported"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_registers_waits_for_approval_and_calls_a_tool() {
    let s = OAuthServer::start(&[]).await;
    let redirect = format!("http://127.0.0.1:{}/callback", oauth_support::free_port());
    let mut state = OAuthState::new(s.resource(), None)
        .await
        .expect("oauth state");
    state
        .start_authorization(AuthorizationRequest::new(&redirect).with_client_name("Test Desktop"))
        .await
        .expect("discovery and registration");
    let auth_url = state
        .get_authorization_url()
        .await
        .expect("authorization url");
    assert!(
        auth_url.starts_with(&format!("{}/authorize?", s.issuer)),
        "{auth_url}"
    );
    let client_id = query(&auth_url)["client_id"].clone();
    assert_eq!(query(&auth_url)["code_challenge_method"], "S256");
    assert_eq!(query(&auth_url)["resource"], s.resource());

    // Registered, pending: the operator's list shows it, /authorize refuses it.
    let (code, out, _) = s.cli(&["--auth-list"], "");
    assert_eq!(code, 0);
    assert_eq!(out, format!("{client_id}  pending  {redirect}\n"));
    let r = raw().get(&auth_url).send().await.expect("GET");
    assert_eq!(r.status(), 303);
    let refused = query(&location(&r));
    assert_eq!(refused["error"], "access_denied");
    assert_eq!(
        refused["error_description"],
        "Client is awaiting operator approval"
    );
    s.wait_log(&format!(
        "authorization refused: client {client_id} is awaiting operator approval (run: relay-shell auth approve {client_id})"
    ))
    .await;

    // The v0.5.0 flag approves it; the same URL now yields a code.
    let (code, out, _) = s.cli(&["--auth-approve", &client_id], "");
    assert_eq!(
        (code, out.as_str()),
        (0, format!("approved {client_id}\n").as_str())
    );
    let r = raw().get(&auth_url).send().await.expect("GET");
    assert_eq!(r.status(), 303);
    let callback = location(&r);
    assert!(callback.starts_with(&redirect), "{callback}");
    assert_eq!(query(&callback)["iss"], s.issuer);
    state
        .handle_callback_url(&callback)
        .await
        .expect("token exchange");
    let manager = state.into_authorization_manager().expect("authorized");
    let first = manager.get_access_token().await.expect("access token");
    assert!(first.starts_with("rsa_"));
    // rmcp's refresh (the oauth2 crate's refresh request) rotates the pair; the MCP session
    // below runs on the new access token.
    manager.refresh_token().await.expect("refresh");
    let second = manager
        .get_access_token()
        .await
        .expect("refreshed access token");
    assert!(second.starts_with("rsa_") && second != first);

    let transport = StreamableHttpClientTransport::with_client(
        AuthClient::new(reqwest::Client::new(), manager),
        StreamableHttpClientTransportConfig::with_uri(s.resource()),
    );
    let client = rmcp::model::ClientConfig::default()
        .serve(transport)
        .await
        .expect("MCP over OAuth");
    assert_eq!(
        call(&client, "shell_exec", json!({"command": "echo via-oauth"})).await,
        "[exit 0]\nvia-oauth\n"
    );
    let info: serde_json::Value =
        serde_json::from_str(&call(&client, "server_info", json!({})).await).expect("json");
    let principal = format!("oauth:{client_id} (Test Desktop)");
    assert_eq!(info["principal"], json!(principal));
    client.cancel().await.expect("close");
    let recs = s.http.completions();
    let rec = recs
        .iter()
        .find(|r| r["tool"] == "shell_exec")
        .expect("shell_exec record");
    assert_eq!(rec["principal"], json!(principal));
    assert_eq!(rec["client_id"], json!(client_id));
    // Nothing secret reached the log or the state directory.
    let grants = std::fs::read_to_string(s.state.join("grants.json")).expect("grants");
    for t in [&first, &second] {
        assert!(!grants.contains(t.as_str()) && !s.http.log().contains(t.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_access_token_registration_refresh_and_revocation() {
    let s = OAuthServer::start(&[("RELAY_SHELL_AUTH_REGISTRATION", "token")]).await;
    let redirect = "http://127.0.0.1/cb";
    let body = json!({"client_name": "ci", "redirect_uris": [redirect], "token_endpoint_auth_method": "none"})
        .to_string();
    let post = |auth: Option<String>| {
        let mut r = raw()
            .post(s.url("/register"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    // Without, or with a wrong, initial access token: RFC 6750 refusals.
    for auth in [None, Some("Bearer rsi_wrong".to_string())] {
        let r = post(auth).await.expect("POST");
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        let doc: serde_json::Value = r.json().await.expect("json");
        assert_eq!(doc["error"], "invalid_token");
    }
    let (code, iat, err) = s.cli(&["auth", "registration-token"], "");
    assert_eq!(code, 0, "{err}");
    let iat = iat.trim().to_string();
    assert!(iat.starts_with("rsi_") && err.contains("shown only this once"));
    let grants = std::fs::read_to_string(s.state.join("grants.json")).expect("grants");
    assert!(!grants.contains(&iat), "only the hash is stored");
    let r = post(Some(format!("Bearer {iat}"))).await.expect("POST");
    assert_eq!(r.status(), 201);
    let doc: serde_json::Value = r.json().await.expect("json");
    assert_eq!(doc["relay_shell_status"], "approved");
    let client = doc["client_id"].as_str().expect("id").to_string();
    // Single use.
    assert_eq!(
        post(Some(format!("Bearer {iat}")))
            .await
            .expect("POST")
            .status(),
        401
    );

    let (access, refresh) = s.grant(&client, redirect, &[]).await;
    let mcp = s.http.client(Some(&access)).await;
    assert_eq!(
        call(&mcp, "shell_exec", json!({"command": "echo one"})).await,
        "[exit 0]\none\n"
    );
    mcp.cancel().await.expect("close");

    // Refresh: a new pair; the new access token works.
    let (status, doc) = s
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["token_type"], "Bearer");
    assert_eq!(doc["expires_in"], 3600);
    assert_eq!(doc["scope"], "shell:admin");
    let access2 = doc["access_token"].as_str().expect("access").to_string();
    let refresh2 = doc["refresh_token"].as_str().expect("refresh").to_string();
    assert_ne!(refresh2, refresh);
    let mcp = s.http.client(Some(&access2)).await;
    assert_eq!(
        call(&mcp, "shell_exec", json!({"command": "echo two"})).await,
        "[exit 0]\ntwo\n"
    );
    mcp.cancel().await.expect("close");

    // Revoking the refresh token revokes its grant: the access token stops working.
    let (status, _) = s
        .form("/revoke", &[("client_id", &client), ("token", &refresh2)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.mcp_status(&access2).await, 401);
    let (status, doc) = s
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client),
                ("refresh_token", &refresh2),
            ],
        )
        .await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_tokens_and_another_resource_refuses_them() {
    let fixed = [("RELAY_SHELL_AUTH_RESOURCE_URL", "http://localhost/mcp")];
    let keep = tempfile::tempdir().expect("tempdir");
    let state = keep.path().join("oauth");
    let s = OAuthServer::start_with(tempfile::tempdir().expect("tempdir"), &state, &fixed).await;
    let redirect = "http://127.0.0.1/cb";
    let client = s.approved_client(redirect).await;
    let (access, refresh) = s.grant(&client, redirect, &[]).await;
    assert_eq!(s.mcp_status(&access).await, 200);
    drop(s);
    let s = OAuthServer::start_with(tempfile::tempdir().expect("tempdir"), &state, &fixed).await;
    assert_eq!(
        s.mcp_status(&access).await,
        200,
        "valid tokens survive a restart"
    );
    // A server of another resource sharing the state directory refuses the token, and
    // refuses to refresh it.
    let other = OAuthServer::start_with(tempfile::tempdir().expect("tempdir"), &state, &[]).await;
    assert_eq!(other.mcp_status(&access).await, 401);
    let (status, doc) = other
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        doc["error_description"],
        "refresh token was issued for another resource"
    );
    // Its own resource in a request for a token of the first server: invalid_target.
    let (verifier, challenge) = pkce();
    let r = raw()
        .get(
            other
                .authorize_url(&client, redirect, &challenge, &[])
                .replace(
                    &form_urlencoded::byte_serialize(other.resource().as_bytes())
                        .collect::<String>(),
                    &form_urlencoded::byte_serialize(b"http://localhost/mcp").collect::<String>(),
                ),
        )
        .send()
        .await
        .expect("GET");
    assert_eq!(query(&location(&r))["error"], "invalid_target");
    let _ = verifier;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_belong_to_the_oauth_client() {
    let s = OAuthServer::start(&[]).await;
    let redirect = "http://127.0.0.1/cb";
    let a = s.approved_client(redirect).await;
    let b = s.approved_client(redirect).await;
    let (token_a, _) = s.grant(&a, redirect, &[]).await;
    let (token_b, _) = s.grant(&b, redirect, &[]).await;
    let alice = s.http.client(Some(&token_a)).await;
    let bob = s.http.client(Some(&token_b)).await;
    let spawned = call(&alice, "shell_spawn", json!({"command": "cat"})).await;
    let id = spawned
        .split_whitespace()
        .find(|w| w.starts_with("sh-"))
        .expect("session id")
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    assert_eq!(
        call(
            &bob,
            "session_recv",
            json!({"session_id": id, "timeout": 0})
        )
        .await,
        format!("[ERROR: SessionNotFound: no such session: {id}]")
    );
    assert_eq!(call(&bob, "session_list", json!({})).await, "[]");
    assert!(call(&alice, "session_list", json!({})).await.contains(&id));
    // Rejecting a client ends its tokens at once.
    let (code, _, _) = s.cli(&["auth", "reject", &a], "");
    assert_eq!(code, 0);
    assert_eq!(s.mcp_status(&token_a).await, 401);
    assert_eq!(s.mcp_status(&token_b).await, 200);
    bob.cancel().await.expect("close");
    drop(alice);
}
