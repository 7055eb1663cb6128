//! Registration attacks against the built binary: malformed and oversized metadata, bad
//! redirect URIs and grant types, a confidential client's secret, the single-client lockdown
//! (a 400 RFC 7591 document, never a 500), a flood from one address (429), and the operator's
//! list, approve and reject verbs.

mod http_support;
mod oauth_support;

use oauth_support::{OAuthServer, pkce, raw};
use serde_json::json;

const REDIRECT: &str = "http://127.0.0.1/cb";

fn err(doc: &serde_json::Value) -> (&str, &str) {
    (
        doc["error"].as_str().unwrap_or_default(),
        doc["error_description"].as_str().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refusals_and_flood_limits() {
    let s = OAuthServer::start(&[("RELAY_SHELL_AUTH_SINGLE_CLIENT", "true")]).await;
    let post = |body: String, ctype: &'static str| {
        raw()
            .post(s.url("/register"))
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let check = |r: reqwest::Response, status: u16, error: &'static str| async move {
        assert_eq!(r.status(), status);
        let doc: serde_json::Value = r.json().await.expect("json");
        assert_eq!(doc["error"], error, "{doc}");
        doc["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let d = check(
        post("{nope".into(), "application/json")
            .await
            .expect("POST"),
        400,
        "invalid_client_metadata",
    )
    .await;
    assert!(d.starts_with("the metadata document does not parse"), "{d}");
    let d = check(
        post(
            json!({"redirect_uris": ["http://evil.example/cb"]}).to_string(),
            "application/json",
        )
        .await
        .expect("POST"),
        400,
        "invalid_redirect_uri",
    )
    .await;
    assert_eq!(d, "an http redirect URI must name a loopback host");
    check(
        post(json!({"redirect_uris": []}).to_string(), "application/json")
            .await
            .expect("POST"),
        400,
        "invalid_redirect_uri",
    )
    .await;
    let d = check(
        post(
            json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}).to_string(),
            "application/json",
        )
        .await
        .expect("POST"),
        400,
        "invalid_client_metadata",
    )
    .await;
    assert_eq!(
        d,
        "grant_types must be authorization_code (and refresh_token)"
    );
    check(
        post(
            json!({"redirect_uris": [REDIRECT]}).to_string(),
            "text/plain",
        )
        .await
        .expect("POST"),
        400,
        "invalid_client_metadata",
    )
    .await;
    let d = check(
        post(
            format!(
                "{{\"redirect_uris\":[\"{REDIRECT}\"],\"client_name\":\"{}\"}}",
                "a".repeat(70_000)
            ),
            "application/json",
        )
        .await
        .expect("POST"),
        413,
        "invalid_request",
    )
    .await;
    assert_eq!(d, "the request body exceeds 65536 bytes");

    // A confidential client gets a secret once; only its hash is stored; the token endpoint
    // then wants it.
    let r = post(
        json!({"redirect_uris": [REDIRECT], "client_name": "<b>conf</b>"}).to_string(),
        "application/json",
    )
    .await
    .expect("POST");
    assert_eq!(r.status(), 201);
    let doc: serde_json::Value = r.json().await.expect("json");
    assert_eq!(doc["relay_shell_status"], "pending");
    assert_eq!(doc["token_endpoint_auth_method"], "client_secret_basic");
    let secret = doc["client_secret"].as_str().expect("secret").to_string();
    let id = doc["client_id"].as_str().expect("id").to_string();
    assert!(
        !std::fs::read_to_string(s.state.join("clients.json"))
            .expect("clients")
            .contains(&secret)
    );
    s.cli(&["auth", "approve", &id], "");
    let (verifier, challenge) = pkce();
    let code = s.code(&id, REDIRECT, &challenge, &[]).await;
    let (status, doc) = s.exchange(&id, &code, REDIRECT, &verifier).await;
    assert_eq!(
        (status, err(&doc)),
        (401, ("invalid_client", "client authentication failed"))
    );
    let code = s.code(&id, REDIRECT, &challenge, &[]).await;
    let r = raw()
        .post(s.url("/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={verifier}",
            form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 200);

    // Single-client lockdown: an approved client closes /register (400, not 500).
    let d = check(
        post(
            json!({"redirect_uris": [REDIRECT]}).to_string(),
            "application/json",
        )
        .await
        .expect("POST"),
        400,
        "invalid_client_metadata",
    )
    .await;
    assert_eq!(
        d,
        "Dynamic client registration is closed (single-client lockdown)."
    );
    // Rejecting the client reopens it.
    let (code, out, e) = s.cli(&["--auth-reject", &id], "");
    assert_eq!((code, out), (0, format!("rejected {id}\n")), "{e}");
    // A flood from one address: 10 registrations per window, then 429.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = post(
            json!({"redirect_uris": [REDIRECT]}).to_string(),
            "application/json",
        )
        .await
        .expect("POST");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses,
        [201, 201, 429, 429],
        "the 10 per window include the earlier attempts"
    );
    let r = post(
        json!({"redirect_uris": [REDIRECT]}).to_string(),
        "application/json",
    )
    .await
    .expect("POST");
    assert_eq!(r.headers()["retry-after"], "600");
    check(r, 429, "invalid_request").await;
    let (code, out, _) = s.cli(&["auth", "list", "--json"], "");
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .all(|c| c["status"] == "pending")
    );
    let (code, _, e) = s.cli(&["auth", "approve", "nope"], "");
    assert_eq!(
        (code, e.as_str()),
        (2, "relay-shell: no such client: nope\n")
    );
}
