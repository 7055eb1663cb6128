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

pub(super) fn shell(name: &str, args: &[Word]) -> Judgement {
    let mut i = 0;
    let mut code_flag = false;
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
        Some(_) => {
            let mut j = Judgement::data(Tier::Stateful, format!("{name} runs a script file"));
            j.opaque_args = (i..args.len()).collect();
            j
        }
        None => {
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
        "psql" => &["-c", "--command", "-f", "--file"],
        "sqlite3" | "redis-cli" | "mongo" | "mongosh" | "clickhouse-client" => &[],
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
    if !has_code
        && operand_free(&lower)
        && !matches!(base, "sqlite3" | "redis-cli" | "mongo" | "mongosh")
    {
        j.stdin_code = StdinCode::Other;
        j.rule = format!("{name} reads its program from standard input");
    }
    Some(j)
}

fn operand_free(args: &[String]) -> bool {
    args.iter().all(|a| a.starts_with('-'))
}
