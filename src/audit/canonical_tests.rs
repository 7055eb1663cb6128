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

mod against_the_value_renderer {
    //! The verifier's tokenizer (which canonicalises a line as found on disk) and the writer's
    //! renderer (`Json::to_canonical`, which seals a record) are two implementations of one
    //! preimage: for any record, both must give the same bytes, or a chain we write would not
    //! verify.

    use proptest::prelude::*;

    use super::super::Canonicalizer;
    use crate::audit::Json;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~]{0,12}",
            "\\PC{0,8}",
            prop::collection::vec(any::<char>(), 0..6).prop_map(|v| v.into_iter().collect()),
            Just("\u{1}\u{1f}\"\\\n\t/é😀".to_string()),
        ]
    }

    fn value() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::Int),
            prop_oneof![
                any::<f64>().prop_filter("finite", |f| f.is_finite()),
                Just(0.1),
                Just(1e16),
                Just(-0.0),
                Just(1.5e-7),
            ]
            .prop_map(Json::Float),
            text().prop_map(Json::Str),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Arr),
                // Keys are unique, as in any object a record can hold.
                prop::collection::btree_map(text(), inner, 0..5)
                    .prop_map(|kv| Json::Obj(kv.into_iter().map(|(k, v)| (k.into(), v)).collect())),
            ]
        })
    }

    /// A record-shaped object: unique keys (a JSON object on disk has no duplicates), maybe a
    /// `chain` field the preimage leaves out.
    fn record() -> impl Strategy<Value = (Json, Json)> {
        (
            prop::collection::btree_map(text(), value(), 0..8),
            prop::option::of("[0-9a-f]{64}"),
        )
            .prop_map(|(fields, chain)| {
                let fields: Vec<(String, Json)> =
                    fields.into_iter().filter(|(k, _)| k != "chain").collect();
                let without = Json::Obj(
                    fields
                        .iter()
                        .map(|(k, v)| (k.clone().into(), v.clone()))
                        .collect(),
                );
                let mut with = fields;
                if let Some(c) = chain {
                    with.push(("chain".into(), Json::Str(c)));
                }
                let with = Json::Obj(with.into_iter().map(|(k, v)| (k.into(), v)).collect());
                (with, without)
            })
    }

    proptest! {
        #[test]
        fn both_canonical_forms_agree((with_chain, without) in record()) {
            let line = with_chain.to_line();
            let mut out = Vec::new();
            let mut c = Canonicalizer::new();
            let parsed = c.record(&line, &mut out);
            prop_assert!(parsed.is_ok(), "{line}");
            let tokenized = String::from_utf8(out).unwrap_or_default();
            prop_assert_eq!(tokenized, without.to_canonical(), "line: {}", line);
        }
    }
}
