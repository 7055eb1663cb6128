//! Starting a child in a fresh PTY, and the terminal-side handles the session keeps.
//!
//! The child is made a session leader with the PTY as its controlling terminal (`setsid` +
//! `TIOCSCTTY`, done by pty-process), so its pid is also its process group and session id,
//! `^C` typed into the PTY interrupts the foreground job, and a resize delivers `SIGWINCH`.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::signal::Signal;
use pty_process::{OwnedReadPty, OwnedWritePty};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{SpawnRequest, TermSize};
use crate::confine::Prepared;
use crate::error::{ErrorKind, ToolError};

/// The parent's side of a running PTY child: where input goes, how to resize, whom to signal.
#[derive(Debug)]
pub(super) struct PtyTerminal {
    /// Write half of the master. A mutex serialises concurrent senders so one caller's bytes
    /// are never interleaved with another's.
    writer: Mutex<OwnedWritePty>,
    /// A duplicate of the master, used to ask which process group is in the foreground.
    master: OwnedFd,
    /// The child's pid, which is also its process group and session id.
    leader: i32,
    /// How the kernel profile the session runs under for its whole life is recorded.
    confinement_label: String,
    /// The profile's prepared state, whose scratch directory is removed once the session
    /// has ended ([`PtyTerminal::release_confinement`]).
    confinement: std::sync::Mutex<Option<Prepared>>,
}

/// Everything [`spawn`] hands back: the terminal handles, the read half for the output pump
/// and the child for reaping.
pub(super) struct Spawned {
    /// Input, resize and signal handles.
    pub terminal: PtyTerminal,
    /// Read half of the master, drained by the session's output pump.
    pub reader: OwnedReadPty,
    /// The session leader, reaped by the output pump.
    pub child: tokio::process::Child,
}

fn pty_error(what: &str, err: pty_process::Error) -> ToolError {
    match err {
        pty_process::Error::Io(e) => ToolError::from_io(&e, what),
        other => ToolError::new(ErrorKind::Io, format!("{what}: {other}")),
    }
}

/// Start `req.argv` in a new PTY of `req.size`, with exactly `req.env` as its environment.
///
/// Must run inside a tokio runtime. Nothing is left behind on failure: the PTY is closed and
/// no child exists.
pub(super) fn spawn(req: &SpawnRequest) -> Result<Spawned, ToolError> {
    let Some((program, args)) = req.argv.split_first() else {
        return Err(ToolError::invalid("empty command"));
    };
    if let Some(cwd) = &req.cwd
        && !cwd.is_dir()
    {
        return Err(ToolError::new(
            ErrorKind::NotFound,
            format!("no such directory: {}", cwd.display()),
        ));
    }
    let (pty, pts) = pty_process::open().map_err(|e| pty_error("cannot open a pty", e))?;
    pty.resize(req.size.to_pty())
        .map_err(|e| pty_error("cannot size the pty", e))?;
    let master = pty
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| ToolError::from_io(&e, "cannot duplicate the pty"))?;
    let confinement = match &req.confinement {
        // The terminal itself stays writable: programs reopen it by name (`$(tty)`).
        Some(c) => c.prepare(req.cwd.as_deref(), terminal_path(&pts).as_deref())?,
        None => None,
    };
    let mut env = req.env.clone();
    if let Some(p) = &confinement {
        env.retain(|(k, _)| k != "TMPDIR");
        env.push(("TMPDIR".into(), p.tmpdir().as_os_str().to_owned()));
    }
    let mut cmd = pty_process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(env)
        // A last resort only: the session's close sequence signals the whole group first.
        .kill_on_drop(true);
    if let Some(cwd) = &req.cwd {
        cmd = cmd.current_dir(cwd);
    }
    if let Some(p) = &confinement {
        let steps = p.steps().clone();
        // SAFETY: the hook runs in the forked child after pty-process's setsid/TIOCSCTTY and
        // only makes system calls on data prepared here (`ChildSteps::apply`).
        cmd = unsafe {
            cmd.pre_exec(move || {
                steps
                    .apply()
                    .map_err(|(_, errno)| std::io::Error::from_raw_os_error(errno))
            })
        };
    }
    let child = cmd.spawn(pts).map_err(|e| pty_error(program, e))?;
    let leader = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| ToolError::new(ErrorKind::SpawnFailed, "child exited before setup"))?;
    let (reader, writer) = pty.into_split();
    Ok(Spawned {
        terminal: PtyTerminal {
            writer: Mutex::new(writer),
            master,
            leader,
            confinement_label: confinement
                .as_ref()
                .map_or_else(|| "none".to_string(), |p| p.label().to_string()),
            confinement: std::sync::Mutex::new(confinement),
        },
        reader,
        child,
    })
}

/// The terminal's path (`/dev/pts/N`), read back from our descriptor of it.
fn terminal_path(pts: &pty_process::Pts) -> Option<std::path::PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", pts.as_fd().as_raw_fd())).ok()
}

impl PtyTerminal {
    /// The child's pid = process group = session id.
    pub(super) fn leader(&self) -> i32 {
        self.leader
    }

    /// The label of the profile the session runs under (`none` when unconfined).
    pub(crate) fn confinement(&self) -> &str {
        &self.confinement_label
    }

    /// The session has ended: remove its scratch directory now rather than when the session
    /// is forgotten.
    pub(crate) fn release_confinement(&self) {
        drop(
            self.confinement
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }

    /// Write all of `bytes` to the terminal's input. Waits while the terminal's input queue is
    /// full (the caller's deadline bounds that).
    pub(super) async fn write_all(&self, bytes: &[u8]) -> Result<(), ToolError> {
        let mut w = self.writer.lock().await;
        w.write_all(bytes)
            .await
            .map_err(|e| ToolError::from_io(&e, "write to session"))?;
        w.flush()
            .await
            .map_err(|e| ToolError::from_io(&e, "write to session"))
    }

    /// Set the window size; the kernel sends `SIGWINCH` to the foreground process group.
    pub(super) async fn resize(&self, size: TermSize) -> Result<(), ToolError> {
        let w = self.writer.lock().await;
        w.resize(size.to_pty())
            .map_err(|e| pty_error("resize session", e))
    }

    /// The terminal's echo and canonical-mode flags (the slave's termios, which Linux reports
    /// through the master), when the kernel will say.
    pub(super) fn line_modes(&self) -> Option<super::LineModes> {
        use nix::sys::termios::{LocalFlags, tcgetattr};
        let t = tcgetattr(self.master.as_fd()).ok()?;
        Some(super::LineModes {
            echo: t.local_flags.contains(LocalFlags::ECHO),
            canonical: t.local_flags.contains(LocalFlags::ICANON),
        })
    }

    /// The terminal's foreground process group, when the kernel will say.
    pub(super) fn foreground_group(&self) -> Option<i32> {
        nix::unistd::tcgetpgrp(self.master.as_fd())
            .ok()
            .map(|p| p.as_raw())
    }

    /// Send `sig` to the leader's process group (only while the leader is unreaped, so its id
    /// cannot have been reused) and, when a job runs in the foreground under a job-control
    /// shell, to that job's group too.
    pub(super) fn signal(&self, sig: Signal, leader_unreaped: bool) {
        if leader_unreaped {
            super::signal::signal_group(self.leader, sig);
        }
        if let Some(fg) = self.foreground_group()
            && fg != self.leader
        {
            super::signal::signal_group(fg, sig);
        }
    }
}
