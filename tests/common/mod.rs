//! Shared helpers for integration tests: start the real `relay-shell` binary and drive it with
//! rmcp's MCP client over child-process stdio.
#![allow(dead_code)]

pub mod limited;

use std::path::{Path, PathBuf};

use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};

/// A running server, its temporary directory and audit path.
pub struct Server {
    /// The connected MCP client.
    pub client: RunningService<RoleClient, ClientConfig>,
    /// Scratch directory for this server (audit log lives here).
    pub dir: tempfile::TempDir,
    /// The audit log path.
    pub audit: PathBuf,
}

/// The built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_relay-shell")
}

/// A `std::process::Command` for the binary with a clean environment plus `envs`.
pub fn command(envs: &[(&str, &str)]) -> std::process::Command {
    let mut c = std::process::Command::new(bin());
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

/// Start the server with `envs` (the audit path is set to a fresh temp dir unless given).
pub async fn start(envs: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cmd = tokio::process::Command::new(bin()).configure(|c| {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
            )
            .env("LANG", "C.UTF-8")
            .env("RELAY_SHELL_LOG", "warn")
            .env("RELAY_SHELL_AUDIT_PATH", &audit_s);
        for (k, v) in &envs {
            c.env(k, v);
        }
    });
    let transport = TokioChildProcess::new(cmd).expect("spawn relay-shell");
    let client = ClientConfig::default()
        .serve(transport)
        .await
        .expect("MCP initialize");
    Server { client, dir, audit }
}

/// Build a `CallToolRequestParams` from a tool name and a JSON object.
pub fn params(tool: &str, args: serde_json::Value) -> CallToolRequestParams {
    let map = args.as_object().cloned().unwrap_or_default();
    CallToolRequestParams::new(tool.to_string()).with_arguments(map)
}

/// The first text block of a result.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

impl Server {
    /// Call a tool and return its text.
    pub async fn call(&self, tool: &str, args: serde_json::Value) -> String {
        text(&self.call_full(tool, args).await)
    }

    /// Call a tool and return the whole result.
    pub async fn call_full(&self, tool: &str, args: serde_json::Value) -> CallToolResult {
        self.client
            .call_tool(params(tool, args))
            .await
            .expect("tools/call answered")
    }

    /// Every audit line parsed as JSON.
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        read_records(&self.audit)
    }

    /// Completion records only (no start records).
    pub fn completion_records(&self) -> Vec<serde_json::Value> {
        self.audit_records()
            .into_iter()
            .filter(|r| r.get("event").is_none())
            .collect()
    }

    /// Stop the server (closes stdin; the server exits).
    pub async fn stop(self) {
        let _ = self.client.cancel().await;
    }
}

/// Parse every non-empty line of an audit file.
pub fn read_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

/// Pids of live processes whose process group is `pgid` (from `/proc/*/stat`).
pub fn processes_in_group(pgid: i32) -> Vec<i32> {
    let mut found = vec![];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state ppid pgrp ...
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            found.push(pid);
        }
    }
    found
}
