//! A hostile client on stdio: bytes that are not JSON, JSON that is not JSON-RPC, messages out
//! of order, floods and signals. Each case gets its exact JSON-RPC answer (or none, for a
//! notification), then a normal `tools/call` must succeed. The real binary, raw pipes.
//!
//! `RELAY_SHELL_SOAK=long` makes the flood 1,000,000 requests instead of 20,000.

mod common;
mod stdio_support;

use std::io::{Read, Write};
use std::os::fd::AsFd;

use serde_json::{Value, json};

use stdio_support::{Raw, processes_with};

#[test]
fn messages_before_initialize_are_ignored_or_answered_and_serving_goes_on() {
    let mut s = Raw::start(&[]);
    // Notifications and a response before initialize: no reply, no exit.
    s.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    s.send(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#);
    s.send(br#"{"jsonrpc":"2.0","id":99,"result":{}}"#);
    s.send(br#"{"jsonrpc":"2.0","id":98,"error":{"code":1,"message":"x"}}"#);
    // A ping is answered before initialize; being the next line proves nothing else was.
    s.send(br#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#);
    let v = s.next();
    assert_eq!(v, json!({"jsonrpc": "2.0", "id": "p", "result": {}}));
    // A request other than initialize, without the metadata that would make it a session of
    // its own: rmcp's -32602 with its id.
    s.send(br#"{"jsonrpc":"2.0","id":"early","method":"tools/list"}"#);
    let v = s.next();
    assert_eq!(v["id"], json!("early"), "{v}");
    assert_eq!(v["error"]["code"], json!(-32602), "{v}");
    // A bad line before initialize is answered too.
    s.send(b"{nope");
    assert_eq!(s.next()["error"]["code"], json!(-32700));
    s.initialize();
    s.still_serves("after");
    assert!(s.finish().success());
}

#[test]
fn unparsable_lines_are_answered_minus_32700_with_the_id_when_recoverable() {
    let mut s = Raw::start(&[]);
    s.initialize();
    let mut deep = br#"{"jsonrpc":"2.0","id":6,"method":"ping","params":{"x":"#.to_vec();
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    deep.extend(std::iter::repeat_n(b']', 100_000));
    deep.extend_from_slice(b"}}");
    let mut long = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"shell_exec","arguments":{"command":""#.to_vec();
    // Longer than the default cap (8 MiB).
    long.extend(std::iter::repeat_n(b'a', 9 << 20));
    long.extend_from_slice(br#""}}}"#);
    let cases: Vec<(Vec<u8>, Value)> = vec![
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"shell_exec\",\"arguments\":{\"command\":\"echo \xff\"}}}".to_vec(),
            json!(1),
        ),
        (
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"shell_exec","arguments":{"command":"echo \ud800"}}}"#.to_vec(),
            json!(2),
        ),
        (br#"{"jsonrpc":"2.0","id":3,"method":"ping","params":{"n":NaN}}"#.to_vec(), json!(3)),
        (br#"{"jsonrpc":"2.0","id":"four","method":"ping"} garbage"#.to_vec(), json!("four")),
        (br#"{"jsonrpc":"2.0","id":5,"method":"ping""#.to_vec(), json!(5)),
        (deep, json!(6)),
        (long, json!(7)),
        (b"\xff\xfe\x00garbage".to_vec(), Value::Null),
    ];
    for (line, id) in cases {
        s.send(&line);
        let v = s.next();
        assert_eq!(
            (v["id"].clone(), v["error"]["code"].clone()),
            (id, json!(-32700)),
            "{v}"
        );
    }
    // The over-long line was discarded whole: the next line is a fresh message.
    s.still_serves("after");
    // A line longer than the cap without any id, then a good one.
    let mut nameless = vec![b' '; 9 << 20];
    nameless.extend_from_slice(b"{}");
    s.send(&nameless);
    assert_eq!(s.next()["error"]["code"], json!(-32700));
    s.still_serves("after-2");
    assert!(s.finish().success());
}

#[test]
fn malformed_json_rpc_and_bad_params_keep_the_id() {
    let mut s = Raw::start(&[]);
    s.initialize();
    let cases: Vec<(&str, Value, i64)> = vec![
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            json!(1),
            -32600,
        ),
        (r#"{"id":2,"method":"tools/list"}"#, json!(2), -32600),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":["x"]}"#,
            json!(3),
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            Value::Null,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
            Value::Null,
            -32600,
        ),
        (
            r#"[{"jsonrpc":"2.0","id":4,"method":"ping"}]"#,
            Value::Null,
            -32600,
        ),
        (r#""just a string""#, Value::Null, -32600),
        (r#"{"jsonrpc":"2.0","id":5}"#, json!(5), -32600),
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"shell_exec","arguments":"echo hi"}}"#,
            json!(6),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":"x"}"#,
            json!(7),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":8}}"#,
            json!(8),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":9,"method":"resources/read","params":{}}"#,
            json!(9),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":10,"method":"no/such/method"}"#,
            json!(10),
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}"#,
            json!(11),
            -32602,
        ),
    ];
    for (line, id, code) in cases {
        s.send(line.as_bytes());
        let v = s.next();
        assert_eq!(
            (v["id"].clone(), v["error"]["code"].clone()),
            (id, json!(code)),
            "{line} → {v}"
        );
    }
    // Two million values in 4 MiB of text would weigh ~100 MB parsed: refused unparsed.
    let zeros = vec!["0"; 2_000_000].join(",");
    s.send(
        format!(
            r#"{{"jsonrpc":"2.0","id":"wide","method":"tools/call","params":{{"name":"shell_exec","arguments":{{"command":[{zeros}]}}}}}}"#
        )
        .as_bytes(),
    );
    let v = s.next();
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (json!("wide"), json!(-32600)),
        "{v}"
    );
    // A notification with a bad shape is not answered (the next line is the ping's).
    s.send(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":"x"}"#);
    s.send(br#"{"jsonrpc":"2.0","id":"after-notification","method":"ping"}"#);
    assert_eq!(s.next()["id"], json!("after-notification"));
    // A duplicate id while the first request runs is refused; the first still completes.
    s.send_json(
        &json!({"jsonrpc": "2.0", "id": "dup", "method": "tools/call",
        "params": {"name": "shell_exec", "arguments": {"command": "sleep 1; echo first"}}}),
    );
    s.send_json(&json!({"jsonrpc": "2.0", "id": "dup", "method": "ping"}));
    let v = s.next();
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (json!("dup"), json!(-32600)),
        "{v}"
    );
    let v = s.next();
    assert_eq!(
        v["result"]["content"][0]["text"],
        json!("[exit 0]\nfirst\n"),
        "{v}"
    );
    s.still_serves("after");
    assert!(s.finish().success());
}

#[test]
fn wrong_argument_types_and_huge_arguments_are_tool_errors() {
    let mut s = Raw::start(&[]);
    s.initialize();
    let text = s.call_text(json!(1), "shell_exec", json!({"command": 5}));
    assert!(text.starts_with("[ERROR: InvalidArgument:"), "{text}");
    let text = s.call_text(
        json!(2),
        "shell_exec",
        json!({"command": "true", "bogus": 1}),
    );
    assert!(text.starts_with("[ERROR: InvalidArgument:"), "{text}");
    // Longer than RELAY_SHELL_MAX_INPUT (2,097,152 characters), shorter than the line cap.
    let huge = "a".repeat(3_000_000);
    let text = s.call_text(json!(3), "shell_exec", json!({"command": huge}));
    assert!(
        text.starts_with("[DENIED"),
        "{}",
        &text[..text.len().min(300)]
    );
    s.still_serves("after");
    // Each of the four calls has its completion record: the bad ones were audited too.
    let completions = common::read_records(&s.dir.path().join("audit.jsonl"))
        .into_iter()
        .filter(|r| r["tool"] == json!("shell_exec") && r.get("event").is_none())
        .count();
    assert_eq!(completions, 4);
    assert!(s.finish().success());
}

/// How many requests the flood writes.
fn flood_count() -> usize {
    match std::env::var("RELAY_SHELL_SOAK").as_deref() {
        Ok("long") => 1_000_000,
        _ => 20_000,
    }
}

/// The bound on the server's resident memory during the flood (KiB). A server at rest is
/// ~30 MiB (29 MiB measured at the end of the flood); the framing layer holds at most 128
/// requests and 4 MiB of replies. Before it, the server grew to 1.9 GB in 10 s of flooding.
const FLOOD_RSS_LIMIT_KIB: u64 = 96 * 1024;

/// `n` requests, one per line: pings, a tool call every 100th and a large reply (tools/list)
/// every 1000th.
fn flood_lines(n: usize) -> Vec<u8> {
    let mut lines = Vec::new();
    for i in 0..n {
        let line = if i % 1000 == 999 {
            json!({"jsonrpc": "2.0", "id": i, "method": "tools/list"})
        } else if i % 100 == 99 {
            json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                   "params": {"name": "server_info", "arguments": {}}})
        } else {
            json!({"jsonrpc": "2.0", "id": i, "method": "ping"})
        };
        lines.extend_from_slice(line.to_string().as_bytes());
        lines.push(b'\n');
    }
    lines
}

/// The replies to a flood, checked as they come: each request answered once, with a result
/// or the overload error.
struct Tally {
    answers: Vec<Option<i64>>,
    answered: usize,
    carry: Vec<u8>,
}

impl Tally {
    fn new(n: usize) -> Tally {
        Tally {
            answers: vec![None; n],
            answered: 0,
            carry: Vec::new(),
        }
    }

    fn done(&self) -> bool {
        self.answered == self.answers.len()
    }

    fn take(&mut self, bytes: &[u8]) {
        self.carry.extend_from_slice(bytes);
        while let Some(pos) = self.carry.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.carry.drain(..=pos).collect();
            let v: Value = serde_json::from_slice(&line).expect("reply is JSON");
            let id = v["id"].as_u64().expect("reply has the request's id") as usize;
            let outcome = if v.get("result").is_some() {
                0
            } else {
                v["error"]["code"].as_i64().expect("error code")
            };
            assert!(self.answers[id].is_none(), "request {id} answered twice");
            assert!(outcome == 0 || outcome == -32000, "request {id}: {v}");
            self.answers[id] = Some(outcome);
            self.answered += 1;
        }
    }

    fn refused(&self) -> usize {
        self.answers.iter().filter(|a| **a == Some(-32000)).count()
    }
}

#[test]
fn a_flood_unread_until_the_pipe_is_full_stays_bounded() {
    let mut s = Raw::start(&[]);
    s.initialize();
    let n = flood_count();
    let pending = flood_lines(n);
    // Write without reading until the pipe refuses (the server stopped reading), then read
    // what is there, and again: the client reads only when it must.
    let mut stdin = s.stdin.take().expect("stdin");
    nix::fcntl::fcntl(
        stdin.as_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .expect("non-blocking stdin");
    let mut written = 0;
    let mut tally = Tally::new(n);
    let mut max_rss = s.rss_kib();
    let mut stalls = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    while !tally.done() {
        if written < pending.len() {
            match stdin.write(&pending[written..]) {
                Ok(k) => {
                    written += k;
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => stalls += 1,
                Err(e) => panic!("write: {e}"),
            }
        }
        max_rss = max_rss.max(s.rss_kib());
        let k = s.out.read(&mut buf).expect("read stdout");
        assert!(k > 0, "server closed stdout; stderr:\n{}", s.stderr());
        tally.take(&buf[..k]);
    }
    max_rss = max_rss.max(s.rss_kib());
    eprintln!(
        "flood (read when blocked): {n} requests, {} refused (-32000), {stalls} write stalls, \
         max RSS {max_rss} KiB",
        tally.refused()
    );
    assert!(
        max_rss < FLOOD_RSS_LIMIT_KIB,
        "RSS {max_rss} KiB over {FLOOD_RSS_LIMIT_KIB} KiB"
    );
    // Blocking again, and the server still serves.
    nix::fcntl::fcntl(
        stdin.as_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )
    .expect("blocking stdin");
    s.stdin = Some(stdin);
    s.still_serves("after-flood");
    assert!(s.finish().success());
}

#[test]
fn a_flood_read_concurrently_stays_bounded() {
    let mut s = Raw::start(&[]);
    s.initialize();
    let n = flood_count();
    let pending = flood_lines(n);
    let mut stdin = s.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        stdin.write_all(&pending).expect("write the flood");
        stdin
    });
    let mut tally = Tally::new(n);
    let mut max_rss = s.rss_kib();
    let mut buf = vec![0u8; 256 * 1024];
    let mut reads = 0u64;
    while !tally.done() {
        let k = s.out.read(&mut buf).expect("read stdout");
        assert!(k > 0, "server closed stdout; stderr:\n{}", s.stderr());
        tally.take(&buf[..k]);
        reads += 1;
        if reads.is_multiple_of(64) {
            max_rss = max_rss.max(s.rss_kib());
        }
    }
    max_rss = max_rss.max(s.rss_kib());
    eprintln!(
        "flood (read concurrently): {n} requests, {} refused (-32000), max RSS {max_rss} KiB",
        tally.refused()
    );
    assert!(
        max_rss < FLOOD_RSS_LIMIT_KIB,
        "RSS {max_rss} KiB over {FLOOD_RSS_LIMIT_KIB} KiB"
    );
    s.stdin = Some(writer.join().expect("writer"));
    s.still_serves("after-flood");
    assert!(s.finish().success());
}

fn stop_with(signal: nix::sys::signal::Signal) {
    let marker_exec = format!("sleep 7{}{}", std::process::id(), signal as i32);
    let marker_session = format!("sleep 8{}{}", std::process::id(), signal as i32);
    let mut s = Raw::start(&[]);
    s.initialize();
    let text = s.call_text(
        json!("spawn"),
        "shell_spawn",
        json!({"command": marker_session}),
    );
    assert!(text.starts_with("session "), "{text}");
    s.send_json(
        &json!({"jsonrpc": "2.0", "id": "exec", "method": "tools/call",
        "params": {"name": "shell_exec", "arguments": {"command": marker_exec, "timeout": 600}}}),
    );
    // Wait until both children run (bounded only as a safety net for a broken server).
    for _ in 0..600 {
        if !processes_with(&marker_exec).is_empty() && !processes_with(&marker_session).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !processes_with(&marker_exec).is_empty(),
        "the call's child runs"
    );
    assert!(
        !processes_with(&marker_session).is_empty(),
        "the session runs"
    );
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(s.pid()), signal).expect("signal");
    // stdin stays open. The server's own deadline (10 s after the signal) exits with status 1,
    // so status 0 means it stopped by itself within the documented grace.
    let status = s.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", s.stderr());
    assert!(s.stderr().contains("relay-shell stopped"), "{}", s.stderr());
    for line in s
        .stderr()
        .lines()
        .filter(|l| l.contains("relay-shell stop"))
    {
        eprintln!("{line}");
    }
    assert_eq!(
        processes_with(&marker_exec),
        Vec::<i32>::new(),
        "call child survived"
    );
    assert_eq!(
        processes_with(&marker_session),
        Vec::<i32>::new(),
        "session survived"
    );
}

#[test]
fn sigterm_after_initialize_ends_the_process_with_stdin_open() {
    stop_with(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn sigint_after_initialize_ends_the_process_with_stdin_open() {
    stop_with(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn requests_past_the_in_flight_bound_are_refused_at_once() {
    // 128 calls that wait for a file this test creates hold every in-flight place: what
    // follows is refused with -32000 whatever the timing.
    let mut s = Raw::start(&[("RELAY_SHELL_MAX_CONCURRENT", "128")]);
    s.initialize();
    let go = s.dir.path().join("go");
    let command = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo released",
        go.display()
    );
    for i in 0..128 {
        s.send_json(&json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": "shell_exec", "arguments": {"command": command}}}));
    }
    for id in ["over-1", "over-2", "over-3"] {
        s.send_json(&json!({"jsonrpc": "2.0", "id": id, "method": "ping"}));
        let (code, message) = s.error_of(&json!(id));
        assert_eq!(code, -32000, "{message}");
        assert!(
            message.starts_with("Server overloaded: 128 requests"),
            "{message}"
        );
    }
    std::fs::write(&go, b"").expect("release the calls");
    for i in 0..128 {
        let v = s.reply(&json!(i));
        assert_eq!(
            v["result"]["content"][0]["text"],
            json!("[exit 0]\nreleased\n"),
            "{v}"
        );
    }
    s.still_serves("after");
    assert!(s.finish().success());
}
