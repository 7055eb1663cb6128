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
//! A long command is handed over in windows of a bounded number of words ([`Reading`]), so
//! what the reader holds stays bounded however many words a command has.
//!
//! Linear: every byte is read once per level, and there are at most [`MAX_DEPTH`] levels.

use std::borrow::Cow;
use std::ops::Range;

#[path = "words_build.rs"]
mod build;
#[path = "words_quotes.rs"]
mod quotes;

pub(crate) use build::Word;

use build::{
    Buffers, KEPT_LIST_CAPACITY, SCRATCH, Scratch, WordBuilder, keep_buffers, keep_buffers_of,
    recycle,
};
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

/// What follows a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// `|`: the next command reads this one's output.
    Pipe,
    /// Anything else (`;`, `&&`, a line break, the end).
    Other,
}

/// A simple command as handed over: its words (redirections left out), or a window of them.
#[derive(Debug, Clone)]
pub(crate) struct Command<'t> {
    /// The words, redirections left out: all of them, or a window of a long command's.
    pub words: Vec<Word<'t>>,
    /// The words this hand-over is for: `words[..names]`. In a window that more follow, the
    /// words after these are there only as the words those read after them; the next window
    /// starts with them. Otherwise every word.
    pub names: usize,
    /// Whether `words` is a later window of a command: its first word is not the command's.
    pub continued: bool,
    /// Whether an output redirection (`>`, `>>`) of the command so far writes a target that
    /// [`Reading::target`] accepts.
    pub writes_target: bool,
    /// The word of the command's last here-string (`<<< WORD`), which the command reads on
    /// its standard input. A command read in windows hands it over with the window it was
    /// read during (the later windows' first word is not the command's).
    pub here: Option<Word<'t>>,
    /// What follows the command (`Other` in a window that more follow).
    pub next: Next,
}

impl<'t> Command<'t> {
    /// An empty command whose words go into `words` (emptied).
    fn with_list(mut words: Vec<Word<'t>>) -> Self {
        words.clear();
        Command {
            words,
            names: 0,
            continued: false,
            writes_target: false,
            here: None,
            next: Next::Other,
        }
    }
}

/// What the caller of [`for_each_command_in`] asks of the reading.
pub(crate) struct Reading<'a> {
    /// Whether a quoted part is read as a text of its own (asked of its inside).
    pub worth: &'a dyn Fn(&str) -> bool,
    /// Whether a command that starts with this word is handed over whole however long it
    /// grows; any other is handed over in windows once it has [`Self::window`] words.
    pub whole: &'a dyn Fn(&str) -> bool,
    /// Whether an output redirection target matters ([`Command::writes_target`]).
    pub target: &'a dyn Fn(&str) -> bool,
    /// The most words a command holds before a window of it is handed over (more than
    /// `lookahead`).
    pub window: usize,
    /// How many words after a word the caller reads with it: a window hands over all its
    /// words but the last `lookahead`, which start the next window.
    pub lookahead: usize,
}

/// What [`for_each_command_in`] calls with each command (or window of one) and the command
/// after it in the same text (`None` for the last, and for a window that more follow): a pipe
/// leads only to a command of its own text, never into a quoted part read after it. A command
/// is handed over before the first window of the command after it, with that window as its
/// next.
pub(crate) type Emit<'e, 't> = dyn FnMut(&Command<'t>, Option<&Command<'t>>) + 'e;

/// What the tests read with: every quoted part, every command whole, every target.
#[cfg(test)]
pub(crate) const READ_ALL: Reading<'static> = Reading {
    worth: &|_| true,
    whole: &|_| true,
    target: &|_| true,
    window: usize::MAX,
    lookahead: 0,
};

/// Calls `emit` with every simple command of `text`, then of the quoted parts with whitespace
/// inside, one at a time (memory stays bounded by two commands plus the quoted spans).
#[cfg(test)]
pub(crate) fn for_each_command<'t>(text: &'t str, emit: &mut Emit<'_, 't>) {
    for_each_command_in(text, 0..text.len(), &READ_ALL, emit);
}

/// [`for_each_command`] over `text[range]`, which must start where a command may start (the
/// start of the text or of a line that no `\` continues), read as `reading` asks.
pub(crate) fn for_each_command_in<'t>(
    text: &'t str,
    range: Range<usize>,
    reading: &Reading<'_>,
    emit: &mut Emit<'_, 't>,
) {
    debug_assert!(reading.window > reading.lookahead);
    let scratch = SCRATCH.take();
    let mut pending = scratch.pending;
    pending.clear();
    pending.push((range.start, range.end, 0usize));
    // The command being read and the one read before it, whose lists every reader reuses.
    let mut cmd = Command::with_list(recycle(scratch.words));
    let mut held = Command::with_list(recycle(scratch.held));
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
            buffers,
            targets: Vec::new(),
            reading,
        };
        reader.read(&mut cmd, &mut held, emit);
        nested = reader.nested;
        buffers = reader.buffers;
        if depth + 1 < MAX_DEPTH {
            pending.extend(
                nested
                    .iter()
                    .filter(|r| text.get((*r).clone()).is_some_and(reading.worth))
                    .map(|r| (r.start, r.end, depth + 1)),
            );
        }
    }
    keep_buffers(&mut cmd.words, &mut buffers);
    keep_buffers(&mut held.words, &mut buffers);
    // A list that a long text grew is not kept: what a thread holds stays small.
    let small = |capacity: usize| capacity <= KEPT_LIST_CAPACITY;
    let kept = |words: Vec<Word<'t>>| {
        if small(words.capacity()) {
            recycle(words)
        } else {
            Vec::new()
        }
    };
    SCRATCH.set(Scratch {
        words: kept(cmd.words),
        held: kept(held.words),
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
    for_each_command(text, &mut |c, _| out.push(c.clone()));
    out
}

struct Reader<'t, 'a> {
    text: &'t str,
    end: usize,
    pos: usize,
    /// Inner spans of quoted parts that hold whitespace.
    nested: Vec<Range<usize>>,
    /// Buffers of owned word texts, kept for the next ones.
    buffers: Vec<Buffers>,
    /// The list an output redirection's target is read into (and emptied after its check).
    targets: Vec<Word<'t>>,
    reading: &'a Reading<'a>,
}

/// What ended a word.
enum Stop {
    /// Whitespace or the end of a word only.
    Space,
    /// The command ends here (`next`).
    Command(Next),
    /// A redirection operator `>` / `>>` (`true`) or `<` (`false`).
    Redirect(bool),
    /// A here-string operator `<<<`: the next word is the command's standard input.
    HereString,
    /// End of the text.
    End,
}

/// What the word after a redirection operator is.
#[derive(Clone, Copy)]
enum Target {
    /// The file of an output redirection.
    Output,
    /// The file of an input redirection (or a here-document's delimiter).
    Input,
    /// A here-string.
    HereString,
}

impl<'t> Reader<'t, '_> {
    fn peek(&self) -> Option<char> {
        if self.pos >= self.end {
            return None;
        }
        match self.text.as_bytes().get(self.pos) {
            Some(&b) if b.is_ascii() => Some(char::from(b)),
            _ => self.text.get(self.pos..self.end)?.chars().next(),
        }
    }

    /// Reads the commands of the text into `cmd` and `held` (both empty before and after).
    fn read(&mut self, cmd: &mut Command<'t>, held: &mut Command<'t>, out: &mut Emit<'_, 't>) {
        // Whether `held` holds the last command read, handed over once the one after it is
        // known.
        let mut holding = false;
        // Whether the command being read is handed over whole (asked at its first window).
        let mut whole: Option<bool> = None;
        // The next word is the target of a redirection (`Some(Target::Output)`: an output
        // file) or a here-string.
        let mut target: Option<Target> = None;
        loop {
            // Where the next word goes: a word is built in its list, not moved there.
            let (stop, read) = match target {
                Some(Target::Output) => self.target_word(cmd),
                Some(Target::Input) => self.word(None),
                Some(Target::HereString) => self.here_word(cmd),
                None => self.word(Some((&mut cmd.words, WORDS_CAPACITY))),
            };
            if read {
                if target.is_none()
                    && cmd.words.len() >= self.reading.window
                    && !*whole.get_or_insert_with(|| {
                        !cmd.continued && (self.reading.whole)(&cmd.words[0].text)
                    })
                {
                    self.hand_over_window(cmd, held, &mut holding, out);
                }
                target = None;
            }
            let next = match stop {
                Stop::Space => continue,
                Stop::Redirect(output) => {
                    target = Some(if output {
                        Target::Output
                    } else {
                        Target::Input
                    });
                    continue;
                }
                Stop::HereString => {
                    target = Some(Target::HereString);
                    continue;
                }
                Stop::Command(next) => Some(next),
                Stop::End => None,
            };
            // A command without words has nothing to hand over: it is read again from scratch.
            if !cmd.words.is_empty() {
                cmd.next = next.unwrap_or(Next::Other);
                cmd.names = cmd.words.len();
                if holding {
                    out(held, Some(cmd));
                }
                std::mem::swap(cmd, held);
                holding = true;
            }
            self.clear(cmd);
            whole = None;
            target = None;
            if next.is_none() {
                if holding {
                    out(held, None);
                }
                self.clear(held);
                return;
            }
        }
    }

    /// Hands over a window of `cmd` (which must hold more than `lookahead` words): `held`
    /// first, which reads the first word of the command after it (this window holds it), then
    /// the window, and keeps its last `lookahead` words to start the next.
    fn hand_over_window(
        &mut self,
        cmd: &mut Command<'t>,
        held: &mut Command<'t>,
        holding: &mut bool,
        out: &mut Emit<'_, 't>,
    ) {
        if *holding {
            out(held, Some(cmd));
            self.clear(held);
            *holding = false;
        }
        cmd.names = cmd.words.len() - self.reading.lookahead;
        out(cmd, None);
        let names = cmd.names;
        keep_buffers_of(cmd.words.drain(..names), &mut self.buffers);
        // A here-string read so far went with this window, which holds the command's name.
        if let Some(here) = cmd.here.take() {
            keep_buffers_of(std::iter::once(here), &mut self.buffers);
        }
        cmd.continued = true;
    }

    /// Empties `cmd` for the next command, keeping its list and the buffers of its words.
    fn clear(&mut self, cmd: &mut Command<'t>) {
        if !cmd.words.is_empty() {
            keep_buffers(&mut cmd.words, &mut self.buffers);
        }
        cmd.names = 0;
        cmd.continued = false;
        cmd.writes_target = false;
        if let Some(here) = cmd.here.take() {
            keep_buffers_of(std::iter::once(here), &mut self.buffers);
        }
        cmd.next = Next::Other;
    }

    /// Reads the word of a here-string of `cmd` into [`Command::here`].
    /// (Apart and cold, as [`Self::target_word`].)
    #[cold]
    #[inline(never)]
    fn here_word(&mut self, cmd: &mut Command<'t>) -> (Stop, bool) {
        let mut list = std::mem::take(&mut self.targets);
        let result = self.word(Some((&mut list, 1)));
        if let Some(word) = list.pop()
            && let Some(old) = cmd.here.replace(word)
        {
            keep_buffers_of(std::iter::once(old), &mut self.buffers);
        }
        keep_buffers(&mut list, &mut self.buffers);
        self.targets = list;
        result
    }

    /// Reads the target of an output redirection of `cmd` and notes whether it matters.
    /// (Apart and cold: the reader's loop keeps one inlined copy of [`Self::word`].)
    #[cold]
    #[inline(never)]
    fn target_word(&mut self, cmd: &mut Command<'t>) -> (Stop, bool) {
        let mut list = std::mem::take(&mut self.targets);
        let result = self.word(Some((&mut list, 1)));
        if let Some(word) = list.last() {
            cmd.writes_target |= (self.reading.target)(&word.text);
        }
        keep_buffers(&mut list, &mut self.buffers);
        self.targets = list;
        result
    }

    /// Reads one word (if any) into a list (given with the room a list without any gets at
    /// its first word; `None`: the word is dropped), and returns what ended it and whether
    /// there was a word.
    #[inline(always)]
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
                '<' if bytes[self.pos..].starts_with(b"<<<") => {
                    self.pos += 3;
                    break Stop::HereString;
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
}

#[cfg(test)]
#[path = "words_tests.rs"]
mod tests;
