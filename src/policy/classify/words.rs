//! Resolving a tree-sitter word node to the text bash would pass, and whether that text is
//! known before the command runs (a literal) or depends on expansion (not a literal).

use tree_sitter::Node;

/// One shell word as the classifier sees it.
#[derive(Clone, Debug)]
pub(crate) struct Word {
    /// The text after quote removal (for a non-literal word, a best-effort rendering).
    pub text: String,
    /// True when the text is fully known statically: no parameter, command or arithmetic
    /// expansion, no glob, no brace expansion.
    pub literal: bool,
    /// Byte range of the word in the text being parsed.
    pub span: (usize, usize),
    /// Whether the word could reach the program as an option: a literal starting with `-`, or
    /// a non-literal whose value could start with `-` or split into several words (an
    /// unquoted expansion). A double-quoted `"./$f"` cannot.
    pub may_be_option: bool,
    /// Not a literal only because of a glob or brace (no parameter or command expansion): its
    /// words are names of existing files or fixed alternatives.
    pub glob_only: bool,
}

impl Word {
    /// A synthetic word (from splitting a resolved variable or a wrapper's own parsing).
    pub(crate) fn synthetic(text: &str, span: (usize, usize)) -> Word {
        Word {
            text: text.to_string(),
            literal: true,
            span,
            may_be_option: text.starts_with('-'),
            glob_only: false,
        }
    }
}

/// What resolving a word learned besides its text.
#[derive(Default)]
struct Shape {
    literal: bool,
    /// An expansion outside double quotes (its value is split into words).
    splits: bool,
    /// The first character was produced by an expansion (unknown).
    first_unknown: bool,
    /// A parameter, command or arithmetic expansion occurs (not just a glob).
    expands: bool,
}

/// Nodes nested deeper than this inside one word are treated as not literal.
const WORD_DEPTH_LIMIT: usize = 64;

/// Resolve `node` (a word-like node: word, string, raw_string, concatenation, …).
pub(crate) fn resolve(node: Node, src: &str) -> Word {
    let mut text = String::new();
    let mut shape = Shape {
        literal: true,
        ..Shape::default()
    };
    push(node, src, &mut text, &mut shape, false, 0);
    let mut literal = shape.literal;
    if brace_expansion(&unquoted_text(node, src)) {
        literal = false;
        shape.splits = true;
    }
    let may_be_option = if literal {
        text.starts_with('-')
    } else {
        shape.splits || shape.first_unknown || text.starts_with('-')
    };
    Word {
        text,
        literal,
        span: (node.start_byte(), node.end_byte()),
        may_be_option,
        glob_only: !literal && !shape.expands,
    }
}

fn node_text<'s>(node: Node, src: &'s str) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

fn push(node: Node, src: &str, out: &mut String, shape: &mut Shape, quoted: bool, depth: usize) {
    if depth > WORD_DEPTH_LIMIT {
        shape.literal = false;
        shape.splits = true;
        return;
    }
    let raw = node_text(node, src);
    match node.kind() {
        "word" | "number" => {
            let before = out.len();
            unquoted(raw, out, &mut shape.literal);
            if before == 0 && out.starts_with(['*', '?', '[', '$', '`']) {
                shape.first_unknown = true;
                shape.splits = true;
            }
        }
        "raw_string" => out.push_str(
            raw.strip_prefix('\'')
                .unwrap_or(raw)
                .strip_suffix('\'')
                .unwrap_or(raw),
        ),
        "ansi_c_string" => ansi_c(raw, out),
        "string_content" => double_quoted(raw, out),
        "string" | "translated_string" | "concatenation" | "command_name" => {
            let inner_quoted =
                quoted || node.kind() != "concatenation" && node.kind() != "command_name";
            let mut cursor = node.walk();
            for child in node.children(&mut cursor) {
                if child.is_named() {
                    push(child, src, out, shape, inner_quoted, depth + 1);
                } else if node.kind() == "concatenation" {
                    // An unnamed token inside a concatenation is part of the word (e.g. `=`).
                    unquoted(node_text(child, src), out, &mut shape.literal);
                }
            }
        }
        _ => {
            // Expansions, substitutions, arithmetic, brace expressions, patterns: the value is
            // only known at run time.
            shape.literal = false;
            shape.expands = true;
            if out.is_empty() {
                shape.first_unknown = true;
            }
            if !quoted {
                shape.splits = true;
            }
            out.push_str(raw);
        }
    }
}

/// Quote removal for unquoted text: backslash escapes, line continuations; globs and brace
/// expansion make the word non-literal.
fn unquoted(raw: &str, out: &mut String, literal: &mut bool) {
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(n) => out.push(n),
            },
            '*' | '?' | '[' => {
                *literal = false;
                out.push(c);
            }
            '$' | '`' => {
                *literal = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
}

/// The word's text with every quoted part replaced by `_` (brace expansion only sees the
/// unquoted parts).
fn unquoted_text(node: Node, src: &str) -> String {
    match node.kind() {
        "raw_string" | "string" | "ansi_c_string" | "translated_string" => "_".into(),
        "concatenation" => {
            let mut out = String::new();
            let mut cursor = node.walk();
            for child in node.children(&mut cursor) {
                out.push_str(&unquoted_text(child, src));
            }
            out
        }
        _ => node_text(node, src).to_string(),
    }
}

/// Could bash brace-expand this word (`{a,b}`, `{1..3}`), given its unquoted parts?
fn brace_expansion(raw: &str) -> bool {
    let Some(open) = raw.find('{') else {
        return false;
    };
    let rest = &raw[open..];
    match rest.find('}') {
        Some(close) => {
            let inner = &rest[..close];
            inner.contains(',') || inner.contains("..")
        }
        None => false,
    }
}

/// Inside double quotes only `\$`, `` \` ``, `\"`, `\\` and `\newline` are escapes.
fn double_quoted(raw: &str, out: &mut String) {
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('$' | '`' | '"' | '\\') => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                Some('\n') => {
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
}

/// `$'…'` strings: the common C escapes. Unknown escapes keep the escaped character.
fn ansi_c(raw: &str, out: &mut String) {
    let body = raw.strip_prefix("$'").unwrap_or(raw);
    let body = body.strip_suffix('\'').unwrap_or(body);
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('e' | 'E') => out.push('\x1b'),
            Some('f') => out.push('\x0c'),
            Some('v') => out.push('\x0b'),
            Some('x') => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            chars.next();
                            n += 1;
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            Some(d @ '0'..='7') => {
                let mut v = d.to_digit(8).unwrap_or(0);
                let mut n = 1;
                while n < 3 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                            n += 1;
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
}

/// The command name bash would look up: the last path component of the word.
pub(crate) fn command_basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// If `node` (a command_name) is exactly one variable expansion (`$X`, `${X}`), its name.
pub(crate) fn sole_variable(node: Node, src: &str) -> Option<String> {
    let inner = if node.kind() == "command_name" {
        node.named_child(0)?
    } else {
        node
    };
    if node.named_child_count() != 1 {
        return None;
    }
    match inner.kind() {
        "simple_expansion" | "expansion" if inner.named_child_count() == 1 => {
            let v = inner.named_child(0)?;
            (v.kind() == "variable_name").then(|| node_text(v, src).to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_command_words(src: &str) -> Vec<(String, bool)> {
        let mut p = tree_sitter::Parser::new();
        p.set_language(&tree_sitter_bash::LANGUAGE.into())
            .expect("language"); // ok: test
        let tree = p.parse(src, None).expect("parse"); // ok: test
        let cmd = tree.root_node().named_child(0).expect("command"); // ok: test
        let mut c = cmd.walk();
        cmd.named_children(&mut c)
            .map(|n| {
                let w = resolve(n, src);
                (w.text, w.literal)
            })
            .collect()
    }

    #[test]
    fn quotes_backslashes_and_splices_resolve() {
        let w = first_command_words(r#"r''m "-r"f \/ $'\x72m' a\ b"#);
        let texts: Vec<&str> = w.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(texts, vec!["rm", "-rf", "/", "rm", "a b"]);
        assert!(w.iter().all(|(_, l)| *l));
    }

    #[test]
    fn expansions_and_globs_are_not_literal() {
        let w = first_command_words(r#"ls $X "$Y" *.log {a,b} $(id) ~/ok"#);
        let lits: Vec<bool> = w.iter().map(|(_, l)| *l).collect();
        assert_eq!(lits, vec![true, false, false, false, false, false, true]);
    }
}
