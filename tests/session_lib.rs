//! Library-level tests of PTY sessions: real PTYs, real shells, real `/proc`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use relay_shell::session::{
    Registry, Session, SessionKind, SessionLimits, Signal, SpawnRequest, TermSize,
    local_session_env,
};

/// Upper bound for waiting on a condition that should hold much sooner; only reached when
/// the behaviour under test is broken.
const PATIENCE: Duration = Duration::from_secs(20);

fn limits() -> SessionLimits {
    SessionLimits {
        max_sessions: 8,
        buffer_bytes: 256 * 1024,
        idle_timeout: Duration::from_secs(3600),
        max_lifetime: Duration::from_secs(3600),
    }
}

fn request(argv: &[&str]) -> SpawnRequest {
    SpawnRequest {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        cwd: None,
        env: local_session_env(&vec![("PS1".into(), Some("PROMPT$ ".into()))]),
        size: TermSize {
            cols: 120,
            rows: 40,
        },
        kind: SessionKind::Local,
        title: argv.join(" "),
        confinement: None,
    }
}

fn bash() -> SpawnRequest {
    request(&["bash", "--noprofile", "--norc", "-i"])
}

/// Read until `needle` has been seen; returns everything read.
async fn recv_until(s: &Session, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !seen.contains(needle) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {needle:?}; got {seen:?}"
        );
        let r = s.recv(Duration::from_secs(1), 65536).await;
        seen.push_str(&r.render(s.id()));
    }
    seen
}

/// One row of `/proc/<pid>/stat`, parsed independently of the code under test.
#[derive(Debug)]
struct Proc {
    pid: i32,
    comm: String,
    state: char,
    ppid: i32,
    pgrp: i32,
    session: i32,
}

fn procs() -> Vec<Proc> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let open = text.find('(').unwrap();
        let close = text.rfind(')').unwrap();
        let f: Vec<&str> = text[close + 2..].split(' ').collect();
        out.push(Proc {
            pid,
            comm: text[open + 1..close].to_string(),
            state: f[0].chars().next().unwrap(),
            ppid: f[1].parse().unwrap(),
            pgrp: f[2].parse().unwrap(),
            session: f[3].parse().unwrap(),
        });
    }
    out
}

/// Live (non-zombie) processes in session or process group `sid`.
fn live_in(sid: i32) -> Vec<Proc> {
    procs()
        .into_iter()
        .filter(|p| p.state != 'Z' && (p.session == sid || p.pgrp == sid))
        .collect()
}

/// Wait until `f` holds (a readiness check, not a timing assertion).
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn bash_round_trip_and_exit_status() {
    let reg = Registry::new(limits());
    let s = reg.spawn("p", bash()).await.unwrap();
    assert!(s.id().starts_with("sh-"));
    recv_until(&s, "PROMPT$ ").await;
    assert_eq!(s.send(b"echo hi-$((40+2))\n").await.unwrap(), 18);
    recv_until(&s, "hi-42").await;
    s.send(b"exit 3\n").await.unwrap();
    let out = recv_until(&s, "ended").await;
    assert!(
        out.ends_with(&format!("\n[session {} ended, exit=3]", s.id())),
        "{out:?}"
    );
    // the end marker is repeated for later reads, with nothing else
    let again = s.recv(Duration::from_millis(0), 1024).await;
    assert_eq!(
        again.render(s.id()),
        format!("\n[session {} ended, exit=3]", s.id())
    );
    assert_eq!(s.exit_code(), Some(3));
    reg.shutdown().await;
}

#[tokio::test]
async fn job_control_and_ctrl_c_interrupts_the_foreground_job() {
    let reg = Registry::new(limits());
    let s = reg.spawn("p", bash()).await.unwrap();
    let sid = s.leader();
    let out = recv_until(&s, "PROMPT$ ").await;
    assert!(!out.contains("no job control"), "{out:?}");
    s.send(b"sleep 100\n").await.unwrap();
    eventually("sleep starts", || {
        live_in(sid).iter().any(|p| p.comm == "sleep")
    })
    .await;
    // the job runs in its own foreground process group (job control works)
    let sleep = live_in(sid)
        .into_iter()
        .find(|p| p.comm == "sleep")
        .unwrap();
    assert_ne!(sleep.pgrp, sid);
    s.send(b"\x03").await.unwrap();
    eventually("sleep interrupted", || {
        !live_in(sid).iter().any(|p| p.comm == "sleep")
    })
    .await;
    s.send(b"echo alive-$((2+2))\n").await.unwrap();
    recv_until(&s, "alive-4").await;
    assert!(!s.has_ended());
    reg.shutdown().await;
}

#[tokio::test]
async fn resize_changes_stty_size_and_delivers_sigwinch() {
    let reg = Registry::new(limits());
    let s = reg.spawn("p", bash()).await.unwrap();
    recv_until(&s, "PROMPT$ ").await;
    s.send(b"stty size; trap 'echo got-WINCH' WINCH\n")
        .await
        .unwrap();
    recv_until(&s, "40 120").await;
    s.resize(TermSize {
        cols: 132,
        rows: 50,
    })
    .await
    .unwrap();
    recv_until(&s, "got-WINCH").await;
    s.send(b"stty size\n").await.unwrap();
    recv_until(&s, "50 132").await;
    assert_eq!(
        s.summary().size,
        TermSize {
            cols: 132,
            rows: 50
        }
    );
    reg.shutdown().await;
}

#[tokio::test]
async fn python_repl_round_trip() {
    let reg = Registry::new(limits());
    let s = reg
        .spawn("p", request(&["python3", "-q", "-i"]))
        .await
        .unwrap();
    recv_until(&s, ">>> ").await;
    s.send(b"print(6 * 7)\n").await.unwrap();
    recv_until(&s, "42").await;
    reg.shutdown().await;
}

#[tokio::test]
async fn silent_prompt_is_answered_by_send() {
    let reg = Registry::new(limits());
    let s = reg.spawn("p", bash()).await.unwrap();
    recv_until(&s, "PROMPT$ ").await;
    s.send(b"read -s -p 'pw: ' PW; echo; echo \"len=${#PW}\"\n")
        .await
        .unwrap();
    recv_until(&s, "pw: ").await;
    s.send(b"hunter22\n").await.unwrap();
    let out = recv_until(&s, "len=8").await;
    // the terminal did not echo the secret
    assert!(!out.contains("hunter22"), "{out:?}");
    reg.shutdown().await;
}

#[tokio::test]
async fn kill_leaves_no_process_of_the_session() {
    let reg = Registry::new(limits());
    let s = reg.spawn("p", bash()).await.unwrap();
    let sid = s.leader();
    recv_until(&s, "PROMPT$ ").await;
    // a background job (its own group), a subshell job, and a job ignoring SIGHUP and SIGTERM
    s.send(b"sleep 1000 & (sleep 1001; true) & (trap '' HUP TERM; sleep 1002) &\n")
        .await
        .unwrap();
    eventually("three sleeps", || {
        live_in(sid).iter().filter(|p| p.comm == "sleep").count() == 3
    })
    .await;
    let groups: HashSet<i32> = live_in(sid).iter().map(|p| p.pgrp).collect();
    assert!(groups.len() >= 3, "job control gives each job a group");
    let code = reg.kill("p", s.id(), Signal::SIGTERM, true).await.unwrap();
    assert!(code.is_some());
    assert!(live_in(sid).is_empty(), "{:?}", live_in(sid));
    assert!(procs().iter().all(|p| p.pid != sid || p.state == 'Z'));
    for g in groups {
        assert!(
            procs().iter().all(|p| p.pgrp != g || p.state == 'Z'),
            "group {g} survived"
        );
    }
    // the exit status is kept for a final read
    let out = s.recv(Duration::from_millis(0), 65536).await;
    assert_eq!(out.ended, Some(code));
    assert!(reg.get("p", s.id()).is_ok());
    reg.shutdown().await;
}

#[tokio::test]
async fn signal_without_close_reaches_the_foreground_job() {
    let reg = Registry::new(limits());
    let s = reg.spawn("p", bash()).await.unwrap();
    let sid = s.leader();
    recv_until(&s, "PROMPT$ ").await;
    s.send(b"sleep 100; echo after-$((3*3))\n").await.unwrap();
    eventually("sleep starts", || {
        live_in(sid).iter().any(|p| p.comm == "sleep")
    })
    .await;
    let code = reg.kill("p", s.id(), Signal::SIGINT, false).await.unwrap();
    assert_eq!(code, None);
    // SIGINT ends the job; the interactive shell survives it
    s.send(b"echo still-$((1+1))\n").await.unwrap();
    recv_until(&s, "still-2").await;
    assert!(!s.has_ended());
    reg.shutdown().await;
}

#[tokio::test]
async fn flood_stays_bounded_and_reports_lost_bytes() {
    let reg = Registry::new(SessionLimits {
        buffer_bytes: 4096,
        ..limits()
    });
    let s = reg
        .spawn("p", request(&["sh", "-c", "yes | head -c 10000000"]))
        .await
        .unwrap();
    let mut read = 0u64;
    let mut dropped = 0u64;
    let mut first = None;
    let deadline = tokio::time::Instant::now() + PATIENCE * 3;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "flood never ended");
        let r = s.recv(Duration::from_secs(1), 65536).await;
        if r.dropped > 0 && first.is_none() {
            first = Some(r.render(s.id()));
        }
        read += r.bytes.len() as u64;
        dropped += r.dropped;
        assert!(r.bytes.len() <= 4096);
        if r.ended.is_some() {
            break;
        }
        // let the ring overflow between reads
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sum = s.summary();
    // the PTY turns each "y\n" into "y\r\n"
    assert_eq!(sum.produced, 15_000_000);
    assert_eq!(sum.dropped, dropped);
    assert_eq!(read + dropped, sum.produced);
    assert!(dropped > 0);
    let first = first.unwrap();
    let line = first.lines().next().unwrap();
    assert!(
        line.starts_with('[') && line.ends_with(" bytes dropped]"),
        "{line:?}"
    );
    reg.shutdown().await;
}

#[tokio::test]
async fn capacity_is_checked_before_spawning() {
    let reg = Registry::new(SessionLimits {
        max_sessions: 2,
        ..limits()
    });
    let me = std::process::id() as i32;
    let children = || {
        procs()
            .iter()
            .filter(|p| p.ppid == me && p.state != 'Z')
            .count()
    };
    let a = reg.spawn("p", request(&["cat"])).await.unwrap();
    let _b = reg.spawn("q", request(&["cat"])).await.unwrap();
    let before = children();
    let err = reg.spawn("p", request(&["cat"])).await.unwrap_err();
    assert_eq!(
        err.render(),
        "[ERROR: Busy: session limit reached (2); close idle sessions first]"
    );
    assert_eq!(children(), before, "a refused spawn started nothing");
    // closing one frees its slot even though it stays listed for a final read
    reg.kill("p", a.id(), Signal::SIGTERM, true).await.unwrap();
    let c = reg.spawn("p", request(&["cat"])).await.unwrap();
    assert_eq!(reg.list("p").len(), 2);
    assert_eq!(reg.list("p")[1].id, c.id());
    reg.shutdown().await;
}

#[tokio::test]
async fn principals_cannot_see_each_others_sessions() {
    let reg = Registry::new(limits());
    let s = reg.spawn("alice", request(&["cat"])).await.unwrap();
    let theirs = reg.get("bob", s.id()).unwrap_err();
    let unknown = reg
        .get("bob", "sh-00000000000000000000000000000000")
        .unwrap_err();
    assert_eq!(
        theirs.render(),
        format!("[ERROR: SessionNotFound: no such session: {}]", s.id())
    );
    assert_eq!(
        unknown.render(),
        "[ERROR: SessionNotFound: no such session: sh-00000000000000000000000000000000]"
    );
    assert!(reg.list("bob").is_empty());
    assert!(
        reg.kill("bob", s.id(), Signal::SIGKILL, true)
            .await
            .is_err()
    );
    assert!(!s.has_ended());
    let mine = reg.list("alice");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, s.id());
    assert_eq!(mine[0].kind, SessionKind::Local);
    assert_eq!(mine[0].title, "cat");
    reg.shutdown().await;
}

#[tokio::test]
async fn idle_sessions_are_reaped_in_the_background() {
    let reg = Registry::new(SessionLimits {
        idle_timeout: Duration::from_millis(300),
        ..limits()
    });
    let s = reg.spawn("p", request(&["cat"])).await.unwrap();
    let sid = s.leader();
    let id = s.id().to_string();
    drop(s);
    eventually("idle session forgotten", || reg.get("p", &id).is_err()).await;
    eventually("its processes gone", || live_in(sid).is_empty()).await;
    reg.shutdown().await;
}

#[tokio::test]
async fn output_counts_as_activity_but_lifetime_is_a_hard_cap() {
    let reg = Registry::new(SessionLimits {
        idle_timeout: Duration::from_millis(300),
        max_lifetime: Duration::from_millis(1500),
        ..limits()
    });
    // prints every 50 ms: never idle by output, so only the lifetime can end it
    let s = reg
        .spawn(
            "p",
            request(&["sh", "-c", "while :; do echo tick; sleep 0.05; done"]),
        )
        .await
        .unwrap();
    let sid = s.leader();
    recv_until(&s, "tick").await;
    let out = recv_until(&s, "ended").await;
    assert!(
        out.contains(&format!("[session {} ended", s.id())),
        "{out:?}"
    );
    assert!(live_in(sid).is_empty());
    reg.shutdown().await;
}

#[tokio::test]
async fn concurrent_senders_and_a_reader_share_one_session() {
    let reg = Registry::new(limits());
    let s: Arc<Session> = reg.spawn("p", request(&["cat"])).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for j in 0..5 {
                s.send(format!("line-{i}-{j}\n").as_bytes()).await.unwrap();
            }
        }));
    }
    let reader = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            let mut seen = String::new();
            let deadline = tokio::time::Instant::now() + PATIENCE;
            // Until every line has arrived whole once. Counting `line-` (80: the terminal's
            // echo and cat's output of each) waited forever when an echo landed inside the
            // `line-` of another line's output and split it.
            let whole = |seen: &str| {
                (0..8).all(|i| (0..5).all(|j| seen.contains(&format!("line-{i}-{j}\r\n"))))
            };
            while !whole(&seen) {
                assert!(tokio::time::Instant::now() < deadline, "{seen:?}");
                seen.push_str(&s.recv(Duration::from_secs(1), 65536).await.render(s.id()));
            }
            seen
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    let seen = reader.await.unwrap();
    // Every line arrived whole at least once. Twice is usual (echo and cat), but the
    // terminal's echo of one sender's input may land inside cat's output of another line.
    for i in 0..8 {
        for j in 0..5 {
            let n = seen.matches(&format!("line-{i}-{j}\r\n")).count();
            assert!((1..=2).contains(&n), "line-{i}-{j}: {n} in {seen:?}");
        }
    }
    reg.shutdown().await;
}

#[tokio::test]
async fn shutdown_leaves_nothing_running() {
    let reg = Registry::new(limits());
    let a = reg.spawn("p", bash()).await.unwrap();
    let b = reg
        .spawn("q", request(&["sh", "-c", "trap '' TERM HUP; sleep 1000"]))
        .await
        .unwrap();
    let sids = [a.leader(), b.leader()];
    recv_until(&a, "PROMPT$ ").await;
    a.send(b"sleep 1000 &\n").await.unwrap();
    eventually("job started", || {
        live_in(sids[0]).iter().any(|p| p.comm == "sleep")
    })
    .await;
    reg.shutdown().await;
    for sid in sids {
        assert!(live_in(sid).is_empty(), "{:?}", live_in(sid));
    }
    assert!(reg.is_empty());
    let err = reg.spawn("p", request(&["cat"])).await.unwrap_err();
    assert_eq!(err.render(), "[ERROR: Busy: the server is shutting down]");
}

#[tokio::test]
async fn spawn_failures_leave_no_slot_taken() {
    let reg = Registry::new(SessionLimits {
        max_sessions: 1,
        ..limits()
    });
    let err = reg
        .spawn("p", request(&["/nonexistent/program"]))
        .await
        .unwrap_err();
    assert!(err.render().starts_with("[ERROR: NotFound: "), "{err}");
    let mut bad_cwd = request(&["cat"]);
    bad_cwd.cwd = Some("/nonexistent/dir".into());
    assert_eq!(
        reg.spawn("p", bad_cwd).await.unwrap_err().render(),
        "[ERROR: NotFound: no such directory: /nonexistent/dir]"
    );
    assert_eq!(
        reg.spawn("p", request(&[])).await.unwrap_err().render(),
        "[ERROR: InvalidArgument: empty command]"
    );
    // the one slot is still free
    reg.spawn("p", request(&["cat"])).await.unwrap();
    reg.shutdown().await;
}

#[tokio::test]
async fn cwd_and_environment_reach_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::new(limits());
    let mut req = request(&["sh", "-c", "pwd; echo \"term=$TERM\"; exec cat"]);
    req.cwd = Some(dir.path().to_path_buf());
    let s = reg.spawn("p", req).await.unwrap();
    let canon = dir.path().canonicalize().unwrap();
    let out = recv_until(&s, "term=xterm-256color").await;
    assert!(
        out.starts_with(&format!("{}\r\n", canon.display())),
        "{out:?}"
    );
    reg.shutdown().await;
}
