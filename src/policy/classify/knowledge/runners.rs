//! Commands that run other commands or code: privilege and process wrappers (seen through),
//! shells (their code is parsed in turn), and other interpreters (their code is opaque).

use super::interpreters::{self, is_posix_shell};
use super::{Inner, Judgement, StdinCode, any_non_literal, first_operand, has_short};
use crate::policy::Tier;
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
            ..spec(Stateful, "privilege wrapper (sudo)", "CDghpRrTtUu")
        },
        "doas" => spec(Stateful, "privilege wrapper (doas)", "Cu"),
        "pkexec" => WrapperSpec {
            long_values: &["--user"],
            ..spec(Stateful, "privilege wrapper (pkexec)", "")
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
        "time" => spec(ReadOnly, "times a command", "f"),
        "command" | "builtin" => spec(
            ReadOnly,
            "runs a command bypassing functions and aliases",
            "",
        ),
        "exec" => spec(ReadOnly, "replaces the shell with a command", "a"),
        "unbuffer" | "catchsegv" => spec(ReadOnly, "runs a command", ""),
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
        "strace" | "ltrace" => spec(
            Reversible,
            "traces a command (can attach to others)",
            "abeEIoOpPsSuUX",
        ),
        "flock" => WrapperSpec {
            long_values: &["--timeout", "--wait", "--conflict-exit-code"],
            leading: 1,
            ..spec(
                Reversible,
                "runs a command holding a lock file (creates the file)",
                "wE",
            )
        },
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
        return Some(wrapper(name, args, &spec));
    }
    if is_posix_shell(name) {
        return Some(interpreters::shell(name, args));
    }
    if let Some(j) = interpreters::interpreter(name, args) {
        return Some(j);
    }
    Some(match name {
        "su" | "runuser" => su(args),
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
        "source" | "." => {
            let mut j = Judgement::data(Tier::Stateful, "runs shell code from a file");
            j.opaque_args = (0..args.len()).collect();
            j
        }
        "busybox" => match args.first() {
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
    let privileged = spec.floor == Tier::Stateful && matches!(name, "sudo" | "doas" | "pkexec");
    // The wrapper's own options end where the wrapped command starts.
    let own = &args[..start.unwrap_or(args.len())];
    match (name, start) {
        ("command", _) if has_short(own, 'v') || has_short(own, 'V') => {
            Judgement::data(Tier::ReadOnly, "command -v looks a name up")
        }
        ("sudo", _) if own.iter().any(|w| w.text == "-e" || w.text == "--edit") => {
            Judgement::data(Tier::Stateful, "sudo -e edits files as root")
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
                spec.floor,
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
    let local_code = args.iter().any(|w| {
        let t = w.text.to_ascii_lowercase();
        t.contains("proxycommand") || t.contains("localcommand") || t.starts_with("-f")
    });
    if local_code || any_non_literal(args) {
        let mut j = Judgement::data(
            Tier::Stateful,
            "ssh options that run local commands or are not literal",
        );
        j.opaque_args = (0..args.len()).collect();
        return j;
    }
    match first_operand(args, VALUES) {
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
    }
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
