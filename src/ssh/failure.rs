//! Turning a failed master's log into an error that says what is wrong and what to do.
//! OpenSSH's messages are stable across releases; the ones recognised here are its own
//! wording for a changed or unknown host key, refused authentication and unreachable hosts.

use crate::config::KnownHosts;
use crate::error::{ErrorKind, ToolError};

/// The fingerprint ssh printed after "The fingerprint for the … key sent by the remote host is".
fn offered_fingerprint(log: &str) -> Option<String> {
    let mut lines = log.lines();
    while let Some(l) = lines.next() {
        if l.contains("key sent by the remote host is") {
            return lines
                .next()
                .map(|f| f.trim().trim_end_matches('.').to_string());
        }
    }
    None
}

/// The text after `prefix` up to `suffix` on the first line containing both.
fn between<'a>(log: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    log.lines().find_map(|l| {
        let start = l.find(prefix)? + prefix.len();
        let end = l[start..].find(suffix)? + start;
        Some(&l[start..end])
    })
}

/// The last few meaningful lines of the log, joined.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('@') && !l.starts_with("Warning: Permanently"))
        .collect();
    lines[lines.len().saturating_sub(3)..].join("; ")
}

/// Classify the log of a master that exited (`code` is its exit status). `who` is
/// `user@host:port` as resolved.
pub fn classify(log: &str, who: &str, mode: KnownHosts, code: Option<i32>) -> ToolError {
    if log.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || log.contains("has changed and you have requested strict checking")
    {
        let host = between(log, "Host key for ", " has changed").unwrap_or(who);
        let fp = offered_fingerprint(log).unwrap_or_else(|| "an unknown key".into());
        let offending = log
            .lines()
            .find_map(|l| l.trim().strip_prefix("Offending ").map(str::to_string))
            .unwrap_or_default();
        return ToolError::new(
            ErrorKind::HostKeyNotVerifiable,
            format!(
                "the host key of {host} has changed: the server offered {fp}, which does not match \
                 the recorded key{}; refused (known_hosts={}). If the change is expected, remove \
                 the old entry (ssh-keygen -R) and connect again",
                if offending.is_empty() {
                    String::new()
                } else {
                    format!(" ({offending})")
                },
                mode.as_str()
            ),
        );
    }
    if let Some(host) = between(
        log,
        "host key is known for ",
        " and you have requested strict checking",
    ) {
        return ToolError::new(
            ErrorKind::HostKeyNotVerifiable,
            format!(
                "no host key for {host} is in the known_hosts file and known_hosts=strict refuses \
                 unknown hosts; record its key first (ssh_keyscan, checked out of band) or use \
                 known_hosts=accept-new"
            ),
        );
    }
    if log.contains("Host key verification failed") {
        return ToolError::new(
            ErrorKind::HostKeyNotVerifiable,
            format!("host key verification for {who} failed: {}", tail(log)),
        );
    }
    if let Some(methods) = between(log, "Permission denied (", ")") {
        let detail = if methods.split(',').any(|m| m == "publickey") {
            "the server accepted none of the offered keys; no password or passphrase prompt is \
             possible (BatchMode), so load an encrypted key into ssh-agent, or pass key_path to a \
             key the server accepts"
        } else {
            "the server wants a password or another interactive method, and no prompt is \
             possible (BatchMode): set up key authentication"
        };
        return ToolError::new(
            ErrorKind::AuthenticationFailed,
            format!("{who}: permission denied ({methods}): {detail}"),
        );
    }
    let text = tail(log);
    if text.is_empty() {
        return ToolError::new(
            ErrorKind::ConnectionFailed,
            format!(
                "ssh to {who} exited{} without a message",
                code.map(|c| format!(" with status {c}"))
                    .unwrap_or_default()
            ),
        );
    }
    ToolError::new(ErrorKind::ConnectionFailed, format!("{who}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANGED: &str = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:abcDEF123.
Please contact your system administrator.
Add correct host key in /tmp/kh to get rid of this message.
Offending ED25519 key in /tmp/kh:1
Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.
Host key verification failed.
";

    #[test]
    fn changed_key_names_host_and_fingerprint() {
        let e = classify(
            CHANGED,
            "root@127.0.0.1:2222",
            KnownHosts::AcceptNew,
            Some(255),
        );
        assert_eq!(e.kind, ErrorKind::HostKeyNotVerifiable);
        assert!(e.message.contains("[127.0.0.1]:2222"), "{}", e.message);
        assert!(e.message.contains("SHA256:abcDEF123"), "{}", e.message);
        assert!(e.message.contains("/tmp/kh:1"), "{}", e.message);
    }

    #[test]
    fn unknown_auth_and_network() {
        let e = classify(
            "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.\n",
            "w",
            KnownHosts::Strict,
            Some(255),
        );
        assert_eq!(e.kind, ErrorKind::HostKeyNotVerifiable);
        assert!(e.message.contains("no host key for [127.0.0.1]:2222"));
        let e = classify(
            "root@h: Permission denied (publickey).\n",
            "w",
            KnownHosts::Strict,
            None,
        );
        assert_eq!(e.kind, ErrorKind::AuthenticationFailed);
        assert!(e.message.contains("ssh-agent"));
        let e = classify(
            "u@h: Permission denied (password).\n",
            "w",
            KnownHosts::Strict,
            None,
        );
        assert!(e.message.contains("wants a password"));
        let e = classify(
            "ssh: connect to host 127.0.0.1 port 1: Connection refused\n",
            "root@127.0.0.1:1",
            KnownHosts::Strict,
            Some(255),
        );
        assert_eq!(e.kind, ErrorKind::ConnectionFailed);
        assert!(e.message.contains("Connection refused"));
        let e = classify("", "w", KnownHosts::Strict, Some(255));
        assert!(e.message.contains("status 255"));
    }
}
