//! Our figures beside the physical limit of the same work, measured in one run under the same
//! load (the load average is printed with every section):
//! - call overhead: `shell_exec("true")` through the server over stdio against a bare
//!   fork+exec of the same `/bin/sh -c true` with two pipes, alternating blocks;
//! - start-up: spawn to the first `initialize` reply, against spawn to exit of `/bin/true`;
//! - RSS idle and after 1,000 calls from 16 concurrent callers, against a bare `sleep`;
//! - `--verify-audit` throughput against SHA-256 of the same bytes (`sha2`, one and two
//!   threads, and `sha256sum`);
//! - redaction and classification per MB against one read of the same bytes (a byte count).
//!
//! With `RELAY_SHELL_BENCH_PYTHON=<path of the Python relay-shell v0.3 script>` the same
//! figures are taken for the Python implementation (stdio, start-up, RSS, its verifier, and its
//! `redact`/`classify` functions through the interpreter next to the script).
//!
//! Run: `cargo bench --bench limits`. `RELAY_SHELL_BENCH_PART=exec|start|rss|verify|scan` runs
//! one section; `RELAY_SHELL_BENCH_VERIFY_MB` (default 128) sizes the verified log.

use std::hint::black_box;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use relay_shell::audit::{AuditConfig, AuditLog, FsyncPolicy, verify_audit};
use relay_shell::policy::classify;
use relay_shell::policy::probe::test_probe;
use relay_shell::redact::Redactor;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use sha2::{Digest, Sha256};

#[path = "support/record.rs"]
mod sample;
use sample::record;

const OURS: &str = env!("CARGO_BIN_EXE_relay-shell");

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn python() -> Option<PathBuf> {
    std::env::var_os("RELAY_SHELL_BENCH_PYTHON")
        .map(PathBuf::from)
        .filter(|p| p.exists())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn exec_true() -> CallToolRequestParams {
    CallToolRequestParams::new("shell_exec").with_arguments(
        serde_json::json!({"command": "true"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, ClientConfig>;

/// A server over stdio (ours or the Python one) with its audit log in `dir`.
async fn serve(bin: &Path, dir: &Path) -> anyhow::Result<(Client, u32)> {
    let audit = dir.join(format!("audit-{}.jsonl", rand_suffix()));
    let cmd = tokio::process::Command::new(bin).configure(|c| {
        c.env("RELAY_SHELL_AUDIT_PATH", &audit)
            .env("RELAY_SHELL_LOG", "error")
            .stderr(Stdio::null());
    });
    let transport = TokioChildProcess::new(cmd)?;
    let pid = transport.id().unwrap_or(0);
    Ok((ClientConfig::default().serve(transport).await?, pid))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A bare fork+exec of what `shell_exec("true")` runs: `/bin/sh -c true`, stdin from
/// `/dev/null`, stdout and stderr to pipes read to EOF, reaped.
fn bare_exec() -> Duration {
    let t = Instant::now();
    let out = Command::new("/bin/sh")
        .args(["-c", "true"])
        .stdin(Stdio::null())
        .output();
    black_box(out.map(|o| o.status.success()).unwrap_or(false));
    t.elapsed()
}

async fn exec_section() -> anyhow::Result<()> {
    let n: usize = std::env::var("RELAY_SHELL_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    println!(
        "## call overhead: shell_exec(\"true\") over stdio vs bare fork+exec (load {})",
        load()
    );
    let dir = tempfile::tempdir()?;
    let (ours, _) = serve(Path::new(OURS), dir.path()).await?;
    let py = match python() {
        Some(p) => Some(serve(&p, dir.path()).await?.0),
        None => None,
    };
    for _ in 0..50 {
        ours.call_tool(exec_true()).await?;
        bare_exec();
        if let Some(p) = &py {
            p.call_tool(exec_true()).await?;
        }
    }
    let (mut a, mut b, mut c) = (vec![], vec![], vec![]);
    // Alternating blocks, so a change of load hits all three alike.
    for _ in 0..5 {
        for _ in 0..n / 5 {
            a.push(bare_exec());
        }
        for _ in 0..n / 5 {
            let t = Instant::now();
            ours.call_tool(exec_true()).await?;
            b.push(t.elapsed());
        }
        if let Some(p) = &py {
            for _ in 0..n / 5 {
                let t = Instant::now();
                p.call_tool(exec_true()).await?;
                c.push(t.elapsed());
            }
        }
    }
    for v in [&mut a, &mut b, &mut c] {
        v.sort();
    }
    println!(
        "  bare fork+exec        p50 {:.3} ms  p99 {:.3} ms",
        pct(&a, 0.5),
        pct(&a, 0.99)
    );
    println!(
        "  relay-shell (Rust)    p50 {:.3} ms  p99 {:.3} ms  overhead p50 {:+.3} ms",
        pct(&b, 0.5),
        pct(&b, 0.99),
        pct(&b, 0.5) - pct(&a, 0.5)
    );
    if !c.is_empty() {
        println!(
            "  relay-shell v0.3 (Py) p50 {:.3} ms  p99 {:.3} ms  overhead p50 {:+.3} ms",
            pct(&c, 0.5),
            pct(&c, 0.99),
            pct(&c, 0.5) - pct(&a, 0.5)
        );
    }
    println!("  (load after: {})", load());
    let _ = ours.cancel().await;
    if let Some(p) = py {
        let _ = p.cancel().await;
    }
    Ok(())
}

/// CPU time (user + system) `pid` has used so far, from `/proc/<pid>/stat`: unlike the wall
/// clock, the load of other work on the machine does not change it.
fn cpu_of(pid: u32) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let f: Vec<i64> = s
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // After the state letter: ppid pgrp session tty tpgid flags minflt cminflt majflt
            // cmajflt utime stime.
            Some((f.get(10)? + f.get(11)?).max(0) as u64)
        })
        .unwrap_or(0);
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

/// Spawn `bin` with stdio pipes, send `initialize`, wait for the first line of its reply:
/// the wall time and the server's CPU time until then.
fn first_reply(bin: &Path, audit: &Path) -> (Duration, Duration) {
    let t = Instant::now();
    let mut child = Command::new(bin)
        .env("RELAY_SHELL_AUDIT_PATH", audit)
        .env("RELAY_SHELL_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}}});
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = writeln!(stdin, "{init}");
    let mut line = String::new();
    let _ = std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    let d = t.elapsed();
    let cpu = cpu_of(child.id());
    assert!(line.contains("\"result\""), "no initialize reply: {line}");
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    (d, cpu)
}

fn start_section() {
    println!(
        "## start-up to the first initialize reply (load {})",
        load()
    );
    let dir = tempfile::tempdir().expect("tmp");
    let audit = dir.path().join("audit.jsonl");
    let mut bare: Vec<Duration> = (0..20)
        .map(|_| {
            let t = Instant::now();
            let _ = Command::new("/bin/true").status();
            t.elapsed()
        })
        .collect();
    bare.sort();
    println!("  spawn+exit /bin/true  median {:.2} ms", pct(&bare, 0.5));
    let mut servers = vec![("relay-shell (Rust)   ", PathBuf::from(OURS), 20)];
    if let Some(p) = python() {
        servers.push(("relay-shell v0.3 (Py)", p, 3));
    }
    for (name, bin, runs) in servers {
        let (mut wall, mut cpu): (Vec<Duration>, Vec<Duration>) =
            (0..runs).map(|_| first_reply(&bin, &audit)).unzip();
        wall.sort();
        cpu.sort();
        println!(
            "  {name} median {:.2} ms (min {:.2}), its CPU time median {:.1} ms",
            pct(&wall, 0.5),
            pct(&wall, 0.0),
            pct(&cpu, 0.5)
        );
    }
}

async fn rss_of(bin: &Path, dir: &Path) -> anyhow::Result<(u64, u64, u64)> {
    let (client, pid) = serve(bin, dir).await?;
    client.call_tool(exec_true()).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = status_kib(pid, "VmRSS");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let peer = client.peer().clone();
        set.spawn(async move {
            for _ in 0..1000 / 16 {
                let _ = peer.call_tool(exec_true()).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
    let (after, peak) = (status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM"));
    let _ = client.cancel().await;
    Ok((idle, after, peak))
}

async fn rss_section() -> anyhow::Result<()> {
    println!("## resident memory (KiB; load {})", load());
    let mut sleep = Command::new("sleep").arg("5").spawn()?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!(
        "  a bare `sleep` (C, libc)       VmRSS {}",
        status_kib(sleep.id(), "VmRSS")
    );
    let _ = sleep.kill();
    let _ = sleep.wait();
    let dir = tempfile::tempdir()?;
    let (idle, after, peak) = rss_of(Path::new(OURS), dir.path()).await?;
    println!("  relay-shell (Rust)   idle {idle}  after 1,000 calls x16 {after}  peak {peak}");
    if let Some(p) = python() {
        let (idle, after, peak) = rss_of(&p, dir.path()).await?;
        println!("  relay-shell v0.3 (Py) idle {idle}  after 1,000 calls x16 {after}  peak {peak}");
    }
    Ok(())
}

fn timed(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn verify_section() {
    let mb: u64 = std::env::var("RELAY_SHELL_BENCH_VERIFY_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("audit.jsonl");
    {
        let mut c = AuditConfig::new(&path);
        c.fsync = FsyncPolicy::Never;
        let log = AuditLog::open(c);
        let mut i = 0;
        while i % 10_000 != 0 || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < mb << 20 {
            let _ = log.append_blocking(record(i));
            i += 1;
        }
    }
    let bytes = std::fs::read(&path).expect("read log");
    let size = bytes.len() as f64 / 1e6;
    println!(
        "## verify vs SHA-256 of the same {size:.0} MB (warm cache; load {})",
        load()
    );
    let best = |f: &dyn Fn() -> f64| (0..3).map(|_| f()).fold(f64::MAX, f64::min);
    let one = best(&|| {
        timed(|| {
            black_box(Sha256::digest(black_box(&bytes)));
        })
    });
    let two = best(&|| {
        timed(|| {
            let (a, b) = bytes.split_at(bytes.len() / 2);
            std::thread::scope(|s| {
                s.spawn(|| black_box(Sha256::digest(a)));
                s.spawn(|| black_box(Sha256::digest(b)));
            });
        })
    });
    let sum = best(&|| {
        timed(|| {
            let _ = Command::new("sha256sum")
                .arg(&path)
                .stdout(Stdio::null())
                .status();
        })
    });
    let lib = best(&|| {
        timed(|| {
            assert!(verify_audit(&path, false).ok);
        })
    });
    let cli = best(&|| {
        timed(|| {
            let s = Command::new(OURS)
                .args(["--verify-audit", "--audit-path"])
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            assert!(s.map(|s| s.success()).unwrap_or(false));
        })
    });
    println!("  sha2, 1 thread        {:>7.0} MB/s", size / one);
    println!("  sha2, 2 threads       {:>7.0} MB/s", size / two);
    println!("  sha256sum             {:>7.0} MB/s", size / sum);
    println!("  verify_audit (lib)    {:>7.0} MB/s", size / lib);
    println!("  relay-shell --verify-audit {:>7.0} MB/s", size / cli);
    if let Some(p) = python() {
        let t = timed(|| {
            let out = Command::new(&p)
                .args(["--verify-audit", "--audit-path"])
                .arg(&path)
                .output();
            let ok = out.as_ref().map(|o| o.status.success()).unwrap_or(false);
            if !ok {
                println!(
                    "  (Python verifier refused the log: {:?})",
                    out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                );
            }
        });
        println!(
            "  relay-shell v0.3 (Py) --verify-audit {:>7.1} MB/s",
            size / t
        );
    }
}

const LINES: &[&str] = &[
    "2024-05-01T12:00:01Z INFO shell_exec command=\"ls -la /var/log\" exit=0 duration_ms=12",
    "kubectl get pods -n production -o wide --sort-by=.status.startTime",
    "git log --oneline -n 20 --author=alice -- src/",
    "docker run --rm -p 8080:80 -v /srv/www:/usr/share/nginx/html:ro nginx:1.25",
    "journalctl -u relay-shell --since '10 min ago' --no-pager | tail -n 50",
    "find /etc -name '*.conf' -newer /tmp/marker -print",
    "rsync -az --delete ./dist/ www@cdn-02:/var/www/site/",
    "export DB_PASSWORD=correct-horse-battery-staple",
    "curl -H \"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbg\" https://api",
];

fn scan_section() {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 16 << 20 {
        text.push_str(LINES[i % LINES.len()]);
        text.push('\n');
        i += 1;
    }
    let mb = text.len() as f64 / 1e6;
    println!(
        "## redaction and classification per MB ({mb:.0} MB of mixed lines; load {})",
        load()
    );
    let best = |f: &dyn Fn() -> f64| (0..3).map(|_| f()).fold(f64::MAX, f64::min);
    let count = best(&|| {
        timed(|| {
            black_box(
                black_box(text.as_bytes())
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count(),
            );
        })
    });
    let r = Redactor::new();
    let redact = best(&|| {
        timed(|| {
            for l in text.lines() {
                black_box(r.redact(black_box(l)));
            }
        })
    });
    // Classification: every line as a shell_exec command (a 1 MB slice: ~5 µs-30 µs each).
    let slice = &text[..text[..1 << 20].rfind('\n').unwrap_or(0)];
    let smb = slice.len() as f64 / 1e6;
    let class = best(&|| {
        timed(|| {
            for l in slice.lines() {
                black_box(classify(&test_probe("shell_exec", black_box(l))));
            }
        })
    });
    println!("  one read (count newlines) {:>8.0} MB/s", mb / count);
    println!("  redact, per line          {:>8.1} MB/s", mb / redact);
    println!(
        "  classify, per line        {:>8.2} MB/s ({:.1} µs per line)",
        smb / class,
        class * 1e6 / slice.lines().count() as f64
    );
    if let Some(p) = python() {
        let py = p.with_file_name("python");
        let file = tempfile::NamedTempFile::new().expect("tmp");
        std::fs::write(file.path(), slice).expect("write");
        let script = "import sys,time\nfrom relay_shell import redaction, policy\n\
            t=open(sys.argv[1]).read().splitlines()\nmb=sum(len(l)+1 for l in t)/1e6\n\
            s=time.perf_counter()\nfor l in t: redaction.redact(l)\nr=time.perf_counter()-s\n\
            s=time.perf_counter()\nfor l in t: policy.classify('shell_exec', l)\nc=time.perf_counter()-s\n\
            print(f'  relay-shell v0.3 (Py): redact {mb/r:.2f} MB/s, classify {mb/c:.2f} MB/s ({c*1e6/len(t):.1f} us per line)')\n";
        let out = Command::new(py)
            .arg("-c")
            .arg(script)
            .arg(file.path())
            .output();
        match out {
            Ok(o) => print!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => println!("  (Python: {e})"),
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let part = std::env::var("RELAY_SHELL_BENCH_PART").unwrap_or_default();
    let on = |p: &str| part.is_empty() || part == p;
    println!(
        "# limits (profile: {}; python: {:?})",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "optimised"
        },
        python()
    );
    if on("exec") {
        exec_section().await?;
    }
    if on("start") {
        start_section();
    }
    if on("rss") {
        rss_section().await?;
    }
    if on("verify") {
        verify_section();
    }
    if on("scan") {
        scan_section();
    }
    Ok(())
}
