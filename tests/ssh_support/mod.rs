//! Real OpenSSH servers for the SSH tests, on 127.0.0.1: a target and a jump host, with
//! generated host and user keys, a private known_hosts file and an ssh_config naming them.
//! One lab per test binary (started on first use); daemons run in the foreground as children
//! of a dedicated thread that lives as long as the process, with `PR_SET_PDEATHSIG`, so they
//! end with the test binary.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One running sshd.
pub struct Sshd {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its pid.
    pub pid: u32,
    /// Its log file.
    pub log: PathBuf,
    /// Its host public key (`ssh-ed25519 AAAA…`).
    pub host_pub: String,
}

/// The shared lab.
pub struct Lab {
    /// Scratch directory with keys, configs and logs.
    pub dir: PathBuf,
    /// The target daemon.
    pub target: Sshd,
    /// The jump daemon.
    pub jump: Sshd,
    /// ssh_config with the aliases `target`, `jumphost`, `behind`, `unknownkey`, `loopa`,
    /// `loopb`, `t01`…`t20`.
    pub ssh_config: PathBuf,
    /// The user key the daemons accept.
    pub key: PathBuf,
    /// A second accepted user key.
    pub key2: PathBuf,
    /// An accepted key that is protected by a passphrase.
    pub key_encrypted: PathBuf,
    /// A key no daemon accepts.
    pub key_unauthorized: PathBuf,
}

/// Install OpenSSH when missing (CI machines are fresh).
pub fn ensure_openssh() {
    if Path::new("/usr/sbin/sshd").exists() && which("ssh") && which("ssh-keyscan") {
        return;
    }
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    let ok = Command::new("apt-get")
        .args(["install", "-y", "-qq", "openssh-server", "openssh-client"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "openssh-server and openssh-client are needed (scripts/test.sh installs them)"
    );
}

fn which(p: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {p}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A free port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Generate an ed25519 key at `path` (with `passphrase`, "" = none).
pub fn keygen(path: &Path, passphrase: &str) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    let st = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            passphrase,
            "-C",
            "relay-shell-test",
            "-f",
        ])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
}

fn pub_of(key: &Path) -> String {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    std::fs::read_to_string(PathBuf::from(p))
        .expect("public key")
        .trim()
        .to_string()
}

/// A daemon to start, and where to send its pid.
type SpawnOrder = (Command, std::sync::mpsc::Sender<u32>);

/// Channel to the thread that owns the daemons (so they outlive each test's thread).
fn spawner() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<SpawnOrder>> {
    static TX: OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<SpawnOrder>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<SpawnOrder>();
        std::thread::spawn(move || {
            let mut children = Vec::new();
            for (mut cmd, reply) in rx {
                let child = cmd.spawn().expect("spawn sshd");
                let _ = reply.send(child.id());
                children.push(child);
                for c in children.iter_mut() {
                    let _ = c.try_wait();
                }
            }
            // The channel lives in a static: this loop only ends with the process.
        });
        std::sync::Mutex::new(tx)
    })
}

/// Start sshd on `port` with `host_key` in `dir` (files named after `name`); waits until it
/// answers with its banner. `SetEnv SHLVL=1` keeps the remote bash from sourcing the
/// machine's `~/.bashrc` for every command (Debian's bash does that for ssh sessions at
/// shell level 1), which would dominate every timing with whatever that file runs.
pub fn start_sshd(dir: &Path, name: &str, port: u16, host_key: &Path, authorized: &Path) -> Sshd {
    std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
    let conf = dir.join(format!("{name}.sshd_config"));
    let log = dir.join(format!("{name}.log"));
    std::fs::write(
        &conf,
        format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nPidFile {}/{name}.pid\n\
             AuthorizedKeysFile {}\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nAllowTcpForwarding yes\nPermitTTY yes\n\
             X11Forwarding no\nMaxSessions 64\nMaxStartups 100:30:200\nLogLevel VERBOSE\n\
             SetEnv SHLVL=1\nSubsystem sftp internal-sftp\n",
            host_key.display(),
            dir.display(),
            authorized.display()
        ),
    )
    .expect("sshd_config");
    let mut cmd = Command::new("/usr/sbin/sshd");
    cmd.args(["-D", "-e", "-f"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"));
    // SAFETY: prctl only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    spawner().lock().unwrap().send((cmd, tx)).unwrap();
    let pid = rx.recv().expect("sshd pid");
    let started = Instant::now();
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(2))).ok();
            let mut buf = [0u8; 7];
            if s.read_exact(&mut buf).is_ok() && &buf == b"SSH-2.0" {
                let _ = s.write_all(b"SSH-2.0-probe\r\n");
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "sshd on {port} did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut hp = host_key.as_os_str().to_owned();
    hp.push(".pub");
    let host_pub = std::fs::read_to_string(PathBuf::from(hp)).expect("host pub");
    let host_pub = host_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    Sshd {
        port,
        pid,
        log,
        host_pub,
    }
}

/// Stop a daemon started by [`start_sshd`] and wait until its port is closed.
pub fn stop_sshd(d: &Sshd) {
    // SAFETY: a signal to a daemon we started.
    unsafe {
        libc::kill(d.pid as i32, libc::SIGTERM);
    }
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", d.port)).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "sshd did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lab's directory, removed when the test binary exits.
static LAB_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_lab_dir() {
    if let Some(d) = LAB_DIR.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The lab, started on first use.
pub fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        ensure_openssh();
        let dir = tempfile::Builder::new()
            .prefix("rsh-lab")
            .tempdir()
            .expect("tempdir")
            .keep();
        let _ = LAB_DIR.set(dir.clone());
        // SAFETY: registers a plain function; it runs once at process exit.
        unsafe {
            libc::atexit(remove_lab_dir);
        }
        let d = dir.as_path();
        for (name, pass) in [
            ("host_target", ""),
            ("host_jump", ""),
            ("id_ed25519", ""),
            ("id2", ""),
            ("id_enc", "correct horse"),
            ("id_other", ""),
        ] {
            keygen(&d.join(name), pass);
        }
        let authorized = d.join("authorized_keys");
        std::fs::write(
            &authorized,
            format!(
                "{}\n{}\n{}\n",
                pub_of(&d.join("id_ed25519")),
                pub_of(&d.join("id2")),
                pub_of(&d.join("id_enc"))
            ),
        )
        .unwrap();
        let target = start_sshd(d, "target", free_port(), &d.join("host_target"), &authorized);
        let jump = start_sshd(d, "jump", free_port(), &d.join("host_jump"), &authorized);
        let kh = d.join("known_hosts");
        std::fs::write(
            &kh,
            format!(
                "[127.0.0.1]:{} {}\n[127.0.0.1]:{} {}\n",
                target.port, target.host_pub, jump.port, jump.host_pub
            ),
        )
        .unwrap();
        std::fs::write(d.join("empty_known_hosts"), "").unwrap();
        let key = d.join("id_ed25519");
        let common = format!(
            "  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n",
            key.display(),
            kh.display()
        );
        let mut cfg = format!(
            "Host target\n  HostName 127.0.0.1\n  Port {tp}\n{common}\
             Host jumphost\n  HostName 127.0.0.1\n  Port {jp}\n{common}\
             Host behind\n  HostName localhost\n  HostKeyAlias [127.0.0.1]:{tp}\n  Port {tp}\n  ProxyJump jumphost\n{common}\
             Host loopa\n  HostName 127.0.0.2\n  ProxyJump loopb\nHost loopb\n  HostName 127.0.0.3\n  ProxyJump loopa\n\
             Host unknownkey\n  HostName 127.0.0.1\n  Port {tp}\n  User root\n  IdentityFile {k}\n  IdentitiesOnly yes\n  UserKnownHostsFile {e}\n",
            tp = target.port,
            jp = jump.port,
            k = key.display(),
            e = d.join("empty_known_hosts").display(),
        );
        for i in 1..=20 {
            cfg.push_str(&format!(
                "Host t{i:02}\n  HostName 127.0.0.1\n  Port {}\n{common}",
                target.port
            ));
        }
        let ssh_config = d.join("ssh_config");
        std::fs::write(&ssh_config, cfg).unwrap();
        Lab {
            dir: dir.clone(),
            target,
            jump,
            ssh_config,
            key2: d.join("id2"),
            key_encrypted: d.join("id_enc"),
            key_unauthorized: d.join("id_other"),
            key,
        }
    })
}

/// Pids of `ssh` master processes (`-M`) whose command line mentions `under`.
pub fn masters(under: &Path) -> Vec<i32> {
    let needle = under.display().to_string();
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if !zombie
            && args.first().is_some_and(|a| a == "ssh")
            && args.iter().any(|a| a == "-M")
            && args.iter().any(|a| a.contains(&needle))
        {
            out.push(pid);
        }
    }
    out
}

/// Live processes whose command line contains `needle` (like `pgrep -f`).
pub fn pgrep(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        // Arguments are NUL-separated: match them joined by spaces, as `pgrep -f` does.
        if !zombie
            && String::from_utf8_lossy(&raw)
                .replace('\0', " ")
                .contains(needle)
        {
            out.push(pid);
        }
    }
    out
}

/// Poll `f` until it is true, at most `limit` (a readiness loop, not a timing assertion).
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if f() {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
