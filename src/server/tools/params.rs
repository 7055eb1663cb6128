//! Argument parsing shared by every tool: lenient scalars (as the Python SDK coerced them) and
//! a clear `InvalidArgument` for anything malformed, unknown or missing.

use serde::de::{self, DeserializeOwned, Deserializer};

use crate::error::ToolError;

/// Parse a tool's raw JSON arguments into its parameter struct.
pub(super) fn parse<P: DeserializeOwned>(
    tool: &str,
    args: &serde_json::Map<String, serde_json::Value>,
) -> Result<P, ToolError> {
    serde_json::from_value(serde_json::Value::Object(args.clone()))
        .map_err(|e| ToolError::invalid(format!("{tool}: {e}")))
}

/// An integer given as a JSON number or a numeric string (`"60"` → 60).
pub(super) fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| de::Error::custom(format!("expected an integer, got {n}"))),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| de::Error::custom(format!("expected an integer, got {s:?}"))),
        other => Err(de::Error::custom(format!(
            "expected an integer, got {other}"
        ))),
    }
}

/// A number given as a JSON number or a numeric string.
pub(super) fn float<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| de::Error::custom(format!("expected a number, got {n}"))),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| de::Error::custom(format!("expected a number, got {s:?}"))),
        other => Err(de::Error::custom(format!("expected a number, got {other}"))),
    }
}

/// A boolean given as JSON `true`/`false` or the usual spellings in a string.
pub(super) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Ok(b),
        serde_json::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(de::Error::custom(format!("expected a boolean, got {s:?}"))),
        },
        other => Err(de::Error::custom(format!(
            "expected a boolean, got {other}"
        ))),
    }
}

/// An optional boolean (`null` = not set).
pub(super) fn opt_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        v => boolean(v).map(Some).map_err(de::Error::custom),
    }
}

use serde::Deserialize as _;

/// Default value helpers for `#[serde(default = "…")]`.
pub(super) mod defaults {
    /// `true`.
    pub(crate) fn yes() -> bool {
        true
    }
}
