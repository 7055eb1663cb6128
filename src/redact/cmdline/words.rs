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

#[path = "words_build.rs"]
mod build;

use build::{Buffers, KEPT_LIST_CAPACITY, SCRATCH, Scratch, WordBuilder, keep_buffers, recycle};
#[cfg(test)]
use build::{KEPT_BUFFERS, KEPT_TEXT_BYTES};

/// How many levels of quoted text are read as commands of their own.
const MAX_DEPTH: usize = 2;

/// The bytes [`Reader::word`] treats specially outside quotes; a run of any others is part of
/// the word as it stands.
const SPECIAL: [bool; 256] = crate::redact::scan::byte_set(b" \t\n\r;()`&|<>\\'\"");

/// The length of the run of ordinary bytes (not [`SPECIAL`]) that `bytes` starts with. Four
/// bytes per step: nearly every byte of a word is ordinary, and one test per four bytes took
/// half the instructions of a test per byte.
fn ordinary_run(bytes: &[u8]) -> usize {
    let special = |b: u8| SPECIAL[usize::from(b)];
    let mut quads = bytes.chunks_exact(4);
    let mut done = 0;
    for quad in quads.by_ref() {
        if special(quad[0]) | special(quad[1]) | special(quad[2]) | special(quad[3]) {
            break;
        }
        done += 4;
    }
    done + bytes[done..]
        .iter()
        .position(|&b| special(b))
        .unwrap_or(bytes.len() - done)
}

/// The capacity of a new word list: as many words as fit in 1 KiB, the largest block glibc
/// serves from its per-thread cache. A list of 16 words (1,152 bytes) took the allocator's slow
/// path once per text read.
const WORDS_CAPACITY: usize = 1024 / std::mem::size_of::<Word<'static>>();

/// One shell word.
#[derive(Debug)]
pub(crate) struct Word<'t> {
    /// The word as the program receives it (quotes and escapes resolved). Borrowed from the
    /// source when it is one contiguous run of it (most words).
    pub text: Cow<'t, str>,
    /// Source offset of the first byte of a borrowed `text`.
    start: usize,
    /// For an owned `text`: its runs of bytes copied from one stretch of the source, as
    /// (offset in `text`, source offset) of each run's first byte. A run lasts until the next
    /// one starts (the last to the end of `text`); the first starts at 0.
    runs: Vec<(usize, usize)>,
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
            Cow::Owned(text) => {
                let runs = &self.runs;
                // The run holding byte `k` of `text`, and the source offset of that byte.
                let run_of = |k: usize| runs.partition_point(|&(t, _)| t <= k).saturating_sub(1);
                let source_of = |k: usize| runs.get(run_of(k)).map(|&(t, s)| s + (k - t));
                let range = source_of(start)?..source_of(end - 1)? + 1;
                // The source bytes between the runs that hold the value are what the reader
                // dropped: quotes, and backslashes of escapes and continuations (which
                // `Span::with_quotes` passes over).
                let bytes = self.source.as_bytes();
                let quotes = runs
                    .get(run_of(start)..=run_of(end - 1))?
                    .windows(2)
                    .flat_map(|pair| {
                        let (t, s) = pair[0];
                        let (next_t, next_s) = pair[1];
                        bytes.get(s + (next_t - t)..next_s).unwrap_or_default()
                    })
                    .copied();
                debug_assert!(runs.last().is_none_or(|&(t, _)| t < text.len()));
                Some(Span::with_quotes(range, quotes))
            }
        }
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

/// A word list `emit` hands back (emptied) for the reader to fill again: a command's words
/// are read into it instead of a new allocation.
pub(crate) type Spare<'t> = Option<Vec<Word<'t>>>;

/// What [`for_each_command`] calls with each command and the one after it in the same text
/// (`None` for the last): a pipe leads only to a command of its own text, never into a
/// quoted part read after it.
pub(crate) type Emit<'e, 't> = dyn FnMut(Command<'t>, Option<&Command<'t>>) -> Spare<'t> + 'e;

/// Calls `emit` with every simple command of `text`, then of the quoted parts with whitespace
/// inside, one at a time (memory stays bounded by two commands plus the quoted spans).
#[cfg(test)]
pub(crate) fn for_each_command<'t>(text: &'t str, emit: &mut Emit<'_, 't>) {
    for_each_command_in(text, 0..text.len(), &|_| true, emit);
}

/// [`for_each_command`] over `text[range]`, which must start where a command may start (the
/// start of the text or of a line that no `\` continues). A quoted part is read only when
/// `worth` says so of its inside.
pub(crate) fn for_each_command_in<'t>(
    text: &'t str,
    range: Range<usize>,
    worth: &dyn Fn(&str) -> bool,
    emit: &mut Emit<'_, 't>,
) {
    let scratch = SCRATCH.take();
    let mut pending = scratch.pending;
    pending.clear();
    pending.push((range.start, range.end, 0usize));
    let mut spare: Spare<'t> = Some(recycle(scratch.words));
    // One list of quoted spans serves every reader in turn.
    let mut nested = scratch.nested;
    let mut buffers = scratch.buffers;
    while let Some((start, end, depth)) = pending.pop() {
        nested.clear();
        let mut reader = Reader {
            text,
            end,
            pos: start,
            nested,
            spare: spare.take(),
            buffers,
        };
        reader.read(emit);
        spare = reader.spare.take();
        nested = reader.nested;
        buffers = reader.buffers;
        if depth + 1 < MAX_DEPTH {
            pending.extend(
                nested
                    .iter()
                    .filter(|r| text.get((*r).clone()).is_some_and(worth))
                    .map(|r| (r.start, r.end, depth + 1)),
            );
        }
    }
    let mut words = spare.unwrap_or_default();
    keep_buffers(&mut words, &mut buffers);
    // A list that a long text grew is not kept: what a thread holds stays small.
    let small = |capacity: usize| capacity <= KEPT_LIST_CAPACITY;
    SCRATCH.set(Scratch {
        words: if small(words.capacity()) {
            recycle(words)
        } else {
            Vec::new()
        },
        pending: if small(pending.capacity()) {
            pending
        } else {
            Vec::new()
        },
        nested: if small(nested.capacity()) {
            nested
        } else {
            Vec::new()
        },
        buffers,
    });
}

/// Every simple command of `text` (see [`for_each_command`]).
#[cfg(test)]
pub(crate) fn commands(text: &str) -> Vec<Command<'_>> {
    let mut out = Vec::new();
    for_each_command(text, &mut |c, _| {
        out.push(c);
        None
    });
    out
}

struct Reader<'t> {
    text: &'t str,
    end: usize,
    pos: usize,
    /// Inner spans of quoted parts that hold whitespace.
    nested: Vec<Range<usize>>,
    /// An empty word list to read the next command into.
    spare: Spare<'t>,
    /// Buffers of owned word texts, kept for the next ones.
    buffers: Vec<Buffers>,
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

    /// An empty command, its word list the spare one when there is one (else one that
    /// allocates at its first word: a text that ends with a line break ends with an empty
    /// command).
    fn fresh(&mut self) -> Command<'t> {
        let words = match self.spare.take() {
            Some(mut w) => {
                keep_buffers(&mut w, &mut self.buffers);
                w
            }
            None => Vec::new(),
        };
        Command {
            words,
            written: Vec::new(),
            next: Next::Other,
        }
    }

    fn read(&mut self, out: &mut Emit<'_, 't>) {
        let mut cmd = self.fresh();
        // The last command read, emitted once the one after it is known.
        let mut held: Option<Command<'t>> = None;
        // The next word is the target of a redirection (`Some(true)`: an output file).
        let mut target: Option<bool> = None;
        loop {
            // Where the next word goes: a word is built in its list, not moved there.
            let (stop, read) = match target {
                Some(true) => self.word(Some((&mut cmd.written, 1))),
                Some(false) => self.word(None),
                None => self.word(Some((&mut cmd.words, WORDS_CAPACITY))),
            };
            if read {
                target = None;
            }
            match stop {
                Stop::Space => {}
                Stop::Redirect(output) => {
                    target = Some(output);
                }
                Stop::Command(next) => {
                    cmd.next = next;
                    if cmd.words.is_empty() {
                        // Nothing to emit (no words): the command is read again from scratch.
                        cmd.written.clear();
                        cmd.next = Next::Other;
                    } else {
                        let done = std::mem::replace(
                            &mut cmd,
                            Command {
                                words: Vec::new(),
                                written: Vec::new(),
                                next: Next::Other,
                            },
                        );
                        if let Some(words) = held.take().and_then(|h| out(h, Some(&done))) {
                            self.spare = Some(words);
                        }
                        held = Some(done);
                        cmd = self.fresh();
                    }
                    target = None;
                }
                Stop::End => {
                    if !cmd.words.is_empty() {
                        if let Some(words) = held.take().and_then(|h| out(h, Some(&cmd))) {
                            self.spare = Some(words);
                        }
                        held = Some(cmd);
                    }
                    // The last list goes back too: the next quoted part is read into it.
                    if let Some(words) = held.and_then(|h| out(h, None)) {
                        self.spare = Some(words);
                    }
                    return;
                }
            }
        }
    }

    /// Reads one word (if any) into a list (given with the room a list without any gets at
    /// its first word; `None`: the word is dropped), and returns what ended it and whether
    /// there was a word.
    fn word(&mut self, into: Option<(&mut Vec<Word<'t>>, usize)>) -> (Stop, bool) {
        let bytes = self.text.as_bytes();
        // Most words are one run of ordinary bytes ended by a blank or the end of the text:
        // such a word is the run itself, and is taken without the general loop.
        let Some(blanks) = bytes[self.pos.min(self.end)..self.end]
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t'))
        else {
            self.pos = self.end;
            return (Stop::End, false);
        };
        self.pos += blanks;
        let start = self.pos;
        let end = start + ordinary_run(&bytes[start..self.end]);
        if end > start {
            let stop = match bytes.get(end) {
                _ if end == self.end => Some(Stop::End),
                Some(b' ' | b'\t') => Some(Stop::Space),
                _ => None,
            };
            if let Some(stop) = stop {
                self.pos = if matches!(stop, Stop::End) {
                    end
                } else {
                    end + 1
                };
                if let Some((list, room)) = into {
                    if list.capacity() == 0 {
                        list.reserve_exact(room);
                    }
                    list.push(Word {
                        text: Cow::Borrowed(&self.text[start..end]),
                        start,
                        runs: Vec::new(),
                        source: self.text,
                    });
                }
                return (stop, true);
            }
        }
        // The builder borrows the kept buffers; they go back when the word is built.
        let mut buffers = std::mem::take(&mut self.buffers);
        let mut word = WordBuilder::new(self.text, &mut buffers);
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
                    let end = at + ordinary_run(&bytes[at..self.end]);
                    word.push_run(at, end);
                    self.pos = end;
                    word.started = true;
                }
            }
        };
        let word = word.finish();
        self.buffers = buffers;
        let read = word.is_some();
        if let (Some(word), Some((list, room))) = (word, into) {
            if list.capacity() == 0 {
                list.reserve_exact(room);
            }
            list.push(word);
        }
        (stop, read)
    }

    /// The offset of the quote that closes the one at `self.pos`, on the same logical line
    /// (a double-quoted part may hold escaped quotes and continued lines).
    fn closing_quote(&self, quote: char) -> Option<usize> {
        let bytes = &self.text.as_bytes()[..self.end];
        let quote = quote as u8;
        let mut i = self.pos + 1;
        // Byte searches for the bytes that matter: the quote, a line break and (in double
        // quotes) a backslash. Every other byte is skipped, as a byte-by-byte scan would.
        while i < bytes.len() {
            let rest = &bytes[i..];
            let p = if quote == b'"' {
                let p = memchr::memchr3(quote, b'\\', b'\n', rest)?;
                if memchr::memchr(b'\r', &rest[..p]).is_some() {
                    return None;
                }
                p
            } else {
                memchr::memchr3(quote, b'\n', b'\r', rest)?
            };
            i += p;
            match bytes[i] {
                b'\\' => {
                    if bytes.get(i + 1) == Some(&b'\r') {
                        i += 1;
                    }
                    i += 2;
                }
                b'\n' | b'\r' => return None,
                _ => return Some(i),
            }
        }
        None
    }

    /// Appends the inside of a quoted part. In double quotes a backslash escapes `\ " $ ``
    /// and a line break (removed); elsewhere it is literal.
    fn quoted(&self, word: &mut WordBuilder<'t, '_>, inner: Range<usize>, double: bool) {
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
#[path = "words_tests.rs"]
mod tests;
