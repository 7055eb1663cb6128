//! SSH over a pooled OpenSSH master, against a real sshd on 127.0.0.1 (the test lab):
//! `ssh_exec("true")` on a warm master against `ssh -S <ctl> host true` over the same master
//! (interleaved, same run); `ssh_fanout` over 20 aliases of the server with concurrency 8,
//! cold then warm (masters reused); RSS of the server and of 20 live masters.
//!
//! Run: `cargo bench --bench ssh` (builds the release-profile binary; starts its own sshd).

#[path = "../tests/ssh_support/mod.rs"]
mod ssh_support;

use std::process::Command;
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

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The `-S` argument of a master's command line.
fn control_path(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let i = args.iter().position(|a| a == "-S").expect("-S");
    args[i + 1].clone()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let lab = ssh_support::lab();
    let dir = tempfile::tempdir()?;
    let audit = dir.path().join("audit.jsonl");
    let xdg = dir.path().join("run");
    std::fs::create_dir(&xdg)?;
    let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_relay-shell")).configure(|c| {
        c.env("RELAY_SHELL_AUDIT_PATH", &audit)
            .env("RELAY_SHELL_LOG", "error")
            .env("RELAY_SHELL_SSH_CONFIG", &lab.ssh_config)
            .env("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict")
            .env("XDG_RUNTIME_DIR", &xdg);
    });
    let transport = TokioChildProcess::new(cmd)?;
    let server_pid = transport.id().unwrap_or(0) as i32;
    let client = ClientConfig::default().serve(transport).await?;
    let exec = || {
        params(
            "ssh_exec",
            serde_json::json!({"host": "target", "command": "true"}),
        )
    };

    // Warm the master, then interleave the two ways of running `true` over it.
    for _ in 0..30 {
        client.call_tool(exec()).await?;
    }
    let master = ssh_support::masters(&xdg)[0];
    let ctl = control_path(master);
    let n = 300;
    let (mut ours, mut plain) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let t = Instant::now();
        client.call_tool(exec()).await?;
        ours.push(t.elapsed());
        let t = Instant::now();
        let st = Command::new("ssh")
            .args(["-F"])
            .arg(&lab.ssh_config)
            .args(["-o", "ControlMaster=no", "-S", &ctl, "target", "true"])
            .status()?;
        plain.push(t.elapsed());
        assert!(st.success());
    }
    ours.sort();
    plain.sort();
    println!(
        "ssh_exec(\"true\") warm, via MCP:   p50 {:.2} ms, p99 {:.2} ms ({n} calls)",
        pct(&ours, 0.5),
        pct(&ours, 0.99)
    );
    println!(
        "ssh -S <ctl> target true:          p50 {:.2} ms, p99 {:.2} ms ({n} runs)",
        pct(&plain, 0.5),
        pct(&plain, 0.99)
    );
    println!("ratio of p50s: {:.2}", pct(&ours, 0.5) / pct(&plain, 0.5));

    // Fan-out over 20 aliases of the same server, concurrency 8: cold (20 dials), then warm.
    let hosts: Vec<String> = (1..=20).map(|i| format!("t{i:02}")).collect();
    let fan = params(
        "ssh_fanout",
        serde_json::json!({"command": "true", "hosts": hosts.join(","), "concurrency": 8}),
    );
    for round in ["cold (20 new masters)", "warm (masters reused)"] {
        let t = Instant::now();
        let r = client.call_tool(fan.clone()).await?;
        let took = t.elapsed();
        let text = r.content[0]
            .as_text()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text)?;
        let ok = v["results"]
            .as_array()
            .map(|a| a.iter().filter(|h| h["exit_code"] == 0).count())
            .unwrap_or(0);
        println!(
            "ssh_fanout 20 hosts, concurrency 8, {round}: {:.1} ms total, {ok}/20 exit 0, masters {}",
            took.as_secs_f64() * 1e3,
            ssh_support::masters(&xdg).len()
        );
    }
    let before: Vec<i32> = ssh_support::masters(&xdg);
    let one = params(
        "ssh_fanout",
        serde_json::json!({"command": "true", "hosts": "t07"}),
    );
    let mut lat = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        client.call_tool(one.clone()).await?;
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "ssh_fanout one warm host: p50 {:.2} ms, p99 {:.2} ms; masters unchanged: {}",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        ssh_support::masters(&xdg) == before
    );

    let live = ssh_support::masters(&xdg);
    let masters_kib: u64 = live.iter().map(|p| rss_kib(*p)).sum();
    println!(
        "with {} live masters: server RSS {} KiB; the masters (separate ssh processes) {} KiB in all, {} KiB each on average",
        live.len(),
        rss_kib(server_pid),
        masters_kib,
        masters_kib / live.len().max(1) as u64
    );
    let _ = client.cancel().await;
    Ok(())
}
