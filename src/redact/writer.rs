//! A `tracing` writer that scrubs every formatted log line before it reaches its sink.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

use super::Redactor;

/// Wraps a [`MakeWriter`] (stderr by default) so that every event the `fmt` layer formats is
/// redacted before it is written. Use it as `fmt().with_writer(RedactingWriter::stderr(r))`.
///
/// The `fmt` layer formats one event into a buffer and writes it through one writer; the
/// writer returned here collects those bytes and writes the scrubbed text once, on flush or
/// drop, so a secret never reaches the sink in pieces.
#[derive(Clone, Debug)]
pub struct RedactingWriter<M = fn() -> io::Stderr> {
    /// The scrubber shared with the audit path (one redactor for every egress).
    redactor: Redactor,
    /// Where scrubbed lines go.
    inner: M,
}

impl RedactingWriter {
    /// Scrubbed log lines to stderr (stdout carries the MCP protocol on stdio).
    pub fn stderr(redactor: Redactor) -> Self {
        Self {
            redactor,
            inner: io::stderr,
        }
    }
}

impl<M> RedactingWriter<M> {
    /// Scrubbed log lines to any other sink.
    pub fn new(redactor: Redactor, inner: M) -> Self {
        Self { redactor, inner }
    }
}

impl<'a, M> MakeWriter<'a> for RedactingWriter<M>
where
    M: MakeWriter<'a>,
{
    type Writer = RedactingLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine {
            redactor: self.redactor.clone(),
            inner: self.inner.make_writer(),
            pending: Vec::new(),
        }
    }
}

/// One event's worth of log output, scrubbed and written on flush or drop.
#[derive(Debug)]
pub struct RedactingLine<W: Write> {
    /// The scrubber.
    redactor: Redactor,
    /// The sink for this event.
    inner: W,
    /// Bytes formatted so far, not yet scrubbed.
    pending: Vec<u8>,
}

impl<W: Write> RedactingLine<W> {
    fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.pending);
        let scrubbed = self.redactor.redact(&text);
        let result = self.inner.write_all(scrubbed.as_bytes());
        self.pending.clear();
        result
    }
}

impl<W: Write> Write for RedactingLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingLine<W> {
    fn drop(&mut self) {
        // A log line that cannot be written is dropped; logging must never fail the caller.
        let _ = self.write_pending();
        let _ = self.inner.flush();
    }
}
