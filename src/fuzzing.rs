//! Narrow entry points for the fuzz targets in `fuzz/` (docs/fuzzing.md): parsers that are
//! private to their modules, exposed unchanged so a target can feed them arbitrary input.
//! Not an API: nothing in the server calls these, and they may change with the parsers.

use crate::ssh::inventory::Inventory;

/// The inventory an ssh_config `text` yields on its own (`Include` lines are skipped, so no
/// file of the machine is read).
pub fn ssh_config_inventory(text: &str) -> Inventory {
    Inventory::from_config_text(text)
}

/// One ssh_config line as the inventory reads it: lower-cased keyword and arguments (quotes
/// removed); `None` for a blank line or a comment.
pub fn ssh_config_line(line: &str) -> Option<(String, Vec<String>)> {
    crate::ssh::inventory::split_line(line)
}

/// Whether an `Include` glob's last component (`*`, `?`) matches the file name `name`.
pub fn include_glob_matches(pattern: &str, name: &str) -> bool {
    crate::ssh::inventory::wild_match(pattern, name)
}

/// An OAuth `application/x-www-form-urlencoded` body (or `/authorize` query) as the server
/// parses it: every name at most once.
pub fn oauth_form(body: &[u8]) -> Result<std::collections::HashMap<String, String>, String> {
    crate::http::oauth::parse_form(body)
}

/// A space-separated OAuth scope list: known scopes only, duplicates dropped.
pub fn oauth_scopes(raw: &str) -> Result<Vec<String>, String> {
    crate::http::oauth::parse_scopes(raw)
}

/// Whether `uri` may be registered as a redirect URI.
pub fn oauth_redirect_uri(uri: &str) -> Result<(), &'static str> {
    crate::http::oauth::valid_redirect_uri(uri)
}

/// Whether the redirect URI `given` matches the registered one.
pub fn oauth_redirect_matches(registered: &str, given: &str) -> bool {
    crate::http::oauth::redirect_matches(registered, given)
}

/// Whether a PKCE `verifier` hashes to the S256 `challenge`.
pub fn oauth_pkce(verifier: &str, challenge: &str) -> bool {
    crate::http::oauth::pkce_ok(verifier, challenge)
}

/// Client id and secret of an `Authorization: Basic` header value.
pub fn oauth_basic(value: &str) -> Option<(String, String)> {
    crate::http::oauth::basic_credentials(value)
}

/// The token of an `Authorization: Bearer` header value.
pub fn bearer(value: &str) -> Option<&str> {
    crate::http::bearer_value(value)
}
