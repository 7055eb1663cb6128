//! The process-wide audit sink: appends serialised under a short mutex (one `write` per
//! line), durability on a dedicated thread (interval `fsync`, or group commit for
//! `fsync=always`), failures surfaced and, under `on_failure=refuse`, turned into refusals.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::config::{AuditConfig, Format, FsyncPolicy, OnFailure};
use super::record::Record;
use super::sink::Sink;

/// How often the interval policy syncs, and how often a failing sink is retried.
const TICK: Duration = Duration::from_millis(100);
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// Failed `fsync` batches remembered for waiters that have not looked yet.
const FAILED_BATCHES_KEPT: usize = 64;

/// Why a record could not be written (or the sink refuses work).
#[derive(Debug, thiserror::Error)]
#[error("audit write to {path} failed: {source}")]
pub struct AuditError {
    /// The audit path.
    pub path: String,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

/// What `server_info` and `--check-config` report about the sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditStatus {
    /// The effective path.
    pub path: String,
    /// Whether records are not being durably stored right now (not a regular file, writes
    /// or syncs failing).
    pub degraded: bool,
    /// Why, when degraded.
    pub reason: String,
    /// Line format.
    pub format: Format,
    /// Whether lines are hash-chained.
    pub chain: bool,
    /// The fsync policy.
    pub fsync: FsyncPolicy,
    /// What happens while writes fail.
    pub on_failure: OnFailure,
    /// Failed write/fsync attempts since start.
    pub write_failures: u64,
    /// Records waiting in memory to be written.
    pub queued: usize,
    /// Records dropped because the in-memory queue was full.
    pub dropped: u64,
    /// Of those, records not yet reported by a gap record in the log.
    pub unreported: u64,
    /// Gap records written since start.
    pub gaps_written: u64,
    /// The most recent error (kept after recovery).
    pub last_error: String,
    /// Lines written since start.
    pub written: u64,
}

/// Progress of the sync thread, for group commit.
#[derive(Debug, Default)]
struct SyncState {
    /// Highest write ticket someone waits to see synced.
    requested: u64,
    /// Highest write ticket known durable.
    synced: u64,
    /// Ticket ranges `(after, upto]` whose `fsync` failed, newest last.
    failed: Vec<(u64, u64)>,
    /// Set when the log is dropped: the thread exits.
    stop: bool,
    /// A writer took the file lock: the sync thread should wake and release it once the
    /// burst is over.
    lock_taken: bool,
}

#[derive(Debug)]
struct Inner {
    cfg: AuditConfig,
    sink: Mutex<Sink>,
    sync: Mutex<SyncState>,
    wake: Condvar,
    synced_tx: watch::Sender<u64>,
    /// Whether the sync thread runs; without it syncs happen inline.
    threaded: bool,
}

/// The process-wide audit sink. Cheap to share in an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn error(&self, source: std::io::Error) -> AuditError {
        AuditError {
            path: lock(&self.sink).path.display().to_string(),
            source,
        }
    }

    /// Write the record (after any queued ones) and return its group-commit ticket.
    fn write(&self, record: Record) -> Result<u64, AuditError> {
        let body = record.into_json();
        let mut sink = lock(&self.sink);
        let res = sink.append(&self.cfg, body, self.cfg.mirror_stderr);
        let ticket = sink.written;
        let mirror = self.cfg.mirror_stderr && sink.nonregular.is_none();
        let lock_taken = sink.take_lock_news();
        drop(sink);
        if lock_taken && self.threaded {
            lock(&self.sync).lock_taken = true;
            self.wake.notify_all();
        }
        match res {
            Ok(lines) => {
                if mirror {
                    use std::io::Write;
                    let mut err = std::io::stderr().lock();
                    for l in lines {
                        let _ = writeln!(err, "AUDIT {l}");
                    }
                }
                Ok(ticket)
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// One `fsync` of everything written so far; returns the ticket it covers.
    fn sync_now(&self) {
        let (target, file) = {
            let s = lock(&self.sink);
            // A FIFO or character device cannot be synced (and is already degraded).
            let file = s.file.clone().filter(|_| s.nonregular.is_none());
            (s.written, file)
        };
        let res = match file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        };
        lock(&self.sink).note_sync(&res);
        let mut st = lock(&self.sync);
        if res.is_err() {
            let from = st.synced;
            st.failed.push((from, target));
            if st.failed.len() > FAILED_BATCHES_KEPT {
                st.failed.remove(0);
            }
        }
        st.synced = st.synced.max(target);
        let synced = st.synced;
        drop(st);
        // Async waiters watch the channel; blocking waiters sleep on the condvar.
        self.synced_tx.send_replace(synced);
        self.wake.notify_all();
    }

    fn sync_failed_for(&self, ticket: u64) -> bool {
        lock(&self.sync)
            .failed
            .iter()
            .any(|&(a, b)| a < ticket && ticket <= b)
    }

    fn request_sync(&self, ticket: u64) {
        let mut st = lock(&self.sync);
        st.requested = st.requested.max(ticket);
        drop(st);
        self.wake.notify_all();
    }

    fn sync_result(&self, ticket: u64) -> Result<(), AuditError> {
        if self.sync_failed_for(ticket) {
            let cause = lock(&self.sink).cause.clone();
            return Err(self.error(std::io::Error::other(cause)));
        }
        Ok(())
    }
}

/// The sync thread: interval syncs, group commits, retries of a failing sink.
fn sync_loop(weak: Weak<Inner>) {
    let mut last_retry = Instant::now();
    let mut next_tick = Instant::now() + TICK;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        // Sleep until the next tick, or until the file lock a burst of appends holds is due
        // for release, whichever comes first.
        let wake_at = lock(&inner.sink)
            .lock_release_due()
            .map_or(next_tick, |due| due.min(next_tick));
        let timeout = wake_at.saturating_duration_since(Instant::now());
        {
            let st = lock(&inner.sync);
            if st.stop {
                return;
            }
            let (mut st, _) = inner
                .wake
                .wait_timeout_while(st, timeout, |s| {
                    !s.stop && s.requested <= s.synced && !s.lock_taken
                })
                .unwrap_or_else(|p| p.into_inner());
            if st.stop {
                return;
            }
            st.lock_taken = false;
        }
        let (written, failing, sync_error) = {
            let mut s = lock(&inner.sink);
            s.release_lock_if_due(Instant::now());
            (s.written, s.failing.is_some(), s.sync_error.is_some())
        };
        let synced = lock(&inner.sync).synced;
        let now = Instant::now();
        let ticked = now >= next_tick;
        if ticked {
            next_tick = now + TICK;
        }
        let due = match inner.cfg.fsync {
            FsyncPolicy::Always => written > synced || sync_error,
            FsyncPolicy::Interval => (ticked && written > synced) || sync_error,
            FsyncPolicy::Never => false,
        };
        if due {
            inner.sync_now();
        }
        if failing && last_retry.elapsed() >= RETRY_EVERY {
            last_retry = Instant::now();
            let _ = lock(&inner.sink).recover(&inner.cfg);
        }
    }
}

impl AuditLog {
    /// Open (creating if needed) the log and resume its chain. Never fails: problems mark
    /// the sink degraded (see [`AuditLog::status`]).
    pub fn open(cfg: AuditConfig) -> AuditLog {
        let sink = Sink::open(&cfg);
        let (synced_tx, _) = watch::channel(0u64);
        let mut inner = Arc::new(Inner {
            cfg,
            sink: Mutex::new(sink),
            sync: Mutex::new(SyncState::default()),
            wake: Condvar::new(),
            synced_tx,
            threaded: true,
        });
        let weak = Arc::downgrade(&inner);
        let spawned = std::thread::Builder::new()
            .name("audit-sync".into())
            .spawn(move || sync_loop(weak));
        if let Err(e) = spawned {
            tracing::warn!("audit sync thread could not start ({e}); syncing inline");
            if let Some(i) = Arc::get_mut(&mut inner) {
                i.threaded = false;
            }
        }
        AuditLog { inner }
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &AuditConfig {
        &self.inner.cfg
    }

    /// Current sink status.
    pub fn status(&self) -> AuditStatus {
        let cfg = &self.inner.cfg;
        let s = lock(&self.inner.sink);
        let reason = s
            .failing
            .clone()
            .or_else(|| s.sync_error.clone())
            .or_else(|| s.nonregular.clone())
            .unwrap_or_default();
        AuditStatus {
            path: s.path.display().to_string(),
            degraded: !reason.is_empty(),
            reason,
            format: cfg.format,
            chain: cfg.chained(),
            fsync: cfg.fsync,
            on_failure: cfg.on_failure,
            write_failures: s.write_failures,
            queued: s.queue.len(),
            dropped: s.dropped,
            unreported: s.unreported,
            gaps_written: s.gaps_written,
            last_error: s.last_error.clone(),
            written: s.written,
        }
    }

    /// Whether a new call may start. `Err` when `on_failure=refuse` and records cannot be
    /// written right now (a retry is attempted first); always `Ok` under `continue`.
    pub fn admit(&self) -> Result<(), AuditError> {
        if self.inner.cfg.on_failure == OnFailure::Continue {
            return Ok(());
        }
        let mut s = lock(&self.inner.sink);
        if s.failing.is_some() {
            let _ = s.recover(&self.inner.cfg);
        }
        let failing = s.failing.is_some() || s.sync_error.is_some();
        let cause = s.cause.clone();
        drop(s);
        if !failing {
            return Ok(());
        }
        Err(self.inner.error(std::io::Error::other(cause)))
    }

    /// Append one record as one line. Returns once the line is written — and, with
    /// `fsync=always`, synced (concurrent callers share one `fsync`). A start record is a
    /// no-op when start records are off. On failure the record stays queued in memory and
    /// is written before anything else once writes succeed again.
    pub async fn append(&self, record: Record) -> Result<(), AuditError> {
        if matches!(record, Record::Start(_)) && !self.inner.cfg.start_records {
            return Ok(());
        }
        let ticket = self.inner.write(record)?;
        if self.inner.cfg.fsync == FsyncPolicy::Always {
            if self.inner.threaded {
                let mut rx = self.inner.synced_tx.subscribe();
                self.inner.request_sync(ticket);
                let _ = rx.wait_for(|s| *s >= ticket).await;
            } else {
                self.inner.sync_now();
            }
            self.inner.sync_result(ticket)?;
        }
        Ok(())
    }

    /// [`AuditLog::append`] for callers outside an async context (blocks for the sync).
    pub fn append_blocking(&self, record: Record) -> Result<(), AuditError> {
        if matches!(record, Record::Start(_)) && !self.inner.cfg.start_records {
            return Ok(());
        }
        let ticket = self.inner.write(record)?;
        if self.inner.cfg.fsync == FsyncPolicy::Always {
            if self.inner.threaded {
                let mut st = lock(&self.inner.sync);
                st.requested = st.requested.max(ticket);
                self.inner.wake.notify_all();
                while st.synced < ticket && !st.stop {
                    st = self
                        .inner
                        .wake
                        .wait_timeout(st, TICK)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
            } else {
                self.inner.sync_now();
            }
            self.inner.sync_result(ticket)?;
        }
        Ok(())
    }

    /// Write anything queued and `fsync` the file (shutdown). Blocks.
    pub fn flush_and_sync(&self) {
        let _ = lock(&self.inner.sink).recover(&self.inner.cfg);
        self.inner.sync_now();
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        lock(&self.inner.sync).stop = true;
        self.inner.wake.notify_all();
        if self.inner.cfg.fsync != FsyncPolicy::Never {
            self.flush_and_sync();
        } else {
            let _ = lock(&self.inner.sink).recover(&self.inner.cfg);
        }
        // Records still queued now can no longer be written by this process: say how many
        // (each was printed to stderr when it was queued).
        let mut s = lock(&self.inner.sink);
        let left = s.queue.len() as u64;
        if left > 0 || s.unreported > 0 {
            s.note_lost(left);
            tracing::error!(
                path = %s.path.display(),
                lost = s.unreported,
                "audit records lost at shutdown: the log could not be written"
            );
        }
    }
}
