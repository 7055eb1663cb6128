//! Wrappers with syntax of their own: `su`, `runuser`, `script`, `flock`, `perf`, `capsh`,
//! `sg`, `gdb`, `xargs`, `watch`, `ssh`, `trap`, `alias`, `parallel`, and the files tracers
//! write (`strace -o`, `valgrind --log-file`).

use super::runners::{WrapperSpec, spec, wrapped_start, wrapper};
use super::{Inner, Judgement, StdinCode, any_non_literal, first_operand, has_short};
use crate::policy::Tier;
use crate::policy::classify::paths::Dest;
use crate::policy::classify::words::Word;

/// The word after option `flag` (or attached to it), for wrappers that take a file or code.
pub(super) fn option_value<'a>(
    args: &'a [Word],
    short: &str,
    long: &str,
) -> Option<(usize, &'a Word, usize)> {
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
pub(super) fn runuser(args: &[Word]) -> Judgement {
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
pub(super) fn script(args: &[Word]) -> Judgement {
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
pub(super) fn flock(args: &[Word]) -> Judgement {
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
pub(super) fn perf(args: &[Word]) -> Judgement {
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
pub(super) fn capsh(args: &[Word]) -> Judgement {
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
pub(super) fn sg(args: &[Word]) -> Judgement {
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
pub(super) fn gdb(args: &[Word]) -> Judgement {
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

pub(super) fn su(args: &[Word]) -> Judgement {
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

pub(super) fn xargs(args: &[Word]) -> Judgement {
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

pub(super) fn watch(args: &[Word]) -> Judgement {
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

pub(super) fn ssh(args: &[Word]) -> Judgement {
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

pub(super) fn trap(args: &[Word]) -> Judgement {
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

pub(super) fn alias(args: &[Word]) -> Judgement {
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

pub(super) fn parallel(args: &[Word]) -> Judgement {
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
