//! `POST /register`: RFC 7591 dynamic client registration under
//! `RELAY_SHELL_AUTH_REGISTRATION` (`approve`, `token`, `closed`, `open`).
//!
//! Every refusal is an RFC 7591 (or RFC 6750, for the initial access token) error document:
//! 400 `invalid_redirect_uri` / `invalid_client_metadata`, 401 `invalid_token`, 429 when an
//! address registers too often. Pending registrations are bounded (the oldest pending one is
//! dropped), so a flood cannot crowd out the operator's real client.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use super::store::{self, Client, RegistrationToken, Status};
use super::{
    OAuth, Peer, Registration, error_json, json_response, parse_scopes, valid_redirect_uri,
};

/// Most redirect URIs one client registers.
const MAX_REDIRECT_URIS: usize = 8;

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// A display name from client-supplied text: no control characters, at most 64 characters.
pub(crate) fn clean_name(raw: Option<&str>) -> String {
    let name: String = raw
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    let name = name.trim().to_string();
    if name.is_empty() {
        "unnamed client".into()
    } else {
        name
    }
}

/// A new client id: 16 random bytes, hex.
pub(crate) fn new_client_id() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    hex::encode(b)
}

fn invalid(what: &str) -> Response {
    error_json(StatusCode::BAD_REQUEST, "invalid_client_metadata", what)
}

/// What the operator's configuration says about this registration.
enum Gate {
    /// Pending until approved.
    Pending,
    /// Approved now, with the initial access token's hash to consume (if any).
    Approved(Option<String>),
}

fn bearer_refusal(description: &str) -> Response {
    let mut r = error_json(StatusCode::UNAUTHORIZED, "invalid_token", description);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    r
}

/// Check the metadata document; `Ok((redirect_uris, name, token endpoint auth method))`.
// The error is the finished response, built once per refused request; boxing buys nothing.
#[allow(clippy::result_large_err)]
fn check(meta: &Metadata) -> Result<(Vec<String>, String, &'static str), Response> {
    if meta.redirect_uris.is_empty() || meta.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(error_json(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &format!("redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs"),
        ));
    }
    for uri in &meta.redirect_uris {
        if let Err(why) = valid_redirect_uri(uri) {
            return Err(error_json(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                why,
            ));
        }
    }
    if let Some(g) = &meta.grant_types
        && (g
            .iter()
            .any(|g| g != "authorization_code" && g != "refresh_token")
            || !g.iter().any(|g| g == "authorization_code"))
    {
        return Err(invalid(
            "grant_types must be authorization_code (and refresh_token)",
        ));
    }
    if let Some(r) = &meta.response_types
        && r.iter().any(|r| r != "code")
    {
        return Err(invalid("response_types must be [\"code\"]"));
    }
    let method = match meta.token_endpoint_auth_method.as_deref() {
        Some("none") => "none",
        None | Some("client_secret_basic") => "client_secret_basic",
        Some("client_secret_post") => "client_secret_post",
        Some(_) => {
            return Err(invalid(
                "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
            ));
        }
    };
    if let Some(scope) = &meta.scope {
        parse_scopes(scope).map_err(|e| invalid(&e))?;
    }
    if meta.client_name.as_ref().is_some_and(|n| n.len() > 1024) {
        return Err(invalid("client_name is longer than 1024 bytes"));
    }
    Ok((
        meta.redirect_uris.clone(),
        clean_name(meta.client_name.as_deref()),
        method,
    ))
}

/// `POST /register`.
// The store closure's error is the finished response (see `check`).
#[allow(clippy::result_large_err)]
pub(super) async fn register(State(oauth): State<Arc<OAuth>>, req: Request) -> Response {
    let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
    let presented = super::super::auth::bearer(req.headers()).map(str::to_string);
    let json_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if oauth.registration == Registration::Closed {
        return invalid(
            "dynamic client registration is closed; the operator adds clients with \
             `relay-shell auth client add`",
        );
    }
    if let Some(ip) = peer {
        let admitted = oauth
            .registrations
            .lock()
            .map(|mut w| w.admit(ip, Instant::now()))
            .unwrap_or(false);
        if !admitted {
            let mut r = error_json(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_request",
                "too many registrations from this address; try again later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
            return r;
        }
    }
    let body = match super::body_bytes(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !json_type {
        return invalid("the registration request must be application/json");
    }
    let meta: Metadata = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return invalid(&format!("the metadata document does not parse: {e}")),
    };
    let (redirect_uris, name, method) = match check(&meta) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let gate = match oauth.registration {
        Registration::Token => {
            let Some(t) = presented else {
                return bearer_refusal("an initial access token is required to register");
            };
            Gate::Approved(Some(store::hash(&t)))
        }
        _ if oauth.approves_at_registration() => Gate::Approved(None),
        _ => Gate::Pending,
    };
    let client_id = new_client_id();
    let secret = (method != "none").then(|| store::random_secret("rss_"));
    let via = match oauth.registration {
        Registration::Token => "token",
        Registration::Open => "open",
        _ => "register",
    };
    let single_client = oauth.single_client;
    let record = Client {
        name: name.clone(),
        redirect_uris: redirect_uris.clone(),
        status: match gate {
            Gate::Pending => Status::Pending,
            Gate::Approved(_) => Status::Approved,
        },
        via: via.into(),
        created_at: store::now(),
        secret_hash: secret.as_deref().map(store::hash),
    };
    let status = record.status;
    let id = client_id.clone();
    let outcome = oauth.store.update(move |clients, grants, now| {
        let token_ok = match &gate {
            Gate::Approved(Some(h)) => {
                let valid = grants
                    .registration_tokens
                    .get(h)
                    .is_some_and(|t| t.expires_at > now);
                if !valid {
                    return Err(bearer_refusal(
                        "the initial access token is invalid or expired",
                    ));
                }
                if grants
                    .registration_tokens
                    .get(h)
                    .is_some_and(|t: &RegistrationToken| t.single_use)
                {
                    grants.registration_tokens.remove(h);
                }
                true
            }
            _ => false,
        };
        if single_client
            && !token_ok
            && clients
                .clients
                .values()
                .any(|c| c.status == Status::Approved)
        {
            return Err(invalid(
                "Dynamic client registration is closed (single-client lockdown).",
            ));
        }
        // Pending clients make room for new ones (the oldest goes); approved ones never do.
        let approved = clients
            .clients
            .values()
            .filter(|c| c.status == Status::Approved)
            .count();
        if approved >= store::MAX_CLIENTS {
            return Err(invalid(
                "this server has as many clients as it keeps; the operator must reject some",
            ));
        }
        clients.clients.insert(id, record);
        Ok(())
    });
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(r)) => return r,
        Err(e) => {
            tracing::error!("OAuth registration could not be stored: {e}");
            return error_json(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the registration could not be stored",
            );
        }
    }
    if status == Status::Pending {
        tracing::warn!(
            "OAuth client {client_id} ({name}) registered and awaits approval (run: relay-shell \
             auth approve {client_id})"
        );
    } else {
        tracing::info!("OAuth client {client_id} ({name}) registered and approved ({via})");
    }
    let mut doc = json!({
        "client_id": client_id,
        "client_id_issued_at": store::now(),
        "client_name": name,
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "relay_shell_status": if status == Status::Pending { "pending" } else { "approved" },
    });
    if let (Some(s), Some(obj)) = (secret, doc.as_object_mut()) {
        obj.insert("client_secret".into(), json!(s));
        obj.insert("client_secret_expires_at".into(), json!(0));
    }
    if let (Some(scope), Some(obj)) = (meta.scope, doc.as_object_mut()) {
        obj.insert("scope".into(), json!(scope));
    }
    json_response(StatusCode::CREATED, &doc).into_response()
}
