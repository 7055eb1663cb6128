//! Shared helpers for the crash-safety and soak tests: a seeded generator, `/proc` probes
//! (a process's RSS, open descriptors and children; every live process that carries a marker
//! variable in its environment) and `--verify-audit` through the built binary.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// SplitMix64: a small seeded generator, so a failing run can be replayed from its seed.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (`hi > lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}

/// The seed from `var` (decimal or `0x` hex), else one from the clock; printed either way so
/// the run can be repeated.
pub fn seed(var: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => s.parse().ok(),
        })
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("seed: {var}={seed}");
    seed
}

/// A `/proc/<pid>/status` field in kB (`VmRSS`, `VmHWM`), 0 when unreadable.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Open file descriptors of `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// `(state, ppid, pgrp)` of a process from `/proc/<pid>/stat`.
pub fn stat(pid: i32) -> Option<(char, i32, i32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

fn pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect()
}

/// Live (non-zombie) children of `pid`, except the server's process-tracking watchdog (the
/// binary re-executed with its hidden argument, ADR 0022), which lives as long as the server.
pub fn children(pid: u32) -> Vec<i32> {
    pids()
        .into_iter()
        .filter(|p| matches!(stat(*p), Some((s, pp, _)) if s != 'Z' && pp == pid as i32))
        .filter(|p| {
            !std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                c.windows(30)
                    .any(|w| w == b"__relay-shell-process-watchdog")
            })
        })
        .collect()
}

/// A live process found by [`marked`].
#[derive(Debug, Clone)]
pub struct Marked {
    /// Its pid.
    pub pid: i32,
    /// Its command line, arguments joined by spaces.
    pub cmdline: String,
    /// Its whole environment (`NAME=value` entries).
    pub environ: Vec<String>,
}

impl Marked {
    /// Whether its environment holds `name=value`.
    pub fn has(&self, entry: &str) -> bool {
        self.environ.iter().any(|e| e == entry)
    }
}

/// Every live (non-zombie) process, `except` excluded, whose environment holds `entry`
/// (`NAME=value`). A variable set in the server's environment is inherited by every descendant
/// that does not clear its environment: children, PTY shells, `ssh` masters, and whatever they
/// start (`setsid`, double forks), wherever they were re-parented.
pub fn marked(entry: &str, except: &[u32]) -> Vec<Marked> {
    let mut out = vec![];
    for pid in pids() {
        if except.contains(&(pid as u32)) || pid as u32 == std::process::id() {
            continue;
        }
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let environ: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|e| !e.is_empty())
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        if !environ.iter().any(|e| e == entry) {
            continue;
        }
        if matches!(stat(pid), Some(('Z', _, _)) | None) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        out.push(Marked {
            pid,
            cmdline: cmdline.trim_end().to_string(),
            environ,
        });
    }
    out
}

/// SIGKILL every process in `procs` (test clean-up of survivors).
pub fn kill_all(procs: &[Marked]) {
    for p in procs {
        // SAFETY: a signal to a pid this test found carrying its own marker.
        unsafe {
            libc::kill(p.pid, libc::SIGKILL);
        }
    }
}

/// `relay-shell --verify-audit --json --audit-path <path>`: exit code and the JSON report.
pub fn verify_cli(bin: &str, path: &Path) -> (i32, serde_json::Value, String) {
    let out = Command::new(bin)
        .arg("--verify-audit")
        .arg("--json")
        .arg("--audit-path")
        .arg(path)
        .env("RELAY_SHELL_LOG", "warn")
        .output()
        .expect("run --verify-audit");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Median of `v` (sorted in place); 0 for none.
pub fn median(v: &mut [u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

/// Every audit line that parses as JSON (a torn line left by a kill is skipped).
pub fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
