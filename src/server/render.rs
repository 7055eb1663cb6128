//! JSON for tool results: 2-space indentation, insertion order, ASCII-escaped — the shape the
//! Python implementation's tools return (spec §5.10, §5.20), so clients parse it unchanged.

use std::fmt::Write as _;

use crate::audit::Json;
use crate::audit::json::python_float;

/// Render `v` like Python's `json.dumps(v, indent=2)` (ensure_ascii on).
pub fn pretty_ascii(v: &Json) -> String {
    let mut out = String::with_capacity(512);
    write(&mut out, v, 0);
    out
}

fn indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write(out: &mut String, v: &Json, level: usize) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Json::Float(f) => out.push_str(&python_float(*f)),
        Json::Str(s) => write_ascii_str(out, s),
        Json::Arr(items) if items.is_empty() => out.push_str("[]"),
        Json::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                write(out, item, level + 1);
            }
            indent(out, level);
            out.push(']');
        }
        Json::Obj(fields) if fields.is_empty() => out.push_str("{}"),
        Json::Obj(fields) => {
            out.push('{');
            for (i, (k, val)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                write_ascii_str(out, k);
                out.push_str(": ");
                write(out, val, level + 1);
            }
            indent(out, level);
            out.push('}');
        }
    }
}

fn write_ascii_str(out: &mut String, s: &str) {
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
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_indent_2() {
        let v = Json::Obj(vec![
            ("a".into(), Json::Int(1)),
            ("b".into(), Json::Arr(vec![])),
            (
                "c".into(),
                Json::Obj(vec![("d".into(), Json::Str("é😀".into()))]),
            ),
        ]);
        assert_eq!(
            pretty_ascii(&v),
            "{\n  \"a\": 1,\n  \"b\": [],\n  \"c\": {\n    \"d\": \"\\u00e9\\ud83d\\ude00\"\n  }\n}"
        );
    }
}
