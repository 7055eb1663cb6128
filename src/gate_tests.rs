//! The gate's steps on a paused clock: queue wait (`Busy`), cancellation, the backstop after a
//! call's deadline, a start record that cannot be written, and the judged probe handed to the
//! work. Each test reads the audit file the gate wrote.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::audit::AuditConfig;
use crate::policy::{Mode, Payload};

const TIMES: GateTimes = GateTimes {
    queue_wait: Duration::from_secs(3),
    backstop_grace: Duration::from_secs(5),
};

fn gate(dir: &std::path::Path, max_concurrent: usize, mode: Mode) -> Arc<Gate> {
    let policy = Policy::new(mode, "", "").expect("valid policy"); // ok: test
    let audit = Arc::new(AuditLog::open(AuditConfig::new(dir.join("audit.jsonl"))));
    Arc::new(
        Gate::new(
            policy,
            Redactor::new(),
            audit,
            Arc::new(Metrics::new()),
            max_concurrent,
            None,
        )
        .with_times(TIMES),
    )
}

fn caller() -> Caller {
    Caller {
        request_id: "7".into(),
        client_id: String::new(),
        principal: "stdio".into(),
        ceiling: crate::policy::Ceiling::NONE,
    }
}

fn shell_call(command: &str) -> Plan {
    Plan::new(
        "shell_exec",
        PolicyClass::Shell,
        vec![("command", json!(command))],
    )
    .probe(Probe::new("shell_exec", PolicyClass::Shell).shell(command))
}

/// Records in the audit file, as parsed JSON.
fn records(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON")) // ok: test
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_call_without_a_free_slot_is_busy_after_the_queue_wait() {
    let dir = tempfile::tempdir().expect("tmp"); // ok: test
    let gate = gate(dir.path(), 1, Mode::Open);
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let first = {
        let gate = gate.clone();
        tokio::spawn(async move {
            let call = shell_call("true").runs().work(|_| async move {
                let _ = held.await;
                Ok(Output::text("first"))
            });
            gate.call(&caller(), call).await
        })
    };
    // Let the first call take the only slot.
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let second = shell_call("true").runs().work(move |_| async move {
        flag.store(true, Ordering::SeqCst);
        Ok(Output::text("second"))
    });
    let reply = gate.call(&caller(), second).await;
    assert_eq!(started.elapsed(), TIMES.queue_wait);
    assert_eq!(reply.outcome, Outcome::Busy);
    assert_eq!(
        reply.text,
        "[ERROR: Busy: 1 calls already running; none finished within 3s (RELAY_SHELL_MAX_CONCURRENT)]"
    );
    assert!(!ran.load(Ordering::SeqCst), "a busy call runs nothing");
    let _ = release.send(());
    let first = first.await.expect("first call"); // ok: test
    assert_eq!(first.text, "first");
    // Busy call: no start record, one completion; first call: start + completion.
    let recs = records(dir.path());
    assert_eq!(recs.len(), 3, "{recs:?}");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_stops_its_work_and_is_recorded() {
    let dir = tempfile::tempdir().expect("tmp"); // ok: test
    let gate = gate(dir.path(), 4, Mode::Open);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        trigger.cancel();
    });
    let call = shell_call("sleep 100")
        .runs()
        .deadline(Duration::from_secs(100))
        .work(|_| std::future::pending());
    let reply = gate.call_cancellable(&caller(), call, cancel).await;
    assert_eq!(reply.outcome, Outcome::Cancelled);
    assert_eq!(reply.text, "[CANCELLED]");
    let recs = records(dir.path());
    assert_eq!(recs.len(), 2, "start and completion: {recs:?}");
    assert_eq!(recs[1]["exit_code"], serde_json::Value::Null);
    assert_eq!(recs[1]["action"], "cancelled");
    assert_eq!(recs[1]["denied"], false);
    assert_eq!(recs[1]["output_len"], 11);
    assert_eq!(
        recs[1]["output_sha256"],
        "451f44c7778f306b3034ccee228baec5e0224ec298021232639d56d35ae5168a"
    );
}

#[tokio::test(start_paused = true)]
async fn the_backstop_ends_work_that_overruns_its_deadline() {
    let dir = tempfile::tempdir().expect("tmp"); // ok: test
    let gate = gate(dir.path(), 4, Mode::Open);
    let started = tokio::time::Instant::now();
    let call = shell_call("true")
        .runs()
        .deadline(Duration::from_secs(2))
        .work(|_| std::future::pending());
    let reply = gate.call(&caller(), call).await;
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(2) + TIMES.backstop_grace
    );
    assert_eq!(reply.outcome, Outcome::Timeout);
    assert_eq!(reply.text, "[TIMEOUT after 2s]");
    assert!(reply.timed_out);
}

#[tokio::test]
async fn a_start_record_that_cannot_be_written_stops_the_call_before_it_runs() {
    let dir = tempfile::tempdir().expect("tmp"); // ok: test
    let gate = gate(dir.path(), 4, Mode::Open);
    // The log file is replaced by a directory: the sink notices, cannot reopen it, and every
    // write fails from now on.
    let log = dir.path().join("audit.jsonl");
    let _ = std::fs::remove_file(&log);
    std::fs::create_dir(&log).expect("mkdir"); // ok: test
    std::thread::sleep(Duration::from_millis(5));
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let call = shell_call("true").runs().work(move |_| async move {
        flag.store(true, Ordering::SeqCst);
        Ok(Output::text("ran"))
    });
    let reply = gate.call(&caller(), call).await;
    assert!(!ran.load(Ordering::SeqCst), "the work never started");
    assert_eq!(reply.outcome, Outcome::Error);
    assert!(
        reply.text.starts_with("[ERROR: AuditUnavailable: "),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn the_work_receives_the_probe_the_policy_judged() {
    let dir = tempfile::tempdir().expect("tmp"); // ok: test
    let gate = gate(dir.path(), 4, Mode::Readonly);
    let probe = Probe::new("shell_exec", PolicyClass::Shell)
        .shell("grep x")
        .stdin("rm -rf /");
    let call = Plan::new("shell_exec", PolicyClass::Shell, vec![])
        .probe(probe)
        .runs()
        .work(|judged| async move {
            let Payload::Shell(text) = &judged.probe.payload else {
                return Ok(Output::text("no shell payload"));
            };
            Ok(Output::text(format!(
                "{text} < {} (tier {})",
                judged.probe.stdin.as_deref().unwrap_or_default(),
                judged.tier.as_u8()
            )))
        });
    let reply = gate.call(&caller(), call).await;
    // Standard input given to a reader is data: the call stays tier 0 in readonly mode.
    assert_eq!(reply.text, "grep x < rm -rf / (tier 0)");
}

#[tokio::test]
async fn a_refused_call_never_builds_its_work() {
    let dir = tempfile::tempdir().expect("tmp"); // ok: test
    let gate = gate(dir.path(), 4, Mode::Readonly);
    let built = Arc::new(AtomicBool::new(false));
    let flag = built.clone();
    let call = shell_call("touch /tmp/x").runs().work(move |_| {
        flag.store(true, Ordering::SeqCst);
        async { Ok(Output::text("ran")) }
    });
    let reply = gate.call(&caller(), call).await;
    assert_eq!(reply.outcome, Outcome::Denied);
    assert_eq!(
        reply.text,
        "[DENIED tier 1 (REVERSIBLE): readonly mode refuses Tier 1 (REVERSIBLE)]"
    );
    assert!(!built.load(Ordering::SeqCst));
    let recs = records(dir.path());
    assert_eq!(recs.len(), 1, "only the completion record: {recs:?}");
    assert_eq!(recs[0]["denied"], true);
}

/// A gate whose confiner applies the profiles on a kernel that supports none of them (the
/// choice and the records are the gate's; nothing is launched).
fn confining_gate(dir: &std::path::Path, mode: Mode) -> Gate {
    let policy = Policy::new(mode, "", "").expect("valid policy"); // ok: test
    let audit = Arc::new(AuditLog::open(AuditConfig::new(dir.join("audit.jsonl"))));
    let confiner = Confiner::with_support(
        confine::Setting::Auto,
        confine::Network::Any,
        vec![],
        confine::Support::default(),
    );
    Gate::new(
        policy,
        Redactor::new(),
        audit,
        Arc::new(Metrics::new()),
        4,
        None,
    )
    .with_confiner(Arc::new(confiner))
}

/// The profile the work was handed, as its output.
fn profile_of(plan: Plan) -> ToolCall {
    plan.runs().work(|judged| async move {
        Ok(Output::text(
            judged
                .confinement
                .map_or("no profile", |c| c.profile.as_str()),
        ))
    })
}

#[tokio::test]
async fn the_gate_chooses_the_profile_from_the_decision_under_the_callers_ceiling() {
    let dir = tempfile::tempdir().expect("tmp"); // ok: test
    let gate = confining_gate(dir.path(), Mode::Open);
    let readonly_token = Caller {
        ceiling: crate::policy::Ceiling::mode(Some(Mode::Readonly)),
        ..caller()
    };
    let guarded_token = Caller {
        ceiling: crate::policy::Ceiling::mode(Some(Mode::Guarded)),
        ..caller()
    };
    let run = |who: &Caller, plan| {
        let gate = &gate;
        let who = who.clone();
        async move { gate.call(&who, profile_of(plan)).await.text }
    };
    // Open mode runs unconfined; a token's ceiling narrows the mode and so the profile.
    assert_eq!(run(&caller(), shell_call("ls").confined()).await, "none");
    assert_eq!(
        run(&readonly_token, shell_call("ls").confined()).await,
        "read-only"
    );
    assert_eq!(
        run(&guarded_token, shell_call("touch x").confined()).await,
        "reversible"
    );
    // A plan that starts no local process is handed nothing, whatever the mode.
    assert_eq!(run(&readonly_token, shell_call("ls")).await, "no profile");
    // Refused: nothing ran, so nothing was confined.
    let denied = run(&readonly_token, shell_call("touch x").confined()).await;
    assert!(denied.starts_with("[DENIED"), "{denied}");
    let completions: Vec<String> = records(dir.path())
        .iter()
        .filter(|r| r["event"].is_null())
        .map(|r| r["confinement"].as_str().unwrap_or("missing").to_string())
        .collect();
    // The label says this kernel enforces nothing.
    assert_eq!(
        completions,
        vec![
            "none",
            "read-only (unenforced)",
            "reversible (unenforced)",
            "none",
            "none"
        ]
    );
    let starts: Vec<serde_json::Value> = records(dir.path())
        .into_iter()
        .filter(|r| r["event"] == "start")
        .map(|r| r["confinement"].clone())
        .collect();
    assert_eq!(starts.len(), 4, "a start record for each call that ran");
    assert_eq!(starts[1], "read-only (unenforced)");
}

#[tokio::test]
async fn a_work_reports_the_profile_that_applied() {
    let dir = tempfile::tempdir().expect("tmp"); // ok: test
    let gate = confining_gate(dir.path(), Mode::Readonly);
    let call = shell_call("ls").runs().work(|judged| async move {
        judged.applied.report("read-only (the session's)");
        Err(ToolError::invalid("the session is gone"))
    });
    let reply = gate.call(&caller(), call).await;
    assert_eq!(reply.outcome, Outcome::Error);
    let recs = records(dir.path());
    let last = recs.last().expect("a completion record"); // ok: test
    assert_eq!(last["confinement"], "read-only (the session's)");
}
