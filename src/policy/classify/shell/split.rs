//! A conservative top-level splitter for the commonest shape of agent commands: simple
//! commands joined by `|`, `|&`, `&&`, `||`, `;` and newlines.
//!
//! tree-sitter-bash's pipeline rule is ambiguous and its parser forks on every `|`: a
//! three-stage pipeline parses about ten times slower as one text than stage by stage. [`split`]
//! finds the stages without parsing, so each can be parsed on its own. It answers only when it
//! models the text completely; on anything else (substitutions, groups, compound commands,
//! here-documents, comments, background jobs, odd quoting, syntax errors, redirections the
//! grammar would attach to a whole pipeline) it returns `None` and the whole text is parsed.

/// How a segment is joined to the segment before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Join {
    /// The first segment, or one after `;` or a newline: a new statement.
    Statement,
    /// After `|` or `|&`: its standard input is the previous segment's output.
    Pipe,
    /// After `&&` or `||`: its standard input is the caller's.
    List,
}

/// One simple command of the text: its byte span (surrounding blanks trimmed) and how it is
/// joined to the segment before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Segment {
    pub start: usize,
    pub end: usize,
    pub join: Join,
}

/// Words that open or continue syntax the splitter does not model, when they start a command.
const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "in", "function", "coproc", "[[", "]]", "!", "time",
];

/// The segments of `text` when it is provably a flat sequence of at least two simple commands
/// joined by top-level `|`, `|&`, `&&`, `||`, `;` and newlines; `None` otherwise.
pub(super) fn split(text: &str) -> Option<Vec<Segment>> {
    let mut scan = Scan {
        text,
        segments: Vec::new(),
        start: None,
        end: 0,
        join: Join::Statement,
        redirects: false,
        after_piped_line: false,
        pipes: 0,
    };
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(&byte) = b.get(i) {
        let next = b.get(i + 1).copied();
        let word_end = match byte {
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'\n' => {
                i = scan.newline(i)?;
                continue;
            }
            b';' if next == Some(b';') => return None,
            b';' => {
                i = scan.separator(i, 1, Join::Statement)?;
                continue;
            }
            b'|' | b'&' => {
                i = match (byte, next) {
                    (b'|', Some(b'|')) | (b'&', Some(b'&')) => scan.separator(i, 2, Join::List)?,
                    (b'|', Some(b'&')) => scan.separator(i, 2, Join::Pipe)?,
                    (b'|', _) => scan.separator(i, 1, Join::Pipe)?,
                    // A background job, `&>` or `;&`.
                    _ => return None,
                };
                continue;
            }
            // An escaped character, or a line continuation (kept in the segment: the parse of
            // the segment then judges it as the whole parse would).
            // tree-sitter-bash joins a line that starts with `\` to the line before it.
            b'\\' if i > 0 && b.get(i - 1) == Some(&b'\n') => return None,
            b'\\' => {
                next?;
                i + 2
            }
            b'\'' => i + 1 + text.get(i + 1..)?.find('\'')? + 1,
            b'"' => double_quoted_end(b, i + 1)?,
            b'<' | b'>' => {
                scan.redirects = true;
                match next {
                    // Here-documents and here-strings, process substitution, `>|` clobber.
                    Some(b'<' | b'(' | b'|') => return None,
                    // `>&2`, `<&0`, `>>`: the word after is the target.
                    Some(b'&' | b'>') => i + 2,
                    _ => i + 1,
                }
            }
            b'$' if matches!(next, Some(b'(' | b'{' | b'[' | b'\'' | b'"')) => return None,
            b'`' | b'(' | b')' | b'{' | b'}' | b'#' => return None,
            _ => i + 1,
        };
        scan.word(i, word_end);
        i = word_end;
    }
    scan.finish()
}

/// The index just past the `"` that closes a double-quoted string whose body starts at `i`.
fn double_quoted_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            b'`' => return None,
            // `$"` here is a literal `$` before the closing quote.
            b'$' if matches!(b.get(i + 1), Some(b'(' | b'{' | b'[' | b'\'')) => return None,
            _ => i += 1,
        }
    }
}

/// The splitter's state: segments found, and the segment being read.
struct Scan<'t> {
    text: &'t str,
    segments: Vec<Segment>,
    /// Where the current segment's first word starts (`None`: no word yet).
    start: Option<usize>,
    /// Where the current segment's last word ends.
    end: usize,
    /// How the current segment is joined to the previous one.
    join: Join,
    /// The current segment has a redirection.
    redirects: bool,
    /// The last separator was a newline that ended a pipeline.
    after_piped_line: bool,
    /// `|` and `|&` so far in the current statement.
    pipes: usize,
}

impl Scan<'_> {
    /// A word (or part of one) spans `start..end`.
    fn word(&mut self, start: usize, end: usize) {
        self.start.get_or_insert(start);
        self.end = end;
    }

    /// A newline at `i`: ends a segment with words; after `|`, `&&` or `||` (no word yet) the
    /// command continues on the next line; an empty line is nothing.
    fn newline(&mut self, i: usize) -> Option<usize> {
        if let Some(start) = self.start {
            // tree-sitter-bash reads the next line as the command of a line of assignments only
            // (`A=1 B=2⏎ls` parses as `A=1 B=2 ls`). A quoted value may hold blanks
            // (`A='x y'`), so every line that starts with an assignment is left to the whole
            // parse.
            let line = self.text.get(start..self.end)?;
            if line.split([' ', '\t']).next().is_some_and(is_assignment) {
                return None;
            }
            let piped = self.join == Join::Pipe;
            self.close()?;
            self.open(Join::Statement);
            self.after_piped_line = piped;
        }
        Some(i + 1)
    }

    /// A `;`, `|`, `|&`, `&&` or `||` of `len` bytes at `i`; the next segment joins by `join`.
    fn separator(&mut self, i: usize, len: usize, join: Join) -> Option<usize> {
        // Without a word before it (`; a`, `a | | b`, `a && ; b`) it is a syntax error,
        // reported by the whole parse.
        self.start?;
        // tree-sitter-bash misparses a pipeline of three or more stages followed by `&&` or
        // `||` (`a | b | c && d` becomes `a | (b | c && d)`): the whole parse decides those.
        if join == Join::List && self.pipes >= 2 {
            return None;
        }
        self.close()?;
        self.open(join);
        Some(i + len)
    }

    fn open(&mut self, join: Join) {
        match join {
            Join::Statement => self.pipes = 0,
            Join::Pipe => self.pipes += 1,
            Join::List => {}
        }
        self.start = None;
        self.join = join;
        self.redirects = false;
        self.after_piped_line = false;
    }

    /// End the current segment (which has words).
    fn close(&mut self) -> Option<()> {
        // tree-sitter-bash attaches a redirection after a later stage's words to the whole
        // pipeline or list before it (`a | b > f` redirects `a | b`); only a statement's first
        // segment keeps its redirections to itself.
        if self.redirects && self.join != Join::Statement {
            return None;
        }
        // tree-sitter-bash misparses some pipelines followed by a line (`a | b | c⏎d > f`
        // becomes `a | (b | c d) > f`); the whole parse decides those, as before splitting.
        if self.after_piped_line {
            return None;
        }
        let start = self.start?;
        if starts_with_reserved_word(self.text.get(start..self.end)?) {
            return None;
        }
        self.segments.push(Segment {
            start,
            end: self.end,
            join: self.join,
        });
        Some(())
    }

    fn finish(mut self) -> Option<Vec<Segment>> {
        if self.start.is_some() {
            self.close()?;
        } else if self.join != Join::Statement {
            // A trailing `|`, `&&` or `||`.
            return None;
        }
        (self.segments.len() >= 2).then_some(self.segments)
    }
}

/// Whether the command's first word (after `NAME=value` assignments) is syntax, not a command.
fn starts_with_reserved_word(segment: &str) -> bool {
    segment
        .split([' ', '\t', '\n'])
        .filter(|w| !w.is_empty())
        .find(|w| !is_assignment(w))
        .is_some_and(|w| w.starts_with('!') || RESERVED.contains(&w))
}

/// `NAME=…` or `NAME+=…`.
fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    let name = name.strip_suffix('+').unwrap_or(name);
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The segments as (text, join).
    fn parts(text: &str) -> Option<Vec<(&str, Join)>> {
        let segments = split(text)?;
        Some(
            segments
                .iter()
                .map(|s| (&text[s.start..s.end], s.join))
                .collect(),
        )
    }

    #[test]
    fn splits_pipelines_and_lists_with_exact_spans() {
        use Join::*;
        let text = "journalctl -u nginx -n 50 --no-pager | grep -i error | tail -n 20";
        assert_eq!(
            split(text),
            Some(vec![
                Segment {
                    start: 0,
                    end: 36,
                    join: Statement
                },
                Segment {
                    start: 39,
                    end: 52,
                    join: Pipe
                },
                Segment {
                    start: 55,
                    end: 65,
                    join: Pipe
                },
            ])
        );
        assert_eq!(
            parts("a && b || c; d |& e; f"),
            Some(vec![
                ("a", Statement),
                ("b", List),
                ("c", List),
                ("d", Statement),
                ("e", Pipe),
                ("f", Statement),
            ])
        );
        assert_eq!(
            parts("\n\n  a;\n\n b ;  \n"),
            Some(vec![("a", Statement), ("b", Statement)])
        );
    }

    #[test]
    fn newlines_after_a_binary_operator_continue_the_command() {
        use Join::*;
        assert_eq!(
            parts("a |\n\n  b &&\n c ||  \n d"),
            Some(vec![
                ("a", Statement),
                ("b", Pipe),
                ("c", List),
                ("d", List)
            ])
        );
        assert_eq!(
            parts("a \\\n| b \\ "),
            Some(vec![("a \\\n", Statement), ("b \\ ", Pipe)])
        );
    }

    #[test]
    fn quotes_and_escapes_hide_separators() {
        use Join::*;
        assert_eq!(
            parts(r#"echo 'a|b;c' "d|e\"|f" g\|h\;i | k"#),
            Some(vec![
                (r#"echo 'a|b;c' "d|e\"|f" g\|h\;i"#, Statement),
                ("k", Pipe)
            ])
        );
        assert_eq!(
            parts("grep \"err$\" x | wc -l"),
            Some(vec![("grep \"err$\" x", Statement), ("wc -l", Pipe)])
        );
        assert_eq!(
            parts("echo 'a\\' | b"),
            Some(vec![("echo 'a\\'", Statement), ("b", Pipe)])
        );
    }

    #[test]
    fn redirections_stay_only_in_a_statement_s_first_segment() {
        use Join::*;
        assert_eq!(
            parts("make 2>&1 >/dev/null < in | tail; sort >> out; a <&0 && b"),
            Some(vec![
                ("make 2>&1 >/dev/null < in", Statement),
                ("tail", Pipe),
                ("sort >> out", Statement),
                ("a <&0", Statement),
                ("b", List),
            ])
        );
        for text in ["a | b > f", "a && b 2>&1", "a || b < f", "a | > f b"] {
            assert_eq!(split(text), None, "{text:?}");
        }
    }

    #[test]
    fn nothing_to_split() {
        for text in [
            "",
            "ls -la",
            "  ls\n",
            "\n\nls\n\n",
            "a;",
            "a\n",
            "echo 'a|b'",
        ] {
            assert_eq!(split(text), None, "{text:?}");
        }
    }

    #[test]
    fn bails_on_unmodelled_syntax() {
        for text in [
            "a $(b) | c",
            "a \"$(b)\" | c",
            "a `b` | c",
            "a \"`b`\" | c",
            "(a) | b",
            "a | (b)",
            "{ a; } | b",
            "a ${x} | b",
            "a \"${x:-\"|\"}\" | b",
            "a $[1] | b",
            "a \"$[1]\" | b",
            "cat <<EOF | b\nx\nEOF",
            "a <<< x | b",
            "diff <(a) b; c",
            "a >(b) | c",
            "a $'\\x7c' | b",
            "a \"$'x'\" | b",
            "a $\"x\" | b",
            "a # c | b",
            "a | b # c",
            "a >| f | b",
            "a & b",
            "a; b &",
            "a &> f; b",
            "a ;& b",
            "a;; b",
            "a 'b | c",
            "a \"b | c",
            "a \\",
            "a | b | c\nd > f",
            "a | b |& c && d",
            "ls\n\\rm -rf /",
            "a | b && c | d || e",
            "a | b\n\nc",
        ] {
            assert_eq!(split(text), None, "{text:?}");
        }
    }

    #[test]
    fn bails_on_reserved_words_at_a_command_s_start() {
        for word in RESERVED {
            let text = format!("a | {word} x; b");
            assert_eq!(split(&text), None, "{text:?}");
        }
        for text in [
            "if a; then b; fi",
            "a; X=1 Y+=2 while b",
            "!a | b",
            "a && ! b",
            "time a | b",
        ] {
            assert_eq!(split(text), None, "{text:?}");
        }
        // As arguments they are words.
        assert!(split("grep -w in f | sort; echo done").is_some());
    }

    #[test]
    fn bails_on_empty_segments() {
        for text in [
            "| a",
            "a |",
            "a | | b",
            "a || || b",
            "a &&",
            "; a",
            "a; ; b",
            "a\n; b",
            "a |\n",
            "a\n| b",
        ] {
            assert_eq!(split(text), None, "{text:?}");
        }
    }
}
