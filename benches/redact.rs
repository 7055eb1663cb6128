//! Redaction throughput and worst-case scaling. Run: `cargo bench --bench redact`.
//!
//! Prints MB/s for mixed realistic text (per line, as `relay-shell redact` does, and as one
//! buffer), for secret-free text, and for adversarial inputs per rule at 1 MB and 10 MB: a
//! linear rule takes about ten times as long for ten times the input.
//!
//! For instruction counts (independent of machine load), two variables narrow a run:
//! `REDACT_BENCH_ONLY=dense-cli` (or `one-secret-cli`, `clean-cli`, or the name of an
//! adversarial row) runs only that row, once, and `REDACT_BENCH_MB=N` sizes its input. The
//! text mode runs inside [`run_stream`], an adversarial row inside [`run_redact`], both never
//! inlined, so `taskset -c 0 valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect='*run_stream*'` (or `'*run_redact*'`) counts exactly their instructions
//! (on one CPU the text mode runs on the calling thread; on more, its workers are threads
//! callgrind would not count).

use std::hint::black_box;
use std::time::{Duration, Instant};

use relay_shell::redact::Redactor;

const MIXED_LINES: &[&str] = &[
    "2024-05-01T12:00:01Z INFO shell_exec command=\"ls -la /var/log\" exit=0 duration_ms=12",
    "{\"tool\": \"shell_exec\", \"args\": {\"command\": \"uptime\", \"timeout\": 30}, \"tier\": 0}",
    "kubectl get pods -n production -o wide --sort-by=.status.startTime",
    "git log --oneline -n 20 --author=alice -- src/",
    "docker run --rm -p 8080:80 -v /srv/www:/usr/share/nginx/html:ro nginx:1.25",
    "journalctl -u relay-shell --since '10 min ago' --no-pager | tail -n 50",
    "ssh -p 2222 deploy@web-01.example.com 'systemctl restart app'",
    "find /etc -name '*.conf' -newer /tmp/marker -print",
    "curl -fsSL https://example.com/install.sh | sh -s -- --prefix /opt/tool",
    "SELECT id, name, created_at FROM users WHERE created_at > now() - interval '1 day';",
    "Get-ChildItem -Path C:\\Logs -Filter *.log | Select-Object -First 10",
    "rsync -az --delete ./dist/ www@cdn-02:/var/www/site/",
    // secret-bearing lines (about one in seven)
    "export DB_PASSWORD=correct-horse-battery-staple",
    "curl -H \"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbg\" https://api",
    "git clone https://x-access-token:ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEf12@github.com/o/r.git",
];

fn mixed_text(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 256);
    let mut i = 0usize;
    while out.len() < bytes {
        // Secret-bearing lines are the last three; use them once every ~7 lines.
        let line = if i % 7 == 6 {
            MIXED_LINES[12 + (i / 7) % 3]
        } else {
            MIXED_LINES[i % 12]
        };
        out.push_str(line);
        out.push('\n');
        i += 1;
    }
    out
}

/// A line of about 300 bytes with a password, a bearer header and a GitHub token.
const DENSE_LINE: &str = "2026-11-30T07:00:00Z web-7 INFO shell_exec command=\"mysqldump -u app -p'Tr0ub4dor&3' shop\" \
curl -sS -H \"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl\" \
https://api.example.com/v1/items?page=2 push ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEf12 exit=0";

/// Lines of about 300 bytes with one secret each, of four kinds in turn: the literal reading
/// of issue 18's "a secret every ~300 bytes" (the dense row holds three per line).
const ONE_SECRET_LINES: &[&str] = &[
    "2026-11-30T07:00:01Z web-7 INFO shell_exec command=\"mysqldump -u app -p'Tr0ub4dor&3' \
--single-transaction --routines shop\" cwd=/srv/app exit=0 duration_ms=1840 bytes_out=48213 \
host=db-01.internal user=deploy session=7f3c2a91 tier=2 mode=guarded policy=default",
    "2026-11-30T07:00:02Z web-7 INFO http_request method=GET path=/v1/items?page=2 status=200 \
duration_ms=37 upstream=api-03.internal:8443 header=\"Authorization: Bearer \
eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl\" client=10.0.4.17 agent=\"curl/8.5.0\" bytes=5120",
    "2026-11-30T07:00:03Z web-7 INFO shell_exec command=\"git push \
https://x-access-token:ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEf12@github.com/acme/site.git main\" \
cwd=/srv/site exit=0 duration_ms=2210 objects=14 delta=9 session=7f3c2a91 tier=2 mode=guarded",
    "2026-11-30T07:00:04Z web-7 INFO shell_exec command=\"PGPASSWORD=s3cr3t-Pa55 psql -h \
db-02.internal -U report -d analytics -c 'select count(*) from events'\" cwd=/srv/report exit=0 \
duration_ms=412 rows=1 session=7f3c2a91 tier=1 mode=guarded",
];

fn one_secret_text(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 512);
    for line in ONE_SECRET_LINES.iter().cycle() {
        if out.len() >= bytes {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Adversarial inputs per rule: (row name, unit repeated to the input size). Each is redacted
/// as one text with [`Redactor::redact`].
const ADVERSARIAL: &[(&str, &str)] = &[
    ("url: '://a:b' no @", "://a:b"),
    ("authorization: repeated, no quote", "authorization: a | "),
    ("authorization: separators only", "Authorization:\n"),
    ("bearer: keyword only", "bearer "),
    ("keyword: 'password' no separator", "password "),
    ("keyword: long whitespace", "password\t \t "),
    ("cli flag: unterminated quotes", "--password \"a "),
    ("cli flag: escaped run", "--token \\\\\\\\"),
    ("cli flag: look-behind fails", "x--password a "),
    ("cli flag: '--' values", "--password --x "),
    ("compound flag: prefixes", "--a-b-c-d-token-"),
    (
        "securestring: switches, no value",
        "ConvertTo-SecureString -a -b -c -d -e -f -g -h -i ",
    ),
    (
        "securestring: unterminated quote",
        "ConvertTo-SecureString 'x ",
    ),
    (
        "pem: headers without footer",
        "-----BEGIN RSA PRIVATE KEY-----",
    ),
    (
        "pem: header, long body",
        "-----BEGIN PRIVATE KEY-----\nAAAA",
    ),
    ("github: pat prefix run", "xgithub_pat_"),
    ("jwt: ey runs without dot", "ey-"),
    ("jwt: header, short payload", "eyAAAAAAAAAAAAAAAAAAAA.eyA."),
    ("akia: 17 chars", "AKIAAAAAAAAAAAAAAAAAA "),
    (
        "slack webhook prefix",
        "https://hooks.slack.com/services/T1/",
    ),
    ("mysql gate + -p", "mysql -px -p"),
    ("sshpass options", "sshpass -v -v -v "),
    ("netrc: password words", "machine h login u password "),
    ("pgpass: colons", "a:1:b:c:"),
    ("cookie: headers inside a list", "cookie:sid=1;"),
    ("cookie: headers without a pair", "Cookie: "),
    ("sql: SET PASSWORD, strings", "SET PASSWORD 'a' "),
    ("sql: IDENTIFIED BY, no string", "IDENTIFIED BY x "),
    ("sql: doubled quotes, unclosed", "IDENTIFIED BY 'a''"),
    ("sql: SET PASSWORD, doubled quotes", "SET PASSWORD 'a''b' "),
    (
        "sql: CREATE USER u IDENTIFIED, no BY",
        "CREATE USER u IDENTIFIED ",
    ),
    ("sql: CONNECT lines, prose after", "\nconn a/b x"),
    ("cmdline: Oracle logons", "sqlplus a/b@c "),
    ("cmdline: mysql -p words", "mysql -p -p -p "),
    ("cmdline: unclosed quotes", "mysql -u \"a "),
    ("cmdline: continuations", "curl -u \\\n"),
    ("cmdline: nested quotes", "sh -c \"mysql 'a b' \" "),
    ("cmdline: set secret keys", "set requirepass "),
    // Runs of name bytes that each pass some of the name scan's checks and fail a later
    // one (length, last byte, a `.` before, the lookup), in a text with one real name.
    (
        "cmdline: name-like runs",
        "curl mysqx .mysql mysql_ curl-x wget3 ",
    ),
    ("cmdline: echo > password file", "echo x > a.pass; "),
    ("keyword: quoted values", "password=\"a b "),
    (
        "all hints, no secrets",
        "token secret password sk- ey .ey ghp_ AKIA xox :// ",
    ),
];

fn dense_text(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 512);
    while out.len() < bytes {
        out.push_str(DENSE_LINE);
        out.push('\n');
    }
    out
}

/// `REDACT_BENCH_ONLY`: the one row to run (once), if set.
fn only() -> Option<String> {
    std::env::var("REDACT_BENCH_ONLY").ok()
}

/// `REDACT_BENCH_MB`: input size of the text-mode rows (64 by default).
fn input_bytes() -> usize {
    std::env::var("REDACT_BENCH_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(64)
        << 20
}

/// `relay-shell redact`'s text mode over `input`, into a sink.
#[inline(never)]
fn run_stream(input: &[u8], r: &Redactor) {
    let mut sink = std::io::sink();
    relay_shell::redact::redact_stream(black_box(input), &mut sink, r).unwrap_or(());
}

/// [`Redactor::redact`] of one text, never inlined for the same reason as [`run_stream`]
/// (callgrind: `--toggle-collect='*run_redact*'`).
#[inline(never)]
fn run_redact(text: &str, r: &Redactor) {
    black_box(r.redact(black_box(text)));
}

fn time<F: FnMut()>(mut f: F) -> Duration {
    // Best of three: the machine is shared.
    let runs = if only().is_some() { 1 } else { 3 };
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn adversarial(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes / unit.len() + 1)
}

/// One text-mode row alone (see the module comment).
fn only_row(row: &str, r: &Redactor) {
    let text = match row {
        "dense-cli" => dense_text(input_bytes()),
        "one-secret-cli" => one_secret_text(input_bytes()),
        "clean-cli" => {
            let clean: String = MIXED_LINES[..12].iter().map(|l| format!("{l}\n")).collect();
            clean.repeat(input_bytes() / clean.len() + 1)
        }
        other => {
            let Some((_, unit)) = ADVERSARIAL.iter().find(|(name, _)| *name == other) else {
                eprintln!(
                    "unknown REDACT_BENCH_ONLY row {other:?} (dense-cli, one-secret-cli, \
                     clean-cli, or an adversarial row's name)"
                );
                return;
            };
            let text = adversarial(unit, input_bytes());
            let d = time(|| run_redact(&text, r));
            println!(
                "{row} {:>7.1} ms  ({} bytes)",
                d.as_secs_f64() * 1e3,
                text.len()
            );
            return;
        }
    };
    let d = time(|| run_stream(text.as_bytes(), r));
    println!(
        "{row} {:>7.0} MB/s  ({} bytes)",
        mb_per_s(text.len(), d),
        text.len()
    );
}

fn main() {
    let r = Redactor::new();
    if let Some(row) = only() {
        only_row(&row, &r);
        return;
    }
    let mixed = mixed_text(64 << 20);
    let lines: Vec<&str> = mixed.lines().collect();

    let d = time(|| {
        for line in &lines {
            black_box(r.redact(line));
        }
    });
    println!(
        "mixed text, per line    {:>8.0} MB/s  ({} MB)",
        mb_per_s(mixed.len(), d),
        mixed.len() >> 20
    );

    let d = time(|| {
        black_box(r.redact(&mixed));
    });
    println!(
        "mixed text, one buffer  {:>8.0} MB/s",
        mb_per_s(mixed.len(), d)
    );

    let clean: String = lines
        .iter()
        .filter(|l| r.redact(l) == **l)
        .map(|l| format!("{l}\n"))
        .collect();
    let d = time(|| {
        black_box(r.redact(&clean));
    });
    println!(
        "secret-free text        {:>8.0} MB/s  ({} MB)",
        mb_per_s(clean.len(), d),
        clean.len() >> 20
    );

    let keyed = Redactor::with_key(b"bench-key".to_vec());
    let d = time(|| {
        for line in &lines {
            black_box(keyed.redact(line));
        }
    });
    println!(
        "mixed text, keyed       {:>8.0} MB/s",
        mb_per_s(mixed.len(), d)
    );

    let arg = "--password=\"".to_string() + &"v".repeat(20_000) + "\"";
    let d = time(|| {
        for _ in 0..1000 {
            black_box(r.scrub_str(&arg, 500));
        }
    });
    println!(
        "scrub_str 20 KB arg     {:>8.1} µs/call",
        d.as_secs_f64() * 1e6 / 1000.0
    );

    // Through `relay-shell redact`'s text mode (`redact_stream`, in memory).
    let dense = dense_text(input_bytes());
    let d = time(|| run_stream(dense.as_bytes(), &r));
    println!(
        "secret-dense, redact CLI {:>7.0} MB/s  ({} MB, 3 secrets per {}-byte line)",
        mb_per_s(dense.len(), d),
        dense.len() >> 20,
        DENSE_LINE.len() + 1
    );
    let one = one_secret_text(input_bytes());
    let d = time(|| run_stream(one.as_bytes(), &r));
    println!(
        "one secret per line, CLI {:>7.0} MB/s  ({} MB, lines of {}-{} bytes)",
        mb_per_s(one.len(), d),
        one.len() >> 20,
        ONE_SECRET_LINES
            .iter()
            .map(|l| l.len() + 1)
            .min()
            .unwrap_or(0),
        ONE_SECRET_LINES
            .iter()
            .map(|l| l.len() + 1)
            .max()
            .unwrap_or(0)
    );
    let clean_big = clean.repeat(input_bytes() / clean.len().max(1) + 1);
    let d = time(|| run_stream(clean_big.as_bytes(), &r));
    println!(
        "secret-free, redact CLI  {:>7.0} MB/s  ({} MB)",
        mb_per_s(clean_big.len(), d),
        clean_big.len() >> 20
    );

    println!();
    println!("adversarial input (rule: unit)                      1 MB ms   10 MB ms  ratio");
    for (name, unit) in ADVERSARIAL {
        scaling(name, unit, |text| run_redact(text, &r));
    }
    // The text mode's chunk cutter where few line ends are safe cuts.
    let text_mode: &[(&str, &str)] = &[
        ("text mode: continued lines", "x \\\n"),
        (
            "text mode: key headers",
            "-----BEGIN RSA PRIVATE KEY-----\n",
        ),
    ];
    for (name, unit) in text_mode {
        scaling(name, unit, |text| run_stream(text.as_bytes(), &r));
    }
}

/// Times `f` on `unit` repeated to 1 MB and to 10 MB and prints both and their ratio.
fn scaling(name: &str, unit: &str, mut f: impl FnMut(&str)) {
    let small = adversarial(unit, 1 << 20);
    let big = adversarial(unit, 10 << 20);
    let ds = time(|| f(&small));
    let db = time(|| f(&big));
    println!(
        "{name:<50} {:>9.1} {:>10.1} {:>6.1}",
        ds.as_secs_f64() * 1e3,
        db.as_secs_f64() * 1e3,
        db.as_secs_f64() / ds.as_secs_f64()
    );
}
