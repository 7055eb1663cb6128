//! Attacks on the OAuth endpoints of the built binary, each refused with its exact status and
//! RFC-shaped error: PKCE missing, `plain` or wrong; redirect-URI mismatch; code replay (which
//! revokes what the first exchange issued); expired codes and tokens; refresh reuse (family
//! revoked); a wrong resource; malformed, oversized and wrongly typed bodies; tokens in the
//! query string; foreign Host and Origin; an exposed state directory. Registration:
//! `oauth_registration.rs`.

mod http_support;
mod oauth_support;

use std::os::unix::fs::PermissionsExt;

use http_support::call;
use oauth_support::{OAuthServer, location, pkce, query, raw};
use serde_json::json;

const REDIRECT: &str = "http://127.0.0.1/cb";

fn err(doc: &serde_json::Value) -> (&str, &str) {
    (
        doc["error"].as_str().unwrap_or_default(),
        doc["error_description"].as_str().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_requests_that_are_refused() {
    let s = OAuthServer::start(&[]).await;
    let client = s.approved_client(REDIRECT).await;
    let (_, challenge) = pkce();
    let get = |url: String| async move { raw().get(url).send().await.expect("GET") };

    // Unknown client, unregistered redirect URI: a 400 page, never a redirect.
    let r = get(s.authorize_url("nope", REDIRECT, &challenge, &[])).await;
    assert_eq!(r.status(), 400);
    assert!(location(&r).is_empty());
    assert!(r.text().await.expect("body").contains("unknown client_id"));
    for evil in [
        "http://127.0.0.1/cb2",
        "https://evil.example/cb",
        "http://localhost/cb",
    ] {
        let r = get(s.authorize_url(&client, evil, &challenge, &[])).await;
        assert_eq!(r.status(), 400, "{evil}");
        assert!(location(&r).is_empty());
        assert!(
            r.text()
                .await
                .expect("body")
                .contains("redirect_uri is not registered for this client")
        );
    }
    // A loopback redirect may change its port (RFC 8252).
    let code = s
        .code(&client, "http://127.0.0.1:4711/cb", &challenge, &[])
        .await;
    assert!(code.starts_with("rsc_"));

    // Later errors go back to the client with state and iss.
    let expect = |url: String, error: &'static str, description: &'static str| {
        let issuer = s.issuer.clone();
        async move {
            let r = raw().get(url).send().await.expect("GET");
            assert_eq!(r.status(), 303);
            let loc = location(&r);
            assert!(loc.starts_with(REDIRECT), "{loc}");
            let q = query(&loc);
            assert_eq!(
                (q["error"].as_str(), q["error_description"].as_str()),
                (error, description)
            );
            assert_eq!(q["state"], "st-1");
            assert_eq!(q["iss"], issuer);
            assert!(!q.contains_key("code"));
        }
    };
    let pkce_required = "PKCE with code_challenge_method=S256 is required";
    let url = s.authorize_url(&client, REDIRECT, &challenge, &[]);
    expect(
        url.replace("&code_challenge_method=S256", ""),
        "invalid_request",
        pkce_required,
    )
    .await;
    expect(
        url.replace("code_challenge_method=S256", "code_challenge_method=plain"),
        "invalid_request",
        pkce_required,
    )
    .await;
    expect(
        url.replace(&format!("code_challenge={challenge}"), "code_challenge=abc"),
        "invalid_request",
        "code_challenge must be a base64url SHA-256 (43 characters)",
    )
    .await;
    expect(
        url.replace("response_type=code", "response_type=token"),
        "unsupported_response_type",
        "response_type must be code",
    )
    .await;
    expect(
        url.replace(
            "resource=http",
            "resource=https%3A%2F%2Fother.example%2Fmcp&x=http",
        ),
        "invalid_target",
        "Resource is not this server",
    )
    .await;
    expect(
        s.authorize_url(&client, REDIRECT, &challenge, &[("scope", "shell:root")]),
        "invalid_scope",
        "unknown scope \"shell:root\"",
    )
    .await;
    // A parameter given twice is ambiguous: refused before any redirect.
    let r = get(format!("{url}&client_id={client}")).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_that_are_refused() {
    let s = OAuthServer::start(&[]).await;
    let client = s.approved_client(REDIRECT).await;

    // Wrong verifier: invalid_grant, and the code is spent.
    let (verifier, challenge) = pkce();
    let code = s.code(&client, REDIRECT, &challenge, &[]).await;
    let (other_verifier, _) = pkce();
    let (status, doc) = s.exchange(&client, &code, REDIRECT, &other_verifier).await;
    assert_eq!(
        (status, err(&doc)),
        (
            400,
            (
                "invalid_grant",
                "code_verifier does not match the code_challenge"
            )
        )
    );
    let (status, doc) = s.exchange(&client, &code, REDIRECT, &verifier).await;
    assert_eq!(
        (status, err(&doc)),
        (
            400,
            (
                "invalid_grant",
                "authorization code already used; the tokens it issued are revoked"
            )
        )
    );
    // Missing verifier: invalid_request (the code is not spent by a malformed request).
    let (verifier, challenge) = pkce();
    let code = s.code(&client, REDIRECT, &challenge, &[]).await;
    let (status, doc) = s
        .form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!(
        (status, err(&doc)),
        (
            400,
            ("invalid_request", "code and code_verifier are required")
        )
    );
    // Redirect URI mismatch.
    let (status, doc) = s
        .exchange(&client, &code, "http://127.0.0.1:9/cb", &verifier)
        .await;
    assert_eq!(
        (status, err(&doc)),
        (
            400,
            (
                "invalid_grant",
                "redirect_uri does not match the authorization request"
            )
        )
    );

    // Replay: the second exchange fails and revokes what the first one issued.
    let (verifier, challenge) = pkce();
    let code = s.code(&client, REDIRECT, &challenge, &[]).await;
    let (status, first) = s.exchange(&client, &code, REDIRECT, &verifier).await;
    assert_eq!(status, 200);
    let access = first["access_token"].as_str().expect("access").to_string();
    assert_eq!(s.mcp_status(&access).await, 200);
    let (status, doc) = s.exchange(&client, &code, REDIRECT, &verifier).await;
    assert_eq!(status, 400);
    assert_eq!(err(&doc).0, "invalid_grant");
    assert_eq!(s.mcp_status(&access).await, 401);
    s.wait_log("code replayed by client").await;

    // Another client cannot use the code.
    let thief = s.approved_client(REDIRECT).await;
    let (verifier, challenge) = pkce();
    let code = s.code(&client, REDIRECT, &challenge, &[]).await;
    let (status, doc) = s.exchange(&thief, &code, REDIRECT, &verifier).await;
    assert_eq!(
        (status, err(&doc)),
        (
            400,
            (
                "invalid_grant",
                "authorization code does not belong to this client"
            )
        )
    );
    // Unknown client: 401 invalid_client.
    let (status, doc) = s.exchange("nobody", &code, REDIRECT, &verifier).await;
    assert_eq!(
        (status, err(&doc)),
        (401, ("invalid_client", "unknown client"))
    );
    // A resource that is not this server.
    let (status, doc) = s
        .form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
                ("resource", "https://other.example/mcp"),
            ],
        )
        .await;
    assert_eq!(
        (status, err(&doc)),
        (400, ("invalid_target", "Resource is not this server"))
    );

    // Expired code (its expiry moved into the past in the state file).
    s.edit_grants(|g| {
        for c in g["codes"].as_object_mut().expect("codes").values_mut() {
            c["expires_at"] = json!(1_000_000_000u64 + 1);
        }
    });
    let (status, doc) = s.exchange(&client, &code, REDIRECT, &verifier).await;
    assert_eq!(
        (status, err(&doc)),
        (400, ("invalid_grant", "authorization code expired"))
    );

    // Refresh reuse: the rotated token revokes its whole family.
    let (access, refresh) = s.grant(&client, REDIRECT, &[]).await;
    let refresh_form = |t: String| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("client_id", client.clone()),
            ("refresh_token", t),
        ]
    };
    let send = |pairs: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let v: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.form("/token", &v).await
        }
    };
    let (status, doc) = send(refresh_form(refresh.clone())).await;
    assert_eq!(status, 200);
    let access2 = doc["access_token"].as_str().expect("access").to_string();
    let refresh2 = doc["refresh_token"].as_str().expect("refresh").to_string();
    let (status, doc) = send(refresh_form(refresh.clone())).await;
    assert_eq!(
        (status, err(&doc)),
        (
            400,
            (
                "invalid_grant",
                "refresh token was already used; every token of this grant is revoked"
            )
        )
    );
    assert_eq!(s.mcp_status(&access).await, 401);
    assert_eq!(s.mcp_status(&access2).await, 401);
    let (status, doc) = send(refresh_form(refresh2)).await;
    assert_eq!(
        (status, err(&doc)),
        (400, ("invalid_grant", "refresh token does not exist"))
    );
    // An access token is not a refresh token.
    let (access, _) = s.grant(&client, REDIRECT, &[]).await;
    let (status, doc) = send(refresh_form(access.clone())).await;
    assert_eq!(
        (status, err(&doc)),
        (400, ("invalid_grant", "refresh token does not exist"))
    );

    // Expired access token.
    assert_eq!(s.mcp_status(&access).await, 200);
    s.edit_grants(|g| {
        for t in g["tokens"].as_object_mut().expect("tokens").values_mut() {
            t["expires_at"] = json!(1_000_000_000u64 + 1);
        }
    });
    assert_eq!(s.mcp_status(&access).await, 401);

    // Bodies: wrong type, malformed, repeated names, oversized, unknown grant.
    let r = raw()
        .post(s.url("/token"))
        .header("content-type", "application/json")
        .body("{\"grant_type\":\"authorization_code\"}")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 400);
    let doc: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        err(&doc),
        (
            "invalid_request",
            "the body must be application/x-www-form-urlencoded"
        )
    );
    let (status, doc) = s
        .form(
            "/token",
            &[("grant_type", "password"), ("client_id", &client)],
        )
        .await;
    assert_eq!(err(&doc).0, "unsupported_grant_type");
    assert_eq!(status, 400);
    let r = raw()
        .post(s.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("client_id={client}&grant_type=a&grant_type=b"))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 400);
    let doc: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        err(&doc),
        (
            "invalid_request",
            "parameter \"grant_type\" given more than once"
        )
    );
    let r = raw()
        .post(s.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("client_id={client}&pad={}", "a".repeat(70_000)))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 413);
    let doc: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        err(&doc),
        ("invalid_request", "the request body exceeds 65536 bytes")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_registration_scopes_bearer_tokens_and_the_wire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    http_support::write_tokens(&tokens, &[("ci", "tok-ci", None)]);
    let tokens_s = tokens.display().to_string();
    let state = dir.path().join("oauth");
    let s = OAuthServer::start_with(
        dir,
        &state,
        &[
            ("RELAY_SHELL_AUTH_REGISTRATION", "closed"),
            ("RELAY_SHELL_AUTH_TOKENS_FILE", &tokens_s),
        ],
    )
    .await;
    let meta: serde_json::Value = raw()
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert!(meta.get("registration_endpoint").is_none());
    let r = raw()
        .post(s.url("/register"))
        .header("content-type", "application/json")
        .body(json!({"redirect_uris": [REDIRECT]}).to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 400);
    // The operator adds the client by hand.
    let (code, out, _) = s.cli(
        &[
            "auth",
            "client",
            "add",
            "Ops laptop",
            "--redirect-uri",
            REDIRECT,
        ],
        "",
    );
    assert_eq!(code, 0);
    let client = out.trim().to_string();

    // shell:read stops at tier 0; shell:write at tier 2; the audit names the scope.
    let (read, _) = s.grant(&client, REDIRECT, &[("scope", "shell:read")]).await;
    let mcp = s.http.client(Some(&read)).await;
    assert_eq!(
        call(&mcp, "shell_exec", json!({"command": "echo r"})).await,
        "[exit 0]\nr\n"
    );
    assert_eq!(
        call(&mcp, "shell_exec", json!({"command": "touch /tmp/x"})).await,
        "[DENIED tier 1 (REVERSIBLE): scope shell:read allows up to Tier 0; Tier 1 (REVERSIBLE) is refused]"
    );
    mcp.cancel().await.expect("close");
    let (write, _) = s
        .grant(&client, REDIRECT, &[("scope", "shell:write")])
        .await;
    let mcp = s.http.client(Some(&write)).await;
    assert_eq!(
        call(
            &mcp,
            "shell_exec",
            json!({"command": "rm -rf /srv/nothing"})
        )
        .await,
        "[DENIED tier 3 (IRREVERSIBLE): scope shell:write allows up to Tier 2; Tier 3 (IRREVERSIBLE) is refused]"
    );
    mcp.cancel().await.expect("close");
    let denied = s
        .http
        .completions()
        .into_iter()
        .filter(|r| r["denied"] == json!(true))
        .count();
    assert_eq!(denied, 2);

    // Bearer tokens keep working beside OAuth.
    let mcp = s.http.client(Some("tok-ci")).await;
    assert_eq!(
        call(&mcp, "shell_exec", json!({"command": "echo ci"})).await,
        "[exit 0]\nci\n"
    );
    mcp.cancel().await.expect("close");

    // Never in the query string.
    let r = http_support::mcp_post(&raw(), &format!("{}?access_token={read}", s.mcp()))
        .header("authorization", format!("Bearer {read}"))
        .body(http_support::initialize_body())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"relay-shell\", error=\"invalid_request\""
    );
    // A wrong token: 401 invalid_token with the metadata pointer.
    let r = http_support::mcp_post(&raw(), &s.mcp())
        .header("authorization", "Bearer rsa_forged")
        .body(http_support::initialize_body())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .ends_with(", error=\"invalid_token\"")
    );

    // Foreign Host (DNS rebinding) and Origin: 403 before any OAuth logic.
    let r = raw()
        .post(format!("http://{}/token", s.http.addr))
        .header("host", "evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 403);
    let r = raw()
        .post(s.url("/authorize"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("request=x&csrf=y&action=approve")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.text().await.expect("body"),
        "Forbidden: Origin header is not allowed"
    );

    // The state directory opened to others: every OAuth token is refused while serving (the
    // bearer file still works), and a new start is refused.
    std::fs::set_permissions(&s.state, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(s.mcp_status(&write).await, 401);
    assert_eq!(s.mcp_status("tok-ci").await, 200);
    let state_s = s.state.display().to_string();
    let out = http_support::command(&[
        ("RELAY_SHELL_TRANSPORT", "http"),
        ("RELAY_SHELL_AUTH_ENABLED", "true"),
        ("RELAY_SHELL_AUTH_ISSUER", "http://127.0.0.1:1"),
        ("RELAY_SHELL_AUTH_STATE_DIR", &state_s),
    ])
    .arg("--check-config")
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        e,
        format!(
            "relay-shell: invalid configuration: RELAY_SHELL_AUTH_STATE_DIR: {state_s} is group/other-accessible (mode 755); expected 0700. Refusing to use an exposed token store\n"
        )
    );
}
