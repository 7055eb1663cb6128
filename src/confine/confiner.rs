//! The server's confinement engine: what this kernel enforces (probed once, by confining a
//! throw-away child), the settings, and the per-call preparation of a profile.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::caps::{self, CapPlan};
use super::child::{ChildSteps, Step};
use super::landlock::{self, Ruleset};
use super::launch::{self, Launch, LaunchError, Launched};
use super::launcher::Launcher;
use super::scratch::{ScratchDir, ScratchPool};
use super::seccomp::{self, Filter, FilterSpec};
use super::{Network, Profile, Setting};
use crate::error::{ErrorKind, ToolError};

/// What this kernel lets the server enforce, found by trying it on a child at start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Support {
    /// The Landlock ABI version the profiles use (0: none).
    pub landlock_abi: u32,
    /// Why Landlock is unavailable, when it is.
    pub landlock_error: String,
    /// Whether a seccomp filter can be installed.
    pub seccomp: bool,
    /// Why not, when it cannot.
    pub seccomp_error: String,
    /// Whether confined children can be started at all (`clone` with a pidfd).
    pub launcher: bool,
    /// Why not, when they cannot.
    pub launcher_error: String,
}

impl Support {
    /// Probe the kernel: ask Landlock for its ABI, then start a child that applies a full
    /// read-only profile and exits, dropping whatever part the kernel refuses and trying again.
    pub fn probe() -> Support {
        let mut s = Support {
            launcher: true,
            seccomp: seccomp::SUPPORTED,
            seccomp_error: if seccomp::SUPPORTED {
                String::new()
            } else {
                "no filter for this architecture in this build".into()
            },
            ..Support::default()
        };
        match landlock::abi() {
            Ok(abi) => s.landlock_abi = abi,
            Err(e) => s.landlock_error = format!("landlock_create_ruleset: {e}"),
        }
        for _ in 0..4 {
            let ruleset = if s.landlock_abi > 0 {
                match trial_ruleset(s.landlock_abi) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        s.landlock_error = format!("building a ruleset: {e}");
                        s.landlock_abi = 0;
                        continue;
                    }
                }
            } else {
                None
            };
            let filter = if s.seccomp {
                seccomp::build(FilterSpec {
                    deny_metadata: true,
                    deny_network: true,
                })
            } else {
                None
            };
            let steps = ChildSteps {
                ruleset,
                filter,
                caps: Some(CapPlan::for_this_process()),
            };
            match launch::probe(&steps) {
                Ok(()) => return s,
                Err(LaunchError::Child {
                    step: Step::Landlock,
                    errno,
                }) => {
                    s.landlock_error = format!(
                        "landlock_restrict_self: {}",
                        std::io::Error::from_raw_os_error(errno)
                    );
                    s.landlock_abi = 0;
                }
                Err(LaunchError::Child {
                    step: Step::Seccomp,
                    errno,
                }) => {
                    s.seccomp_error =
                        format!("seccomp: {}", std::io::Error::from_raw_os_error(errno));
                    s.seccomp = false;
                }
                Err(e) => {
                    s.fail_launcher(e.to_string());
                    return s;
                }
            }
        }
        s
    }

    /// Nothing can be confined: record why.
    fn fail_launcher(&mut self, why: String) {
        self.launcher = false;
        self.launcher_error = why;
        self.landlock_abi = 0;
        self.seccomp = false;
    }

    /// Parts of the profiles this kernel cannot enforce, as short names (empty: everything
    /// is enforced).
    pub fn gaps(&self) -> Vec<&'static str> {
        if !self.launcher {
            return vec!["no confined launch"];
        }
        let mut gaps = Vec::new();
        match self.landlock_abi {
            0 => gaps.push("no landlock"),
            1 | 2 => gaps.push("no landlock truncate or scopes"),
            3..=5 => gaps.push("no landlock scopes"),
            _ => {}
        }
        if !self.seccomp {
            gaps.push("no seccomp");
        }
        gaps
    }

    /// What is enforced, for `server_info`.
    pub fn enforced(&self) -> Vec<&'static str> {
        if !self.launcher {
            return Vec::new();
        }
        let abi = self.landlock_abi;
        let mut v = Vec::new();
        for (min, name) in [
            (1, "landlock filesystem"),
            (3, "landlock truncate"),
            (4, "landlock tcp bind"),
            (5, "landlock device ioctl"),
            (6, "landlock signal and abstract-socket scopes"),
        ] {
            if abi >= min {
                v.push(name);
            }
        }
        if self.seccomp {
            v.push("seccomp");
        }
        v.extend(["capabilities", "no_new_privs", "scratch TMPDIR"]);
        v
    }
}

/// A read-only ruleset on `/`, built only to try it.
fn trial_ruleset(abi: u32) -> std::io::Result<Ruleset> {
    let mut r = Ruleset::new(abi, landlock::NET_BIND_TCP, !0)?;
    r.allow(Path::new("/"), landlock::READ)?;
    Ok(r)
}

/// How the settings and the kernel are reported (`server_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// `RELAY_SHELL_CONFINE`.
    pub setting: Setting,
    /// `RELAY_SHELL_READONLY_NETWORK`.
    pub network: Network,
    /// The configured writable roots of the reversible profile (the call's working directory
    /// is added per call).
    pub writable_roots: Vec<PathBuf>,
    /// The kernel's Landlock ABI (0: none).
    pub landlock_abi: u32,
    /// What the profiles enforce here.
    pub enforced: Vec<&'static str>,
    /// What they cannot enforce here.
    pub missing: Vec<&'static str>,
    /// Capabilities a confined child keeps.
    pub capabilities_kept: Vec<&'static str>,
    /// The start-up warning, or empty.
    pub warning: String,
}

/// The confinement engine shared by the gate and the executors.
#[derive(Debug)]
pub struct Confiner {
    setting: Setting,
    network: Network,
    writable_roots: Vec<PathBuf>,
    support: Support,
    caps: CapPlan,
    /// The read-only and reversible filters, when seccomp is available.
    filters: Option<(Filter, Filter)>,
    /// Per-call scratch directories, made and removed off the call's path.
    scratch: ScratchPool,
    /// The read-only and reversible launcher threads, started on first use.
    launchers: [std::sync::OnceLock<Result<Launcher, String>>; 2],
}

impl Default for Confiner {
    /// Confinement off (tests and tools that build a gate without settings).
    fn default() -> Self {
        Confiner::new(Setting::Off, Network::Any, Vec::new())
    }
}

impl Confiner {
    /// The engine for these settings. Probes the kernel unless the setting is `off`.
    /// `writable_roots` empty means the defaults: `$HOME`, `/tmp`, `/var/tmp`.
    pub fn new(setting: Setting, network: Network, writable_roots: Vec<PathBuf>) -> Confiner {
        Confiner::with_support(
            setting,
            network,
            writable_roots,
            if setting == Setting::Off {
                Support::default()
            } else {
                Support::probe()
            },
        )
    }

    /// The engine with a given kernel support (for tests of the decisions around it).
    pub fn with_support(
        setting: Setting,
        network: Network,
        writable_roots: Vec<PathBuf>,
        support: Support,
    ) -> Confiner {
        let writable_roots = if writable_roots.is_empty() {
            default_roots()
        } else {
            writable_roots
        };
        let filters = support.seccomp.then(|| {
            let spec = |deny_metadata| FilterSpec {
                deny_metadata,
                deny_network: network == Network::None,
            };
            seccomp::build(spec(true)).zip(seccomp::build(spec(false)))
        });
        Confiner {
            setting,
            network,
            writable_roots,
            support,
            caps: CapPlan::for_this_process(),
            filters: filters.flatten(),
            scratch: ScratchPool::new(std::env::temp_dir()),
            launchers: Default::default(),
        }
    }

    /// `RELAY_SHELL_CONFINE`.
    pub fn setting(&self) -> Setting {
        self.setting
    }

    /// What the kernel supports.
    pub fn support(&self) -> &Support {
        &self.support
    }

    /// Whether the profiles are enforced in full (confinement on, nothing missing).
    pub fn enforces(&self) -> bool {
        self.setting != Setting::Off && self.support.gaps().is_empty()
    }

    /// Under `require`, why the server must not start (`None`: it may).
    pub fn refusal(&self) -> Option<String> {
        let gaps = self.support.gaps();
        (self.setting == Setting::Require && !gaps.is_empty()).then(|| {
            format!(
                "RELAY_SHELL_CONFINE=require but this kernel cannot enforce the profiles ({}{}); \
                 use auto to serve with partial confinement",
                gaps.join(", "),
                self.reasons()
            )
        })
    }

    /// Under `auto` and `always`, the warning to show at start, in `server_info` and (as the
    /// label's suffix) in every record.
    pub fn warning(&self) -> Option<String> {
        let gaps = self.support.gaps();
        (matches!(self.setting, Setting::Auto | Setting::Always) && !gaps.is_empty()).then(|| {
            format!(
                "confinement is partial on this kernel ({}{}): commands admitted as read-only \
                 or reversible are held back by the classifier alone where the kernel does not \
                 enforce",
                gaps.join(", "),
                self.reasons()
            )
        })
    }

    /// The kernel's own words for what is missing.
    fn reasons(&self) -> String {
        let s = &self.support;
        let mut parts: Vec<String> = [&s.launcher_error, &s.landlock_error, &s.seccomp_error]
            .into_iter()
            .filter(|e| !e.is_empty())
            .cloned()
            .collect();
        if (1..landlock::SCOPES_ABI).contains(&s.landlock_abi) {
            parts.push(format!(
                "Landlock ABI {}; scopes need {}",
                s.landlock_abi,
                landlock::SCOPES_ABI
            ));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(": {}", parts.join("; "))
        }
    }

    /// How `profile` is recorded: its name, with what this kernel leaves out.
    pub fn label(&self, profile: Profile) -> String {
        if profile == Profile::None {
            return profile.as_str().into();
        }
        let gaps = self.support.gaps();
        if !self.support.launcher {
            format!("{} (unenforced)", profile.as_str())
        } else if gaps.is_empty() {
            profile.as_str().into()
        } else {
            format!("{} (partial: {})", profile.as_str(), gaps.join(", "))
        }
    }

    /// Prepare `profile` for one child: its scratch directory, Landlock ruleset (with the
    /// call's working directory `cwd` as a writable root of the reversible profile, and the
    /// session's terminal `tty` writable), seccomp filter and capability plan. `None` when the
    /// profile is `none` or nothing can be enforced.
    pub fn prepare(
        &self,
        profile: Profile,
        cwd: Option<&Path>,
        tty: Option<&Path>,
    ) -> Result<Option<Prepared>, ToolError> {
        if profile == Profile::None || self.setting == Setting::Off || !self.support.launcher {
            return Ok(None);
        }
        let failed = |what: &str, e: std::io::Error| {
            ToolError::new(ErrorKind::SpawnFailed, format!("confinement: {what}: {e}"))
        };
        let scratch = self
            .scratch
            .take()
            .map_err(|e| failed("creating the scratch directory", e))?;
        let ruleset = if self.support.landlock_abi > 0 {
            Some(
                self.ruleset(profile, cwd, tty, &scratch)
                    .map_err(|e| failed("building the Landlock ruleset", e))?,
            )
        } else {
            None
        };
        let filter = self.filters.as_ref().map(|(ro, rev)| match profile {
            Profile::ReadOnly => ro.clone(),
            _ => rev.clone(),
        });
        Ok(Some(Prepared {
            profile,
            steps: Arc::new(ChildSteps {
                ruleset,
                filter,
                caps: Some(self.caps),
            }),
            scratch,
            label: self.label(profile),
        }))
    }

    /// Start `spec` under `prepared` through the profile's launcher thread (started on first
    /// use), which holds the capability drop, `no_new_privs` and the seccomp filter that
    /// the child inherits; the child only enforces its Landlock domain. `fds` are the
    /// descriptors `spec` names, kept open until the start.
    pub async fn launch(
        &self,
        prepared: &Prepared,
        spec: Launch,
        fds: Vec<OwnedFd>,
    ) -> Result<Launched, LaunchError> {
        let slot = match prepared.profile {
            Profile::ReadOnly => &self.launchers[0],
            _ => &self.launchers[1],
        };
        let launcher = slot.get_or_init(|| {
            let name = format!("confine-{}", prepared.profile.as_str());
            Launcher::start(&name, prepared.steps.inherited_part()).map_err(|e| e.to_string())
        });
        match launcher {
            Ok(l) => l.launch(spec, fds, prepared.steps.clone()).await,
            Err(e) => Err(LaunchError::Parent(std::io::Error::other(e.clone()))),
        }
    }

    fn ruleset(
        &self,
        profile: Profile,
        cwd: Option<&Path>,
        tty: Option<&Path>,
        scratch: &ScratchDir,
    ) -> std::io::Result<Ruleset> {
        let mut net = landlock::NET_BIND_TCP;
        if self.network == Network::None {
            net |= landlock::NET_CONNECT_TCP;
        }
        let scopes = landlock::SCOPE_SIGNAL | landlock::SCOPE_ABSTRACT_UNIX_SOCKET;
        let mut r = Ruleset::new(self.support.landlock_abi, net, scopes)?;
        r.allow(Path::new("/"), landlock::READ)?;
        for dev in ["/dev/null", "/dev/tty"] {
            r.allow(Path::new(dev), landlock::DEVICE_RW)?;
        }
        if let Some(tty) = tty {
            r.allow(tty, landlock::DEVICE_RW)?;
        }
        r.allow_fd(scratch.fd(), !0)?;
        if profile == Profile::Reversible {
            for root in &self.writable_roots {
                r.allow(root, !0)?;
            }
            let here = cwd
                .map(Path::to_path_buf)
                .or_else(|| std::env::current_dir().ok());
            // The root directory as a working directory would make everything writable.
            if let Some(dir) = here.filter(|d| d.parent().is_some()) {
                r.allow(&dir, !0)?;
            }
        }
        Ok(r)
    }

    /// Stop making scratch directories and remove the ready ones (at server exit; a
    /// directory still in use is removed by whoever drops it).
    pub fn shutdown(&self) {
        self.scratch.shutdown();
    }

    /// Settings and support, for `server_info`.
    pub fn status(&self) -> Status {
        let probed = self.setting != Setting::Off;
        Status {
            setting: self.setting,
            network: self.network,
            writable_roots: self.writable_roots.clone(),
            landlock_abi: if probed {
                self.support.landlock_abi
            } else {
                landlock::abi().unwrap_or(0)
            },
            enforced: if probed {
                self.support.enforced()
            } else {
                Vec::new()
            },
            missing: if probed {
                self.support.gaps()
            } else {
                Vec::new()
            },
            capabilities_kept: caps::kept_names(self.caps.keep),
            warning: self.warning().unwrap_or_default(),
        }
    }
}

/// The reversible profile's writable roots when none are configured.
fn default_roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .collect();
    roots.extend([PathBuf::from("/tmp"), PathBuf::from("/var/tmp")]);
    roots
}

/// One child's prepared profile: the steps it applies before exec and its scratch
/// directory, which lives (and is removed) with this value.
#[derive(Debug)]
pub struct Prepared {
    /// The profile.
    profile: Profile,
    /// What the child applies to itself (shared with a `pre_exec` hook).
    steps: Arc<ChildSteps>,
    /// The child's `TMPDIR`.
    scratch: ScratchDir,
    /// How the profile is recorded.
    label: String,
}

impl Prepared {
    /// The steps the child applies before exec.
    pub fn steps(&self) -> &Arc<ChildSteps> {
        &self.steps
    }

    /// The scratch directory to give the child as `TMPDIR`.
    pub fn tmpdir(&self) -> &Path {
        self.scratch.path()
    }

    /// The profile's label (`read-only`, `reversible (partial: no seccomp)`, …).
    pub fn label(&self) -> &str {
        &self.label
    }
}
