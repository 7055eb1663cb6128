//! The watchdog: a small process (this binary, re-executed with a hidden first argument) that
//! outlives a server killed with `SIGKILL` just long enough to end what that server's calls
//! and sessions were running.
//!
//! It reads its stdin, a pipe whose only write end the server holds (close-on-exec, so no
//! call inherits it). When that pipe closes — the server exited, crashed or was killed — it
//! kills the server's instance cgroup with `cgroup.kill`, waits for it to empty, removes it
//! and exits. It ignores the terminal's and the service manager's polite signals (`SIGINT`,
//! `SIGHUP`, `SIGTERM`) so that it is still there when the server they were meant for is gone.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use super::cgroup::INSTANCE_PREFIX;

/// The hidden first argument that makes the binary a watchdog.
pub const WATCHDOG_ARG: &str = "__relay-shell-process-watchdog";

/// How long the watchdog waits for a killed instance cgroup to empty before removing it.
const EMPTY_WAIT: Duration = Duration::from_secs(5);

/// Run as the watchdog when the command line asks for it (`main` calls this first);
/// `None` otherwise.
pub fn main_if_requested() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != WATCHDOG_ARG {
        return None;
    }
    let dir = args.next().map(PathBuf::from);
    Some(match dir.filter(|d| is_instance_dir(d)) {
        Some(dir) => watch(&dir),
        None => {
            eprintln!("relay-shell: watchdog: expected an instance cgroup directory");
            ExitCode::from(2)
        }
    })
}

/// Only a `relay-shell.<pid>` directory holding a `cgroup.kill` is acted on.
fn is_instance_dir(dir: &Path) -> bool {
    let named = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(INSTANCE_PREFIX))
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    named && dir.join("cgroup.kill").is_file()
}

fn watch(dir: &Path) -> ExitCode {
    // SAFETY: setting dispositions of this single-threaded process before anything else.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 64];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    super::cgroup::kill_tree(dir, EMPTY_WAIT);
    ExitCode::SUCCESS
}

/// Start the watchdog for the instance cgroup `dir`; returns the pipe's write end, which the
/// server keeps open for its whole life.
pub(super) fn spawn(dir: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::process::CommandExt;
    let (reader, writer) = io::pipe()?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg(WATCHDOG_ARG)
        .arg(OsString::from(dir.as_os_str()))
        .env_clear()
        .stdin(Stdio::from(reader))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Its own group: a terminal's ^C for the server's group does not reach it.
        .process_group(0);
    let mut child = cmd.spawn()?;
    // Reap it if it ever exits while the server runs (it should not).
    std::thread::Builder::new()
        .name("watchdog-wait".into())
        .spawn(move || {
            if let Ok(status) = child.wait() {
                tracing::warn!(%status, "the process watchdog exited");
            }
        })?;
    Ok(OwnedFd::from(writer))
}
