//! The local side of a transfer, through directory descriptors: below the directory the
//! caller named, every component is opened with `O_NOFOLLOW`, files are created with
//! `O_EXCL | O_NOFOLLOW` under a temporary name and renamed into place within the same
//! directory. So a symbolic link inside a destination tree (planted before or during the
//! transfer) is never written through, and a file being written is never visible under its
//! final name.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{Mode, fchmod, fstatat, futimens, mkdirat};
use nix::sys::time::TimeSpec;
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::paths::{safe_name, temp_name};
use super::{Entry, EntryKind, Stamp};
use crate::error::{ErrorKind, ToolError};

fn io(e: Errno) -> io::Error {
    io::Error::from(e)
}

/// A local error naming `path`; a symbolic link met where `O_NOFOLLOW` applies is said so.
pub(crate) fn local_error(e: &io::Error, path: &Path) -> ToolError {
    match e.raw_os_error() {
        Some(libc::ELOOP) => ToolError::new(
            ErrorKind::PermissionDenied,
            format!(
                "local path {} is a symbolic link; transfers never follow one there",
                path.display()
            ),
        ),
        Some(libc::ENOSPC) => ToolError::new(
            ErrorKind::Io,
            format!("local disk full while writing {}: {e}", path.display()),
        ),
        _ => ToolError::from_io(e, &format!("local path {}", path.display())),
    }
}

/// An open directory and the path it was opened as (for messages).
#[derive(Clone, Debug)]
pub(crate) struct Dir {
    fd: Arc<OwnedFd>,
    path: PathBuf,
}

impl Dir {
    /// Open `path` as a directory. Symbolic links in `path` itself are followed: it is the
    /// caller's own choice of destination (and was checked against the local root).
    pub(crate) fn open(path: &Path) -> Result<Dir, ToolError> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| local_error(&io(e), path))?;
        Ok(Dir {
            fd: Arc::new(fd),
            path: path.to_path_buf(),
        })
    }

    /// The path this directory was reached by.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The subdirectory `name`, never through a symbolic link.
    pub(crate) fn sub(&self, name: &OsStr) -> Result<Dir, ToolError> {
        let path = self.path.join(name);
        let fd = openat(
            self.fd.as_fd(),
            name,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            // `O_DIRECTORY | O_NOFOLLOW` on a symbolic link is ENOTDIR: say what it is.
            let link = e == Errno::ENOTDIR
                && fstatat(self.fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK);
            local_error(&io(if link { Errno::ELOOP } else { e }), &path)
        })?;
        Ok(Dir {
            fd: Arc::new(fd),
            path,
        })
    }

    /// The subdirectory `name`, created (mode 0700 until its own mode is applied) if missing.
    pub(crate) fn make_sub(&self, name: &OsStr) -> Result<Dir, ToolError> {
        match mkdirat(self.fd.as_fd(), name, Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(Errno::EEXIST) => self.sub(name),
            Err(e) => Err(local_error(&io(e), &self.path.join(name))),
        }
    }

    /// The directory `rel` below this one (every component a real directory).
    pub(crate) fn descend(&self, rel: &Path) -> Result<Dir, ToolError> {
        let mut dir = self.clone();
        for c in rel.components() {
            if let Component::Normal(n) = c {
                dir = dir.sub(n)?;
            }
        }
        Ok(dir)
    }

    /// Open the regular file `name` for reading, never through a symbolic link.
    pub(crate) fn open_file(&self, name: &OsStr) -> Result<std::fs::File, ToolError> {
        let path = self.path.join(name);
        let fd = openat(
            self.fd.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
            Mode::empty(),
        )
        .map_err(|e| local_error(&io(e), &path))?;
        let file = std::fs::File::from(fd);
        let md = file.metadata().map_err(|e| local_error(&e, &path))?;
        if !md.is_file() {
            return Err(ToolError::invalid(format!(
                "local path {} is not a regular file",
                path.display()
            )));
        }
        Ok(file)
    }

    /// Create a fresh temporary file next to `name` (mode 0600, exclusive, never through a
    /// link); it is removed when the returned guard is dropped unless it was renamed.
    pub(crate) fn create_temp(
        &self,
        name: &OsStr,
    ) -> Result<(std::fs::File, LocalTemp), ToolError> {
        for _ in 0..4 {
            let tmp = temp_name(name);
            match openat(
                self.fd.as_fd(),
                tmp.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC
                    | OFlag::O_NOCTTY,
                Mode::from_bits_truncate(0o600),
            ) {
                Ok(fd) => {
                    let guard = LocalTemp {
                        dir: self.clone(),
                        name: Some(tmp),
                    };
                    return Ok((std::fs::File::from(fd), guard));
                }
                Err(Errno::EEXIST) => continue,
                Err(e) => return Err(local_error(&io(e), &self.path.join(name))),
            }
        }
        Err(ToolError::new(
            ErrorKind::Io,
            format!("cannot create a temporary file in {}", self.path.display()),
        ))
    }

    /// Apply `mode` (permission bits only) and the times of `stamp` to this directory.
    pub(crate) fn apply(&self, stamp: &Stamp) -> Result<(), ToolError> {
        apply_stamp(self.fd.as_fd(), stamp).map_err(|e| local_error(&e, &self.path))
    }
}

/// Apply permission bits and times to an open file or directory.
pub(crate) fn apply_stamp(fd: impl AsFd, stamp: &Stamp) -> io::Result<()> {
    fchmod(fd.as_fd(), Mode::from_bits_truncate(stamp.mode & 0o777)).map_err(io)?;
    if let Some((atime, mtime)) = stamp.times {
        futimens(
            fd.as_fd(),
            &TimeSpec::new(atime as libc::time_t, 0),
            &TimeSpec::new(mtime as libc::time_t, 0),
        )
        .map_err(io)?;
    }
    Ok(())
}

/// A temporary file being written; removed on drop unless [`LocalTemp::commit`] renamed it.
#[derive(Debug)]
pub(crate) struct LocalTemp {
    dir: Dir,
    name: Option<OsString>,
}

impl LocalTemp {
    /// Rename the temporary file to `name` in the same directory (atomically replacing a
    /// file of that name; a directory of that name makes it fail).
    pub(crate) fn commit(mut self, name: &OsStr) -> Result<(), ToolError> {
        let Some(tmp) = self.name.take() else {
            return Ok(());
        };
        let r = renameat(
            self.dir.fd.as_fd(),
            tmp.as_os_str(),
            self.dir.fd.as_fd(),
            name,
        );
        if let Err(e) = r {
            let _ = unlinkat(
                self.dir.fd.as_fd(),
                tmp.as_os_str(),
                UnlinkatFlags::NoRemoveDir,
            );
            return Err(local_error(&io(e), &self.dir.path.join(name)));
        }
        Ok(())
    }
}

impl Drop for LocalTemp {
    fn drop(&mut self) {
        if let Some(tmp) = self.name.take() {
            let _ = unlinkat(
                self.dir.fd.as_fd(),
                tmp.as_os_str(),
                UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

/// The permission bits and times of a local file.
pub(crate) fn stamp_of(md: &std::fs::Metadata) -> Stamp {
    Stamp {
        mode: md.mode() & 0o7777,
        times: Some((
            md.atime().clamp(0, u32::MAX as i64) as u32,
            md.mtime().clamp(0, u32::MAX as i64) as u32,
        )),
    }
}

/// The tree below `root` (a directory the caller named), depth first, directories before
/// their contents. Symbolic links are not followed: one that resolves to a regular file
/// inside the tree is sent as that file (read through its real path, beneath the root);
/// every other one — to a directory, out of the tree, dangling — is skipped and counted, as
/// are sockets, devices and FIFOs. At most `max_entries` entries.
pub(crate) fn walk(root: &Path, max_entries: usize) -> Result<(Vec<Entry>, usize), ToolError> {
    let canon_root = std::fs::canonicalize(root).map_err(|e| local_error(&e, root))?;
    let mut out = Vec::new();
    let mut skipped = 0usize;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut names: Vec<OsString> = std::fs::read_dir(&dir)
            .map_err(|e| local_error(&e, &dir))?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            if !safe_name(&name) {
                skipped += 1;
                continue;
            }
            let path = dir.join(&name);
            let Ok(md) = std::fs::symlink_metadata(&path) else {
                skipped += 1;
                continue;
            };
            let child = rel.join(&name);
            let ft = md.file_type();
            let entry = if ft.is_dir() {
                subdirs.push(child.clone());
                Entry {
                    rel: child,
                    kind: EntryKind::Dir,
                    size: 0,
                    stamp: stamp_of(&md),
                    source: None,
                }
            } else if ft.is_file() {
                Entry {
                    rel: child,
                    kind: EntryKind::File,
                    size: md.len(),
                    stamp: stamp_of(&md),
                    source: None,
                }
            } else if ft.is_symlink() {
                match in_tree_file(&path, &canon_root) {
                    Some((real, md)) => Entry {
                        rel: child,
                        kind: EntryKind::File,
                        size: md.len(),
                        stamp: stamp_of(&md),
                        source: Some(real),
                    },
                    None => {
                        skipped += 1;
                        continue;
                    }
                }
            } else {
                skipped += 1;
                continue;
            };
            out.push(entry);
            if out.len() > max_entries {
                return Err(too_many(max_entries));
            }
        }
        // Depth first in name order: push in reverse so the first name is visited first.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok((out, skipped))
}

/// The error for a tree with more than `max` entries.
pub(crate) fn too_many(max: usize) -> ToolError {
    ToolError::invalid(format!(
        "the tree has more than {max} entries; transfer it in parts"
    ))
}

/// Where the symbolic link `link` leads, relative to the tree, when that is a regular file
/// inside the tree (`canon_root` is the tree's real path).
fn in_tree_file(link: &Path, canon_root: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
    let real = std::fs::canonicalize(link).ok()?;
    let rel = real.strip_prefix(canon_root).ok()?.to_path_buf();
    let md = std::fs::metadata(&real).ok()?;
    md.is_file().then_some((rel, md))
}
