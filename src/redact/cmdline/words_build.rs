//! Words: the [`Word`] type with its map back to the source, how a word is built, and what a
//! thread keeps from one text's reading to the next (a child module of `words.rs`, which reads
//! the commands).

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;

use crate::redact::scan::Span;

use super::WORDS_CAPACITY;

/// The buffer of an owned word's text and its runs, kept for the next word that needs one.
pub(super) type Buffers = (String, Vec<(usize, usize)>);

/// At most this many [`Buffers`] are kept, each only while its text holds at most
/// [`KEPT_TEXT_BYTES`] and its runs list at most [`KEPT_LIST_CAPACITY`] entries (memory
/// stays bounded whatever a text held).
pub(super) const KEPT_BUFFERS: usize = 16;
pub(super) const KEPT_TEXT_BYTES: usize = 4096;

/// The largest capacity of a list (words, runs, work lists) kept from one text to the next.
pub(super) const KEPT_LIST_CAPACITY: usize = 4 * WORDS_CAPACITY;

/// What one thread's reading keeps from one text to the next: every read of a dense log
/// allocated its word list, work lists and the buffers of its quoted words anew, and gave them
/// back at its end — about a tenth of the rule's cost.
#[derive(Default)]
pub(super) struct Scratch {
    /// Two empty word lists, of the command being read and of the one before it (their
    /// lifetime is that of no text: see [`recycle`]).
    pub(super) words: Vec<Word<'static>>,
    pub(super) held: Vec<Word<'static>>,
    /// The texts still to read: (start, end, depth).
    pub(super) pending: Vec<(usize, usize, usize)>,
    /// The inner spans of quoted parts a reader found.
    pub(super) nested: Vec<Range<usize>>,
    /// Buffers of owned word texts.
    pub(super) buffers: Vec<Buffers>,
}

thread_local! {
    /// Taken for a read and put back after it; a nested read (there is none) would start
    /// from an empty one.
    pub(super) static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

/// `words` emptied, as a list for words of another text: it keeps its allocation (an
/// in-place collect of an empty list of same-sized elements).
#[allow(clippy::unnecessary_filter_map)] // the map changes the lifetime; nothing is mapped
pub(super) fn recycle<'a, 'b>(mut words: Vec<Word<'a>>) -> Vec<Word<'b>> {
    words.clear();
    words.into_iter().filter_map(|_| None).collect()
}

/// Empties `words`, keeping the buffers of owned texts in `buffers`.
pub(super) fn keep_buffers(words: &mut Vec<Word<'_>>, buffers: &mut Vec<Buffers>) {
    keep_buffers_of(words.drain(..), buffers);
}

/// Drops `words`, keeping the buffers of owned texts in `buffers`.
pub(super) fn keep_buffers_of<'t>(
    words: impl Iterator<Item = Word<'t>>,
    buffers: &mut Vec<Buffers>,
) {
    for word in words {
        if let Cow::Owned(text) = word.text
            && buffers.len() < KEPT_BUFFERS
            && text.capacity() <= KEPT_TEXT_BYTES
            && word.runs.capacity() <= KEPT_LIST_CAPACITY
        {
            buffers.push((text, word.runs));
        }
    }
}

/// Builds a word: borrowed while its bytes are one contiguous run of the source.
pub(super) struct WordBuilder<'t, 'b> {
    source: &'t str,
    /// Kept buffers, one of which an owned text takes before allocating its own.
    buffers: &'b mut Vec<Buffers>,
    /// The contiguous run so far (`start..end`), while nothing forced a copy.
    start: usize,
    end: usize,
    owned: Option<(String, Vec<(usize, usize)>)>,
    /// Whether the word has begun (an empty quoted part begins one).
    pub(super) started: bool,
}

impl<'t, 'b> WordBuilder<'t, 'b> {
    /// An empty word of `source`, drawing on `buffers` if it needs a copy.
    pub(super) fn new(source: &'t str, buffers: &'b mut Vec<Buffers>) -> Self {
        Self {
            source,
            buffers,
            start: 0,
            end: 0,
            owned: None,
            started: false,
        }
    }

    /// Appends the source character `c` at `at` (every caller pushes a character it read
    /// there).
    pub(super) fn push(&mut self, c: char, at: usize) {
        debug_assert!(self.source[at..].starts_with(c));
        self.push_run(at, at + c.len_utf8());
    }

    /// Switches to an owned text (a copy of the run so far) and returns it with its runs.
    fn owned_parts(&mut self) -> (&mut String, &mut Vec<(usize, usize)>) {
        let (text, runs) = self.owned.get_or_insert_with(|| {
            let (mut text, mut runs) = self.buffers.pop().map_or_else(
                || {
                    (
                        String::with_capacity(self.end - self.start + 32),
                        Vec::with_capacity(4),
                    )
                },
                |(mut text, mut runs)| {
                    text.clear();
                    runs.clear();
                    (text, runs)
                },
            );
            text.push_str(&self.source[self.start..self.end]);
            if self.start != self.end {
                runs.push((0, self.start));
            }
            (text, runs)
        });
        (text, runs)
    }

    /// Appends the source run `at..end` (whole characters) at once: a word is mostly such
    /// runs, and pushing them a character at a time dominated the rule's cost.
    pub(super) fn push_run(&mut self, at: usize, end: usize) {
        if at >= end {
            return;
        }
        if self.owned.is_none() {
            if self.start == self.end {
                self.start = at;
                self.end = end;
                return;
            }
            if at == self.end {
                self.end = end;
                return;
            }
        }
        let source = self.source;
        let (text, runs) = self.owned_parts();
        // A run continues while its source does.
        let continues = runs
            .last()
            .is_some_and(|&(t, s)| s + (text.len() - t) == at);
        if !continues {
            runs.push((text.len(), at));
        }
        text.push_str(&source[at..end]);
    }

    /// The text so far.
    pub(super) fn text(&self) -> &str {
        match &self.owned {
            Some((text, _)) => text,
            None => &self.source[self.start..self.end],
        }
    }

    /// The word, or `None` when it never began.
    pub(super) fn finish(self) -> Option<Word<'t>> {
        if !self.started {
            return None;
        }
        Some(match self.owned {
            Some((text, runs)) => Word {
                text: Cow::Owned(text),
                start: 0,
                runs,
                source: self.source,
            },
            None => Word {
                text: Cow::Borrowed(&self.source[self.start..self.end]),
                start: self.start,
                runs: Vec::new(),
                source: self.source,
            },
        })
    }
}

/// One shell word.
#[derive(Debug, Clone)]
pub(crate) struct Word<'t> {
    /// The word as the program receives it (quotes and escapes resolved). Borrowed from the
    /// source when it is one contiguous run of it (most words).
    pub text: Cow<'t, str>,
    /// Source offset of the first byte of a borrowed `text`.
    pub(super) start: usize,
    /// For an owned `text`: its runs of bytes copied from one stretch of the source, as
    /// (offset in `text`, source offset) of each run's first byte. A run lasts until the next
    /// one starts (the last to the end of `text`); the first starts at 0.
    pub(super) runs: Vec<(usize, usize)>,
    /// The whole source text the offsets point into.
    pub(super) source: &'t str,
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
