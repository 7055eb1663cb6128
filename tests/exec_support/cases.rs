//! `exec::run` against real processes: output, exit codes, budgets, stdin, deadlines and the
//! process group left behind. Included twice: by `exec_run.rs` (unconfined children, the
//! `posix_spawn` path) and by `confine_exec.rs` (every child confined, the `confine::launch`
//! path); the including file provides `confinement()`.

use std::path::PathBuf;
use std::time::Duration;

use relay_shell::error::{ErrorKind, ToolError};
use relay_shell::exec::{ExecOutcome, ExecRequest, Program, run};

use super::confinement;

fn shell(text: &str) -> ExecRequest {
    request(Program::Shell(text.to_string()))
}

fn request(program: Program) -> ExecRequest {
    ExecRequest {
        program,
        cwd: None,
        stdin: None,
        env: Vec::new(),
        timeout: Duration::from_secs(30),
        capture_limit: 1 << 20,
        merge_stderr: true,
        confinement: confinement(),
    }
}

async fn ok(req: ExecRequest) -> ExecOutcome {
    match run(req).await {
        Ok(outcome) => outcome,
        Err(e) => panic!("run failed: {e}"),
    }
}

fn outcome(output: &[u8], exit_code: i32) -> ExecOutcome {
    ExecOutcome {
        output: output.to_vec(),
        total_bytes: output.len() as u64,
        exit_code: Some(exit_code),
        timed_out: false,
        left_running: Default::default(),
        hold: Default::default(),
    }
}

/// Pids of processes in group `pgid` that are not zombies, read from `/proc/*/stat`.
fn live_members(pgid: i32) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" {
            pids.push(pid);
        }
    }
    pids
}

/// Whether `pid` is a running (non-zombie) process.
fn is_running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// Parse "PGID BGPID\n" printed by a test command.
fn two_pids(output: &[u8]) -> (i32, i32) {
    let text = String::from_utf8_lossy(output);
    let pids: Vec<i32> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "expected two pids in {text:?}");
    (pids[0], pids[1])
}

#[tokio::test]
async fn echo_and_exit_codes() {
    assert_eq!(ok(shell("echo hello")).await, outcome(b"hello\n", 0));
    assert_eq!(ok(shell("exit 3")).await, outcome(b"", 3));
    assert_eq!(
        ok(shell("echo bye; kill -9 $$")).await,
        outcome(b"bye\n", -9)
    );
    assert_eq!(ok(shell("kill -TERM $$")).await, outcome(b"", -15));
}

#[tokio::test]
async fn argv_runs_without_a_shell() {
    let argv = ["printf", "%s|", "a b", "$HOME", "*"];
    let req = request(Program::Argv(argv.iter().map(|s| s.to_string()).collect()));
    assert_eq!(ok(req).await, outcome(b"a b|$HOME|*|", 0));
}

#[tokio::test]
async fn empty_argv_is_invalid() {
    let err = run(request(Program::Argv(Vec::new()))).await.err();
    assert_eq!(err, Some(ToolError::invalid("empty command")));
}

#[tokio::test]
async fn missing_program_is_not_found() {
    let req = request(Program::Argv(vec!["/nonexistent/prog".into(), "x".into()]));
    assert_eq!(
        run(req).await.err(),
        Some(ToolError::new(
            ErrorKind::NotFound,
            "program /nonexistent/prog: No such file or directory (os error 2)"
        ))
    );
    let req = request(Program::Argv(vec!["no-such-program-relay-shell".into()]));
    assert_eq!(
        run(req).await.err().map(|e| e.kind),
        Some(ErrorKind::NotFound)
    );
}

#[tokio::test]
async fn non_executable_program_is_permission_denied() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n")?;
    let name = script.display().to_string();
    let err = run(request(Program::Argv(vec![name.clone()]))).await.err();
    assert_eq!(
        err,
        Some(ToolError::new(
            ErrorKind::PermissionDenied,
            format!("program {name}: Permission denied (os error 13)")
        ))
    );
    Ok(())
}

#[tokio::test]
async fn cwd_is_applied_and_checked() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let real = std::fs::canonicalize(dir.path())?;
    let mut req = shell("pwd -P");
    req.cwd = Some(real.clone());
    let expected = format!("{}\n", real.display());
    assert_eq!(ok(req).await, outcome(expected.as_bytes(), 0));

    let mut req = shell("pwd");
    req.cwd = Some(PathBuf::from("/nope/relay-shell"));
    assert_eq!(
        run(req).await.err().map(|e| e.render()),
        Some(
            "[ERROR: NotFound: cwd /nope/relay-shell: No such file or directory (os error 2)]"
                .to_string()
        )
    );

    let file = real.join("file");
    std::fs::write(&file, "x")?;
    let mut req = shell("pwd");
    req.cwd = Some(file.clone());
    assert_eq!(
        run(req).await.err(),
        Some(ToolError::invalid(format!(
            "cwd {}: Not a directory",
            file.display()
        )))
    );
    Ok(())
}

#[tokio::test]
async fn env_overlay_sets_removes_and_hides_server_names() {
    let mut req = shell(
        r#"echo "$FOO-${HOME-unset}-${RELAY_SHELL_X-absent}-$DEBIAN_FRONTEND-$GIT_TERMINAL_PROMPT""#,
    );
    req.env = vec![
        ("FOO".into(), Some("bar baz".into())),
        ("HOME".into(), None),
        ("RELAY_SHELL_X".into(), Some("leak".into())),
    ];
    assert_eq!(
        ok(req).await,
        outcome(b"bar baz-unset-absent-noninteractive-0\n", 0)
    );
}

#[tokio::test]
async fn child_environment_has_no_server_variables() {
    let out = ok(request(Program::Argv(vec!["env".into()]))).await;
    let text = String::from_utf8_lossy(&out.output);
    assert_eq!(out.exit_code, Some(0));
    assert!(text.lines().any(|l| l == "DEBIAN_FRONTEND=noninteractive"));
    assert!(text.lines().any(|l| l == "GIT_TERMINAL_PROMPT=0"));
    assert!(text.lines().any(|l| l.starts_with("PATH=")));
    assert!(!text.contains("RELAY_SHELL_"), "{text}");
}

#[tokio::test]
async fn invalid_overlay_is_rejected() {
    let mut req = shell("true");
    req.env = vec![("A=B".into(), Some("x".into()))];
    assert_eq!(
        run(req).await.err().map(|e| e.kind),
        Some(ErrorKind::InvalidArgument)
    );
}

#[tokio::test]
async fn binary_output_is_carried_as_bytes() {
    let out = ok(shell(r"printf '\377\376abc\000z'")).await;
    assert_eq!(out, outcome(b"\xff\xfeabc\x00z", 0));
}

#[tokio::test]
async fn capture_limit_keeps_prefix_and_counts_everything() {
    let mut req = shell("head -c 5000000 /dev/zero");
    req.capture_limit = 4096;
    let out = ok(req).await;
    assert_eq!(
        out,
        ExecOutcome {
            output: vec![0u8; 4096],
            total_bytes: 5_000_000,
            exit_code: Some(0),
            timed_out: false,
            left_running: Default::default(),
            hold: Default::default(),
        }
    );
}

#[tokio::test]
async fn merged_budget_is_shared_in_write_order() {
    let mut req =
        shell("head -c 3000 /dev/zero | tr '\\0' o; head -c 3000 /dev/zero | tr '\\0' e >&2");
    req.capture_limit = 4096;
    let mut expected = vec![b'o'; 3000];
    expected.extend(vec![b'e'; 1096]);
    assert_eq!(
        ok(req).await,
        ExecOutcome {
            output: expected,
            total_bytes: 6000,
            exit_code: Some(0),
            timed_out: false,
            left_running: Default::default(),
            hold: Default::default(),
        }
    );
}

#[tokio::test]
async fn separate_streams_share_one_budget() {
    let mut req =
        shell("head -c 3000 /dev/zero | tr '\\0' o; head -c 3000 /dev/zero | tr '\\0' e >&2");
    req.capture_limit = 4096;
    req.merge_stderr = false;
    let out = ok(req).await;
    assert_eq!(
        (
            out.total_bytes,
            out.exit_code,
            out.timed_out,
            out.output.len()
        ),
        (6000, Some(0), false, 4096)
    );
    // Which stream reached the budget first depends on scheduling; the shape does not:
    // kept stdout bytes, then kept stderr bytes, each at most what the stream wrote.
    let stdout_kept = out.output.iter().take_while(|b| **b == b'o').count();
    assert!((1096..=3000).contains(&stdout_kept), "{stdout_kept}");
    assert!(out.output[stdout_kept..].iter().all(|b| *b == b'e'));
}

#[tokio::test]
async fn merge_keeps_write_order() {
    let out = ok(shell("echo a; echo b >&2; echo c; echo d >&2")).await;
    assert_eq!(out, outcome(b"a\nb\nc\nd\n", 0));
}

#[tokio::test]
async fn unmerged_output_is_stdout_then_stderr() {
    let mut req = shell("echo a; echo b >&2; echo c; echo d >&2");
    req.merge_stderr = false;
    assert_eq!(ok(req).await, outcome(b"a\nc\nb\nd\n", 0));
}

#[tokio::test]
async fn large_stdin_round_trips_without_deadlock() {
    let input: Vec<u8> = (0..10_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut req = request(Program::Argv(vec!["cat".into()]));
    req.stdin = Some(input.clone());
    req.capture_limit = 16 << 20;
    assert_eq!(ok(req).await, outcome(&input, 0));
}

#[tokio::test]
async fn stdin_ignored_by_child_is_not_an_error() {
    let mut req = shell("exit 4");
    req.stdin = Some(vec![b'x'; 10_000_000]);
    assert_eq!(ok(req).await, outcome(b"", 4));
}

#[tokio::test]
async fn absent_stdin_is_empty() {
    let req = request(Program::Argv(vec!["cat".into()]));
    assert_eq!(ok(req).await, outcome(b"", 0));
}

#[tokio::test]
async fn timeout_kills_the_whole_group() {
    let mut req = shell("sleep 300 & echo $$ $!; sleep 30");
    req.timeout = Duration::from_secs(1);
    let out = ok(req).await;
    assert!(out.timed_out);
    assert_eq!(out.exit_code, None);
    let (pgid, background) = two_pids(&out.output);
    assert_eq!(live_members(pgid), Vec::<i32>::new());
    assert!(!is_running(background));
}

#[tokio::test]
async fn timeout_escalates_to_sigkill_when_term_is_ignored() {
    // `trap '' TERM` is inherited by the children as an ignored signal.
    let mut req = shell("trap '' TERM; sleep 300 & echo $$ $!; sleep 30");
    req.timeout = Duration::from_secs(1);
    let out = ok(req).await;
    assert!(out.timed_out);
    let (pgid, background) = two_pids(&out.output);
    assert_eq!(live_members(pgid), Vec::<i32>::new());
    assert!(!is_running(background));
}

#[tokio::test]
async fn background_child_holding_the_pipe_runs_until_the_deadline() {
    let mut req = shell("sleep 300 & echo $$ $!");
    req.timeout = Duration::from_secs(1);
    let out = ok(req).await;
    assert!(out.timed_out);
    assert_eq!(out.exit_code, None);
    let (pgid, background) = two_pids(&out.output);
    assert_eq!(live_members(pgid), Vec::<i32>::new());
    assert!(!is_running(background));
}

#[tokio::test]
async fn background_child_that_released_the_pipes_is_left_alone() {
    let out = ok(shell("sleep 300 </dev/null >/dev/null 2>&1 & echo $$ $!")).await;
    assert_eq!((out.exit_code, out.timed_out), (Some(0), false));
    let (_, background) = two_pids(&out.output);
    let survived = is_running(background);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(background),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert!(survived);
}

#[tokio::test]
async fn dropping_the_run_kills_the_group() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ready = dir.path().join("pids");
    let script = format!(
        "sleep 300 & echo $$ $! > {0}.tmp && mv {0}.tmp {0}; wait",
        ready.display()
    );
    let task = tokio::spawn(run(shell(&script)));
    let mut pids = None;
    for _ in 0..1000 {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            pids = Some(two_pids(text.as_bytes()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (pgid, background) = pids.ok_or_else(|| anyhow::anyhow!("child never started"))?;
    task.abort();
    assert!(task.await.is_err_and(|e| e.is_cancelled()));
    // SIGKILL was sent when the future was dropped; wait for the kernel to finish the kills.
    for _ in 0..1000 {
        if live_members(pgid).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(live_members(pgid), Vec::<i32>::new());
    assert!(!is_running(background));
    Ok(())
}

#[tokio::test]
async fn child_leads_its_own_group_without_a_terminal() {
    // /proc/<pid>/stat after the command name: state ppid pgrp session tty_nr …
    // The child leads its own process group and has no controlling terminal (tty_nr 0); it
    // leads its own session too when the test process itself has a terminal.
    let out = ok(shell(r#"echo $$; cut -d')' -f2 /proc/$$/stat"#)).await;
    let text = String::from_utf8_lossy(&out.output);
    let mut lines = text.lines();
    let pid = lines.next().unwrap_or_default().to_string();
    let fields: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(fields.get(2), Some(&pid.as_str()), "pgrp: {text}");
    assert_eq!(fields.get(4), Some(&"0"), "tty_nr: {text}");
}

#[tokio::test]
async fn oversized_argument_is_spawn_failed() {
    let req = request(Program::Argv(vec!["true".into(), "x".repeat(200_000)]));
    assert_eq!(
        run(req).await.err(),
        Some(ToolError::new(
            ErrorKind::SpawnFailed,
            "program true: Argument list too long (os error 7)"
        ))
    );
}

#[tokio::test]
async fn nul_in_command_is_invalid() {
    assert_eq!(
        run(shell("echo a\0b")).await.err(),
        Some(ToolError::invalid("command contains a NUL byte"))
    );
}
