//! Round trip of `shell_exec("true")` and `server_info` over stdio through an MCP client, the
//! way an agent uses the server: p50/p99 latency and calls/s, sequential and 16 concurrent,
//! and the server's RSS after the calls.
//!
//! Run: `cargo bench --bench roundtrip` (builds the release-profile binary).

use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};

fn params(tool: &str, args: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let audit = dir.path().join("audit.jsonl");
    let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_relay-shell")).configure(|c| {
        c.env("RELAY_SHELL_AUDIT_PATH", &audit)
            .env("RELAY_SHELL_LOG", "error");
    });
    let transport = TokioChildProcess::new(cmd)?;
    let pid = transport.id().unwrap_or(0);
    let client = ClientConfig::default().serve(transport).await?;
    let n = 1000;
    for (tool, args) in [
        ("shell_exec", serde_json::json!({"command": "true"})),
        ("server_info", serde_json::json!({})),
    ] {
        for _ in 0..50 {
            client.call_tool(params(tool, args.clone())).await?;
        }
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            client.call_tool(params(tool, args.clone())).await?;
            lat.push(t.elapsed());
        }
        let total = t0.elapsed();
        if tool == "shell_exec" {
            println!("server RSS after {} calls: {} KiB", n + 50, rss_kib(pid));
        }
        lat.sort();
        println!(
            "{tool:12} sequential: p50 {:.3} ms, p99 {:.3} ms, {:.0} calls/s",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            n as f64 / total.as_secs_f64()
        );
        let conc = 16;
        let per = n / conc;
        let t0 = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..conc {
            let peer = client.peer().clone();
            let args = args.clone();
            set.spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    let _ = peer.call_tool(params(tool, args.clone())).await;
                    lat.push(t.elapsed());
                }
                lat
            });
        }
        let mut lat = Vec::with_capacity(n);
        while let Some(r) = set.join_next().await {
            lat.extend(r?);
        }
        let total = t0.elapsed();
        lat.sort();
        println!(
            "{tool:12} 16 concurrent: p50 {:.3} ms, p99 {:.3} ms, {:.0} calls/s",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            lat.len() as f64 / total.as_secs_f64()
        );
    }
    println!(
        "server RSS after {} calls: {} KiB",
        4 * n + 100,
        rss_kib(pid)
    );
    client.cancel().await?;
    confined_comparison(dir.path()).await
}

/// `shell_exec("true")` through an `open` server (unconfined child) and a `readonly` server
/// (the child confined read-only), in alternating batches so both see the same machine.
async fn confined_comparison(dir: &std::path::Path) -> anyhow::Result<()> {
    let server = |mode: &str, name: &str| {
        let audit = dir.join(name);
        let mode = mode.to_string();
        tokio::process::Command::new(env!("CARGO_BIN_EXE_relay-shell")).configure(move |c| {
            c.env("RELAY_SHELL_AUDIT_PATH", &audit)
                .env("RELAY_SHELL_LOG", "error")
                .env("RELAY_SHELL_POLICY_MODE", &mode);
        })
    };
    let open = ClientConfig::default()
        .serve(TokioChildProcess::new(server("open", "open.jsonl"))?)
        .await?;
    let readonly = ClientConfig::default()
        .serve(TokioChildProcess::new(server(
            "readonly",
            "readonly.jsonl",
        ))?)
        .await?;
    let args = serde_json::json!({"command": "true"});
    let (mut lat_open, mut lat_ro) = (Vec::new(), Vec::new());
    for round in 0..12 {
        for (client, lat) in [(&open, &mut lat_open), (&readonly, &mut lat_ro)] {
            for _ in 0..100 {
                let t = Instant::now();
                client.call_tool(params("shell_exec", args.clone())).await?;
                // the first two batches of each server are warm-up
                if round >= 2 {
                    lat.push(t.elapsed());
                }
            }
        }
    }
    for (name, lat) in [
        ("open (unconfined)", &mut lat_open),
        ("readonly (confined)", &mut lat_ro),
    ] {
        lat.sort();
        println!(
            "shell_exec(\"true\") {name:20} p50 {:.3} ms, p99 {:.3} ms ({} calls)",
            pct(lat, 0.5),
            pct(lat, 0.99),
            lat.len()
        );
    }
    println!(
        "confined minus unconfined at p50: {:+.3} ms",
        pct(&lat_ro, 0.5) - pct(&lat_open, 0.5)
    );
    open.cancel().await?;
    readonly.cancel().await?;
    Ok(())
}
