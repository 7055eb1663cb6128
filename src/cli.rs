//! Command-line definitions. Every setting is a `--flag` and a `RELAY_SHELL_*` variable.
//!
//! Values arrive as strings and are validated in one place, [`crate::config::Settings`], so
//! every invalid value produces the same one-line message and exit code 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Scrub secrets from stdin to stdout with the same rules the audit log uses.
    Redact {
        /// Treat stdin as one JSON document: scrub its string values and keys.
        #[arg(long)]
        json: bool,
    },
}

/// Server settings: flags with `RELAY_SHELL_*` environment fallbacks.
#[derive(Debug, Args, Default)]
pub struct SettingsArgs {
    /// Transport: stdio (default) or http.
    #[arg(
        long,
        env = "RELAY_SHELL_TRANSPORT",
        value_name = "T",
        help_heading = "Server"
    )]
    pub transport: Option<String>,
    /// Address the HTTP transport binds (default 127.0.0.1).
    #[arg(
        long,
        env = "RELAY_SHELL_HTTP_HOST",
        value_name = "HOST",
        help_heading = "Server"
    )]
    pub http_host: Option<String>,
    /// Port the HTTP transport binds (default 8080).
    #[arg(
        long,
        env = "RELAY_SHELL_HTTP_PORT",
        value_name = "PORT",
        help_heading = "Server"
    )]
    pub http_port: Option<String>,
    /// Calls that may run at once (default 32, 1..=1024); more wait briefly, then get Busy.
    #[arg(
        long,
        env = "RELAY_SHELL_MAX_CONCURRENT",
        value_name = "N",
        help_heading = "Server"
    )]
    pub max_concurrent: Option<String>,

    /// Output budget for aggregate tools and resources, bytes (default 65536).
    #[arg(
        long,
        env = "RELAY_SHELL_MAX_OUTPUT",
        value_name = "BYTES",
        help_heading = "Limits"
    )]
    pub max_output: Option<String>,
    /// Ceiling for any per-call output and for buffered child output, bytes (default 1048576).
    #[arg(
        long,
        env = "RELAY_SHELL_MAX_OUTPUT_HARD",
        value_name = "BYTES",
        help_heading = "Limits"
    )]
    pub max_output_hard: Option<String>,
    /// Default per-call timeout in seconds (default 60).
    #[arg(
        long,
        env = "RELAY_SHELL_DEFAULT_TIMEOUT",
        value_name = "SECS",
        help_heading = "Limits"
    )]
    pub default_timeout: Option<String>,
    /// Upper clamp for per-call timeouts in seconds (default 900).
    #[arg(
        long,
        env = "RELAY_SHELL_MAX_TIMEOUT",
        value_name = "SECS",
        help_heading = "Limits"
    )]
    pub max_timeout: Option<String>,
    /// Live PTY sessions (default 64).
    #[arg(
        long,
        env = "RELAY_SHELL_MAX_SESSIONS",
        value_name = "N",
        help_heading = "Limits"
    )]
    pub max_sessions: Option<String>,
    /// Live SSH port forwards (default 64).
    #[arg(
        long,
        env = "RELAY_SHELL_MAX_FORWARDS",
        value_name = "N",
        help_heading = "Limits"
    )]
    pub max_forwards: Option<String>,
    /// Cached SSH connections (default 256).
    #[arg(
        long,
        env = "RELAY_SHELL_MAX_CONNS",
        value_name = "N",
        help_heading = "Limits"
    )]
    pub max_conns: Option<String>,
    /// Seconds without input or output before a session is reaped (default 1800).
    #[arg(
        long,
        env = "RELAY_SHELL_SESSION_IDLE_TIMEOUT",
        value_name = "SECS",
        help_heading = "Limits"
    )]
    pub session_idle_timeout: Option<String>,
    /// Longest a session may live, in seconds (default 28800).
    #[arg(
        long,
        env = "RELAY_SHELL_SESSION_MAX_LIFETIME",
        value_name = "SECS",
        help_heading = "Limits"
    )]
    pub session_max_lifetime: Option<String>,
    /// Per-session output ring buffer, bytes (default 262144).
    #[arg(
        long,
        env = "RELAY_SHELL_SESSION_BUFFER_BYTES",
        value_name = "BYTES",
        help_heading = "Limits"
    )]
    pub session_buffer_bytes: Option<String>,

    /// Admission mode: open (default), guarded or readonly.
    #[arg(
        long,
        env = "RELAY_SHELL_POLICY_MODE",
        value_name = "MODE",
        help_heading = "Policy"
    )]
    pub policy_mode: Option<String>,
    /// Regex (Rust syntax) over "tool text"; a match refuses the call in every mode.
    #[arg(
        long,
        env = "RELAY_SHELL_POLICY_DENY",
        value_name = "REGEX",
        help_heading = "Policy"
    )]
    pub policy_deny: Option<String>,
    /// Regex over "tool text" that lets guarded mode admit tier 2 and 3.
    #[arg(
        long,
        env = "RELAY_SHELL_POLICY_ALLOW",
        value_name = "REGEX",
        help_heading = "Policy"
    )]
    pub policy_allow: Option<String>,
    /// Kernel confinement of admitted commands: auto (default), require, off or always.
    #[arg(
        long,
        env = "RELAY_SHELL_CONFINE",
        value_name = "WHEN",
        help_heading = "Policy"
    )]
    pub confine: Option<String>,
    /// Network of confined commands: any (default) or none (unix and netlink sockets only).
    #[arg(
        long,
        env = "RELAY_SHELL_READONLY_NETWORK",
        value_name = "NET",
        help_heading = "Policy"
    )]
    pub readonly_network: Option<String>,
    /// Writable roots of the reversible profile, ':'-separated (default $HOME:/tmp:/var/tmp;
    /// the call's working directory is always added).
    #[arg(
        long,
        env = "RELAY_SHELL_WRITABLE_ROOTS",
        value_name = "PATHS",
        help_heading = "Policy"
    )]
    pub writable_roots: Option<String>,
    /// Require a second, confirmed call for tier-3 operations (default false).
    #[arg(
        long,
        env = "RELAY_SHELL_CONFIRM_TIER3",
        value_name = "BOOL",
        help_heading = "Policy"
    )]
    pub confirm_tier3: Option<String>,
    /// Lifetime of a confirmation token in seconds (default 120).
    #[arg(
        long,
        env = "RELAY_SHELL_CONFIRM_TTL",
        value_name = "SECS",
        help_heading = "Policy"
    )]
    pub confirm_ttl: Option<String>,

    /// Audit log path (default /var/log/relay-shell/audit.jsonl when writable, else under
    /// $XDG_STATE_HOME or ~/.local/state).
    #[arg(
        long,
        env = "RELAY_SHELL_AUDIT_PATH",
        value_name = "PATH",
        help_heading = "Audit"
    )]
    pub audit_path: Option<PathBuf>,
    /// Mirror audit lines to stderr prefixed with "AUDIT " (default false).
    #[arg(
        long,
        env = "RELAY_SHELL_AUDIT_STDERR",
        value_name = "BOOL",
        help_heading = "Audit"
    )]
    pub audit_stderr: Option<String>,
    /// Line format: jsonl (default), cef or leef.
    #[arg(
        long,
        env = "RELAY_SHELL_AUDIT_FORMAT",
        value_name = "FMT",
        help_heading = "Audit"
    )]
    pub audit_format: Option<String>,
    /// Hash-chain the records (default true; jsonl only).
    #[arg(
        long,
        env = "RELAY_SHELL_AUDIT_CHAIN",
        value_name = "BOOL",
        help_heading = "Audit"
    )]
    pub audit_chain: Option<String>,
    /// When to fsync: always, interval (default, 100 ms) or never.
    #[arg(
        long,
        env = "RELAY_SHELL_AUDIT_FSYNC",
        value_name = "WHEN",
        help_heading = "Audit"
    )]
    pub audit_fsync: Option<String>,
    /// When records cannot be written: refuse (default) new calls, or continue degraded.
    #[arg(
        long,
        env = "RELAY_SHELL_AUDIT_ON_FAILURE",
        value_name = "WHAT",
        help_heading = "Audit"
    )]
    pub audit_on_failure: Option<String>,
    /// Write a start record before the work of each call (default true).
    #[arg(
        long,
        env = "RELAY_SHELL_AUDIT_START_RECORDS",
        value_name = "BOOL",
        help_heading = "Audit"
    )]
    pub audit_start_records: Option<String>,
    /// Key file for correlatable redaction placeholders ([REDACTED:xxxxxxxx]).
    #[arg(
        long,
        env = "RELAY_SHELL_REDACT_KEY_FILE",
        value_name = "PATH",
        help_heading = "Audit"
    )]
    pub redact_key_file: Option<PathBuf>,

    /// Syscall audit channel (accepted for compatibility; not supported by this build).
    #[arg(
        long,
        env = "RELAY_SHELL_SECCOMP_NOTIFY",
        value_name = "BOOL",
        help_heading = "Audit"
    )]
    pub seccomp_notify: Option<String>,
    /// Events per spawned child for the syscall channel (default 256).
    #[arg(
        long,
        env = "RELAY_SHELL_SECCOMP_NOTIFY_CAP",
        value_name = "N",
        help_heading = "Audit"
    )]
    pub seccomp_notify_cap: Option<String>,

    /// ssh_config file (default ~/.ssh/config).
    #[arg(
        long,
        env = "RELAY_SHELL_SSH_CONFIG",
        value_name = "PATH",
        help_heading = "SSH"
    )]
    pub ssh_config: Option<String>,
    /// JSON inventory of extra hosts.
    #[arg(
        long,
        env = "RELAY_SHELL_INVENTORY",
        value_name = "PATH",
        help_heading = "SSH"
    )]
    pub inventory: Option<String>,
    /// Host-key policy: strict, accept-new (default) or ignore.
    #[arg(
        long,
        env = "RELAY_SHELL_SSH_KNOWN_HOSTS",
        value_name = "POLICY",
        help_heading = "SSH"
    )]
    pub ssh_known_hosts: Option<String>,
    /// SSH dial timeout in seconds (default 10).
    #[arg(
        long,
        env = "RELAY_SHELL_SSH_CONNECT_TIMEOUT",
        value_name = "SECS",
        help_heading = "SSH"
    )]
    pub ssh_connect_timeout: Option<String>,
    /// SSH keepalive interval in seconds, 0 = off (default 30).
    #[arg(
        long,
        env = "RELAY_SHELL_SSH_KEEPALIVE",
        value_name = "SECS",
        help_heading = "SSH"
    )]
    pub ssh_keepalive: Option<String>,
    /// Idle eviction of cached SSH connections in seconds, 0 = off (default 1800).
    #[arg(
        long,
        env = "RELAY_SHELL_SSH_IDLE_TIMEOUT",
        value_name = "SECS",
        help_heading = "SSH"
    )]
    pub ssh_idle_timeout: Option<String>,

    /// OAuth on the HTTP transport (default false).
    #[arg(
        long,
        env = "RELAY_SHELL_AUTH_ENABLED",
        value_name = "BOOL",
        help_heading = "HTTP auth"
    )]
    pub auth_enabled: Option<String>,
    /// OAuth issuer URL (default https://localhost:8080).
    #[arg(
        long,
        env = "RELAY_SHELL_AUTH_ISSUER",
        value_name = "URL",
        help_heading = "HTTP auth"
    )]
    pub auth_issuer: Option<String>,
    /// OAuth state directory (default /var/lib/relay-shell/oauth).
    #[arg(
        long,
        env = "RELAY_SHELL_AUTH_STATE_DIR",
        value_name = "PATH",
        help_heading = "HTTP auth"
    )]
    pub auth_state_dir: Option<String>,
    /// Allow only one registered OAuth client (default true).
    #[arg(
        long,
        env = "RELAY_SHELL_AUTH_SINGLE_CLIENT",
        value_name = "BOOL",
        help_heading = "HTTP auth"
    )]
    pub auth_single_client: Option<String>,
    /// Access token lifetime in seconds (default 3600, ≥ 60).
    #[arg(
        long,
        env = "RELAY_SHELL_AUTH_ACCESS_TTL",
        value_name = "SECS",
        help_heading = "HTTP auth"
    )]
    pub auth_access_ttl: Option<String>,
    /// Refresh token lifetime in seconds (default 2592000, ≥ 300).
    #[arg(
        long,
        env = "RELAY_SHELL_AUTH_REFRESH_TTL",
        value_name = "SECS",
        help_heading = "HTTP auth"
    )]
    pub auth_refresh_ttl: Option<String>,
    /// Authorization code lifetime in seconds (default 300, ≥ 30).
    #[arg(
        long,
        env = "RELAY_SHELL_AUTH_CODE_TTL",
        value_name = "SECS",
        help_heading = "HTTP auth"
    )]
    pub auth_code_ttl: Option<String>,
}
