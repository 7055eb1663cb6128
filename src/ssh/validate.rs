//! Strict validation of everything a caller may say about where to connect: host strings,
//! user names, ports, jump chains and identity files. Nothing a caller sends reaches `ssh` as
//! an option: a host must start with a letter, digit, `_` or `[`, and may only contain the
//! characters of host names and addresses, so `-oProxyCommand=…`, spaces, quotes and shell
//! metacharacters are refused before any process starts. (Every destination is also passed
//! after `--`.)

use std::path::PathBuf;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{ErrorKind, ToolError};

/// Most hops a jump chain may have (given by the caller or followed through ssh_config).
pub const MAX_JUMP_HOPS: usize = 8;

/// A host name or address (docs/tools.md): `%` admits an IPv6 zone, `[` `]` and `:` IPv6
/// literals.
static HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_\[][A-Za-z0-9._\-:%\[\]]{0,254}$").expect("static regex") // ok: literal
});
/// A plain account name.
static USER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9._\-]{0,127}$").expect("static regex") // ok: literal
});

/// Where to connect, as a caller wrote it: `[user@]host[:port]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// The user before `@`, if any.
    pub user: Option<String>,
    /// The host, with IPv6 brackets removed.
    pub host: String,
    /// The port after the last `:` of a name, IPv4 address or bracketed IPv6 address.
    pub port: Option<u16>,
}

impl Destination {
    /// `[user@]host[:port]` again (IPv6 hosts bracketed when a port follows).
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(u) = &self.user {
            s.push_str(u);
            s.push('@');
        }
        match self.port {
            Some(p) if self.host.contains(':') => s.push_str(&format!("[{}]:{p}", self.host)),
            Some(p) => s.push_str(&format!("{}:{p}", self.host)),
            None => s.push_str(&self.host),
        }
        s
    }
}

fn shown(s: &str) -> String {
    let cut: String = s.chars().take(80).collect();
    format!("{cut:?}")
}

/// Check a host token (no user, no port).
pub fn host(s: &str) -> Result<(), ToolError> {
    if HOST.is_match(s) && balanced_brackets(s) {
        Ok(())
    } else {
        Err(ToolError::invalid(format!(
            "invalid ssh host {}: expected a hostname or address (no spaces, quotes, options or \
             shell characters)",
            shown(s)
        )))
    }
}

fn balanced_brackets(s: &str) -> bool {
    let opens = s.matches('[').count();
    let closes = s.matches(']').count();
    opens == closes && opens <= 1 && (opens == 0 || (s.starts_with('[') && s.contains(']')))
}

/// Check a user name (empty is "not given" and is accepted).
pub fn user(s: &str) -> Result<(), ToolError> {
    if s.is_empty() || USER.is_match(s) {
        Ok(())
    } else {
        Err(ToolError::invalid(format!(
            "invalid ssh user {}: expected a plain account name",
            shown(s)
        )))
    }
}

/// Check a port argument: 0 means "not given".
pub fn port(p: i64) -> Result<Option<u16>, ToolError> {
    match p {
        0 => Ok(None),
        1..=65535 => Ok(Some(p as u16)),
        _ => Err(ToolError::invalid(format!(
            "port {p} out of range 1..65535"
        ))),
    }
}

/// Parse `[user@]host[:port]`; the port is only split off a name, an IPv4 address or a
/// bracketed IPv6 address (`[::1]:2222`); a bare IPv6 address keeps all its colons.
pub fn destination(s: &str) -> Result<Destination, ToolError> {
    let (user, rest) = match s.rsplit_once('@') {
        Some((u, h)) => {
            if u.is_empty() {
                return Err(ToolError::invalid(format!(
                    "invalid ssh user in {}: empty before '@'",
                    shown(s)
                )));
            }
            self::user(u)?;
            (Some(u.to_string()), h)
        }
        None => (None, s),
    };
    host(rest)?;
    let (host_part, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, tail) = inner.split_once(']').unwrap_or((inner, ""));
        let port = match tail {
            "" => None,
            t => Some(port_text(t.strip_prefix(':').unwrap_or("x"), s)?),
        };
        (h, port)
    } else if rest.matches(':').count() == 1 {
        let (h, p) = rest.split_once(':').unwrap_or((rest, "")); // ok: one colon present
        (h, Some(port_text(p, s)?))
    } else {
        (rest, None)
    };
    if host_part.is_empty() {
        return Err(ToolError::invalid(format!(
            "invalid ssh host {}: empty host",
            shown(s)
        )));
    }
    Ok(Destination {
        user,
        host: host_part.to_string(),
        port,
    })
}

fn port_text(p: &str, whole: &str) -> Result<u16, ToolError> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ToolError::invalid(format!(
            "invalid ssh port in {}: expected 1..65535",
            shown(whole)
        ))),
    }
}

/// Parse a jump chain `[user@]host[:port][,…]`: at most [`MAX_JUMP_HOPS`] hops, none repeated
/// (a chain that visits a hop twice loops).
pub fn jump(s: &str) -> Result<Vec<Destination>, ToolError> {
    if s.is_empty() {
        return Ok(vec![]);
    }
    let bad = || {
        ToolError::invalid(format!(
            "invalid ssh jump {}: expected [user@]host[:port][,...]",
            shown(s)
        ))
    };
    let mut hops = Vec::new();
    for part in s.split(',') {
        let d = destination(part).map_err(|_| bad())?;
        if hops.iter().any(|h: &Destination| same_hop(h, &d)) {
            return Err(ToolError::invalid(format!(
                "ssh jump chain {} loops: {} appears twice",
                shown(s),
                d.render()
            )));
        }
        hops.push(d);
    }
    if hops.len() > MAX_JUMP_HOPS {
        return Err(ToolError::invalid(format!(
            "ssh jump chain has {} hops; at most {MAX_JUMP_HOPS} are allowed",
            hops.len()
        )));
    }
    Ok(hops)
}

fn same_hop(a: &Destination, b: &Destination) -> bool {
    a.host.eq_ignore_ascii_case(&b.host) && a.port.unwrap_or(22) == b.port.unwrap_or(22)
}

/// Check that a jump chain does not pass through the target itself.
pub fn jump_avoids_target(hops: &[Destination], target: &Destination) -> Result<(), ToolError> {
    match hops.iter().find(|h| same_hop(h, target)) {
        Some(h) => Err(ToolError::invalid(format!(
            "ssh jump chain loops: hop {} is the target itself",
            h.render()
        ))),
        None => Ok(()),
    }
}

/// Expand `~/` and check that an identity file can be read by this process. `ssh` would
/// expand `%` tokens and `${VAR}` in it, so a path with `%` or `$` is refused rather than
/// silently rewritten.
pub fn key_path(raw: &str) -> Result<Option<PathBuf>, ToolError> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.contains(['\0', '\n', '\r', '%', '$', '"']) {
        return Err(ToolError::invalid(format!(
            "invalid key_path {}: control characters, '%', '$' and '\"' are not allowed",
            shown(raw)
        )));
    }
    let path = crate::config::expand_tilde(raw);
    match std::fs::File::open(&path) {
        Ok(f) => match f.metadata() {
            Ok(m) if m.is_file() => Ok(Some(path)),
            _ => Err(ToolError::new(
                ErrorKind::InvalidArgument,
                format!("identity file {} is not a regular file", path.display()),
            )),
        },
        Err(e) => Err(ToolError::from_io(
            &e,
            &format!("identity file {} cannot be read", path.display()),
        )),
    }
}

/// Whether the private key at `path` is protected by a passphrase (OpenSSH format: its
/// cipher is not `none`; PEM: an `ENCRYPTED` header). Unreadable or unknown formats: false.
pub fn key_is_encrypted(path: &std::path::Path) -> bool {
    use base64::Engine as _;
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    if text.contains("ENCRYPTED") {
        return true;
    }
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(body.trim()) else {
        return false;
    };
    let magic = b"openssh-key-v1\0";
    let Some(rest) = raw.strip_prefix(&magic[..]) else {
        return false;
    };
    let Some(len) = rest
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    else {
        return false;
    };
    rest.get(4..4 + len).is_some_and(|c| c != b"none")
}

/// Split a host list on commas and whitespace, dropping empty items.
pub fn split_hosts(s: &str) -> Vec<&str> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_could_become_options_or_shell_are_refused() {
        for bad in [
            "-oProxyCommand=touch /tmp/x",
            "-oProxyCommand=x",
            "a b",
            "a;b",
            "$(id)",
            "`id`",
            "a|b",
            "a'b",
            "a\"b",
            "a\nb",
            "",
            "[::1",
            "a]b",
            "host\0",
            "ho*st",
            "-p",
        ] {
            assert!(host(bad).is_err(), "{bad:?} accepted");
            assert!(destination(bad).is_err(), "{bad:?} accepted as destination");
        }
        assert!(
            host("::1").is_err(),
            "a bare IPv6 literal starting with ':' must be bracketed"
        );
        for good in [
            "web01",
            "127.0.0.1",
            "2001:db8::1",
            "[::1]",
            "fe80::1%eth0",
            "a_b.example.com",
        ] {
            host(good).unwrap();
        }
    }

    #[test]
    fn destinations() {
        let d = destination("root@web:2222").unwrap();
        assert_eq!(
            (d.user.as_deref(), d.host.as_str(), d.port),
            (Some("root"), "web", Some(2222))
        );
        let d = destination("[::1]:22").unwrap();
        assert_eq!((d.host.as_str(), d.port), ("::1", Some(22)));
        let d = destination("2001:db8::1").unwrap();
        assert_eq!((d.host.as_str(), d.port), ("2001:db8::1", None));
        assert!(destination("web:0").is_err());
        assert!(destination("web:99999").is_err());
        assert!(destination("web:").is_err());
        assert!(destination("@web").is_err());
        assert!(destination("-l@web").is_err());
        assert!(destination("a b@web").is_err());
        assert_eq!(destination("u@h:7").unwrap().render(), "u@h:7");
    }

    #[test]
    fn users_and_ports() {
        user("").unwrap();
        user("deploy-1.x").unwrap();
        assert!(user("-oProxyCommand=x").is_err());
        assert!(user("a b").is_err());
        assert_eq!(port(0).unwrap(), None);
        assert_eq!(port(22).unwrap(), Some(22));
        assert!(port(65536).is_err());
        assert!(port(-1).is_err());
    }

    #[test]
    fn jump_chains() {
        assert_eq!(jump("").unwrap(), vec![]);
        assert_eq!(jump("a@b:2,c").unwrap().len(), 2);
        assert!(jump("a,b,a").unwrap_err().message.contains("loops"));
        assert!(jump("b:22,b").unwrap_err().message.contains("loops"));
        assert!(jump("-oProxyCommand=x").is_err());
        assert!(jump("a,,b").is_err());
        let many: Vec<String> = (0..9).map(|i| format!("h{i}")).collect();
        assert!(jump(&many.join(",")).is_err());
        let t = destination("web").unwrap();
        assert!(jump_avoids_target(&jump("bastion,web").unwrap(), &t).is_err());
        assert!(jump_avoids_target(&jump("bastion").unwrap(), &t).is_ok());
    }

    #[test]
    fn key_paths() {
        assert_eq!(key_path("").unwrap(), None);
        let e = key_path("/nonexistent/id_x").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(key_path("/tmp/%d").is_err());
        assert!(key_path("/tmp").is_err());
    }

    #[test]
    fn host_lists() {
        assert_eq!(split_hosts(" a,b  c,\n,d "), vec!["a", "b", "c", "d"]);
        assert!(split_hosts(" , ").is_empty());
    }
}
