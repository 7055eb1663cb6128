//! Session cookies in `Cookie:` and `Set-Cookie:` headers, as logged or printed (`curl -v`,
//! access logs, a header map in JSON) and as an option of any program (`wget --header
//! 'Cookie: …'`).
//!
//! A header's cookie list is read pair by pair (`name=value; name=value`, RFC 6265), and the
//! value of each pair whose name says it holds a session or a credential is redacted
//! ([`is_session_name`]). Other cookies stay: `theme=dark` or an analytics id says nothing
//! that lets anyone in, and a rule that took every cookie would change ordinary logs. A
//! cookie a command sends explicitly (`curl -b`, `curl -H 'Cookie: …'`) goes whole through the
//! command-line rule instead.

use std::ops::Range;

use super::scan::{Hit, LazyRegex, Rule, ScanState, Span, compile, next_span};

/// The rule.
pub(crate) struct CookieRule {
    /// A header's name and separator, up to its first cookie.
    header: LazyRegex,
}

/// Bytes that end a cookie's name or value: whitespace, the pair separator, quotes, a comma
/// and a backslash (none of which RFC 6265 allows in either), and `=` for a name.
fn ends_cookie(b: u8, name: bool) -> bool {
    b.is_ascii_whitespace()
        || matches!(b, b';' | b'"' | b'\'' | b',' | b'\\')
        || (name && b == b'=')
}

/// Parts of cookie names that say the cookie holds a session or a credential (ASCII lower
/// case): `sessionid`, `PHPSESSID`, `_gitlab_session`, `remember_user_token`, `XSRF-TOKEN`,
/// `.AspNetCore.Cookies`, `.ASPXAUTH`, `jwt`, `api_key`.
const SESSION_PARTS: &[&str] = &[
    "sess",
    "token",
    "auth",
    "jwt",
    "secret",
    "remember",
    "login",
    "csrf",
    "xsrf",
    "key",
    "passw",
    "credential",
    ".aspnetcore.",
];

/// Whether a cookie's name says its value is a session or a credential: it holds one of
/// [`SESSION_PARTS`], ends in `sid` (`connect.sid`; `sidebar` does not), or carries the
/// `__Host-` or `__Secure-` prefix that browsers keep for such cookies.
pub(crate) fn is_session_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SESSION_PARTS.iter().any(|part| lower.contains(part))
        || lower.ends_with("sid")
        || lower.starts_with("__host-")
        || lower.starts_with("__secure-")
}

impl CookieRule {
    pub(crate) fn new() -> Self {
        Self {
            header: compile(r#"(?i)(?-u:\b)(?:set-)?cookie["']?[ \t]*:[ \t]*["']?"#),
        }
    }

    /// The value spans of the session cookies of every header in `text`, in order.
    /// A header found inside the list of the one before (`Cookie: a=1;cookie:b=2`) is not
    /// read again: each byte is read once, and the spans come out sorted without overlap.
    fn secrets(&self, text: &str) -> Vec<Span> {
        let mut found = Vec::new();
        let mut at = 0;
        while let Some(header) = self.header.find_at(text, at) {
            let (values, end) = session_values(text, header.end());
            found.extend(values.into_iter().map(|range| Span { range, keep: "" }));
            at = end.max(header.end());
        }
        found
    }
}

/// The values of the session cookies of the cookie list that starts at `at`: pairs
/// `name=value` joined by `;` and blanks, up to the first byte that is neither. A Set-Cookie
/// attribute without a value (`HttpOnly`) ends the list, which holds no more cookies anyway.
/// Also returns where the list ends.
fn session_values(text: &str, mut at: usize) -> (Vec<Range<usize>>, usize) {
    let bytes = text.as_bytes();
    let run_end = |from: usize, name: bool| {
        bytes[from..]
            .iter()
            .position(|&b| ends_cookie(b, name))
            .map_or(bytes.len(), |p| from + p)
    };
    let mut values = Vec::new();
    loop {
        let name_end = run_end(at, true);
        if name_end == at || bytes.get(name_end) != Some(&b'=') {
            return (values, at);
        }
        let value_start = name_end + 1;
        // A value may be wrapped in double quotes (RFC 6265), which then stay around the
        // placeholder.
        let (secret, value_end) = match bytes.get(value_start) {
            Some(b'"') => match memchr::memchr2(b'"', b'\n', &bytes[value_start + 1..]) {
                Some(p) if bytes[value_start + 1 + p] == b'"' => {
                    let close = value_start + 1 + p;
                    (value_start + 1..close, close + 1)
                }
                _ => return (values, value_start),
            },
            _ => {
                let end = run_end(value_start, false);
                (
                    value_start..end,
                    expires_end(text, &text[at..name_end], end),
                )
            }
        };
        if !secret.is_empty() && is_session_name(&text[at..name_end]) {
            values.push(secret);
        }
        // Pairs are joined by `;`; a `,` joins the headers of a folded `Set-Cookie` list.
        if !matches!(bytes.get(value_end), Some(b';' | b',')) {
            return (values, value_end);
        }
        at = value_end + 1;
        while matches!(bytes.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
    }
}

/// Where an `Expires` attribute's value ends when its run ended at `end`: an HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`) holds a comma, which must not read as the start of the
/// next header of a folded `Set-Cookie` list. Any other value ends at `end`.
fn expires_end(text: &str, name: &str, end: usize) -> usize {
    /// The date after the comma: ` 21 Oct 2026 07:28:00 GMT`.
    const DATE_REST: usize = " 21 Oct 2026 07:28:00 GMT".len();
    if !name.eq_ignore_ascii_case("expires") || text.as_bytes().get(end) != Some(&b',') {
        return end;
    }
    match text.get(end + 1..end + 1 + DATE_REST) {
        Some(rest) if rest.ends_with(" GMT") => end + 1 + DATE_REST,
        _ => end,
    }
}

impl Rule for CookieRule {
    fn hints(&self) -> &'static [&'static str] {
        &["cookie"]
    }

    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit> {
        next_span(state, from, || self.secrets(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<&str> {
        CookieRule::new()
            .secrets(text)
            .into_iter()
            .map(|s| &text[s.range])
            .collect()
    }

    #[test]
    fn session_cookies_of_every_header_are_found() {
        assert_eq!(
            values("Cookie: theme=dark; sessionid=abc; _ga=GA1.2.3; csrftoken=x9"),
            vec!["abc", "x9"]
        );
        assert_eq!(
            values(
                "< Set-Cookie: PHPSESSID=q1w2; Path=/; HttpOnly\n< set-cookie: connect.sid=s%3Az"
            ),
            vec!["q1w2", "s%3Az"]
        );
        assert_eq!(values(r#"{"Cookie": "jwt=eyJ.x.y"}"#), vec!["eyJ.x.y"]);
        assert_eq!(values("cookie:__Host-id=1;__Secure-x=2"), vec!["1", "2"]);
        // Quoted values; a folded list of Set-Cookie headers, whose dates hold a comma too.
        assert_eq!(
            values(r#"Cookie: sessionid="a b"; theme="dark"; auth_token=z"#),
            vec!["a b", "z"]
        );
        assert_eq!(
            values("Set-Cookie: a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT, sid=2"),
            vec!["2"]
        );
        assert_eq!(
            values("Set-Cookie: theme=dark, sessionid=s1; Path=/,remember_token=r2"),
            vec!["s1", "r2"]
        );
    }

    #[test]
    fn other_cookies_and_other_text_stay() {
        for text in [
            "Cookie: theme=dark; lang=en; sidebar=closed",
            "Set-Cookie: sessionid=; Path=/",
            "document.cookie = \"sessionid=abc\"",
            "session_cookie: sessionid=abc",
            "Cookie: $COOKIE",
            "Cookie: sessionid",
            "cookies: sessionid=abc",
            "Cookie: sessionid=\"unterminated",
        ] {
            assert_eq!(values(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn headers_inside_a_list_are_read_once() {
        let text = "Cookie: a=1;".to_string() + &"cookie:sid=1;".repeat(3);
        assert_eq!(values(&text), vec!["1", "1", "1"]);
        // Linear: 20,000 headers in one list (each read again would be 200 million steps).
        let long = "Cookie: a=1;".to_string() + &"cookie:sid=1;".repeat(20_000);
        assert_eq!(values(&long).len(), 20_000);
    }

    #[test]
    fn session_names() {
        for name in [
            "sessionid",
            "PHPSESSID",
            "JSESSIONID",
            "_myapp_session",
            "connect.sid",
            "XSRF-TOKEN",
            "remember_user_token",
            ".AspNetCore.Cookies",
            ".ASPXAUTH",
            "__Host-id",
            "__Secure-next",
            "api_key",
        ] {
            assert!(is_session_name(name), "{name}");
        }
        for name in [
            "theme",
            "lang",
            "_ga",
            "sidebar",
            "consent",
            "logged_in",
            "tz",
        ] {
            assert!(!is_session_name(name), "{name}");
        }
    }
}
