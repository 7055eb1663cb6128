//! The environment a child process gets (docs/architecture.md, `exec/`: the environment rule).
//!
//! Rule, in order:
//! 1. Start from the server's environment, minus what belongs to the server alone:
//!    every variable whose name starts with `RELAY_SHELL_` (ASCII case-insensitively) — the
//!    server's configuration, including its bearer tokens and OAuth secrets — and the service
//!    manager's hand-offs addressed to the server process ([`SERVER_ONLY_VARIABLES`]: its
//!    notify socket, socket-activation descriptors, watchdog and credentials directory).
//! 2. If unset, `PATH` and `LANG` get defaults; `DEBIAN_FRONTEND=noninteractive` and
//!    `GIT_TERMINAL_PROMPT=0` are always set, so installers and git never wait for a human.
//! 3. The caller's overlay is applied last: `Some` sets, `None` removes. An overlay entry may not
//!    (re)introduce a `RELAY_SHELL_*` name, and entries with invalid names are skipped.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use serde_json::Value;

use super::EnvOverlay;
use crate::error::ToolError;

/// `PATH` given to a child when the server has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `LANG` given to a child when the server has none.
pub const DEFAULT_LANG: &str = "C.UTF-8";

/// Name prefix of the server's own configuration; never passed to a child.
const SERVER_PREFIX: &[u8] = b"RELAY_SHELL_";

/// Variables a service manager hands to the server process itself. A child that inherited them
/// could speak to systemd as the server (`NOTIFY_SOCKET`), misread socket activation, or find
/// the server's credentials directory.
pub const SERVER_ONLY_VARIABLES: &[&str] = &[
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
    "CREDENTIALS_DIRECTORY",
];

/// How many characters of a key an error message quotes.
const QUOTED_KEY_CHARS: usize = 80;

/// Parse the `env_json` tool argument into an overlay.
///
/// Blank text is an empty overlay. Anything else must be a JSON object: `null` removes the
/// variable, a string is used as-is, and any other value is set to its compact JSON text
/// (`true`, `1.5`, `{"a":1}`). Keys must be valid variable names and values must not contain NUL;
/// every violation is `InvalidArgument` naming the offending part.
pub fn parse_env_json(s: &str) -> Result<EnvOverlay, ToolError> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_str(s)
        .map_err(|e| ToolError::invalid(format!("env_json is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ToolError::invalid(format!(
            "env_json must be a JSON object, got {}",
            json_kind(&value)
        )));
    };
    let overlay: EnvOverlay = map
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Value::Null => None,
                Value::String(text) => Some(text),
                other => Some(other.to_string()),
            };
            (key, value)
        })
        .collect();
    validate_overlay(&overlay)?;
    Ok(overlay)
}

/// Check every overlay entry: the name is non-empty and has no `=` or NUL, and a value has no
/// NUL. `InvalidArgument` names the first offending key.
pub fn validate_overlay(overlay: &EnvOverlay) -> Result<(), ToolError> {
    for (key, value) in overlay {
        if !is_valid_name(key.as_bytes()) {
            return Err(ToolError::invalid(format!(
                "env_json key {:?} is not a valid environment variable name (empty, or contains '=' or NUL)",
                quoted_key(key)
            )));
        }
        if value.as_ref().is_some_and(|v| v.contains('\0')) {
            return Err(ToolError::invalid(format!(
                "env_json value for {:?} contains a NUL byte",
                quoted_key(key)
            )));
        }
    }
    Ok(())
}

/// The complete environment for a child of this server: [`child_env_from`] applied to the
/// server's own environment.
pub fn child_env(overlay: &EnvOverlay) -> Vec<(OsString, OsString)> {
    child_env_from(std::env::vars_os(), overlay)
}

/// The complete environment for a child, built from `base` (normally the server's environment)
/// and `overlay` by the rule in this module's documentation. Sorted by name.
pub fn child_env_from(
    base: impl Iterator<Item = (OsString, OsString)>,
    overlay: &EnvOverlay,
) -> Vec<(OsString, OsString)> {
    let mut env: BTreeMap<OsString, OsString> =
        base.filter(|(name, _)| !is_server_only(name)).collect();
    env.entry(OsString::from("PATH"))
        .or_insert_with(|| OsString::from(DEFAULT_PATH));
    env.entry(OsString::from("LANG"))
        .or_insert_with(|| OsString::from(DEFAULT_LANG));
    env.insert("DEBIAN_FRONTEND".into(), "noninteractive".into());
    env.insert("GIT_TERMINAL_PROMPT".into(), "0".into());
    for (key, value) in overlay {
        if has_server_prefix(key.as_bytes()) || !is_valid_name(key.as_bytes()) {
            continue;
        }
        match value {
            Some(v) if !v.contains('\0') => {
                env.insert(key.into(), v.into());
            }
            Some(_) => {}
            None => {
                env.remove(OsStr::new(key));
            }
        }
    }
    env.into_iter().collect()
}

fn is_server_only(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    has_server_prefix(bytes) || SERVER_ONLY_VARIABLES.iter().any(|v| v.as_bytes() == bytes)
}

fn has_server_prefix(name: &[u8]) -> bool {
    name.len() >= SERVER_PREFIX.len()
        && name[..SERVER_PREFIX.len()].eq_ignore_ascii_case(SERVER_PREFIX)
}

fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty() && !name.contains(&b'=') && !name.contains(&0)
}

fn quoted_key(key: &str) -> String {
    key.chars().take(QUOTED_KEY_CHARS).collect()
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn overlay(pairs: &[(&str, Option<&str>)]) -> EnvOverlay {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    fn base(pairs: &[(&str, &str)]) -> impl Iterator<Item = (OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect::<Vec<_>>()
            .into_iter()
    }

    fn strings(env: Vec<(OsString, OsString)>) -> Vec<(String, String)> {
        env.into_iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn blank_env_json_is_empty() {
        assert_eq!(parse_env_json(""), Ok(Vec::new()));
        assert_eq!(parse_env_json("  \n\t"), Ok(Vec::new()));
        assert_eq!(parse_env_json("{}"), Ok(Vec::new()));
    }

    #[test]
    fn env_json_values_render_as_json() {
        let parsed = parse_env_json(
            r#"{"S":"text","T":true,"F":false,"I":1,"R":1.5,"N":null,"O":{"a":1},"A":[1,"x"],"E":""}"#,
        );
        let expected = overlay(&[
            ("A", Some(r#"[1,"x"]"#)),
            ("E", Some("")),
            ("F", Some("false")),
            ("I", Some("1")),
            ("N", None),
            ("O", Some(r#"{"a":1}"#)),
            ("R", Some("1.5")),
            ("S", Some("text")),
            ("T", Some("true")),
        ]);
        assert_eq!(parsed, Ok(expected));
    }

    #[test]
    fn env_json_must_be_an_object() {
        let cases = [
            ("[1,2]", "env_json must be a JSON object, got an array"),
            ("\"x\"", "env_json must be a JSON object, got a string"),
            ("3", "env_json must be a JSON object, got a number"),
            ("true", "env_json must be a JSON object, got a boolean"),
            ("null", "env_json must be a JSON object, got null"),
        ];
        for (input, message) in cases {
            assert_eq!(
                parse_env_json(input),
                Err(ToolError::invalid(message)),
                "input {input}"
            );
        }
    }

    #[test]
    fn malformed_env_json_is_invalid() {
        let err = parse_env_json("{\"A\": ").err().map(|e| e.kind);
        assert_eq!(err, Some(ErrorKind::InvalidArgument));
        let message = parse_env_json("{nope}").err().map(|e| e.message);
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.starts_with("env_json is not valid JSON: ")),
            "{message:?}"
        );
    }

    #[test]
    fn env_json_rejects_bad_names_and_nul_values() {
        assert_eq!(
            parse_env_json(r#"{"":"x"}"#),
            Err(ToolError::invalid(
                "env_json key \"\" is not a valid environment variable name (empty, or contains '=' or NUL)"
            ))
        );
        assert_eq!(
            parse_env_json(r#"{"A=B":"x"}"#),
            Err(ToolError::invalid(
                "env_json key \"A=B\" is not a valid environment variable name (empty, or contains '=' or NUL)"
            ))
        );
        assert_eq!(
            parse_env_json(r#"{"A\u0000":"x"}"#).err().map(|e| e.kind),
            Some(ErrorKind::InvalidArgument)
        );
        assert_eq!(
            parse_env_json(r#"{"A":"x\u0000y"}"#),
            Err(ToolError::invalid(
                "env_json value for \"A\" contains a NUL byte"
            ))
        );
    }

    #[test]
    fn defaults_fill_missing_path_and_lang() {
        let env = child_env_from(base(&[("HOME", "/root")]), &Vec::new());
        assert_eq!(
            strings(env),
            pairs(&[
                ("DEBIAN_FRONTEND", "noninteractive"),
                ("GIT_TERMINAL_PROMPT", "0"),
                ("HOME", "/root"),
                ("LANG", DEFAULT_LANG),
                ("PATH", DEFAULT_PATH),
            ])
        );
    }

    #[test]
    fn server_variables_are_dropped() {
        let env = child_env_from(
            base(&[
                ("PATH", "/bin"),
                ("LANG", "en_US.UTF-8"),
                ("RELAY_SHELL_FOO", "secret"),
                ("RELAY_SHELL_BEARER_TOKENS", "t0k"),
                ("relay_shell_lower", "x"),
                ("NOTIFY_SOCKET", "/run/systemd/notify"),
                ("CREDENTIALS_DIRECTORY", "/run/credentials/x"),
                ("RELAY_SHELLX", "kept: not the prefix"),
                ("DEBIAN_FRONTEND", "dialog"),
            ]),
            &Vec::new(),
        );
        assert_eq!(
            strings(env),
            pairs(&[
                ("DEBIAN_FRONTEND", "noninteractive"),
                ("GIT_TERMINAL_PROMPT", "0"),
                ("LANG", "en_US.UTF-8"),
                ("PATH", "/bin"),
                ("RELAY_SHELLX", "kept: not the prefix"),
            ])
        );
    }

    #[test]
    fn overlay_sets_and_removes_but_cannot_add_server_names() {
        let env = child_env_from(
            base(&[("PATH", "/bin"), ("LANG", "C"), ("HOME", "/root")]),
            &overlay(&[
                ("HOME", None),
                ("FOO", Some("bar")),
                ("GIT_TERMINAL_PROMPT", Some("1")),
                ("RELAY_SHELL_POLICY_MODE", Some("open")),
                ("Relay_Shell_X", Some("y")),
                ("NOT_THERE", None),
                ("A=B", Some("skipped")),
            ]),
        );
        assert_eq!(
            strings(env),
            pairs(&[
                ("DEBIAN_FRONTEND", "noninteractive"),
                ("FOO", "bar"),
                ("GIT_TERMINAL_PROMPT", "1"),
                ("LANG", "C"),
                ("PATH", "/bin"),
            ])
        );
    }

    #[test]
    fn non_utf8_base_values_pass_through() {
        use std::os::unix::ffi::OsStringExt;
        let raw = OsString::from_vec(vec![0xff, 0xfe, b'x']);
        let env = child_env_from(
            vec![(OsString::from("BIN"), raw.clone())].into_iter(),
            &Vec::new(),
        );
        assert!(env.contains(&(OsString::from("BIN"), raw)));
    }
}
