//! Parse shell text with tree-sitter-bash and classify every simple command that would run:
//! pipelines, lists, subshells, groups, control flow, functions, `$(…)`, backticks, `<(…)`,
//! heredocs fed to an interpreter, and the code handed to `sh -c`, `eval`, `ssh host …`,
//! `su -c` (parsed in turn, to a bounded depth). Whatever cannot be resolved fails closed.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use std::time::{Duration, Instant};

use tree_sitter::{Node, ParseOptions, ParseState, Parser};

use super::knowledge::{self, Inner, StdinCode};
use super::words::{self, Word};
use super::{environment, floor, paths};
use crate::policy::{Reason, Tier};

/// Text longer than this is not parsed (tree-sitter's error recovery can be slow on huge
/// pathological input): it is classified as unparseable — tier ≥ 2 plus the raw-text floor.
pub const MAX_PARSE_BYTES: usize = 64 * 1024;
/// Syntax nesting deeper than this is not followed: fail closed.
pub const MAX_NODE_DEPTH: usize = 256;
/// Shell code inside shell code (`bash -c "bash -c '…'"`) is parsed this many levels deep.
pub const MAX_BODY_DEPTH: usize = 6;
/// Wrappers around wrappers (`sudo env nice timeout 5 …`) are followed this many hops.
const MAX_HOPS: usize = 24;
/// Words bash parses as syntax, not commands.
const RESERVED_WORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "in", "function", "{", "}", "[[", "]]", "coproc",
];
/// Literal values remembered per variable.
const MAX_CANDIDATES: usize = 8;
/// Subjects in reasons are cut to this many characters.
const SUBJECT_CHARS: usize = 120;

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Text with more `|`, `<` and `(` bytes than this is not parsed: tree-sitter-bash's cost on
/// long pipelines and stacked here-documents grows faster than linearly, and its progress
/// checks are too sparse there for [`PARSE_BUDGET`] alone to bound it.
pub const MAX_OPERATORS: usize = 256;

/// Parsing of one classification (the text and every body nested in it) stops after this
/// long in total. tree-sitter-bash is super-linear on some pathological
/// shapes (thousands of pipeline stages, unterminated arrays, stacked here-documents): a text
/// that exhausts the budget is classified as unparseable (tier ≥ 2 plus the raw-text floor).
/// Real commands parse in microseconds, far below it.
pub const PARSE_BUDGET: Duration = Duration::from_millis(25);

fn parse(text: &str, deadline: Instant) -> Option<tree_sitter::Tree> {
    PARSER.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            let mut p = Parser::new();
            p.set_language(&tree_sitter_bash::LANGUAGE.into()).ok()?;
            *slot = Some(p);
        }
        let parser = slot.as_mut()?;
        let mut over_budget = |_: &ParseState| Instant::now() > deadline;
        let options = ParseOptions::new().progress_callback(&mut over_budget);
        let bytes = text.as_bytes();
        let tree = parser.parse_with_options(
            &mut |i, _| bytes.get(i..).unwrap_or_default(),
            None,
            Some(options),
        );
        if tree.is_none() {
            // A cancelled parse leaves state behind for resumption; this text is done with.
            parser.reset();
        }
        tree
    })
}

/// The verdict on one piece of shell text.
#[derive(Debug, Default)]
pub(crate) struct ShellVerdict {
    /// Every finding.
    pub reasons: Vec<Reason>,
    /// Simple commands found (0 = nothing that runs was proven).
    pub commands: usize,
}

/// A node's children with their field names, in one linear pass (`field_name_for_child` is
/// linear per call, which would make long argument lists quadratic).
fn fields(node: Node) -> Vec<(Option<&'static str>, Node)> {
    let mut out = Vec::with_capacity(node.child_count());
    let mut cursor = node.walk();
    if cursor.goto_first_child() {
        loop {
            out.push((cursor.field_name(), cursor.node()));
            if !cursor.goto_next_sibling() {
                break;
            }
        }
    }
    out
}

fn reason(subject: &str, rule: impl Into<String>, tier: Tier) -> Reason {
    Reason {
        subject: subject.chars().take(SUBJECT_CHARS).collect(),
        rule: rule.into(),
        tier,
    }
}

/// Classify shell `text` at body `depth` (0 = the text the caller gave).
pub(crate) fn classify_shell(text: &str, depth: usize, interactive: bool) -> ShellVerdict {
    classify_within(text, depth, interactive, Instant::now() + PARSE_BUDGET)
}

/// [`classify_shell`] sharing one parse deadline with the text it is nested in.
fn classify_within(text: &str, depth: usize, interactive: bool, deadline: Instant) -> ShellVerdict {
    let unparseable = |why: &str| {
        let mut v = ShellVerdict::default();
        v.reasons.push(reason(text, why, Tier::Stateful));
        add_floor(&mut v, text, None);
        v
    };
    if depth > MAX_BODY_DEPTH {
        return unparseable("shell code nested too deeply to follow");
    }
    if text.len() > MAX_PARSE_BYTES {
        return unparseable("text too long to parse; classified from the raw text");
    }
    if text
        .bytes()
        .filter(|b| matches!(b, b'|' | b'<' | b'('))
        .count()
        > MAX_OPERATORS
    {
        return unparseable(
            "too many pipes, redirections or parentheses to parse; classified from the raw text",
        );
    }
    if text.contains('\0') {
        // A shell cannot receive a NUL inside a command string; the parser would stop there.
        return unparseable("text contains a NUL byte");
    }
    let Some(tree) = parse(text, deadline) else {
        return unparseable("text could not be parsed within the parse budget");
    };
    let mut v = Visitor {
        src: text,
        depth,
        reasons: Vec::new(),
        marks: Vec::new(),
        commands: 0,
        unparsed: false,
        level: 0,
        backquotes: 0,
        deadline,
        vars: HashMap::new(),
        defined: HashSet::new(),
        cwd: None,
        code_from_pipe: false,
        interactive: interactive && depth == 0,
    };
    v.unparsed = tree.root_node().has_error();
    v.visit(tree.root_node(), &Stdin::Inherited, 0);
    let mut verdict = ShellVerdict {
        reasons: std::mem::take(&mut v.reasons),
        commands: v.commands,
    };
    if depth > 0 && verdict.commands == 0 {
        // As at the top level: text that runs nothing is not proven read-only.
        verdict
            .reasons
            .push(reason(text, "shell code with no command", Tier::Reversible));
    }
    if v.unparsed || v.code_from_pipe {
        if v.unparsed {
            verdict.reasons.push(reason(
                text,
                "text does not parse as shell; classified from the raw text",
                Tier::Stateful,
            ));
        }
        add_floor(&mut verdict, text, None);
    } else {
        let inert = v.inert_map();
        add_floor(&mut verdict, text, Some(&inert));
    }
    verdict
}

/// Apply the raw-text floor; `inert` (a byte map) exempts proven data.
fn add_floor(v: &mut ShellVerdict, text: &str, inert: Option<&[bool]>) {
    let bytes = text.as_bytes();
    let test = |start: usize, end: usize| match inert {
        None => false,
        Some(map) => (start..end)
            .all(|i| map.get(i).copied().unwrap_or(false) || bytes[i].is_ascii_whitespace()),
    };
    for hit in floor::scan(text, &test) {
        v.reasons.push(reason(
            &hit.matched,
            format!("raw-text rule: {}", hit.rule),
            hit.tier,
        ));
    }
}

/// Where a command's standard input comes from.
#[derive(Clone, Debug)]
enum Stdin {
    Inherited,
    Pipe,
    File,
    Doc {
        text: String,
        span: (usize, usize),
        literal: bool,
    },
}

/// A span marked inert (`true`) or executed code (`false`) at a substitution nesting level.
struct Mark {
    level: usize,
    start: usize,
    end: usize,
    inert: bool,
}

struct Visitor<'t> {
    src: &'t str,
    depth: usize,
    reasons: Vec<Reason>,
    marks: Vec<Mark>,
    commands: usize,
    unparsed: bool,
    /// Current command/process substitution nesting.
    level: usize,
    /// Backquote substitutions enclosing the current node.
    backquotes: usize,
    /// When parsing must stop (shared with nested bodies).
    deadline: Instant,
    /// Literal values assigned to each variable earlier in the text (`S=sudo; $S id`),
    /// including `NAME=value` words handed to `env`/`sudo`: every candidate is judged.
    vars: HashMap<String, Vec<String>>,
    /// Functions and aliases defined in the text.
    defined: HashSet<String>,
    /// Working directory established by a literal `cd /abs`.
    cwd: Option<String>,
    /// Some interpreter reads code from a pipe: data anywhere in the text may become code,
    /// so nothing is exempt from the raw-text floor.
    code_from_pipe: bool,
    /// The caller's standard input is a terminal the user types into (a spawned session):
    /// an interpreter reading it is not hidden code.
    interactive: bool,
}

impl<'t> Visitor<'t> {
    fn note(&mut self, subject: &str, rule: impl Into<String>, tier: Tier) {
        self.reasons.push(reason(subject, rule, tier));
    }

    fn mark(&mut self, span: (usize, usize), inert: bool) {
        self.marks.push(Mark {
            level: self.level,
            start: span.0,
            end: span.1,
            inert,
        });
    }

    /// Byte map of inert data: marks applied outermost level first, in the order made.
    fn inert_map(&mut self) -> Vec<bool> {
        let mut map = vec![false; self.src.len()];
        self.marks.sort_by_key(|m| m.level);
        for m in &self.marks {
            let end = m.end.min(map.len());
            if m.start < end {
                map[m.start..end].fill(m.inert);
            }
        }
        map
    }

    fn text(&self, node: Node) -> &'t str {
        self.src.get(node.byte_range()).unwrap_or("")
    }

    fn visit(&mut self, node: Node, stdin: &Stdin, nd: usize) {
        if nd > MAX_NODE_DEPTH {
            if !self.unparsed {
                self.note(
                    self.text(node),
                    "syntax nested too deeply to follow",
                    Tier::Stateful,
                );
            }
            self.unparsed = true;
            return;
        }
        if node.is_error() || node.is_missing() {
            self.unparsed = true;
        }
        match node.kind() {
            "comment" => {}
            "command" => self.command(node, stdin.clone(), nd),
            "redirected_statement" => self.redirected(node, stdin, nd),
            "pipeline" => {
                let mut piped = false;
                let mut cursor = node.walk();
                for child in node.children(&mut cursor) {
                    if !child.is_named() {
                        piped |= matches!(child.kind(), "|" | "|&");
                        continue;
                    }
                    let s = if piped { Stdin::Pipe } else { stdin.clone() };
                    self.visit(child, &s, nd + 1);
                }
            }
            "function_definition" => {
                let name = node
                    .child_by_field_name("name")
                    .map(|n| self.text(n).to_string())
                    .unwrap_or_default();
                self.note(
                    &name,
                    "defines a function (later uses of the name run its body)",
                    Tier::Stateful,
                );
                self.defined.insert(name);
                self.visit_children(node, &Stdin::Inherited, nd);
            }
            "variable_assignment" => self.assignment(node, nd),
            "command_substitution" | "process_substitution" => {
                let backquote = node.child(0).is_some_and(|c| c.kind() == "`");
                self.level += 1;
                self.backquotes += usize::from(backquote);
                self.mark((node.start_byte(), node.end_byte()), false);
                self.visit_children(node, &Stdin::Inherited, nd);
                self.backquotes -= usize::from(backquote);
                self.level -= 1;
            }
            _ => self.visit_children(node, stdin, nd),
        }
    }

    fn visit_children(&mut self, node: Node, stdin: &Stdin, nd: usize) {
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            self.visit(child, stdin, nd + 1);
        }
    }

    fn assignment(&mut self, node: Node, nd: usize) {
        let name = node
            .child_by_field_name("name")
            .map(|n| self.text(n).to_string())
            .unwrap_or_default();
        if let Some(why) = environment::dangerous(&name) {
            let subject = self.text(node).to_string();
            self.note(&subject, why, Tier::Stateful);
        }
        match node.child_by_field_name("value") {
            Some(value) => {
                let w = words::resolve(value, self.src);
                if w.literal {
                    self.remember(name, w.text);
                }
                self.visit(value, &Stdin::Inherited, nd + 1);
            }
            None => self.remember(name, String::new()),
        }
    }

    /// Remember a literal value a variable may hold (bounded per variable).
    fn remember(&mut self, name: String, value: String) {
        let values = self.vars.entry(name).or_default();
        if values.len() < MAX_CANDIDATES && !values.contains(&value) {
            values.push(value);
        }
    }

    fn redirected(&mut self, node: Node, stdin: &Stdin, nd: usize) {
        let mut input = stdin.clone();
        let mut body = None;
        for (field, child) in fields(node) {
            match (field, child.kind()) {
                (Some("body"), _) => body = Some(child),
                (_, "file_redirect") => {
                    let mut extras = Vec::new();
                    if let Some(s) = self.file_redirect_with_extras(child, nd, &mut extras) {
                        input = s;
                    }
                    if !extras.is_empty() {
                        // Words after the target belong to the command; judged as a command
                        // line of their own, they cannot hide (fails closed).
                        let argv: Vec<Word> = extras
                            .iter()
                            .map(|n| words::resolve(*n, self.src))
                            .collect();
                        for n in &extras {
                            self.visit(*n, &Stdin::Inherited, nd + 1);
                        }
                        self.judge(&argv, None, &Stdin::Inherited, 0, false);
                    }
                }
                (_, "heredoc_redirect") => input = self.heredoc(child, nd),
                (_, "herestring_redirect") => input = self.herestring(child, nd),
                _ => self.visit(child, stdin, nd + 1),
            }
        }
        if let Some(body) = body {
            self.visit(body, &input, nd + 1);
        }
    }

    /// Classify one redirection; a `<` returns the new standard input.
    fn file_redirect(&mut self, node: Node, nd: usize) -> Option<Stdin> {
        self.file_redirect_with_extras(node, nd, &mut Vec::new())
    }

    /// Classify one redirection. tree-sitter-bash attaches words that follow the target
    /// (`sudo > out rm -rf /`) to the redirection; those are the command's arguments and are
    /// handed back in `extras`.
    fn file_redirect_with_extras<'n>(
        &mut self,
        node: Node<'n>,
        nd: usize,
        extras: &mut Vec<Node<'n>>,
    ) -> Option<Stdin> {
        let mut op = "";
        let mut dest_node = None;
        for (field, child) in fields(node) {
            match field {
                Some("destination") if dest_node.is_none() => dest_node = Some(child),
                Some("destination") => extras.push(child),
                _ if !child.is_named() && op.is_empty() => op = child.kind(),
                _ => {}
            }
        }
        let dest = dest_node.map(|d| words::resolve(d, self.src));
        let end = dest_node.map_or(node.end_byte(), |d| d.end_byte());
        self.mark((node.start_byte(), end), true);
        if let Some(d) = dest_node {
            self.visit(d, &Stdin::Inherited, nd + 1);
        }
        let dest = dest?;
        let subject = self
            .src
            .get(node.start_byte()..end)
            .unwrap_or("")
            .to_string();
        match op {
            "<" => {
                if dest.text.starts_with("/dev/tcp/") || dest.text.starts_with("/dev/udp/") {
                    self.note(
                        &subject,
                        "reads from the network (/dev/tcp)",
                        Tier::Stateful,
                    );
                }
                Some(Stdin::File)
            }
            ">&" | "<&" if dest.text == "-" || dest.text.chars().all(|c| c.is_ascii_digit()) => {
                None
            }
            "<&" | "<&-" | ">&-" => None,
            ">" | ">>" | "&>" | "&>>" | ">|" | "<>" | ">&" => {
                if let Some((tier, why)) =
                    paths::write_target(&dest.text, dest.literal, self.cwd.as_deref())
                {
                    self.note(&subject, format!("redirection {why}"), tier);
                }
                None
            }
            _ => None,
        }
    }

    fn heredoc(&mut self, node: Node, nd: usize) -> Stdin {
        let mut doc = Stdin::Inherited;
        let mut quoted = false;
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            match child.kind() {
                "heredoc_start" => {
                    let t = self.text(child);
                    quoted = t.contains('\'') || t.contains('"') || t.contains('\\');
                }
                "heredoc_body" => {
                    let mut expands = false;
                    let mut c = child.walk();
                    for part in child.named_children(&mut c) {
                        expands |= part.kind() != "heredoc_content";
                    }
                    doc = Stdin::Doc {
                        text: self.text(child).to_string(),
                        span: (child.start_byte(), child.end_byte()),
                        literal: quoted || !expands,
                    };
                    self.visit_children(child, &Stdin::Inherited, nd);
                }
                "file_redirect" => {
                    self.file_redirect(child, nd);
                }
                "heredoc_end" => {}
                _ if child.is_named() => self.visit(child, &Stdin::Inherited, nd + 1),
                _ => {}
            }
        }
        doc
    }

    fn herestring(&mut self, node: Node, nd: usize) -> Stdin {
        let mut doc = Stdin::Inherited;
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            let w = words::resolve(child, self.src);
            doc = Stdin::Doc {
                text: format!("{}\n", w.text),
                span: w.span,
                literal: w.literal,
            };
        }
        self.visit_children(node, &Stdin::Inherited, nd);
        doc
    }

    fn command(&mut self, node: Node, mut stdin: Stdin, nd: usize) {
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

    fn judge(
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
            _ => {}
        }
    }

    /// Classify shell code carried in an argument or a here-document.
    fn shell_body(&mut self, text: &str, literal: bool, subject: &str) {
        if !literal {
            self.note(
                subject,
                "shell code built from non-literal text",
                Tier::Stateful,
            );
        }
        let inner = classify_within(text, self.depth + 1, false, self.deadline);
        self.reasons.extend(inner.reasons);
    }
}
