//! Checks of the small programs `sed` and `awk` take as an argument: a program that can run a
//! command or write a file is not read-only.

use super::{any_non_literal, has_long, has_short};
use crate::policy::Tier;
use crate::policy::classify::words::Word;

/// Options of `sed` that take a value (so the value is not the script).
const SED_VALUES: &[&str] = &["-l", "--line-length", "-f", "--file", "-e", "--expression"];

/// `sed`: `None` when read-only, else the tier and why.
pub(super) fn sed(args: &[Word]) -> Option<(Tier, String)> {
    if has_short(args, 'i') || has_long(args, "in-place") {
        return Some((Tier::Stateful, "sed -i edits files in place".into()));
    }
    if has_short(args, 'f') || has_long(args, "file") {
        return Some((
            Tier::Stateful,
            "sed -f reads a program this classifier cannot see".into(),
        ));
    }
    if any_non_literal(args) {
        return Some((
            Tier::Reversible,
            "sed has an argument that is not a literal".into(),
        ));
    }
    let mut scripts = Vec::new();
    let mut explicit = false;
    let mut i = 0;
    while i < args.len() {
        let t = args[i].text.as_str();
        if t == "-e" || t == "--expression" {
            explicit = true;
            if let Some(w) = args.get(i + 1) {
                scripts.push(w.text.as_str());
            }
            i += 2;
            continue;
        }
        if let Some(s) = t.strip_prefix("--expression=") {
            explicit = true;
            scripts.push(s);
        } else if SED_VALUES.contains(&t) {
            i += 1;
        } else if !t.starts_with('-') && !explicit && scripts.is_empty() {
            scripts.push(t);
        }
        i += 1;
    }
    for s in scripts {
        match sed_script(s) {
            SedEffect::ReadOnly => {}
            SedEffect::Writes => {
                return Some((Tier::Reversible, "sed program writes a file (w)".into()));
            }
            SedEffect::Runs => {
                return Some((Tier::Stateful, "sed program runs commands (e)".into()));
            }
        }
    }
    None
}

enum SedEffect {
    ReadOnly,
    Writes,
    Runs,
}

/// Scan a sed program: addresses, `s///flags`, `y///`, and single-letter commands. Anything not
/// understood counts as running a command (fail closed).
fn sed_script(script: &str) -> SedEffect {
    let b = script.as_bytes();
    let mut i = 0;
    let mut writes = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b' '
            | b'\t'
            | b'\n'
            | b';'
            | b'{'
            | b'}'
            | b'!'
            | b','
            | b'0'..=b'9'
            | b'$'
            | b'~'
            | b'+' => i += 1,
            b'/' | b'\\' => {
                // Address regex: `/re/` or `\cREc`.
                let delim = if c == b'\\' {
                    i += 1;
                    match b.get(i) {
                        Some(d) => *d,
                        None => return SedEffect::Runs,
                    }
                } else {
                    c
                };
                match skip_delimited(b, i + 1, delim) {
                    Some(next) => i = next,
                    None => return SedEffect::Runs,
                }
                while i < b.len() && matches!(b[i], b'I' | b'M') {
                    i += 1;
                }
            }
            b's' | b'y' => {
                let Some(&delim) = b.get(i + 1) else {
                    return SedEffect::Runs;
                };
                if delim == b'\n' || delim == b'\\' {
                    return SedEffect::Runs;
                }
                let Some(mid) = skip_delimited(b, i + 2, delim) else {
                    return SedEffect::Runs;
                };
                let Some(end) = skip_delimited(b, mid, delim) else {
                    return SedEffect::Runs;
                };
                i = end;
                if c == b's' {
                    while i < b.len() && !matches!(b[i], b';' | b'\n' | b'}') {
                        match b[i] {
                            b'e' => return SedEffect::Runs,
                            b'w' => {
                                writes = true;
                                // The rest of the line is the file name.
                                while i < b.len() && b[i] != b'\n' {
                                    i += 1;
                                }
                            }
                            b'g' | b'p' | b'i' | b'I' | b'm' | b'M' | b'0'..=b'9' | b' ' => i += 1,
                            _ => return SedEffect::Runs,
                        }
                    }
                }
            }
            b'p' | b'P' | b'd' | b'D' | b'n' | b'N' | b'g' | b'G' | b'h' | b'H' | b'x' | b'='
            | b'l' | b'q' | b'Q' | b'z' | b'F' => i += 1,
            b'w' | b'W' => {
                writes = true;
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'a' | b'i' | b'c' | b'r' | b'R' | b'b' | b't' | b'T' | b':' => {
                // Text, file name to read, or label: runs to the end of the line.
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ => return SedEffect::Runs,
        }
    }
    if writes {
        SedEffect::Writes
    } else {
        SedEffect::ReadOnly
    }
}

/// Index just past the closing `delim`, honouring backslash escapes.
fn skip_delimited(b: &[u8], mut i: usize, delim: u8) -> Option<usize> {
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == delim {
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// Options of `awk` that take a value.
const AWK_VALUES: &[&str] = &["-F", "-v", "--assign", "--field-separator", "-W"];

/// `awk`: `None` when read-only, else the tier and why.
pub(super) fn awk(args: &[Word]) -> Option<(Tier, String)> {
    let reads_file = args.iter().any(|w| {
        matches!(
            w.text.as_str(),
            "-f" | "--file" | "-E" | "--exec" | "-i" | "--include" | "-l" | "--load"
        ) || w.text.starts_with("--file=")
            || w.text.starts_with("--include=")
    });
    if reads_file {
        return Some((
            Tier::Stateful,
            "awk program or extension from a file this classifier cannot see".into(),
        ));
    }
    if any_non_literal(args) {
        return Some((
            Tier::Reversible,
            "awk has an argument that is not a literal".into(),
        ));
    }
    let mut i = 0;
    let mut program = None;
    while i < args.len() {
        let t = args[i].text.as_str();
        if t == "-e" || t == "--source" {
            program = args.get(i + 1).map(|w| w.text.as_str());
            break;
        }
        if AWK_VALUES.contains(&t) {
            i += 2;
            continue;
        }
        if t == "--" {
            program = args.get(i + 1).map(|w| w.text.as_str());
            break;
        }
        if !t.starts_with('-') {
            program = Some(t);
            break;
        }
        i += 1;
    }
    let program = program?;
    awk_program(program)
}

/// Scan an awk program outside string literals: `system(`, a pipe (`|` not part of `||`), or
/// `>` inside a `print`/`printf` statement (output redirection).
fn awk_program(p: &str) -> Option<(Tier, String)> {
    let b = p.as_bytes();
    let mut i = 0;
    let mut in_print = false;
    let mut writes = false;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = skip_delimited(b, i + 1, b'"').unwrap_or(b.len());
                continue;
            }
            b'|' => {
                if b.get(i + 1) == Some(&b'|') {
                    i += 2;
                    continue;
                }
                return Some((
                    Tier::Stateful,
                    "awk program pipes to or from a command".into(),
                ));
            }
            b'>' if in_print => writes = true,
            b';' | b'\n' | b'}' | b'{' => in_print = false,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &p[start..i];
                match word {
                    "system" => return Some((Tier::Stateful, "awk program calls system()".into())),
                    "print" | "printf" => in_print = true,
                    _ => {}
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    writes.then(|| {
        (
            Tier::Reversible,
            "awk program redirects output to a file".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sed_scripts() {
        assert!(matches!(sed_script("s/a/b/g"), SedEffect::ReadOnly));
        assert!(matches!(sed_script("/error/p"), SedEffect::ReadOnly));
        assert!(matches!(sed_script("1,10p;20q"), SedEffect::ReadOnly));
        assert!(matches!(sed_script("s/a/b/e"), SedEffect::Runs));
        assert!(matches!(sed_script("s/x/y/w out"), SedEffect::Writes));
        assert!(matches!(sed_script("1e id"), SedEffect::Runs));
        assert!(matches!(sed_script("s|/a|/b|"), SedEffect::ReadOnly));
    }

    #[test]
    fn awk_programs() {
        assert!(awk_program("{print $1}").is_none());
        assert!(awk_program("$3 > 100 {print}").is_none());
        assert!(awk_program("a || b {print \"x|y\"}").is_none());
        assert!(awk_program("BEGIN{system(\"id\")}").is_some());
        assert!(awk_program("{print | \"sh\"}").is_some());
        assert!(awk_program("{print > \"/tmp/x\"}").is_some());
        assert!(awk_program("{\"id\" | getline x}").is_some());
    }
}
