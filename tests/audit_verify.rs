//! The verifier against every kind of tampering, truncation and damage.

mod audit_support;

use std::io::Write;
use std::path::{Path, PathBuf};

use audit_support::{cfg, python_reencode, write_records};
use relay_shell::audit::canonical::Canonicalizer;
use relay_shell::audit::chain::chain_hash;
use relay_shell::audit::{AuditLog, Json, verify_audit};

const NOT_ANCHORED_TAIL: &str = " — refusing a non-genesis start without --segment (possible head-truncation; pass --segment for a rotation segment)";

/// A fresh chained log of `n` records; returns (tempdir, path, lines).
fn log(n: u64) -> (tempfile::TempDir, PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    {
        let log = AuditLog::open(cfg(&path));
        write_records(&log, 0, n);
    }
    let lines = std::fs::read_to_string(&path)
        .expect("read")
        .lines()
        .map(String::from)
        .collect();
    (dir, path, lines)
}

fn rewrite(path: &Path, lines: &[String]) {
    let mut s = lines.join("\n");
    s.push('\n');
    std::fs::write(path, s).expect("write");
}

fn fails_at(path: &Path, line: u64, reason: &str) {
    let v = verify_audit(path, false);
    assert!(!v.ok);
    assert!(!v.chain_ok);
    assert_eq!(v.broken_at, Some(line), "{}", v.reason);
    assert_eq!(v.reason, format!("line {line}: {reason}"));
}

#[test]
fn clean_log_passes() {
    let (_d, path, _) = log(10);
    let v = verify_audit(&path, false);
    assert!(v.ok && v.chain_ok && v.anchored && v.present);
    assert_eq!(v.records, 10);
    assert_eq!(v.start_seq, Some(0));
    assert_eq!(
        v.reason,
        "chain intact and genesis-anchored: 10 record(s) from seq 0"
    );
}

#[test]
fn edited_byte_is_tampering() {
    let (_d, path, mut lines) = log(10);
    lines[4] = lines[4].replacen("héllo", "hallo", 1);
    rewrite(&path, &lines);
    fails_at(
        &path,
        5,
        "record body does not match its chain hash (tampered)",
    );
}

#[test]
fn edited_value_with_recomputed_chain_breaks_the_next_link() {
    let (_d, path, mut lines) = log(10);
    // Forge record 4 consistently with its own prev: its chain is valid, the link is not.
    let forged = lines[3].replacen("\"tier\": 3", "\"tier\": 0", 1);
    assert_ne!(forged, lines[3]);
    let mut canon = Canonicalizer::new();
    let mut body = Vec::new();
    let f = canon.record(&forged, &mut body).expect("record");
    let new_chain = chain_hash(f.prev.as_deref().expect("prev"), &body);
    lines[3] = forged.replace(f.chain.as_deref().expect("chain"), &new_chain);
    rewrite(&path, &lines);
    fails_at(&path, 5, "prev does not match the previous record's chain");
}

#[test]
fn deleted_interior_line() {
    let (_d, path, mut lines) = log(10);
    lines.remove(5);
    rewrite(&path, &lines);
    fails_at(&path, 6, "expected seq 5, found 6");
}

#[test]
fn swapped_lines() {
    let (_d, path, mut lines) = log(10);
    lines.swap(2, 3);
    rewrite(&path, &lines);
    fails_at(&path, 3, "expected seq 2, found 3");
}

#[test]
fn inserted_line() {
    let (_d, path, mut lines) = log(10);
    let copy = lines[2].clone();
    lines.insert(6, copy);
    rewrite(&path, &lines);
    fails_at(&path, 7, "expected seq 6, found 2");
}

#[test]
fn head_truncation_needs_segment() {
    let (_d, path, lines) = log(10);
    rewrite(&path, &lines[3..]);
    let v = verify_audit(&path, false);
    assert!(!v.ok && v.chain_ok && !v.anchored);
    let base = "chain internally consistent: 7 record(s) from seq 3, but NOT genesis-anchored (leading records removed, or a mid-stream rotation segment — verify the seam against the prior file)";
    assert_eq!(v.reason, format!("{base}{NOT_ANCHORED_TAIL}"));
    let v = verify_audit(&path, true);
    assert!(v.ok && v.segment_mode);
    assert_eq!(v.reason, base);
    assert_eq!(v.start_seq, Some(3));
}

/// Tail truncation cannot be seen inside one file (documented); the off-host copy is the
/// control for it.
#[test]
fn tail_truncation_passes() {
    let (_d, path, lines) = log(10);
    rewrite(&path, &lines[..6]);
    let v = verify_audit(&path, false);
    assert!(v.ok);
    assert_eq!(v.records, 6);
}

#[test]
fn empty_missing_and_unchained() {
    let dir = tempfile::tempdir().expect("tmp");
    let no_records = "no chained records found — is RELAY_SHELL_AUDIT_CHAIN enabled, and has the server logged anything?";
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let v = verify_audit(&empty, false);
    assert!(!v.ok && v.chain_ok && v.present);
    assert_eq!(v.reason, no_records);

    let missing = dir.path().join("missing.jsonl");
    let v = verify_audit(&missing, false);
    assert!(!v.ok && !v.present);
    assert_eq!(
        v.reason,
        format!("audit file not found or unreadable: {}", missing.display())
    );

    let plain = dir.path().join("plain.jsonl");
    {
        let mut c = cfg(&plain);
        c.chain = false;
        let log = AuditLog::open(c);
        write_records(&log, 0, 3);
    }
    let v = verify_audit(&plain, false);
    assert!(!v.ok);
    assert_eq!(v.reason, no_records);
}

#[test]
fn seq_zero_must_anchor() {
    let (_d, path, mut lines) = log(3);
    lines[0] = lines[0].replacen("\"prev\": \"0000", "\"prev\": \"1000", 1);
    rewrite(&path, &lines);
    fails_at(&path, 1, "seq 0 must anchor to genesis");
}

#[test]
fn garbage_and_unchained_lines_inside_the_region() {
    let (_d, path, mut lines) = log(6);
    let mut with_garbage = lines.clone();
    with_garbage.insert(3, "garbage".into());
    with_garbage.insert(4, "{\"a\": 1}".into());
    rewrite(&path, &with_garbage);
    fails_at(&path, 4, "invalid JSON inside the chained region");
    lines.insert(3, "{\"ts\": \"x\", \"tool\": \"shell_exec\"}".into());
    rewrite(&path, &lines);
    fails_at(
        &path,
        4,
        "record missing chain fields inside the chained region",
    );
}

#[test]
fn legacy_prefix_is_skipped() {
    let (_d, path, mut lines) = log(4);
    lines.insert(0, "{\"ts\": \"old\", \"tool\": \"shell_exec\"}".into());
    lines.insert(0, "".into());
    rewrite(&path, &lines);
    let v = verify_audit(&path, false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 4);
}

#[test]
fn torn_tail_is_reported_not_tampering() {
    let (_d, path, lines) = log(5);
    let mut s = lines.join("\n");
    s.push('\n');
    s.push_str(&lines[1][..40]); // a crash mid-write: no newline
    std::fs::write(&path, s).expect("write");
    let v = verify_audit(&path, false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 5);
    assert_eq!(v.torn.len(), 1);
    assert_eq!(v.torn[0].1.line, 6);
    assert!(v.torn[0].1.tail);
    assert!(v.to_text().contains("line 6: torn last line"));
}

#[test]
fn torn_record_then_retry_is_reported_not_tampering() {
    let (_d, path, lines) = log(6);
    // Record 3 was cut short by a failing write; the retry wrote it whole on a new line.
    let mut damaged: Vec<String> = lines[..3].to_vec();
    damaged.push(lines[3][..50].to_string());
    damaged.extend_from_slice(&lines[3..]);
    rewrite(&path, &damaged);
    let v = verify_audit(&path, false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 6);
    assert_eq!(v.torn.len(), 1);
    assert_eq!((v.torn[0].1.line, v.torn[0].1.tail), (4, false));
}

#[test]
fn complete_but_unparseable_last_line_is_tampering() {
    let (_d, path, mut lines) = log(4);
    lines.push("{\"seq\": 4, oops".into());
    rewrite(&path, &lines); // ends with a newline: not a torn write
    fails_at(&path, 5, "invalid JSON inside the chained region");
}

#[test]
fn reencoded_copy_still_verifies() {
    let (d, path, _) = log(20);
    let copy = d.path().join("shipped.jsonl");
    python_reencode(&path, &copy);
    let text = std::fs::read_to_string(&copy).expect("read");
    assert!(text.contains("\\u00e9") && text.starts_with("{\"args\":"));
    let v = verify_audit(&copy, false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 20);
}

#[test]
fn json_report_keys_in_spec_order() {
    let (_d, path, _) = log(2);
    let j = verify_audit(&path, false).to_json();
    let Json::Obj(fields) = j else {
        panic!("object")
    };
    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(
        &keys[..10],
        [
            "ok",
            "chain_ok",
            "present",
            "anchored",
            "segment_mode",
            "path",
            "records",
            "start_seq",
            "broken_at",
            "reason"
        ]
    );
}

fn gzip(src: &Path, dst: &Path) {
    let data = std::fs::read(src).expect("read");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(dst).expect("create"),
        flate2::Compression::fast(),
    );
    enc.write_all(&data).expect("gz");
    enc.finish().expect("gz finish");
    std::fs::remove_file(src).expect("rm");
}

/// Build a rotated directory: segments of 5 records each, oldest compressed.
fn rotated_dir(segments: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let active = dir.path().join("audit.jsonl");
    let log = AuditLog::open(cfg(&active));
    for s in 0..segments {
        if s > 0 {
            // logrotate: shift, rename the active file, let the writer recreate it.
            for k in (1..s).rev() {
                let from = dir.path().join(format!("audit.jsonl.{k}"));
                let to = dir.path().join(format!("audit.jsonl.{}", k + 1));
                if from.exists() {
                    std::fs::rename(from, to).expect("shift");
                }
            }
            std::fs::rename(&active, dir.path().join("audit.jsonl.1")).expect("rotate");
            // The writer looks the path up at most once per IDENTITY_CHECK_EVERY.
            std::thread::sleep(relay_shell::audit::IDENTITY_CHECK_EVERY * 2);
        }
        write_records(&log, s as u64 * 5, 5);
    }
    drop(log);
    let oldest = dir.path().join(format!("audit.jsonl.{}", segments - 1));
    gzip(
        &oldest,
        &dir.path().join(format!("audit.jsonl.{}.gz", segments - 1)),
    );
    dir
}

#[test]
fn directory_with_gz_segment_verifies_in_chain_order() {
    let dir = rotated_dir(4);
    let v = verify_audit(dir.path(), false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 20);
    assert_eq!(
        v.reason,
        "chain intact and genesis-anchored across 4 segment(s): 20 record(s) from seq 0"
    );
    let order: Vec<String> = v
        .segments
        .iter()
        .map(|s| s.path.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "audit.jsonl.3.gz",
            "audit.jsonl.2",
            "audit.jsonl.1",
            "audit.jsonl"
        ]
    );
    // The rotated segments alone start mid-chain.
    let v = verify_audit(&dir.path().join("audit.jsonl.1"), false);
    assert!(!v.ok && v.chain_ok);
    assert!(verify_audit(&dir.path().join("audit.jsonl.1"), true).ok);
    assert!(verify_audit(&dir.path().join("audit.jsonl.3.gz"), false).ok);
}

#[test]
fn directory_with_missing_middle_segment_reports_gap() {
    let dir = rotated_dir(4);
    std::fs::remove_file(dir.path().join("audit.jsonl.2")).expect("rm");
    let v = verify_audit(dir.path(), false);
    assert!(!v.ok && !v.chain_ok);
    assert_eq!(v.findings.len(), 1);
    let f = &v.findings[0];
    assert_eq!(f.kind.as_str(), "gap");
    assert!(f.file.ends_with("audit.jsonl.1"));
    assert_eq!(f.line, 1);
    assert!(
        v.reason.starts_with("gap: seq 5..9 are missing between "),
        "{}",
        v.reason
    );
    assert_eq!(v.broken_at, Some(1));
}

#[test]
fn directory_overlap_and_fork() {
    let dir = rotated_dir(3);
    // A duplicate copy of a segment is an overlap.
    std::fs::copy(
        dir.path().join("audit.jsonl.1"),
        dir.path().join("audit.jsonl-20260101"),
    )
    .expect("copy");
    let v = verify_audit(dir.path(), false);
    assert_eq!(
        v.findings.first().map(|f| f.kind.as_str()),
        Some("overlap"),
        "{}",
        v.reason
    );
    std::fs::remove_file(dir.path().join("audit.jsonl-20260101")).expect("rm");

    // A different history at the same seq is a fork.
    let other = tempfile::tempdir().expect("tmp");
    let p = other.path().join("audit.jsonl");
    {
        let log = AuditLog::open(cfg(&p));
        write_records(&log, 100, 12);
    }
    let text = std::fs::read_to_string(&p).expect("read");
    let tail: Vec<&str> = text.lines().skip(10).collect();
    std::fs::write(dir.path().join("audit.jsonl.9"), tail.join("\n") + "\n").expect("write");
    let v = verify_audit(dir.path(), false);
    assert_eq!(
        v.findings.first().map(|f| f.kind.as_str()),
        Some("fork"),
        "{}",
        v.reason
    );
}

#[test]
fn directory_with_tampered_segment_names_file_and_line() {
    let dir = rotated_dir(3);
    let p = dir.path().join("audit.jsonl.1");
    let s = std::fs::read_to_string(&p)
        .expect("read")
        .replacen("héllo", "hallo", 2);
    std::fs::write(&p, s).expect("write");
    let v = verify_audit(dir.path(), false);
    assert!(!v.ok);
    assert_eq!(v.broken_at, Some(1));
    assert!(
        v.broken_file
            .as_deref()
            .is_some_and(|f| f.ends_with("audit.jsonl.1"))
    );
    assert!(
        v.summary().ends_with("audit.jsonl.1 line 1)"),
        "{}",
        v.summary()
    );
}

#[test]
fn empty_directory_fails() {
    let dir = tempfile::tempdir().expect("tmp");
    let v = verify_audit(dir.path(), false);
    assert!(!v.ok && !v.present);
}

#[test]
fn large_log_streams_across_windows() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    {
        let log = AuditLog::open(cfg(&path));
        for i in 0..800 {
            let mut r = audit_support::tool(i);
            r.args
                .push(("pad".into(), Json::Str("x".repeat(6000 + i as usize))));
            log.append_blocking(relay_shell::audit::Record::Tool(r))
                .expect("append");
        }
    }
    assert!(std::fs::metadata(&path).expect("meta").len() > 5 * 1024 * 1024);
    let v = verify_audit(&path, false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 800);
}
