//! The per-call scratch directory: the confined child's `TMPDIR`, the one place a read-only
//! command may write (`sort` spilling to disk, a tool's lock file). Mode 0700, a random name
//! created exclusively, removed with everything in it when the call (or session) is over.
//!
//! Creating and removing a directory is filesystem metadata work that can take milliseconds
//! (a journal commit, a discard of the freed block on a `discard` mount), so a [`ScratchPool`]
//! keeps a few fresh directories ready and removes used ones on threads of its own: a call
//! neither waits for the `mkdir` nor for the removal. Each call still gets a new directory
//! (a new inode, so a process left behind by one call can never reach the next one's).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Directories kept ready (enough for a burst of concurrent calls).
const READY: usize = 8;

/// A scratch directory that removes itself when dropped (through its pool's thread, if any).
#[derive(Debug)]
pub struct ScratchDir {
    /// Its absolute path.
    path: PathBuf,
    /// An `O_PATH` descriptor of it, opened when it was made: the Landlock rule is added
    /// through it, so a call never looks the path up (a lookup in a busy `/tmp` can wait
    /// behind another directory's removal).
    fd: OwnedFd,
    /// The pool's worker, which removes it off the caller's path.
    remover: Option<Sender<Job>>,
}

impl ScratchDir {
    /// Create a fresh directory under `base`, now.
    pub fn create(base: &Path) -> io::Result<ScratchDir> {
        create_dir(base).map(|(path, fd)| ScratchDir {
            path,
            fd,
            remover: None,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An `O_PATH` descriptor of the directory.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A new directory under `base` and an `O_PATH` descriptor of it.
fn create_dir(base: &Path) -> io::Result<(PathBuf, OwnedFd)> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let mut last = io::Error::new(io::ErrorKind::AlreadyExists, "no free name");
    for _ in 0..4 {
        let path = base.join(format!("relay-shell-{:016x}", rand::random::<u64>()));
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {
                let opened = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)
                    .open(&path);
                return match opened {
                    Ok(dir) => Ok((path, OwnedFd::from(dir))),
                    Err(e) => {
                        remove(&path);
                        Err(e)
                    }
                };
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Remove `path` and its content. An empty directory (the usual case) is one `rmdir`; std's
/// `remove_dir_all` does not follow symbolic links planted inside.
fn remove(path: &Path) {
    if std::fs::remove_dir(path).is_ok() {
        return;
    }
    if let Err(e) = std::fs::remove_dir_all(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "scratch directory not removed");
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let path = std::mem::take(&mut self.path);
        match self.remover.take() {
            Some(tx) => {
                if let Err(unsent) = tx.send(Job::Remove(path))
                    && let Job::Remove(path) = unsent.0
                {
                    remove(&path);
                }
            }
            None => remove(&path),
        }
    }
}

/// Work for the pool's thread.
#[derive(Debug)]
enum Job {
    /// Create directories until [`READY`] are ready.
    Refill,
    /// Remove a used directory.
    Remove(PathBuf),
    /// Finish the jobs queued before this one and stop (directories dropped later are
    /// removed by whoever drops them).
    Stop,
}

/// Fresh scratch directories, made and removed off the caller's path.
#[derive(Debug)]
pub(crate) struct ScratchPool {
    /// Where directories are created.
    base: PathBuf,
    /// Directories ready to hand out.
    ready: Arc<Mutex<Vec<(PathBuf, OwnedFd)>>>,
    /// The worker threads (`None` until first use and after shutdown).
    workers: Mutex<Option<Workers>>,
}

/// A thread that makes directories and one that removes them: a removal can take far longer
/// than a creation (it frees the directory's block), and must not hold up the refill.
#[derive(Debug)]
struct Workers {
    /// Queue of the thread that keeps [`READY`] directories ready.
    maker: Sender<Job>,
    /// Queue of the thread that removes used directories.
    remover: Sender<Job>,
    /// Both threads, joined at shutdown so no removal is lost at exit.
    threads: Vec<JoinHandle<()>>,
}

impl ScratchPool {
    /// A pool creating directories under `base`; its threads start on first use.
    pub(crate) fn new(base: PathBuf) -> ScratchPool {
        ScratchPool {
            base,
            ready: Arc::new(Mutex::new(Vec::new())),
            workers: Mutex::new(None),
        }
    }

    /// A fresh directory: a ready one, or one made now when none is ready.
    pub(crate) fn take(&self) -> io::Result<ScratchDir> {
        let ready = self.ready.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let remover = self.queues().map(|(maker, remover)| {
            let _ = maker.send(Job::Refill);
            remover
        });
        let (path, fd) = match ready {
            Some(made) => made,
            None => create_dir(&self.base)?,
        };
        Ok(ScratchDir { path, fd, remover })
    }

    /// The maker's and the remover's queues, starting the threads if needed (`None` if they
    /// cannot start: directories are then made and removed by the caller).
    fn queues(&self) -> Option<(Sender<Job>, Sender<Job>)> {
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        if workers.is_none() {
            *workers = self.start_workers();
        }
        workers
            .as_ref()
            .map(|w| (w.maker.clone(), w.remover.clone()))
    }

    fn start_workers(&self) -> Option<Workers> {
        let (maker, made) = channel::<Job>();
        let (remover, removed) = channel::<Job>();
        let base = self.base.clone();
        let ready = self.ready.clone();
        let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(body)
                .ok()
        };
        let make = spawn(
            "confine-scratch-make",
            Box::new(move || {
                for job in made.iter() {
                    if !matches!(job, Job::Refill) {
                        break;
                    }
                    while ready.lock().unwrap_or_else(|p| p.into_inner()).len() < READY {
                        match create_dir(&base) {
                            Ok(made) => ready.lock().unwrap_or_else(|p| p.into_inner()).push(made),
                            Err(_) => break,
                        }
                    }
                }
            }),
        )?;
        let remove_thread = spawn(
            "confine-scratch-remove",
            Box::new(move || {
                for job in removed.iter() {
                    match job {
                        Job::Remove(path) => remove(&path),
                        _ => {
                            // Removals that raced with the stop are still done.
                            for late in removed.try_iter() {
                                if let Job::Remove(path) = late {
                                    remove(&path);
                                }
                            }
                            break;
                        }
                    }
                }
            }),
        );
        let Some(remove_thread) = remove_thread else {
            let _ = maker.send(Job::Stop);
            let _ = make.join();
            return None;
        };
        Some(Workers {
            maker,
            remover,
            threads: vec![make, remove_thread],
        })
    }

    /// Finish queued removals, stop the threads and remove the ready directories.
    /// Idempotent; directories dropped later are removed by whoever drops them.
    pub(crate) fn shutdown(&self) {
        if let Some(w) = self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = w.maker.send(Job::Stop);
            let _ = w.remover.send(Job::Stop);
            for thread in w.threads {
                let _ = thread.join();
            }
        }
        for (path, _) in self
            .ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            remove(&path);
        }
    }
}

impl Drop for ScratchPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_and_removed_with_its_content() {
        let base = tempfile::tempdir().expect("tempdir"); // ok: test
        let path = {
            let s = ScratchDir::create(base.path()).expect("create"); // ok: test
            let mode = std::fs::metadata(s.path())
                .expect("stat")
                .permissions()
                .mode(); // ok: test
            assert_eq!(mode & 0o777, 0o700);
            std::fs::create_dir(s.path().join("d")).expect("mkdir"); // ok: test
            std::fs::write(s.path().join("d/f"), b"x").expect("write"); // ok: test
            std::os::unix::fs::symlink(base.path(), s.path().join("link")).expect("symlink"); // ok: test
            s.path().to_path_buf()
        };
        assert!(!path.exists());
        assert!(base.path().exists(), "a planted link is not followed");
    }

    #[test]
    fn a_pool_hands_out_new_directories_and_leaves_nothing_behind() {
        let base = tempfile::tempdir().expect("tempdir"); // ok: test
        let pool = ScratchPool::new(base.path().to_path_buf());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10 {
            let s = pool.take().expect("take"); // ok: test
            assert!(s.path().is_dir());
            std::fs::write(s.path().join("f"), b"x").expect("write"); // ok: test
            assert!(
                seen.insert(s.path().to_path_buf()),
                "never handed out twice"
            );
        }
        drop(pool);
        let left: Vec<_> = std::fs::read_dir(base.path())
            .expect("read_dir") // ok: test
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
