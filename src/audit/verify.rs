//! The chain verifier for one segment (docs/compatibility.md), streamed and parallel.
//!
//! The file is read in 4 MiB windows. Each record verifies on its own given the `prev` it
//! states, so the lines of a window are canonicalised and hashed on all cores; a
//! sequential pass then checks `seq` and `prev` links in order. Memory stays bounded by the
//! window (plus one line of at most [`MAX_LINE`] bytes) whatever the file size.
//!
//! Beyond the Python verifier, an unparseable line is judged in context rather than always
//! called tampering: the last line of a file that lacks its newline is a *torn tail* (a
//! crash mid-write), and an unparseable line that the next record's `seq` and `prev` skip
//! over cleanly is a *torn record* (a write that failed part-way and was retried). Both are
//! reported, neither breaks the chain — a torn line carries no chain value, so nothing that
//! was chained can hide behind it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::canonical::{Canonicalizer, NotARecord};
use super::chain::GENESIS;

pub use super::report::{Verdict, run_verify_cli, verify_audit};

/// Bytes read per window.
const WINDOW: usize = 4 * 1024 * 1024;
/// Longest line verified; a longer one is reported as unreadable.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// The first chained record of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Its `seq`.
    pub seq: i64,
    /// Its `prev`.
    pub prev: String,
    /// Its 1-based line number.
    pub line: u64,
}

/// The last intact chained record of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tip {
    /// Its `seq`.
    pub seq: i64,
    /// Its `chain`.
    pub chain: String,
    /// Its 1-based line number.
    pub line: u64,
}

/// An unparseable line judged to be an incomplete write rather than tampering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornLine {
    /// 1-based line number.
    pub line: u64,
    /// `true` when it is the file's last line and lacks its newline (crash mid-write).
    pub tail: bool,
}

/// What the verifier found in one file (docs/compatibility.md `verify_chain`, plus seam data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentReport {
    /// The file as named.
    pub path: String,
    /// Whether the file exists and is a regular file.
    pub present: bool,
    /// Structural result: no break found.
    pub ok: bool,
    /// Chained records verified (up to the break, if any).
    pub records: u64,
    /// The first chained record.
    pub head: Option<Head>,
    /// The last intact chained record.
    pub tip: Option<Tip>,
    /// 1-based line of the break.
    pub broken_at: Option<u64>,
    /// The verifier's sentence, as the Python implementation words it.
    pub reason: String,
    /// Torn lines (bounded list; see `torn_count`).
    pub torn: Vec<TornLine>,
    /// How many torn lines there were in all.
    pub torn_count: u64,
    /// The chain starts at seq 0 from genesis.
    pub anchored: bool,
}

impl SegmentReport {
    fn absent(path: &str, ok: bool, reason: String) -> Self {
        Self {
            path: path.to_string(),
            present: false,
            ok,
            records: 0,
            head: None,
            tip: None,
            broken_at: None,
            reason,
            torn: Vec::new(),
            torn_count: 0,
            anchored: false,
        }
    }

    /// Start seq, when any record was found.
    pub fn start_seq(&self) -> Option<i64> {
        self.head.as_ref().map(|h| h.seq)
    }
}

/// What one line is, decided independently of its neighbours.
#[derive(Debug)]
enum LineKind {
    Blank,
    /// Not JSON (or longer than [`MAX_LINE`]).
    Invalid,
    /// JSON, but not an object with integer `seq` and string `prev`/`chain`.
    Unchained,
    Chained {
        seq: i64,
        prev: String,
        chain: String,
        body_ok: bool,
    },
}

/// Per-thread buffers.
#[derive(Default)]
struct Worker {
    canon: Canonicalizer,
}

impl Worker {
    fn classify(&mut self, raw: &[u8]) -> LineKind {
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            return LineKind::Blank;
        }
        let lossy;
        let text = match std::str::from_utf8(trimmed) {
            Ok(s) => s,
            Err(_) => {
                lossy = String::from_utf8_lossy(trimmed);
                &lossy
            }
        };
        match self.canon.verify(text) {
            Err(NotARecord::InvalidJson) => LineKind::Invalid,
            Err(NotARecord::NotAnObject) => LineKind::Unchained,
            Ok((f, body_ok)) => match (f.seq, f.prev, f.chain) {
                (Some(seq), Some(prev), Some(chain)) => LineKind::Chained {
                    seq,
                    prev,
                    chain,
                    body_ok,
                },
                _ => LineKind::Unchained,
            },
        }
    }
}

/// Most torn lines listed individually.
const TORN_LISTED: usize = 100;

/// The sequential pass: link checks in file order.
struct Walk {
    line: u64,
    records: u64,
    head: Option<Head>,
    tip: Option<Tip>,
    /// Unparseable lines inside the chained region awaiting judgement.
    pending: Vec<u64>,
    torn: Vec<TornLine>,
    torn_count: u64,
    broken: Option<(u64, String)>,
}

impl Walk {
    fn new() -> Self {
        Self {
            line: 0,
            records: 0,
            head: None,
            tip: None,
            pending: Vec::new(),
            torn: Vec::new(),
            torn_count: 0,
            broken: None,
        }
    }

    fn note_torn(&mut self, line: u64, tail: bool) {
        self.torn_count += 1;
        if self.torn.len() < TORN_LISTED {
            self.torn.push(TornLine { line, tail });
        }
    }

    fn brk(&mut self, line: u64, why: &str) {
        self.broken = Some((line, format!("line {line}: {why}")));
    }

    /// Break at the first pending unparseable line, if any, else at `line` for `why`.
    fn brk_pending_or(&mut self, line: u64, why: &str) {
        match self.pending.first().copied() {
            Some(p) => self.brk(p, "invalid JSON inside the chained region"),
            None => self.brk(line, why),
        }
    }

    fn feed(&mut self, kind: LineKind) {
        self.line += 1;
        let n = self.line;
        if self.broken.is_some() {
            return;
        }
        let Some(tip) = self.tip.as_ref() else {
            // Before the chained region: skip anything that is not a chained record.
            if let LineKind::Chained {
                seq,
                prev,
                chain,
                body_ok,
            } = kind
            {
                if seq == 0 && prev != GENESIS {
                    return self.brk(n, "seq 0 must anchor to genesis");
                }
                if !body_ok {
                    return self.brk(n, "record body does not match its chain hash (tampered)");
                }
                self.head = Some(Head { seq, prev, line: n });
                self.tip = Some(Tip {
                    seq,
                    chain,
                    line: n,
                });
                self.records = 1;
            }
            return;
        };
        match kind {
            LineKind::Blank => {}
            LineKind::Invalid => self.pending.push(n),
            LineKind::Unchained => {
                self.brk_pending_or(n, "record missing chain fields inside the chained region")
            }
            LineKind::Chained {
                seq,
                prev,
                chain,
                body_ok,
            } => {
                let expected = tip.seq.saturating_add(1);
                if seq != expected {
                    let why = format!("expected seq {expected}, found {seq}");
                    return self.brk_pending_or(n, &why);
                }
                if prev != tip.chain {
                    return self
                        .brk_pending_or(n, "prev does not match the previous record's chain");
                }
                for p in std::mem::take(&mut self.pending) {
                    self.note_torn(p, false);
                }
                if !body_ok {
                    return self.brk(n, "record body does not match its chain hash (tampered)");
                }
                self.tip = Some(Tip {
                    seq,
                    chain,
                    line: n,
                });
                self.records += 1;
            }
        }
    }

    /// End of input; `last_had_newline` says whether the file ended with `\n`.
    fn finish(mut self, path: &str, last_had_newline: bool) -> SegmentReport {
        if self.broken.is_none() && !self.pending.is_empty() {
            let last = self.pending.last().copied() == Some(self.line);
            if last && !last_had_newline {
                let pending = std::mem::take(&mut self.pending);
                let tail_line = self.line;
                for p in pending {
                    self.note_torn(p, p == tail_line);
                }
            } else {
                self.brk_pending_or(self.line, "invalid JSON inside the chained region");
            }
        }
        let anchored = self
            .head
            .as_ref()
            .is_some_and(|h| h.seq == 0 && h.prev == GENESIS);
        let (ok, broken_at, reason) = match (self.broken, &self.head) {
            (Some((line, why)), _) => (false, Some(line), why),
            (None, None) => (
                true,
                None,
                "no chained records found (empty or unchained log)".to_string(),
            ),
            (None, Some(h)) if anchored => (
                true,
                None,
                format!(
                    "chain intact and genesis-anchored: {} record(s) from seq {}",
                    self.records, h.seq
                ),
            ),
            (None, Some(h)) => (
                true,
                None,
                format!(
                    "chain internally consistent: {} record(s) from seq {}, but NOT genesis-anchored (leading records removed, or a mid-stream rotation segment — verify the seam against the prior file)",
                    self.records, h.seq
                ),
            ),
        };
        SegmentReport {
            path: path.to_string(),
            present: true,
            ok,
            records: self.records,
            head: self.head,
            tip: self.tip,
            broken_at,
            reason,
            torn: self.torn,
            torn_count: self.torn_count,
            anchored,
        }
    }
}

/// Classify the complete lines of `region` (ending in `\n`) on up to `workers.len()` threads,
/// in order.
fn classify_region(region: &[u8], workers: &mut [Worker]) -> Vec<LineKind> {
    let parts = split_at_lines(region, workers.len());
    if parts.len() <= 1 {
        let w = &mut workers[0];
        return lines_of(region).map(|l| w.classify(l)).collect();
    }
    std::thread::scope(|scope| {
        let mut it = workers.iter_mut().zip(parts);
        let first = it.next();
        let handles: Vec<_> = it
            .map(|(w, part)| {
                scope.spawn(move || lines_of(part).map(|l| w.classify(l)).collect::<Vec<_>>())
            })
            .collect();
        let mut all = match first {
            Some((w, part)) => lines_of(part).map(|l| w.classify(l)).collect::<Vec<_>>(),
            None => Vec::new(),
        };
        for h in handles {
            // A worker cannot panic on input (classification is total); if one did, its
            // lines count as unreadable rather than taking the verifier down.
            match h.join() {
                Ok(v) => all.extend(v),
                Err(_) => all.push(LineKind::Invalid),
            }
        }
        all
    })
}

/// Lines of a region that ends with `\n` (or is a final line without one).
fn lines_of(region: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = region.strip_suffix(b"\n").unwrap_or(region);
    body.split(|&b| b == b'\n')
}

/// Split `region` into about `n` parts, each ending with `\n`.
fn split_at_lines(region: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = region;
    for i in (1..n).rev() {
        let target = rest.len() / (i + 1);
        if target == 0 {
            break;
        }
        match rest[target..].iter().position(|&b| b == b'\n') {
            Some(p) if target + p + 1 < rest.len() => {
                let (a, b) = rest.split_at(target + p + 1);
                parts.push(a);
                rest = b;
            }
            _ => break,
        }
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}

/// Verify a stream of jsonl (`label` names it in the report).
pub fn verify_reader<R: Read>(mut reader: R, label: &str) -> SegmentReport {
    let mut workers: Vec<Worker> = (0..threads()).map(|_| Worker::default()).collect();
    let mut walk = Walk::new();
    let mut buf: Vec<u8> = Vec::with_capacity(WINDOW + 64 * 1024);
    let mut skipping_long = false;
    let mut eof = false;
    let mut last_had_newline = true;
    while !eof {
        // Fill the window.
        let start = buf.len();
        buf.resize(start.max(WINDOW).max(start + 64 * 1024), 0);
        let mut filled = start;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let mut r = walk.finish(label, true);
                    r.ok = false;
                    r.reason = format!("read error: {e}");
                    return r;
                }
            }
        }
        buf.truncate(filled);
        if filled > start {
            last_had_newline = buf.last() == Some(&b'\n');
        }
        if skipping_long {
            match buf.iter().position(|&b| b == b'\n') {
                Some(p) => {
                    buf.drain(..=p);
                    skipping_long = false;
                }
                None => {
                    buf.clear();
                    continue;
                }
            }
        }
        let cut = match buf.iter().rposition(|&b| b == b'\n') {
            Some(p) => p + 1,
            None if eof => buf.len(),
            None => {
                if buf.len() > MAX_LINE {
                    walk.feed(LineKind::Invalid);
                    buf.clear();
                    skipping_long = true;
                }
                continue;
            }
        };
        let cut = if eof { buf.len() } else { cut };
        if cut > 0 {
            for kind in classify_region(&buf[..cut], &mut workers) {
                walk.feed(kind);
            }
            if walk.broken.is_some() {
                break;
            }
        }
        buf.drain(..cut);
    }
    walk.finish(label, last_had_newline)
}

/// Verify one file: plain, or gzip when its name ends in `.gz` (docs/compatibility.md semantics).
pub fn verify_file(path: &Path) -> SegmentReport {
    verify_file_with(path, &super::progress::Progress::hidden())
}

/// [`verify_file`], reporting the bytes read (on disk, before decompression) to `progress`.
pub fn verify_file_with(path: &Path, progress: &super::progress::Progress) -> SegmentReport {
    let label = path.display().to_string();
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            return SegmentReport::absent(&label, true, format!("audit file not found: {label}"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return SegmentReport::absent(&label, true, format!("audit file not found: {label}"));
        }
        Err(e) => {
            return SegmentReport::absent(&label, false, format!("cannot access audit file: {e}"));
        }
    }
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            return SegmentReport::absent(&label, false, format!("cannot access audit file: {e}"));
        }
    };
    let f = progress.reader(f);
    if path.extension().is_some_and(|e| e == "gz") {
        verify_reader(flate2::read::MultiGzDecoder::new(f), &label)
    } else {
        verify_reader(f, &label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_lines_whole() {
        let r = b"aa\nbbbb\nc\ndddddd\n";
        for n in 1..6 {
            let parts = split_at_lines(r, n);
            assert_eq!(parts.concat(), r.to_vec());
            assert!(parts.iter().all(|p| p.ends_with(b"\n")));
        }
    }

    #[test]
    fn empty_and_unchained() {
        let r = verify_reader(&b""[..], "x");
        assert!(r.ok && r.records == 0);
        assert_eq!(
            r.reason,
            "no chained records found (empty or unchained log)"
        );
        let r = verify_reader(&b"{\"a\": 1}\nnot json\n"[..], "x");
        assert!(r.ok && r.records == 0);
    }
}
