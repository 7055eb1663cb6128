//! Validated server settings, built once from flags and `RELAY_SHELL_*` variables.
//!
//! Names, defaults and ranges follow the Python relay-shell v0.3 (docs/configuration.md) unless
//! `docs/compatibility.md` says otherwise. Any invalid value is a [`ConfigError`] whose text
//! names the variable, the value and what is accepted; `main` prints it as one line and exits 2.

mod defs;
mod sources;
mod value;
mod warnings;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::audit::Format;

pub use defs::{SETTINGS, Settings};
pub use sources::{DotEnv, candidate_names, fill_from_sources, unknown_setting_warnings};
pub use value::{Default, Kind, SettingDef, SettingsArgs, expand_tilde, markdown_table};
pub use warnings::standing_warnings;

/// A configuration value that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// An error about one setting, named first by its field the way the Python relay-shell's
    /// validation names it (`transport: RELAY_SHELL_TRANSPORT=sse (expected …)`).
    pub fn field(field: &str, message: impl std::fmt::Display) -> Self {
        ConfigError(format!("{field}: {message}"))
    }
}

/// How `session_send` input is recorded in the audit log (`RELAY_SHELL_AUDIT_SESSION_INPUT`).
/// Input typed at a secret prompt is never recorded, in either mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionInput {
    /// The data itself, redacted like any argument.
    Redacted,
    /// Only its length in characters and the SHA-256 of its UTF-8 bytes.
    Hash,
}

impl SessionInput {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionInput::Redacted => "redacted",
            SessionInput::Hash => "hash",
        }
    }
}

impl FromStr for SessionInput {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "redacted" => Ok(SessionInput::Redacted),
            "hash" => Ok(SessionInput::Hash),
            // The Python relay-shell's message, word for word.
            _ => Err("audit_session_input must be one of ['hash', 'redacted']".into()),
        }
    }
}

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

impl FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "stdio" => Ok(Transport::Stdio),
            "http" => Ok(Transport::Http),
            _ => Err(format!("{s} (expected stdio or http)")),
        }
    }
}

/// A secret setting: never shown by `Debug`, so a logged `Settings` cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Whether `host` names the loopback interface: `localhost` or a loopback IP literal, after
/// trimming whitespace and `[]` and lower-casing (`127.0.0.5` and `[::1]` are, `0.0.0.0` and
/// other names are not).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Host-key policy for SSH.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl FromStr for KnownHosts {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" => Ok(KnownHosts::Strict),
            "accept-new" => Ok(KnownHosts::AcceptNew),
            "ignore" => Ok(KnownHosts::Ignore),
            _ => Err(format!("{s} (expected strict, accept-new or ignore)")),
        }
    }
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

/// [`default_audit_path`] as text (the declaration's computed default).
fn default_audit_path_text() -> String {
    default_audit_path().display().to_string()
}

impl Settings {
    /// Validate raw flag/env values into settings: each value on its own, then the rules
    /// that tie several together.
    pub fn from_args(args: &SettingsArgs) -> Result<Settings, ConfigError> {
        let mut s = Settings::parse_each(args)?;
        // The chain is on by default, but only jsonl can carry it: an explicit cef/leef
        // format without an explicit chain setting turns the chain off rather than failing.
        let chain_given = args.get("RELAY_SHELL_AUDIT_CHAIN").is_some();
        if !chain_given && s.audit_format != Format::Jsonl {
            s.audit_chain = false;
        }
        if s.audit_chain && s.audit_format != Format::Jsonl {
            return Err(ConfigError::field(
                "audit_chain",
                "RELAY_SHELL_AUDIT_CHAIN=true requires RELAY_SHELL_AUDIT_FORMAT=jsonl",
            ));
        }
        if let Some(root) = &s.transfer_local_root
            && !root.is_absolute()
        {
            return Err(ConfigError(format!(
                "RELAY_SHELL_TRANSFER_LOCAL_ROOT={} (expected an absolute path)",
                root.display()
            )));
        }
        let remote_root = s.transfer_remote_root.trim();
        if !remote_root.is_empty() && (!remote_root.starts_with('/') || remote_root.contains('\0'))
        {
            return Err(ConfigError(format!(
                "RELAY_SHELL_TRANSFER_REMOTE_ROOT={remote_root} (expected an absolute path)"
            )));
        }
        s.transfer_remote_root = remote_root.to_string();
        if s.audit_path.as_os_str().is_empty() {
            s.audit_path = default_audit_path();
        }
        if let Some(bad) = s.http_allowed_origins.iter().find(|o| {
            let rest = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"));
            !(o.as_str() == "null" || rest.is_some_and(|r| !r.is_empty() && !r.contains('/')))
        }) {
            return Err(ConfigError::field(
                "http_allowed_origins",
                format!(
                    "RELAY_SHELL_HTTP_ALLOWED_ORIGINS={bad} (expected http(s)://host[:port|:*] entries, comma-separated)"
                ),
            ));
        }
        Ok(s)
    }
}

/// A URL as OAuth names things: `scheme://authority[/path]`, scheme and host lower-cased, no
/// credentials, query or fragment, no trailing `/`. `what` names the setting in errors.
pub fn normalize_url(raw: &str, what: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| ConfigError(format!("{what}={raw} ({why})"));
    let raw = raw.trim();
    if raw.contains('#') {
        return Err(bad("must not contain a fragment"));
    }
    let uri: http::Uri = raw.parse().map_err(|_| bad("expected an http(s) URL"))?;
    let scheme = uri.scheme_str().map(str::to_ascii_lowercase);
    let Some(scheme) = scheme.filter(|s| s == "http" || s == "https") else {
        return Err(bad("expected an http(s) URL"));
    };
    let Some(auth) = uri.authority() else {
        return Err(bad("expected an http(s) URL"));
    };
    if auth.as_str().contains('@') {
        return Err(bad("must not contain credentials"));
    }
    if uri.query().is_some() {
        return Err(bad("must not contain a query"));
    }
    if scheme == "http" && !is_loopback_host(auth.host()) {
        return Err(bad("https is required unless the host is loopback"));
    }
    let path = uri.path().trim_end_matches('/');
    Ok(format!(
        "{scheme}://{}{path}",
        auth.as_str().to_ascii_lowercase()
    ))
}

impl Settings {
    /// The OAuth issuer, normalised (`RELAY_SHELL_AUTH_ISSUER`): no path.
    pub fn oauth_issuer(&self) -> Result<String, ConfigError> {
        let issuer = normalize_url(&self.auth_issuer, "RELAY_SHELL_AUTH_ISSUER")?;
        let path_start = issuer.find("://").map_or(0, |i| i + 3);
        if issuer[path_start..].contains('/') {
            return Err(ConfigError(format!(
                "RELAY_SHELL_AUTH_ISSUER={} (must not have a path: the endpoints live at its root)",
                self.auth_issuer.trim()
            )));
        }
        Ok(issuer)
    }

    /// The protected resource every OAuth token is bound to: `RELAY_SHELL_AUTH_RESOURCE_URL`
    /// normalised, else `<issuer>/mcp`.
    pub fn oauth_resource(&self) -> Result<String, ConfigError> {
        if self.auth_resource_url.trim().is_empty() {
            return Ok(format!("{}/mcp", self.oauth_issuer()?));
        }
        normalize_url(&self.auth_resource_url, "RELAY_SHELL_AUTH_RESOURCE_URL")
    }

    /// Whether this build can serve with these settings (checked before serving and by
    /// `--check-config`, so the check never accepts what serving then refuses). Over HTTP:
    /// valid OAuth URLs when OAuth is on, and no network-reachable socket without
    /// authentication — that would be an unauthenticated shell. The token file and the OAuth
    /// state directory are loaded and checked by `http::prepare`, which both paths run too.
    pub fn servable(&self) -> Result<(), ConfigError> {
        if self.transport != Transport::Http {
            return Ok(());
        }
        if self.auth_enabled {
            self.oauth_issuer()?;
            self.oauth_resource()?;
        }
        if self.auth_tokens_file.is_none()
            && !self.auth_enabled
            && !self.allow_unauth_network
            && !is_loopback_host(&self.http_host)
        {
            return Err(ConfigError(format!(
                "refusing to serve HTTP on {} without authentication: set \
                 RELAY_SHELL_AUTH_ENABLED=true or RELAY_SHELL_AUTH_TOKENS_FILE, bind a loopback \
                 address, or set RELAY_SHELL_ALLOW_UNAUTH_NETWORK=true if an authenticating \
                 proxy is the only way to reach the port",
                self.http_host.trim()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::FsyncPolicy;
    use crate::policy::Mode;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_args(&SettingsArgs::from_pairs(pairs))
    }

    #[test]
    fn defaults_are_the_spec_defaults() {
        let s = with(&[]).expect("defaults are valid"); // ok: test
        assert_eq!(s.transport, Transport::Stdio);
        assert_eq!(s.max_output, 65536);
        assert_eq!(s.max_output_hard, 1_048_576);
        assert_eq!(s.max_timeout, 900);
        assert_eq!(s.max_concurrent, 32);
        assert!(s.audit_chain, "the chain is on by default");
        assert_eq!(s.audit_fsync, FsyncPolicy::Interval);
        assert_eq!(s.policy_mode, Mode::Open);
        assert_eq!(s.http_host, "127.0.0.1");
        assert_eq!(s.redact_key_file, None);
        assert!(s.ssh_config.ends_with(".ssh/config"));
    }

    #[test]
    fn a_network_bind_needs_authentication() {
        for host in ["127.0.0.1", "127.0.0.5", "[::1]", "::1", " LOCALHOST "] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "example.com",
            "localhost.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
        let http = |more: &[(&str, &str)]| {
            let mut pairs = vec![("RELAY_SHELL_TRANSPORT", "http")];
            pairs.extend_from_slice(more);
            with(&pairs).and_then(|s| s.servable())
        };
        let e = http(&[("RELAY_SHELL_HTTP_HOST", "0.0.0.0")]).unwrap_err();
        assert!(
            e.0.starts_with("refusing to serve HTTP on 0.0.0.0 without authentication: set RELAY_SHELL_AUTH_ENABLED=true or RELAY_SHELL_AUTH_TOKENS_FILE"),
            "{e}"
        );
        assert!(!e.0.contains('\n'));
        assert!(http(&[("RELAY_SHELL_HTTP_HOST", "127.0.0.1")]).is_ok());
        assert!(http(&[]).is_ok(), "the default bind is loopback");
        assert!(
            http(&[
                ("RELAY_SHELL_HTTP_HOST", "0.0.0.0"),
                ("RELAY_SHELL_ALLOW_UNAUTH_NETWORK", "true")
            ])
            .is_ok()
        );
        assert!(
            http(&[
                ("RELAY_SHELL_HTTP_HOST", "0.0.0.0"),
                ("RELAY_SHELL_AUTH_TOKENS_FILE", "/etc/relay-shell/tokens")
            ])
            .is_ok()
        );
        // OAuth authenticates a network bind; its URLs must be sound.
        assert!(
            http(&[
                ("RELAY_SHELL_HTTP_HOST", "0.0.0.0"),
                ("RELAY_SHELL_AUTH_ENABLED", "true"),
                ("RELAY_SHELL_AUTH_ISSUER", "https://relay.example")
            ])
            .is_ok()
        );
        let e = http(&[
            ("RELAY_SHELL_AUTH_ENABLED", "true"),
            ("RELAY_SHELL_AUTH_ISSUER", "http://relay.example"),
        ])
        .unwrap_err();
        assert_eq!(
            e.0,
            "RELAY_SHELL_AUTH_ISSUER=http://relay.example (https is required unless the host is loopback)"
        );
        let e = http(&[
            ("RELAY_SHELL_AUTH_ENABLED", "true"),
            (
                "RELAY_SHELL_AUTH_RESOURCE_URL",
                "https://u:p@relay.example/mcp",
            ),
        ])
        .unwrap_err();
        assert!(e.0.ends_with("(must not contain credentials)"), "{e}");
        let e = http(&[
            ("RELAY_SHELL_AUTH_ENABLED", "true"),
            (
                "RELAY_SHELL_AUTH_RESOURCE_URL",
                "https://relay.example/mcp#x",
            ),
        ])
        .unwrap_err();
        assert!(e.0.ends_with("(must not contain a fragment)"), "{e}");
        let s = with(&[("RELAY_SHELL_AUTH_ISSUER", "https://Relay.Example/")]).expect("valid"); // ok: test
        assert_eq!(s.oauth_issuer().expect("issuer"), "https://relay.example"); // ok: test
        assert_eq!(
            s.oauth_resource().expect("resource"), // ok: test
            "https://relay.example/mcp"
        );
        let s = with(&[("RELAY_SHELL_AUTH_ISSUER", "https://relay.example/sub")]).expect("valid"); // ok: test
        assert!(s.oauth_issuer().is_err());
        // Over stdio the HTTP host is not used, so it is not judged.
        let s = with(&[("RELAY_SHELL_HTTP_HOST", "0.0.0.0")]).expect("valid"); // ok: test
        assert!(s.servable().is_ok());
        assert_eq!(
            with(&[(
                "RELAY_SHELL_HTTP_ALLOWED_ORIGINS",
                "https://app.example:*, evil"
            )])
            .unwrap_err()
            .0,
            "http_allowed_origins: RELAY_SHELL_HTTP_ALLOWED_ORIGINS=evil (expected http(s)://host[:port|:*] entries, comma-separated)"
        );
        let s = with(&[(
            "RELAY_SHELL_HTTP_ALLOWED_HOSTS",
            " relay.example , ,relay.example:8443",
        )])
        .expect("valid"); // ok: test
        assert_eq!(
            s.http_allowed_hosts,
            ["relay.example", "relay.example:8443"]
        );
        let s = with(&[("RELAY_SHELL_METRICS_TOKEN", "s3cret")]).expect("valid"); // ok: test
        assert_eq!(s.metrics_token, Some(Secret("s3cret".into())));
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let e = with(&[("RELAY_SHELL_MAX_OUTPUT", "12")]).unwrap_err();
        assert_eq!(
            e.0,
            "max_output: RELAY_SHELL_MAX_OUTPUT=12 (expected an integer from 1024 to 16777216)"
        );
        let e = with(&[("RELAY_SHELL_POLICY_MODE", "strict")]).unwrap_err();
        assert_eq!(
            e.0,
            "policy_mode: RELAY_SHELL_POLICY_MODE=strict (expected open, guarded or readonly)"
        );
        let e = with(&[("RELAY_SHELL_TRANSPORT", "sse")]).unwrap_err();
        assert_eq!(
            e.0,
            "transport: RELAY_SHELL_TRANSPORT=sse (expected stdio or http)"
        );
        let e = with(&[("RELAY_SHELL_AUDIT_SESSION_INPUT", "plain")]).unwrap_err();
        assert_eq!(
            e.0,
            "audit_session_input: RELAY_SHELL_AUDIT_SESSION_INPUT=plain (audit_session_input must be one of ['hash', 'redacted'])"
        );
        let s = with(&[("RELAY_SHELL_AUDIT_SESSION_INPUT", " HASH ")]).expect("valid"); // ok: test
        assert_eq!(s.audit_session_input, SessionInput::Hash);
        let e = with(&[("RELAY_SHELL_MAX_INPUT", "1023")]).unwrap_err();
        assert_eq!(
            e.0,
            "max_input: RELAY_SHELL_MAX_INPUT=1023 (expected an integer from 1024 to 134217728)"
        );
        let e = with(&[("RELAY_SHELL_AUDIT_STDERR", "maybe")]).unwrap_err();
        assert_eq!(
            e.0,
            "audit_stderr: RELAY_SHELL_AUDIT_STDERR=maybe (expected true or false; also 1/0, yes/no, on/off)"
        );
        let e = with(&[("RELAY_SHELL_AUTH_ACCESS_TTL", "5")]).unwrap_err();
        assert_eq!(
            e.0,
            "auth_access_ttl: RELAY_SHELL_AUTH_ACCESS_TTL=5 (expected an integer of at least 60)"
        );
        let e = with(&[("RELAY_SHELL_HTTP_HOST", " ")]).unwrap_err();
        assert_eq!(
            e.0,
            "http_host: RELAY_SHELL_HTTP_HOST=  (expected a host name or address)"
        );
        let e = with(&[("RELAY_SHELL_AUTH_ISSUER", "ftp://x")]).unwrap_err();
        assert_eq!(
            e.0,
            "auth_issuer: RELAY_SHELL_AUTH_ISSUER=ftp://x (expected an http(s) URL)"
        );
    }

    #[test]
    fn the_chain_follows_the_format() {
        assert!(
            with(&[
                ("RELAY_SHELL_AUDIT_FORMAT", "cef"),
                ("RELAY_SHELL_AUDIT_CHAIN", "true")
            ])
            .is_err()
        );
        let s = with(&[("RELAY_SHELL_AUDIT_FORMAT", "cef")]).expect("cef alone is valid"); // ok: test
        assert!(!s.audit_chain);
    }

    #[test]
    fn every_declaration_has_a_unique_variable_and_flag() {
        let mut envs: Vec<&str> = SETTINGS.iter().map(|d| d.env).collect();
        envs.sort_unstable();
        envs.dedup();
        assert_eq!(envs.len(), SETTINGS.len());
        for d in SETTINGS {
            assert!(d.env.starts_with("RELAY_SHELL_"), "{}", d.env);
            assert_eq!(
                d.env,
                format!("RELAY_SHELL_{}", d.field.to_ascii_uppercase())
            );
            // Every default is itself a valid value.
            let one = SettingsArgs::from_pairs(&[(d.env, &d.default_text())]);
            assert!(Settings::from_args(&one).is_ok(), "{}", d.env);
        }
    }

    #[test]
    fn confinement_settings_are_validated() {
        let s = with(&[]).expect("defaults are valid"); // ok: test
        assert_eq!(s.confine, crate::confine::Setting::Auto);
        assert_eq!(s.readonly_network, crate::confine::Network::Any);
        assert!(s.writable_roots.is_empty(), "empty: the defaults");
        let s = with(&[("RELAY_SHELL_WRITABLE_ROOTS", "/srv: /data/x:")]).expect("valid"); // ok: test
        assert_eq!(
            s.writable_roots,
            vec![PathBuf::from("/srv"), PathBuf::from("/data/x")]
        );
        let bad = |name, value| with(&[(name, value)]).map(|_| ()).unwrap_err().0;
        assert_eq!(
            bad("RELAY_SHELL_CONFINE", "sometimes"),
            "confine: RELAY_SHELL_CONFINE=sometimes (expected auto, require, off or always)"
        );
        assert_eq!(
            bad("RELAY_SHELL_READONLY_NETWORK", "lan"),
            "readonly_network: RELAY_SHELL_READONLY_NETWORK=lan (expected any or none)"
        );
        assert_eq!(
            bad("RELAY_SHELL_WRITABLE_ROOTS", "/srv:data"),
            "writable_roots: RELAY_SHELL_WRITABLE_ROOTS=/srv:data (expected absolute paths separated by ':'; \
             data is relative)"
        );
    }

    #[test]
    fn the_configuration_document_is_generated_from_the_declarations() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
        let doc = std::fs::read_to_string(path).expect("docs/configuration.md"); // ok: test
        let start = "<!-- settings-table:start -->\n";
        let end = "<!-- settings-table:end -->";
        let (head, rest) = doc.split_once(start).expect("start marker"); // ok: test
        let (table, tail) = rest.split_once(end).expect("end marker"); // ok: test
        let generated = markdown_table();
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
}
