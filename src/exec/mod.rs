//! One-shot local processes: process groups, bounded concurrent drain, deadlines, and the
//! child environment.
//!
//! Architecture invariant: runs things and returns outcomes; never writes audit records and
//! knows nothing about MCP.
//!
//! [`run`] spawns the child as the leader of a new session and process group, with a cleared
//! environment ([`child_env`]), feeds its stdin and drains its output concurrently under one byte budget
//! (see `drain.rs`), and waits until both output pipes reach end of file *and* the child has
//! exited. If that has not happened by the deadline, the whole group gets `SIGTERM`, then
//! `SIGKILL` after [`TERM_GRACE`] if anything in it still runs, and the child is reaped before
//! `run` returns. A background process that keeps the output pipes open therefore keeps the run
//! going until the deadline, and is then killed with the group; one that closed or redirected
//! them is left alone when the command finishes normally. If the `run` future is dropped, a
//! guard kills the group with `SIGKILL` and the child is reaped by the runtime.

mod child;
mod drain;
mod env;
mod group;
mod words;

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::net::unix::pipe::Receiver;
use tokio::time::Instant;

use crate::confine::launch::{self, Launch, LaunchError};
use crate::confine::{Confinement, Confiner, Prepared, Step};
use crate::error::{ErrorKind, ToolError};
use crate::procs::{ChildSetup, Leftovers, Tracked};
use child::{Child, ConfinedChild};
use drain::{Capture, StdinWriter, drain, feed_stdin};
use group::ProcessGroup;

pub use env::{
    DEFAULT_LANG, DEFAULT_PATH, SERVER_ONLY_VARIABLES, child_env, child_env_from, parse_env_json,
    validate_overlay,
};
pub use group::group_alive;
pub use words::split_words;

/// The shell that runs [`Program::Shell`] text.
pub const SHELL: &str = "/bin/sh";

/// How long the group gets to exit after `SIGTERM` before it is sent `SIGKILL`.
pub const TERM_GRACE: Duration = Duration::from_millis(500);

/// How long to wait for the group to disappear after `SIGKILL` (only processes stuck in
/// uninterruptible sleep take this long), and separately for the child to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(3);

/// What to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// `/bin/sh -c <text>`.
    Shell(String),
    /// Exec `argv[0]` directly with these arguments (no shell).
    Argv(Vec<String>),
}

/// One environment change requested by the caller: `Some` sets, `None` removes.
pub type EnvOverlay = Vec<(String, Option<String>)>;

/// A fully validated request to run one process to completion.
#[derive(Clone, Debug)]
pub struct ExecRequest {
    /// The program and its arguments.
    pub program: Program,
    /// Working directory; `None` inherits the server's.
    pub cwd: Option<PathBuf>,
    /// Bytes fed to stdin concurrently with reading output; `None` = empty stdin.
    pub stdin: Option<Vec<u8>>,
    /// Caller's environment overlay, applied after the base environment (docs/tools.md).
    pub env: EnvOverlay,
    /// Wall-clock limit; at the deadline the whole process group is killed.
    pub timeout: Duration,
    /// Most bytes kept in memory across stdout and stderr together (`MAX_OUTPUT_HARD`).
    pub capture_limit: usize,
    /// `true`: stdout and stderr interleaved in arrival order; `false`: stdout then stderr.
    pub merge_stderr: bool,
    /// The kernel profile the child runs under (`None`: unconfined; started the same
    /// cheap way, `clone(CLONE_VM | CLONE_VFORK)`, with no steps).
    pub confinement: Option<Confinement>,
}

/// How a process run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutcome {
    /// Captured output (at most `capture_limit` bytes), raw bytes as the child wrote them.
    pub output: Vec<u8>,
    /// Every byte the child wrote to stdout and stderr, kept or not.
    pub total_bytes: u64,
    /// Exit status; negative N when killed by signal N; `None` when timed out.
    pub exit_code: Option<i32>,
    /// Whether the deadline fired (the group was killed).
    pub timed_out: bool,
    /// What a command that completed normally left running (deliberate background
    /// processes: `nohup svc &`); empty after a timeout, which kills them all.
    pub left_running: Leftovers,
    /// Keeps `left_running` in the call's cgroup until dropped; the gate drops it once the
    /// completion record that lists them is written.
    pub hold: crate::gate::Hold,
}

/// Run one process to completion under `req`'s bounds.
///
/// Errors (`InvalidArgument`, `NotFound`, `PermissionDenied`, `SpawnFailed`, `Io`) mean the
/// command did not run, or its pipes failed; in the latter case its group has been killed. A
/// deadline is not an error: it is an outcome with `timed_out` set and the output read so far.
pub async fn run(req: ExecRequest) -> Result<ExecOutcome, ToolError> {
    let deadline = deadline_after(req.timeout);
    let argv = command_line(&req.program)?;
    check_cwd(req.cwd.as_deref())?;
    validate_overlay(&req.env)?;

    let prepared = match &req.confinement {
        Some(c) => c
            .prepare(req.cwd.as_deref(), None)?
            .map(|p| (c.confiner.clone(), p)),
        None => None,
    };
    let pipes = OutputPipes::new(req.merge_stderr)
        .map_err(|e| ToolError::new(ErrorKind::SpawnFailed, format!("creating pipes: {e}")))?;
    let output = (pipes.stdout_writer, pipes.stderr_writer);
    let mut tracked = Tracked::start()
        .map_err(|e| ToolError::new(ErrorKind::SpawnFailed, format!("process tracking: {e}")))?;
    let (mut child, stdin) = match &prepared {
        None => spawn_plain(&req, &argv, output, &tracked)?,
        Some((confiner, p)) => spawn_confined(&req, &argv, confiner, p, output, &tracked).await?,
    };
    // Declared after `child` so it drops first: the group is killed while the child is unreaped.
    let mut group = child
        .id()
        .and_then(ProcessGroup::new)
        .ok_or_else(|| ToolError::new(ErrorKind::Internal, "spawned child has no process id"))?;
    tracked.attach(group.id());
    // Declared last so it drops first: a cancelled run kills every descendant while the
    // child is still unreaped (in subreaper mode its ancestry is what finds them).
    let mut tracked = tracked;
    tracing::debug!(pgid = group.id(), program = argv[0], "spawned");

    let stdin_data = req.stdin.unwrap_or_default();
    let mut capture = Capture::new(req.capture_limit);
    let finished = tokio::time::timeout_at(deadline, async {
        let (_, _, status) = tokio::try_join!(
            feed_stdin(stdin, stdin_data),
            drain(pipes.stdout_reader, pipes.stderr_reader, &mut capture),
            child.wait(),
        )?;
        Ok::<ExitStatus, io::Error>(status)
    })
    .await;

    match finished {
        Ok(Ok(status)) => {
            group.disarm();
            let (left_running, hold) = tracked.release();
            Ok(ExecOutcome {
                total_bytes: capture.total(),
                output: capture.into_output(),
                exit_code: exit_code(status),
                timed_out: false,
                left_running,
                hold: crate::gate::Hold::new(hold),
            })
        }
        Ok(Err(e)) => {
            kill_group(&mut child, &mut group, &mut tracked).await;
            Err(ToolError::new(ErrorKind::Io, e.to_string()))
        }
        Err(_elapsed) => {
            terminate_group(&mut child, &mut group, &mut tracked).await;
            Ok(ExecOutcome {
                total_bytes: capture.total(),
                output: capture.into_output(),
                exit_code: None,
                timed_out: true,
                left_running: Leftovers::default(),
                hold: crate::gate::Hold::default(),
            })
        }
    }
}

/// The child's output pipes: read ends for us, write ends for the child.
struct OutputPipes {
    /// Carries stdout, and stderr too when merged.
    stdout_reader: Receiver,
    /// Carries stderr when not merged.
    stderr_reader: Option<Receiver>,
    /// The child's fd 1.
    stdout_writer: OwnedFd,
    /// The child's fd 2: a second pipe, or a copy of fd 1's when merged (like `2>&1`).
    stderr_writer: OwnedFd,
}

impl OutputPipes {
    fn new(merge_stderr: bool) -> io::Result<Self> {
        let (out_reader, out_writer) = io::pipe()?;
        let out_writer = OwnedFd::from(out_writer);
        let (stderr_reader, stderr_writer) = if merge_stderr {
            (None, out_writer.try_clone()?)
        } else {
            let (err_reader, err_writer) = io::pipe()?;
            let reader = Receiver::from_owned_fd(OwnedFd::from(err_reader))?;
            (Some(reader), OwnedFd::from(err_writer))
        };
        Ok(Self {
            stdout_reader: Receiver::from_owned_fd(OwnedFd::from(out_reader))?,
            stderr_reader,
            stdout_writer: out_writer,
            stderr_writer,
        })
    }
}

/// Start the child unconfined, the way a confined one starts but on the calling thread and
/// with no steps: `clone(CLONE_VM | CLONE_VFORK)` (`confine::launch`), so the child copies no
/// page tables of the server (std's `fork`, which a pre-exec hook forces, cost about 1.5 ms
/// per call, see `docs/performance.md`). The child leads a new session (no terminal to
/// inherit), joins its call's cgroup and arms its death signal before exec. The write ends are
/// consumed: our copies close once the child has them.
fn spawn_plain(
    req: &ExecRequest,
    argv: &[&str],
    (stdout, stderr): (OwnedFd, OwnedFd),
    tracked: &Tracked,
) -> Result<(Child, Option<StdinWriter>), ToolError> {
    let mut env = child_env(&req.env);
    env.extend(tracked.marker_env());
    let (mut spec, stdin_reader, stdin_writer) = child_spec(req, argv, &env, &stdout, &stderr)?;
    spec.setup = tracked.child_setup();
    let launched = launch::launch(&spec, None, launch::Apply::All)
        .map_err(|e| launch_error(&e, argv[0], req.cwd.as_deref()))?;
    // Our copies of the child's ends: closed now, or EOF never comes.
    drop((stdin_reader, stdout, stderr));
    let child = ConfinedChild::new(launched.pid, launched.pidfd)
        .map_err(|e| ToolError::new(ErrorKind::SpawnFailed, format!("watching the child: {e}")))?;
    Ok((Child::Confined(child), stdin_writer))
}

/// The launch of `argv` with `env`: the program resolved on the environment's `PATH`, stdin a
/// pipe (when the request has input) or `/dev/null`, and our ends of stdin.
fn child_spec(
    req: &ExecRequest,
    argv: &[&str],
    env: &[(OsString, OsString)],
    stdout: &OwnedFd,
    stderr: &OwnedFd,
) -> Result<(Launch, OwnedFd, Option<StdinWriter>), ToolError> {
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    let program = launch::resolve_program(argv[0], path_var.as_deref(), req.cwd.as_deref())
        .map_err(|e| spawn_error(&e, argv[0], req.cwd.as_deref()))?;
    let (stdin_reader, stdin_writer) = if req.stdin.is_some() {
        let (r, w) = io::pipe()
            .map_err(|e| ToolError::new(ErrorKind::SpawnFailed, format!("creating pipes: {e}")))?;
        let w = tokio::net::unix::pipe::Sender::from_owned_fd(OwnedFd::from(w))
            .map_err(|e| ToolError::new(ErrorKind::SpawnFailed, format!("creating pipes: {e}")))?;
        (OwnedFd::from(r), Some(Box::new(w) as StdinWriter))
    } else {
        let null =
            std::fs::File::open("/dev/null").map_err(|e| ToolError::from_io(&e, "/dev/null"))?;
        (OwnedFd::from(null), None)
    };
    let spec = launch_spec(
        &program,
        argv,
        env,
        req.cwd.as_deref(),
        [&stdin_reader, stdout, stderr],
    )?;
    Ok((spec, stdin_reader, stdin_writer))
}

/// Start the child under `prepared` through the profile's launcher (`Confiner::launch`): the
/// leader of a new session, with `TMPDIR` set to the profile's scratch directory (the one
/// place it may write).
async fn spawn_confined(
    req: &ExecRequest,
    argv: &[&str],
    confiner: &Confiner,
    prepared: &Prepared,
    (stdout, stderr): (OwnedFd, OwnedFd),
    tracked: &Tracked,
) -> Result<(Child, Option<StdinWriter>), ToolError> {
    let mut env = child_env(&req.env);
    env.extend(tracked.marker_env());
    env.retain(|(k, _)| k != "TMPDIR");
    env.push(("TMPDIR".into(), prepared.tmpdir().as_os_str().to_owned()));
    let (mut spec, stdin_reader, stdin_writer) = child_spec(req, argv, &env, &stdout, &stderr)?;
    spec.setup = tracked.child_setup();
    // The launcher owns our copies of the child's ends until it has started the child, then
    // closes them (or EOF never comes).
    let launched = confiner
        .launch(prepared, spec, vec![stdin_reader, stdout, stderr])
        .await
        .map_err(|e| launch_error(&e, argv[0], req.cwd.as_deref()))?;
    let child = ConfinedChild::new(launched.pid, launched.pidfd)
        .map_err(|e| ToolError::new(ErrorKind::SpawnFailed, format!("watching the child: {e}")))?;
    Ok((Child::Confined(child), stdin_writer))
}

/// The C strings `confine::launch` takes; a NUL byte anywhere is an invalid argument.
fn launch_spec(
    program: &Path,
    argv: &[&str],
    env: &[(OsString, OsString)],
    cwd: Option<&Path>,
    stdio: [&OwnedFd; 3],
) -> Result<Launch, ToolError> {
    let c = |bytes: &[u8]| {
        CString::new(bytes)
            .map_err(|_| ToolError::invalid("an argument or variable contains a NUL byte"))
    };
    Ok(Launch {
        program: c(program.as_os_str().as_bytes())?,
        argv: argv
            .iter()
            .map(|a| c(a.as_bytes()))
            .collect::<Result<_, _>>()?,
        envp: env
            .iter()
            .map(|(k, v)| c(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
            .collect::<Result<_, _>>()?,
        cwd: cwd.map(|d| c(d.as_os_str().as_bytes())).transpose()?,
        stdio: stdio.map(|fd| Some(fd.as_raw_fd())),
        new_session: true,
        setup: ChildSetup::NONE,
    })
}

/// A confined start that failed: the program or the working directory as std would name
/// them, or the confinement step that the kernel refused.
fn launch_error(err: &LaunchError, program: &str, cwd: Option<&Path>) -> ToolError {
    match err {
        LaunchError::Child {
            step: Step::Exec, ..
        } => spawn_error(&err.io_error(), program, cwd),
        LaunchError::Child {
            step: Step::Chdir, ..
        } => ToolError::from_io(
            &err.io_error(),
            &format!(
                "cwd {}",
                cwd.map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            ),
        ),
        LaunchError::Child { .. } => {
            ToolError::new(ErrorKind::SpawnFailed, format!("confinement: {err}"))
        }
        LaunchError::Parent(_) => ToolError::new(ErrorKind::SpawnFailed, err.to_string()),
    }
}

/// Give up the server's controlling terminal, when it has one and is not a session leader
/// (a session leader giving it up would hang up its own foreground job). Children then have no
/// terminal to inherit (one-shot commands lead sessions of their own anyway; this covers the
/// children std starts: `ssh`, the watchdog), so a prompt for a password fails at once. The
/// server's own stdin/stdout stay open and usable.
pub fn detach_controlling_terminal() {
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return;
    };
    // SAFETY: plain syscalls on our own pid and an fd we own for the duration of the call.
    unsafe {
        if libc::getsid(0) != libc::getpid() {
            use std::os::fd::AsRawFd;
            libc::ioctl(tty.as_raw_fd(), libc::TIOCNOTTY);
        }
    }
}

/// The deadline `timeout` from now; an absurdly long timeout is capped rather than overflowing.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The argv to exec for `program`, validated.
fn command_line(program: &Program) -> Result<Vec<&str>, ToolError> {
    let argv: Vec<&str> = match program {
        Program::Shell(text) => vec![SHELL, "-c", text.as_str()],
        Program::Argv(words) => words.iter().map(String::as_str).collect(),
    };
    if argv.is_empty() {
        return Err(ToolError::invalid("empty command"));
    }
    if argv.iter().any(|word| word.contains('\0')) {
        return Err(ToolError::invalid("command contains a NUL byte"));
    }
    Ok(argv)
}

/// The working directory must exist and be a directory; checked before spawning so the error
/// names the directory rather than the program.
fn check_cwd(cwd: Option<&Path>) -> Result<(), ToolError> {
    let Some(dir) = cwd else {
        return Ok(());
    };
    if dir.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(ToolError::invalid("cwd contains a NUL byte"));
    }
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(ToolError::invalid(format!(
            "cwd {}: Not a directory",
            dir.display()
        ))),
        Err(e) => Err(ToolError::from_io(&e, &format!("cwd {}", dir.display()))),
    }
}

/// Map a spawn failure to a stable kind, naming the program (or the cwd, if it vanished
/// between the check and the spawn).
fn spawn_error(err: &io::Error, program: &str, cwd: Option<&Path>) -> ToolError {
    if err.kind() == io::ErrorKind::NotFound
        && let Some(dir) = cwd
        && !dir.is_dir()
    {
        return ToolError::from_io(err, &format!("cwd {}", dir.display()));
    }
    let kind = match err.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        _ => ErrorKind::SpawnFailed,
    };
    ToolError::new(kind, format!("program {program}: {err}"))
}

/// Exit status as the result grammar reports it: the code, or minus the killing signal.
fn exit_code(status: ExitStatus) -> Option<i32> {
    status.code().or_else(|| status.signal().map(|sig| -sig))
}

/// The deadline passed: `SIGTERM` the group and every tracked descendant, `SIGKILL` whatever
/// still runs after the grace period, and reap the child.
async fn terminate_group(child: &mut Child, group: &mut ProcessGroup, tracked: &mut Tracked) {
    tracing::debug!(
        pgid = group.id(),
        "deadline reached; terminating process group"
    );
    group.signal(Signal::SIGTERM);
    tracked.signal(Signal::SIGTERM);
    let deadline = Instant::now() + TERM_GRACE;
    let group_empty = group.wait_empty(TERM_GRACE).await;
    if !group_empty || !tracked_gone(tracked, deadline).await {
        kill_group(child, group, tracked).await;
        return;
    }
    tracked.kill().await;
    reap(child, group).await;
}

/// Wait until no tracked process runs, polling until `deadline`.
async fn tracked_gone(tracked: &Tracked, deadline: Instant) -> bool {
    loop {
        if !tracked.alive() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `SIGKILL` the group and every tracked descendant, wait for them to disappear, and reap
/// the child.
async fn kill_group(child: &mut Child, group: &mut ProcessGroup, tracked: &mut Tracked) {
    group.signal(Signal::SIGKILL);
    tracked.kill().await;
    if !group.wait_empty(KILL_WAIT).await {
        tracing::warn!(pgid = group.id(), "process group survived SIGKILL");
    }
    reap(child, group).await;
}

/// Collect the child's exit status so it leaves no zombie, then stop guarding the group.
async fn reap(child: &mut Child, group: &mut ProcessGroup) {
    match tokio::time::timeout(KILL_WAIT, child.wait()).await {
        Ok(Ok(_)) => group.disarm(),
        Ok(Err(e)) => tracing::warn!(pgid = group.id(), error = %e, "reaping child failed"),
        // Still armed: the guard kills again on drop, and the runtime reaps the child later.
        Err(_) => tracing::warn!(pgid = group.id(), "child not reaped after SIGKILL"),
    }
}
