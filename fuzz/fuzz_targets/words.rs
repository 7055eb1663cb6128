//! Fuzz target `words`: shell-word splitting (`use_shell=false`, session commands).
//!
//! Checks, for any UTF-8 text: splitting never panics; on success no character other than
//! separators, quotes and backslashes is lost, added or reordered; quoting every word with
//! single quotes and splitting again gives the same words; text without quotes or
//! backslashes splits exactly on the four separators; an error quotes at most 80 characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_shell::exec::split_words;

const SEPARATORS: [char; 4] = [' ', '\t', '\r', '\n'];

fn kept(c: &char) -> bool {
    !SEPARATORS.contains(c) && !matches!(c, '\'' | '"' | '\\')
}

fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r#"'"'"'"#))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match split_words(text) {
        Ok(words) => {
            let before: String = text.chars().filter(kept).collect();
            let after: String = words.concat().chars().filter(kept).collect();
            assert_eq!(before, after, "characters lost or added splitting {text:?}");
            let requoted: Vec<String> = words.iter().map(|w| quote(w)).collect();
            let again = split_words(&requoted.join(" ")).expect("quoted words split");
            assert_eq!(again, words, "quoting does not round-trip for {text:?}");
            if !text.contains(['\'', '"', '\\']) {
                let plain: Vec<&str> = text.split(SEPARATORS).filter(|w| !w.is_empty()).collect();
                assert_eq!(words, plain, "plain text split differently: {text:?}");
            }
        }
        Err(e) => {
            let message = e.message;
            assert!(
                message.chars().count() <= 80 + 32,
                "unbounded error message: {message:?}"
            );
        }
    }
});
