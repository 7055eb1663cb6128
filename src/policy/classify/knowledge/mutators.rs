//! Commands that change state, by subcommand and flag: destruction and power (tier 3), services,
//! packages, permissions, accounts, firewalls, containers (tier 2), file writes (tier 1) — and
//! the read-only forms of the same tools (tier 0).

use super::{Inner, Judgement, first_operand, has_long, has_prefix, has_short, has_word, operands};
use crate::policy::Tier;
use crate::policy::classify::paths;
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
    if name.starts_with("mkfs") || name.starts_with("mke2fs") {
        return j(
            T3,
            format!("{name} creates a file system (destroys the data)"),
        );
    }
    match name {
        "shred" | "wipefs" | "wipe" | "srm" | "blkdiscard" | "mkswap" | "cfdisk" | "gdisk"
        | "zerofree" => j(T3, format!("{name} destroys data")),
        "fdisk" | "sfdisk" | "sgdisk" | "parted" => {
            let lists = has_short(args, 'l')
                || has_long(args, "list")
                || has_short(args, 'p')
                || has_word(args, "print");
            if lists && name != "parted"
                || name == "parted" && has_word(args, "print") && !has_word(args, "rm")
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
        "userdel" | "deluser" | "groupdel" | "delgroup" | "gpasswd" | "passwd" => j(
            T3,
            format!("{name} changes or removes accounts or credentials"),
        ),
        "useradd" | "adduser" | "usermod" | "groupadd" | "addgroup" | "groupmod" | "chpasswd"
        | "chage" | "visudo" | "chsh" | "chfn" | "vipw" | "vigr" | "newusers" => {
            j(T2, format!("{name} changes accounts"))
        }
        "lvremove" | "vgremove" | "pvremove" => j(T3, format!("{name} removes LVM volumes")),
        "zpool" | "zfs" => match sub(args, &[]) {
            Some((_, "destroy" | "labelclear")) => j(T3, format!("{name} destroy")),
            Some((_, "list" | "status" | "get" | "iostat" | "history")) | None => {
                j(T0, format!("{name} reads only"))
            }
            _ => j(T2, format!("{name} changes pools or datasets")),
        },
        "nvme" => match sub(args, &[]) {
            Some((_, "format" | "sanitize" | "delete-ns")) => {
                j(T3, "nvme format/sanitize destroys data")
            }
            Some((_, "list" | "smart-log" | "id-ctrl" | "id-ns" | "error-log")) => {
                j(T0, "nvme reads only")
            }
            _ => j(T2, "nvme changes device settings"),
        },
        "dd" => dd(args),
        "truncate" => {
            let zero = args
                .iter()
                .any(|w| matches!(w.text.as_str(), "-s0" | "--size=0"))
                || args
                    .windows(2)
                    .any(|p| p[0].text == "-s" && p[1].text == "0");
            if zero {
                j(T3, "truncate -s 0 destroys the contents")
            } else {
                j(T3, "truncate cuts files (data past the size is lost)")
            }
        }
        "rm" | "unlink" => {
            if name == "rm"
                && (has_short(args, 'r')
                    || has_short(args, 'R')
                    || has_short(args, 'f')
                    || has_long(args, "recursive")
                    || has_long(args, "force")
                    || has_long(args, "no-preserve-root"))
            {
                j(T3, "rm -r/-f removes files irrecoverably")
            } else {
                j(T2, format!("{name} removes files"))
            }
        }
        // `rmdir /s /q` and `rd` are cmd.exe's recursive delete: leave them to the raw-text rules.
        "rmdir"
            if args.iter().any(|w| {
                w.text.eq_ignore_ascii_case("/s") || w.text.eq_ignore_ascii_case("/q")
            }) =>
        {
            None
        }
        "rmdir" => writes(name, args, "removes empty directories"),
        "mv" | "cp" | "install" | "touch" | "mkdir" | "mkfifo" | "mknod" | "ln" | "tee"
        | "rsync" | "scp" | "sftp" | "patch" | "split" | "csplit" | "unzip" | "zip" | "7z"
        | "ar" | "cpio" => file_writer(name, args),
        "tar" | "bsdtar" => tar(args),
        "chmod" => {
            if has_short(args, 'R') || has_long(args, "recursive") {
                j(T2, "chmod -R changes permissions of a tree")
            } else {
                writes(name, args, "changes permissions")
            }
        }
        "chown" | "chgrp" | "chattr" | "setfacl" | "setcap" | "chcon" | "restorecon"
        | "setfattr" => j(T2, format!("{name} changes ownership or attributes")),
        "kill" | "pkill" | "killall" | "skill" | "renice" => {
            if name == "kill" && (has_short(args, 'l') || has_short(args, 'L')) {
                j(T0, "kill -l lists signals")
            } else {
                j(T2, format!("{name} signals or reprioritises processes"))
            }
        }
        "mount" | "umount" | "swapon" | "swapoff" => {
            if args.is_empty()
                || (name == "swapon" && (has_short(args, 's') || has_long(args, "show")))
            {
                j(T0, format!("{name} lists"))
            } else {
                j(T2, format!("{name} changes mounts or swap"))
            }
        }
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
        | "at"
        | "batch"
        | "firewall-cmd"
        | "tc"
        | "brctl"
        | "ifup"
        | "ifdown"
        | "dhclient"
        | "nmcli"
        | "wg"
        | "wg-quick"
        | "mdadm"
        | "losetup"
        | "cryptsetup"
        | "lvcreate"
        | "lvextend"
        | "lvresize"
        | "vgcreate"
        | "pvcreate"
        | "resize2fs"
        | "tune2fs"
        | "e2fsck"
        | "fsck"
        | "xfs_repair"
        | "auditctl" => j(T2, format!("{name} changes system configuration")),
        "sysctl" => {
            if has_short(args, 'w')
                || has_short(args, 'p')
                || has_long(args, "write")
                || has_long(args, "load")
                || args.iter().any(|w| w.text.contains('='))
            {
                j(T2, "sysctl -w/-p changes kernel parameters")
            } else {
                j(T0, "sysctl reads kernel parameters")
            }
        }
        "crontab" => {
            if has_short(args, 'r') {
                j(T3, "crontab -r removes every job")
            } else if has_short(args, 'l') {
                j(T0, "crontab -l lists jobs")
            } else {
                j(T2, "crontab installs or edits jobs")
            }
        }
        "systemctl" => systemctl(args),
        "service" => match operands(args).get(1).map(|w| w.text.as_str()) {
            Some("status") => j(T0, "service status reads only"),
            None if has_long(args, "status-all") => j(T0, "service --status-all reads only"),
            _ => Judgement::unlisted(T2, "service changes a service", args),
        },
        "loginctl" | "networkctl" | "resolvectl" | "hostnamectl" | "timedatectl" | "localectl"
        | "busctl" => match sub(args, &["-H", "-M", "--host", "--machine"]) {
            None => j(T0, format!("{name} shows status")),
            Some((_, s))
                if s == "status"
                    || s == "show"
                    || s.starts_with("list")
                    || s.starts_with("show-")
                    || s == "query"
                    || s == "statistics"
                    || s == "tree"
                    || s == "introspect" =>
            {
                j(T0, format!("{name} {s} reads only"))
            }
            Some((_, s)) => {
                Judgement::unlisted(T2, format!("{name} {s} changes system state"), args)
            }
        },
        "iptables" | "ip6tables" | "ebtables" | "arptables" => iptables(name, args),
        "nft" => match sub(args, &["-f", "--file", "-I", "--includepath"]) {
            Some((_, "flush")) => j(T3, "nft flush removes the ruleset"),
            Some((_, "list")) => j(T0, "nft list reads only"),
            _ if has_short(args, 'f') => j(T2, "nft -f loads a ruleset"),
            _ => j(T2, "nft changes the ruleset"),
        },
        "ufw" => match sub(args, &[]) {
            Some((_, "status" | "show" | "version")) => j(T0, "ufw status reads only"),
            Some((_, "reset")) => j(T3, "ufw reset removes every rule"),
            _ => j(T2, "ufw changes the firewall"),
        },
        "ip" => ip(args),
        "apt" | "apt-get" | "aptitude" | "yum" | "dnf" | "zypper" | "pacman" | "apk" | "snap"
        | "flatpak" | "brew" | "pip" | "pip3" | "pipx" | "npm" | "yarn" | "pnpm" | "gem"
        | "cargo" | "go" | "conda" | "port" | "pkg" | "emerge" | "choco" | "winget" | "rpm"
        | "dpkg" => packages(name, args),
        "git" => super::vcs::git(args),
        "docker" | "podman" | "nerdctl" => super::vcs::containers(name, args),
        "kubectl" | "oc" | "helm" => super::vcs::kube(name, args),
        "curl" | "wget" | "nc" | "ncat" | "netcat" | "socat" | "telnet" | "ftp" | "openssl"
        | "ldd" | "aws" | "gcloud" | "az" | "terraform" | "ansible" | "ansible-playbook"
        | "make" | "cmake" => j(T1, format!("{name} can send data, write files or run code")),
        _ => None,
    }
}

/// Commands writing the files they name: tier 1, 2 or 3 by the most sensitive target.
fn file_writer(name: &str, args: &[Word]) -> Option<Judgement> {
    if name == "tee" && operands(args).is_empty() {
        return j(T0, "tee with no file copies input to output");
    }
    if name == "ln" && (has_short(args, 's') || has_long(args, "symbolic")) {
        return j(T2, "ln -s creates symbolic links");
    }
    if name == "rsync" {
        if has_long(args, "delete")
            || args
                .iter()
                .any(|w| w.text.starts_with("--delete") || w.text.starts_with("--remove-source"))
        {
            return j(T3, "rsync --delete removes files at the destination");
        }
        if has_short(args, 'e') || has_long(args, "rsh") || has_long(args, "rsync-path") {
            return j(T2, "rsync -e/--rsync-path runs a program");
        }
    }
    if matches!(name, "unzip" | "7z") && (has_short(args, 'l') || has_word(args, "l")) {
        return j(T0, format!("{name} lists an archive"));
    }
    writes(name, args, "writes files")
}

/// A writing command: tier from the most sensitive operand path. For copy-like commands a
/// non-literal source (`mv *.log old/`) is not a target; a non-literal destination is.
fn writes(name: &str, args: &[Word], what: &str) -> Option<Judgement> {
    let mut worst = (T1, format!("{name} {what}"));
    let ops = operands(args);
    let copy_like = matches!(name, "mv" | "cp" | "install" | "ln" | "rsync" | "scp");
    for (i, w) in ops.iter().enumerate() {
        let literal = w.literal || (copy_like && i + 1 < ops.len());
        if let Some((tier, why)) = paths::write_target(&w.text, literal, None)
            && tier > worst.0
        {
            worst = (tier, format!("{name} {what}: {why}"));
        }
    }
    j(worst.0, worst.1)
}

fn dd(args: &[Word]) -> Option<Judgement> {
    let mut worst = (T0, "dd without of= copies to standard output".to_string());
    for w in args {
        if let Some(target) = w.text.strip_prefix("of=") {
            let (tier, why) =
                paths::write_target(target, w.literal, None).unwrap_or((T1, "writes a file"));
            let tier = tier.max(T1);
            if tier >= worst.0 {
                worst = (tier, format!("dd of=: {why}"));
            }
        }
    }
    j(worst.0, worst.1)
}

fn tar(args: &[Word]) -> Option<Judgement> {
    let runs = [
        "to-command",
        "use-compress-program",
        "checkpoint-action",
        "rsh-command",
        "info-script",
        "new-volume-script",
        "rmt-command",
    ]
    .iter()
    .any(|l| has_long(args, l))
        || has_short(args, 'I') && args.first().is_none_or(|w| w.text.starts_with('-'))
        || has_short(args, 'F');
    if runs {
        let mut j = Judgement::data(T2, "tar option runs a program");
        j.opaque_args = (0..args.len()).collect();
        return Some(j);
    }
    // The mode is the first letter cluster (`tar xzf`, `tar -xzf`) or a long option.
    let mode_word = args
        .first()
        .map(|w| w.text.trim_start_matches('-').to_string())
        .unwrap_or_default();
    let listing = mode_word.contains('t') && !mode_word.contains('x') && !mode_word.contains('c')
        || has_long(args, "list");
    if listing {
        return j(T0, "tar -t lists an archive");
    }
    if has_prefix(args, "--remove-files") {
        return j(T3, "tar --remove-files deletes the sources");
    }
    let into_system = args.windows(2).any(|p| {
        (p[0].text == "-C" || p[0].text == "--directory")
            && paths::write_target(&p[1].text, p[1].literal, None).is_some_and(|(t, _)| t >= T2)
    }) || args.iter().any(|w| {
        w.text
            .strip_prefix("--directory=")
            .is_some_and(|d| paths::write_target(d, w.literal, None).is_some_and(|(t, _)| t >= T2))
    });
    if into_system {
        j(T2, "tar extracts into a system path")
    } else {
        j(T1, "tar writes files")
    }
}

fn systemctl(args: &[Word]) -> Option<Judgement> {
    let values = [
        "-H",
        "--host",
        "-M",
        "--machine",
        "-t",
        "--type",
        "-p",
        "--property",
        "-n",
        "--lines",
        "-o",
        "--output",
        "--state",
        "--signal",
        "-s",
    ];
    match sub(args, &values) {
        None => j(T0, "systemctl lists units"),
        Some((_, s)) => {
            let s = s.to_string();
            if matches!(
                s.as_str(),
                "status"
                    | "show"
                    | "cat"
                    | "is-active"
                    | "is-enabled"
                    | "is-failed"
                    | "is-system-running"
                    | "get-default"
                    | "help"
                    | "show-environment"
            ) || s.starts_with("list-")
            {
                j(T0, format!("systemctl {s} reads only"))
            } else if matches!(
                s.as_str(),
                "poweroff"
                    | "reboot"
                    | "halt"
                    | "kexec"
                    | "soft-reboot"
                    | "suspend"
                    | "hibernate"
                    | "hybrid-sleep"
                    | "suspend-then-hibernate"
                    | "emergency"
                    | "rescue"
                    | "isolate"
                    | "default"
                    | "exit"
            ) {
                j(T3, format!("systemctl {s} stops or restarts the machine"))
            } else {
                // Unlisted verbs keep their words under the raw-text floor.
                Judgement::unlisted(T2, format!("systemctl {s} changes services"), args)
            }
        }
    }
}

fn iptables(name: &str, args: &[Word]) -> Option<Judgement> {
    let flush = has_short(args, 'F')
        || has_long(args, "flush")
        || has_short(args, 'X')
        || has_long(args, "delete-chain");
    if flush {
        return j(T3, format!("{name} -F/-X removes rules"));
    }
    let changes = ['A', 'I', 'D', 'R', 'P', 'N', 'Z', 'E']
        .iter()
        .any(|c| has_short(args, *c))
        || [
            "append",
            "insert",
            "delete",
            "replace",
            "policy",
            "new-chain",
            "zero",
            "rename-chain",
        ]
        .iter()
        .any(|l| has_long(args, l));
    if changes {
        j(T2, format!("{name} changes rules"))
    } else {
        j(T0, format!("{name} lists rules"))
    }
}

fn ip(args: &[Word]) -> Option<Judgement> {
    let values = [
        "-n", "-netns", "-f", "-family", "-b", "-batch", "-rc", "-rcvbuf",
    ];
    if has_short(args, 'b') || has_word(args, "-batch") || has_word(args, "-force") {
        return j(T2, "ip -batch runs commands from a file");
    }
    let ops: Vec<&str> = match first_operand(args, &values) {
        Some((i, _)) => args[i..].iter().map(|w| w.text.as_str()).collect(),
        None => return j(T0, "ip with no object"),
    };
    let object = ops[0];
    if object == "netns" && ops.get(1).is_some_and(|v| *v == "exec") {
        // `ip netns exec NAME cmd…`: a wrapper; the inner command is classified.
        let start = args.len() - ops.len() + 3;
        return Some(
            Judgement::data(T2, "ip netns exec runs a command in a namespace").with_inner(
                Inner::Argv {
                    start: start.min(args.len()),
                    end: args.len(),
                    partial: false,
                },
            ),
        );
    }
    let verb = ops.get(1).copied().unwrap_or("show");
    let reading = [
        "show", "list", "lst", "get", "help", "monitor", "s", "sh", "l", "ls",
    ]
    .contains(&verb)
        || verb.starts_with('-')
        || (object == "route" && verb == "get");
    if reading || ops.len() == 1 {
        return j(T0, format!("ip {object} {verb} reads only"));
    }
    if object.starts_with('l') && verb == "set" && ops.contains(&"down") {
        return j(T3, "ip link set … down cuts the network");
    }
    if verb == "flush" || verb == "del" || verb == "delete" {
        return j(
            T2,
            format!("ip {object} {verb} removes network configuration"),
        );
    }
    j(
        T2,
        format!("ip {object} {verb} changes network configuration"),
    )
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
