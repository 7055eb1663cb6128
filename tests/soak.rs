//! Soak and load: a fixed number of mixed calls (`shell_exec`, `shell_script`, PTY sessions
//! spawned, written, read and killed, `server_info`, `audit_tail`, calls the policy refuses)
//! from concurrent workers, over stdio and over streamable HTTP with a bearer token. After a
//! warm-up the server's resident memory stays flat (medians of the samples taken after each
//! batch, growth under 5 %), its open descriptors do not grow, it has no child left, the audit
//! chain verifies and every call has exactly one completion record. Then 64 concurrent HTTP
//! clients: the `RELAY_SHELL_MAX_CONCURRENT` limit holds, measured by the commands themselves
//! (start and end markers appended to one file), and p50/p99 are printed (a record, not an
//! assertion: timings belong to `benches/http.rs`).
//!
//! CI size: 1,200 calls per transport (about 30 s each on an idle 2-core machine). `RELAY_SHELL_SOAK=long`: 60,000 per transport.
//! `RELAY_SHELL_SOAK_CALLS=n` sets it directly.

mod common;
mod http_support;
mod load_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::ClientConfig;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;

type Peer = rmcp::Peer<rmcp::RoleClient>;

/// Concurrent workers per transport.
const WORKERS: usize = 4;
/// Rounds each worker runs per batch (a batch is ~90 calls).
const ROUNDS_PER_BATCH: usize = 4;
/// Descriptors that may differ between two quiet moments without a leak.
const FD_SLACK: u64 = 8;
/// Samples compared at the end of the warm-up and at the end.
const SAMPLES: usize = 5;
/// Refused by `RELAY_SHELL_POLICY_DENY` in every mode.
const DENIED: &str = "soak-refused";
/// `RELAY_SHELL_MAX_SESSIONS`: also how many ended sessions the server keeps for a final read
/// (each with its PTY descriptors), so a small value lets the warm-up fill that cache.
const MAX_SESSIONS: &str = "8";

fn calls_per_transport() -> usize {
    if let Some(n) = std::env::var("RELAY_SHELL_SOAK_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::var("RELAY_SHELL_SOAK").is_ok_and(|v| v == "long") {
        60_000
    } else {
        1_200
    }
}

async fn call(peer: &Peer, tool: &str, args: serde_json::Value, calls: &AtomicUsize) -> String {
    calls.fetch_add(1, Ordering::Relaxed);
    let r = peer
        .call_tool(common::params(tool, args))
        .await
        .unwrap_or_else(|e| panic!("{tool} was not answered: {e}"));
    common::text(&r)
}

/// One round of the mix: five calls, and every fifth round a whole PTY session (four more).
async fn round(peer: &Peer, w: usize, i: usize, calls: &AtomicUsize) {
    let unique = format!("w{w}-r{i}");
    let out = call(
        peer,
        "shell_exec",
        json!({"command": format!("echo x-{unique}")}),
        calls,
    )
    .await;
    assert_eq!(out, format!("[exit 0]\nx-{unique}\n"));
    let out = call(
        peer,
        "shell_script",
        json!({"script": format!("v=y-{unique}\necho \"$v\"\n")}),
        calls,
    )
    .await;
    assert_eq!(out, format!("[exit 0]\ny-{unique}\n"));
    let out = call(peer, "server_info", json!({}), calls).await;
    assert!(out.starts_with('{'), "{out}");
    let out = call(peer, "audit_tail", json!({"lines": 5}), calls).await;
    assert!(!out.starts_with("[ERROR"), "{out}");
    let out = call(
        peer,
        "shell_exec",
        json!({"command": format!("echo {DENIED}-{unique}")}),
        calls,
    )
    .await;
    assert!(out.starts_with("[DENIED tier "), "{out}");
    if i.is_multiple_of(5) {
        let out = call(peer, "shell_spawn", json!({"command": "cat"}), calls).await;
        let id = out
            .strip_prefix("session ")
            .and_then(|r| r.split(' ').next())
            .unwrap_or_else(|| panic!("shell_spawn: {out}"))
            .to_string();
        let out = call(
            peer,
            "session_send",
            json!({"session_id": id, "data": format!("z-{unique}")}),
            calls,
        )
        .await;
        assert!(!out.starts_with("[ERROR"), "{out}");
        let mut seen = String::new();
        // `cat` answers at once; a few reads only when the machine is very busy.
        for _ in 0..50 {
            seen.push_str(
                &call(
                    peer,
                    "session_recv",
                    json!({"session_id": id, "timeout": 2}),
                    calls,
                )
                .await,
            );
            if seen.matches(&format!("z-{unique}")).count() >= 2 {
                break;
            }
        }
        assert!(seen.matches(&format!("z-{unique}")).count() >= 2, "{seen}");
        let out = call(peer, "session_kill", json!({"session_id": id}), calls).await;
        assert!(!out.starts_with("[ERROR"), "{out}");
    }
}

/// What one soak run measured.
struct Soak {
    warm_rss: u64,
    end_rss: u64,
    warm_fds: u64,
    end_fds: u64,
    calls: usize,
    secs: f64,
}

/// Run the mix over `peers` (one per worker) in batches until `total` calls; sample the
/// server's RSS and descriptors after each batch, when no call is in flight.
async fn soak(pid: u32, peers: Vec<Peer>, total: usize) -> Soak {
    let calls = Arc::new(AtomicUsize::new(0));
    let (mut rss, mut fds) = (vec![], vec![]);
    let mut warm: Option<(u64, u64)> = None;
    let started = Instant::now();
    let mut batch = 0;
    while calls.load(Ordering::Relaxed) < total {
        let mut set = tokio::task::JoinSet::new();
        for (w, peer) in peers.iter().enumerate() {
            let (peer, calls) = (peer.clone(), calls.clone());
            set.spawn(async move {
                for r in 0..ROUNDS_PER_BATCH {
                    round(&peer, w, batch * ROUNDS_PER_BATCH + r, &calls).await;
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("worker");
        }
        batch += 1;
        rss.push(load_support::status_kib(pid, "VmRSS"));
        fds.push(load_support::fd_count(pid) as u64);
        // The warm-up is the first half of the run.
        if warm.is_none() && calls.load(Ordering::Relaxed) >= total / 2 {
            warm = Some((tail_median(&rss), tail_median(&fds)));
            eprintln!(
                "warm-up: {} calls, RSS samples {rss:?} KiB",
                calls.load(Ordering::Relaxed)
            );
        }
    }
    eprintln!("RSS after each batch (KiB): {rss:?}\nfds after each batch: {fds:?}");
    let (warm_rss, warm_fds) = warm.expect("at least two batches");
    Soak {
        warm_rss,
        end_rss: tail_median(&rss),
        warm_fds,
        end_fds: tail_median(&fds),
        calls: calls.load(Ordering::Relaxed),
        secs: started.elapsed().as_secs_f64(),
    }
}

/// Median of the last [`SAMPLES`] values.
fn tail_median(v: &[u64]) -> u64 {
    let mut t = v[v.len().saturating_sub(SAMPLES)..].to_vec();
    load_support::median(&mut t)
}

/// The assertions shared by both transports.
async fn check(name: &str, pid: u32, s: &Soak, audit: &std::path::Path) {
    eprintln!(
        "{name}: {} calls in {:.1} s; RSS {} -> {} KiB (medians of the last {SAMPLES} batch \
         samples of the warm-up and of the run); fds {} -> {}",
        s.calls, s.secs, s.warm_rss, s.end_rss, s.warm_fds, s.end_fds
    );
    assert!(
        s.end_rss * 100 < s.warm_rss * 105,
        "{name}: resident memory grew by 5 % or more after the warm-up: {} -> {} KiB",
        s.warm_rss,
        s.end_rss
    );
    // A few descriptors come and go with the HTTP keep-alive connections and the reap of
    // ended sessions; a leak grows with the calls (hundreds after the warm-up).
    assert!(
        s.end_fds <= s.warm_fds + FD_SLACK,
        "{name}: open descriptors grew: {} -> {}",
        s.warm_fds,
        s.end_fds
    );
    // Sessions end asynchronously after `session_kill` answers: wait (bounded) for the reap.
    let mut left = load_support::children(pid);
    for _ in 0..400 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        left = load_support::children(pid);
    }
    assert!(left.is_empty(), "{name}: children left: {left:?}");
    let (code, report, stderr) = load_support::verify_cli(common::bin(), audit);
    assert_eq!(code, 0, "{name}: {stderr}\n{report:#}");
    let completions = load_support::records(audit)
        .into_iter()
        .filter(|r| r.get("event").is_none())
        .count();
    assert_eq!(
        completions, s.calls,
        "{name}: every call has exactly one completion record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_over_stdio() {
    let dir = tempfile::tempdir().expect("tmp");
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    let cmd = tokio::process::Command::new(common::bin()).configure(|c| {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("RELAY_SHELL_LOG", "error")
            .env("RELAY_SHELL_AUDIT_PATH", &audit_s)
            .env("RELAY_SHELL_POLICY_DENY", DENIED)
            .env("RELAY_SHELL_MAX_SESSIONS", MAX_SESSIONS);
    });
    let transport = TokioChildProcess::new(cmd).expect("spawn");
    let pid = transport.id().expect("pid");
    let client = ClientConfig::default()
        .serve(transport)
        .await
        .expect("initialize");
    let peers = (0..WORKERS).map(|_| client.peer().clone()).collect();
    let s = soak(pid, peers, calls_per_transport()).await;
    check("stdio", pid, &s, &audit).await;
    let _ = client.cancel().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_over_http() {
    let dir = tempfile::tempdir().expect("tmp");
    let tokens = dir.path().join("tokens");
    http_support::write_tokens(&tokens, &[("soak", "tok-soak", None)]);
    let tokens_s = tokens.display().to_string();
    let server = http_support::HttpServer::start_in(
        dir,
        &[
            ("RELAY_SHELL_AUTH_TOKENS_FILE", &tokens_s),
            ("RELAY_SHELL_POLICY_DENY", DENIED),
            ("RELAY_SHELL_MAX_SESSIONS", MAX_SESSIONS),
        ],
    )
    .await;
    let mut clients = vec![];
    for _ in 0..WORKERS {
        clients.push(server.client(Some("tok-soak")).await);
    }
    let peers = clients.iter().map(|c| c.peer().clone()).collect();
    let s = soak(server.pid(), peers, calls_per_transport()).await;
    check("http", server.pid(), &s, &server.audit).await;
    for c in clients {
        let _ = c.cancel().await;
    }
}

/// The largest number of commands running at once, from `b`/`e` lines appended in order.
fn most_at_once(markers: &str) -> (usize, usize) {
    let (mut now, mut most, mut started) = (0usize, 0usize, 0usize);
    for l in markers.lines() {
        match l.split(' ').next() {
            Some("b") => {
                now += 1;
                started += 1;
                most = most.max(now);
            }
            Some("e") => now = now.saturating_sub(1),
            _ => panic!("unexpected marker line {l:?}"),
        }
    }
    (most, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_http_clients_stay_within_the_concurrency_limit() {
    const CLIENTS: usize = 64;
    const PER_CLIENT: usize = 3;
    const LIMIT: usize = 4;
    let dir = tempfile::tempdir().expect("tmp");
    let tokens = dir.path().join("tokens");
    http_support::write_tokens(&tokens, &[("load", "tok-load", None)]);
    let markers = dir.path().join("markers");
    let tokens_s = tokens.display().to_string();
    let limit_s = LIMIT.to_string();
    let server = http_support::HttpServer::start_in(
        dir,
        &[
            ("RELAY_SHELL_AUTH_TOKENS_FILE", &tokens_s),
            ("RELAY_SHELL_MAX_CONCURRENT", &limit_s),
        ],
    )
    .await;
    let mut clients = vec![];
    for _ in 0..CLIENTS {
        clients.push(server.client(Some("tok-load")).await);
    }
    let command = format!(
        "echo \"b $$\" >> {m}; sleep 0.05; echo \"e $$\" >> {m}",
        m = markers.display()
    );
    let mut set = tokio::task::JoinSet::new();
    for c in &clients {
        let (peer, command) = (c.peer().clone(), command.clone());
        set.spawn(async move {
            let mut out = vec![];
            for _ in 0..PER_CLIENT {
                let t = Instant::now();
                let r = peer
                    .call_tool(common::params("shell_exec", json!({"command": command})))
                    .await
                    .expect("answered");
                out.push((t.elapsed(), common::text(&r)));
            }
            out
        });
    }
    let (mut lat, mut ran, mut busy) = (vec![], 0, 0);
    while let Some(r) = set.join_next().await {
        for (d, text) in r.expect("client") {
            lat.push(d);
            if text == "[exit 0]\n" {
                ran += 1;
            } else {
                assert!(text.starts_with("[ERROR: Busy: "), "{text}");
                busy += 1;
            }
        }
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    let (most, started) = most_at_once(&std::fs::read_to_string(&markers).expect("markers"));
    eprintln!(
        "{CLIENTS} HTTP clients x {PER_CLIENT} calls (limit {LIMIT}, each command sleeps 50 ms): \
         p50 {:.1} ms, p99 {:.1} ms; at most {most} commands ran at once; {busy} Busy",
        pct(0.5),
        pct(0.99)
    );
    assert_eq!(ran + busy, CLIENTS * PER_CLIENT);
    assert_eq!(started, ran, "every admitted command ran once");
    assert!(most <= LIMIT, "{most} commands ran at once, limit {LIMIT}");
    assert!(most >= 1);
    for c in clients {
        let _ = c.cancel().await;
    }
}
