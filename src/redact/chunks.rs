//! The text mode on several cores: the input is cut into chunks at line breaks where no
//! redaction unit of the serial text mode crosses, the chunks are redacted on worker threads
//! by that same serial text mode, and their outputs are written in input order.
//!
//! The output is therefore byte for byte the serial output: at a safe cut the serial text
//! mode holds no state (every unit it reads starts at a line start and ends at a line break:
//! a line, a `\`-continued group, a private-key group or the windows of an overlong line), so
//! redacting the text after the cut on its own gives what the serial pass gives there.
//!
//! Threads: the caller's thread writes (the output need not be `Send`), one thread reads and
//! cuts, and the workers redact. Every channel is bounded, so memory stays bounded by a few
//! chunks per worker whatever the input size. Each read is dispatched as soon as it holds a
//! safe cut, so a slow stream (`journalctl -f | relay-shell redact`) is written line by line
//! as it arrives, not held back until a chunk fills.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use super::Redactor;
use super::cli::{BLOCK_BYTES, CONTINUED_MAX_BYTES, PEM_GROUP_MAX_BYTES, continues, redact_serial};

/// Bytes asked for per read; a chunk is at most this much plus what an unsafe tail adds.
pub(super) const CHUNK_BYTES: usize = 1 << 20;

/// Largest a chunk grows while no safe cut is found in it (a single line longer than this,
/// or a run of `\`-continued lines or private-key headers): the rest of the stream is then
/// redacted by the serial text mode on the reading thread, still in order.
pub(super) const CHUNK_MAX_BYTES: usize = 8 << 20;

/// The most worker threads used, whatever the core count: the writer and the reader must
/// keep up with them.
const MAX_WORKERS: usize = 4;

/// How many worker threads to use on this machine (1: no threads, the serial text mode).
pub(super) fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_WORKERS)
}

/// A piece of output, numbered in input order.
type Piece = (u64, io::Result<Vec<u8>>);

/// Buffers handed back after use, so that chunks and outputs reuse memory the process has
/// already touched instead of fresh pages (a fresh megabyte costs 256 page faults, as much
/// as scanning it).
struct Pool(Mutex<Vec<Vec<u8>>>);

impl Pool {
    /// At most this many buffers are kept.
    const KEEP: usize = 4 * MAX_WORKERS;

    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_default()
    }

    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        if let Ok(mut free) = self.0.lock()
            && free.len() < Self::KEEP
        {
            free.push(buf);
        }
    }
}

/// How the input is cut: [`CHUNK_BYTES`] and [`CHUNK_MAX_BYTES`] (the tests use small ones).
#[derive(Clone, Copy)]
pub(super) struct Cutting {
    /// Bytes asked for per read.
    pub chunk: usize,
    /// Largest chunk without a safe cut before the serial fallback.
    pub max: usize,
}

/// The sizes `relay-shell redact` uses.
pub(super) const CUTTING: Cutting = Cutting {
    chunk: CHUNK_BYTES,
    max: CHUNK_MAX_BYTES,
};

/// Redacts `input` into `output` with `workers` threads.
pub(super) fn redact_parallel(
    input: impl Read + Send,
    mut output: impl Write,
    redactor: &Redactor,
    workers: usize,
    cutting: Cutting,
) -> io::Result<()> {
    let workers = workers.max(1);
    let pool = &Pool(Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(workers);
        // Shared by the workers and dropped with the last: the reader then stops too.
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (piece_tx, piece_rx) = mpsc::sync_channel::<Piece>(2 * workers);
        for _ in 0..workers {
            let (job_rx, piece_tx) = (Arc::clone(&job_rx), piece_tx.clone());
            scope.spawn(move || work(&job_rx, &piece_tx, pool, redactor));
        }
        drop(job_rx);
        let reader = {
            let piece_tx = piece_tx.clone();
            scope.spawn(move || read_and_cut(input, &job_tx, &piece_tx, pool, redactor, cutting))
        };
        drop(piece_tx);
        let written = write_in_order(&piece_rx, &mut output, pool);
        // On a write error the other threads stop at their next send (the receiver is gone).
        drop(piece_rx);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the reading thread failed")));
        written.and(read)?;
        output.flush()
    })
}

/// A worker: redacts chunks until the reader is done or the writer has gone.
fn work(
    jobs: &Mutex<Receiver<(u64, Vec<u8>)>>,
    pieces: &SyncSender<Piece>,
    pool: &Pool,
    redactor: &Redactor,
) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((n, text)) = job else {
            return;
        };
        let mut out = ChunkOutput {
            input: &text,
            passed: 0,
            copy: None,
            pool,
        };
        let result = redact_serial(&text[..], &mut out, redactor).map(|()| out.copy);
        let result = match result {
            Ok(Some(copy)) => {
                pool.give(text);
                Ok(copy)
            }
            // Only slices of the input were written, in order: the output is the input.
            Ok(None) => {
                let passed = out.passed;
                let mut text = text;
                text.truncate(passed);
                Ok(text)
            }
            Err(e) => {
                pool.give(text);
                Err(e)
            }
        };
        if pieces.send((n, result)).is_err() {
            return;
        }
    }
}

/// A worker's output. The serial text mode writes clean text as slices of its input (the
/// chunk); while every write is the input's next slice, nothing is copied and the output is
/// the chunk itself. The first other write copies what passed so far and continues in a copy.
struct ChunkOutput<'t> {
    /// The chunk being redacted.
    input: &'t [u8],
    /// How much of it was written through as it stands.
    passed: usize,
    /// The output, once it differs from the input.
    copy: Option<Vec<u8>>,
    pool: &'t Pool,
}

impl Write for ChunkOutput<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if bytes.is_empty() {
            return Ok(0);
        }
        match &mut self.copy {
            Some(copy) => copy.extend_from_slice(bytes),
            None => {
                let next = &self.input[self.passed..];
                if std::ptr::eq(bytes.as_ptr(), next.as_ptr()) && bytes.len() <= next.len() {
                    self.passed += bytes.len();
                } else {
                    let mut copy = self.pool.take();
                    copy.reserve(self.input.len() + self.input.len() / 8);
                    copy.extend_from_slice(&self.input[..self.passed]);
                    copy.extend_from_slice(bytes);
                    self.copy = Some(copy);
                }
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the pieces in their order as they arrive, until every sender is gone.
fn write_in_order(
    pieces: &Receiver<Piece>,
    output: &mut impl Write,
    pool: &Pool,
) -> io::Result<()> {
    let mut next = 0u64;
    let mut early: BTreeMap<u64, io::Result<Vec<u8>>> = BTreeMap::new();
    while let Ok((n, piece)) = pieces.recv() {
        early.insert(n, piece);
        while let Some(piece) = early.remove(&next) {
            let piece = piece?;
            output.write_all(&piece)?;
            pool.give(piece);
            next += 1;
        }
    }
    Ok(())
}

/// The reading thread: reads, cuts at safe line breaks and hands the chunks out. Returns the
/// read error that ended the stream, if any.
fn read_and_cut(
    mut input: impl Read,
    jobs: &SyncSender<(u64, Vec<u8>)>,
    pieces: &SyncSender<Piece>,
    pool: &Pool,
    redactor: &Redactor,
    cutting: Cutting,
) -> io::Result<()> {
    let chunk = cutting.chunk;
    let mut pending: Vec<u8> = Vec::new();
    let mut n = 0u64;
    loop {
        let searched = pending.len();
        let want = chunk.saturating_sub(searched).max(chunk / 4).max(1);
        if read_some(&mut input, &mut pending, want)? == 0 {
            // The end: the rest is the last chunk (a send error means the writer has gone).
            if !pending.is_empty() {
                let _ = jobs.send((n, pending));
            }
            return Ok(());
        }
        match safe_cut(&pending, searched) {
            Some(at) => {
                let mut rest = pool.take();
                rest.extend_from_slice(&pending[at..]);
                pending.truncate(at);
                let text = std::mem::replace(&mut pending, rest);
                if jobs.send((n, text)).is_err() {
                    return Ok(());
                }
                n += 1;
            }
            None if pending.len() < cutting.max => {}
            None => {
                // No safe cut in sight: the serial text mode takes the rest, in order.
                let mut out = PieceWriter {
                    pieces,
                    next: n,
                    buf: Vec::new(),
                };
                let rest = io::Cursor::new(std::mem::take(&mut pending)).chain(input);
                let rest = io::BufReader::with_capacity(BLOCK_BYTES, rest);
                let result = redact_serial(rest, &mut out, redactor);
                return match result.and_then(|()| out.flush()) {
                    Err(e) if PieceWriter::gone(&e) => Ok(()),
                    other => other,
                };
            }
        }
    }
}

/// Appends up to `want` bytes of one read to `buf`. Returns how many (0 at the end).
fn read_some(input: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    let start = buf.len();
    buf.resize(start + want, 0);
    let got = loop {
        match input.read(&mut buf[start..]) {
            Ok(got) => break got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    };
    buf.truncate(start + got);
    Ok(got)
}

/// The end of the last line of `text` after which the serial text mode holds no state: the
/// line does not continue (`\`) into the next, and no private-key group opened before it may
/// still be gathering lines. `None` when there is none after byte `searched`: the caller
/// looked at `text[..searched]` before, and text added after a cut cannot make it safe.
///
/// Linear: each line end is looked at once, most only for its last bytes; the key-header
/// search runs only at line ends that do not continue, and each either ends the search or
/// moves it before a header.
pub(super) fn safe_cut(text: &[u8], searched: usize) -> Option<usize> {
    let mut end = text.len();
    loop {
        let nl = memchr::memrchr(b'\n', &text[..end])?;
        let at = nl + 1;
        if at <= searched {
            return None;
        }
        if continues(&text[..at]) {
            end = nl;
            continue;
        }
        // A private-key group starts at a header without its footer after it and gathers at
        // most PEM_GROUP_MAX_BYTES: a cut within that reach of the last header before it, with
        // no footer between, could fall inside the group. A header further back does not
        // matter, so only that reach is searched.
        let reach = at.saturating_sub(PEM_GROUP_MAX_BYTES + CONTINUED_MAX_BYTES);
        match memchr::memmem::rfind(&text[reach..at], b"-----BEGIN ").map(|b| reach + b) {
            Some(begin) if memchr::memmem::find(&text[begin..at], b"-----END ").is_none() => {
                end = memchr::memrchr(b'\n', &text[..begin]).map_or(0, |nl| nl + 1);
            }
            _ => return Some(at),
        }
    }
}

/// Sends the serial text mode's output as numbered pieces (the fallback of [`read_and_cut`]).
struct PieceWriter<'p> {
    pieces: &'p SyncSender<Piece>,
    next: u64,
    buf: Vec<u8>,
}

impl PieceWriter<'_> {
    /// Whether `e` only says the writing thread has gone (it reports its own error).
    fn gone(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<Gone>())
    }

    fn send(&mut self) -> io::Result<()> {
        let piece = std::mem::take(&mut self.buf);
        self.pieces
            .send((self.next, Ok(piece)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, Gone))?;
        self.next += 1;
        Ok(())
    }
}

/// The error a [`PieceWriter`] reports once the writing thread has gone.
#[derive(Debug)]
struct Gone;

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the writing thread has stopped")
    }
}

impl std::error::Error for Gone {}

impl Write for PieceWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        // Whole lines are sent at once, so a slow stream is written as it arrives.
        if self.buf.len() >= CHUNK_BYTES || bytes.ends_with(b"\n") {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

#[cfg(test)]
#[path = "chunks_tests.rs"]
mod tests;
