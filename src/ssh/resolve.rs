//! Resolution of a destination through OpenSSH itself: `ssh -G` prints the configuration
//! `ssh` would use for exactly these arguments (after `Host`, `Match`, `Include`, defaults),
//! so aliases, users, ports, keys and jump chains mean what they mean to `ssh`.
//!
//! The result is the *identity* of a connection: a digest of everything `ssh -G` printed
//! (except the connect timeout, which only bounds the dial) plus the identities of the jump
//! hops. Two calls share a master exactly when their identities are equal — user, host, port,
//! keys, jump chain, host-key policy and known_hosts files included.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::KnownHosts;
use crate::error::{ErrorKind, ToolError};
use crate::ssh::validate::MAX_JUMP_HOPS;

/// How long one `ssh -G` may take (a `Match exec` in the operator's config runs a command).
const RESOLVE_DEADLINE: Duration = Duration::from_secs(10);

/// What a call asks `ssh` for, in the form it is handed to `ssh` (validated before).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// The destination host (an alias, a name or an address, brackets removed).
    pub dest: String,
    /// `-l`, when given.
    pub user: Option<String>,
    /// `-p`, when given.
    pub port: Option<u16>,
    /// `-i` (with `IdentitiesOnly=yes`), when given.
    pub key: Option<PathBuf>,
    /// `-J`, when given.
    pub jump: Option<String>,
    /// The host-key policy: selects the generated config.
    pub mode: KnownHosts,
}

impl Request {
    /// The options for this request, `-F <config>` first; the destination is not included
    /// (callers append `--` and [`Request::dest`]).
    pub fn options(&self, config: &Path) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["-F".into(), config.into()];
        if let Some(u) = &self.user {
            a.extend(["-l".into(), u.into()]);
        }
        if let Some(p) = self.port {
            a.extend(["-p".into(), p.to_string().into()]);
        }
        if let Some(k) = &self.key {
            a.extend([
                "-o".into(),
                "IdentitiesOnly=yes".into(),
                "-i".into(),
                k.into(),
            ]);
        }
        if let Some(j) = &self.jump {
            a.extend(["-J".into(), j.into()]);
        }
        a
    }
}

/// What OpenSSH resolved a request to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Digest of the full configuration (the pool key).
    pub identity: String,
    /// The address connected to.
    pub hostname: String,
    /// The port.
    pub port: u16,
    /// The login user.
    pub user: String,
    /// Number of jump hops on the way.
    pub hops: usize,
}

/// One `ssh -G` run: the `key value` lines, sorted.
async fn ssh_g(args: Vec<OsString>, dest: &str) -> Result<Vec<String>, ToolError> {
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.arg("-G")
        .args(args)
        .arg("--")
        .arg(dest)
        .env_clear()
        .envs(crate::exec::child_env(&Default::default()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(RESOLVE_DEADLINE, cmd.output())
        .await
        .map_err(|_| {
            ToolError::new(
                ErrorKind::ConnectionFailed,
                format!(
                    "resolving {dest} with ssh -G took longer than {}s",
                    RESOLVE_DEADLINE.as_secs()
                ),
            )
        })?
        .map_err(|e| ToolError::from_io(&e, "cannot run ssh (is OpenSSH installed?)"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(ToolError::invalid(format!(
            "ssh cannot resolve {dest}: {}",
            err.trim()
        )));
    }
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    Ok(lines)
}

fn value<'a>(lines: &'a [String], key: &str) -> Option<&'a str> {
    lines
        .iter()
        .find_map(|l| l.split_once(' ').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

/// A hop as OpenSSH's `ProxyJump` grammar writes it: `[user@]host[:port]` or an `ssh://` URI.
fn parse_hop(hop: &str) -> (Option<String>, String, Option<u16>) {
    let hop = hop.strip_prefix("ssh://").unwrap_or(hop);
    let (user, rest) = match hop.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, hop),
    };
    if let Some(inner) = rest.strip_prefix('[') {
        let (h, tail) = inner.split_once(']').unwrap_or((inner, ""));
        return (
            user,
            h.to_string(),
            tail.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (user, h.to_string(), p.parse().ok()),
        _ => (user, rest.to_string(), None),
    }
}

/// Resolve `req` with the generated config at `config`, following the jump chain (as
/// OpenSSH does: the hops listed, and the first hop's own `ProxyJump`, recursively) to refuse
/// a chain that loops or is longer than [`MAX_JUMP_HOPS`].
pub async fn resolve(req: &Request, config: &Path) -> Result<Resolved, ToolError> {
    let lines = ssh_g(req.options(config), &req.dest).await?;
    let hostname = value(&lines, "hostname").unwrap_or(&req.dest).to_string();
    let port: u16 = value(&lines, "port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(22);
    let user = value(&lines, "user").unwrap_or_default().to_string();
    let mut hasher = Sha256::new();
    for l in lines.iter().filter(|l| !l.starts_with("connecttimeout ")) {
        hasher.update(l.as_bytes());
        hasher.update(b"\n");
    }
    let mut seen = vec![(hostname.to_ascii_lowercase(), port)];
    let mut hops = 0usize;
    let mut next = value(&lines, "proxyjump")
        .filter(|v| *v != "none")
        .map(str::to_string);
    while let Some(chain) = next.take() {
        let listed: Vec<&str> = chain.split(',').filter(|h| !h.is_empty()).collect();
        let mut first_jump = None;
        for (i, hop) in listed.iter().enumerate() {
            let (u, h, p) = parse_hop(hop);
            let mut args: Vec<OsString> = vec!["-F".into(), config.into()];
            if let Some(u) = u {
                args.extend(["-l".into(), u.into()]);
            }
            if let Some(p) = p {
                args.extend(["-p".into(), p.to_string().into()]);
            }
            let hl = ssh_g(args, &h).await?;
            let key = (
                value(&hl, "hostname").unwrap_or(&h).to_ascii_lowercase(),
                value(&hl, "port")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(22u16),
            );
            if seen.contains(&key) {
                return Err(ToolError::invalid(format!(
                    "ssh jump chain for {} loops: {}:{} is reached twice",
                    req.dest, key.0, key.1
                )));
            }
            seen.push(key);
            hops += 1;
            if hops > MAX_JUMP_HOPS {
                return Err(ToolError::invalid(format!(
                    "ssh jump chain for {} has more than {MAX_JUMP_HOPS} hops",
                    req.dest
                )));
            }
            for l in hl.iter().filter(|l| !l.starts_with("connecttimeout ")) {
                hasher.update(l.as_bytes());
                hasher.update(b"\n");
            }
            if i == 0 {
                first_jump = value(&hl, "proxyjump")
                    .filter(|v| *v != "none")
                    .map(str::to_string);
            }
        }
        next = first_jump;
    }
    Ok(Resolved {
        identity: hex::encode(&hasher.finalize()[..16]),
        hostname,
        port,
        user,
        hops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops() {
        assert_eq!(parse_hop("a@b:2"), (Some("a".into()), "b".into(), Some(2)));
        assert_eq!(parse_hop("ssh://b"), (None, "b".into(), None));
        assert_eq!(parse_hop("[::1]:7"), (None, "::1".into(), Some(7)));
        assert_eq!(parse_hop("::1"), (None, "::1".into(), None));
    }

    #[test]
    fn options_never_carry_the_destination() {
        let r = Request {
            dest: "web".into(),
            user: Some("u".into()),
            port: Some(2),
            key: Some("/k".into()),
            jump: Some("b".into()),
            mode: KnownHosts::Strict,
        };
        let o: Vec<String> = r
            .options(Path::new("/c"))
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            o,
            vec![
                "-F",
                "/c",
                "-l",
                "u",
                "-p",
                "2",
                "-o",
                "IdentitiesOnly=yes",
                "-i",
                "/k",
                "-J",
                "b"
            ]
        );
    }
}
