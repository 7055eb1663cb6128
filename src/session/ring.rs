//! The per-session output ring: a bounded byte queue that drops its oldest bytes on overflow
//! and remembers how many it dropped, so a reader learns what it missed.

use std::collections::VecDeque;

/// Bounded FIFO of child output.
///
/// Appending never blocks the child: when the ring is full the oldest bytes go, and both a
/// lifetime counter (`dropped`, shown by `session_list`) and a since-last-read counter
/// (reported once by the next read as `[N bytes dropped]`) grow by their count.
#[derive(Debug)]
pub struct OutputRing {
    /// The unread bytes, oldest first. `VecDeque` makes front removal O(1) per byte removed
    /// without moving the rest.
    bytes: VecDeque<u8>,
    /// Most bytes held at once (`SESSION_BUFFER_BYTES`).
    capacity: usize,
    /// Every byte ever appended, kept or not.
    produced: u64,
    /// Every byte ever discarded by overflow.
    dropped: u64,
    /// Bytes discarded since the last [`OutputRing::take`], which must tell its caller.
    dropped_unreported: u64,
}

/// What one read took out of the ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    /// The bytes removed from the front of the ring, oldest first.
    pub bytes: Vec<u8>,
    /// Bytes lost to overflow since the previous read (before `bytes` was produced).
    pub dropped: u64,
}

impl OutputRing {
    /// An empty ring holding at most `capacity` bytes (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            bytes: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
            produced: 0,
            dropped: 0,
            dropped_unreported: 0,
        }
    }

    /// Append a chunk of output, discarding the oldest bytes if the ring would overflow.
    pub fn push(&mut self, chunk: &[u8]) {
        self.produced += chunk.len() as u64;
        // A chunk at least as large as the ring replaces everything: only its tail survives.
        let chunk = if chunk.len() >= self.capacity {
            let skip = chunk.len() - self.capacity;
            self.note_dropped(self.bytes.len() as u64 + skip as u64);
            self.bytes.clear();
            &chunk[skip..]
        } else {
            chunk
        };
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.capacity);
        if overflow > 0 {
            self.bytes.drain(..overflow);
            self.note_dropped(overflow as u64);
        }
        self.bytes.extend(chunk);
    }

    fn note_dropped(&mut self, n: u64) {
        self.dropped += n;
        self.dropped_unreported += n;
    }

    /// Remove and return up to `max` bytes from the front, with the drop count since the
    /// previous take.
    ///
    /// The cut is moved back to a UTF-8 character boundary when the bytes at the cut look
    /// like the start of an incomplete multi-byte character, so a character is not split
    /// across two reads (its bytes stay for the next read). Binary output is cut at `max`.
    pub fn take(&mut self, max: usize) -> Taken {
        let mut n = max.min(self.bytes.len());
        if n < self.bytes.len() {
            n = utf8_safe_cut(&self.bytes, n);
        }
        let bytes: Vec<u8> = self.bytes.drain(..n).collect();
        let dropped = std::mem::take(&mut self.dropped_unreported);
        Taken { bytes, dropped }
    }

    /// Unread bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing is waiting to be read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Every byte ever appended.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// Every byte ever discarded by overflow.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes discarded and not yet reported by a take.
    pub fn dropped_unreported(&self) -> u64 {
        self.dropped_unreported
    }
}

/// Where to cut `bytes` at or before `n` so that no UTF-8 character is split.
///
/// Looks back at most three bytes for a lead byte whose sequence would cross the cut. When
/// the cut would leave nothing (a lone character longer than `n`), cut at `n` anyway so a
/// read always makes progress.
fn utf8_safe_cut(bytes: &VecDeque<u8>, n: usize) -> usize {
    for back in 1..=3.min(n) {
        let b = bytes[n - back];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte: keep looking for the lead byte
        }
        let width = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return n, // ASCII or invalid lead: nothing to protect
        };
        if back < width && n - back > 0 {
            return n - back;
        }
        return n;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_below_capacity() {
        let mut r = OutputRing::new(8);
        r.push(b"abc");
        r.push(b"def");
        assert_eq!(r.len(), 6);
        assert_eq!(
            r.take(100),
            Taken {
                bytes: b"abcdef".to_vec(),
                dropped: 0
            }
        );
        assert!(r.is_empty());
        assert_eq!(r.produced(), 6);
    }

    #[test]
    fn overflow_drops_oldest_and_reports_once() {
        let mut r = OutputRing::new(4);
        r.push(b"abc");
        r.push(b"def");
        assert_eq!(r.dropped(), 2);
        let t = r.take(100);
        assert_eq!(t.bytes, b"cdef");
        assert_eq!(t.dropped, 2);
        r.push(b"g");
        let t = r.take(100);
        assert_eq!(t.dropped, 0);
        assert_eq!(t.bytes, b"g");
        assert_eq!(r.dropped(), 2);
        assert_eq!(r.produced(), 7);
    }

    #[test]
    fn huge_chunk_keeps_its_tail() {
        let mut r = OutputRing::new(4);
        r.push(b"xy");
        r.push(b"0123456789");
        assert_eq!(r.dropped(), 8);
        assert_eq!(r.take(100).bytes, b"6789");
    }

    #[test]
    fn partial_take_leaves_the_rest() {
        let mut r = OutputRing::new(100);
        r.push(b"hello world");
        assert_eq!(r.take(5).bytes, b"hello");
        assert_eq!(r.take(100).bytes, b" world");
    }

    #[test]
    fn take_does_not_split_a_character() {
        let mut r = OutputRing::new(100);
        r.push("aé€😀".as_bytes()); // 1 + 2 + 3 + 4 bytes
        assert_eq!(r.take(2).bytes, b"a");
        assert_eq!(r.take(4).bytes, "é".as_bytes());
        assert_eq!(r.take(5).bytes, "€".as_bytes());
        // a character longer than the limit is cut anyway so reads make progress
        assert_eq!(r.take(1).bytes, vec![0xF0]);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn bounded_under_a_flood() {
        let mut r = OutputRing::new(1000);
        let chunk = [b'y'; 4096];
        for _ in 0..1000 {
            r.push(&chunk);
        }
        assert_eq!(r.len(), 1000);
        assert_eq!(r.produced(), 4_096_000);
        assert_eq!(r.dropped(), 4_095_000);
    }
}
