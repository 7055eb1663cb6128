//! Audit log throughput: appends per second under each fsync policy, and verification
//! speed and memory on a large chained log (warm page cache).
//!
//! Run: `cargo bench --bench audit`. Set `RELAY_SHELL_BENCH_VERIFY_MB` to change the size of
//! the verified log (default 512), `RELAY_SHELL_BENCH_PART=append|verify` to run one half
//! (`append-never` runs only the fsync=never sequential figure, for profiling).

use std::sync::Arc;
use std::time::Instant;

use relay_shell::audit::{AuditConfig, AuditLog, FsyncPolicy, Record, verify_audit};

#[path = "support/record.rs"]
mod sample;
use sample::record;

fn config(path: &std::path::Path, fsync: FsyncPolicy) -> AuditConfig {
    let mut c = AuditConfig::new(path);
    c.fsync = fsync;
    c
}

/// CPU seconds (user + system) used by the calling thread so far.
fn thread_cpu_secs() -> f64 {
    let r = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_THREAD);
    r.map(|u| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    })
    .unwrap_or(0.0)
}

/// (records per wall-clock second, records per CPU second of the appending thread).
fn append_sequential(fsync: FsyncPolicy, n: u64) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("tmp");
    let log = AuditLog::open(config(&dir.path().join("audit.jsonl"), fsync));
    let records: Vec<Record> = (0..n).map(record).collect();
    let cpu = thread_cpu_secs();
    let t = Instant::now();
    for r in records {
        let _ = log.append_blocking(r);
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = thread_cpu_secs() - cpu;
    (n as f64 / wall, n as f64 / cpu.max(1e-9))
}

fn append_concurrent(fsync: FsyncPolicy, tasks: u64, per_task: u64) -> f64 {
    let dir = tempfile::tempdir().expect("tmp");
    let log = Arc::new(AuditLog::open(config(
        &dir.path().join("audit.jsonl"),
        fsync,
    )));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|k| {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    for i in 0..per_task {
                        let _ = log.append(record(k * per_task + i)).await;
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.await;
        }
    });
    (tasks * per_task) as f64 / t.elapsed().as_secs_f64()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Child mode: verify one file and report time and peak memory of this process alone.
fn verify_child(path: &str) {
    let t = Instant::now();
    let v = verify_audit(std::path::Path::new(path), false);
    let secs = t.elapsed().as_secs_f64();
    let cpu = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|u| {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        })
        .unwrap_or(0.0);
    println!("{} {} {secs} {} {cpu}", v.ok, v.records, peak_rss_kib());
}

fn main() {
    if let Ok(path) = std::env::var("RELAY_SHELL_BENCH_VERIFY_CHILD") {
        verify_child(&path);
        return;
    }
    let part = std::env::var("RELAY_SHELL_BENCH_PART").unwrap_or_default();
    if part == "append-never" {
        // One figure only, for profiling the append path.
        let (never, never_cpu) = append_sequential(FsyncPolicy::Never, 1_000_000);
        println!("fsync=never sequential {never:.0} records/s ({never_cpu:.0} per CPU-second)");
        return;
    }
    if part != "verify" {
        append_figures();
    }
    if part != "append" {
        verify_figures();
    }
}

fn append_figures() {
    println!("audit append (records/s, ~450-byte chained jsonl records)");
    println!("  policy          callers               records/s   (per CPU-second of the caller)");
    let (never, never_cpu) = append_sequential(FsyncPolicy::Never, 300_000);
    println!("  fsync=never     sequential            {never:>10.0}   ({never_cpu:.0})");
    let (interval, interval_cpu) = append_sequential(FsyncPolicy::Interval, 300_000);
    println!("  fsync=interval  sequential            {interval:>10.0}   ({interval_cpu:.0})");
    let (always_seq, _) = append_sequential(FsyncPolicy::Always, 2_000);
    println!("  fsync=always    sequential            {always_seq:>10.0}");
    let always_16 = append_concurrent(FsyncPolicy::Always, 16, 500);
    println!("  fsync=always    16 concurrent tasks   {always_16:>10.0}");
    let always_64 = append_concurrent(FsyncPolicy::Always, 64, 200);
    println!("  fsync=always    64 concurrent tasks   {always_64:>10.0}");
}

fn verify_figures() {
    let mb: u64 = std::env::var("RELAY_SHELL_BENCH_VERIFY_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    {
        let log = AuditLog::open(config(&path, FsyncPolicy::Never));
        let mut i = 0;
        while i % 10_000 != 0 || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < mb << 20 {
            let _ = log.append_blocking(record(i));
            i += 1;
        }
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    // Warm the page cache so the figure is the verifier's, not the disk's.
    let _ = std::fs::read(&path).map(|b| b.len());
    println!("audit verify ({size:.0} MB chained log, warm cache)");
    for _ in 0..3 {
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .env("RELAY_SHELL_BENCH_VERIFY_CHILD", &path)
            .output()
            .expect("verify child");
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.split_whitespace().collect();
        let (ok, records, secs, rss) = (f[0], f[1], f[2].parse::<f64>().unwrap_or(0.0), f[3]);
        let cpu = f.get(4).and_then(|c| c.parse::<f64>().ok()).unwrap_or(0.0);
        println!(
            "  ok={ok} records={records} time={secs:.2}s speed={:.0} MB/s cpu={cpu:.2}s ({:.0} MB per CPU-second) peak_rss={rss} KiB",
            size / secs,
            size / cpu.max(1e-9),
        );
    }
    // Reference: the same preimage check written with Python's json and hashlib.
    let script = r#"
import hashlib, json, sys, time
t = time.time(); n = 0
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for line in f:
        rec = json.loads(line); c = rec.pop("chain")
        body = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256((rec["prev"] + body).encode()).hexdigest() == c
        n += 1
print(n, time.time() - t)
"#;
    if let Ok(out) = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.split_whitespace().collect();
        if let Some(secs) = f.get(1).and_then(|s| s.parse::<f64>().ok()) {
            println!(
                "  reference: python3 json+hashlib loop {secs:.2}s ({:.0} MB/s)",
                size / secs
            );
        }
    }
}
