//! Programs that take a small program as data: `sed` scripts (`e`, `w`, `W`, `s///e`,
//! `s///w`), `awk` programs (`system()`, pipes, `getline` from commands, output
//! redirections, `@load`, indirect calls), and job schedulers whose input is shell code
//! (`at`, `batch`). What these programs would run is classified as shell code; where they
//! write goes to the path judge.

use super::programs::{Call, Class::*, Decl, judged};
use super::{Inner, StdinCode};
use crate::policy::Tier::{ReadOnly as T0, Stateful as T2};
use crate::policy::classify::paths::Dest;

/// What a sed or awk program does besides transforming text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Writes this file (`None`: a path computed at run time).
    Writes(Option<String>),
    /// Runs this shell command (`None`: one computed at run time, or the pattern space).
    Runs(Option<String>),
    /// Loads code from elsewhere, or calls a function by a computed name.
    Loads,
}

/// Scan a sed program. Anything not understood counts as running a command (fails closed).
pub(crate) fn sed_script(script: &str) -> Vec<Effect> {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // The rest of the line from `i` (a file name, a command, text).
    let rest_of_line = |i: usize| -> (String, usize) {
        let end = b[i..]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(b.len(), |p| i + p);
        (script.get(i..end).unwrap_or("").trim().to_string(), end)
    };
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
            b'#' => i = rest_of_line(i).1,
            b'/' | b'\\' => {
                let delim = if c == b'\\' {
                    i += 1;
                    match b.get(i) {
                        Some(d) => *d,
                        None => return vec![Effect::Runs(None)],
                    }
                } else {
                    c
                };
                match skip_delimited(b, i + 1, delim) {
                    Some(next) => i = next,
                    None => return vec![Effect::Runs(None)],
                }
                while i < b.len() && matches!(b[i], b'I' | b'M') {
                    i += 1;
                }
            }
            b's' | b'y' => {
                let Some(&delim) = b.get(i + 1) else {
                    return vec![Effect::Runs(None)];
                };
                if delim == b'\n' || delim == b'\\' {
                    return vec![Effect::Runs(None)];
                }
                let Some(mid) = skip_delimited(b, i + 2, delim) else {
                    return vec![Effect::Runs(None)];
                };
                let Some(end) = skip_delimited(b, mid, delim) else {
                    return vec![Effect::Runs(None)];
                };
                let replacement = script.get(mid..end - 1).unwrap_or("");
                i = end;
                if c == b'y' {
                    continue;
                }
                while i < b.len() && !matches!(b[i], b';' | b'\n' | b'}') {
                    match b[i] {
                        b'e' => {
                            // The pattern space, after the substitution, runs as a command.
                            let plain = !replacement.contains(['\\', '&']);
                            out.push(Effect::Runs(plain.then(|| replacement.to_string())));
                            i += 1;
                        }
                        b'w' => {
                            let (file, end) = rest_of_line(i + 1);
                            out.push(Effect::Writes(Some(file)));
                            i = end;
                        }
                        b'g' | b'p' | b'i' | b'I' | b'm' | b'M' | b'0'..=b'9' | b' ' => i += 1,
                        _ => return vec![Effect::Runs(None)],
                    }
                }
            }
            b'e' => {
                let (cmd, end) = rest_of_line(i + 1);
                out.push(Effect::Runs((!cmd.is_empty()).then_some(cmd)));
                i = end;
            }
            b'w' | b'W' => {
                let (file, end) = rest_of_line(i + 1);
                out.push(Effect::Writes(Some(file)));
                i = end;
            }
            b'p' | b'P' | b'd' | b'D' | b'n' | b'N' | b'g' | b'G' | b'h' | b'H' | b'x' | b'='
            | b'l' | b'q' | b'Q' | b'z' | b'F' => i += 1,
            b'a' | b'i' | b'c' | b'r' | b'R' | b'b' | b't' | b'T' | b':' | b'v' => {
                // Text, a file to read, a label or a version: to the end of the line
                // (a backslash-newline continues `a`/`i`/`c` text).
                let mut j = i + 1;
                while j < b.len() && b[j] != b'\n' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                i = j;
            }
            _ => return vec![Effect::Runs(None)],
        }
    }
    out
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

/// Scan an awk program outside strings, regular expressions and comments.
pub(crate) fn awk_program(p: &str) -> Vec<Effect> {
    let b = p.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Whether a `/` here starts a regular expression (no operand precedes it).
    let mut regex_ok = true;
    // Inside a print/printf statement, at this parenthesis depth.
    let mut print_depth: Option<usize> = None;
    let mut depth = 0usize;
    // The last string literal, and where it ended (for `"cmd" | getline`).
    let mut last_string: Option<(String, usize)> = None;
    // The next token as a literal string, if it is one.
    let literal_at = |mut j: usize| -> Option<String> {
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if b.get(j) == Some(&b'"') {
            let end = skip_delimited(b, j + 1, b'"')?;
            let rest = &b[end..];
            let next = rest.iter().find(|c| !matches!(c, b' ' | b'\t'));
            // Only a whole literal: `"a" x` is a concatenation, computed.
            if next.is_none_or(|c| matches!(c, b';' | b'\n' | b'}' | b')' | b',')) {
                return p.get(j + 1..end - 1).map(unescape_awk);
            }
            return None;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            let end = j + b[j..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'.')
                .count();
            return p.get(j..end).map(str::to_string);
        }
        None
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => {
                let end = skip_delimited(b, i + 1, b'"').unwrap_or(b.len());
                last_string = Some((
                    unescape_awk(p.get(i + 1..end.saturating_sub(1)).unwrap_or("")),
                    end,
                ));
                i = end;
                regex_ok = false;
                continue;
            }
            b'#' => {
                i = b[i..]
                    .iter()
                    .position(|c| *c == b'\n')
                    .map_or(b.len(), |n| i + n);
                continue;
            }
            b'/' if regex_ok => {
                i = skip_delimited(b, i + 1, b'/').unwrap_or(b.len());
                regex_ok = false;
                continue;
            }
            b'|' if b.get(i + 1) == Some(&b'|') => {
                i += 2;
                regex_ok = true;
                continue;
            }
            b'|' => {
                let coprocess = b.get(i + 1) == Some(&b'&');
                let after = i + 1 + usize::from(coprocess);
                if print_depth.is_some() || coprocess {
                    out.push(Effect::Runs(literal_at(after)));
                } else {
                    // `"cmd" | getline`: the command is the string just before.
                    let before = last_string
                        .as_ref()
                        .filter(|(_, end)| b[*end..i].iter().all(|c| matches!(c, b' ' | b'\t')))
                        .map(|(s, _)| s.clone());
                    out.push(Effect::Runs(before));
                }
                i = after;
                regex_ok = true;
                continue;
            }
            b'>' if print_depth == Some(depth) => {
                let after = if b.get(i + 1) == Some(&b'>') {
                    i + 2
                } else {
                    i + 1
                };
                out.push(Effect::Writes(literal_at(after)));
                i = after;
                regex_ok = true;
                continue;
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b';' | b'\n' | b'{' | b'}' => print_depth = None,
            b'@' => {
                let start = i + 1;
                let end = start
                    + b[start..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                        .count();
                if matches!(p.get(start..end), Some("load" | "include"))
                    || b.get(end) == Some(&b'(')
                {
                    out.push(Effect::Loads);
                }
                i = end.max(start);
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                match &p[start..i] {
                    "system" => {
                        let mut j = i;
                        while j < b.len() && b[j] == b' ' {
                            j += 1;
                        }
                        let cmd = (b.get(j) == Some(&b'('))
                            .then(|| literal_at(j + 1))
                            .flatten();
                        out.push(Effect::Runs(cmd));
                    }
                    "print" | "printf" => print_depth = Some(depth),
                    _ => {}
                }
                regex_ok = false;
                continue;
            }
            _ => {}
        }
        regex_ok = !matches!(c, b')' | b']' | b'$') && !c.is_ascii_alphanumeric();
        i += 1;
    }
    out
}

/// awk string escapes that matter for a command or file name.
fn unescape_awk(s: &str) -> String {
    s.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// Apply the effects of a program found in this call's word `at`.
fn apply(c: &mut Call<'_>, at: usize, effects: Vec<Effect>, what: &str) {
    for e in effects {
        match e {
            Effect::Writes(Some(file)) => {
                let literal = c.args().get(at).is_some_and(|w| w.literal);
                c.j.writes.push(Dest {
                    path: file,
                    literal,
                    base: c.base.clone(),
                    replaces: false,
                });
            }
            Effect::Writes(None) => {
                c.raise(T2, format!("{what} writes to a path computed at run time"))
            }
            Effect::Runs(cmd) => {
                c.raise(T2, format!("{what} runs commands"));
                if let Some(text) = cmd.filter(|t| !t.trim().is_empty()) {
                    let index = c.index(at);
                    c.j.inner.push(Inner::ShellText { index, text });
                }
            }
            Effect::Loads => c.raise(
                T2,
                format!("{what} loads code or calls a function by a computed name"),
            ),
        }
    }
}

/// A program file named by `-f`: standard input (classified when it is a here-document),
/// or a file this classifier cannot see.
fn program_file(c: &mut Call<'_>, at: usize, text: &str, code: StdinCode, what: &str) {
    if matches!(text, "-" | "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0") {
        c.j.stdin_code = code;
    } else {
        c.raise(
            T2,
            format!("{what} reads a program from a file this classifier cannot see"),
        );
        c.opaque(at);
    }
}

fn sed(c: &mut Call<'_>) {
    let sandbox = c.has("--sandbox");
    let mut scripts: Vec<(usize, String, bool)> = Vec::new();
    for v in c.values("-e") {
        scripts.push((v.at, c.value_text(v).to_string(), c.value_literal(v)));
    }
    let files = c.values("-f");
    for v in &files {
        let text = c.value_text(*v).to_string();
        program_file(c, v.at, &text, StdinCode::Sed, "sed -f");
    }
    if scripts.is_empty()
        && files.is_empty()
        && let Some(&at) = c.operands().first()
    {
        let w = &c.args()[at];
        scripts.push((at, w.text.clone(), w.literal));
    }
    for (at, text, literal) in scripts {
        if !literal {
            c.raise(T2, "sed program computed at run time");
            c.opaque(at);
            continue;
        }
        if sandbox {
            continue;
        }
        let effects = sed_script(&text);
        apply(c, at, effects, "sed program");
    }
    if c.j.tier == T0 {
        c.describe("sed reads only");
    }
}

fn awk(c: &mut Call<'_>) {
    let mut programs: Vec<(usize, String, bool)> = Vec::new();
    for v in c.values("-e") {
        programs.push((v.at, c.value_text(v).to_string(), c.value_literal(v)));
    }
    let files = c.values("-f");
    for v in &files {
        let text = c.value_text(*v).to_string();
        program_file(c, v.at, &text, StdinCode::Awk, "awk -f");
    }
    if programs.is_empty()
        && files.is_empty()
        && let Some(&at) = c.operands().first()
    {
        let w = &c.args()[at];
        programs.push((at, w.text.clone(), w.literal));
    }
    for (at, text, literal) in programs {
        if !literal {
            c.raise(T2, "awk program computed at run time");
            c.opaque(at);
            continue;
        }
        let effects = awk_program(&text);
        apply(c, at, effects, "awk program");
    }
    if c.j.tier == T0 {
        c.describe("awk reads only");
    }
}

/// `at`/`batch`: the job (standard input or `-f FILE`) is shell code run later.
fn at(c: &mut Call<'_>) {
    let reads = c.has("-l") || c.has("-c") || c.name == "atq";
    if reads {
        c.describe("at lists jobs");
        return;
    }
    if c.has("-d") || c.has("-r") || c.name == "atrm" {
        c.raise(T2, "atrm removes jobs");
        return;
    }
    c.raise(T2, "at schedules shell code to run later");
    if c.values("-f").is_empty() {
        c.j.stdin_code = StdinCode::Shell;
    }
}

pub(super) const DECLS: &[Decl] = &[
    judged(
        &["sed", "gsed"],
        Reader,
        "-n,--quiet,--silent --debug -e:,--expression= -f:,--file= --follow-symlinks -i::,--in-place=?!i -l:,--line-length= --posix -E,-r,--regexp-extended -s,--separate --sandbox -u,--unbuffered -z,--null-data -b,--binary --help!h --version!h",
        sed,
    ),
    judged(
        &["awk", "gawk", "mawk", "nawk", "busybox-awk", "original-awk"],
        Reader,
        "@posix -F:,--field-separator= -v:,--assign= -f:,--file= -e:,--source= -E:,--exec=!r -i:,--include=!r -l:,--load=!r -b,--characters-as-bytes -c,--traditional -C,--copyright!h -d::,--dump-variables=?!W -D::,--debug=?!p -g,--gen-pot -h,--help!h -L::,--lint=? -M,--bignum -N,--use-lc-numeric -n,--non-decimal-data -o::,--pretty-print=?!W -O,--optimize -p::,--profile=?!W -P,--posix -r,--re-interval -s,--no-optimize -S,--sandbox -t,--lint-old -V,--version!h -W:",
        awk,
    ),
    judged(
        &["at", "batch", "atq", "atrm"],
        Risky,
        "-V!h -q: -f:!r -m -M -l -d -r -b -v -c -t: -u:",
        at,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sed_scripts() {
        assert!(sed_script("s/a/b/g").is_empty());
        assert!(sed_script("/error/p").is_empty());
        assert!(sed_script("1,10p;20q").is_empty());
        assert!(sed_script("s|/a|/b|").is_empty());
        assert!(sed_script("s/x/e/").is_empty());
        assert_eq!(sed_script("s/a/b/e"), vec![Effect::Runs(Some("b".into()))]);
        assert_eq!(sed_script("s/.*/x&/e"), vec![Effect::Runs(None)]);
        assert_eq!(
            sed_script("s/x/y/w out"),
            vec![Effect::Writes(Some("out".into()))]
        );
        assert_eq!(sed_script("1e id"), vec![Effect::Runs(Some("id".into()))]);
        assert_eq!(sed_script("e"), vec![Effect::Runs(None)]);
        assert_eq!(
            sed_script("/x/W out"),
            vec![Effect::Writes(Some("out".into()))]
        );
        assert_eq!(sed_script("1~2d"), vec![]);
    }

    #[test]
    fn awk_programs() {
        assert!(awk_program("{print $1}").is_empty());
        assert!(awk_program("$3 > 100 {print}").is_empty());
        assert!(awk_program("a || b {print \"x|y\"}").is_empty());
        assert!(awk_program("$0 ~ /a|b/").is_empty());
        assert!(awk_program("{print (a > b)}").is_empty());
        assert_eq!(
            awk_program("BEGIN{system(\"id\")}"),
            vec![Effect::Runs(Some("id".into()))]
        );
        assert_eq!(awk_program("BEGIN{system(cmd)}"), vec![Effect::Runs(None)]);
        assert_eq!(
            awk_program("{print | \"sh\"}"),
            vec![Effect::Runs(Some("sh".into()))]
        );
        assert_eq!(
            awk_program("{print > \"/tmp/x\"}"),
            vec![Effect::Writes(Some("/tmp/x".into()))]
        );
        assert_eq!(
            awk_program("{print $1 > 5}"),
            vec![Effect::Writes(Some("5".into()))]
        );
        assert_eq!(awk_program("{print > $2}"), vec![Effect::Writes(None)]);
        assert_eq!(
            awk_program("{\"id\" | getline x}"),
            vec![Effect::Runs(Some("id".into()))]
        );
        assert_eq!(
            awk_program("BEGIN{f=\"system\"; @f(\"id\")}"),
            vec![Effect::Loads]
        );
        assert_eq!(awk_program("@load \"x\"; BEGIN{}"), vec![Effect::Loads]);
    }
}
