//! The `redact` verb's streaming and JSON paths, and the tracing writer, on real byte streams.

use std::io::Write;
use std::sync::{Arc, Mutex};

use relay_shell::redact::{
    LINE_WINDOW_BYTES, RedactingWriter, Redactor, redact_json_document, redact_stream,
};

fn stream(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    redact_stream(input, &mut out, &Redactor::new()).expect("in-memory streams do not fail");
    out
}

#[test]
fn lines_are_redacted_and_everything_else_passes_through() {
    let input = b"ls -la\nexport DB_PASSWORD=hunter2\n\xff\xfe binary token=abc\nno newline at end";
    let out = stream(input);
    assert_eq!(
        out,
        b"ls -la\nexport DB_PASSWORD=[REDACTED]\n\xff\xfe binary token=[REDACTED]\nno newline at end"
    );
}

#[test]
fn private_key_spanning_lines_is_removed_whole() {
    let body = "MIIEowIBAAKCAQEAx4Y0c2VjcmV0a2V5bWF0ZXJpYWw=\n".repeat(20);
    let input = format!(
        "before\n-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\nafter\n"
    );
    let out = String::from_utf8(stream(input.as_bytes())).expect("utf-8");
    assert_eq!(out, "before\n[REDACTED]\nafter\n");
}

#[test]
fn truncated_private_key_does_not_leak_its_body() {
    let body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gt\n".repeat(5);
    let input = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}");
    let out = String::from_utf8(stream(input.as_bytes())).expect("utf-8");
    assert_eq!(out, "[REDACTED]");
}

#[test]
fn a_line_longer_than_the_window_is_redacted_in_bounded_pieces() {
    let filler = "word ".repeat(LINE_WINDOW_BYTES / 5 + 100);
    let input = format!("{filler}--password hunter2 {filler}token=abc\n");
    let out = String::from_utf8(stream(input.as_bytes())).expect("utf-8");
    assert_eq!(
        out,
        format!("{filler}--password [REDACTED] {filler}token=[REDACTED]\n")
    );
}

#[test]
fn a_secret_right_at_the_window_edge_is_not_split() {
    // Place `--password VALUE` so the window boundary falls between flag and value.
    let flag = "--password ";
    let pad = LINE_WINDOW_BYTES - flag.len() - 2;
    let input = format!("{} {flag}hunter2 end\n", "x".repeat(pad));
    let out = String::from_utf8(stream(input.as_bytes())).expect("utf-8");
    assert_eq!(out, format!("{} {flag}[REDACTED] end\n", "x".repeat(pad)));
}

#[test]
fn json_mode_scrubs_keys_and_values_without_truncating() {
    let long = "a".repeat(2000);
    let input =
        format!(r#"{{"env": {{"TOKEN=x": "password: hunter2"}}, "n": 3, "long": "{long}"}}"#);
    let mut out = Vec::new();
    redact_json_document(input.as_bytes(), &mut out, &Redactor::new()).expect("valid JSON");
    let got: serde_json::Value = serde_json::from_slice(&out).expect("output is JSON");
    assert_eq!(
        got,
        serde_json::json!({"env": {"TOKEN=[REDACTED]": "password: [REDACTED]"}, "n": 3, "long": long})
    );
}

#[test]
fn json_mode_rejects_invalid_json_as_bad_input() {
    let mut out = Vec::new();
    let err = redact_json_document(&b"{not json"[..], &mut out, &Redactor::new())
        .expect_err("invalid JSON is refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        err.to_string().starts_with("invalid JSON on stdin: "),
        "{err}"
    );
    assert!(out.is_empty());
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn tracing_output_is_scrubbed_before_it_is_written() {
    let sink = Captured::default();
    let make = {
        let sink = sink.clone();
        move || sink.clone()
    };
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .without_time()
        .with_writer(RedactingWriter::new(Redactor::new(), make))
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(
            command = "curl -H 'Authorization: Bearer abc123' https://h",
            "spawn failed"
        );
        tracing::warn!("connecting to https://admin:s3cr3t@db.internal/");
    });
    let text = String::from_utf8(sink.0.lock().expect("not poisoned").clone()).expect("utf-8");
    assert!(
        !text.contains("abc123") && !text.contains("s3cr3t"),
        "{text}"
    );
    assert!(text.contains("Authorization: [REDACTED]"), "{text}");
    assert!(text.contains("https://[REDACTED]@db.internal/"), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn key_file_rules() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("redact.key");

    let missing = Redactor::from_key_file(&path).expect_err("missing file refused");
    assert!(missing.contains(&path.display().to_string()), "{missing}");

    std::fs::write(&path, "\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let empty = Redactor::from_key_file(&path).expect_err("empty key refused");
    assert!(
        empty.contains("empty") && empty.contains(&path.display().to_string()),
        "{empty}"
    );

    std::fs::write(&path, "k3y-material\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let open = Redactor::from_key_file(&path).expect_err("group-readable key refused");
    assert!(
        open.contains("chmod 600") && open.contains("0640"),
        "{open}"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let keyed = Redactor::from_key_file(&path).expect("private key file accepted");
    let tag = relay_shell::redact::correlation_tag(b"k3y-material", "hunter2");
    assert_eq!(
        keyed.redact("password=hunter2"),
        format!("password=[REDACTED:{tag}]")
    );
}

#[test]
fn a_continued_command_is_redacted_from_its_first_line_wherever_reads_end() {
    let group =
        "echo hunter2 \\\n  > /etc/rsync.pass\nprintf '%s' s.abcdef \\\n  | tee ~/.vault-token\n";
    let redacted = "echo [REDACTED] \\\n  > /etc/rsync.pass\nprintf '%s' [REDACTED] \\\n  | tee ~/.vault-token\n";
    assert_eq!(String::from_utf8_lossy(&stream(group.as_bytes())), redacted);
    // Clean lines before them end a little before the text mode's 256 KiB block boundary, at
    // a different offset each time, so the groups straddle it at many points.
    for pad in 0..40 {
        let clean = format!("{}\n", "x".repeat(64 + pad)).repeat((256 << 10) / (65 + pad));
        let input = format!("{clean}{group}");
        let out = String::from_utf8(stream(input.as_bytes())).expect("utf-8");
        assert_eq!(&out[..clean.len()], clean, "pad {pad}");
        assert_eq!(&out[clean.len()..], redacted, "pad {pad}");
    }
}
