//! Every setting, declared once: field, type, `RELAY_SHELL_*` variable, `--help` section and
//! placeholder, default, accepted values and meaning. The `Settings` struct, its validation,
//! the clap arguments (`--flag`, with the variable as fallback) and the table in
//! `docs/configuration.md` (a test fails when they differ) are all generated from this list.
//! Adding a setting touches this list only (and the code that uses the new field).

use std::path::PathBuf;

use super::value::{Default, Kind, SettingDef, SettingValue, SettingsArgs};
use super::{ConfigError, KnownHosts, Secret, SessionInput, Transport};
use crate::audit::{Format, FsyncPolicy, OnFailure};
use crate::confine::{Network, Setting};
use crate::policy::Mode;

const fn int(lo: u64, hi: u64) -> Kind {
    Kind::Int { lo, hi }
}

macro_rules! settings {
    ($(
        $field:ident: $ty:ty = $env:literal, $heading:literal, $value_name:literal,
            default $default:expr, accepts $kind:expr,
            $help:literal;
    )*) => {
        /// Every setting the server uses, validated (see [`SETTINGS`] for each one's meaning).
        #[derive(Clone, Debug)]
        pub struct Settings {
            $(
                #[doc = $help]
                pub $field: $ty,
            )*
        }

        /// The declarations, in `--help` and documentation order.
        pub static SETTINGS: &[SettingDef] = &[$(
            SettingDef {
                field: stringify!($field),
                env: $env,
                heading: $heading,
                value_name: $value_name,
                default: $default,
                kind: $kind,
                help: $help,
            },
        )*];

        impl Settings {
            /// Each field parsed from its given value or its default; the first invalid one
            /// is the error.
            pub(super) fn parse_each(args: &SettingsArgs) -> Result<Settings, ConfigError> {
                let mut defs = SETTINGS.iter();
                Ok(Settings {$(
                    $field: {
                        let def = defs.next().ok_or_else(|| {
                            ConfigError("the settings list is out of step with its fields".into())
                        })?;
                        <$ty as SettingValue>::parse(def, &args.value(def))?
                    },
                )*})
            }
        }
    };
}

settings! {
    transport: Transport = "RELAY_SHELL_TRANSPORT", "Server", "T",
        default Default::Value("stdio"), accepts Kind::Choice(&["stdio", "http"]),
        "MCP transport";
    http_host: String = "RELAY_SHELL_HTTP_HOST", "Server", "HOST",
        default Default::Value("127.0.0.1"), accepts Kind::Host,
        "HTTP bind address; a non-loopback one needs authentication (below)";
    http_port: u16 = "RELAY_SHELL_HTTP_PORT", "Server", "PORT",
        default Default::Value("8080"), accepts int(0, 65535),
        "HTTP bind port; `0` takes a free port, named in the `listening on` log line";
    http_allowed_hosts: Vec<String> = "RELAY_SHELL_HTTP_ALLOWED_HOSTS", "Server", "HOSTS",
        default Default::Empty, accepts Kind::Text("`host` or `host:port`, comma-separated"),
        "`Host` values accepted besides `localhost`, `127.0.0.1`, `::1` (any port); others get 403";
    http_allowed_origins: Vec<String> = "RELAY_SHELL_HTTP_ALLOWED_ORIGINS", "Server", "ORIGINS",
        default Default::Empty,
        accepts Kind::Text("`http(s)://host`, `…:port`, `…:*`, `null`, comma-separated"),
        "browser `Origin`s accepted besides loopback ones (any port); a request carrying another gets 403. No port = the scheme's default port";
    http_max_body_bytes: usize = "RELAY_SHELL_HTTP_MAX_BODY_BYTES", "Server", "BYTES",
        default Default::Value("4194304"), accepts int(1024, 268_435_456),
        "largest request body; more is 413";
    http_header_timeout: u64 = "RELAY_SHELL_HTTP_HEADER_TIMEOUT", "Server", "SECS",
        default Default::Value("10"), accepts int(1, 300),
        "seconds a client has to send a request's headers (else the connection is closed; also the idle limit of a kept-alive connection), and separately its body (else 408)";
    http_max_sessions: usize = "RELAY_SHELL_HTTP_MAX_SESSIONS", "Server", "N",
        default Default::Value("128"), accepts int(1, 4096),
        "MCP sessions open at once; a further `initialize` gets 503 with `Retry-After`";
    http_session_idle_timeout: u64 = "RELAY_SHELL_HTTP_SESSION_IDLE_TIMEOUT", "Server", "SECS",
        default Default::Value("1800"), accepts int(10, 86_400),
        "seconds without a request before an MCP session ends (its id then gets 404 and the client starts a new one)";
    http_max_connections: usize = "RELAY_SHELL_HTTP_MAX_CONNECTIONS", "Server", "N",
        default Default::Value("256"), accepts int(1, 65_536),
        "TCP connections served at once; further ones wait in the listen queue";
    allow_unauth_network: bool = "RELAY_SHELL_ALLOW_UNAUTH_NETWORK", "Server", "BOOL",
        default Default::Value("false"), accepts Kind::Bool,
        "serve HTTP on a non-loopback address without authentication (only behind an authenticating proxy)";
    max_concurrent: usize = "RELAY_SHELL_MAX_CONCURRENT", "Server", "N",
        default Default::Value("32"), accepts int(1, 1024),
        "calls running at once; a further call waits up to 10 s, then gets `[ERROR: Busy: …]`";
    log: String = "RELAY_SHELL_LOG", "Server", "FILTER",
        default Default::Value("info,rmcp=warn"),
        accepts Kind::Text("`level` and `target=level` directives, comma-separated (`debug`, `info,relay_shell::exec=trace`); an invalid value falls back to the default"),
        "log verbosity (stderr only)";

    max_output: usize = "RELAY_SHELL_MAX_OUTPUT", "Limits", "BYTES",
        default Default::Value("65536"), accepts int(1024, 16_777_216),
        "default `max_output` of `shell_exec`; budget of `audit_tail`";
    max_output_hard: usize = "RELAY_SHELL_MAX_OUTPUT_HARD", "Limits", "BYTES",
        default Default::Value("1048576"), accepts int(4096, 134_217_728),
        "ceiling of any per-call budget and of child output kept in memory";
    default_timeout: u64 = "RELAY_SHELL_DEFAULT_TIMEOUT", "Limits", "SECS",
        default Default::Value("60"), accepts int(1, 86_400),
        "default `timeout` of `shell_exec` (twice this for `shell_script`)";
    max_timeout: u64 = "RELAY_SHELL_MAX_TIMEOUT", "Limits", "SECS",
        default Default::Value("900"), accepts int(1, 86_400),
        "upper clamp of every per-call timeout";
    max_input: usize = "RELAY_SHELL_MAX_INPUT", "Limits", "CHARS",
        default Default::Value("2097152"), accepts int(1024, 134_217_728),
        "longest input a call may carry, in characters of its policy text (command, stdin and `env_json`; an SSH call's hosts; a session's pending line plus the data); a longer call is refused with `[DENIED …]` and recorded";
    max_sessions: usize = "RELAY_SHELL_MAX_SESSIONS", "Limits", "N",
        default Default::Value("64"), accepts int(1, 1024),
        "live PTY sessions";
    max_forwards: usize = "RELAY_SHELL_MAX_FORWARDS", "Limits", "N",
        default Default::Value("64"), accepts int(1, 1024),
        "live SSH forwards";
    max_conns: usize = "RELAY_SHELL_MAX_CONNS", "Limits", "N",
        default Default::Value("256"), accepts int(1, 4096),
        "cached SSH connections";
    session_idle_timeout: u64 = "RELAY_SHELL_SESSION_IDLE_TIMEOUT", "Limits", "SECS",
        default Default::Value("1800"), accepts int(10, 86_400),
        "seconds without input or output before a session is reaped";
    session_max_lifetime: u64 = "RELAY_SHELL_SESSION_MAX_LIFETIME", "Limits", "SECS",
        default Default::Value("28800"), accepts int(10, 604_800),
        "longest a session lives, seconds";
    session_buffer_bytes: usize = "RELAY_SHELL_SESSION_BUFFER_BYTES", "Limits", "BYTES",
        default Default::Value("262144"), accepts int(4096, 16_777_216),
        "per-session output ring buffer";

    policy_mode: Mode = "RELAY_SHELL_POLICY_MODE", "Policy", "MODE",
        default Default::Value("open"), accepts Kind::Choice(&["open", "guarded", "readonly"]),
        "admission mode";
    policy_deny: String = "RELAY_SHELL_POLICY_DENY", "Policy", "REGEX",
        default Default::Empty, accepts Kind::Text("Rust `regex` syntax"),
        "refuses a call whose probe `\"<tool> <text>\"` matches, in every mode";
    policy_allow: String = "RELAY_SHELL_POLICY_ALLOW", "Policy", "REGEX",
        default Default::Empty, accepts Kind::Text("Rust `regex` syntax"),
        "lets `guarded` admit tier 2 and 3";
    confine: Setting = "RELAY_SHELL_CONFINE", "Policy", "WHEN",
        default Default::Value("auto"), accepts Kind::Choice(&["auto", "require", "off", "always"]),
        "kernel confinement (Landlock, seccomp, capabilities) of admitted local commands: `auto` enforces what the kernel supports and warns about the rest, `require` refuses to start unless it enforces all of it, `off` never confines, `always` also applies the `guarded` mapping in `open` mode";
    readonly_network: Network = "RELAY_SHELL_READONLY_NETWORK", "Policy", "NET",
        default Default::Value("any"), accepts Kind::Choice(&["any", "none"]),
        "network of confined commands: `none` leaves them unix and netlink sockets only (`any`: a read-only command can still send what it reads)";
    writable_roots: Vec<PathBuf> = "RELAY_SHELL_WRITABLE_ROOTS", "Policy", "PATHS",
        default Default::Empty, accepts Kind::Text("absolute paths, `:`-separated"),
        "where the `reversible` profile may write; empty = `$HOME`, `/tmp`, `/var/tmp`; the call's working directory is always added (unless it is `/`)";
    confirm_tier3: bool = "RELAY_SHELL_CONFIRM_TIER3", "Policy", "BOOL",
        default Default::Value("false"), accepts Kind::Bool,
        "tier-3 calls need `operation_confirm` first";
    confirm_ttl: u64 = "RELAY_SHELL_CONFIRM_TTL", "Policy", "SECS",
        default Default::Value("120"), accepts int(5, 3600),
        "confirmation token lifetime, seconds";
    unsafe_notices: bool = "RELAY_SHELL_UNSAFE_NOTICES", "Policy", "BOOL",
        default Default::Value("true"), accepts Kind::Bool,
        "append `[NOTICE …]` lines to the results of risky calls (tier 2 and 3, SSH without host-key verification)";

    audit_path: PathBuf = "RELAY_SHELL_AUDIT_PATH", "Audit", "PATH",
        default Default::Computed {
            doc: "`/var/log/relay-shell/audit.jsonl` if that directory is writable, else `$XDG_STATE_HOME/relay-shell/audit.jsonl` (`~/.local/state/…`)",
            value: super::default_audit_path_text,
        },
        accepts Kind::Text("path, `~` expanded"),
        "audit log";
    audit_stderr: bool = "RELAY_SHELL_AUDIT_STDERR", "Audit", "BOOL",
        default Default::Value("false"), accepts Kind::Bool,
        "mirror each audit line to stderr as `AUDIT <line>`";
    audit_format: Format = "RELAY_SHELL_AUDIT_FORMAT", "Audit", "FMT",
        default Default::Value("jsonl"), accepts Kind::Choice(&["jsonl", "cef", "leef"]),
        "line format";
    audit_chain: bool = "RELAY_SHELL_AUDIT_CHAIN", "Audit", "BOOL",
        default Default::Computed { doc: "`true` (with jsonl)", value: || "true".into() },
        accepts Kind::Bool,
        "hash-chain records; requires `jsonl` (an explicit `cef` or `leef` format alone turns it off)";
    audit_fsync: FsyncPolicy = "RELAY_SHELL_AUDIT_FSYNC", "Audit", "WHEN",
        default Default::Value("interval"), accepts Kind::Choice(&["always", "interval", "never"]),
        "when records are synced to disk";
    audit_on_failure: OnFailure = "RELAY_SHELL_AUDIT_ON_FAILURE", "Audit", "WHAT",
        default Default::Value("refuse"), accepts Kind::Choice(&["refuse", "continue"]),
        "what happens while records cannot be written";
    audit_start_records: bool = "RELAY_SHELL_AUDIT_START_RECORDS", "Audit", "BOOL",
        default Default::Value("true"), accepts Kind::Bool,
        "a start record before each call's work";
    audit_session_input: SessionInput = "RELAY_SHELL_AUDIT_SESSION_INPUT", "Audit", "MODE",
        default Default::Value("redacted"), accepts Kind::Choice(&["redacted", "hash"]),
        "how `session_send` data is recorded: redacted text, or `data_len` and `data_sha256` (`hash`); input typed at a secret prompt is never recorded";
    audit_intent: bool = "RELAY_SHELL_AUDIT_INTENT", "Audit", "BOOL",
        default Default::Value("false"), accepts Kind::Bool,
        "an `intent` record just before the work of each admitted call";
    redact_key_file: Option<PathBuf> = "RELAY_SHELL_REDACT_KEY_FILE", "Audit", "PATH",
        default Default::Empty, accepts Kind::Text("path"),
        "secrets become `[REDACTED:xxxxxxxx]` (HMAC under this key)";
    seccomp_notify: bool = "RELAY_SHELL_SECCOMP_NOTIFY", "Audit", "BOOL",
        default Default::Value("false"), accepts Kind::Bool,
        "accepted for compatibility; reported as unsupported";
    seccomp_notify_cap: u32 = "RELAY_SHELL_SECCOMP_NOTIFY_CAP", "Audit", "N",
        default Default::Value("256"), accepts int(1, 65_536),
        "accepted for compatibility";

    ssh_config: PathBuf = "RELAY_SHELL_SSH_CONFIG", "SSH", "PATH",
        default Default::Value("~/.ssh/config"), accepts Kind::Text("path"),
        "ssh_config for SSH tools";
    inventory: String = "RELAY_SHELL_INVENTORY", "SSH", "PATH",
        default Default::Empty, accepts Kind::Text("path"),
        "JSON inventory of extra hosts";
    ssh_known_hosts: KnownHosts = "RELAY_SHELL_SSH_KNOWN_HOSTS", "SSH", "POLICY",
        default Default::Value("accept-new"), accepts Kind::Choice(&["strict", "accept-new", "ignore"]),
        "default host-key policy";
    ssh_connect_timeout: u64 = "RELAY_SHELL_SSH_CONNECT_TIMEOUT", "SSH", "SECS",
        default Default::Value("10"), accepts int(1, 120),
        "SSH dial timeout, seconds";
    ssh_keepalive: u64 = "RELAY_SHELL_SSH_KEEPALIVE", "SSH", "SECS",
        default Default::Value("30"), accepts int(0, 600),
        "SSH keepalive, seconds (0 = off)";
    ssh_idle_timeout: u64 = "RELAY_SHELL_SSH_IDLE_TIMEOUT", "SSH", "SECS",
        default Default::Value("1800"), accepts int(0, 86_400),
        "idle eviction of cached connections, seconds (0 = off)";
    ssh_allow_weaker_known_hosts: bool = "RELAY_SHELL_SSH_ALLOW_WEAKER_KNOWN_HOSTS", "SSH", "BOOL",
        default Default::Value("true"), accepts Kind::Bool,
        "let a call pass a weaker `known_hosts` than the default (`false` refuses it)";
    transfer_timeout: u64 = "RELAY_SHELL_TRANSFER_TIMEOUT", "SSH", "SECS",
        default Default::Value("600"), accepts int(1, 86_400),
        "longest an `ssh_upload` or `ssh_download` runs after the dial, seconds; a call's `timeout` may lower it, never raise it";
    transfer_max_bytes: u64 = "RELAY_SHELL_TRANSFER_MAX_BYTES", "SSH", "BYTES",
        default Default::Value("1073741824"), accepts int(1, 1 << 40),
        "most bytes one transfer moves; a larger file or tree is refused before anything is written";
    transfer_local_root: Option<PathBuf> = "RELAY_SHELL_TRANSFER_LOCAL_ROOT", "SSH", "DIR",
        default Default::Empty, accepts Kind::Text("absolute path, `~` expanded"),
        "local paths of transfers must lie inside this directory (relative ones start there; `..` and symbolic links may not leave it); empty = anywhere";
    transfer_remote_root: String = "RELAY_SHELL_TRANSFER_REMOTE_ROOT", "SSH", "DIR",
        default Default::Empty, accepts Kind::Text("absolute path on the remote hosts"),
        "remote paths of transfers must lie inside this directory on every host (relative ones start there; `..` and symbolic links may not leave it); empty = anywhere, relative paths from the login directory";
    forward_allow_nonloopback: bool = "RELAY_SHELL_FORWARD_ALLOW_NONLOOPBACK", "SSH", "BOOL",
        default Default::Value("false"), accepts Kind::Bool,
        "let an `ssh_forward` spec name a listen address other than loopback (local for `L:`/`D:`, on the remote host for `R:`); otherwise listeners bind 127.0.0.1";

    auth_tokens_file: Option<PathBuf> = "RELAY_SHELL_AUTH_TOKENS_FILE", "HTTP auth", "PATH",
        default Default::Empty, accepts Kind::Text("path, `~` expanded"),
        "bearer tokens for the HTTP transport, `name:sha256hex[:mode]` lines, file mode 0600 (below)";
    metrics_token: Option<Secret> = "RELAY_SHELL_METRICS_TOKEN", "HTTP auth", "TOKEN",
        default Default::Empty, accepts Kind::Text("string"),
        "bearer token `GET /metrics` then requires";
    auth_enabled: bool = "RELAY_SHELL_AUTH_ENABLED", "HTTP auth", "BOOL",
        default Default::Value("false"), accepts Kind::Bool,
        "OAuth 2.1 on the HTTP transport: this server is its own authorization server (docs/oauth.md)";
    auth_issuer: String = "RELAY_SHELL_AUTH_ISSUER", "HTTP auth", "URL",
        default Default::Value("https://localhost:8080"), accepts Kind::Url,
        "OAuth issuer: the public base URL clients reach this server at (https unless the host is loopback; no path, query or fragment)";
    auth_resource_url: String = "RELAY_SHELL_AUTH_RESOURCE_URL", "HTTP auth", "URL",
        default Default::Computed { doc: "`<issuer>/mcp`", value: String::new },
        accepts Kind::Text("http(s) URL without credentials or fragment"),
        "the protected resource (RFC 8707 audience) every OAuth token is bound to";
    auth_registration: String = "RELAY_SHELL_AUTH_REGISTRATION", "HTTP auth", "HOW",
        default Default::Value("approve"), accepts Kind::Choice(&["approve", "token", "closed", "open"]),
        "who may register an OAuth client: `approve` (pending until `relay-shell auth approve`), `token` (an initial access token from `relay-shell auth registration-token`), `closed` (only `relay-shell auth client add`), `open` (anyone; warned at start)";
    auth_require_approval: bool = "RELAY_SHELL_AUTH_REQUIRE_APPROVAL", "HTTP auth", "BOOL",
        default Default::Value("true"), accepts Kind::Bool,
        "with `approve` registration: a registered client waits for the operator (`false` approves at registration, like `open`)";
    auth_state_dir: PathBuf = "RELAY_SHELL_AUTH_STATE_DIR", "HTTP auth", "PATH",
        default Default::Value("/var/lib/relay-shell/oauth"), accepts Kind::Text("path, `~` expanded"),
        "OAuth state: clients, hashes of codes and tokens, the operator passphrase's hash (directory 0700, files 0600)";
    auth_single_client: bool = "RELAY_SHELL_AUTH_SINGLE_CLIENT", "HTTP auth", "BOOL",
        default Default::Value("true"), accepts Kind::Bool,
        "`/register` is closed once an approved client exists (an initial access token still opens it)";
    auth_access_ttl: u64 = "RELAY_SHELL_AUTH_ACCESS_TTL", "HTTP auth", "SECS",
        default Default::Value("3600"), accepts int(60, u64::MAX),
        "access token lifetime, seconds";
    auth_refresh_ttl: u64 = "RELAY_SHELL_AUTH_REFRESH_TTL", "HTTP auth", "SECS",
        default Default::Value("2592000"), accepts int(300, u64::MAX),
        "refresh token lifetime, seconds";
    auth_code_ttl: u64 = "RELAY_SHELL_AUTH_CODE_TTL", "HTTP auth", "SECS",
        default Default::Value("300"), accepts int(30, u64::MAX),
        "authorization code lifetime, seconds";
}
