//! The knowledge table: command + subcommand + flags → tier, with a reason, plus what else the
//! command runs (wrapped commands, shell code, interpreter code).
//!
//! Split by responsibility: [`readers`] (the curated tier-0 set and its side-effecting flags),
//! [`mutators`] (commands that change state, by subcommand), [`runners`] (wrappers and
//! interpreters: what a command hands on to be run), [`scripts`] (checks of `sed`/`awk`
//! programs).

mod interpreters;
mod mutators;
mod readers;
mod runners;
mod scripts;
mod vcs;

pub(crate) use interpreters::is_posix_shell;
pub(crate) use runners::is_assignment;

use super::words::Word;
use crate::policy::Tier;

/// What the classifier must do with a command's arguments beyond its own tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Inner {
    /// `args[start..end]` is a command line run directly (a wrapper such as `sudo`). `partial`
    /// marks lines that get more arguments at run time (`xargs`).
    Argv {
        start: usize,
        end: usize,
        partial: bool,
    },
    /// `args[start..end]` joined by spaces is shell code (`eval`, `ssh host cmd…`, `watch`).
    ShellJoin { start: usize, end: usize },
    /// Shell code carried inside argument `index` (`sh -c CODE`, `alias x=CODE`, `su -c`).
    ShellText { index: usize, text: String },
}

/// Where a command takes code from its standard input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StdinCode {
    /// Its standard input is data.
    No,
    /// A POSIX shell reads its commands from standard input.
    Shell,
    /// Another interpreter reads its program from standard input.
    Other,
}

/// The table's verdict on one simple command.
#[derive(Clone, Debug)]
pub(crate) struct Judgement {
    /// The tier of the command itself (the wrapper's floor for wrappers).
    pub tier: Tier,
    /// The rule that fired, in words.
    pub rule: String,
    /// False for commands the table does not know: their words stay under the raw-text floor.
    pub known: bool,
    /// Code or commands the command runs, to be classified in turn.
    pub inner: Vec<Inner>,
    /// Whether standard input is code.
    pub stdin_code: StdinCode,
    /// Indices of arguments that are code for a non-shell interpreter (kept under the floor).
    pub opaque_args: Vec<usize>,
}

impl Judgement {
    /// A known command whose arguments are data.
    pub(crate) fn data(tier: Tier, rule: impl Into<String>) -> Judgement {
        Judgement {
            tier,
            rule: rule.into(),
            known: true,
            inner: Vec::new(),
            stdin_code: StdinCode::No,
            opaque_args: Vec::new(),
        }
    }

    /// A command the table does not know.
    pub(crate) fn unknown() -> Judgement {
        Judgement {
            known: false,
            ..Judgement::data(Tier::Reversible, "command not in the knowledge table")
        }
    }

    /// An unlisted subcommand: the tier stands, but the words stay under the raw-text floor
    /// (they are not proven to be data).
    pub(crate) fn unlisted(
        tier: Tier,
        rule: impl Into<String>,
        args: &[Word],
    ) -> Option<Judgement> {
        let mut j = Judgement::data(tier, rule);
        j.opaque_args = (0..args.len()).collect();
        Some(j)
    }

    fn with_inner(mut self, inner: Inner) -> Judgement {
        self.inner.push(inner);
        self
    }
}

/// Classify one command by name (already resolved: quotes removed, directories stripped) and
/// arguments.
pub(crate) fn judge(name: &str, args: &[Word]) -> Judgement {
    if let Some(j) = runners::judge(name, args) {
        return j;
    }
    if let Some(j) = readers::judge(name, args) {
        return j;
    }
    if let Some(j) = mutators::judge(name, args) {
        return j;
    }
    // Windows command names are case-insensitive; the Linux ones are not, but a
    // differently-cased name is at worst a command that does not exist.
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_suffix(".exe").unwrap_or(&lower);
    if lower != name
        && let Some(j) = mutators::judge(lower, args)
    {
        return j;
    }
    Judgement::unknown()
}

/// Commands whose output is fully determined by their input and which never write files or
/// run anything, whatever the extra arguments: safe behind `xargs`.
pub(crate) fn flag_insensitive_reader(name: &str) -> bool {
    readers::FLAG_INSENSITIVE.contains(&name)
}

// ---- argument helpers shared by the tables ----

/// Arguments before a `--` terminator.
fn options(args: &[Word]) -> impl Iterator<Item = &Word> {
    args.iter().take_while(|w| w.text != "--")
}

/// A short option cluster (`-rf`) containing `c`, before `--`.
fn has_short(args: &[Word], c: char) -> bool {
    options(args).any(|w| {
        let t = w.text.as_str();
        t.len() > 1 && t.starts_with('-') && !t.starts_with("--") && t[1..].contains(c)
    })
}

/// A long option `--name`, `--name=value`, or an unambiguous-looking abbreviation
/// (`--recur` for `--recursive`), before `--`.
fn has_long(args: &[Word], name: &str) -> bool {
    options(args).any(|w| {
        let Some(rest) = w.text.strip_prefix("--") else {
            return false;
        };
        let key = rest.split('=').next().unwrap_or(rest);
        key.len() >= 2 && name.starts_with(key)
    })
}

/// An exact argument, before `--`.
fn has_word(args: &[Word], word: &str) -> bool {
    options(args).any(|w| w.text == word)
}

/// Any argument starting with `prefix`, before `--`.
fn has_prefix(args: &[Word], prefix: &str) -> bool {
    options(args).any(|w| w.text.starts_with(prefix))
}

/// Operands: arguments that are not options (everything after `--`).
fn operands(args: &[Word]) -> Vec<&Word> {
    let mut out = Vec::new();
    let mut after_dashdash = false;
    for w in args {
        if after_dashdash {
            out.push(w);
        } else if w.text == "--" {
            after_dashdash = true;
        } else if !(w.text.starts_with('-') && w.text.len() > 1) {
            out.push(w);
        }
    }
    out
}

/// The first operand, skipping options listed in `with_value` (which consume the next word).
fn first_operand<'a>(args: &'a [Word], with_value: &[&str]) -> Option<(usize, &'a Word)> {
    let mut i = 0;
    while i < args.len() {
        let t = args[i].text.as_str();
        if t == "--" {
            return args.get(i + 1).map(|w| (i + 1, w));
        }
        if t.starts_with('-') && t.len() > 1 {
            i += if with_value.contains(&t) { 2 } else { 1 };
            continue;
        }
        return Some((i, &args[i]));
    }
    None
}

/// Some argument is not a literal (it could expand to a flag at run time).
fn any_non_literal(args: &[Word]) -> bool {
    args.iter().any(|w| !w.literal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<Word> {
        s.iter().map(|t| Word::synthetic(t, (0, 0))).collect()
    }

    #[test]
    fn option_helpers() {
        let a = words(&["-rf", "--recur", "x", "--", "-i"]);
        assert!(has_short(&a, 'f'));
        assert!(!has_short(&a, 'i'));
        assert!(has_long(&a, "recursive"));
        assert_eq!(operands(&a).len(), 2);
    }
}
