//! Cross-implementation chain tests: the Python implementation's log verifies here, and
//! logs written here verify under an independent reimplementation of the preimage.

mod audit_support;

use std::path::Path;

use audit_support::{cfg, python_verify, tool, write_records};
use relay_shell::audit::chain::state_after;
use relay_shell::audit::verify::verify_file;
use relay_shell::audit::{AuditLog, Json, Record, ToolRecord, verify_audit};

const PY_VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/python-chain.jsonl");
const RUST_VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rust-chain.jsonl");

#[test]
fn python_vectors_verify() {
    let v = verify_audit(Path::new(PY_VECTORS), false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 5);
    assert_eq!(
        v.reason,
        "chain intact and genesis-anchored: 5 record(s) from seq 0"
    );
    assert_eq!(python_verify(Path::new(PY_VECTORS), 0), Ok(5));
}

fn str_of(j: &Json, k: &str) -> String {
    match j.get(k) {
        Some(Json::Str(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Rebuild the completion record a Python vector line describes.
fn record_from(line: &str) -> ToolRecord {
    let j = Json::parse(line).expect("vector parses");
    let int = |k: &str| match j.get(k) {
        Some(Json::Int(i)) => Some(*i),
        _ => None,
    };
    ToolRecord {
        ts: str_of(&j, "ts"),
        tool: str_of(&j, "tool"),
        tier: int("tier").unwrap_or(0) as u8,
        denied: j.get("denied") == Some(&Json::Bool(true)),
        args: match j.get("args") {
            Some(Json::Obj(a)) => a.clone(),
            _ => Vec::new(),
        },
        output_sha256: str_of(&j, "output_sha256"),
        output_len: int("output_len").unwrap_or(0) as u64,
        exit_code: int("exit_code"),
        request_id: str_of(&j, "request_id"),
        client_id: str_of(&j, "client_id"),
        action: str_of(&j, "action"),
        principal: String::new(),
        duration_ms: None,
        confinement: String::new(),
        outcome: String::new(),
    }
}

#[test]
fn our_writer_reproduces_python_lines_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let vectors = std::fs::read_to_string(PY_VECTORS).expect("vectors");
    {
        let log = AuditLog::open(cfg(&path));
        for line in vectors.lines() {
            log.append_blocking(Record::Tool(record_from(line)))
                .expect("append");
        }
    }
    let ours = std::fs::read_to_string(&path).expect("read");
    assert_eq!(ours, vectors);
}

#[test]
fn our_log_verifies_under_python_preimage() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    {
        let log = AuditLog::open(cfg(&path));
        write_records(&log, 0, 40);
        for i in 0..5 {
            log.append_blocking(Record::Start(audit_support::start(i)))
                .expect("start");
        }
    }
    assert_eq!(python_verify(&path, 0), Ok(45));
    let v = verify_audit(&path, false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 45);
}

/// The pinned vectors of this implementation: the same records always give the same bytes,
/// and those bytes pass the Python preimage check.
#[test]
fn rust_vectors_are_stable() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    {
        let log = AuditLog::open(cfg(&path));
        for i in 0..6 {
            log.append_blocking(Record::Start(audit_support::start(i)))
                .expect("start");
            log.append_blocking(Record::Tool(tool(i))).expect("tool");
        }
    }
    let ours = std::fs::read_to_string(&path).expect("read");
    if std::env::var_os("RELAY_SHELL_REGENERATE_VECTORS").is_some() {
        std::fs::write(RUST_VECTORS, &ours).expect("write vectors");
    }
    let pinned = std::fs::read_to_string(RUST_VECTORS).expect("pinned vectors");
    assert_eq!(ours, pinned);
    assert_eq!(python_verify(Path::new(RUST_VECTORS), 0), Ok(12));
    assert!(verify_file(Path::new(RUST_VECTORS)).anchored);
}

#[test]
fn resume_continues_the_chain() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    for round in 0..3 {
        let log = AuditLog::open(cfg(&path));
        write_records(&log, round * 4, 4);
    }
    assert_eq!(python_verify(&path, 0), Ok(12));
    let last = std::fs::read_to_string(&path).expect("read");
    let st = state_after(last.lines().last().expect("line")).expect("chained");
    assert_eq!(st.seq, 12);
}
