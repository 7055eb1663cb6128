//! Authentication on `/mcp` and `/metrics`: bearer tokens from the token file and OAuth
//! access tokens become the request's [`Principal`]; without either every request is the
//! `anonymous` principal (allowed only on loopback, or with
//! `RELAY_SHELL_ALLOW_UNAUTH_NETWORK=true`).
//!
//! A missing or wrong token gets 401 with `WWW-Authenticate: Bearer` (RFC 6750), the same
//! answer for both, and nothing about which tokens exist; with OAuth the challenge names the
//! protected-resource metadata and the scope (RFC 9728 §5.1). A token in the query string is
//! never accepted: 400 `invalid_request`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::oauth::OAuth;
use super::tokens::TokenStore;
use crate::server::Principal;

/// What `/mcp` accepts as credentials.
pub(super) struct Credentials {
    /// The bearer-token file.
    pub tokens: Option<Arc<TokenStore>>,
    /// The OAuth authorization server.
    pub oauth: Option<Arc<OAuth>>,
}

/// The principal of every request when no token file is configured.
pub(super) const ANONYMOUS: &str = "anonymous";

/// The credentials token in an `Authorization: Bearer …` header (scheme case-insensitive).
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A 401 with a `WWW-Authenticate: Bearer` challenge.
pub(super) fn unauthorized(realm: &'static str, presented: bool) -> Response {
    let challenge = if presented {
        format!("Bearer realm=\"{realm}\", error=\"invalid_token\"")
    } else {
        format!("Bearer realm=\"{realm}\"")
    };
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        "Unauthorized: a valid bearer token is required",
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// The 401 for `/mcp` with OAuth: the challenge names the resource metadata and the scope.
fn oauth_unauthorized(oauth: &OAuth, presented: bool) -> Response {
    let mut challenge = format!(
        "Bearer realm=\"relay-shell\", resource_metadata=\"{}\", scope=\"{}\"",
        oauth.resource_metadata_url(),
        super::oauth::CHALLENGE_SCOPE
    );
    if presented {
        challenge.push_str(", error=\"invalid_token\"");
    }
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        "Unauthorized: a valid bearer token is required",
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Whether the query string carries a token (`access_token=`), which is never accepted.
fn token_in_query(uri: &http::Uri) -> bool {
    uri.query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k.eq_ignore_ascii_case("access_token"))
    })
}

/// Middleware on `/mcp`: attach the request's principal, or refuse it.
pub(super) async fn require(
    State(creds): State<Arc<Credentials>>,
    mut req: Request,
    next: Next,
) -> Response {
    let principal = if creds.tokens.is_none() && creds.oauth.is_none() {
        Principal {
            name: ANONYMOUS.to_string(),
            ceiling: crate::policy::Ceiling::NONE,
            client_id: String::new(),
        }
    } else {
        if token_in_query(req.uri()) {
            tracing::warn!("relay-shell refused a request with a token in its query string");
            let mut resp = (
                StatusCode::BAD_REQUEST,
                "Bad Request: tokens are accepted only in the Authorization header",
            )
                .into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"relay-shell\", error=\"invalid_request\""),
            );
            return resp;
        }
        let presented = bearer(req.headers());
        let found = presented.and_then(|t| {
            creds
                .tokens
                .as_ref()
                .and_then(|s| s.authenticate(t))
                .or_else(|| creds.oauth.as_ref().and_then(|o| o.authenticate(t)))
        });
        match found {
            Some(p) => p,
            None => {
                tracing::warn!(
                    token_presented = presented.is_some(),
                    "relay-shell refused an unauthenticated request"
                );
                return match &creds.oauth {
                    Some(o) => oauth_unauthorized(o, presented.is_some()),
                    None => unauthorized("relay-shell", presented.is_some()),
                };
            }
        }
    };
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The `RELAY_SHELL_METRICS_TOKEN` check: both sides hashed, then compared in constant time
/// (so neither the content nor the length of the expected token shows in the timing).
pub(super) fn metrics_token_ok(expected: Option<&[u8; 32]>, headers: &HeaderMap) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let presented: [u8; 32] = Sha256::digest(bearer(headers).unwrap_or_default().as_bytes()).into();
    bool::from(presented.ct_eq(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, auth.parse().expect("header"));
        h
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&headers("Bearerabc")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn metrics_token() {
        let want: [u8; 32] = Sha256::digest(b"m3").into();
        assert!(metrics_token_ok(None, &HeaderMap::new()));
        assert!(metrics_token_ok(Some(&want), &headers("Bearer m3")));
        assert!(!metrics_token_ok(Some(&want), &headers("Bearer m4")));
        assert!(!metrics_token_ok(Some(&want), &HeaderMap::new()));
    }

    #[test]
    fn challenge_names_the_scheme() {
        let r = unauthorized("relay-shell", true);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap_or_default()),
            Some("Bearer realm=\"relay-shell\", error=\"invalid_token\"")
        );
    }
}
