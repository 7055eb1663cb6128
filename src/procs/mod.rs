//! Process tracking: every process a call or a session starts — however it detaches (`setsid`,
//! a double fork, `nohup … &`, `disown`) — is found and ended with its call, and nothing a
//! call was running survives the server.
//!
//! Architecture invariant: knows processes, not calls' meaning; never audits.
//!
//! Two mechanisms, chosen once at start ([`init`], `RELAY_SHELL_PROCESS_TRACKING`; ADR 0022):
//!
//! - **cgroup** (cgroup v2, the server may create cgroups: root, or a delegated subtree):
//!   each call and session gets its own cgroup under the server's instance cgroup; the child
//!   moves itself in before exec, so every descendant is in it whatever it does; the call is
//!   ended with `cgroup.kill`, and a [`watchdog`] kills the instance cgroup when the server
//!   dies, even by `SIGKILL`.
//! - **subreaper** (elsewhere): the server is a child subreaper (`PR_SET_CHILD_SUBREAPER`), so
//!   orphans of a call become its children instead of init's. A call's processes are its
//!   child's descendants, its process group and session, and every process whose initial
//!   environment carries the call's marker (`RELAY_SHELL_TRACK=<server pid>.<n>`), which a
//!   process that detaches still inherits.
//!
//! In both, a direct child dies with the server (`PR_SET_PDEATHSIG(SIGKILL)`, set in the
//! child before exec, which does not start if the server died first; every spawning thread
//! lives as long as the server: runtime workers and the confinement launchers), and
//! processes the server adopts are reaped (`reap.rs`).
//! Without [`init`] (the library used on its own) only the process group is tracked.

mod cgroup;
mod reap;
mod scan;
pub mod watchdog;

use std::ffi::OsString;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The environment variable that marks a call's processes in subreaper mode.
pub const MARKER_VAR: &str = "RELAY_SHELL_TRACK";

/// Most processes listed as left running by one call.
pub const LEFT_RUNNING_MAX: usize = 16;

/// How long ending a call waits for its processes to disappear after `SIGKILL` (only a
/// process in uninterruptible sleep takes this long).
const KILL_WAIT: Duration = Duration::from_secs(3);

/// Which mechanism tracks processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// A cgroup v2 per call and session, `cgroup.kill`, and a watchdog.
    Cgroup,
    /// A child subreaper with ancestry and environment markers.
    Subreaper,
    /// The process group only ([`init`] was not called).
    ProcessGroup,
}

impl Mechanism {
    /// As `server_info` shows it: `cgroup`, `subreaper` or `process-group`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Cgroup => "cgroup",
            Mechanism::Subreaper => "subreaper",
            Mechanism::ProcessGroup => "process-group",
        }
    }
}

/// The mechanism in force and what it needs.
#[derive(Debug)]
struct Tracking {
    mechanism: Mechanism,
    instance: Option<cgroup::Instance>,
    /// The watchdog's pipe: held open for the server's life; released markers are
    /// written to it in subreaper mode.
    watchdog: Option<std::sync::Mutex<std::fs::File>>,
    /// Why cgroups are not used, when they are not.
    fallback_reason: Option<String>,
}

static TRACKING: OnceLock<Tracking> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Call cgroups that were still populated when their call ended (a process in
/// uninterruptible sleep): removal is retried whenever a call starts.
static PENDING: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Cgroup mode: calls and sessions whose `Tracked` was dropped (number and direct child),
/// newest last, at most [`ENDED_ROOTS`]. A zombie in one of their cgroups is an orphan of an
/// ended call, except the direct child itself, which the runtime waits for. (Asking "which
/// calls are still live" instead would race: a call that starts during the scan is not in
/// an earlier snapshot, and its quickly exited child would be taken from the runtime.)
static ENDED_CALLS: std::sync::Mutex<std::collections::VecDeque<(u64, Option<i32>)>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

/// Subreaper mode: the direct children (group and session ids) of ended calls, newest last,
/// at most [`ENDED_ROOTS`]; a zombie in one of their groups or sessions is an orphan of it.
static ENDED: std::sync::Mutex<std::collections::VecDeque<i32>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

/// How many ended calls are remembered (their roots in subreaper mode, their numbers in
/// cgroup mode).
const ENDED_ROOTS: usize = 1024;

/// Reap zombie children of the server that belong to calls that have ended: in cgroup mode,
/// those whose cgroup is an ended call's; in subreaper mode, those in an ended call's group
/// or session (and in no live call's).
fn reap_ended_orphans() {
    let Some(t) = TRACKING.get() else { return };
    match &t.instance {
        Some(instance) => {
            let ended = ENDED_CALLS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            reap::reap_orphans(&|p| {
                let Some(path) = cgroup::path_of(p.pid) else {
                    return false;
                };
                let Some(call) = path
                    .strip_prefix(instance.rel.as_str())
                    .and_then(|c| c.strip_prefix('c'))
                    .and_then(|n| n.parse::<u64>().ok())
                else {
                    return false;
                };
                ended
                    .iter()
                    .any(|(n, root)| *n == call && *root != Some(p.pid))
            })
        }
        None => {
            let ended = ENDED.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let roots = LIVE_ROOTS.lock().unwrap_or_else(|p| p.into_inner()).clone();
            reap::reap_orphans(&|p| {
                let of_ended = ended.contains(&p.pgrp) || ended.contains(&p.session);
                let of_live =
                    roots.contains(&p.pgrp) || roots.contains(&p.session) || roots.contains(&p.pid);
                of_ended && !of_live
            });
        }
    }
}

/// Subreaper mode: the direct children of live calls.
static LIVE_ROOTS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

fn retry_pending() {
    let mut list = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    list.retain(|dir| dir.exists() && std::fs::remove_dir(dir).is_err());
}

/// Choose and set up the mechanism: `auto` uses cgroups where they work and the subreaper
/// elsewhere; `subreaper` forces the latter. Call once, inside the runtime, before serving.
pub fn init(choice: &str) -> Mechanism {
    let tracking = TRACKING.get_or_init(|| setup(choice));
    // SAFETY: prctl on our own process with constant arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot become a child subreaper");
    }
    reap::start_reaper();
    match &tracking.fallback_reason {
        Some(why) => {
            tracing::info!(mechanism = tracking.mechanism.as_str(), reason = %why, "process tracking")
        }
        None => tracing::info!(mechanism = tracking.mechanism.as_str(), "process tracking"),
    }
    tracking.mechanism
}

fn setup(choice: &str) -> Tracking {
    let subreaper = |why: String| Tracking {
        mechanism: Mechanism::Subreaper,
        instance: None,
        watchdog: match watchdog::spawn(&watchdog::Target::Marker(std::process::id())) {
            Ok(pipe) => Some(std::sync::Mutex::new(std::fs::File::from(pipe))),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the process watchdog: a killed server leaves its calls' detached processes running");
                None
            }
        },
        fallback_reason: Some(why),
    };
    if choice == "subreaper" {
        return subreaper("RELAY_SHELL_PROCESS_TRACKING=subreaper".into());
    }
    let Some(home) = cgroup::own_dir() else {
        return subreaper("no cgroup v2 hierarchy".into());
    };
    let instance = match cgroup::Instance::create(&home) {
        Ok(i) => i,
        Err(e) => return subreaper(format!("cannot use cgroups under {}: {e}", home.display())),
    };
    match watchdog::spawn(&watchdog::Target::Cgroup(instance.dir.clone())) {
        Ok(pipe) => Tracking {
            mechanism: Mechanism::Cgroup,
            instance: Some(instance),
            watchdog: Some(std::sync::Mutex::new(std::fs::File::from(pipe))),
            fallback_reason: None,
        },
        Err(e) => {
            let _ = std::fs::remove_dir(&instance.dir);
            subreaper(format!("cannot start the process watchdog: {e}"))
        }
    }
}

/// The mechanism in force (`process-group` before [`init`]).
pub fn mechanism() -> Mechanism {
    TRACKING
        .get()
        .map_or(Mechanism::ProcessGroup, |t| t.mechanism)
}

/// What a child does to itself between fork and exec: move into its call's cgroup and ask
/// to die with the server. Plain data, so a pre-exec hook can carry it.
#[derive(Clone, Copy, Debug)]
pub struct ChildSetup {
    /// The call cgroup's `cgroup.procs`, open for writing; `-1` for none.
    procs_fd: RawFd,
    /// The server's pid, for `PR_SET_PDEATHSIG`; `0` to skip it.
    parent: i32,
}

impl ChildSetup {
    /// Nothing to do.
    pub const NONE: ChildSetup = ChildSetup {
        procs_fd: -1,
        parent: 0,
    };

    /// Whether there is nothing to do (the library used without [`init`]).
    pub fn is_noop(&self) -> bool {
        self.procs_fd < 0 && self.parent <= 0
    }

    /// Apply in the child, before exec. Async-signal-safe: system calls only, no allocation.
    /// Fails with the errno of a refused cgroup move, or `ESRCH` when the server died
    /// before the death signal was armed.
    pub fn apply(&self) -> Result<(), i32> {
        // SAFETY: write(2) of a static byte to a descriptor the parent opened.
        unsafe {
            if self.procs_fd >= 0 && libc::write(self.procs_fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO));
            }
        }
        if self.parent > 0 {
            die_with_parent(self.parent, libc::SIGKILL)?;
        }
        Ok(())
    }
}

/// Ask, from a forked child before exec, for `signal` when `parent` (the server) dies.
/// Async-signal-safe: two system calls. Fails with `ESRCH` when the parent died before the
/// request was made — the kernel then sends nothing, so the child must not go on. Under load
/// a child may first run long after its fork, and a server killed in between would
/// otherwise leave it running for good.
pub fn die_with_parent(parent: i32, signal: i32) -> Result<(), i32> {
    // SAFETY: prctl and getppid on our own process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0);
        if libc::getppid() != parent {
            return Err(libc::ESRCH);
        }
    }
    Ok(())
}

/// A process a normally completed call left running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftRunning {
    /// Its pid.
    pub pid: i32,
    /// Its command line, arguments joined by spaces (at most 512 bytes).
    pub cmdline: String,
}

/// What one call or session left running, bounded: at most [`LEFT_RUNNING_MAX`] processes
/// (lowest pids first, i.e. usually the oldest) and how many more there were.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// The processes listed.
    pub listed: Vec<LeftRunning>,
    /// How many were not listed.
    pub more: usize,
}

impl Leftovers {
    fn of(mut pids: Vec<i32>) -> Leftovers {
        pids.sort_unstable();
        pids.dedup();
        let more = pids.len().saturating_sub(LEFT_RUNNING_MAX);
        let listed = pids
            .into_iter()
            .take(LEFT_RUNNING_MAX)
            .map(|pid| LeftRunning {
                pid,
                cmdline: scan::cmdline(pid),
            })
            .collect();
        Leftovers { listed, more }
    }

    /// Nothing was left running.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.more == 0
    }
}

/// The processes of one call or session. Dropped while armed (a cancelled call, a session
/// forgotten without closing), it kills them all.
#[derive(Debug)]
pub struct Tracked {
    how: How,
    /// Its number (`c<n>`, `<pid>.<n>`).
    n: u64,
    /// The direct child, once started.
    root: Option<i32>,
    armed: bool,
}

#[derive(Debug)]
enum How {
    Cgroup(cgroup::CallGroup),
    Marker(String),
    Group,
}

impl Tracked {
    /// Prepare tracking for a call about to start a process. Fails only when a cgroup cannot
    /// be created (the call must then not run: nothing may run untracked).
    pub fn start() -> std::io::Result<Tracked> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        retry_pending();
        let how = match TRACKING.get() {
            Some(Tracking {
                instance: Some(instance),
                ..
            }) => How::Cgroup(cgroup::CallGroup::create(instance, &format!("c{n}"))?),
            Some(t) if t.mechanism == Mechanism::Subreaper => {
                How::Marker(format!("{}.{n}", std::process::id()))
            }
            _ => How::Group,
        };
        Ok(Tracked {
            how,
            n,
            root: None,
            armed: true,
        })
    }

    /// What the child must do before exec.
    pub fn child_setup(&self) -> ChildSetup {
        let parent = if TRACKING.get().is_some() {
            std::process::id() as i32
        } else {
            0
        };
        match &self.how {
            How::Cgroup(g) => ChildSetup {
                procs_fd: g.procs.as_raw_fd(),
                parent,
            },
            _ => ChildSetup {
                procs_fd: -1,
                parent,
            },
        }
    }

    /// The marker variable to add to the child's environment, in subreaper mode.
    pub fn marker_env(&self) -> Option<(OsString, OsString)> {
        match &self.how {
            How::Marker(m) => Some((MARKER_VAR.into(), m.into())),
            _ => None,
        }
    }

    /// The direct child has started as `pid`.
    pub fn attach(&mut self, pid: i32) {
        self.root = Some(pid);
        if matches!(self.how, How::Marker(_)) {
            LIVE_ROOTS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(pid);
            ENDED
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|r| *r != pid);
        }
    }

    /// The live processes of the call now (the direct child included while it runs).
    pub fn members(&self) -> Vec<i32> {
        match &self.how {
            How::Cgroup(g) => g
                .pids()
                .into_iter()
                .filter(|p| scan::stat(*p).is_some_and(|s| s.is_live()))
                .collect(),
            How::Marker(m) => self.marked(m),
            How::Group => Vec::new(),
        }
    }

    fn marked(&self, marker: &str) -> Vec<i32> {
        let procs = scan::all();
        let entry = format!("{MARKER_VAR}={marker}");
        let mut roots: Vec<i32> = self.root.into_iter().collect();
        for p in &procs {
            let in_group = self.root.is_some_and(|r| p.pgrp == r || p.session == r);
            if p.is_live() && (in_group || scan::has_marker(p, entry.as_bytes())) {
                roots.push(p.pid);
            }
        }
        scan::descendants(&procs, &roots)
            .into_iter()
            .map(|p| p.pid)
            .collect()
    }

    /// Send `sig` to every process of the call (each remembered for reaping: it may die of
    /// it as an orphan of the server).
    pub fn signal(&self, sig: Signal) {
        for pid in self.members() {
            if Some(pid) != self.root {
                reap::adopt(pid);
            }
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    /// Whether a process of the call still runs.
    pub fn alive(&self) -> bool {
        match &self.how {
            How::Cgroup(g) => g.populated() && !self.members().is_empty(),
            How::Marker(_) => !self.members().is_empty(),
            How::Group => false,
        }
    }

    /// `SIGKILL` every process of the call, wait until none runs, remember them for reaping
    /// and remove the cgroup.
    pub async fn kill(&mut self) {
        self.armed = false;
        let deadline = tokio::time::Instant::now() + KILL_WAIT;
        loop {
            let pids = self.kill_now();
            if pids.is_empty() && !self.alive() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(?pids, "processes of a call survived SIGKILL");
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        reap::reap_adopted();
        self.remove();
    }

    /// One round of killing; returns the pids it saw (adopted for reaping).
    fn kill_now(&self) -> Vec<i32> {
        let pids = self.members();
        for pid in &pids {
            if Some(*pid) != self.root {
                reap::adopt(*pid);
            }
        }
        match &self.how {
            How::Cgroup(g) => g.kill(),
            _ => {
                for pid in &pids {
                    let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                }
            }
        }
        pids
    }

    /// The call completed normally: list what it left running, and hold it until the
    /// returned [`Hold`] is dropped, which lets it run on (out of the call's cgroup, its
    /// marker released to the watchdog). The gate drops the hold after the call's completion
    /// record is written: a server killed in between leaves no process running that no
    /// record names, because the watchdog still ends a call that was never let go. `None`
    /// when nothing was left running (the cgroup is removed at once).
    pub fn release(mut self) -> (Leftovers, Option<Hold>) {
        let pids: Vec<i32> = self
            .members()
            .into_iter()
            .filter(|p| Some(*p) != self.root)
            .collect();
        let left = Leftovers::of(pids.clone());
        if pids.is_empty() {
            self.let_go(false);
            return (left, None);
        }
        for pid in pids {
            reap::adopt(pid);
        }
        (left, Some(Hold(Some(self))))
    }

    /// Lets the call's processes run on: moves them out of its cgroup, or tells the
    /// watchdog their marker is released, and removes the cgroup.
    fn let_go(&mut self, left_any: bool) {
        self.armed = false;
        if let (How::Cgroup(g), Some(t)) = (&self.how, TRACKING.get())
            && let Some(i) = &t.instance
            && !g.release_to(&i.home)
        {
            tracing::warn!(dir = %g.dir.display(), "processes kept forking while released");
        }
        if let (How::Marker(m), Some(t)) = (&self.how, TRACKING.get())
            && left_any
            && let Some(w) = &t.watchdog
        {
            use std::io::Write;
            let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = w.write_all(format!("release {m}\n").as_bytes()) {
                tracing::warn!(error = %e, "cannot tell the watchdog about a released call");
            }
        }
        self.remove();
    }

    fn remove(&self) {
        if let How::Cgroup(g) = &self.how
            && let Err(e) = g.remove()
        {
            // Still populated (a process still dying): retried when the next call starts,
            // and the watchdog removes it with the instance when the server exits.
            tracing::debug!(dir = %g.dir.display(), error = %e, "call cgroup not removed yet");
            let mut list = PENDING.lock().unwrap_or_else(|p| p.into_inner());
            if list.len() < 1024 {
                list.push(g.dir.clone());
            }
        }
    }
}

/// The processes a completed call left running, held in its cgroup (or under its unreleased
/// marker) until this is dropped; see [`Tracked::release`].
#[derive(Debug)]
pub struct Hold(Option<Tracked>);

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(mut t) = self.0.take() {
            t.let_go(true);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.armed {
            self.kill_now();
            reap::reap_adopted();
            self.remove();
        }
        if let How::Cgroup(_) = &self.how {
            let mut ended = ENDED_CALLS.lock().unwrap_or_else(|p| p.into_inner());
            if ended.len() >= ENDED_ROOTS {
                ended.pop_front();
            }
            ended.push_back((self.n, self.root));
        }
        if let (How::Marker(_), Some(root)) = (&self.how, self.root) {
            LIVE_ROOTS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|r| *r != root);
            let mut ended = ENDED.lock().unwrap_or_else(|p| p.into_inner());
            if ended.len() >= ENDED_ROOTS {
                ended.pop_front();
            }
            ended.push_back(root);
        }
        // Its orphans that died unseen are reaped now that it has ended.
        reap_ended_orphans();
    }
}

/// Processes adopted for reaping and not yet reaped (for `server_info` and tests).
pub fn adopted() -> usize {
    reap::adopted_count()
}
