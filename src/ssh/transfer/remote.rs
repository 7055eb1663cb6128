//! The remote side of a transfer, over one SFTP session: errors with stable kinds, stat
//! helpers, the tree walk of a download, and the temporary files of an upload — created
//! exclusively (`SSH_FXF_EXCL`, so never through a link), mode 0600 until complete, renamed
//! into place with `posix-rename` — and the janitor that removes any left behind when a
//! transfer fails, times out or is cancelled.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::file::File;
use openssh_sftp_client::fs::Fs;
use openssh_sftp_client::metadata::{MetaData, MetaDataBuilder, Permissions};
use openssh_sftp_client::{Error as SftpError, Sftp, UnixTimeStamp};

use super::paths::{safe_name, temp_name};
use super::{Entry, EntryKind, Stamp};
use crate::error::{ErrorKind, ToolError};
use crate::ssh::pool::Master;

/// How long the janitor may take to remove leftovers after a failed transfer.
const JANITOR_WAIT: Duration = Duration::from_secs(10);

/// An SFTP failure as a tool error about `what` (`remote path /x`, `remote rename …`).
pub(crate) fn sftp_error(e: &SftpError, what: &str) -> ToolError {
    match e {
        SftpError::SftpError(kind, msg) => {
            let k = match kind {
                SftpErrorKind::NoSuchFile => ErrorKind::NotFound,
                SftpErrorKind::PermDenied => ErrorKind::PermissionDenied,
                _ => ErrorKind::Io,
            };
            let msg = msg.get().0.trim();
            let msg = if msg.is_empty() { "failure" } else { msg };
            ToolError::new(k, format!("{what}: {msg}"))
        }
        SftpError::IOError(io) => ToolError::new(
            ErrorKind::ConnectionFailed,
            format!("{what}: the SFTP channel failed: {io}"),
        ),
        other => ToolError::new(
            ErrorKind::ConnectionFailed,
            format!("{what}: the SFTP session failed: {other}"),
        ),
    }
}

/// Whether `e` says the path does not exist.
pub(crate) fn is_missing(e: &SftpError) -> bool {
    matches!(e, SftpError::SftpError(SftpErrorKind::NoSuchFile, _))
}

/// `stat` (following links), `None` when the path does not exist.
pub(crate) async fn stat(fs: &mut Fs, path: &Path) -> Result<Option<MetaData>, ToolError> {
    match fs.metadata(path).await {
        Ok(md) => Ok(Some(md)),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(sftp_error(&e, &format!("remote path {}", path.display()))),
    }
}

/// `lstat` (not following links), `None` when the path does not exist.
pub(crate) async fn lstat(fs: &mut Fs, path: &Path) -> Result<Option<MetaData>, ToolError> {
    match fs.symlink_metadata(path).await {
        Ok(md) => Ok(Some(md)),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(sftp_error(&e, &format!("remote path {}", path.display()))),
    }
}

/// The server's real path of `path` (links resolved).
pub(crate) async fn real_path(fs: &mut Fs, path: &Path) -> Result<PathBuf, ToolError> {
    fs.canonicalize(path)
        .await
        .map_err(|e| sftp_error(&e, &format!("remote path {}", path.display())))
}

/// What kind of thing `md` describes.
pub(crate) fn kind_of(md: &MetaData) -> Option<EntryKind> {
    let ft = md.file_type()?;
    if ft.is_dir() {
        Some(EntryKind::Dir)
    } else if ft.is_file() {
        Some(EntryKind::File)
    } else {
        None
    }
}

/// The permission bits and times of a remote file.
pub(crate) fn stamp_of(md: &MetaData) -> Stamp {
    let mode = md
        .permissions()
        .map_or(0o644, |p| p.as_raw().bits() & 0o7777);
    let times = match (md.accessed(), md.modified()) {
        (Some(a), Some(m)) => Some((a.into_raw(), m.into_raw())),
        _ => None,
    };
    Stamp { mode, times }
}

/// The metadata that applies `stamp` (permission bits only, never set-id bits).
pub(crate) fn stamp_metadata(stamp: &Stamp) -> MetaData {
    let mut b = MetaDataBuilder::new();
    b.permissions(Permissions::from((stamp.mode & 0o777) as u16));
    if let Some((a, m)) = stamp.times
        && let (Some(a), Some(m)) = (UnixTimeStamp::from_raw(a), UnixTimeStamp::from_raw(m))
    {
        b.time(a, m);
    }
    b.create()
}

/// The tree below the remote directory `root`, depth first, directories before their
/// contents. Symbolic links are never followed into: one whose real path is a regular file
/// inside the tree (`canon_root`, the root's real path) is fetched as that file; every other
/// link, and sockets, devices and FIFOs, are skipped and counted. Names a server lists that
/// are not plain names (`..`, anything with `/`) are skipped too. At most `max_entries`.
pub(crate) async fn walk(
    sftp: &Sftp,
    root: &Path,
    canon_root: &Path,
    max_entries: usize,
) -> Result<(Vec<Entry>, usize), ToolError> {
    let mut fs = sftp.fs();
    let mut out = Vec::new();
    let mut skipped = 0usize;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut listed = list(&mut fs, &dir).await?;
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subdirs = Vec::new();
        for (name, md) in listed {
            if name == "." || name == ".." {
                continue;
            }
            if !safe_name(&name) {
                skipped += 1;
                continue;
            }
            let child = rel.join(&name);
            let is_link = md.file_type().is_some_and(|t| t.is_symlink());
            let entry = match (is_link, kind_of(&md)) {
                (false, Some(EntryKind::Dir)) => {
                    subdirs.push(child.clone());
                    Entry {
                        rel: child,
                        kind: EntryKind::Dir,
                        size: 0,
                        stamp: stamp_of(&md),
                        source: None,
                    }
                }
                (false, Some(EntryKind::File)) => Entry {
                    rel: child,
                    kind: EntryKind::File,
                    size: md.len().unwrap_or(0),
                    stamp: stamp_of(&md),
                    source: None,
                },
                (true, _) => match in_tree_file(&mut fs, &dir.join(&name), canon_root).await {
                    Some((real, md)) => Entry {
                        rel: child,
                        kind: EntryKind::File,
                        size: md.len().unwrap_or(0),
                        stamp: stamp_of(&md),
                        source: Some(real),
                    },
                    None => {
                        skipped += 1;
                        continue;
                    }
                },
                _ => {
                    skipped += 1;
                    continue;
                }
            };
            out.push(entry);
            if out.len() > max_entries {
                return Err(super::local::too_many(max_entries));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok((out, skipped))
}

/// The entries of one remote directory with their `lstat` attributes.
async fn list(fs: &mut Fs, dir: &Path) -> Result<Vec<(OsString, MetaData)>, ToolError> {
    let what = || format!("remote directory {}", dir.display());
    let handle = fs
        .open_dir(dir)
        .await
        .map_err(|e| sftp_error(&e, &what()))?;
    let mut stream = Box::pin(handle.read_dir());
    let mut out = Vec::new();
    while let Some(item) =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
    {
        let entry = item.map_err(|e| sftp_error(&e, &what()))?;
        out.push((
            entry.filename().as_os_str().to_os_string(),
            entry.metadata(),
        ));
    }
    Ok(out)
}

/// The tree-relative real path of the link `link` when it is a regular file inside the tree.
async fn in_tree_file(fs: &mut Fs, link: &Path, canon_root: &Path) -> Option<(PathBuf, MetaData)> {
    let real = fs.canonicalize(link).await.ok()?;
    let rel = real.strip_prefix(canon_root).ok()?.to_path_buf();
    let md = fs.metadata(&real).await.ok()?;
    (kind_of(&md) == Some(EntryKind::File)).then_some((rel, md))
}

/// Remote temporary files of one transfer that are not yet renamed into place.
#[derive(Debug, Default)]
pub(crate) struct Leftovers(Mutex<Vec<PathBuf>>);

impl Leftovers {
    fn add(&self, p: PathBuf) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(p);
    }

    fn remove(&self, p: &Path) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|q| q != p);
    }

    fn take(&self) -> Vec<PathBuf> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Removes the remote temporary files a failed transfer left, over a fresh SFTP session (the
/// transfer's own may be stuck or broken). Runs when the transfer ends badly, and from `Drop`
/// (on a spawned task) when the transfer is cancelled mid-way.
#[derive(Debug)]
pub(crate) struct Janitor {
    master: Arc<Master>,
    pending: Arc<Leftovers>,
}

impl Janitor {
    /// A janitor for files created over `master`.
    pub(crate) fn new(master: Arc<Master>) -> Janitor {
        Janitor {
            master,
            pending: Arc::new(Leftovers::default()),
        }
    }

    /// The shared list of files to remove on failure.
    pub(crate) fn pending(&self) -> Arc<Leftovers> {
        self.pending.clone()
    }

    /// Remove whatever is left, within a bounded time.
    pub(crate) async fn sweep(&self) {
        sweep(self.master.clone(), self.pending.take()).await;
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        let left = self.pending.take();
        if left.is_empty() {
            return;
        }
        let master = self.master.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(sweep(master, left));
        }
    }
}

async fn sweep(master: Arc<Master>, left: Vec<PathBuf>) {
    if left.is_empty() {
        return;
    }
    let work = async {
        let sftp = super::open_sftp(&master).await.ok()?;
        let mut fs = sftp.fs();
        for p in &left {
            if let Err(e) = fs.remove_file(p).await
                && !is_missing(&e)
            {
                tracing::warn!(path = %p.display(), error = %e, "cannot remove a temporary file");
            }
        }
        // `Sftp::close` unwraps its session's only reference and panics while any handle
        // made from it (this `Fs`) is still alive: drop them all first.
        drop(fs);
        let _ = sftp.close().await;
        Some(())
    };
    if tokio::time::timeout(JANITOR_WAIT, work).await.is_err() {
        tracing::warn!(
            files = left.len(),
            "temporary files of a failed transfer not removed in time"
        );
    }
}

/// A remote file being written under a temporary name.
#[derive(Debug)]
pub(crate) struct RemoteTemp {
    tmp: PathBuf,
    pending: Arc<Leftovers>,
}

/// Create a fresh temporary file next to `dir/name` (exclusive, then mode 0600), recorded
/// with the janitor until it is renamed.
pub(crate) async fn create_temp(
    sftp: &Sftp,
    dir: &Path,
    name: &std::ffi::OsStr,
    pending: &Arc<Leftovers>,
) -> Result<(File, RemoteTemp), ToolError> {
    let mut last = None;
    for _ in 0..4 {
        let tmp = dir.join(temp_name(name));
        match sftp.options().write(true).create_new(true).open(&tmp).await {
            Ok(mut f) => {
                pending.add(tmp.clone());
                let guard = RemoteTemp {
                    tmp: tmp.clone(),
                    pending: pending.clone(),
                };
                f.set_permissions(Permissions::from(0o600))
                    .await
                    .map_err(|e| sftp_error(&e, &format!("remote file {}", tmp.display())))?;
                return Ok((f, guard));
            }
            Err(e) => last = Some(e),
        }
    }
    let target = dir.join(name);
    Err(match last {
        Some(e) => sftp_error(&e, &format!("remote file {}", target.display())),
        None => ToolError::new(ErrorKind::Internal, "no temporary file was attempted"),
    })
}

impl RemoteTemp {
    /// Rename the temporary file to `target` (atomically replacing a file there, with the
    /// server's `posix-rename`).
    pub(crate) async fn commit(self, fs: &mut Fs, target: &Path) -> Result<(), ToolError> {
        fs.rename(&self.tmp, target)
            .await
            .map_err(|e| sftp_error(&e, &format!("remote rename to {}", target.display())))?;
        self.pending.remove(&self.tmp);
        Ok(())
    }
}
