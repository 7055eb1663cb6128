//! PTY sessions at the library level (no MCP): how long from `spawn` of an interactive bash to
//! its first prompt, and how long one `send` → `recv` round trip takes on a live bash
//! (`echo`, the answer read back). p50/p99 over many runs.
//!
//! Run: `cargo bench --bench session`.

use std::time::{Duration, Instant};

use relay_shell::session::{
    Registry, Session, SessionKind, SessionLimits, SpawnRequest, TermSize, local_session_env,
};

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn bash() -> SpawnRequest {
    let argv: Vec<String> = ["bash", "--noprofile", "--norc", "-i"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    SpawnRequest {
        title: argv.join(" "),
        argv,
        cwd: None,
        env: local_session_env(&vec![("PS1".into(), Some("PROMPT$ ".into()))]),
        size: TermSize {
            cols: 120,
            rows: 40,
        },
        kind: SessionKind::Local,
        confinement: None,
    }
}

/// Read until `answer` has arrived followed by the next prompt (each read returns once output
/// pauses). Bash wraps its prompt in bracketed-paste escapes, hence two checks.
async fn until(s: &Session, answer: &str) -> anyhow::Result<()> {
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(seen.contains(answer) && seen.ends_with("PROMPT$ ")) {
        anyhow::ensure!(Instant::now() < deadline, "never saw {answer:?}: {seen:?}");
        seen.push_str(&String::from_utf8_lossy(
            &s.recv(Duration::from_secs(5), 65536).await.bytes,
        ));
    }
    Ok(())
}

fn report(what: &str, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "{what:<40} n={:<4} p50={:>7.2} ms  p99={:>7.2} ms",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let reg = Registry::new(SessionLimits::default());

    // spawn → first prompt (includes bash start-up and the recv quiet period)
    let mut first = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let s = reg
            .spawn("bench", bash())
            .await
            .map_err(anyhow::Error::msg)?;
        until(&s, "PROMPT$ ").await?;
        first.push(t.elapsed());
        s.close().await;
    }
    report("spawn bash -> first prompt", first);

    // send → recv round trip on one live shell
    let s = reg
        .spawn("bench", bash())
        .await
        .map_err(anyhow::Error::msg)?;
    until(&s, "PROMPT$ ").await?;
    let mut rt = Vec::new();
    for i in 0..500 {
        let t = Instant::now();
        s.send(format!("echo r{i}x\n").as_bytes())
            .await
            .map_err(anyhow::Error::msg)?;
        until(&s, &format!("r{i}x\r\n")).await?;
        rt.push(t.elapsed());
    }
    report("send echo -> recv answer and prompt", rt);

    // the same without the quiet period: timeout 0 polls, so this is the raw PTY latency
    let mut raw = Vec::new();
    for i in 0..500 {
        let t = Instant::now();
        s.send(format!("echo q{i}x\n").as_bytes())
            .await
            .map_err(anyhow::Error::msg)?;
        let answer = format!("q{i}x\r\n");
        let mut seen = String::new();
        while !(seen.contains(&answer) && seen.ends_with("PROMPT$ ")) {
            seen.push_str(&String::from_utf8_lossy(
                &s.recv(Duration::ZERO, 65536).await.bytes,
            ));
            tokio::task::yield_now().await;
        }
        raw.push(t.elapsed());
    }
    report("send echo -> answer (polling, no quiet)", raw);

    reg.shutdown().await;
    Ok(())
}
