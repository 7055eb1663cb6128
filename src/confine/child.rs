//! What a confined child does to itself between fork (or clone) and exec, prepared in full by
//! the parent so the child only makes system calls.

use super::caps::CapPlan;
use super::landlock::{self, Ruleset};
use super::seccomp::{self, Filter};

/// A step of a child's set-up, reported when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    /// `setsid`.
    Setsid = 1,
    /// Installing stdin, stdout, stderr.
    Stdio = 2,
    /// `chdir` to the working directory.
    Chdir = 3,
    /// Dropping capabilities.
    Capabilities = 4,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs = 5,
    /// `landlock_restrict_self`.
    Landlock = 6,
    /// Installing the seccomp filter.
    Seccomp = 7,
    /// `execve`.
    Exec = 8,
    /// Joining the call's cgroup, arming the death signal (`procs`).
    Track = 9,
}

impl Step {
    /// The step numbered `n` (as stored by a failing child).
    pub fn from_u32(n: u32) -> Step {
        match n {
            1 => Step::Setsid,
            2 => Step::Stdio,
            3 => Step::Chdir,
            4 => Step::Capabilities,
            5 => Step::NoNewPrivs,
            6 => Step::Landlock,
            7 => Step::Seccomp,
            9 => Step::Track,
            _ => Step::Exec,
        }
    }

    /// How the step is named in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Setsid => "setsid",
            Step::Stdio => "stdio",
            Step::Chdir => "chdir",
            Step::Capabilities => "dropping capabilities",
            Step::NoNewPrivs => "no_new_privs",
            Step::Landlock => "landlock_restrict_self",
            Step::Seccomp => "seccomp filter",
            Step::Exec => "execve",
            Step::Track => "process tracking",
        }
    }
}

/// The confinement steps of one child: everything decided and allocated by the parent.
#[derive(Debug)]
pub struct ChildSteps {
    /// The Landlock ruleset to enforce, if any (its descriptor closes with this value).
    pub(super) ruleset: Option<Ruleset>,
    /// The seccomp filter to install, if any.
    pub(super) filter: Option<Filter>,
    /// What to do with capabilities, if anything.
    pub(super) caps: Option<CapPlan>,
}

impl ChildSteps {
    /// Apply every step to the calling thread, in the only order that works: capabilities
    /// (the bounding set needs `CAP_SETPCAP`, dropped last), `no_new_privs` (which Landlock and
    /// seccomp require of an unprivileged caller and which stops set-uid programs from
    /// regaining anything), Landlock, then seccomp.
    ///
    /// Async-signal-safe: only system calls on memory the parent prepared; nothing allocates,
    /// locks or panics. Safe to call after `fork` or in a `CLONE_VM` child.
    pub fn apply(&self) -> Result<(), (Step, i32)> {
        self.apply_privileges()?;
        self.apply_domain()?;
        self.apply_filter()
    }

    /// The part a launcher thread applies to itself once, which every child it starts
    /// inherits (capabilities, `no_new_privs`, the seccomp filter): see `launcher.rs`.
    pub fn apply_inherited(&self) -> Result<(), (Step, i32)> {
        self.apply_privileges()?;
        self.apply_filter()
    }

    /// Capabilities, then `no_new_privs`.
    fn apply_privileges(&self) -> Result<(), (Step, i32)> {
        if let Some(caps) = &self.caps {
            caps.apply().map_err(|e| (Step::Capabilities, e))?;
        }
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
            return Err((Step::NoNewPrivs, landlock::errno()));
        }
        Ok(())
    }

    /// The per-child part: enforce the Landlock ruleset (the caller has `no_new_privs`).
    pub fn apply_domain(&self) -> Result<(), (Step, i32)> {
        if let Some(ruleset) = &self.ruleset {
            landlock::restrict_self(ruleset.raw_fd()).map_err(|e| (Step::Landlock, e))?;
        }
        Ok(())
    }

    /// Install the seccomp filter.
    fn apply_filter(&self) -> Result<(), (Step, i32)> {
        if let Some(filter) = &self.filter {
            let insns = filter.instructions();
            let program = libc::sock_fprog {
                len: insns.len() as u16,
                filter: insns.as_ptr() as *mut libc::sock_filter,
            };
            seccomp::install(&program).map_err(|e| (Step::Seccomp, e))?;
        }
        Ok(())
    }

    /// Whether there is anything to apply.
    pub fn is_empty(&self) -> bool {
        self.ruleset.is_none() && self.filter.is_none() && self.caps.is_none()
    }

    /// The steps a launcher thread applies to itself: these, without a ruleset.
    pub(super) fn inherited_part(&self) -> ChildSteps {
        ChildSteps {
            ruleset: None,
            filter: self.filter.clone(),
            caps: self.caps,
        }
    }
}
