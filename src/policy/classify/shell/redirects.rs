//! Redirections, here-documents and here-strings: what they write and what they feed in.

use tree_sitter::Node;

use super::{Stdin, Visitor, fields};
use crate::policy::Tier;
use crate::policy::classify::paths;
use crate::policy::classify::words::{self, Word};

impl Visitor<'_> {
    pub(super) fn redirected(&mut self, node: Node, stdin: &Stdin, nd: usize) {
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
            let before = self.cwd.clone();
            self.visit(body, &input, nd + 1);
            if self.cwd != before {
                // tree-sitter-bash attaches `a && b > f` to the whole list; bash writes `f`
                // after `a` ran, so a `cd` in the body moves where the file lands.
                self.rejudge_writes(node);
            }
        }
    }

    /// Judge the write redirections of `node` again from the current working directory.
    fn rejudge_writes(&mut self, node: Node) {
        for (_, child) in fields(node) {
            if child.kind() != "file_redirect" {
                continue;
            }
            let mut op = "";
            let mut dest = None;
            for (field, c) in fields(child) {
                match field {
                    Some("destination") if dest.is_none() => dest = Some(c),
                    _ if !c.is_named() && op.is_empty() => op = c.kind(),
                    _ => {}
                }
            }
            let Some(d) = dest else {
                continue;
            };
            if !matches!(op, ">" | ">>" | "&>" | "&>>" | ">|" | "<>") {
                continue;
            }
            let w = words::resolve(d, self.src);
            if let Some((tier, why)) =
                paths::judge(&paths::Dest::write(&w.text, w.literal), &self.cwd)
            {
                let subject = self.text(child).to_string();
                self.note(&subject, format!("redirection {why}"), tier);
            }
        }
    }

    /// Classify one redirection; a `<` returns the new standard input.
    pub(super) fn file_redirect(&mut self, node: Node, nd: usize) -> Option<Stdin> {
        self.file_redirect_with_extras(node, nd, &mut Vec::new())
    }

    /// Classify one redirection. tree-sitter-bash attaches words that follow the target
    /// (`sudo > out rm -rf /`) to the redirection; those are the command's arguments and are
    /// handed back in `extras`.
    pub(super) fn file_redirect_with_extras<'n>(
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
                Some(Stdin::File {
                    path: dest.text.clone(),
                    literal: dest.literal,
                })
            }
            ">&" | "<&" if dest.text == "-" || dest.text.chars().all(|c| c.is_ascii_digit()) => {
                None
            }
            "<&" | "<&-" | ">&-" => None,
            ">" | ">>" | "&>" | "&>>" | ">|" | "<>" | ">&" => {
                if let Some((tier, why)) =
                    paths::judge(&paths::Dest::write(&dest.text, dest.literal), &self.cwd)
                {
                    self.note(&subject, format!("redirection {why}"), tier);
                }
                None
            }
            _ => None,
        }
    }

    pub(super) fn heredoc(&mut self, node: Node, nd: usize) -> Stdin {
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

    pub(super) fn herestring(&mut self, node: Node, nd: usize) -> Stdin {
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
}
