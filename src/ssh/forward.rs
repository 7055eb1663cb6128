//! Port forwards over a pooled master: `L:` and `R:` as OpenSSH's own `-L`/`-R`, `D:` as its
//! SOCKS listener (`-D`), each added to and removed from the running master with
//! `ssh -S <ctl> -O forward|cancel` (ADR 0010).
//!
//! - **Loopback by default.** A listener binds `127.0.0.1` unless the spec names another
//!   address and `RELAY_SHELL_FORWARD_ALLOW_NONLOOPBACK=true`; the master is always told the
//!   address, never left to bind every interface.
//! - **Known ports.** A local listener's port is tried here first (so "in use" and "needs
//!   privilege" are clear errors, and port 0 becomes a concrete free port); a remote
//!   listener on port 0 reports the port the server allocated.
//! - **Bounded and owned.** At most `RELAY_SHELL_MAX_FORWARDS` live forwards (a slot is
//!   reserved before anything is asked of the master); each records the principal that made
//!   it, and only that principal lists or closes it. A forward holds a lease on its master,
//!   so the master is never idle-closed under it; when the master dies the forward is shown
//!   dead once and then forgotten. [`Forwards::shutdown`] closes them all.

use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{ErrorKind, ToolError};
use crate::policy::probe::{Forward, ForwardKind};
use crate::ssh::pool::{Lease, Master};

/// How long one `ssh -O forward|cancel` may take.
const CONTROL_WAIT: Duration = Duration::from_secs(15);

/// What the forward registry takes from the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardLimits {
    /// Most live forwards (`RELAY_SHELL_MAX_FORWARDS`).
    pub max: usize,
    /// Whether a spec may name a non-loopback listen address
    /// (`RELAY_SHELL_FORWARD_ALLOW_NONLOOPBACK`).
    pub allow_nonloopback: bool,
}

/// Parse a caller's spec: `L:[bind:]port:host:port`, `R:[bind:]port:host:port` or
/// `D:[bind:]port` (the kind letter in any case; an IPv6 address in brackets). Checked
/// before anything connects.
pub fn parse_spec(spec: &str) -> Result<Forward, ToolError> {
    let Some((kind, rest)) = spec.split_once(':') else {
        return Err(ToolError::invalid(
            "forward spec must start with L:, R: or D:",
        ));
    };
    let kind = match kind.trim().to_ascii_uppercase().as_str() {
        "L" => ForwardKind::Local,
        "R" => ForwardKind::Remote,
        "D" => ForwardKind::Dynamic,
        _ => {
            return Err(ToolError::invalid(
                "forward spec must start with L:, R: or D:",
            ));
        }
    };
    let letter = match kind {
        ForwardKind::Local => "L",
        ForwardKind::Remote => "R",
        ForwardKind::Dynamic => "D",
    };
    let bad = || match kind {
        ForwardKind::Dynamic => {
            ToolError::invalid("invalid D forward spec; expected D:[<bind_address>:]<listen_port>")
        }
        _ => ToolError::invalid(format!(
            "invalid {letter} forward spec; expected \
             {letter}:[<bind_address>:]<listen_port>:<dest_host>:<dest_port>"
        )),
    };
    let fields = split_fields(rest).ok_or_else(bad)?;
    let (bind, port, dest) = match (kind, fields.as_slice()) {
        (ForwardKind::Dynamic, [p]) => (None, p, None),
        (ForwardKind::Dynamic, [b, p]) => (Some(b), p, None),
        (ForwardKind::Dynamic, _) => return Err(bad()),
        (_, [p, h, dp]) => (None, p, Some((h, dp))),
        (_, [b, p, h, dp]) => (Some(b), p, Some((h, dp))),
        _ => return Err(bad()),
    };
    let listen_port: u16 = port.trim().parse().map_err(|_| bad())?;
    let bind = match bind {
        Some(b) if !host_ok(b) => return Err(bad()),
        Some(b) => Some(b.to_string()),
        None => None,
    };
    let dest = match dest {
        None => None,
        Some((h, p)) => {
            let p: u16 = p.trim().parse().map_err(|_| bad())?;
            if p == 0 || !host_ok(h) {
                return Err(bad());
            }
            Some((h.to_string(), p))
        }
    };
    Ok(Forward {
        kind,
        bind,
        listen_port,
        dest,
    })
}

/// Split at `:` outside brackets; `None` for unbalanced brackets or an empty field.
fn split_fields(s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return None;
        }
    }
    if depth != 0 {
        return None;
    }
    out.push(&s[start..]);
    out.iter().all(|f| !f.is_empty()).then_some(out)
}

/// A host name or address that can stand in an `-L`/`-R`/`-D` argument: name characters
/// only, or an IPv6 address in brackets; never a leading `-`.
fn host_ok(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return !inner.is_empty()
            && inner.len() <= 64
            && inner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'.' || b == b'%');
    }
    !h.is_empty()
        && h.len() <= 253
        && !h.starts_with('-')
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// The address a listener binds: the spec's, else loopback.
fn bind_of(f: &Forward) -> &str {
    f.bind.as_deref().unwrap_or("127.0.0.1")
}

/// Refuse a non-loopback listen address unless the operator allowed it.
pub fn check_bind(f: &Forward, limits: &ForwardLimits) -> Result<(), ToolError> {
    if f.non_loopback() && !limits.allow_nonloopback {
        return Err(ToolError::new(
            ErrorKind::PermissionDenied,
            format!(
                "a forward may only listen on loopback; {} would be reachable from other \
                 hosts (RELAY_SHELL_FORWARD_ALLOW_NONLOOPBACK=true allows it)",
                bind_of(f)
            ),
        ));
    }
    Ok(())
}

/// One live forward.
#[derive(Debug)]
struct Entry {
    id: String,
    principal: String,
    host: String,
    spec: String,
    forward: Forward,
    /// The port actually listened on.
    port: u16,
    /// The `-L`/`-R`/`-D` argument given to the master, which also cancels it (for `R:0`
    /// with port 0: the master keeps the request as given).
    arg: String,
    /// Keeps the master open while the forward lives.
    lease: Lease,
}

impl Entry {
    fn alive(&self) -> bool {
        self.lease.master().is_alive()
    }
}

/// One row of [`Forwards::list`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardInfo {
    /// `fwd-` + 12 hex digits.
    pub id: String,
    /// `local`, `remote` or `dynamic`.
    pub kind: &'static str,
    /// The spec as the caller gave it.
    pub spec: String,
    /// The port listened on.
    pub listen_port: u16,
    /// `host:port` for `L:`/`R:`, `socks` for `D:`.
    pub target: String,
    /// The host argument of the call that opened it.
    pub host: String,
    /// The listen address.
    pub bind: String,
    /// Whether its master (hence its listener) is still running.
    pub alive: bool,
}

/// A forward just opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Its id.
    pub id: String,
    /// The port listened on.
    pub port: u16,
}

#[derive(Debug, Default)]
struct Table {
    entries: Vec<Entry>,
    reserved: usize,
    closed: bool,
}

/// The live forwards of every principal.
#[derive(Debug)]
pub struct Forwards {
    limits: ForwardLimits,
    table: Mutex<Table>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Releases a reserved slot unless the forward was inserted.
struct Reservation<'a>(&'a Forwards);

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut t = lock(&self.0.table);
        t.reserved = t.reserved.saturating_sub(1);
    }
}

impl Forwards {
    /// An empty registry.
    pub fn new(limits: ForwardLimits) -> Forwards {
        Forwards {
            limits,
            table: Mutex::new(Table::default()),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &ForwardLimits {
        &self.limits
    }

    /// Forwards whose master is alive (the `/metrics` gauge).
    pub fn live(&self) -> usize {
        lock(&self.table)
            .entries
            .iter()
            .filter(|e| e.alive())
            .count()
    }

    /// Reserve a slot, or the cap error. Dead forwards are forgotten first when the cap is
    /// reached (they hold nothing but the slot).
    fn reserve(&self) -> Result<Reservation<'_>, ToolError> {
        let mut t = lock(&self.table);
        if t.closed {
            return Err(ToolError::new(
                ErrorKind::Busy,
                "the server is shutting down",
            ));
        }
        if t.entries.len() + t.reserved >= self.limits.max {
            t.entries.retain(Entry::alive);
        }
        if t.entries.len() + t.reserved >= self.limits.max {
            return Err(ToolError::new(
                ErrorKind::Busy,
                format!(
                    "forward limit reached ({}); close an existing forward first",
                    self.limits.max
                ),
            ));
        }
        t.reserved += 1;
        Ok(Reservation(self))
    }

    /// Open `forward` (spec text `spec`, for the call's `host`) on `lease`'s master for
    /// `principal`.
    pub async fn open(
        &self,
        principal: &str,
        host: &str,
        spec: &str,
        forward: &Forward,
        lease: Lease,
    ) -> Result<Opened, ToolError> {
        check_bind(forward, &self.limits)?;
        let reservation = self.reserve()?;
        let bind = bind_of(forward).to_string();
        let master = lease.master().clone();
        let (port, arg) = match forward.kind {
            ForwardKind::Local | ForwardKind::Dynamic => {
                let port = probe_local(&bind, forward.listen_port)?;
                let arg = match &forward.dest {
                    Some((h, p)) => format!("{}:{port}:{h}:{p}", bracket(&bind)),
                    None => format!("{}:{port}", bracket(&bind)),
                };
                let flag = if forward.kind == ForwardKind::Local {
                    "-L"
                } else {
                    "-D"
                };
                control(&master, "forward", flag, &arg).await?;
                (port, arg)
            }
            ForwardKind::Remote => {
                let (h, p) = forward.dest.clone().unwrap_or_default();
                let arg = format!("{}:{}:{h}:{p}", bracket(&bind), forward.listen_port);
                // The master answers an identical request with the forward it already has
                // (and cancels by the request as given): one listener must not become two
                // forwards.
                if let Some(twin) = self.twin(&master, &arg) {
                    return Err(ToolError::invalid(format!(
                        "{twin} already forwards {arg} over this connection; use it or close it"
                    )));
                }
                let out = control(&master, "forward", "-R", &arg).await?;
                let port = if forward.listen_port == 0 {
                    out.trim().parse::<u16>().map_err(|_| {
                        ToolError::new(
                            ErrorKind::Internal,
                            format!("the remote host allocated a port, but ssh said {out:?}"),
                        )
                    })?
                } else {
                    forward.listen_port
                };
                (port, arg)
            }
        };
        let id = new_id();
        let entry = Entry {
            id: id.clone(),
            principal: principal.to_string(),
            host: host.to_string(),
            spec: spec.to_string(),
            forward: forward.clone(),
            port,
            arg,
            lease,
        };
        let refused = {
            let mut t = lock(&self.table);
            if t.closed {
                Some(entry)
            } else {
                t.entries.push(entry);
                None
            }
        };
        drop(reservation);
        if let Some(e) = refused {
            cancel(&e).await;
            return Err(ToolError::new(
                ErrorKind::Busy,
                "the server is shutting down",
            ));
        }
        Ok(Opened { id, port })
    }

    /// The id of a live forward on `master` opened with the same argument.
    fn twin(&self, master: &std::sync::Arc<Master>, arg: &str) -> Option<String> {
        lock(&self.table)
            .entries
            .iter()
            .find(|e| std::sync::Arc::ptr_eq(e.lease.master(), master) && e.arg == arg)
            .map(|e| e.id.clone())
    }

    /// `principal`'s forwards in creation order. Those whose master died are shown dead
    /// this once and then forgotten.
    pub fn list(&self, principal: &str) -> Vec<ForwardInfo> {
        let mut t = lock(&self.table);
        let rows: Vec<ForwardInfo> = t
            .entries
            .iter()
            .filter(|e| e.principal == principal)
            .map(|e| ForwardInfo {
                id: e.id.clone(),
                kind: e.forward.kind.as_str(),
                spec: e.spec.clone(),
                listen_port: e.port,
                target: match &e.forward.dest {
                    Some((h, p)) => format!("{h}:{p}"),
                    None => "socks".into(),
                },
                host: e.host.clone(),
                bind: bind_of(&e.forward).to_string(),
                alive: e.alive(),
            })
            .collect();
        t.entries
            .retain(|e| e.principal != principal || rows.iter().any(|r| r.id == e.id && r.alive));
        rows
    }

    /// Close `principal`'s forward `id`; `false` when there is none (another principal's
    /// forward is not there for this caller).
    pub async fn close(&self, principal: &str, id: &str) -> bool {
        let entry = {
            let mut t = lock(&self.table);
            let Some(i) = t
                .entries
                .iter()
                .position(|e| e.id == id && e.principal == principal)
            else {
                return false;
            };
            t.entries.remove(i)
        };
        cancel(&entry).await;
        true
    }

    /// Close every forward and refuse new ones.
    pub async fn shutdown(&self) {
        let entries = {
            let mut t = lock(&self.table);
            t.closed = true;
            std::mem::take(&mut t.entries)
        };
        let mut set = tokio::task::JoinSet::new();
        for e in entries {
            set.spawn(async move { cancel(&e).await });
        }
        while set.join_next().await.is_some() {}
    }
}

/// Remove `e`'s listener from its master (errors are logged: a dead master has none).
async fn cancel(e: &Entry) {
    if !e.alive() {
        return;
    }
    let flag = match e.forward.kind {
        ForwardKind::Local => "-L",
        ForwardKind::Remote => "-R",
        ForwardKind::Dynamic => "-D",
    };
    if let Err(err) = control(e.lease.master(), "cancel", flag, &e.arg).await {
        tracing::warn!(forward = %e.id, error = %err.message, "cannot cancel a forward");
    }
}

/// `[v6]` for an IPv6 literal given bare; anything else as it is.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Try the local listen address: a clear error when the port is taken, privileged or the
/// address is not ours; port 0 becomes a free port (released at once for the master to
/// take — another process could take it first, and the master then reports the failure).
fn probe_local(bind: &str, port: u16) -> Result<u16, ToolError> {
    let addr = bind.trim_start_matches('[').trim_end_matches(']');
    match TcpListener::bind((addr, port)) {
        Ok(l) => l
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| ToolError::new(ErrorKind::Io, format!("listen address {bind}: {e}"))),
        Err(e) => Err(match e.raw_os_error() {
            Some(libc::EADDRINUSE) => ToolError::new(
                ErrorKind::Busy,
                format!("port {port} on {bind} is already in use; pick another or 0 for any"),
            ),
            Some(libc::EACCES) => ToolError::new(
                ErrorKind::PermissionDenied,
                format!(
                    "port {port} on {bind} is privileged and the server may not bind it \
                     (ports below 1024 need CAP_NET_BIND_SERVICE); pick a port of 1024 or more"
                ),
            ),
            Some(libc::EADDRNOTAVAIL) => {
                ToolError::invalid(format!("{bind} is not an address of this host"))
            }
            _ => ToolError::new(ErrorKind::Io, format!("listen address {bind}:{port}: {e}")),
        }),
    }
}

/// `ssh -S <ctl> -O <op> <flag> <arg>` against `master`; its standard output.
async fn control(master: &Master, op: &str, flag: &str, arg: &str) -> Result<String, ToolError> {
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.args([
        "-F",
        "/dev/null",
        "-o",
        "ControlMaster=no",
        "-o",
        "BatchMode=yes",
        "-S",
    ])
    .arg(master.control_path())
    .args(["-O", op, flag, arg, "--", "relay-shell-forward"])
    .env_clear()
    .envs(crate::exec::child_env(&Default::default()))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true);
    let started = Instant::now();
    let out = tokio::time::timeout(CONTROL_WAIT, cmd.output())
        .await
        .map_err(|_| {
            ToolError::new(
                ErrorKind::ConnectionFailed,
                format!(
                    "the SSH connection did not answer the {op} request within {}s",
                    started.elapsed().as_secs()
                ),
            )
        })?
        .map_err(|e| ToolError::from_io(&e, "cannot run ssh (is OpenSSH installed?)"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err.trim();
    let why = if err.contains("Port forwarding failed") || err.contains("forwarding request failed")
    {
        match flag {
            "-R" => {
                "the remote host refused to listen (port in use, privileged, or not allowed by its sshd)"
            }
            _ => "the SSH client could not listen (port in use or privileged)",
        }
    } else {
        "the SSH connection refused the request"
    };
    Err(ToolError::new(
        ErrorKind::ConnectionFailed,
        format!("forward {flag} {arg}: {why}: {err}"),
    ))
}

/// `fwd-` + 12 lower-case hex digits from a CSPRNG.
fn new_id() -> String {
    let mut b = [0u8; 6];
    rand::fill(&mut b[..]);
    format!("fwd-{}", hex::encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(spec: &str) -> String {
        parse_spec(spec).unwrap_err().render()
    }

    #[test]
    fn specs_parse_with_and_without_a_bind_address() {
        let f = parse_spec("L:8080:web:80").unwrap();
        assert_eq!(f.kind, ForwardKind::Local);
        assert_eq!((f.bind, f.listen_port), (None, 8080));
        assert_eq!(f.dest, Some(("web".into(), 80)));
        let f = parse_spec(" r :0.0.0.0:0:127.0.0.1:22").unwrap();
        assert_eq!(f.kind, ForwardKind::Remote);
        assert_eq!(f.bind.as_deref(), Some("0.0.0.0"));
        assert!(f.non_loopback());
        let f = parse_spec("D:1080").unwrap();
        assert_eq!(
            (f.kind, f.listen_port, f.dest),
            (ForwardKind::Dynamic, 1080, None)
        );
        let f = parse_spec("d:[::1]:0").unwrap();
        assert_eq!(f.bind.as_deref(), Some("[::1]"));
        assert!(!f.non_loopback());
        let f = parse_spec("L:localhost:0:[fe80::1%eth0]:443").unwrap();
        assert!(!f.non_loopback());
        assert_eq!(f.dest.unwrap().0, "[fe80::1%eth0]");
    }

    #[test]
    fn malformed_specs_say_what_is_expected() {
        let l = "[ERROR: InvalidArgument: invalid L forward spec; expected \
                 L:[<bind_address>:]<listen_port>:<dest_host>:<dest_port>]";
        for bad in [
            "L:8080",
            "L:8080:web",
            "L:a:b:c:d:e",
            "L:x:web:80",
            "L:70000:web:80",
            "L:80:web:0",
            "L:80:-oProxyCommand=x:80",
            "L:80:we b:80",
            "L:80::80",
            "L:[::1:80:web:80",
            "L:80:web:80:",
        ] {
            assert_eq!(err(bad), l, "{bad}");
        }
        assert_eq!(
            err("D:a"),
            "[ERROR: InvalidArgument: invalid D forward spec; expected \
             D:[<bind_address>:]<listen_port>]"
        );
        assert!(err("R:1").contains("invalid R forward spec"));
        for bad in ["X:1:2:3", "8080", "", "LL:1:a:2"] {
            assert_eq!(
                err(bad),
                "[ERROR: InvalidArgument: forward spec must start with L:, R: or D:]"
            );
        }
    }

    #[test]
    fn non_loopback_needs_the_setting() {
        let on = ForwardLimits {
            max: 4,
            allow_nonloopback: true,
        };
        let off = ForwardLimits {
            allow_nonloopback: false,
            ..on
        };
        let wide = parse_spec("D:0.0.0.0:0").unwrap();
        assert!(check_bind(&wide, &on).is_ok());
        let e = check_bind(&wide, &off).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert!(e.message.contains("RELAY_SHELL_FORWARD_ALLOW_NONLOOPBACK"));
        for ok in ["D:0", "D:127.0.0.2:0", "D:localhost:0", "D:[::1]:0"] {
            assert!(check_bind(&parse_spec(ok).unwrap(), &off).is_ok(), "{ok}");
        }
    }

    #[test]
    fn local_ports_in_use_are_named() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let e = probe_local("127.0.0.1", port).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Busy);
        assert!(e.message.contains("already in use"), "{}", e.message);
        assert_ne!(probe_local("127.0.0.1", 0).unwrap(), 0);
        assert_eq!(bracket("::1"), "[::1]");
        assert!(new_id().starts_with("fwd-") && new_id().len() == 16);
    }
}
