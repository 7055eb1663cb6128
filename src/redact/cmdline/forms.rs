//! The forms that need no client table row: `set`/`config` verbs whose key names a secret,
//! and `echo`/`printf` into a file whose name says it holds a password or into a command that
//! reads one on its standard input.

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
    /// File-name extensions: a key that ends in one is named by the segment before it
    /// (`password_policy.json` is about a policy).
    const EXTENSIONS: &[&str] = &[
        "json", "yaml", "yml", "toml", "xml", "ini", "conf", "cfg", "txt",
    ];
    let mut segments: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect();
    if segments.len() > 1
        && lower.contains('.')
        && segments.last().is_some_and(|l| EXTENSIONS.contains(l))
    {
        segments.pop();
    }
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
    ["passw", "secret", "token", "pwd", "credential", "netrc"]
        .iter()
        .any(|k| base.contains(k))
        || [".pass", "-pass", "_pass", "pgpass", "my.cnf"]
            .iter()
            .any(|k| base.ends_with(k))
}

/// Short options of `sudo` that take a value (`sudo -u app -S cmd`, `sudo -uapp`).
const SUDO_VALUED: &[u8] = b"ugpChrtUDRT";

/// Long options of `sudo` that take a value, given as the next word when written without `=`.
const SUDO_VALUED_LONG: &[&str] = &[
    "--user",
    "--group",
    "--prompt",
    "--close-from",
    "--host",
    "--role",
    "--type",
    "--other-user",
    "--chdir",
    "--chroot",
    "--command-timeout",
];

/// Whether a command reads a password or token on its standard input, so that what is piped
/// into it is the secret: `docker login --password-stdin` (and every login that has that
/// option), `gh auth login --with-token`, `sudo -S`, `chpasswd`, `passwd --stdin`.
pub(super) fn reads_secret_on_stdin(cmd: &Command) -> bool {
    let Some(first) = cmd.words.first() else {
        return false;
    };
    let args = &cmd.words[1..];
    let has = |flag: &str| args.iter().any(|w| w.text == flag);
    match program_name(&first.text, &mut [0u8; 32]) {
        Some(b"chpasswd") => true,
        Some(b"passwd") => has("--stdin"),
        Some(b"sudo") => {
            let mut words = args.iter();
            while let Some(word) = words.next() {
                let text: &str = &word.text;
                if text == "--stdin" {
                    return true;
                }
                if text == "--" || !text.starts_with('-') {
                    return false;
                }
                if text.starts_with("--") {
                    if SUDO_VALUED_LONG.contains(&text) {
                        words.next();
                    }
                    continue;
                }
                // A bundle of flags, up to the first letter that takes a value: the rest of
                // the word is that value, or the next word is when nothing follows.
                for (i, b) in text.bytes().enumerate().skip(1) {
                    if b == b'S' {
                        return true;
                    }
                    if SUDO_VALUED.contains(&b) {
                        if i + 1 == text.len() {
                            words.next();
                        }
                        break;
                    }
                }
            }
            false
        }
        _ => has("--password-stdin") || has("--with-token"),
    }
}

/// `echo SECRET > /etc/rsync.pass`, `printf '%s' SECRET | tee ~/.vault-token` (`printf`
/// says which: its first operand is a format).
pub(super) fn writer(cmd: &Command, next: Option<&Command>, printf: bool, found: &mut Vec<Span>) {
    let into_secret = cmd.writes_target
        || (cmd.next == Next::Pipe
            && next.is_some_and(|n| {
                reads_secret_on_stdin(n)
                    || n.words
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
