//! The curated tier-0 set: commands that only read, each with the flags that would make them
//! write, run something or change state excluded. Pagers and editors are here too, at tier 1:
//! they can spawn a shell, so they are never tier 0.

use super::scripts;
use super::{
    Inner, Judgement, any_non_literal, has_long, has_prefix, has_short, has_word, operands,
};
use crate::policy::Tier;
use crate::policy::classify::words::Word;

/// Readers whose behaviour no extra argument can turn into a write or an exec.
pub(super) const FLAG_INSENSITIVE: &[&str] = &[
    "cat",
    "tac",
    "head",
    "tail",
    "wc",
    "nl",
    "cut",
    "paste",
    "rev",
    "fold",
    "grep",
    "egrep",
    "fgrep",
    "zgrep",
    "zcat",
    "bzcat",
    "xzcat",
    "zstdcat",
    "strings",
    "od",
    "hexdump",
    "md5sum",
    "sha1sum",
    "sha224sum",
    "sha256sum",
    "sha384sum",
    "sha512sum",
    "b2sum",
    "cksum",
    "sum",
    "ls",
    "stat",
    "file",
    "du",
    "echo",
    "printf",
    "basename",
    "dirname",
    "readlink",
    "realpath",
    "comm",
    "cmp",
    "diff",
    "getent",
    "id",
    "namei",
];

/// Read-only commands with no side-effecting flags worth listing.
const PLAIN: &[&str] = &[
    "dir",
    "vdir",
    "expand",
    "unexpand",
    "column",
    "join",
    "fmt",
    "base32",
    "df",
    "free",
    "uptime",
    "uname",
    "ps",
    "pgrep",
    "pidof",
    "pstree",
    "ss",
    "netstat",
    "lsblk",
    "lscpu",
    "lsmem",
    "lsof",
    "lsmod",
    "lspci",
    "lsusb",
    "lsipc",
    "lslocks",
    "lsns",
    "findmnt",
    "blkid",
    "whoami",
    "who",
    "w",
    "last",
    "lastb",
    "lastlog",
    "users",
    "groups",
    "hostid",
    "nproc",
    "arch",
    "tty",
    "locale",
    "printenv",
    "pwd",
    "true",
    "false",
    "test",
    "[",
    "which",
    "whereis",
    "type",
    "seq",
    "yes",
    "sleep",
    "expr",
    "factor",
    "numfmt",
    "vmstat",
    "iostat",
    "mpstat",
    "pidstat",
    "cal",
    "ncal",
    "cd",
    "pushd",
    "popd",
    "dirs",
    "jobs",
    "wait",
    "help",
    "times",
    "umask",
    "read",
    "set",
    "shopt",
    "unset",
    "getconf",
    "jq",
    "bc",
    "host",
    "dig",
    "nslookup",
    "ping",
    "ping6",
    "traceroute",
    "tracepath",
    "systemd-analyze",
    "lsattr",
    "getfacl",
    "getcap",
    "dmidecode",
    "sensors",
    "iotop",
    "tput",
    "nvidia-smi",
    "lsb_release",
    "iptables-save",
    "ip6tables-save",
    "getenforce",
    "sestatus",
    "apparmor_status",
    "aa-status",
    "mokutil",
    "zdump",
    "ag",
    "fd",
    "fdfind",
    "exa",
    "eza",
    "bat",
    "batcat",
    "shasum",
    "lslogins",
    "lshw",
    "hwinfo",
    "inxi",
    "neofetch",
    "screenfetch",
    "ulimit",
    "history",
    "declare",
    "typeset",
    "local",
    "readonly",
    "shift",
    "return",
    "exit",
    "break",
    "continue",
    ":",
    "let",
    "logname",
    "mountpoint",
    "ipcs",
    "ntpq",
    "tload",
];

/// Commands that open an interactive pager or editor: able to spawn a shell or write files.
const PAGERS_AND_EDITORS: &[&str] = &[
    "less", "more", "most", "pg", "man", "info", "vi", "vim", "nvim", "view", "vimdiff", "nano",
    "pico", "emacs", "ed", "ex", "joe", "micro", "mcedit", "htop", "btop", "atop", "nmtui", "mc",
    "ranger", "tmux", "screen",
];

pub(super) fn judge(name: &str, args: &[Word]) -> Option<Judgement> {
    if FLAG_INSENSITIVE.contains(&name) || PLAIN.contains(&name) {
        return Some(plain(name, args));
    }
    if PAGERS_AND_EDITORS.contains(&name) {
        return Some(Judgement::data(
            Tier::Reversible,
            format!(
                "{name} is interactive (pager/editor/multiplexer): it can write files or spawn a shell"
            ),
        ));
    }
    let excluded: Option<(Tier, String)> = match name {
        "find" => return Some(find(args)),
        "sed" => scripts::sed(args),
        "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk" => scripts::awk(args),
        "sort" => {
            if has_short(args, 'o') || has_long(args, "output") {
                Some((Tier::Reversible, "sort -o writes a file".into()))
            } else if has_long(args, "compress-program") {
                Some((
                    Tier::Stateful,
                    "sort --compress-program runs a program".into(),
                ))
            } else {
                None
            }
        }
        "uniq" => (operands(args).len() > 1).then(|| {
            (
                Tier::Reversible,
                "uniq with two operands writes the second".into(),
            )
        }),
        "xxd" => (operands(args).len() > 1).then(|| {
            (
                Tier::Reversible,
                "xxd with two operands writes the second".into(),
            )
        }),
        "tree" => has_short(args, 'o').then(|| (Tier::Reversible, "tree -o writes a file".into())),
        "base64" => (has_short(args, 'o') || has_long(args, "output"))
            .then(|| (Tier::Reversible, "base64 -o writes a file".into())),
        "rg" => (has_long(args, "pre") || has_long(args, "hostname-bin")).then(|| {
            (
                Tier::Stateful,
                "rg --pre runs a program on each file".into(),
            )
        }),
        "date" => {
            let sets = has_short(args, 's')
                || has_long(args, "set")
                || operands(args).iter().any(|w| !w.text.starts_with('+'));
            sets.then(|| {
                (
                    Tier::Stateful,
                    "date with an operand or -s sets the clock".into(),
                )
            })
        }
        "hostname" => {
            let sets = !operands(args).is_empty() || has_short(args, 'F') || has_long(args, "file");
            sets.then(|| {
                (
                    Tier::Stateful,
                    "hostname with an operand sets the host name".into(),
                )
            })
        }
        "dmesg" => {
            let clears = ['c', 'C', 'D', 'E', 'n']
                .iter()
                .any(|c| has_short(args, *c))
                || [
                    "clear",
                    "read-clear",
                    "console-off",
                    "console-on",
                    "console-level",
                ]
                .iter()
                .any(|l| has_long(args, l));
            clears.then(|| {
                (
                    Tier::Stateful,
                    "dmesg -c/-C/-D/-E/-n changes the kernel log".into(),
                )
            })
        }
        "journalctl" => {
            let writes = [
                "vacuum-size",
                "vacuum-time",
                "vacuum-files",
                "rotate",
                "flush",
                "sync",
                "relinquish-var",
                "smart-relinquish-var",
                "setup-keys",
                "update-catalog",
            ]
            .iter()
            .any(|l| has_long(args, l));
            writes.then(|| {
                (
                    Tier::Stateful,
                    "journalctl --vacuum/--rotate/--flush changes the journal".into(),
                )
            })
        }
        "top" => {
            if has_short(args, 'b') || has_long(args, "batch") {
                None
            } else {
                Some((
                    Tier::Reversible,
                    "top without -b is interactive (it can kill and renice)".into(),
                ))
            }
        }
        "smartctl" => {
            let acts = ['s', 't', 'o', 'S', 'X']
                .iter()
                .any(|c| has_short(args, *c))
                || ["smart", "test", "abort", "offlineauto", "saveauto", "set"]
                    .iter()
                    .any(|l| has_long(args, l));
            acts.then(|| {
                (
                    Tier::Stateful,
                    "smartctl -s/-t/-o/-S/-X changes drive settings or starts tests".into(),
                )
            })
        }
        "hdparm" => {
            let reads = args.iter().all(|w| {
                !w.text.starts_with('-')
                    || matches!(w.text.as_str(), "-I" | "-i" | "-t" | "-T" | "-g" | "-C")
            });
            (!reads).then(|| {
                (
                    Tier::Stateful,
                    "hdparm flags other than -I/-i/-t/-T/-g/-C change drive settings".into(),
                )
            })
        }
        "yq" => (has_short(args, 'i') || has_long(args, "inplace"))
            .then(|| (Tier::Stateful, "yq -i edits a file in place".into())),
        "gzip" | "gunzip" | "bzip2" | "bunzip2" | "xz" | "unxz" | "zstd" | "unzstd" | "lz4" => {
            let to_stdout = has_short(args, 'c')
                || has_long(args, "stdout")
                || has_short(args, 'l')
                || has_long(args, "list")
                || has_short(args, 't')
                || has_long(args, "test");
            (!to_stdout).then(|| {
                (
                    Tier::Reversible,
                    format!("{name} replaces files with their (de)compressed form"),
                )
            })
        }
        _ => return None,
    };
    Some(match excluded {
        Some((tier, rule)) => Judgement::data(tier, rule),
        None if any_non_literal(args) => Judgement::data(
            Tier::Reversible,
            format!(
                "{name} has an argument that is not a literal (it could expand to a side-effecting flag)"
            ),
        ),
        None => Judgement::data(Tier::ReadOnly, format!("{name} reads only")),
    })
}

fn plain(name: &str, _args: &[Word]) -> Judgement {
    Judgement::data(Tier::ReadOnly, format!("{name} reads only"))
}

/// `find`: `-delete` destroys, `-fprint*`/`-fls` write, `-exec`/`-ok` run what follows.
fn find(args: &[Word]) -> Judgement {
    if has_word(args, "-delete") {
        return Judgement::data(Tier::Irreversible, "find -delete removes every match");
    }
    if ["-fprint", "-fprint0", "-fprintf", "-fls"]
        .iter()
        .any(|f| has_word(args, f))
    {
        return Judgement::data(Tier::Reversible, "find -fprint/-fls writes a file");
    }
    let mut j = if any_non_literal(args) && !has_prefix(args, "-exec") {
        Judgement::data(
            Tier::Reversible,
            "find has an argument that is not a literal (it could expand to -delete or -exec)",
        )
    } else {
        Judgement::data(Tier::ReadOnly, "find reads only")
    };
    let mut i = 0;
    while i < args.len() {
        if matches!(
            args[i].text.as_str(),
            "-exec" | "-execdir" | "-ok" | "-okdir"
        ) {
            let start = i + 1;
            let end = args[start..]
                .iter()
                .position(|w| w.text == ";" || w.text == "+")
                .map_or(args.len(), |p| start + p);
            j.rule = "find -exec runs a command for each match".into();
            j.inner.push(Inner::Argv {
                start,
                end,
                partial: false,
            });
            i = end;
        }
        i += 1;
    }
    j
}
