//! `/authorize`: the authorization request and the operator's consent.
//!
//! `GET` checks the request in RFC 6749 §4.1.2.1 order: an unknown client or a redirect URI
//! that is not registered is answered here (400 page, never a redirect to an unverified
//! URI); every later error is redirected to the client with `error`, `state` and `iss`
//! (RFC 9207). PKCE S256 is required (`plain` and a missing challenge are refused), the
//! `resource` (RFC 8707) must be this server's, a pending client gets `access_denied`.
//!
//! With an operator passphrase set, an approved client's request shows a consent page
//! (server-rendered, no external assets, strict CSP, `X-Frame-Options: DENY`, `no-store`)
//! naming the client, the redirect URI's host, the scopes and the resource. Its `POST` must
//! carry the page's CSRF token twice — in the form and in the `SameSite=Strict` cookie set
//! with the page — or it is 403 and nothing happens. Approving needs the passphrase; failures
//! are rate-limited per client address with a doubling lock-out, and the page never says more
//! than "not approved". Deny redirects `access_denied`. Without a passphrase, an approved
//! client's request gets its code at once (as in v0.5.0).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use subtle::ConstantTimeEq;

use super::consent::{CSRF_COOKIE, bad_request, consent_page, page};
use super::store::{self, Code, Status};
use super::{
    OAuth, Peer, operator as passphrase, parse_form, parse_scopes, redirect_matches, truncate,
};

/// How long a consent page stays usable.
pub(super) const CONSENT_TTL: Duration = Duration::from_secs(600);
/// Consent pages open at once; the oldest is forgotten first.
const MAX_CONSENTS: usize = 256;

/// A checked authorization request.
#[derive(Clone, Debug)]
pub(crate) struct AuthRequest {
    pub(super) client_id: String,
    pub(super) client_name: String,
    pub(super) redirect_uri: String,
    pub(super) state: Option<String>,
    pub(super) challenge: String,
    pub(super) resource: String,
    pub(super) scopes: Vec<String>,
}

struct Pending {
    request: AuthRequest,
    csrf: String,
    created: Instant,
}

/// Consent pages waiting for the operator, by request id.
#[derive(Default)]
pub(crate) struct Consents {
    by_id: HashMap<String, Pending>,
}

impl Consents {
    fn insert(&mut self, request: AuthRequest) -> (String, String) {
        let now = Instant::now();
        self.by_id
            .retain(|_, p| now.duration_since(p.created) < CONSENT_TTL);
        if self.by_id.len() >= MAX_CONSENTS
            && let Some(oldest) = self
                .by_id
                .iter()
                .min_by_key(|(_, p)| p.created)
                .map(|(k, _)| k.clone())
        {
            self.by_id.remove(&oldest);
        }
        let id = store::random_secret("");
        let csrf = store::random_secret("");
        self.by_id.insert(
            id.clone(),
            Pending {
                request,
                csrf: csrf.clone(),
                created: now,
            },
        );
        (id, csrf)
    }
}

/// Append `params` to `uri`'s query.
fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", ser.finish())
}

/// Redirect to the client (`303 See Other`, so a POST becomes a GET) with `params`, `state`
/// and `iss`.
fn redirect(
    oauth: &OAuth,
    req_uri: &str,
    state: Option<&str>,
    params: &[(&str, &str)],
) -> Response {
    let mut all: Vec<(&str, &str)> = params.to_vec();
    if let Some(s) = state {
        all.push(("state", s));
    }
    all.push(("iss", &oauth.issuer));
    let location = with_query(req_uri, &all);
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn redirect_error(oauth: &OAuth, r: &AuthRequest, error: &str, description: &str) -> Response {
    redirect(
        oauth,
        &r.redirect_uri,
        r.state.as_deref(),
        &[("error", error), ("error_description", description)],
    )
}

/// Check the query of `GET /authorize`: `Ok(request)`, or the response to give.
// The error is the finished response, built once per refused request; boxing buys nothing.
#[allow(clippy::result_large_err)]
fn check(oauth: &OAuth, query: &str) -> Result<AuthRequest, Response> {
    let q = parse_form(query.as_bytes()).map_err(|e| bad_request(&e))?;
    let get = |k: &str| q.get(k).map(String::as_str);
    let client_id = get("client_id").ok_or_else(|| bad_request("client_id is missing"))?;
    let client = oauth
        .store
        .read(|clients, _| clients.clients.get(client_id).cloned())
        .map_err(|e| {
            tracing::error!("OAuth state unusable: {e}");
            bad_request("the authorization server cannot read its state")
        })?
        .ok_or_else(|| bad_request("unknown client_id"))?;
    let redirect_uri = match get("redirect_uri") {
        Some(given) => {
            if !client
                .redirect_uris
                .iter()
                .any(|r| redirect_matches(r, given))
            {
                return Err(bad_request(
                    "redirect_uri is not registered for this client",
                ));
            }
            given.to_string()
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(bad_request("redirect_uri is missing")),
    };
    let mut r = AuthRequest {
        client_id: client_id.to_string(),
        client_name: client.name.clone(),
        redirect_uri,
        state: get("state").map(|s| truncate(s, 512)),
        challenge: String::new(),
        resource: oauth.resource.clone(),
        scopes: Vec::new(),
    };
    if get("response_type") != Some("code") {
        return Err(redirect_error(
            oauth,
            &r,
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    let challenge = get("code_challenge").unwrap_or_default();
    match get("code_challenge_method") {
        Some("S256") => {}
        _ => {
            return Err(redirect_error(
                oauth,
                &r,
                "invalid_request",
                "PKCE with code_challenge_method=S256 is required",
            ));
        }
    }
    let b64url = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    if challenge.len() != 43 || !challenge.bytes().all(b64url) {
        return Err(redirect_error(
            oauth,
            &r,
            "invalid_request",
            "code_challenge must be a base64url SHA-256 (43 characters)",
        ));
    }
    r.challenge = challenge.to_string();
    if let Some(res) = get("resource") {
        let given = crate::config::normalize_url(res, "resource").ok();
        if given.as_deref() != Some(oauth.resource.as_str()) {
            return Err(redirect_error(
                oauth,
                &r,
                "invalid_target",
                "Resource is not this server",
            ));
        }
    }
    let scopes = match parse_scopes(get("scope").unwrap_or_default()) {
        Ok(s) if s.is_empty() => vec![super::CHALLENGE_SCOPE.to_string()],
        Ok(s) => s,
        Err(e) => return Err(redirect_error(oauth, &r, "invalid_scope", &e)),
    };
    r.scopes = scopes;
    if client.status != Status::Approved {
        tracing::warn!(
            "authorization refused: client {client_id} is awaiting operator approval (run: \
             relay-shell auth approve {client_id})"
        );
        return Err(redirect_error(
            oauth,
            &r,
            "access_denied",
            "Client is awaiting operator approval",
        ));
    }
    Ok(r)
}

/// Mint a code for `r` and redirect to the client with it.
fn issue_code(oauth: &OAuth, r: &AuthRequest) -> Response {
    let code = store::random_secret("rsc_");
    let record = Code {
        client_id: r.client_id.clone(),
        redirect_uri: r.redirect_uri.clone(),
        challenge: r.challenge.clone(),
        resource: r.resource.clone(),
        scopes: r.scopes.clone(),
        expires_at: store::now().saturating_add(oauth.code_ttl),
        spent: None,
    };
    let key = store::hash(&code);
    let client_id = r.client_id.clone();
    let stored = oauth.store.update(move |clients, grants, _| {
        // Rejected while the page was open: no code.
        let ok = clients
            .clients
            .get(&client_id)
            .is_some_and(|c| c.status == Status::Approved);
        if ok {
            grants.codes.insert(key, record);
        }
        ok
    });
    match stored {
        Ok(true) => {
            tracing::info!("OAuth code issued to client {}", r.client_id);
            redirect(
                oauth,
                &r.redirect_uri,
                r.state.as_deref(),
                &[("code", &code)],
            )
        }
        Ok(false) => redirect_error(
            oauth,
            r,
            "access_denied",
            "the client is no longer approved",
        ),
        Err(e) => {
            tracing::error!("OAuth code could not be stored: {e}");
            redirect_error(
                oauth,
                r,
                "temporarily_unavailable",
                "the code could not be stored",
            )
        }
    }
}

/// `GET /authorize`.
pub(super) async fn start(State(oauth): State<Arc<OAuth>>, req: Request) -> Response {
    let query = req.uri().query().unwrap_or_default().to_string();
    let r = match check(&oauth, &query) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match passphrase::load(oauth.store.dir()) {
        None => issue_code(&oauth, &r),
        Some(_) => {
            let (id, csrf) = match oauth.consents.lock() {
                Ok(mut c) => c.insert(r.clone()),
                Err(_) => return bad_request("the authorization server is unavailable"),
            };
            consent_page(&r, &id, &csrf, None, StatusCode::OK)
        }
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `POST /authorize`: the operator's decision on a consent page.
pub(super) async fn decide(State(oauth): State<Arc<OAuth>>, req: Request) -> Response {
    let ip = req
        .extensions()
        .get::<Peer>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
    let from_cookie = cookie(req.headers(), CSRF_COOKIE);
    let body = match super::body_bytes(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(&e),
    };
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let forged = || {
        page(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "<h1>Forbidden</h1><p>This form did not come from this server's consent page.</p>",
            None,
        )
    };
    let (request, csrf) = {
        let Ok(consents) = oauth.consents.lock() else {
            return bad_request("the authorization server is unavailable");
        };
        match consents.by_id.get(get("request")) {
            Some(p) if p.created.elapsed() < CONSENT_TTL => (p.request.clone(), p.csrf.clone()),
            _ => {
                return bad_request(
                    "this authorization request has expired or was already answered; start \
                     again from the client",
                );
            }
        }
    };
    let csrf_ok =
        same(get("csrf"), &csrf) && from_cookie.as_deref().is_some_and(|c| same(c, &csrf));
    if !csrf_ok {
        tracing::warn!("consent POST without a valid CSRF token refused");
        return forged();
    }
    let take = || {
        if let Ok(mut c) = oauth.consents.lock() {
            c.by_id.remove(get("request"));
        }
    };
    match get("action") {
        "deny" => {
            take();
            tracing::info!("the operator denied client {}", request.client_id);
            return redirect_error(
                &oauth,
                &request,
                "access_denied",
                "The operator denied the request",
            );
        }
        "approve" => {}
        _ => return bad_request("action must be approve or deny"),
    }
    let wait = oauth
        .guesses
        .lock()
        .ok()
        .and_then(|g| g.locked(ip, Instant::now()));
    if let Some(wait) = wait {
        let mut resp = page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            &format!(
                "<h1>Too many attempts</h1><p>Try again in {} seconds.</p>",
                wait.as_secs().max(1)
            ),
            None,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let stored = passphrase::load(oauth.store.dir()).unwrap_or_default();
    let given = get("passphrase").to_string();
    let ok = tokio::task::spawn_blocking(move || passphrase::verify(&stored, &given))
        .await
        .unwrap_or(false);
    if !ok {
        if let Ok(mut g) = oauth.guesses.lock() {
            g.fail(ip, Instant::now());
        }
        tracing::warn!(
            "consent for client {} not approved: wrong passphrase from {ip}",
            request.client_id
        );
        return consent_page(
            &request,
            get("request"),
            &csrf,
            Some("Not approved. Check what you typed and try again."),
            StatusCode::FORBIDDEN,
        );
    }
    if let Ok(mut g) = oauth.guesses.lock() {
        g.succeed(ip);
    }
    take();
    tracing::info!("the operator approved client {}", request.client_id);
    issue_code(&oauth, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(
            with_query("http://h/cb", &[("code", "a b")]),
            "http://h/cb?code=a+b"
        );
        assert_eq!(
            with_query("http://h/cb?x=1", &[("e", "&")]),
            "http://h/cb?x=1&e=%26"
        );
    }
}
