//! Tests of the parallel text mode (`chunks.rs`): where it cuts, that its output is the
//! serial output on mixed and hostile input, and how it ends on read and write errors.

use super::*;

#[test]
fn cuts_fall_after_lines_that_end_a_unit() {
    assert_eq!(safe_cut(b"a\nb\nc", 0), Some(4));
    assert_eq!(safe_cut(b"no line break", 0), None);
    assert_eq!(safe_cut(b"a\nb \\\nc", 0), Some(2));
    assert_eq!(safe_cut(b"a\nb \\\r\n", 0), Some(2));
    assert_eq!(safe_cut(b"a\\\n", 0), None);
    let key = b"x\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\n";
    assert_eq!(safe_cut(key, 0), Some(2));
    let closed = b"x\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\ny\n";
    assert_eq!(safe_cut(closed, 0), Some(closed.len()));
    let filler = vec![b'a'; PEM_GROUP_MAX_BYTES + CONTINUED_MAX_BYTES];
    let far = [&key[..], &filler[..], b"\n"].concat();
    assert_eq!(safe_cut(&far, 0), Some(far.len()));
    // Line ends at or before `searched` were looked at already.
    assert_eq!(safe_cut(b"a\nb\nc", 4), None);
    assert_eq!(safe_cut(b"a\nb\nc\n", 4), Some(6));
}

/// Lines that make units of every kind, in a fixed pseudo-random order.
fn mixed_input(lines: usize, seed: u64) -> Vec<u8> {
    const PARTS: &[&[u8]] = &[
        b"plain text with nothing to hide\n",
        b"export DB_PASSWORD=correct-horse-battery-staple\n",
        b"mysql -u root -pS3cret shop\n",
        b"curl -u alice:hunter2 \\\n  https://example.com\n",
        b"sshpass -p \\\n  'pa ss' ssh host\n",
        b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nqweRTY\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
        b"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl\n",
        b"token ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEf12 \xff\xfe bytes\n",
        b"a line that continues \\\n",
        b"\n",
        b"no line break at the end, password=x",
    ];
    let mut state = seed;
    let mut out = Vec::new();
    for _ in 0..lines {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let part = PARTS[(state >> 33) as usize % PARTS.len()];
        out.extend_from_slice(part);
    }
    out
}

fn serial(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    redact_serial(input, &mut out, &Redactor::new()).expect("in memory");
    out
}

#[test]
fn parallel_output_is_the_serial_output() {
    let r = Redactor::new();
    for seed in 0..6 {
        let input = mixed_input(400, seed);
        let expected = serial(&input);
        assert!(expected != input, "the input holds secrets");
        for (chunk, max) in [
            (1, 64),
            (7, 512),
            (64, 1 << 20),
            (4096, 1 << 20),
            (300, 300),
        ] {
            for workers in [1, 2, 3] {
                let mut out = Vec::new();
                let cutting = Cutting { chunk, max };
                redact_parallel(&input[..], &mut out, &r, workers, cutting).expect("in memory");
                assert!(
                    out == expected,
                    "seed {seed} chunk {chunk} max {max} workers {workers}:\n{}",
                    String::from_utf8_lossy(&out)
                );
            }
        }
    }
}

/// Inputs built to make a cut land inside a unit: endless continuations (odd and even
/// backslash runs, CRLF), key headers without footers close together, footers without
/// headers, markers split at every byte, invalid UTF-8 and empty lines at cut points.
#[test]
fn cuts_never_split_a_unit_on_hostile_input() {
    let units: &[&[u8]] = &[
        b"mysql -u root \\\n",
        b"  -pS3cret \\\r\n",
        b"echo even \\\\\n",
        b"-----BEGIN EC PRIVATE KEY-----\n",
        b"MHcCAQEEIBXo\n",
        b"-----END EC PRIVATE KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\n",
        b"\xff\xfe\n",
        b"\n",
        b"password=hunter2 \\",
        b"\n\\\n",
    ];
    let r = Redactor::new();
    for seed in 0..8u64 {
        let mut state = seed;
        let mut input = Vec::new();
        for _ in 0..300 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            input.extend_from_slice(units[(state >> 33) as usize % units.len()]);
        }
        let expected = serial(&input);
        for (chunk, max) in [(1, 16), (3, 100), (13, 1 << 20), (200, 200)] {
            let mut out = Vec::new();
            let cutting = Cutting { chunk, max };
            redact_parallel(&input[..], &mut out, &r, 2, cutting).expect("in memory");
            assert!(
                out == expected,
                "seed {seed} chunk {chunk} max {max}:\n{}\n---\n{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}

#[test]
fn clean_chunks_pass_through_whole() {
    let input = b"plain line one\nplain line two\n".repeat(500);
    let r = Redactor::new();
    for chunk in [1, 64, 1 << 20] {
        let mut out = Vec::new();
        let cutting = Cutting {
            chunk,
            max: 1 << 20,
        };
        redact_parallel(&input[..], &mut out, &r, 2, cutting).expect("in memory");
        assert!(out == input, "chunk {chunk}");
    }
}

/// A reader that fails after some bytes.
struct Failing(usize);

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.0).min(10);
        buf[..n].fill(b'\n');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn read_errors_end_the_stream_after_what_was_read() {
    let mut out = Vec::new();
    let cutting = Cutting { chunk: 16, max: 64 };
    let err = redact_parallel(Failing(100), &mut out, &Redactor::new(), 2, cutting)
        .expect_err("the read error is returned");
    assert_eq!(err.to_string(), "disk on fire");
    assert_eq!(out, vec![b'\n'; 100]);
}

/// A writer that refuses after some bytes.
struct Full(usize);

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0 < buf.len() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
        }
        self.0 -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_stop_every_thread() {
    let input = mixed_input(20_000, 7);
    let cutting = Cutting {
        chunk: 512,
        max: 4096,
    };
    let err = redact_parallel(&input[..], Full(1000), &Redactor::new(), 2, cutting)
        .expect_err("the write error is returned");
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(err.to_string(), "closed");
}

/// After a line that changed, the serial text mode redacts the next line at once when it is a
/// unit on its own, without first searching for work: whatever follows must come out as it
/// does when read from a cold start (a line that continues into one with work, or a key
/// header, is left to the search, which starts the unit where the work is).
#[test]
fn lines_after_a_changed_line_read_as_from_a_cold_start() {
    let hot = b"export DB_PASSWORD=correct-horse-battery-staple\n";
    let hot_out = serial(hot);
    assert!(hot_out != hot, "the first line changes");
    let tails: &[&[u8]] = &[
        b"plain line \\\nmysql -u root -pS3cret shop\n",
        // The hint is on the second line, the secret on the first: the unit starts at the
        // first line of the group either way.
        b"echo hunter2 \\\n  > /etc/rsync.pass\n",
        b"plain line \\\r\n  -pS3cret\n",
        b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",
        b"mysql -u root \\\n  -pS3cret\n",
        b"plain text\nmysql -pS3cret\n",
        b"\xff\xfe password=x\n",
        b"no line break, token ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEf12",
    ];
    for tail in tails {
        for seed in 0..4 {
            let tail = [&mixed_input(seed * 3, seed as u64)[..], tail].concat();
            let mut input = hot.to_vec();
            input.extend_from_slice(&tail);
            let mut expected = hot_out.clone();
            expected.extend_from_slice(&serial(&tail));
            assert!(
                serial(&input) == expected,
                "{}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

/// Secrets on a continued line before the line whose hint reveals them: the whole group is
/// one unit, however the input arrives.
#[test]
fn a_secret_before_the_line_that_reveals_it_is_redacted() {
    let cases: &[(&[u8], &str)] = &[
        (b"echo hunter2 \\\n  > /etc/rsync.pass\n", "hunter2"),
        (
            b"printf '%s' s.abcdef \\\n  | tee ~/.vault-token\n",
            "s.abcdef",
        ),
        (
            b"mysql -u root -pS3cret \\\n \\\r\n  --password-file x\n",
            "S3cret",
        ),
        (
            b"plain line\nsshpass -p hunter2 \\\n  ssh host\n",
            "hunter2",
        ),
    ];
    for (input, secret) in cases {
        let out = serial(input);
        let text = String::from_utf8_lossy(&out);
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
    }
}

/// The serial text mode gives the same bytes however its reads cut the input: a group that
/// continues past the end of a buffer is read whole before anything of it is written.
#[test]
fn output_does_not_depend_on_where_reads_end() {
    let tails: &[&[u8]] = &[
        b"echo hunter2 \\\n  > /etc/rsync.pass\n",
        b"printf '%s' s.abcdef \\\n \\\n  | tee ~/.vault-token\n",
        b"a \\\nb \\\nc \\\nd\n",
    ];
    for seed in 0..4u64 {
        let mut input = mixed_input(60, seed);
        for tail in tails {
            input.extend_from_slice(tail);
            input.extend_from_slice(&mixed_input(5, seed + 10));
        }
        let expected = serial(&input);
        for capacity in [1, 2, 3, 7, 16, 61, 256, 4096] {
            let mut out = Vec::new();
            let reader = io::BufReader::with_capacity(capacity, &input[..]);
            redact_serial(reader, &mut out, &Redactor::new()).expect("in memory");
            assert!(
                out == expected,
                "seed {seed} capacity {capacity}:\n{}\n---\n{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}
