//! DNS-rebinding protection: the `Host` and `Origin` allowlists, checked before anything else
//! (authentication included) on `/mcp` and `/metrics`.
//!
//! A web page the operator's browser visits can make it send requests to a loopback server,
//! naming the attacker's host (rebinding) or carrying the page's origin. The MCP
//! specification requires a 403 for a foreign `Origin`; rmcp checks `Host` but leaves
//! `Origin` unchecked by default, so both are checked here, and rmcp is given the same lists
//! as a second line.
//!
//! - `Host` must name loopback (`localhost`, `127.0.0.1`, `::1`, any port) or an entry of
//!   `RELAY_SHELL_HTTP_ALLOWED_HOSTS` (`host` = any port, `host:port` = that port).
//! - `Origin`, when present, must be a loopback origin (`http`/`https`, any port) or an entry
//!   of `RELAY_SHELL_HTTP_ALLOWED_ORIGINS` (`scheme://host` = the scheme's default port,
//!   `scheme://host:port`, `scheme://host:*` = any port, `null` only when listed). Clients
//!   that are not browsers send no `Origin` and pass.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};

const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

#[derive(Clone, Debug, PartialEq, Eq)]
struct HostPattern {
    host: String,
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum OriginPattern {
    Null,
    Tuple {
        scheme: String,
        host: String,
        /// `None` = any port.
        port: Option<u16>,
    },
}

fn normalize(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn parse_host_pattern(raw: &str) -> Option<HostPattern> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match http::uri::Authority::try_from(raw) {
        Ok(a) => Some(HostPattern {
            host: normalize(a.host()),
            port: a.port_u16(),
        }),
        // A bare IPv6 address (`::1`) is not an authority.
        Err(_) => Some(HostPattern {
            host: normalize(raw),
            port: None,
        }),
    }
}

/// An origin as a browser serialises it: `scheme://host[:port]`, or `null`.
fn parse_origin(raw: &str) -> Option<(String, String, Option<u16>)> {
    let uri = http::Uri::try_from(raw.trim()).ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let auth = uri.authority()?;
    if uri.path() != "/" && !uri.path().is_empty() {
        return None;
    }
    Some((scheme, normalize(auth.host()), auth.port_u16()))
}

fn parse_origin_pattern(raw: &str) -> Option<OriginPattern> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("null") {
        return Some(OriginPattern::Null);
    }
    if let Some(base) = raw.strip_suffix(":*") {
        let (scheme, host, None) = parse_origin(base)? else {
            return None;
        };
        return Some(OriginPattern::Tuple {
            scheme,
            host,
            port: None,
        });
    }
    let (scheme, host, port) = parse_origin(raw)?;
    let port = port.or_else(|| default_port(&scheme));
    port?;
    Some(OriginPattern::Tuple { scheme, host, port })
}

/// The hosts and origins a request may name.
#[derive(Clone, Debug)]
pub(super) struct Allowlist {
    hosts: Vec<HostPattern>,
    origins: Vec<OriginPattern>,
    raw_hosts: Vec<String>,
    raw_origins: Vec<String>,
}

impl Allowlist {
    /// Loopback plus the operator's extra hosts and origins (entries that do not parse are
    /// dropped; configuration validation has already refused malformed origins).
    pub(super) fn new(extra_hosts: &[String], extra_origins: &[String]) -> Allowlist {
        let mut raw_hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
        raw_hosts.extend(extra_hosts.iter().cloned());
        let mut raw_origins = vec![];
        for scheme in ["http", "https"] {
            for host in ["localhost", "127.0.0.1", "[::1]"] {
                raw_origins.push(format!("{scheme}://{host}:*"));
            }
        }
        raw_origins.extend(extra_origins.iter().cloned());
        Allowlist {
            hosts: raw_hosts
                .iter()
                .filter_map(|h| parse_host_pattern(h))
                .collect(),
            origins: raw_origins
                .iter()
                .filter_map(|o| parse_origin_pattern(o))
                .collect(),
            raw_hosts,
            raw_origins,
        }
    }

    /// The host list in rmcp's spelling.
    pub(super) fn hosts(&self) -> Vec<String> {
        self.raw_hosts.clone()
    }

    /// The origin list in rmcp's spelling.
    pub(super) fn origins(&self) -> Vec<String> {
        self.raw_origins.clone()
    }

    fn host_allowed(&self, host: &str, port: Option<u16>) -> bool {
        let host = normalize(host);
        self.hosts
            .iter()
            .any(|p| p.host == host && (p.port.is_none() || p.port == port))
    }

    fn origin_allowed(&self, raw: &str) -> bool {
        if raw.trim().eq_ignore_ascii_case("null") {
            return self.origins.contains(&OriginPattern::Null);
        }
        let Some((scheme, host, port)) = parse_origin(raw) else {
            return false;
        };
        let port = port.or_else(|| default_port(&scheme));
        self.origins.iter().any(|p| match p {
            OriginPattern::Null => false,
            OriginPattern::Tuple {
                scheme: s,
                host: h,
                port: allowed,
            } => *s == scheme && *h == host && (allowed.is_none() || *allowed == port),
        })
    }

    /// Judge a request's headers: `Ok`, or the status and reason to refuse it with.
    pub(super) fn check(
        &self,
        uri: &http::Uri,
        headers: &HeaderMap,
    ) -> Result<(), (StatusCode, &'static str)> {
        let (host, port) = match headers.get(http::header::HOST) {
            Some(v) => {
                let a = v
                    .to_str()
                    .ok()
                    .and_then(|s| http::uri::Authority::try_from(s).ok())
                    .ok_or((StatusCode::BAD_REQUEST, "Bad Request: invalid Host header"))?;
                (a.host().to_string(), a.port_u16())
            }
            None => match uri.authority() {
                Some(a) => (a.host().to_string(), a.port_u16()),
                None => return Err((StatusCode::BAD_REQUEST, "Bad Request: missing Host header")),
            },
        };
        if !self.host_allowed(&host, port) {
            return Err((
                StatusCode::FORBIDDEN,
                "Forbidden: Host header is not allowed",
            ));
        }
        let mut origins = headers.get_all(http::header::ORIGIN).iter();
        if let Some(origin) = origins.next() {
            let ok =
                origins.next().is_none() && origin.to_str().is_ok_and(|o| self.origin_allowed(o));
            if !ok {
                return Err((
                    StatusCode::FORBIDDEN,
                    "Forbidden: Origin header is not allowed",
                ));
            }
        }
        Ok(())
    }
}

/// Middleware: refuse a foreign `Host` or `Origin` before anything else runs.
pub(super) async fn check(
    State(allow): State<Arc<Allowlist>>,
    req: Request,
    next: Next,
) -> Response {
    match allow.check(req.uri(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err((status, reason)) => {
            tracing::warn!(
                host = ?req.headers().get(http::header::HOST),
                origin = ?req.headers().get(http::header::ORIGIN),
                "relay-shell refused a request: {reason}"
            );
            (status, reason).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(a: &Allowlist, host: Option<&str>, origin: Option<&str>) -> Result<(), StatusCode> {
        let mut h = HeaderMap::new();
        if let Some(v) = host {
            h.insert(http::header::HOST, v.parse().expect("header"));
        }
        if let Some(v) = origin {
            h.insert(http::header::ORIGIN, v.parse().expect("header"));
        }
        a.check(&http::Uri::from_static("/mcp"), &h)
            .map_err(|e| e.0)
    }

    #[test]
    fn loopback_passes_and_foreign_hosts_are_refused() {
        let a = Allowlist::new(&[], &[]);
        for host in ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:9"] {
            assert_eq!(judge(&a, Some(host), None), Ok(()), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.2",
            "0.0.0.0:80",
            "localhost.evil",
        ] {
            assert_eq!(
                judge(&a, Some(host), None),
                Err(StatusCode::FORBIDDEN),
                "{host}"
            );
        }
        assert_eq!(judge(&a, None, None), Err(StatusCode::BAD_REQUEST));
        assert_eq!(judge(&a, Some("a b"), None), Err(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn extra_hosts_with_and_without_port() {
        let a = Allowlist::new(&["mcp.example.com".into(), "10.0.0.5:8080".into()], &[]);
        assert_eq!(judge(&a, Some("MCP.example.com:443"), None), Ok(()));
        assert_eq!(judge(&a, Some("10.0.0.5:8080"), None), Ok(()));
        assert_eq!(
            judge(&a, Some("10.0.0.5:8081"), None),
            Err(StatusCode::FORBIDDEN)
        );
    }

    #[test]
    fn origins_are_enforced() {
        let a = Allowlist::new(
            &[],
            &["https://app.example".into(), "http://tool.example:*".into()],
        );
        let ok = |o: &str| judge(&a, Some("127.0.0.1:8080"), Some(o));
        assert_eq!(ok("http://localhost:6274"), Ok(()));
        assert_eq!(ok("https://127.0.0.1"), Ok(()));
        assert_eq!(ok("http://[::1]:3000"), Ok(()));
        assert_eq!(ok("https://app.example"), Ok(()));
        assert_eq!(ok("https://app.example:443"), Ok(()));
        assert_eq!(ok("http://tool.example:9999"), Ok(()));
        for bad in [
            "http://evil.example",
            "https://app.example:8443",
            "http://app.example",
            "null",
            "file://",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "garbage",
            "http://localhost:80/path",
        ] {
            assert_eq!(ok(bad), Err(StatusCode::FORBIDDEN), "{bad}");
        }
        let with_null = Allowlist::new(&[], &["null".into()]);
        assert_eq!(judge(&with_null, Some("localhost"), Some("null")), Ok(()));
    }

    #[test]
    fn two_origin_headers_are_refused() {
        let a = Allowlist::new(&[], &[]);
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, "localhost".parse().expect("header"));
        h.append(
            http::header::ORIGIN,
            "http://localhost".parse().expect("header"),
        );
        h.append(
            http::header::ORIGIN,
            "http://evil.example".parse().expect("header"),
        );
        assert!(a.check(&http::Uri::from_static("/"), &h).is_err());
    }
}
