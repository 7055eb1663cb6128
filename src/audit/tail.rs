//! Reading the end of the audit log backwards in bounded memory (`audit_tail`, resume).
//!
//! Filters: with no filter set, the last `lines` non-empty lines are returned verbatim
//! (whatever the format, start records included). With any filter set, only completion
//! records are considered: each line is parsed as JSON, start records (`"event": "start"`)
//! and unparseable lines are dropped, and a record is kept when every set filter matches
//! (`denied` missing counts as `false`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Backwards read size.
const CHUNK: u64 = 8 * 1024;

/// Upper bound on bytes buffered while looking for line starts; a log whose last lines are
/// longer than this returns what fits (newest first) rather than growing without bound.
const MAX_BUFFER: usize = 64 * 1024 * 1024;

/// The last `n` non-empty lines of `path`, oldest first, and whether the file ends with a
/// newline. Reads backwards in 8 KiB chunks until enough line starts are buffered.
pub fn last_lines(path: &Path, n: usize) -> std::io::Result<(Vec<String>, bool)> {
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    if n == 0 || size == 0 {
        return Ok((Vec::new(), true));
    }
    let mut buf: Vec<u8> = Vec::new(); // the file's last `buf.len()` bytes
    let mut pos = size;
    let mut ends_nl = true;
    loop {
        let take = CHUNK.min(pos);
        pos -= take;
        let mut chunk = vec![0u8; take as usize];
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut chunk)?;
        if buf.is_empty() {
            ends_nl = chunk.last() == Some(&b'\n');
        }
        chunk.extend_from_slice(&buf);
        buf = chunk;
        // Complete lines are those preceded by a newline (or starting the file).
        let complete = count_nonempty_complete(&buf, pos == 0);
        if complete > n || pos == 0 || buf.len() >= MAX_BUFFER {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let mut parts: Vec<&str> = text.split('\n').collect();
    if pos > 0 && !parts.is_empty() {
        parts.remove(0); // a partial line cut by the read window
    }
    let mut lines: Vec<String> = parts
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    if lines.len() > n {
        lines.drain(..lines.len() - n);
    }
    Ok((lines, ends_nl))
}

fn count_nonempty_complete(buf: &[u8], at_start: bool) -> usize {
    let mut parts = buf.split(|&b| b == b'\n');
    if !at_start {
        parts.next();
    }
    parts
        .filter(|p| p.iter().any(|b| !b.is_ascii_whitespace()))
        .count()
}

/// `audit_tail` (docs/tools.md): the last `lines` (clamped to 1..=1000) non-empty lines of the
/// audit file, oldest first, joined by `\n`, filtered as the module documentation says.
/// Missing, empty or unreadable files, and no match, give `""`.
pub fn audit_tail(
    path: &Path,
    lines: usize,
    tool: Option<&str>,
    tier: Option<u8>,
    denied: Option<bool>,
) -> String {
    let n = lines.clamp(1, 1000);
    let Ok((window, _)) = last_lines(path, n) else {
        return String::new();
    };
    let tool = tool.filter(|t| !t.is_empty());
    if tool.is_none() && tier.is_none() && denied.is_none() {
        return window.join("\n");
    }
    window
        .into_iter()
        .filter(|line| {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                return false;
            };
            let Some(obj) = v.as_object() else {
                return false;
            };
            if obj.get("event").and_then(|e| e.as_str()) == Some("start") {
                return false;
            }
            if let Some(t) = tool
                && obj.get("tool").and_then(|x| x.as_str()) != Some(t)
            {
                return false;
            }
            if let Some(t) = tier
                && obj.get("tier").and_then(|x| x.as_i64()) != Some(i64::from(t))
            {
                return false;
            }
            if let Some(d) = denied {
                let rec = obj.get("denied").and_then(|x| x.as_bool()).unwrap_or(false);
                if rec != d {
                    return false;
                }
            }
            true
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(content.as_bytes()).expect("write");
        f
    }

    #[test]
    fn last_lines_across_chunks() {
        let mut s = String::new();
        for i in 0..5000 {
            s.push_str(&format!("line {i}\n\n"));
        }
        let f = file_with(&s);
        let (l, nl) = last_lines(f.path(), 3).expect("read");
        assert_eq!(l, vec!["line 4997", "line 4998", "line 4999"]);
        assert!(nl);
        let (l, _) = last_lines(f.path(), 100_000).expect("read");
        assert_eq!(l.len(), 5000);
        assert_eq!(l[0], "line 0");
    }

    #[test]
    fn torn_tail_is_visible() {
        let f = file_with("a\nb\n{\"partial");
        let (l, nl) = last_lines(f.path(), 2).expect("read");
        assert_eq!(l, vec!["b", "{\"partial"]);
        assert!(!nl);
    }

    #[test]
    fn filters() {
        let f = file_with(concat!(
            "{\"ts\": \"t\", \"event\": \"start\", \"tool\": \"shell_exec\", \"tier\": 1}\n",
            "{\"ts\": \"t\", \"tool\": \"shell_exec\", \"tier\": 1, \"denied\": false}\n",
            "not json\n",
            "{\"ts\": \"t\", \"tool\": \"ssh_exec\", \"tier\": 3, \"denied\": true}\n",
            "{\"ts\": \"t\", \"tool\": \"server_info\", \"tier\": 0}\n",
        ));
        let p = f.path();
        assert_eq!(audit_tail(p, 50, None, None, None).lines().count(), 5);
        assert_eq!(audit_tail(p, 2, None, None, None).lines().count(), 2);
        let one = audit_tail(p, 50, Some("shell_exec"), None, None);
        assert_eq!(
            one,
            "{\"ts\": \"t\", \"tool\": \"shell_exec\", \"tier\": 1, \"denied\": false}"
        );
        assert_eq!(audit_tail(p, 50, None, Some(3), None).lines().count(), 1);
        assert_eq!(
            audit_tail(p, 50, None, None, Some(false)).lines().count(),
            2
        );
        assert_eq!(audit_tail(p, 50, None, None, Some(true)).lines().count(), 1);
        assert_eq!(audit_tail(p, 50, Some("nope"), None, None), "");
        assert_eq!(
            audit_tail(Path::new("/nonexistent/x"), 5, None, None, None),
            ""
        );
    }
}
