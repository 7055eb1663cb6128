//! The shipped Caddyfile in front of the real server on loopback ports: a client from an
//! allowed source range reaches `/mcp` (a tool call streams through), a client from another
//! source address gets Caddy's 403 for `/mcp` and `/metrics` while the OAuth paths still
//! reach the server, and the security headers are set. Two loopback addresses stand for the
//! two sources: 127.0.0.1 is allowed, 127.0.0.2 is not.

mod deploy_support;
mod http_support;

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};

use deploy_support::{Reaped, deploy, free_port, listening, tool, wait_until};
use http_support::{HttpServer, call};
use rmcp::ServiceExt;
use rmcp::model::ClientConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"edge-test","version":"1"}}}"#;

/// Caddy running the shipped Caddyfile on `port`, forwarding to `upstream`.
fn start_caddy(dir: &std::path::Path, port: u16, upstream: &str) -> Reaped {
    let child = Command::new(tool("caddy"))
        .env_clear()
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        // A plain-HTTP site on a loopback port: no certificate is involved in this test.
        .env(
            "RELAY_SHELL_EDGE_DOMAIN",
            format!("http://127.0.0.1:{port}"),
        )
        .env("RELAY_SHELL_EDGE_CLIENT_CIDRS", "127.0.0.1/32")
        .env("RELAY_SHELL_EDGE_UPSTREAM", upstream)
        .env("RELAY_SHELL_EDGE_ADMIN", "off")
        .env("RELAY_SHELL_EDGE_ACCESS_LOG", dir.join("access.log"))
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(deploy("Caddyfile"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start caddy");
    let mut caddy = Reaped(child);
    wait_until("caddy listening", || {
        if let Ok(Some(status)) = caddy.0.try_wait() {
            panic!("caddy exited: {status}");
        }
        listening(port)
    });
    caddy
}

fn client_from(source: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_admits_the_allowed_range_and_refuses_other_sources() {
    let server = HttpServer::start(&[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _caddy = start_caddy(dir.path(), port, &server.addr.to_string());
    let edge = format!("http://127.0.0.1:{port}");

    // Allowed source (127.0.0.1): a real MCP session through the edge, a tool call included.
    let cfg = StreamableHttpClientTransportConfig::with_uri(format!("{edge}/mcp"));
    let client = ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(cfg))
        .await
        .expect("MCP initialize through the edge");
    let out = call(
        &client,
        "shell_exec",
        serde_json::json!({"command": "echo through-the-edge"}),
    )
    .await;
    assert_eq!(out, "[exit 0]\nthrough-the-edge\n");
    let _ = client.cancel().await;

    let allowed = client_from(Ipv4Addr::new(127, 0, 0, 1));
    let r = allowed
        .post(format!("{edge}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INITIALIZE)
        .send()
        .await
        .expect("POST /mcp");
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(
        h.get("strict-transport-security").map(|v| v.as_bytes()),
        Some(&b"max-age=63072000; includeSubDomains"[..])
    );
    assert_eq!(
        h.get("x-content-type-options").map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    assert!(h.get("server").is_none(), "{h:?}");
    let r = allowed
        .get(format!("{edge}/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("body").contains("relay_shell_"));

    // Another source (127.0.0.2): Caddy answers 403 itself for /mcp and /metrics.
    let outsider = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let before = server.metrics().await;
    for (method, path) in [
        ("POST", "/mcp"),
        ("GET", "/mcp"),
        ("GET", "/metrics"),
        ("POST", "/mcp/x"),
    ] {
        let req = match method {
            "POST" => outsider
                .post(format!("{edge}{path}"))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(INITIALIZE),
            _ => outsider.get(format!("{edge}{path}")),
        };
        let r = req.send().await.expect("request");
        assert_eq!(r.status(), 403, "{method} {path}");
        assert_eq!(
            r.text().await.expect("body"),
            "forbidden",
            "{method} {path}"
        );
    }
    // relay-shell never saw them: its MCP session count did not move.
    let sessions = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("relay_shell_mcp_sessions"))
            .map(str::to_owned)
    };
    assert!(sessions(&before).is_some(), "{before}");
    assert_eq!(sessions(&server.metrics().await), sessions(&before));

    // The OAuth paths are reachable from anywhere: they reach relay-shell, which answers 404
    // with an empty body until OAuth exists (Caddy's own 404 says "not found").
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/authorize",
        "/register",
        "/token",
    ] {
        let r = outsider
            .get(format!("{edge}{path}"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(
            r.text().await.expect("body"),
            "",
            "{path} reached relay-shell"
        );
    }
    // Anything else is not served at all.
    for who in [&allowed, &outsider] {
        let r = who
            .get(format!("{edge}/healthz"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 404);
        assert_eq!(r.text().await.expect("body"), "not found");
    }
    // The access log records requests without the credentials.
    let r = allowed
        .get(format!("{edge}/metrics"))
        .header("authorization", "Bearer do-not-log-me")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let log_path = dir.path().join("access.log");
    wait_until("the access log names /metrics", || {
        std::fs::read_to_string(&log_path)
            .is_ok_and(|l| l.contains("Bearer") || l.matches("/metrics").count() >= 3)
    });
    let log = std::fs::read_to_string(&log_path).expect("access log");
    assert!(!log.contains("do-not-log-me"), "{log}");
}
