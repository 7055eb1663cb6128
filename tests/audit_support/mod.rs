//! Helpers shared by the audit integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use relay_shell::audit::{
    AuditConfig, AuditLog, FsyncPolicy, Json, Record, StartRecord, ToolRecord,
};

/// A completion record whose arguments exercise escaping, non-ASCII and numbers.
pub fn tool(i: u64) -> ToolRecord {
    let args = vec![
        (
            "command".into(),
            Json::Str(format!("echo 'héllo {i}' | wc -c ✓ 日本 😀")),
        ),
        ("timeout".into(), Json::Int(60)),
        ("cwd".into(), Json::Str("/tmp/a\"b\\c".into())),
        ("use_shell".into(), Json::Bool(i.is_multiple_of(2))),
        (
            "stdin".into(),
            Json::Str("line1\nline2\t\u{1}\u{7f}\u{2028}".into()),
        ),
        (
            "nested".into(),
            Json::Obj(vec![
                (
                    "z".into(),
                    Json::Arr(vec![
                        Json::Float(0.1),
                        Json::Float(1e-7),
                        Json::Float(1e16),
                        Json::Null,
                    ]),
                ),
                ("a".into(), Json::Int(i64::MIN)),
                ("é".into(), Json::Int(-5)),
            ]),
        ),
    ];
    ToolRecord {
        ts: relay_shell::audit::record::iso_from_unix(
            1_786_615_872 + i as i64,
            (i * 7 % 1_000_000) as u32,
        ),
        tool: if i.is_multiple_of(3) {
            "ssh_exec".into()
        } else {
            "shell_exec".into()
        },
        tier: (i % 4) as u8,
        denied: i.is_multiple_of(5),
        args,
        output_sha256: relay_shell::audit::sha256_hex(format!("out {i}").as_bytes()),
        output_len: i * 10,
        exit_code: if i.is_multiple_of(5) { None } else { Some(0) },
        request_id: format!("{i}"),
        client_id: if i.is_multiple_of(2) {
            "cli-7".into()
        } else {
            String::new()
        },
        action: String::new(),
        principal: "stdio".into(),
        duration_ms: Some(i),
        confinement: String::new(),
        outcome: String::new(),
    }
}

/// A start record for call `i`.
pub fn start(i: u64) -> StartRecord {
    StartRecord {
        ts: relay_shell::audit::record::iso_from_unix(1_786_615_872 + i as i64, 1),
        tool: "shell_exec".into(),
        tier: 1,
        principal: "stdio".into(),
        request_id: format!("{i}"),
        args: vec![("command".into(), Json::Str(format!("sleep {i}")))],
        confinement: String::new(),
    }
}

/// Defaults with fsync off (tests do not need durability).
pub fn cfg(path: &Path) -> AuditConfig {
    let mut c = AuditConfig::new(path);
    c.fsync = FsyncPolicy::Never;
    c
}

/// Append `n` completion records numbered from `first`.
pub fn write_records(log: &AuditLog, first: u64, n: u64) {
    for i in first..first + n {
        log.append_blocking(Record::Tool(tool(i))).expect("append");
    }
}

/// An independent check of a whole log with Python's own json and hashlib: every line is
/// chained, seq counts from `first_seq`, and
/// `chain == sha256(prev + json.dumps(rec - chain, sort_keys, (',', ':'), ensure_ascii=False))`.
/// Returns the number of records.
pub fn python_verify(path: &Path, first_seq: u64) -> Result<u64, String> {
    const SCRIPT: &str = r#"
import hashlib, json, sys
path, seq = sys.argv[1], int(sys.argv[2])
prev = None
n = 0
with open(path, encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        rec = json.loads(line)
        chain = rec.pop("chain")
        assert rec["seq"] == seq, (rec["seq"], seq)
        if prev is not None:
            assert rec["prev"] == prev, "link"
        elif seq == 0:
            assert rec["prev"] == "0" * 64
        body = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((rec["prev"] + body).encode("utf-8")).hexdigest()
        assert digest == chain, ("hash", seq)
        prev, seq, n = chain, seq + 1, n + 1
print(n)
"#;
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .arg(first_seq.to_string())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))
}

/// Re-encode a jsonl file the way a shipper might: keys sorted, compact, ASCII-escaped.
pub fn python_reencode(src: &Path, dst: &Path) {
    let script = r#"
import json, sys
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w", encoding="utf-8") as g:
    for line in f:
        if line.strip():
            g.write(json.dumps(json.loads(line), sort_keys=True, separators=(",", ":")) + "\n")
"#;
    let st = Command::new("python3")
        .args(["-c", script])
        .arg(src)
        .arg(dst)
        .status()
        .expect("python3");
    assert!(st.success());
}
