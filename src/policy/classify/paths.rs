//! How sensitive a write target is: `/dev/null` is nothing, a file is tier 1, system paths are
//! tier 2, block devices and the sysrq trigger are tier 3.

use crate::policy::Tier;

/// Paths whose writing is harmless.
const SINKS: &[&str] = &[
    "/dev/null",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/tty",
    "/dev/zero",
    "/dev/full",
];

/// Device name prefixes of block devices and raw memory.
const BLOCK_DEVICES: &[&str] = &[
    "/dev/sd",
    "/dev/hd",
    "/dev/vd",
    "/dev/xvd",
    "/dev/nvme",
    "/dev/mmcblk",
    "/dev/dm-",
    "/dev/mapper/",
    "/dev/md",
    "/dev/loop",
    "/dev/disk/",
    "/dev/sr",
    "/dev/mem",
    "/dev/kmem",
    "/dev/port",
    "/dev/nbd",
    "/dev/rbd",
    "/dev/zd",
];

/// System trees where a write changes how the machine runs.
const SYSTEM_TREES: &[&str] = &[
    "/etc",
    "/boot",
    "/usr",
    "/var/lib",
    "/var/log",
    "/var/spool",
    "/var/cache",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/root",
    "/srv",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/efi",
    "/snap",
];

/// Files under a home directory that run code at login or grant access.
const PERSISTENCE_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".kshrc",
    ".cshrc",
    ".tcshrc",
    ".inputrc",
    ".xinitrc",
    ".xprofile",
    ".gitconfig",
    ".pam_environment",
];

/// Tier and reason of writing to `path`; `None` for harmless sinks. `cwd` resolves relative
/// paths when the text established it (`cd /etc; echo x > passwd`).
pub(crate) fn write_target(
    path: &str,
    literal: bool,
    cwd: Option<&str>,
) -> Option<(Tier, &'static str)> {
    if !literal {
        return Some((Tier::Stateful, "writes to a path that is not a literal"));
    }
    let joined;
    let path = match cwd {
        Some(dir) if !path.starts_with('/') && !path.starts_with('~') => {
            joined = format!("{dir}/{path}");
            joined.as_str()
        }
        _ => path,
    };
    let norm = normalise(path);
    let p = norm.as_str();
    if SINKS.contains(&p) || p.starts_with("/dev/fd/") || p.starts_with("/proc/self/fd/") {
        return None;
    }
    if p == "/proc/sysrq-trigger" {
        return Some((Tier::Irreversible, "writes the sysrq trigger"));
    }
    if BLOCK_DEVICES.iter().any(|d| p.starts_with(d)) {
        return Some((Tier::Irreversible, "writes a block device or raw memory"));
    }
    if p.starts_with("/dev/tcp/") || p.starts_with("/dev/udp/") {
        return Some((Tier::Stateful, "sends data over the network (/dev/tcp)"));
    }
    if p == "/"
        || SYSTEM_TREES
            .iter()
            .any(|t| p == *t || p.starts_with(&format!("{t}/")))
    {
        return Some((Tier::Stateful, "writes a system path"));
    }
    let file = p.rsplit('/').next().unwrap_or(p);
    if p.contains("/.ssh/")
        || p.starts_with(".ssh/")
        || p.contains("/.config/systemd/")
        || PERSISTENCE_FILES.contains(&file)
    {
        return Some((
            Tier::Stateful,
            "writes a login, SSH or service file (persistence)",
        ));
    }
    Some((Tier::Reversible, "writes a file"))
}

/// Lexical normalisation: collapse `//` and `.`, resolve `..` (never above `/`).
fn normalise(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(write_target("/dev/null", true, None), None);
        assert_eq!(
            write_target("/dev/sda", true, None).map(|t| t.0),
            Some(Tier::Irreversible)
        );
        assert_eq!(
            write_target("/tmp/../etc/passwd", true, None).map(|t| t.0),
            Some(Tier::Stateful)
        );
        assert_eq!(
            write_target("//etc//x", true, None).map(|t| t.0),
            Some(Tier::Stateful)
        );
        assert_eq!(
            write_target("out.txt", true, None).map(|t| t.0),
            Some(Tier::Reversible)
        );
        assert_eq!(
            write_target("passwd", true, Some("/etc")).map(|t| t.0),
            Some(Tier::Stateful)
        );
        assert_eq!(
            write_target("~/.ssh/authorized_keys", true, None).map(|t| t.0),
            Some(Tier::Stateful)
        );
        assert_eq!(
            write_target("$F", false, None).map(|t| t.0),
            Some(Tier::Stateful)
        );
    }
}
