//! Command-line definitions. Every setting is a `--flag` and a `RELAY_SHELL_*` variable.
//!
//! The settings' flags are generated from their declarations (`config/defs.rs`); values arrive
//! as strings and are validated in one place, [`crate::config::Settings`], so every invalid
//! value produces the same one-line message and exit code 2.

use clap::{Parser, Subcommand};

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

    /// Print machine-readable JSON reports (for --verify-audit).
    #[arg(long)]
    pub json: bool,

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
    /// Scrub secrets from stdin to stdout with the same rules the audit log uses.
    Redact {
        /// Treat stdin as one JSON document: scrub its string values and keys.
        #[arg(long)]
        json: bool,
    },
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
