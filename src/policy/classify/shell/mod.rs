//! Parse shell text with tree-sitter-bash and classify every simple command that would run:
//! pipelines, lists, subshells, groups, control flow, functions, `$(…)`, backticks, `<(…)`,
//! heredocs fed to an interpreter, and the code handed to `sh -c`, `eval`, `ssh host …`,
//! `su -c` (parsed in turn, to a bounded depth). Whatever cannot be resolved fails closed.

#[cfg(test)]
use std::cell::Cell;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use tree_sitter::{Node, ParseOptions, ParseState, Parser, Point, Range, Tree};

mod budget;
mod commands;
#[cfg(test)]
mod equivalence_tests;
mod redirects;
mod split;
mod state;

pub use budget::parse_backstops;
use budget::{Budget, UNITS_PER_REPORT};

use super::floor;
use super::paths::Cwd;
use crate::policy::{Reason, Tier};

/// Text longer than this is not parsed (tree-sitter's error recovery can be slow on huge
/// pathological input): it is classified as unparseable — tier ≥ 2 plus the raw-text floor.
pub(super) const MAX_PARSE_BYTES: usize = 64 * 1024;
/// Syntax nesting deeper than this is not followed: fail closed.
pub(super) const MAX_NODE_DEPTH: usize = 256;
/// Shell code inside shell code (`bash -c "bash -c '…'"`) is parsed this many levels deep.
pub(super) const MAX_BODY_DEPTH: usize = 6;
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

/// Text with more `|`, `<` and `(` bytes than this is not parsed: parsed whole,
/// tree-sitter-bash's cost on long pipelines and stacked here-documents grows faster than
/// linearly, and its progress checks are too sparse there for [`budget::PARSE_BUDGET`] alone
/// to bound it. Text the splitter takes apart stage by stage would not need the limit, but it
/// applies to all text alike so that the verdict never depends on which path parsed it.
pub(super) const MAX_OPERATORS: usize = 256;

/// Parse `text`, or only its bytes `within` (node byte ranges still index into `text`).
fn parse(text: &str, within: Option<Range>, budget: &Budget) -> Option<Tree> {
    if !budget.spend(1) {
        return None;
    }
    PARSER.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            let mut p = Parser::new();
            p.set_language(&tree_sitter_bash::LANGUAGE.into()).ok()?;
            *slot = Some(p);
        }
        let parser = slot.as_mut()?;
        // Every parse sets its ranges: an empty list means the whole text.
        parser.set_included_ranges(within.as_slice()).ok()?;
        let mut over_budget = |_: &ParseState| !budget.spend(UNITS_PER_REPORT);
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

/// Statement kinds a segment may parse as: one simple command, as the splitter promised.
const SEGMENT_KINDS: &[&str] = &[
    "command",
    "redirected_statement",
    "declaration_command",
    "unset_command",
    "test_command",
    "variable_assignment",
    "variable_assignments",
];

/// Parse each segment on its own, with the same parser and budget. `None` when a segment
/// does not parse cleanly as exactly one simple statement: then the whole text is parsed, so
/// syntax errors and anything the splitter misjudged are handled exactly as without it.
fn parse_segments(text: &str, segments: &[split::Segment], budget: &Budget) -> Option<Vec<Tree>> {
    let mut points = PointCursor::default();
    let mut trees = Vec::with_capacity(segments.len());
    for s in segments {
        let range = Range {
            start_byte: s.start,
            end_byte: s.end,
            start_point: points.at(text, s.start),
            end_point: points.at(text, s.end),
        };
        let tree = parse(text, Some(range), budget)?;
        let root = tree.root_node();
        let statement = root.named_child(0)?;
        if root.has_error()
            || joined_line(root, text).is_some()
            || root.named_child_count() != 1
            || !SEGMENT_KINDS.contains(&statement.kind())
            // Redirections with no command: the whole parse may read the next line as their
            // command (`2>&1⏎ls`), so only it gives the same verdict.
            || statement.kind() == "redirected_statement"
                && statement.child_by_field_name("body").is_none()
        {
            return None;
        }
        trees.push(tree);
    }
    Some(trees)
}

/// Statements whose children are the words and redirections of one command line.
const ONE_LINE_KINDS: &[&str] = &[
    "command",
    "declaration_command",
    "unset_command",
    "redirected_statement",
];

/// Where tree-sitter-bash read two lines a shell keeps apart as one command: a line break
/// (not a `\`-newline continuation) inside a word, or between the words and redirections of
/// one command. The grammar reads `ls⏎\rm -rf /x` as `ls` with three arguments, and
/// `a | b⏎rm x > f` as `b rm x`; bash runs `rm` both times. Returns the offset of the first
/// such line break; the caller then distrusts the tree. Line breaks inside strings,
/// substitutions, here-documents and compound commands belong to child nodes and are not
/// looked at.
fn joined_line(root: Node, src: &str) -> Option<usize> {
    let bytes = src.as_bytes();
    // A line break ends the line unless an odd run of backslashes (maybe then `\r`) precedes it.
    let separates = |at: usize| {
        let mut i = at;
        if i > 0 && bytes[i - 1] == b'\r' {
            i -= 1;
        }
        let run = bytes[..i].iter().rev().take_while(|&&b| b == b'\\').count();
        run % 2 == 0
    };
    let breaks_in = |start: usize, end: usize| {
        (start..end.min(bytes.len())).find(|&i| bytes[i] == b'\n' && separates(i))
    };
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.kind() == "word"
            && let Some(at) = breaks_in(node.start_byte(), node.end_byte())
        {
            return Some(at);
        }
        if ONE_LINE_KINDS.contains(&node.kind()) {
            let mut prev = node.start_byte();
            let mut children = node.walk();
            for child in node.children(&mut children) {
                if let Some(at) = breaks_in(prev, child.start_byte()) {
                    return Some(at);
                }
                prev = child.end_byte();
            }
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}

/// Row and column of ascending byte offsets, in one pass over the text.
#[derive(Default)]
struct PointCursor {
    byte: usize,
    row: usize,
    line_start: usize,
}

impl PointCursor {
    fn at(&mut self, text: &str, byte: usize) -> Point {
        let seen = text.as_bytes().get(self.byte..byte).unwrap_or_default();
        for (i, b) in seen.iter().enumerate() {
            if *b == b'\n' {
                self.row += 1;
                self.line_start = self.byte + i + 1;
            }
        }
        self.byte = self.byte.max(byte);
        Point::new(self.row, byte.saturating_sub(self.line_start))
    }
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

/// What every body nested in one classification shares: the parse budget, and the standard
/// input the caller hands the command (inherited by every command that does not redirect
/// its own, in nested bodies too).
pub(crate) struct Shared<'a> {
    budget: Budget,
    stdin: Option<&'a str>,
}

/// Classify shell `text` at body `depth` (0 = the text the caller gave).
#[cfg(test)]
pub(crate) fn classify_shell(text: &str, depth: usize, interactive: bool) -> ShellVerdict {
    classify_command(text, depth, interactive, None)
}

/// Classify shell `text` whose standard input is `stdin` (`None`: `/dev/null`, or the
/// session's terminal when `interactive`). The input is data for programs that read data
/// and code for shells and interpreters that read code from it.
pub(crate) fn classify_command(
    text: &str,
    depth: usize,
    interactive: bool,
    stdin: Option<&str>,
) -> ShellVerdict {
    // The declaration tables are built once, on first use: before the budget (and its
    // wall-clock backstop) starts.
    super::knowledge::prepare();
    let shared = Shared {
        budget: Budget::new(),
        stdin,
    };
    classify_within(text, depth, interactive, &shared, &Cwd::Start, &Input::Call)
}

/// What a command in a text reads when it does not redirect its standard input.
#[derive(Clone, Debug)]
enum Input {
    /// The call's standard input: the caller's text, and code run by a command that reads it.
    Call,
    /// A document the classifier has: code run by a command fed a here-document or
    /// here-string (`sh -c 'sh' <<EOF`).
    Known { text: String, literal: bool },
    /// Something not followed here (a pipe, a file): code run by a command that reads it.
    Unknown,
}

/// [`classify_command`] for shell code nested in a text: it shares the parse budget and the
/// call's standard input, and starts in the working directory the outer text established
/// (`cd /etc && sh -c '… > passwd'`). A command in `text` that does not redirect its input
/// reads `input`: whatever the command that runs `text` was given.
fn classify_within(
    text: &str,
    depth: usize,
    interactive: bool,
    shared: &Shared,
    cwd: &Cwd,
    input: &Input,
) -> ShellVerdict {
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
    let mut v = match visit_segments(text, depth, interactive, shared, cwd, input) {
        Some(v) => v,
        None => {
            let Some(tree) = parse(text, None, &shared.budget) else {
                return unparseable("text could not be parsed within the parse budget");
            };
            let mut v = Visitor::new(text, depth, interactive, shared);
            v.cwd = cwd.clone();
            v.input = input.clone();
            v.unparsed = tree.root_node().has_error();
            if let Some(at) = joined_line(tree.root_node(), text) {
                v.note(
                    text.get(at..).unwrap_or_default().trim_start(),
                    "the parser joined a line to the command before it (a shell runs it on its own)",
                    Tier::Stateful,
                );
                v.unparsed = true;
            }
            v.visit(tree.root_node(), &Stdin::Inherited, 0);
            v
        }
    };
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
    if v.unparsed && text.contains('\n') {
        // The grammar can misread a line a shell reads fine (`{a= A:}` starts no group in
        // bash) and then take the lines after it with it. A shell runs each line it can: each
        // line is judged on its own as well, which can only add findings.
        // (Tests count texts the splitter took apart; these lines are not the text itself.)
        #[cfg(test)]
        let split_before = equivalence_tests::SPLIT_TEXTS.with(Cell::get);
        for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
            let inner = classify_within(line, depth + 1, false, shared, cwd, input);
            verdict.commands += inner.commands;
            verdict.reasons.extend(inner.reasons);
        }
        #[cfg(test)]
        equivalence_tests::SPLIT_TEXTS.with(|n| n.set(split_before));
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

/// Visit the segments of a text the splitter takes apart, each parsed on its own, with one
/// visitor (variables, functions, `cd`, marks and the floor span the whole text). A segment
/// after `|` or `|&` reads a pipe, as in the `pipeline` arm of [`Visitor::visit`]. `None` when
/// the text is not split: the caller parses it whole.
fn visit_segments<'t>(
    text: &'t str,
    depth: usize,
    interactive: bool,
    shared: &'t Shared<'t>,
    cwd: &Cwd,
    input: &Input,
) -> Option<Visitor<'t>> {
    if !splitting_enabled() {
        return None;
    }
    let segments = split::split(text)?;
    // Lists nested past the walk's depth take the whole parse: know it before any work.
    let mut run = 0usize;
    let mut longest = 0usize;
    for segment in &segments {
        match segment.join {
            split::Join::List => run += 1,
            split::Join::Statement => run = 0,
            split::Join::Pipe => {}
        }
        longest = longest.max(run);
    }
    if longest + 1 > MAX_NODE_DEPTH {
        return None;
    }
    let trees = parse_segments(text, &segments, &shared.budget)?;
    let mut v = Visitor::new(text, depth, interactive, shared);
    v.cwd = cwd.clone();
    v.input = input.clone();
    // The whole parse nests a segment under at most one `list` node per `&&`/`||` of its
    // statement and one `pipeline` node; where that could reach the depth at which the syntax
    // walk stops, only the whole parse gives the same verdict.
    let mut nesting = 0;
    let mut most_nesting = 0;
    for (segment, tree) in segments.iter().zip(&trees) {
        let stdin = match segment.join {
            split::Join::Pipe => Stdin::Pipe,
            split::Join::Statement => {
                nesting = 0;
                Stdin::Inherited
            }
            split::Join::List => {
                nesting += 1;
                Stdin::Inherited
            }
        };
        most_nesting = usize::max(most_nesting, nesting);
        v.visit(tree.root_node(), &stdin, 0);
    }
    if v.deepest + most_nesting + 1 > MAX_NODE_DEPTH {
        return None;
    }
    #[cfg(test)]
    equivalence_tests::SPLIT_TEXTS.with(|n| n.set(n.get() + 1));
    Some(v)
}

/// Whether texts may be split (tests compare against the whole-text parse).
fn splitting_enabled() -> bool {
    #[cfg(test)]
    if equivalence_tests::WHOLE_PARSE_ONLY.with(std::cell::Cell::get) {
        return false;
    }
    true
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
    /// Not redirected: the call's standard input, or in nested code what the command that
    /// runs it reads ([`Visitor::input`]).
    Inherited,
    /// Not redirected, in code nested in a command whose input is a pipe or a file: not
    /// followed here.
    Outer,
    Pipe,
    File {
        path: String,
        literal: bool,
    },
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
    /// The deepest syntax level visited.
    deepest: usize,
    /// Backquote substitutions enclosing the current node.
    backquotes: usize,
    /// The parse budget and the caller's standard input (shared with nested bodies).
    shared: &'t Shared<'t>,
    /// Literal values assigned to each variable earlier in the text (`S=sudo; $S id`),
    /// including `NAME=value` words handed to `env`/`sudo`: every candidate is judged.
    vars: HashMap<String, Vec<String>>,
    /// Functions and aliases defined in the text.
    defined: HashSet<String>,
    /// Where relative paths land (`cd`, `pushd`, `popd` move it; a directory that is not a
    /// literal makes it unknown: the worst case).
    cwd: Cwd,
    /// The `pushd` stack.
    dirs: Vec<Cwd>,
    /// What a command here reads when it does not redirect its standard input.
    input: Input,
    /// `BASH_ENV`/`ENV` was set to standard input: a shell started later runs its input.
    startup_reads_stdin: bool,
    /// Some interpreter reads code from a pipe: data anywhere in the text may become code,
    /// so nothing is exempt from the raw-text floor.
    code_from_pipe: bool,
    /// The caller's standard input is a terminal the user types into (a spawned session):
    /// an interpreter reading it is not hidden code.
    interactive: bool,
}

impl<'t> Visitor<'t> {
    fn new(src: &'t str, depth: usize, interactive: bool, shared: &'t Shared<'t>) -> Self {
        Visitor {
            src,
            depth,
            reasons: Vec::new(),
            marks: Vec::new(),
            commands: 0,
            unparsed: false,
            level: 0,
            deepest: 0,
            backquotes: 0,
            shared,
            vars: HashMap::new(),
            defined: HashSet::new(),
            cwd: Cwd::Start,
            dirs: Vec::new(),
            input: Input::Call,
            startup_reads_stdin: false,
            code_from_pipe: false,
            interactive: interactive && depth == 0,
        }
    }

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
        self.deepest = self.deepest.max(nd);
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
        let kind = node.kind();
        match kind {
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
            "variable_assignment" => self.assignment(node, nd, false),
            _ if self.state_node(kind, node, stdin, nd) => {}
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
}
