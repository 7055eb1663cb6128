//! Checks that make a frequent hint literal count only where a rule could use it.
//!
//! A hint is a necessary literal: a rule can change a text only if one of its hints occurs in
//! it. Some literals that rules need are common in ordinary text (`://` in every URL, `pass`
//! in `bypass`, `auth` in `--author`). For those, a check looks at the bytes around the
//! occurrence and says whether any rule enabled by that literal could match there; when it
//! cannot, the occurrence does not count, so clean text keeps to the fast path. Each check is
//! a superset of what its rules accept (it may say yes too often, never no wrongly), and reads
//! a bounded or non-overlapping stretch of the text, so the search stays linear.

use super::scan::escaped_line_break;

/// The check for a hint (ASCII lower case), if it has one.
pub(crate) fn verifier(hint: &[u8]) -> Option<fn(&[u8], usize) -> bool> {
    match hint {
        b"://" => Some(url_has_at),
        b"auth" => Some(auth_ends_segment),
        b"pass" => Some(pass_ends_segment),
        b"curl" => Some(curl_may_take_secret),
        b"sudo" => Some(sudo_may_read_stdin),
        _ => None,
    }
}

/// `://` (URL credentials, the only rule it enables): every match is `://`, then a run
/// without `/` or whitespace, apart from `\`-newline continuations, that holds an `@`. The
/// scan stops at the first `/` or ASCII whitespace byte that no backslash continues; every
/// `://` holds a `/`, so scans of successive occurrences never overlap.
fn url_has_at(text: &[u8], at: usize) -> bool {
    // The bytes the scan stops at to look: one table lookup per byte of the host passed over.
    const STOP: [bool; 256] = super::scan::byte_set(b"@/ \t\n\r\x0b\x0c");
    let rest = text.get(at + 3..).unwrap_or_default();
    let mut i = 0;
    while let Some(p) = rest[i..].iter().position(|&b| STOP[usize::from(b)]) {
        i += p;
        match rest[i] {
            b'@' => return true,
            // The line break of a continuation (`\` then `\n` or `\r\n`).
            b'\n' if i > 0 && (rest[i - 1] == b'\\' || rest[..i].ends_with(b"\\\r")) => {}
            b'\r' if i > 0 && rest[i - 1] == b'\\' && rest.get(i + 1) == Some(&b'\n') => {}
            _ => return false,
        }
        i += 1;
    }
    false
}

/// `auth` (the command-line rule's key names and docker's `"auth":`): it ends a segment of a
/// key (`masterauth`, `http.auth`, `"auth"`), so no letter or digit follows it. A longer key
/// such as `authtoken` is found by its own hint (`token`).
fn auth_ends_segment(text: &[u8], at: usize) -> bool {
    !text.get(at + 4).is_some_and(|b| b.is_ascii_alphanumeric())
}

/// `pass` (the command-line rule): a key segment or file name ending in it (`requirepass`,
/// `db_pass`, `rsync.pass`, `/pass:`, `--pass`), or the start of `passw…` (htpasswd,
/// `--password`) or `passphrase`.
fn pass_ends_segment(text: &[u8], at: usize) -> bool {
    let rest = text.get(at + 4..).unwrap_or_default();
    match rest.first() {
        None => true,
        Some(b) if !b.is_ascii_alphanumeric() => true,
        Some(b'w' | b'W') => true,
        Some(_) => rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b"phrase"),
    }
}

/// Bytes after `curl` or `sudo` that [`curl_may_take_secret`] and [`sudo_may_read_stdin`] read
/// before they give up and say yes.
const LINE_SCAN_BYTES: usize = 256;

/// `curl` (the command-line rule): [`curl_may_take_user`], or a cookie
/// ([`curl_may_send_cookie`]).
fn curl_may_take_secret(text: &[u8], at: usize) -> bool {
    let rest = text.get(at + 4..).unwrap_or_default();
    let scan = &rest[..rest.len().min(LINE_SCAN_BYTES)];
    curl_may_take_user(scan, rest.len() > LINE_SCAN_BYTES) || curl_may_send_cookie(scan)
}

/// Whether the logical line that `scan` starts holds what a curl cookie needs: a word that
/// starts with one `-` and holds a `b` (`-b`, `-sb`), or `cookie` in any case (`--cookie`,
/// a `Cookie:` header). The line ends at the first line break no `\` continues; most curl
/// lines hold neither `b` nor `k`, which one byte search tells, and the rest are read a byte
/// at a time.
fn curl_may_send_cookie(scan: &[u8]) -> bool {
    let mut end = 0;
    let line = loop {
        match memchr::memchr(b'\n', &scan[end..]) {
            Some(p) if escaped_line_break(scan, end + p) => end += p + 1,
            Some(p) => break &scan[..end + p],
            None => break scan,
        }
    };
    if memchr::memchr3(b'b', b'k', b'K', line).is_none() {
        return false;
    }
    // Inside a word that starts with a single `-`; at the start of a word.
    let (mut short, mut word_start) = (false, true);
    for (i, &b) in line.iter().enumerate() {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                (short, word_start) = (false, true);
                continue;
            }
            b'-' if word_start => short = line.get(i + 1) != Some(&b'-'),
            b'b' if short => return true,
            b'k' | b'K'
                if i >= 3
                    && line
                        .get(i - 3..i + 3)
                        .is_some_and(|w| w.eq_ignore_ascii_case(b"cookie")) =>
            {
                return true;
            }
            _ => {}
        }
        word_start = false;
    }
    false
}

/// `curl` (the command-line rule): curl's secret options are `-u`/`-U` (alone or ending a
/// bundle such as `-su`), `--user`, `--proxy-user`, `--oauth2-bearer` — each a `-` followed
/// later by a `u` — and `--pass`, `--proxy-pass`, `--tlspassword`, whose `pass` is a hint of
/// its own. So the logical line after `curl` (`scan`, the text after it up to
/// [`LINE_SCAN_BYTES`]) must hold a `-` and, after it, a `u` or `U`. The scan stops at a line
/// break that no `\` continues, and says yes when it reaches the end of a `scan` the bound
/// `cut` short (which bounds the work per occurrence).
fn curl_may_take_user(scan: &[u8], cut: bool) -> bool {
    let mut dash = false;
    let mut i = 0;
    // Byte searches for the next byte that matters: a `-` (then a `u`/`U`) or a line break.
    loop {
        let found = if dash {
            memchr::memchr3(b'u', b'U', b'\n', &scan[i..])
        } else {
            memchr::memchr2(b'-', b'\n', &scan[i..])
        };
        let Some(p) = found else {
            return cut;
        };
        let at = i + p;
        match scan[at] {
            b'-' => dash = true,
            b'\n' if !escaped_line_break(scan, at) => return false,
            b'\n' => {}
            _ => return true,
        }
        i = at + 1;
    }
}

/// `sudo` (the command-line rule's stdin form, `echo X | sudo -S cmd`): `sudo` reads a
/// password on its standard input only with `-S` (alone or in a bundle such as `-kS`) or
/// `--stdin`, so its logical line must hold a `-` and, in the same word after it, an `S`, or
/// `-stdin`. The scan stops at a line break that no `\` continues, and says yes after
/// [`LINE_SCAN_BYTES`] (which bounds the work per occurrence).
fn sudo_may_read_stdin(text: &[u8], at: usize) -> bool {
    let rest = text.get(at + 4..).unwrap_or_default();
    let scan = &rest[..rest.len().min(LINE_SCAN_BYTES)];
    // Inside a word that starts with `-`.
    let mut option = false;
    for (i, &b) in scan.iter().enumerate() {
        match b {
            b'-' if !option => option = true,
            b'S' if option => return true,
            b's' if option && scan[i..].starts_with(b"stdin") => return true,
            b' ' | b'\t' => option = false,
            b'\n' if !escaped_line_break(scan, i) => return false,
            b'\n' => option = false,
            _ => {}
        }
    }
    rest.len() > LINE_SCAN_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(hint: &str, text: &str) -> bool {
        let at = text.find(hint).expect("hint in text");
        verifier(hint.as_bytes()).expect("has a check")(text.as_bytes(), at)
    }

    /// Every text's check of `hint` says `expected`.
    fn checks(hint: &str, texts: &[&str], expected: bool) {
        for text in texts {
            assert_eq!(check(hint, text), expected, "{text}");
        }
    }

    /// The URL check as a byte-at-a-time loop: the reference for the table-driven one.
    fn url_has_at_reference(text: &[u8], at: usize) -> bool {
        let rest = text.get(at + 3..).unwrap_or_default();
        for (i, &b) in rest.iter().enumerate() {
            match b {
                b'@' => return true,
                b'\n' if i > 0 && (rest[i - 1] == b'\\' || rest[..i].ends_with(b"\\\r")) => {}
                b'\r' if i > 0 && rest[i - 1] == b'\\' && rest.get(i + 1) == Some(&b'\n') => {}
                b'/' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => return false,
                _ => {}
            }
        }
        false
    }

    /// Every text of up to six bytes drawn from the bytes the check treats apart.
    #[test]
    fn url_check_matches_a_byte_loop() {
        let alphabet = b"@/ \t\n\r\x0b\x0c\\a";
        let mut text = b"h://".to_vec();
        let mut count = 0;
        for len in 0..=6u32 {
            for n in 0..alphabet.len().pow(len) {
                text.truncate(4);
                let mut k = n;
                for _ in 0..len {
                    text.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                assert_eq!(
                    url_has_at(&text, 1),
                    url_has_at_reference(&text, 1),
                    "{text:?}"
                );
                count += 1;
            }
        }
        assert!(count > 1_000_000, "{count}");
    }

    #[test]
    fn checks_keep_what_rules_need() {
        assert!(check("://", "https://u:p@h/x"));
        assert!(check("://", "ftp://ghp_abcdefghijklmnop@github.com"));
        assert!(!check("://", "https://example.com/x@y"));
        assert!(!check("://", "https://example.com x@y"));
        assert!(check("://", "https://u:to\\\nken@h"));
        assert!(check("://", "https://u:to\\\r\nken@h"));
        assert!(!check("://", "https://u:to\nken@h"));
        assert!(check("auth", "config set masterauth x"));
        assert!(check("auth", "\"auth\": \"x\""));
        assert!(check("auth", "auth"));
        assert!(!check("auth", "git log --author=alice"));
        for text in [
            "requirepass x",
            "a.pass",
            "/pass:x",
            "password",
            "PASSPHRASE",
            "pass",
        ] {
            assert!(check("pass", &text.to_ascii_lowercase()), "{text}");
        }
        assert!(!check("pass", "bypassing the cache"));
        assert!(!check("pass", "passenger"));
        assert!(check("curl", "curl -su bob:pw https://h"));
        assert!(check("curl", "curl --user bob:pw h"));
        assert!(check("curl", "curl -s \\\n  -U bob:pw h"));
        assert!(check("curl", &format!("curl -s {}", "x".repeat(300))));
        assert!(!check(
            "curl",
            "curl -fsSL https://example.com/install.sh | sh -s"
        ));
        assert!(!check("curl", "curl -s https://h/x\n-u"));
        checks(
            "curl",
            &[
                "curl -b 'sid=x' https://h",
                "curl -sSb sid=x https://h",
                "curl --cookie sid=x https://h",
                "curl -H 'Cookie: sid=x' https://h",
                "curl -s \\\n  -H 'COOKIE: sid=x' h",
            ],
            true,
        );
        checks(
            "curl",
            &[
                "curl -fsSL https://example.com/install.sh | sh -s",
                "curl -s https://h/b --data-binary @f",
                "curl -s https://h\n-b sid=x",
                "curl -s https://h/kb",
            ],
            false,
        );
        checks(
            "sudo",
            &[
                "echo x | sudo -S id",
                "echo x |  /usr/bin/sudo -u app -kS id",
                "echo x | sudo --stdin id",
                "echo x | sudo -u app \\\n -S id",
            ],
            true,
        );
        checks(
            "sudo",
            &[
                "sudo systemctl reload nginx",
                "sudo -u postgres psql -c 'SELECT 1'",
                "sudo -i\necho -S",
            ],
            false,
        );
    }
}
