//! Interpreters: POSIX shells (their code is parsed in turn) and everything else that runs
//! code this classifier cannot read (`python -c`, `perl -e`, `node -e`, database clients).

use super::{Inner, Judgement, StdinCode};
use crate::policy::Tier;
use crate::policy::classify::words::Word;

/// Shells whose `-c` code and standard input this classifier parses.
pub(crate) fn is_posix_shell(name: &str) -> bool {
    matches!(
        name,
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash" | "yash" | "posh" | "rbash"
    )
}

/// A script operand that is the shell's own standard input.
fn is_stdin_path(t: &str) -> bool {
    matches!(t, "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0" | "-")
}

pub(super) fn shell(name: &str, args: &[Word]) -> Judgement {
    let mut i = 0;
    let mut code_flag = false;
    let mut stdin_flag = false;
    while i < args.len() {
        let t = args[i].text.as_str();
        if t == "--" || t == "-" {
            i += 1;
            break;
        }
        if matches!(t, "--version" | "--help") {
            return Judgement::data(Tier::ReadOnly, format!("{name} {t}"));
        }
        if matches!(t, "--rcfile" | "--init-file") {
            i += 2;
            continue;
        }
        if t.starts_with("--") {
            i += 1;
            continue;
        }
        // After `-c`, a word with spaces is the code even if it starts with `-`.
        let code_like = code_flag && t.contains(char::is_whitespace);
        if (t.starts_with('-') || t.starts_with('+')) && t.len() > 1 && !code_like {
            if t[1..].contains('c') && t.starts_with('-') {
                code_flag = true;
            }
            if t[1..].contains('s') && t.starts_with('-') {
                stdin_flag = true;
            }
            // -o / -O take an option name.
            i += if t.ends_with('o') || t.ends_with('O') {
                2
            } else {
                1
            };
            continue;
        }
        break;
    }
    if code_flag {
        return match args.get(i) {
            Some(w) => Judgement::data(
                Tier::ReadOnly,
                format!("{name} -c runs its argument as shell code"),
            )
            .with_inner(Inner::ShellText {
                index: i,
                text: w.text.clone(),
            }),
            None => {
                let mut j = Judgement::data(Tier::Stateful, format!("{name} -c without code"));
                j.opaque_args = (0..args.len()).collect();
                j
            }
        };
    }
    match args.get(i) {
        Some(w) if !stdin_flag && !is_stdin_path(&w.text) => {
            let mut j = Judgement::data(Tier::Stateful, format!("{name} runs a script file"));
            j.opaque_args = (i..args.len()).collect();
            // `bash <(echo …)`: the script is another command's output, so nothing in the
            // text is proven to be only data.
            j.code_from_substitution = w.text.starts_with("<(") && !w.literal;
            j
        }
        _ => {
            let mut j = Judgement::data(
                Tier::Stateful,
                format!("{name} reads commands from standard input"),
            );
            j.stdin_code = StdinCode::Shell;
            j
        }
    }
}

/// Interpreters whose code is opaque to this classifier, with their code-carrying options.
pub(super) fn interpreter(name: &str, args: &[Word]) -> Option<Judgement> {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let code_flags: &[&str] = match base {
        "python" | "pypy" => &["-c"],
        "perl" => &["-e", "-E"],
        "ruby" | "lua" | "luajit" | "julia" | "groovy" | "osascript" | "Rscript" | "bun"
        | "expect" => &["-e", "-c"],
        "node" | "nodejs" => &["-e", "--eval", "-p", "--print"],
        "php" => &["-r"],
        "fish" | "tclsh" | "wish" | "csh" | "tcsh" => &["-c"],
        "pwsh" | "powershell" | "powershell.exe" | "pwsh.exe" => {
            &["-c", "-command", "-encodedcommand", "-ec", "-e"]
        }
        "cmd" | "cmd.exe" => &["/c", "/k", "/r"],
        "deno" | "jshell" | "irb" | "ghci" | "scala" | "guile" | "sbcl" | "racket" | "java"
        | "R" => &[],
        "mysql" | "mariadb" => &["-e", "--execute"],
        "psql" => {
            let lists = args.iter().any(|w| {
                let t = w.text.as_str();
                t == "--list" || t.starts_with('-') && !t.starts_with("--") && t.contains('l')
            });
            let runs = args.iter().any(|w| {
                let t = w.text.as_str();
                t.starts_with("--command")
                    || t.starts_with("--file")
                    || t.starts_with('-')
                        && !t.starts_with("--")
                        && (t.contains('c') || t.contains('f'))
            });
            if lists && !runs {
                return Some(Judgement::data(Tier::ReadOnly, "psql -l lists databases"));
            }
            &["-c", "--command", "-f", "--file"]
        }
        "sqlite3" | "mongo" | "mongosh" | "clickhouse-client" => &[],
        _ => return None,
    };
    let lower: Vec<String> = args.iter().map(|w| w.text.to_ascii_lowercase()).collect();
    if lower.len() == 1
        && matches!(
            lower[0].as_str(),
            "--version" | "-v" | "-version" | "--help" | "-h"
        )
    {
        return Some(Judgement::data(
            Tier::ReadOnly,
            format!("{name} {}", args[0].text),
        ));
    }
    let mut j = Judgement::data(
        Tier::Stateful,
        format!("{name} runs code this classifier cannot read"),
    );
    // Every argument of an interpreter may be code; keep them all under the raw-text floor.
    j.opaque_args = (0..args.len()).collect();
    let has_code = lower.iter().any(|a| {
        code_flags.iter().any(|f| {
            a == f
                || (f.len() == 2
                    && f.starts_with('-')
                    && a.starts_with('-')
                    && !a.starts_with("--")
                    && a.ends_with(&f[1..]))
        })
    });
    let code_on_stdin = lower.iter().any(|a| {
        matches!(
            a.as_str(),
            "-" | "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"
        )
    });
    if code_on_stdin
        || !has_code && operand_free(&lower) && !matches!(base, "sqlite3" | "mongo" | "mongosh")
    {
        j.stdin_code = StdinCode::Other;
        j.rule = format!("{name} reads its program from standard input");
    }
    Some(j)
}

fn operand_free(args: &[String]) -> bool {
    args.iter().all(|a| a.starts_with('-'))
}
