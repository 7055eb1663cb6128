//! The private runtime directory (control sockets, master logs, generated ssh_config files)
//! and the generated configuration every `ssh` we start reads.
//!
//! Layout: `<base>/rsh-<uid>/<pid>/` where `<base>` is `$XDG_RUNTIME_DIR` (else `/tmp`). Both
//! levels are 0700 and must be owned by us and not be symlinks. Directories of server
//! processes that no longer exist are removed at start; ours is removed at exit. Paths stay
//! short: a unix socket path has a 108-byte limit, and ssh adds a 17-byte suffix while binding.
//!
//! The generated config (one per host-key policy) puts our options first, where OpenSSH's
//! "first value wins" makes them binding for the target *and* every jump hop (ssh hands `-F`
//! to the `ssh -W` it starts for `ProxyJump`), then the inventory file's hosts, then the
//! operator's ssh_config and the system one through `Include`.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::KnownHosts;
use crate::ssh::inventory::{Inventory, Source};

/// Longest runtime directory path we accept before falling back to `/tmp`.
const MAX_DIR_LEN: usize = 70;

/// The options every generated config starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigOptions {
    /// `ConnectTimeout`, seconds.
    pub connect_timeout: u64,
    /// `ServerAliveInterval`, seconds (0 = off).
    pub keepalive: u64,
    /// The operator's ssh_config (included when it exists).
    pub ssh_config: PathBuf,
}

/// The server's private runtime directory.
#[derive(Debug)]
pub struct Runtime {
    /// `<base>/rsh-<uid>/<pid>`.
    dir: PathBuf,
    /// Numbers the control sockets and logs of this process.
    counter: AtomicU64,
}

fn private_dir(path: &Path) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let m = std::fs::symlink_metadata(path)?;
    if !m.is_dir() || m.uid() != nix::unistd::geteuid().as_raw() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} is not a directory owned by us", path.display()),
        ));
    }
    if m.mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

impl Runtime {
    /// Create (or reuse) the per-user directory, remove directories left by server processes
    /// that no longer exist, and create this process's own.
    pub fn create() -> std::io::Result<Runtime> {
        let uid = nix::unistd::geteuid().as_raw();
        let xdg = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.is_dir() && p.as_os_str().len() < MAX_DIR_LEN - 20)
            // ssh puts the config path into the shell command it runs for ProxyJump.
            .filter(|p| {
                p.to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
            });
        let mut last_err = None;
        for base in xdg.into_iter().chain([PathBuf::from("/tmp")]) {
            let root = base.join(format!("rsh-{uid}"));
            if let Err(e) = private_dir(&root) {
                last_err = Some(e);
                continue;
            }
            clean_stale(&root);
            // One runtime per process in the server; tests may make several.
            static INSTANCE: AtomicU64 = AtomicU64::new(0);
            let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
            let pid = std::process::id();
            let dir = root.join(if n == 0 {
                pid.to_string()
            } else {
                format!("{pid}.{n}")
            });
            let _ = std::fs::remove_dir_all(&dir);
            private_dir(&dir)?;
            return Ok(Runtime {
                dir,
                counter: AtomicU64::new(0),
            });
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no runtime directory")))
    }

    /// This process's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh control socket path and its master's log path.
    pub fn next_master_paths(&self) -> (PathBuf, PathBuf) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        (
            self.dir.join(format!("m{n}")),
            self.dir.join(format!("m{n}.log")),
        )
    }

    /// The generated config for a host-key policy.
    pub fn config_path(&self, mode: KnownHosts) -> PathBuf {
        self.dir.join(format!("cfg-{}", mode.as_str()))
    }

    /// (Re)write the three generated configs atomically (write to a temp name, rename).
    pub fn write_configs(&self, opts: &ConfigOptions, inv: &Inventory) -> std::io::Result<()> {
        for mode in [
            KnownHosts::Strict,
            KnownHosts::AcceptNew,
            KnownHosts::Ignore,
        ] {
            let path = self.config_path(mode);
            let tmp = path.with_extension("tmp");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(render_config(mode, opts, inv).as_bytes())?;
            f.sync_data().ok();
            std::fs::rename(&tmp, &path)?;
        }
        Ok(())
    }

    /// Remove this process's directory and everything in it.
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Remove `<root>/<pid>` directories whose process is gone.
fn clean_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let pid = name.to_str().map(|n| n.split('.').next().unwrap_or(n));
        let Some(pid) = pid.and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Quote a value for ssh_config (values are validated: no `"` or control characters).
fn q(v: &str) -> String {
    format!("\"{v}\"")
}

/// The generated ssh_config for one host-key policy.
pub fn render_config(mode: KnownHosts, opts: &ConfigOptions, inv: &Inventory) -> String {
    let mut s = format!(
        "# Generated by relay-shell (known_hosts={}); rewritten when the inventory changes.\n\
         Host *\n  BatchMode yes\n  PasswordAuthentication no\n  KbdInteractiveAuthentication no\n  \
         ControlMaster no\n  ControlPath none\n  ConnectTimeout {}\n",
        mode.as_str(),
        opts.connect_timeout
    );
    match mode {
        KnownHosts::Strict => s.push_str("  StrictHostKeyChecking yes\n"),
        KnownHosts::AcceptNew => s.push_str("  StrictHostKeyChecking accept-new\n"),
        KnownHosts::Ignore => s.push_str(
            "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  \
             GlobalKnownHostsFile /dev/null\n  CheckHostIP no\n  LogLevel ERROR\n",
        ),
    }
    if opts.keepalive > 0 {
        s.push_str(&format!(
            "  ServerAliveInterval {}\n  ServerAliveCountMax 3\n",
            opts.keepalive
        ));
    }
    for h in inv.hosts().filter(|h| h.source == Source::Inventory) {
        // `%` starts a token in HostName (an IPv6 zone would be read as one).
        s.push_str(&format!(
            "Host {}\n  HostName {}\n",
            h.name,
            h.hostname.replace('%', "%%")
        ));
        if let Some(u) = &h.user {
            s.push_str(&format!("  User {u}\n"));
        }
        if let Some(p) = h.port {
            s.push_str(&format!("  Port {p}\n"));
        }
        if let Some(k) = &h.identity_file {
            s.push_str(&format!("  IdentityFile {}\n", q(k)));
        }
        if let Some(j) = &h.jump {
            s.push_str(&format!("  ProxyJump {j}\n"));
        }
    }
    s.push_str("Host *\n");
    if opts.ssh_config.is_file() {
        let abs = std::path::absolute(&opts.ssh_config).unwrap_or_else(|_| opts.ssh_config.clone());
        s.push_str(&format!("Include {}\n", q(&abs.display().to_string())));
    }
    if Path::new("/etc/ssh/ssh_config").is_file() {
        s.push_str("Include /etc/ssh/ssh_config\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_config_puts_policy_first() {
        let inv = Inventory::default();
        let opts = ConfigOptions {
            connect_timeout: 7,
            keepalive: 0,
            ssh_config: PathBuf::from("/nonexistent"),
        };
        let c = render_config(KnownHosts::Strict, &opts, &inv);
        assert!(c.starts_with("# Generated"));
        assert!(c.contains("Host *\n  BatchMode yes\n"));
        assert!(c.contains("StrictHostKeyChecking yes\n"));
        assert!(c.contains("ConnectTimeout 7\n"));
        assert!(!c.contains("ServerAlive"));
        assert!(!c.contains("/nonexistent"));
        let c = render_config(KnownHosts::Ignore, &opts, &inv);
        assert!(c.contains("UserKnownHostsFile /dev/null"));
    }

    #[test]
    fn runtime_dir_is_private_and_short() {
        let rt = Runtime::create().unwrap();
        let m = std::fs::metadata(rt.dir()).unwrap();
        assert_eq!(m.mode() & 0o777, 0o700);
        let (ctl, _) = rt.next_master_paths();
        assert!(ctl.as_os_str().len() + 17 < 108);
        rt.remove();
        assert!(!rt.dir().exists());
    }
}
