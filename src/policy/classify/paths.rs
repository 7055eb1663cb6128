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

/// The working directory relative paths resolve against, as far as the text establishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cwd {
    /// Where the call starts (not known to the classifier, but not chosen by the text).
    Start,
    /// An absolute directory the text moved to (`cd /etc`).
    Known(String),
    /// A directory the text moved to that is not known (`cd "$D"`, `cd -`): the worst case.
    Unknown,
}

/// One place a command writes.
#[derive(Clone, Debug)]
pub(crate) struct Dest {
    /// The path as the program receives it.
    pub path: String,
    /// Whether the path is known before the command runs.
    pub literal: bool,
    /// A directory the program resolves a relative `path` against (`tar -C dir`).
    pub base: Option<String>,
    /// The command replaces the path itself (`mv`, `ln`, `install`) rather than writing into
    /// it: a device node such as `/dev/null` is then not a harmless sink.
    pub replaces: bool,
}

impl Dest {
    /// A destination written into.
    pub(crate) fn write(path: &str, literal: bool) -> Dest {
        Dest {
            path: path.to_string(),
            literal,
            base: None,
            replaces: false,
        }
    }
}

/// Directories a relative path may land in when the working directory is unknown.
const WORST_BASES: &[&str] = &["/dev", "/proc", "/etc", "/root"];

/// Tier and reason of writing to `dest` from `cwd`; `None` for harmless sinks. This is the one
/// judge of every write destination: redirections, `tee`, `sort -o`, `sed w`, `awk` output,
/// `dd of=`, copy targets, `-o`/`--output` options.
pub(crate) fn judge(dest: &Dest, cwd: &Cwd) -> Option<(Tier, &'static str)> {
    if !dest.literal {
        return Some((Tier::Stateful, "writes to a path that is not a literal"));
    }
    let path = dest.path.as_str();
    let relative = !path.starts_with('/') && !path.starts_with('~');
    if !relative {
        return judge_absolute(path, dest.replaces);
    }
    let base = match &dest.base {
        Some(b) if b.starts_with('/') || b.starts_with('~') => Cwd::Known(b.clone()),
        Some(b) => match cwd {
            Cwd::Known(dir) => Cwd::Known(format!("{dir}/{b}")),
            Cwd::Start if !b.starts_with("..") => Cwd::Start,
            _ => Cwd::Unknown,
        },
        None => cwd.clone(),
    };
    match base {
        Cwd::Known(dir) => judge_absolute(&format!("{dir}/{path}"), dest.replaces),
        Cwd::Start if !path.starts_with("..") => judge_absolute(path, dest.replaces),
        // A directory the text chose without saying which, or a path climbing out of the
        // starting directory: whatever the worst place it could land.
        _ => {
            let mut worst = (Tier::Reversible, "writes a file");
            for dir in WORST_BASES {
                if let Some(found) = judge_absolute(&format!("{dir}/{path}"), dest.replaces)
                    && found.0 > worst.0
                {
                    worst = (found.0, found.1);
                }
            }
            Some((
                worst.0,
                if worst.0 > Tier::Reversible {
                    "writes a relative path from a directory that is not known (the worst case)"
                } else {
                    worst.1
                },
            ))
        }
    }
}

/// Tier and reason of writing to `path` from an optional known directory (tests).
#[cfg(test)]
pub(crate) fn write_target(
    path: &str,
    literal: bool,
    cwd: Option<&str>,
) -> Option<(Tier, &'static str)> {
    let cwd = match cwd {
        Some(dir) => Cwd::Known(dir.to_string()),
        None => Cwd::Start,
    };
    judge(&Dest::write(path, literal), &cwd)
}

/// Judge a path with its directory resolved (absolute, `~`-relative or relative to the start).
fn judge_absolute(path: &str, replaces: bool) -> Option<(Tier, &'static str)> {
    // `~` and `~user` are some home directory.
    let homed;
    let path = match path.strip_prefix('~') {
        Some(rest) => {
            homed = format!("/home/~{}", rest.find('/').map_or("", |i| &rest[i..]));
            homed.as_str()
        }
        None => path,
    };
    let norm = normalise(path);
    let p = norm.as_str();
    if SINKS.contains(&p) || p.starts_with("/dev/fd/") || p.starts_with("/proc/self/fd/") {
        return if replaces {
            Some((Tier::Stateful, "replaces a device node"))
        } else {
            None
        };
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
        || p.ends_with("/.ssh")
        || p.contains("/.config/systemd/")
        || p.contains("/.config/autostart")
        || p.contains("/.kube/")
        || p.contains("/.aws/")
        || p.contains("/.docker/")
        || p.contains("/.gnupg/")
        || PERSISTENCE_FILES.contains(&file)
    {
        return Some((
            Tier::Stateful,
            "writes a login, SSH, credential or service file (persistence)",
        ));
    }
    Some((Tier::Reversible, "writes a file"))
}

/// Files whose contents are credentials: feeding one to a program that may send or run its
/// input is sending the secret.
pub(crate) fn secret(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    let file = p.rsplit('/').next().unwrap_or(&p);
    matches!(
        p.as_str(),
        "/etc/shadow" | "/etc/gshadow" | "/etc/sudoers" | "/etc/master.passwd"
    ) || p.starts_with("/etc/ssh/ssh_host_") && !p.ends_with(".pub")
        || p.contains("/.ssh/") && !p.ends_with(".pub") && !p.ends_with("known_hosts")
        || file.starts_with("id_") && !file.ends_with(".pub")
        || file.ends_with(".pem")
        || file.ends_with(".key")
        || file.ends_with(".p12")
        || file.ends_with(".pfx")
        || p.ends_with(".aws/credentials")
        || p.ends_with(".kube/config")
        || p.ends_with(".docker/config.json")
        || matches!(
            file,
            ".netrc" | ".pgpass" | ".git-credentials" | ".my.cnf" | "credentials.json"
        )
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

#[cfg(test)]
mod judge_tests {
    use super::*;

    fn tier(path: &str, cwd: &Cwd) -> Option<Tier> {
        judge(&Dest::write(path, true), cwd).map(|t| t.0)
    }

    #[test]
    fn relative_paths_resolve_against_the_working_directory() {
        assert_eq!(
            tier("passwd", &Cwd::Known("/etc".into())),
            Some(Tier::Stateful)
        );
        assert_eq!(
            tier("sda", &Cwd::Known("/dev".into())),
            Some(Tier::Irreversible)
        );
        assert_eq!(
            tier("x", &Cwd::Known("/etc/../tmp".into())),
            Some(Tier::Reversible)
        );
        assert_eq!(tier("out", &Cwd::Start), Some(Tier::Reversible));
        // An unknown directory, or a path climbing out of the start: the worst case.
        assert_eq!(tier("f", &Cwd::Unknown), Some(Tier::Stateful));
        assert_eq!(tier("sda", &Cwd::Unknown), Some(Tier::Irreversible));
        assert_eq!(tier("../../etc/x", &Cwd::Start), Some(Tier::Stateful));
        assert_eq!(
            tier(".bashrc", &Cwd::Known("~".into())),
            Some(Tier::Stateful)
        );
        assert_eq!(
            tier("~/../../etc/passwd", &Cwd::Start),
            Some(Tier::Stateful)
        );
        assert_eq!(tier("~/notes.txt", &Cwd::Start), Some(Tier::Reversible));
        assert_eq!(tier("/dev/null", &Cwd::Unknown), None);
    }

    #[test]
    fn replacing_a_device_node_is_not_writing_into_it() {
        let mut d = Dest::write("/dev/null", true);
        assert_eq!(judge(&d, &Cwd::Start), None);
        d.replaces = true;
        assert_eq!(judge(&d, &Cwd::Start).map(|t| t.0), Some(Tier::Stateful));
    }

    #[test]
    fn a_base_directory_moves_relative_paths() {
        let d = Dest {
            base: Some("/etc".into()),
            ..Dest::write(".", true)
        };
        assert_eq!(judge(&d, &Cwd::Start).map(|t| t.0), Some(Tier::Stateful));
        assert!(secret("/etc/shadow") && secret("/root/.ssh/id_ed25519") && !secret("key.pub"));
    }
}
