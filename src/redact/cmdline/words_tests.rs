//! Unit tests of the shell-word reader (`words.rs`).

use super::*;

fn texts(text: &str) -> Vec<Vec<String>> {
    commands(text)
        .into_iter()
        .map(|c| c.words.into_iter().map(|w| w.text.into_owned()).collect())
        .collect()
}

#[test]
fn words_follow_shell_quoting() {
    assert_eq!(
        texts(r#"mysql -p"a b" 'c d' e\ f; ls"#)[0],
        vec!["mysql", "-pa b", "c d", "e f"]
    );
    assert_eq!(texts("a \\\n -pX | b"), vec![vec!["a", "-pX"], vec!["b"]]);
    assert_eq!(texts("sec\\\nret"), vec![vec!["secret"]]);
}

#[test]
fn sources_map_back_through_quotes_and_continuations() {
    let text = "x --password=\"ab\\\ncd\" y";
    let cmds = commands(text);
    let w = &cmds[0].words[1];
    assert_eq!(w.text, "--password=abcd");
    let span = w.source(11, w.text.len()).unwrap();
    assert_eq!(&text[span.range], "ab\\\ncd");
    assert_eq!(span.keep, "");
}

/// Every byte of every word maps back to the same byte of the source, in order, and a
/// value's span keeps exactly the quotes the reader dropped inside it.
#[test]
fn every_byte_maps_to_its_source_byte() {
    let texts = [
        r#"mysql -p"a b"'c d'e\ f "g\"h" -u\
x "p\
q" 'é'"ü"z"#,
        r#"x="a"'b'c"d" y\'z "\$\`\\" 'a''b'"#,
        "a\\\r\nb \\\nc \"\" ''",
    ];
    for text in texts {
        for cmd in commands(text) {
            for w in &cmd.words {
                let mut last = None;
                for k in 0..w.text.len() {
                    let Some(span) = w.source(k, k + 1) else {
                        panic!("{text:?}: no source for byte {k} of {:?}", w.text);
                    };
                    assert_eq!(span.range.len(), 1, "{:?} byte {k}", w.text);
                    assert_eq!(
                        text.as_bytes()[span.range.start],
                        w.text.as_bytes()[k],
                        "{:?} byte {k}",
                        w.text
                    );
                    assert!(last < Some(span.range.start));
                    last = Some(span.range.start);
                }
            }
        }
    }
    let cmds = commands(r#"mysql -p'a'"b"c"#);
    let w = &cmds[0].words[1];
    assert_eq!(w.text, "-pabc");
    let span = w.source(2, 5).unwrap();
    assert_eq!(&r#"mysql -p'a'"b"c"#[span.range.clone()], r#"a'"b"c"#);
    // The quote that closes `'a` stays after a placeholder; `"b"` is paired inside.
    assert_eq!(span.keep, "'");
    let span = w.source(2, 4).unwrap();
    assert_eq!(&r#"mysql -p'a'"b"c"#[span.range.clone()], r#"a'"b"#);
}

/// The closing-quote scan a byte at a time: the reference for [`Reader::closing_quote`].
fn closing_quote_bytewise(bytes: &[u8], pos: usize, quote: u8) -> Option<usize> {
    let mut i = pos + 1;
    while i < bytes.len() {
        match bytes[i] {
            b if b == quote => return Some(i),
            b'\n' | b'\r' => return None,
            b'\\' if quote == b'"' => {
                if bytes.get(i + 1) == Some(&b'\r') {
                    i += 1;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    None
}

#[test]
fn closing_quote_matches_a_bytewise_scan() {
    let pieces = ["'", "\"", "\\", "\n", "\r", "a", "bc ", "\\\r\n", "é"];
    for text in crate::redact::generated_texts(&pieces, 12, 20_000, 7) {
        let bytes = text.as_bytes();
        for (pos, &b) in bytes.iter().enumerate() {
            if b != b'\'' && b != b'"' {
                continue;
            }
            for end in [bytes.len(), (pos + 1 + bytes.len()) / 2] {
                let reader = Reader {
                    text: &text,
                    end: end.max(pos + 1),
                    pos,
                    nested: Vec::new(),
                    buffers: Vec::new(),
                    targets: Vec::new(),
                    reading: &READ_ALL,
                };
                let end = reader.end;
                assert_eq!(
                    reader.closing_quote(char::from(b)),
                    closing_quote_bytewise(&bytes[..end], pos, b),
                    "{text:?} at {pos}, end {end}"
                );
            }
        }
    }
}

#[test]
fn redirections_are_kept_apart() {
    let text = "echo pw 2>/dev/null > /etc/rsync.pass <in";
    let targets = std::cell::RefCell::new(Vec::new());
    let target = |t: &str| {
        targets.borrow_mut().push(t.to_string());
        t == "/etc/rsync.pass"
    };
    let reading = Reading {
        target: &target,
        ..READ_ALL
    };
    let mut cmds = Vec::new();
    for_each_command_in(text, 0..text.len(), &reading, &mut |c, _| {
        cmds.push(c.clone())
    });
    assert_eq!(cmds.len(), 1);
    let words: Vec<&str> = cmds[0].words.iter().map(|w| w.text.as_ref()).collect();
    assert_eq!(words, ["echo", "pw"]);
    assert!(cmds[0].writes_target);
    // Output targets only (`2>` names a descriptor, `<in` is read).
    assert_eq!(*targets.borrow(), ["/dev/null", "/etc/rsync.pass"]);
}

#[test]
fn quoted_commands_are_read_again() {
    let all = texts(r#"log command="mysql -pX db" ok"#);
    assert!(all.contains(&vec!["mysql".to_string(), "-pX".into(), "db".into()]));
}

#[test]
fn an_ordinary_run_ends_at_the_first_special_byte() {
    let pieces = [
        "a", "bcdefg", " ", "\t", "'", "\"", "\\", ";", "|", "é", "-x=1/2",
    ];
    for text in crate::redact::generated_texts(&pieces, 12, 5_000, 3) {
        let bytes = text.as_bytes();
        for from in 0..=bytes.len() {
            let by_byte = bytes[from..]
                .iter()
                .position(|&b| SPECIAL[usize::from(b)])
                .unwrap_or(bytes.len() - from);
            assert_eq!(
                super::ordinary_run(&bytes[from..]),
                by_byte,
                "{text:?} from {from}"
            );
        }
    }
}

#[test]
fn a_thread_keeps_no_list_that_a_long_text_grew() {
    // Thirty thousand words in one command, and ten thousand quoted parts read again: the
    // lists grow far past what a thread keeps for the next text.
    let long = "mysql 'a b' \"c\\\"d\" ".repeat(10_000);
    assert_eq!(commands(&long).len(), 1 + 10_000);
    let scratch = SCRATCH.take();
    assert!(scratch.words.capacity() <= KEPT_LIST_CAPACITY);
    assert!(scratch.held.capacity() <= KEPT_LIST_CAPACITY);
    assert!(scratch.pending.capacity() <= KEPT_LIST_CAPACITY);
    assert!(scratch.nested.capacity() <= KEPT_LIST_CAPACITY);
    assert!(scratch.buffers.len() <= KEPT_BUFFERS);
    assert!(scratch.buffers.iter().all(|(text, runs)| {
        text.capacity() <= KEPT_TEXT_BYTES && runs.capacity() <= KEPT_LIST_CAPACITY
    }));
    // A short text keeps its word list (handed back by the caller) for the next one.
    for_each_command("mysql -u a", &mut |_, _| {});
    let scratch = SCRATCH.take();
    assert!(scratch.words.capacity() + scratch.held.capacity() > 0);
}

#[test]
fn here_strings_are_the_commands_input_not_its_words() {
    let cmds = commands("sudo -S id <<< 'a b' >out && x<<<y; cat << EOF; z <<<p <<< q");
    let words: Vec<Vec<String>> = cmds
        .iter()
        .map(|c| c.words.iter().map(|w| w.text.to_string()).collect())
        .collect();
    assert_eq!(
        words,
        vec![
            vec!["sudo", "-S", "id"],
            vec!["x"],
            vec!["cat"],
            vec!["z"],
            // The quoted part with a space, read again as a text of its own.
            vec!["a", "b"],
        ]
    );
    let here: Vec<Option<String>> = cmds
        .iter()
        .map(|c| c.here.as_ref().map(|w| w.text.to_string()))
        .collect();
    // A here-document's delimiter is no here-string; of two here-strings the last is read.
    assert_eq!(
        here,
        vec![
            Some("a b".into()),
            Some("y".into()),
            None,
            Some("q".into()),
            None
        ]
    );
    let text = "sudo -S id <<< 'a b'";
    let span = cmds_source(text);
    assert_eq!(&text[span], "a b");
}

/// The source span of the first command's here-string.
fn cmds_source(text: &str) -> std::ops::Range<usize> {
    let cmds = commands(text);
    let here = cmds[0].here.as_ref().expect("a here-string");
    here.source(0, here.text.len()).expect("a span").range
}
