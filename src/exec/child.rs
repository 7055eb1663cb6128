//! The child of one run, started by `confine::launch` (confined or not), which tokio cannot
//! adopt: it is waited on through its pidfd, which becomes readable when it exits.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use tokio::io::unix::AsyncFd;

/// A running child.
#[derive(Debug)]
pub(super) enum Child {
    /// Started by `confine::launch`.
    Confined(ConfinedChild),
}

impl Child {
    /// Its process id, while it has one.
    pub(super) fn id(&self) -> Option<u32> {
        match self {
            Child::Confined(c) => c.status.is_none().then_some(c.pid as u32),
        }
    }

    /// Wait for it to exit and reap it (cancel-safe: call again after a timeout).
    pub(super) async fn wait(&mut self) -> io::Result<ExitStatus> {
        match self {
            Child::Confined(c) => c.wait().await,
        }
    }
}

/// A child started by `confine::launch`; killed and reaped in the background if dropped
/// before it was reaped (like tokio's `kill_on_drop`).
#[derive(Debug)]
pub(super) struct ConfinedChild {
    pid: i32,
    pidfd: AsyncFd<OwnedFd>,
    status: Option<ExitStatus>,
}

impl ConfinedChild {
    /// Watch a child through its pidfd (needs a tokio runtime with I/O enabled).
    pub(super) fn new(pid: i32, pidfd: OwnedFd) -> io::Result<ConfinedChild> {
        Ok(ConfinedChild {
            pid,
            // SAFETY: the AsyncFd owns the descriptor for its whole life.
            pidfd: unsafe {
                AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE)?
            },
            status: None,
        })
    }

    async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        loop {
            let mut ready = self.pidfd.readable().await?;
            match try_reap(self.pidfd.get_ref())? {
                Some(status) => {
                    self.status = Some(status);
                    return Ok(status);
                }
                None => ready.clear_ready(),
            }
        }
    }
}

/// Reap the child if it has exited.
fn try_reap(pidfd: &OwnedFd) -> io::Result<Option<ExitStatus>> {
    loop {
        return match waitid(
            Id::PIDFd(pidfd.as_fd()),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
        ) {
            Ok(WaitStatus::Exited(_, code)) => Ok(Some(ExitStatus::from_raw((code & 0xff) << 8))),
            Ok(WaitStatus::Signaled(_, sig, core)) => Ok(Some(ExitStatus::from_raw(
                sig as i32 | if core { 0x80 } else { 0 },
            ))),
            Ok(_) => Ok(None),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => Err(io::Error::from(e)),
        };
    }
}

impl Drop for ConfinedChild {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        // SAFETY: a signal through our own pidfd (no pid reuse possible).
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.get_ref().as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0u32,
            );
        }
        let Ok(fd) = self.pidfd.get_ref().try_clone() else {
            return;
        };
        let reap = move || {
            let _ = waitid(Id::PIDFd(fd.as_fd()), WaitPidFlag::WEXITED);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(reap)),
            Err(_) => drop(std::thread::spawn(reap)),
        }
    }
}
