//! The connection pool: one OpenSSH master per identity (see `resolve.rs`), shared by every
//! call with that identity.
//!
//! A master is `ssh -M -N -S <ctl> …` run as our own child (a session leader, with
//! `PR_SET_PDEATHSIG` so it dies with the server even after a crash). Commands run over its
//! control socket with the `openssh` crate's native mux client; PTY sessions, SFTP and
//! forwards can use the same socket ([`Master::control_path`]).
//!
//! - **Single flight.** The first call for an identity starts the dial on its own task; every
//!   concurrent call for that identity waits for the same result (a waiter that goes away does
//!   not cancel the dial).
//! - **Capacity.** At most `max_conns` masters; inserting one more closes the least recently
//!   used idle master. A master is never closed while a call uses it or a PTY session runs over
//!   it; if every master is busy the cap is exceeded until some become idle.
//! - **Idle and dead masters.** A sweeper closes masters idle longer than the idle timeout and
//!   forgets masters whose process has exited; a call that finds its master dead dials a new
//!   one, transparently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::KnownHosts;
use crate::error::{ErrorKind, ToolError};
use crate::session::Session;
use crate::ssh::failure;
use crate::ssh::resolve::{Request, Resolved};
use crate::ssh::runtime::Runtime;

/// The pool's bounds (`RELAY_SHELL_MAX_CONNS`, `RELAY_SHELL_SSH_IDLE_TIMEOUT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolLimits {
    /// Most masters kept.
    pub max_conns: usize,
    /// Close a master unused this long (`None` = never).
    pub idle_timeout: Option<Duration>,
}

/// One live OpenSSH master.
#[derive(Debug)]
pub struct Master {
    /// The identity digest this master serves.
    identity: String,
    /// Control socket.
    ctl: PathBuf,
    /// The master's `-E` log (read when it fails).
    log: PathBuf,
    /// The generated config it was started with (PTY clients must use the same).
    config: PathBuf,
    /// The request it was started for (PTY clients repeat its options).
    request: Request,
    /// Native mux client over `ctl`.
    session: openssh::Session,
    /// The `ssh -M` process; `None` once reaped.
    child: Mutex<Option<tokio::process::Child>>,
    /// Its pid (= process group, it is a session leader).
    pid: i32,
    /// Calls currently using it.
    in_use: AtomicUsize,
    /// When a call last released it.
    last_used: Mutex<Instant>,
    /// PTY sessions running over it; they keep it pinned until they end.
    sessions: Mutex<Vec<Weak<Session>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Master {
    /// The mux client for running commands.
    pub fn session(&self) -> &openssh::Session {
        &self.session
    }

    /// The control socket, for `ssh -S` clients (PTY sessions, forwards, SFTP).
    pub fn control_path(&self) -> &Path {
        &self.ctl
    }

    /// The generated ssh_config this master was started with.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The request it serves.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The `ssh -M` process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether the master process is still running and its socket exists.
    pub fn is_alive(&self) -> bool {
        let running = match lock(&self.child).as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        };
        running && self.ctl.exists()
    }

    /// Keep this master open while `s` (a PTY session over it) runs.
    pub fn pin_session(&self, s: &Arc<Session>) {
        let mut v = lock(&self.sessions);
        v.retain(|w| w.upgrade().is_some_and(|s| !s.has_ended()));
        v.push(Arc::downgrade(s));
    }

    fn busy(&self) -> bool {
        self.in_use.load(Ordering::Acquire) > 0
            || lock(&self.sessions)
                .iter()
                .any(|w| w.upgrade().is_some_and(|s| !s.has_ended()))
    }

    fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }

    /// Stop the master: `SIGTERM` to its group, `SIGKILL` after 2 s, then remove its files.
    async fn shutdown(&self) {
        let child = lock(&self.child).take();
        if let Some(mut child) = child
            && matches!(child.try_wait(), Ok(None))
        {
            {
                signal_group(self.pid, libc::SIGTERM);
                if tokio::time::timeout(Duration::from_secs(2), child.wait())
                    .await
                    .is_err()
                {
                    signal_group(self.pid, libc::SIGKILL);
                    let _ = child.wait().await;
                }
            }
        }
        let _ = std::fs::remove_file(&self.ctl);
        let _ = std::fs::remove_file(&self.log);
    }
}

fn signal_group(pgid: i32, sig: i32) {
    // Never 0 or 1: `kill(0)` would signal our own group, `kill(-1)` everything we may signal.
    if pgid <= 1 {
        return;
    }
    // SAFETY: a plain syscall; `pgid` is the group of a child we have not reaped yet.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// A master in use by one call; releasing it (drop) records the time of last use.
#[derive(Debug)]
pub struct Lease {
    master: Arc<Master>,
}

impl Lease {
    /// The master.
    pub fn master(&self) -> &Arc<Master> {
        &self.master
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        *lock(&self.master.last_used) = Instant::now();
        self.master.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

type DialResult = Option<Result<Arc<Master>, ToolError>>;

#[derive(Debug, Default)]
struct Table {
    masters: HashMap<String, Arc<Master>>,
    dialing: HashMap<String, watch::Receiver<DialResult>>,
    closed: bool,
}

#[derive(Debug)]
struct Inner {
    limits: PoolLimits,
    runtime: Arc<Runtime>,
    table: Mutex<Table>,
    stopping: CancellationToken,
    /// Masters started since the server started (for tests and metrics).
    dials: AtomicU64,
}

/// The pool. Cheap to clone; must be created inside a tokio runtime (it starts the sweeper).
#[derive(Clone, Debug)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl Pool {
    /// An empty pool whose masters live in `runtime`.
    pub fn new(runtime: Arc<Runtime>, limits: PoolLimits) -> Pool {
        let inner = Arc::new(Inner {
            limits,
            runtime,
            table: Mutex::new(Table::default()),
            stopping: CancellationToken::new(),
            dials: AtomicU64::new(0),
        });
        tokio::spawn(sweeper(Arc::downgrade(&inner), inner.stopping.clone()));
        Pool { inner }
    }

    /// Live masters and masters started so far.
    pub fn stats(&self) -> (usize, u64) {
        (
            lock(&self.inner.table).masters.len(),
            self.inner.dials.load(Ordering::Relaxed),
        )
    }

    /// A master for `resolved.identity`: a live cached one, the result of a dial already in
    /// flight, or a new dial. A cached master whose process has died is replaced.
    pub async fn acquire(
        &self,
        req: &Request,
        resolved: &Resolved,
        connect_timeout: u64,
    ) -> Result<Lease, ToolError> {
        for _ in 0..3 {
            let rx = {
                let mut t = lock(&self.inner.table);
                if t.closed {
                    return Err(ToolError::new(
                        ErrorKind::Busy,
                        "the server is shutting down",
                    ));
                }
                if let Some(m) = t.masters.get(&resolved.identity).cloned() {
                    if m.is_alive() {
                        m.in_use.fetch_add(1, Ordering::AcqRel);
                        return Ok(Lease { master: m });
                    }
                    t.masters.remove(&resolved.identity);
                    tokio::spawn(async move { m.shutdown().await });
                }
                match t.dialing.get(&resolved.identity) {
                    Some(rx) => rx.clone(),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        t.dialing.insert(resolved.identity.clone(), rx.clone());
                        let inner = self.inner.clone();
                        let (req, resolved) = (req.clone(), resolved.clone());
                        tokio::spawn(async move {
                            let result = dial(&inner, &req, &resolved, connect_timeout).await;
                            let result = settle(&inner, &resolved.identity, result);
                            let _ = tx.send(Some(result));
                        });
                        rx
                    }
                }
            };
            let mut rx = rx;
            let outcome = rx
                .wait_for(Option::is_some)
                .await
                .map(|v| v.clone())
                .map_err(|_| ToolError::new(ErrorKind::Internal, "the ssh dial task vanished"))?;
            if let Some(Err(e)) = outcome {
                return Err(e);
            }
        }
        Err(ToolError::new(
            ErrorKind::ConnectionFailed,
            format!(
                "the connection to {} kept closing while it was being set up",
                resolved.hostname
            ),
        ))
    }

    /// Forget `master` (its socket failed); it is stopped in the background.
    pub fn discard(&self, master: &Arc<Master>) {
        let mut t = lock(&self.inner.table);
        if t.masters
            .get(&master.identity)
            .is_some_and(|m| Arc::ptr_eq(m, master))
        {
            t.masters.remove(&master.identity);
        }
        let m = master.clone();
        tokio::spawn(async move { m.shutdown().await });
    }

    /// Stop every master and refuse new dials; removes the runtime directory.
    pub async fn shutdown(&self) {
        self.inner.stopping.cancel();
        let masters: Vec<Arc<Master>> = {
            let mut t = lock(&self.inner.table);
            t.closed = true;
            t.masters.drain().map(|(_, m)| m).collect()
        };
        let mut set = tokio::task::JoinSet::new();
        for m in masters {
            set.spawn(async move { m.shutdown().await });
        }
        while set.join_next().await.is_some() {}
        self.inner.runtime.remove();
    }
}

/// Record a finished dial: insert the master (closing LRU idle ones over the cap) or pass the
/// error on. Runs on the dial task, so the result lands even if every waiter went away.
fn settle(
    inner: &Arc<Inner>,
    identity: &str,
    result: Result<Arc<Master>, ToolError>,
) -> Result<Arc<Master>, ToolError> {
    let mut victims = Vec::new();
    let result = {
        let mut t = lock(&inner.table);
        t.dialing.remove(identity);
        match result {
            Ok(m) if t.closed => {
                victims.push(m);
                Err(ToolError::new(
                    ErrorKind::Busy,
                    "the server is shutting down",
                ))
            }
            Ok(m) => {
                t.masters.insert(identity.to_string(), m.clone());
                while t.masters.len() > inner.limits.max_conns.max(1) {
                    let lru = t
                        .masters
                        .iter()
                        .filter(|(k, m)| k.as_str() != identity && !m.busy())
                        .max_by_key(|(_, m)| m.idle_for())
                        .map(|(k, _)| k.clone());
                    match lru.and_then(|k| t.masters.remove(&k)) {
                        Some(v) => victims.push(v),
                        None => break,
                    }
                }
                Ok(m)
            }
            Err(e) => Err(e),
        }
    };
    for v in victims {
        tokio::spawn(async move { v.shutdown().await });
    }
    result
}

/// Start a master and wait until its control socket answers, or it fails.
async fn dial(
    inner: &Inner,
    req: &Request,
    resolved: &Resolved,
    connect_timeout: u64,
) -> Result<Arc<Master>, ToolError> {
    let (ctl, log) = inner.runtime.next_master_paths();
    let config = inner.runtime.config_path(req.mode);
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.arg("-M")
        .arg("-N")
        .arg("-S")
        .arg(&ctl)
        .arg("-E")
        .arg(&log)
        .args(["-o", "ControlPersist=no", "-o"])
        .arg(format!("ConnectTimeout={connect_timeout}"))
        .args(req.options(&config))
        .arg("--")
        .arg(&req.dest)
        .env_clear()
        .envs(crate::exec::child_env(&Default::default()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let server = std::process::id() as i32;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            // SIGTERM lets ssh remove its control socket. A server killed before this
            // point cannot signal the master: it then does not start.
            crate::procs::die_with_parent(server, libc::SIGTERM)
                .map_err(std::io::Error::from_raw_os_error)
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| ToolError::from_io(&e, "cannot run ssh (is OpenSSH installed?)"))?;
    inner.dials.fetch_add(1, Ordering::Relaxed);
    let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
    let hops = resolved.hops as u64;
    let limit = Duration::from_secs(connect_timeout.saturating_mul(hops + 1) + 5);
    let started = Instant::now();
    let mut delay = Duration::from_millis(2);
    let who = format!("{}@{}:{}", resolved.user, resolved.hostname, resolved.port);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            return Err(failure::classify(&text, &who, req.mode, status.code()));
        }
        if ctl.exists() {
            let session = openssh::Session::resume_mux(ctl.clone().into_boxed_path(), None);
            if session.check().await.is_ok() {
                return Ok(Arc::new(Master {
                    identity: resolved.identity.clone(),
                    ctl,
                    log,
                    config,
                    request: req.clone(),
                    session,
                    child: Mutex::new(Some(child)),
                    pid,
                    in_use: AtomicUsize::new(0),
                    last_used: Mutex::new(Instant::now()),
                    sessions: Mutex::new(Vec::new()),
                }));
            }
        }
        if started.elapsed() >= limit {
            signal_group(pid, libc::SIGKILL);
            let _ = child.wait().await;
            let _ = std::fs::remove_file(&ctl);
            let _ = std::fs::remove_file(&log);
            return Err(ToolError::new(
                ErrorKind::ConnectionFailed,
                format!("no connection to {who} within {}s", limit.as_secs()),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// Close idle masters and forget dead ones, until the pool stops.
async fn sweeper(inner: Weak<Inner>, stopping: CancellationToken) {
    let period = inner
        .upgrade()
        .and_then(|i| i.limits.idle_timeout)
        .map_or(Duration::from_secs(5), |d| d / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = stopping.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        let victims: Vec<Arc<Master>> = {
            let mut t = lock(&inner.table);
            let idle = inner.limits.idle_timeout;
            let gone: Vec<String> = t
                .masters
                .iter()
                .filter(|(_, m)| {
                    !m.is_alive() || (!m.busy() && idle.is_some_and(|d| m.idle_for() >= d))
                })
                .map(|(k, _)| k.clone())
                .collect();
            gone.iter().filter_map(|k| t.masters.remove(k)).collect()
        };
        for v in victims {
            v.shutdown().await;
        }
    }
}

/// The mode a call uses: its own, else the inventory entry's, else the server default;
/// `allow_weaker = false` refuses a per-call mode weaker than the default.
pub fn effective_mode(
    per_call: Option<KnownHosts>,
    inventory: Option<KnownHosts>,
    default: KnownHosts,
    allow_weaker: bool,
) -> Result<KnownHosts, ToolError> {
    let rank = |m: KnownHosts| match m {
        KnownHosts::Strict => 2,
        KnownHosts::AcceptNew => 1,
        KnownHosts::Ignore => 0,
    };
    if let Some(m) = per_call {
        if !allow_weaker && rank(m) < rank(default) {
            return Err(ToolError::invalid(format!(
                "known_hosts={} would weaken the server default '{}'; refused \
                 (RELAY_SHELL_SSH_ALLOW_WEAKER_KNOWN_HOSTS=false)",
                m.as_str(),
                default.as_str()
            )));
        }
        return Ok(m);
    }
    Ok(inventory.unwrap_or(default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_mode_order_and_weakening() {
        use KnownHosts::*;
        assert_eq!(effective_mode(None, None, Strict, true).unwrap(), Strict);
        assert_eq!(
            effective_mode(None, Some(Ignore), Strict, false).unwrap(),
            Ignore
        );
        assert_eq!(
            effective_mode(Some(AcceptNew), Some(Ignore), Strict, true).unwrap(),
            AcceptNew
        );
        assert_eq!(
            effective_mode(Some(Strict), None, Ignore, false).unwrap(),
            Strict
        );
        let e = effective_mode(Some(AcceptNew), None, Strict, false).unwrap_err();
        assert!(
            e.message
                .starts_with("known_hosts=accept-new would weaken the server default 'strict'")
        );
        assert!(effective_mode(Some(Ignore), None, AcceptNew, false).is_err());
    }
}
