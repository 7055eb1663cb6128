//! Bounding text: the one truncation function and the clamps every tool uses (docs/configuration.md).

/// `clamp(v, lo, hi)` as the Python implementation defines it: swaps the bounds if they are reversed.
pub(crate) fn clamp_i64(v: i64, lo: i64, hi: i64) -> i64 {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    v.max(lo).min(hi)
}

/// Clamp a per-call timeout in seconds to `[1, max_timeout]`.
pub(crate) fn clamp_timeout(t: i64, max_timeout: u64) -> u64 {
    clamp_i64(t, 1, max_timeout as i64) as u64
}

/// Clamp a per-call output budget in bytes to `[1024, max_output_hard]`.
pub(crate) fn clamp_output(n: i64, max_output_hard: usize) -> usize {
    clamp_i64(n, 1024, max_output_hard as i64) as usize
}

/// Decode bytes as UTF-8, replacing invalid sequences with U+FFFD.
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A marker line (`[TIMEOUT after Ns]`), then, when the process wrote anything, a newline and
/// its output decoded like [`lossy`]. With no output the result is the marker alone, byte for
/// byte the Python implementation's result string.
pub(crate) fn after_marker(marker: &str, output: &[u8]) -> String {
    if output.is_empty() {
        return marker.to_string();
    }
    let mut s = String::with_capacity(marker.len() + 1 + output.len());
    s.push_str(marker);
    s.push('\n');
    s.push_str(&String::from_utf8_lossy(output));
    s
}

/// Truncate `text` to `limit` UTF-8 bytes with the Python implementation's marker.
///
/// Returns the text unchanged when it fits. Otherwise keeps the first `limit` bytes (a split
/// multi-byte character becomes U+FFFD) and appends
/// `\n\n[TRUNCATED - <total> bytes total, <limit> shown]`, where `total` is `total_bytes` when
/// the caller knows the true size of the output before any capping, else the length of `text`.
pub(crate) fn truncate(text: &str, limit: usize, total_bytes: Option<usize>) -> (String, bool) {
    let total = total_bytes.unwrap_or(text.len()).max(text.len());
    if text.len() <= limit && total <= text.len() {
        return (text.to_string(), false);
    }
    if text.len() <= limit {
        // The body fits but bytes were already dropped upstream: still say so.
        return (
            format!(
                "{text}\n\n[TRUNCATED - {total} bytes total, {} shown]",
                text.len()
            ),
            true,
        );
    }
    let head = String::from_utf8_lossy(&text.as_bytes()[..limit]);
    (
        format!("{head}\n\n[TRUNCATED - {total} bytes total, {limit} shown]"),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_then_output() {
        assert_eq!(
            after_marker("[TIMEOUT after 1s]", b""),
            "[TIMEOUT after 1s]"
        );
        assert_eq!(
            after_marker("[TIMEOUT after 1s]", b"a\xffb\n"),
            "[TIMEOUT after 1s]\na\u{fffd}b\n"
        );
    }

    #[test]
    fn clamps() {
        assert_eq!(clamp_timeout(0, 900), 1);
        assert_eq!(clamp_timeout(-5, 900), 1);
        assert_eq!(clamp_timeout(5000, 900), 900);
        assert_eq!(clamp_output(10, 1 << 20), 1024);
        assert_eq!(clamp_i64(5, 10, 1), 5);
    }

    #[test]
    fn truncation_marker_is_exact() {
        assert_eq!(truncate("abc", 3, None), ("abc".to_string(), false));
        let (t, cut) = truncate("abcdef", 4, None);
        assert!(cut);
        assert_eq!(t, "abcd\n\n[TRUNCATED - 6 bytes total, 4 shown]");
        // a split multi-byte character becomes U+FFFD
        let (t, _) = truncate("aé", 2, None);
        assert_eq!(t, "a\u{fffd}\n\n[TRUNCATED - 3 bytes total, 2 shown]");
    }
}
