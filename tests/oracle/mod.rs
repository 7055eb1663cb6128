//! The dynamic oracle: run a command as root in a throwaway sandbox (`sandbox.sh`: fresh mount,
//! network, PID, UTS and IPC namespaces, an overlay over `/`, a reduced capability set, strace
//! recording global-state system calls) and report what it changed. A command is read-only
//! only if nothing remains in the overlay's upper directory, the namespace state is the same
//! before and after, and no recorded call tried to change the kernel's global state.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const SANDBOX: &str = include_str!("sandbox.sh");
const FIXTURE: &str = include_str!("fixture.sh");

/// Tools the sandbox needs on the host.
const NEEDED: &[&str] = &[
    "unshare", "setpriv", "strace", "chroot", "timeout", "diff", "ip",
];

/// Longest one command's sandbox run may take (the command itself is killed after 2 s).
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// A prepared oracle: the sandbox script, a fixture directory and work directories.
pub struct Oracle {
    root: PathBuf,
    script: PathBuf,
    fixture: PathBuf,
}

/// What one run changed.
#[derive(Debug, Default)]
pub struct Observation {
    /// Every change found (empty: the command is read-only as far as the oracle sees).
    pub changes: Vec<String>,
    /// The sandbox itself failed (not the command).
    pub broken: Option<String>,
    /// How long the whole sandbox run took.
    pub took: Duration,
}

/// Whether the oracle can run here: root, and the tools it needs.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some(
            "the oracle runs commands as root in namespaces; this process is not root".into(),
        );
    }
    let missing: Vec<&str> = NEEDED
        .iter()
        .copied()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    (!missing.is_empty()).then(|| format!("missing tools: {}", missing.join(", ")))
}

/// Syscall lines that only read (or set nothing).
///
/// `???( <unfinished ...>` is strace's line for a thread it could not decode at the moment the
/// sandbox's `SIGKILL` ended it inside a call (seen with the multi-threaded `docker` client at
/// its time limit): a call of the recorded set that strace decodes is printed by name, and what
/// an undecoded one left behind shows in the overlay and namespace-state sections.
fn harmless_call(line: &str) -> bool {
    if line.contains("???(") && line.trim_end().ends_with("<unfinished ...>") {
        return true;
    }
    let reads_log = [
        "SYSLOG_ACTION_READ_ALL",
        "SYSLOG_ACTION_SIZE_BUFFER",
        "SYSLOG_ACTION_SIZE_UNREAD",
        "SYSLOG_ACTION_CLOSE",
        "SYSLOG_ACTION_OPEN",
    ];
    (line.contains("syslog(") && reads_log.iter().any(|a| line.contains(a)))
        || (line.contains("adjtimex(") || line.contains("clock_adjtime("))
            && line.contains("modes=0,")
        || line.contains("keyctl(KEYCTL_GET_KEYRING_ID")
        || line.contains("keyctl(KEYCTL_DESCRIBE")
        || line.contains("keyctl(KEYCTL_READ")
        || line.contains("keyctl(KEYCTL_SEARCH")
        || line.contains("<detached")
        || line.contains("bpf(")
            && [
                "_GET_NEXT_ID",
                "_GET_FD_BY_ID",
                "OBJ_GET_INFO_BY_FD",
                "MAP_LOOKUP_ELEM",
                "BTF_GET_",
            ]
            .iter()
            .any(|c| line.contains(c))
}

/// One sandbox process (its own namespaces) that runs commands one after another, each in a
/// fresh overlay and PID namespace.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Worker {
    fn start(oracle: &Oracle, slot: usize) -> Result<Worker, String> {
        let work = oracle.root.join(format!("w{slot}"));
        std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;
        let mut child = Command::new("unshare")
            .args([
                "--mount",
                "--net",
                "--pid",
                "--uts",
                "--ipc",
                "--fork",
                "--kill-child",
            ])
            .args(["--propagation", "private", "sh"])
            .arg(&oracle.script)
            .arg(&work)
            .arg(&oracle.fixture)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn unshare: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Worker {
            child,
            stdin,
            lines,
        })
    }

    /// Run one command file; the report's lines up to `== end`.
    fn run(&mut self, cmd_file: &std::path::Path) -> Result<String, String> {
        writeln!(self.stdin, "{}", cmd_file.display())
            .map_err(|e| format!("write to the sandbox: {e}"))?;
        let deadline = Instant::now() + RUN_LIMIT;
        let mut report = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "== end" => return Ok(report),
                Ok(line) => {
                    report.push_str(&line);
                    report.push('\n');
                }
                Err(_) => {
                    let mut err = String::new();
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    if let Some(mut e) = self.child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    return Err(format!("the sandbox stopped answering: {err}"));
                }
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Oracle {
    /// Prepare the sandbox script and fixture under a fresh directory, and prove the sandbox
    /// works (a `true` changes nothing; a write to `/etc` is seen). Errors say exactly what
    /// failed.
    pub fn new() -> Result<Oracle, String> {
        static INSTANCES: AtomicUsize = AtomicUsize::new(0);
        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        // On the root file system (the overlay covers it; /tmp is replaced in the sandbox).
        let root = PathBuf::from(format!(
            "/var/tmp/relay-shell-oracle-{}-{n}",
            std::process::id()
        ));
        let fixture = root.join("fixture");
        std::fs::create_dir_all(&fixture)
            .map_err(|e| format!("create {}: {e}", fixture.display()))?;
        let script = root.join("sandbox.sh");
        std::fs::write(&script, SANDBOX).map_err(|e| format!("write {}: {e}", script.display()))?;
        let fixture_script = root.join("fixture.sh");
        std::fs::write(&fixture_script, FIXTURE).map_err(|e| format!("write fixture.sh: {e}"))?;
        let built = Command::new("sh")
            .arg(&fixture_script)
            .arg(&fixture)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("build the fixture: {e}"))?;
        if !built.status.success() {
            return Err(format!(
                "fixture.sh failed: {}",
                String::from_utf8_lossy(&built.stderr)
            ));
        }
        let oracle = Oracle {
            root,
            script,
            fixture,
        };
        let probe = oracle.observe_all(
            &[
                "true".to_string(),
                "echo x > /etc/relay-shell-oracle-probe".to_string(),
            ],
            1,
        );
        if let Some(broken) = probe[0].broken.as_ref().or(probe[1].broken.as_ref()) {
            return Err(format!("the sandbox does not work here: {broken}"));
        }
        if !probe[0].changes.is_empty() {
            return Err(format!(
                "`true` changed something in the sandbox: {:?}",
                probe[0].changes
            ));
        }
        if probe[1].changes.is_empty() {
            return Err("the sandbox did not see a write to /etc".into());
        }
        Ok(oracle)
    }

    /// Run each command in a fresh sandbox, `jobs` at a time; results in the same order.
    pub fn observe_all(&self, commands: &[String], jobs: usize) -> Vec<Observation> {
        let next = Mutex::new(0usize);
        let results: Mutex<Vec<Option<Observation>>> =
            Mutex::new((0..commands.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for slot in 0..jobs.max(1) {
                let (next, results) = (&next, &results);
                s.spawn(move || {
                    let mut worker: Option<Worker> = None;
                    let cmd_file = self.root.join(format!("cmd{slot}.sh"));
                    loop {
                        let i = {
                            let Ok(mut n) = next.lock() else { break };
                            let i = *n;
                            *n += 1;
                            i
                        };
                        let Some(cmd) = commands.get(i) else { break };
                        let seen = self.observe_one(&mut worker, slot, &cmd_file, cmd);
                        if let Ok(mut r) = results.lock() {
                            r[i] = Some(seen);
                        }
                    }
                });
            }
        });
        results
            .into_inner()
            .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
            .unwrap_or_default()
    }

    fn observe_one(
        &self,
        worker: &mut Option<Worker>,
        slot: usize,
        cmd_file: &std::path::Path,
        command: &str,
    ) -> Observation {
        let started = Instant::now();
        let broken = |why: String| Observation {
            changes: vec![],
            took: started.elapsed(),
            broken: Some(why),
        };
        if let Err(e) = std::fs::write(cmd_file, command) {
            return broken(format!("write the command file: {e}"));
        }
        if worker.is_none() {
            match Worker::start(self, slot) {
                Ok(w) => *worker = Some(w),
                Err(e) => return broken(e),
            }
        }
        let Some(w) = worker.as_mut() else {
            return broken("no sandbox".into());
        };
        match w.run(cmd_file) {
            Ok(report) if report.contains("== status") && !report.contains("== status\n97") => {
                let mut seen = parse(&report);
                seen.took = started.elapsed();
                seen
            }
            Ok(report) => {
                *worker = None;
                broken(format!("the sandbox could not run the command: {report}"))
            }
            Err(e) => {
                *worker = None;
                broken(e)
            }
        }
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Read the sandbox's report into changes.
fn parse(report: &str) -> Observation {
    let mut section = "";
    let mut changes = Vec::new();
    for line in report.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            section = match name {
                "upper" => "upper",
                "state" => "state",
                "trace" => "trace",
                _ => "",
            };
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        match section {
            "upper" => changes.push(format!("left in the overlay: {line}")),
            "state" => changes.push(format!("namespace state: {line}")),
            "trace" if !harmless_call(line) => changes.push(format!("system call: {line}")),
            _ => {}
        }
    }
    Observation {
        changes,
        broken: None,
        took: Duration::ZERO,
    }
}
