//! File transfers over a pooled master's SFTP channel (`openssh-sftp-client`): single files
//! and trees, each way.
//!
//! - **Atomic per file.** Every file is written under a fresh temporary name in its target
//!   directory (`.<name>.rsh-<hex>.part`, created exclusively, mode 0600) and renamed over
//!   the final name only once complete, with its mode and times applied. A transfer that
//!   fails, times out or is cancelled leaves no partial file under a final name: local
//!   temporaries are removed when their guard drops, remote ones by a janitor over a fresh
//!   SFTP session. Files already renamed stay (a tree is not atomic as a whole).
//! - **Bounded.** The caller's deadline applies outside (`RELAY_SHELL_TRANSFER_TIMEOUT`); the
//!   size of a file or tree is measured first and refused over
//!   `RELAY_SHELL_TRANSFER_MAX_BYTES`, and the bytes actually moved are counted against the
//!   same cap. Bytes stream through in fixed windows ([`stream`]).
//! - **No escapes.** Roots ([`paths::Root`]) confine each side when configured; symbolic
//!   links inside a tree are never followed out of it, and the local side of a download is
//!   written through directory descriptors with `O_NOFOLLOW` ([`local`]).
//! - **Modes.** Permission bits (not set-id or sticky bits) and times are preserved, for
//!   files and directories.

mod down;
pub mod local;
pub mod paths;
pub mod remote;
pub mod stream;
mod up;

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openssh_sftp_client::{Sftp, SftpOptions};

use crate::error::{ErrorKind, ToolError};
use crate::ssh::pool::Master;
pub use paths::Root;

/// Most entries (files and directories) one tree transfer lists.
pub const MAX_ENTRIES: usize = 100_000;
/// Files moved at once within a tree.
pub(crate) const FILES_AT_ONCE: usize = 4;

pub use crate::policy::probe::Direction;

/// One transfer, as the caller asked for it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The local path, as given.
    pub local: String,
    /// The remote path, as given.
    pub remote: String,
    /// Whether a directory (and everything below it) may be transferred.
    pub recursive: bool,
    /// Where local paths may be.
    pub local_root: Root,
    /// Where remote paths may be.
    pub remote_root: Root,
}

/// What a finished transfer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Files written.
    pub files: u64,
    /// Bytes moved.
    pub bytes: u64,
    /// SHA-256 (hex) of the file, when exactly one file was transferred.
    pub sha256: Option<String>,
    /// Entries left out: symbolic links not followed, special files, unusable names.
    pub skipped: usize,
    /// Where the file or tree ended up (the final path on the destination side).
    pub dest: String,
}

/// Progress of a running transfer, shared with the tasks that move its files and readable
/// after a deadline cut it short; it holds the byte budget.
#[derive(Debug)]
pub struct Progress {
    files: AtomicU64,
    total_files: AtomicU64,
    budget: stream::Budget,
}

impl Progress {
    /// Nothing moved yet; at most `max_bytes` may be.
    pub fn new(max_bytes: u64) -> Progress {
        Progress {
            files: AtomicU64::new(0),
            total_files: AtomicU64::new(0),
            budget: stream::Budget::new(max_bytes),
        }
    }

    /// Files completed (renamed into place).
    pub fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }

    /// Files the transfer intends to move (known once the source is measured).
    pub fn total_files(&self) -> u64 {
        self.total_files.load(Ordering::Relaxed)
    }

    /// Bytes moved so far (including files not completed).
    pub fn bytes(&self) -> u64 {
        self.budget.used()
    }

    pub(crate) fn budget(&self) -> &stream::Budget {
        &self.budget
    }

    fn planned(&self, files: u64) {
        self.total_files.store(files, Ordering::Relaxed);
    }

    fn file_done(&self) {
        self.files.fetch_add(1, Ordering::Relaxed);
    }
}

/// The kind of a tree entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
}

/// Permission bits and (access, modification) times, as SFTP v3 carries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// Mode bits (`& 0o7777`); only `& 0o777` is ever applied.
    pub mode: u32,
    /// Access and modification times, seconds since the epoch.
    pub times: Option<(u32, u32)>,
}

/// One entry of a tree, relative to its root.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Path below the tree's root (plain names only).
    pub rel: PathBuf,
    /// Directory or file.
    pub kind: EntryKind,
    /// Size in bytes (files).
    pub size: u64,
    /// Mode and times to apply.
    pub stamp: Stamp,
    /// For a symbolic link to a file inside the tree: the real file, relative to the root.
    pub source: Option<PathBuf>,
}

/// Sum of the sizes of the files in `entries`.
pub(crate) fn total_size(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.size)
        .sum()
}

/// The pooled master as the `Deref<Target = Session>` that `openssh-sftp-client` wants; it
/// keeps the master alive while the SFTP channel runs.
#[derive(Clone, Debug)]
struct MasterSession(Arc<Master>);

impl Deref for MasterSession {
    type Target = openssh::Session;

    fn deref(&self) -> &openssh::Session {
        self.0.session()
    }
}

/// Open an SFTP channel over `master` (the remote `sftp` subsystem).
pub(crate) async fn open_sftp(master: &Arc<Master>) -> Result<Sftp, ToolError> {
    let options = SftpOptions::new().tokio_compat_file_write_limit(
        std::num::NonZeroUsize::new(stream::WRITE_WINDOW).unwrap_or(std::num::NonZeroUsize::MIN),
    );
    Sftp::from_clonable_session(MasterSession(master.clone()), options)
        .await
        .map_err(|e| {
            ToolError::new(
                ErrorKind::ConnectionFailed,
                format!(
                    "cannot open an SFTP channel (is the sftp subsystem enabled in the server's \
                     sshd_config?): {e}"
                ),
            )
        })
}

/// Run `req` in `direction` over `master`, updating `progress` (which holds the byte cap) as
/// files complete.
pub async fn run(
    master: &Arc<Master>,
    direction: Direction,
    req: &Request,
    progress: &Arc<Progress>,
) -> Result<Report, ToolError> {
    match direction {
        Direction::Upload => up::upload(master, req, progress).await,
        Direction::Download => down::download(master, req, progress).await,
    }
}

/// Run `jobs` (each moves one file and returns its SHA-256 when asked to compute one) at
/// most [`FILES_AT_ONCE`] at a time, counting each completed file in `progress`; the first
/// error stops the rest (their temporaries are left to the janitor or their guards). Returns
/// the last digest.
pub(crate) async fn run_jobs<F>(
    jobs: Vec<F>,
    progress: &Progress,
) -> Result<Option<String>, ToolError>
where
    F: std::future::Future<Output = Result<Option<String>, ToolError>> + Send + 'static,
{
    let total = jobs.len();
    let mut queue = jobs.into_iter();
    let mut set = tokio::task::JoinSet::new();
    let mut digest = None;
    loop {
        while set.len() < FILES_AT_ONCE {
            match queue.next() {
                Some(job) => {
                    set.spawn(job);
                }
                None => break,
            }
        }
        let Some(joined) = set.join_next().await else {
            return Ok(digest);
        };
        let result = joined.unwrap_or_else(|e| {
            Err(ToolError::new(
                ErrorKind::Internal,
                format!("a file transfer task failed: {e}"),
            ))
        });
        match result {
            Ok(d) => {
                progress.file_done();
                digest = d.or(digest);
            }
            Err(mut e) => {
                set.abort_all();
                while set.join_next().await.is_some() {}
                if total > 1 {
                    e.message = format!(
                        "{} ({} of {total} files were complete)",
                        e.message,
                        progress.files()
                    );
                }
                return Err(e);
            }
        }
    }
}
