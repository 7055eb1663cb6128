//! Fuzz target `canonical`: the chain preimage (`audit::canonical`) and the writer's
//! renderings (`audit::json`).
//!
//! Checks, for any line: canonicalising never panics; the canonical form is UTF-8 and a fixed
//! point (canonicalising it again gives the same bytes and chain fields, without `chain`);
//! `Canonicalizer::verify` agrees with `record` and with `chain_hash` over the preimage; when
//! the text is JSON the writer's `Json` would produce, its own canonical rendering is the
//! same bytes; and a value sealed by the writer (`ChainState::seal`, rendered with
//! `to_line`) always verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_shell::audit::Json;
use relay_shell::audit::canonical::Canonicalizer;
use relay_shell::audit::chain::{ChainState, chain_hash, unseal};

/// No object has a key twice, at any depth (the writer never builds such a value).
fn unique_keys(v: &Json) -> bool {
    match v {
        Json::Arr(items) => items.iter().all(unique_keys),
        Json::Obj(fields) => {
            let mut keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_ref()).collect();
            keys.sort_unstable();
            let n = keys.len();
            keys.dedup();
            keys.len() == n && fields.iter().all(|(_, v)| unique_keys(v))
        }
        _ => true,
    }
}

/// Whether a float appears anywhere (numbers the writer renders through Python's `repr`,
/// which `Json` keeps as `f64`; integers beyond `i64` become floats there too).
fn has_float(v: &Json) -> bool {
    match v {
        Json::Float(_) => true,
        Json::Arr(items) => items.iter().any(has_float),
        Json::Obj(fields) => fields.iter().any(|(_, v)| has_float(v)),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let mut canon = Canonicalizer::new();
    let mut out = Vec::new();
    let recorded = canon.record(&line, &mut out);
    let verified = Canonicalizer::new().verify(&line);
    match &recorded {
        Err(e) => assert_eq!(
            verified.as_ref().err(),
            Some(e),
            "verify and record disagree"
        ),
        Ok(fields) => {
            let body = std::str::from_utf8(&out).expect("canonical form is UTF-8");
            let (vfields, ok) = verified
                .clone()
                .expect("verify accepts what record accepts");
            assert_eq!(&vfields, fields);
            let expect_ok = match (&fields.seq, &fields.prev, &fields.chain) {
                (Some(_), Some(prev), Some(chain)) if chain.len() == 64 => {
                    chain_hash(prev, &out) == *chain
                }
                _ => false,
            };
            assert_eq!(ok, expect_ok, "verify's hash disagrees with chain_hash");

            let mut again = Vec::new();
            let refields = Canonicalizer::new()
                .record(body, &mut again)
                .expect("the canonical form parses");
            assert_eq!(again, out, "canonical form is not a fixed point");
            assert_eq!(refields.seq, fields.seq);
            assert_eq!(refields.prev, fields.prev);
            assert_eq!(refields.chain, None);

            if let Ok(value) = Json::parse(body) {
                if !has_float(&value) && unique_keys(&value) {
                    assert_eq!(value.to_canonical(), body, "Json renders another preimage");
                }
            }
        }
    }

    // What the writer seals, the verifier accepts.
    if let Ok(value) = Json::parse(&line)
        && unique_keys(&value)
    {
        let body = unseal(value);
        let (sealed, chain) = ChainState::genesis().seal(body);
        let written = sealed.to_line();
        let (fields, ok) = Canonicalizer::new()
            .verify(&written)
            .expect("a sealed line parses");
        assert!(ok, "a sealed line does not verify: {written}");
        assert_eq!(fields.chain.as_deref(), Some(chain.as_str()));
        assert_eq!(fields.seq, Some(0));
    }
});
