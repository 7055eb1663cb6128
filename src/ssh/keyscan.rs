//! `ssh-keyscan` with validated arguments: hosts, port and key types are checked before
//! anything runs, and the program is run directly (no shell) with `--` before the hosts.
//! Each host gets the per-host timeout (`-T`); the whole scan has its own, longer deadline.

use std::time::Duration;

use crate::error::ToolError;
use crate::exec::{self, ExecOutcome, ExecRequest, Program};
use crate::ssh::validate::split_hosts;

/// Most hosts one scan may name.
pub const MAX_HOSTS: usize = 32;
/// The key types ssh-keyscan knows.
const KEY_TYPES: &[&str] = &["dsa", "ecdsa", "ed25519", "rsa"];

/// A validated scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// Hosts, in the order given.
    pub hosts: Vec<String>,
    /// Port.
    pub port: u16,
    /// Key types.
    pub key_types: Vec<String>,
    /// Per-host timeout, seconds (`-T`).
    pub per_host: u64,
}

/// What a scan request turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// Nothing to scan: the informational reply.
    NoHosts(&'static str),
    /// A scan to run.
    Run(Scan),
}

fn host_ok(h: &str) -> bool {
    !h.starts_with('-')
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-[]:".contains(&b))
}

/// Validate in the documented order: hosts present, host count, each host, port, key types.
pub fn check(hosts: &str, port: i64, key_types: &str, per_host: u64) -> Result<Checked, ToolError> {
    let list = split_hosts(hosts);
    if list.is_empty() {
        return Ok(Checked::NoHosts(
            "[no hosts; pass hosts=<host>[,<host>...]]",
        ));
    }
    if list.len() > MAX_HOSTS {
        return Err(ToolError::invalid(format!(
            "{} hosts exceeds the per-call cap of {MAX_HOSTS}; split into smaller batches",
            list.len()
        )));
    }
    if let Some(bad) = list.iter().find(|h| !host_ok(h)) {
        return Err(ToolError::invalid(format!(
            "rejected host {bad:?}: must match ^[A-Za-z0-9._\\-\\[\\]:]+$ and not start with '-'"
        )));
    }
    let port = match u16::try_from(port) {
        Ok(p) if p > 0 => p,
        _ => {
            return Err(ToolError::invalid(format!(
                "port {port} out of range 1..65535"
            )));
        }
    };
    let types: Vec<String> = key_types
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(bad) = types.iter().find(|t| !KEY_TYPES.contains(&t.as_str())) {
        return Err(ToolError::invalid(format!(
            "rejected key type {bad:?}: choose from {KEY_TYPES:?}"
        )));
    }
    if types.is_empty() {
        return Err(ToolError::invalid("empty key_types"));
    }
    Ok(Checked::Run(Scan {
        hosts: list.into_iter().map(str::to_string).collect(),
        port,
        key_types: types,
        per_host,
    }))
}

impl Scan {
    /// The whole scan's deadline: hosts are scanned in parallel, so twice the per-host
    /// timeout plus a margin, at most `max_timeout`.
    pub fn overall(&self, max_timeout: u64) -> Duration {
        Duration::from_secs((2 * self.per_host + 5).min(max_timeout.max(1)))
    }

    /// The argv run.
    pub fn argv(&self) -> Vec<String> {
        let mut v = vec![
            "ssh-keyscan".to_string(),
            "-T".into(),
            self.per_host.to_string(),
            "-t".into(),
            self.key_types.join(","),
            "-p".into(),
            self.port.to_string(),
            "--".into(),
        ];
        v.extend(self.hosts.iter().cloned());
        v
    }

    /// Run it (stderr merged: the `# host:port SSH-…` comments interleave with the keys).
    pub async fn run(
        &self,
        overall: Duration,
        capture_limit: usize,
    ) -> Result<ExecOutcome, ToolError> {
        exec::run(ExecRequest {
            program: Program::Argv(self.argv()),
            cwd: None,
            stdin: None,
            env: Default::default(),
            timeout: overall,
            capture_limit,
            merge_stderr: true,
            // Fetches public keys and writes nothing: the gate gives the call no profile
            // (docs/architecture.md, confinement and SSH).
            confinement: None,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_order_and_messages() {
        assert_eq!(
            check(" , ", 22, "rsa", 5).unwrap(),
            Checked::NoHosts("[no hosts; pass hosts=<host>[,<host>...]]")
        );
        let many = (0..33)
            .map(|i| format!("h{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(
            check(&many, 0, "", 5)
                .unwrap_err()
                .message
                .starts_with("33 hosts exceeds")
        );
        assert!(
            check("-oProxyCommand=x", 22, "rsa", 5)
                .unwrap_err()
                .message
                .contains("rejected host")
        );
        assert!(check("a;b", 22, "rsa", 5).is_err());
        assert!(
            check("a", 0, "rsa", 5)
                .unwrap_err()
                .message
                .contains("port 0")
        );
        assert!(
            check("a", 22, "rsa,foo", 5)
                .unwrap_err()
                .message
                .contains("rejected key type \"foo\"")
        );
        assert_eq!(
            check("a", 22, " , ", 5).unwrap_err().message,
            "empty key_types"
        );
        let Checked::Run(s) = check("a, [::1]", 2222, "ED25519", 3).unwrap() else {
            panic!()
        };
        assert_eq!(
            s.argv(),
            vec![
                "ssh-keyscan",
                "-T",
                "3",
                "-t",
                "ed25519",
                "-p",
                "2222",
                "--",
                "a",
                "[::1]"
            ]
        );
        assert_eq!(s.overall(900), Duration::from_secs(11));
    }
}
