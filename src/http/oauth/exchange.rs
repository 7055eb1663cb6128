//! `POST /token` (authorization code with PKCE S256, refresh with rotation) and
//! `POST /revoke` (RFC 7009).
//!
//! A code is spent by the first exchange that names it with its client, whatever the outcome;
//! presenting a spent code again revokes every token its first exchange issued. A refresh
//! token is rotated by its exchange; presenting a rotated one revokes its whole family. Each
//! token is bound to the resource of its authorization (RFC 8707) and only that resource
//! accepts it. Errors are RFC 6749 §5.2 documents: 400 `invalid_request`, `invalid_grant`,
//! `invalid_target`, `invalid_scope`, `unsupported_grant_type`; 401 `invalid_client`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::store::{self, Grants, Kind, Status, Token};
use super::{OAuth, error_json, json_response, parse_form, parse_scopes};

type Form = HashMap<String, String>;

/// An RFC 6749 error: status, code, description.
struct Refusal(StatusCode, &'static str, String);

impl Refusal {
    fn grant(description: &str) -> Refusal {
        Refusal(StatusCode::BAD_REQUEST, "invalid_grant", description.into())
    }

    fn request(description: &str) -> Refusal {
        Refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            description.into(),
        )
    }

    fn into_response(self) -> Response {
        let mut r = error_json(self.0, self.1, &self.2);
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"relay-shell\""),
            );
        }
        r
    }
}

/// Whether `verifier` (RFC 7636: 43-128 unreserved characters) hashes to `challenge`.
pub(crate) fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let shape = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    shape && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// Read a form body posted with the right content type.
async fn read_form(req: Request) -> Result<(HeaderMap, Form), Response> {
    let (parts, body) = req.into_parts();
    let body = super::body_bytes(body).await?;
    let form_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(
            Refusal::request("the body must be application/x-www-form-urlencoded").into_response(),
        );
    }
    let form = parse_form(&body).map_err(|e| Refusal::request(&e).into_response())?;
    Ok((parts.headers, form))
}

/// The client this request authenticates as (RFC 6749 §2.3: HTTP Basic, or `client_id` and
/// `client_secret` in the form; a public client names itself with `client_id`).
fn client_of(oauth: &OAuth, headers: &HeaderMap, form: &Form) -> Result<String, Refusal> {
    let unauthorized = |d: &str| Refusal(StatusCode::UNAUTHORIZED, "invalid_client", d.into());
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, b64)| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            let (id, secret) = raw.split_once(':').unwrap_or((&raw, ""));
            let dec = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            };
            (dec(id), dec(secret))
        });
    let (id, secret) = match (basic, form.get("client_id")) {
        (Some((id, _)), Some(f)) if &id != f => {
            return Err(Refusal::request(
                "client_id differs from the Basic credentials",
            ));
        }
        (Some((id, secret)), _) => (id, Some(secret)),
        (None, Some(id)) => (id.clone(), form.get("client_secret").cloned()),
        (None, None) => return Err(unauthorized("client authentication is required")),
    };
    let client = oauth
        .store
        .read(|c, _| c.clients.get(&id).cloned())
        .map_err(|e| {
            tracing::error!("OAuth state unusable: {e}");
            Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the authorization server cannot read its state".into(),
            )
        })?
        .ok_or_else(|| unauthorized("unknown client"))?;
    if let Some(want) = &client.secret_hash {
        let given = store::hash(secret.as_deref().unwrap_or_default());
        if !bool::from(given.as_bytes().ct_eq(want.as_bytes())) {
            return Err(unauthorized("client authentication failed"));
        }
    }
    Ok(id)
}

/// Mint an access and a refresh token of `family` into `grants`; the response document.
fn issue(
    oauth: &OAuth,
    grants: &mut Grants,
    now: u64,
    client_id: &str,
    scopes: &[String],
    family: &str,
) -> serde_json::Value {
    let access = store::random_secret("rsa_");
    let refresh = store::random_secret("rsr_");
    let token = |kind, ttl: u64| Token {
        kind,
        client_id: client_id.to_string(),
        scopes: scopes.to_vec(),
        resource: oauth.resource.clone(),
        expires_at: now.saturating_add(ttl),
        family: family.to_string(),
        rotated: false,
    };
    grants
        .tokens
        .insert(store::hash(&access), token(Kind::Access, oauth.access_ttl));
    grants.tokens.insert(
        store::hash(&refresh),
        token(Kind::Refresh, oauth.refresh_ttl),
    );
    json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": oauth.access_ttl,
        "refresh_token": refresh,
        "scope": scopes.join(" "),
    })
}

fn check_resource(oauth: &OAuth, form: &Form) -> Result<(), Refusal> {
    if let Some(res) = form.get("resource")
        && crate::config::normalize_url(res, "resource")
            .ok()
            .as_deref()
            != Some(&oauth.resource)
    {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "Resource is not this server".into(),
        ));
    }
    Ok(())
}

fn approved(clients: &store::Clients, id: &str) -> bool {
    clients
        .clients
        .get(id)
        .is_some_and(|c| c.status == Status::Approved)
}

fn exchange_code(
    oauth: &OAuth,
    client_id: &str,
    form: &Form,
) -> Result<serde_json::Value, Refusal> {
    let (Some(code), Some(verifier)) = (form.get("code"), form.get("code_verifier")) else {
        return Err(Refusal::request("code and code_verifier are required"));
    };
    check_resource(oauth, form)?;
    let key = store::hash(code);
    let redirect_uri = form.get("redirect_uri").cloned();
    let verifier = verifier.clone();
    let client_id = client_id.to_string();
    let out = oauth.store.update(|clients, grants, now| {
        let Some(c) = grants.codes.get_mut(&key) else {
            return Err(Refusal::grant("authorization code does not exist"));
        };
        if c.client_id != client_id {
            return Err(Refusal::grant(
                "authorization code does not belong to this client",
            ));
        }
        if let Some(family) = c.spent.clone() {
            let n = grants.revoke_family(&family);
            tracing::warn!(
                "code replayed by client {client_id}: {n} code(s) and token(s) of \
                 its first exchange revoked"
            );
            return Err(Refusal::grant(
                "authorization code already used; the tokens it issued are revoked",
            ));
        }
        if c.expires_at <= now {
            return Err(Refusal::grant("authorization code expired"));
        }
        let family = store::random_secret("");
        c.spent = Some(family.clone());
        let c = c.clone();
        if redirect_uri.as_deref() != Some(c.redirect_uri.as_str()) {
            return Err(Refusal::grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        if !pkce_ok(&verifier, &c.challenge) {
            return Err(Refusal::grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        if !approved(clients, &client_id) {
            return Err(Refusal::grant("the client is not approved"));
        }
        Ok(issue(oauth, grants, now, &client_id, &c.scopes, &family))
    });
    out.map_err(|e| {
        tracing::error!("OAuth state unusable: {e}");
        Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the grant could not be stored".into(),
        )
    })?
}

fn exchange_refresh(
    oauth: &OAuth,
    client_id: &str,
    form: &Form,
) -> Result<serde_json::Value, Refusal> {
    let Some(presented) = form.get("refresh_token") else {
        return Err(Refusal::request("refresh_token is required"));
    };
    check_resource(oauth, form)?;
    let asked = match form.get("scope") {
        Some(s) => Some(
            parse_scopes(s).map_err(|e| Refusal(StatusCode::BAD_REQUEST, "invalid_scope", e))?,
        ),
        None => None,
    };
    let key = store::hash(presented);
    let client_id = client_id.to_string();
    let out = oauth.store.update(|clients, grants, now| {
        let Some(t) = grants
            .tokens
            .get_mut(&key)
            .filter(|t| t.kind == Kind::Refresh)
        else {
            return Err(Refusal::grant("refresh token does not exist"));
        };
        if t.client_id != client_id {
            return Err(Refusal::grant(
                "refresh token does not belong to this client",
            ));
        }
        if t.rotated {
            let family = t.family.clone();
            grants.revoke_family(&family);
            tracing::warn!(
                "refresh token reuse for client {client_id}: its access and refresh tokens were \
                 revoked"
            );
            return Err(Refusal::grant(
                "refresh token was already used; every token of this grant is revoked",
            ));
        }
        if t.expires_at <= now {
            return Err(Refusal::grant("refresh token expired"));
        }
        if t.resource != oauth.resource {
            return Err(Refusal::grant(
                "refresh token was issued for another resource",
            ));
        }
        let scopes = match &asked {
            Some(a) if a.iter().any(|s| !t.scopes.contains(s)) => {
                return Err(Refusal(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "a refresh cannot widen the granted scope".into(),
                ));
            }
            Some(a) if !a.is_empty() => a.clone(),
            _ => t.scopes.clone(),
        };
        if !approved(clients, &client_id) {
            return Err(Refusal::grant("the client is not approved"));
        }
        t.rotated = true;
        let family = t.family.clone();
        Ok(issue(oauth, grants, now, &client_id, &scopes, &family))
    });
    out.map_err(|e| {
        tracing::error!("OAuth state unusable: {e}");
        Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the grant could not be stored".into(),
        )
    })?
}

/// `POST /token`.
pub(super) async fn token(State(oauth): State<Arc<OAuth>>, req: Request) -> Response {
    let (headers, form) = match read_form(req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let client_id = match client_of(&oauth, &headers, &form) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let result = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(&oauth, &client_id, &form),
        Some("refresh_token") => exchange_refresh(&oauth, &client_id, &form),
        Some(_) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token".into(),
        )),
        None => Err(Refusal::request("grant_type is required")),
    };
    match result {
        Ok(doc) => {
            tracing::info!("tokens issued to client {client_id}");
            json_response(StatusCode::OK, &doc)
        }
        Err(r) => {
            tracing::info!(
                "token request of client {client_id} refused: {} ({})",
                r.1,
                r.2
            );
            r.into_response()
        }
    }
}

/// `POST /revoke`: revoke the token's whole grant when it belongs to the authenticated
/// client; 200 in every other case (RFC 7009 §2.2), 401 when client authentication fails.
pub(super) async fn revoke(State(oauth): State<Arc<OAuth>>, req: Request) -> Response {
    let (headers, form) = match read_form(req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let client_id = match client_of(&oauth, &headers, &form) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let Some(presented) = form.get("token") else {
        return Refusal::request("token is required").into_response();
    };
    let key = store::hash(presented);
    let done = oauth.store.update(|_, grants, _| {
        let family = grants
            .tokens
            .get(&key)
            .filter(|t| t.client_id == client_id)
            .map(|t| t.family.clone());
        family.map(|f| grants.revoke_family(&f))
    });
    match done {
        Ok(Some(n)) => tracing::info!("client {client_id} revoked a grant ({n} token(s))"),
        Ok(None) => {}
        Err(e) => {
            tracing::error!("OAuth state unusable: {e}");
            return error_json(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the revocation could not be stored",
            );
        }
    }
    json_response(StatusCode::OK, &json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256() {
        // RFC 7636 appendix B.
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_ok(v, c));
        assert!(!pkce_ok(c, c));
        assert!(!pkce_ok("short", c));
        assert!(!pkce_ok(&format!("{v} "), c));
    }
}
