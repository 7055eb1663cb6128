//! The writer: permissions, rotation, resume, concurrency, fsync policies, formats.

mod audit_support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use audit_support::{cfg, python_verify, start, tool, write_records};
use relay_shell::audit::{
    AuditLog, Format, FsyncPolicy, IDENTITY_CHECK_EVERY, LOCK_HOLD, Record, verify_audit,
};

#[test]
fn creates_private_file_and_directory() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("sub/deeper/audit.jsonl");
    let log = AuditLog::open(cfg(&path));
    let st = log.status();
    assert!(!st.degraded, "{}", st.reason);
    assert!(st.chain);
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("parent")), 0o700);
}

#[test]
fn completion_record_fields_in_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let mut c = cfg(&path);
    c.chain = false;
    let log = AuditLog::open(c);
    let mut r = tool(1);
    r.args = vec![(
        "command".into(),
        relay_shell::audit::Json::Str("df -h".into()),
    )];
    r.action = "confirm_plan".into();
    log.append_blocking(Record::Tool(r)).expect("append");
    let line = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        line,
        "{\"ts\": \"2026-08-13T10:11:13.000007+00:00\", \"tool\": \"shell_exec\", \"tier\": 1, \"denied\": false, \"args\": {\"command\": \"df -h\"}, \"output_sha256\": \"e29f1be1a1d8cf7cbe44a97d1df5c15df98e3e92b66cbfcf3e8ce2e29f3a4e14\", \"output_len\": 10, \"exit_code\": 0, \"request_id\": \"1\", \"action\": \"confirm_plan\", \"principal\": \"stdio\", \"duration_ms\": 1}\n"
            .replace("e29f1be1a1d8cf7cbe44a97d1df5c15df98e3e92b66cbfcf3e8ce2e29f3a4e14", &relay_shell::audit::sha256_hex(b"out 1"))
    );
}

#[test]
fn start_records_can_be_turned_off() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let mut c = cfg(&path);
    c.start_records = false;
    let log = AuditLog::open(c);
    log.append_blocking(Record::Start(start(1))).expect("start");
    log.append_blocking(Record::Tool(tool(1))).expect("tool");
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.lines().count(), 1);
    assert!(!text.contains("\"event\""));
}

#[test]
fn start_record_shape() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let mut c = cfg(&path);
    c.chain = false;
    let log = AuditLog::open(c);
    log.append_blocking(Record::Start(start(3))).expect("start");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "{\"ts\": \"2026-08-13T10:11:15.000001+00:00\", \"event\": \"start\", \"tool\": \"shell_exec\", \"tier\": 1, \"principal\": \"stdio\", \"request_id\": \"3\", \"args\": {\"command\": \"sleep 3\"}}\n"
    );
}

#[test]
fn rename_mid_run_reopens_and_directory_verifies() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(cfg(&path));
    write_records(&log, 0, 5);
    std::fs::rename(&path, dir.path().join("audit.jsonl.1")).expect("rename");
    // The writer looks the path up at most once per IDENTITY_CHECK_EVERY.
    std::thread::sleep(IDENTITY_CHECK_EVERY * 2);
    write_records(&log, 5, 5);
    // logrotate `create`: an empty file appears before the next write.
    std::fs::rename(&path, dir.path().join("audit.jsonl-20260101")).expect("rename");
    std::fs::File::create(&path).expect("create");
    std::thread::sleep(IDENTITY_CHECK_EVERY * 2);
    write_records(&log, 10, 5);
    drop(log);
    assert_eq!(
        std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count(),
        5
    );
    let v = verify_audit(dir.path(), false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 15);
    assert_eq!(v.segments.len(), 3);
    assert_eq!(python_verify(&path, 10), Ok(5));
}

#[test]
fn resume_from_rotated_sibling_when_active_is_empty() {
    for gz in [false, true] {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("audit.jsonl");
        {
            let log = AuditLog::open(cfg(&path));
            write_records(&log, 0, 4);
        }
        let rotated = dir.path().join("audit.jsonl.1");
        std::fs::rename(&path, &rotated).expect("rotate");
        if gz {
            let data = std::fs::read(&rotated).expect("read");
            let f = std::fs::File::create(dir.path().join("audit.jsonl.1.gz")).expect("create");
            let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::default());
            enc.write_all(&data).expect("gz");
            enc.finish().expect("gz");
            std::fs::remove_file(&rotated).expect("rm");
        }
        std::fs::File::create(&path).expect("create empty");
        {
            let log = AuditLog::open(cfg(&path));
            write_records(&log, 4, 3);
        }
        assert_eq!(python_verify(&path, 4), Ok(3), "gz={gz}");
        let v = verify_audit(dir.path(), false);
        assert!(v.ok, "gz={gz}: {}", v.reason);
        assert_eq!(v.records, 7);
    }
}

#[test]
fn resume_after_torn_tail_starts_a_new_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    {
        let log = AuditLog::open(cfg(&path));
        write_records(&log, 0, 3);
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    f.write_all(b"{\"ts\": \"2026-08-13T10:11:12+00:00\", \"tool\": \"she")
        .expect("torn");
    drop(f);
    {
        let log = AuditLog::open(cfg(&path));
        write_records(&log, 3, 2);
    }
    let v = verify_audit(&path, false);
    assert!(v.ok, "{}", v.reason);
    assert_eq!(v.records, 5);
    assert_eq!(v.torn.len(), 1);
    assert_eq!((v.torn[0].1.line, v.torn[0].1.tail), (4, false));
}

#[test]
fn concurrent_threads_interleave_whole_lines() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let log = Arc::new(AuditLog::open(cfg(&path)));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || write_records(&log, t * 1000, 100))
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    drop(log);
    assert_eq!(python_verify(&path, 0), Ok(800));
}

#[test]
fn fsync_always_group_commit_under_tokio() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let mut c = cfg(&path);
    c.fsync = FsyncPolicy::Always;
    let log = Arc::new(AuditLog::open(c));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let log = Arc::clone(&log);
                tokio::spawn(async move { log.append(Record::Tool(tool(i))).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("join").expect("append");
        }
    });
    let st = log.status();
    assert_eq!(st.written, 64);
    assert_eq!(st.write_failures, 0);
    drop(log);
    assert_eq!(python_verify(&path, 0), Ok(64));
}

#[test]
fn fsync_interval_and_flush() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let mut c = cfg(&path);
    c.fsync = FsyncPolicy::Interval;
    let log = AuditLog::open(c);
    write_records(&log, 0, 10);
    log.flush_and_sync();
    assert_eq!(log.status().written, 10);
    assert_eq!(python_verify(&path, 0), Ok(10));
}

#[test]
fn cef_and_leef_are_unchained() {
    for (format, prefix) in [(Format::Cef, "CEF:0|"), (Format::Leef, "LEEF:2.0|")] {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("audit.log");
        let mut c = cfg(&path);
        c.format = format;
        let log = AuditLog::open(c);
        assert!(!log.status().chain);
        write_records(&log, 0, 2);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2);
        for l in text.lines() {
            assert!(l.starts_with(prefix), "{l}");
            assert!(
                l.contains("denied=false") || l.contains("denied=true"),
                "{l}"
            );
            assert!(!l.contains("chain="));
        }
        assert!(text.contains("exit_code=null"));
    }
}

#[test]
fn non_regular_path_is_degraded_but_written() {
    let log = AuditLog::open(cfg(std::path::Path::new("/dev/null")));
    let st = log.status();
    assert!(st.degraded);
    assert_eq!(
        st.reason,
        "audit path is not a regular file (records not durably stored): /dev/null"
    );
    log.append_blocking(Record::Tool(tool(1)))
        .expect("written to /dev/null");
    assert!(log.admit().is_ok());
}

#[test]
fn unopenable_path_refuses_then_recovers() {
    let dir = tempfile::tempdir().expect("tmp");
    // A regular file where a directory is needed: the log cannot be created.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "").expect("write");
    let path = blocker.join("audit.jsonl");
    let log = AuditLog::open(cfg(&path));
    let st = log.status();
    assert!(st.degraded);
    assert!(log.admit().is_err());
    assert!(log.append_blocking(Record::Tool(tool(0))).is_err());
    assert_eq!(log.status().queued, 1);
    std::fs::remove_file(&blocker).expect("rm");
    log.admit().expect("recovered");
    assert_eq!(log.status().queued, 0);
    write_records(&log, 1, 2);
    drop(log);
    assert_eq!(python_verify(&path, 0), Ok(3));
}

/// Two servers sharing one log (two MCP clients each starting their own server) keep one
/// chain: each re-reads the chain state under the file lock when the other has appended.
#[test]
fn two_writers_on_one_file_keep_one_chain() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let a = Arc::new(AuditLog::open(cfg(&path)));
    let b = Arc::new(AuditLog::open(cfg(&path)));
    write_records(&a, 0, 3);
    write_records(&b, 100, 3);
    write_records(&a, 3, 1);
    let handles: Vec<_> = [a, b]
        .into_iter()
        .enumerate()
        .map(|(k, log)| std::thread::spawn(move || write_records(&log, 1000 * (k as u64 + 1), 200)))
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(python_verify(&path, 0), Ok(407));
}

/// The file lock a burst of appends holds is let go once the writer is quiet, without
/// another append to trigger it: a process that locks the file (as a second server would)
/// gets it within a few `LOCK_HOLD`s, and its own line keeps the chain.
#[test]
fn file_lock_is_released_after_a_burst() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(cfg(&path));
    write_records(&log, 0, 50);
    let other = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    // While the burst's lock is held, another open file cannot lock; give up (and fail)
    // only after far longer than any release could take.
    let give_up = std::time::Instant::now() + LOCK_HOLD * 2500;
    loop {
        match other.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < give_up => {
                std::thread::yield_now()
            }
            Err(e) => panic!("the writer never released the file lock: {e}"),
        }
    }
    other.unlock().expect("unlock");
    write_records(&log, 50, 1);
    drop(log);
    assert_eq!(python_verify(&path, 0), Ok(51));
}
