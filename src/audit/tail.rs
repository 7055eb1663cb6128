//! Reading the newest audit lines in bounded memory (spec §9.7) and the `audit_tail` filters.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The last `n` non-empty lines of `path`, oldest first, joined with `\n`. Reads backwards in
/// 8 KiB chunks, so memory is bounded by the lines returned. Any error → `""`.
pub fn tail_lines(path: &Path, n: usize) -> String {
    if n == 0 {
        return String::new();
    }
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let Ok(len) = f.seek(SeekFrom::End(0)) else {
        return String::new();
    };
    let mut pos = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let newlines = buf.iter().filter(|b| **b == b'\n').count();
        if pos == 0 || newlines > n {
            break;
        }
        let step = pos.min(8192);
        pos -= step;
        let mut chunk = vec![0u8; step as usize];
        if f.seek(SeekFrom::Start(pos)).is_err() || f.read_exact(&mut chunk).is_err() {
            return String::new();
        }
        chunk.extend_from_slice(&buf);
        buf = chunk;
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// `audit_tail`: the newest `lines` lines, filtered by tool, tier and denied when any filter
/// is set (unparseable lines and start records are dropped then).
pub fn audit_tail(
    path: &Path,
    lines: usize,
    tool: Option<&str>,
    tier: Option<u8>,
    denied: Option<bool>,
) -> String {
    let text = tail_lines(path, lines);
    if tool.is_none() && tier.is_none() && denied.is_none() {
        return text;
    }
    text.lines()
        .filter(|line| {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                return false;
            };
            if v.get("event").is_some() {
                return false;
            }
            tool.is_none_or(|t| v.get("tool").and_then(|x| x.as_str()) == Some(t))
                && tier.is_none_or(|t| v.get("tier").and_then(|x| x.as_u64()) == Some(t.into()))
                && denied
                    .is_none_or(|d| v.get("denied").and_then(|x| x.as_bool()).unwrap_or(false) == d)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
