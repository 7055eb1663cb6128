//! Validated server settings, built once from flags and `RELAY_SHELL_*` variables.
//!
//! Names, defaults and ranges follow the Python relay-shell v0.3 (spec §3) unless
//! `docs/compatibility.md` says otherwise. Any invalid value is a [`ConfigError`] whose text
//! names the variable, the value and what is accepted; `main` prints it as one line and exits 2.

use std::path::{Path, PathBuf};

use crate::audit::{Format, FsyncPolicy, OnFailure};
use crate::cli::SettingsArgs;
use crate::policy::Mode;

/// A configuration value that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Which transport serves MCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// JSON-RPC over stdin/stdout (the default).
    Stdio,
    /// Streamable HTTP.
    Http,
}

impl Transport {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http => "http",
        }
    }
}

/// Host-key policy for SSH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnownHosts {
    /// Only keys already in known_hosts.
    Strict,
    /// Trust on first use; a changed key is refused.
    AcceptNew,
    /// No verification (recorded in the audit args).
    Ignore,
}

impl KnownHosts {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KnownHosts::Strict => "strict",
            KnownHosts::AcceptNew => "accept-new",
            KnownHosts::Ignore => "ignore",
        }
    }
}

/// Every setting the server uses, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    /// MCP transport.
    pub transport: Transport,
    /// HTTP bind address.
    pub http_host: String,
    /// HTTP bind port.
    pub http_port: u16,
    /// Calls that may run at once.
    pub max_concurrent: usize,
    /// Budget for aggregate tools, resources and `audit_tail`.
    pub max_output: usize,
    /// Ceiling for any per-call output and for buffered child output.
    pub max_output_hard: usize,
    /// Default per-call timeout (reported by `server_info`).
    pub default_timeout: u64,
    /// Upper clamp for per-call timeouts.
    pub max_timeout: u64,
    /// Live PTY sessions.
    pub max_sessions: usize,
    /// Live SSH forwards.
    pub max_forwards: usize,
    /// Cached SSH connections.
    pub max_conns: usize,
    /// Session idle timeout, seconds.
    pub session_idle_timeout: u64,
    /// Session maximum lifetime, seconds.
    pub session_max_lifetime: u64,
    /// Per-session ring buffer, bytes.
    pub session_buffer_bytes: usize,
    /// Admission mode.
    pub policy_mode: Mode,
    /// Deny regex source ("" = none).
    pub policy_deny: String,
    /// Allow regex source ("" = none).
    pub policy_allow: String,
    /// Tier-3 confirmation broker on.
    pub confirm_tier3: bool,
    /// Confirmation token lifetime, seconds.
    pub confirm_ttl: u64,
    /// Kernel confinement of admitted commands (`RELAY_SHELL_CONFINE`).
    pub confine: crate::confine::Setting,
    /// Network of confined commands (`RELAY_SHELL_READONLY_NETWORK`).
    pub readonly_network: crate::confine::Network,
    /// Writable roots of the reversible profile (empty: the defaults).
    pub writable_roots: Vec<PathBuf>,
    /// Effective audit path.
    pub audit_path: PathBuf,
    /// Mirror audit lines to stderr.
    pub audit_stderr: bool,
    /// Audit line format.
    pub audit_format: Format,
    /// Hash-chain audit records.
    pub audit_chain: bool,
    /// Audit fsync policy.
    pub audit_fsync: FsyncPolicy,
    /// Behaviour on audit write failure.
    pub audit_on_failure: OnFailure,
    /// Write start records.
    pub audit_start_records: bool,
    /// Key file for correlatable redaction placeholders.
    pub redact_key_file: Option<PathBuf>,
    /// Syscall audit channel requested (not supported by this build; reported only).
    pub seccomp_notify: bool,
    /// Syscall events per child.
    pub seccomp_notify_cap: u32,
    /// ssh_config path.
    pub ssh_config: PathBuf,
    /// JSON inventory path ("" = none).
    pub inventory: String,
    /// Default host-key policy.
    pub ssh_known_hosts: KnownHosts,
    /// SSH connect timeout, seconds.
    pub ssh_connect_timeout: u64,
    /// SSH keepalive, seconds (0 = off).
    pub ssh_keepalive: u64,
    /// SSH idle eviction, seconds (0 = off).
    pub ssh_idle_timeout: u64,
    /// OAuth enabled.
    pub auth_enabled: bool,
    /// OAuth issuer URL.
    pub auth_issuer: String,
    /// OAuth state directory.
    pub auth_state_dir: PathBuf,
    /// Single-client lockdown.
    pub auth_single_client: bool,
    /// Access token TTL, seconds.
    pub auth_access_ttl: u64,
    /// Refresh token TTL, seconds.
    pub auth_refresh_ttl: u64,
    /// Authorization code TTL, seconds.
    pub auth_code_ttl: u64,
}

fn int(name: &str, raw: Option<&str>, default: u64, lo: u64, hi: u64) -> Result<u64, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    let t = raw.trim();
    let v: u64 = t.parse().map_err(|_| {
        ConfigError(format!(
            "{name}={raw} (expected an integer from {lo} to {hi})"
        ))
    })?;
    if v < lo || v > hi {
        return Err(ConfigError(format!(
            "{name}={raw} (expected an integer from {lo} to {hi})"
        )));
    }
    Ok(v)
}

fn boolean(name: &str, raw: Option<&str>, default: bool) -> Result<bool, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "t" | "y" => Ok(true),
        "0" | "false" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(ConfigError(format!(
            "{name}={raw} (expected true or false; also 1/0, yes/no, on/off)"
        ))),
    }
}

fn parsed<T: std::str::FromStr<Err = String>>(
    name: &str,
    raw: Option<&str>,
    default: T,
) -> Result<T, ConfigError> {
    match raw {
        None => Ok(default),
        Some(r) => r
            .parse::<T>()
            .map_err(|e| ConfigError(format!("{name}={e}"))),
    }
}

fn expand_tilde(p: &str) -> PathBuf {
    if (p == "~" || p.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(p.trim_start_matches('~').trim_start_matches('/'));
    }
    PathBuf::from(p)
}

fn dir_writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// The default audit path: the system log directory for service installs, else the user's
/// state directory so a first run as a normal user works.
pub fn default_audit_path() -> PathBuf {
    let system = Path::new("/var/log/relay-shell");
    if system.is_dir() && dir_writable(system) {
        return system.join("audit.jsonl");
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty() && Path::new(v).is_absolute())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    state.join("relay-shell").join("audit.jsonl")
}

impl Settings {
    /// Validate raw flag/env values into settings.
    pub fn from_args(a: &SettingsArgs) -> Result<Settings, ConfigError> {
        let s = |o: &Option<String>| o.as_deref().map(str::to_owned);
        let transport = match a
            .transport
            .as_deref()
            .map(|t| t.trim().to_ascii_lowercase())
        {
            None => Transport::Stdio,
            Some(t) if t == "stdio" => Transport::Stdio,
            Some(t) if t == "http" => Transport::Http,
            Some(_) => {
                return Err(ConfigError(format!(
                    "RELAY_SHELL_TRANSPORT={} (expected stdio or http)",
                    a.transport.as_deref().unwrap_or_default()
                )));
            }
        };
        let known_hosts = match a
            .ssh_known_hosts
            .as_deref()
            .map(|t| t.trim().to_ascii_lowercase())
        {
            None => KnownHosts::AcceptNew,
            Some(t) if t == "strict" => KnownHosts::Strict,
            Some(t) if t == "accept-new" => KnownHosts::AcceptNew,
            Some(t) if t == "ignore" => KnownHosts::Ignore,
            Some(_) => {
                return Err(ConfigError(format!(
                    "RELAY_SHELL_SSH_KNOWN_HOSTS={} (expected strict, accept-new or ignore)",
                    a.ssh_known_hosts.as_deref().unwrap_or_default()
                )));
            }
        };
        let audit_format: Format = parsed(
            "RELAY_SHELL_AUDIT_FORMAT",
            a.audit_format.as_deref(),
            Format::Jsonl,
        )?;
        // The chain is on by default, but only jsonl can carry it: an explicit cef/leef
        // format without an explicit chain setting turns the chain off rather than failing.
        let audit_chain = match a.audit_chain.as_deref() {
            Some(raw) => boolean("RELAY_SHELL_AUDIT_CHAIN", Some(raw), true)?,
            None => audit_format == Format::Jsonl,
        };
        if audit_chain && audit_format != Format::Jsonl {
            return Err(ConfigError(
                "RELAY_SHELL_AUDIT_CHAIN=true requires RELAY_SHELL_AUDIT_FORMAT=jsonl".into(),
            ));
        }
        let issuer = a
            .auth_issuer
            .clone()
            .unwrap_or_else(|| "https://localhost:8080".into());
        if !(issuer.starts_with("https://") || issuer.starts_with("http://"))
            || issuer.len() <= "https://".len()
        {
            return Err(ConfigError(format!(
                "RELAY_SHELL_AUTH_ISSUER={issuer} (expected an http(s) URL)"
            )));
        }
        let http_host = s(&a.http_host).unwrap_or_else(|| "127.0.0.1".into());
        if http_host.trim().is_empty() {
            return Err(ConfigError(
                "RELAY_SHELL_HTTP_HOST= (expected a host name or address)".into(),
            ));
        }
        let settings = Settings {
            transport,
            http_host,
            http_port: int(
                "RELAY_SHELL_HTTP_PORT",
                a.http_port.as_deref(),
                8080,
                1,
                65535,
            )? as u16,
            max_concurrent: int(
                "RELAY_SHELL_MAX_CONCURRENT",
                a.max_concurrent.as_deref(),
                32,
                1,
                1024,
            )? as usize,
            max_output: int(
                "RELAY_SHELL_MAX_OUTPUT",
                a.max_output.as_deref(),
                65536,
                1024,
                16_777_216,
            )? as usize,
            max_output_hard: int(
                "RELAY_SHELL_MAX_OUTPUT_HARD",
                a.max_output_hard.as_deref(),
                1_048_576,
                4096,
                134_217_728,
            )? as usize,
            default_timeout: int(
                "RELAY_SHELL_DEFAULT_TIMEOUT",
                a.default_timeout.as_deref(),
                60,
                1,
                86_400,
            )?,
            max_timeout: int(
                "RELAY_SHELL_MAX_TIMEOUT",
                a.max_timeout.as_deref(),
                900,
                1,
                86_400,
            )?,
            max_sessions: int(
                "RELAY_SHELL_MAX_SESSIONS",
                a.max_sessions.as_deref(),
                64,
                1,
                1024,
            )? as usize,
            max_forwards: int(
                "RELAY_SHELL_MAX_FORWARDS",
                a.max_forwards.as_deref(),
                64,
                1,
                1024,
            )? as usize,
            max_conns: int(
                "RELAY_SHELL_MAX_CONNS",
                a.max_conns.as_deref(),
                256,
                1,
                4096,
            )? as usize,
            session_idle_timeout: int(
                "RELAY_SHELL_SESSION_IDLE_TIMEOUT",
                a.session_idle_timeout.as_deref(),
                1800,
                10,
                86_400,
            )?,
            session_max_lifetime: int(
                "RELAY_SHELL_SESSION_MAX_LIFETIME",
                a.session_max_lifetime.as_deref(),
                28_800,
                10,
                604_800,
            )?,
            session_buffer_bytes: int(
                "RELAY_SHELL_SESSION_BUFFER_BYTES",
                a.session_buffer_bytes.as_deref(),
                262_144,
                4096,
                16_777_216,
            )? as usize,
            policy_mode: parsed(
                "RELAY_SHELL_POLICY_MODE",
                a.policy_mode.as_deref(),
                Mode::Open,
            )?,
            policy_deny: s(&a.policy_deny).unwrap_or_default(),
            policy_allow: s(&a.policy_allow).unwrap_or_default(),
            confirm_tier3: boolean(
                "RELAY_SHELL_CONFIRM_TIER3",
                a.confirm_tier3.as_deref(),
                false,
            )?,
            confirm_ttl: int(
                "RELAY_SHELL_CONFIRM_TTL",
                a.confirm_ttl.as_deref(),
                120,
                5,
                3600,
            )?,
            confine: parsed(
                "RELAY_SHELL_CONFINE",
                a.confine.as_deref(),
                crate::confine::Setting::Auto,
            )?,
            readonly_network: parsed(
                "RELAY_SHELL_READONLY_NETWORK",
                a.readonly_network.as_deref(),
                crate::confine::Network::Any,
            )?,
            writable_roots: crate::confine::parse_roots(a.writable_roots.as_deref().unwrap_or(""))
                .map_err(|e| ConfigError(format!("RELAY_SHELL_WRITABLE_ROOTS={e}")))?,
            audit_path: a
                .audit_path
                .as_ref()
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| expand_tilde(&p.to_string_lossy()))
                .unwrap_or_else(default_audit_path),
            audit_stderr: boolean("RELAY_SHELL_AUDIT_STDERR", a.audit_stderr.as_deref(), false)?,
            audit_format,
            audit_chain,
            audit_fsync: parsed(
                "RELAY_SHELL_AUDIT_FSYNC",
                a.audit_fsync.as_deref(),
                FsyncPolicy::Interval,
            )?,
            audit_on_failure: parsed(
                "RELAY_SHELL_AUDIT_ON_FAILURE",
                a.audit_on_failure.as_deref(),
                OnFailure::Refuse,
            )?,
            audit_start_records: boolean(
                "RELAY_SHELL_AUDIT_START_RECORDS",
                a.audit_start_records.as_deref(),
                true,
            )?,
            redact_key_file: a
                .redact_key_file
                .as_ref()
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| expand_tilde(&p.to_string_lossy())),
            seccomp_notify: boolean(
                "RELAY_SHELL_SECCOMP_NOTIFY",
                a.seccomp_notify.as_deref(),
                false,
            )?,
            seccomp_notify_cap: int(
                "RELAY_SHELL_SECCOMP_NOTIFY_CAP",
                a.seccomp_notify_cap.as_deref(),
                256,
                1,
                65_536,
            )? as u32,
            ssh_config: expand_tilde(a.ssh_config.as_deref().unwrap_or("~/.ssh/config")),
            inventory: s(&a.inventory).unwrap_or_default(),
            ssh_known_hosts: known_hosts,
            ssh_connect_timeout: int(
                "RELAY_SHELL_SSH_CONNECT_TIMEOUT",
                a.ssh_connect_timeout.as_deref(),
                10,
                1,
                120,
            )?,
            ssh_keepalive: int(
                "RELAY_SHELL_SSH_KEEPALIVE",
                a.ssh_keepalive.as_deref(),
                30,
                0,
                600,
            )?,
            ssh_idle_timeout: int(
                "RELAY_SHELL_SSH_IDLE_TIMEOUT",
                a.ssh_idle_timeout.as_deref(),
                1800,
                0,
                86_400,
            )?,
            auth_enabled: boolean("RELAY_SHELL_AUTH_ENABLED", a.auth_enabled.as_deref(), false)?,
            auth_issuer: issuer,
            auth_state_dir: expand_tilde(
                a.auth_state_dir
                    .as_deref()
                    .unwrap_or("/var/lib/relay-shell/oauth"),
            ),
            auth_single_client: boolean(
                "RELAY_SHELL_AUTH_SINGLE_CLIENT",
                a.auth_single_client.as_deref(),
                true,
            )?,
            auth_access_ttl: int(
                "RELAY_SHELL_AUTH_ACCESS_TTL",
                a.auth_access_ttl.as_deref(),
                3600,
                60,
                u64::MAX,
            )?,
            auth_refresh_ttl: int(
                "RELAY_SHELL_AUTH_REFRESH_TTL",
                a.auth_refresh_ttl.as_deref(),
                2_592_000,
                300,
                u64::MAX,
            )?,
            auth_code_ttl: int(
                "RELAY_SHELL_AUTH_CODE_TTL",
                a.auth_code_ttl.as_deref(),
                300,
                30,
                u64::MAX,
            )?,
        };
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_defaults() {
        let s = Settings::from_args(&SettingsArgs::default()).expect("defaults are valid");
        assert_eq!(s.transport, Transport::Stdio);
        assert_eq!(s.max_output, 65536);
        assert_eq!(s.max_output_hard, 1_048_576);
        assert_eq!(s.max_timeout, 900);
        assert_eq!(s.max_concurrent, 32);
        assert!(s.audit_chain, "the chain is on by default");
        assert_eq!(s.audit_fsync, FsyncPolicy::Interval);
        assert_eq!(s.policy_mode, Mode::Open);
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let a = SettingsArgs {
            max_output: Some("12".into()),
            ..Default::default()
        };
        let e = Settings::from_args(&a).unwrap_err();
        assert_eq!(
            e.0,
            "RELAY_SHELL_MAX_OUTPUT=12 (expected an integer from 1024 to 16777216)"
        );
        let a = SettingsArgs {
            policy_mode: Some("strict".into()),
            ..Default::default()
        };
        let e = Settings::from_args(&a).unwrap_err();
        assert_eq!(
            e.0,
            "RELAY_SHELL_POLICY_MODE=strict (expected open, guarded or readonly)"
        );
        let a = SettingsArgs {
            audit_format: Some("cef".into()),
            audit_chain: Some("true".into()),
            ..Default::default()
        };
        assert!(Settings::from_args(&a).is_err());
        let a = SettingsArgs {
            audit_format: Some("cef".into()),
            ..Default::default()
        };
        assert!(
            !Settings::from_args(&a)
                .expect("cef alone is valid")
                .audit_chain
        );
    }

    #[test]
    fn confinement_settings_are_validated() {
        let s = Settings::from_args(&SettingsArgs::default()).expect("defaults are valid");
        assert_eq!(s.confine, crate::confine::Setting::Auto);
        assert_eq!(s.readonly_network, crate::confine::Network::Any);
        assert!(s.writable_roots.is_empty(), "empty: the defaults");
        let bad = |a: SettingsArgs| Settings::from_args(&a).map(|_| ()).unwrap_err().0;
        assert_eq!(
            bad(SettingsArgs {
                confine: Some("sometimes".into()),
                ..Default::default()
            }),
            "RELAY_SHELL_CONFINE=sometimes (expected auto, require, off or always)"
        );
        assert_eq!(
            bad(SettingsArgs {
                readonly_network: Some("lan".into()),
                ..Default::default()
            }),
            "RELAY_SHELL_READONLY_NETWORK=lan (expected any or none)"
        );
        assert_eq!(
            bad(SettingsArgs {
                writable_roots: Some("/srv:data".into()),
                ..Default::default()
            }),
            "RELAY_SHELL_WRITABLE_ROOTS=/srv:data (expected absolute paths separated by ':'; \
             data is relative)"
        );
    }
}
