//! The shipped logrotate configuration run by logrotate itself while tool calls are running,
//! then `--verify-audit` over the whole directory (every segment and every seam, compressed
//! ones included); and the progress display of `--verify-audit`: drawn on a terminal, absent
//! when the output is not one.

mod common;
mod deploy_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use deploy_support::{bin, deploy, output, texts, tool, wait_until};

/// The shipped file with the audit path of this test, rotated as root (the owner of the
/// test's files) instead of the service account.
fn logrotate_conf(dir: &Path, audit: &Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(deploy("logrotate/relay-shell")).expect("logrotate");
    assert!(shipped.contains("\n/var/log/relay-shell/audit.jsonl {\n"));
    assert!(shipped.contains("\n\tsu relay-shell relay-shell\n"));
    let text = shipped
        .replace(
            "\n/var/log/relay-shell/audit.jsonl {\n",
            &format!("\n{} {{\n", audit.display()),
        )
        .replace("\n\tsu relay-shell relay-shell\n", "\n\tsu root root\n");
    let conf = dir.join("relay-shell");
    std::fs::write(&conf, text).expect("write conf");
    conf
}

fn verify(dir: &Path) -> (i32, String, String) {
    let o = output(
        Command::new(bin())
            .env_clear()
            .arg("--verify-audit")
            .arg("--audit-path")
            .arg(dir),
    );
    let (out, err) = texts(&o);
    (o.status.code().unwrap_or(-1), out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logrotate_rotates_under_running_calls_and_the_directory_verifies() {
    let server = Arc::new(common::start(&[]).await);
    let state = tempfile::tempdir().expect("tempdir");
    let conf = logrotate_conf(state.path(), &server.audit);
    let logs = server.audit.parent().expect("dir").to_path_buf();

    // Calls run continuously on two tasks while logrotate renames the file under them.
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for task in 0..2 {
        let (server, done, stop) = (server.clone(), done.clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let out = server
                    .call(
                        "shell_exec",
                        serde_json::json!({"command": format!("echo call-{task}-{i}")}),
                    )
                    .await;
                assert_eq!(out, format!("[exit 0]\ncall-{task}-{i}\n"));
                done.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        }));
    }
    for round in 1..=3u64 {
        // Each rotation finds records written since the previous one.
        let target = round * 10;
        let d = done.clone();
        tokio::task::spawn_blocking(move || {
            wait_until("calls completed", || d.load(Ordering::SeqCst) >= target)
        })
        .await
        .expect("wait");
        let o = output(
            Command::new(tool("logrotate"))
                .arg("-f")
                .arg("-s")
                .arg(state.path().join("status"))
                .arg(&conf),
        );
        let (out, err) = texts(&o);
        assert!(o.status.success(), "round {round}: {out}{err}");
    }
    let after = done.load(Ordering::SeqCst) + 10;
    let d = done.clone();
    tokio::task::spawn_blocking(move || {
        wait_until("calls after the last rotation", || {
            d.load(Ordering::SeqCst) >= after
        })
    })
    .await
    .expect("wait");
    stop.store(true, Ordering::SeqCst);
    for c in callers {
        c.await.expect("caller");
    }
    let calls = done.load(Ordering::SeqCst);
    let common::Server { client, dir, audit } = Arc::into_inner(server).expect("sole owner");
    let _ = client.cancel().await;
    let dir = dir.path().to_path_buf();

    // logrotate's layout: the live file (re-created 0600), .1 kept plain by delaycompress,
    // .2.gz and .3.gz.
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "audit.jsonl",
            "audit.jsonl.1",
            "audit.jsonl.2.gz",
            "audit.jsonl.3.gz"
        ]
    );
    let mode = std::fs::metadata(&audit)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let (code, out, err) = verify(&dir);
    assert_eq!(err, "relay-shell: verify-audit OK\n", "{out}");
    assert_eq!(code, 0);
    // Each call wrote a start and a completion record; none was lost across the seams.
    let first = out.lines().next().expect("reason");
    assert_eq!(
        first,
        format!(
            "chain intact and genesis-anchored across 4 segment(s): {} record(s) from seq 0",
            calls * 2
        )
    );
}

/// A directory of `n` rotated segments written by a real server.
async fn rotated_dir(n: usize) -> tempfile::TempDir {
    let server = common::start(&[]).await;
    for i in 0..n {
        let out = server
            .call(
                "shell_exec",
                serde_json::json!({"command": format!("echo {i}")}),
            )
            .await;
        assert_eq!(out, format!("[exit 0]\n{i}\n"));
        if i + 1 < n {
            // Rotation by rename, as logrotate does it; the server opens a new file.
            let rotated = server
                .audit
                .with_file_name(format!("audit.jsonl.{}", n - 1 - i));
            std::fs::rename(&server.audit, rotated).expect("rename");
        }
    }
    let common::Server { client, dir, .. } = server;
    let _ = client.cancel().await;
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_audit_shows_progress_on_a_terminal_only() {
    let dir = rotated_dir(3).await;
    // Not a terminal: the report and the verdict, nothing else.
    let (code, out, err) = verify(dir.path());
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(err, "relay-shell: verify-audit OK\n");
    assert!(out.starts_with("chain intact and genesis-anchored across 3 segment(s)"));
    assert!(!out.contains("verifying"), "{out}");

    // On a terminal (script(1) runs the command on a new pseudo-terminal): the progress line
    // with segments, megabytes and megabytes per second, then the same report.
    let cmd = format!(
        "{} --verify-audit --audit-path {}",
        bin(),
        dir.path().display()
    );
    let o = output(
        Command::new(tool("script"))
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .env("TERM", "xterm")
            .env("COLUMNS", "120"),
    );
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("verifying 3 segment(s)"), "{out:?}");
    assert!(out.contains(" B/s") || out.contains("B/s"), "{out:?}");
    assert!(out.contains("relay-shell: verify-audit OK"), "{out:?}");
    assert!(out.contains("chain intact and genesis-anchored across 3 segment(s)"));
}
