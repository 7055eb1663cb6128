//! The chain preimage of a line as written on disk, computed without building a tree.
//!
//! The verifier must hash exactly what Python's
//! `json.dumps(json.loads(line) - "chain", sort_keys=True, separators=(",", ":"),
//! ensure_ascii=False)` would produce, whatever spacing, key order or escaping the line on
//! disk uses (a log shipper may have re-encoded it). This module is a small JSON tokenizer
//! that writes those canonical bytes directly:
//!
//! * object keys sorted by code point (UTF-8 byte order), the last of duplicate keys wins;
//! * strings re-escaped the way Python escapes them (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`,
//!   `\f`, other controls as `\u00xx`), everything else raw UTF-8; a lone surrogate
//!   escape becomes `?` (Python encodes it with replacement);
//! * integers re-rendered as Python ints (`-0` is `0`, any size), other numbers as
//!   Python floats (`1E2` is `100.0`, `1e400` is `Infinity`); `NaN`/`Infinity` accepted;
//! * the top-level `chain` member removed and returned, with `seq` and `prev`.

use sha2::{Digest, Sha256};

use super::json::{plain_run_end, python_float};

/// Deepest nesting accepted; records are shallow, so deeper input is not a record.
const MAX_DEPTH: u32 = 256;

/// The chain fields found at the top level of a record (last occurrence wins).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChainFields {
    /// `seq` when it is an integer that fits `i64`.
    pub seq: Option<i64>,
    /// `prev` when it is a string.
    pub prev: Option<String>,
    /// `chain` when it is a string.
    pub chain: Option<String>,
}

/// Why a line is not a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotARecord {
    /// Not valid JSON (as Python's `json.loads` judges it).
    InvalidJson,
    /// Valid JSON, but not an object.
    NotAnObject,
}

/// Reusable buffers for canonicalising many lines without reallocating.
#[derive(Default)]
pub struct Canonicalizer {
    /// Decoded keys of the objects currently open, as a stack.
    keys: Vec<u8>,
    /// (key start, key end, member start, member end) per member of open objects.
    members: Vec<(usize, usize, usize, usize)>,
    /// Scratch copy used while reordering an object's members.
    tmp: Vec<u8>,
    /// Where values of removed or extracted members are rendered.
    side: Vec<u8>,
    /// Leave the top-level object's members unordered for [`Canonicalizer::verify`].
    defer_top: bool,
    /// The rendered members of the top-level object (verify only).
    body: Vec<u8>,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

type Res<T> = Result<T, NotARecord>;
const BAD: NotARecord = NotARecord::InvalidJson;

impl Cursor<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }
    fn hex4(&mut self) -> Res<u32> {
        let h = self.s.get(self.i..self.i + 4).ok_or(BAD)?;
        let mut v = 0u32;
        for &b in h {
            let d = (b as char).to_digit(16).ok_or(BAD)?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }
}

/// Append `c` to `out` escaped as Python's `ensure_ascii=False` encoder does.
fn push_escaped_char(out: &mut Vec<u8>, c: char) {
    match c {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        '\u{08}' => out.extend_from_slice(b"\\b"),
        '\u{0c}' => out.extend_from_slice(b"\\f"),
        c if (c as u32) < 0x20 => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let v = c as usize;
            out.extend_from_slice(b"\\u00");
            out.push(HEX[v >> 4]);
            out.push(HEX[v & 15]);
        }
        c => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

impl Canonicalizer {
    /// A canonicalizer with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Write the preimage body of `line` (the record minus its top-level `chain`) to `out`
    /// and return the chain fields. `line` must be valid UTF-8 (decode lossily first, as
    /// Python reads the log with `errors="replace"`).
    pub fn record(&mut self, line: &str, out: &mut Vec<u8>) -> Result<ChainFields, NotARecord> {
        self.keys.clear();
        self.members.clear();
        let mut c = Cursor {
            s: line.as_bytes(),
            i: 0,
        };
        c.ws();
        if c.peek() != Some(b'{') {
            // Decide between "not JSON" and "JSON but not an object".
            let mut scratch = std::mem::take(&mut self.side);
            scratch.clear();
            let r = self.value(&mut c, &mut scratch, 0);
            self.side = scratch;
            r?;
            c.ws();
            return Err(if c.i == c.s.len() {
                NotARecord::NotAnObject
            } else {
                NotARecord::InvalidJson
            });
        }
        let mut fields = ChainFields::default();
        self.object(&mut c, out, 0, Some(&mut fields))?;
        c.ws();
        if c.i != c.s.len() {
            return Err(BAD);
        }
        Ok(fields)
    }

    /// Parse `line` and check its stated `chain` against
    /// `sha256_hex(prev + canonical(record without chain))`, hashing the top-level members in
    /// key order straight from where they were rendered. Returns the chain fields and whether
    /// the hash matches (`false` when a chain field is missing).
    pub fn verify(&mut self, line: &str) -> Result<(ChainFields, bool), NotARecord> {
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        self.defer_top = true;
        let parsed = self.record(line, &mut body);
        self.defer_top = false;
        let fields = match parsed {
            Ok(f) => f,
            Err(e) => {
                self.body = body;
                return Err(e);
            }
        };
        let ok = match (&fields.prev, &fields.chain) {
            (Some(prev), Some(chain)) if fields.seq.is_some() && chain.len() == 64 => {
                let keys = &self.keys;
                let members = &mut self.members[..];
                members.sort_by(|a, b| keys[a.0..a.1].cmp(&keys[b.0..b.1]));
                let mut h = Sha256::new();
                h.update(prev.as_bytes());
                h.update(b"{");
                let mut first = true;
                for (idx, m) in members.iter().enumerate() {
                    if let Some(next) = members.get(idx + 1)
                        && keys[next.0..next.1] == keys[m.0..m.1]
                    {
                        continue; // an earlier duplicate: the last one wins
                    }
                    if !first {
                        h.update(b",");
                    }
                    first = false;
                    h.update(&body[m.2..m.3]);
                }
                h.update(b"}");
                let mut hexed = [0u8; 64];
                hex::encode_to_slice(h.finalize().as_slice(), &mut hexed).is_ok()
                    && hexed == chain.as_bytes()
            }
            _ => false,
        };
        self.body = body;
        Ok((fields, ok))
    }

    fn value(&mut self, c: &mut Cursor<'_>, out: &mut Vec<u8>, depth: u32) -> Res<()> {
        c.ws();
        match c.peek().ok_or(BAD)? {
            b'{' => self.object(c, out, depth + 1, None),
            b'[' => self.array(c, out, depth + 1),
            b'"' => string(c, out, None),
            b't' if c.eat(b"true") => {
                out.extend_from_slice(b"true");
                Ok(())
            }
            b'f' if c.eat(b"false") => {
                out.extend_from_slice(b"false");
                Ok(())
            }
            b'n' if c.eat(b"null") => {
                out.extend_from_slice(b"null");
                Ok(())
            }
            b'N' if c.eat(b"NaN") => {
                out.extend_from_slice(b"NaN");
                Ok(())
            }
            b'I' if c.eat(b"Infinity") => {
                out.extend_from_slice(b"Infinity");
                Ok(())
            }
            b'-' if c.eat(b"-Infinity") => {
                out.extend_from_slice(b"-Infinity");
                Ok(())
            }
            b'-' | b'0'..=b'9' => number(c, out),
            _ => Err(BAD),
        }
    }

    fn array(&mut self, c: &mut Cursor<'_>, out: &mut Vec<u8>, depth: u32) -> Res<()> {
        if depth > MAX_DEPTH {
            return Err(BAD);
        }
        c.i += 1;
        out.push(b'[');
        c.ws();
        if c.peek() == Some(b']') {
            c.i += 1;
            out.push(b']');
            return Ok(());
        }
        loop {
            self.value(c, out, depth)?;
            c.ws();
            match c.peek() {
                Some(b',') => {
                    c.i += 1;
                    out.push(b',');
                }
                Some(b']') => {
                    c.i += 1;
                    out.push(b']');
                    return Ok(());
                }
                _ => return Err(BAD),
            }
        }
    }

    /// Parse an object at `c` and write it canonically. At the top level (`top` is
    /// `Some`), `chain` is left out and the chain fields are captured.
    fn object(
        &mut self,
        c: &mut Cursor<'_>,
        out: &mut Vec<u8>,
        depth: u32,
        mut top: Option<&mut ChainFields>,
    ) -> Res<()> {
        if depth > MAX_DEPTH {
            return Err(BAD);
        }
        c.i += 1;
        let obj_start = out.len();
        let first_member = self.members.len();
        let keys_start = self.keys.len();
        out.push(b'{');
        c.ws();
        if c.peek() == Some(b'}') {
            c.i += 1;
            out.push(b'}');
            return Ok(());
        }
        loop {
            c.ws();
            if c.peek() != Some(b'"') {
                return Err(BAD);
            }
            let comma_at = out.len();
            if self.members.len() > first_member {
                out.push(b',');
            }
            let member_start = out.len();
            let key_start = self.keys.len();
            string(c, out, Some(&mut self.keys))?;
            let key_end = self.keys.len();
            c.ws();
            if c.peek() != Some(b':') {
                return Err(BAD);
            }
            c.i += 1;
            out.push(b':');
            let key = &self.keys[key_start..key_end];
            let role = match top.as_ref() {
                Some(_) if key == b"chain" => Some(Role::Chain),
                Some(_) if key == b"prev" => Some(Role::Prev),
                Some(_) if key == b"seq" => Some(Role::Seq),
                _ => None,
            };
            let value_start = out.len();
            self.value(c, out, depth)?;
            if let (Some(role), Some(fields)) = (role, top.as_deref_mut()) {
                let v = &out[value_start..];
                match role {
                    Role::Seq => fields.seq = parse_int(v),
                    Role::Prev => fields.prev = decode_canonical_str(v),
                    Role::Chain => fields.chain = decode_canonical_str(v),
                }
                if role == Role::Chain {
                    // The preimage excludes the record's own chain value.
                    out.truncate(comma_at);
                    self.keys.truncate(key_start);
                }
            }
            if out.len() > member_start {
                self.members
                    .push((key_start, key_end, member_start, out.len()));
            }
            c.ws();
            match c.peek() {
                Some(b',') => c.i += 1,
                Some(b'}') => {
                    c.i += 1;
                    break;
                }
                _ => return Err(BAD),
            }
        }
        if top.is_some() && self.defer_top {
            return Ok(()); // `verify` hashes the members in order without moving them
        }
        self.finish_object(out, obj_start, first_member, keys_start);
        Ok(())
    }

    /// Reorder the members of the object starting at `obj_start` by key, dropping earlier
    /// duplicates, and close it.
    fn finish_object(
        &mut self,
        out: &mut Vec<u8>,
        obj_start: usize,
        first_member: usize,
        keys_start: usize,
    ) {
        let keys = &self.keys;
        let members = &mut self.members[first_member..];
        let sorted = members
            .windows(2)
            .all(|w| keys[w[0].0..w[0].1] < keys[w[1].0..w[1].1]);
        if sorted {
            out.push(b'}');
        } else {
            // Stable sort keeps source order among equal keys, so the last one is the one
            // Python's dict keeps.
            members.sort_by(|a, b| keys[a.0..a.1].cmp(&keys[b.0..b.1]));
            self.tmp.clear();
            self.tmp.extend_from_slice(&out[obj_start..]);
            out.truncate(obj_start);
            out.push(b'{');
            let mut first = true;
            for (idx, m) in members.iter().enumerate() {
                if let Some(next) = members.get(idx + 1)
                    && keys[next.0..next.1] == keys[m.0..m.1]
                {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(&self.tmp[m.2 - obj_start..m.3 - obj_start]);
            }
            out.push(b'}');
        }
        self.members.truncate(first_member);
        self.keys.truncate(keys_start);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Seq,
    Prev,
    Chain,
}

/// Parse a string token; write its canonical form to `out` and, when asked, its decoded
/// bytes to `decoded`.
fn string(c: &mut Cursor<'_>, out: &mut Vec<u8>, mut decoded: Option<&mut Vec<u8>>) -> Res<()> {
    c.i += 1; // opening quote
    out.push(b'"');
    loop {
        // Copy the run of bytes that need no attention in one go.
        let run_start = c.i;
        c.i = plain_run_end(c.s, c.i);
        let run = &c.s[run_start..c.i];
        out.extend_from_slice(run);
        if let Some(d) = decoded.as_deref_mut() {
            d.extend_from_slice(run);
        }
        match c.peek().ok_or(BAD)? {
            b'"' => {
                c.i += 1;
                out.push(b'"');
                return Ok(());
            }
            b'\\' => {
                c.i += 1;
                let e = c.peek().ok_or(BAD)?;
                c.i += 1;
                let ch = match e {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{08}',
                    b'f' => '\u{0c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let u = c.hex4()?;
                        unicode_escape(c, u)?
                    }
                    _ => return Err(BAD),
                };
                push_escaped_char(out, ch);
                if let Some(d) = decoded.as_deref_mut() {
                    let mut buf = [0u8; 4];
                    d.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
            }
            // A raw control character: Python's strict decoder rejects it.
            _ => return Err(BAD),
        }
    }
}

/// Resolve a `\uXXXX` escape (the cursor is after it), pairing surrogates. A lone
/// surrogate becomes `?`, which is what Python's replacement encoding produces.
fn unicode_escape(c: &mut Cursor<'_>, u: u32) -> Res<char> {
    if (0xD800..0xDC00).contains(&u) && c.s[c.i..].starts_with(b"\\u") {
        let save = c.i;
        c.i += 2;
        let lo = c.hex4()?;
        if (0xDC00..0xE000).contains(&lo) {
            let cp = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            return char::from_u32(cp).ok_or(BAD);
        }
        c.i = save;
    }
    Ok(char::from_u32(u).unwrap_or('?'))
}

/// Parse a number token and write it as Python would re-render it.
fn number(c: &mut Cursor<'_>, out: &mut Vec<u8>) -> Res<()> {
    let start = c.i;
    if c.peek() == Some(b'-') {
        c.i += 1;
    }
    match c.peek() {
        Some(b'0') => c.i += 1,
        Some(b'1'..=b'9') => {
            while let Some(b'0'..=b'9') = c.peek() {
                c.i += 1;
            }
        }
        _ => return Err(BAD),
    }
    let int_end = c.i;
    let mut is_float = false;
    if c.peek() == Some(b'.') && matches!(c.s.get(c.i + 1), Some(b'0'..=b'9')) {
        is_float = true;
        c.i += 1;
        while let Some(b'0'..=b'9') = c.peek() {
            c.i += 1;
        }
    }
    if let Some(b'e' | b'E') = c.peek() {
        let mut j = c.i + 1;
        if let Some(b'+' | b'-') = c.s.get(j) {
            j += 1;
        }
        if matches!(c.s.get(j), Some(b'0'..=b'9')) {
            is_float = true;
            c.i = j;
            while let Some(b'0'..=b'9') = c.peek() {
                c.i += 1;
            }
        }
    }
    let text = &c.s[start..c.i];
    if is_float {
        let s = std::str::from_utf8(text).map_err(|_| BAD)?;
        let f: f64 = s.parse().map_err(|_| BAD)?;
        out.extend_from_slice(python_float(f).as_bytes());
    } else if &c.s[start..int_end] == b"-0" {
        out.push(b'0');
    } else {
        out.extend_from_slice(text);
    }
    Ok(())
}

/// The integer a canonical number token stands for, when it is an integer within `i64`.
fn parse_int(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    if s.contains(['.', 'e', 'n', 'N', 'I']) {
        return None;
    }
    s.parse().ok()
}

/// Decode a canonical string token back to its value (`None` if `v` is not a string).
fn decode_canonical_str(v: &[u8]) -> Option<String> {
    if v.first() != Some(&b'"') {
        return None;
    }
    let s = std::str::from_utf8(v).ok()?;
    if !s.contains('\\') {
        return Some(s[1..s.len() - 1].to_string());
    }
    serde_json::from_str::<String>(s).ok()
}

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;
