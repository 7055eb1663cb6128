//! `ssh_upload` and `ssh_download` end to end: the real binary, driven by rmcp's client,
//! against the test lab's OpenSSH server on 127.0.0.1 (its SFTP subsystem). The remote host
//! is this machine, so both sides are checked on the local file system: content hashes, modes,
//! the atomic rename (no partial file under a final name after a deadline, a cap, a full
//! disk), symbolic links, roots and the policy's view of the paths.

mod common;
mod ssh_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use ssh_support::{lab, wait_until};

async fn server(extra: &[(&str, &str)]) -> (common::Server, tempfile::TempDir) {
    let lab = lab();
    let xdg = tempfile::tempdir().expect("xdg");
    let cfg = lab.ssh_config.display().to_string();
    let xdg_s = xdg.path().display().to_string();
    let mut envs: Vec<(&str, &str)> = vec![
        ("RELAY_SHELL_SSH_CONFIG", &cfg),
        ("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict"),
        // These tests read exact results; the tier notice every transfer and forward gets
        // (tier 2: the tool changes state) is tested in src/notices.rs.
        ("RELAY_SHELL_UNSAFE_NOTICES", "false"),
        ("XDG_RUNTIME_DIR", &xdg_s),
    ];
    envs.extend_from_slice(extra);
    (common::start(&envs).await, xdg)
}

fn sha(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// Deterministic bytes of length `n`.
fn content(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

fn write(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every entry below `root`: relative path → (kind, mode, sha256 of files).
fn snapshot(root: &Path) -> Vec<(PathBuf, char, u32, String)> {
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if md.is_dir() {
                out.push((rel, 'd', md.mode() & 0o7777, String::new()));
                stack.push(p);
            } else if md.is_file() {
                out.push((rel, 'f', md.mode() & 0o7777, sha(&p)));
            } else {
                out.push((rel, 'l', 0, String::new()));
            }
        }
    }
    out.sort();
    out
}

/// Names in `dir` that look like our temporary files.
fn temporaries(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            } else if name.contains(".rsh-") && name.ends_with(".part") {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

fn last_record(s: &common::Server, tool: &str) -> serde_json::Value {
    s.completion_records()
        .into_iter()
        .rev()
        .find(|r| r["tool"] == tool)
        .expect("a record")
}

#[tokio::test]
async fn a_file_goes_up_and_comes_back_with_its_hash_and_mode() {
    let (s, _x) = server(&[]).await;
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let src = here.path().join("report.bin");
    write(&src, &content(3 * 1024 * 1024 + 17, 1), 0o640);
    let digest = sha(&src);
    // Into an existing remote directory: the file keeps its name.
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": src, "remote_path": there.path()}),
        )
        .await;
    let remote = there.path().join("report.bin");
    assert_eq!(
        out,
        format!(
            "uploaded {} -> target:{} (1 file, {} bytes, sha256 {digest})\nwritten to {}",
            src.display(),
            there.path().display(),
            3 * 1024 * 1024 + 17,
            remote.display()
        )
    );
    assert_eq!(sha(&remote), digest);
    assert_eq!(mode(&remote), 0o640);
    assert_eq!(
        std::fs::metadata(&remote).unwrap().mtime(),
        std::fs::metadata(&src).unwrap().mtime()
    );
    let rec = last_record(&s, "ssh_upload");
    assert_eq!(rec["tier"], 2);
    let keys: Vec<&str> = rec["args"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "host",
        "local",
        "remote",
        "recursive",
        "timeout",
        "user",
        "port",
        "key_path",
        "jump",
        "known_hosts",
        "files",
        "bytes",
        "sha256",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    assert_eq!(rec["args"]["files"], 1);
    assert_eq!(rec["args"]["bytes"], 3 * 1024 * 1024 + 17);
    assert_eq!(rec["args"]["sha256"], digest.as_str());
    assert_eq!(rec["args"]["timeout"], 600);

    // And back, to a new local name; mode 0600 this time.
    std::fs::set_permissions(&remote, std::fs::Permissions::from_mode(0o600)).unwrap();
    let back = here.path().join("back.bin");
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": remote, "local_path": back, "timeout": 30}),
        )
        .await;
    assert_eq!(
        out,
        format!(
            "downloaded target:{} -> {} (1 file, {} bytes, sha256 {digest})",
            remote.display(),
            back.display(),
            3 * 1024 * 1024 + 17
        )
    );
    assert_eq!(sha(&back), digest);
    assert_eq!(mode(&back), 0o600);
    let rec = last_record(&s, "ssh_download");
    assert_eq!(rec["args"]["timeout"], 30);
    assert_eq!(rec["args"]["sha256"], digest.as_str());
    // An empty file too.
    let empty = here.path().join("empty");
    write(&empty, b"", 0o644);
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": empty, "remote_path": there.path().join("e")}),
        )
        .await;
    assert!(out.contains("(1 file, 0 bytes, sha256 e3b0c442"), "{out}");
    assert_eq!(std::fs::read(there.path().join("e")).unwrap(), b"");
    assert!(temporaries(here.path()).is_empty() && temporaries(there.path()).is_empty());
    s.stop().await;
}

/// A tree with nested directories, several modes, a link inside the tree and links that
/// lead out of it.
fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    std::fs::create_dir(root.join("empty")).unwrap();
    write(&root.join("top.txt"), b"top\n", 0o644);
    write(&root.join("a/run.sh"), b"#!/bin/sh\necho hi\n", 0o755);
    write(&root.join("a/b/secret"), &content(70_000, 7), 0o600);
    for i in 0..40 {
        write(
            &root.join(format!("a/b/c/f{i:02}")),
            &content(i * 1000, i as u8),
            0o644,
        );
    }
    std::fs::set_permissions(root.join("a/b"), std::fs::Permissions::from_mode(0o750)).unwrap();
    symlink("../top.txt", root.join("a/inside")).unwrap();
    symlink("/etc/passwd", root.join("a/outside")).unwrap();
    symlink("/etc", root.join("etc-dir")).unwrap();
    symlink("../../..", root.join("a/b/up")).unwrap();
}

#[tokio::test]
async fn a_tree_goes_up_and_comes_back_without_following_links_out() {
    let (s, _x) = server(&[]).await;
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let src = here.path().join("tree");
    tree(&src);
    let dest = there.path().join("copy");
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": src, "remote_path": dest, "recursive": true}),
        )
        .await;
    // 43 regular files plus the in-tree link, sent as the file it names.
    let bytes: usize = 4 + 18 + 70_000 + (0..40).map(|i| i * 1000).sum::<usize>() + 4;
    assert_eq!(
        out,
        format!(
            "uploaded {} -> target:{} (44 files, {bytes} bytes)\n3 entries skipped (symbolic \
             links to directories or out of the tree, special files, unusable names are never \
             copied)",
            src.display(),
            dest.display()
        )
    );
    let expected: Vec<_> = snapshot(&src).into_iter().filter(|e| e.1 != 'l').collect();
    let got = snapshot(&dest);
    // Same files, same modes, same content; the in-tree link became a file; no link came.
    let mut want = expected.clone();
    want.push((
        PathBuf::from("a/inside"),
        'f',
        0o644,
        sha(&src.join("top.txt")),
    ));
    want.sort();
    assert_eq!(got, want);
    assert_eq!(mode(&dest), mode(&src));
    let rec = last_record(&s, "ssh_upload");
    assert_eq!(rec["args"]["files"], 44);
    assert_eq!(rec["args"]["sha256"], serde_json::Value::Null);

    // Down again into an existing directory: it lands under its own name.
    let back = here.path().join("back");
    std::fs::create_dir(&back).unwrap();
    // The remote copy gets a link out of the tree of its own.
    symlink("/etc/shadow", dest.join("a/b/shadow")).unwrap();
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": dest, "local_path": back, "recursive": true}),
        )
        .await;
    assert!(
        out.starts_with(&format!(
            "downloaded target:{} -> {} (44 files, {bytes} bytes)\nwritten to {}\n1 entry skipped",
            dest.display(),
            back.display(),
            back.join("copy").display()
        )),
        "{out}"
    );
    assert_eq!(snapshot(&back.join("copy")), want);
    assert!(!back.join("copy/a/b/shadow").exists());
    s.stop().await;
}

#[tokio::test]
async fn a_download_never_writes_through_a_local_link() {
    let (s, _x) = server(&[]).await;
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let src = there.path().join("t");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    write(&src.join("a.txt"), b"new\n", 0o644);
    write(&src.join("sub/b.txt"), b"b\n", 0o644);
    // The local tree exists already: a.txt is a link to a victim, sub a link to elsewhere.
    let victim = here.path().join("victim");
    write(&victim, b"keep\n", 0o644);
    let elsewhere = here.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let dest = here.path().join("t");
    std::fs::create_dir(&dest).unwrap();
    symlink(&victim, dest.join("a.txt")).unwrap();
    symlink(&elsewhere, dest.join("sub")).unwrap();
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": src, "local_path": here.path(), "recursive": true}),
        )
        .await;
    assert_eq!(
        out,
        format!(
            "[ERROR: PermissionDenied: local path {} is a symbolic link; transfers never follow \
             one there]",
            dest.join("sub").display()
        )
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep\n");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    // Without the directory link, the file link is replaced, not written through.
    std::fs::remove_file(dest.join("sub")).unwrap();
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": src, "local_path": here.path(), "recursive": true}),
        )
        .await;
    assert!(out.starts_with("downloaded"), "{out}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep\n");
    assert!(
        std::fs::symlink_metadata(dest.join("a.txt"))
            .unwrap()
            .is_file()
    );
    assert_eq!(std::fs::read(dest.join("a.txt")).unwrap(), b"new\n");
    // A single-file download whose local path is a link is refused.
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": src.join("a.txt"), "local_path": here.path().join("ln")}),
        )
        .await;
    assert!(out.starts_with("downloaded"), "{out}");
    symlink(&victim, here.path().join("ln2")).unwrap();
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": src.join("a.txt"), "local_path": here.path().join("ln2")}),
        )
        .await;
    assert!(
        out.starts_with("[ERROR: PermissionDenied: local path")
            && out.contains("is a symbolic link"),
        "{out}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep\n");
    s.stop().await;
}

/// A sparse file far larger than what moves in a second over loopback.
fn huge_sparse(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(200 * 1024 * 1024 * 1024).unwrap();
}

#[tokio::test]
async fn a_transfer_past_its_deadline_leaves_no_file_under_the_final_name() {
    let (s, _x) = server(&[("RELAY_SHELL_TRANSFER_MAX_BYTES", "1099511627776")]).await;
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let src = here.path().join("big");
    huge_sparse(&src);
    let dest = there.path().join("big");
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": src, "remote_path": dest, "timeout": 1}),
        )
        .await;
    assert!(
        out.starts_with("[TIMEOUT after 1s] outcome unknown")
            && out.contains(&format!(
                "; partial upload {} -> target:{} (0 of 1 files complete, ",
                src.display(),
                dest.display()
            )),
        "{out}"
    );
    assert!(!dest.exists());
    assert!(
        wait_until(Duration::from_secs(15), || temporaries(there.path())
            .is_empty()),
        "remote temporary left: {:?}",
        temporaries(there.path())
    );
    let rec = last_record(&s, "ssh_upload");
    assert_eq!(rec["args"]["files"], 0);
    assert_eq!(rec["exit_code"], serde_json::Value::Null);

    let remote = there.path().join("remote-big");
    huge_sparse(&remote);
    let back = here.path().join("back");
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": remote, "local_path": back, "timeout": 1}),
        )
        .await;
    assert!(
        out.starts_with("[TIMEOUT after 1s]") && out.contains("; partial download target:"),
        "{out}"
    );
    assert!(!back.exists());
    assert!(
        wait_until(Duration::from_secs(5), || temporaries(here.path())
            .is_empty()),
        "local temporary left: {:?}",
        temporaries(here.path())
    );
    s.stop().await;
}

#[tokio::test]
async fn the_size_cap_refuses_before_writing() {
    let (s, _x) = server(&[("RELAY_SHELL_TRANSFER_MAX_BYTES", "1000")]).await;
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let src = here.path().join("f");
    write(&src, &content(1001, 3), 0o644);
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": src, "remote_path": there.path().join("f")}),
        )
        .await;
    assert_eq!(
        out,
        "[ERROR: InvalidArgument: the transfer is 1001 bytes or more, over \
         RELAY_SHELL_TRANSFER_MAX_BYTES (1000)]"
    );
    assert_eq!(std::fs::read_dir(there.path()).unwrap().count(), 0);
    // A tree is measured as a whole.
    let t = here.path().join("t");
    std::fs::create_dir(&t).unwrap();
    write(&t.join("a"), &content(600, 1), 0o644);
    write(&t.join("b"), &content(600, 2), 0o644);
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": t, "local_path": there.path(), "recursive": true}),
        )
        .await;
    assert!(
        out.starts_with("[ERROR: InvalidArgument: the transfer is 1200 bytes or more"),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(there.path()).unwrap().count(), 0);
    s.stop().await;
}

#[tokio::test]
async fn bad_paths_are_clear_audited_errors() {
    let (s, _x) = server(&[]).await;
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    // A local directory where a file is expected.
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": here.path(), "remote_path": there.path().join("x")}),
        )
        .await;
    assert_eq!(
        out,
        format!(
            "[ERROR: InvalidArgument: local path {} is a directory; pass recursive=true to \
             upload a tree]",
            here.path().display()
        )
    );
    // A missing remote file.
    let missing = there.path().join("nope");
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": missing, "local_path": here.path().join("n")}),
        )
        .await;
    assert_eq!(
        out,
        format!(
            "[ERROR: NotFound: remote path {}: no such file or directory]",
            missing.display()
        )
    );
    assert!(!here.path().join("n").exists());
    // A missing local file.
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": here.path().join("gone"), "remote_path": there.path()}),
        )
        .await;
    assert!(out.starts_with("[ERROR: NotFound: local path"), "{out}");
    // A remote directory without recursive.
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": there.path(), "local_path": here.path()}),
        )
        .await;
    assert!(
        out.ends_with("is a directory; pass recursive=true to download a tree]"),
        "{out}"
    );
    // Empty and NUL paths never reach SSH.
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": "", "remote_path": "x"}),
        )
        .await;
    assert_eq!(out, "[ERROR: InvalidArgument: local path is empty]");
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": "a\u{0}b", "local_path": "x"}),
        )
        .await;
    assert_eq!(
        out,
        "[ERROR: InvalidArgument: remote path contains a NUL byte]"
    );
    // Every one of them is on record, none denied.
    let recs: Vec<_> = s
        .completion_records()
        .into_iter()
        .filter(|r| r["tool"] == "ssh_upload" || r["tool"] == "ssh_download")
        .collect();
    assert_eq!(recs.len(), 6);
    assert!(recs.iter().all(|r| r["denied"] == false && r["tier"] == 2));
    s.stop().await;
}

#[tokio::test]
async fn a_full_local_disk_fails_cleanly() {
    let (s, _x) = server(&[]).await;
    let here = tempfile::tempdir().unwrap();
    let small = here.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "mounting a 1 MiB tmpfs (the tests run as root)"
    );
    let there = tempfile::tempdir().unwrap();
    let src = there.path().join("big");
    write(&src, &content(4 * 1024 * 1024, 9), 0o644);
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": src, "local_path": small.join("big")}),
        )
        .await;
    let listing: Vec<_> = std::fs::read_dir(&small)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let _ = std::process::Command::new("umount").arg(&small).status();
    assert!(
        out.starts_with("[ERROR: Io: local disk full while writing"),
        "{out}"
    );
    assert!(listing.is_empty(), "left behind: {listing:?}");
    s.stop().await;
}

#[tokio::test]
async fn roots_confine_both_sides() {
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let local_root = here.path().join("root");
    std::fs::create_dir(&local_root).unwrap();
    write(&local_root.join("in.txt"), b"in\n", 0o644);
    write(&here.path().join("out.txt"), b"out\n", 0o644);
    symlink(here.path().join("out.txt"), local_root.join("escape")).unwrap();
    let lr = local_root.display().to_string();
    let rr = there.path().display().to_string();
    let (s, _x) = server(&[
        ("RELAY_SHELL_TRANSFER_LOCAL_ROOT", &lr),
        ("RELAY_SHELL_TRANSFER_REMOTE_ROOT", &rr),
    ])
    .await;
    // Relative paths start at the roots.
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": "in.txt", "remote_path": "copied.txt"}),
        )
        .await;
    assert!(
        out.starts_with("uploaded in.txt -> target:copied.txt"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(there.path().join("copied.txt")).unwrap(),
        b"in\n"
    );
    for (tool, local, remote, what, given, root) in [
        ("ssh_upload", "in.txt", "../x", "remote path", "../x", &rr),
        (
            "ssh_download",
            "x",
            "/etc/passwd",
            "remote path",
            "/etc/passwd",
            &rr,
        ),
        (
            "ssh_download",
            "../x",
            "copied.txt",
            "local path",
            "../x",
            &lr,
        ),
        (
            "ssh_upload",
            "/etc/passwd",
            "x",
            "local path",
            "/etc/passwd",
            &lr,
        ),
    ] {
        let out = s
            .call(
                tool,
                json!({"host": "target", "local_path": local, "remote_path": remote}),
            )
            .await;
        assert_eq!(
            out,
            format!("[ERROR: InvalidArgument: {what} {given} is outside the transfer root {root}]")
        );
    }
    // A link inside the root that leads out of it is refused too.
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": "escape", "remote_path": "e"}),
        )
        .await;
    assert!(
        out.starts_with("[ERROR: InvalidArgument: local path escape leads outside"),
        "{out}"
    );
    assert!(!there.path().join("e").exists());
    s.stop().await;
}

#[tokio::test]
async fn the_policy_judges_the_written_path() {
    let (s, _x) = server(&[("RELAY_SHELL_POLICY_MODE", "guarded")]).await;
    // Guarded mode refuses tier 2 without an allow rule; the tier says what was judged.
    let out = s
        .call(
            "ssh_download",
            json!({"host": "target", "remote_path": "/etc/hostname", "local_path": "/dev/sda"}),
        )
        .await;
    assert!(out.starts_with("[DENIED tier 3 (IRREVERSIBLE)"), "{out}");
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": "/etc/hostname", "remote_path": "x"}),
        )
        .await;
    assert!(out.starts_with("[DENIED tier 2 (STATEFUL)"), "{out}");
    s.stop().await;
    let (s, _x) = server(&[("RELAY_SHELL_POLICY_DENY", r"upload \S+ target:/root/\.ssh")]).await;
    let out = s
        .call(
            "ssh_upload",
            json!({"host": "target", "local_path": "/etc/hostname", "remote_path": "/root/.ssh/authorized_keys"}),
        )
        .await;
    assert!(out.starts_with("[DENIED tier 2"), "{out}");
    s.stop().await;
}
