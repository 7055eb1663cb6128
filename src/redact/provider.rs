//! Whole-match provider tokens (docs/compatibility.md) plus the provider shapes the Python implementation lacks.
//!
//! The Python implementation's seventeen patterns come first, in the Python implementation's order; our additions follow so
//! they can only redact more. Every pattern starts with a literal that is also one of its
//! hints, so skipping a rule whose hints are absent never changes the result.

use std::ops::Range;

use super::rules::PatternRule;
use super::scan::{Hit, LazyRegex, Rule, ScanState, compile, next_char_boundary};

/// Largest PEM body the Python implementation's pattern accepts between header and footer, in characters.
const PEM_BODY_MAX_CHARS: usize = 8192;

/// Shortest key-material run after a header that counts as an unterminated key block. Below
/// this a lone header (a `grep` pattern, a log message) is left alone.
const PEM_ORPHAN_MIN_BYTES: usize = 64;

/// Private-key blocks: the Python implementation's first rule, and (our addition) a header whose footer is missing or
/// more than 8 KiB away, followed by a line break (real or JSON-escaped) and at least
/// [`PEM_ORPHAN_MIN_BYTES`] of key material — a truncated key must not leak either.
struct PrivateKeyRule {
    /// `-----BEGIN … PRIVATE KEY-----`.
    header: LazyRegex,
    /// `-----END … PRIVATE KEY-----`.
    footer: LazyRegex,
}

impl PrivateKeyRule {
    fn new() -> Self {
        Self {
            header: compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----"),
            footer: compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----"),
        }
    }

    /// The earliest footer at or after `from`, memoised across headers of one pass.
    fn footer_from(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Range<usize>> {
        if let Some((searched, found)) = &state.footer
            && *searched <= from
            && found.as_ref().is_none_or(|f| f.start >= from)
        {
            return found.clone();
        }
        let found = self.footer.find_at(text, from).map(|m| m.range());
        state.footer = Some((from, found.clone()));
        found
    }

    /// Whether `body` holds at most [`PEM_BODY_MAX_CHARS`] characters, without counting far.
    fn body_fits(body: &str) -> bool {
        body.len() <= PEM_BODY_MAX_CHARS
            || (body.len() <= 4 * PEM_BODY_MAX_CHARS && body.chars().count() <= PEM_BODY_MAX_CHARS)
    }

    /// End of the key-material run (base64, whitespace, `\` of JSON escapes) from `at`.
    fn material_end(text: &str, at: usize) -> usize {
        let run = text.as_bytes()[at..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || b"+/=\\ \t\r\n".contains(b))
            .count();
        at + run
    }
}

impl Rule for PrivateKeyRule {
    fn hints(&self) -> &'static [&'static str] {
        &["-----begin "]
    }

    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit> {
        let mut at = from;
        loop {
            let header = self.header.find_at(text, at)?;
            at = next_char_boundary(text, header.start());
            let body_start = header.end();
            if let Some(footer) = self.footer_from(text, body_start, state)
                && Self::body_fits(&text[body_start..footer.start])
            {
                return Some(Hit {
                    secret: header.start()..footer.end,
                    resume: footer.end,
                    keep: "",
                });
            }
            let after = &text.as_bytes()[body_start..];
            let breaks_line = after.starts_with(b"\n")
                || after.starts_with(b"\r")
                || after.starts_with(b"\\n")
                || after.starts_with(b"\\r");
            let end = Self::material_end(text, body_start);
            if breaks_line && end - body_start >= PEM_ORPHAN_MIN_BYTES {
                return Some(Hit {
                    secret: header.start()..end,
                    resume: end,
                    keep: "",
                });
            }
        }
    }
}

/// The provider rules, in order.
pub(crate) fn provider_rules() -> Vec<Box<dyn Rule>> {
    let w = PatternRule::whole;
    let mut rules: Vec<Box<dyn Rule>> = vec![Box::new(PrivateKeyRule::new())];
    let table: Vec<PatternRule> = vec![
        // --- docs/compatibility.md, rules 2–17, in order ---
        w(r"(?-u:\b)gith(?:ub)?_pat_[A-Za-z0-9_]+", &["_pat_"]),
        w(
            r"(?-u:\b)gh[pousr]_[A-Za-z0-9]{20,}",
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        ),
        w(
            r"(?-u:\b)sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{16,}",
            &["sk-"],
        ),
        w(r"(?-u:\b)sk-[A-Za-z0-9]{16,}", &["sk-"]),
        w(r"(?-u:\b)sk-ant-[A-Za-z0-9_\-]{20,}", &["sk-ant-"]),
        w(r"(?-u:\b)hf_[A-Za-z0-9]{34,}", &["hf_"]),
        w(r"(?-u:\b)AKIA[0-9A-Z]{16}(?-u:\b)", &["akia"]),
        w(r"(?-u:\b)xox[baprs]-[A-Za-z0-9-]{10,}", &["xox"]),
        w(
            r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
            &["hooks.slack.com/services/"],
        ),
        w(r"(?-u:\b)AIza[A-Za-z0-9_\-]{35,}", &["aiza"]),
        w(r"(?-u:\b)ya29\.[A-Za-z0-9._\-]{20,}", &["ya29."]),
        w(
            r"(?-u:\b)(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,}",
            &["sk_", "rk_"],
        ),
        w(r"(?-u:\b)glpat-[A-Za-z0-9_\-]{20,}", &["glpat-"]),
        w(r"(?-u:\b)npm_[A-Za-z0-9]{36,}", &["npm_"]),
        w(
            r"(?-u:\b)pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{16,}",
            &["pypi-"],
        ),
        // JWT: every token has `.ey` (the payload), a sharper hint than the Python implementation's `ey`.
        w(
            r"(?-u:\b)ey[A-Za-z0-9_\-]{17,}\.ey[A-Za-z0-9_\-]{8,}(?:\.[A-Za-z0-9_\-]{8,})?",
            &[".ey"],
        ),
        // --- additions from the gitleaks rule list ---
        // AWS temporary (ASIA), other principal ids, and Bedrock API keys.
        w(
            r"(?-u:\b)(?:A3T[A-Z0-9]|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?-u:\b)",
            &["a3t", "asia", "abia", "acca"],
        ),
        w(r"(?-u:\b)ABSK[A-Za-z0-9+/]{109,269}={0,2}", &["absk"]),
        w(
            r"(?-u:\b)bedrock-api-key-[A-Za-z0-9+/=&%._\-]{20,}",
            &["bedrock-api-key-"],
        ),
        // Slack app-level and configuration tokens.
        w(
            r"(?i)(?-u:\b)xapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+",
            &["xapp-"],
        ),
        // Configuration refresh tokens; `xoxe.xoxp-…` access tokens already meet the
        // `xox[baprs]-` rule above, which leaves only the harmless `xoxe.` prefix.
        w(r"(?-u:\b)xoxe-[0-9]-[A-Za-z0-9]{20,}", &["xoxe-"]),
        // Slack workflow and trigger webhooks.
        w(
            r"https://hooks\.slack\.com/(?:workflows|triggers)/[A-Za-z0-9+/_-]{20,}",
            &["hooks.slack.com/"],
        ),
        // The GitLab family beyond personal access tokens.
        w(
            r"(?-u:\b)(?:glptt|gldt|glrt|glcbt|gloas|glft|glsoat|glimt|glagent|glwt|glffct|gltst)-[0-9A-Za-z_\-]{20,}",
            &[
                "glptt-", "gldt-", "glrt-", "glcbt-", "gloas-", "glft-", "glsoat-", "glimt-",
                "glagent-", "glwt-", "glffct-", "gltst-",
            ],
        ),
        w(r"(?-u:\b)GR1348941[0-9A-Za-z_\-]{20,}", &["gr1348941"]),
        // Hugging Face organisation tokens.
        w(r"(?-u:\b)api_org_[A-Za-z0-9]{34,}", &["api_org_"]),
        // GitHub tokens in the newer, longer shapes are covered above; Anthropic admin keys
        // (`sk-ant-admin01-…`) by the `sk-ant-` rule.
    ];
    rules.extend(table.into_iter().map(|r| Box::new(r) as Box<dyn Rule>));
    rules
}
