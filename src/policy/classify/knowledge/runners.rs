//! Commands that run other commands or code: privilege and process wrappers (seen through),
//! shells (their code is parsed in turn), and other interpreters (their code is opaque).

use super::interpreters::{self, is_posix_shell};
use super::{Inner, Judgement, StdinCode, any_non_literal, first_operand, has_short};
use crate::policy::Tier;
use crate::policy::classify::paths::Dest;
use crate::policy::classify::words::Word;

/// How a wrapper's own options are laid out.
struct WrapperSpec {
    /// Floor the wrapper imposes on what it runs.
    floor: Tier,
    /// Why the floor.
    rule: &'static str,
    /// Short options that take a value (`-u root`, `-uroot`).
    short_values: &'static str,
    /// Long options that take a separate value (`--user root`).
    long_values: &'static [&'static str],
    /// Operands before the wrapped command (`timeout 5 cmd`, `chroot /srv cmd`).
    leading: usize,
    /// `NAME=value` operands before the command are environment settings (`env`, `sudo`).
    assignments: bool,
}

const fn spec(floor: Tier, rule: &'static str, short_values: &'static str) -> WrapperSpec {
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
fn wrapped_start(args: &[Word], spec: &WrapperSpec) -> Option<usize> {
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
        tracer_effects(name, args, &mut j);
        let chdir = match name {
            "env" => option_value(args, "-C", "--chdir"),
            "sudo" => option_value(args, "-D", "--chdir"),
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
        "su" => su(args),
        "runuser" => runuser(args),
        "script" => script(args),
        "flock" => flock(args),
        "perf" => perf(args),
        "capsh" => capsh(args),
        "sg" => sg(args),
        "gdb" => gdb(args),
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
        "xargs" => xargs(args),
        "eval" => Judgement::data(Tier::ReadOnly, "eval runs its arguments as shell code")
            .with_inner(Inner::ShellJoin {
                start: 0,
                end: args.len(),
            }),
        "watch" => watch(args),
        "ssh" => ssh(args),
        "trap" => trap(args),
        "alias" => alias(args),
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
        "parallel" => parallel(args),
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

fn wrapper(name: &str, args: &[Word], spec: &WrapperSpec) -> Judgement {
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

/// The word after option `flag` (or attached to it), for wrappers that take a file or code.
fn option_value<'a>(args: &'a [Word], short: &str, long: &str) -> Option<(usize, &'a Word, usize)> {
    for (i, w) in args.iter().enumerate() {
        let t = w.text.as_str();
        if t == "--" {
            return None;
        }
        if t == short || t == long {
            return args.get(i + 1).map(|v| (i + 1, v, 0));
        }
        if let Some(v) = t.strip_prefix(&format!("{long}=")) {
            return Some((i, w, t.len() - v.len()));
        }
        if short.len() == 2 && t.starts_with(short) && t.len() > 2 && !t.starts_with("--") {
            return Some((i, w, 2));
        }
    }
    None
}

/// `strace`/`ltrace`/`valgrind`/`time`: the file they write, and fault injection.
pub(super) fn tracer_effects(name: &str, args: &[Word], j: &mut Judgement) {
    let out = match name {
        "strace" | "ltrace" => option_value(args, "-o", "--output"),
        "valgrind" => option_value(args, "--log-file", "--log-file")
            .or_else(|| option_value(args, "--xml-file", "--xml-file")),
        "time" => option_value(args, "-o", "--output"),
        _ => None,
    };
    if let Some((_, w, start)) = out {
        let path = w.text.get(start..).unwrap_or("");
        j.writes.push(Dest::write(path, w.literal));
        if j.tier < Tier::Reversible {
            j.tier = Tier::Reversible;
            j.rule = format!("{name} writes its output file");
        }
    }
    let injects = args.iter().any(|w| {
        let t = w.text.as_str();
        t.contains("inject=")
            || t.contains("fault=")
            || t.starts_with("--inject")
            || t.starts_with("--fault")
            || t.starts_with("--kill-on-exit")
    });
    if injects && (name == "strace" || name == "ltrace") {
        j.tier = Tier::Stateful;
        j.rule = format!("{name} injects faults into the traced program");
    }
}

/// `runuser -u USER [--] CMD…` runs a command; `runuser [-l] USER [-c CODE]` is `su`.
fn runuser(args: &[Word]) -> Judgement {
    if args
        .iter()
        .any(|w| w.text == "-u" || w.text == "--user" || w.text.starts_with("--user="))
    {
        let spec = WrapperSpec {
            long_values: &[
                "--user",
                "--group",
                "--supp-group",
                "--shell",
                "--whitelist-environment",
            ],
            ..spec(Tier::ReadOnly, "runs a command as another user", "ugGsw")
        };
        return wrapper("runuser", args, &spec);
    }
    su(args)
}

/// `script [opts] [FILE]`: `-c CODE` is shell code; the typescript FILE is written.
fn script(args: &[Word]) -> Judgement {
    let mut j = Judgement::data(Tier::ReadOnly, "script records a session to a file");
    let code = option_value(args, "-c", "--command").or_else(|| {
        // `-qc CODE`: a bundle ending in c.
        args.iter().enumerate().find_map(|(i, w)| {
            let t = w.text.as_str();
            (t.starts_with('-') && !t.starts_with("--") && t.ends_with('c') && t.len() > 2)
                .then(|| args.get(i + 1).map(|v| (i + 1, v, 0)))
                .flatten()
        })
    });
    let code_at = code.map(|(i, _, _)| i);
    if let Some((i, w, start)) = code {
        j.inner.push(Inner::ShellText {
            index: i,
            text: w.text.get(start..).unwrap_or("").to_string(),
        });
    } else {
        j.stdin_code = StdinCode::Shell;
    }
    let values = [
        "-c",
        "--command",
        "-E",
        "--echo",
        "-I",
        "--log-in",
        "-O",
        "--log-out",
        "-B",
        "--log-io",
        "-T",
        "--log-timing",
        "-m",
        "--logging-format",
        "-o",
        "--output-limit",
    ];
    let mut i = 0;
    while i < args.len() {
        let t = args[i].text.as_str();
        if values.contains(&t) {
            if matches!(
                t,
                "-I" | "--log-in" | "-O" | "--log-out" | "-B" | "--log-io" | "-T" | "--log-timing"
            ) && let Some(w) = args.get(i + 1)
            {
                j.writes.push(Dest::write(&w.text, w.literal));
            }
            i += 2;
            continue;
        }
        if !t.starts_with('-') && Some(i) != code_at {
            j.writes.push(Dest::write(t, args[i].literal));
        }
        i += 1;
    }
    if j.writes.is_empty() && code_at.is_some() {
        j.writes.push(Dest::write("typescript", true));
    }
    j.opaque_args = (0..args.len()).filter(|i| Some(*i) != code_at).collect();
    j
}

/// `flock [opts] LOCKFILE -c CODE` or `flock [opts] LOCKFILE CMD…` (creates the lock file).
fn flock(args: &[Word]) -> Judgement {
    if let Some((i, w, start)) = option_value(args, "-c", "--command") {
        let mut j = Judgement::data(
            Tier::Reversible,
            "flock runs shell code holding a lock file (creates the file)",
        );
        j.inner.push(Inner::ShellText {
            index: i,
            text: w.text.get(start..).unwrap_or("").to_string(),
        });
        return j;
    }
    let spec = WrapperSpec {
        long_values: &["--timeout", "--wait", "--conflict-exit-code"],
        leading: 1,
        ..spec(
            Tier::Reversible,
            "runs a command holding a lock file (creates the file)",
            "wE",
        )
    };
    wrapper("flock", args, &spec)
}

/// `perf stat|record|trace|top [opts] [--] CMD…`.
fn perf(args: &[Word]) -> Judgement {
    let sub = args.first().map_or("", |w| w.text.as_str());
    let floor = match sub {
        "stat" | "trace" | "top" | "report" | "script" | "list" | "annotate" | "bench"
        | "version" | "help" | "--version" | "--help" => Tier::ReadOnly,
        "record" | "mem" | "sched" | "lock" | "kmem" | "c2c" | "kvm" => Tier::Reversible,
        _ => Tier::Stateful,
    };
    let rest = args.get(1..).unwrap_or(&[]);
    let start = rest
        .iter()
        .position(|w| w.text == "--")
        .map(|p| p + 1)
        .or_else(|| {
            let values = [
                "-e",
                "--event",
                "-o",
                "--output",
                "-p",
                "--pid",
                "-t",
                "--tid",
                "-C",
                "--cpu",
                "-c",
                "--count",
                "-F",
                "--freq",
                "-G",
                "--cgroup",
                "-r",
                "--repeat",
                "-I",
                "--interval-print",
                "-x",
                "--field-separator",
                "-i",
                "--input",
                "-m",
                "--mmap-pages",
                "--call-graph",
                "-u",
                "--uid",
            ];
            let mut i = 0;
            while i < rest.len() {
                let t = rest[i].text.as_str();
                if values.contains(&t) {
                    i += 2;
                } else if t.starts_with('-') {
                    i += 1;
                } else {
                    return Some(i);
                }
            }
            None
        });
    let rule = if floor == Tier::Reversible {
        "perf writes perf.data"
    } else {
        "perf measures a command"
    };
    let mut j = Judgement::data(floor, rule);
    if let Some((_, w, start)) = option_value(rest, "-o", "--output") {
        j.writes
            .push(Dest::write(w.text.get(start..).unwrap_or(""), w.literal));
    }
    if let Some(s) = start.filter(|s| *s < rest.len()) {
        j.inner.push(Inner::Argv {
            start: s + 1,
            end: args.len(),
            partial: false,
        });
        j.opaque_args = (0..=s).collect();
    }
    j
}

/// `capsh … -- ARGS`: the arguments after `--` go to `/bin/bash`.
fn capsh(args: &[Word]) -> Judgement {
    let Some(dd) = args.iter().position(|w| w.text == "--") else {
        let only_print = args.iter().all(|w| {
            matches!(
                w.text.as_str(),
                "--print" | "--current" | "--help" | "--version" | "--license"
            ) || w.text.starts_with("--decode")
                || w.text.starts_with("--supports")
                || w.text.starts_with("--has-")
        });
        let tier = if only_print {
            Tier::ReadOnly
        } else {
            Tier::Stateful
        };
        let mut j = Judgement::data(tier, "capsh prints or changes capabilities");
        j.opaque_args = (0..args.len()).collect();
        return j;
    };
    let mut j = Judgement::data(
        Tier::ReadOnly,
        "capsh runs bash with the arguments after --",
    );
    match (args.get(dd + 1), args.get(dd + 2)) {
        (Some(flag), Some(code)) if flag.text == "-c" => j.inner.push(Inner::ShellText {
            index: dd + 2,
            text: code.text.clone(),
        }),
        (None, _) => j.stdin_code = StdinCode::Shell,
        _ => {
            j.tier = Tier::Stateful;
            j.rule = "capsh runs bash with arguments this table does not follow".into();
            j.opaque_args = (0..args.len()).collect();
        }
    }
    j
}

/// `sg GROUP [-c] COMMAND`: the command is shell code.
fn sg(args: &[Word]) -> Judgement {
    let mut i = usize::from(args.first().is_some_and(|w| w.text == "-"));
    i += 1; // the group
    if args.get(i).is_some_and(|w| w.text == "-c") {
        i += 1;
    }
    let mut j = Judgement::data(Tier::ReadOnly, "sg runs a command with another group");
    if i < args.len() {
        j.inner.push(Inner::ShellJoin {
            start: i,
            end: args.len(),
        });
    } else {
        j.tier = Tier::Stateful;
        j.stdin_code = StdinCode::Shell;
    }
    j
}

/// `gdb … --args PROGRAM ARGS`: the program runs under a debugger that can change it.
fn gdb(args: &[Word]) -> Judgement {
    let mut j = Judgement::data(
        Tier::Stateful,
        "gdb runs or attaches to a program and can change it",
    );
    j.opaque_args = (0..args.len()).collect();
    if let Some(p) = args.iter().position(|w| w.text == "--args") {
        j.inner.push(Inner::Argv {
            start: p + 1,
            end: args.len(),
            partial: false,
        });
        j.opaque_args.retain(|i| *i <= p);
    }
    j
}

fn su(args: &[Word]) -> Judgement {
    let mut i = 0;
    while i < args.len() {
        let t = args[i].text.as_str();
        if t == "-c" || t == "--command" {
            return match args.get(i + 1) {
                Some(w) => Judgement::data(Tier::Stateful, "su -c runs shell code as another user")
                    .with_inner(Inner::ShellText {
                        index: i + 1,
                        text: w.text.clone(),
                    }),
                None => Judgement::data(Tier::Stateful, "su -c without code"),
            };
        }
        if let Some(code) = t.strip_prefix("--command=") {
            return Judgement::data(Tier::Stateful, "su -c runs shell code as another user")
                .with_inner(Inner::ShellText {
                    index: i,
                    text: code.to_string(),
                });
        }
        i += if matches!(
            t,
            "-s" | "--shell"
                | "-g"
                | "--group"
                | "-G"
                | "--supp-group"
                | "-w"
                | "--whitelist-environment"
        ) {
            2
        } else {
            1
        };
    }
    let mut j = Judgement::data(Tier::Stateful, "su opens a shell as another user");
    j.stdin_code = StdinCode::Shell;
    j
}

fn xargs(args: &[Word]) -> Judgement {
    let spec = WrapperSpec {
        long_values: &[],
        ..spec(
            Tier::ReadOnly,
            "xargs runs a command with arguments from its input",
            "adEIiLlnPs",
        )
    };
    match wrapped_start(args, &spec) {
        None => Judgement::data(Tier::ReadOnly, "xargs with no command echoes its input"),
        Some(start) => Judgement::data(Tier::ReadOnly, spec.rule).with_inner(Inner::Argv {
            start,
            end: args.len(),
            partial: true,
        }),
    }
}

fn watch(args: &[Word]) -> Judgement {
    let spec = WrapperSpec {
        long_values: &["--interval"],
        ..spec(Tier::ReadOnly, "watch runs a command repeatedly", "n")
    };
    let exec = has_short(args, 'x') || args.iter().any(|w| w.text == "--exec");
    match wrapped_start(args, &spec) {
        None => Judgement::data(Tier::ReadOnly, "watch with no command"),
        Some(start) if exec => Judgement::data(Tier::ReadOnly, spec.rule).with_inner(Inner::Argv {
            start,
            end: args.len(),
            partial: false,
        }),
        Some(start) => Judgement::data(Tier::ReadOnly, spec.rule).with_inner(Inner::ShellJoin {
            start,
            end: args.len(),
        }),
    }
}

fn ssh(args: &[Word]) -> Judgement {
    const VALUES: &[&str] = &[
        "-B", "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o",
        "-P", "-p", "-Q", "-R", "-S", "-W", "-w",
    ];
    if args.len() == 1 && matches!(args[0].text.as_str(), "-V" | "-G")
        || args.iter().any(|w| w.text == "-G")
    {
        return Judgement::data(
            Tier::ReadOnly,
            "ssh -G/-V prints its configuration or version",
        );
    }
    let local_code = args.iter().any(|w| {
        let t = w.text.to_ascii_lowercase();
        t.contains("proxycommand")
            || t.contains("localcommand")
            || t.contains("knownhostscommand")
            || t.starts_with("-f")
    });
    let forwards = args.iter().any(|w| {
        let t = w.text.as_str();
        t.starts_with('-')
            && !t.starts_with("--")
            && t[1..].chars().any(|c| matches!(c, 'L' | 'R' | 'D' | 'w'))
            && !t[1..]
                .chars()
                .next()
                .is_some_and(|c| "BbcEeFIiJlmOoPpQSW".contains(c))
            || t.to_ascii_lowercase().contains("forward")
    });
    if forwards {
        let mut j = Judgement::data(
            Tier::Stateful,
            "ssh forwards ports or tunnels (it opens listeners)",
        );
        j.opaque_args = (0..args.len()).collect();
        j.sends_stdin = true;
        return j;
    }
    if local_code || any_non_literal(args) {
        let mut j = Judgement::data(
            Tier::Stateful,
            "ssh options that run local commands or are not literal",
        );
        j.opaque_args = (0..args.len()).collect();
        return j;
    }
    let mut j = match first_operand(args, VALUES) {
        None => Judgement::data(Tier::Reversible, "ssh with no destination"),
        Some((i, _)) if i + 1 >= args.len() => {
            let mut j = Judgement::data(Tier::Reversible, "ssh opens a remote shell");
            j.stdin_code = StdinCode::Shell;
            j
        }
        Some((i, _)) => Judgement::data(Tier::Reversible, "ssh runs a remote command").with_inner(
            Inner::ShellJoin {
                start: i + 1,
                end: args.len(),
            },
        ),
    };
    j.sends_stdin = true;
    if let Some((_, w, start)) = option_value(args, "-E", "-E") {
        j.writes
            .push(Dest::write(w.text.get(start..).unwrap_or(""), w.literal));
    }
    if option_value(args, "-F", "-F").is_some() {
        j.tier = Tier::Stateful;
        j.rule = "ssh -F reads a configuration that can run commands".into();
    }
    j
}

fn trap(args: &[Word]) -> Judgement {
    match args.first() {
        Some(w) if !w.text.starts_with('-') && args.len() > 1 => {
            Judgement::data(Tier::ReadOnly, "trap installs shell code as a handler").with_inner(
                Inner::ShellText {
                    index: 0,
                    text: w.text.clone(),
                },
            )
        }
        _ => Judgement::data(Tier::ReadOnly, "trap lists or resets handlers"),
    }
}

fn alias(args: &[Word]) -> Judgement {
    let defs: Vec<(usize, String)> = args
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.text.split_once('=').map(|(_, v)| (i, v.to_string())))
        .collect();
    if defs.is_empty() {
        let mut j = Judgement::data(Tier::ReadOnly, "alias lists aliases");
        j.opaque_args = (0..args.len()).collect();
        return j;
    }
    let mut j = Judgement::data(
        Tier::Stateful,
        "defines an alias (what later names run is not what they say)",
    );
    for (index, text) in defs {
        j.inner.push(Inner::ShellText { index, text });
    }
    j
}

fn parallel(args: &[Word]) -> Judgement {
    let end = args
        .iter()
        .position(|w| w.text.starts_with(":::"))
        .unwrap_or(args.len());
    let spec = WrapperSpec {
        long_values: &[
            "--jobs",
            "--sshlogin",
            "--arg-file",
            "--delimiter",
            "--colsep",
            "--joblog",
            "--timeout",
            "--delay",
        ],
        ..spec(
            Tier::ReadOnly,
            "parallel runs a command template",
            "jSadICnNL",
        )
    };
    match wrapped_start(&args[..end], &spec) {
        None if end < args.len() => {
            // No command: each argument after `:::` is a command line.
            let mut j = Judgement::data(Tier::ReadOnly, "parallel runs each argument as a command");
            for (index, w) in args.iter().enumerate().skip(end + 1) {
                if !w.text.starts_with(":::") {
                    j.inner.push(Inner::ShellText {
                        index,
                        text: w.text.clone(),
                    });
                }
            }
            j
        }
        None => {
            let mut j = Judgement::data(
                Tier::Stateful,
                "parallel reads commands from standard input",
            );
            j.stdin_code = StdinCode::Shell;
            j
        }
        Some(start) => {
            Judgement::data(Tier::ReadOnly, spec.rule).with_inner(Inner::ShellJoin { start, end })
        }
    }
}
