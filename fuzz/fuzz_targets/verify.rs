//! Fuzz target `verify`: `--verify-audit` on arbitrary bytes.
//!
//! The input is read as a log on its own, and appended to a short valid genesis-anchored
//! chain. Checks: the verifier never panics; its counts fit the input (records and torn lines
//! never exceed the lines); a broken log names a line that exists, and its reason starts with
//! that line number; a valid chain alone verifies, anchored; a valid prefix followed by input
//! is either intact or broken after the prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_shell::audit::Json;
use relay_shell::audit::chain::ChainState;
use relay_shell::audit::verify::{SegmentReport, verify_reader};

fn lines(bytes: &[u8]) -> u64 {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        0
    } else {
        body.split(|&b| b == b'\n').count() as u64
    }
}

fn check(r: &SegmentReport, bytes: &[u8]) {
    let n = lines(bytes);
    assert!(r.records <= n, "{} records in {n} lines", r.records);
    assert!(r.torn_count <= n);
    assert!(r.torn.iter().all(|t| (1..=n).contains(&t.line)));
    match (r.ok, r.broken_at) {
        (true, None) => {}
        (false, Some(line)) => {
            assert!((1..=n).contains(&line), "broken at line {line} of {n}");
            assert!(
                r.reason.starts_with(&format!("line {line}: ")),
                "reason does not name the line: {}",
                r.reason
            );
        }
        other => panic!("inconsistent verdict {other:?}: {}", r.reason),
    }
}

/// Three sealed records, as the writer writes them.
fn valid_chain() -> Vec<u8> {
    let mut state = ChainState::genesis();
    let mut out = Vec::new();
    for i in 0..3 {
        let body = Json::Obj(vec![("event".into(), Json::Str(format!("e{i}")))]);
        let (sealed, chain) = state.seal(body);
        out.extend_from_slice(sealed.to_line().as_bytes());
        out.push(b'\n');
        state.advance(chain);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let alone = verify_reader(data, "fuzz");
    check(&alone, data);

    let prefix = valid_chain();
    let ok = verify_reader(prefix.as_slice(), "prefix");
    assert!(ok.ok && ok.anchored && ok.records == 3, "{}", ok.reason);

    let mut joined = prefix.clone();
    joined.extend_from_slice(data);
    let r = verify_reader(joined.as_slice(), "joined");
    check(&r, &joined);
    assert!(r.anchored, "the genesis prefix was not found: {}", r.reason);
    assert!(
        r.records >= 3,
        "the valid prefix was not counted: {}",
        r.reason
    );
    if let Some(line) = r.broken_at {
        assert!(line > 3, "the valid prefix was judged broken: {}", r.reason);
    }
});
