//! `relay-shell redact`: stdin → stdout with the rules the audit log uses.
//!
//! Text mode streams in constant memory. Each line is redacted on its own, with three
//! exceptions that keep secrets whole:
//! - a line ending in a `\` continuation is redacted together with the lines it continues
//!   into (at most [`CONTINUED_MAX_BYTES`]), so a command split across lines is read whole —
//!   from its first line, wherever in the group a rule finds work;
//! - a private-key header whose footer is not on the same line starts a group that runs to
//!   the footer (at most [`PEM_GROUP_MAX_BYTES`]), redacted as one text;
//! - a line longer than [`LINE_WINDOW_BYTES`] is redacted in windows, each cut at whitespace
//!   where a probe shows that no rule reaches across the cut (a keyword, flag or header right
//!   before the cut would take the word after it).
//!
//! Bytes that are not UTF-8 pass through untouched and separate the text around them.
//! JSON mode reads one document (at most [`JSON_INPUT_MAX_BYTES`]) and redacts every string
//! value and object key, without truncation.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::ExitCode;
use std::sync::LazyLock;

use super::engine::Engine;
use super::{Redactor, chunks};

/// Longest piece of one line redacted at once; longer lines are cut into windows.
pub const LINE_WINDOW_BYTES: usize = 1 << 20;

/// Buffer of the text mode: the block of whole lines searched for hints at once.
pub(super) const BLOCK_BYTES: usize = 256 << 10;

/// Largest JSON document `--json` accepts.
pub const JSON_INPUT_MAX_BYTES: usize = 64 << 20;

/// Largest private-key group gathered across lines.
pub(super) const PEM_GROUP_MAX_BYTES: usize = 64 << 10;

/// Largest group of `\`-continued lines redacted as one command.
pub(super) const CONTINUED_MAX_BYTES: usize = 64 << 10;

/// How far back from the end of a full window a cut point is looked for.
const CUT_SEARCH_BYTES: usize = 64 << 10;

/// Context before a candidate cut that the probe looks at.
const CUT_PROBE_CONTEXT_BYTES: usize = 256;

/// Runs the `redact` verb on stdin/stdout. Exit 0 on success, 2 on bad input (invalid or
/// oversized JSON), 1 when stdin or stdout fails. A closed stdout (`| head`) is success.
pub fn run_cli(json: bool, redactor: &Redactor) -> ExitCode {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let result = if json {
        redact_json_document(stdin.lock(), stdout.lock(), redactor)
    } else {
        redact_stream(stdin, stdout.lock(), redactor)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            eprintln!("relay-shell: redact: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("relay-shell: redact: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads one JSON document from `input`, writes it back with every string value and key
/// redacted. Invalid or oversized input is an `InvalidData` error that names the problem.
pub fn redact_json_document(
    input: impl Read,
    mut output: impl Write,
    redactor: &Redactor,
) -> io::Result<()> {
    let mut raw = Vec::new();
    input
        .take(JSON_INPUT_MAX_BYTES as u64 + 1)
        .read_to_end(&mut raw)?;
    if raw.len() > JSON_INPUT_MAX_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "JSON input is larger than {} MiB; use text mode (without --json) for large inputs",
                JSON_INPUT_MAX_BYTES >> 20
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("invalid JSON on stdin: {e}"),
        )
    })?;
    serde_json::to_writer(&mut output, &redactor.scrub_document(&value))?;
    output.write_all(b"\n")?;
    output.flush()
}

/// Streams `input` to `output`, redacting as described in the module comment. Memory stays
/// bounded by [`LINE_WINDOW_BYTES`] plus [`PEM_GROUP_MAX_BYTES`] whatever the input size.
///
/// Fast path: the whole lines of the buffered input are searched at once for the first place
/// where a rule may have work ([`Engine::first_work`]: one SIMD search for hint literals, and
/// the block filter of the rules without hints); everything before the line that holds it is
/// copied through unchanged, and that line (with its continuation or key group) is redacted.
/// Clean text therefore costs one search and one copy, with no work per line.
///
/// On a machine with more than one core the input is cut into chunks redacted in parallel
/// ([`super::chunks`]); the output is the same bytes.
pub fn redact_stream(
    input: impl Read + Send,
    output: impl Write,
    redactor: &Redactor,
) -> io::Result<()> {
    match chunks::workers() {
        1 => redact_serial(
            BufReader::with_capacity(BLOCK_BYTES, input),
            output,
            redactor,
        ),
        n => chunks::redact_parallel(input, output, redactor, n, chunks::CUTTING),
    }
}

/// The text mode on one thread (see [`redact_stream`]). `reader`'s buffer is the block of
/// whole lines searched at once.
pub(super) fn redact_serial(
    mut reader: impl BufRead,
    mut output: impl Write,
    redactor: &Redactor,
) -> io::Result<()> {
    let engine = Engine::get();
    let mut unit: Vec<u8> = Vec::new();
    // Absolute stream offsets: bytes consumed so far, and the end of the whole lines of the
    // buffer being worked through (found once per buffer, not once per redacted line).
    let mut pos: u64 = 0;
    let mut block_end: u64 = 0;
    // The last unit redacted changed: on secret-dense text the next line has work too, so a
    // next line that is a unit on its own is redacted at once instead of being searched for
    // work first. The output is the same: had the search found work there, the unit would
    // start at that line; had it found none, the engine changes nothing in it. A line that
    // continues or opens a key block is left to the search, which may start the unit on a
    // later line. The first unit that comes out unchanged ends this.
    let mut hot = false;
    loop {
        let buf = loop {
            match reader.fill_buf() {
                Ok(buf) => break buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if buf.is_empty() {
            break;
        }
        if pos >= block_end {
            // The whole lines of the buffer; one without a line break takes the unit path.
            let Some(last_nl) = memchr::memrchr(b'\n', buf) else {
                let (consumed, changed) =
                    redact_unit(&mut reader, &mut output, &mut unit, redactor)?;
                pos += consumed;
                hot = changed;
                continue;
            };
            block_end = pos + last_nl as u64 + 1;
        }
        let block = &buf[..(block_end - pos) as usize];
        // A line that is a unit on its own (and no longer than a line window, as the unit
        // path would read it whole too) is redacted where it lies in the buffer, without the
        // copy the unit path makes.
        if hot
            && let Some(len) = single_line_unit(block)
            && len <= LINE_WINDOW_BYTES
        {
            hot = write_redacted(&mut output, &block[..len], redactor)?;
            reader.consume(len);
            pos += len as u64;
            continue;
        }
        // Work found on a line that an earlier one continues into starts the unit at the first
        // line of their group: the secret may sit on an earlier line than what reveals it
        // (`echo hunter2 \` then `> /etc/rsync.pass`). For the same reason a group that the
        // block's last line continues past the block is left to the unit path, which reads
        // it whole.
        let clean = {
            let line = match engine.first_work(block) {
                None => block.len(),
                Some(at) => memchr::memrchr(b'\n', &block[..at]).map_or(0, |nl| nl + 1),
            };
            group_start(block, line)
        };
        let whole = clean == block.len();
        if clean > 0 {
            output.write_all(&block[..clean])?;
            reader.consume(clean);
            pos += clean as u64;
        }
        if !whole {
            let (consumed, changed) = redact_unit(&mut reader, &mut output, &mut unit, redactor)?;
            pos += consumed;
            hot = changed;
        }
    }
    output.flush()
}

/// Reads and redacts one unit — a line, a `\`-continued group, a private-key group or a
/// window of an overlong line — and returns the bytes it consumed and whether redaction
/// changed any.
fn redact_unit(
    reader: &mut impl BufRead,
    output: &mut impl Write,
    unit: &mut Vec<u8>,
    redactor: &Redactor,
) -> io::Result<(u64, bool)> {
    unit.clear();
    let complete = read_line_bounded(reader, unit, LINE_WINDOW_BYTES)?;
    let mut consumed = unit.len();
    if unit.is_empty() {
        return Ok((0, false));
    }
    if !complete {
        // An overlong line: redact a window cut where no rule reaches across, and leave the
        // rest of the line for the next unit.
        let cut = choose_cut(unit, redactor);
        let mut changed = write_redacted(output, &unit[..cut], redactor)?;
        let mut rest = unit.split_off(cut);
        // The rest was consumed already: redact it with the following bytes of the line.
        loop {
            let before = rest.len();
            let complete = read_line_bounded(reader, &mut rest, LINE_WINDOW_BYTES)?;
            consumed += rest.len() - before;
            if complete {
                changed |= write_redacted(output, &rest, redactor)?;
                return Ok((consumed as u64, changed));
            }
            let cut = choose_cut(&rest, redactor);
            changed |= write_redacted(output, &rest[..cut], redactor)?;
            rest.drain(..cut);
        }
    }
    if opens_private_key(unit) {
        while unit.len() < PEM_GROUP_MAX_BYTES {
            let before = unit.len();
            let complete = read_line_bounded(reader, unit, PEM_GROUP_MAX_BYTES)?;
            if unit.len() == before || !complete || find(&unit[before..], b"-----END ").is_some() {
                break;
            }
        }
    }
    while continues(unit) && unit.len() < CONTINUED_MAX_BYTES {
        let before = unit.len();
        read_line_bounded(reader, unit, CONTINUED_MAX_BYTES)?;
        if unit.len() == before {
            break;
        }
    }
    let changed = write_redacted(output, unit, redactor)?;
    Ok((unit.len() as u64, changed))
}

/// Appends bytes up to and including the next `\n` to `buf`, stopping once `buf` holds
/// `limit` bytes. Returns whether a line ended (or the input ended).
fn read_line_bounded(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<bool> {
    while buf.len() < limit {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(true);
        }
        let room = limit - buf.len();
        let take = available.len().min(room);
        if let Some(nl) = memchr::memchr(b'\n', &available[..take]) {
            buf.extend_from_slice(&available[..=nl]);
            reader.consume(nl + 1);
            return Ok(true);
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
    }
    Ok(false)
}

/// Redacts the UTF-8 runs of `bytes` and writes them; invalid bytes pass through. Returns
/// whether redaction changed anything.
fn write_redacted(output: &mut impl Write, bytes: &[u8], redactor: &Redactor) -> io::Result<bool> {
    // Nearly every line is valid UTF-8, and this check reads it a word at a time where the
    // chunk iterator decodes it a byte at a time.
    if let Ok(text) = std::str::from_utf8(bytes) {
        let red = redactor.redact(text);
        output.write_all(red.as_bytes())?;
        return Ok(matches!(red, Cow::Owned(_)));
    }
    let mut changed = false;
    for chunk in bytes.utf8_chunks() {
        let red = redactor.redact(chunk.valid());
        output.write_all(red.as_bytes())?;
        output.write_all(chunk.invalid())?;
        changed |= matches!(red, Cow::Owned(_));
    }
    Ok(changed)
}

/// The first line of the `\`-continued group that the line at `at` belongs to (`at` itself
/// when the line before it does not continue); the search stops at the start of `block`.
fn group_start(block: &[u8], mut at: usize) -> usize {
    while at > 0 && continues(&block[..at]) {
        at = memchr::memrchr(b'\n', &block[..at - 1]).map_or(0, |nl| nl + 1);
    }
    at
}

/// The length of the first line of `block` (which ends with a line break) when it is a unit
/// on its own: it neither continues into the next line nor opens a private-key block.
fn single_line_unit(block: &[u8]) -> Option<usize> {
    let len = memchr::memchr(b'\n', block)? + 1;
    let line = &block[..len];
    (!continues(line) && !opens_private_key(line)).then_some(len)
}

/// Whether a line ends with a shell line continuation (a backslash right before its line
/// break): the next line is part of the same command.
pub(super) fn continues(line: &[u8]) -> bool {
    line.ends_with(b"\\\n") || line.ends_with(b"\\\r\n")
}

fn opens_private_key(line: &[u8]) -> bool {
    // Built once: this runs for every line, and building a searcher cost more than the search.
    // Nearly every line has no header at all, which the forward (vector) search answers for a
    // fifth of the reverse search's cost; only a line with one looks for the last.
    static ANY: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(BEGIN_MARK).into_owned());
    static BEGIN: LazyLock<memchr::memmem::FinderRev<'static>> =
        LazyLock::new(|| memchr::memmem::FinderRev::new(BEGIN_MARK).into_owned());
    if ANY.find(line).is_none() {
        return false;
    }
    let Some(begin) = BEGIN.rfind(line) else {
        return false;
    };
    find(&line[begin..], b"PRIVATE KEY-----").is_some() && !closes_after(line, begin)
}

/// What starts a PEM header line.
const BEGIN_MARK: &[u8] = b"-----BEGIN ";

fn closes_after(text: &[u8], begin: usize) -> bool {
    find(&text[begin..], b"-----END ").is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Where to cut a full window: at whitespace, as late as possible, where the text before the
/// cut redacts the same whether or not a word follows it. Falls back to the last whitespace,
/// then to the last character boundary.
fn choose_cut(window: &[u8], redactor: &Redactor) -> usize {
    let floor = window.len().saturating_sub(CUT_SEARCH_BYTES);
    let mut last_space = None;
    let mut at = window.len();
    while at > floor.max(1) {
        at -= 1;
        if !matches!(window[at], b' ' | b'\t') || matches!(window[at - 1], b' ' | b'\t') {
            continue;
        }
        // `at` starts a whitespace run: cut there if nothing before it reaches across.
        last_space.get_or_insert(at);
        if cut_is_safe(&window[..at], redactor) {
            return at;
        }
    }
    if let Some(at) = last_space {
        return at;
    }
    // No whitespace at all: cut at the last UTF-8 character boundary.
    let mut cut = window.len();
    while cut > 0 && (window[cut - 1] & 0xC0) == 0x80 {
        cut -= 1;
    }
    if cut > 0 && window[cut - 1] >= 0xC0 {
        cut -= 1;
    }
    if cut == 0 { window.len() } else { cut }
}

/// Probe: does `head` followed by a word redact differently from `head` alone plus the word?
fn cut_is_safe(head: &[u8], redactor: &Redactor) -> bool {
    let mut start = head.len().saturating_sub(CUT_PROBE_CONTEXT_BYTES);
    while start < head.len() && (head[start] & 0xC0) == 0x80 {
        start += 1;
    }
    let context = String::from_utf8_lossy(&head[start..]);
    const PROBE: &str = " probe7f3a9";
    let joined = format!("{context}{PROBE}");
    let apart = format!("{}{PROBE}", redactor.redact(&context));
    redactor.redact(&joined) == apart
}
