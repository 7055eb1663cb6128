//! The hash chain: sealing records as they are written, and resuming after a restart.
//!
//! `chain = sha256_hex(prev + canonical(record with seq and prev, without chain))`, genesis
//! `prev` = 64 zeros. The canonical form is [`Json::to_canonical`] on the writer side and
//! [`super::canonical::Canonicalizer`] on the verifier side; tests pin both against vectors
//! written by the Python implementation.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::canonical::Canonicalizer;
use super::json::Json;
use super::tail::last_lines;

/// The `prev` of the first record of a log: 64 ASCII zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many trailing lines resume looks through for the last intact record.
const RESUME_LOOKBACK: usize = 64;

/// Where the chain continues: the next record's `seq` and `prev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainState {
    /// Sequence number the next record gets.
    pub seq: u64,
    /// The `chain` of the last record written (or [`GENESIS`]).
    pub prev: String,
}

impl Default for ChainState {
    fn default() -> Self {
        Self::genesis()
    }
}

/// The chain hash of a record body given its `prev`: hex SHA-256 of `prev + canonical`.
pub fn chain_hash(prev: &str, canonical: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(canonical);
    let mut hexed = [0u8; 64];
    match hex::encode_to_slice(h.finalize().as_slice(), &mut hexed) {
        Ok(()) => String::from_utf8_lossy(&hexed).into_owned(),
        Err(_) => String::new(),
    }
}

impl ChainState {
    /// The state of a log that has no records yet.
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            prev: GENESIS.to_string(),
        }
    }

    /// Append `seq`, `prev` and `chain` to `body` (an object) and return it with its chain
    /// value. The state is not advanced: call [`ChainState::advance`] once the line is
    /// written.
    pub fn seal(&self, body: Json) -> (Json, String) {
        self.seal_with(body, &mut String::with_capacity(512))
    }

    /// [`ChainState::seal`] rendering the canonical form into `scratch` (cleared first), so
    /// a writer can reuse one buffer for every record.
    pub fn seal_with(&self, body: Json, scratch: &mut String) -> (Json, String) {
        let mut fields = match body {
            Json::Obj(f) => f,
            other => vec![("value".into(), other)],
        };
        fields.reserve(3);
        fields.push((
            "seq".into(),
            Json::Int(i64::try_from(self.seq).unwrap_or(i64::MAX)),
        ));
        fields.push(("prev".into(), Json::Str(self.prev.clone())));
        let mut sealed = Json::Obj(fields);
        scratch.clear();
        sealed.write_canonical_into(scratch);
        let chain = chain_hash(&self.prev, scratch.as_bytes());
        if let Json::Obj(f) = &mut sealed {
            f.push(("chain".into(), Json::Str(chain.clone())));
        }
        (sealed, chain)
    }

    /// Record that the line sealed with `chain` is on disk.
    pub fn advance(&mut self, chain: String) {
        self.seq += 1;
        self.prev = chain;
    }
}

/// Remove the chain fields [`ChainState::seal`] added, giving back the body.
pub fn unseal(sealed: Json) -> Json {
    match sealed {
        Json::Obj(mut f) => {
            f.retain(|(k, _)| k != "seq" && k != "prev" && k != "chain");
            Json::Obj(f)
        }
        other => other,
    }
}

/// The chain state following `line`, when it is a chained record.
pub fn state_after(line: &str) -> Option<ChainState> {
    let mut canon = Canonicalizer::new();
    let mut out = Vec::new();
    let f = canon.record(line, &mut out).ok()?;
    let seq = u64::try_from(f.seq?).ok()?;
    f.prev?;
    Some(ChainState {
        seq: seq + 1,
        prev: f.chain?,
    })
}

/// What the writer needs to know about the active file when it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resume {
    /// Where the chain continues.
    pub state: ChainState,
    /// The active file ends in a partial line (a torn write): the next write must start a
    /// new line first.
    pub torn_tail: bool,
}

/// Find where the chain continues: the newest intact chained record at the end of the active
/// file (skipping torn trailing lines), or — when the active file is empty — of the newest
/// rotated sibling (`<name>[.-]digits[.gz]`, newest by modification time then name).
/// Anything else starts at genesis.
pub fn resume(active: &Path) -> Resume {
    let meta = std::fs::metadata(active);
    let size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
    let is_file = meta.as_ref().map(|m| m.is_file()).unwrap_or(false);
    if is_file && size > 0 {
        let (lines, ends_nl) = match last_lines(active, RESUME_LOOKBACK) {
            Ok(v) => v,
            Err(_) => return genesis(),
        };
        return Resume {
            state: newest_state(&lines).unwrap_or_default(),
            torn_tail: !ends_nl,
        };
    }
    if meta.is_ok() && !is_file {
        return genesis();
    }
    let state = newest_sibling(active)
        .and_then(|p| sibling_tail(&p))
        .and_then(|lines| newest_state(&lines))
        .unwrap_or_default();
    Resume {
        state,
        torn_tail: false,
    }
}

fn genesis() -> Resume {
    Resume {
        state: ChainState::genesis(),
        torn_tail: false,
    }
}

/// Scan lines newest first: the first line that parses as JSON decides. Unparseable lines
/// (torn writes) are skipped; an unchained record means the chain starts over.
fn newest_state(lines: &[String]) -> Option<ChainState> {
    let mut canon = Canonicalizer::new();
    let mut out = Vec::new();
    for line in lines.iter().rev() {
        if line.trim().is_empty() {
            continue;
        }
        out.clear();
        if canon.record(line, &mut out).is_ok() {
            return state_after(line);
        }
    }
    None
}

/// Rotated siblings of `active` in its directory: `<name>` + (`.`|`-`) + digits (repeatable)
/// + optional `.gz`.
pub fn rotated_siblings(active: &Path) -> Vec<PathBuf> {
    let Some(name) = active.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let dir = match active.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(name))
                .is_some_and(is_rotation_suffix)
        })
        .map(|e| e.path())
        .collect()
}

/// `.1`, `-20260101`, `.1.gz`, `-20260101-1735689600.gz`, …
pub fn is_rotation_suffix(suffix: &str) -> bool {
    let s = suffix.strip_suffix(".gz").unwrap_or(suffix);
    if s.is_empty() {
        return false;
    }
    let mut rest = s;
    while !rest.is_empty() {
        let Some(r) = rest.strip_prefix(['.', '-']) else {
            return false;
        };
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &r[digits..];
    }
    true
}

fn newest_sibling(active: &Path) -> Option<PathBuf> {
    rotated_siblings(active)
        .into_iter()
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?;
            let mtime = m.modified().ok()?;
            m.is_file().then_some((mtime, p))
        })
        .max()
        .map(|(_, p)| p)
}

/// The last lines of a rotated segment (a `.gz` one is streamed through).
fn sibling_tail(path: &Path) -> Option<Vec<String>> {
    if path.extension().is_some_and(|e| e == "gz") {
        let f = std::fs::File::open(path).ok()?;
        let reader = BufReader::new(flate2::read::MultiGzDecoder::new(f));
        let mut ring = std::collections::VecDeque::with_capacity(RESUME_LOOKBACK);
        for line in reader.split(b'\n') {
            let line = line.ok()?;
            if ring.len() == RESUME_LOOKBACK {
                ring.pop_front();
            }
            ring.push_back(String::from_utf8_lossy(&line).into_owned());
        }
        Some(ring.into())
    } else {
        last_lines(path, RESUME_LOOKBACK).ok().map(|(l, _)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        for ok in [".1", "-20260101", ".1.gz", "-20260101-1735689600.gz", ".12"] {
            assert!(is_rotation_suffix(ok), "{ok}");
        }
        for bad in ["", ".gz", ".bak", "-x", ".1.tmp", "1", ".1-"] {
            assert!(!is_rotation_suffix(bad), "{bad}");
        }
    }

    #[test]
    fn seal_matches_canonical_preimage() {
        let st = ChainState::genesis();
        let body = Json::Obj(vec![("b".into(), Json::Int(1)), ("a".into(), Json::Null)]);
        let (sealed, chain) = st.seal(body.clone());
        let expect = chain_hash(
            GENESIS,
            format!("{{\"a\":null,\"b\":1,\"prev\":\"{GENESIS}\",\"seq\":0}}").as_bytes(),
        );
        assert_eq!(chain, expect);
        assert_eq!(sealed.get("chain"), Some(&Json::Str(expect)));
        assert_eq!(unseal(sealed), body);
    }
}
