//! Shell words with their source positions: what the command-line rule parses.
//!
//! A text is cut into simple commands (at `;`, `&`, `|`, `(`, `)`, a backtick and an unescaped
//! line break) and each command into words, the way a POSIX shell reads them: quotes removed,
//! backslash escapes resolved, and a backslash before a line break (a continued line) removed,
//! so a secret split across continued lines is one word. Each byte of a word's text remembers
//! where it came from, so a value found by an option parser maps back to the source span to
//! replace. A quoted part that holds whitespace (`sh -c "mysql -pX db"`, `command="…"`) is
//! also read as a text of its own, one level deep, so a command inside a string is found too.
//!
//! Linear: every byte is read once per level, and there are at most [`MAX_DEPTH`] levels.

use std::borrow::Cow;
use std::ops::Range;

use crate::redact::scan::Span;

/// How many levels of quoted text are read as commands of their own.
const MAX_DEPTH: usize = 2;

/// The bytes [`Reader::word`] treats specially outside quotes; a run of any others is part of
/// the word as it stands.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let special = b" \t\n\r;()`&|<>\\'\"";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

/// One shell word.
#[derive(Debug)]
pub(crate) struct Word<'t> {
    /// The word as the program receives it (quotes and escapes resolved). Borrowed from the
    /// source when it is one contiguous run of it (most words).
    pub text: Cow<'t, str>,
    /// Source offset of the first byte of a borrowed `text`.
    start: usize,
    /// For an owned `text`: the source offset of each of its bytes.
    map: Vec<usize>,
    /// The whole source text the offsets point into.
    source: &'t str,
}

impl AsRef<str> for Word<'_> {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl Word<'_> {
    /// The source span of `text[start..end]`, or `None` when it is empty.
    ///
    /// The span runs from the source of the first byte to that of the last, so it also holds
    /// the quotes and backslashes between them. Backslashes go with the bytes they escape (or
    /// the line break they remove); the quotes that open or close a part are kept in the
    /// span's [`Span::keep`], so that a placeholder written over it leaves the quoting of the
    /// text after it as it was (`-'pSECRET'` becomes `-'p[REDACTED]'`, not `-'p[REDACTED]`,
    /// which would open a quote the next pass reads differently).
    pub(crate) fn source(&self, start: usize, end: usize) -> Option<Span> {
        if start >= end || end > self.text.len() {
            return None;
        }
        match &self.text {
            Cow::Borrowed(_) => Some(Span::with_quotes(self.start + start..self.start + end, [])),
            Cow::Owned(_) => {
                let value = &self.map[start..end];
                let range = value[0]..value[value.len() - 1] + 1;
                let bytes = self.source.as_bytes();
                let mut next = value.iter().peekable();
                let quotes = range.clone().filter(move |&at| {
                    while next.next_if(|&&v| v < at).is_some() {}
                    next.next_if_eq(&&at).is_none() && matches!(bytes.get(at), Some(b'\'' | b'"'))
                });
                let quotes: Vec<u8> = quotes.map(|at| bytes[at]).collect();
                Some(Span::with_quotes(range, quotes))
            }
        }
    }
}

/// Builds a word: borrowed while its bytes are one contiguous run of the source.
struct WordBuilder<'t> {
    source: &'t str,
    /// The contiguous run so far (`start..end`), while nothing forced a copy.
    start: usize,
    end: usize,
    owned: Option<(String, Vec<usize>)>,
    started: bool,
}

impl<'t> WordBuilder<'t> {
    fn new(source: &'t str) -> Self {
        Self {
            source,
            start: 0,
            end: 0,
            owned: None,
            started: false,
        }
    }

    fn push(&mut self, c: char, at: usize) {
        let len = c.len_utf8();
        if let Some((text, map)) = &mut self.owned {
            text.push(c);
            map.extend(at..at + len);
            return;
        }
        if self.start == self.end {
            self.start = at;
            self.end = at + len;
        } else if at == self.end {
            self.end += len;
        } else {
            let mut text = String::with_capacity(self.end - self.start + 16);
            text.push_str(&self.source[self.start..self.end]);
            let mut map: Vec<usize> = (self.start..self.end).collect();
            text.push(c);
            map.extend(at..at + len);
            self.owned = Some((text, map));
        }
    }

    /// Appends the source run `at..end` (whole characters) at once: a word is mostly such
    /// runs, and pushing them a character at a time dominated the rule's cost.
    fn push_run(&mut self, at: usize, end: usize) {
        if at >= end {
            return;
        }
        if let Some((text, map)) = &mut self.owned {
            text.push_str(&self.source[at..end]);
            map.extend(at..end);
            return;
        }
        if self.start == self.end {
            self.start = at;
            self.end = end;
        } else if at == self.end {
            self.end = end;
        } else {
            let mut text = String::with_capacity(self.end - self.start + (end - at) + 16);
            text.push_str(&self.source[self.start..self.end]);
            text.push_str(&self.source[at..end]);
            let mut map: Vec<usize> = (self.start..self.end).collect();
            map.extend(at..end);
            self.owned = Some((text, map));
        }
    }

    /// The text so far.
    fn text(&self) -> &str {
        match &self.owned {
            Some((text, _)) => text,
            None => &self.source[self.start..self.end],
        }
    }

    fn finish(self) -> Option<Word<'t>> {
        if !self.started {
            return None;
        }
        Some(match self.owned {
            Some((text, map)) => Word {
                text: Cow::Owned(text),
                start: 0,
                map,
                source: self.source,
            },
            None => Word {
                text: Cow::Borrowed(&self.source[self.start..self.end]),
                start: self.start,
                map: Vec::new(),
                source: self.source,
            },
        })
    }
}

/// What follows a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// `|`: the next command reads this one's output.
    Pipe,
    /// Anything else (`;`, `&&`, a line break, the end).
    Other,
}

/// A simple command: its words, the words that are redirection targets, and what follows.
#[derive(Debug)]
pub(crate) struct Command<'t> {
    /// The words, redirections left out.
    pub words: Vec<Word<'t>>,
    /// The targets of `>` and `>>` redirections.
    pub written: Vec<Word<'t>>,
    /// What follows the command.
    pub next: Next,
}

/// Calls `emit` with every simple command of `text`, then of the quoted parts with whitespace
/// inside, in order, one at a time (memory stays bounded by one command plus the quoted spans).
#[cfg(test)]
pub(crate) fn for_each_command<'t>(text: &'t str, emit: &mut dyn FnMut(Command<'t>)) {
    for_each_command_in(text, 0..text.len(), emit);
}

/// [`for_each_command`] over `text[range]`, which must start where a command may start (the
/// start of the text or of a line that no `\` continues).
pub(crate) fn for_each_command_in<'t>(
    text: &'t str,
    range: Range<usize>,
    emit: &mut dyn FnMut(Command<'t>),
) {
    let mut pending = vec![(range.start, range.end, 0usize)];
    while let Some((start, end, depth)) = pending.pop() {
        let mut reader = Reader {
            text,
            end,
            pos: start,
            nested: Vec::new(),
        };
        reader.read(emit);
        if depth + 1 < MAX_DEPTH {
            pending.extend(
                reader
                    .nested
                    .into_iter()
                    .map(|r| (r.start, r.end, depth + 1)),
            );
        }
    }
}

/// Every simple command of `text` (see [`for_each_command`]).
#[cfg(test)]
pub(crate) fn commands(text: &str) -> Vec<Command<'_>> {
    let mut out = Vec::new();
    for_each_command(text, &mut |c| out.push(c));
    out
}

struct Reader<'t> {
    text: &'t str,
    end: usize,
    pos: usize,
    /// Inner spans of quoted parts that hold whitespace.
    nested: Vec<Range<usize>>,
}

/// What ended a word.
enum Stop {
    /// Whitespace or the end of a word only.
    Space,
    /// The command ends here (`next`).
    Command(Next),
    /// A redirection operator `>` / `>>` (`true`) or `<` (`false`).
    Redirect(bool),
    /// End of the text.
    End,
}

impl<'t> Reader<'t> {
    fn peek(&self) -> Option<char> {
        if self.pos >= self.end {
            return None;
        }
        match self.text.as_bytes().get(self.pos) {
            Some(&b) if b.is_ascii() => Some(char::from(b)),
            _ => self.text.get(self.pos..self.end)?.chars().next(),
        }
    }

    fn read(&mut self, out: &mut dyn FnMut(Command<'t>)) {
        let mut cmd = Command {
            words: Vec::new(),
            written: Vec::new(),
            next: Next::Other,
        };
        // The next word is the target of a redirection (`Some(true)`: an output file).
        let mut target: Option<bool> = None;
        loop {
            let (word, stop) = self.word();
            if let Some(w) = word {
                match target.take() {
                    Some(true) => cmd.written.push(w),
                    Some(false) => {}
                    None => cmd.words.push(w),
                }
            }
            match stop {
                Stop::Space => {}
                Stop::Redirect(output) => {
                    target = Some(output);
                }
                Stop::Command(next) => {
                    cmd.next = next;
                    let done = std::mem::replace(
                        &mut cmd,
                        Command {
                            words: Vec::new(),
                            written: Vec::new(),
                            next: Next::Other,
                        },
                    );
                    if !done.words.is_empty() {
                        out(done);
                    }
                    target = None;
                }
                Stop::End => {
                    if !cmd.words.is_empty() {
                        out(cmd);
                    }
                    return;
                }
            }
        }
    }

    /// Reads one word (if any) and what ended it.
    fn word(&mut self) -> (Option<Word<'t>>, Stop) {
        let mut word = WordBuilder::new(self.text);
        let bytes = self.text.as_bytes();
        let stop = loop {
            let Some(c) = self.peek() else {
                break Stop::End;
            };
            let at = self.pos;
            match c {
                ' ' | '\t' => {
                    self.pos += 1;
                    if word.started {
                        break Stop::Space;
                    }
                }
                '\n' | '\r' => {
                    self.pos += 1;
                    break Stop::Command(Next::Other);
                }
                ';' | '(' | ')' | '`' => {
                    self.pos += 1;
                    break Stop::Command(Next::Other);
                }
                '&' => {
                    self.pos += 1;
                    if bytes.get(self.pos) == Some(&b'&') {
                        self.pos += 1;
                    }
                    break Stop::Command(Next::Other);
                }
                '|' => {
                    self.pos += 1;
                    if bytes.get(self.pos) == Some(&b'|') {
                        self.pos += 1;
                        break Stop::Command(Next::Other);
                    }
                    break Stop::Command(Next::Pipe);
                }
                '>' | '<' => {
                    self.pos += 1;
                    // `2>file`: digits right before the operator name a descriptor.
                    if word.started && word.text().bytes().all(|b| b.is_ascii_digit()) {
                        word.started = false;
                    }
                    while matches!(bytes.get(self.pos), Some(b'>' | b'&' | b'|')) {
                        self.pos += 1;
                    }
                    break Stop::Redirect(c == '>');
                }
                '\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some('\n') => self.pos += 1,
                        Some('\r') if bytes.get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
                        Some(next) => {
                            word.push(next, self.pos);
                            self.pos += next.len_utf8();
                            word.started = true;
                        }
                        None => {
                            word.push('\\', at);
                            word.started = true;
                        }
                    }
                }
                '\'' | '"' => {
                    word.started = true;
                    match self.closing_quote(c) {
                        Some(close) => {
                            let inner = at + 1..close;
                            if self.text[inner.clone()].contains([' ', '\t']) {
                                self.nested.push(inner.clone());
                            }
                            self.quoted(&mut word, inner, c == '"');
                            self.pos = close + 1;
                        }
                        None => {
                            word.push(c, at);
                            self.pos += 1;
                        }
                    }
                }
                _ => {
                    // Every byte up to the next one the reader treats specially (all ASCII, so
                    // the run ends on a character boundary).
                    let end = bytes[at..self.end]
                        .iter()
                        .position(|&b| SPECIAL[usize::from(b)])
                        .map_or(self.end, |i| at + i);
                    word.push_run(at, end);
                    self.pos = end;
                    word.started = true;
                }
            }
        };
        (word.finish(), stop)
    }

    /// The offset of the quote that closes the one at `self.pos`, on the same logical line
    /// (a double-quoted part may hold escaped quotes and continued lines).
    fn closing_quote(&self, quote: char) -> Option<usize> {
        let bytes = &self.text.as_bytes()[..self.end];
        let mut i = self.pos + 1;
        while i < bytes.len() {
            match bytes[i] {
                b if b == quote as u8 => return Some(i),
                b'\n' | b'\r' => return None,
                b'\\' if quote == '"' => {
                    if bytes.get(i + 1) == Some(&b'\r') {
                        i += 1;
                    }
                    i += 2;
                }
                _ => i += 1,
            }
        }
        None
    }

    /// Appends the inside of a quoted part. In double quotes a backslash escapes `\ " $ ``
    /// and a line break (removed); elsewhere it is literal.
    fn quoted(&self, word: &mut WordBuilder<'t>, inner: Range<usize>, double: bool) {
        if !double || !self.text.as_bytes()[inner.clone()].contains(&b'\\') {
            word.push_run(inner.start, inner.end);
            return;
        }
        let mut chars = self.text[inner.clone()].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let at = inner.start + i;
            if double && c == '\\' {
                match chars.peek().copied() {
                    Some((_, '\n')) => {
                        chars.next();
                        continue;
                    }
                    Some((_, '\r')) => {
                        chars.next();
                        if chars.peek().is_some_and(|&(_, n)| n == '\n') {
                            chars.next();
                        }
                        continue;
                    }
                    Some((j, n @ ('\\' | '"' | '$' | '`'))) => {
                        chars.next();
                        word.push(n, inner.start + j);
                        continue;
                    }
                    _ => {}
                }
            }
            word.push(c, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<Vec<String>> {
        commands(text)
            .into_iter()
            .map(|c| c.words.into_iter().map(|w| w.text.into_owned()).collect())
            .collect()
    }

    #[test]
    fn words_follow_shell_quoting() {
        assert_eq!(
            texts(r#"mysql -p"a b" 'c d' e\ f; ls"#)[0],
            vec!["mysql", "-pa b", "c d", "e f"]
        );
        assert_eq!(texts("a \\\n -pX | b"), vec![vec!["a", "-pX"], vec!["b"]]);
        assert_eq!(texts("sec\\\nret"), vec![vec!["secret"]]);
    }

    #[test]
    fn sources_map_back_through_quotes_and_continuations() {
        let text = "x --password=\"ab\\\ncd\" y";
        let cmds = commands(text);
        let w = &cmds[0].words[1];
        assert_eq!(w.text, "--password=abcd");
        let span = w.source(11, w.text.len()).unwrap();
        assert_eq!(&text[span.range], "ab\\\ncd");
        assert_eq!(span.keep, "");
    }

    #[test]
    fn redirections_are_kept_apart() {
        let cmds = commands("echo pw 2>/dev/null > /etc/rsync.pass");
        assert_eq!(cmds[0].words.len(), 2);
        assert_eq!(cmds[0].written[1].text, "/etc/rsync.pass");
    }

    #[test]
    fn quoted_commands_are_read_again() {
        let all = texts(r#"log command="mysql -pX db" ok"#);
        assert!(all.contains(&vec!["mysql".to_string(), "-pX".into(), "db".into()]));
    }
}
