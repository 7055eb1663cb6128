//! Environment variables that change what later commands run (`PATH`, `LD_PRELOAD`, pagers,
//! editors, `GIT_SSH_COMMAND`, …). Setting one in any way a later command inherits —
//! `NAME=value`, `export`, `declare`, `read`, `printf -v`, `${NAME:=…}`, `docker -e` — makes a
//! tier-0 verdict on later commands meaningless, so it is tier 2. Variables whose value is a
//! command line (pagers, editors, `*_COMMAND`) are judged by that command instead: `PAGER=cat`
//! runs `cat`, `PAGER='sh -c …'` runs the shell code.

/// Exact names that redirect execution.
const NAMES: &[&str] = &[
    "PATH",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "CDPATH",
    "GLOBIGNORE",
    "LESSOPEN",
    "LESSCLOSE",
    "LESSKEY",
    "LESSKEYIN",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PERL5LIB",
    "PERLLIB",
    "PERL5OPT",
    "RUBYLIB",
    "RUBYOPT",
    "NODE_PATH",
    "NODE_OPTIONS",
    "HOME",
    "ZDOTDIR",
    "XDG_CONFIG_HOME",
    "SHELL",
    "TMPDIR",
    "KUBECONFIG",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "AWS_ENDPOINT_URL",
    "VAULT_ADDR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "OPENSSL_CONF",
    "SYSTEMD_PAGERSECURE",
    "MANOPT",
    "GCONV_PATH",
    "HOSTALIASES",
    "RESOLV_HOST_CONF",
    "LOCALDOMAIN",
];

/// Prefixes of families that redirect execution.
const PREFIXES: &[&str] = &[
    "LD_",
    "DYLD_",
    "GIT_",
    "BASH_FUNC_",
    "MALLOC_",
    "GLIBC_TUNABLES",
];

/// Suffixes that name a program or options to run with.
const SUFFIXES: &[&str] = &[
    "PAGER", "EDITOR", "_COMMAND", "_CMD", "ASKPASS", "OPTIONS", "OPT", "_PROGRAM", "_SHELL",
];

/// `GIT_*` names that only tune output or prompting.
const HARMLESS: &[&str] = &[
    "GIT_TERMINAL_PROMPT",
    "GIT_OPTIONAL_LOCKS",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_DATE",
    "GIT_FLUSH",
    "GIT_ADVICE",
];

/// Names whose value is a command line that later commands run.
fn runs_value(name: &str) -> bool {
    ["PAGER", "EDITOR", "_COMMAND", "_CMD", "ASKPASS", "BROWSER"]
        .iter()
        .any(|s| name.ends_with(s))
        || matches!(
            name,
            "VISUAL"
                | "PROMPT_COMMAND"
                | "GIT_SSH"
                | "GIT_EXTERNAL_DIFF"
                | "GIT_PROXY_COMMAND"
                | "TERMINAL"
                | "FCEDIT"
        )
}

/// Why setting `name` is tier 2, or `None` when it is harmless.
pub(crate) fn dangerous(name: &str) -> Option<String> {
    if HARMLESS.contains(&name) {
        return None;
    }
    let hit = NAMES.contains(&name)
        || PREFIXES.iter().any(|p| name.starts_with(p))
        || SUFFIXES.iter().any(|s| name.ends_with(s))
        || runs_value(name);
    hit.then(|| format!("sets {name}, which changes what later commands run"))
}

/// What setting `name` to `value` does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Setting {
    /// Nothing a later command notices.
    Harmless,
    /// Later commands run `value` as shell code: judge that code.
    Code(String),
    /// Later commands run something else (tier 2), with the reason.
    Dangerous(String),
}

/// Judge `name=value`. `for_read` is true when the setting only applies to `read`-like
/// builtins (`IFS= read -r line`), where `IFS` only splits the line read.
pub(crate) fn setting(name: &str, value: &str, literal: bool, for_read: bool) -> Setting {
    if for_read && name == "IFS" {
        return Setting::Harmless;
    }
    if matches!(name, "LESS" | "MORE") {
        let plain = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ' ' | '='));
        return if literal && plain {
            Setting::Harmless
        } else {
            Setting::Dangerous(format!("sets {name} to options that may run commands"))
        };
    }
    if runs_value(name) && !HARMLESS.contains(&name) {
        return if literal {
            Setting::Code(value.to_string())
        } else {
            Setting::Dangerous(format!("sets {name} to a command computed at run time"))
        };
    }
    match dangerous(name) {
        Some(why) => Setting::Dangerous(why),
        None => Setting::Harmless,
    }
}

/// Whether `BASH_ENV`/`ENV` set to `value` makes the next shell read its standard input.
pub(crate) fn startup_reads_stdin(name: &str, value: &str) -> bool {
    matches!(name, "BASH_ENV" | "ENV")
        && matches!(value, "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0" | "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings() {
        assert_eq!(
            setting("PAGER", "cat", true, false),
            Setting::Code("cat".into())
        );
        assert_eq!(
            setting("GIT_PAGER", "cat", true, false),
            Setting::Code("cat".into())
        );
        assert!(matches!(
            setting("PAGER", "$X", false, false),
            Setting::Dangerous(_)
        ));
        assert_eq!(setting("IFS", "", true, true), Setting::Harmless);
        assert!(matches!(
            setting("IFS", "", true, false),
            Setting::Dangerous(_)
        ));
        assert_eq!(setting("LESS", "-R", true, false), Setting::Harmless);
        assert!(matches!(
            setting("LESS", "+!id", true, false),
            Setting::Dangerous(_)
        ));
        assert_eq!(
            setting("GIT_TERMINAL_PROMPT", "0", true, false),
            Setting::Harmless
        );
        assert!(matches!(
            setting("LD_PRELOAD", "/x.so", true, false),
            Setting::Dangerous(_)
        ));
        assert_eq!(setting("LANG", "C", true, false), Setting::Harmless);
        assert!(startup_reads_stdin("BASH_ENV", "/dev/stdin"));
    }
}
