//! `exec::run` with confined children (the `confine::launch` path): the whole exec suite
//! again (`exec_support/cases.rs`) under the reversible profile, whose default writable roots
//! hold the suite's temporary files, then what the read-only profile promises.

mod common;
mod confine_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use relay_shell::confine::{Confinement, Confiner, Network, Profile, Setting};
use relay_shell::exec::{ExecOutcome, ExecRequest, Program, run};

use confine_support::{exists, kernel_enforces};

/// A confiner of its own for each request: dropped with the request, it removes the scratch
/// directories it kept ready (a static one would leave them behind).
fn confiner(network: Network) -> Arc<Confiner> {
    Arc::new(Confiner::new(Setting::Auto, network, Vec::new()))
}

/// Children of the shared suite run under the reversible profile.
fn confinement() -> Option<Confinement> {
    Some(Confinement {
        profile: Profile::Reversible,
        confiner: confiner(Network::Any),
    })
}

#[path = "exec_support/cases.rs"]
mod cases;

fn read_only(text: &str, network: Network) -> ExecRequest {
    ExecRequest {
        program: Program::Shell(text.to_string()),
        cwd: None,
        stdin: None,
        env: Vec::new(),
        timeout: Duration::from_secs(30),
        capture_limit: 1 << 20,
        merge_stderr: true,
        confinement: Some(Confinement {
            profile: Profile::ReadOnly,
            confiner: confiner(network),
        }),
    }
}

async fn text_of(req: ExecRequest) -> (String, Option<i32>) {
    let out: ExecOutcome = run(req).await.expect("runs");
    (
        String::from_utf8_lossy(&out.output).into_owned(),
        out.exit_code,
    )
}

#[tokio::test]
async fn read_only_writes_only_its_scratch_directory_which_goes_away() {
    if !kernel_enforces("read_only_writes_only_its_scratch_directory_which_goes_away") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("f");
    let (out, code) = text_of(read_only(
        &format!(
            "echo x > {0} || echo refused; echo kept > \"$TMPDIR/s\" && cat \"$TMPDIR/s\"; \
             stat -c %a \"$TMPDIR\"; echo \"$TMPDIR\"",
            target.display()
        ),
        Network::Any,
    ))
    .await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(code, Some(0), "{out}");
    assert!(lines[0].ends_with("Permission denied"), "{out}");
    assert_eq!(&lines[1..4], ["refused", "kept", "700"], "{out}");
    assert!(!exists(&target));
    let scratch = Path::new(lines[4]);
    assert!(scratch.starts_with(std::env::temp_dir()), "{out}");
    // Removed off the call's path, by the pool's thread, right after the call.
    let mut waited = 0;
    while exists(scratch) && waited < 3000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert!(
        !exists(scratch),
        "the scratch directory is removed after the call"
    );
}

#[tokio::test]
async fn read_only_children_hold_no_privileges() {
    if !kernel_enforces("read_only_children_hold_no_privileges") {
        return;
    }
    let (out, code) = text_of(read_only(
        "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status",
        Network::Any,
    ))
    .await;
    assert_eq!(code, Some(0), "{out}");
    // Root keeps CAP_DAC_READ_SEARCH (2) and CAP_SYSLOG (34), nothing else, in any set.
    let kept = if nix::unistd::geteuid().is_root() {
        "0000000400000004"
    } else {
        "0000000000000000"
    };
    let fields: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    let get = |k: &str| {
        fields
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("CapInh"), Some("0000000000000000"), "{out}");
    assert_eq!(get("CapAmb"), Some("0000000000000000"), "{out}");
    assert_eq!(get("CapPrm"), Some(kept), "{out}");
    assert_eq!(get("CapEff"), Some(kept), "{out}");
    if nix::unistd::geteuid().is_root() {
        assert_eq!(get("CapBnd"), Some(kept), "{out}");
    }
    assert_eq!(get("NoNewPrivs"), Some("1"), "{out}");
    assert_eq!(get("Seccomp"), Some("2"), "{out}");
}

#[tokio::test]
async fn read_only_refuses_metadata_changes_and_host_calls() {
    if !kernel_enforces("read_only_refuses_metadata_changes_and_host_calls") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("f");
    std::fs::write(&file, "x").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let before = std::fs::metadata(&file).expect("stat");
    let (out, _) = text_of(read_only(
        &format!(
            "f={}; chmod 666 $f; echo chmod=$?; touch -d 2001-01-01 $f; echo touch=$?; \
             renice -n 5 -p $PPID >/dev/null; echo renice=$?; \
             hostname relay-shell-test; echo hostname=$?",
            file.display()
        ),
        Network::Any,
    ))
    .await;
    for expected in ["chmod=1", "touch=1", "renice=1", "hostname=1"] {
        assert!(out.lines().any(|l| l == expected), "{expected} in {out}");
    }
    let after = std::fs::metadata(&file).expect("stat");
    assert_eq!(after.permissions().mode() & 0o777, 0o600);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(after.mtime(), before.mtime());
}

#[tokio::test]
async fn network_none_keeps_unix_and_netlink_only() {
    if !kernel_enforces("network_none_keeps_unix_and_netlink_only") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let probe = format!(
        "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}))' 2>&1 \
         | tail -1 && echo tcp=tried; \
         ip -o link show lo >/dev/null && echo netlink=ok; \
         python3 -c 'import socket; socket.socket(socket.AF_UNIX).close(); print(\"unix=ok\")'"
    );
    let (out, _) = text_of(read_only(&probe, Network::Any)).await;
    assert!(out.starts_with("tcp=tried"), "connected: {out}");
    let (out, _) = text_of(read_only(&probe, Network::None)).await;
    assert!(
        out.starts_with("PermissionError: [Errno 1] Operation not permitted\ntcp=tried"),
        "{out}"
    );
    assert!(out.contains("netlink=ok"), "{out}");
    assert!(out.contains("unix=ok"), "{out}");
}

#[tokio::test]
async fn read_only_cannot_listen_on_tcp() {
    if !kernel_enforces("read_only_cannot_listen_on_tcp") {
        return;
    }
    let (out, _) = text_of(read_only(
        "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(\"bound\")' \
         2>&1 | tail -1",
        Network::Any,
    ))
    .await;
    assert_eq!(
        out.trim(),
        "PermissionError: [Errno 13] Permission denied",
        "{out}"
    );
}

#[tokio::test]
async fn root_still_reads_what_it_does_not_own() {
    if !kernel_enforces("root_still_reads_what_it_does_not_own")
        || !confine_support::is_root_or_skip("root_still_reads_what_it_does_not_own")
    {
        return;
    }
    // CAP_DAC_READ_SEARCH is kept: a root diagnostic reads a service's private file.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("secret.conf");
    std::fs::write(&file, "listen 8080\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).expect("chown");
    let mut req = read_only("cat secret.conf", Network::Any);
    req.cwd = Some(dir.path().to_path_buf());
    assert_eq!(text_of(req).await, ("listen 8080\n".to_string(), Some(0)));
}
