//! `shell_exec("true")` over streamable HTTP through rmcp's client, against the stdio figure
//! measured in the same run: p50/p99 and calls/s with one client and with 64 concurrent
//! clients (each its own MCP session), and the server's RSS with 64 clients connected.
//!
//! Run: `cargo bench --bench http` (builds the release-profile binary).
//! `RELAY_SHELL_BENCH_CALLS=N` sets the calls per phase (default 1000).

use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use tokio::io::AsyncBufReadExt;

fn exec_true() -> CallToolRequestParams {
    CallToolRequestParams::new("shell_exec").with_arguments(
        serde_json::json!({"command": "true"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
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

fn report(label: &str, mut lat: Vec<Duration>, total: Duration) -> f64 {
    lat.sort();
    let p50 = pct(&lat, 0.5);
    println!(
        "{label:34} p50 {p50:.3} ms, p99 {:.3} ms, {:.0} calls/s ({} calls)",
        pct(&lat, 0.99),
        lat.len() as f64 / total.as_secs_f64(),
        lat.len()
    );
    p50
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, ClientConfig>;

async fn sequential(client: &Client, n: usize) -> anyhow::Result<(Vec<Duration>, Duration)> {
    for _ in 0..50 {
        client.call_tool(exec_true()).await?;
    }
    let mut lat = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        client.call_tool(exec_true()).await?;
        lat.push(t.elapsed());
    }
    Ok((lat, t0.elapsed()))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("RELAY_SHELL_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir()?;
    let bin = env!("CARGO_BIN_EXE_relay-shell");

    // stdio, for comparison.
    let audit = dir.path().join("stdio.jsonl");
    let cmd = tokio::process::Command::new(bin).configure(|c| {
        c.env("RELAY_SHELL_AUDIT_PATH", &audit)
            .env("RELAY_SHELL_LOG", "error");
    });
    let stdio = ClientConfig::default()
        .serve(TokioChildProcess::new(cmd)?)
        .await?;
    let (lat, total) = sequential(&stdio, n).await?;
    let stdio_p50 = report("stdio, 1 client", lat, total);
    stdio.cancel().await?;

    // HTTP on a free loopback port (read from the server's log line).
    let audit = dir.path().join("http.jsonl");
    let mut server = tokio::process::Command::new(bin)
        .env("RELAY_SHELL_TRANSPORT", "http")
        .env("RELAY_SHELL_HTTP_PORT", "0")
        .env("RELAY_SHELL_AUDIT_PATH", &audit)
        .env("RELAY_SHELL_LOG", "error,relay_shell::http=info")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = server.id().unwrap_or(0);
    let mut lines = tokio::io::BufReader::new(server.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let Some(line) = lines.next_line().await? else {
            anyhow::bail!("the server exited before listening");
        };
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split('/').next().unwrap_or_default().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = format!("http://{addr}/mcp");
    let connect = || {
        ClientConfig::default().serve(StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(url.clone()),
        ))
    };

    let one = connect().await?;
    let (lat, total) = sequential(&one, n).await?;
    let http_p50 = report("http, 1 client", lat, total);
    one.cancel().await?;

    let mut clients = Vec::with_capacity(64);
    for _ in 0..64 {
        clients.push(connect().await?);
    }
    println!("server RSS with 64 clients connected: {} KiB", rss_kib(pid));
    for c in &clients {
        c.call_tool(exec_true()).await?;
    }
    let per = n.div_ceil(64).max(10);
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for c in &clients {
        let peer = c.peer().clone();
        set.spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                let ok = peer.call_tool(exec_true()).await.is_ok();
                lat.push((t.elapsed(), ok));
            }
            lat
        });
    }
    let mut lat = Vec::with_capacity(per * 64);
    let mut failed = 0;
    while let Some(r) = set.join_next().await {
        for (d, ok) in r? {
            lat.push(d);
            failed += usize::from(!ok);
        }
    }
    let total = t0.elapsed();
    report("http, 64 concurrent clients", lat, total);
    println!(
        "server RSS with 64 clients after {} calls: {} KiB ({failed} failed)",
        per * 64,
        rss_kib(pid)
    );
    println!(
        "p50 over HTTP minus stdio, 1 client: {:+.3} ms",
        http_p50 - stdio_p50
    );
    for c in clients {
        c.cancel().await?;
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = tokio::time::timeout(Duration::from_secs(15), server.wait()).await;
    Ok(())
}
