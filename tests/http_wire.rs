//! The HTTP transport against hostile or broken input, and its lifecycle: DNS-rebinding
//! protection, the bind policy, bad bodies and content types, unknown and flooded sessions,
//! slow clients, the metrics token, and graceful shutdown on SIGTERM.

mod http_support;

use std::time::Duration;

use http_support::{HttpServer, call, initialize_body, mcp_post, write_tokens};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Read until the server closes the connection; returns what it sent. The outer timeout
/// only turns a hang into a failure.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_host_and_origin_are_refused_with_403() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    write_tokens(&tokens, &[("alice", "tok-a", None)]);
    let tokens_s = tokens.display().to_string();
    let server = HttpServer::start_in(
        dir,
        &[
            ("RELAY_SHELL_AUTH_TOKENS_FILE", &tokens_s),
            ("RELAY_SHELL_HTTP_ALLOWED_ORIGINS", "https://app.example"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let post = |host: Option<&str>, origin: Option<&str>| {
        let mut r = mcp_post(&http, &server.url("/mcp"))
            .header("authorization", "Bearer tok-a")
            .body(initialize_body());
        if let Some(h) = host {
            r = r.header("host", h);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    // Refused before authentication, even with a valid token.
    let r = post(Some("evil.example"), None).await.expect("POST");
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.text().await.expect("body"),
        "Forbidden: Host header is not allowed"
    );
    let r = post(None, Some("http://evil.example")).await.expect("POST");
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.text().await.expect("body"),
        "Forbidden: Origin header is not allowed"
    );
    let r = post(Some(&format!("evil.example:{}", server.addr.port())), None)
        .await
        .expect("POST");
    assert_eq!(r.status(), 403);
    let r = http
        .get(server.url("/metrics"))
        .header("host", "evil.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 403, "metrics are behind the same guard");
    // Loopback, the configured origin and no origin at all pass.
    for origin in [
        None,
        Some("http://localhost:6274"),
        Some("https://app.example"),
    ] {
        let r = post(Some(&format!("localhost:{}", server.addr.port())), origin)
            .await
            .expect("POST");
        assert_eq!(r.status(), 200, "{origin:?}");
    }
    // Without a token, a foreign host is still a 403, not a 401.
    let r = mcp_post(&http, &server.url("/mcp"))
        .header("host", "evil.example")
        .body(initialize_body())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 403);
}

#[test]
fn a_network_bind_without_authentication_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    for extra in [&[][..], &["--check-config"][..]] {
        let out = http_support::command(&[
            ("RELAY_SHELL_TRANSPORT", "http"),
            ("RELAY_SHELL_HTTP_HOST", "0.0.0.0"),
            ("RELAY_SHELL_AUDIT_PATH", &audit_s),
        ])
        .args(extra)
        .output()
        .expect("run");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err,
            "relay-shell: invalid configuration: refusing to serve HTTP on 0.0.0.0 without \
             authentication: set RELAY_SHELL_AUTH_ENABLED=true or RELAY_SHELL_AUTH_TOKENS_FILE, \
             bind a loopback address, or set RELAY_SHELL_ALLOW_UNAUTH_NETWORK=true if an \
             authenticating proxy is the only way to reach the port\n"
        );
    }
    let out = http_support::command(&[
        ("RELAY_SHELL_TRANSPORT", "http"),
        ("RELAY_SHELL_HTTP_HOST", "0.0.0.0"),
        ("RELAY_SHELL_ALLOW_UNAUTH_NETWORK", "true"),
        ("RELAY_SHELL_AUDIT_PATH", &audit_s),
    ])
    .arg("--check-config")
    .output()
    .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A token file others can read is refused at start, naming the fix.
    let tokens = dir.path().join("tokens");
    write_tokens(&tokens, &[("a", "t", None)]);
    let open = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o644);
    std::fs::set_permissions(&tokens, open).expect("chmod");
    let out = http_support::command(&[
        ("RELAY_SHELL_TRANSPORT", "http"),
        (
            "RELAY_SHELL_AUTH_TOKENS_FILE",
            &tokens.display().to_string(),
        ),
        ("RELAY_SHELL_AUDIT_PATH", &audit_s),
    ])
    .arg("--check-config")
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has mode 0644: it must not be accessible by group or others"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_answer_and_the_server_keeps_serving() {
    let server = HttpServer::start(&[
        ("RELAY_SHELL_HTTP_MAX_BODY_BYTES", "4096"),
        ("RELAY_SHELL_HTTP_MAX_SESSIONS", "3"),
    ])
    .await;
    let client = server.client(None).await;
    let http = reqwest::Client::new();
    let url = server.url("/mcp");

    // Malformed JSON: a JSON-RPC parse error. JSON that is not JSON-RPC: invalid request.
    for (body, code) in [
        ("{\"jsonrpc\":\"2.0\",\"id\":1,", -32700),
        ("not json at all", -32700),
        ("", -32700),
        ("[]", -32600),
        ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":42}", -32600),
        ("{\"hello\":\"world\"}", -32600),
    ] {
        let r = mcp_post(&http, &url).body(body).send().await.expect("POST");
        assert_eq!(r.status(), 400, "{body}");
        let v: serde_json::Value = r.json().await.expect("JSON-RPC error body");
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["id"], serde_json::Value::Null);
        assert_eq!(v["error"]["code"], code, "{body}");
    }
    // Wrong content type.
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
    ] {
        let r = http
            .post(&url)
            .header("content-type", ct)
            .header("accept", "application/json, text/event-stream")
            .body(initialize_body())
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 415, "{ct}");
    }
    let r = http
        .post(&url)
        .body(initialize_body())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 415, "no content type");
    // Over the body limit, declared or chunked.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(5000));
    let r = mcp_post(&http, &url)
        .body(big.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 413);
    let mut tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    tcp.write_all(head.as_bytes()).await.expect("write");
    for _ in 0..5 {
        let chunk = format!("{:x}\r\n{}\r\n", 1000, "y".repeat(1000));
        if tcp.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let answer = read_to_close_or_response(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // An unknown session id: 404.
    let list = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}).to_string();
    let r = mcp_post(&http, &url)
        .header("mcp-session-id", "00000000-0000-0000-0000-000000000000")
        .body(list)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 404);
    // A session id that is not text cannot pass for "no session".
    let r = mcp_post(&http, &url)
        .header(
            "mcp-session-id",
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").expect("opaque header"),
        )
        .body(initialize_body())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 400);
    // A flood of new sessions: refused past the limit (3, one already open).
    let mut opened = vec![];
    let mut refused = 0;
    for _ in 0..10 {
        let r = mcp_post(&http, &url)
            .body(initialize_body())
            .send()
            .await
            .expect("POST");
        match r.status().as_u16() {
            200 => opened.push(
                r.headers()["mcp-session-id"]
                    .to_str()
                    .expect("ascii")
                    .to_string(),
            ),
            503 => {
                assert_eq!(r.headers()["retry-after"], "5");
                let v: serde_json::Value = r.json().await.expect("JSON");
                assert_eq!(v["error"]["code"], -32000);
                refused += 1;
            }
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!((opened.len(), refused), (2, 8));
    assert!(server.connect(None).await.is_err());
    // Everyone already in is still served.
    assert_eq!(
        call(&client, "shell_exec", json!({"command": "echo still"})).await,
        "[exit 0]\nstill\n"
    );
    // Closing a session makes room for a new one.
    let r = http
        .delete(&url)
        .header("mcp-session-id", &opened[0])
        .send()
        .await
        .expect("DELETE");
    assert!(r.status().is_success(), "{}", r.status());
    let again = server.client(None).await;
    assert_eq!(
        call(&again, "shell_exec", json!({"command": "echo in"})).await,
        "[exit 0]\nin\n"
    );
    let health = reqwest::get(server.url("/healthz")).await.expect("GET");
    assert_eq!(health.status(), 200);
    client.cancel().await.expect("close");
    again.cancel().await.expect("close");
}

/// Read until a complete response head arrives or the connection closes.
async fn read_to_close_or_response(stream: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut chunk))
            .await
            .expect("the server neither answered nor closed");
        match n {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let server = HttpServer::start(&[("RELAY_SHELL_HTTP_HEADER_TIMEOUT", "1")]).await;
    // Headers that never finish: the connection is closed.
    let mut slow = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("write");
    let got = read_to_close(&mut slow).await;
    assert!(got.is_empty() || got.starts_with("HTTP/1.1 408"), "{got}");
    // A body that never finishes: 408.
    let mut slow = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    slow.write_all(
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Accept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"",
    )
    .await
    .expect("write");
    let got = read_to_close_or_response(&mut slow).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    // Everyone else is still served, and a call that outlasts the header timeout is not
    // cut off: the timeout covers reading a request, not writing the response.
    let client = server.client(None).await;
    assert_eq!(
        call(&client, "shell_exec", json!({"command": "echo ok"})).await,
        "[exit 0]\nok\n"
    );
    assert_eq!(
        call(
            &client,
            "shell_exec",
            json!({"command": "sleep 2.5; echo late"})
        )
        .await,
        "[exit 0]\nlate\n"
    );
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_token_protects_metrics() {
    let server = HttpServer::start(&[("RELAY_SHELL_METRICS_TOKEN", "m-secret")]).await;
    let http = reqwest::Client::new();
    let r = http.get(server.url("/metrics")).send().await.expect("GET");
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Bearer")
    );
    let r = http
        .get(server.url("/metrics"))
        .bearer_auth("m-wrong")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401);
    let r = http
        .get(server.url("/metrics"))
        .bearer_auth("m-secret")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("body").ends_with("# EOF\n"));
    // /healthz needs nothing.
    assert_eq!(
        reqwest::get(server.url("/healthz"))
            .await
            .expect("GET")
            .status(),
        200
    );
}

/// Pids of live processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    let mut found = vec![];
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'));
        if !zombie
            && String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(marker)
        {
            found.push(pid);
        }
    }
    found
}

/// Wait until the audit log has a start record.
async fn wait_for_start(server: &HttpServer) {
    for _ in 0..12_000 {
        if server.records().iter().any(|r| r["event"] == "start") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no start record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_call_finish_and_leaves_no_child() {
    let mut server = HttpServer::start(&[]).await;
    let client = server.client(None).await;
    let marker = format!("1.0{}", std::process::id() % 1000);
    let command = format!("sleep {marker}; echo finished");
    let peer = client.peer().clone();
    let running = tokio::spawn(async move {
        peer.call_tool(http_support::params(
            "shell_exec",
            json!({"command": command}),
        ))
        .await
        .map(|r| http_support::text(&r))
    });
    wait_for_start(&server).await;
    server.sigterm();
    let reply = running.await.expect("task").expect("the call was answered");
    assert_eq!(reply, "[exit 0]\nfinished\n");
    let status = tokio::task::spawn_blocking(move || {
        let s = server.wait_exit();
        (s, server)
    })
    .await
    .expect("join");
    let (status, server) = status;
    assert_eq!(status.code(), Some(0));
    assert!(processes_with(&format!("sleep {marker}")).is_empty());
    let done: Vec<_> = server
        .completions()
        .into_iter()
        .filter(|r| r["tool"] == "shell_exec")
        .collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["exit_code"], 0);
    assert!(server.log().contains("relay-shell stopping (signal)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_a_call_past_the_grace_period_and_records_it() {
    let mut server = HttpServer::start(&[]).await;
    let client = server.client(None).await;
    let marker = format!("300.{}", std::process::id() % 1000);
    let peer = client.peer().clone();
    let command = format!("sleep {marker}");
    let _running = tokio::spawn(async move {
        let _ = peer
            .call_tool(http_support::params(
                "shell_exec",
                json!({"command": command}),
            ))
            .await;
    });
    wait_for_start(&server).await;
    server.sigterm();
    let (status, server) = tokio::task::spawn_blocking(move || {
        let s = server.wait_exit();
        (s, server)
    })
    .await
    .expect("join");
    assert_eq!(status.code(), Some(0));
    assert!(processes_with(&format!("sleep {marker}")).is_empty());
    let done: Vec<_> = server
        .completions()
        .into_iter()
        .filter(|r| r["tool"] == "shell_exec")
        .collect();
    assert_eq!(
        done.len(),
        1,
        "the cancelled call has its completion record"
    );
    assert_eq!(done[0]["exit_code"], serde_json::Value::Null);
}
