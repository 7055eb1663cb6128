//! One live session: the terminal handles, the output ring, the bookkeeping the reaper and
//! `session_list` read, and the output pump that feeds the ring and reaps the child.

use crate::policy::input::PendingLine;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::Signal;
use pty_process::OwnedReadPty;
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pty::{PtyTerminal, Spawned};
use super::ring::OutputRing;
use super::signal::{session_alive, signal_session};
use super::{SessionKind, TermSize};
use crate::error::ToolError;

/// Largest single read from the PTY master.
const READ_CHUNK: usize = 64 * 1024;
/// After output arrives, `recv` waits this long for more before answering, so one answer
/// holds a whole burst (a prompt after a command's output) rather than its first fragment.
pub const RECV_QUIET: Duration = Duration::from_millis(50);
/// How long the close sequence waits after `SIGHUP`/`SIGTERM` before `SIGKILL`.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long the close sequence waits after `SIGKILL` for the kernel to finish the job.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// Poll period while waiting for a process group to disappear.
const CLOSE_POLL: Duration = Duration::from_millis(10);

/// A child in a PTY, owned by one principal.
#[derive(Debug)]
pub struct Session {
    /// Unguessable handle the caller names the session by.
    id: String,
    /// The principal that spawned it; nobody else may see or drive it.
    owner: String,
    /// Local shell or `ssh -tt`.
    kind: SessionKind,
    /// Human-readable label shown by `session_list`.
    title: String,
    /// When it started (age and lifetime reaping).
    created: Instant,
    /// Input, resize and signal handles.
    terminal: PtyTerminal,
    /// Mutable bookkeeping shared with the output pump.
    state: Mutex<SessionState>,
    /// Woken whenever output arrives or the session ends, so `recv` sleeps instead of polling.
    changed: Notify,
    /// Number of `recv` calls currently waiting; the reaper does not idle-reap such a session.
    waiters: AtomicUsize,
    /// Tells the output pump to stop reading (used by the close sequence when something
    /// outside the session still holds the terminal open).
    stop_reading: CancellationToken,
    /// The policy engine's partial input line (text sent without a newline yet), kept here
    /// so a command typed in pieces is classified as a whole.
    pending_input: Mutex<PendingLine>,
}

/// Bookkeeping guarded by the session's lock.
#[derive(Debug)]
struct SessionState {
    /// Unread output.
    ring: OutputRing,
    /// Current window size.
    size: TermSize,
    /// Last input, output or call on this session (idle reaping).
    last_activity: Instant,
    /// The PTY master reported end of output (every holder of the terminal is gone).
    output_done: bool,
    /// The leader's exit status once reaped: the exit code, or `-N` for death by signal N.
    /// `None` while running, and also after reaping when no status was available.
    exit_code: Option<i32>,
    /// The leader has been reaped.
    reaped: bool,
    /// When the session ended (output done and leader reaped).
    ended_at: Option<Instant>,
    /// A caller has been told the session ended (end marker read, or closed by request).
    end_reported: bool,
    /// The last output bytes since the last send (at most `prompt::TAIL_BYTES`), for the
    /// secret-prompt check; separate from the ring, so reading output does not clear it.
    tail: Vec<u8>,
}

impl SessionState {
    fn ended(&self) -> bool {
        self.output_done && self.reaped
    }
}

/// What one `recv` returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The output taken from the ring, raw bytes.
    pub bytes: Vec<u8>,
    /// Bytes lost to overflow since the previous `recv` (they preceded `bytes`).
    pub dropped: u64,
    /// `Some(exit)` when the session has ended and nothing is left to read; `exit` is the
    /// leader's status when known.
    pub ended: Option<Option<i32>>,
}

impl Received {
    /// The result-string form: an optional `[<N> bytes dropped]` line, the output decoded as
    /// UTF-8 (invalid sequences become U+FFFD), and an end marker
    /// `\n[session <id> ended, exit=<code>]` (or `\n[session <id> ended]` when no status is
    /// known) once the session has ended and its output has all been read.
    pub fn render(&self, id: &str) -> String {
        let mut out = String::new();
        if self.dropped > 0 {
            out.push_str(&format!("[{} bytes dropped]\n", self.dropped));
        }
        out.push_str(&String::from_utf8_lossy(&self.bytes));
        match self.ended {
            Some(Some(code)) => out.push_str(&format!("\n[session {id} ended, exit={code}]")),
            Some(None) => out.push_str(&format!("\n[session {id} ended]")),
            None => {}
        }
        out
    }
}

/// A snapshot of one session for `session_list` (docs/tools.md fields).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSummary {
    /// Session id.
    pub id: String,
    /// `local` or `ssh`.
    pub kind: SessionKind,
    /// Label given at spawn.
    pub title: String,
    /// Current window size.
    pub size: TermSize,
    /// Seconds since spawn.
    pub age_s: f64,
    /// Seconds since the last input, output or call.
    pub idle_s: f64,
    /// Bytes waiting to be read.
    pub buffered: u64,
    /// Bytes ever produced by the child.
    pub produced: u64,
    /// Bytes discarded by the ring on overflow.
    pub dropped: u64,
    /// Whether the session has ended.
    pub closed: bool,
    /// Leader's exit status once known.
    pub exit_code: Option<i32>,
}

/// Counts a `recv` as waiting while it lives, even if its future is dropped mid-wait.
struct WaiterGuard<'a>(&'a AtomicUsize);

impl<'a> WaiterGuard<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn exit_code(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|s| -s))
}

impl Session {
    /// Wrap a freshly spawned child and start its output pump.
    pub(super) fn start(
        id: String,
        owner: &str,
        kind: SessionKind,
        title: String,
        size: TermSize,
        buffer_bytes: usize,
        spawned: Spawned,
    ) -> Arc<Session> {
        let now = Instant::now();
        let session = Arc::new(Session {
            id,
            owner: owner.to_string(),
            kind,
            title,
            created: now,
            terminal: spawned.terminal,
            state: Mutex::new(SessionState {
                ring: OutputRing::new(buffer_bytes),
                size,
                last_activity: now,
                output_done: false,
                exit_code: None,
                reaped: false,
                ended_at: None,
                end_reported: false,
                tail: Vec::new(),
            }),
            changed: Notify::new(),
            waiters: AtomicUsize::new(0),
            stop_reading: CancellationToken::new(),
            pending_input: Mutex::new(PendingLine::default()),
        });
        tokio::spawn(pump(Arc::clone(&session), spawned.reader, spawned.child));
        session
    }

    fn lock(&self) -> MutexGuard<'_, SessionState> {
        // A panic while holding this lock cannot corrupt the counters in a way that matters
        // more than losing the session, so recover the data rather than propagate.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The principal that spawned the session.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Local shell or SSH.
    pub fn kind(&self) -> SessionKind {
        self.kind
    }

    /// The label given at spawn.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The leader's pid = process group = session id.
    pub fn leader(&self) -> i32 {
        self.terminal.leader()
    }

    /// The label of the kernel profile the session runs under (`none` when unconfined).
    pub fn confinement(&self) -> &str {
        self.terminal.confinement()
    }

    /// When the session started.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// Whether the child has exited and all of its output has been collected from the PTY.
    pub fn has_ended(&self) -> bool {
        self.lock().ended()
    }

    /// The leader's exit status, once reaped (`-N` for death by signal N).
    pub fn exit_code(&self) -> Option<i32> {
        self.lock().exit_code
    }

    /// Record input, output or a call as activity (postpones idle reaping).
    pub fn touch(&self) {
        self.lock().last_activity = Instant::now();
    }

    /// The unsubmitted input line typed into this session so far (a copy), for the policy
    /// engine to classify the line a send completes.
    pub fn pending_line(&self) -> PendingLine {
        self.pending_input
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Update the unsubmitted input line after a send was admitted and written.
    pub fn update_pending_line(&self, f: impl FnOnce(&mut PendingLine)) {
        f(&mut self.pending_input.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Whether the session is waiting for a secret (see `session::prompt`): its input must
    /// then not be recorded. An SSH session's local terminal is the `ssh` client's, so only
    /// its output is looked at.
    pub fn at_secret_prompt(&self) -> bool {
        let modes = match self.kind {
            SessionKind::Local => self.terminal.line_modes(),
            SessionKind::Ssh => None,
        };
        let st = self.lock();
        super::at_secret_prompt(modes, &st.tail)
    }

    /// Write `bytes` to the child's terminal; returns the number of bytes written.
    pub async fn send(&self, bytes: &[u8]) -> Result<usize, ToolError> {
        self.touch();
        self.lock().tail.clear();
        if self.has_ended() {
            return Err(ToolError::new(
                crate::error::ErrorKind::Io,
                format!("session {} has ended", self.id),
            ));
        }
        self.terminal.write_all(bytes).await?;
        self.touch();
        Ok(bytes.len())
    }

    /// Change the window size (each dimension at least 1).
    pub async fn resize(&self, size: TermSize) -> Result<(), ToolError> {
        self.touch();
        self.terminal.resize(size).await?;
        self.lock().size = size;
        Ok(())
    }

    /// Send `sig` to the child's process group (and the foreground job's group).
    pub fn signal(&self, sig: Signal) {
        self.touch();
        let (ended, reaped) = {
            let st = self.lock();
            (st.ended(), st.reaped)
        };
        if !ended {
            self.terminal.signal(sig, !reaped);
        }
    }

    /// Take buffered output, waiting up to `timeout` for some to arrive.
    ///
    /// Returns as soon as output is available and has been quiet for [`RECV_QUIET`] (or
    /// `max_bytes` are waiting, or the deadline passes), so a burst comes back whole. With
    /// nothing to read by the deadline it returns empty. Reading consumes: there are no
    /// cursors. Once the session has ended and everything was read, every call returns the
    /// end marker.
    pub async fn recv(&self, timeout: Duration, max_bytes: usize) -> Received {
        let _waiting = WaiterGuard::new(&self.waiters);
        self.touch();
        let deadline = Instant::now() + timeout;
        // Phase 1: wait for the first byte (or the end).
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let st = self.lock();
                if !st.ring.is_empty() || st.ended() || st.ring.dropped_unreported() > 0 {
                    break;
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                break;
            }
        }
        // Phase 2: let the burst finish.
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let st = self.lock();
                if st.ring.is_empty() || st.ended() || st.ring.len() >= max_bytes {
                    break;
                }
            }
            let quiet_until = (Instant::now() + RECV_QUIET).min(deadline);
            if tokio::time::timeout_at(quiet_until, changed).await.is_err() {
                break; // quiet (or out of time)
            }
        }
        let mut st = self.lock();
        let taken = st.ring.take(max_bytes);
        let ended = if st.ended() && st.ring.is_empty() {
            st.end_reported = true;
            Some(st.exit_code)
        } else {
            None
        };
        st.last_activity = Instant::now();
        Received {
            bytes: taken.bytes,
            dropped: taken.dropped,
            ended,
        }
    }

    /// A `session_list` row.
    pub fn summary(&self) -> SessionSummary {
        let now = Instant::now();
        let st = self.lock();
        SessionSummary {
            id: self.id.clone(),
            kind: self.kind,
            title: self.title.clone(),
            size: st.size,
            age_s: now.duration_since(self.created).as_secs_f64(),
            idle_s: now.duration_since(st.last_activity).as_secs_f64(),
            buffered: st.ring.len() as u64,
            produced: st.ring.produced(),
            dropped: st.ring.dropped(),
            closed: st.ended(),
            exit_code: st.exit_code,
        }
    }

    /// Terminate everything the session started and wait for it: `SIGHUP`, `SIGTERM` and
    /// `SIGCONT` (so stopped jobs see them) to every process group of the session; after
    /// [`CLOSE_GRACE`] `SIGKILL`; then the leader is reaped and its status kept for a final
    /// `recv`. Idempotent. Returns the leader's exit status.
    pub async fn close(&self) -> Option<i32> {
        let sid = self.leader();
        if !self.has_ended() || session_alive(sid) {
            for sig in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGCONT] {
                signal_session(sid, sig);
            }
            if !self.wait_gone(sid, CLOSE_GRACE).await {
                signal_session(sid, Signal::SIGKILL);
                self.wait_gone(sid, KILL_GRACE).await;
            }
        }
        // Output still buffered in the terminal arrives within a few milliseconds of the
        // last holder closing it; if something outside the session keeps the terminal open,
        // stop reading rather than wait for it.
        let _ = tokio::time::timeout(Duration::from_millis(500), self.wait_output_done()).await;
        self.stop_reading.cancel();
        let _ = tokio::time::timeout(Duration::from_millis(500), self.wait_ended()).await;
        let mut st = self.lock();
        st.end_reported = true;
        st.last_activity = Instant::now();
        st.exit_code
    }

    /// Wait until the leader is reaped and no process of the session can run, up to `limit`.
    async fn wait_gone(&self, sid: i32, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let reaped = self.lock().reaped;
            if reaped && !session_alive(sid) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(CLOSE_POLL).await;
        }
    }

    async fn wait_output_done(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.lock().output_done {
                return;
            }
            changed.await;
        }
    }

    async fn wait_ended(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.lock().ended() {
                return;
            }
            changed.await;
        }
    }

    /// Reaper inputs: (idle for, ended at, end reported, has waiters).
    pub(super) fn reap_facts(&self, now: Instant) -> ReapFacts {
        let st = self.lock();
        ReapFacts {
            age: now.duration_since(self.created),
            idle: now.duration_since(st.last_activity),
            ended_at: st.ended_at,
            end_reported: st.end_reported,
            waiting: self.waiters.load(Ordering::SeqCst) > 0,
        }
    }

    fn push_output(&self, chunk: &[u8]) {
        let mut st = self.lock();
        st.ring.push(chunk);
        let keep = super::prompt::TAIL_BYTES;
        if chunk.len() >= keep {
            st.tail.clear();
            st.tail.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            st.tail.extend_from_slice(chunk);
            let excess = st.tail.len().saturating_sub(keep);
            st.tail.drain(..excess);
        }
        st.last_activity = Instant::now();
    }

    fn mark_output_done(&self) {
        let mut st = self.lock();
        st.output_done = true;
        if st.ended() && st.ended_at.is_none() {
            st.ended_at = Some(Instant::now());
        }
    }

    fn mark_reaped(&self, code: Option<i32>) {
        let mut st = self.lock();
        st.reaped = true;
        st.exit_code = code;
        if st.ended() && st.ended_at.is_none() {
            st.ended_at = Some(Instant::now());
        }
    }
}

/// What the reaper needs to know about a session at one instant.
#[derive(Clone, Copy, Debug)]
pub(super) struct ReapFacts {
    /// Time since spawn.
    pub age: Duration,
    /// Time since the last input, output or call.
    pub idle: Duration,
    /// When the session ended, if it has.
    pub ended_at: Option<Instant>,
    /// A caller has been told it ended.
    pub end_reported: bool,
    /// A `recv` is waiting on it.
    pub waiting: bool,
}

/// Drain the PTY into the ring until every holder of the terminal is gone, and reap the
/// leader. Read errors (Linux reports `EIO` once the last slave descriptor closes) end the
/// output like end-of-file does.
async fn pump(session: Arc<Session>, mut reader: OwnedReadPty, mut child: tokio::process::Child) {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut output_done = false;
    let mut reaped = false;
    while !(output_done && reaped) {
        tokio::select! {
            read = reader.read(&mut buf), if !output_done => match read {
                Ok(n) if n > 0 => session.push_output(&buf[..n]),
                _ => {
                    output_done = true;
                    session.mark_output_done();
                }
            },
            status = child.wait(), if !reaped => {
                reaped = true;
                session.mark_reaped(status.ok().and_then(exit_code));
            },
            () = session.stop_reading.cancelled(), if !output_done => {
                output_done = true;
                session.mark_output_done();
            },
        }
        session.changed.notify_waiters();
    }
    session.terminal.release_confinement();
}
