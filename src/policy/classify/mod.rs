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
}

pub use shell::parse_backstops;

use super::probe::{Direction, Interpreter, Payload, PolicyClass, Probe};
use super::{Classification, Reason, Tier};

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
            if let Some((tier, why)) = paths::write_target(t.written(), true, None) {
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

/// Environment changes: judged by name (a name that redirects what programs run is tier 2)
/// and by value (the raw-text rules).
fn environment_overlay(env: &[(String, Option<String>)], reasons: &mut Vec<Reason>) {
    for (key, value) in env {
        if let Some(why) = environment::dangerous(key) {
            reasons.push(Reason {
                subject: key.clone(),
                rule: format!("environment overlay {why}"),
                tier: Tier::Stateful,
            });
        }
        if let Some(v) = value {
            raw_floor(v, reasons);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
