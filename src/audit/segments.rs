//! Verifying a directory of rotated segments in chain order, with every seam checked.
//!
//! Segments are the files named `<base>.jsonl` plus an optional rotation suffix
//! (`.1`, `-20260101`, …) and an optional `.gz`. Each is verified on its own; the chained
//! ones are then ordered by their first `seq` (not by name or time — the chain says what
//! follows what), and each seam must link: the next segment's first `seq` is one past the
//! previous segment's last, and its `prev` is that record's `chain`. A missing segment shows
//! as a gap, a duplicated one as an overlap, a divergent history as a fork.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::chain::{GENESIS, is_rotation_suffix, state_after};
use super::progress::Progress;
use super::verify::{SegmentReport, verify_file_with};

/// What kind of seam problem was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeamKind {
    /// Records between two segments are missing.
    Gap,
    /// A segment repeats records another already holds (same history).
    Overlap,
    /// A segment does not continue the history of the one before it.
    Fork,
}

impl SeamKind {
    /// Lower-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SeamKind::Gap => "gap",
            SeamKind::Overlap => "overlap",
            SeamKind::Fork => "fork",
        }
    }
}

/// A problem at the seam between two segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeamFinding {
    /// What went wrong.
    pub kind: SeamKind,
    /// The later segment (where the problem shows).
    pub file: String,
    /// Its first chained line.
    pub line: u64,
    /// One sentence naming both files, lines and sequence numbers.
    pub message: String,
}

/// Whether `name` is an audit segment file name.
pub fn is_segment_name(name: &str) -> bool {
    let Some(pos) = name.rfind(".jsonl") else {
        return false;
    };
    if pos == 0 {
        return false;
    }
    let rest = &name[pos + ".jsonl".len()..];
    rest.is_empty() || rest == ".gz" || is_rotation_suffix(rest)
}

/// The segment files of `dir`, sorted by name.
pub fn segment_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter(|e| e.file_name().to_str().is_some_and(is_segment_name))
        .map(|e| e.path())
        .collect();
    v.sort();
    Ok(v)
}

/// The `chain` of the record with `seq` in `path` (streamed), or genesis for seq -1.
fn chain_of(path: &Path, seq: i64) -> Option<String> {
    if seq < 0 {
        return Some(GENESIS.to_string());
    }
    let f = std::fs::File::open(path).ok()?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    for line in BufReader::new(reader).split(b'\n') {
        let line = line.ok()?;
        let text = String::from_utf8_lossy(&line);
        if let Some(st) = state_after(&text)
            && st.seq == (seq as u64) + 1
        {
            return Some(st.prev);
        }
    }
    None
}

/// Check the seams of verified, chained segments; returns them in chain order and the
/// findings.
pub fn order_and_check(mut chained: Vec<SegmentReport>) -> (Vec<SegmentReport>, Vec<SeamFinding>) {
    chained.sort_by(|a, b| a.start_seq().cmp(&b.start_seq()).then(a.path.cmp(&b.path)));
    let mut findings = Vec::new();
    // The segment reaching furthest so far is what the next one must continue.
    let mut reach: Option<&SegmentReport> = None;
    for seg in &chained {
        let (Some(head), Some(prev_seg)) = (seg.head.as_ref(), reach) else {
            reach = Some(seg);
            continue;
        };
        let Some(tip) = prev_seg.tip.as_ref() else {
            reach = Some(seg);
            continue;
        };
        let next = tip.seq.saturating_add(1);
        if head.seq == next {
            if head.prev != tip.chain {
                findings.push(SeamFinding {
                    kind: SeamKind::Fork,
                    file: seg.path.clone(),
                    line: head.line,
                    message: format!(
                        "fork: {} line {} (seq {}) does not continue {} line {} (seq {}): its prev is not that record's chain",
                        seg.path, head.line, head.seq, prev_seg.path, tip.line, tip.seq
                    ),
                });
            }
        } else if head.seq > next {
            let missing = if head.seq - 1 == next {
                format!("seq {next} is missing")
            } else {
                format!("seq {next}..{} are missing", head.seq - 1)
            };
            findings.push(SeamFinding {
                kind: SeamKind::Gap,
                file: seg.path.clone(),
                line: head.line,
                message: format!(
                    "gap: {missing} between {} line {} (seq {}) and {} line {} (seq {})",
                    prev_seg.path, tip.line, tip.seq, seg.path, head.line, head.seq
                ),
            });
        } else {
            let before = match prev_seg.head.as_ref() {
                Some(h) if h.seq == head.seq => Some(h.prev.clone()),
                _ => chain_of(Path::new(&prev_seg.path), head.seq - 1),
            };
            let same_history = before.is_some_and(|c| c == head.prev);
            let (kind, what) = if same_history {
                (SeamKind::Overlap, "repeats records already in")
            } else {
                (SeamKind::Fork, "diverges from the history in")
            };
            findings.push(SeamFinding {
                kind,
                file: seg.path.clone(),
                line: head.line,
                message: format!(
                    "{}: {} line {} (seq {}) {what} {} (seq {}..{})",
                    kind.as_str(),
                    seg.path,
                    head.line,
                    head.seq,
                    prev_seg.path,
                    prev_seg.start_seq().unwrap_or(0),
                    tip.seq
                ),
            });
        }
        let further = match (seg.tip.as_ref(), reach.and_then(|r| r.tip.as_ref())) {
            (Some(a), Some(b)) => a.seq > b.seq,
            (Some(_), None) => true,
            _ => false,
        };
        if further {
            reach = Some(seg);
        }
    }
    (chained, findings)
}

/// Verify every segment of `dir`; returns the reports in chain order (unchained segments
/// last) and the seam findings. `Err` when the directory cannot be listed.
pub fn verify_dir(dir: &Path) -> std::io::Result<(Vec<SegmentReport>, Vec<SeamFinding>)> {
    verify_files(&segment_files(dir)?, &Progress::hidden())
}

/// Verify `files` (segments of one directory) in turn, reporting to `progress`; returns them
/// in chain order (unchained segments last) and the seam findings.
pub fn verify_files(
    files: &[PathBuf],
    progress: &Progress,
) -> std::io::Result<(Vec<SegmentReport>, Vec<SeamFinding>)> {
    let reports: Vec<SegmentReport> = files
        .iter()
        .enumerate()
        .map(|(i, p)| {
            progress.segment_started(i as u64);
            verify_file_with(p, progress)
        })
        .collect();
    let (chained, rest): (Vec<_>, Vec<_>) = reports.into_iter().partition(|r| r.head.is_some());
    let (mut ordered, findings) = order_and_check(chained);
    ordered.extend(rest);
    Ok((ordered, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "audit.jsonl",
            "audit.jsonl.1",
            "audit.jsonl.2.gz",
            "audit.jsonl-20260101",
            "audit.jsonl-20260101.gz",
            "audit.jsonl.gz",
        ] {
            assert!(is_segment_name(ok), "{ok}");
        }
        for bad in [
            "audit.log",
            ".jsonl",
            "audit.jsonl.bak",
            "audit.jsonl~",
            "x.jsonl.1.tmp",
        ] {
            assert!(!is_segment_name(bad), "{bad}");
        }
    }
}
