//! `ssh_forward`, `ssh_forward_list` and `ssh_forward_close` end to end: the real binary,
//! driven by rmcp's client, against the test lab's OpenSSH server on 127.0.0.1, carrying real
//! HTTP through `L:`, `R:` and `D:` (curl over SOCKS5) forwards.

mod common;
mod ssh_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::ClientConfig;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;
use ssh_support::{lab, masters, wait_until};

async fn server(extra: &[(&str, &str)]) -> (common::Server, tempfile::TempDir) {
    let lab = lab();
    let xdg = tempfile::tempdir().expect("xdg");
    let cfg = lab.ssh_config.display().to_string();
    let xdg_s = xdg.path().display().to_string();
    let mut envs: Vec<(&str, &str)> = vec![
        ("RELAY_SHELL_SSH_CONFIG", &cfg),
        ("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict"),
        // These tests read exact results; the tier notice every transfer and forward gets
        // (tier 2: the tool changes state) is tested in src/notices.rs.
        ("RELAY_SHELL_UNSAFE_NOTICES", "false"),
        ("XDG_RUNTIME_DIR", &xdg_s),
    ];
    envs.extend_from_slice(extra);
    (common::start(&envs).await, xdg)
}

/// A tiny HTTP server on 127.0.0.1 answering every request with `body`; its port.
fn http_server(body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = write!(
                    c,
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn curl(args: &[&str]) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl (scripts/test.sh installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `forward <id> active: <kind> <spec> listening on port <port>` → (id, port).
fn opened(out: &str, kind: &str, spec: &str) -> (String, u16) {
    let rest = out
        .strip_prefix("forward ")
        .unwrap_or_else(|| panic!("{out}"));
    let (id, rest) = rest.split_once(' ').unwrap();
    assert!(id.starts_with("fwd-") && id.len() == 16, "{out}");
    assert!(id[4..].bytes().all(|b| b.is_ascii_hexdigit()), "{out}");
    let tail = rest
        .strip_prefix(&format!("active: {kind} {spec} listening on port "))
        .unwrap_or_else(|| panic!("{out}"));
    (id.to_string(), tail.parse().expect("port"))
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_ok()
}

#[tokio::test]
async fn local_remote_and_dynamic_forwards_carry_http_then_close() {
    let (s, _x) = server(&[]).await;
    let web = http_server("hello through the tunnel\n");
    assert_eq!(s.call("ssh_forward_list", json!({})).await, "[]");

    let spec = format!("L:0:127.0.0.1:{web}");
    let out = s
        .call("ssh_forward", json!({"host": "target", "spec": spec}))
        .await;
    let (lid, lport) = opened(&out, "local", &spec);
    assert_ne!(lport, web);
    assert_eq!(
        curl(&[&format!("http://127.0.0.1:{lport}/")]),
        "hello through the tunnel\n"
    );
    let rec = s.completion_records().pop().unwrap();
    assert_eq!(rec["tier"], 2);
    assert_eq!(rec["args"]["forward_id"], lid.as_str());
    assert_eq!(rec["args"]["listen_port"], lport);
    assert_eq!(rec["args"]["known_hosts"], "strict");

    // R: with port 0 returns the port the remote sshd allocated; reachable over there.
    let spec = format!("R:0:127.0.0.1:{web}");
    let out = s
        .call("ssh_forward", json!({"host": "target", "spec": spec}))
        .await;
    let (rid, rport) = opened(&out, "remote", &spec);
    assert_ne!(rport, 0);
    let remote = s
        .call(
            "ssh_exec",
            json!({"host": "target", "command": format!("curl -s --max-time 10 http://127.0.0.1:{rport}/")}),
        )
        .await;
    assert_eq!(remote, "[exit 0]\nhello through the tunnel\n");
    // The same R:0 request again would be the same listener: refused, not shared.
    let out = s
        .call("ssh_forward", json!({"host": "target", "spec": spec}))
        .await;
    assert_eq!(
        out,
        format!(
            "[ERROR: InvalidArgument: {rid} already forwards 127.0.0.1:0:127.0.0.1:{web} over \
             this connection; use it or close it]"
        )
    );

    // D: a SOCKS proxy whose connections leave from the remote host (which resolves the name).
    let out = s
        .call("ssh_forward", json!({"host": "target", "spec": "d:0"}))
        .await;
    let (did, dport) = opened(&out, "dynamic", "d:0");
    assert_eq!(
        curl(&[
            "--socks5-hostname",
            &format!("127.0.0.1:{dport}"),
            &format!("http://localhost:{web}/")
        ]),
        "hello through the tunnel\n"
    );

    let list: serde_json::Value =
        serde_json::from_str(&s.call("ssh_forward_list", json!({})).await).unwrap();
    assert_eq!(
        list,
        json!([
            {"id": lid, "kind": "local", "spec": format!("L:0:127.0.0.1:{web}"), "listen_port": lport,
             "target": format!("127.0.0.1:{web}"), "host": "target", "bind": "127.0.0.1", "alive": true},
            {"id": rid, "kind": "remote", "spec": format!("R:0:127.0.0.1:{web}"), "listen_port": rport,
             "target": format!("127.0.0.1:{web}"), "host": "target", "bind": "127.0.0.1", "alive": true},
            {"id": did, "kind": "dynamic", "spec": "d:0", "listen_port": dport,
             "target": "socks", "host": "target", "bind": "127.0.0.1", "alive": true},
        ])
    );

    for (id, port) in [(&lid, lport), (&rid, rport), (&did, dport)] {
        let out = s.call("ssh_forward_close", json!({"forward_id": id})).await;
        assert_eq!(out, format!("closed forward {id}"));
        assert!(
            wait_until(Duration::from_secs(10), || !listening(port)),
            "port {port} of {id} still listening after close (l {lport} r {rport} d {dport})"
        );
    }
    let rec = s.completion_records().pop().unwrap();
    assert_eq!(rec["tier"], 1);
    let out = s
        .call("ssh_forward_close", json!({"forward_id": lid}))
        .await;
    assert_eq!(out, format!("[ERROR: unknown forward: {lid}]"));
    assert_eq!(s.call("ssh_forward_list", json!({})).await, "[]");
    s.stop().await;
}

#[tokio::test]
async fn a_forward_whose_master_died_is_shown_dead_then_forgotten() {
    let (s, xdg) = server(&[]).await;
    let web = http_server("x");
    let out = s
        .call(
            "ssh_forward",
            json!({"host": "target", "spec": format!("L:0:127.0.0.1:{web}")}),
        )
        .await;
    let (id, port) = opened(&out, "local", &format!("L:0:127.0.0.1:{web}"));
    let m = masters(xdg.path());
    assert_eq!(m.len(), 1, "{m:?}");
    // SAFETY: a signal to an ssh master this test's server started.
    unsafe {
        libc::kill(m[0], libc::SIGKILL);
    }
    assert!(wait_until(Duration::from_secs(10), || masters(xdg.path()).is_empty()));
    let list: serde_json::Value =
        serde_json::from_str(&s.call("ssh_forward_list", json!({})).await).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["alive"], false);
    assert!(!listening(port));
    assert_eq!(s.call("ssh_forward_list", json!({})).await, "[]");
    assert_eq!(
        s.call("ssh_forward_close", json!({"forward_id": id})).await,
        format!("[ERROR: unknown forward: {id}]")
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_forwards_are_clear_errors_and_leave_no_listener() {
    let (s, _x) = server(&[("RELAY_SHELL_MAX_FORWARDS", "1")]).await;
    let out = s
        .call("ssh_forward", json!({"host": "target", "spec": "L:8080"}))
        .await;
    assert_eq!(
        out,
        "[ERROR: InvalidArgument: invalid L forward spec; expected \
         L:[<bind_address>:]<listen_port>:<dest_host>:<dest_port>]"
    );
    let out = s
        .call("ssh_forward", json!({"host": "target", "spec": "Q:1:a:2"}))
        .await;
    assert_eq!(
        out,
        "[ERROR: InvalidArgument: forward spec must start with L:, R: or D:]"
    );
    // Non-loopback listeners are refused without the setting, on either side.
    for spec in [
        "L:0.0.0.0:0:127.0.0.1:80",
        "D:0.0.0.0:0",
        "R:10.1.2.3:0:127.0.0.1:80",
    ] {
        let out = s
            .call("ssh_forward", json!({"host": "target", "spec": spec}))
            .await;
        assert!(
            out.starts_with("[ERROR: PermissionDenied: a forward may only listen on loopback;"),
            "{spec}: {out}"
        );
    }
    // A local port in use.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let tport = taken.local_addr().unwrap().port();
    let out = s
        .call(
            "ssh_forward",
            json!({"host": "target", "spec": format!("L:{tport}:127.0.0.1:80")}),
        )
        .await;
    assert_eq!(
        out,
        format!(
            "[ERROR: Busy: port {tport} on 127.0.0.1 is already in use; pick another or 0 for any]"
        )
    );
    // A remote port in use (the remote host is this one): the remote sshd refuses.
    let out = s
        .call(
            "ssh_forward",
            json!({"host": "target", "spec": format!("R:{tport}:127.0.0.1:80")}),
        )
        .await;
    assert!(
        out.starts_with(&format!(
            "[ERROR: ConnectionFailed: forward -R 127.0.0.1:{tport}:127.0.0.1:80: the remote \
             host refused to listen"
        )),
        "{out}"
    );
    assert_eq!(s.call("ssh_forward_list", json!({})).await, "[]");
    // The cap.
    let out = s
        .call("ssh_forward", json!({"host": "target", "spec": "D:0"}))
        .await;
    let (_, port) = opened(&out, "dynamic", "D:0");
    let out = s
        .call("ssh_forward", json!({"host": "target", "spec": "D:0"}))
        .await;
    assert_eq!(
        out,
        "[ERROR: Busy: forward limit reached (1); close an existing forward first]"
    );
    let recs = s.completion_records();
    assert!(
        recs.iter()
            .filter(|r| r["tool"] == "ssh_forward")
            .all(|r| r["denied"] == false && r["tier"] == 2)
    );
    // Shutdown closes every forward.
    assert!(listening(port));
    s.stop().await;
    assert!(
        wait_until(Duration::from_secs(15), || !listening(port)),
        "the forward outlived the server"
    );
}

#[tokio::test]
async fn non_loopback_listeners_with_the_setting() {
    let (s, _x) = server(&[("RELAY_SHELL_FORWARD_ALLOW_NONLOOPBACK", "true")]).await;
    let out = s
        .call(
            "ssh_forward",
            json!({"host": "target", "spec": "D:0.0.0.0:0"}),
        )
        .await;
    let (_, port) = opened(&out, "dynamic", "D:0.0.0.0:0");
    let list: serde_json::Value =
        serde_json::from_str(&s.call("ssh_forward_list", json!({})).await).unwrap();
    assert_eq!(list[0]["bind"], "0.0.0.0");
    assert!(listening(port));
    s.stop().await;
}

#[tokio::test]
async fn a_privileged_port_without_the_right_is_refused() {
    // The server runs without CAP_NET_BIND_SERVICE (dropped from its bounding set), as a
    // service without that capability would.
    let lab = lab();
    let xdg = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let cmd = tokio::process::Command::new(common::bin()).configure(|c| {
        c.env("RELAY_SHELL_AUDIT_PATH", &audit)
            .env("RELAY_SHELL_LOG", "warn")
            .env("RELAY_SHELL_SSH_CONFIG", &lab.ssh_config)
            .env("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict")
            .env("RELAY_SHELL_UNSAFE_NOTICES", "false")
            .env("XDG_RUNTIME_DIR", xdg.path());
        // SAFETY: prctl only, between fork and exec.
        unsafe {
            c.pre_exec(|| {
                if libc::prctl(libc::PR_CAPBSET_DROP, 10, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    let client = ClientConfig::default()
        .serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap();
    let r = client
        .call_tool(common::params(
            "ssh_forward",
            json!({"host": "target", "spec": "L:80:127.0.0.1:22"}),
        ))
        .await
        .unwrap();
    assert_eq!(
        common::text(&r),
        "[ERROR: PermissionDenied: port 80 on 127.0.0.1 is privileged and the server may not \
         bind it (ports below 1024 need CAP_NET_BIND_SERVICE); pick a port of 1024 or more]"
    );
    let _ = client.cancel().await;
}
