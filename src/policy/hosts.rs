//! Canonical-IP widening of host-bearing probes (docs/compatibility.md): append the canonical spelling of
//! every literal IP host so an operator's deny regex on `169.254.169.254` or `127.0.0.1` also
//! catches `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1` and `[::ffff:7f00:1]`. No DNS.
//!
//! One deliberate difference from the Python implementation: a `user@` prefix is stripped before the check, so
//! `root@2130706433` is widened too (docs/compatibility.md #9).

use std::net::{Ipv4Addr, Ipv6Addr};

/// `probe` plus, after a single space, the canonical forms of the literal-IP `hosts` that are
/// not already a whitespace-separated token of it (space-separated, first-seen order). `probe` unchanged when none.
pub fn widen_hosts(probe: &str, hosts: &[&str]) -> String {
    let mut extra: Vec<String> = Vec::new();
    let present: Vec<&str> = probe.split_whitespace().collect();
    for raw in hosts {
        let token = raw.trim();
        let token = token.rsplit('@').next().unwrap_or(token);
        for form in canonical_forms(token) {
            if form != token && !present.contains(&form.as_str()) && !extra.contains(&form) {
                extra.push(form);
            }
        }
    }
    if extra.is_empty() {
        probe.to_string()
    } else {
        format!("{probe} {}", extra.join(" "))
    }
}

/// Every canonical spelling of `token` as an IP address (empty for host names).
fn canonical_forms(token: &str) -> Vec<String> {
    let bare = token.strip_prefix('[').unwrap_or(token);
    let bare = bare.strip_suffix(']').unwrap_or(bare);
    let mut out = Vec::new();
    if let Ok(v4) = bare.parse::<Ipv4Addr>() {
        out.push(v4.to_string());
    } else if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        out.push(format_v6(v6));
        if let Some(v4) = v6.to_ipv4_mapped() {
            out.push(v4.to_string());
        }
    }
    let ipish = bare.contains('.')
        || bare.starts_with("0x")
        || bare.starts_with("0X")
        || (!bare.is_empty()
            && bare.chars().all(|c| c.is_ascii_digit())
            && bare.parse::<u64>().map_or(true, |n| n > 65535));
    if ipish && let Some(v4) = inet_aton(bare) {
        out.push(v4.to_string());
    }
    out
}

/// RFC 5952 text, with IPv4-mapped addresses in hex (`::ffff:7f00:1`) as Python prints them.
fn format_v6(addr: Ipv6Addr) -> String {
    let s = addr.segments();
    if s[..5].iter().all(|x| *x == 0) && s[5] == 0xffff {
        return format!("::ffff:{:x}:{:x}", s[6], s[7]);
    }
    addr.to_string()
}

/// The libc `inet_aton` grammar: 1–4 parts, each decimal, octal (leading 0) or hex (0x).
fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        values.push(parse_part(p)?);
    }
    let last = *values.last()?;
    let head = &values[..values.len() - 1];
    if head.iter().any(|v| *v > 255) {
        return None;
    }
    let max_last: u64 = match values.len() {
        1 => u32::MAX as u64,
        2 => 0xff_ffff,
        3 => 0xffff,
        _ => 0xff,
    };
    if last > max_last {
        return None;
    }
    let mut n: u64 = 0;
    for (i, v) in head.iter().enumerate() {
        n |= v << (24 - 8 * i);
    }
    n |= last;
    Some(Ipv4Addr::from(u32::try_from(n).ok()?))
}

fn parse_part(p: &str) -> Option<u64> {
    if p.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (h, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() {
        // "0x" alone is 0 for glibc.
        return (radix == 16).then_some(0);
    }
    if digits.len() > 12 {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            widen_hosts("ssh_exec id\n2130706433", &["2130706433"]),
            "ssh_exec id\n2130706433 127.0.0.1"
        );
        assert_eq!(
            widen_hosts("ssh_exec id\n::ffff:127.0.0.1", &["::ffff:127.0.0.1"]),
            "ssh_exec id\n::ffff:127.0.0.1 ::ffff:7f00:1 127.0.0.1"
        );
    }

    #[test]
    fn spellings() {
        assert_eq!(widen_hosts("p", &["0x7f000001"]), "p 127.0.0.1");
        assert_eq!(widen_hosts("p", &["0177.0.0.1"]), "p 127.0.0.1");
        assert_eq!(widen_hosts("p", &["127.1"]), "p 127.0.0.1");
        assert_eq!(widen_hosts("p", &["[::1]"]), "p ::1");
        assert_eq!(widen_hosts("p", &["root@2130706433"]), "p 127.0.0.1");
        assert_eq!(widen_hosts("p 127.0.0.1", &["127.0.0.1"]), "p 127.0.0.1");
        assert_eq!(widen_hosts("p", &["web01", "reboot-test-01", "22"]), "p");
        assert_eq!(widen_hosts("p", &["999.1.1.1"]), "p");
    }
}
