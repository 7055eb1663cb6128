//! Replaying a pass's hint proposals on its output (see [`Proposals`]): the engine's second
//! and later passes find their candidate rules without searching their text again.

/// Whether no hint (ASCII lower case) can overlap what a replacement writes: a placeholder,
/// `[REDACTED]` (first answer) or `[REDACTED:` eight hex digits `]` (second answer), then at
/// most three quote characters.
///
/// When that holds, every hint occurrence in a pass's output lies in text the pass left as it
/// was, so it is an occurrence of the pass's input at a shifted offset: a hint that reached
/// into written text from outside would contain its first byte (`[`) or its last (`]` or a
/// quote), and one inside it would be a substring of a placeholder.
pub(super) fn replayable(hints: &[Vec<u8>]) -> [bool; 2] {
    // `h` stands for any hex digit.
    const TEMPLATES: [&[u8]; 2] = [b"[redacted]", b"[redacted:hhhhhhhh]"];
    let fits = |hint: &[u8], template: &[u8]| {
        hint.len() <= template.len()
            && template.windows(hint.len()).any(|w| {
                w.iter().zip(hint).all(|(&t, &c)| {
                    if t == b'h' {
                        c.is_ascii_hexdigit()
                    } else {
                        t == c
                    }
                })
            })
    };
    TEMPLATES.map(|template| {
        hints.iter().all(|hint| {
            !hint.iter().any(|b| matches!(b, b'[' | b']' | b'\'' | b'"')) && !fits(hint, template)
        })
    })
}

/// Most proposals a pass keeps for the next one; a text with more is searched again.
pub(super) const MAX_PROPOSALS: usize = 64;

/// The positions where the SIMD search proposed a hint in a pass's text, as (offset, searcher,
/// literal), shifted through every replacement the pass made so that they point into its
/// output. Checking them there with `Engine::hints_at` gives the next pass the same
/// candidate rules as a new search would (see [`replayable`]), at a fraction of the cost: on
/// secret-dense text nearly every line takes a second pass.
pub(super) struct Proposals {
    pub(super) at: [(usize, u16, u16); MAX_PROPOSALS],
    /// For each proposal, the rules of the hints that occur there (checked or not).
    pub(super) present: [u128; MAX_PROPOSALS],
    pub(super) len: usize,
    /// The list holds every proposal of the current text (no overflow, nothing unmapped).
    pub(super) complete: bool,
    /// Replay is sound for the substitution in use ([`replayable`]).
    pub(super) allowed: bool,
}

impl Proposals {
    pub(super) fn new(allowed: bool) -> Self {
        Self {
            at: [(0, 0, 0); MAX_PROPOSALS],
            present: [0; MAX_PROPOSALS],
            len: 0,
            complete: false,
            allowed,
        }
    }

    pub(super) fn record(&mut self, at: usize, group: usize, literal: usize, present: u128) {
        let (Ok(group), Ok(literal)) = (u16::try_from(group), u16::try_from(literal)) else {
            self.complete = false;
            return;
        };
        match self.at.get_mut(self.len) {
            Some(slot) => {
                *slot = (at, group, literal);
                self.present[self.len] = present;
                self.len += 1;
            }
            None => self.complete = false,
        }
    }

    /// The rules that may have a hint in the text the proposals point into: with a complete
    /// list, a rule outside this set has none, so it cannot change the text. `None` when the
    /// list is not complete.
    pub(super) fn present(&self) -> Option<u128> {
        self.complete
            .then(|| self.present[..self.len].iter().fold(0, |all, p| all | p))
    }

    /// Moves every proposal to where its bytes are after `edits`. A proposal inside a
    /// replaced span is dropped: what starts there now is a placeholder, which starts no hint.
    pub(super) fn shift(&mut self, edits: &Edits) {
        if edits.overflow {
            self.complete = false;
        }
        if !self.complete {
            return;
        }
        let edits = &edits.list[..edits.len];
        let mut kept = 0;
        for i in 0..self.len {
            let (at, group, literal) = self.at[i];
            // Offsets of the output: each replacement before `at` moved it by what it wrote
            // less what it replaced.
            let mut grown = 0usize;
            let mut shrunk = 0usize;
            let mut inside = false;
            for &(start, end, written) in edits {
                if at < start {
                    break;
                }
                if at < end {
                    inside = true;
                    break;
                }
                grown += written;
                shrunk += end - start;
            }
            if inside {
                continue;
            }
            match (at + grown).checked_sub(shrunk) {
                Some(moved) => {
                    self.at[kept] = (moved, group, literal);
                    self.present[kept] = self.present[i];
                    kept += 1;
                }
                None => self.complete = false,
            }
        }
        self.len = kept;
    }
}

/// Most replacements one rule's run records; a run with more makes the next pass search
/// its text again.
pub(super) const MAX_EDITS: usize = 32;

/// The replacements one run of a rule made, left to right: (start, end) of the replaced span
/// in the text it read, and the length of what was written instead.
pub(super) struct Edits {
    list: [(usize, usize, usize); MAX_EDITS],
    len: usize,
    /// More replacements than [`MAX_EDITS`] were made.
    overflow: bool,
}

impl Edits {
    pub(super) fn new() -> Self {
        Self {
            list: [(0, 0, 0); MAX_EDITS],
            len: 0,
            overflow: false,
        }
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    pub(super) fn push(&mut self, start: usize, end: usize, written: usize) {
        match self.list.get_mut(self.len) {
            Some(slot) => {
                *slot = (start, end, written);
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }
}
