//! The conformance vectors of docs/compatibility.md, exact.

use super::*;

fn r(text: &str) -> String {
    Redactor::new().redact(text).into_owned()
}

#[test]
fn authorization_and_bearer() {
    assert!(r("Authorization: Bearer abcdef123456").contains(PLACEHOLDER));
    assert_eq!(
        r("Authorization: Bearer abcdef123456"),
        "Authorization: [REDACTED]"
    );
    assert_eq!(
        r(r#"curl -H "Authorization: Bearer X" https://h"#),
        r#"curl -H "Authorization: [REDACTED]" https://h"#
    );
}

#[test]
fn keyword_assignments() {
    assert_eq!(r("api_key=supersecretvalue"), "api_key=[REDACTED]");
    assert_eq!(r("password: hunter2"), "password: [REDACTED]");
}

#[test]
fn url_credentials() {
    assert_eq!(
        r("https://user:pass@host/repo.git"),
        "https://[REDACTED]@host/repo.git"
    );
}

#[test]
fn cli_flags() {
    assert_eq!(
        r(r#"--password="top secret" --host=h"#),
        "--password=[REDACTED] --host=h"
    );
    assert_eq!(
        r("mysql --password --host db.example -u root"),
        "mysql --password --host db.example -u root"
    );
    assert_eq!(
        r("client --token -abc123DashSecret --quiet"),
        "client --token [REDACTED] --quiet"
    );
    assert_eq!(
        r(r#"--password "esc\"aped value" --next"#),
        "--password [REDACTED] --next"
    );
    assert_eq!(r("-Credential MyP@ssw0rd"), "-Credential [REDACTED]");
    for same in [
        "Get-Credential -Message hi",
        "Get-Secret Foo",
        "Remove-Secret Bar",
    ] {
        assert_eq!(r(same), same);
    }
    assert_eq!(r("cmd -Secret abc123"), "cmd -Secret [REDACTED]");
}

#[test]
fn powershell_secure_string() {
    assert_eq!(
        r("ConvertTo-SecureString 'P@ss123' -AsPlainText -Force"),
        "ConvertTo-SecureString [REDACTED] -AsPlainText -Force"
    );
    assert_eq!(
        r("ConvertTo-SecureString -AsPlainText -Force PlainX9"),
        "ConvertTo-SecureString -AsPlainText -Force [REDACTED]"
    );
    let same = "ConvertTo-SecureString $encrypted -Key $k";
    assert_eq!(r(same), same);
}

#[test]
fn mysql_compact_password_gate() {
    assert_eq!(
        r("mysql -uroot -pleaked-pw -h db"),
        "mysql -uroot -p[REDACTED] -h db"
    );
    assert_eq!(r("ssh -p22 user@host"), "ssh -p22 user@host");
    assert_eq!(r("nmap -p1-1000 host"), "nmap -p1-1000 host");
    // The gate is whole-text (kept from the Python implementation, documented over-scrub).
    assert_eq!(
        r("mysql -e 'x'; ssh -p22 h"),
        "mysql -e 'x'; ssh -p[REDACTED] h"
    );
}

#[test]
fn scan_window_unterminated_quote() {
    let value = "v".repeat(20 * 1024);
    let text = format!("--password=\"{value}\" --host=h");
    let out = Redactor::new().scrub_str(&text, ARG_MAX_CHARS);
    assert!(
        out.starts_with("--password=[REDACTED]"),
        "{}",
        &out[..60.min(out.len())]
    );
    assert!(!out.contains("vvvv"));
    let tail = text.chars().count() - (ARG_MAX_CHARS + SCAN_MARGIN_CHARS);
    assert_eq!(out, format!("--password=[REDACTED]...(+{tail})"));

    let spaced = format!("--password=\"{}\"", "chunk ".repeat(4096));
    let out = Redactor::new().scrub_str(&spaced, ARG_MAX_CHARS);
    assert!(
        out.starts_with("--password=[REDACTED]...(+"),
        "{}",
        &out[..60]
    );
    assert!(!out.contains("chunk"));
}

#[test]
fn known_over_scrubs_are_kept() {
    assert_eq!(r("the bearer of news"), "the bearer [REDACTED] news");
    assert_eq!(
        r("/etc/passwd: no such file"),
        "/etc/passwd: [REDACTED] such file"
    );
}

#[test]
fn scrub_str_truncates_with_suffix() {
    let red = Redactor::new();
    assert_eq!(red.scrub_str("abcdef", 3), "abc...(+3)");
    assert_eq!(red.scrub_str("abc", 3), "abc");
    assert_eq!(red.scrub_str("token=abcdefgh", 9), "token=[RE...(+7)");
}

#[test]
fn scrub_value_recurses_into_keys_and_items() {
    let red = Redactor::new();
    let v = serde_json::json!({"env": {"DB_PASSWORD=x": "token=y"}, "list": ["password: z", 3, true, null]});
    let out = red.scrub_value(&v, ARG_MAX_CHARS);
    assert_eq!(
        out,
        serde_json::json!({"env": {"DB_PASSWORD=[REDACTED]": "token=[REDACTED]"}, "list": ["password: [REDACTED]", 3, true, null]})
    );
    assert_eq!(red.scrub_bytes(b"token=\xffabc", 500), "token=[REDACTED]");
}

#[test]
fn keyed_placeholders_correlate_and_are_stable() {
    let red = Redactor::with_key(b"k".to_vec());
    let tag = correlation_tag(b"k", "hunter2");
    let once = red
        .redact("password=hunter2 and PGPASSWORD=hunter2")
        .into_owned();
    assert_eq!(
        once,
        format!("password=[REDACTED:{tag}] and PGPASSWORD=[REDACTED:{tag}]")
    );
    assert_eq!(red.redact(&once), once);
    assert_eq!(
        red.redact("https://u:p@h/").into_owned(),
        format!("https://[REDACTED:{}]@h/", correlation_tag(b"k", "u:p"))
    );
    assert_eq!(
        red.redact("https://[REDACTED:0123abcd]@h/"),
        "https://[REDACTED:0123abcd]@h/"
    );
}

#[test]
fn unchanged_text_is_borrowed() {
    assert!(matches!(
        Redactor::new().redact("ls -la /tmp"),
        Cow::Borrowed(_)
    ));
}
