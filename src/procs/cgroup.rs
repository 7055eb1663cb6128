//! cgroup v2: one cgroup per call and per session under an instance cgroup of the server's
//! own, ended with `cgroup.kill` (Linux 5.14) and removed afterwards.
//!
//! Layout: `<the server's cgroup>/relay-shell.<server pid>/c<n>`. The server stays in its own
//! cgroup (a cgroup that holds processes may not enable controllers for its children, so none
//! are enabled: only the core files `cgroup.procs`, `cgroup.kill` and `cgroup.events` are
//! used). What a normally completed call left running moves back to the server's cgroup.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Prefix of an instance cgroup's name; the server's pid follows.
pub(super) const INSTANCE_PREFIX: &str = "relay-shell.";

/// `pid`'s cgroup v2 path as `/proc/<pid>/cgroup` shows it (`/a/b`); a zombie's too.
pub(super) fn path_of(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_end_matches(" (deleted)").to_string())
}

/// The server's cgroup v2 directory: the `cgroup2` mount from `/proc/self/mountinfo` joined
/// with the `0::` line of `/proc/self/cgroup`. `None` without a unified hierarchy.
pub(super) fn own_dir() -> Option<PathBuf> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        // Field 4 is the root of the mount within the hierarchy, field 5 the mount point.
        let mut f = left.split_whitespace().skip(3);
        let root = f.next()?;
        let point = f.next()?;
        Some((root.to_string(), unescape(point)))
    })?;
    let (root, point) = mount;
    let inside = rel.strip_prefix(root.as_str()).unwrap_or(rel);
    let dir = Path::new(&point).join(inside.trim_start_matches('/'));
    dir.is_dir().then_some(dir)
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The server's instance cgroup.
#[derive(Debug)]
pub(super) struct Instance {
    /// `<home>/relay-shell.<pid>`.
    pub dir: PathBuf,
    /// The server's own cgroup, where released processes go.
    pub home: PathBuf,
    /// The instance's path as `/proc/<pid>/cgroup` shows it, with a trailing `/`.
    pub rel: String,
}

impl Instance {
    /// Create the instance cgroup under `home` after removing those of dead servers, and
    /// prove that a child can be placed in a call cgroup and that `cgroup.kill` exists.
    pub(super) fn create(home: &Path) -> io::Result<Instance> {
        sweep_dead(home);
        let dir = home.join(format!("{INSTANCE_PREFIX}{}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let own = path_of(std::process::id() as i32).unwrap_or_default();
        let rel = format!(
            "{}/{INSTANCE_PREFIX}{}/",
            own.trim_end_matches('/'),
            std::process::id()
        );
        let instance = Instance {
            dir,
            home: home.to_path_buf(),
            rel,
        };
        if let Err(e) = instance.probe() {
            let _ = std::fs::remove_dir(&instance.dir);
            return Err(e);
        }
        Ok(instance)
    }

    /// Place a short-lived `/bin/sh -c :` in a call cgroup exactly as calls are placed, and
    /// remove that cgroup again.
    fn probe(&self) -> io::Result<()> {
        use std::os::unix::process::CommandExt;
        let group = CallGroup::create(self, "probe")?;
        if !group.dir.join("cgroup.kill").exists() {
            let _ = group.remove();
            return Err(io::Error::other(
                "no cgroup.kill (Linux 5.14 or later needed)",
            ));
        }
        let setup = super::ChildSetup {
            procs_fd: std::os::fd::AsRawFd::as_raw_fd(&group.procs),
            parent: 0,
        };
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", ":"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: the hook only writes to a descriptor prepared here (`ChildSetup::apply`).
        unsafe {
            cmd.pre_exec(move || setup.apply().map_err(io::Error::from_raw_os_error));
        }
        let status = cmd.status();
        let removed = group.remove();
        match status {
            Ok(s) if s.success() => removed,
            Ok(s) => Err(io::Error::other(format!("probe child: {s}"))),
            Err(e) => Err(e),
        }
    }
}

/// Remove the instance cgroups of servers that are gone (killed before their watchdog could
/// clean up, or a watchdog that was itself killed): everything in them is killed first.
fn sweep_dead(home: &Path) {
    let Ok(entries) = std::fs::read_dir(home) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(INSTANCE_PREFIX))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid as u32 == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        tracing::info!(dir = %e.path().display(), "removing the process cgroup of a server that is gone");
        kill_tree(&e.path(), Duration::from_secs(2));
    }
}

/// Kill everything in the cgroup tree at `dir`, wait (up to `bound`) until it is empty, and
/// remove its child cgroups and itself. Used by the watchdog and the start-up sweep.
pub(crate) fn kill_tree(dir: &Path, bound: Duration) {
    let _ = write_file(&dir.join("cgroup.kill"), b"1");
    wait_unpopulated_blocking(dir, bound);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let _ = std::fs::remove_dir(e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

fn wait_unpopulated_blocking(dir: &Path, bound: Duration) -> bool {
    let until = Instant::now() + bound;
    loop {
        if !populated(dir) {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a process still lives in the tree at `dir` (`populated 1` in `cgroup.events`); a
/// cgroup that cannot be read counts as empty.
pub(super) fn populated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .map(|e| e.lines().any(|l| l.trim() == "populated 1"))
        .unwrap_or(false)
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    OpenOptions::new().write(true).open(path)?.write_all(bytes)
}

/// The cgroup of one call or session.
#[derive(Debug)]
pub(super) struct CallGroup {
    /// Its directory.
    pub dir: PathBuf,
    /// `cgroup.procs`, open for writing: a child writes `0` to it before exec to move itself
    /// in (the descriptor's opener's credentials are what the kernel checks).
    pub procs: OwnedFd,
}

impl CallGroup {
    /// Create `<instance>/<name>`.
    pub(super) fn create(instance: &Instance, name: &str) -> io::Result<CallGroup> {
        let dir = instance.dir.join(name);
        std::fs::create_dir(&dir)?;
        let procs = match OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
        {
            Ok(f) => OwnedFd::from(f),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(e);
            }
        };
        Ok(CallGroup { dir, procs })
    }

    /// The pids in the cgroup now.
    pub(super) fn pids(&self) -> Vec<i32> {
        let mut text = String::new();
        let _ =
            File::open(self.dir.join("cgroup.procs")).and_then(|mut f| f.read_to_string(&mut text));
        text.lines().filter_map(|l| l.trim().parse().ok()).collect()
    }

    /// Whether anything still runs in it.
    pub(super) fn populated(&self) -> bool {
        populated(&self.dir)
    }

    /// `SIGKILL` everything in it, atomically with respect to forks.
    pub(super) fn kill(&self) {
        if let Err(e) = write_file(&self.dir.join("cgroup.kill"), b"1") {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cgroup.kill failed");
        }
    }

    /// Move every process in it to `home` (repeatedly, as processes may fork meanwhile).
    /// Returns whether it is empty afterwards.
    pub(super) fn release_to(&self, home: &Path) -> bool {
        let target = home.join("cgroup.procs");
        for _ in 0..64 {
            let pids = self.pids();
            if pids.is_empty() {
                return true;
            }
            for pid in pids {
                // One pid per write: the kernel takes one per write(2).
                let _ = write_file(&target, pid.to_string().as_bytes());
            }
        }
        self.pids().is_empty()
    }

    /// Remove the (empty) cgroup.
    pub(super) fn remove(&self) -> io::Result<()> {
        std::fs::remove_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape("/sys/fs/cgroup"), "/sys/fs/cgroup");
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/a\\04"), "/a\\04");
    }
}
