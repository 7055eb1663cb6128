//! Commands that change state, by subcommand and flag: destruction and power (tier 3), services,
//! packages, permissions, accounts, firewalls, containers (tier 2), file writes (tier 1) — and
//! the read-only forms of the same tools (tier 0).

use super::{Judgement, first_operand, has_long, has_short, operands};
use crate::policy::Tier;
use crate::policy::classify::paths::Dest;
use crate::policy::classify::words::Word;

use Tier::{Irreversible as T3, ReadOnly as T0, Reversible as T1, Stateful as T2};

fn j(tier: Tier, rule: impl Into<String>) -> Option<Judgement> {
    Some(Judgement::data(tier, rule))
}

/// The first operand (the subcommand), skipping global options that take a value.
fn sub<'a>(args: &'a [Word], values: &[&str]) -> Option<(usize, &'a str)> {
    first_operand(args, values).map(|(i, w)| (i, w.text.as_str()))
}

pub(super) fn judge(name: &str, args: &[Word]) -> Option<Judgement> {
    let help = args.len() == 1 && matches!(args[0].text.as_str(), "--help" | "--version" | "-V");
    if help && !name.is_empty() {
        return j(T0, format!("{name} prints help or its version"));
    }
    if name.starts_with("mkfs") || name.starts_with("mke2fs") {
        return j(
            T3,
            format!("{name} creates a file system (destroys the data)"),
        );
    }
    match name {
        "shred" | "wipe" | "srm" | "blkdiscard" | "mkswap" | "cfdisk" | "zerofree" => {
            j(T3, format!("{name} destroys data"))
        }
        "sgdisk" | "gdisk" => {
            if has_short(args, 'p')
                || has_long(args, "print")
                || has_short(args, 'l') && name == "gdisk"
            {
                j(T0, format!("{name} lists partitions"))
            } else {
                j(T3, format!("{name} rewrites partition tables"))
            }
        }
        "shutdown" | "reboot" | "halt" | "poweroff" | "kexec" => {
            j(T3, format!("{name} stops or restarts the machine"))
        }
        "init" | "telinit" => match operands(args).first().map(|w| w.text.as_str()) {
            Some("0" | "6") => j(T3, "init 0/6 stops or restarts the machine"),
            _ => j(T2, "init changes the run level"),
        },
        "userdel" | "deluser" | "groupdel" | "delgroup" | "gpasswd" => j(
            T3,
            format!("{name} changes or removes accounts or credentials"),
        ),
        "useradd" | "adduser" | "usermod" | "groupadd" | "addgroup" | "groupmod" | "chpasswd"
        | "visudo" | "chsh" | "chfn" | "vipw" | "vigr" | "newusers" => {
            j(T2, format!("{name} changes accounts"))
        }
        "lvremove" | "vgremove" | "pvremove" => j(T3, format!("{name} removes LVM volumes")),
        "nvme" => match sub(args, &[]) {
            Some((_, "format" | "sanitize" | "delete-ns")) => {
                j(T3, "nvme format/sanitize destroys data")
            }
            Some((_, "list" | "smart-log" | "id-ctrl" | "id-ns" | "error-log")) => {
                j(T0, "nvme reads only")
            }
            _ => j(T2, "nvme changes device settings"),
        },
        "rsync" | "scp" | "sftp" | "patch" | "unzip" | "zip" | "7z" | "ar" | "cpio" => {
            file_writer(name, args)
        }
        "chmod" => {
            if has_short(args, 'R') || has_long(args, "recursive") {
                j(T2, "chmod -R changes permissions of a tree")
            } else {
                writes(name, args, "changes permissions")
            }
        }
        "chown" | "chgrp" | "chattr" | "setfacl" | "setcap" | "chcon" | "restorecon"
        | "setfattr" => j(T2, format!("{name} changes ownership or attributes")),
        "pkill" | "killall" | "skill" | "renice" => {
            j(T2, format!("{name} signals or reprioritises processes"))
        }
        "umount" | "swapoff" => j(T2, format!("{name} changes mounts or swap")),
        "modprobe"
        | "insmod"
        | "rmmod"
        | "depmod"
        | "ldconfig"
        | "update-grub"
        | "grub-install"
        | "grub-mkconfig"
        | "update-initramfs"
        | "dracut"
        | "update-alternatives"
        | "setenforce"
        | "ssh-copy-id"
        | "firewall-cmd"
        | "brctl"
        | "ifup"
        | "ifdown"
        | "dhclient"
        | "wg"
        | "wg-quick"
        | "lvcreate"
        | "lvextend"
        | "lvresize"
        | "vgcreate"
        | "resize2fs"
        | "xfs_repair" => j(T2, format!("{name} changes system configuration")),
        "pvcreate" => j(T3, "pvcreate overwrites the device's label"),
        "auditctl" => {
            let reads = args.iter().all(|w| {
                matches!(
                    w.text.as_str(),
                    "-l" | "-s" | "-v" | "--version" | "-h" | "--help"
                )
            });
            if reads && !args.is_empty() {
                j(T0, "auditctl -l/-s lists rules or status")
            } else {
                j(T2, "auditctl changes audit rules")
            }
        }
        "apt" | "apt-get" | "aptitude" | "yum" | "dnf" | "zypper" | "pacman" | "apk" | "snap"
        | "flatpak" | "brew" | "pip" | "pip3" | "pipx" | "npm" | "yarn" | "pnpm" | "gem"
        | "cargo" | "go" | "conda" | "port" | "pkg" | "emerge" | "choco" | "winget" | "rpm"
        | "dpkg" => packages(name, args),
        "ldd" => j(T2, "ldd may run the program's own loader code"),
        "make" | "cmake" | "ninja" | "ansible" | "ansible-playbook" | "meson" | "bazel"
        | "gradle" | "mvn" => j(T2, format!("{name} runs build or deployment code")),
        "zpool" | "zfs" => match sub(args, &[]) {
            Some((_, "destroy" | "labelclear")) => j(T3, format!("{name} destroy")),
            Some((_, "list" | "status" | "get" | "iostat" | "history")) | None => {
                j(T0, format!("{name} reads only"))
            }
            _ => j(T2, format!("{name} changes pools or datasets")),
        },
        _ => None,
    }
}

/// Archivers and patchers: tier 1, with the place they write for the path judge (the
/// working directory unless a directory is given).
fn file_writer(name: &str, args: &[Word]) -> Option<Judgement> {
    let lists = match name {
        "unzip" => {
            has_short(args, 'l')
                || has_short(args, 'p')
                || has_short(args, 't')
                || has_short(args, 'Z')
                || has_short(args, 'v')
        }
        "7z" => args
            .first()
            .is_some_and(|w| matches!(w.text.as_str(), "l" | "t" | "h" | "i")),
        _ => false,
    };
    if lists {
        return j(T0, format!("{name} lists or tests an archive"));
    }
    let mut judgement = Judgement::data(T1, format!("{name} writes files"));
    let dir = args.windows(2).find(|p| p[0].text == "-d").map(|p| &p[1]);
    let archive = (name == "zip")
        .then(|| operands(args).first().copied())
        .flatten();
    let dest = match (dir, archive) {
        (Some(d), _) | (None, Some(d)) => Dest::write(&d.text, d.literal),
        _ => Dest::write(".", true),
    };
    judgement.writes.push(dest);
    Some(judgement)
}

/// A command changing the files it names (`chmod`): each operand after the mode is judged by
/// the path judge.
fn writes(name: &str, args: &[Word], what: &str) -> Option<Judgement> {
    let mut judgement = Judgement::data(T1, format!("{name} {what}"));
    for w in operands(args).into_iter().skip(1) {
        judgement.writes.push(Dest::write(&w.text, w.literal));
    }
    Some(judgement)
}

fn packages(name: &str, args: &[Word]) -> Option<Judgement> {
    let values = [
        "-c",
        "-o",
        "-t",
        "--target-release",
        "-C",
        "--config",
        "-r",
        "--root",
        "--prefix",
    ];
    if name == "dpkg" || name == "rpm" {
        let query = ['l', 'L', 's', 'S', 'q', 'V']
            .iter()
            .any(|c| has_short(args, *c))
            || has_long(args, "list")
            || has_long(args, "status")
            || has_long(args, "query")
            || has_long(args, "get-selections");
        let change = ['i', 'r', 'P', 'e', 'U', 'F']
            .iter()
            .any(|c| has_short(args, *c))
            || has_long(args, "install")
            || has_long(args, "remove")
            || has_long(args, "purge")
            || has_long(args, "erase");
        return if query && !change {
            j(T0, format!("{name} queries packages"))
        } else {
            j(T2, format!("{name} changes packages"))
        };
    }
    let s = sub(args, &values).map(|(_, s)| s.to_ascii_lowercase());
    match s.as_deref() {
        None => j(T0, format!("{name} with no subcommand prints help")),
        Some(
            "list" | "search" | "show" | "info" | "policy" | "madison" | "depends" | "rdepends"
            | "outdated" | "freeze" | "check" | "version" | "view" | "ls" | "config" | "help"
            | "why" | "audit" | "query",
        ) => j(
            T0,
            format!("{name} {} reads only", s.as_deref().unwrap_or("")),
        ),
        Some(sub) => {
            Judgement::unlisted(T2, format!("{name} {sub} changes installed software"), args)
        }
    }
}
