//! Shared helpers for the HTTP integration tests: start the built binary with
//! `--transport http` on a free loopback port (port 0; the address is read from the server's
//! log line), wait for `/healthz`, and connect rmcp's streamable HTTP client.
#![allow(dead_code)]

use std::io::BufRead;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use sha2::{Digest, Sha256};

/// An MCP client connected over HTTP.
pub type Client = RunningService<RoleClient, ClientConfig>;

/// A running `relay-shell --transport http`.
pub struct HttpServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Scratch directory (audit log, token file).
    pub dir: tempfile::TempDir,
    /// The audit log.
    pub audit: PathBuf,
    log: Arc<Mutex<String>>,
}

/// The built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_relay-shell")
}

/// A command for the binary with a clean environment plus `envs`.
pub fn command(envs: &[(&str, &str)]) -> Command {
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "HOME",
            std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
        )
        .env("LANG", "C.UTF-8");
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

/// Write a 0600 token file with `(name, token, mode)` entries.
pub fn write_tokens(path: &Path, entries: &[(&str, &str, Option<&str>)]) {
    let mut text = String::from("# test tokens\n");
    for (name, token, mode) in entries {
        let h = hex::encode(Sha256::digest(token.as_bytes()));
        match mode {
            Some(m) => text.push_str(&format!("{name}:{h}:{m}\n")),
            None => text.push_str(&format!("{name}:{h}\n")),
        }
    }
    std::fs::write(path, text).expect("write tokens");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

impl HttpServer {
    /// Start with `envs` in a fresh directory.
    pub async fn start(envs: &[(&str, &str)]) -> HttpServer {
        Self::start_in(tempfile::tempdir().expect("tempdir"), envs).await
    }

    /// Start with `envs` in `dir` (which may already hold a token file).
    pub async fn start_in(dir: tempfile::TempDir, envs: &[(&str, &str)]) -> HttpServer {
        let audit = dir.path().join("audit.jsonl");
        let audit_s = audit.display().to_string();
        let mut all: Vec<(&str, &str)> = vec![
            ("RELAY_SHELL_TRANSPORT", "http"),
            ("RELAY_SHELL_HTTP_PORT", "0"),
            ("RELAY_SHELL_AUDIT_PATH", &audit_s),
            ("RELAY_SHELL_LOG", "warn,relay_shell::http=info"),
        ];
        all.extend_from_slice(envs);
        let mut child = command(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn relay-shell");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(addr) = rest.split('/').next().and_then(|a| a.parse().ok())
                {
                    let _ = tx.send(addr);
                }
                let mut l = sink.lock().expect("log");
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("relay-shell did not listen: {}", log.lock().expect("log"));
            }
        };
        let server = HttpServer {
            child,
            addr,
            dir,
            audit,
            log,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let http = reqwest::Client::new();
        for _ in 0..2000 {
            if let Ok(r) = http.get(self.url("/healthz")).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("/healthz never answered 200");
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connect rmcp's client, with a bearer token or none.
    pub async fn connect(&self, token: Option<&str>) -> Result<Client, String> {
        let mut cfg = StreamableHttpClientTransportConfig::with_uri(self.url("/mcp"));
        if let Some(t) = token {
            cfg = cfg.auth_header(t.to_string());
        }
        ClientConfig::default()
            .serve(StreamableHttpClientTransport::from_config(cfg))
            .await
            .map_err(|e| e.to_string())
    }

    /// Connect, panicking on failure.
    pub async fn client(&self, token: Option<&str>) -> Client {
        self.connect(token).await.expect("MCP initialize over HTTP")
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send SIGTERM.
    pub fn sigterm(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("kill");
    }

    /// Wait for the process to exit (panics after two minutes: a hang, not a timing check).
    pub fn wait_exit(&mut self) -> ExitStatus {
        for _ in 0..12_000 {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("relay-shell did not exit");
    }

    /// Every audit line as JSON.
    pub fn records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }

    /// Completion records only.
    pub fn completions(&self) -> Vec<serde_json::Value> {
        self.records()
            .into_iter()
            .filter(|r| r.get("event").is_none())
            .collect()
    }

    /// GET /metrics as text.
    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body")
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Arguments object from JSON.
pub fn params(tool: &str, args: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default())
}

/// The first text block of a result.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// Call a tool and return its text.
pub async fn call(client: &Client, tool: &str, args: serde_json::Value) -> String {
    text(
        &client
            .call_tool(params(tool, args))
            .await
            .expect("tools/call answered"),
    )
}

/// The headers every raw MCP POST carries.
pub fn mcp_post(http: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    http.post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
}

/// An `initialize` request body.
pub fn initialize_body() -> String {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "0"}}
    })
    .to_string()
}

/// The value of one sample (`name{labels}` exactly as rendered) in Prometheus text.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}
