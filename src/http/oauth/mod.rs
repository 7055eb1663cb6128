//! OAuth 2.1 for the HTTP transport: this server is its own authorization server (ADR 0011,
//! docs/oauth.md).
//!
//! - `meta.rs` — RFC 9728 protected-resource and RFC 8414 authorization-server metadata.
//! - `register.rs` — RFC 7591 registration under `RELAY_SHELL_AUTH_REGISTRATION`.
//! - `authorize.rs` — `/authorize`: request checks, the operator's decision; `consent.rs` its
//!   HTML (the consent page).
//! - `exchange.rs` — `/token` (code + PKCE S256, refresh rotation) and `/revoke` (RFC 7009).
//! - `store.rs` — the state directory (hashes only, atomic writes, bounded).
//! - `operator.rs` — the operator passphrase (Argon2id hash) and `limits.rs` its rate limit.
//! - `cli.rs` — `relay-shell auth …` and the `--auth-*` flags.
//!
//! Scopes are ceilings on the server's policy: `shell:read` (tier 0), `shell:write` (up to
//! tier 2), `shell:admin` (what the mode allows); `mcp:tools` is accepted as `shell:admin`.

mod authorize;
pub mod cli;
mod consent;
mod exchange;
mod limits;
mod meta;
mod operator;
mod register;
pub(crate) mod store;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};

use crate::config::{ConfigError, Settings};
use crate::policy::{Ceiling, Tier};
use crate::server::Principal;
use store::{Kind, Status, Store};

/// Every scope this server grants, in metadata order.
pub(crate) const SCOPES: [&str; 4] = ["shell:read", "shell:write", "shell:admin", "mcp:tools"];

/// The scope a 401 challenge names: what an MCP client needs to use the shell.
pub(crate) const CHALLENGE_SCOPE: &str = "shell:admin";

/// Largest body of an OAuth endpoint request.
pub(crate) const MAX_OAUTH_BODY: usize = 64 * 1024;

/// How `/register` is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Registration {
    /// Registered clients wait for `relay-shell auth approve`.
    Approve,
    /// An initial access token is required; the client is approved on registration.
    Token,
    /// Only `relay-shell auth client add`.
    Closed,
    /// Anyone, approved at once.
    Open,
}

/// The OAuth half of the HTTP transport, shared by its handlers.
pub struct OAuth {
    pub(crate) issuer: String,
    pub(crate) resource: String,
    pub(crate) registration: Registration,
    pub(crate) require_approval: bool,
    pub(crate) single_client: bool,
    pub(crate) access_ttl: u64,
    pub(crate) refresh_ttl: u64,
    pub(crate) code_ttl: u64,
    pub(crate) store: Store,
    pub(crate) consents: Mutex<authorize::Consents>,
    pub(crate) guesses: Mutex<limits::Backoff>,
    pub(crate) registrations: Mutex<limits::Window>,
}

impl OAuth {
    /// Load the OAuth state for `settings` (OAuth on): the URLs, then the state directory,
    /// created 0700 if missing and refused when open to others.
    pub fn prepare(settings: &Settings) -> Result<OAuth, ConfigError> {
        let issuer = settings.oauth_issuer()?;
        let resource = settings.oauth_resource()?;
        let store = Store::open(&settings.auth_state_dir, true)
            .map_err(|e| ConfigError(format!("RELAY_SHELL_AUTH_STATE_DIR: {e}")))?;
        let registration = match settings.auth_registration.as_str() {
            "token" => Registration::Token,
            "closed" => Registration::Closed,
            "open" => Registration::Open,
            _ => Registration::Approve,
        };
        Ok(OAuth {
            issuer,
            resource,
            registration,
            require_approval: settings.auth_require_approval,
            single_client: settings.auth_single_client,
            access_ttl: settings.auth_access_ttl,
            refresh_ttl: settings.auth_refresh_ttl,
            code_ttl: settings.auth_code_ttl,
            store,
            consents: Mutex::new(authorize::Consents::default()),
            guesses: Mutex::new(limits::Backoff::default()),
            registrations: Mutex::new(limits::Window::default()),
        })
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The resource every token is bound to.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Warnings for the start-up log and `--check-config`: open registration, no passphrase.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.approves_at_registration() && self.registration != Registration::Token {
            out.push(
                "OAuth registration is open (RELAY_SHELL_AUTH_REGISTRATION=open or \
                 RELAY_SHELL_AUTH_REQUIRE_APPROVAL=false): anyone who reaches /register gets an \
                 approved client"
                    .to_string(),
            );
        }
        if !operator::exists(self.store.dir()) {
            out.push(
                "no operator passphrase (relay-shell auth passphrase): an approved client is \
                 authorized without a consent page"
                    .to_string(),
            );
        }
        out
    }

    /// Whether a registration is approved as it is made.
    fn approves_at_registration(&self) -> bool {
        match self.registration {
            Registration::Open | Registration::Token => true,
            Registration::Approve => !self.require_approval,
            Registration::Closed => false,
        }
    }

    /// The URL of the protected-resource metadata for [`OAuth::resource`] (RFC 9728 §3.1:
    /// the resource's path after the well-known prefix).
    pub(crate) fn resource_metadata_url(&self) -> String {
        let path = self
            .resource
            .find("://")
            .and_then(|i| {
                self.resource[i + 3..]
                    .find('/')
                    .map(|j| &self.resource[i + 3 + j..])
            })
            .unwrap_or("");
        format!("{}/.well-known/oauth-protected-resource{path}", self.issuer)
    }

    /// The issuer's host (for the `Host` allowlist) and origin (for the `Origin` allowlist).
    pub(crate) fn allowed(&self) -> (Vec<String>, Vec<String>) {
        let mut hosts = Vec::new();
        let mut origins = Vec::new();
        for url in [&self.issuer, &self.resource] {
            if let Ok(uri) = url.parse::<http::Uri>()
                && let (Some(scheme), Some(auth)) = (uri.scheme_str(), uri.authority())
            {
                hosts.push(auth.as_str().to_string());
                origins.push(format!("{scheme}://{}", auth.as_str()));
            }
        }
        (hosts, origins)
    }

    /// The principal an OAuth access token proves, if it is one: live, of this resource,
    /// of a client that is still approved. `Err` when the state cannot be trusted.
    pub(crate) fn authenticate(&self, presented: &str) -> Option<Principal> {
        let key = store::hash(presented);
        let now = store::now();
        let found = self.store.read(|clients, grants| {
            let t = grants.tokens.get(&key)?;
            if t.kind != Kind::Access || t.expires_at <= now || t.resource != self.resource {
                return None;
            }
            let c = clients.clients.get(&t.client_id)?;
            if c.status != Status::Approved {
                return None;
            }
            Some((t.client_id.clone(), c.name.clone(), t.scopes.clone()))
        });
        let (client_id, name, scopes) = match found {
            Ok(v) => v?,
            Err(e) => {
                tracing::error!("OAuth state unusable, refusing every OAuth token: {e}");
                return None;
            }
        };
        Some(Principal {
            name: format!("oauth:{client_id} ({name})"),
            ceiling: ceiling(&scopes),
            client_id,
        })
    }

    /// The OAuth routes (all behind the Host/Origin guard and a 64 KiB body limit).
    pub(crate) fn routes(self: &Arc<Self>) -> Router {
        Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(meta::authorization_server),
            )
            .route(
                "/.well-known/oauth-protected-resource",
                get(meta::protected_resource),
            )
            .route(
                "/.well-known/oauth-protected-resource/{*path}",
                get(meta::protected_resource_path),
            )
            .route("/register", post(register::register))
            .route("/authorize", get(authorize::start).post(authorize::decide))
            .route("/token", post(exchange::token))
            .route("/revoke", post(exchange::revoke))
            .with_state(self.clone())
    }
}

/// The ceiling the union of `scopes` grants: the widest one wins.
pub(crate) fn ceiling(scopes: &[String]) -> Ceiling {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    if has("shell:admin") || has("mcp:tools") {
        Ceiling::NONE
    } else if has("shell:write") {
        Ceiling {
            mode: None,
            max_tier: Some((Tier::Stateful, "scope shell:write")),
        }
    } else {
        Ceiling {
            mode: None,
            max_tier: Some((Tier::ReadOnly, "scope shell:read")),
        }
    }
}

/// Parse a space-separated scope list: every scope must be one of [`SCOPES`].
pub(crate) fn parse_scopes(raw: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&s) {
            return Err(format!("unknown scope {:?}", truncate(s, 64)));
        }
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// At most `n` characters of `s` (for error descriptions that echo input).
pub(crate) fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// An OAuth error document (`{"error", "error_description"}`) with `status`, never cached.
pub(crate) fn error_json(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": error, "error_description": description});
    json_response(status, &body)
}

/// A JSON response that no cache keeps.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Read a request body of at most [`MAX_OAUTH_BODY`] bytes; more is 413 `invalid_request`.
pub(crate) async fn body_bytes(body: axum::body::Body) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, MAX_OAUTH_BODY)
        .await
        .map_err(|_| {
            error_json(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                &format!("the request body exceeds {MAX_OAUTH_BODY} bytes"),
            )
        })
}

/// Whether `uri` may be registered as a redirect URI: https, http on a loopback host
/// (RFC 8252 §7.3), or a private-use scheme with a dot (§7.1); never a fragment.
pub(crate) fn valid_redirect_uri(uri: &str) -> Result<(), &'static str> {
    if uri.len() > 2000 || uri.contains('#') || uri.chars().any(|c| c.is_control() || c == ' ') {
        return Err("a redirect URI must be at most 2000 characters, without a fragment or spaces");
    }
    let (scheme, _) = uri
        .split_once(':')
        .ok_or("a redirect URI must be absolute")?;
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "https" | "http" => {
            let parsed: http::Uri = uri.parse().map_err(|_| "the redirect URI does not parse")?;
            let host = parsed.host().ok_or("the redirect URI has no host")?;
            if scheme == "http" && !crate::config::is_loopback_host(host) {
                return Err("an http redirect URI must name a loopback host");
            }
            Ok(())
        }
        s if s.contains('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')) =>
        {
            Ok(())
        }
        _ => Err(
            "a redirect URI must be https, loopback http, or a private-use scheme (reverse domain name)",
        ),
    }
}

/// Whether the `given` redirect URI matches the `registered` one: exactly, or, for loopback
/// http URIs, with any port (RFC 8252 §7.3).
pub(crate) fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let (Ok(r), Ok(g)) = (registered.parse::<http::Uri>(), given.parse::<http::Uri>()) else {
        return false;
    };
    let loopback_http = |u: &http::Uri| {
        u.scheme_str() == Some("http")
            && u.host().is_some_and(crate::config::is_loopback_host)
            && !u.authority().is_some_and(|a| a.as_str().contains('@'))
    };
    loopback_http(&r)
        && loopback_http(&g)
        && r.host() == g.host()
        && r.path_and_query().map(|p| p.as_str()) == g.path_and_query().map(|p| p.as_str())
}

/// The peer address hyper accepted the connection from (inserted by `http::serve`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub SocketAddr);

/// Parse an `application/x-www-form-urlencoded` body: each name once at most.
pub(crate) fn parse_form(body: &[u8]) -> Result<std::collections::HashMap<String, String>, String> {
    let mut out = std::collections::HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!(
                "parameter {:?} given more than once",
                truncate(&k, 64)
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_ceilings() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(ceiling(&s(&["shell:admin"])), Ceiling::NONE);
        assert_eq!(ceiling(&s(&["mcp:tools"])), Ceiling::NONE);
        assert_eq!(
            ceiling(&s(&["shell:read", "shell:write"]))
                .max_tier
                .map(|t| t.0),
            Some(Tier::Stateful)
        );
        assert_eq!(
            ceiling(&s(&["shell:read"])).max_tier.map(|t| t.0),
            Some(Tier::ReadOnly)
        );
        assert_eq!(ceiling(&s(&[])).max_tier.map(|t| t.0), Some(Tier::ReadOnly));
        assert_eq!(
            parse_scopes("shell:read  shell:read").expect("ok"),
            ["shell:read"]
        );
        assert!(parse_scopes("shell:read root").is_err());
    }

    #[test]
    fn redirect_uris() {
        assert!(valid_redirect_uri("https://app.example/cb").is_ok());
        assert!(valid_redirect_uri("http://127.0.0.1:3000/cb").is_ok());
        assert!(valid_redirect_uri("http://localhost/cb").is_ok());
        assert!(valid_redirect_uri("com.example.app:/oauth").is_ok());
        assert!(valid_redirect_uri("http://evil.example/cb").is_err());
        assert!(valid_redirect_uri("https://app.example/cb#x").is_err());
        assert!(valid_redirect_uri("javascript:alert(1)").is_err());
        assert!(valid_redirect_uri("/relative").is_err());
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5555/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5555/cb2"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://localhost:5555/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb?x=1"
        ));
    }

    #[test]
    fn forms_refuse_repeated_names() {
        assert!(parse_form(b"a=1&b=2").is_ok());
        assert_eq!(
            parse_form(b"a=1&a=2").unwrap_err(),
            "parameter \"a\" given more than once"
        );
    }
}
