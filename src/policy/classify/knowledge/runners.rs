//! Commands that run other commands or code: privilege and process wrappers (seen through),
//! shells (their code is parsed in turn), and other interpreters (their code is opaque).

use super::interpreters::{self, is_posix_shell};
use super::wrappers;
use super::{Inner, Judgement, StdinCode, has_short};
use crate::policy::Tier;
use crate::policy::classify::words::Word;

/// How a wrapper's own options are laid out.
pub(super) struct WrapperSpec {
    /// Floor the wrapper imposes on what it runs.
    pub(super) floor: Tier,
    /// Why the floor.
    pub(super) rule: &'static str,
    /// Short options that take a value (`-u root`, `-uroot`).
    pub(super) short_values: &'static str,
    /// Long options that take a separate value (`--user root`).
    pub(super) long_values: &'static [&'static str],
    /// Operands before the wrapped command (`timeout 5 cmd`, `chroot /srv cmd`).
    pub(super) leading: usize,
    /// `NAME=value` operands before the command are environment settings (`env`, `sudo`).
    pub(super) assignments: bool,
}

pub(super) const fn spec(
    floor: Tier,
    rule: &'static str,
    short_values: &'static str,
) -> WrapperSpec {
    WrapperSpec {
        floor,
        rule,
        short_values,
        long_values: &[],
        leading: 0,
        assignments: false,
    }
}

fn wrapper_spec(name: &str) -> Option<WrapperSpec> {
    use Tier::*;
    Some(match name {
        "sudo" => WrapperSpec {
            long_values: &[
                "--user",
                "--group",
                "--host",
                "--prompt",
                "--chdir",
                "--role",
                "--type",
                "--other-user",
                "--close-from",
                "--command-timeout",
                "--chroot",
            ],
            assignments: true,
            ..spec(
                ReadOnly,
                "runs a command as another user (it takes that command's tier)",
                "CDghpRrTtUu",
            )
        },
        "doas" => spec(
            ReadOnly,
            "runs a command as another user (it takes that command's tier)",
            "Cu",
        ),
        "pkexec" => WrapperSpec {
            long_values: &["--user"],
            ..spec(
                ReadOnly,
                "runs a command as another user (it takes that command's tier)",
                "",
            )
        },
        "env" => WrapperSpec {
            long_values: &[
                "--unset",
                "--chdir",
                "--default-signal",
                "--ignore-signal",
                "--block-signal",
            ],
            assignments: true,
            ..spec(ReadOnly, "runs a command with a changed environment", "uCP")
        },
        "nice" => WrapperSpec {
            long_values: &["--adjustment"],
            ..spec(ReadOnly, "runs a command at another priority", "n")
        },
        "nohup" => spec(
            Reversible,
            "detaches a command (it outlives the call; may create nohup.out)",
            "",
        ),
        "timeout" => WrapperSpec {
            long_values: &["--signal", "--kill-after"],
            leading: 1,
            ..spec(ReadOnly, "runs a command with a time limit", "sk")
        },
        "stdbuf" => WrapperSpec {
            long_values: &["--input", "--output", "--error"],
            ..spec(ReadOnly, "runs a command with other buffering", "ioe")
        },
        "ionice" => spec(ReadOnly, "runs a command at another I/O priority", "cnPpu"),
        "chroot" => WrapperSpec {
            long_values: &["--userspec", "--groups"],
            leading: 1,
            ..spec(Stateful, "runs a command in another root (needs root)", "")
        },
        "setsid" => spec(
            Reversible,
            "runs a command in a new session (it may outlive the call)",
            "",
        ),
        "taskset" => WrapperSpec {
            leading: 1,
            ..spec(ReadOnly, "runs a command on chosen CPUs", "")
        },
        "time" => spec(ReadOnly, "times a command", "fo"),
        "command" | "builtin" => spec(
            ReadOnly,
            "runs a command bypassing functions and aliases",
            "",
        ),
        "exec" => spec(ReadOnly, "replaces the shell with a command", "a"),
        "unbuffer" | "catchsegv" | "fakeroot" | "fakeroot-ng" | "dbus-run-session"
        | "dbus-launch" => WrapperSpec {
            long_values: &[
                "--config-file",
                "--dbus-daemon",
                "--lib",
                "--faked",
                "-s",
                "-i",
            ],
            ..spec(ReadOnly, "runs a command", "")
        },
        "xvfb-run" => spec(ReadOnly, "runs a command with a virtual display", "nsfepw"),
        "rlwrap" => WrapperSpec {
            long_values: &[
                "--break-chars",
                "--file",
                "--history-filename",
                "--logfile",
                "--prompt-colour",
                "--substitute-prompt",
                "--filter",
                "--histsize",
                "--extra-char-after-completion",
                "--extra-char-before-completion",
            ],
            ..spec(
                ReadOnly,
                "runs a command with line editing",
                "abCfHlOopPqSsWz",
            )
        },
        "firejail" | "cgexec" => WrapperSpec {
            long_values: &["-g"],
            ..spec(
                ReadOnly,
                "runs a command in a sandbox or control group",
                "g",
            )
        },
        "bwrap" => spec(
            Stateful,
            "runs a command in a namespace sandbox (options this table does not follow)",
            "",
        ),
        "setpriv" => WrapperSpec {
            long_values: &[
                "--reuid",
                "--regid",
                "--ruid",
                "--euid",
                "--rgid",
                "--egid",
                "--groups",
                "--inh-caps",
                "--ambient-caps",
                "--bounding-set",
                "--securebits",
                "--pdeathsig",
                "--selinux-label",
                "--apparmor-profile",
                "--landlock-access",
                "--landlock-rule",
                "--seccomp-filter",
            ],
            ..spec(ReadOnly, "runs a command with other privileges", "")
        },
        "numactl" => WrapperSpec {
            long_values: &[
                "--interleave",
                "--preferred",
                "--preferred-many",
                "--membind",
                "--cpunodebind",
                "--physcpubind",
                "--weighted-interleave",
            ],
            ..spec(ReadOnly, "runs a command on chosen NUMA nodes", "iNCmpPw")
        },
        "faketime" => WrapperSpec {
            leading: 1,
            ..spec(ReadOnly, "runs a command with a faked clock", "fmp")
        },
        "sshpass" => spec(
            ReadOnly,
            "runs a command with a password fed to it",
            "pfdPe",
        ),
        "valgrind" => spec(ReadOnly, "runs a command under a checker", ""),
        "strace" | "ltrace" => spec(ReadOnly, "traces a command", "abeEIoOpPsSuUXAn"),
        "proxychains" | "proxychains4" | "torsocks" | "torify" => {
            spec(Reversible, "runs a command through a proxy", "f")
        }
        "systemd-run" => WrapperSpec {
            long_values: &[
                "--unit",
                "--property",
                "--description",
                "--slice",
                "--uid",
                "--gid",
                "--nice",
                "--working-directory",
                "--setenv",
                "--on-calendar",
                "--on-active",
                "--machine",
                "--host",
            ],
            ..spec(Stateful, "starts a transient systemd unit", "pEMH")
        },
        "nsenter" => WrapperSpec {
            long_values: &["--target", "--setuid", "--setgid", "--root", "--wd"],
            ..spec(
                Stateful,
                "runs a command in other namespaces (needs root)",
                "tSGrw",
            )
        },
        "unshare" => spec(Stateful, "runs a command in new namespaces", ""),

        _ => return None,
    })
}

/// Skip a wrapper's options and leading operands; return the index of the wrapped command.
pub(super) fn wrapped_start(args: &[Word], spec: &WrapperSpec) -> Option<usize> {
    let mut i = 0;
    let mut leading = spec.leading;
    // Options end at the first `NAME=value` (`sudo A=b -i x` runs the command `-i`).
    let mut options_done = false;
    while i < args.len() {
        let t = args[i].text.as_str();
        if options_done && !is_assignment(t) {
            break;
        }
        if t == "--" {
            i += 1;
            break;
        }
        if let Some(long) = t.strip_prefix("--") {
            i += if !long.contains('=') && spec.long_values.contains(&t) {
                2
            } else {
                1
            };
            continue;
        }
        if t.len() > 1 && t.starts_with('-') {
            let cluster = &t[1..];
            let mut skip = 1;
            for (pos, c) in cluster.char_indices() {
                if spec.short_values.contains(c) {
                    if pos + c.len_utf8() == cluster.len() {
                        skip = 2;
                    }
                    break;
                }
            }
            i += skip;
            continue;
        }
        if spec.assignments && is_assignment(t) {
            options_done = true;
            i += 1;
            continue;
        }
        if leading > 0 {
            leading -= 1;
            i += 1;
            continue;
        }
        break;
    }
    (i < args.len()).then_some(i)
}

/// `NAME=value` with a valid shell name.
pub(crate) fn is_assignment(t: &str) -> bool {
    match t.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

pub(super) fn judge(name: &str, args: &[Word]) -> Option<Judgement> {
    if let Some(spec) = wrapper_spec(name) {
        let mut j = wrapper(name, args, &spec);
        wrappers::tracer_effects(name, args, &mut j);
        let chdir = match name {
            "env" => wrappers::option_value(args, "-C", "--chdir"),
            "sudo" => wrappers::option_value(args, "-D", "--chdir"),
            _ => None,
        };
        j.chdir =
            chdir.map(|(_, w, start)| (w.text.get(start..).unwrap_or("").to_string(), w.literal));
        return Some(j);
    }
    if is_posix_shell(name) {
        return Some(interpreters::shell(name, args));
    }
    if let Some(j) = interpreters::interpreter(name, args) {
        return Some(j);
    }
    Some(match name {
        "su" => wrappers::su(args),
        "runuser" => wrappers::runuser(args),
        "script" => wrappers::script(args),
        "flock" => wrappers::flock(args),
        "perf" => wrappers::perf(args),
        "capsh" => wrappers::capsh(args),
        "sg" => wrappers::sg(args),
        "gdb" => wrappers::gdb(args),
        "chrt" | "taskset"
            if args.iter().any(|w| {
                w.text == "-p"
                    || w.text == "--pid"
                    || w.text.starts_with("-p") && w.text.len() > 2 && !w.text.contains('c')
            }) =>
        {
            Judgement::data(Tier::Stateful, format!("{name} -p changes another process"))
        }
        "chrt" => {
            let spec = WrapperSpec {
                leading: 1,
                ..spec(
                    Tier::ReadOnly,
                    "runs a command with a scheduling policy",
                    "T",
                )
            };
            wrapper(name, args, &spec)
        }
        "xargs" => wrappers::xargs(args),
        "eval" => Judgement::data(Tier::ReadOnly, "eval runs its arguments as shell code")
            .with_inner(Inner::ShellJoin {
                start: 0,
                end: args.len(),
            }),
        "watch" => wrappers::watch(args),
        "ssh" => wrappers::ssh(args),
        "trap" => wrappers::trap(args),
        "alias" => wrappers::alias(args),
        "source" | "." => match args.first() {
            Some(w)
                if matches!(
                    w.text.as_str(),
                    "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"
                ) =>
            {
                let mut j = Judgement::data(Tier::ReadOnly, "runs shell code from standard input");
                j.stdin_code = StdinCode::Shell;
                j
            }
            first => {
                let mut j = Judgement::data(Tier::Stateful, "runs shell code from a file");
                j.opaque_args = (0..args.len()).collect();
                j.code_from_substitution =
                    first.is_some_and(|w| w.text.starts_with("<(") && !w.literal);
                j
            }
        },
        "busybox" | "toybox" => match args.first() {
            None => Judgement::data(Tier::ReadOnly, "lists busybox applets"),
            Some(w) if w.text.starts_with('-') => Judgement::data(Tier::ReadOnly, "busybox option"),
            Some(_) => Judgement::data(Tier::ReadOnly, "busybox runs the named applet").with_inner(
                Inner::Argv {
                    start: 0,
                    end: args.len(),
                    partial: false,
                },
            ),
        },
        "parallel" => wrappers::parallel(args),
        "runas" => Judgement {
            known: false,
            ..Judgement::data(Tier::Stateful, "privilege wrapper (runas)")
        },
        "hash" if has_short(args, 'p') => {
            Judgement::data(Tier::Stateful, "hash -p rebinds a command name")
        }
        "enable" if has_short(args, 'f') => {
            Judgement::data(Tier::Stateful, "enable -f loads a builtin")
        }
        "fc" if !has_short(args, 'l') => {
            Judgement::data(Tier::Stateful, "fc edits and re-runs history")
        }
        _ => return None,
    })
}

pub(super) fn wrapper(name: &str, args: &[Word], spec: &WrapperSpec) -> Judgement {
    let start = wrapped_start(args, spec);
    let privileged = matches!(name, "sudo" | "doas" | "pkexec");
    // The wrapper's own options end where the wrapped command starts.
    let own = &args[..start.unwrap_or(args.len())];
    match (name, start) {
        ("command", _) if has_short(own, 'v') || has_short(own, 'V') => {
            // The words are names looked up, not run: data.
            return Judgement::data(Tier::ReadOnly, "command -v looks a name up");
        }
        ("sudo", _) if own.iter().any(|w| w.text == "-e" || w.text == "--edit") => {
            Judgement::data(Tier::Stateful, "sudo -e edits files as root")
        }
        ("sudo" | "doas", None)
            if own.iter().any(|w| {
                matches!(
                    w.text.as_str(),
                    "-l" | "--list"
                        | "-ll"
                        | "-V"
                        | "--version"
                        | "-h"
                        | "--help"
                        | "-K"
                        | "--remove-timestamp"
                        | "-k"
                        | "--reset-timestamp"
                )
            }) =>
        {
            Judgement::data(
                Tier::ReadOnly,
                format!("{name} lists privileges or prints its version"),
            )
        }
        ("sudo" | "doas", None)
            if own
                .iter()
                .any(|w| matches!(w.text.as_str(), "-v" | "--validate")) =>
        {
            Judgement::data(
                Tier::Reversible,
                format!("{name} -v refreshes the credential timestamp"),
            )
        }
        ("env", _)
            if has_short(own, 'S') || own.iter().any(|w| w.text.starts_with("--split-string")) =>
        {
            let mut j = Judgement::data(Tier::Stateful, "env -S splits a string into a command");
            j.opaque_args = (0..args.len()).collect();
            j
        }
        ("exec" | "env" | "nice" | "time", None) => {
            Judgement::data(Tier::ReadOnly, format!("{name} with no command"))
        }
        (_, None) if privileged => {
            let mut j = Judgement::data(
                Tier::Stateful,
                format!("{} with no command opens a root shell", name),
            );
            j.stdin_code = StdinCode::Shell;
            j
        }
        ("chroot", None) => {
            let mut j = Judgement::data(spec.floor, "chroot with no command opens a shell");
            j.stdin_code = StdinCode::Shell;
            j
        }
        (_, None) => Judgement::data(spec.floor, spec.rule),
        (_, Some(start)) => {
            let mut j = Judgement::data(spec.floor, spec.rule).with_inner(Inner::Argv {
                start,
                end: args.len(),
                partial: false,
            });
            j.opaque_args = (0..start).collect();
            j
        }
    }
    .keep_under_floor_if_no_inner(args.len())
}

impl Judgement {
    /// A wrapper that found nothing to run keeps its arguments under the raw-text floor: its
    /// options and environment settings are not proven data.
    fn keep_under_floor_if_no_inner(mut self, len: usize) -> Judgement {
        if self.inner.is_empty() {
            self.opaque_args = (0..len).collect();
        }
        self
    }
}
