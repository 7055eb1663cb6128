//! Environment variables that change what later commands run (`PATH`, `LD_PRELOAD`, pagers,
//! editors, `GIT_SSH_COMMAND`, …): setting one makes a tier-0 verdict on later commands
//! meaningless, so it is tier 2.

/// Exact names that redirect execution.
const NAMES: &[&str] = &[
    "PATH",
    "BASH_ENV",
    "ENV",
    "PROMPT_COMMAND",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "CDPATH",
    "GLOBIGNORE",
    "VISUAL",
    "LESSOPEN",
    "LESSCLOSE",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PERL5LIB",
    "PERLLIB",
    "RUBYLIB",
    "NODE_PATH",
    "BROWSER",
    "HOME",
    "ZDOTDIR",
    "XDG_CONFIG_HOME",
    "SHELL",
    "TMPDIR",
];

/// Prefixes of families that redirect execution.
const PREFIXES: &[&str] = &["LD_", "DYLD_", "GIT_", "BASH_FUNC_"];

/// Suffixes that name a program or options to run with.
const SUFFIXES: &[&str] = &[
    "PAGER", "EDITOR", "_COMMAND", "_CMD", "ASKPASS", "OPTIONS", "OPT", "_PROGRAM", "_SHELL",
];

/// Why setting `name` is tier 2, or `None` when it is harmless.
pub(crate) fn dangerous(name: &str) -> Option<String> {
    let hit = NAMES.contains(&name)
        || PREFIXES.iter().any(|p| name.starts_with(p))
        || SUFFIXES.iter().any(|s| name.ends_with(s));
    hit.then(|| format!("sets {name}, which changes what later commands run"))
}
