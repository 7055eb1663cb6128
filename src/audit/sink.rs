//! The file side of the writer: open, append one line per `write`, follow rotation, keep
//! the chain, and hold unwritten records in a bounded queue while writes fail.
//!
//! Everything here runs under the writer's mutex; nothing here blocks on `fsync` except a
//! rotation (the old file is synced once before it is let go).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chain::{self, ChainState};
use super::config::{AuditConfig, FsyncPolicy};
use super::format::render_line_into;
use super::json::Json;

/// How often the path is looked up to notice rotation or deletion.
pub const IDENTITY_CHECK_EVERY: Duration = Duration::from_millis(1);

/// How long the advisory lock taken for an append is kept for the appends that follow.
/// Taking and dropping `flock` and reading the file's size for every line costs three system
/// calls, nearly half of an append; holding the lock across a burst keeps bursts cheap, and
/// another process appending to the same file waits at most this long (plus one wake-up of
/// the sync thread) once we go quiet. The size is read each time the lock is taken: a writer
/// that does not lock (or `copytruncate`) is noticed at the next burst, at most this long
/// later, and until then our lines still land whole and chained after our own.
pub const LOCK_HOLD: Duration = Duration::from_millis(2);

/// Most records held while writes fail; beyond this new records are dropped (and counted).
pub(super) const MAX_QUEUED_RECORDS: usize = 10_000;
/// Most bytes (rendered jsonl) held while writes fail.
pub(super) const MAX_QUEUED_BYTES: usize = 16 * 1024 * 1024;

/// The open log file and everything that must change together with it.
#[derive(Debug)]
pub(crate) struct Sink {
    /// Effective path (after `~` expansion).
    pub path: PathBuf,
    /// The open file, shared with the sync thread so `fsync` runs outside the lock.
    pub file: Option<Arc<File>>,
    /// (device, inode) of `file`, compared with the path before writes (rotation).
    id: Option<(u64, u64)>,
    /// When the path was last looked up.
    checked_at: Option<Instant>,
    /// The file's size after our last write. Another process appending to the same file
    /// (two servers sharing one log) changes it; the chain state is then re-read from the
    /// file under the lock, so both keep one consistent chain.
    end: Option<u64>,
    /// Why the sink is not durable even when writes succeed (not a regular file).
    pub nonregular: Option<String>,
    /// Where the chain continues.
    pub chain: ChainState,
    /// Whether lines are chained.
    chained: bool,
    /// When the advisory lock on `file` was taken, while we hold it.
    locked_at: Option<Instant>,
    /// The lock was taken since the writer last asked (it then wakes the sync thread,
    /// which releases the lock once the burst is over).
    lock_taken: bool,
    /// The file ends in a partial line (torn write): the next line starts with `\n`.
    mid_line: bool,
    /// Records (unchained bodies) not yet written, oldest first.
    pub queue: VecDeque<Json>,
    queued_bytes: usize,
    /// The current write failure, if writes are failing.
    pub failing: Option<String>,
    /// The last `fsync` failure, until a later `fsync` succeeds.
    pub sync_error: Option<String>,
    /// Failed write attempts since start.
    pub write_failures: u64,
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Records dropped since the last gap record was written: the next gap record's `lost`.
    pub unreported: u64,
    /// When the first and the last of those were dropped.
    lost_window: Option<(String, String)>,
    /// Gap records written since start.
    pub gaps_written: u64,
    /// The most recent error text (kept after recovery, for `server_info`).
    pub last_error: String,
    /// The OS error behind the current failure, without the path (for `AuditError`).
    pub cause: String,
    /// Lines written since start: the ticket the group commit waits on.
    pub written: u64,
    /// The line being written (reused for every record).
    line_buf: String,
    /// The canonical form being hashed (reused for every record).
    canonical_buf: String,
}

/// Expand a leading `~/` with `$HOME`.
pub(super) fn expand_home(p: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    p.to_path_buf()
}

/// Open `path` for appending: parent directories created 0700, file created 0600.
pub(super) fn open_append(path: &Path) -> std::io::Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    if f.metadata()?.is_file() {
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    Ok(f)
}

/// Whether a regular file at `path` is non-empty and does not end with a newline.
fn ends_mid_line(path: &Path) -> bool {
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let Ok(m) = f.metadata() else { return false };
    if !m.is_file() || m.len() == 0 || f.seek(SeekFrom::End(-1)).is_err() {
        return false;
    }
    let mut b = [0u8; 1];
    f.read_exact(&mut b).is_ok() && b[0] != b'\n'
}

/// Write all of `buf` to `file`; on error, say whether part of it reached the file.
fn write_line(file: &File, buf: &[u8]) -> Result<(), (bool, std::io::Error)> {
    let mut off = 0;
    let mut f = file;
    while off < buf.len() {
        match f.write(&buf[off..]) {
            Ok(0) => return Err((off > 0, std::io::ErrorKind::WriteZero.into())),
            Ok(n) => off += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((off > 0, e)),
        }
    }
    Ok(())
}

impl Sink {
    /// Open the sink for `cfg`, resuming the chain. Never fails: problems are recorded.
    pub(super) fn open(cfg: &AuditConfig) -> Sink {
        let path = expand_home(&cfg.path);
        let chained = cfg.chained();
        let state = if chained {
            chain::resume(&path).state
        } else {
            ChainState::genesis()
        };
        let mut sink = Sink {
            path,
            file: None,
            id: None,
            checked_at: None,
            end: None,
            nonregular: None,
            chain: state,
            chained,
            locked_at: None,
            lock_taken: false,
            mid_line: false,
            queue: VecDeque::new(),
            queued_bytes: 0,
            failing: None,
            sync_error: None,
            write_failures: 0,
            dropped: 0,
            unreported: 0,
            lost_window: None,
            gaps_written: 0,
            last_error: String::new(),
            cause: String::new(),
            written: 0,
            line_buf: String::with_capacity(1024),
            canonical_buf: String::with_capacity(1024),
        };
        if let Err(e) = sink.reopen(FsyncPolicy::Never) {
            sink.note_failure(&e, "open");
        }
        sink
    }

    /// (Re)open the path, replacing the current file.
    fn reopen(&mut self, fsync: FsyncPolicy) -> std::io::Result<()> {
        self.release_lock();
        if let Some(old) = self.file.take()
            && fsync != FsyncPolicy::Never
        {
            // Lines written to the rotated file must be durable before we let it go.
            let _ = old.sync_data();
        }
        self.id = None;
        let f = open_append(&self.path)?;
        let m = f.metadata()?;
        self.nonregular = (!m.is_file()).then(|| {
            format!(
                "audit path is not a regular file (records not durably stored): {}",
                self.path.display()
            )
        });
        self.id = Some((m.dev(), m.ino()));
        self.end = m.is_file().then_some(m.len());
        self.mid_line = ends_mid_line(&self.path);
        self.file = Some(Arc::new(f));
        Ok(())
    }

    /// Make sure `file` is the file the path names now (logrotate `create`, deletion). The
    /// path is looked up at most once per [`IDENTITY_CHECK_EVERY`]: a line written in that
    /// window after a rename lands at the end of the renamed file, where the chain stays in
    /// order (logrotate's `delaycompress` keeps that file as it is until the next rotation).
    fn ensure_current(&mut self, fsync: FsyncPolicy) -> std::io::Result<()> {
        let now = Instant::now();
        if self.file.is_some()
            && self
                .checked_at
                .is_some_and(|t| now.duration_since(t) < IDENTITY_CHECK_EVERY)
        {
            return Ok(());
        }
        self.checked_at = Some(now);
        match std::fs::metadata(&self.path) {
            Ok(m) if self.file.is_some() && self.id == Some((m.dev(), m.ino())) => Ok(()),
            Ok(_) => self.reopen(fsync),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.reopen(fsync),
            Err(e) if self.file.is_none() => Err(e),
            Err(_) => Ok(()),
        }
    }

    /// Write one body as one line, returning a copy of the line when `keep` (for the stderr
    /// mirror). On failure the body comes back unchanged.
    fn write_body(
        &mut self,
        cfg: &AuditConfig,
        body: Json,
        keep: bool,
    ) -> Result<Option<String>, (Json, std::io::Error)> {
        if let Err(e) = self.ensure_current(cfg.fsync) {
            return Err((body, e));
        }
        let Some(file) = self.file.clone() else {
            return Err((body, std::io::Error::other("audit file is not open")));
        };
        // Serialise with other processes appending to the same file (advisory `flock`,
        // held across a burst: see [`LOCK_HOLD`]). Failing to lock (a file system without
        // `flock`) degrades to unlocked appends, which are still whole lines.
        let held = self.locked_at.is_some();
        if self.nonregular.is_none() && !held && file.lock().is_ok() {
            self.locked_at = Some(Instant::now());
            self.lock_taken = true;
        }
        let size = if self.nonregular.is_some() {
            None
        } else if held && self.end.is_some() {
            // Nobody who locks has written since our last line: the size is where we left it.
            self.end
        } else {
            // `lseek` is the cheapest way to read the size of an open file.
            (&*file).seek(SeekFrom::End(0)).ok()
        };
        if size.is_some() && size != self.end {
            self.resync();
        }
        let (record, chain) = if self.chained {
            let (sealed, c) = self.chain.seal_with(body, &mut self.canonical_buf);
            (sealed, Some(c))
        } else {
            (body, None)
        };
        let mut buf = std::mem::take(&mut self.line_buf);
        buf.clear();
        if self.mid_line {
            buf.push('\n');
        }
        let start = buf.len();
        render_line_into(&record, cfg.format, &mut buf);
        buf.push('\n');
        let written = write_line(&file, buf.as_bytes());
        self.release_lock_if_due(Instant::now());
        match written {
            Ok(()) => {
                if let Some(c) = chain {
                    self.chain.advance(c);
                }
                self.mid_line = false;
                self.written += 1;
                // Under the lock nothing else appended: the file grew by exactly our line.
                self.end = size.map(|n| n + buf.len() as u64);
                let line = keep.then(|| buf[start..buf.len() - 1].to_string());
                self.line_buf = buf;
                Ok(line)
            }
            Err((partial, e)) => {
                self.line_buf = buf;
                if partial {
                    self.mid_line = true;
                }
                let body = if self.chained {
                    chain::unseal(record)
                } else {
                    record
                };
                Err((body, e))
            }
        }
    }

    /// When the advisory lock we hold is due to be released.
    pub(super) fn lock_release_due(&self) -> Option<Instant> {
        self.locked_at.map(|t| t + LOCK_HOLD)
    }

    /// Whether the lock was taken since the last call (and forget that it was).
    pub(super) fn take_lock_news(&mut self) -> bool {
        std::mem::take(&mut self.lock_taken)
    }

    /// Release the advisory lock if it has been held for [`LOCK_HOLD`].
    pub(super) fn release_lock_if_due(&mut self, now: Instant) {
        if self.lock_release_due().is_some_and(|due| now >= due) {
            self.release_lock();
        }
    }

    /// Release the advisory lock now, if we hold it.
    pub(super) fn release_lock(&mut self) {
        if self.locked_at.take().is_some()
            && let Some(f) = &self.file
        {
            let _ = f.unlock();
        }
    }

    /// The file changed under us (another writer): take the chain and line state from it.
    fn resync(&mut self) {
        if self.chained {
            self.chain = chain::resume(&self.path).state;
        }
        self.mid_line = ends_mid_line(&self.path);
    }

    /// Write queued records, oldest first, stopping at the first failure (which leaves the
    /// failed record at the front); then, if records were dropped meanwhile, the gap record
    /// that says how many. Returns the lines written when `keep`.
    pub(super) fn drain(
        &mut self,
        cfg: &AuditConfig,
        keep: bool,
    ) -> Result<Vec<String>, std::io::Error> {
        let mut lines = Vec::new();
        while let Some(body) = self.queue.pop_front() {
            let size = body.to_line().len();
            match self.write_body(cfg, body, keep) {
                Ok(line) => {
                    self.queued_bytes = self.queued_bytes.saturating_sub(size);
                    lines.extend(line);
                }
                Err((body, e)) => {
                    self.queue.push_front(body);
                    return Err(e);
                }
            }
        }
        if self.unreported > 0 {
            let gap = self.gap_record();
            match self.write_body(cfg, gap, keep) {
                Ok(line) => {
                    lines.extend(line);
                    tracing::warn!(
                        path = %self.path.display(),
                        lost = self.unreported,
                        "audit gap record written: records dropped while writes failed"
                    );
                    self.unreported = 0;
                    self.lost_window = None;
                    self.gaps_written += 1;
                }
                Err((_, e)) => return Err(e),
            }
        }
        Ok(lines)
    }

    /// The gap record for the records dropped since the last one (ADR 0024):
    /// `{"ts", "event": "gap", "lost", "first_lost_ts", "last_lost_ts", "reason"}`, chained like
    /// any record, written after the queued records once writes succeed again.
    fn gap_record(&self) -> Json {
        let (first, last) = self.lost_window.clone().unwrap_or_default();
        Json::Obj(vec![
            ("ts".into(), Json::Str(super::record::now_iso())),
            ("event".into(), Json::Str("gap".into())),
            (
                "lost".into(),
                Json::Int(i64::try_from(self.unreported).unwrap_or(i64::MAX)),
            ),
            ("first_lost_ts".into(), Json::Str(first)),
            ("last_lost_ts".into(), Json::Str(last)),
            (
                "reason".into(),
                Json::Str(format!(
                    "the in-memory queue of unwritten records was full while writes failed \
                     ({}); these records were dropped (each was printed to stderr)",
                    if self.cause.is_empty() {
                        "unknown error"
                    } else {
                        &self.cause
                    }
                )),
            ),
        ])
    }

    /// Append a body: queued records first, then this one. On failure the body is queued
    /// (or dropped when the queue is full) and the error returned. The lines written are
    /// returned when `keep` (for the stderr mirror).
    pub(super) fn append(
        &mut self,
        cfg: &AuditConfig,
        body: Json,
        keep: bool,
    ) -> Result<Vec<String>, std::io::Error> {
        let mut lines = match self.drain(cfg, keep) {
            Ok(lines) => lines,
            Err(e) => {
                self.enqueue(body);
                self.note_failure(&e, "write");
                return Err(e);
            }
        };
        match self.write_body(cfg, body, keep) {
            Ok(line) => {
                lines.extend(line);
                self.note_success();
                Ok(lines)
            }
            Err((body, e)) => {
                self.enqueue(body);
                self.note_failure(&e, "write");
                Err(e)
            }
        }
    }

    /// Try to get out of the failing state: reopen if needed and write the queue.
    pub(super) fn recover(&mut self, cfg: &AuditConfig) -> Result<(), std::io::Error> {
        if let Err(e) = self
            .ensure_current(cfg.fsync)
            .and_then(|_| self.drain(cfg, false).map(|_| ()))
        {
            self.note_failure(&e, "retry");
            return Err(e);
        }
        self.note_success();
        Ok(())
    }

    fn enqueue(&mut self, body: Json) {
        let line = body.to_line();
        // Unwritten records still reach the journal through stderr.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
        if self.queue.len() >= MAX_QUEUED_RECORDS
            || self.queued_bytes + line.len() > MAX_QUEUED_BYTES
        {
            self.note_lost(1);
            tracing::error!(
                path = %self.path.display(),
                dropped = self.dropped,
                "audit queue full: a record was dropped (it was printed to stderr)"
            );
            return;
        }
        self.queued_bytes += line.len();
        self.queue.push_back(body);
    }

    /// Count `n` records lost (dropped from the full queue, or still queued at shutdown): the
    /// next gap record reports them.
    pub(super) fn note_lost(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        let now = super::record::now_iso();
        self.dropped += n;
        self.unreported += n;
        match &mut self.lost_window {
            Some((_, last)) => *last = now,
            None => self.lost_window = Some((now.clone(), now)),
        }
    }

    fn note_failure(&mut self, e: &std::io::Error, during: &str) {
        self.write_failures += 1;
        let msg = format!("audit {during} to {} failed: {e}", self.path.display());
        if self.failing.is_none() || self.write_failures.is_multiple_of(1000) {
            tracing::error!(
                failures = self.write_failures,
                queued = self.queue.len(),
                "{msg}"
            );
        }
        self.last_error = msg.clone();
        // A retry is a write of the queued records: the same cause as the write it repeats.
        self.cause = if during == "write" || during == "retry" {
            e.to_string()
        } else {
            format!("{during}: {e}")
        };
        self.failing = Some(msg);
    }

    fn note_success(&mut self) {
        if self.failing.take().is_some() {
            tracing::warn!(
                path = %self.path.display(),
                "audit writes succeed again; queued records written"
            );
        }
    }

    /// Record the outcome of an `fsync`.
    pub(super) fn note_sync(&mut self, res: &std::io::Result<()>) {
        match res {
            Ok(()) => {
                if self.sync_error.take().is_some() {
                    tracing::warn!(path = %self.path.display(), "audit fsync succeeds again");
                }
            }
            Err(e) => {
                self.write_failures += 1;
                let msg = format!("audit fsync of {} failed: {e}", self.path.display());
                tracing::error!("{msg}");
                self.last_error = msg.clone();
                self.cause = format!("fsync: {e}");
                self.sync_error = Some(msg);
            }
        }
    }
}
