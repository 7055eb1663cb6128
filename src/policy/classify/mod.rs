//! Classification: what tier a tool call is, from what will actually run.
//!
//! Shell text is parsed ([`shell`]) and every simple command is looked up in the knowledge
//! table ([`knowledge`]); redirections are judged by their target ([`paths`]); the spec's
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
/// what tests, generators and the redactor can enumerate.
pub fn declared_programs() -> Vec<(&'static str, &'static crate::policy::options::Grammar)> {
    knowledge::declared()
}

pub use shell::{MAX_BODY_DEPTH, MAX_NODE_DEPTH, MAX_OPERATORS, MAX_PARSE_BYTES, PARSE_BUDGET};

use super::{Classification, READ_ONLY_TOOLS, Reason, STATEFUL_TOOLS, Tier};

/// Tools whose text is shell code and which may be tier 0 when it is proven read-only.
const SHELL_TOOLS_TIER0: &[&str] = &[
    "shell_exec",
    "shell_script",
    "ssh_exec",
    "ssh_fanout",
    "session_send",
];
/// Tools whose text is shell code but which never go below tier 1 (they open sessions).
const SHELL_TOOLS_MIN1: &[&str] = &["shell_spawn", "ssh_spawn"];
/// Tools whose probe ends with a line of hosts (plus canonical IPs).
const HOST_TOOLS: &[&str] = &["ssh_exec", "ssh_spawn", "ssh_fanout"];

/// Classify `text` as it would be handed to `tool`. Total: never panics, on any input.
pub fn classify(tool: &str, text: &str) -> Classification {
    if READ_ONLY_TOOLS.contains(&tool) {
        return Classification {
            tier: Tier::ReadOnly,
            reasons: vec![],
        };
    }
    let mut reasons = Vec::new();
    let min = if STATEFUL_TOOLS.contains(&tool) {
        reasons.push(Reason {
            subject: tool.to_string(),
            rule: "moves files or opens tunnels (stateful tool)".into(),
            tier: Tier::Stateful,
        });
        raw_floor(text, &mut reasons);
        Tier::Stateful
    } else if SHELL_TOOLS_TIER0.contains(&tool) || SHELL_TOOLS_MIN1.contains(&tool) {
        shell_probe(tool, text, &mut reasons);
        if SHELL_TOOLS_MIN1.contains(&tool) {
            Tier::Reversible
        } else {
            Tier::ReadOnly
        }
    } else {
        raw_floor(text, &mut reasons);
        Tier::Reversible
    };
    let found = reasons
        .iter()
        .map(|r| r.tier)
        .max()
        .unwrap_or(Tier::ReadOnly);
    Classification {
        tier: found.max(min),
        reasons,
    }
}

/// The raw-text floor alone (tools whose text is not shell code).
fn raw_floor(text: &str, reasons: &mut Vec<Reason>) {
    for hit in floor::scan(text, &|_, _| false) {
        reasons.push(Reason {
            subject: hit.matched,
            rule: format!("raw-text rule: {}", hit.rule),
            tier: hit.tier,
        });
    }
}

/// A probe built by the gate: the command, then (per tool) a line of hosts or an environment
/// overlay. Split those off so they are judged as what they are.
fn shell_probe(tool: &str, text: &str, reasons: &mut Vec<Reason>) {
    let mut command = text;
    if let Some((head, last)) = text.rsplit_once('\n') {
        if HOST_TOOLS.contains(&tool) && is_host_line(last) {
            command = head;
            raw_floor(last, reasons);
        } else if let Some(env) = env_overlay(last) {
            command = head;
            reasons.extend(env);
        }
    } else if let Some(env) = env_overlay(text).filter(|_| tool == "shell_spawn") {
        // shell_spawn with only an environment overlay: the command is empty.
        command = "";
        reasons.extend(env);
    }
    if command.trim().is_empty() {
        reasons.push(Reason {
            subject: String::new(),
            rule: "no command: an interactive shell, or nothing proven read-only".into(),
            tier: Tier::Reversible,
        });
        return;
    }
    let verdict = shell::classify_shell(command, 0, SHELL_TOOLS_MIN1.contains(&tool));
    if verdict.commands == 0 && verdict.reasons.is_empty() {
        reasons.push(Reason {
            subject: command.chars().take(120).collect(),
            rule: "no command found".into(),
            tier: Tier::Reversible,
        });
    }
    reasons.extend(verdict.reasons);
}

/// A line that can only be host names, addresses and separators.
fn is_host_line(line: &str) -> bool {
    line.chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-[]:@%, ".contains(c))
}

/// A line that is a JSON object: an environment overlay. Returns its findings.
fn env_overlay(line: &str) -> Option<Vec<Reason>> {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    let serde_json::Value::Object(map) = serde_json::from_str(trimmed).ok()? else {
        return None;
    };
    let mut out = Vec::new();
    for (key, value) in &map {
        if let Some(why) = environment::dangerous(key) {
            out.push(Reason {
                subject: key.clone(),
                rule: format!("environment overlay {why}"),
                tier: Tier::Stateful,
            });
        }
        if let serde_json::Value::String(v) = value {
            raw_floor(v, &mut out);
        }
    }
    Some(out)
}
