//! The operator's consent page over raw HTTP against the built binary: the passphrase verb,
//! the page's headers and escaping, forged posts without the CSRF token, a wrong passphrase,
//! approve, deny, a consumed request, and the rate limit on guessing.

mod http_support;
mod oauth_support;

use oauth_support::{OAuthServer, location, pkce, query, raw};

const REDIRECT: &str = "http://127.0.0.1/cb";
const PASSPHRASE: &str = "correct horse battery";

/// The value of `name="<field>" value="…"` on the page.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).map(|i| i + marker.len()).expect("field");
    page[start..].split('"').next().expect("value").to_string()
}

struct Consent {
    request: String,
    csrf: String,
    cookie: String,
}

/// Open the consent page and check its headers and content.
async fn open_page(s: &OAuthServer, client: &str, challenge: &str) -> Consent {
    let r = raw()
        .get(s.authorize_url(client, REDIRECT, challenge, &[]))
        .send()
        .await
        .expect("GET");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    let csrf_cookie = cookie.split(';').next().expect("pair").to_string();
    let headers = r.headers().clone();
    let status = r.status();
    let page = r.text().await.expect("body");
    assert_eq!(status, 200, "{page}");
    let consent = Consent {
        request: field(&page, "request"),
        csrf: field(&page, "csrf"),
        cookie: csrf_cookie,
    };
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(
        csp.ends_with(
            "; form-action 'self' http://127.0.0.1; frame-ancestors 'none'; base-uri 'none'"
        ),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert!(
        cookie.ends_with("; Path=/authorize; HttpOnly; SameSite=Strict; Max-Age=600"),
        "{cookie}"
    );
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; Desk"),
        "the client name, escaped"
    );
    assert!(!page.contains("<script>"));
    assert!(page.contains("<code>127.0.0.1</code>"), "the redirect host");
    assert!(page.contains("<code>shell:admin</code>"));
    assert!(page.contains(&format!("<code>{}</code>", s.resource())));
    consent
}

async fn post(s: &OAuthServer, pairs: &[(&str, &str)], cookie: Option<&str>) -> reqwest::Response {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let mut r = raw()
        .post(s.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(q.finish());
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.send().await.expect("POST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_page_approves_denies_and_resists_forgery() {
    let s = OAuthServer::start(&[]).await;
    // The passphrase verb: two lines on stdin, equal, long enough.
    let (code, _, e) = s.cli(&["auth", "passphrase"], "one passphrase!\nanother one!!\n");
    assert_eq!(
        (code, e.as_str()),
        (
            2,
            "relay-shell: the two passphrases differ; nothing changed\n"
        )
    );
    let (code, _, e) = s.cli(&["auth", "passphrase"], "short\nshort\n");
    assert_eq!(
        (code, e.as_str()),
        (
            2,
            "relay-shell: the passphrase must have at least 12 characters\n"
        )
    );
    let (code, _, e) = s.cli(
        &["auth", "passphrase"],
        &format!("{PASSPHRASE}\n{PASSPHRASE}\n"),
    );
    assert_eq!(code, 0, "{e}");
    let stored = std::fs::read_to_string(s.state.join("passphrase")).expect("hash");
    assert!(stored.starts_with("$argon2id$") && !stored.contains("horse"));

    let doc = s.register("<script>alert(1)</script> Desk", REDIRECT).await;
    let client = doc["client_id"].as_str().expect("id").to_string();
    s.cli(&["auth", "approve", &client], "");
    let (verifier, challenge) = pkce();
    let c = open_page(&s, &client, &challenge).await;

    // Forged posts: no CSRF token, the token without the cookie, a wrong cookie.
    let forged = [
        (
            vec![
                ("request", c.request.as_str()),
                ("action", "approve"),
                ("passphrase", PASSPHRASE),
            ],
            Some(c.cookie.as_str()),
        ),
        (
            vec![
                ("request", &c.request),
                ("csrf", &c.csrf),
                ("action", "approve"),
                ("passphrase", PASSPHRASE),
            ],
            None,
        ),
        (
            vec![
                ("request", &c.request),
                ("csrf", &c.csrf),
                ("action", "approve"),
                ("passphrase", PASSPHRASE),
            ],
            Some("relay_shell_csrf=forged"),
        ),
    ];
    for (pairs, cookie) in &forged {
        let r = post(&s, pairs, *cookie).await;
        assert_eq!(r.status(), 403);
        assert!(location(&r).is_empty());
        assert!(
            r.text()
                .await
                .expect("body")
                .contains("This form did not come from this server's consent page.")
        );
    }
    // A wrong passphrase: the page again, saying only that it was not approved.
    let r = post(
        &s,
        &[
            ("request", &c.request),
            ("csrf", &c.csrf),
            ("action", "approve"),
            ("passphrase", "wrong guess here"),
        ],
        Some(&c.cookie),
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(location(&r).is_empty());
    let page = r.text().await.expect("body");
    assert!(page.contains(
        "<p class=\"err\" role=\"alert\">Not approved. Check what you typed and try again.</p>"
    ));
    assert!(!page.to_lowercase().contains("passphrase is wrong"));
    // The right one: a code for the client, which the token endpoint exchanges.
    let r = post(
        &s,
        &[
            ("request", &c.request),
            ("csrf", &c.csrf),
            ("action", "approve"),
            ("passphrase", PASSPHRASE),
        ],
        Some(&c.cookie),
    )
    .await;
    assert_eq!(r.status(), 303);
    let q = query(&location(&r));
    assert_eq!(q["state"], "st-1");
    let (status, _) = s.exchange(&client, &q["code"], REDIRECT, &verifier).await;
    assert_eq!(status, 200);
    // The request is consumed.
    let r = post(
        &s,
        &[
            ("request", &c.request),
            ("csrf", &c.csrf),
            ("action", "approve"),
            ("passphrase", PASSPHRASE),
        ],
        Some(&c.cookie),
    )
    .await;
    assert_eq!(r.status(), 400);

    // Deny: access_denied to the client, no code.
    let c = open_page(&s, &client, &challenge).await;
    let r = post(
        &s,
        &[
            ("request", &c.request),
            ("csrf", &c.csrf),
            ("action", "deny"),
        ],
        Some(&c.cookie),
    )
    .await;
    assert_eq!(r.status(), 303);
    let q = query(&location(&r));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_description"], "The operator denied the request");
    assert!(!q.contains_key("code"));

    // Guessing: after 5 failures from an address, even the right passphrase gets 429.
    let c = open_page(&s, &client, &challenge).await;
    let attempt = |p: &'static str| {
        let c = &c;
        let s = &s;
        async move {
            post(
                s,
                &[
                    ("request", &c.request),
                    ("csrf", &c.csrf),
                    ("action", "approve"),
                    ("passphrase", p),
                ],
                Some(&c.cookie),
            )
            .await
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("not the passphrase").await.status(), 403);
    }
    let r = attempt(PASSPHRASE).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(location(&r).is_empty());
}

#[test]
fn check_config_notes_a_missing_passphrase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("oauth");
    let state_s = state.display().to_string();
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let run = || {
        http_support::command(&[
            ("RELAY_SHELL_TRANSPORT", "http"),
            ("RELAY_SHELL_AUTH_ENABLED", "true"),
            ("RELAY_SHELL_AUTH_ISSUER", "http://127.0.0.1:8080"),
            ("RELAY_SHELL_AUTH_STATE_DIR", &state_s),
            ("RELAY_SHELL_AUDIT_PATH", &audit),
        ])
        .arg("--check-config")
        .output()
        .expect("run")
    };
    let out = run();
    assert_eq!(out.status.code(), Some(0));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("relay-shell: note: no operator passphrase (relay-shell auth passphrase): an approved client is authorized without a consent page\n"),
        "{e}"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&state).expect("created").mode() & 0o777,
        0o700
    );
    oauth_support::cli(
        &state,
        &["auth", "passphrase"],
        &format!("{PASSPHRASE}\n{PASSPHRASE}\n"),
    );
    assert_eq!(
        std::fs::metadata(state.join("passphrase"))
            .expect("file")
            .mode()
            & 0o777,
        0o600
    );
    let e = String::from_utf8_lossy(&run().stderr).into_owned();
    assert!(!e.contains("no operator passphrase"), "{e}");
}
