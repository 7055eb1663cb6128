//! Tests of the structure-preserving rules.

use super::*;
use crate::redact::generated_texts;

/// Where a pattern declares its value's place ([`PatternRule::value_within`]), every match
/// of texts built from the pieces that decide it gives the capture group's span: `find`
/// compares the two in debug builds, which tests are.
#[test]
fn declared_values_are_where_the_capture_group_puts_them() {
    let pieces = [
        "://",
        "bearer",
        "BeArEr",
        " ",
        "\t",
        "\u{a0}",
        "\u{2003}",
        "\u{1c}",
        "@",
        ":",
        "a",
        "Z9",
        ".",
        "_",
        "-",
        "/",
        "?",
        "#",
        "\"",
        "'",
        "<",
        ">",
        "é",
        "ghp_R4nd0mT0k3nV4lu3",
        "https://u:p@",
        "Bearer eyJ.a-b_c",
        "\n",
    ];
    let rules = structure_rules();
    let mut hits = 0;
    for text in generated_texts(&pieces, 12, 4000, 11) {
        for rule in &rules {
            let mut state = ScanState::default();
            let mut from = 0;
            while let Some(hit) = rule.find(&text, from, &mut state) {
                hits += 1;
                from = hit.resume.max(from + 1);
                if from > text.len() {
                    break;
                }
                while !text.is_char_boundary(from) {
                    from += 1;
                }
            }
        }
    }
    assert!(hits > 2000, "too few matches to compare: {hits}");
}
