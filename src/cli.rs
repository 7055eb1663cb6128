//! Command-line definitions. Every setting is a `--flag` and a `RELAY_SHELL_*` variable.
//!
//! The settings' flags are generated from their declarations (`config/defs.rs`); values arrive
//! as strings and are validated in one place, [`crate::config::Settings`], so every invalid
//! value produces the same one-line message and exit code 2.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

pub use crate::config::SettingsArgs;

/// relay-shell: a tiered-authority, audited shell for AI agents (an MCP server).
///
/// With no verb it serves MCP on stdio. Every tool call is classified into a tier (0 read-only
/// … 3 irreversible), admitted by the policy mode and deny/allow regexes, run under a deadline,
/// bounded, and appended as a redacted, hash-chained record to the audit log.
#[derive(Debug, Parser)]
#[command(name = "relay-shell", version, about, long_about = None)]
#[command(
    after_help = "Every option can also be set with the environment variable shown \
    next to it. Invalid values exit with status 2 and one line on stderr."
)]
pub struct Cli {
    /// A verb other than serving.
    #[command(subcommand)]
    pub verb: Option<Verb>,

    /// Load and validate the configuration, open the audit log, then exit (0 ok, 2 refused).
    #[arg(long)]
    pub check_config: bool,

    /// Verify the audit log's hash chain (a file, or a directory of rotated segments).
    #[arg(long)]
    pub verify_audit: bool,

    /// Accept a chain that does not start at the genesis record (a rotation segment).
    #[arg(long, requires = "verify_audit")]
    pub segment: bool,

    /// Compare the shipped deploy templates (unit, drop-ins, logrotate, Caddyfile, shippers)
    /// with the installed files, byte for byte (0 all match, 2 drift or missing).
    #[arg(long)]
    pub verify_deploy: bool,

    /// Read the templates from this directory (laid out like `deploy/`) instead of the copy
    /// built into the binary (for --verify-deploy).
    #[arg(long, value_name = "PATH", requires = "verify_deploy")]
    pub templates_dir: Option<PathBuf>,

    /// Treat PATH as the root of the install paths: /etc/x is checked as PATH/etc/x (for
    /// --verify-deploy).
    #[arg(long, value_name = "PATH", requires = "verify_deploy")]
    pub install_prefix: Option<PathBuf>,
    /// Print machine-readable JSON reports (for --verify-audit, --verify-deploy, --auth-list,
    /// `auth list`).
    #[arg(long, global = true)]
    pub json: bool,

    /// List the OAuth clients and their approval (as `relay-shell auth list`).
    #[arg(long)]
    pub auth_list: bool,

    /// Approve a pending OAuth client (as `relay-shell auth approve ID`).
    #[arg(long, value_name = "CLIENT_ID")]
    pub auth_approve: Option<String>,

    /// Delete an OAuth client with its codes and tokens (as `relay-shell auth reject ID`).
    #[arg(long, value_name = "CLIENT_ID")]
    pub auth_reject: Option<String>,

    /// All server settings.
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// Verbs besides serving.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Classify a command and show the decision under the current configuration, as JSON.
    /// Exit 0 when admitted, 1 when refused, 2 on bad usage.
    Explain {
        /// The tool the text would be given to.
        #[arg(long, default_value = "shell_exec")]
        tool: String,
        /// Override the policy mode for this explanation (open, guarded, readonly).
        #[arg(long)]
        mode: Option<String>,
        /// The command text, or `-` (or nothing) to read it from stdin.
        text: Option<String>,
    },
    /// Run one command under a kernel confinement profile, as the server would run it, with
    /// this terminal's stdin/stdout/stderr. Exits with the command's status.
    Sandbox {
        /// read-only, reversible or none.
        #[arg(long, default_value = "read-only")]
        profile: String,
        /// The command and its arguments (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Manage the HTTP transport's bearer tokens (RELAY_SHELL_AUTH_TOKENS_FILE).
    Token {
        /// What to do.
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Manage OAuth (RELAY_SHELL_AUTH_STATE_DIR): clients, their approval, the operator
    /// passphrase and initial access tokens.
    Auth {
        /// What to do.
        #[command(subcommand)]
        action: AuthAction,
    },
    /// Scrub secrets from stdin to stdout with the same rules the audit log uses.
    Redact {
        /// Treat stdin as one JSON document: scrub its string values and keys.
        #[arg(long)]
        json: bool,
    },
    /// Print the manual page (roff) generated from this command line, for `man -l -`.
    Man,
    /// Print a shell completion script generated from this command line.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// The manual page, generated from the command-line definition: every flag and verb, then an
/// ENVIRONMENT section naming each setting's `RELAY_SHELL_*` variable (the `--help` text hides
/// the variables' values, and clap_mangen leaves them out with them).
pub fn man_page() -> Vec<u8> {
    let mut out = Vec::new();
    // Rendering into a Vec cannot fail on I/O.
    let _ = clap_mangen::Man::new(Cli::command()).render(&mut out);
    let mut env = String::from(
        ".SH ENVIRONMENT\nEvery setting is also read from its variable; a flag wins over it.\n",
    );
    for def in crate::config::SETTINGS {
        env.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{} (\\fB\\-\\-{}\\fR) [default: {}]\n",
            roff_escape(def.env),
            roff_escape(def.help),
            roff_escape(&def.flag()),
            roff_escape(&def.default_doc().replace('`', ""))
        ));
    }
    out.extend_from_slice(env.as_bytes());
    out
}

/// Text made safe inside a roff paragraph: backslashes and hyphens escaped, no request
/// at the start of a line.
fn roff_escape(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// A completion script for `shell`, generated from the command-line definition.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "relay-shell", &mut out);
    out
}

/// The table of flags and verbs that are not settings (`docs/configuration.md`), generated
/// from the command-line definition so it cannot drift.
pub fn flags_markdown() -> String {
    let cmd = Cli::command();
    let settings: Vec<&str> = crate::config::SETTINGS.iter().map(|d| d.field).collect();
    let mut out = String::from("| Flag or verb | Meaning |\n|---|---|\n");
    let one_line = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else {
            continue;
        };
        if settings.contains(&id) || long == "help" || long == "version" {
            continue;
        }
        let value = match arg.get_value_names() {
            Some(v) if arg.get_action().takes_values() => format!(" {}", v.join(" ")),
            _ => String::new(),
        };
        let help = arg
            .get_help()
            .map(|h| one_line(h.to_string()))
            .unwrap_or_default();
        out.push_str(&format!("| `--{long}{value}` | {help} |\n"));
    }
    for sub in cmd.get_subcommands() {
        let mut usage = vec![sub.get_name().to_string()];
        for a in sub.get_arguments() {
            if a.is_positional() {
                usage.push(format!("<{}>", a.get_id().as_str().to_ascii_uppercase()));
            }
        }
        let subs: Vec<String> = sub
            .get_subcommands()
            .map(|c| format!("`{}`", c.get_name()))
            .collect();
        let help = sub
            .get_about()
            .map(|h| one_line(h.to_string()))
            .unwrap_or_default();
        let usage = if subs.is_empty() {
            format!("`{}`", usage.join(" "))
        } else {
            // A `|` would split the Markdown cell.
            format!("`{}` ({})", usage.join(" "), subs.join(", "))
        };
        out.push_str(&format!("| {usage} | {help} |\n"));
    }
    out
}

/// `relay-shell token …`: the file keeps only hashes; a token is shown once, when created.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a random token for NAME, print it once on stdout, append its hash to the file.
    New {
        /// The principal the token authenticates (letters, digits, `.`, `_`, `-`).
        name: String,
        /// A mode ceiling for this token: open, guarded or readonly.
        #[arg(long)]
        mode: Option<String>,
    },
    /// List token names and modes.
    List,
    /// Remove NAME's token; running servers refuse it from their next request on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_table_of_the_configuration_document_is_generated() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
        let doc = std::fs::read_to_string(path).expect("docs/configuration.md"); // ok: test
        let start = "<!-- flags-table:start -->\n";
        let end = "<!-- flags-table:end -->";
        let (head, rest) = doc.split_once(start).expect("start marker"); // ok: test
        let (table, tail) = rest.split_once(end).expect("end marker"); // ok: test
        let generated = flags_markdown();
        if std::env::var_os("RELAY_SHELL_UPDATE_DOCS").is_some() {
            let updated = format!("{head}{start}{generated}{end}{tail}");
            std::fs::write(path, updated).expect("write docs"); // ok: test
            return;
        }
        assert_eq!(
            table, generated,
            "docs/configuration.md is out of date: run this test with RELAY_SHELL_UPDATE_DOCS=1"
        );
    }

    #[test]
    fn the_flags_table_names_every_verb_and_no_setting() {
        let t = flags_markdown();
        for needle in [
            "`--verify-deploy`",
            "`--templates-dir PATH`",
            "`--install-prefix PATH`",
            "`--verify-audit`",
            "`man`",
            "`completions <SHELL>`",
            "`token` (`new`, `list`, `revoke`)",
        ] {
            assert!(t.contains(needle), "{needle} in {t}");
        }
        assert!(!t.contains("--policy-mode"));
        assert!(!t.contains("`--help`"));
    }
}

/// `relay-shell auth …`.
#[derive(Debug, Subcommand)]
pub enum AuthAction {
    /// One line per client: `ID  approved|pending  REDIRECT_URIS` (`--json`: an array).
    List,
    /// Approve a pending client: it may then be authorized.
    Approve {
        /// The client's id.
        client_id: String,
    },
    /// Delete a client with its codes and tokens.
    Reject {
        /// The client's id.
        client_id: String,
    },
    /// Set the operator passphrase the consent page asks for (prompted twice on a terminal;
    /// otherwise two lines from stdin). Stored as an Argon2id hash.
    Passphrase,
    /// Print a new initial access token for `/register` (RELAY_SHELL_AUTH_REGISTRATION=token);
    /// only its hash is stored.
    RegistrationToken {
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
        /// Allow several registrations with it (default: single use).
        #[arg(long)]
        reusable: bool,
    },
    /// Manage clients by hand.
    Client {
        /// What to do.
        #[command(subcommand)]
        action: ClientAction,
    },
}

/// `relay-shell auth client …`.
#[derive(Debug, Subcommand)]
pub enum ClientAction {
    /// Add an approved client; prints its id (and its secret with `--secret`).
    Add {
        /// Display name shown on the consent page.
        name: String,
        /// A redirect URI (repeat for several).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uri: Vec<String>,
        /// A confidential client with a secret (default: a public client using PKCE only).
        #[arg(long)]
        secret: bool,
    },
}
