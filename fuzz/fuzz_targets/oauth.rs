//! Fuzz target `oauth`: what the OAuth authorization server parses from a request (form
//! bodies and `/authorize` queries, scopes, redirect URIs, PKCE, `Authorization` headers).
//!
//! The first byte chooses the parser. Checks: nothing panics; a parsed form re-encoded and
//! parsed again is the same map, and a repeated name is always refused; parsed scopes are
//! known, unique and parse again to themselves; an accepted redirect URI has no fragment,
//! space or control character and is at most 2000 bytes, an `http` one names a loopback
//! host, and it matches itself; a PKCE verifier only passes with its own S256 challenge and
//! the right shape; Basic credentials survive an encode/decode round trip; a bearer token is
//! never empty and is a substring of the header.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use relay_shell::fuzzing::{
    bearer, oauth_basic, oauth_form, oauth_pkce, oauth_redirect_matches, oauth_redirect_uri,
    oauth_scopes,
};

const SCOPES: [&str; 4] = ["shell:read", "shell:write", "shell:admin", "mcp:tools"];

fn encode(pairs: &HashMap<String, String>) -> Vec<u8> {
    let mut keys: Vec<&String> = pairs.keys().collect();
    keys.sort();
    let mut out = String::new();
    for k in keys {
        if !out.is_empty() {
            out.push('&');
        }
        let one: String = form(&[(k.as_str(), pairs[k].as_str())]);
        out.push_str(&one);
    }
    out.into_bytes()
}

/// Percent-encode `application/x-www-form-urlencoded` pairs (unreserved bytes kept).
fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._*".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn b64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn forms(body: &[u8]) {
    match oauth_form(body) {
        Ok(map) => {
            let again = oauth_form(&encode(&map)).expect("a re-encoded form parses");
            assert_eq!(again, map, "form does not round-trip");
            if let Some((k, v)) = map.iter().next() {
                let mut twice = body.to_vec();
                twice.extend_from_slice(b"&");
                twice.extend_from_slice(form(&[(k, v)]).as_bytes());
                assert!(oauth_form(&twice).is_err(), "a repeated name was accepted");
            }
        }
        // The name is quoted with `{:?}` escapes: at most 64 characters of 10 each.
        Err(e) => assert!(e.chars().count() <= 64 * 10 + 40, "unbounded error {e:?}"),
    }
}

fn scopes(raw: &str) {
    if let Ok(list) = oauth_scopes(raw) {
        assert!(list.iter().all(|s| SCOPES.contains(&s.as_str())));
        let mut sorted = list.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), list.len(), "duplicate scopes kept");
        assert_eq!(
            oauth_scopes(&list.join(" ")).as_deref(),
            Ok(list.as_slice())
        );
    }
}

fn redirect(text: &str) {
    let (uri, given) = text.split_once('\n').unwrap_or((text, text));
    if oauth_redirect_uri(uri).is_ok() {
        assert!(uri.len() <= 2000);
        assert!(!uri.contains('#') && !uri.contains(' '));
        assert!(!uri.chars().any(char::is_control));
        if uri.to_ascii_lowercase().starts_with("http:") {
            let host = uri
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| u.host().map(str::to_string));
            let host = host.expect("an accepted http URI has a host");
            assert!(
                relay_shell::config::is_loopback_host(&host),
                "non-loopback http {uri:?}"
            );
        }
    }
    assert!(oauth_redirect_matches(uri, uri));
    // Matching is symmetric.
    assert_eq!(
        oauth_redirect_matches(uri, given),
        oauth_redirect_matches(given, uri)
    );
}

fn pkce(text: &str) {
    let (verifier, challenge) = text.split_once(' ').unwrap_or((text, ""));
    let shape = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if oauth_pkce(verifier, challenge) {
        assert!(shape, "a malformed verifier passed: {verifier:?}");
    }
}

fn basic(text: &str) {
    if let Some((id, secret)) = oauth_basic(text) {
        // What it decoded, encoded again, decodes the same.
        let raw = format!(
            "{}:{}",
            &form(&[("", &id)])[1..],
            &form(&[("", &secret)])[1..]
        );
        let back = oauth_basic(&format!("Basic {}", b64(raw.as_bytes())));
        assert_eq!(
            back,
            Some((id, secret)),
            "Basic credentials do not round-trip"
        );
    }
    if let Some(token) = bearer(text) {
        assert!(!token.is_empty());
        assert!(text.contains(token));
        assert_eq!(token, token.trim());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 5 {
        0 => forms(rest),
        1 => scopes(&text),
        2 => redirect(&text),
        3 => pkce(&text),
        _ => basic(&text),
    }
});
