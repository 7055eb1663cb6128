//! One remote command over a pooled master, bounded in time and output, with the remote
//! process terminated at the deadline.
//!
//! **How the remote command is stopped.** Closing an SSH channel does not stop a command that
//! runs without a terminal, and the mux protocol has no signal message. So the command is sent
//! as `echo relay-shell-<nonce>:$$ >&2` followed by a newline and the caller's command: the
//! remote login shell prints its pid before it runs anything. sshd makes that shell the leader
//! of a new session and process group, so at the deadline a second channel on the same master
//! runs `kill -TERM -- -<pid>` (then `kill -KILL` after 2 s if output is still open), which
//! reaches the command and everything it started in that group. The marker line is removed
//! from the output. This assumes a POSIX-family login shell (sh, bash, dash, zsh, ksh);
//! without the marker (another shell, or a deadline hit before it arrived) the channel is
//! closed and the remote side may keep running.
//!
//! stdout and stderr share one pipe handed to the master, so the output keeps the order in
//! which the master received it (like `2>&1`).

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use crate::error::{ErrorKind, ToolError};
use crate::ssh::pool::Master;

/// Longest wait for the exit status once the output has ended.
const STATUS_WAIT: Duration = Duration::from_secs(5);
/// Grace between `TERM` and `KILL` for the remote group.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// The marker is looked for in this many leading bytes of the output.
const MARKER_WINDOW: usize = 8192;

/// What a remote command did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteOutcome {
    /// Output kept (stdout and stderr in arrival order), at most the capture limit.
    pub output: Vec<u8>,
    /// Bytes the command produced in all.
    pub total_bytes: usize,
    /// Exit status; `None` when killed by a signal or when the deadline hit.
    pub exit_code: Option<i32>,
    /// The deadline hit (the remote group was signalled when its pid was known).
    pub timed_out: bool,
    /// The remote pid, when the marker arrived.
    pub remote_pid: Option<u32>,
}

/// Why a run failed: before the command started (safe to retry on a new master) or after.
#[derive(Debug)]
pub enum ExecError {
    /// The channel could not be opened; nothing ran.
    NotStarted(ToolError),
    /// The command started; its fate is unknown.
    Failed(ToolError),
}

fn io_err(e: std::io::Error) -> ExecError {
    ExecError::NotStarted(ToolError::from_io(&e, "cannot create a pipe"))
}

/// Run `command` on `master`. `mark_pid` adds the pid preamble (see the module docs).
pub async fn run(
    master: &Arc<Master>,
    command: &str,
    timeout: Duration,
    capture_limit: usize,
    mark_pid: bool,
) -> Result<RemoteOutcome, ExecError> {
    let deadline = Instant::now() + timeout;
    let nonce = {
        let mut b = [0u8; 8];
        rand::fill(&mut b[..]);
        hex::encode(b)
    };
    let marker = format!("relay-shell-{nonce}:");
    let text = if mark_pid {
        format!("echo {marker}$$ >&2\n{command}")
    } else {
        command.to_string()
    };
    let (reader, writer) = std::io::pipe().map_err(io_err)?;
    let writer2 = writer.try_clone().map_err(io_err)?;
    let mut cmd = master.session().raw_command(&text);
    cmd.stdin(openssh::Stdio::null())
        .stdout(openssh::Stdio::from(OwnedFd::from(writer)))
        .stderr(openssh::Stdio::from(OwnedFd::from(writer2)));
    let child = match tokio::time::timeout_at(deadline, cmd.spawn()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(ExecError::NotStarted(mux_error(&e))),
        Err(_) => {
            return Ok(RemoteOutcome {
                timed_out: true,
                ..RemoteOutcome::default()
            });
        }
    };
    // Our copies of the write ends must go, or the output never reaches EOF.
    drop(cmd);
    let fd = OwnedFd::from(reader);
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(|e| ExecError::Failed(ToolError::new(ErrorKind::Io, format!("pipe: {e}"))))?;
    let rx = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
        .map_err(|e| ExecError::Failed(ToolError::from_io(&e, "pipe")))?;

    let mut out = RemoteOutcome::default();
    // If this future is dropped (the call was cancelled) the remote group is still stopped.
    // It owns the output pipe, so a call cancelled before the pid line was read can still
    // read it and stop the command.
    let mut guard = CancelGuard {
        master: master.clone(),
        pid: None,
        rx: Some(rx),
        head: Vec::new(),
        marker: mark_pid.then(|| marker.clone()),
    };
    let mut seen = 0usize;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut kill_stage = 0u8;
    let mut waited_for_marker = false;
    let mut stage_deadline = deadline;
    while let Some(rx) = guard.rx.as_mut() {
        match tokio::time::timeout_at(stage_deadline, rx.read(&mut chunk)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                if out.remote_pid.is_none() && guard.head.len() < MARKER_WINDOW + 64 {
                    let room = MARKER_WINDOW + 64 - guard.head.len();
                    guard.head.extend_from_slice(&chunk[..n.min(room)]);
                }
                seen += n;
                out.total_bytes += n;
                let room = capture_limit.saturating_sub(out.output.len());
                out.output.extend_from_slice(&chunk[..n.min(room)]);
                if mark_pid
                    && out.remote_pid.is_none()
                    && seen <= MARKER_WINDOW + n
                    && let Some(pid) = take_marker(&mut out, &marker)
                {
                    out.remote_pid = Some(pid);
                    guard.pid = Some(pid);
                }
            }
            Ok(Err(e)) => {
                return Err(ExecError::Failed(ToolError::from_io(
                    &e,
                    "reading remote output",
                )));
            }
            Err(_) => {
                // Deadline (or a kill stage's grace) passed with output still open.
                out.timed_out = true;
                let Some(pid) = out.remote_pid else {
                    // The shell has not said its pid yet (a slow start): wait a little for it.
                    if waited_for_marker || !mark_pid {
                        break;
                    }
                    waited_for_marker = true;
                    stage_deadline = Instant::now() + KILL_GRACE;
                    continue;
                };
                if kill_stage >= 2 {
                    break;
                }
                let sig = if kill_stage == 0 { "TERM" } else { "KILL" };
                signal_remote(master, pid, sig).await;
                kill_stage += 1;
                stage_deadline = Instant::now() + KILL_GRACE;
            }
        }
    }
    // Output ended or the kill stages ran: nothing is left to stop on cancellation.
    guard.pid = None;
    guard.marker = None;
    if out.timed_out {
        // The channel is dropped (closed) without waiting for a status.
        return Ok(out);
    }
    out.exit_code = match tokio::time::timeout(STATUS_WAIT, child.wait()).await {
        Ok(Ok(status)) => status.code(),
        Ok(Err(openssh::Error::Remote(e))) if e.kind() == std::io::ErrorKind::NotFound => Some(127),
        Ok(Err(openssh::Error::RemoteProcessTerminated)) => None,
        Ok(Err(e)) => return Err(ExecError::Failed(mux_error(&e))),
        Err(_) => None,
    };
    Ok(out)
}

/// Remove the first `<marker><digits>\n` line from the output and return the pid.
fn take_marker(out: &mut RemoteOutcome, marker: &str) -> Option<u32> {
    let hay = &out.output[..out.output.len().min(MARKER_WINDOW + 64)];
    let start = find(hay, marker.as_bytes())?;
    let digits_at = start + marker.len();
    let nl = hay[digits_at..].iter().position(|b| *b == b'\n')? + digits_at;
    let pid: u32 = std::str::from_utf8(&hay[digits_at..nl])
        .ok()?
        .parse()
        .ok()?;
    out.output.drain(start..=nl);
    out.total_bytes = out.total_bytes.saturating_sub(nl + 1 - start);
    Some(pid)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Stops the remote process group when a run is dropped mid-way (a cancelled call):
/// `TERM`, then `KILL` 2 s later, on a task of its own. Cancelled before the pid line was
/// read, the task first reads the rest of it from the output pipe (for at most
/// [`KILL_GRACE`]): the command may well be running already.
struct CancelGuard {
    master: Arc<Master>,
    pid: Option<u32>,
    /// The output pipe, while the run reads it.
    rx: Option<tokio::net::unix::pipe::Receiver>,
    /// The output read before the pid line was found (at most the marker window).
    head: Vec<u8>,
    /// The pid line's marker, while the pid may still arrive.
    marker: Option<String>,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        let known = self.pid.take();
        let pending = match (known, self.marker.take(), self.rx.take()) {
            (Some(_), _, _) => None,
            (None, Some(marker), Some(rx)) => Some((marker, rx, std::mem::take(&mut self.head))),
            _ => return,
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let master = self.master.clone();
        rt.spawn(async move {
            let pid = match (known, pending) {
                (Some(pid), _) => pid,
                (None, Some((marker, rx, head))) => match late_pid(rx, head, &marker).await {
                    Some(pid) => pid,
                    None => return,
                },
                (None, None) => return,
            };
            signal_remote(&master, pid, "TERM").await;
            tokio::time::sleep(KILL_GRACE).await;
            signal_remote(&master, pid, "KILL").await;
        });
    }
}

/// Read the output of a cancelled run until its pid line (`<marker><pid>\n`) is complete,
/// within the marker window and [`KILL_GRACE`]; `None` if it never comes.
async fn late_pid(
    mut rx: tokio::net::unix::pipe::Receiver,
    head: Vec<u8>,
    marker: &str,
) -> Option<u32> {
    let mut seen = RemoteOutcome {
        output: head,
        ..RemoteOutcome::default()
    };
    let until = Instant::now() + KILL_GRACE;
    let mut chunk = vec![0u8; 4096];
    loop {
        if let Some(pid) = take_marker(&mut seen, marker) {
            return Some(pid);
        }
        if seen.output.len() > MARKER_WINDOW + 64 {
            return None;
        }
        match tokio::time::timeout_at(until, rx.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => seen.output.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

/// Send `sig` to the remote process group `pid` (and the process itself) over a new channel.
async fn signal_remote(master: &Master, pid: u32, sig: &str) {
    if pid <= 1 {
        return;
    }
    let text = format!("kill -{sig} -- -{pid} 2>/dev/null; kill -{sig} {pid} 2>/dev/null; true");
    let mut cmd = master.session().raw_command(&text);
    cmd.stdin(openssh::Stdio::null())
        .stdout(openssh::Stdio::null())
        .stderr(openssh::Stdio::null());
    if let Ok(Ok(child)) = tokio::time::timeout(KILL_GRACE, cmd.spawn()).await {
        let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
    }
}

/// A mux failure as a tool error.
pub fn mux_error(e: &openssh::Error) -> ToolError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    ToolError::new(ErrorKind::ConnectionFailed, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_removed_and_counted_out() {
        let mut o = RemoteOutcome {
            output: b"motd\nrelay-shell-ab:4242\nhello\n".to_vec(),
            total_bytes: 31,
            ..RemoteOutcome::default()
        };
        assert_eq!(take_marker(&mut o, "relay-shell-ab:"), Some(4242));
        assert_eq!(o.output, b"motd\nhello\n");
        assert_eq!(o.total_bytes, 11);
        let mut o = RemoteOutcome {
            output: b"relay-shell-ab:12".to_vec(),
            ..RemoteOutcome::default()
        };
        assert_eq!(take_marker(&mut o, "relay-shell-ab:"), None);
    }
}
