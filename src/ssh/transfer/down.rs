//! `ssh_download`: a remote file or tree to the local host.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openssh_sftp_client::Sftp;

use super::local::{Dir, apply_stamp, local_error};
use super::paths::{base_name, safe_name};
use super::remote::{self, kind_of, sftp_error, stat};
use super::stream::{self, Hash, over_cap};
use super::up::{outside, parent_of};
use super::{
    EntryKind, MAX_ENTRIES, Progress, Report, Request, Stamp, open_sftp, run_jobs, total_size,
};
use crate::error::{ErrorKind, ToolError};
use crate::ssh::pool::Master;

/// Download `req`.
pub(super) async fn download(
    master: &Arc<Master>,
    req: &Request,
    progress: &Arc<Progress>,
) -> Result<Report, ToolError> {
    let remote_path = req.remote_root.place("remote path", &req.remote)?;
    let local = req.local_root.place("local path", &req.local)?;
    let sftp = Arc::new(open_sftp(master).await?);
    let result = fetch_all(&sftp, req, &remote_path, &local, progress).await;
    if let Ok(s) = Arc::try_unwrap(sftp) {
        let _ = s.close().await;
    }
    let (dest, sha256, skipped) = result?;
    Ok(Report {
        files: progress.files(),
        bytes: progress.bytes(),
        sha256: if progress.files() == 1 { sha256 } else { None },
        skipped,
        dest: dest.display().to_string(),
    })
}

/// Where the download lands: an open directory and the name inside it. An existing
/// directory receives the file or tree under its remote name; a symbolic link is refused.
fn local_target(
    local: &Path,
    remote_path: &Path,
    kind: EntryKind,
    req: &Request,
) -> Result<(Dir, OsString), ToolError> {
    let given = &req.local;
    let (dir, name) = match std::fs::symlink_metadata(local) {
        Ok(md) if md.file_type().is_symlink() => {
            return Err(ToolError::new(
                ErrorKind::PermissionDenied,
                format!("local path {given} is a symbolic link; transfers never write through one"),
            ));
        }
        Ok(md) if md.is_dir() => {
            let name = base_name(remote_path)
                .filter(|n| safe_name(n))
                .ok_or_else(|| {
                    ToolError::invalid(format!("remote path {} has no name to give", req.remote))
                })?;
            (local.to_path_buf(), name)
        }
        Ok(md) if md.is_file() && kind == EntryKind::Dir => {
            return Err(ToolError::invalid(format!(
                "local path {given} exists and is not a directory"
            )));
        }
        Ok(md) if !md.is_file() => {
            return Err(ToolError::invalid(format!(
                "local path {given} is not a regular file or directory"
            )));
        }
        Ok(_) => (parent_of(local), name_of(local, given)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if given.ends_with('/') {
                return Err(ToolError::new(
                    ErrorKind::NotFound,
                    format!("local directory {given} does not exist"),
                ));
            }
            (parent_of(local), name_of(local, given)?)
        }
        Err(e) => return Err(local_error(&e, local)),
    };
    if let Some(root) = req.local_root.dir() {
        let real_root = std::fs::canonicalize(root).map_err(|e| local_error(&e, root))?;
        let real = std::fs::canonicalize(&dir).map_err(|e| local_error(&e, &dir))?;
        if !real.starts_with(&real_root) {
            return Err(outside("local path", given, root));
        }
    }
    match Dir::open(&dir) {
        Ok(d) => Ok((d, name)),
        Err(e) if e.kind == ErrorKind::NotFound => Err(ToolError::new(
            ErrorKind::NotFound,
            format!("local directory {} does not exist", dir.display()),
        )),
        Err(e) => Err(e),
    }
}

fn name_of(local: &Path, given: &str) -> Result<OsString, ToolError> {
    local
        .file_name()
        .map(|n| n.to_os_string())
        .filter(|n| safe_name(n))
        .ok_or_else(|| ToolError::invalid(format!("local path {given} names no file")))
}

async fn fetch_all(
    sftp: &Arc<Sftp>,
    req: &Request,
    remote_path: &Path,
    local: &Path,
    progress: &Arc<Progress>,
) -> Result<(PathBuf, Option<String>, usize), ToolError> {
    let mut fs = sftp.fs();
    let md = stat(&mut fs, remote_path).await?.ok_or_else(|| {
        ToolError::new(
            ErrorKind::NotFound,
            format!("remote path {}: no such file or directory", req.remote),
        )
    })?;
    if let Some(root) = req.remote_root.dir() {
        let real_root = remote::real_path(&mut fs, root).await?;
        let real = remote::real_path(&mut fs, remote_path).await?;
        if !real.starts_with(&real_root) {
            return Err(outside("remote path", &req.remote, root));
        }
    }
    let kind = kind_of(&md).ok_or_else(|| {
        ToolError::invalid(format!(
            "remote path {} is not a regular file or directory",
            req.remote
        ))
    })?;
    if kind == EntryKind::Dir && !req.recursive {
        return Err(ToolError::invalid(format!(
            "remote path {} is a directory; pass recursive=true to download a tree",
            req.remote
        )));
    }
    let (dir, name) = local_target(local, remote_path, kind, req)?;
    match kind {
        EntryKind::File => {
            let size = md.len().unwrap_or(0);
            if size > progress.budget().max() {
                return Err(over_cap(size, progress.budget().max()));
            }
            progress.planned(1);
            let dest = dir.path().join(&name);
            let d = dir.clone();
            let job = get(
                sftp.clone(),
                remote_path.to_path_buf(),
                move || Ok(d),
                name,
                remote::stamp_of(&md),
                progress.clone(),
                true,
            );
            let sha = run_jobs(vec![job], progress).await?;
            Ok((dest, sha, 0))
        }
        EntryKind::Dir => {
            let canon = remote::real_path(&mut fs, remote_path).await?;
            let (entries, skipped) = remote::walk(sftp, remote_path, &canon, MAX_ENTRIES).await?;
            let total = total_size(&entries);
            if total > progress.budget().max() {
                return Err(over_cap(total, progress.budget().max()));
            }
            let files = entries.iter().filter(|e| e.kind == EntryKind::File).count();
            progress.planned(files as u64);
            let top = dir.make_sub(&name)?;
            for e in entries.iter().filter(|e| e.kind == EntryKind::Dir) {
                let (Some(n), Some(p)) = (e.rel.file_name(), e.rel.parent()) else {
                    continue;
                };
                top.descend(p)?.make_sub(n)?;
            }
            let mut jobs = Vec::new();
            for e in entries.iter().filter(|e| e.kind == EntryKind::File) {
                let (Some(n), Some(p)) = (e.rel.file_name(), e.rel.parent()) else {
                    continue;
                };
                let read_from = remote_path.join(e.source.as_deref().unwrap_or(&e.rel));
                let (top, p) = (top.clone(), p.to_path_buf());
                jobs.push(get(
                    sftp.clone(),
                    read_from,
                    move || top.descend(&p),
                    n.to_os_string(),
                    e.stamp,
                    progress.clone(),
                    false,
                ));
            }
            run_jobs(jobs, progress).await?;
            for e in entries.iter().rev().filter(|e| e.kind == EntryKind::Dir) {
                top.descend(&e.rel)?.apply(&e.stamp)?;
            }
            top.apply(&remote::stamp_of(&md))?;
            Ok((top.path().to_path_buf(), None, skipped))
        }
    }
}

/// One file: its local directory reached (only now), a temporary file there, the bytes,
/// mode and times, then the rename. Returns its SHA-256 when `hash`.
async fn get(
    sftp: Arc<Sftp>,
    remote: PathBuf,
    dir: impl FnOnce() -> Result<Dir, ToolError> + Send + 'static,
    name: OsString,
    stamp: Stamp,
    progress: Arc<Progress>,
    hash: bool,
) -> Result<Option<String>, ToolError> {
    let what = format!("remote file {}", remote.display());
    let dir = dir()?;
    let src = sftp
        .open(&remote)
        .await
        .map_err(|e| sftp_error(&e, &what))?;
    let target = dir.path().join(&name);
    let (file, temp) = dir.create_temp(&name)?;
    let keep = file.try_clone().map_err(|e| local_error(&e, &target))?;
    let mut h = Hash::new(hash);
    stream::recv(src.clone(), file, progress.budget(), &mut h, &what).await?;
    apply_stamp(&keep, &stamp).map_err(|e| local_error(&e, &target))?;
    drop(keep);
    let _ = src.close().await;
    temp.commit(&name)?;
    Ok(h.finish())
}
