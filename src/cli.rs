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

    /// Print machine-readable JSON reports (for --verify-audit, --auth-list, `auth list`).
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
