//! Shared by the confinement tests: does this kernel enforce the profiles (asked directly,
//! not through the code under test), and a network namespace with an interface to attack.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The Landlock ABI version the kernel reports, asked with a raw system call.
pub fn landlock_abi() -> Result<i64, std::io::Error> {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION reads no attribute.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    if v < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(v)
    }
}

/// Whether the kernel can enforce every part of the profiles. When it cannot, print a SKIP
/// line naming what is missing and return false; the caller returns without asserting. When
/// it can, the server's own probe must agree (a disagreement is a bug and fails the test).
pub fn kernel_enforces(test: &str) -> bool {
    let abi = match landlock_abi() {
        Ok(abi) => abi,
        Err(e) => {
            eprintln!("SKIP {test}: this kernel has no Landlock ({e})");
            return false;
        }
    };
    if abi < 6 {
        eprintln!(
            "SKIP {test}: this kernel's Landlock ABI is {abi}; signal and abstract-socket \
             scopes need 6 (Linux 6.12)"
        );
        return false;
    }
    let support = relay_shell::confine::Support::probe();
    assert_eq!(
        support.gaps(),
        Vec::<&str>::new(),
        "the kernel offers Landlock ABI {abi}, yet the server's probe found gaps: {support:?}"
    );
    true
}

/// Root is needed to create network namespaces. Not root: skip locally, fail in CI (which
/// runs as root), so the check is never silently lost there.
pub fn is_root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} must run as root in CI"
    );
    eprintln!("SKIP {test}: needs root");
    false
}

/// Run a command, failing the test with its stderr when it fails.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace holding one up interface `rs0` (a dummy interface, or a bridge where
/// the kernel has no dummy driver: both are software-only), deleted on drop.
pub struct NetNs {
    /// The namespace's name (for `ip -n` and `ip netns exec`).
    pub name: String,
}

impl NetNs {
    /// Create it.
    pub fn new() -> NetNs {
        let name = format!("relay-shell-test-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh("ip", &["netns", "add", &name]);
        let ns = NetNs { name };
        let dummy = Command::new("ip")
            .args(["-n", &ns.name, "link", "add", "rs0", "type", "dummy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !dummy {
            sh(
                "ip",
                &["-n", &ns.name, "link", "add", "rs0", "type", "bridge"],
            );
        }
        sh("ip", &["-n", &ns.name, "link", "set", "rs0", "up"]);
        ns
    }

    /// The interface's flags line, e.g. `… <BROADCAST,NOARP,UP,LOWER_UP> …`.
    pub fn link(&self) -> String {
        sh("ip", &["-n", &self.name, "-o", "link", "show", "rs0"])
    }

    /// A sysctl of the namespace (`net.*` sysctls are per namespace).
    pub fn sysctl(&self, key: &str) -> String {
        sh("ip", &["netns", "exec", &self.name, "sysctl", "-n", key])
            .trim()
            .to_string()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Whether `path` exists (without following a final symlink).
pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}
