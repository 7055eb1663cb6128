//! One simple command: resolve its words, look it up in the knowledge table, follow what it
//! runs (wrapped commands, shell bodies, code on standard input) and mark proven data.

use tree_sitter::Node;

use super::{MAX_HOPS, RESERVED_WORDS, Stdin, Visitor, classify_within, fields};
use crate::policy::Tier;
use crate::policy::classify::environment;
use crate::policy::classify::knowledge::{self, Inner, StdinCode};
use crate::policy::classify::words::{self, Word};

impl Visitor<'_> {
    pub(super) fn command(&mut self, node: Node, mut stdin: Stdin, nd: usize) {
        self.commands += 1;
        let mut name = None;
        let mut args = Vec::new();
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
                (_, "variable_assignment") => self.assignment(child, nd),
                _ => {}
            }
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
        if cmd == "cd" && hops == 0 {
            self.cwd = match args.first() {
                Some(w) if w.literal && w.text.starts_with('/') => Some(w.text.clone()),
                _ => None,
            };
        }
        if matches!(
            cmd,
            "env" | "sudo" | "export" | "declare" | "typeset" | "local" | "readonly"
        ) {
            for w in args.iter().filter(|w| knowledge::is_assignment(&w.text)) {
                let (var_name, value) = w.text.split_once('=').unwrap_or_default();
                if let Some(why) = environment::dangerous(var_name) {
                    self.note(&w.text, why, Tier::Stateful);
                }
                if w.literal {
                    self.remember(var_name.to_string(), value.to_string());
                }
            }
        }
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
        if j.stdin_code == StdinCode::Shell
            && matches!(stdin, Stdin::Doc { .. })
            && j.tier == Tier::Stateful
            && knowledge::is_posix_shell(cmd)
        {
            j.tier = Tier::ReadOnly;
            j.rule = format!("{cmd} runs the here-document as shell code");
        }
        self.note(&subject, j.rule.clone(), j.tier);
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
                        self.judge(&args[*start..*end], None, stdin, hops + 1, *partial);
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
                    self.shell_body(&text, literal, &subject);
                }
                Inner::ShellText { index, text } => {
                    let literal = args.get(*index).is_none_or(|w| w.literal);
                    self.shell_body(text, literal, &subject);
                }
            }
        }
        // A wrapper's standard input belongs to the command it runs (judged above).
        let wraps = j.inner.iter().any(|i| matches!(i, Inner::Argv { .. }));
        match (j.stdin_code, stdin) {
            // Input to a known reader is data; an unknown program may run it.
            (StdinCode::No, Stdin::Doc { span, .. }) if j.known && !wraps => self.mark(*span, true),
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
            (StdinCode::Shell, Stdin::File) => self.note(
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
            (StdinCode::Other, Stdin::Doc { .. } | Stdin::File) => self.note(
                &subject,
                "an interpreter reads code from its input",
                Tier::Stateful,
            ),
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
            _ => {}
        }
    }

    /// Classify shell code carried in an argument or a here-document.
    pub(super) fn shell_body(&mut self, text: &str, literal: bool, subject: &str) {
        if !literal {
            self.note(
                subject,
                "shell code built from non-literal text",
                Tier::Stateful,
            );
        }
        let inner = classify_within(text, self.depth + 1, false, self.shared);
        self.reasons.extend(inner.reasons);
    }
}
