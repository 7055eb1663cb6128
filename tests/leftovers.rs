//! Nothing a call starts outlives it: processes that detach (`setsid`, `nohup … &`, a double
//! fork, `disown`) inside a `shell_exec` that times out, inside a PTY session that is killed,
//! and inside a call whose server is killed with `SIGKILL`, are all gone afterwards; a call
//! that completes normally may leave a background process running, and its completion record
//! names it. Each scenario runs under both mechanisms: `auto` (a cgroup per call where the
//! server may create cgroups, as on this machine) and the forced child subreaper.
//!
//! Processes are found by scanning `/proc` for a marker variable unique to each test in their
//! initial environment, so tests running in parallel never see each other's processes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use common::{Server, start};

/// Upper bound for waiting on a condition that should hold much sooner; only reached when the
/// behaviour under test is broken.
const PATIENCE: Duration = Duration::from_secs(30);

/// The variable that marks a test's processes.
const MARK: &str = "LEFTOVER_MARK";

/// Four ways to detach, then a foreground `sleep` that keeps the call running.
const DETACHING: &str = "setsid sleep 600 & \
    nohup sleep 600 >/dev/null 2>&1 & \
    (sh -c 'sleep 600 &' &); \
    bash -c 'sleep 600 & disown'; \
    sleep 600";

/// How many `sleep 600` processes [`DETACHING`] starts.
const SLEEPERS: usize = 5;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A marker value no other test (or test process) uses.
fn unique_mark(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Live (not zombie) processes whose initial environment holds `LEFTOVER_MARK=<mark>`, with
/// their command lines, by pid.
fn marked(mark: &str) -> Vec<(i32, String)> {
    let entry = format!("{MARK}={mark}");
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !env.split(|b| *b == 0).any(|e| e == entry.as_bytes()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_string));
        if state.as_deref() == Some("Z") || state.as_deref() == Some("X") {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        found.push((pid, cmdline));
    }
    found.sort();
    found
}

/// How many marked processes run `sleep 600`.
fn sleepers(mark: &str) -> usize {
    marked(mark)
        .iter()
        .filter(|(_, c)| c == "sleep 600")
        .count()
}

/// Zombie children of `parent` (processes it has not reaped).
fn zombies_of(parent: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.first() == Some(&"Z") && f.get(1).and_then(|p| p.parse().ok()) == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// Wait until `server` has no zombie child (bounded by [`PATIENCE`]), naming them if not.
async fn no_zombies(server: i32) {
    let until = tokio::time::Instant::now() + PATIENCE;
    while !zombies_of(server).is_empty() {
        let z: Vec<String> = zombies_of(server)
            .iter()
            .map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default())
            .collect();
        assert!(
            tokio::time::Instant::now() < until,
            "zombies of the server: {z:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let until = tokio::time::Instant::now() + PATIENCE;
    while !f() {
        assert!(
            tokio::time::Instant::now() < until,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Kill whatever a failed test left behind, so a failure does not leak processes.
fn cleanup(mark: &str) {
    for (pid, _) in marked(mark) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Kills a test's marked processes when dropped, so a failing assertion does not leak them.
struct Reaper(Vec<String>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for mark in &self.0 {
            cleanup(mark);
        }
    }
}

/// The server's settings for `mode`.
fn envs(mode: &str) -> Vec<(&'static str, &str)> {
    vec![("RELAY_SHELL_PROCESS_TRACKING", mode)]
}

/// The mechanism `auto` picks here: cgroups when running as root with a cgroup v2 hierarchy.
fn auto_mechanism() -> &'static str {
    let v2 = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| m.lines().any(|l| l.contains(" - cgroup2 ")))
        .unwrap_or(false);
    if nix::unistd::geteuid().is_root() && v2 {
        "cgroup"
    } else {
        "subreaper"
    }
}

async fn mechanism(s: &Server) -> String {
    let info: Value =
        serde_json::from_str(&s.call("server_info", json!({})).await).expect("server_info is JSON");
    info["process_tracking"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The env_json that marks a call's processes.
fn mark_env(mark: &str) -> String {
    json!({ MARK: mark }).to_string()
}

async fn timeout_kills_detached(mode: &str) {
    let mark = unique_mark("timeout");
    let _reaper = Reaper(vec![mark.clone()]);
    let s = start(&envs(mode)).await;
    let server = server_pid(&s).await;
    let out = s
        .call(
            "shell_exec",
            json!({"command": DETACHING, "timeout": 2, "env_json": mark_env(&mark)}),
        )
        .await;
    assert_eq!(out, "[TIMEOUT after 2s]");
    let left = marked(&mark);
    cleanup(&mark);
    assert_eq!(left, vec![], "processes survived the timeout");
    // The orphans it adopted and killed are reaped.
    no_zombies(server).await;
    let rec = s.completion_records().pop().expect("a completion record");
    assert_eq!(rec["tool"], json!("shell_exec"));
    assert_eq!(rec["args"].get("left_running"), None);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_ends_detached_processes_cgroup() {
    timeout_kills_detached("auto").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_ends_detached_processes_subreaper() {
    timeout_kills_detached("subreaper").await;
}

async fn session_kill_ends_detached(mode: &str) {
    let mark = unique_mark("session");
    let _reaper = Reaper(vec![mark.clone()]);
    let s = start(&envs(mode)).await;
    let server = server_pid(&s).await;
    let env = json!({ MARK: mark, "PS1": "PROMPT$ " }).to_string();
    let out = s
        .call(
            "shell_spawn",
            json!({"command": "bash --noprofile --norc -i", "env_json": env}),
        )
        .await;
    let id = out
        .strip_prefix("session ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_default()
        .to_string();
    assert!(id.starts_with("sh-"), "{out}");
    let line = DETACHING.replace("; sleep 600", "; sleep 600 &");
    s.call("session_send", json!({"session_id": id, "data": line}))
        .await;
    eventually("every sleeper runs", || sleepers(&mark) == SLEEPERS).await;
    assert_eq!(
        s.call("session_kill", json!({"session_id": id})).await,
        format!("killed and closed {id}")
    );
    let left = marked(&mark);
    cleanup(&mark);
    assert_eq!(left, vec![], "processes survived session_kill");
    no_zombies(server).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn session_kill_ends_detached_processes_cgroup() {
    session_kill_ends_detached("auto").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn session_kill_ends_detached_processes_subreaper() {
    session_kill_ends_detached("subreaper").await;
}

/// The server's pid: the parent of a one-shot command's shell.
async fn server_pid(s: &Server) -> i32 {
    let out = s.call("shell_exec", json!({"command": "echo $PPID"})).await;
    pid_in(&out)
}

/// The pid a command echoed (after the `[exit 0]` line).
fn pid_in(out: &str) -> i32 {
    out.strip_prefix("[exit 0]\n")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {out:?}"))
}

async fn server_sigkill_ends_detached(mode: &str) {
    let mark = unique_mark("sigkill");
    let s = Arc::new(start(&envs(mode)).await);
    let pid = server_pid(&s).await;
    let running = {
        let s = Arc::clone(&s);
        let env = mark_env(&mark);
        tokio::spawn(async move {
            s.client
                .call_tool(common::params(
                    "shell_exec",
                    json!({"command": DETACHING, "timeout": 600, "env_json": env}),
                ))
                .await
        })
    };
    // A session too, with its own detached processes.
    let session_mark = unique_mark("sigkill-session");
    let _reaper = Reaper(vec![mark.clone(), session_mark.clone()]);
    let env = json!({ MARK: session_mark }).to_string();
    let out = s
        .call("shell_spawn", json!({"command": "sh", "env_json": env}))
        .await;
    let id = out
        .strip_prefix("session ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_default()
        .to_string();
    let line = DETACHING.replace("; sleep 600", "; sleep 600 &");
    s.call("session_send", json!({"session_id": id, "data": line}))
        .await;
    eventually("every sleeper runs", || {
        sleepers(&mark) == SLEEPERS && sleepers(&session_mark) == SLEEPERS
    })
    .await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("SIGKILL the server");
    let gone = {
        let until = tokio::time::Instant::now() + PATIENCE;
        loop {
            if marked(&mark).is_empty() && marked(&session_mark).is_empty() {
                break true;
            }
            if tokio::time::Instant::now() >= until {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let left = (marked(&mark), marked(&session_mark));
    cleanup(&mark);
    cleanup(&session_mark);
    assert!(gone, "processes survived the server's SIGKILL: {left:?}");
    assert!(
        running.await.expect("task").is_err(),
        "the call has no answer"
    );
    if mode == "auto" && auto_mechanism() == "cgroup" {
        // The watchdog removed the killed server's cgroups.
        let dir = own_cgroup_dir().join(format!("relay-shell.{pid}"));
        eventually("instance cgroup removed", || !dir.exists()).await;
    }
}

/// This test process's cgroup v2 directory (the server's parent cgroup).
fn own_cgroup_dir() -> std::path::PathBuf {
    let cg = std::fs::read_to_string("/proc/self/cgroup").expect("cgroup");
    let rel = cg
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("cgroup v2 line")
        .to_string();
    let mi = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let point = mi
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .and_then(|l| l.split_whitespace().nth(4))
        .expect("cgroup2 mount")
        .to_string();
    std::path::Path::new(&point).join(rel.trim_start_matches('/'))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_server_leaves_nothing_running_cgroup() {
    server_sigkill_ends_detached("auto").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_server_leaves_nothing_running_subreaper() {
    server_sigkill_ends_detached("subreaper").await;
}

async fn completed_call_records_what_it_left(mode: &str) {
    let mark = unique_mark("left");
    let _reaper = Reaper(vec![mark.clone()]);
    let s = start(&envs(mode)).await;
    assert_eq!(
        mechanism(&s).await,
        if mode == "auto" {
            auto_mechanism()
        } else {
            "subreaper"
        }
    );
    let out = s
        .call(
            "shell_exec",
            json!({
                // The call completes once `nohup` has become `sleep` (what is recorded is
                // what runs at completion).
                "command": "nohup sleep 600 >/dev/null 2>&1 & p=$!; \
                    while [ \"$(cat /proc/$p/comm)\" != sleep ]; do sleep 0.01; done; echo $p",
                "env_json": mark_env(&mark),
            }),
        )
        .await;
    let pid = pid_in(&out);
    // It runs on after the call.
    assert_eq!(marked(&mark), vec![(pid, "sleep 600".to_string())]);
    let rec = s.completion_records().pop().expect("a completion record");
    assert_eq!(
        rec["args"]["left_running"],
        json!([{"pid": pid, "cmdline": "sleep 600"}])
    );
    assert_eq!(rec["args"].get("left_running_more"), None);
    // When it dies, the server (its subreaper since its shell exited) reaps it.
    let server = server_pid(&s).await;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let ppid: i32 = stat[stat.rfind(')').expect(")") + 1..]
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("ppid");
    assert_eq!(ppid, server, "the orphan was adopted by the server");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    eventually("the orphan is reaped", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
    .await;
    // A call that leaves nothing has no such field.
    s.call("shell_exec", json!({"command": "true"})).await;
    let rec = s.completion_records().pop().expect("a completion record");
    assert_eq!(rec["args"].get("left_running"), None);
    // Command lines are redacted like every argument. The call completes only once the
    // script's own child has started (its pid is in the file), so both are listed.
    let file = s.dir.path().join("child.pid");
    let command = format!(
        "nohup sh -c 'sleep 600 & echo $! > {f}; wait' token=hunter2hunter2 >/dev/null 2>&1 & \
         while [ ! -s {f} ] || [ \"$(cat /proc/$(cat {f})/comm)\" != sleep ]; do sleep 0.01; done; \
         echo $!",
        f = file.display()
    );
    let out = s
        .call(
            "shell_exec",
            json!({"command": command, "env_json": mark_env(&mark)}),
        )
        .await;
    let sh = pid_in(&out);
    let child: i32 = std::fs::read_to_string(&file)
        .expect("child pid file")
        .trim()
        .parse()
        .expect("a pid");
    let rec = s.completion_records().pop().expect("a completion record");
    let script = format!(
        "sh -c sleep 600 & echo $! > {}; wait token=[REDACTED]",
        file.display()
    );
    let mut expected = vec![
        json!({"pid": sh, "cmdline": script}),
        json!({"pid": child, "cmdline": "sleep 600"}),
    ];
    expected.sort_by_key(|v| v["pid"].as_i64());
    assert_eq!(rec["args"]["left_running"], json!(expected));
    assert!(
        !std::fs::read_to_string(&s.audit)
            .expect("audit")
            .contains("hunter2")
    );
    cleanup(&mark);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_call_records_what_it_left_running_cgroup() {
    completed_call_records_what_it_left("auto").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_call_records_what_it_left_running_subreaper() {
    completed_call_records_what_it_left("subreaper").await;
}

async fn many_left_running_are_bounded(mode: &str) {
    let mark = unique_mark("many");
    let _reaper = Reaper(vec![mark.clone()]);
    let s = start(&envs(mode)).await;
    // 20 processes, one with a 2,000-byte command line (`sleep` adds up its arguments).
    let long = "0 ".repeat(1000);
    let command = format!(
        "i=0; while [ $i -lt 19 ]; do setsid sleep 600 >/dev/null 2>&1 & i=$((i+1)); done; \
         setsid sleep 600 {long} >/dev/null 2>&1 & true"
    );
    s.call(
        "shell_exec",
        json!({"command": command, "env_json": mark_env(&mark)}),
    )
    .await;
    let rec = s.completion_records().pop().expect("a completion record");
    let listed = rec["args"]["left_running"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let running = marked(&mark);
    assert_eq!(running.len(), 20, "{running:?}");
    assert_eq!(listed.len(), 16);
    assert_eq!(rec["args"]["left_running_more"], json!(4));
    let pids: Vec<i64> = running
        .iter()
        .map(|(p, _)| i64::from(*p))
        .take(16)
        .collect();
    let got: Vec<i64> = listed.iter().filter_map(|l| l["pid"].as_i64()).collect();
    assert_eq!(got, pids, "the lowest pids are listed");
    for l in &listed {
        assert!(l["cmdline"].as_str().is_some_and(|c| c.len() <= 512), "{l}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn many_left_running_are_bounded_cgroup() {
    many_left_running_are_bounded("auto").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn many_left_running_are_bounded_subreaper() {
    many_left_running_are_bounded("subreaper").await;
}

async fn a_fork_storm_is_ended(mode: &str) {
    let mark = unique_mark("storm");
    let _reaper = Reaper(vec![mark.clone()]);
    let s = start(&envs(mode)).await;
    let server = server_pid(&s).await;
    // Every child detaches and forks again; the deadline cuts it off.
    let out = s
        .call(
            "shell_exec",
            json!({
                "command": "i=0; while [ $i -lt 150 ]; do setsid sh -c 'sleep 600 & sleep 600' & i=$((i+1)); done; sleep 600",
                "timeout": 2,
                "env_json": mark_env(&mark),
            }),
        )
        .await;
    assert_eq!(out, "[TIMEOUT after 2s]");
    assert_eq!(marked(&mark), vec![]);
    no_zombies(server).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_storm_is_ended_cgroup() {
    a_fork_storm_is_ended("auto").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_storm_is_ended_subreaper() {
    a_fork_storm_is_ended("subreaper").await;
}

#[test]
fn the_watchdog_refuses_what_is_not_an_instance_cgroup() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The right name and a `cgroup.kill` file, but not on cgroupfs; a bad name; a bad pid.
    let named = dir.path().join("relay-shell.123");
    std::fs::create_dir(&named).expect("mkdir");
    std::fs::write(named.join("cgroup.kill"), "").expect("write");
    std::fs::create_dir(named.join("c1")).expect("mkdir");
    for args in [
        vec!["cgroup".to_string(), named.display().to_string()],
        vec!["cgroup".to_string(), dir.path().display().to_string()],
        vec!["cgroup".to_string(), "/".to_string()],
        vec!["marker".to_string(), "1".to_string()],
        vec!["marker".to_string(), "0".to_string()],
        vec!["marker".to_string(), "abc".to_string()],
        vec!["nonsense".to_string()],
        vec![],
    ] {
        let out = common::command(&[])
            .arg("__relay-shell-process-watchdog")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    assert!(named.join("c1").is_dir(), "nothing was removed");
    assert_eq!(
        std::fs::read_to_string(named.join("cgroup.kill")).expect("read"),
        ""
    );
}

/// A child that first runs after its server died must not start: the kernel sends the death
/// signal only to children that asked for it while the server lived, so one forked just
/// before a `SIGKILL` would otherwise run on for good (an SSH master did, under load).
#[test]
fn a_child_whose_server_died_before_it_ran_does_not_start() {
    use std::os::unix::process::CommandExt;

    let spawn = |parent: i32| {
        let mut cmd = std::process::Command::new("true");
        // SAFETY: the hook makes two system calls (`die_with_parent`).
        unsafe {
            cmd.pre_exec(move || {
                relay_shell::procs::die_with_parent(parent, libc::SIGTERM)
                    .map_err(std::io::Error::from_raw_os_error)
            });
        }
        cmd.status()
    };
    // Pid 1 stands for "not the process that forked": what a child adopted by init sees.
    let refused = spawn(1).expect_err("a child of another parent must not start");
    assert_eq!(refused.raw_os_error(), Some(libc::ESRCH));
    let ran = spawn(std::process::id() as i32).expect("the real parent's child starts");
    assert!(ran.success());
}
