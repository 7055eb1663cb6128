//! The watchdog: a small process (this binary, re-executed with a hidden first argument) that
//! outlives a server killed with `SIGKILL` just long enough to end what that server's calls
//! and sessions were running.
//!
//! It reads its stdin, a pipe whose only write end the server holds (close-on-exec, so no
//! call inherits it). When that pipe closes — the server exited, crashed or was killed — it
//! ends what was left: with cgroups, it kills the server's instance cgroup with
//! `cgroup.kill`, waits for it to empty and removes it; in subreaper mode, it kills every
//! process carrying one of the server's call markers (and its descendants), except those of
//! calls the server released (completed normally: their background processes may run on),
//! which the server names on the pipe as `release <marker>` lines. Then it exits. It ignores the terminal's and the service manager's polite signals (`SIGINT`,
//! `SIGHUP`, `SIGTERM`) so that it is still there when the server they were meant for is gone.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{self, BufRead};
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
    let kind = args.next();
    let what = args.next();
    let target = match (kind.as_ref().and_then(|k| k.to_str()), what) {
        (Some("cgroup"), Some(dir)) => {
            Some(Target::Cgroup(PathBuf::from(dir))).filter(|t| match t {
                Target::Cgroup(d) => is_instance_dir(d),
                Target::Marker(_) => false,
            })
        }
        (Some("marker"), Some(pid)) => pid
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
            .filter(|p| *p > 1)
            .map(Target::Marker),
        _ => None,
    };
    Some(match target {
        Some(t) => watch(&t),
        None => {
            eprintln!("relay-shell: watchdog: expected `cgroup <instance dir>` or `marker <pid>`");
            ExitCode::from(2)
        }
    })
}

/// What the watchdog ends when the server is gone.
#[derive(Debug)]
pub(super) enum Target {
    /// The instance cgroup.
    Cgroup(PathBuf),
    /// Processes marked `RELAY_SHELL_TRACK=<this server pid>.<n>`.
    Marker(u32),
}

/// Only a `relay-shell.<pid>` directory on a cgroup v2 file system, holding a `cgroup.kill`,
/// is acted on.
fn is_instance_dir(dir: &Path) -> bool {
    let named = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(INSTANCE_PREFIX))
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    named && on_cgroup2(dir) && dir.join("cgroup.kill").is_file()
}

/// Whether `dir` is on a cgroup v2 file system (`statfs` magic `CGROUP2_SUPER_MAGIC`).
fn on_cgroup2(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path and a zeroed out-parameter of the right type.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(path.as_ptr(), &mut st) == 0 && st.f_type == libc::CGROUP2_SUPER_MAGIC
    }
}

fn watch(target: &Target) -> ExitCode {
    // SAFETY: setting dispositions of this single-threaded process before anything else.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    let mut released: HashSet<String> = HashSet::new();
    let mut stdin = io::stdin().lock();
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                if let Some(m) = line.trim_end().strip_prefix("release ")
                    && released.len() < MAX_RELEASED
                {
                    released.insert(m.to_string());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Not UTF-8: not from the server; keep watching.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => continue,
            Err(_) => break,
        }
    }
    match target {
        Target::Cgroup(dir) => super::cgroup::kill_tree(dir, EMPTY_WAIT),
        Target::Marker(pid) => kill_marked(*pid, &released),
    }
    ExitCode::SUCCESS
}

/// Most released markers remembered (a server completes at most this many calls that
/// leave something running before the oldest are forgotten; those would then be killed).
const MAX_RELEASED: usize = 1 << 20;

/// Kill every process marked by server `pid` under a marker it did not release, and their
/// descendants, in rounds until none is left (a process may fork meanwhile).
fn kill_marked(pid: u32, released: &HashSet<String>) {
    let prefix = format!("{}={pid}.", super::MARKER_VAR);
    for _ in 0..20 {
        let procs = super::scan::all();
        let roots: Vec<i32> = procs
            .iter()
            .filter(|p| p.is_live())
            .filter(|p| super::scan::marker(p.pid, &prefix).is_some_and(|m| !released.contains(&m)))
            .map(|p| p.pid)
            .collect();
        let doomed = super::scan::descendants(&procs, &roots);
        if doomed.is_empty() {
            return;
        }
        for p in doomed {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start the watchdog for `target`; returns the pipe's write end, which the server keeps
/// open for its whole life.
pub(super) fn spawn(target: &Target) -> io::Result<OwnedFd> {
    use std::os::unix::process::CommandExt;
    let (reader, writer) = io::pipe()?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg(WATCHDOG_ARG);
    match target {
        Target::Cgroup(dir) => cmd.arg("cgroup").arg(OsString::from(dir.as_os_str())),
        Target::Marker(pid) => cmd.arg("marker").arg(pid.to_string()),
    };
    cmd.env_clear()
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
