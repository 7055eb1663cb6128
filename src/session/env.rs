//! The environment of a local session: the shared child environment plus a terminal type.

use std::ffi::OsString;

use crate::exec::{EnvOverlay, child_env};

/// The terminal type a local session gets unless the caller's overlay names `TERM`.
pub(super) const DEFAULT_TERM: &str = "xterm-256color";

/// The complete environment for a local PTY session: the shared child environment
/// (docs/architecture.md, `exec/`) with `TERM=xterm-256color` unless the caller's overlay sets or removes `TERM`.
///
/// The reference implementation sets no `TERM`, so full-screen programs see whatever the
/// server inherited (usually nothing); a PTY session is a terminal, so we say which one.
pub fn local_session_env(overlay: &EnvOverlay) -> Vec<(OsString, OsString)> {
    let mut full: EnvOverlay = Vec::with_capacity(overlay.len() + 1);
    if !overlay.iter().any(|(k, _)| k == "TERM") {
        full.push(("TERM".to_string(), Some(DEFAULT_TERM.to_string())));
    }
    full.extend(overlay.iter().cloned());
    child_env(&full)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(env: &'a [(OsString, OsString)], k: &str) -> Option<&'a OsString> {
        env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v)
    }

    #[test]
    fn term_defaults_but_the_overlay_wins() {
        let env = local_session_env(&vec![]);
        assert_eq!(get(&env, "TERM").unwrap(), "xterm-256color");
        let env = local_session_env(&vec![("TERM".into(), Some("dumb".into()))]);
        assert_eq!(get(&env, "TERM").unwrap(), "dumb");
        let env = local_session_env(&vec![("TERM".into(), None)]);
        assert_eq!(get(&env, "TERM"), None);
        assert_eq!(env.iter().filter(|(k, _)| k == "PATH").count(), 1);
    }
}
