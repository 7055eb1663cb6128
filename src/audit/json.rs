//! An order-preserving JSON value and the two renderings the audit log needs.
//!
//! * [`Json::to_line`]: the on-disk jsonl form — insertion order, Python's default separators
//!   (`", "` and `": "`), non-ASCII raw.
//! * [`Json::to_canonical`]: the chain preimage — keys sorted by code point at every level,
//!   separators `,` and `:`, non-ASCII raw.
//!
//! Neither depends on `serde_json::Map` ordering, which a feature flag elsewhere in the
//! dependency graph can flip.

use std::fmt::Write as _;

/// A JSON value whose objects keep their insertion order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float, rendered the way Python's `repr` does.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object in insertion order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Convert from `serde_json`; object keys keep the order `serde_json` yields.
    pub fn from_serde(v: &serde_json::Value) -> Json {
        use serde_json::Value;
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Json::Int(i),
                None => Json::Float(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => Json::Str(s.clone()),
            Value::Array(a) => Json::Arr(a.iter().map(Json::from_serde).collect()),
            Value::Object(m) => Json::Obj(
                m.iter()
                    .map(|(k, v)| (k.clone(), Json::from_serde(v)))
                    .collect(),
            ),
        }
    }

    /// Look up a key of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The on-disk jsonl rendering (Python `json.dumps(ensure_ascii=False)` spacing).
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write(&mut out, ", ", ": ", false);
        out
    }

    /// The chain preimage rendering: sorted keys, compact separators, raw UTF-8.
    pub fn to_canonical(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write(&mut out, ",", ":", true);
        out
    }

    fn write(&self, out: &mut String, item_sep: &str, key_sep: &str, sorted: bool) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Float(f) => out.push_str(&python_float(*f)),
            Json::Str(s) => write_str(out, s),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    item.write(out, item_sep, key_sep, sorted);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                let mut refs: Vec<&(String, Json)> = fields.iter().collect();
                if sorted {
                    // Python sorts str keys by code point; UTF-8 byte order is the same order.
                    refs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                }
                for (i, (k, v)) in refs.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    write_str(out, k);
                    out.push_str(key_sep);
                    v.write(out, item_sep, key_sep, sorted);
                }
                out.push('}');
            }
        }
    }
}

/// Write a JSON string literal with Python's escapes (`ensure_ascii=False`).
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: shortest round-trip digits, `1e-07` style exponents, `.0` on
/// integral values, and `NaN`/`Infinity` spelled as Python's json module spells them.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip mantissa; Python switches to exponent form
    // when the decimal exponent is < -4 or >= 16.
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let plain = format!("{f}");
    if plain.contains('.') {
        plain
    } else {
        format!("{plain}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_spacing_and_canonical() {
        let v = Json::Obj(vec![
            ("b".into(), Json::Int(1)),
            ("a".into(), Json::Str("é\n".into())),
            ("c".into(), Json::Arr(vec![Json::Null, Json::Bool(true)])),
        ]);
        assert_eq!(v.to_line(), r#"{"b": 1, "a": "é\n", "c": [null, true]}"#);
        assert_eq!(v.to_canonical(), r#"{"a":"é\n","b":1,"c":[null,true]}"#);
    }

    #[test]
    fn floats_like_python() {
        assert_eq!(python_float(2.0), "2.0");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(1e-7), "1e-07");
        assert_eq!(python_float(1.5e16), "1.5e+16");
        assert_eq!(python_float(123.456), "123.456");
    }
}
