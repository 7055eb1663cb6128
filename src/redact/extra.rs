//! Rules beyond docs/compatibility.md for secrets the Python implementation lists as known gaps: compound secret flags
//! (`--db-password`, `--jwt`), `sshpass -p`, `.netrc` lines, `.pgpass` lines and GitLab
//! session cookies. They run after the Python implementation's rules, so they can only redact more.

use super::rules::{CliFlagRule, PatternRule};
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
        // docker `config.json` auths: `"auth": "dXNlcjpwYXNz"` (base64 of user:password).
        Box::new(PatternRule::valued(
            r#"(?i)"auth"\s*:\s*"(?P<v>[A-Za-z0-9+/=]{8,})""#,
            &["auth"],
        )),
        Box::new(SshpassRule {
            word: compile(r"(?-u:\b)sshpass"),
        }),
        // .netrc: `machine h login u password p`, only in text that has a netrc entry shape.
        Box::new(
            PatternRule::valued(r"(?:\A|\s)(?:password|passwd)[ \t]+(?P<v>\S+)", &["machine"])
                .reading_previous_char()
                .gated_by(
                    r"(?:\A|\s)machine\s+\S+\s+(?:login|password|account|port)\s",
                ),
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
            .prechecked_by(|text| text.bytes().filter(|&b| b == b':').count() >= 4)
            .gated_by(r":(?:[0-9]{1,5}|\*):")
            // The port and the two fields after it, which every match contains.
            .filtered_by(r#":(?:[0-9]{1,5}|\*):[^:\s'"]+:[^:\s'"]+:"#),
        ),
        // GitLab session cookie.
        Box::new(PatternRule::valued(
            r"_gitlab_session=(?P<v>[0-9a-f]{32})",
            &["_gitlab_session="],
        )),
    ]
}
