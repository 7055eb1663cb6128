//! Unit tests of `rules.rs`: the hand-read prefixes against the patterns they stand for.

use super::*;

/// Every text of up to `len` pieces drawn by a fixed generator.
fn generated(pieces: &[&str], len: usize, count: usize, seed: u64) -> Vec<String> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            let mut t = String::new();
            for _ in 0..len {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                t.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            t
        })
        .collect()
}

#[test]
fn authorization_prefix_is_the_patterns_leftmost_match() {
    let pattern = compile(AUTHORIZATION_PREFIX);
    let pieces = [
        "authorization",
        "Authorization",
        "AUTHORIZATION",
        "authorizatio",
        "proxy-",
        "Proxy-",
        "xproxy-",
        "x",
        "_",
        "-",
        ":",
        "=",
        " ",
        "\"",
        "'",
        "\u{a0}",
        "\u{1c}",
        "é",
        "\n",
    ];
    let mut texts = generated(&pieces, 8, 20_000, 0x4175_7468);
    texts.extend(
        [
            "Authorization: Bearer x",
            "proxy-authorization=\"a\"",
            "x-authorization : y",
            "xauthorization: y",
            "authorization\u{a0}\u{1c}= y",
            "'authorization' : y",
        ]
        .map(String::from),
    );
    let mut found = 0;
    for t in &texts {
        for at in (0..=t.len()).filter(|&at| t.is_char_boundary(at)) {
            let expected = pattern.find_at(t, at).map(|m| (m.start(), m.end()));
            found += usize::from(expected.is_some());
            assert_eq!(AuthorizationRule::prefix(t, at), expected, "{t:?} at {at}");
        }
    }
    assert!(found > 20_000, "only {found} matches");
}
