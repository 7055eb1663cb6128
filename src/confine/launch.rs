//! Starting a confined child as cheaply as `posix_spawn` does: `clone(CLONE_VM | CLONE_VFORK)`
//! on a small stack of its own, the way glibc implements `posix_spawn` itself. The child
//! shares the parent's memory until it execs, so it copies no page tables (a `fork` of the
//! server costs about a millisecond more, see `docs/performance.md`), and the calling thread
//! waits until the child has exec'd or failed. The child makes only system calls on data the
//! parent prepared ([`Launch`], [`ChildSteps`]); a failure is written to shared memory as
//! (step, errno) before `_exit(127)`, so the parent reports it precisely.
//!
//! `CLONE_PIDFD` gives the parent a descriptor for the child that becomes readable when it
//! exits (waited on by `exec/`); it needs Linux 5.2, below Landlock's 5.13.

use std::ffi::{CString, c_void};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use super::child::{ChildSteps, Step};

/// Stack of the child between clone and exec (plus one guard page below it).
const STACK_SIZE: usize = 64 * 1024;

/// Everything needed to start one program, owned by the parent until the child has exec'd.
#[derive(Debug)]
pub struct Launch {
    /// Path handed to `execve` (absolute, or relative to the child's working directory).
    pub program: CString,
    /// `argv`, including `argv[0]`.
    pub argv: Vec<CString>,
    /// The complete environment, as `NAME=value`.
    pub envp: Vec<CString>,
    /// Working directory; `None` keeps the parent's.
    pub cwd: Option<CString>,
    /// Descriptors to install as fd 0, 1 and 2 (`None` leaves that fd as inherited). They
    /// must stay open until [`launch`] returns.
    pub stdio: [Option<RawFd>; 3],
    /// Make the child the leader of a new session (and process group) with no terminal.
    pub new_session: bool,
    /// Process tracking: the call's cgroup and the death signal (`procs`).
    pub setup: crate::procs::ChildSetup,
}

/// A started child.
#[derive(Debug)]
pub struct Launched {
    /// Its process id (also its process group and session id with `new_session`).
    pub pid: i32,
    /// A pidfd for it, readable once it has exited.
    pub pidfd: OwnedFd,
}

/// Why a child did not start.
#[derive(Debug)]
pub enum LaunchError {
    /// The parent could not create the child (or its stack).
    Parent(io::Error),
    /// The child failed at `step` with `errno` and has been reaped.
    Child {
        /// The set-up step that failed.
        step: Step,
        /// Its errno.
        errno: i32,
    },
}

impl LaunchError {
    /// The failure as an `io::Error` (the step is lost; see [`LaunchError::Child`]).
    pub fn io_error(&self) -> io::Error {
        match self {
            LaunchError::Parent(e) => io::Error::new(e.kind(), e.to_string()),
            LaunchError::Child { errno, .. } => io::Error::from_raw_os_error(*errno),
        }
    }
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchError::Parent(e) => write!(f, "clone: {e}"),
            LaunchError::Child { step, errno } => {
                write!(
                    f,
                    "{}: {}",
                    step.as_str(),
                    io::Error::from_raw_os_error(*errno)
                )
            }
        }
    }
}

/// Which of its [`ChildSteps`] a child applies itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Apply {
    /// All of them (a child of an unconfined thread).
    All,
    /// Only its Landlock domain: it was started by a launcher thread that holds the rest,
    /// which it inherits (see `launcher.rs`).
    DomainOnly,
}

/// What the child reads: raw pointers into the parent's [`Launch`] and [`ChildSteps`].
struct Shared<'a> {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    stdio: [RawFd; 3],
    new_session: bool,
    setup: crate::procs::ChildSetup,
    steps: Option<&'a ChildSteps>,
    /// Which steps the child applies.
    apply: Apply,
    /// Stop after set-up and exit 0 (the start-up probe of what the kernel enforces).
    probe_only: bool,
    /// `(step << 32) | errno` of a failed child; 0 while nothing failed.
    failure: AtomicU64,
}

/// Start `launch` with `steps` applied before exec. Blocks the calling thread until the child
/// has exec'd or failed (microseconds; a `chdir` into a hung network mount takes longer).
pub fn launch(
    launch: &Launch,
    steps: Option<&ChildSteps>,
    apply: Apply,
) -> Result<Launched, LaunchError> {
    let argv = pointers(&launch.argv);
    let envp = pointers(&launch.envp);
    let shared = Shared {
        program: launch.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: launch.cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        stdio: launch.stdio.map(|fd| fd.unwrap_or(-1)),
        new_session: launch.new_session,
        setup: launch.setup,
        steps,
        apply,
        probe_only: false,
        failure: AtomicU64::new(0),
    };
    start(&shared)
}

/// Start a child that applies `steps` and exits 0 without exec'ing anything: the proof, at
/// start-up, that this kernel enforces them.
pub fn probe(steps: &ChildSteps) -> Result<(), LaunchError> {
    let shared = Shared {
        program: std::ptr::null(),
        argv: std::ptr::null(),
        envp: std::ptr::null(),
        cwd: std::ptr::null(),
        stdio: [-1; 3],
        new_session: false,
        setup: crate::procs::ChildSetup::NONE,
        steps: Some(steps),
        apply: Apply::All,
        probe_only: true,
        failure: AtomicU64::new(0),
    };
    let child = start(&shared)?;
    reap(&child.pidfd);
    Ok(())
}

/// A NULL-terminated pointer array over `strings` (valid while they live).
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// An anonymous mapping used as the child's stack, with a guard page below it.
struct Stack {
    base: *mut c_void,
    len: usize,
}

impl Stack {
    fn new() -> io::Result<Stack> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|p| *p > 0)
            .unwrap_or(4096);
        let len = STACK_SIZE + page;
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the lowest page of our own mapping becomes the guard.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The highest address (stacks grow down on the architectures we build for).
    fn top(&self) -> *mut c_void {
        // SAFETY: one past the end of our own mapping, 16-byte aligned (page aligned).
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping once the child no longer runs on it.
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

fn start(shared: &Shared<'_>) -> Result<Launched, LaunchError> {
    let stack = Stack::new().map_err(LaunchError::Parent)?;
    let mut pidfd: libc::c_int = -1;
    // Block every signal across the clone: a handler of the parent must never run in the
    // child, which shares its memory. The child resets handlers before unblocking.
    // SAFETY: sigset operations on local values; the old mask is restored below.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `child_main` runs on `stack`, which lives until the clone returns (CLONE_VFORK:
    // the parent waits until the child has exec'd or exited), and reads only `shared`, which
    // outlives the call; every signal is blocked across the clone and restored after it.
    let pid = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD,
            shared as *const Shared<'_> as *mut c_void,
            &mut pidfd as *mut libc::c_int,
        );
        let err = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if pid < 0 {
            return Err(LaunchError::Parent(err));
        }
        pid
    };
    // The child has exec'd or exited: its stack is free.
    drop(stack);
    // SAFETY: CLONE_PIDFD stored a new descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let failure = shared.failure.load(Ordering::SeqCst);
    if failure != 0 {
        reap(&pidfd);
        return Err(LaunchError::Child {
            step: Step::from_u32((failure >> 32) as u32),
            errno: failure as u32 as i32,
        });
    }
    Ok(Launched { pid, pidfd })
}

/// Reap a child that has exited (or is about to), ignoring its status.
fn reap(pidfd: &OwnedFd) {
    use std::os::fd::AsFd;
    let _ = nix::sys::wait::waitid(
        nix::sys::wait::Id::PIDFd(pidfd.as_fd()),
        nix::sys::wait::WaitPidFlag::WEXITED,
    );
}

/// The child: runs on its own stack in the parent's memory until `execve` or `_exit`.
extern "C" fn child_main(arg: *mut c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's `Shared`, alive while the parent waits for us (vfork).
    let shared = unsafe { &*(arg as *const Shared<'_>) };
    // SAFETY: system calls on our own process and the parent's prepared data.
    unsafe {
        reset_signal_handlers();
        if shared.new_session && libc::setsid() < 0 {
            fail(shared, Step::Setsid, super::landlock::errno());
        }
        if let Err(e) = shared.setup.apply() {
            fail(shared, Step::Track, e);
        }
        if let Err(e) = install_stdio(shared.stdio) {
            fail(shared, Step::Stdio, e);
        }
        if !shared.cwd.is_null() && libc::chdir(shared.cwd) < 0 {
            fail(shared, Step::Chdir, super::landlock::errno());
        }
        if let Some(steps) = shared.steps
            && let Err((step, e)) = match shared.apply {
                Apply::All => steps.apply(),
                Apply::DomainOnly => steps.apply_domain(),
            }
        {
            fail(shared, step, e);
        }
        if shared.probe_only {
            libc::_exit(0);
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execve(shared.program, shared.argv, shared.envp);
        fail(shared, Step::Exec, super::landlock::errno());
    }
}

/// Record the failed step for the parent and leave without running anything of its.
fn fail(shared: &Shared<'_>, step: Step, errno: i32) -> ! {
    shared.failure.store(
        ((step as u64) << 32) | u64::from(errno as u32),
        Ordering::SeqCst,
    );
    // SAFETY: `_exit` runs no handler and no destructor.
    unsafe { libc::_exit(127) }
}

/// Give every caught signal its default action (a parent's handler must not run here), and
/// `SIGPIPE` too (Rust programs ignore it; their children should not), as std does.
unsafe fn reset_signal_handlers() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: querying and setting our own (unshared) dispositions.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut current) != 0 {
                continue;
            }
            let handler = current.sa_sigaction;
            if sig == libc::SIGPIPE || (handler != libc::SIG_DFL && handler != libc::SIG_IGN) {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &default, std::ptr::null_mut());
            }
        }
    }
}

/// Install `fds` as 0, 1, 2. A source that is itself one of 0..2 (but not its own target) is
/// first moved out of the way so no `dup2` clobbers a source still needed.
unsafe fn install_stdio(fds: [RawFd; 3]) -> Result<(), i32> {
    let mut src = fds;
    for (target, fd) in src.iter_mut().enumerate() {
        if *fd >= 0 && *fd < 3 && *fd != target as RawFd {
            // SAFETY: duplicating a descriptor of ours.
            let moved = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 3) };
            if moved < 0 {
                return Err(super::landlock::errno());
            }
            *fd = moved;
        }
    }
    for (target, fd) in src.iter().enumerate() {
        let target = target as RawFd;
        if *fd < 0 {
            continue;
        }
        // SAFETY: descriptor operations on our own table.
        let r = unsafe {
            if *fd == target {
                libc::fcntl(target, libc::F_SETFD, 0)
            } else {
                libc::dup2(*fd, target)
            }
        };
        if r < 0 {
            return Err(super::landlock::errno());
        }
    }
    Ok(())
}

/// Find `name` the way `execvp` would, in `path` (the child's `PATH`), relative entries taken
/// from `cwd` (the child's working directory). A name with a `/` is used as it is. Done in
/// the parent so the child never searches (`execvp` may allocate).
pub fn resolve_program(
    name: &str,
    path: Option<&std::ffi::OsStr>,
    cwd: Option<&std::path::Path>,
) -> io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    if name.is_empty() {
        return Err(io::Error::from(io::ErrorKind::NotFound));
    }
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let path = path.unwrap_or(std::ffi::OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    let mut denied = false;
    for dir in path.as_bytes().split(|b| *b == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(std::ffi::OsStr::from_bytes(dir))
        };
        let candidate = dir.join(name);
        let on_disk = match cwd {
            Some(base) if candidate.is_relative() => base.join(&candidate),
            _ => candidate.clone(),
        };
        match std::fs::metadata(&on_disk) {
            Ok(meta) if meta.is_file() => {
                if nix::unistd::access(&on_disk, nix::unistd::AccessFlags::X_OK).is_ok() {
                    return Ok(candidate);
                }
                denied = true;
            }
            _ => {}
        }
    }
    Err(io::Error::from(if denied {
        io::ErrorKind::PermissionDenied
    } else {
        io::ErrorKind::NotFound
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_like_execvp_finds_them() {
        let found = resolve_program(
            "sh",
            Some("/nonexistent::/bin".as_ref()),
            Some("/".as_ref()),
        )
        .expect("sh in /bin"); // ok: test
        assert_eq!(found, std::path::PathBuf::from("/bin/sh"));
        assert_eq!(
            resolve_program("./x", None, None).expect("as given"), // ok: test
            std::path::PathBuf::from("./x")
        );
        let e = resolve_program("no-such-program-xyz", Some("/bin".as_ref()), None)
            .expect_err("missing"); // ok: test
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
