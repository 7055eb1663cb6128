//! Streaming one file's bytes, in bounded memory, with the transfer's byte budget and an
//! optional SHA-256.
//!
//! SFTP answers each request separately, so a transfer that waits for every answer before
//! sending the next request runs at one request per round trip. Uploads keep up to
//! [`WRITE_WINDOW`] bytes of writes in flight (`TokioCompatFile` queues them and waits only
//! for the oldest when the window is full); downloads keep [`READ_DEPTH`] reads of
//! [`CHUNK`] bytes in flight, each on its own task at its own offset, and write them to the
//! local file in order. Memory per file is the window plus one chunk, whatever its size.

use std::collections::VecDeque;
use std::io::SeekFrom;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use openssh_sftp_client::file::{File, TokioCompatFile};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::task::AbortOnDropHandle;

use super::remote::sftp_error;
use crate::error::{ErrorKind, ToolError};

/// Bytes read or requested at once.
pub(crate) const CHUNK: usize = 256 * 1024;
/// Reads in flight per downloaded file.
pub(crate) const READ_DEPTH: usize = 8;
/// Bytes of writes in flight per uploaded file.
pub(crate) const WRITE_WINDOW: usize = 2 * 1024 * 1024;

/// The bytes a transfer may still move (`RELAY_SHELL_TRANSFER_MAX_BYTES`), shared by the
/// files it moves concurrently; also the count of bytes moved so far.
#[derive(Debug)]
pub(crate) struct Budget {
    max: u64,
    used: AtomicU64,
}

impl Budget {
    /// A budget of `max` bytes.
    pub(crate) fn new(max: u64) -> Budget {
        Budget {
            max,
            used: AtomicU64::new(0),
        }
    }

    /// The cap.
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// Bytes moved so far.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Count `n` more bytes; an error once the total passes the cap (a file that grew after
    /// it was measured).
    pub(crate) fn take(&self, n: usize) -> Result<(), ToolError> {
        let total = self.used.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > self.max {
            return Err(over_cap(total, self.max));
        }
        Ok(())
    }
}

/// The error for a transfer of `size` bytes over the cap `max`.
pub(crate) fn over_cap(size: u64, max: u64) -> ToolError {
    ToolError::invalid(format!(
        "the transfer is {size} bytes or more, over RELAY_SHELL_TRANSFER_MAX_BYTES ({max})"
    ))
}

/// A running SHA-256, or none.
pub(crate) struct Hash(Option<Sha256>);

impl Hash {
    /// Hash when `on`.
    pub(crate) fn new(on: bool) -> Hash {
        Hash(on.then(Sha256::new))
    }

    fn update(&mut self, b: &[u8]) {
        if let Some(h) = &mut self.0 {
            h.update(b);
        }
    }

    /// The lower-case hex digest, when hashing.
    pub(crate) fn finish(self) -> Option<String> {
        self.0.map(|h| hex::encode(h.finalize()))
    }
}

fn write_failed(e: &std::io::Error, what: &str) -> ToolError {
    ToolError::new(ErrorKind::Io, format!("{what}: {e}"))
}

/// Send the local file `src` into the remote file `dst` (opened for writing at offset 0).
/// Returns `dst` (flushed: every write answered) for its metadata and close.
pub(crate) async fn send(
    src: std::fs::File,
    dst: File,
    budget: &Budget,
    hash: &mut Hash,
    what: &str,
) -> Result<File, ToolError> {
    let keep = dst.clone();
    let mut src = tokio::fs::File::from_std(src);
    let mut out = Box::pin(TokioCompatFile::new(dst));
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = src
            .read(&mut buf)
            .await
            .map_err(|e| ToolError::new(ErrorKind::Io, format!("reading {what}: {e}")))?;
        if n == 0 {
            break;
        }
        budget.take(n)?;
        hash.update(&buf[..n]);
        out.write_all(&buf[..n])
            .await
            .map_err(|e| write_failed(&e, &format!("writing {what}")))?;
    }
    out.flush()
        .await
        .map_err(|e| write_failed(&e, &format!("writing {what}")))?;
    drop(out);
    Ok(keep)
}

/// One chunk read at `offset`: up to `len` bytes, fewer only at the end of the file. Each
/// read is placed explicitly (a server may answer a read with fewer bytes than asked).
async fn read_chunk(mut f: File, offset: u64, len: usize) -> Result<BytesMut, String> {
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        f.seek(SeekFrom::Start(offset + buf.len() as u64))
            .await
            .map_err(|e| e.to_string())?;
        let want = u32::try_from(len - buf.len()).unwrap_or(u32::MAX);
        match f.read(want, BytesMut::new()).await {
            Ok(Some(b)) if !b.is_empty() => buf.extend_from_slice(&b),
            Ok(_) => break,
            Err(e) => return Err(sftp_error(&e, "").message),
        }
    }
    Ok(buf)
}

/// Receive the remote file `src` (opened for reading) into the local file `dst`.
pub(crate) async fn recv(
    src: File,
    dst: std::fs::File,
    budget: &Budget,
    hash: &mut Hash,
    what: &str,
) -> Result<(), ToolError> {
    let mut dst = tokio::fs::File::from_std(dst);
    let mut inflight: VecDeque<AbortOnDropHandle<Result<BytesMut, String>>> = VecDeque::new();
    let mut next = 0u64;
    let mut ended = false;
    loop {
        while !ended && inflight.len() < READ_DEPTH {
            let task = tokio::spawn(read_chunk(src.clone(), next, CHUNK));
            inflight.push_back(AbortOnDropHandle::new(task));
            next += CHUNK as u64;
        }
        let Some(front) = inflight.pop_front() else {
            break;
        };
        let chunk = front
            .await
            .map_err(|e| ToolError::new(ErrorKind::Internal, format!("reading {what}: {e}")))?
            .map_err(|m| ToolError::new(ErrorKind::Io, format!("reading {what}{m}")))?;
        let short = chunk.len() < CHUNK;
        if !chunk.is_empty() {
            budget.take(chunk.len())?;
            hash.update(&chunk);
            dst.write_all(&chunk)
                .await
                .map_err(|e| local_write_error(&e, what))?;
        }
        if short {
            // The end of the file: the reads queued behind this one are past it.
            ended = true;
            inflight.clear();
        }
    }
    dst.flush().await.map_err(|e| local_write_error(&e, what))?;
    Ok(())
}

fn local_write_error(e: &std::io::Error, what: &str) -> ToolError {
    if e.raw_os_error() == Some(libc::ENOSPC) {
        ToolError::new(
            ErrorKind::Io,
            format!("local disk full while writing {what}: {e}"),
        )
    } else {
        write_failed(e, &format!("writing {what}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_and_stops_past_the_cap() {
        let b = Budget::new(10);
        assert!(b.take(4).is_ok());
        assert!(b.take(6).is_ok());
        assert_eq!(b.used(), 10);
        let e = b.take(1).unwrap_err();
        assert_eq!(
            e.render(),
            "[ERROR: InvalidArgument: the transfer is 11 bytes or more, over \
             RELAY_SHELL_TRANSFER_MAX_BYTES (10)]"
        );
    }

    #[test]
    fn hashing_is_optional() {
        let mut h = Hash::new(true);
        h.update(b"abc");
        assert_eq!(
            h.finish().unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Hash::new(false);
        h.update(b"abc");
        assert_eq!(h.finish(), None);
    }
}
