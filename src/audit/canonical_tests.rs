//! Unit tests of the canonical tokenizer (kept apart to keep `canonical.rs` readable).

use super::*;

fn canon(line: &str) -> (String, ChainFields) {
    let mut c = Canonicalizer::new();
    let mut out = Vec::new();
    let f = c.record(line, &mut out).expect("record");
    (String::from_utf8(out).expect("utf8"), f)
}

#[test]
fn sorts_and_strips_chain() {
    let (s, f) = canon(
        r#"{"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "c": null}, "chain": "ab", "seq": 4, "prev": "00"}"#,
    );
    assert_eq!(
        s,
        r#"{"a":{"c":null,"z":[1,{"x":3,"y":2}]},"b":1,"prev":"00","seq":4}"#
    );
    assert_eq!(f.seq, Some(4));
    assert_eq!(f.prev.as_deref(), Some("00"));
    assert_eq!(f.chain.as_deref(), Some("ab"));
}

#[test]
fn chain_last_leaves_no_trailing_comma() {
    let (s, _) = canon(r#"{"a": 1, "chain": "x"}"#);
    assert_eq!(s, r#"{"a":1}"#);
    let (s, _) = canon(r#"{"chain": "x"}"#);
    assert_eq!(s, "{}");
    let (s, _) = canon(r#"{"z": 1, "chain": "x", "a": 2}"#);
    assert_eq!(s, r#"{"a":2,"z":1}"#);
}

#[test]
fn reescapes_like_python() {
    let (s, _) = canon(r#"{"k":"\u00e9\/\u0001\u001F\"\\\n\ud83d\ude00\ud800x"}"#);
    assert_eq!(s, "{\"k\":\"é/\\u0001\\u001f\\\"\\\\\\n😀?x\"}");
}

#[test]
fn numbers_like_python() {
    let (s, _) = canon(
        r#"{"a":-0,"b":1E2,"c":1.50,"d":123456789012345678901234567890,"e":1e400,"f":-0.0,"g":NaN}"#,
    );
    assert_eq!(
        s,
        r#"{"a":0,"b":100.0,"c":1.5,"d":123456789012345678901234567890,"e":Infinity,"f":-0.0,"g":NaN}"#
    );
}

#[test]
fn verify_agrees_with_full_canonical_form() {
    let prev = "0".repeat(64);
    let body = format!(r#"{{"b":[1,{{"y":2,"x":3}}],"a":"é","seq":0,"prev":"{prev}","a":"last"}}"#);
    let mut c = Canonicalizer::new();
    let mut out = Vec::new();
    c.record(&body, &mut out).expect("record");
    let chain = crate::audit::chain::chain_hash(&prev, &out);
    let line = format!("{}, \"chain\": \"{chain}\"}}", &body[..body.len() - 1]);
    let (f, ok) = c.verify(&line).expect("verify");
    assert!(ok);
    assert_eq!(f.chain.as_deref(), Some(chain.as_str()));
    let tampered = line.replace("last", "lost");
    assert!(!c.verify(&tampered).expect("verify").1);
}

#[test]
fn duplicate_keys_last_wins() {
    let (s, f) = canon(r#"{"b":1,"a":1,"b":2,"seq":1,"seq":2}"#);
    assert_eq!(s, r#"{"a":1,"b":2,"seq":2}"#);
    assert_eq!(f.seq, Some(2));
}

#[test]
fn rejects_what_python_rejects() {
    let mut c = Canonicalizer::new();
    let mut out = Vec::new();
    for bad in [
        "{",
        r#"{"a":1,}"#,
        r#"{"a":01}"#,
        "{\"a\":\"x\ty\"}",
        r#"{"a":1} x"#,
        r#"{"a":tru}"#,
        r#"{"a":"\x"}"#,
        "",
    ] {
        out.clear();
        assert_eq!(
            c.record(bad, &mut out),
            Err(NotARecord::InvalidJson),
            "{bad}"
        );
    }
    assert_eq!(c.record("[1]", &mut out), Err(NotARecord::NotAnObject));
    assert_eq!(c.record(" 3 ", &mut out), Err(NotARecord::NotAnObject));
}
