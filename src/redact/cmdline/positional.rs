//! Passwords that a program takes as an operand by position rather than as an option's
//! value: Oracle's logon `user/password@db` and Windows `net use` / `net user`.

use super::words::Word;
use super::{push_from, push_part};
use crate::redact::scan::Span;

/// The passwords of Oracle logons (see
/// [`Positional::OracleLogon`](super::table::Positional::OracleLogon)).
pub(super) fn oracle_logons(args: &[Word], found: &mut Vec<Span>) {
    /// Options of these programs that take the next word as their value.
    const VALUED: &[&str] = &["-m", "-markup", "-r", "-c", "-compatibility", "-logfile"];
    let is = |word: Option<&Word>, names: &[&str]| {
        word.is_some_and(|w| names.iter().any(|n| w.text.eq_ignore_ascii_case(n)))
    };
    let mut operand_seen = false;
    for (i, word) in args.iter().enumerate() {
        let text = &*word.text;
        let before = i.checked_sub(1).and_then(|b| args.get(b));
        let start = if text
            .get(..7)
            .is_some_and(|k| k.eq_ignore_ascii_case("userid="))
        {
            7
        } else if is(before, &["target", "catalog", "auxiliary"]) {
            0
        } else if text.starts_with('-') || text.contains('=') || is(before, VALUED) {
            continue;
        } else if !operand_seen {
            // The first operand: the logon, or `/nolog`, `@script`, RMAN's `target`.
            operand_seen = true;
            0
        } else {
            continue;
        };
        if let Some((from, to)) = logon_password(&text[start..]) {
            push_part(word, start + from, start + to, found);
        }
    }
}

/// Where the password of an Oracle logon `user/password[@connect]` lies, if it holds one: from
/// after the first `/` to the `@` that ends it (a password in double quotes may hold `@`).
fn logon_password(logon: &str) -> Option<(usize, usize)> {
    let slash = logon
        .find('/')
        .filter(|&s| s > 0 && !logon[..s].contains('@'))?;
    let rest = &logon[slash + 1..];
    let len = if let Some(quoted) = rest.strip_prefix('"') {
        quoted.find('"').map_or(rest.len(), |close| close + 2)
    } else {
        rest.find('@').unwrap_or(rest.len())
    };
    (len > 0).then_some((slash + 1, slash + 1 + len))
}

/// `net use [DEVICE] \\host\share PASSWORD …` and `net user NAME PASSWORD …`.
pub(super) fn net(args: &[Word], found: &mut Vec<Span>) {
    let mut operands = args.iter().filter(|w| !w.text.starts_with('/'));
    let Some(verb) = operands.next() else { return };
    let verb = verb.text.to_ascii_lowercase();
    let password = match verb.as_str() {
        "use" => {
            let mut rest = operands.skip_while(|w| !w.text.starts_with('\\'));
            rest.next();
            rest.next()
        }
        "user" => operands.nth(1),
        _ => None,
    };
    if let Some(word) = password {
        push_from(word, 0, found);
    }
}

#[cfg(test)]
mod tests {
    use super::logon_password;

    #[test]
    fn a_logon_password_lies_between_the_slash_and_the_connect_identifier() {
        let cases: &[(&str, Option<&str>)] = &[
            ("scott/tiger@orcl", Some("tiger")),
            ("scott/tiger", Some("tiger")),
            (
                "sys/Ch4nge_me@//db.example.com:1521/pdb1",
                Some("Ch4nge_me"),
            ),
            ("scott/\"p@ss/w\"@orcl", Some("\"p@ss/w\"")),
            ("scott/\"unclosed@orcl", Some("\"unclosed@orcl")),
            ("/", None),
            ("/nolog", None),
            ("/@wallet_db", None),
            ("scott@orcl", None),
            ("scott@host/svc", None),
            ("scott/", None),
            ("scott/@orcl", None),
        ];
        for &(logon, want) in cases {
            let got = logon_password(logon).map(|(from, to)| &logon[from..to]);
            assert_eq!(got, want, "{logon}");
        }
    }
}
