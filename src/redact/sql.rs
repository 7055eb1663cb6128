//! SQL that sets a password, as a client runs it (`mysql -e "…"`, `psql -c "…"`) or a script
//! or a log holds it. Keywords are matched in ASCII case only (as the gate reads them):
//!
//! - MySQL/MariaDB `CREATE USER … IDENTIFIED BY 'X'`, `… IDENTIFIED WITH plugin BY 'X'` (or
//!   `AS 'hash'`), `GRANT … IDENTIFIED BY PASSWORD '*hash'`, and Oracle's unquoted
//!   `CREATE|ALTER USER u IDENTIFIED BY X` (and `… BY VALUES 'hash'`) ([`identified_rule`]);
//!   an unquoted value is read only after `CREATE USER u` or `ALTER USER u`, as "identified by"
//!   is common in prose;
//! - MySQL/MariaDB `SET PASSWORD [FOR 'u'@'h'] = 'X'` and `= PASSWORD('X')`: the last string
//!   of the statement, up to a `;` outside quotes or the line's end. It is not read by its
//!   `=`: the compatible keyword rules, which run first, take `FOR` (or `= PASSWORD(`) for a
//!   password and leave a placeholder in its place;
//! - PostgreSQL `CREATE ROLE … PASSWORD 'X'`, `ALTER USER … WITH ENCRYPTED PASSWORD 'X'`: a
//!   string literal in single quotes after the keyword.
//!
//! A string literal is read whole: a doubled quote (`'pa''ss'`) is part of it, and so is a
//! backslash and the character after it where MySQL reads escapes (`'pa\'ss'`; a lone backslash
//! before the closing quote, as with `NO_BACKSLASH_ESCAPES`, still ends it). PostgreSQL reads no
//! escapes in `'…'`.
//!
//! The last two share the hint `password`, which many texts hold for other reasons
//! (`PGPASSWORD=`, `--password`), so they are one rule with one cheap gate
//! ([`SqlPasswordRule`]).

use super::rules::PatternRule;
use super::scan::{Hit, LazyRegex, Rule, ScanState, Span, compile, next_span};

/// The inside of a `'…'` string (MySQL's reading: a backslash escapes the next character, a
/// doubled quote is one quote, a lone backslash before the closing quote is itself).
macro_rules! single_quoted {
    () => {
        r#"(?:\\[^\r\n]|[^'\r\n]|'')"#
    };
}

/// The inside of a `"…"` string, read as `single_quoted!` reads `'…'`.
macro_rules! double_quoted {
    () => {
        r#"(?:\\[^\r\n]|[^"\r\n]|"")"#
    };
}

/// `IDENTIFIED [WITH plugin] BY|AS [PASSWORD] 'X'`, and first the Oracle forms after `CREATE
/// USER u` or `ALTER USER u`, which start earlier and so win where both match: `BY VALUES
/// 'hash'`, a quoted value, or an unquoted one (not a `$VARIABLE`). The value groups are
/// ordered so that MySQL's `BY PASSWORD '*hash'` reads the hash, while an Oracle password that
/// is the word `password` itself is still read.
const IDENTIFIED: &str = concat!(
    r#"(?-u:\b)(?i-u:create|alter)\s+(?i-u:user)\s+(?:(?i-u:if)\s+(?i-u:not)\s+(?i-u:exists)\s+)?"#,
    r#"[^\s;]+\s+(?i-u:identified)\s+(?i-u:by)\s+(?:(?i-u:password|values)\s+"#,
    "(?:'(?P<v1>",
    single_quoted!(),
    "+)'|\"(?P<v2>",
    double_quoted!(),
    "+)\")|'(?P<v3>",
    single_quoted!(),
    "+)'|\"(?P<v4>",
    double_quoted!(),
    "+)\"",
    r#"|(?P<v5>[A-Za-z0-9_#][A-Za-z0-9_$#]*))"#,
    r#"|(?-u:\b)(?i-u:identified)\s+(?:(?i-u:with)\s+['"`]?[A-Za-z0-9_]+['"`]?\s+)?"#,
    r#"(?i-u:by|as)\s+(?:(?i-u:password)\s+)?"#,
    "(?:'(?P<v6>",
    single_quoted!(),
    "+)'|\"(?P<v7>",
    double_quoted!(),
    "+)\")",
);

/// MySQL's `SET PASSWORD … 'X'`: the statement's last string. A string before it must be
/// followed by a byte that is not a quote, so that `'pa''ss'` is never read as `'pa'` before
/// a last string `'ss'`.
const SET_PASSWORD: &str = concat!(
    r#"(?-u:\b)(?i-u:set)\s+(?i-u:password)(?-u:\b)(?:[^;'"\r\n]|'"#,
    single_quoted!(),
    r#"*'[^;'"\r\n]|""#,
    double_quoted!(),
    r#"*"[^;'"\r\n])*"#,
    "(?:'(?P<v1>",
    single_quoted!(),
    "+)'|\"(?P<v2>",
    double_quoted!(),
    "+)\")",
);

/// PostgreSQL's `PASSWORD 'X'`.
const PASSWORD_STRING: &str = r#"(?-u:\b)(?i-u:password)\s+'(?P<v>(?:[^'\r\n]|'')+)'"#;

/// SQL*Plus's `CONNECT user/X[@db] [AS SYSDBA]` (or `CONN`) as a line of its own, as a script
/// or a here-document into `sqlplus /nolog` holds it, optionally after an `SQL>` prompt. The
/// whole line must be that command, so that prose ("connect to/from the server") stays, and
/// the command is written in lower or upper case, as scripts write it ("Connect db/main" is a
/// heading); a `$VARIABLE` or `&1` substitution is a reference, not a password.
const CONNECT_LINE: &str = concat!(
    r#"(?m)^[ \t]*(?:(?i-u:sql)>[ \t]*)?(?:conn(?:ect)?|CONN(?:ECT)?)[ \t]+(?:[A-Za-z0-9_$#.]+|"[^"\r\n]+")/"#,
    r#"(?:"(?P<v1>[^"\r\n]+)"|(?P<v2>[^\s@"/;$&][^\s@"/;]*))(?:@[^\s;]+)?"#,
    r#"(?:[ \t]+(?i-u:as)[ \t]+(?i-u:sys)[A-Za-z]+)?[ \t]*;?[ \t]*\r?$"#,
);

/// Whether some line of `text` starts with `conn` (ASCII case-insensitive), after blanks and
/// an optional `SQL>` prompt: the precheck of [`connect_rule`], a superset of its pattern.
fn has_connect_line(text: &str) -> bool {
    let bytes = text.as_bytes();
    let blanks = |at: usize| {
        at + bytes[at..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count()
    };
    let has = |at: usize, word: &[u8]| {
        bytes
            .get(at..at + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    // Every line start is at most the text's length (after a final `\n`, equal to it).
    let mut starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', bytes).map(|nl| nl + 1));
    starts.any(|start| {
        let mut at = blanks(start);
        if has(at, b"sql>") {
            at = blanks(at + 4);
        }
        has(at, b"conn")
    })
}

/// The `CONNECT user/X` line rule.
pub(crate) fn connect_rule() -> PatternRule {
    PatternRule::valued(CONNECT_LINE, &["conn"]).prechecked_by(has_connect_line)
}

/// The `IDENTIFIED BY` rule (its hint is rare enough to need no gate).
pub(crate) fn identified_rule() -> PatternRule {
    PatternRule::valued(IDENTIFIED, &["identified"])
}

/// `SET PASSWORD … 'X'` and `PASSWORD 'X'`.
pub(crate) struct SqlPasswordRule {
    set: LazyRegex,
    string: LazyRegex,
}

impl SqlPasswordRule {
    pub(crate) fn new() -> Self {
        Self {
            set: compile(SET_PASSWORD),
            string: compile(PASSWORD_STRING),
        }
    }

    /// The values of both forms in `text`, sorted, overlaps joined.
    fn secrets(&self, text: &str) -> Vec<Span> {
        let mut found: Vec<Span> = Vec::new();
        for re in [&*self.set, &*self.string] {
            for caps in re.captures_iter(text) {
                let value = ["v", "v1", "v2"].iter().find_map(|name| caps.name(name));
                if let Some(v) = value {
                    found.push(Span {
                        range: v.range(),
                        keep: "",
                    });
                }
            }
        }
        found.sort_by_key(|s| (s.range.start, std::cmp::Reverse(s.range.end)));
        let mut joined: Vec<Span> = Vec::with_capacity(found.len());
        for span in found {
            match joined.last_mut() {
                Some(last) if span.range.start < last.range.end => last.absorb(&span),
                _ => joined.push(span),
            }
        }
        joined
    }
}

/// Where `password` (ASCII case-insensitive) starts in `text` (not in order), found by its
/// `w`, which log lines hold fewer of than `p`.
fn password_words(text: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    let ws = memchr::memchr_iter(b'w', bytes).chain(memchr::memchr_iter(b'W', bytes));
    ws.filter_map(move |w| {
        let p = w.checked_sub(4)?;
        bytes
            .get(p..p + 8)
            .is_some_and(|word| word.eq_ignore_ascii_case(b"password"))
            .then_some(p)
    })
}

/// Whether a byte may be part of whitespace as the patterns' `\s` reads it: ASCII whitespace,
/// the separators `\x0b` and `\x1c`–`\x1f`, or any byte of a non-ASCII character (a superset).
fn may_be_space(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, 0x0b | 0x1c..=0x1f) || b >= 0x80
}

/// The gate: some `password` follows `set` and whitespace, or is followed by whitespace and
/// `'` — a superset of where either pattern matches. A `PGPASSWORD=` line says no.
fn has_sql_password(text: &str) -> bool {
    let bytes = text.as_bytes();
    password_words(text).any(|p| {
        let after = &bytes[p + 8..];
        let blanks = after.iter().take_while(|&&b| may_be_space(b)).count();
        if blanks > 0 && after.get(blanks) == Some(&b'\'') {
            return true;
        }
        let before = &bytes[..p];
        let blanks = before
            .iter()
            .rev()
            .take_while(|&&b| may_be_space(b))
            .count();
        let head = &before[..before.len() - blanks];
        blanks > 0 && head.len() >= 3 && head[head.len() - 3..].eq_ignore_ascii_case(b"set")
    })
}

impl Rule for SqlPasswordRule {
    fn hints(&self) -> &'static [&'static str] {
        &["password"]
    }

    fn gate(&self, text: &str) -> bool {
        has_sql_password(text)
    }

    fn find(&self, text: &str, from: usize, state: &mut ScanState) -> Option<Hit> {
        next_span(state, from, || self.secrets(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::check_covers;

    #[test]
    fn the_gate_says_yes_wherever_a_pattern_matches() {
        let alphabet = [
            "password", "PassWord", "set", "SET", "sEt", "x", " ", "\t", "\u{a0}", "\u{1c}",
            "\u{b}", "'", "\"", "=", ";", "\n", "(", "ſ", "K",
        ];
        for pattern in [SET_PASSWORD, PASSWORD_STRING] {
            let matched = check_covers(
                pattern,
                has_sql_password,
                &alphabet,
                14,
                200_000,
                0x5e7_9a55,
            );
            assert!(matched > 100, "only {matched} texts matched {pattern}");
        }
        assert!(!has_sql_password("PGPASSWORD=x psql -h db -c 'select 1'"));
        assert!(!has_sql_password("mysql --password=x -e 'select 1'"));
    }

    #[test]
    fn the_connect_precheck_says_yes_wherever_the_line_pattern_matches() {
        let alphabet = [
            "\n",
            " ",
            "\t",
            "\r",
            "conn ",
            "CONNECT\t",
            "sql>",
            "SQL> ",
            "u",
            "/",
            "p",
            "@db",
            " as sysdba",
            ";",
            "\"",
            "$",
            "x",
        ];
        let matched = check_covers(
            CONNECT_LINE,
            has_connect_line,
            &alphabet,
            7,
            200_000,
            0xc0_22ec7,
        );
        assert!(matched > 100, "only {matched} texts matched");
        assert!(!has_connect_line(
            "2026-12-03 connection refused\nretry in 5s"
        ));
        assert!(has_connect_line("x\n  SQL> Conn a/b"));
    }

    #[test]
    fn both_forms_are_found_in_one_text() {
        let rule = SqlPasswordRule::new();
        let text = "SET PASSWORD FOR 'u'@'h' = 'a1'; ALTER ROLE r PASSWORD 'b2';";
        let values: Vec<&str> = rule
            .secrets(text)
            .into_iter()
            .map(|s| &text[s.range])
            .collect();
        assert_eq!(values, vec!["a1", "b2"]);
        // One value both forms find (`SET PASSWORD 'x'`) is one span.
        let text = "SET PASSWORD 'x1'";
        assert_eq!(rule.secrets(text).len(), 1);
    }
}
