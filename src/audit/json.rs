//! An order-preserving JSON value and the renderings the audit log needs.
//!
//! * [`Json::to_line`]: the on-disk jsonl form — insertion order, Python's default separators
//!   (`", "` and `": "`), non-ASCII raw.
//! * [`Json::to_canonical`]: the chain preimage — keys sorted by code point at every level,
//!   separators `,` and `:`, non-ASCII raw.
//! * [`Json::to_compact`]: insertion order with `,`/`:` (CEF/LEEF nested values).
//! * [`Json::to_pretty`]: two-space indented, as Python's `json.dumps(indent=2)` (CLI reports).
//!
//! None depends on `serde_json::Map` ordering, which a feature flag elsewhere in the
//! dependency graph can flip.

use std::fmt::Write as _;

/// An object key: usually one of the record's fixed field names, which then costs no
/// allocation; an owned string otherwise.
pub type Key = std::borrow::Cow<'static, str>;

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
    Obj(Vec<(Key, Json)>),
}

/// How one rendering spells separators, orders keys and escapes text.
#[derive(Clone, Copy)]
struct Style {
    item_sep: &'static str,
    key_sep: &'static str,
    sorted: bool,
    /// `Some(n)`: newline + n spaces per level (Python `indent=n`).
    indent: Option<usize>,
    ascii: bool,
}

const LINE: Style = Style {
    item_sep: ", ",
    key_sep: ": ",
    sorted: false,
    indent: None,
    ascii: false,
};

const CANONICAL: Style = Style {
    item_sep: ",",
    key_sep: ":",
    sorted: true,
    indent: None,
    ascii: false,
};

/// Append the JSON escape of an ASCII byte that cannot appear raw in a string (a quote, a
/// backslash or a control character), the way Python's `json` module writes it.
fn push_byte_escape(out: &mut String, b: u8) {
    match b {
        b'"' => out.push_str("\\\""),
        b'\\' => out.push_str("\\\\"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        0x08 => out.push_str("\\b"),
        0x0c => out.push_str("\\f"),
        b => {
            let _ = write!(out, "\\u{b:04x}");
        }
    }
}

/// Append the decimal digits of `i` (what `write!` does, without the formatting machinery).
fn push_int(out: &mut String, i: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    for &b in &buf[pos..] {
        out.push(b as char);
    }
}

impl Json {
    /// Convert from `serde_json`; object keys keep the order `serde_json` yields.
    pub fn from_serde(v: &serde_json::Value) -> Json {
        use serde_json::Value;
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Json::Int(i)
                } else {
                    Json::Float(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => Json::Str(s.clone()),
            Value::Array(a) => Json::Arr(a.iter().map(Json::from_serde).collect()),
            Value::Object(m) => Json::Obj(
                m.iter()
                    .map(|(k, v)| (Key::Owned(k.clone()), Json::from_serde(v)))
                    .collect(),
            ),
        }
    }

    /// Look up a key of an object (the last occurrence wins, as in a Python dict).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The on-disk jsonl rendering (Python `json.dumps(ensure_ascii=False)` spacing).
    pub fn to_line(&self) -> String {
        self.render(LINE)
    }

    /// Append the jsonl rendering to `out` (no allocation beyond `out`'s growth).
    pub fn write_line_into(&self, out: &mut String) {
        self.write(out, LINE, 0);
    }

    /// Append the canonical rendering to `out`.
    pub fn write_canonical_into(&self, out: &mut String) {
        self.write(out, CANONICAL, 0);
    }

    /// The chain preimage rendering: sorted keys, compact separators, raw UTF-8.
    pub fn to_canonical(&self) -> String {
        self.render(CANONICAL)
    }

    /// Compact, insertion-ordered, raw UTF-8 (nested values inside CEF/LEEF lines).
    pub fn to_compact(&self) -> String {
        self.render(Style {
            item_sep: ",",
            key_sep: ":",
            sorted: false,
            indent: None,
            ascii: false,
        })
    }

    /// One line, non-ASCII escaped: Python's `json.dumps(v)` (separators `", "`, `": "`).
    pub fn to_python(&self) -> String {
        self.render(Style {
            item_sep: ", ",
            key_sep: ": ",
            sorted: false,
            indent: None,
            ascii: true,
        })
    }

    /// Two-space indented with non-ASCII escaped: Python's `json.dumps(v, indent=2)`.
    pub fn to_pretty(&self) -> String {
        self.render(Style {
            item_sep: ",",
            key_sep: ": ",
            sorted: false,
            indent: Some(2),
            ascii: true,
        })
    }

    fn render(&self, style: Style) -> String {
        let mut out = String::with_capacity(256);
        self.write(&mut out, style, 0);
        out
    }

    fn newline(out: &mut String, style: Style, level: usize) {
        if let Some(n) = style.indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', n * level));
        }
    }

    fn write(&self, out: &mut String, style: Style, level: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Int(i) => push_int(out, *i),
            Json::Float(f) => out.push_str(&python_float(*f)),
            Json::Str(s) => write_str(out, s, style.ascii),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(style.item_sep);
                    }
                    Self::newline(out, style, level + 1);
                    item.write(out, style, level + 1);
                }
                if !items.is_empty() {
                    Self::newline(out, style, level);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                match fields.first() {
                    // Python sorts str keys by code point; UTF-8 byte order is the same order.
                    // A record's objects are small: sort references on the stack.
                    Some(first) if style.sorted && fields.len() <= SORT_ON_STACK => {
                        let mut refs = [first; SORT_ON_STACK];
                        for (slot, field) in refs.iter_mut().zip(fields) {
                            *slot = field;
                        }
                        let refs = &mut refs[..fields.len()];
                        refs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                        Self::write_fields(out, style, level, refs.iter().copied());
                    }
                    Some(_) if style.sorted => {
                        let mut refs: Vec<&(Key, Json)> = fields.iter().collect();
                        refs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                        Self::write_fields(out, style, level, refs.into_iter());
                    }
                    _ => Self::write_fields(out, style, level, fields.iter()),
                }
                if !fields.is_empty() {
                    Self::newline(out, style, level);
                }
                out.push('}');
            }
        }
    }
}

/// Objects with at most this many members are sorted without allocating.
const SORT_ON_STACK: usize = 32;

impl Json {
    fn write_fields<'a>(
        out: &mut String,
        style: Style,
        level: usize,
        fields: impl Iterator<Item = &'a (Key, Json)>,
    ) {
        for (i, (k, v)) in fields.enumerate() {
            if i > 0 {
                out.push_str(style.item_sep);
            }
            Self::newline(out, style, level + 1);
            write_str(out, k, style.ascii);
            out.push_str(style.key_sep);
            v.write(out, style, level + 1);
        }
    }
}

/// The index of the first byte at or after `i` that a JSON string must escape (`"`, `\\`, or
/// a control character), or `s.len()`. Scans eight bytes at a time.
pub(crate) fn plain_run_end(s: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = s.get(i..i + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(bytes);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        // Exact "some byte is zero" / "some byte is below 0x20" tests on the whole word.
        let hit = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (w.wrapping_sub(ONES * 0x20) & !w);
        if hit & HIGH != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&b) = s.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Write a JSON string literal with Python's escapes; `ascii` escapes every non-ASCII
/// character as `\uXXXX` (surrogate pairs above the BMP), as `ensure_ascii=True` does.
pub(crate) fn write_str(out: &mut String, s: &str, ascii: bool) {
    out.push('"');
    let bytes = s.as_bytes();
    if !ascii {
        let mut i = 0;
        loop {
            let end = plain_run_end(bytes, i);
            out.push_str(&s[i..end]);
            let Some(&b) = bytes.get(end) else { break };
            push_byte_escape(out, b);
            i = end + 1;
        }
        out.push('"');
        return;
    }
    let mut run = 0; // start of the pending run of bytes copied verbatim
    for (i, &b) in bytes.iter().enumerate() {
        let plain = b >= 0x20 && b != b'"' && b != b'\\' && (!ascii || b < 0x80);
        if plain {
            continue;
        }
        if ascii && b >= 0x80 && !s.is_char_boundary(i) {
            continue; // a continuation byte: handled with its leading byte
        }
        out.push_str(&s[run..i]);
        match b {
            b if b < 0x80 => push_byte_escape(out, b),
            _ => {
                // Non-ASCII under `ascii`: escape the whole character.
                let c = s[i..].chars().next().unwrap_or('?');
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
                run = i + c.len_utf8();
                continue;
            }
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
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

impl Json {
    /// Parse JSON text keeping object members in their textual order (duplicates kept).
    pub fn parse(text: &str) -> Result<Json, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(OrderedVisitor)
    }
}

/// Builds a [`Json`] from serde events, so objects keep their order whatever
/// `serde_json`'s map type is.
struct OrderedVisitor;

impl<'de> serde::de::Visitor<'de> for OrderedVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        // Beyond i64 the value is kept as a float (the verifier never goes through here).
        Ok(i64::try_from(v)
            .map(Json::Int)
            .unwrap_or(Json::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = a.next_element::<Json>()? {
            v.push(x);
        }
        Ok(Json::Arr(v))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = a.next_entry::<String, Json>()? {
            v.push((Key::Owned(k), x));
        }
        Ok(Json::Obj(v))
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
        assert_eq!(v.to_compact(), r#"{"b":1,"a":"é\n","c":[null,true]}"#);
    }

    #[test]
    fn pretty_like_python_indent_2() {
        let v = Json::Obj(vec![
            ("r".into(), Json::Str("—é😀".into())),
            ("a".into(), Json::Arr(vec![])),
            ("b".into(), Json::Obj(vec![])),
            ("c".into(), Json::Arr(vec![Json::Int(1)])),
        ]);
        assert_eq!(
            v.to_pretty(),
            "{\n  \"r\": \"\\u2014\\u00e9\\ud83d\\ude00\",\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1\n  ]\n}"
        );
    }

    #[test]
    fn canonical_sorts_small_and_large_objects_alike() {
        for n in [
            1usize,
            2,
            SORT_ON_STACK,
            SORT_ON_STACK + 1,
            3 * SORT_ON_STACK,
        ] {
            let fields = (0..n)
                .rev()
                .map(|i| (Key::Owned(format!("k{i:03}")), Json::Int(i as i64)))
                .collect();
            let expected = (0..n)
                .map(|i| format!("\"k{i:03}\":{i}"))
                .collect::<Vec<_>>()
                .join(",");
            assert_eq!(
                Json::Obj(fields).to_canonical(),
                format!("{{{expected}}}"),
                "{n}"
            );
        }
    }

    #[test]
    fn parse_keeps_order() {
        let v = Json::parse(
            r#"{"z": 1, "a": [1.5, null, {"y": true, "b": "é"}], "m": -9223372036854775808}"#,
        )
        .expect("parse");
        assert_eq!(
            v.to_line(),
            r#"{"z": 1, "a": [1.5, null, {"y": true, "b": "é"}], "m": -9223372036854775808}"#
        );
    }

    #[test]
    fn escapes_every_position() {
        // Each special byte at each offset of a 20-byte string, through the word-wise scan.
        for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', 'é'] {
            for at in 0..20 {
                let mut t: String = "abcdefghijklmnopqrst".into();
                t.replace_range(at..at + 1, &special.to_string());
                let mut ours = String::new();
                write_str(&mut ours, &t, false);
                let expect = serde_json::to_string(&t).expect("json");
                assert_eq!(ours, expect, "{special:?} at {at}");
            }
        }
    }

    #[test]
    fn ints() {
        for i in [0, 7, -7, 10, 1234567890, i64::MIN, i64::MAX] {
            assert_eq!(Json::Int(i).to_line(), i.to_string());
        }
    }

    #[test]
    fn floats_like_python() {
        assert_eq!(python_float(2.0), "2.0");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(1e-7), "1e-07");
        assert_eq!(python_float(1.5e16), "1.5e+16");
        assert_eq!(python_float(1e15), "1000000000000000.0");
        assert_eq!(python_float(0.0001), "0.0001");
        assert_eq!(python_float(123.456), "123.456");
        assert_eq!(python_float(-2.5e-300), "-2.5e-300");
    }

    #[test]
    fn pretty_matches_python_indent_2_with_ascii_escapes() {
        let v = Json::Obj(vec![
            ("a".into(), Json::Int(1)),
            ("b".into(), Json::Arr(vec![])),
            (
                "c".into(),
                Json::Obj(vec![("d".into(), Json::Str("é😀".into()))]),
            ),
        ]);
        assert_eq!(
            v.to_pretty(),
            "{\n  \"a\": 1,\n  \"b\": [],\n  \"c\": {\n    \"d\": \"\\u00e9\\ud83d\\ude00\"\n  }\n}"
        );
    }
}
