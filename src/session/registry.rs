//! The process-wide table of sessions: capacity, ownership, unguessable ids, the background
//! reaper and shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::state::{ReapFacts, Session, SessionSummary};
use super::{SessionKind, SessionLimits, SpawnRequest};
use crate::error::{ErrorKind, ToolError};

/// Once a caller has been told a session ended, it is kept at most this long without
/// activity (or the idle timeout, if shorter) so a last `session_recv` can still read it.
pub const ENDED_LINGER: Duration = Duration::from_secs(60);

/// Every session of the process, shared by all tool calls. Cheap to clone.
///
/// Must be created inside a tokio runtime: it starts the reaper task. Call
/// [`Registry::shutdown`] before exiting so no child outlives the server.
#[derive(Clone, Debug)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Capacity, ring size and reaping durations.
    limits: SessionLimits,
    /// The sessions and the spawns in flight.
    table: Mutex<Table>,
    /// Stops the reaper; set by shutdown.
    stopping: CancellationToken,
}

#[derive(Debug, Default)]
struct Table {
    /// Sessions by id, live and recently ended.
    sessions: HashMap<String, Arc<Session>>,
    /// Slots promised to spawns that have passed the capacity check but not yet inserted.
    reserved: usize,
    /// Set by shutdown: no more spawns.
    closed: bool,
}

/// What the reaper does with one session at one tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Leave it.
    Keep,
    /// Already ended and nobody needs it any more: forget it.
    Forget,
    /// Live but idle too long: close it and forget it (nobody is watching).
    CloseAndForget,
    /// Live past its maximum lifetime: close it but keep it so its owner learns it ended.
    Close,
}

fn verdict(f: &ReapFacts, limits: &SessionLimits) -> Verdict {
    if let Some(_ended) = f.ended_at {
        let linger = if f.end_reported {
            ENDED_LINGER.min(limits.idle_timeout)
        } else {
            limits.idle_timeout
        };
        return if !f.waiting && f.idle >= linger {
            Verdict::Forget
        } else {
            Verdict::Keep
        };
    }
    if f.age >= limits.max_lifetime {
        Verdict::Close
    } else if !f.waiting && f.idle >= limits.idle_timeout {
        Verdict::CloseAndForget
    } else {
        Verdict::Keep
    }
}

/// A fresh id: `sh-` (local) or `ssh-` followed by 32 lower-case hex digits from 16 bytes
/// of the thread-local CSPRNG (128 bits: not guessable, not enumerable).
pub fn new_session_id(kind: SessionKind) -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes[..]);
    format!("{}-{}", kind.id_prefix(), hex::encode(bytes))
}

/// The one answer for an id that does not exist *or* belongs to someone else, so a caller
/// cannot learn whether another principal's session exists.
fn not_found(id: &str) -> ToolError {
    ToolError::new(ErrorKind::SessionNotFound, format!("no such session: {id}"))
}

/// Releases a capacity reservation unless the spawn it guarded succeeded.
struct Reservation<'a> {
    inner: &'a Inner,
    armed: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut t = self.inner.lock();
            t.reserved = t.reserved.saturating_sub(1);
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How often the reaper looks, derived from the shortest duration it enforces.
fn reap_period(limits: &SessionLimits) -> Duration {
    (limits.idle_timeout.min(limits.max_lifetime) / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1))
}

impl Registry {
    /// An empty registry enforcing `limits`, with its reaper running.
    pub fn new(limits: SessionLimits) -> Registry {
        let inner = Arc::new(Inner {
            limits,
            table: Mutex::new(Table::default()),
            stopping: CancellationToken::new(),
        });
        tokio::spawn(reaper(Arc::downgrade(&inner), inner.stopping.clone()));
        Registry { inner }
    }

    /// The limits this registry enforces.
    pub fn limits(&self) -> &SessionLimits {
        &self.inner.limits
    }

    /// Start `req` as a new session owned by `principal`.
    ///
    /// Capacity is checked and a slot reserved *before* anything is spawned, so a refused
    /// spawn starts nothing: `[ERROR: Busy: session limit reached (<max>); close idle
    /// sessions first]`. Ended sessions kept for a final read do not count.
    pub async fn spawn(
        &self,
        principal: &str,
        req: SpawnRequest,
    ) -> Result<Arc<Session>, ToolError> {
        let max = self.inner.limits.max_sessions;
        {
            let mut t = self.inner.lock();
            if t.closed {
                return Err(ToolError::new(
                    ErrorKind::Busy,
                    "the server is shutting down",
                ));
            }
            forget_surplus_ended(&mut t, max);
            let live = t.sessions.values().filter(|s| !s.has_ended()).count();
            if live + t.reserved >= max {
                return Err(ToolError::new(
                    ErrorKind::Busy,
                    format!("session limit reached ({max}); close idle sessions first"),
                ));
            }
            t.reserved += 1;
        }
        let mut reservation = Reservation {
            inner: &self.inner,
            armed: true,
        };
        let spawned = super::pty::spawn(&req)?;
        let session = Session::start(
            new_session_id(req.kind),
            principal,
            req.kind,
            req.title,
            req.size,
            self.inner.limits.buffer_bytes,
            spawned,
        );
        let inserted = {
            let mut t = self.inner.lock();
            reservation.armed = false;
            t.reserved = t.reserved.saturating_sub(1);
            if !t.closed {
                t.sessions
                    .insert(session.id().to_string(), Arc::clone(&session));
            }
            !t.closed
        };
        if !inserted {
            // Shutdown began while we were spawning: do not leave this one behind.
            session.close().await;
            return Err(ToolError::new(
                ErrorKind::Busy,
                "the server is shutting down",
            ));
        }
        Ok(session)
    }

    /// The session `id` if `principal` owns it; otherwise the same "no such session" error
    /// as for an unknown id.
    pub fn get(&self, principal: &str, id: &str) -> Result<Arc<Session>, ToolError> {
        let t = self.inner.lock();
        match t.sessions.get(id) {
            Some(s) if s.owner() == principal => Ok(Arc::clone(s)),
            _ => Err(not_found(id)),
        }
    }

    /// Signal a session; with `close`, run the close sequence too (the session stays listed,
    /// ended, so a final `session_recv` can read its last output and exit status).
    /// Returns the exit status when closed.
    pub async fn kill(
        &self,
        principal: &str,
        id: &str,
        sig: Signal,
        close: bool,
    ) -> Result<Option<i32>, ToolError> {
        let session = self.get(principal, id)?;
        session.signal(sig);
        if close {
            Ok(session.close().await)
        } else {
            Ok(None)
        }
    }

    /// `principal`'s sessions, oldest first.
    pub fn list(&self, principal: &str) -> Vec<SessionSummary> {
        let mut mine: Vec<Arc<Session>> = {
            let t = self.inner.lock();
            t.sessions
                .values()
                .filter(|s| s.owner() == principal)
                .cloned()
                .collect()
        };
        mine.sort_by_key(|s| s.created());
        mine.iter().map(|s| s.summary()).collect()
    }

    /// Number of sessions held (live and ended-but-kept), all principals.
    pub fn len(&self) -> usize {
        self.inner.lock().sessions.len()
    }

    /// Number of sessions whose program is still running, all principals (the metrics'
    /// gauge; ended sessions kept for a final read do not count).
    pub fn live(&self) -> usize {
        self.inner
            .lock()
            .sessions
            .values()
            .filter(|s| !s.has_ended())
            .count()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stop the reaper, refuse new spawns, and close every session concurrently, waiting
    /// until each one's processes are gone.
    pub async fn shutdown(&self) {
        self.inner.stopping.cancel();
        let all: Vec<Arc<Session>> = {
            let mut t = self.inner.lock();
            t.closed = true;
            t.sessions.drain().map(|(_, s)| s).collect()
        };
        let mut closing = JoinSet::new();
        for s in all {
            closing.spawn(async move { s.close().await });
        }
        while closing.join_next().await.is_some() {}
    }

    /// Run one reaper pass now (the background task does this periodically).
    pub async fn reap_once(&self) {
        reap_pass(&self.inner).await;
    }
}

/// Keep at most `max` ended sessions: forget the ones that ended first. Bounds the memory
/// held by finished sessions whose owners never come back for them.
fn forget_surplus_ended(t: &mut Table, max: usize) {
    let now = Instant::now();
    let mut ended: Vec<(Instant, String)> = t
        .sessions
        .values()
        .filter_map(|s| {
            s.reap_facts(now)
                .ended_at
                .map(|at| (at, s.id().to_string()))
        })
        .collect();
    if ended.len() <= max {
        return;
    }
    ended.sort();
    let surplus = ended.len() - max;
    for (_, id) in ended.into_iter().take(surplus) {
        t.sessions.remove(&id);
    }
}

async fn reap_pass(inner: &Inner) {
    let now = Instant::now();
    let judged: Vec<(Arc<Session>, Verdict)> = {
        let t = inner.lock();
        t.sessions
            .values()
            .map(|s| (Arc::clone(s), verdict(&s.reap_facts(now), &inner.limits)))
            .filter(|(_, v)| *v != Verdict::Keep)
            .collect()
    };
    let mut closing = JoinSet::new();
    for (session, v) in judged {
        match v {
            Verdict::Keep => {}
            Verdict::Forget => {
                inner.lock().sessions.remove(session.id());
            }
            Verdict::CloseAndForget => {
                inner.lock().sessions.remove(session.id());
                tracing::info!(session = session.id(), "closing idle session");
                closing.spawn(async move { session.close().await });
            }
            Verdict::Close => {
                tracing::info!(
                    session = session.id(),
                    "closing session at its maximum lifetime"
                );
                closing.spawn(async move { session.close().await });
            }
        }
    }
    while closing.join_next().await.is_some() {}
}

async fn reaper(inner: Weak<Inner>, stopping: CancellationToken) {
    let period = match inner.upgrade() {
        Some(i) => reap_period(&i.limits),
        None => return,
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopping.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        reap_pass(&inner).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SessionLimits {
        SessionLimits {
            max_sessions: 4,
            buffer_bytes: 1024,
            idle_timeout: Duration::from_secs(100),
            max_lifetime: Duration::from_secs(1000),
        }
    }

    fn facts(age: u64, idle: u64, ended: bool, reported: bool, waiting: bool) -> ReapFacts {
        ReapFacts {
            age: Duration::from_secs(age),
            idle: Duration::from_secs(idle),
            ended_at: ended.then(Instant::now),
            end_reported: reported,
            waiting,
        }
    }

    #[test]
    fn verdicts() {
        let l = limits();
        assert_eq!(
            verdict(&facts(10, 10, false, false, false), &l),
            Verdict::Keep
        );
        assert_eq!(
            verdict(&facts(200, 100, false, false, false), &l),
            Verdict::CloseAndForget
        );
        // a waiting recv keeps an idle session alive ...
        assert_eq!(
            verdict(&facts(200, 100, false, false, true), &l),
            Verdict::Keep
        );
        // ... but not past its lifetime
        assert_eq!(
            verdict(&facts(1000, 0, false, false, true), &l),
            Verdict::Close
        );
        // ended: unreported sessions linger for the idle timeout, reported ones less
        assert_eq!(
            verdict(&facts(10, 61, true, false, false), &l),
            Verdict::Keep
        );
        assert_eq!(
            verdict(&facts(10, 100, true, false, false), &l),
            Verdict::Forget
        );
        assert_eq!(
            verdict(&facts(10, 60, true, true, false), &l),
            Verdict::Forget
        );
        assert_eq!(verdict(&facts(10, 60, true, true, true), &l), Verdict::Keep);
    }

    #[test]
    fn ids_are_long_and_distinct() {
        let a = new_session_id(SessionKind::Local);
        let b = new_session_id(SessionKind::Local);
        assert_ne!(a, b);
        assert!(a.starts_with("sh-"));
        assert_eq!(a.len(), 3 + 32);
        assert!(
            a[3..]
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(new_session_id(SessionKind::Ssh).starts_with("ssh-"));
    }
}
