//! The policy probe: everything a tool call will hand to its executor, kept field by field.
//!
//! The classifier judges each field as what it is — the command as shell code, standard input
//! as data unless a shell or interpreter reads it, each environment entry by name and value,
//! session keystrokes as the lines they submit — and the executor later takes its input from
//! the same value (the gate hands the judged probe to the work). Nothing is flattened to one
//! text and split again: a design that guesses the parts back from a joined text lets a part
//! pass for another (a JSON-looking last line of a command was once taken for the environment
//! overlay and never parsed as shell).
//!
//! The one joined text that remains, [`Probe::text`], exists only for the operator's deny and
//! allow regexes, and is byte-compatible with the probe the Python relay-shell builds for them:
//! the non-empty parts, in the order the tool adds them, joined by `\n`.

use super::Tier;
use super::hosts::widen_hosts;

/// How the policy treats a tool. Every tool declares its class next to its parameters, so a
/// new tool cannot fall into a default tier because a list elsewhere was not updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyClass {
    /// Only observes (`server_info`, `session_recv`, `audit_tail`, …): tier 0 whatever its
    /// text.
    ReadOnly,
    /// Runs shell code or a program to completion (`shell_exec`, `shell_script`,
    /// `session_send`, `ssh_exec`, `ssh_fanout`): the tier of what runs; 0 only when it is
    /// proven read-only.
    Shell,
    /// Starts an interactive program (`shell_spawn`, `ssh_spawn`): the tier of the program,
    /// never below 1. What is typed into it later is judged by `session_send`.
    Session,
    /// Acts on existing state without running code (`session_resize`, `session_kill`,
    /// `ssh_keyscan`): tier 1, raised by the raw-text rules over its text.
    Control,
    /// Moves files or opens tunnels (`ssh_upload`, `ssh_download`, `ssh_forward`): at least
    /// tier 2, raised by the raw-text rules over its text.
    Stateful,
}

impl PolicyClass {
    /// The lowest tier a call of this class can get.
    pub fn floor(self) -> Tier {
        match self {
            PolicyClass::ReadOnly | PolicyClass::Shell => Tier::ReadOnly,
            PolicyClass::Session | PolicyClass::Control => Tier::Reversible,
            PolicyClass::Stateful => Tier::Stateful,
        }
    }

    /// Whether calls of this class never change anything (the MCP `readOnlyHint`).
    pub fn read_only(self) -> bool {
        self == PolicyClass::ReadOnly
    }
}

/// An interpreter that reads a script on its standard input (`shell_script`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpreter {
    /// `/bin/bash -s`.
    Bash,
    /// `/bin/sh -s`.
    Sh,
    /// `python3 -`.
    Python,
}

impl Interpreter {
    /// The interpreter named by a `shell_script` argument (`bash`, `sh`, `python`, `python3`,
    /// `py`; any case), or `None`.
    pub fn parse(name: &str) -> Option<Interpreter> {
        match name.trim().to_ascii_lowercase().as_str() {
            "bash" => Some(Interpreter::Bash),
            "sh" => Some(Interpreter::Sh),
            "python" | "python3" | "py" => Some(Interpreter::Python),
            _ => None,
        }
    }

    /// Whether the script is shell code the classifier can read.
    pub fn is_shell(self) -> bool {
        matches!(self, Interpreter::Bash | Interpreter::Sh)
    }
}

/// A script handed to an interpreter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// Who runs it.
    pub interpreter: Interpreter,
    /// The script as the caller wrote it (the executor may prepend `set -e…`, which only
    /// stops a script earlier).
    pub body: String,
}

/// What a call runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Payload {
    /// Nothing runs (observers, controls, transfers).
    #[default]
    None,
    /// Shell text for `/bin/sh -c` (or a remote login shell).
    Shell(String),
    /// A program and its arguments, executed without a shell.
    Argv(Vec<String>),
    /// A script on an interpreter's standard input.
    Script(Script),
    /// Files copied over SFTP: the paths read and written, and which way.
    Transfer(Transfer),
    /// A port forward opened over an SSH connection.
    Forward(Forward),
    /// Keystrokes into a session.
    Input {
        /// The bytes sent to the terminal, as typed (Enter included).
        keys: String,
        /// What the policy judges: the lines the keystrokes submit, with text typed earlier
        /// and not yet submitted in front, and the unsubmitted rest last, joined by `\n`.
        lines: String,
    },
}

/// Which way a transfer copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Local → remote (`ssh_upload`): the remote path is written.
    Upload,
    /// Remote → local (`ssh_download`): the local path is written.
    Download,
}

/// A file transfer as the executor runs it: the paths exactly as given (the executor places
/// them under the configured roots), so the classifier judges the path that is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Which way the bytes go.
    pub direction: Direction,
    /// The path on the server's host.
    pub local: String,
    /// The path on the remote host.
    pub remote: String,
    /// Whether a directory and everything below it may be copied.
    pub recursive: bool,
}

impl Transfer {
    /// The path this transfer writes (remote for an upload, local for a download).
    pub fn written(&self) -> &str {
        match self.direction {
            Direction::Upload => &self.remote,
            Direction::Download => &self.local,
        }
    }
}

/// The kind of a port forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardKind {
    /// `L:` — a listener on the server's host, connections carried to a destination reached
    /// from the remote host.
    Local,
    /// `R:` — a listener on the remote host, connections carried to a destination reached
    /// from the server's host.
    Remote,
    /// `D:` — a SOCKS listener on the server's host; the remote host connects wherever the
    /// client asks.
    Dynamic,
}

impl ForwardKind {
    /// The name shown in results and listings (`local`, `remote`, `dynamic`).
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardKind::Local => "local",
            ForwardKind::Remote => "remote",
            ForwardKind::Dynamic => "dynamic",
        }
    }
}

/// A port forward as the executor opens it (parsed from the caller's spec before anything
/// connects).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    /// Local, remote or dynamic.
    pub kind: ForwardKind,
    /// The listen address the spec named (`None` = loopback, `127.0.0.1`).
    pub bind: Option<String>,
    /// The listen port (0 = one the listening side picks).
    pub listen_port: u16,
    /// Where connections go (`L:`/`R:`); `None` for `D:`.
    pub dest: Option<(String, u16)>,
}

impl Forward {
    /// Whether the listener is reachable from other hosts: a bind address that is not a
    /// loopback name or address.
    pub fn non_loopback(&self) -> bool {
        self.bind.as_deref().is_some_and(|b| !is_loopback(b))
    }
}

/// Whether `host` names the loopback interface (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// One environment change: `Some` sets the variable, `None` removes it.
pub type EnvEntry = (String, Option<String>);

/// Everything a tool call will hand to its executor, plus the text the operator's regexes see.
///
/// Built with the chained methods below; each one that carries text also appends it, when not
/// empty, to [`Probe::text`] — so the order of the calls is the order of the parts there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    tool: &'static str,
    class: PolicyClass,
    /// What runs.
    pub payload: Payload,
    /// Bytes written to the program's standard input (data unless a shell or interpreter
    /// reads it).
    pub stdin: Option<String>,
    /// Environment changes applied to the child.
    pub env: Vec<EnvEntry>,
    /// Working directory of the child, when the caller chose one.
    pub cwd: Option<String>,
    /// Destination hosts (as given, before resolution), and any other spelling of them the
    /// tool adds (host part, inventory address); each is checked by the raw-text rules.
    pub hosts: Vec<String>,
    /// The lowest tier the call gets whatever its text (a tool's own rule, e.g. `ssh_check`
    /// naming a host outside the inventory).
    min_tier: Tier,
    /// Characters the call carries when that is not the length of [`Probe::text`] (session
    /// input: the pending line plus the data as typed, before line editing shortens it).
    input_chars: Option<usize>,
    text: String,
}

impl Probe {
    /// An empty probe for `tool` of `class`.
    pub fn new(tool: &'static str, class: PolicyClass) -> Self {
        Self {
            tool,
            class,
            payload: Payload::None,
            stdin: None,
            env: Vec::new(),
            cwd: None,
            hosts: Vec::new(),
            min_tier: Tier::ReadOnly,
            input_chars: None,
            text: String::new(),
        }
    }

    /// The call gets at least `tier`, whatever the classifier finds.
    pub fn at_least(mut self, tier: Tier) -> Self {
        self.min_tier = self.min_tier.max(tier);
        self
    }

    /// The call carries `n` characters of input, whatever the length of its regex text (the
    /// measure `RELAY_SHELL_MAX_INPUT` is checked against).
    pub fn carrying(mut self, n: usize) -> Self {
        self.input_chars = Some(n);
        self
    }

    /// Characters of input the call carries: [`Probe::carrying`], else the length of
    /// [`Probe::text`] in characters.
    pub fn input_chars(&self) -> usize {
        self.input_chars
            .unwrap_or_else(|| self.text.chars().count())
    }

    /// The lowest tier the call gets (see [`Probe::at_least`]).
    pub fn min_tier(&self) -> Tier {
        self.min_tier
    }

    /// The tool the call is for.
    pub fn tool(&self) -> &'static str {
        self.tool
    }

    /// The tool's policy class.
    pub fn class(&self) -> PolicyClass {
        self.class
    }

    /// The text the operator's deny/allow regexes see (without the tool name).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Append a part to the regex text (non-empty parts joined by `\n`).
    fn push_text(&mut self, part: &str) {
        if part.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(part);
    }

    /// Shell text that runs.
    pub fn shell(mut self, command: impl Into<String>) -> Self {
        let command = command.into();
        self.push_text(&command);
        self.payload = Payload::Shell(command);
        self
    }

    /// A program run without a shell; `shown` is the text the caller wrote (for the regexes).
    pub fn argv(mut self, argv: Vec<String>, shown: &str) -> Self {
        self.push_text(shown);
        self.payload = Payload::Argv(argv);
        self
    }

    /// Text the caller gave for a payload that could not be prepared (the call will fail
    /// with `InvalidArgument` and run nothing); the regexes still see it.
    pub fn unprepared(mut self, shown: &str) -> Self {
        self.push_text(shown);
        self
    }

    /// A script for an interpreter.
    pub fn script(mut self, interpreter: Interpreter, body: impl Into<String>) -> Self {
        let body = body.into();
        self.push_text(&body);
        self.payload = Payload::Script(Script { interpreter, body });
        self
    }

    /// Keystrokes into a session: `keys` is what is sent, `lines` what they submit (see
    /// [`Payload::Input`]); the regexes see `lines`.
    pub fn input(mut self, keys: impl Into<String>, lines: impl Into<String>) -> Self {
        let lines = lines.into();
        self.push_text(&lines);
        self.payload = Payload::Input {
            keys: keys.into(),
            lines,
        };
        self
    }

    /// Standard input for the program (empty = none).
    pub fn stdin(mut self, stdin: &str) -> Self {
        self.push_text(stdin);
        self.stdin = (!stdin.is_empty()).then(|| stdin.to_string());
        self
    }

    /// The environment overlay: `raw` as the caller wrote it (for the regexes) and `entries`
    /// as parsed (what the child gets). `entries` is empty when `raw` did not parse; the call
    /// then fails before anything runs.
    pub fn env(mut self, raw: &str, entries: Vec<EnvEntry>) -> Self {
        self.push_text(raw);
        self.env = entries;
        self
    }

    /// The child's working directory (not part of the regex text, as in the Python probe).
    pub fn cwd(mut self, cwd: &str) -> Self {
        self.cwd = (!cwd.is_empty()).then(|| cwd.to_string());
        self
    }

    /// Destination hosts: `shown` (the caller's text, e.g. a comma-separated list) is appended
    /// to the regex text followed by the canonical spelling of every literal-IP host, so a
    /// deny rule on `127.0.0.1` also catches `2130706433`.
    pub fn hosts(mut self, hosts: Vec<String>, shown: &str) -> Self {
        let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let widened = widen_hosts(shown, &refs);
        self.push_text(&widened);
        self.hosts = hosts;
        self
    }

    /// A file transfer; `shown` (`upload <local> <host>:<remote>`) is its regex text.
    pub fn transfer(mut self, transfer: Transfer, shown: &str) -> Self {
        self.push_text(shown);
        self.payload = Payload::Transfer(transfer);
        self
    }

    /// A port forward; `shown` (`forward <spec>`) is its regex text.
    pub fn forward(mut self, forward: Forward, shown: &str) -> Self {
        self.push_text(shown);
        self.payload = Payload::Forward(forward);
        self
    }

    /// Regex-only text for tools whose arguments are not code (`upload <local> <host>:<path>`,
    /// `forward <spec>`); the raw-text rules read it for `Control` and `Stateful` tools.
    pub fn describe(mut self, text: &str) -> Self {
        self.push_text(text);
        self
    }

    /// The probe of a tool given as one text, the way `relay-shell explain` and corpora state
    /// a case: the text is the command for shell tools, the keystrokes for `session_send`, the
    /// program for `Session` tools, and the description otherwise.
    pub fn from_text(tool: &'static str, class: PolicyClass, text: &str) -> Self {
        let probe = Probe::new(tool, class);
        match class {
            PolicyClass::Shell if tool == "session_send" => probe.input(text, text),
            PolicyClass::Shell | PolicyClass::Session => probe.shell(text),
            PolicyClass::ReadOnly | PolicyClass::Control | PolicyClass::Stateful => {
                probe.describe(text)
            }
        }
    }
}

/// The probe of a corpus case stated as (`tool`, one text), for the classifier's corpus tests
/// and benches; never used to serve. A tool is looked up in the server's table (the fallback
/// names keep corpora readable without it); for the SSH shell tools a last line of hosts is
/// split off.
#[doc(hidden)]
pub fn test_probe(tool: &str, text: &str) -> Probe {
    let (tool, class): (&'static str, PolicyClass) =
        match crate::server::tools::find(tool).map(|d| (d.name, d.class)) {
            Some(found) => found,
            None => match tool {
                "ssh_exec" => ("ssh_exec", PolicyClass::Shell),
                "ssh_fanout" => ("ssh_fanout", PolicyClass::Shell),
                "ssh_spawn" => ("ssh_spawn", PolicyClass::Session),
                "ssh_keyscan" => ("ssh_keyscan", PolicyClass::Control),
                "ssh_hosts" | "ssh_check" => ("ssh_hosts", PolicyClass::ReadOnly),
                _ => ("unknown", PolicyClass::Control),
            },
        };
    if matches!(tool, "ssh_exec" | "ssh_fanout" | "ssh_spawn") {
        let (command, hosts) = text.rsplit_once('\n').unwrap_or((text, ""));
        let list: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(String::from)
            .collect();
        return Probe::new(tool, class).shell(command).hosts(list, hosts);
    }
    Probe::from_text(tool, class, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_text_joins_nonempty_parts_in_call_order() {
        let p = Probe::new("shell_exec", PolicyClass::Shell)
            .shell("ls")
            .stdin("")
            .env("{\"A\":\"1\"}", vec![("A".into(), Some("1".into()))]);
        assert_eq!(p.text(), "ls\n{\"A\":\"1\"}");
        assert_eq!(p.payload, Payload::Shell("ls".into()));
        assert_eq!(p.stdin, None);
        let p = Probe::new("shell_exec", PolicyClass::Shell)
            .shell("cat")
            .stdin("data");
        assert_eq!(p.text(), "cat\ndata");
        assert_eq!(p.stdin.as_deref(), Some("data"));
    }

    #[test]
    fn hosts_are_widened_for_the_regexes() {
        let p = Probe::new("ssh_exec", PolicyClass::Shell)
            .shell("uptime")
            .hosts(vec!["2130706433".into()], "2130706433");
        assert_eq!(p.text(), "uptime\n2130706433 127.0.0.1");
        assert_eq!(p.hosts, vec!["2130706433".to_string()]);
    }

    #[test]
    fn classes_have_their_floors() {
        assert_eq!(PolicyClass::ReadOnly.floor(), Tier::ReadOnly);
        assert_eq!(PolicyClass::Shell.floor(), Tier::ReadOnly);
        assert_eq!(PolicyClass::Session.floor(), Tier::Reversible);
        assert_eq!(PolicyClass::Control.floor(), Tier::Reversible);
        assert_eq!(PolicyClass::Stateful.floor(), Tier::Stateful);
        assert!(PolicyClass::ReadOnly.read_only());
        assert!(!PolicyClass::Shell.read_only());
    }

    #[test]
    fn interpreters_parse_case_insensitively() {
        assert_eq!(Interpreter::parse(" Bash "), Some(Interpreter::Bash));
        assert_eq!(Interpreter::parse("py"), Some(Interpreter::Python));
        assert_eq!(Interpreter::parse("perl"), None);
    }
}
