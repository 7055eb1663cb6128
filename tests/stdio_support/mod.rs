//! The built binary over raw pipes: bytes in, JSON-RPC lines out, no MCP client in between.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

use serde_json::{Value, json};

use super::common;

/// A server process driven over its stdin/stdout.
pub struct Raw {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub out: BufReader<ChildStdout>,
    pub dir: tempfile::TempDir,
    /// Replies read while looking for another id.
    stash: HashMap<String, Value>,
}

impl Raw {
    /// Start the binary with `envs` (audit log and stderr in a fresh temp dir).
    pub fn start(envs: &[(&str, &str)]) -> Raw {
        let dir = tempfile::tempdir().expect("tempdir");
        let audit = dir.path().join("audit.jsonl").display().to_string();
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
        let mut cmd = common::command(envs);
        cmd.env("RELAY_SHELL_AUDIT_PATH", &audit)
            .env("RELAY_SHELL_LOG", "info,rmcp=warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd.spawn().expect("spawn relay-shell");
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Raw {
            child,
            stdin,
            out,
            dir,
            stash: HashMap::new(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Write `bytes` and a newline.
    pub fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
    }

    pub fn send_json(&mut self, v: &Value) {
        self.send(v.to_string().as_bytes());
    }

    /// The next line from the server, parsed (panics at EOF).
    pub fn next(&mut self) -> Value {
        let mut line = String::new();
        let n = self.out.read_line(&mut line).expect("read stdout");
        assert!(n > 0, "server closed stdout; stderr:\n{}", self.stderr());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {line}"))
    }

    /// The reply whose id is `id` (other replies are kept for later).
    pub fn reply(&mut self, id: &Value) -> Value {
        let key = id.to_string();
        if let Some(v) = self.stash.remove(&key) {
            return v;
        }
        loop {
            let v = self.next();
            let got = v["id"].to_string();
            if got == key {
                return v;
            }
            self.stash.insert(got, v);
        }
    }

    /// The error code and message of the reply to `id` (panics on a result).
    pub fn error_of(&mut self, id: &Value) -> (i64, String) {
        let v = self.reply(id);
        let code = v["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("expected an error for {id}, got {v}"));
        (
            code,
            v["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    }

    /// `initialize`, its reply, then `notifications/initialized`.
    pub fn initialize(&mut self) -> Value {
        self.send_json(&json!({
            "jsonrpc": "2.0", "id": "init", "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "0"}}
        }));
        let v = self.reply(&json!("init"));
        assert!(v.get("result").is_some(), "initialize failed: {v}");
        self.send_json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        v
    }

    /// A `tools/call` of `tool` with `args`; its reply.
    pub fn call(&mut self, id: Value, tool: &str, args: Value) -> Value {
        self.send_json(&json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": args}
        }));
        self.reply(&id)
    }

    /// The text of a tool result (panics on a protocol error).
    pub fn call_text(&mut self, id: Value, tool: &str, args: Value) -> String {
        let v = self.call(id, tool, args);
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("expected a tool result, got {v}"))
            .to_string()
    }

    /// A normal call after whatever came before: the server still serves.
    pub fn still_serves(&mut self, id: &str) {
        let text = self.call_text(
            json!(id),
            "shell_exec",
            json!({"command": "echo still-here"}),
        );
        assert_eq!(text, "[exit 0]\nstill-here\n");
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Resident memory of the server, from `/proc/<pid>/status`, in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// Close stdin and wait for the exit status.
    pub fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().expect("wait")
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` of `pid` in KiB (0 when it cannot be read).
pub fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Live (non-zombie) processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<i32> {
    let mut found = vec![];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(marker) {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(true);
        if !zombie {
            found.push(pid);
        }
    }
    found
}
