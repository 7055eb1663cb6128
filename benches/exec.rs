//! `exec::run(Shell("true"))` latency and throughput, sequentially and 16 at a time, for an
//! unconfined child (the `posix_spawn` path) and a read-only confined one (`confine::launch`:
//! scratch directory, Landlock ruleset, seccomp filter, capability drop), alternating in the
//! same run so both see the same machine.
//!
//! Run with `cargo bench --bench exec`. Prints p50/p99 per-call latency and calls per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use relay_shell::confine::{Confinement, Confiner, Network, Profile, Setting};
use relay_shell::exec::{ExecRequest, Program, run};

/// Calls measured in each scenario.
const CALLS: usize = 2000;
/// Calls run first and not measured.
const WARMUP: usize = 100;
/// Concurrent callers in the parallel scenario.
const PARALLEL: usize = 16;

fn request(confinement: Option<Confinement>) -> ExecRequest {
    ExecRequest {
        program: Program::Shell("true".to_string()),
        cwd: None,
        stdin: None,
        env: Vec::new(),
        timeout: Duration::from_secs(30),
        capture_limit: 1 << 20,
        merge_stderr: true,
        confinement,
    }
}

/// One timed call; a failed call aborts the benchmark (figures would be meaningless).
async fn timed_call(confinement: Option<Confinement>) -> Duration {
    let start = Instant::now();
    match run(request(confinement)).await {
        Ok(outcome) if outcome.exit_code == Some(0) => start.elapsed(),
        other => {
            eprintln!("exec bench: unexpected result {other:?}");
            std::process::exit(1);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(rank).copied().unwrap_or_default()
}

/// CPU time (user + system) of this process and its reaped children so far: unlike latency,
/// barely moved by other work on the machine.
fn cpu_time() -> Duration {
    let total = |who| {
        // SAFETY: getrusage fills a zeroed structure we own.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a valid, writable rusage.
        unsafe { libc::getrusage(who, &mut u) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    total(libc::RUSAGE_SELF) + total(libc::RUSAGE_CHILDREN)
}

fn report(name: &str, mut latencies: Vec<Duration>, wall: Duration, cpu: Duration) {
    latencies.sort();
    println!(
        "{name:<30} calls={:<5} p50={:>7.3} ms  p99={:>7.3} ms  {:>5.0} calls/s  cpu={:>6.3} ms/call",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.len() as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e3 / latencies.len().max(1) as f64,
    );
}

async fn sequential(name: &str, confinement: Option<Confinement>) {
    for _ in 0..WARMUP {
        timed_call(confinement.clone()).await;
    }
    let mut latencies = Vec::with_capacity(CALLS);
    let (start, cpu) = (Instant::now(), cpu_time());
    for _ in 0..CALLS {
        latencies.push(timed_call(confinement.clone()).await);
    }
    report(name, latencies, start.elapsed(), cpu_time() - cpu);
}

async fn concurrent(name: &str, confinement: Option<Confinement>) {
    let per_task = CALLS / PARALLEL;
    let (start, cpu) = (Instant::now(), cpu_time());
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let confinement = confinement.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    latencies.push(timed_call(confinement.clone()).await);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(CALLS);
    for task in tasks {
        match task.await {
            Ok(mut part) => latencies.append(&mut part),
            Err(e) => {
                eprintln!("exec bench: task failed: {e}");
                std::process::exit(1);
            }
        }
    }
    report(
        &format!("{name}, {PARALLEL} concurrent"),
        latencies,
        start.elapsed(),
        cpu_time() - cpu,
    );
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("exec bench: cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    let confiner = Arc::new(Confiner::new(Setting::Auto, Network::Any, Vec::new()));
    let read_only = Some(Confinement {
        profile: Profile::ReadOnly,
        confiner: confiner.clone(),
    });
    println!("confined profile: {}", confiner.label(Profile::ReadOnly));
    runtime.block_on(async {
        for round in 1..=3 {
            sequential(&format!("unconfined #{round}"), None).await;
            sequential(&format!("read-only #{round}"), read_only.clone()).await;
        }
        concurrent("unconfined", None).await;
        concurrent("read-only", read_only.clone()).await;
    });
}
