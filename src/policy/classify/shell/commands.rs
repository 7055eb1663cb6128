//! One simple command: resolve its words, look it up in the knowledge table, follow what it
//! runs (wrapped commands, shell bodies, code on standard input) and mark proven data.

use tree_sitter::Node;

use super::{Input, MAX_HOPS, RESERVED_WORDS, Stdin, Visitor, classify_within, fields};
use crate::policy::Tier;
use crate::policy::classify::knowledge::{self, Inner, StdinCode};
use crate::policy::classify::paths;
use crate::policy::classify::words::{self, Word};

impl Visitor<'_> {
    pub(super) fn command(&mut self, node: Node, mut stdin: Stdin, nd: usize) {
        self.commands += 1;
        let mut name = None;
        let mut args = Vec::new();
        let mut prefix = Vec::new();
        for (field, child) in fields(node) {
            match (field, child.kind()) {
                (Some("name"), _) => name = Some(child),
                (Some("argument"), _) => args.push(child),
                (_, "file_redirect") => {
                    let mut extras = Vec::new();
                    if let Some(s) = self.file_redirect_with_extras(child, nd, &mut extras) {
                        stdin = s;
                    }
                    if name.is_none() {
                        // `> out cmd args`: the first extra word is the command.
                        let mut rest = extras.into_iter();
                        name = rest.next();
                        args.extend(rest);
                    } else {
                        args.extend(extras);
                    }
                }
                (_, "herestring_redirect") => stdin = self.herestring(child, nd),
                (_, "heredoc_redirect") => stdin = self.heredoc(child, nd),
                (_, "variable_assignment") => prefix.push(child),
                _ => {}
            }
        }
        // Prefix assignments apply to the command (`IFS= read -r line` only splits a line).
        let reads = name.is_some_and(|n| {
            let w = words::resolve(n, self.src);
            w.literal && matches!(w.text.as_str(), "read" | "mapfile" | "readarray")
        });
        for a in prefix {
            self.assignment(a, nd, reads);
        }
        // Code nested in the words (`$(…)`, backticks, `<(…)`) runs too.
        if let Some(n) = name {
            self.visit(n, &Stdin::Inherited, nd + 1);
        }
        for a in &args {
            self.visit(*a, &Stdin::Inherited, nd + 1);
        }
        let Some(name_node) = name else {
            return;
        };
        let mut argv = vec![words::resolve(name_node, self.src)];
        argv.extend(args.iter().map(|a| words::resolve(*a, self.src)));
        for w in &argv {
            if self.backquotes > 0 && w.text.contains('`') && w.literal {
                // An escaped backquote inside a backquote substitution is a nested substitution.
                self.note(&w.text, "nested backquote substitution", Tier::Stateful);
                self.shell_body(&w.text.replace('`', " "), true, &w.text.clone());
            }
        }
        let var = words::sole_variable(name_node, self.src);
        self.judge(&argv, var, &stdin, 0, false);
    }

    pub(super) fn judge(
        &mut self,
        argv: &[Word],
        var: Option<String>,
        stdin: &Stdin,
        hops: usize,
        partial: bool,
    ) {
        let Some(name) = argv.first() else {
            return;
        };
        // In code nested in a command that does not read the call's input, an input that is
        // not redirected is that command's: a document the classifier has, or a pipe or file
        // it does not follow.
        let nested;
        let stdin = match (stdin, &self.input) {
            (Stdin::Inherited, Input::Known { text, literal }) => {
                nested = Stdin::Doc {
                    text: text.clone(),
                    span: (0, 0),
                    literal: *literal,
                };
                &nested
            }
            (Stdin::Inherited, Input::Unknown) => &Stdin::Outer,
            (other, _) => other,
        };
        let subject = argv
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        if hops > MAX_HOPS {
            self.note(
                &subject,
                "too many nested wrappers to follow",
                Tier::Stateful,
            );
            return;
        }
        if !name.literal {
            if let Some(values) = var.and_then(|v| self.vars.get(&v).cloned()) {
                for value in values {
                    self.note(
                        &subject,
                        format!("command word comes from a variable (may be `{value}`)"),
                        Tier::Stateful,
                    );
                    let mut resolved: Vec<Word> = value
                        .split_whitespace()
                        .map(|t| Word::synthetic(t, name.span))
                        .collect();
                    if !resolved.is_empty() {
                        resolved.extend(argv[1..].iter().cloned());
                        self.judge(&resolved, None, stdin, hops + 1, partial);
                    }
                }
                return;
            }
            self.note(
                &subject,
                "command word is not a literal (variable, substitution or glob)",
                Tier::Stateful,
            );
            return;
        }
        let cmd = words::command_basename(&name.text);
        if cmd.is_empty() {
            self.note(&subject, "empty command word", Tier::Stateful);
            return;
        }
        if RESERVED_WORDS.contains(&cmd) {
            // Only reachable through a wrapper (`sudo if …`) or error recovery: the real
            // program fails, but judge the words as the shell text they look like.
            self.note(
                &subject,
                "shell reserved word where a command is expected",
                Tier::Reversible,
            );
            self.shell_body(&subject, argv.iter().all(|w| w.literal), &subject);
            return;
        }
        if self.defined.contains(cmd) {
            self.note(
                &subject,
                "calls a function or alias defined in the same text",
                Tier::Stateful,
            );
            return;
        }
        let args = &argv[1..];
        if matches!(cmd, "cd" | "pushd" | "popd") {
            self.change_dir(cmd, args);
        }
        if matches!(
            cmd,
            "env" | "sudo" | "doas" | "export" | "declare" | "typeset" | "local" | "readonly"
        ) {
            for w in args.iter().filter(|w| knowledge::is_assignment(&w.text)) {
                let (var_name, value) = w.text.split_once('=').unwrap_or_default();
                let text = w.text.clone();
                self.set_variable(&text, var_name, value, w.literal, false);
                if w.literal {
                    self.remember(var_name.to_string(), value.to_string());
                }
            }
        }
        self.variable_builtins(cmd, args, &subject);
        let mut j = knowledge::judge(cmd, args);
        if partial
            && j.tier == Tier::ReadOnly
            && j.inner.is_empty()
            && !knowledge::flag_insensitive_reader(cmd)
        {
            j.tier = Tier::Reversible;
            j.rule
                .push_str(" (behind xargs: more arguments arrive at run time)");
        }
        if self.interactive
            && hops == 0
            && matches!(stdin, Stdin::Inherited)
            && j.stdin_code != StdinCode::No
            && j.tier == Tier::Stateful
            && j.inner.is_empty()
            && !matches!(
                cmd,
                "sudo" | "doas" | "pkexec" | "su" | "runuser" | "chroot"
            )
        {
            j.tier = Tier::Reversible;
            j.rule = format!(
                "{cmd} starts interactively on the session terminal (its input is classified as it is sent)"
            );
            j.stdin_code = StdinCode::No;
        }
        // A shell reading a text the classifier has (a here-document, or the call's own
        // standard input) takes the tier of that text, judged below.
        let known_input = match stdin {
            Stdin::Doc { .. } => Some("the here-document"),
            Stdin::Inherited if self.shared.stdin.is_some() => Some("the call's standard input"),
            _ => None,
        };
        if j.stdin_code == StdinCode::Shell
            && j.tier == Tier::Stateful
            && knowledge::is_posix_shell(cmd)
            && let Some(input) = known_input
        {
            j.tier = Tier::ReadOnly;
            j.rule = format!("{cmd} runs {input} as shell code");
        }
        if j.stdin_code == StdinCode::No
            && self.startup_reads_stdin
            && knowledge::is_posix_shell(cmd)
        {
            // BASH_ENV/ENV set to standard input: the shell runs its input at start-up.
            j.stdin_code = StdinCode::Shell;
        }
        self.note(&subject, j.rule.clone(), j.tier);
        for dest in std::mem::take(&mut j.writes) {
            if let Some((tier, why)) = paths::judge(&dest, &self.cwd) {
                let shown = format!("{subject} → {}", dest.path);
                self.note(&shown, format!("{cmd} {why}"), tier);
            }
        }
        if let Stdin::File { path, literal } = stdin
            && (!literal || paths::secret(path))
            && (!j.known || j.sends_stdin || j.stdin_code != StdinCode::No)
        {
            self.note(
                &subject,
                format!("{cmd} is fed a secret (or computed) file on its standard input"),
                Tier::Stateful,
            );
        }
        if j.sends_stdin
            && matches!(
                stdin,
                Stdin::File { .. } | Stdin::Pipe | Stdin::Doc { .. } | Stdin::Outer
            )
        {
            self.note(
                &subject,
                format!(
                    "{cmd} sends its standard input (a file, pipe or document) over the network"
                ),
                Tier::Stateful,
            );
        }
        if j.code_from_substitution {
            self.code_from_pipe = true;
        }
        if j.known {
            self.mark(name.span, true);
            for (i, w) in args.iter().enumerate() {
                let wrapped = j.inner.iter().any(|inner| matches!(inner, Inner::Argv { start, end, .. } if (*start..*end).contains(&i)));
                if !wrapped && !j.opaque_args.contains(&i) {
                    self.mark(w.span, true);
                }
            }
        }
        for inner in &j.inner {
            match inner {
                Inner::Argv {
                    start,
                    end,
                    partial,
                } => {
                    if start < end && *end <= args.len() {
                        // `env -C DIR cmd`, `sudo -D DIR cmd`: the command runs there.
                        let outer = j.chdir.as_ref().map(|(dir, literal)| {
                            let w = Word {
                                text: dir.clone(),
                                literal: *literal,
                                span: (0, 0),
                                may_be_option: false,
                                glob_only: false,
                            };
                            let moved = self.dir_for(&w);
                            std::mem::replace(&mut self.cwd, moved)
                        });
                        self.judge(&args[*start..*end], None, stdin, hops + 1, *partial);
                        if let Some(cwd) = outer {
                            self.cwd = cwd;
                        }
                    }
                }
                Inner::ShellJoin { start, end } => {
                    let part = args.get(*start..*end).unwrap_or(&[]);
                    let text = part
                        .iter()
                        .map(|w| w.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ");
                    let literal = part.iter().all(|w| w.literal);
                    self.shell_body_reading(&text, literal, &subject, stdin);
                    self.known_code(part, &subject);
                }
                Inner::ShellText { index, text } => {
                    let literal = args.get(*index).is_none_or(|w| w.literal);
                    self.shell_body_reading(text, literal, &subject, stdin);
                    if let Some(w) = args.get(*index) {
                        self.known_code(std::slice::from_ref(w), &subject);
                    }
                }
            }
        }
        let wraps = j.inner.iter().any(|i| matches!(i, Inner::Argv { .. }));
        match (j.stdin_code, stdin) {
            // Input to a known reader is data; an unknown program may run it. A wrapper's
            // standard input belongs to the command it runs (judged above); shell code the
            // command runs (`sh -c 'sh' <<EOF`) was judged reading it. A document sent over
            // the network is input for the other end (maybe code).
            (StdinCode::No, Stdin::Doc { span, .. }) if j.known && !wraps && !j.sends_stdin => {
                self.mark(*span, true)
            }
            (
                StdinCode::Shell,
                Stdin::Doc {
                    text,
                    span,
                    literal,
                },
            ) => {
                let (text, span, literal) = (text.clone(), *span, *literal);
                self.shell_body(&text, literal, &subject);
                self.mark(span, true);
            }
            (StdinCode::Shell, Stdin::Pipe) => {
                self.code_from_pipe = true;
                self.note(
                    &subject,
                    "a shell reads commands from a pipe",
                    Tier::Stateful,
                )
            }
            (StdinCode::Shell, Stdin::File { .. }) => self.note(
                &subject,
                "a shell reads commands from a file",
                Tier::Stateful,
            ),
            (StdinCode::Other, Stdin::Pipe) => {
                self.code_from_pipe = true;
                self.note(
                    &subject,
                    "an interpreter reads code from a pipe",
                    Tier::Stateful,
                )
            }
            (StdinCode::Other, Stdin::Doc { .. } | Stdin::File { .. }) => self.note(
                &subject,
                "an interpreter reads code from its input",
                Tier::Stateful,
            ),
            (
                StdinCode::Awk | StdinCode::Sed | StdinCode::Cron,
                Stdin::Doc {
                    text,
                    span,
                    literal,
                },
            ) => {
                let (text, span, literal) = (text.clone(), *span, *literal);
                self.program_on_stdin(j.stdin_code, &text, literal, &subject);
                self.mark(span, true);
            }
            (StdinCode::Awk | StdinCode::Sed | StdinCode::Cron, Stdin::Pipe) => {
                self.code_from_pipe = true;
                self.note(&subject, "a program is read from a pipe", Tier::Stateful)
            }
            (StdinCode::Awk | StdinCode::Sed | StdinCode::Cron, Stdin::File { .. }) => {
                self.note(&subject, "a program is read from a file", Tier::Stateful)
            }
            // The caller's standard input reaches every command that does not redirect its
            // own: data for a reader, code for a shell or an interpreter.
            (StdinCode::Shell, Stdin::Inherited) if self.shared.stdin.is_some() => {
                let text = self.shared.stdin.unwrap_or_default();
                self.shell_body(text, true, &subject);
            }
            (StdinCode::Other, Stdin::Inherited) if self.shared.stdin.is_some() => self.note(
                &subject,
                "an interpreter reads code from the call's standard input",
                Tier::Stateful,
            ),
            (StdinCode::Awk | StdinCode::Sed | StdinCode::Cron, Stdin::Inherited)
                if self.shared.stdin.is_some() =>
            {
                let text = self.shared.stdin.unwrap_or_default();
                self.program_on_stdin(j.stdin_code, text, true, &subject);
            }
            // Nested code reading the pipe or file of the command that runs it: not followed.
            (StdinCode::Shell, Stdin::Outer) => self.note(
                &subject,
                "a shell reads commands from the input of the command that runs it",
                Tier::Stateful,
            ),
            (StdinCode::Other, Stdin::Outer) => self.note(
                &subject,
                "an interpreter reads code from the input of the command that runs it",
                Tier::Stateful,
            ),
            (StdinCode::Awk | StdinCode::Sed | StdinCode::Cron, Stdin::Outer) => self.note(
                &subject,
                "a program is read from the input of the command that runs it",
                Tier::Stateful,
            ),
            _ => {}
        }
    }

    /// Shell code built from a variable whose literal values the text assigned
    /// (`C='rm -rf /'; eval "$C"`): each value is classified as the code it becomes.
    fn known_code(&mut self, part: &[Word], subject: &str) {
        let mut variable = None;
        for (i, w) in part.iter().enumerate() {
            if w.literal {
                continue;
            }
            let name = w
                .text
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .or_else(|| w.text.strip_prefix('$'))
                .filter(|n| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
            match (name, variable) {
                (Some(n), None) => variable = Some((i, n.to_string())),
                _ => return,
            }
        }
        let Some((at, name)) = variable else {
            return;
        };
        let Some(values) = self.vars.get(&name).cloned() else {
            return;
        };
        for value in values {
            let text = part
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    if i == at {
                        value.as_str()
                    } else {
                        w.text.as_str()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            self.shell_body(&text, true, subject);
        }
    }

    /// A program given on standard input: an awk program, a sed script or a crontab.
    fn program_on_stdin(&mut self, code: StdinCode, text: &str, literal: bool, subject: &str) {
        if !literal {
            self.note(
                subject,
                "a program built from non-literal text",
                Tier::Stateful,
            );
            return;
        }
        let effects = match code {
            StdinCode::Awk => knowledge::awk_program(text),
            StdinCode::Sed => knowledge::sed_script(text),
            _ => {
                for command in crontab_commands(text) {
                    self.shell_body(&command, true, subject);
                }
                return;
            }
        };
        for effect in effects {
            match effect {
                knowledge::Effect::Writes(Some(file)) => {
                    let dest = paths::Dest::write(&file, true);
                    if let Some((tier, why)) = paths::judge(&dest, &self.cwd) {
                        self.note(subject, format!("the program {why}"), tier);
                    }
                }
                knowledge::Effect::Writes(None) => self.note(
                    subject,
                    "the program writes a computed path",
                    Tier::Stateful,
                ),
                knowledge::Effect::Runs(command) => {
                    self.note(subject, "the program runs commands", Tier::Stateful);
                    if let Some(command) = command {
                        self.shell_body(&command, true, subject);
                    }
                }
                knowledge::Effect::Loads => {
                    self.note(subject, "the program loads code", Tier::Stateful)
                }
            }
        }
    }

    /// Classify shell code carried in an argument or a here-document. What its commands read
    /// is not followed ([`Input::Unknown`]): that only fails closed.
    pub(super) fn shell_body(&mut self, text: &str, literal: bool, subject: &str) {
        self.shell_body_reading(text, literal, subject, &Stdin::Outer);
    }

    /// [`Self::shell_body`] for code run by a command whose input is `stdin`: the commands in
    /// `text` read it too (the call's input, a document, or something not followed).
    fn shell_body_reading(&mut self, text: &str, literal: bool, subject: &str, stdin: &Stdin) {
        if !literal {
            self.note(
                subject,
                "shell code built from non-literal text",
                Tier::Stateful,
            );
        }
        let input = match stdin {
            Stdin::Inherited => Input::Call,
            Stdin::Doc { text, literal, .. } => Input::Known {
                text: text.clone(),
                literal: *literal,
            },
            Stdin::Outer | Stdin::Pipe | Stdin::File { .. } => Input::Unknown,
        };
        let inner = classify_within(text, self.depth + 1, false, self.shared, &self.cwd, &input);
        self.reasons.extend(inner.reasons);
    }
}

/// The commands of a crontab: each line after its five time fields (or an `@` keyword), up
/// to the first unescaped `%` (the rest is the command's input). `NAME=value` lines set the
/// jobs' environment and are returned as the assignment they are.
fn crontab_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = if line.starts_with('@') { 1 } else { 5 };
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('=') && !first.starts_with('@') {
            out.push(line.to_string());
            continue;
        }
        let mut rest = line;
        for _ in 0..fields {
            rest = rest.trim_start();
            rest = rest.find(char::is_whitespace).map_or("", |i| &rest[i..]);
        }
        let mut command = String::new();
        let mut chars = rest.trim().chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        command.push(n);
                    }
                }
                '%' => break,
                c => command.push(c),
            }
        }
        out.push(command);
    }
    out
}
