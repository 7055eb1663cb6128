//! PTY sessions end to end: the built binary, driven by rmcp's client over stdio, running real
//! shells and REPLs in real PTYs.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use common::{Server, processes_in_group, start};

/// Upper bound for waiting on a condition that should hold much sooner; only reached when the
/// behaviour under test is broken.
const PATIENCE: Duration = Duration::from_secs(30);

const BASH: &str = "bash --noprofile --norc -i";

/// Start a session and return its id, checking the exact result shape.
async fn spawn(s: &Server, args: Value) -> String {
    let out = s.call("shell_spawn", args).await;
    let id = out
        .strip_prefix("session ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_default()
        .to_string();
    assert!(
        id.starts_with("sh-") && id.len() == 35,
        "unexpected spawn result {out:?}"
    );
    assert!(
        out.ends_with("); use session_recv/session_send with this id"),
        "{out:?}"
    );
    id
}

async fn bash(s: &Server) -> String {
    let id = spawn(
        s,
        json!({"command": BASH, "env_json": "{\"PS1\": \"PROMPT$ \"}"}),
    )
    .await;
    recv_until(s, &id, "PROMPT$ ").await;
    id
}

async fn send(s: &Server, id: &str, data: &str) -> String {
    s.call("session_send", json!({"session_id": id, "data": data}))
        .await
}

async fn send_raw(s: &Server, id: &str, data: &str) -> String {
    s.call(
        "session_send",
        json!({"session_id": id, "data": data, "enter": false}),
    )
    .await
}

/// Read until `needle` shows up; returns everything read.
async fn recv_until(s: &Server, id: &str, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !seen.contains(needle) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {needle:?}; got {seen:?}"
        );
        seen.push_str(
            &s.call("session_recv", json!({"session_id": id, "timeout": 1}))
                .await,
        );
    }
    seen
}

/// `session_list` parsed.
async fn list(s: &Server) -> Vec<Value> {
    let out = s.call("session_list", json!({})).await;
    serde_json::from_str::<Value>(&out)
        .unwrap_or_else(|e| panic!("session_list is JSON ({e}): {out:?}"))
        .as_array()
        .cloned()
        .unwrap()
}

/// A number printed by the shell after `key=`.
fn number_after(text: &str, key: &str) -> i32 {
    let start = text
        .rfind(key)
        .unwrap_or_else(|| panic!("{key} in {text:?}"))
        + key.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn bash_round_trip_send_counts_bytes_and_exit_is_reported() {
    let s = start(&[]).await;
    let id = bash(&s).await;
    // "é" is two bytes: the count is in bytes, newline included
    assert_eq!(
        send(&s, &id, "echo \"é-$((40+2))\"").await,
        format!("sent 20 bytes to {id}")
    );
    recv_until(&s, &id, "é-42").await;
    send(&s, &id, "exit 7").await;
    let out = recv_until(&s, &id, "ended").await;
    assert!(
        out.ends_with(&format!("\n[session {id} ended, exit=7]")),
        "{out:?}"
    );
    let raw = s.call("session_list", json!({})).await;
    let keys = [
        "id",
        "kind",
        "title",
        "size",
        "age_s",
        "idle_s",
        "buffered",
        "produced",
        "dropped",
        "closed",
        "exit_code",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| raw.find(&format!("\n    \"{k}\": ")).expect(k))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{raw}");
    let rows = list(&s).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.as_object().unwrap().len(), keys.len());
    assert_eq!(row["id"], json!(id));
    assert_eq!(row["kind"], json!("local"));
    assert_eq!(row["title"], json!(BASH));
    assert_eq!(row["size"], json!("120x40"));
    assert_eq!(row["closed"], json!(true));
    assert_eq!(row["exit_code"], json!(7));
    s.stop().await;
}

#[tokio::test]
async fn python_repl_round_trip() {
    let s = start(&[]).await;
    let id = spawn(&s, json!({"command": "python3 -q -i"})).await;
    recv_until(&s, &id, ">>> ").await;
    send(&s, &id, "print(6 * 7)").await;
    recv_until(&s, &id, "42\r\n>>> ").await;
    s.stop().await;
}

#[tokio::test]
async fn stty_size_follows_resize() {
    let s = start(&[]).await;
    let id = spawn(
        &s,
        json!({"command": BASH, "cols": 100, "rows": 30, "env_json": "{\"PS1\": \"PROMPT$ \"}"}),
    )
    .await;
    recv_until(&s, &id, "PROMPT$ ").await;
    send(&s, &id, "stty size").await;
    recv_until(&s, &id, "30 100").await;
    assert_eq!(
        s.call(
            "session_resize",
            json!({"session_id": id, "cols": 132, "rows": 50})
        )
        .await,
        format!("resized {id} to 132x50")
    );
    send(&s, &id, "stty size").await;
    recv_until(&s, &id, "50 132").await;
    // values below 1 become 1; the reply names the size set (v0.5)
    assert_eq!(
        s.call(
            "session_resize",
            json!({"session_id": id, "cols": 0, "rows": -3})
        )
        .await,
        format!("resized {id} to 1x1")
    );
    assert_eq!(list(&s).await[0]["size"], json!("1x1"));
    s.stop().await;
}

#[tokio::test]
async fn ctrl_c_interrupts_the_foreground_job_and_the_shell_survives() {
    let s = start(&[]).await;
    let id = bash(&s).await;
    send(&s, &id, "sleep 100 & echo job=$!; fg").await;
    let out = recv_until(&s, &id, "sleep 100\r\n").await;
    let job = number_after(&out, "job=");
    eventually("sleep runs", || !processes_in_group(job).is_empty()).await;
    send_raw(&s, &id, "\u{3}").await;
    eventually("sleep interrupted", || processes_in_group(job).is_empty()).await;
    recv_until(&s, &id, "PROMPT$ ").await;
    send(&s, &id, "echo alive-$((2+2))").await;
    recv_until(&s, &id, "alive-4").await;
    assert_eq!(list(&s).await[0]["closed"], json!(false));
    s.stop().await;
}

#[tokio::test]
async fn a_silent_prompt_is_answered_by_send() {
    let s = start(&[]).await;
    let id = bash(&s).await;
    send(
        &s,
        &id,
        "read -s -p 'Password: ' PW; echo; echo \"len=${#PW}\"",
    )
    .await;
    recv_until(&s, &id, "Password: ").await;
    send(&s, &id, "correct horse").await;
    let out = recv_until(&s, &id, "len=13").await;
    assert!(
        !out.contains("correct horse"),
        "the secret was echoed: {out:?}"
    );
    s.stop().await;
}

/// Split a recv result into (dropped count, output bytes, ended).
fn parse_recv(id: &str, text: &str) -> (u64, usize, bool) {
    let mut body = text;
    let mut dropped = 0;
    if let Some(rest) = body.strip_prefix('[')
        && let Some((n, after)) = rest.split_once(" bytes dropped]\n")
    {
        dropped = n.parse().unwrap();
        body = after;
    }
    let end = format!("\n[session {id} ended, exit=0]");
    let ended = body.ends_with(&end);
    if ended {
        body = &body[..body.len() - end.len()];
    }
    (dropped, body.len(), ended)
}

#[tokio::test]
async fn a_flood_stays_bounded_and_reports_lost_bytes() {
    let s = start(&[("RELAY_SHELL_SESSION_BUFFER_BYTES", "4096")]).await;
    let id = spawn(&s, json!({"command": "sh -c 'yes | head -c 10000000'"})).await;
    let (mut dropped, mut read, mut saw_marker) = (0u64, 0u64, false);
    let deadline = tokio::time::Instant::now() + PATIENCE * 2;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "flood never ended");
        let out = s
            .call("session_recv", json!({"session_id": id, "timeout": 1}))
            .await;
        let (d, n, ended) = parse_recv(&id, &out);
        saw_marker |= d > 0;
        dropped += d;
        read += n as u64;
        assert!(n <= 4096, "more than the ring holds: {n}");
        if ended {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_marker);
    let row = &list(&s).await[0];
    // the terminal turns each "y\n" into "y\r\n"
    assert_eq!(row["produced"], json!(15_000_000));
    assert_eq!(row["dropped"], json!(dropped));
    assert_eq!(read + dropped, 15_000_000);
    assert_eq!(row["buffered"], json!(0));
    s.stop().await;
}

#[tokio::test]
async fn kill_leaves_no_process_of_the_session() {
    let s = start(&[]).await;
    let id = bash(&s).await;
    send(
        &s,
        &id,
        "(trap '' HUP TERM; sleep 1000) & echo leader=$$ job=$!",
    )
    .await;
    let out = recv_until(&s, &id, "job=").await;
    let (leader, job) = (number_after(&out, "leader="), number_after(&out, "job="));
    assert_ne!(leader, job, "job control puts the job in its own group");
    eventually("job runs", || !processes_in_group(job).is_empty()).await;
    assert_eq!(
        s.call("session_kill", json!({"session_id": id})).await,
        format!("killed and closed {id}")
    );
    assert_eq!(processes_in_group(leader), Vec::<i32>::new());
    assert_eq!(processes_in_group(job), Vec::<i32>::new());
    // the exit status is kept for a final read (bash dies of SIGHUP), and repeated after
    let end = format!("\n[session {id} ended, exit=-1]");
    let last = s
        .call("session_recv", json!({"session_id": id, "timeout": 0}))
        .await;
    assert!(last.ends_with(&end), "{last:?}");
    assert_eq!(
        s.call("session_recv", json!({"session_id": id, "timeout": 0}))
            .await,
        end
    );
    s.stop().await;
}

#[tokio::test]
async fn signals_by_name_and_unknown_names() {
    let s = start(&[]).await;
    let id = bash(&s).await;
    send(&s, &id, "sleep 100 & echo job=$!; fg").await;
    let out = recv_until(&s, &id, "sleep 100\r\n").await;
    let job = number_after(&out, "job=");
    eventually("sleep runs", || !processes_in_group(job).is_empty()).await;
    // without close, the signal reaches the foreground job
    assert_eq!(
        s.call(
            "session_kill",
            json!({"session_id": id, "signal_name": "sigint", "close": false})
        )
        .await,
        format!("sent SIGINT to {id}")
    );
    eventually("sleep interrupted", || processes_in_group(job).is_empty()).await;
    recv_until(&s, &id, "PROMPT$ ").await;
    assert_eq!(
        s.call(
            "session_kill",
            json!({"session_id": id, "signal_name": "_DFL", "close": true})
        )
        .await,
        "[ERROR: InvalidArgument: unknown signal: '_DFL']"
    );
    // the shell is still there
    send(&s, &id, "echo ok-$((1+1))").await;
    recv_until(&s, &id, "ok-2").await;
    s.stop().await;
}

#[tokio::test]
async fn session_limit_is_enforced_and_refusal_starts_nothing() {
    let s = start(&[("RELAY_SHELL_MAX_SESSIONS", "2")]).await;
    let a = spawn(&s, json!({"command": "cat"})).await;
    let _b = spawn(&s, json!({"command": "cat"})).await;
    assert_eq!(
        s.call("shell_spawn", json!({"command": "sleep 4242"}))
            .await,
        "[ERROR: Busy: session limit reached (2); close idle sessions first]"
    );
    let sleeping = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("cmdline")).ok())
        .any(|c| c == "sleep\x004242\x00");
    assert!(!sleeping, "a refused spawn started its program");
    s.call("session_kill", json!({"session_id": a})).await;
    spawn(&s, json!({"command": "cat"})).await;
    s.stop().await;
}

#[tokio::test]
async fn unknown_sessions_and_bad_arguments() {
    let s = start(&[]).await;
    let ghost = "sh-0123456789abcdef0123456789abcdef";
    for (tool, args) in [
        ("session_send", json!({"session_id": ghost, "data": "ls"})),
        ("session_recv", json!({"session_id": ghost})),
        (
            "session_resize",
            json!({"session_id": ghost, "cols": 80, "rows": 24}),
        ),
        ("session_kill", json!({"session_id": ghost})),
    ] {
        assert_eq!(
            s.call(tool, args).await,
            format!("[ERROR: SessionNotFound: no such session: {ghost}]"),
            "{tool}"
        );
    }
    assert_eq!(
        s.call("shell_spawn", json!({"command": "echo 'unbalanced"}))
            .await,
        "[ERROR: InvalidArgument: No closing quotation in echo 'unbalanced]"
    );
    assert_eq!(
        s.call(
            "shell_spawn",
            json!({"command": "cat", "cwd": "/nonexistent/dir"})
        )
        .await,
        "[ERROR: NotFound: no such directory: /nonexistent/dir]"
    );
    assert_eq!(s.call("session_list", json!({})).await, "[]");
    s.stop().await;
}

#[tokio::test]
async fn idle_sessions_are_reaped() {
    let s = start(&[("RELAY_SHELL_SESSION_IDLE_TIMEOUT", "10")]).await;
    let id = bash(&s).await;
    send(&s, &id, "echo leader=$$").await;
    let leader = number_after(&recv_until(&s, &id, "leader=").await, "leader=");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !list(&s).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never reaped");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eventually("its processes are gone", || {
        processes_in_group(leader).is_empty()
    })
    .await;
    assert_eq!(
        s.call("session_recv", json!({"session_id": id})).await,
        format!("[ERROR: SessionNotFound: no such session: {id}]")
    );
    s.stop().await;
}

#[tokio::test]
async fn busy_sessions_end_at_their_lifetime() {
    let s = start(&[
        ("RELAY_SHELL_SESSION_IDLE_TIMEOUT", "10"),
        ("RELAY_SHELL_SESSION_MAX_LIFETIME", "10"),
    ])
    .await;
    let id = spawn(
        &s,
        json!({"command": "sh -c 'echo leader=$$; while :; do echo tick; sleep 0.2; done'"}),
    )
    .await;
    let leader = number_after(&recv_until(&s, &id, "tick").await, "leader=");
    let out = recv_until(&s, &id, "ended").await;
    // The close sequence sends SIGHUP, then SIGTERM: the shell dies of the first one it does
    // not ignore, and a server started with SIGHUP ignored (under `nohup`) passes that on.
    let status = if sighup_ignored() { -15 } else { -1 };
    assert!(
        out.ends_with(&format!("\n[session {id} ended, exit={status}]")),
        "{out:?}"
    );
    assert!(processes_in_group(leader).is_empty());
    s.stop().await;
}

/// Whether this process ignores SIGHUP (bit 0 of `SigIgn` in `/proc/self/status`), which the
/// server and its sessions then inherit.
fn sighup_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & 1 != 0)
}

#[tokio::test]
async fn concurrent_sends_and_receives_on_one_session() {
    let s = start(&[]).await;
    let id = spawn(&s, json!({"command": "cat"})).await;
    let peer = s.client.peer().clone();
    let mut senders = Vec::new();
    for i in 0..6 {
        let peer = peer.clone();
        let id = id.clone();
        senders.push(tokio::spawn(async move {
            for j in 0..4 {
                let r = peer
                    .call_tool(common::params(
                        "session_send",
                        json!({"session_id": id, "data": format!("line-{i}-{j}")}),
                    ))
                    .await
                    .unwrap();
                // (`line-…` is an unknown program to the classifier: a tier notice follows)
                let text = common::text(&r);
                assert_eq!(
                    text.lines().next(),
                    Some(format!("sent 9 bytes to {id}").as_str())
                );
            }
        }));
    }
    let reader = {
        let peer = peer.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let mut seen = String::new();
            let deadline = tokio::time::Instant::now() + PATIENCE;
            // each line comes back twice: the terminal's echo and cat's output
            while seen.matches("line-").count() < 48 {
                assert!(tokio::time::Instant::now() < deadline, "{seen:?}");
                let r = peer
                    .call_tool(common::params(
                        "session_recv",
                        json!({"session_id": id, "timeout": 1}),
                    ))
                    .await
                    .unwrap();
                seen.push_str(&common::text(&r));
            }
            seen
        })
    };
    for t in senders {
        t.await.unwrap();
    }
    let seen = reader.await.unwrap();
    for i in 0..6 {
        for j in 0..4 {
            assert_eq!(seen.matches(&format!("line-{i}-{j}\r\n")).count(), 2);
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn session_calls_are_audited_with_the_right_tiers() {
    let s = start(&[]).await;
    let id = bash(&s).await;
    send(&s, &id, "echo audited").await;
    let returned = s
        .call("session_recv", json!({"session_id": id, "timeout": 5}))
        .await;
    assert!(!returned.is_empty());
    s.call(
        "session_resize",
        json!({"session_id": id, "cols": 90, "rows": 20}),
    )
    .await;
    s.call("session_kill", json!({"session_id": id})).await;
    let records = s.completion_records();
    let by_tool = |t: &str| -> Vec<Value> {
        records
            .iter()
            .filter(|r| r["tool"] == json!(t))
            .cloned()
            .collect()
    };
    let spawn = &by_tool("shell_spawn")[0];
    assert_eq!(spawn["args"]["command"], json!(BASH));
    assert_eq!(spawn["args"]["size"], json!("120x40"));
    let send = &by_tool("session_send")[0];
    assert_eq!(send["args"]["session_id"], json!(id));
    assert_eq!(send["args"]["data"], json!("echo audited"));
    assert_eq!(send["args"]["enter"], json!(true));
    assert_eq!(send["tier"], json!(0), "echo is read-only");
    let recvs = by_tool("session_recv");
    assert!(recvs.iter().all(|r| r["tier"] == json!(0)));
    // the last recv's record carries the hash and length of exactly what it returned
    let last = recvs.last().unwrap();
    assert_eq!(
        last["output_sha256"],
        json!(hex::encode(Sha256::digest(returned.as_bytes())))
    );
    assert_eq!(last["output_len"], json!(returned.len()));
    assert_eq!(by_tool("session_resize")[0]["args"]["cols"], json!(90));
    assert_eq!(by_tool("session_kill")[0]["args"]["signal"], json!("TERM"));
    assert_eq!(by_tool("session_kill")[0]["tier"], json!(1));
    // spawn, send, resize and kill act, so each has a start record too
    let starts: Vec<String> = s
        .audit_records()
        .into_iter()
        .filter(|r| r.get("event").is_some())
        .map(|r| r["tool"].as_str().unwrap_or_default().to_string())
        .collect();
    for t in [
        "shell_spawn",
        "session_send",
        "session_resize",
        "session_kill",
    ] {
        assert!(starts.iter().any(|s| s == t), "start record for {t}");
    }
    assert!(!starts.iter().any(|s| s == "session_recv"));
    s.stop().await;
}

#[tokio::test]
async fn stopping_the_server_ends_every_session() {
    let s = start(&[]).await;
    let id = bash(&s).await;
    send(&s, &id, "sleep 1000 & echo leader=$$ job=$!").await;
    let out = recv_until(&s, &id, "job=").await;
    let (leader, job) = (number_after(&out, "leader="), number_after(&out, "job="));
    eventually("job runs", || !processes_in_group(job).is_empty()).await;
    s.stop().await;
    eventually("the session's processes are gone", || {
        processes_in_group(leader).is_empty() && processes_in_group(job).is_empty()
    })
    .await;
}

#[tokio::test]
async fn session_tools_have_the_spec_parameters() {
    let s = start(&[]).await;
    let tools = s.client.list_all_tools().await.expect("tools/list");
    let params_of = |name: &str| -> Vec<String> {
        let t = tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        let mut names: Vec<String> = t
            .input_schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    };
    let sorted = |names: &[&str]| {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        params_of("shell_spawn"),
        sorted(&["command", "cols", "rows", "cwd", "env_json"])
    );
    assert_eq!(
        params_of("session_send"),
        sorted(&["session_id", "data", "enter"])
    );
    assert_eq!(
        params_of("session_recv"),
        sorted(&["session_id", "timeout", "max_bytes"])
    );
    assert_eq!(
        params_of("session_resize"),
        sorted(&["session_id", "cols", "rows"])
    );
    assert_eq!(
        params_of("session_kill"),
        sorted(&["session_id", "signal_name", "close"])
    );
    assert_eq!(params_of("session_list"), Vec::<String>::new());
    s.stop().await;
}
