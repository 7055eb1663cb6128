//! Rendering a record as one line of the configured format (docs/compatibility.md).
//!
//! jsonl is Python's `json.dumps(ensure_ascii=False)` spacing in insertion order. CEF and
//! LEEF sort the top-level keys and render scalars as JSON spells them — `true`, `false`,
//! `null` (the Python implementation writes `True`/`False`/`None`; see
//! `docs/compatibility.md`) — and nested values as compact JSON in insertion order.

use super::config::Format;
use super::json::{Json, Key, python_float};

const CEF_HEADER: &str = "CEF:0|relay-shell|relay-shell|1.0|audit|tool-call|5|";
const LEEF_HEADER: &str = "LEEF:2.0|relay-shell|relay-shell|1.0|audit|x09|";

/// The record as one line in `format`, without the trailing newline.
pub fn render_line(record: &Json, format: Format) -> String {
    let mut out = String::new();
    render_line_into(record, format, &mut out);
    out
}

/// Append the record as one line in `format` to `out`.
pub fn render_line_into(record: &Json, format: Format, out: &mut String) {
    match format {
        Format::Jsonl => record.write_line_into(out),
        Format::Cef => out.push_str(&key_values(record, CEF_HEADER, " ", escape_cef)),
        Format::Leef => out.push_str(&key_values(record, LEEF_HEADER, "\t", escape_leef)),
    }
}

fn key_values(record: &Json, header: &str, sep: &str, escape: fn(&str, &mut String)) -> String {
    let mut out = String::from(header);
    let Json::Obj(fields) = record else {
        return out;
    };
    let mut refs: Vec<&(Key, Json)> = fields.iter().collect();
    refs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for (i, (k, v)) in refs.into_iter().map(|r| (&r.0, &r.1)).enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        escape(k, &mut out);
        out.push('=');
        escape(&scalar(v), &mut out);
    }
    out
}

fn scalar(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Int(i) => i.to_string(),
        Json::Float(f) => python_float(*f),
        Json::Str(s) => s.clone(),
        Json::Arr(_) | Json::Obj(_) => v.to_compact(),
    }
}

fn escape_cef(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '|' => out.push_str("\\|"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn escape_leef(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> Json {
        Json::Obj(vec![
            ("ts".into(), Json::Str("T".into())),
            ("tool".into(), Json::Str("shell_exec".into())),
            ("tier".into(), Json::Int(1)),
            ("denied".into(), Json::Bool(false)),
            (
                "args".into(),
                Json::Obj(vec![
                    ("command".into(), Json::Str("a=b|c\\d\ne\tf".into())),
                    ("timeout".into(), Json::Int(60)),
                ]),
            ),
            ("exit_code".into(), Json::Null),
        ])
    }

    #[test]
    fn cef_line() {
        assert_eq!(
            render_line(&rec(), Format::Cef),
            "CEF:0|relay-shell|relay-shell|1.0|audit|tool-call|5|args={\"command\":\"a\\=b\\|c\\\\\\\\d\\\\ne\\\\tf\",\"timeout\":60} denied=false exit_code=null tier=1 tool=shell_exec ts=T"
        );
    }

    #[test]
    fn leef_line() {
        let r = Json::Obj(vec![
            ("b".into(), Json::Str("x\ty=z".into())),
            ("a".into(), Json::Bool(true)),
        ]);
        assert_eq!(
            render_line(&r, Format::Leef),
            "LEEF:2.0|relay-shell|relay-shell|1.0|audit|x09|a=true\tb=x\\ty\\=z"
        );
    }
}
