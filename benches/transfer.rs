//! SFTP transfers over a pooled OpenSSH master, against a real sshd on 127.0.0.1 (the test
//! lab), in the same run as OpenSSH's own clients over the same master: a 200 MB file each way
//! (`ssh_upload`/`ssh_download` against `sftp put`/`get`), the server's RSS growth while it
//! moves, and a tree of 2,000 small files each way (against `scp -r` and `sftp -r`).
//!
//! Run: `cargo bench --bench transfer` (builds the release-profile binary; starts its own sshd).

#[path = "../tests/ssh_support/mod.rs"]
mod ssh_support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};

const BIG: usize = 200 * 1000 * 1000;
const ROUNDS: usize = 3;

fn params(tool: &str, args: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default())
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

/// Bytes that do not compress (a xorshift stream).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Run an OpenSSH client (`sftp` or `scp`) over the master's socket; seconds taken.
fn openssh(program: &str, config: &Path, ctl: &str, args: &[&str], batch: Option<&str>) -> f64 {
    let mut cmd = Command::new(program);
    cmd.arg("-F")
        .arg(config)
        .args(["-o", "ControlMaster=no", "-o"])
        .arg(format!("ControlPath={ctl}"))
        .args(args)
        .stdout(std::process::Stdio::null());
    let t = Instant::now();
    let st = match batch {
        Some(b) => {
            use std::io::Write;
            let mut child = cmd
                .args(["-b", "-", "target"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect(program);
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b.as_bytes())
                .expect("batch");
            child.wait().expect(program)
        }
        None => cmd.status().expect(program),
    };
    assert!(st.success(), "{program} {args:?} failed");
    t.elapsed().as_secs_f64()
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
            .env("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict");
        c.env("XDG_RUNTIME_DIR", &xdg);
    });
    let transport = TokioChildProcess::new(cmd)?;
    let server_pid = transport.id().unwrap_or(0) as i32;
    let client = ClientConfig::default().serve(transport).await?;
    let call = |tool: &str, args: serde_json::Value| {
        let p = params(tool, args);
        let client = &client;
        async move {
            let r = client.call_tool(p).await.expect("call");
            r.content[0]
                .as_text()
                .map(|t| t.text.clone())
                .unwrap_or_default()
        }
    };
    call(
        "ssh_exec",
        serde_json::json!({"host": "target", "command": "true"}),
    )
    .await;
    let master = ssh_support::masters(&xdg)[0];
    let ctl = control_path(master);

    let here = dir.path().join("here");
    let there = dir.path().join("there");
    std::fs::create_dir_all(&here)?;
    std::fs::create_dir_all(&there)?;
    let big = here.join("big.bin");
    std::fs::write(&big, noise(BIG))?;

    // RSS sampler over the whole run of our transfers.
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(false));
    {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            loop {
                if sampling.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(server_pid), Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
    }
    // One warm-up each way so allocator and page cache are settled for both clients.
    let up_args = serde_json::json!({"host": "target", "local_path": big, "remote_path": there.join("up.bin")});
    let down_args = serde_json::json!({"host": "target", "remote_path": there.join("up.bin"),
        "local_path": here.join("down.bin")});
    call("ssh_upload", up_args.clone()).await;
    call("ssh_download", down_args.clone()).await;
    let base = rss_kib(server_pid);
    sampling.store(true, Ordering::Relaxed);

    let (mut ours_up, mut ours_down, mut sftp_up, mut sftp_down) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let out = call("ssh_upload", up_args.clone()).await;
        ours_up.push(t.elapsed().as_secs_f64());
        assert!(out.starts_with("uploaded"), "{out}");
        let t = Instant::now();
        let out = call("ssh_download", down_args.clone()).await;
        ours_down.push(t.elapsed().as_secs_f64());
        assert!(out.starts_with("downloaded"), "{out}");
        sampling.store(false, Ordering::Relaxed);
        sftp_up.push(openssh(
            "sftp",
            &lab.ssh_config,
            &ctl,
            &["-q"],
            Some(&format!(
                "put {} {}\n",
                big.display(),
                there.join("sftp-up.bin").display()
            )),
        ));
        sftp_down.push(openssh(
            "sftp",
            &lab.ssh_config,
            &ctl,
            &["-q"],
            Some(&format!(
                "get {} {}\n",
                there.join("sftp-up.bin").display(),
                here.join("sftp-down.bin").display()
            )),
        ));
        sampling.store(true, Ordering::Relaxed);
    }
    sampling.store(false, Ordering::Relaxed);
    let mb = BIG as f64 / 1e6;
    let row = |what: &str, ours: &[f64], theirs: &[f64]| {
        let (o, t) = (median(ours.to_vec()), median(theirs.to_vec()));
        println!(
            "{what}: ours {:.0} MB/s ({:.2} s), sftp {:.0} MB/s ({:.2} s), ratio {:.2}",
            mb / o,
            o,
            mb / t,
            t,
            t / o
        );
    };
    println!("200 MB file over the same master, median of {ROUNDS} interleaved rounds:");
    row("  upload  ", &ours_up, &sftp_up);
    row("  download", &ours_down, &sftp_down);
    println!(
        "  server RSS: {} KiB before, peak {} KiB during our transfers (growth {} KiB)",
        base,
        peak.load(Ordering::Relaxed),
        peak.load(Ordering::Relaxed).saturating_sub(base)
    );

    // 2,000 small files in 20 directories, 1–8 KiB each.
    let tree = here.join("tree");
    for d in 0..20 {
        std::fs::create_dir_all(tree.join(format!("d{d:02}")))?;
        for f in 0..100 {
            let n = 1024 + ((d * 100 + f) * 37) % 7168;
            std::fs::write(tree.join(format!("d{d:02}/f{f:03}")), &noise(n)[..])?;
        }
    }
    let (mut o_up, mut o_down, mut scp_up, mut scp_down, mut s_up, mut s_down) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let dst = there.join(format!("ours{round}"));
        let t = Instant::now();
        let out = call(
            "ssh_upload",
            serde_json::json!({"host": "target", "local_path": tree, "remote_path": dst, "recursive": true}),
        )
        .await;
        o_up.push(t.elapsed().as_secs_f64());
        assert!(out.contains("(2000 files"), "{out}");
        let back = here.join(format!("ours-back{round}"));
        let t = Instant::now();
        let out = call(
            "ssh_download",
            serde_json::json!({"host": "target", "remote_path": dst, "local_path": back, "recursive": true}),
        )
        .await;
        o_down.push(t.elapsed().as_secs_f64());
        assert!(out.contains("(2000 files"), "{out}");
        let dst = there.join(format!("scp{round}"));
        scp_up.push(openssh(
            "scp",
            &lab.ssh_config,
            &ctl,
            &[
                "-q",
                "-r",
                "-p",
                &tree.display().to_string(),
                &format!("target:{}", dst.display()),
            ],
            None,
        ));
        scp_down.push(openssh(
            "scp",
            &lab.ssh_config,
            &ctl,
            &[
                "-q",
                "-r",
                "-p",
                &format!("target:{}", dst.display()),
                &here.join(format!("scp-back{round}")).display().to_string(),
            ],
            None,
        ));
        let dst = there.join(format!("sftp{round}"));
        s_up.push(openssh(
            "sftp",
            &lab.ssh_config,
            &ctl,
            &["-q"],
            Some(&format!("put -rp {} {}\n", tree.display(), dst.display())),
        ));
        s_down.push(openssh(
            "sftp",
            &lab.ssh_config,
            &ctl,
            &["-q"],
            Some(&format!(
                "get -rp {} {}\n",
                dst.display(),
                here.join(format!("sftp-back{round}")).display()
            )),
        ));
    }
    println!("2,000 files (20 directories, 1-8 KiB each), median of {ROUNDS} rounds, seconds:");
    println!(
        "  upload:   ours {:.2}, scp -r {:.2}, sftp put -r {:.2}",
        median(o_up),
        median(scp_up),
        median(s_up)
    );
    println!(
        "  download: ours {:.2}, scp -r {:.2}, sftp get -r {:.2}",
        median(o_down),
        median(scp_down),
        median(s_down)
    );
    let _ = client.cancel().await;
    Ok(())
}
