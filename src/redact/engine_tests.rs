//! Unit tests of the pipeline driver (`engine.rs`): the quick hint checks against an
//! overlapping scan, `first_work` across chunks and on dense lines, and the block filter's
//! one-line property.

use super::hints::*;
use super::*;
use crate::redact::replay::MAX_EDITS;

#[test]
fn quick_hint_check_fits_the_simd_searcher() {
    assert!(
        Engine::get().any_hint.is_some(),
        "a hint group outgrew the SIMD searcher"
    );
}

#[test]
fn quick_hint_check_spans_chunk_boundaries() {
    let engine = Engine::get();
    for offset in [FOLD_CHUNK - 70, FOLD_CHUNK - 3, FOLD_CHUNK, FOLD_CHUNK + 5] {
        let text = format!("{}PassWord", " ".repeat(offset));
        assert!(engine.may_have_hint(&text), "{offset}");
    }
    assert!(!engine.may_have_hint(&" ".repeat(3 * FOLD_CHUNK)));
}

/// The overlapping case-insensitive scan with every hint: the reference for `candidates`.
fn reference_candidates(engine: &Engine, text: &str) -> u128 {
    let mut mask = engine.always;
    for m in engine.hints.find_overlapping_iter(text) {
        let hint = text[m.range()].to_ascii_lowercase();
        if verify::verifier(hint.as_bytes()).is_none_or(|v| v(text.as_bytes(), m.start())) {
            mask |= engine.hint_rules[m.pattern().as_usize()];
        }
    }
    mask
}

#[test]
fn candidates_match_an_overlapping_scan_of_every_hint() {
    let engine = Engine::get();
    let mut texts: Vec<String> = vec![
        String::new(),
        "plain text with nothing".into(),
        "xoxe-1-abc XOXB- Hooks.Slack.Com/Services/ sk-ant- SK_LIVE_ api_org_".into(),
        "PassPhrase passwd API-KEY apikey _GitLab_Session= glpat-gldt-".into(),
        "mysqlmariadbmycli sshpass machine ConvertTo-SecureString -----BEGIN ".into(),
        "a_pat_b ghp_GHO_ ey.eyJ ya29. akiaASIA a3t absk bedrock-api-key- gr1348941".into(),
        "é://ü sig= accountKey AccessKey authorization bearer jwt credential token".into(),
        "\r-_\x7f PASSW\rORD pass_word pa\x7fssw".into(),
    ];
    texts.push(format!("{}sk-ant-", "y".repeat(SHORT_TEXT - 7)));
    texts.push(format!("{}sk-ant-", "y".repeat(SHORT_TEXT - 6)));
    for offset in [FOLD_CHUNK - 20, FOLD_CHUNK - 3, FOLD_CHUNK] {
        texts.push(format!(
            "{}ConvertTo-SecureString xoxe- sk-ant-",
            "x".repeat(offset)
        ));
    }
    for text in &texts {
        assert_eq!(
            engine.candidates(text, &mut Proposals::new(true)),
            reference_candidates(engine, text),
            "{text:?}"
        );
    }
}

/// Every hint alone, in upper case, inside a word, and followed by every other hint (so two
/// hints of one searcher meet at and next to one position): the searchers report one literal
/// per position, and the hints compared there must still be all that may occur.
#[test]
fn candidates_find_every_hint_next_to_every_other() {
    let engine = Engine::get();
    let hints: Vec<&str> = engine
        .rules
        .iter()
        .flat_map(|r| r.hints())
        .copied()
        .collect();
    for a in &hints {
        let mut texts = vec![
            a.to_string(),
            a.to_ascii_uppercase(),
            format!("x{a}y"),
            format!("{}{a}", &a[..a.len() - 1]),
        ];
        for b in &hints {
            texts.push(format!("{a}{b}"));
            texts.push(format!("{a} {}", b.to_ascii_uppercase()));
        }
        for text in &texts {
            assert_eq!(
                engine.candidates(text, &mut Proposals::new(true)),
                reference_candidates(engine, text),
                "{text:?}"
            );
        }
    }
}

#[test]
fn first_work_finds_the_earliest_place_across_chunks() {
    let engine = Engine::get();
    for offset in [
        0,
        5,
        FOLD_CHUNK - HINT_OVERLAP - 2,
        FOLD_CHUNK - HINT_OVERLAP,
        FOLD_CHUNK - 10,
        FOLD_CHUNK,
        2 * FOLD_CHUNK - 100,
    ] {
        let text = format!("{}ConvertTo-SecureString sk-", " ".repeat(offset));
        assert_eq!(engine.first_work(text.as_bytes()), Some(offset), "{offset}");
    }
    assert_eq!(
        engine.first_work(" ".repeat(3 * FOLD_CHUNK).as_bytes()),
        None
    );
    assert_eq!(engine.first_work(b"h.x:5432:db:user:pw\n"), Some(3));
    assert_eq!(
        engine.first_work(b"see https://example.com/a@b, bypassing --author=x\n"),
        None
    );
    assert_eq!(
        engine.first_work(b"ok\ngit clone https://u:t@h/r\n"),
        Some(18)
    );
}

#[test]
fn block_filter_matches_stay_within_one_line() {
    let Unhinted::Filter(filter) = &Engine::get().unhinted else {
        return;
    };
    let sample = "h.x:5432:db:user:pw h:*:d:u:p";
    for at in 0..=sample.len() {
        let split = format!("{}\n{}", &sample[..at], &sample[at..]);
        for m in filter.find_iter(split.as_bytes()) {
            assert!(!m.as_bytes().contains(&b'\n'), "{split:?}");
        }
    }
    assert!(filter.is_match(sample.as_bytes()));
}

#[test]
fn first_work_on_dense_lines_is_the_next_line() {
    let engine = Engine::get();
    let line = "t 07:00:00Z mysql -pX https://a.b/c 10:20:30\n";
    let text = line.repeat(64);
    assert_eq!(engine.first_work(text.as_bytes()), Some(12));
    assert_eq!(engine.first_work(&text.as_bytes()[line.len()..]), Some(12));
    let pg = format!("{line}h.x:5432:db:user:pw\n");
    assert_eq!(
        engine.first_work(&pg.as_bytes()[20..]),
        Some(line.len() - 20 + 3)
    );
}

#[test]
fn every_hint_fits_the_chunk_overlap() {
    for rule in &Engine::get().rules {
        for hint in rule.hints() {
            assert!(hint.len() < HINT_OVERLAP, "{hint}");
        }
    }
}

#[test]
fn search_literals_cover_every_hint_in_slim_groups() {
    let engine = Engine::get();
    let hints: Vec<Vec<u8>> = engine
        .minimal
        .iter()
        .map(|m| m.text.iter().copied().map(fold).collect())
        .collect();
    let groups = search_literals(hints.clone());
    assert_eq!(groups.len(), 4, "one short and three long searchers");
    for group in &groups {
        assert!(!group.is_empty() && group.len() <= SLIM_GROUP);
        // Within a group, every literal is at least as long as the searcher compares.
        let shortest = group.iter().map(Vec::len).min().unwrap_or(0);
        assert!(shortest >= 3, "{shortest}");
    }
    for hint in &hints {
        assert!(
            groups.iter().flatten().any(|l| hint.starts_with(l)),
            "{}",
            String::from_utf8_lossy(hint)
        );
    }
}

#[test]
fn the_rule_table_lets_a_pass_replay_its_proposals() {
    assert!(
        Engine::get().replayable[0],
        "a hint can overlap a plain placeholder: every pass searches its text again"
    );
}

#[test]
fn a_hint_that_can_overlap_a_placeholder_turns_replay_off() {
    let hints = |list: &[&str]| {
        list.iter()
            .map(|h| h.as_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        replayable(&hints(&["ghp_", "password", "://", "auth"])),
        [true, true]
    );
    for bad in ["act", "redacted", "x[", "]", "'", "\"", "ted]"] {
        assert_eq!(replayable(&hints(&["token", bad])), [false, false], "{bad}");
    }
    // Hex digits occur only in keyed placeholders.
    for keyed in ["d:0f", ":c0ffee", "cafe", "acca"] {
        assert_eq!(
            replayable(&hints(&["token", keyed])),
            [true, false],
            "{keyed}"
        );
    }
}

#[test]
fn proposals_follow_the_replacements_of_a_rule() {
    let mut proposals = Proposals::new(true);
    proposals.complete = true;
    for at in [0, 4, 5, 9, 10, 30] {
        proposals.record(at, 1, 2, 1 << at);
    }
    let mut edits = Edits::new();
    // `abcd[REDACTED]…` over 5..10, then 20..22 grows by 8.
    edits.push(5, 10, 10);
    edits.push(20, 22, 10);
    proposals.shift(&edits);
    assert!(proposals.complete);
    let moved: Vec<usize> = proposals.at[..proposals.len].iter().map(|p| p.0).collect();
    assert_eq!(moved, [0, 4, 15, 43]);
    let present = (1 << 0) | (1 << 4) | (1 << 10) | (1 << 30);
    assert_eq!(proposals.present(), Some(present));
    let mut many = Edits::new();
    for i in 0..=MAX_EDITS {
        many.push(100 + 2 * i, 101 + 2 * i, 10);
    }
    proposals.shift(&many);
    assert!(
        !proposals.complete,
        "an overflowing edit list must turn replay off"
    );
}

/// The word compare of a hint's head answers as the byte compare does: every hint, every
/// byte value at every position of it, in both cases, whole and cut off by the text's end.
#[test]
fn head_compare_matches_the_byte_compare() {
    let engine = Engine::get();
    let hints = engine.minimal.iter().flat_map(|m| {
        std::iter::once(m.text.clone()).chain(m.containing.iter().map(|c| c.text.clone()))
    });
    let mut checked = 0usize;
    for hint in hints {
        let head = Head::of(&hint);
        for upper in [false, true] {
            let base: Vec<u8> = if upper {
                hint.to_ascii_uppercase()
            } else {
                hint.clone()
            };
            for i in 0..hint.len() {
                for b in 0..=255u8 {
                    let mut text = b"xy".to_vec();
                    text.extend_from_slice(&base);
                    text[2 + i] = b;
                    for tail in [&b""[..], b"zzzzzzzzzz"] {
                        let mut t = text.clone();
                        t.extend_from_slice(tail);
                        for cut in [t.len(), t.len().saturating_sub(1)] {
                            let t = &t[..cut];
                            assert_eq!(
                                head.at(t, 2, &hint),
                                hint_at(t, 2, &hint),
                                "{:?} in {:?}",
                                String::from_utf8_lossy(&hint),
                                String::from_utf8_lossy(t)
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 100_000, "{checked}");
}
