//! `ssh_upload`: a local file or tree to the remote host.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openssh_sftp_client::Sftp;
use openssh_sftp_client::fs::Fs;

use super::local::{self, Dir, local_error};
use super::paths::base_name;
use super::remote::{self, Janitor, Leftovers, kind_of, lstat, sftp_error, stat};
use super::stream::{self, Hash, over_cap};
use super::{
    Entry, EntryKind, MAX_ENTRIES, Progress, Report, Request, Stamp, open_sftp, run_jobs,
    total_size,
};
use crate::error::{ErrorKind, ToolError};
use crate::ssh::pool::Master;

/// What is sent: one file, or a tree below a directory.
enum Source {
    File(PathBuf, Stamp),
    Tree(PathBuf, Stamp),
}

/// Measure the local side: the file or tree, its entries, and how many were skipped.
fn plan(local: &Path, req: &Request) -> Result<(Source, Vec<Entry>, usize), ToolError> {
    let md = std::fs::metadata(local).map_err(|e| local_error(&e, local))?;
    if let Some(root) = req.local_root.dir() {
        let real = std::fs::canonicalize(local).map_err(|e| local_error(&e, local))?;
        let real_root = std::fs::canonicalize(root).map_err(|e| local_error(&e, root))?;
        if !real.starts_with(&real_root) {
            return Err(outside("local path", &req.local, root));
        }
    }
    if md.is_dir() {
        if !req.recursive {
            return Err(ToolError::invalid(format!(
                "local path {} is a directory; pass recursive=true to upload a tree",
                req.local
            )));
        }
        let (entries, skipped) = local::walk(local, MAX_ENTRIES)?;
        Ok((
            Source::Tree(local.to_path_buf(), local::stamp_of(&md)),
            entries,
            skipped,
        ))
    } else if md.is_file() {
        let entry = Entry {
            rel: PathBuf::new(),
            kind: EntryKind::File,
            size: md.len(),
            stamp: local::stamp_of(&md),
            source: None,
        };
        Ok((
            Source::File(local.to_path_buf(), local::stamp_of(&md)),
            vec![entry],
            0,
        ))
    } else {
        Err(ToolError::invalid(format!(
            "local path {} is not a regular file or directory",
            req.local
        )))
    }
}

/// The error for a path that leads outside its root through a symbolic link.
pub(super) fn outside(what: &str, given: &str, root: &Path) -> ToolError {
    ToolError::invalid(format!(
        "{what} {given} leads outside the transfer root {} (through a symbolic link)",
        root.display()
    ))
}

/// The directory part of `p` (`.` for a bare name).
pub(super) fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Upload `req`.
pub(super) async fn upload(
    master: &Arc<Master>,
    req: &Request,
    progress: &Arc<Progress>,
) -> Result<Report, ToolError> {
    let local = req.local_root.place("local path", &req.local)?;
    let (source, entries, skipped) = {
        let (local, req) = (local.clone(), req.clone());
        tokio::task::spawn_blocking(move || plan(&local, &req))
            .await
            .map_err(|e| ToolError::new(ErrorKind::Internal, format!("local walk: {e}")))??
    };
    let total = total_size(&entries);
    if total > progress.budget().max() {
        return Err(over_cap(total, progress.budget().max()));
    }
    let files = entries.iter().filter(|e| e.kind == EntryKind::File).count() as u64;
    progress.planned(files);
    let remote_path = req.remote_root.place("remote path", &req.remote)?;
    let sftp = Arc::new(open_sftp(master).await?);
    let janitor = Janitor::new(master.clone());
    let result = send_all(
        &sftp,
        &janitor.pending(),
        req,
        &local,
        &remote_path,
        source,
        entries,
        progress,
    )
    .await;
    if result.is_err() {
        janitor.sweep().await;
    }
    drop(janitor);
    if let Ok(s) = Arc::try_unwrap(sftp) {
        let _ = s.close().await;
    }
    let (dest, sha256) = result?;
    Ok(Report {
        files: progress.files(),
        bytes: progress.bytes(),
        sha256: if progress.files() == 1 { sha256 } else { None },
        skipped,
        dest: dest.display().to_string(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn send_all(
    sftp: &Arc<Sftp>,
    pending: &Arc<Leftovers>,
    req: &Request,
    local: &Path,
    remote_path: &Path,
    source: Source,
    entries: Vec<Entry>,
    progress: &Arc<Progress>,
) -> Result<(PathBuf, Option<String>), ToolError> {
    let mut fs = sftp.fs();
    let existing = stat(&mut fs, remote_path).await?;
    let is_dir = existing.as_ref().and_then(kind_of) == Some(EntryKind::Dir);
    if req.remote.ends_with('/') && !is_dir {
        return Err(ToolError::new(
            ErrorKind::NotFound,
            format!("remote directory {} does not exist", req.remote),
        ));
    }
    let into = |p: &Path| -> Result<PathBuf, ToolError> {
        let name = base_name(local).ok_or_else(|| {
            ToolError::invalid(format!("local path {} has no name to give", req.local))
        })?;
        Ok(p.join(name))
    };
    match source {
        Source::File(path, stamp) => {
            let target = match (&existing, is_dir) {
                (_, true) => into(remote_path)?,
                (Some(md), false) if kind_of(md) != Some(EntryKind::File) => {
                    return Err(ToolError::invalid(format!(
                        "remote path {} is not a regular file or directory",
                        req.remote
                    )));
                }
                _ => remote_path.to_path_buf(),
            };
            if let Some(md) = lstat(&mut fs, &target).await?
                && kind_of(&md) == Some(EntryKind::Dir)
            {
                return Err(ToolError::invalid(format!(
                    "remote path {} is a directory",
                    target.display()
                )));
            }
            let dir = parent_of(&target);
            check_dir(&mut fs, &dir, req).await?;
            let name = target
                .file_name()
                .map(|n| n.to_os_string())
                .ok_or_else(|| {
                    ToolError::invalid(format!("remote path {} names no file", req.remote))
                })?;
            let open = move || {
                let file = std::fs::File::open(&path).map_err(|e| local_error(&e, &path))?;
                match file.metadata() {
                    Ok(md) if md.is_file() => Ok(file),
                    _ => Err(ToolError::invalid(format!(
                        "local path {} is not a regular file",
                        path.display()
                    ))),
                }
            };
            let job = put(
                sftp.clone(),
                open,
                dir,
                name,
                stamp,
                progress.clone(),
                true,
                pending.clone(),
            );
            let sha = run_jobs(vec![job], progress).await?;
            Ok((target, sha))
        }
        Source::Tree(path, stamp) => {
            let top = match (&existing, is_dir) {
                (_, true) => into(remote_path)?,
                (Some(_), false) => {
                    return Err(ToolError::invalid(format!(
                        "remote path {} exists and is not a directory",
                        req.remote
                    )));
                }
                (None, _) => remote_path.to_path_buf(),
            };
            check_dir(&mut fs, &parent_of(&top), req).await?;
            make_dir(&mut fs, &top).await?;
            for e in entries.iter().filter(|e| e.kind == EntryKind::Dir) {
                make_dir(&mut fs, &top.join(&e.rel)).await?;
            }
            let root = Dir::open(&path)?;
            let mut jobs = Vec::new();
            for e in entries.iter().filter(|e| e.kind == EntryKind::File) {
                let read_from = e.source.clone().unwrap_or_else(|| e.rel.clone());
                let root = root.clone();
                let open = move || {
                    let name = read_from.file_name().unwrap_or_default();
                    let dir = match read_from.parent() {
                        Some(p) => root.descend(p)?,
                        None => root,
                    };
                    dir.open_file(name)
                };
                let target = top.join(&e.rel);
                let Some(tname) = target.file_name().map(|n| n.to_os_string()) else {
                    continue;
                };
                jobs.push(put(
                    sftp.clone(),
                    open,
                    parent_of(&target),
                    tname,
                    e.stamp,
                    progress.clone(),
                    false,
                    pending.clone(),
                ));
            }
            run_jobs(jobs, progress).await?;
            // Directory modes last (a read-only directory would refuse its contents), the
            // deepest first.
            for e in entries.iter().rev().filter(|e| e.kind == EntryKind::Dir) {
                set_dir_stamp(&mut fs, &top.join(&e.rel), &e.stamp).await?;
            }
            set_dir_stamp(&mut fs, &top, &stamp).await?;
            Ok((top, None))
        }
    }
}

/// Check that the remote directory `dir` exists and, with a root, really lies inside it.
async fn check_dir(fs: &mut Fs, dir: &Path, req: &Request) -> Result<(), ToolError> {
    match stat(fs, dir).await? {
        None => {
            return Err(ToolError::new(
                ErrorKind::NotFound,
                format!("remote directory {} does not exist", dir.display()),
            ));
        }
        Some(md) if kind_of(&md) != Some(EntryKind::Dir) => {
            return Err(ToolError::invalid(format!(
                "remote path {} is not a directory",
                dir.display()
            )));
        }
        Some(_) => {}
    }
    if let Some(root) = req.remote_root.dir() {
        let real_root = remote::real_path(fs, root).await?;
        let real = remote::real_path(fs, dir).await?;
        if !real.starts_with(&real_root) {
            return Err(outside("remote path", &req.remote, root));
        }
    }
    Ok(())
}

/// Create the remote directory `dir` unless it exists as a real directory; a symbolic link
/// or another kind of file there is refused.
async fn make_dir(fs: &mut Fs, dir: &Path) -> Result<(), ToolError> {
    match lstat(fs, dir).await? {
        None => fs
            .create_dir(dir)
            .await
            .map_err(|e| sftp_error(&e, &format!("remote mkdir {}", dir.display()))),
        Some(md) if md.file_type().is_some_and(|t| t.is_symlink()) => Err(ToolError::new(
            ErrorKind::PermissionDenied,
            format!(
                "remote path {} is a symbolic link; transfers never write through one",
                dir.display()
            ),
        )),
        Some(md) if kind_of(&md) == Some(EntryKind::Dir) => Ok(()),
        Some(_) => Err(ToolError::invalid(format!(
            "remote path {} exists and is not a directory",
            dir.display()
        ))),
    }
}

async fn set_dir_stamp(fs: &mut Fs, dir: &Path, stamp: &Stamp) -> Result<(), ToolError> {
    fs.set_metadata(dir, remote::stamp_metadata(stamp))
        .await
        .map_err(|e| sftp_error(&e, &format!("remote directory {}", dir.display())))
}

/// One file: the local source opened (only now, so a tree never holds more than a few
/// descriptors), a temporary remote file next to `dir/name`, the bytes, the mode and times,
/// then the rename. Returns its SHA-256 when `hash`.
#[allow(clippy::too_many_arguments)]
async fn put(
    sftp: Arc<Sftp>,
    open: impl FnOnce() -> Result<std::fs::File, ToolError> + Send + 'static,
    dir: PathBuf,
    name: OsString,
    stamp: Stamp,
    progress: Arc<Progress>,
    hash: bool,
    pending: Arc<Leftovers>,
) -> Result<Option<String>, ToolError> {
    let target = dir.join(&name);
    let what = format!("remote file {}", target.display());
    let src = open()?;
    let (file, temp) = remote::create_temp(&sftp, &dir, &name, &pending).await?;
    let mut h = Hash::new(hash);
    let mut file = stream::send(src, file, progress.budget(), &mut h, &what).await?;
    file.set_metadata(remote::stamp_metadata(&stamp))
        .await
        .map_err(|e| sftp_error(&e, &what))?;
    file.close().await.map_err(|e| sftp_error(&e, &what))?;
    let mut fs = sftp.fs();
    temp.commit(&mut fs, &target).await?;
    Ok(h.finish())
}
