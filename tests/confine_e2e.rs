//! Readonly that the kernel keeps, end to end: the built binary in `readonly` mode admits a
//! command the classifier reads as tier 0, and the profile stops what it does.
//!
//! The write attempts run inside `git status` (tier 0: git's own status is read-only) through
//! the repository's `core.fsmonitor` hook, a program that git runs on every status. The
//! classifier cannot see it (it is in the repository's configuration, not in the command),
//! exactly the kind of hidden action the profiles exist for; every attempt prints a marker so
//! a hook that did not run fails the test instead of passing it.

mod common;
mod confine_support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use common::Server;
use confine_support::{
    NetNs, exists, hook_repo, is_root_or_skip, kernel_enforces, refused, sh, start, which,
};

/// Run `script` as the hook of `git -C <repo> status` through the server and return the
/// result, checking that the call was admitted at tier 0, ran read-only, and that the script
/// reached its end.
async fn attempt(s: &Server, tree: &Path, repo: &Path, name: &str, script: &str) -> String {
    std::fs::write(
        tree.join("case.sh"),
        format!("{script}\necho case-ran:{name}\n"),
    )
    .expect("write case");
    let r = s
        .call_full(
            "shell_exec",
            json!({"command": format!("git -C {} status", repo.display())}),
        )
        .await;
    let text = common::text(&r);
    let meta = r.structured_content.clone().unwrap_or_default();
    assert_eq!(meta["tier"], json!(0), "{name}: {text}");
    assert_eq!(meta["outcome"], json!("ok"), "{name}: {text}");
    assert!(
        text.contains(&format!("case-ran:{name}")),
        "{name}: hook did not run: {text}"
    );
    let last = s.completion_records().pop().expect("a record");
    assert_eq!(last["confinement"], json!("read-only"), "{name}");
    text
}

#[tokio::test]
async fn readonly_admits_and_the_kernel_refuses_each_write() {
    if !kernel_enforces("readonly_admits_and_the_kernel_refuses_each_write") {
        return;
    }
    let tree_dir = tempfile::tempdir().expect("tempdir");
    let tree = tree_dir.path();
    let home = tree.join("home");
    std::fs::create_dir_all(&home).expect("mkdir home");
    let repo = hook_repo(tree);
    let s = start(
        &[],
        &[
            ("RELAY_SHELL_POLICY_MODE", "readonly"),
            ("HOME", &home.display().to_string()),
        ],
    )
    .await;
    let t = tree.display();

    let out = attempt(
        &s,
        tree,
        &repo,
        "redirect",
        &format!("echo pwned > {t}/redir"),
    )
    .await;
    assert!(refused(&out) && !exists(&tree.join("redir")), "{out}");

    let out = attempt(
        &s,
        tree,
        &repo,
        "sed-w",
        &format!("sed -n 'w {t}/sedw' /etc/hostname"),
    )
    .await;
    assert!(refused(&out) && !exists(&tree.join("sedw")), "{out}");

    let out = attempt(
        &s,
        tree,
        &repo,
        "sort-o",
        &format!("sort -o {t}/sorted /etc/hostname"),
    )
    .await;
    assert!(refused(&out) && !exists(&tree.join("sorted")), "{out}");

    // tar runs the "decompressor" it is given, which writes a file.
    std::fs::write(tree.join("member"), "m").expect("write");
    sh(
        "tar",
        &["-C", &t.to_string(), "-cf", &format!("{t}/x.tar"), "member"],
    );
    std::fs::write(
        tree.join("decomp"),
        format!("#!/bin/sh\ntouch {t}/tar-pwned\ncat\n"),
    )
    .expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tree.join("decomp"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let out = attempt(
        &s,
        tree,
        &repo,
        "tar-I",
        &format!("tar -tf {t}/x.tar -I {t}/decomp"),
    )
    .await;
    assert!(refused(&out) && !exists(&tree.join("tar-pwned")), "{out}");

    let out = attempt(
        &s,
        tree,
        &repo,
        "history-w",
        // bash reports a failed `history -w` by its status only.
        &format!(
            "bash -c 'set -o history; history -s pwned; history -w {t}/hist'; \
             echo history-w exit $?"
        ),
    )
    .await;
    assert!(
        out.contains("history-w exit 1") && !exists(&tree.join("hist")),
        "{out}"
    );

    let victims = tree.join("victims");
    std::fs::create_dir_all(victims.join("sub")).expect("mkdir");
    std::fs::write(victims.join("f"), "f").expect("write");
    std::fs::write(victims.join("sub/g"), "g").expect("write");
    let out = attempt(
        &s,
        tree,
        &repo,
        "find-delete",
        &format!("find {t}/victims -delete"),
    )
    .await;
    assert!(refused(&out), "{out}");
    assert!(
        exists(&victims.join("f")) && exists(&victims.join("sub/g")),
        "{out}"
    );

    let mut sleeper = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .expect("sleep");
    let pid = sleeper.id();
    let out = attempt(&s, tree, &repo, "kill-9", &format!("kill -9 {pid}")).await;
    let alive = sleeper.try_wait().expect("try_wait").is_none();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(refused(&out) && alive, "{out}");

    let out = attempt(
        &s,
        tree,
        &repo,
        "git-config-global",
        "git config --global user.name pwned",
    )
    .await;
    assert!(refused(&out) && !exists(&home.join(".gitconfig")), "{out}");

    let out = attempt(
        &s,
        tree,
        &repo,
        "pip-config-set",
        "python3 -m pip config --user set global.timeout 5",
    )
    .await;
    assert!(!out.contains("No module named pip"), "pip is needed: {out}");
    assert!(refused(&out), "{out}");
    assert!(
        !exists(&home.join(".config/pip/pip.conf")) && !exists(&home.join(".pip")),
        "{out}"
    );

    if which("npm") {
        let out = attempt(
            &s,
            tree,
            &repo,
            "npm-config-set",
            "npm config set fund false",
        )
        .await;
        assert!(out.contains("EACCES") || refused(&out), "{out}");
        assert!(!exists(&home.join(".npmrc")), "{out}");
    }

    let mnt = tree.join("mnt");
    std::fs::create_dir_all(&mnt).expect("mkdir");
    let out = attempt(
        &s,
        tree,
        &repo,
        "mount",
        &format!("mount -t tmpfs none {t}/mnt"),
    )
    .await;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mounted = mounts.contains(&format!(" {} ", mnt.display()));
    if mounted {
        sh("umount", &[&mnt.display().to_string()]);
    }
    assert!(refused(&out) && !mounted, "{out}");
    s.stop().await;
}

/// The `UP` flag of an `ip -o link` line (`<BROADCAST,NOARP,UP,LOWER_UP>`).
fn is_up(link: &str) -> bool {
    link.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .is_some_and(|(flags, _)| flags.split(',').any(|f| f == "UP"))
}

#[tokio::test]
async fn readonly_cannot_reconfigure_the_network_namespace_it_runs_in() {
    let test = "readonly_cannot_reconfigure_the_network_namespace_it_runs_in";
    if !kernel_enforces(test) || !is_root_or_skip(test) {
        return;
    }
    let ns = NetNs::new();
    assert!(is_up(&ns.link()), "{}", ns.link());
    // The namespace's own sysctls are writable from outside the profile.
    sh(
        "ip",
        &[
            "netns",
            "exec",
            &ns.name,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=0",
        ],
    );
    assert_eq!(ns.sysctl("net.ipv4.ip_forward"), "0");

    let tree_dir = tempfile::tempdir().expect("tempdir");
    let tree = tree_dir.path();
    let repo = hook_repo(tree);
    let s = start(
        &["ip", "netns", "exec", &ns.name],
        &[("RELAY_SHELL_POLICY_MODE", "readonly")],
    )
    .await;
    let out = attempt(&s, tree, &repo, "ip-link-down", "ip link set rs0 down").await;
    assert!(refused(&out), "{out}");
    assert!(is_up(&ns.link()), "{}", ns.link());
    let out = attempt(
        &s,
        tree,
        &repo,
        "sysctl-w",
        "sysctl -w net.ipv4.ip_forward=1",
    )
    .await;
    assert!(refused(&out), "{out}");
    assert_eq!(ns.sysctl("net.ipv4.ip_forward"), "0");
    // A diagnostic in the same namespace still works.
    let r = s
        .call("shell_exec", json!({"command": "ip -o link show rs0"}))
        .await;
    assert!(r.starts_with("[exit 0]\n") && r.contains("rs0"), "{r}");
    s.stop().await;
}

#[tokio::test]
async fn a_readonly_pty_session_cannot_touch() {
    if !kernel_enforces("a_readonly_pty_session_cannot_touch") {
        return;
    }
    let tree_dir = tempfile::tempdir().expect("tempdir");
    let tree = tree_dir.path();
    let repo = hook_repo(tree);
    let target = tree.join("pty-touched");
    std::fs::write(
        tree.join("case.sh"),
        format!(
            "tty >/dev/null && echo on-a-terminal\ntouch {}\necho case-ran:pty\n",
            target.display()
        ),
    )
    .expect("write case");
    let s = start(&[], &[("RELAY_SHELL_POLICY_MODE", "readonly")]).await;
    let out = s
        .call(
            "shell_spawn",
            json!({"command": format!("git -C {} status", repo.display())}),
        )
        .await;
    let id = out
        .strip_prefix("session ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("spawned: {out}"))
        .to_string();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen.contains(&format!("[session {id} ended")) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ended: {seen}"
        );
        seen.push_str(
            &s.call("session_recv", json!({"session_id": id, "timeout": 1}))
                .await,
        );
    }
    assert!(
        seen.contains("on-a-terminal") && seen.contains("case-ran:pty"),
        "{seen}"
    );
    assert!(refused(&seen), "{seen}");
    assert!(!exists(&target));
    let spawn = s
        .completion_records()
        .into_iter()
        .find(|r| r["tool"] == "shell_spawn")
        .expect("spawn record");
    assert_eq!(spawn["confinement"], json!("read-only"));
    // A session is tier 1 by its nature; readonly admits a read-only one the kernel confines.
    assert_eq!(spawn["tier"], json!(1));
    s.stop().await;
}

#[tokio::test]
async fn everyday_diagnostics_still_work_read_only() {
    if !kernel_enforces("everyday_diagnostics_still_work_read_only") {
        return;
    }
    let tree_dir = tempfile::tempdir().expect("tempdir");
    let tree = tree_dir.path();
    let repo = hook_repo(tree);
    std::fs::write(tree.join("case.sh"), "true").expect("write case");
    let needle = format!("relay-shell-needle-{}", std::process::id());
    std::fs::write(tree.join(&needle), "").expect("write");
    let s = start(&[], &[("RELAY_SHELL_POLICY_MODE", "readonly")]).await;
    let run = |cmd: String| {
        let s = &s;
        async move {
            s.call("shell_exec", json!({"command": cmd, "max_output": 1 << 20}))
                .await
        }
    };
    let r = run("ps aux".into()).await;
    assert!(
        r.starts_with("[exit 0]\nUSER ") && r.contains("ps aux"),
        "{r}"
    );
    let r = run("df -h".into()).await;
    assert!(r.starts_with("[exit 0]\nFilesystem "), "{r}");
    let r = run("cat /etc/os-release".into()).await;
    assert!(r.starts_with("[exit 0]\n") && r.contains("ID="), "{r}");
    let r = run("ss -tlnp".into()).await;
    assert!(r.starts_with("[exit 0]\nState "), "{r}");
    let r = run("ip addr".into()).await;
    assert!(r.starts_with("[exit 0]\n1: lo:"), "{r}");
    let r = run(format!("git -C {} log --format=%s", repo.display())).await;
    assert_eq!(r, "[exit 0]\none\n");
    if which("journalctl") {
        let r = run("journalctl -n 1 --no-pager".into()).await;
        assert!(r.starts_with("[exit 0]\n"), "{r}");
    }
    // find exits 1 when some directory was unreadable (as it does unconfined here: /proc).
    // It starts at / but descends only as deep as the needle lies: a whole-filesystem walk
    // over a CI machine's build trees outran the 60 s command timeout.
    let depth = tree.join(&needle).components().count() - 1;
    let r = run(format!(
        "find / -maxdepth {depth} -name {needle} 2>/dev/null"
    ))
    .await;
    let expected = format!("{}\n", tree.join(&needle).display());
    assert!(
        r == format!("[exit 0]\n{expected}") || r == format!("[exit 1]\n{expected}"),
        "{r}"
    );
    // 200,000 lines with a 64 KiB buffer: sort spills into temporary files in $TMPDIR.
    let r = run("seq 200000 | sort -rn -S 64K | head -1".into()).await;
    assert_eq!(r, "[exit 0]\n200000\n");
    for rec in s.completion_records() {
        assert_eq!(
            (rec["tier"].clone(), rec["denied"].clone()),
            (json!(0), json!(false))
        );
        assert_eq!(rec["confinement"], json!("read-only"), "{rec}");
    }
    s.stop().await;
}
