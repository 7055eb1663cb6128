//! State that later commands inherit: the working directory (`cd`, `pushd`, `popd`), variables
//! set in any way (`NAME=value`, `export`, `declare`, `read`, `printf -v`, `mapfile`,
//! `getopts`, `for NAME in`, `${NAME:=…}`), and strings bash evaluates as arithmetic or array
//! subscripts, where `$(…)` runs (`printf -v 'a[$(cmd)]'`, `[[ 'a[$(cmd)]' -eq 1 ]]`).

use tree_sitter::Node;

use super::{MAX_CANDIDATES, Stdin, Visitor};
use crate::policy::Tier;
use crate::policy::classify::environment::{self, Setting};
use crate::policy::classify::paths::Cwd;
use crate::policy::classify::words::{self, Word};

/// Builtins whose words bash may evaluate as arithmetic or as a subscripted name.
const EVALUATES: &[&str] = &[
    "declare",
    "typeset",
    "local",
    "readonly",
    "export",
    "read",
    "printf",
    "unset",
    "test",
    "[",
    "let",
    "mapfile",
    "readarray",
    "getopts",
];

/// Whether bash could run `$(…)` or backquotes inside this string when it evaluates it as
/// arithmetic or as an array subscript.
fn evaluated_code(text: &str) -> bool {
    text.contains('[') && (text.contains("$(") || text.contains('`'))
}

impl Visitor<'_> {
    /// Nodes that set state or evaluate words (`${v:=…}`, `for v in`, `[[ … ]]`,
    /// `declare`/`unset`, `(( … ))`). True when the node was handled.
    pub(super) fn state_node(&mut self, kind: &str, node: Node, stdin: &Stdin, nd: usize) -> bool {
        match kind {
            "expansion" => self.expansion_assignment(node),
            "for_statement" | "select_statement" => self.loop_variable(node),
            "test_command" => {
                // `[[ … ]]`: a builtin test; it runs nothing but what its words substitute.
                self.commands += 1;
                self.test_strings(node);
            }
            "declaration_command" | "unset_command" => {
                self.declaration(node, stdin, nd);
                return true;
            }
            // `(( … ))`: arithmetic, a builtin that runs nothing but its `$(…)`.
            "compound_statement" if node.child(0).is_some_and(|c| c.kind() == "((") => {
                self.commands += 1;
            }
            _ => return false,
        }
        self.visit_children(node, stdin, nd);
        true
    }

    /// `NAME=value`, standalone or as a prefix of a command; `for_read`: the prefix of a
    /// `read`-like builtin (where `IFS` only splits the line read).
    pub(super) fn assignment(&mut self, node: Node, nd: usize, for_read: bool) {
        let name = node
            .child_by_field_name("name")
            .map(|n| self.text(n).to_string())
            .unwrap_or_default();
        let subject = self.text(node).to_string();
        match node.child_by_field_name("value") {
            Some(value) => {
                let w = words::resolve(value, self.src);
                self.set_variable(&subject, &name, &w.text, w.literal, for_read);
                if w.literal {
                    // A value is data until something runs it (`$X` as a command word, `eval`),
                    // which is judged from the remembered value.
                    self.mark(w.span, true);
                    self.remember(name, w.text);
                }
                self.visit(value, &Stdin::Inherited, nd + 1);
            }
            None => {
                self.set_variable(&subject, &name, "", true, for_read);
                self.remember(name, String::new());
            }
        }
    }

    /// Remember a literal value a variable may hold (bounded per variable).
    pub(super) fn remember(&mut self, name: String, value: String) {
        let values = self.vars.entry(name).or_default();
        if values.len() < MAX_CANDIDATES && !values.contains(&value) {
            values.push(value);
        }
    }

    /// `cd`, `pushd`, `popd`: where relative paths land from now on.
    pub(super) fn change_dir(&mut self, cmd: &str, args: &[Word]) {
        let target = args.iter().find(|w| {
            !(w.literal && matches!(w.text.as_str(), "-P" | "-L" | "-e" | "-@" | "--" | "-n"))
        });
        match cmd {
            "cd" => self.cwd = self.resolve_dir(target),
            "pushd" => match target {
                Some(w) if !(w.literal && (w.text.starts_with('+') || w.text.starts_with('-'))) => {
                    let next = self.resolve_dir(Some(w));
                    self.dirs.push(std::mem::replace(&mut self.cwd, next));
                }
                _ => self.cwd = Cwd::Unknown,
            },
            "popd" => {
                if target.is_some() {
                    self.cwd = Cwd::Unknown;
                } else if let Some(previous) = self.dirs.pop() {
                    self.cwd = previous;
                }
            }
            _ => {}
        }
    }

    /// The directory `w` names, from the current one.
    pub(super) fn dir_for(&self, w: &Word) -> Cwd {
        self.resolve_dir(Some(w))
    }

    fn resolve_dir(&self, target: Option<&Word>) -> Cwd {
        let Some(w) = target else {
            return Cwd::Known("~".into());
        };
        if !w.literal || w.text == "-" {
            return Cwd::Unknown;
        }
        let t = w.text.as_str();
        if t.starts_with('/') || t.starts_with('~') {
            return Cwd::Known(t.to_string());
        }
        match &self.cwd {
            Cwd::Known(base) => Cwd::Known(format!("{base}/{t}")),
            Cwd::Start if !t.starts_with("..") => Cwd::Start,
            _ => Cwd::Unknown,
        }
    }

    /// One variable set to `value` (however it was set). `for_read`: a prefix assignment of
    /// `read`, where `IFS` only splits the line read.
    pub(super) fn set_variable(
        &mut self,
        subject: &str,
        name: &str,
        value: &str,
        literal: bool,
        for_read: bool,
    ) {
        if environment::startup_reads_stdin(name, value) {
            self.startup_reads_stdin = true;
        }
        match environment::setting(name, value, literal, for_read) {
            Setting::Harmless => {}
            Setting::Dangerous(why) => self.note(subject, why, Tier::Stateful),
            Setting::Code(code) if code.trim().is_empty() => {}
            Setting::Code(code) => {
                self.note(
                    subject,
                    format!("sets {name}, a command later commands run (judged as that command)"),
                    Tier::ReadOnly,
                );
                self.shell_body(&code, true, subject);
            }
        }
        if literal && evaluated_code(value) {
            self.evaluated(subject, value);
        }
    }

    /// A variable set by name only (its value comes at run time: `read NAME`).
    fn set_by_name(&mut self, subject: &str, name: &str, how: &str) {
        if evaluated_code(name) {
            self.evaluated(subject, name);
        }
        let bare = name.split('[').next().unwrap_or(name);
        let plain = !bare.is_empty()
            && !bare.starts_with(|c: char| c.is_ascii_digit())
            && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            self.note(
                subject,
                format!("{how} sets a variable whose name is computed at run time"),
                Tier::Stateful,
            );
            return;
        }
        if let Some(why) = environment::dangerous(bare) {
            self.note(subject, format!("{how} {why}"), Tier::Stateful);
        }
    }

    /// Classify the code bash would run when it evaluates `text` as arithmetic or a subscript.
    fn evaluated(&mut self, subject: &str, text: &str) {
        self.note(
            subject,
            "a subscript or arithmetic expression bash evaluates runs its $(…)",
            Tier::ReadOnly,
        );
        self.shell_body(&format!(": {text}"), true, subject);
    }

    /// Builtins that set variables by name or evaluate words: `read`, `printf -v`, `mapfile`,
    /// `getopts`, `declare -n`, and the arithmetic/subscript evaluation of their words.
    pub(super) fn variable_builtins(&mut self, cmd: &str, args: &[Word], subject: &str) {
        if EVALUATES.contains(&cmd) {
            for w in args.iter().filter(|w| w.literal && evaluated_code(&w.text)) {
                let text = w.text.clone();
                self.evaluated(subject, &text);
            }
        }
        let option_value = |flag: &str| {
            args.windows(2)
                .find(|p| p[0].text == flag)
                .map(|p| p[1].text.clone())
        };
        match cmd {
            "read" => {
                let values = ["-a", "-d", "-i", "-n", "-N", "-p", "-t", "-u"];
                let mut i = 0;
                while i < args.len() {
                    let t = args[i].text.as_str();
                    if t == "-a" {
                        if let Some(w) = args.get(i + 1) {
                            let name = w.text.clone();
                            self.set_by_name(subject, &name, "read");
                        }
                        i += 2;
                    } else if values.contains(&t) {
                        i += 2;
                    } else if t.starts_with('-') && t.len() > 1 {
                        i += 1;
                    } else {
                        let name = t.to_string();
                        self.set_by_name(subject, &name, "read");
                        i += 1;
                    }
                }
            }
            "printf" => {
                if let Some(name) = option_value("-v") {
                    self.set_by_name(subject, &name, "printf -v");
                }
            }
            "mapfile" | "readarray" => {
                if let Some(code) = option_value("-C") {
                    self.note(subject, format!("{cmd} -C runs a callback"), Tier::ReadOnly);
                    self.shell_body(&code, args.iter().all(|w| w.literal), subject);
                }
                let values = ["-d", "-n", "-O", "-s", "-u", "-C", "-c"];
                let mut i = 0;
                while i < args.len() {
                    let t = args[i].text.as_str();
                    if values.contains(&t) {
                        i += 2;
                    } else if t.starts_with('-') {
                        i += 1;
                    } else {
                        let name = t.to_string();
                        self.set_by_name(subject, &name, cmd);
                        i += 1;
                    }
                }
            }
            "getopts" => {
                if let Some(w) = args.get(1) {
                    let name = w.text.clone();
                    self.set_by_name(subject, &name, "getopts");
                }
            }
            "declare" | "typeset" | "local" | "readonly" | "export" => {
                let nameref = args
                    .iter()
                    .any(|w| w.text.starts_with('-') && w.text.contains('n'));
                if nameref {
                    for w in args.iter().filter(|w| !w.text.starts_with('-')) {
                        let target = w.text.split_once('=').map(|(_, t)| t.to_string());
                        match target {
                            Some(_) if !w.literal => self.note(
                                subject,
                                format!(
                                    "{cmd} -n makes a name refer to a variable computed at run time"
                                ),
                                Tier::Stateful,
                            ),
                            Some(t) => self.set_by_name(subject, &t, &format!("{cmd} -n")),
                            None => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// `declare`/`typeset`/`local`/`export`/`readonly`/`unset` statements: a builtin that sets
    /// or lists variables; its assignments are visited as assignments, and names set by
    /// reference (`declare -n ref=PATH`) or evaluated as subscripts are judged.
    pub(super) fn declaration(&mut self, node: Node, stdin: &Stdin, nd: usize) {
        self.commands += 1;
        let keyword = node
            .child(0)
            .map(|c| self.text(c).to_string())
            .unwrap_or_default();
        let mut args: Vec<Word> = Vec::new();
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            if child.kind() == "variable_name" {
                let span = (child.start_byte(), child.end_byte());
                args.push(Word::synthetic(self.text(child), span));
                continue;
            }
            let mut w = crate::policy::classify::words::resolve(child, self.src);
            if child.kind() == "variable_assignment" {
                // `name=value` as the builtin sees it.
                w.literal = child
                    .child_by_field_name("value")
                    .is_none_or(|v| crate::policy::classify::words::resolve(v, self.src).literal);
            }
            args.push(w);
        }
        let subject = self.text(node).to_string();
        self.note(
            &subject,
            format!("{keyword} sets or lists shell variables"),
            Tier::ReadOnly,
        );
        if let Some(k) = node.child(0) {
            self.mark((k.start_byte(), k.end_byte()), true);
        }
        for w in args.iter().filter(|w| !w.text.contains('=')) {
            self.mark(w.span, true);
        }
        // `export $(cat .env)`, `declare "$n=$v"`: names chosen at run time (PATH among them).
        if keyword != "unset" && args.iter().any(|w| !w.literal && !w.text.starts_with('-')) {
            let computed = node.named_children(&mut node.walk()).any(|c| {
                !matches!(c.kind(), "variable_assignment" | "variable_name")
                    && !crate::policy::classify::words::resolve(c, self.src).literal
            });
            if computed {
                self.note(
                    &subject,
                    format!("{keyword} sets variables whose names are computed at run time"),
                    Tier::Stateful,
                );
            }
        }
        self.variable_builtins(&keyword, &args, &subject);
        self.visit_children(node, stdin, nd);
    }

    /// `${NAME:=value}` / `${NAME=value}` assign when NAME is unset or empty.
    pub(super) fn expansion_assignment(&mut self, node: Node) {
        let text = self.text(node);
        let Some(inner) = text.strip_prefix("${") else {
            return;
        };
        let name_len = inner
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let rest = &inner[name_len..];
        if name_len > 0 && (rest.starts_with(":=") || rest.starts_with('=')) {
            let name = inner[..name_len].to_string();
            let subject = text.to_string();
            self.set_by_name(&subject, &name, "${NAME:=…}");
        }
    }

    /// `for NAME in …`, `select NAME in …`.
    pub(super) fn loop_variable(&mut self, node: Node) {
        if let Some(var) = node.child_by_field_name("variable") {
            let name = self.text(var).to_string();
            self.set_by_name(&name.clone(), &name, "the loop");
        }
    }

    /// `[[ … ]]`: its string operands are evaluated as arithmetic by `-eq` and friends.
    pub(super) fn test_strings(&mut self, node: Node) {
        let mut cursor = node.walk();
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if matches!(n.kind(), "raw_string" | "string") {
                let text = self.text(n);
                if evaluated_code(text) {
                    let inner = text.trim_matches(['\'', '"']).to_string();
                    let subject = text.to_string();
                    self.evaluated(&subject, &inner);
                }
                continue;
            }
            for child in n.children(&mut cursor) {
                stack.push(child);
            }
        }
    }
}
