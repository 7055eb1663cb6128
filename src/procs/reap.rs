//! Reaping adopted processes: the server is a child subreaper, so the orphans of the calls it
//! ended (and of what calls left running) become its children when their parents die. Each
//! is held by a pidfd and reaped by that pidfd only, so a child the runtime waits for itself
//! (a call's direct child, an ssh process) is never taken from it, and a reused pid is never
//! confused with the process that held it.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};

/// Most adopted processes remembered at once (an older one is forgotten past this: a
/// zombie it leaves is harmless, and the bound keeps a fork storm from growing the list).
const MAX_ADOPTED: usize = 4096;

static ADOPTED: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

/// Remember `pid` for reaping once it has exited and is the server's child.
pub(super) fn adopt(pid: i32) {
    if pid <= 1 {
        return;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return; // gone already
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut list = ADOPTED.lock().unwrap_or_else(|p| p.into_inner());
    if list.len() >= MAX_ADOPTED {
        list.remove(0);
    }
    list.push(fd);
}

/// Reap the zombie children of the server that `orphan` says came from an ended call (they
/// exited before anyone saw them alive: a subshell that forked and left at once).
pub(super) fn reap_orphans(orphan: &dyn Fn(&super::scan::Proc) -> bool) {
    for p in super::scan::own_children() {
        if !p.is_live() && orphan(&p) {
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(p.pid),
                Some(WaitPidFlag::WNOHANG),
            );
        }
    }
}

/// Reap every adopted process that has exited and is the server's child; forget those that
/// exited under another parent.
pub(super) fn reap_adopted() {
    let mut list = ADOPTED.lock().unwrap_or_else(|p| p.into_inner());
    list.retain(|fd| {
        match waitid(
            Id::PIDFd(fd.as_fd()),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
        ) {
            Ok(WaitStatus::StillAlive) => true,
            Ok(_) => false,
            Err(Errno::EINTR) => true,
            // Not our child (yet): keep it while it runs; it may be re-parented to us later.
            Err(_) => !exited(fd),
        }
    });
}

/// How many adopted processes are remembered (for tests and `server_info`).
pub(super) fn adopted_count() -> usize {
    ADOPTED.lock().unwrap_or_else(|p| p.into_inner()).len()
}

/// A pidfd polls readable once its process has exited.
fn exited(fd: &OwnedFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0
}

/// Reap adopted processes whenever a child exits (`SIGCHLD`), for the life of the runtime.
pub(super) fn start_reaper() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut chld) = signal(SignalKind::child()) else {
        tracing::warn!(
            "cannot watch SIGCHLD; adopted processes are reaped at the end of calls only"
        );
        return;
    };
    tokio::spawn(async move {
        while chld.recv().await.is_some() {
            reap_adopted();
            super::reap_ended_orphans();
        }
    });
}
