//! The knowledge table: command + options + operands → tier, with a reason, plus what else the
//! command runs (wrapped commands, shell code, interpreter code) and where it writes.
//!
//! Most programs are *declared* ([`programs`]): their option grammar is written once and parsed
//! the way the program parses it ([`crate::policy::options`]), each option tagged with what it
//! does; tier 0 is an allowlist (every option known, none with an effect). The declarations are
//! grouped by area ([`decl_text`], [`decl_system`], [`decl_net`], [`net`], [`services`],
//! [`containers`], [`cloud`], [`git`], [`scripts`], [`builtins`]); verb-judged CLIs share
//! [`verbs`]. [`runners`] sees through wrappers and shells, [`interpreters`] keeps other
//! interpreters' code opaque, and [`mutators`] knows the programs whose every form changes
//! state. A program in none of them is tier 2: `guarded` mode asks.

mod builtins;
mod cloud;
mod containers;
mod decl_disk;
mod decl_net;
mod decl_system;
mod decl_text;
mod decl_write;
mod git;
mod infra;
mod interpreters;
mod mutators;
mod net;
mod programs;
mod runners;
mod scripts;
mod services;
mod verbs;
mod wrappers;

pub(crate) use interpreters::is_posix_shell;
pub(crate) use runners::is_assignment;
pub(crate) use scripts::{Effect, awk_program, sed_script};

use super::paths::Dest;
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
    /// `awk -f -`: an awk program.
    Awk,
    /// `sed -f -`: a sed script.
    Sed,
    /// `crontab -`: a crontab, whose commands are shell code.
    Cron,
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
    /// Where the command writes (judged by the path judge against the working directory).
    pub writes: Vec<Dest>,
    /// The command sends its standard input over the network (a file or pipe fed to it is
    /// data going out).
    pub sends_stdin: bool,
    /// Code comes from another command's output (`bash <(echo …)`): nothing in the text is
    /// proven to be only data.
    pub code_from_substitution: bool,
    /// The wrapped command runs in this directory (`env -C DIR`, `sudo -D DIR`), with whether
    /// the word is a literal.
    pub chdir: Option<(String, bool)>,
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
            writes: Vec::new(),
            sends_stdin: false,
            code_from_substitution: false,
            chdir: None,
        }
    }

    /// A command the table does not know: tier 2, so `guarded` mode asks before running it.
    pub(crate) fn unknown() -> Judgement {
        Judgement {
            known: false,
            ..Judgement::data(
                Tier::Stateful,
                "command not in the knowledge table (an unknown program may do anything)",
            )
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

/// The declaration tables, by area.
const DECLARATIONS: &[&[programs::Decl]] = &[
    decl_text::DECLS,
    decl_system::DECLS,
    decl_disk::DECLS,
    decl_net::DECLS,
    decl_write::DECLS,
    net::DECLS,
    services::DECLS,
    containers::DECLS,
    cloud::DECLS,
    infra::DECLS,
    git::DECLS,
    scripts::DECLS,
    builtins::DECLS,
];

/// Build the declaration tables now.
pub(crate) fn prepare() {
    programs::prepare();
}

/// Every declared program (and `program subcommand`) with its option grammar, for tests and
/// generators that enumerate what the classifier knows.
pub(crate) fn declared() -> Vec<(&'static str, &'static crate::policy::options::Grammar)> {
    let mut all: Vec<_> = programs::all().map(|(n, e)| (n, &e.grammar)).collect();
    all.sort_by_key(|(n, _)| *n);
    all
}

/// Classify one command by name (already resolved: quotes removed, directories stripped) and
/// arguments.
pub(crate) fn judge(name: &str, args: &[Word]) -> Judgement {
    // cmd.exe's `rmdir /s /q`, `del /q`: not the POSIX programs; the raw-text rules judge them.
    let windows_switch = args
        .iter()
        .any(|w| w.text.eq_ignore_ascii_case("/s") || w.text.eq_ignore_ascii_case("/q"));
    if windows_switch && matches!(name, "rmdir" | "rd" | "del" | "erase") {
        return Judgement::unknown();
    }
    if let Some(j) = builtins::judge(name, args) {
        return j;
    }
    if let Some(j) = runners::judge(name, args) {
        return j;
    }
    if let Some(entry) = programs::lookup(name) {
        return programs::evaluate(
            name,
            args,
            0,
            entry,
            Judgement::data(Tier::ReadOnly, ""),
            None,
        );
    }
    if let Some(j) = mutators::judge(name, args) {
        return j;
    }
    if let Some(j) = powershell(name, args) {
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
    const FLAG_INSENSITIVE: &[&str] = &[
        "cat",
        "tac",
        "head",
        "tail",
        "wc",
        "nl",
        "cut",
        "paste",
        "rev",
        "fold",
        "grep",
        "egrep",
        "fgrep",
        "zgrep",
        "zcat",
        "bzcat",
        "xzcat",
        "zstdcat",
        "strings",
        "od",
        "hexdump",
        "md5sum",
        "sha1sum",
        "sha224sum",
        "sha256sum",
        "sha384sum",
        "sha512sum",
        "b2sum",
        "cksum",
        "sum",
        "ls",
        "stat",
        "file",
        "du",
        "echo",
        "printf",
        "basename",
        "dirname",
        "readlink",
        "realpath",
        "comm",
        "cmp",
        "diff",
        "getent",
        "id",
        "namei",
    ];
    FLAG_INSENSITIVE.contains(&name)
}

/// PowerShell cmdlets (`Verb-Noun`, case-insensitive) judged by their verb: the reading verbs
/// (`Get-`, `Format-`, `Select-`, `Measure-`, `Test-`, …) are tier 0 when no argument is
/// computed; everything else is left to the raw-text rules at tier 2.
fn powershell(name: &str, args: &[Word]) -> Option<Judgement> {
    let (verb, noun) = name.split_once('-')?;
    if noun.is_empty()
        || !verb.chars().all(|c| c.is_ascii_alphabetic())
        || !verb.starts_with(|c: char| c.is_ascii_uppercase())
    {
        return None;
    }
    let formats = matches!(
        name.to_ascii_lowercase().as_str(),
        "format-table" | "format-list" | "format-wide" | "format-custom" | "format-hex"
    );
    let reads = formats
        || matches!(
            verb.to_ascii_lowercase().as_str(),
            "get"
                | "select"
                | "where"
                | "measure"
                | "test"
                | "find"
                | "search"
                | "show"
                | "compare"
                | "resolve"
                | "convertto"
                | "convertfrom"
                | "sort"
                | "group"
                | "read"
        ) && !noun.eq_ignore_ascii_case("credential");
    let writes_file = args.iter().any(|w| {
        let t = w.text.to_ascii_lowercase();
        t.starts_with("-outfile") || t.starts_with("-filepath")
    });
    if reads && !writes_file && args.iter().all(|w| w.literal) {
        return Some(Judgement::data(
            Tier::ReadOnly,
            format!("{name} reads only (a reading PowerShell verb)"),
        ));
    }
    let mut j = Judgement::data(
        Tier::Stateful,
        format!("{name}: a PowerShell cmdlet that is not a known read"),
    );
    j.opaque_args = (0..args.len()).collect();
    j.known = false;
    Some(j)
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
