//! The machinery behind the setting declarations in `defs.rs`: what one declaration holds,
//! how a raw value becomes a typed field, the clap arguments and the documentation table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Arg, ArgMatches, Command};

use super::ConfigError;

/// What values a setting accepts; drives validation, error messages and the docs column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An integer in `lo..=hi` (`hi == u64::MAX`: no upper bound).
    Int {
        /// Smallest accepted value.
        lo: u64,
        /// Largest accepted value.
        hi: u64,
    },
    /// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
    Bool,
    /// One of a few words (case-insensitive).
    Choice(&'static [&'static str]),
    /// Free text; the string describes it in the docs (`host`, `path`, …). Validated where it
    /// is used (a regex by the policy, a key file when it is read).
    Text(&'static str),
    /// A non-empty host name or address.
    Host,
    /// An `http://` or `https://` URL.
    Url,
}

/// A setting's default.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    /// This text, parsed like a given value.
    Value(&'static str),
    /// Nothing (an empty text; optional paths are then unset).
    Empty,
    /// Worked out at start; `doc` says how, `value` gives the text.
    Computed {
        /// The docs column.
        doc: &'static str,
        /// The default as text.
        value: fn() -> String,
    },
}

/// One setting: everything about it, in one place.
#[derive(Clone, Copy, Debug)]
pub struct SettingDef {
    /// The `Settings` field (and, with `-` for `_`, the `--flag`).
    pub field: &'static str,
    /// The `RELAY_SHELL_*` variable.
    pub env: &'static str,
    /// `--help` section.
    pub heading: &'static str,
    /// Placeholder in `--help`.
    pub value_name: &'static str,
    /// Default.
    pub default: Default,
    /// Accepted values.
    pub kind: Kind,
    /// What it means (one line; `--help` and the docs table).
    pub help: &'static str,
}

impl SettingDef {
    /// The flag, without its leading dashes.
    pub fn flag(&self) -> String {
        self.field.replace('_', "-")
    }

    /// The default as text.
    pub fn default_text(&self) -> String {
        match self.default {
            Default::Value(v) => v.to_string(),
            Default::Empty => String::new(),
            Default::Computed { value, .. } => value(),
        }
    }

    fn invalid(&self, raw: &str, expected: impl std::fmt::Display) -> ConfigError {
        ConfigError::field(
            self.field,
            format!("{}={raw} (expected {expected})", self.env),
        )
    }

    /// The "Accepted" column of the docs table.
    pub fn accepted(&self) -> String {
        match self.kind {
            Kind::Int { lo, hi } if hi == u64::MAX => format!("≥ {lo}"),
            Kind::Int { lo, hi } => format!("{lo}..{hi}"),
            Kind::Bool => "bool".into(),
            Kind::Choice(words) => words
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", "),
            Kind::Text(what) => what.into(),
            Kind::Host => "host".into(),
            Kind::Url => "http(s) URL".into(),
        }
    }

    /// The "Default" column of the docs table.
    pub fn default_doc(&self) -> String {
        match self.default {
            Default::Value(v) => format!("`{v}`"),
            Default::Empty => "empty".into(),
            Default::Computed { doc, .. } => doc.into(),
        }
    }
}

/// A typed setting parsed from its text. Implemented by every field type of `Settings`.
pub(super) trait SettingValue: Sized {
    /// Parse `raw` as `def` accepts it.
    fn parse(def: &SettingDef, raw: &str) -> Result<Self, ConfigError>;
}

fn int(def: &SettingDef, raw: &str) -> Result<u64, ConfigError> {
    let (lo, hi) = match def.kind {
        Kind::Int { lo, hi } => (lo, hi),
        _ => (0, u64::MAX),
    };
    let expected = || {
        if hi == u64::MAX {
            format!("an integer of at least {lo}")
        } else {
            format!("an integer from {lo} to {hi}")
        }
    };
    match raw.trim().parse::<u64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(def.invalid(raw, expected())),
    }
}

impl SettingValue for u64 {
    fn parse(def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
        int(def, raw)
    }
}

macro_rules! narrow_int {
    ($($ty:ty),*) => {$(
        impl SettingValue for $ty {
            fn parse(def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
                let v = int(def, raw)?;
                <$ty>::try_from(v).map_err(|_| def.invalid(raw, format!("at most {}", <$ty>::MAX)))
            }
        }
    )*};
}
narrow_int!(usize, u32, u16);

impl SettingValue for bool {
    fn parse(def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" | "t" | "y" => Ok(true),
            "0" | "false" | "no" | "off" | "f" | "n" => Ok(false),
            _ => Err(def.invalid(raw, "true or false; also 1/0, yes/no, on/off")),
        }
    }
}

impl SettingValue for String {
    fn parse(def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
        match def.kind {
            Kind::Host if raw.trim().is_empty() => Err(def.invalid(raw, "a host name or address")),
            Kind::Url
                if !(raw.starts_with("https://") || raw.starts_with("http://"))
                    || raw.len() <= "https://".len() =>
            {
                Err(def.invalid(raw, "an http(s) URL"))
            }
            Kind::Choice(words) => {
                let v = raw.trim().to_ascii_lowercase();
                if words.contains(&v.as_str()) {
                    Ok(v)
                } else {
                    Err(def.invalid(raw, one_of(words)))
                }
            }
            _ => Ok(raw.to_string()),
        }
    }
}

impl SettingValue for PathBuf {
    fn parse(_def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
        Ok(expand_tilde(raw))
    }
}

impl SettingValue for Option<PathBuf> {
    fn parse(_def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
        Ok((!raw.is_empty()).then(|| expand_tilde(raw)))
    }
}

/// A comma-separated list: each entry trimmed, empty entries dropped.
impl SettingValue for Vec<String> {
    fn parse(_def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
        Ok(raw
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

/// A `:`-separated list of absolute paths (a relative one is refused: it would depend on the
/// server's working directory); empty entries dropped.
impl SettingValue for Vec<PathBuf> {
    fn parse(def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
        crate::confine::parse_roots(raw)
            .map_err(|e| ConfigError::field(def.field, format!("{}={e}", def.env)))
    }
}

impl SettingValue for Option<super::Secret> {
    fn parse(_def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
        Ok((!raw.is_empty()).then(|| super::Secret(raw.to_owned())))
    }
}

/// Settings whose type spells itself (`FromStr` with the message `"<value> (expected …)"`).
macro_rules! spelled_setting {
    ($($ty:ty),*) => {$(
        impl SettingValue for $ty {
            fn parse(def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
                raw.parse::<$ty>()
                    .map_err(|e| ConfigError::field(def.field, format!("{}={e}", def.env)))
            }
        }
    )*};
}
spelled_setting!(
    crate::policy::Mode,
    crate::audit::Format,
    crate::audit::FsyncPolicy,
    crate::audit::OnFailure,
    super::Transport,
    super::KnownHosts,
    crate::confine::Setting,
    crate::confine::Network
);

/// `RELAY_SHELL_AUDIT_SESSION_INPUT`: the Python relay-shell's message in the parentheses.
impl SettingValue for super::SessionInput {
    fn parse(def: &SettingDef, raw: &str) -> Result<Self, ConfigError> {
        raw.parse::<super::SessionInput>()
            .map_err(|e| ConfigError::field(def.field, format!("{}={raw} ({e})", def.env)))
    }
}

/// `a, b or c`.
pub(super) fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `~` and `~/…` become the home directory.
pub fn expand_tilde(p: &str) -> PathBuf {
    if (p == "~" || p.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(p.trim_start_matches('~').trim_start_matches('/'));
    }
    PathBuf::from(p)
}

/// The raw values given on the command line or in the environment, by variable name. Built by
/// clap from the declarations (a flag wins over its variable), or directly in tests.
#[derive(Clone, Debug, std::default::Default, PartialEq, Eq)]
pub struct SettingsArgs {
    values: BTreeMap<&'static str, String>,
}

impl SettingsArgs {
    /// Values given as `(RELAY_SHELL_NAME, value)` pairs; unknown names are ignored.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            if let Some(def) = super::SETTINGS.iter().find(|d| d.env == *name) {
                values.insert(def.env, value.to_string());
            }
        }
        Self { values }
    }

    /// The value given for `env`, if any.
    pub fn get(&self, env: &str) -> Option<&str> {
        self.values.get(env).map(String::as_str)
    }

    /// Give `value` for the setting `env` unless a flag or the environment already gave one
    /// (the `.env` file and differently-cased variables rank below both). Unknown names are
    /// ignored.
    pub fn fill_missing(&mut self, env: &str, value: &str) {
        if let Some(def) = super::SETTINGS.iter().find(|d| d.env == env) {
            self.values
                .entry(def.env)
                .or_insert_with(|| value.to_string());
        }
    }

    /// The value of `def`: given, or its default.
    pub(crate) fn value(&self, def: &SettingDef) -> String {
        self.get(def.env)
            .map(str::to_owned)
            .unwrap_or_else(|| def.default_text())
    }
}

impl clap::FromArgMatches for SettingsArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for def in super::SETTINGS {
            if let Ok(Some(v)) = matches.try_get_one::<String>(def.field) {
                self.values.insert(def.env, v.clone());
            }
        }
        Ok(())
    }
}

impl clap::Args for SettingsArgs {
    fn augment_args(mut cmd: Command) -> Command {
        for def in super::SETTINGS {
            let help = format!("{} [default: {}]", def.help, def.default_doc());
            cmd = cmd.arg(
                Arg::new(def.field)
                    .long(def.flag())
                    .env(def.env)
                    .value_name(def.value_name)
                    .help(help)
                    .help_heading(def.heading)
                    .hide_env_values(true),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// The table of `docs/configuration.md`, generated from the declarations.
pub fn markdown_table() -> String {
    let mut out = String::from("| Variable | Default | Accepted | Meaning |\n|---|---|---|---|\n");
    for def in super::SETTINGS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            def.env,
            def.default_doc(),
            def.accepted(),
            def.help
        ));
    }
    out
}
