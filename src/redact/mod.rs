//! Redaction: the one scrubber for every egress (audit args, error strings, logs, explain,
//! `server_info`, session input records, `relay-shell redact`).
//!
//! The rules are those of docs/compatibility.md, in the same order and with the same placeholder, plus
//! provider shapes and CLI forms the Python implementation lacks (see `docs/compatibility.md`, "Redaction").
//!
//! Architecture invariant: pure text in, text out; linear time by construction (the `regex`
//! crate only, look-arounds as explicit checks, memoised scans); never panics; idempotent.
//!
//! Known over-scrubs kept on purpose (docs/compatibility.md, "Redaction"): prose such as
//! `the bearer of news` loses `of`, `/etc/passwd: no such file` loses `no`, and `-pNNN` is
//! redacted anywhere in a text that names a MySQL client. Each keeps a rule that catches real
//! secrets (`Bearer TOKEN`, `passwd: VALUE`, `mysql -pSECRET`); a false positive costs a word
//! in an audit record, a false negative leaks a credential.

mod authorization;
mod chunks;
mod cli;
mod cli_flag;
mod cmdline;
mod cookie;
mod engine;
mod extra;
mod mysql;
mod provider;
mod replay;
mod rules;
mod scan;
mod shape;
mod sql;
mod substitute;
mod verify;
mod writer;

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use hmac::{KeyInit, Mac};

pub use cli::{
    JSON_INPUT_MAX_BYTES, LINE_WINDOW_BYTES, redact_json_document, redact_stream, run_cli,
};
pub use writer::{RedactingLine, RedactingWriter};

use engine::Engine;
use substitute::Substitution;

/// Placeholder that replaces a secret.
pub const PLACEHOLDER: &str = "[REDACTED]";

/// Default cap on an audited string argument, in characters (docs/compatibility.md).
pub const ARG_MAX_CHARS: usize = 500;

/// Characters scanned beyond `max_len` by [`Redactor::scrub_str`] (docs/compatibility.md), so a secret
/// that straddles the cut is still recognised.
pub const SCAN_MARGIN_CHARS: usize = 16384;

/// Scrubs secrets out of text. Cheap to clone; build once and share.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Optional HMAC key: when set, secrets become `[REDACTED:xxxxxxxx]` for correlation.
    key: Option<Arc<Vec<u8>>>,
}

impl Redactor {
    /// A redactor with plain `[REDACTED]` placeholders.
    pub fn new() -> Self {
        Self::default()
    }

    /// A redactor whose placeholders carry the first 8 hex of HMAC-SHA256(key, secret), so an
    /// auditor can tell that two records used the same secret without learning it.
    pub fn with_key(key: Vec<u8>) -> Self {
        Self {
            key: Some(Arc::new(key)),
        }
    }

    /// A keyed redactor whose key is read from `path` (`RELAY_SHELL_REDACT_KEY_FILE`).
    ///
    /// The key is the file's bytes with one trailing line break removed. The file must exist,
    /// hold a non-empty key and (on Unix) give no access to group or others.
    pub fn from_key_file(path: &Path) -> Result<Redactor, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot read redaction key file {shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("redaction key file {shown} is not a regular file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "redaction key file {shown} is accessible by group or others (mode {mode:04o}); \
                     restrict it with: chmod 600 {shown}"
                ));
            }
        }
        let mut key = std::fs::read(path)
            .map_err(|e| format!("cannot read redaction key file {shown}: {e}"))?;
        if key.last() == Some(&b'\n') {
            key.pop();
            if key.last() == Some(&b'\r') {
                key.pop();
            }
        }
        if key.is_empty() {
            return Err(format!(
                "redaction key file {shown} is empty; put a random key in it"
            ));
        }
        Ok(Self::with_key(key))
    }

    /// Whether placeholders carry a correlation tag.
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// Scrub every secret shape from `text`. Idempotent, total, linear; borrows when nothing
    /// changes.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let sub = match &self.key {
            Some(key) => Substitution::Keyed(key.as_slice()),
            None => Substitution::Plain,
        };
        match Engine::get().redact(text, &sub) {
            Some(changed) => Cow::Owned(changed),
            None => Cow::Borrowed(text),
        }
    }

    /// Redact, then bound to `max_len` characters with the Python implementation's `...(+N)` suffix (docs/compatibility.md).
    ///
    /// Only the first `max_len + 16384` characters are scanned; N counts the characters cut
    /// from the redacted window plus every character beyond it.
    pub fn scrub_str(&self, text: &str, max_len: usize) -> String {
        let window = max_len.saturating_add(SCAN_MARGIN_CHARS);
        let scanned_end = text
            .char_indices()
            .nth(window)
            .map_or(text.len(), |(i, _)| i);
        let scanned = &text[..scanned_end];
        let tail = if scanned_end < text.len() {
            text[scanned_end..].chars().count()
        } else {
            0
        };
        let red = self.redact(scanned);
        let red_len = red.chars().count();
        let overflow = red_len.saturating_sub(max_len);
        if overflow > 0 || tail > 0 {
            let head: String = red.chars().take(max_len).collect();
            format!("{head}...(+{})", overflow + tail)
        } else {
            red.into_owned()
        }
    }

    /// Scrub a JSON value recursively: strings and object keys with [`Self::scrub_str`],
    /// array items in order; numbers, booleans and null unchanged (docs/compatibility.md).
    pub fn scrub_value(&self, value: &serde_json::Value, max_len: usize) -> serde_json::Value {
        self.map_value(value, &|s| self.scrub_str(s, max_len))
    }

    /// Scrub a whole JSON document without truncating anything: every string value and every
    /// object key is redacted (used by `relay-shell redact --json`).
    pub fn scrub_document(&self, value: &serde_json::Value) -> serde_json::Value {
        self.map_value(value, &|s| self.redact(s).into_owned())
    }

    /// Scrub bytes (docs/compatibility.md: decoded as UTF-8 with replacement, then treated as text).
    pub fn scrub_bytes(&self, bytes: &[u8], max_len: usize) -> String {
        self.scrub_str(&String::from_utf8_lossy(bytes), max_len)
    }

    fn map_value(
        &self,
        value: &serde_json::Value,
        text: &dyn Fn(&str) -> String,
    ) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(text(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.map_value(v, text)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (text(k), self.map_value(v, text)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// The first 8 hex digits of HMAC-SHA256(key, secret): the correlation tag of a keyed
/// placeholder. Public so an auditor's tooling can check a suspected secret against a record.
pub fn correlation_tag(key: &[u8], secret: &str) -> String {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        // HMAC accepts keys of any length; this branch is unreachable in practice.
        return "00000000".to_string();
    };
    mac.update(secret.as_bytes());
    let digest = mac.finalize().into_bytes();
    hex::encode(&digest[..4])
}

#[cfg(test)]
mod tests;

/// `count` texts of `len` pieces each, drawn from `pieces` by a fixed linear congruential
/// generator seeded with `seed`: reproducible input for the tests that compare a hand-read
/// rule with the pattern it stands for.
#[cfg(test)]
pub(crate) fn generated_texts(pieces: &[&str], len: usize, count: usize, seed: u64) -> Vec<String> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            let mut t = String::new();
            for _ in 0..len {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                t.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            t
        })
        .collect()
}

/// For the tests of a cheap check that stands before a pattern: over [`generated_texts`],
/// `check` says yes wherever `pattern` (Python `\s` semantics) matches. Returns how many
/// texts matched, so a test can require enough of them to mean something.
#[cfg(test)]
pub(crate) fn check_covers(
    pattern: &str,
    check: fn(&str) -> bool,
    pieces: &[&str],
    len: usize,
    count: usize,
    seed: u64,
) -> usize {
    let re = regex::Regex::new(&scan::py_pattern(pattern)).expect("test pattern compiles");
    let mut matched = 0;
    for t in generated_texts(pieces, len, count, seed) {
        if re.is_match(&t) {
            matched += 1;
            assert!(check(&t), "{pattern}: {t:?}");
        }
    }
    matched
}
