//! Reading a child's output under one byte budget, and feeding its stdin.
//!
//! The child's stdout and stderr are one pipe when they are merged (the child's fd 2 is a copy
//! of its fd 1, exactly like `2>&1`, so the kernel keeps the true write order) and two pipes
//! otherwise. Both pipes are read concurrently so neither can fill up and stall the child.
//!
//! Budget: every byte read counts towards `total`; bytes are kept while the kept total of all
//! streams is below the limit, each stream in its own buffer in the order its chunks arrive,
//! and the rest is read and discarded so the child can run to completion. With two streams the
//! budget therefore goes to whichever stream produced its bytes first; the output is the kept
//! stdout followed by the kept stderr.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::pipe::Receiver;

/// The write end of a child's stdin (tokio's `ChildStdin`, or a pipe for a confined child).
pub(super) type StdinWriter = Box<dyn AsyncWrite + Unpin + Send>;

/// Bytes requested per read from one pipe.
const CHUNK: usize = 64 * 1024;

/// Which of the child's output streams a chunk came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stream {
    /// fd 1 (and fd 2 when merged).
    Stdout = 0,
    /// fd 2, when not merged.
    Stderr = 1,
}

/// Output kept so far under the shared budget.
#[derive(Debug)]
pub(super) struct Capture {
    /// Most bytes kept across all streams.
    limit: usize,
    /// Kept bytes, per stream, in arrival order.
    kept: [Vec<u8>; 2],
    /// Every byte read, kept or discarded.
    total: u64,
}

impl Capture {
    /// An empty capture keeping at most `limit` bytes.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            kept: [Vec::new(), Vec::new()],
            total: 0,
        }
    }

    /// Account for one chunk read from `stream`, keeping what the budget allows.
    pub(super) fn take(&mut self, stream: Stream, chunk: &[u8]) {
        self.total = self.total.saturating_add(chunk.len() as u64);
        let kept = self.kept[0].len() + self.kept[1].len();
        let room = self.limit.saturating_sub(kept);
        let keep = room.min(chunk.len());
        self.kept[stream as usize].extend_from_slice(&chunk[..keep]);
    }

    /// Every byte read so far.
    pub(super) fn total(&self) -> u64 {
        self.total
    }

    /// The kept bytes: stdout's, then stderr's.
    pub(super) fn into_output(self) -> Vec<u8> {
        let [mut out, err] = self.kept;
        out.extend_from_slice(&err);
        out
    }
}

/// Read `stdout` and (if present) `stderr` to end of file concurrently into `capture`.
///
/// Returns when both pipes reached EOF, i.e. when every process holding their write ends has
/// closed them or exited. Cancel-safe: bytes already read are in `capture`.
pub(super) async fn drain(
    stdout: Receiver,
    stderr: Option<Receiver>,
    capture: &mut Capture,
) -> io::Result<()> {
    let mut sources = [Some(stdout), stderr];
    let mut buffers = [vec![0u8; CHUNK], vec![0u8; CHUNK]];
    while sources.iter().any(Option::is_some) {
        let [out_src, err_src] = &mut sources;
        let [out_buf, err_buf] = &mut buffers;
        let (stream, read) = tokio::select! {
            r = read_some(out_src, out_buf) => (Stream::Stdout, r),
            r = read_some(err_src, err_buf) => (Stream::Stderr, r),
        };
        let index = stream as usize;
        match read {
            Ok(0) => sources[index] = None,
            Ok(n) => capture.take(stream, &buffers[index][..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let name = match stream {
                    Stream::Stdout => "stdout",
                    Stream::Stderr => "stderr",
                };
                return Err(io::Error::new(e.kind(), format!("reading {name}: {e}")));
            }
        }
    }
    Ok(())
}

/// Read once from `source`; a finished (`None`) source never completes.
async fn read_some(source: &mut Option<Receiver>, buf: &mut [u8]) -> io::Result<usize> {
    match source {
        Some(pipe) => pipe.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Write all of `data` to the child's stdin, then close it.
///
/// A child that exits or closes its stdin before reading everything is not an error
/// (`EPIPE` ends the feed quietly).
pub(super) async fn feed_stdin(stdin: Option<StdinWriter>, data: Vec<u8>) -> io::Result<()> {
    let Some(mut stdin) = stdin else {
        return Ok(());
    };
    let written = match stdin.write_all(&data).await {
        Ok(()) => stdin.shutdown().await,
        Err(e) => Err(e),
    };
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(io::Error::new(e.kind(), format!("writing stdin: {e}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_shared_and_counts_everything() {
        let mut capture = Capture::new(10);
        capture.take(Stream::Stderr, b"eeee");
        capture.take(Stream::Stdout, b"oooooo");
        capture.take(Stream::Stdout, b"xx");
        capture.take(Stream::Stderr, b"yy");
        assert_eq!(capture.total(), 14);
        assert_eq!(capture.into_output(), b"ooooooeeee".to_vec());
    }

    #[test]
    fn partial_chunk_fills_the_budget() {
        let mut capture = Capture::new(5);
        capture.take(Stream::Stdout, b"abc");
        capture.take(Stream::Stdout, b"defgh");
        assert_eq!(capture.total(), 8);
        assert_eq!(capture.into_output(), b"abcde".to_vec());
    }

    #[test]
    fn zero_budget_keeps_nothing() {
        let mut capture = Capture::new(0);
        capture.take(Stream::Stdout, b"abc");
        assert_eq!(capture.total(), 3);
        assert_eq!(capture.into_output(), Vec::<u8>::new());
    }
}
