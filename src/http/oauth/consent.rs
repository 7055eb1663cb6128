//! The consent page and the other HTML the authorization endpoint renders: no script, no
//! external asset, one inline stylesheet allowed by its hash in a strict CSP, not frameable,
//! not cached. Every interpolated value is escaped.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::authorize::{AuthRequest, CONSENT_TTL};

/// The CSRF cookie, set with the consent page and required back with its form.
pub(super) const CSRF_COOKIE: &str = "relay_shell_csrf";

fn html_headers(resp: &mut Response, form_action: Option<&str>) {
    let h = resp.headers_mut();
    let actions = form_action.map_or_else(|| "'self'".to_string(), |a| format!("'self' {a}"));
    use base64::Engine;
    use sha2::Digest;
    // The one inline stylesheet, allowed by its hash: no script, no other source.
    let style = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{style}'; form-action {actions}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with
    // the form's POST, which the Origin guard refuses; other origins still get no referrer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
}

/// Escape text for HTML content and attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:3em auto;\
padding:0 1em;color:#222}h1{font-size:1.4em}dt{font-weight:600}dd{margin:0 0 .6em 0}\
code{background:#f2f2f2;padding:0 .2em}.err{color:#a00;font-weight:600}\
input[type=password]{width:100%;padding:.4em;font-size:1em}\
button{font-size:1em;padding:.4em 1.2em;margin:.8em .8em 0 0}";

pub(super) fn page(
    status: StatusCode,
    title: &str,
    body: &str,
    form_action: Option<&str>,
) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        esc(title)
    );
    let mut resp = (status, html).into_response();
    html_headers(&mut resp, form_action);
    resp
}

/// A 400 page for a request that cannot be redirected.
pub(super) fn bad_request(why: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Authorization request refused",
        &format!("<h1>Authorization request refused</h1><p>{}</p>", esc(why)),
        None,
    )
}

fn redirect_host(uri: &str) -> String {
    uri.parse::<http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_string()))
        .unwrap_or_else(|| uri.split(':').next().unwrap_or_default().to_string() + ":")
}

/// Where the consent form's redirect may go, for the CSP `form-action` (browsers apply it to
/// the redirect after the POST).
fn redirect_origin(uri: &str) -> String {
    match uri.parse::<http::Uri>() {
        Ok(u) if u.authority().is_some() => format!(
            "{}://{}",
            u.scheme_str().unwrap_or("https"),
            u.authority().map(|a| a.as_str()).unwrap_or_default()
        ),
        _ => format!("{}:", uri.split(':').next().unwrap_or_default()),
    }
}

pub(super) fn consent_page(
    r: &AuthRequest,
    id: &str,
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let scopes: Vec<String> = r
        .scopes
        .iter()
        .map(|s| {
            let what = match s.as_str() {
                "shell:read" => "read-only commands (tier 0)",
                "shell:write" => "commands up to tier 2 (state-changing), never tier 3",
                _ => "every command the server's policy allows, including irreversible ones",
            };
            format!("<li><code>{}</code>: {}</li>", esc(s), esc(what))
        })
        .collect();
    let error = error.map_or_else(String::new, |e| {
        format!("<p class=\"err\" role=\"alert\">{}</p>", esc(e))
    });
    let body = format!(
        "<h1>Authorize a client to use relay-shell</h1>{error}\
         <p>A client asks for access to this server's shell. Approve only if you started this \
         sign-in yourself.</p><dl>\
         <dt>Client</dt><dd id=\"client-name\">{name}</dd>\
         <dt>Client id</dt><dd><code>{cid}</code></dd>\
         <dt>Returns to</dt><dd id=\"redirect-host\"><code>{host}</code></dd>\
         <dt>Access</dt><dd><ul id=\"scopes\">{scopes}</ul></dd>\
         <dt>Resource</dt><dd><code>{resource}</code></dd></dl>\
         <form method=\"post\" action=\"/authorize\">\
         <input type=\"hidden\" name=\"request\" value=\"{id}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"passphrase\">Operator passphrase</label>\
         <input type=\"password\" id=\"passphrase\" name=\"passphrase\" autocomplete=\"current-password\">\
         <button type=\"submit\" name=\"action\" value=\"approve\" id=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"action\" value=\"deny\" id=\"deny\">Deny</button>\
         </form>",
        name = esc(&r.client_name),
        cid = esc(&r.client_id),
        host = esc(&redirect_host(&r.redirect_uri)),
        scopes = scopes.join(""),
        resource = esc(&r.resource),
        id = esc(id),
        csrf = esc(csrf),
    );
    let mut resp = page(
        status,
        "Authorize relay-shell access",
        &body,
        Some(&redirect_origin(&r.redirect_uri)),
    );
    let cookie = format!(
        "{CSRF_COOKIE}={csrf}; Path=/authorize; HttpOnly; SameSite=Strict; Max-Age={}",
        CONSENT_TTL.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_origins() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            redirect_origin("http://127.0.0.1:99/cb"),
            "http://127.0.0.1:99"
        );
        assert_eq!(redirect_origin("com.example.app:/cb"), "com.example.app:");
    }
}
