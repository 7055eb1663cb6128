//! Shared by the confinement tests: does this kernel enforce the profiles (asked directly,
//! not through the code under test), a server started with any prefix and variables, a
//! repository whose hook runs what a test wants, and a network namespace to attack.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rmcp::ServiceExt;
use rmcp::model::ClientConfig;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};

use crate::common::{self, Server};

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

/// Start the binary (optionally through a prefix such as `ip netns exec NS`) with `envs`.
pub async fn start(prefix: &[&str], envs: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl");
    let mut argv: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    argv.push(common::bin().to_string());
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let audit_s = audit.display().to_string();
    let cmd = tokio::process::Command::new(&argv[0]).configure(|c| {
        c.args(&argv[1..])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
            )
            .env("LANG", "C.UTF-8")
            .env("RELAY_SHELL_LOG", "warn")
            .env("RELAY_SHELL_AUDIT_PATH", &audit_s);
        for (k, v) in &envs {
            c.env(k, v);
        }
    });
    let transport = TokioChildProcess::new(cmd).expect("spawn relay-shell");
    let client = ClientConfig::default()
        .serve(transport)
        .await
        .expect("MCP initialize");
    Server { client, dir, audit }
}

/// A repository whose `core.fsmonitor` hook runs `<tree>/case.sh` with its output on stderr.
pub fn hook_repo(tree: &Path) -> PathBuf {
    let repo = tree.join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let r = repo.display().to_string();
    sh("git", &["-C", &r, "init", "-q"]);
    std::fs::write(repo.join("a"), "a\n").expect("write");
    sh("git", &["-C", &r, "add", "a"]);
    sh(
        "git",
        &[
            "-C",
            &r,
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "user.name=t",
            "commit",
            "-qm",
            "one",
        ],
    );
    let hook = repo.join(".git/hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nexec 1>&2\n. {}/case.sh\nexit 1\n",
            tree.display()
        ),
    )
    .expect("write hook");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    sh(
        "git",
        &[
            "-C",
            &r,
            "config",
            "core.fsmonitor",
            &hook.display().to_string(),
        ],
    );
    repo
}

/// Whether `text` shows the kernel's refusal (EACCES or EPERM, as each tool words it).
pub fn refused(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("permission denied") || t.contains("operation not permitted")
}

/// Whether `program` is on `PATH`.
pub fn which(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
