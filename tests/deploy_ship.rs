//! Off-host shipping end to end: the shipped rsyslog configuration (imfile → omfwd) follows a
//! real server's audit log and forwards it over TCP to a second rsyslog standing for the
//! collector, which writes each message back out as it came; the received copy passes
//! `relay-shell --verify-audit`, byte for byte the same as the original.

mod common;
mod deploy_support;

use std::path::Path;
use std::process::{Command, Stdio};

use deploy_support::{Reaped, bin, deploy, free_port, listening, output, texts, tool, wait_until};

fn rsyslogd(conf: &Path, pid: &Path) -> Reaped {
    let child = Command::new(tool("rsyslogd"))
        .arg("-n")
        .arg("-f")
        .arg(conf)
        .arg("-i")
        .arg(pid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rsyslogd");
    Reaped(child)
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_ships_the_log_and_the_received_copy_verifies() {
    let server = common::start(&[]).await;
    for i in 0..20 {
        let out = server
            .call(
                "shell_exec",
                serde_json::json!({"command": format!("echo shipped-{i} 'with \"quotes\" and ünïcödé'")}),
            )
            .await;
        assert!(out.starts_with("[exit 0]\nshipped-"), "{out}");
    }
    let original = std::fs::read_to_string(&server.audit).expect("audit");
    let records = original.lines().count();
    assert_eq!(records, 40);

    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let port = free_port();

    // The collector: TCP in, each message's text out, one line per message.
    let received_dir = w.join("received");
    std::fs::create_dir_all(&received_dir).expect("mkdir");
    std::fs::create_dir_all(w.join("collector-work")).expect("mkdir");
    let received = received_dir.join("audit.jsonl");
    let collector = w.join("collector.conf");
    std::fs::write(
        &collector,
        format!(
            r#"global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
template(name="MessageOnly" type="string" string="%msg%\n")
ruleset(name="in") {{
  action(type="omfile" file="{out}" template="MessageOnly")
}}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="in")
"#,
            work = w.join("collector-work").display(),
            out = received.display(),
        ),
    )
    .expect("write");
    let _collector = rsyslogd(&collector, &w.join("collector.pid"));
    wait_until("the collector listening", || listening(port));

    // The shipper: the shipped file, with this test's log path and collector address.
    let shipped = std::fs::read_to_string(deploy("rsyslog/relay-shell.conf")).expect("conf");
    for needle in [
        "File=\"/var/log/relay-shell/audit.jsonl\"",
        "target=\"audit-collector.example.net\" port=\"514\"",
    ] {
        assert!(shipped.contains(needle), "{needle}");
    }
    let fragment = shipped
        .replace(
            "File=\"/var/log/relay-shell/audit.jsonl\"",
            &format!("File=\"{}\"", server.audit.display()),
        )
        .replace(
            "target=\"audit-collector.example.net\" port=\"514\"",
            &format!("target=\"127.0.0.1\" port=\"{port}\""),
        );
    std::fs::write(w.join("relay-shell.conf"), fragment).expect("write");
    std::fs::create_dir_all(w.join("shipper-work")).expect("mkdir");
    let shipper = w.join("shipper.conf");
    std::fs::write(
        &shipper,
        format!(
            "global(workDirectory=\"{}\")\ninclude(file=\"{}\")\n",
            w.join("shipper-work").display(),
            w.join("relay-shell.conf").display()
        ),
    )
    .expect("write");
    let _shipper = rsyslogd(&shipper, &w.join("shipper.pid"));
    wait_until("every line received", || lines(&received) >= records);

    // Lines written while shipping is running follow.
    let out = server
        .call("shell_exec", serde_json::json!({"command": "echo late"}))
        .await;
    assert_eq!(out, "[exit 0]\nlate\n");
    let original = std::fs::read_to_string(&server.audit).expect("audit");
    let total = original.lines().count();
    wait_until("the late lines received", || lines(&received) >= total);
    server.stop().await;

    let copy = std::fs::read_to_string(&received).expect("received");
    assert_eq!(copy, original, "the collector's copy differs from the log");
    let o = output(
        Command::new(bin())
            .env_clear()
            .arg("--verify-audit")
            .arg("--audit-path")
            .arg(&received_dir),
    );
    let (out, err) = texts(&o);
    assert_eq!(err, "relay-shell: verify-audit OK\n", "{out}");
    assert_eq!(
        out.lines().next(),
        Some(
            format!(
                "chain intact and genesis-anchored across 1 segment(s): {total} record(s) from seq 0"
            )
            .as_str()
        )
    );
}
