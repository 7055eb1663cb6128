//! The forms that need no client table row: `set`/`config` verbs whose key names a secret,
//! and `echo`/`printf` into a file whose name says it holds a password.

use super::words::{Command, Next, Word};
use super::{program_name, push_from};
use crate::redact::scan::Span;

/// Whether a configuration key names a secret (`requirepass`, `user.password`,
/// `//registry/:_authToken`, `API_TOKEN`) and not a setting about one (`token_file`,
/// `credential.helper`, `password_min_length`).
pub(super) fn names_secret(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    const ABOUT: &[&str] = &[
        "file", "path", "helper", "url", "uri", "type", "method", "mode", "cmd", "command", "env",
        "user", "username", "name", "id", "dir", "host", "port", "timeout", "ttl", "length", "len",
        "enabled", "required", "policy", "header", "prompt", "store", "expiry", "expires",
    ];
    let segments: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect();
    let Some(last) = segments.last() else {
        return false;
    };
    if ABOUT.iter().any(|a| last.ends_with(a)) && !last.ends_with("password") {
        return false;
    }
    let joined: String = segments.concat();
    segments.iter().any(|s| {
        matches!(*s, "pass" | "auth")
            || ["requirepass", "masterpass", "masterauth", "authtoken"]
                .iter()
                .any(|k| s.ends_with(k))
            || ["passw", "passphrase", "secret", "token", "pwd"]
                .iter()
                .any(|k| s.contains(k))
    }) || ["apikey", "privatekey"].iter().any(|k| joined.contains(k))
}

/// `set KEY VALUE`, `config [set] KEY VALUE`, `setx KEY VALUE`: the value, when the key names
/// a secret. Options before the key (`--global`) are skipped.
pub(super) fn set_form(rest: &[Word], found: &mut Vec<Span>) {
    let mut words = rest
        .iter()
        .take(super::SET_FORM_WORDS)
        .skip_while(|w| w.text.starts_with('-') || w.text.eq_ignore_ascii_case("set"));
    let Some(key) = words.next() else { return };
    if key.text.contains('=') || !names_secret(&key.text) {
        return;
    }
    if let Some(value) = words.next().filter(|w| !w.text.starts_with('-')) {
        push_from(value, 0, found);
    }
}

/// Whether a file name says the file holds a bare password or token.
pub(super) fn secret_file(path: &str) -> bool {
    let base = path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    ["passw", "secret", "token", "pwd"]
        .iter()
        .any(|k| base.contains(k))
        || base.ends_with(".pass")
        || base.ends_with("-pass")
        || base.ends_with("_pass")
}

/// `echo SECRET > /etc/rsync.pass`, `printf '%s' SECRET | tee ~/.vault-token` (`printf`
/// says which: its first operand is a format).
pub(super) fn writer(cmd: &Command, next: Option<&Command>, printf: bool, found: &mut Vec<Span>) {
    let into_secret = cmd.writes_target
        || (cmd.next == Next::Pipe
            && next.is_some_and(|n| {
                n.words
                    .first()
                    .is_some_and(|w| program_name(&w.text, &mut [0u8; 32]) == Some(b"tee"))
                    && n.words[1..]
                        .iter()
                        .any(|w| !w.text.starts_with('-') && secret_file(&w.text))
            }));
    if !into_secret {
        return;
    }
    let operands = cmd.words[1..].iter().skip_while(|w| {
        w.text.starts_with('-')
            && w.text.len() <= 3
            && w.text[1..].bytes().all(|b| b.is_ascii_alphabetic())
    });
    let mut operands = operands.peekable();
    if printf && operands.peek().is_some_and(|w| w.text.contains('%')) {
        operands.next();
    }
    for word in operands {
        push_from(word, 0, found);
    }
}
