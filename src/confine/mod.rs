//! Kernel confinement of the processes the server starts: the classifier decides, the kernel
//! enforces what it decided.
//!
//! Architecture invariant: pure mechanism — profiles and the kernel. No protocol, no audit, no
//! policy: the gate picks a [`Profile`] from its decision ([`choose`]) and hands it to the work
//! in the judged call (`gate::Judged::confinement`); `exec/` and `session/` prepare it
//! ([`Confiner::prepare`]) and apply it in the child before exec.
//!
//! Profiles:
//! - **read-only**: the filesystem is readable and executable everywhere and writable nowhere
//!   but `/dev/null`, the terminal and a private per-call scratch directory (the child's
//!   `TMPDIR`, removed afterwards); no signals to, and no abstract-socket connections with,
//!   processes outside the child's own Landlock domain (ABI ≥ 6); no TCP listening; every
//!   capability dropped but `CAP_DAC_READ_SEARCH` and `CAP_SYSLOG` (see `caps.rs`);
//!   `no_new_privs`; a seccomp filter refusing host-changing calls and file metadata changes
//!   (`seccomp.rs`); with `RELAY_SHELL_READONLY_NETWORK=none`, no sockets but unix and netlink.
//! - **reversible**: the same, plus full access under the writable roots
//!   (`RELAY_SHELL_WRITABLE_ROOTS`, default `$HOME`, `/tmp`, `/var/tmp`, and the call's working
//!   directory), and mode and time changes allowed.
//! - **none**: nothing; what `open` mode runs and what an allow rule admits in `guarded`.
//!
//! How: the parent builds everything (a Landlock ruleset descriptor, the BPF program, the
//! capability sets, the scratch directory); the child makes system calls only
//! ([`ChildSteps::apply`]). One-shot commands start through [`launch`] (`clone` with
//! `CLONE_VM | CLONE_VFORK`, as cheap as `posix_spawn`); PTY sessions apply the same steps
//! in their existing `pre_exec` hook. Decisions: `docs/adr/0006-confine-kernel-profiles.md`.

mod caps;
mod child;
mod confiner;
mod landlock;
pub mod launch;
mod launcher;
mod sandbox;
mod scratch;
pub mod seccomp;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

pub use child::{ChildSteps, Step};
pub use confiner::{Confiner, Prepared, Status, Support};
pub use sandbox::run_sandbox_cli;
pub use scratch::ScratchDir;

use crate::error::ToolError;
use crate::policy::{Mode, Tier};

/// A confinement profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Read everything, write nothing (but the scratch directory and the terminal).
    ReadOnly,
    /// Read everything, write under the writable roots.
    Reversible,
    /// No confinement.
    None,
}

impl Profile {
    /// The name used in records, `explain`, `server_info` and `sandbox --profile`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::ReadOnly => "read-only",
            Profile::Reversible => "reversible",
            Profile::None => "none",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read-only" | "readonly" => Ok(Profile::ReadOnly),
            "reversible" => Ok(Profile::Reversible),
            "none" => Ok(Profile::None),
            other => Err(format!("{other} (expected read-only, reversible or none)")),
        }
    }
}

/// `RELAY_SHELL_CONFINE`: whether and where the profiles are enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Enforce where the kernel supports it; otherwise serve, with a warning at start, in
    /// `server_info` and in every record's `confinement` (the default).
    Auto,
    /// Refuse to start unless the kernel enforces every part of the profiles.
    Require,
    /// Never confine.
    Off,
    /// Like `auto`, and apply the guarded mapping in `open` mode too.
    Always,
}

impl Setting {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Setting::Auto => "auto",
            Setting::Require => "require",
            Setting::Off => "off",
            Setting::Always => "always",
        }
    }
}

impl FromStr for Setting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Setting::Auto),
            "require" => Ok(Setting::Require),
            "off" => Ok(Setting::Off),
            "always" => Ok(Setting::Always),
            other => Err(format!("{other} (expected auto, require, off or always)")),
        }
    }
}

/// `RELAY_SHELL_READONLY_NETWORK`: what network a confined command may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// Any (the default; a read-only command can still send what it reads).
    Any,
    /// Unix and netlink sockets only (no IP, no packet sockets).
    None,
}

impl Network {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Any => "any",
            Network::None => "none",
        }
    }
}

impl FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(Network::Any),
            "none" => Ok(Network::None),
            other => Err(format!("{other} (expected any or none)")),
        }
    }
}

/// Parse `RELAY_SHELL_WRITABLE_ROOTS`: absolute paths separated by `:` (empty: the defaults).
pub fn parse_roots(raw: &str) -> Result<Vec<PathBuf>, String> {
    raw.split(':')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let path = Path::new(p.trim());
            if path.is_absolute() {
                Ok(path.to_path_buf())
            } else {
                Err(format!(
                    "{raw} (expected absolute paths separated by ':'; {p} is relative)"
                ))
            }
        })
        .collect()
}

/// The profile a call's decision calls for.
///
/// `readonly`: every call runs read-only. `guarded`: tier 0 read-only, tier 1 reversible,
/// what an allow rule admitted (tier ≥ 2) unconfined. `open`: unconfined, unless the setting is
/// `always`, which applies the guarded mapping (tier ≥ 2 then runs unconfined: `open` admits it
/// deliberately). `off`: never confined.
pub fn choose(mode: Mode, tier: Tier, allowed_by_rule: bool, setting: Setting) -> Profile {
    let guarded = || {
        if allowed_by_rule {
            return Profile::None;
        }
        match tier {
            Tier::ReadOnly => Profile::ReadOnly,
            Tier::Reversible => Profile::Reversible,
            _ => Profile::None,
        }
    };
    match (setting, mode) {
        (Setting::Off, _) => Profile::None,
        (_, Mode::Readonly) => Profile::ReadOnly,
        (_, Mode::Guarded) => guarded(),
        (Setting::Always, Mode::Open) => guarded(),
        (_, Mode::Open) => Profile::None,
    }
}

/// A profile chosen for one call, with the engine that prepares it.
#[derive(Clone, Debug)]
pub struct Confinement {
    /// The profile.
    pub profile: Profile,
    /// The engine (settings and kernel support).
    pub confiner: Arc<Confiner>,
}

impl Confinement {
    /// How the profile is recorded.
    pub fn label(&self) -> String {
        self.confiner.label(self.profile)
    }

    /// Prepare it for one child (see [`Confiner::prepare`]).
    pub fn prepare(
        &self,
        cwd: Option<&Path>,
        tty: Option<&Path>,
    ) -> Result<Option<Prepared>, ToolError> {
        self.confiner.prepare(self.profile, cwd, tty)
    }
}

/// Where a call's work reports the profile that actually applied when it differs from the one
/// the gate chose (a `session_send` runs in its session's profile, chosen when the session was
/// spawned). The gate records the report instead of its own choice.
#[derive(Clone, Debug, Default)]
pub struct Applied(Arc<Mutex<Option<String>>>);

impl Applied {
    /// The work: record this label instead of the gate's choice.
    pub fn report(&self, label: impl Into<String>) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(label.into());
    }

    /// The gate: what the work reported, if anything.
    pub fn reported(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_picks_the_profile() {
        use Mode::*;
        use Profile as P;
        use Setting::*;
        use Tier::*;
        let c = |m, t, r, s| choose(m, t, r, s);
        for s in [Auto, Require, Always] {
            for t in [ReadOnly, Reversible, Stateful, Irreversible] {
                assert_eq!(c(Readonly, t, false, s), P::ReadOnly);
            }
            assert_eq!(c(Guarded, ReadOnly, false, s), P::ReadOnly);
            assert_eq!(c(Guarded, Reversible, false, s), P::Reversible);
            assert_eq!(c(Guarded, Stateful, true, s), P::None);
            assert_eq!(c(Guarded, Irreversible, true, s), P::None);
        }
        assert_eq!(c(Open, ReadOnly, false, Auto), P::None);
        assert_eq!(c(Open, ReadOnly, false, Always), P::ReadOnly);
        assert_eq!(c(Open, Reversible, false, Always), P::Reversible);
        assert_eq!(c(Open, Irreversible, false, Always), P::None);
        assert_eq!(c(Readonly, ReadOnly, false, Off), P::None);
        assert_eq!(c(Guarded, ReadOnly, false, Off), P::None);
    }

    #[test]
    fn settings_parse_and_name_what_is_accepted() {
        assert_eq!(" Require ".parse::<Setting>(), Ok(Setting::Require));
        assert_eq!(
            "yes".parse::<Setting>(),
            Err("yes (expected auto, require, off or always)".into())
        );
        assert_eq!("NONE".parse::<Network>(), Ok(Network::None));
        assert!("some".parse::<Network>().is_err());
        assert_eq!("readonly".parse::<Profile>(), Ok(Profile::ReadOnly));
        assert_eq!(
            parse_roots("/srv:/data/x:"),
            Ok(vec![PathBuf::from("/srv"), PathBuf::from("/data/x")])
        );
        assert!(parse_roots("/srv:rel").is_err());
        assert_eq!(parse_roots(""), Ok(vec![]));
    }

    #[test]
    fn a_report_replaces_the_choice() {
        let applied = Applied::default();
        assert_eq!(applied.reported(), None);
        applied.clone().report("reversible");
        assert_eq!(applied.reported().as_deref(), Some("reversible"));
    }
}
