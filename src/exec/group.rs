//! The child's process group: signalling it, telling whether anything in it still runs, and a
//! guard that kills it if the run is abandoned.
//!
//! The child is spawned as a session leader (`setsid`), so the group id is the child's pid. That id
//! cannot be reused while the child is unreaped (a zombie still holds it), which is why every
//! signal to the group is sent before the child is reaped.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How often the group is polled while waiting for it to die.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A process group started by [`super::run`]; kills the whole group with `SIGKILL` when dropped
/// while armed (a cancelled run, or an error after spawn).
#[derive(Debug)]
pub(super) struct ProcessGroup {
    /// The group id (the child's pid).
    pgid: Pid,
    /// Whether dropping the guard must kill the group.
    armed: bool,
}

impl ProcessGroup {
    /// Guard the group led by `pid`.
    pub(super) fn new(pid: u32) -> Option<Self> {
        let raw = i32::try_from(pid).ok().filter(|p| *p > 0)?;
        Some(Self {
            pgid: Pid::from_raw(raw),
            armed: true,
        })
    }

    /// The group id.
    pub(super) fn id(&self) -> i32 {
        self.pgid.as_raw()
    }

    /// Send `signal` to every process in the group. A group that no longer exists is fine.
    pub(super) fn signal(&self, signal: Signal) {
        match killpg(self.pgid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => {
                tracing::warn!(pgid = self.id(), %signal, error = %e, "signalling process group failed")
            }
        }
    }

    /// Wait until no live (non-zombie) process remains in the group, polling for at most
    /// `bound`. Returns whether the group is empty.
    pub(super) async fn wait_empty(&self, bound: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            if !group_alive(self.id()) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The run finished and the group no longer needs killing on drop.
    pub(super) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.armed {
            self.signal(Signal::SIGKILL);
        }
    }
}

/// Whether any process that is not a zombie belongs to process group `pgid`.
///
/// Reads `/proc/<pid>/stat` (state is field 3, the group field 5). Zombies are skipped: they
/// run nothing and wait only for their parent (possibly an init that never reaps). Without a
/// readable `/proc`, falls back to asking the kernel whether the group exists at all.
pub fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return killpg(Pid::from_raw(pgid), None).is_ok();
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue; // exited meanwhile
        };
        if let Some((state, group)) = parse_stat(&stat)
            && group == pgid
            && state != 'Z'
            && state != 'X'
        {
            return true;
        }
    }
    false
}

/// State and process group from one `/proc/<pid>/stat` line. The command name (field 2) is in
/// parentheses and may itself contain spaces and parentheses, so fields are counted after the
/// last `)`.
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let group = fields.next()?.parse().ok()?;
    Some((state, group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line = "1234 (a) b (c)) S 1 5678 5678 0 -1 4194560 0 0";
        assert_eq!(parse_stat(line), Some(('S', 5678)));
        assert_eq!(parse_stat("1 (init) Z 0 1 1"), Some(('Z', 1)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_group_is_alive() {
        let own = nix::unistd::getpgrp().as_raw();
        assert!(group_alive(own));
    }
}
