//! Rules beyond docs/compatibility.md for secrets the Python implementation lists as known gaps: compound secret flags
//! (`--db-password`, `--jwt`), `sshpass -p`, `.netrc` lines, `.pgpass` lines and GitLab
//! session cookies. They run after the Python implementation's rules, so they can only redact more.

use super::cli_flag::CliFlagRule;
use super::rules::PatternRule;
use super::scan::{
    Hit, LazyRegex, Rule, ScanState, bare_token_end, char_at, compile, flag_value_end, is_py_space,
    next_char_boundary, skip_py_space,
};

/// Most option tokens looked at after `sshpass` before giving up.
const SSHPASS_MAX_OPTIONS: usize = 16;

/// `sshpass -p SECRET cmd…` and `sshpass -pSECRET cmd…`: the password is the argument of the
/// first `-p` among sshpass's own options (before the wrapped command). The wrapped command's
/// own `-p` (an ssh port) is not touched.
struct SshpassRule {
    /// The word `sshpass`.
    word: LazyRegex,
}

impl SshpassRule {
    /// The `-p` value among the options that start at `at`, if any.
    fn password(text: &str, mut at: usize, state: &mut ScanState) -> Option<Hit> {
        for _ in 0..SSHPASS_MAX_OPTIONS {
            let token = skip_py_space(text, at);
            if token == at || char_at(text, token) != Some('-') {
                return None;
            }
            let end = bare_token_end(text, token);
            let option = &text[token..end];
            if let Some(attached) = option.strip_prefix("-p")
                && !attached.is_empty()
            {
                let value_end = flag_value_end(text, token + 2, state)?;
                return Some(Hit {
                    secret: token + 2..value_end,
                    resume: value_end,
                    keep: "",
                });
            }
            let takes_argument = matches!(option, "-p" | "-f" | "-d" | "-P");
            at = end;
            if takes_argument {
                let arg = skip_py_space(text, at);
                if arg == at {
                    return None;
                }
                let arg = super::scan::skip_continuations(text, arg);
                let arg_end = flag_value_end(text, arg, state)?;
                if option == "-p" {
                    return Some(Hit {
                        secret: arg..arg_end,
                        resume: arg_end,
                        keep: "",
                    });
                }
                at = arg_end;
            }
        }
        None
    }
}

impl Rule for SshpassRule {
    fn hints(&self) -> &'static [&'static str] {
        &["sshpass"]
    }

    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit> {
        let mut at = from;
        loop {
            let m = self.word.find_at(text, at)?;
            at = next_char_boundary(text, m.start());
            if char_at(text, m.end()).is_some_and(|c| !is_py_space(c)) {
                continue;
            }
            if let Some(hit) = Self::password(text, m.end(), state) {
                return Some(hit);
            }
        }
    }
}

/// An indented line of exactly `password VALUE` (see [`extra_rules`]).
const NETRC_LINE: &str = r"(?m)^[ \t]+(?:password|passwd)[ \t]+(?P<v>[^\s]+)[ \t]*\r?$";

/// Whether a line of `text` starts with a blank (the indented-`.netrc`-line rule's
/// precheck: a log line that merely holds `password` is passed over with one byte search).
fn has_indented_line(text: &str) -> bool {
    let bytes = text.as_bytes();
    let blank = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    blank(bytes.first()) || memchr::memchr_iter(b'\n', bytes).any(|nl| blank(bytes.get(nl + 1)))
}

/// Whether `text` may hold a `.pgpass` line: somewhere a `:`, a port (1 to 5 digits or `*`),
/// `:`, two fields without `:`, quotes or whitespace, each followed by `:` — the part every
/// match of the rule (and of its block filter) contains. A byte scan instead of a regex gate:
/// every timestamped log line (`07:00:00`) passed the old gate, and the rule's own search then
/// ran on it. It stops fields only at ASCII whitespace, so it says yes wherever the rule's
/// pattern (which also stops at other whitespace) can match, and possibly elsewhere.
fn has_pgpass_shape(text: &str) -> bool {
    let bytes = text.as_bytes();
    let in_field = |b: &u8| !(matches!(*b, b':' | b'\'' | b'"' | 0x0b) || b.is_ascii_whitespace());
    memchr::memchr_iter(b':', bytes).any(|colon| {
        let rest = &bytes[colon + 1..];
        let port = if rest.first() == Some(&b'*') {
            1
        } else {
            let digits = rest
                .iter()
                .take(6)
                .take_while(|b| b.is_ascii_digit())
                .count();
            if !(1..=5).contains(&digits) {
                return false;
            }
            digits
        };
        let Some(mut rest) = rest[port..].strip_prefix(b":") else {
            return false;
        };
        for _ in 0..2 {
            let field = rest.iter().take_while(|b| in_field(b)).count();
            match rest[field..].strip_prefix(b":") {
                Some(after) if field > 0 => rest = after,
                _ => return false,
            }
        }
        true
    })
}

/// The additional rules, in order.
pub(crate) fn extra_rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(CliFlagRule::compound()),
        // `private_key=`, `secret_key:` (v0.5): after the key-block rule, so a PEM block that
        // follows has already gone whole.
        Box::new(super::rules::AssignmentRule::new(
            "(?:private|secret)[_-]?key",
            &["private", "secret"],
        )),
        // Keys ending in a `pass` segment or in `sshpass` (`DB_PASS=x`, `ansible_become_pass=x`,
        // `SSHPASS=x` as `sshpass -e` reads it), written against the separator: code that
        // spaces it (`first_pass = True`) names a pass, not a password.
        Box::new(super::rules::AssignmentRule::tight(
            "(?:[_.-]|ssh)pass",
            &["pass"],
        )),
        // docker `config.json` auths: `"auth": "dXNlcjpwYXNz"` (base64 of user:password).
        Box::new(PatternRule::valued(
            r#"(?i)"auth"\s*:\s*"(?P<v>[A-Za-z0-9+/=]{8,})""#,
            &["auth"],
        )),
        Box::new(SshpassRule {
            word: compile(r"(?-u:\b)sshpass"),
        }),
        // .netrc: `machine h login u password p`, only in text that has a netrc entry shape
        // (or the `default login u password p` entry).
        Box::new(
            PatternRule::valued(
                r"(?:\A|\s)(?:password|passwd)[ \t]+(?P<v>\S+)",
                &["machine", "default login"],
            )
            .reading_previous_char()
            .gated_by(
                r"(?:\A|\s)(?:machine\s+\S+\s+(?:login|password|account|port)|default\s+login)\s",
            ),
        ),
        // A `.netrc` entry written over several lines, as the text mode sees it, a line at a
        // time: an indented line of exactly `password VALUE` (or `passwd`), the keyword in
        // lower case as netrc writes it. Prose that starts a line with the word has more
        // words or no indent.
        Box::new(
            PatternRule::valued(NETRC_LINE, &["password", "passwd"])
            .prechecked_by(has_indented_line),
        ),
        // .pgpass: `host:port:database:user:password` (host has a non-digit; port is a number
        // or `*`); the value ends at whitespace, a quote, or the end — never at another `:`.
        Box::new(
            PatternRule::valued(
                r#"(?:\A|[\s'"=])[A-Za-z0-9.*_\-\[\]]*[A-Za-z.*_\-\[\]][A-Za-z0-9.*_\-\[\]]*:(?:[0-9]{1,5}|\*):[^:\s'"]+:[^:\s'"]+:(?P<v>(?:\\.|[^\\\s'":])+)(?:[\s'"]|\z)"#,
                &[],
            )
            .reading_previous_char()
            .resuming_at_secret_end()
            .prechecked_by(has_pgpass_shape)
            // The port and the two fields after it, which every match contains.
            .filtered_by(r#":(?:[0-9]{1,5}|\*):[^:\s'"]+:[^:\s'"]+:"#),
        ),
        // PowerShell's plain-text credential objects: the second argument of a
        // `NetworkCredential` (`New-Object System.Net.NetworkCredential('u', 'X')`,
        // `[Net.NetworkCredential]::new("u", "X")`, `… -ArgumentList 'u','X'`) is the
        // password, when it is written as a string (a `$variable` is left).
        Box::new(PatternRule::valued(
            r#"(?i)NetworkCredential\]?(?:::new)?\s*(?:\(|-ArgumentList\s+\(?)\s*['"][^'"\r\n]*['"]\s*,\s*['"](?P<v>[^'"\r\n]+)['"]"#,
            &["networkcredential"],
        )),
        // GitLab session cookie.
        Box::new(PatternRule::valued(
            r"_gitlab_session=(?P<v>[0-9a-f]{32})",
            &["_gitlab_session="],
        )),
    ]
}

/// Rules that run after the command-line rule, last in the pipeline. They are independent of
/// it (their shapes are no command's options), and their hint literals come last in the hint
/// table: a literal inserted among the others reassigns the SIMD searchers' buckets (a `wget`
/// literal cost the secret-free row 0.36 instructions per byte there, 0.05 at the end).
pub(crate) fn late_rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(super::cookie::CookieRule::new()),
        Box::new(super::sql::identified_rule()),
        Box::new(super::sql::SqlPasswordRule::new()),
        Box::new(super::sql::connect_rule()),
    ]
}

#[cfg(test)]
mod tests {
    use super::{NETRC_LINE, has_indented_line, has_pgpass_shape};
    use crate::redact::{check_covers, generated_texts};

    #[test]
    fn indented_line_check_says_yes_wherever_the_netrc_line_pattern_matches() {
        let alphabet = ["\n", " ", "\t", "\r", "password", "passwd", "x", "\u{a0}"];
        let matched = check_covers(
            NETRC_LINE,
            has_indented_line,
            &alphabet,
            8,
            100_000,
            0x0e7c_2026,
        );
        assert!(matched > 100, "only {matched} texts matched");
        assert!(!has_indented_line("2026-11-30 PGPASSWORD=x psql\nnext"));
    }

    /// The rule's block filter, which every match of the rule contains.
    fn filter() -> regex::Regex {
        regex::Regex::new(r#":(?:[0-9]{1,5}|\*):[^:\s'"]+:[^:\s'"]+:"#).unwrap()
    }

    #[test]
    fn pgpass_shape_says_yes_wherever_the_filter_matches() {
        let filter = filter();
        // Every string of up to eight pieces of a small alphabet, then longer ones of a larger
        // alphabet (other whitespace, quotes, a six-digit port) from a fixed generator.
        let small = [":", "1", "*", "a", " "];
        let large = [
            ":", "1", "*", "a", " ", "\u{a0}", "'", "\u{b}", "123456", "\u{1c}",
        ];
        let mut texts: Vec<String> = vec![String::new()];
        let mut frontier = texts.clone();
        for _ in 0..8 {
            let mut next = Vec::new();
            for t in &frontier {
                for a in small {
                    next.push(format!("{t}{a}"));
                }
            }
            texts.extend(next.iter().cloned());
            frontier = next;
        }
        texts.extend(generated_texts(&large, 20, 50_000, 0x2026_1130));
        let mut matched = 0;
        for t in &texts {
            if filter.is_match(t) {
                matched += 1;
                assert!(has_pgpass_shape(t), "{t:?}");
            }
        }
        assert!(matched > 200, "only {matched} texts had the shape");
    }

    #[test]
    fn pgpass_shape_is_not_a_timestamp() {
        assert!(has_pgpass_shape("db.example.com:5432:shop:app:s3cret"));
        assert!(has_pgpass_shape("*:*:*:postgres:pw"));
        assert!(!has_pgpass_shape(
            "2026-11-30T07:00:00Z web-7 INFO GET https://api.example.com:443/v1 200"
        ));
        assert!(!has_pgpass_shape("a:123456:b:c:d"));
        assert!(!has_pgpass_shape("host:5432::user:pw"));
    }
}
