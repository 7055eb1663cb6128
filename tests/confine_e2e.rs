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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::ClientConfig;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

use common::Server;
use confine_support::{NetNs, exists, is_root_or_skip, kernel_enforces, sh};

/// Start the binary (optionally through a prefix such as `ip netns exec NS`) with `envs`.
async fn start(prefix: &[&str], envs: &[(&str, &str)]) -> Server {
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
fn hook_repo(tree: &Path) -> PathBuf {
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

/// Whether `text` shows the kernel's refusal (EACCES or EPERM, as each tool words it).
fn refused(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("permission denied") || t.contains("operation not permitted")
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

fn which(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
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
        async move { s.call("shell_exec", json!({"command": cmd})).await }
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
    let r = run(format!("find / -name {needle} 2>/dev/null")).await;
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

#[tokio::test]
async fn records_server_info_and_explain_show_the_profile() {
    if !kernel_enforces("records_server_info_and_explain_show_the_profile") {
        return;
    }
    let s = start(&[], &[("RELAY_SHELL_POLICY_MODE", "readonly")]).await;
    let info: Value = serde_json::from_str(&s.call("server_info", json!({})).await).expect("json");
    let c = &info["confinement"];
    assert_eq!(c["setting"], json!("auto"));
    assert_eq!(
        c["landlock_abi"],
        json!(confine_support::landlock_abi().expect("abi"))
    );
    assert_eq!(c["missing"], json!([]));
    assert_eq!(c["warning"], json!(""));
    assert_eq!(c["readonly_network"], json!("any"));
    let enforced: Vec<&str> = c["enforced"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for part in [
        "landlock filesystem",
        "landlock signal and abstract-socket scopes",
        "seccomp",
        "capabilities",
        "no_new_privs",
    ] {
        assert!(enforced.contains(&part), "{part} in {enforced:?}");
    }
    let r = s.call("shell_exec", json!({"command": "true"})).await;
    assert_eq!(r, "[exit 0]\n");
    let r = s.call("shell_exec", json!({"command": "touch x"})).await;
    assert!(r.starts_with("[DENIED tier 1"), "{r}");
    let records = s.audit_records();
    let find = |pred: &dyn Fn(&Value) -> bool| {
        records
            .iter()
            .find(|r| pred(r))
            .map(|r| r["confinement"].clone())
    };
    let completion = |r: &Value| r.get("event").is_none();
    assert_eq!(
        find(&|r| r["tool"] == "server_info" && completion(r)),
        Some(json!("none"))
    );
    assert_eq!(
        find(&|r| r["tool"] == "shell_exec" && !completion(r)),
        Some(json!("read-only"))
    );
    assert_eq!(
        find(&|r| r["tool"] == "shell_exec" && completion(r) && r["denied"] == false),
        Some(json!("read-only"))
    );
    assert_eq!(
        find(&|r| r["tool"] == "shell_exec" && r["denied"] == true),
        Some(json!("none")),
        "a refused call ran nothing"
    );
    // The field comes last, after every field the record had before.
    let last = records.last().expect("records");
    let keys: Vec<&String> = last.as_object().expect("object").keys().collect();
    let raw = std::fs::read_to_string(&s.audit).expect("audit");
    let line = raw.lines().last().expect("line");
    assert!(
        line.contains("\"duration_ms\": ")
            && line.find("\"duration_ms\"") < line.find("\"confinement\""),
        "{line}"
    );
    assert!(keys.contains(&&"confinement".to_string()));
    s.stop().await;

    let explain = |args: &[&str], envs: &[(&str, &str)]| {
        let out = common::command(envs)
            .arg("explain")
            .args(args)
            .output()
            .expect("explain");
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        v["confinement"].clone()
    };
    assert_eq!(
        explain(&["--mode", "readonly", "ls"], &[]),
        json!("read-only")
    );
    assert_eq!(
        explain(&["--mode", "guarded", "touch /tmp/x"], &[]),
        json!("reversible")
    );
    assert_eq!(explain(&["--mode", "open", "ls"], &[]), json!("none"));
    assert_eq!(
        explain(
            &["--mode", "open", "ls"],
            &[("RELAY_SHELL_CONFINE", "always")]
        ),
        json!("read-only")
    );
    assert_eq!(
        explain(&["--mode", "readonly", "rm -rf /"], &[]),
        json!("none")
    );
    assert_eq!(
        explain(&["--tool", "server_info", "--mode", "readonly", ""], &[]),
        json!("none")
    );
}

#[tokio::test]
async fn guarded_maps_tiers_to_profiles_and_allowed_commands_run_free() {
    if !kernel_enforces("guarded_maps_tiers_to_profiles_and_allowed_commands_run_free") {
        return;
    }
    let tree_dir = tempfile::tempdir().expect("tempdir");
    let tree = tree_dir.path();
    let roots = tree.join("roots");
    let cwd = tree.join("cwd");
    std::fs::create_dir_all(&roots).expect("mkdir");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let s = start(
        &[],
        &[
            ("RELAY_SHELL_POLICY_MODE", "guarded"),
            ("RELAY_SHELL_POLICY_ALLOW", "kill -0 "),
            ("RELAY_SHELL_WRITABLE_ROOTS", &roots.display().to_string()),
        ],
    )
    .await;
    let status = "grep -E '^NoNewPrivs:' /proc/self/status";
    let r = s.call("shell_exec", json!({"command": status})).await;
    assert_eq!(r, "[exit 0]\nNoNewPrivs:\t1\n");
    // Tier 1: writes under a writable root and the working directory, nowhere else.
    let cmd = format!(
        "touch {0}/in-root; touch in-cwd; touch {1}/outside",
        roots.display(),
        tree.display()
    );
    let r = s
        .call(
            "shell_exec",
            json!({"command": cmd, "cwd": cwd.display().to_string()}),
        )
        .await;
    assert!(r.starts_with("[exit 1]\n") && refused(&r), "{r}");
    assert!(exists(&roots.join("in-root")) && exists(&cwd.join("in-cwd")));
    assert!(!exists(&tree.join("outside")));
    // Tier 2 admitted by the operator's allow rule: unconfined.
    let r = s
        .call(
            "shell_exec",
            json!({"command": format!("kill -0 $$; {status}")}),
        )
        .await;
    assert_eq!(r, "[exit 0]\nNoNewPrivs:\t0\n");
    let labels: Vec<Value> = s
        .completion_records()
        .iter()
        .map(|r| r["confinement"].clone())
        .collect();
    assert_eq!(
        labels,
        [json!("read-only"), json!("reversible"), json!("none")]
    );
    s.stop().await;
}

#[tokio::test]
async fn open_mode_runs_unconfined_unless_always() {
    if !kernel_enforces("open_mode_runs_unconfined_unless_always") {
        return;
    }
    let status = json!({"command": "grep -E '^NoNewPrivs:' /proc/self/status"});
    let s = start(&[], &[]).await;
    assert_eq!(
        s.call("shell_exec", status.clone()).await,
        "[exit 0]\nNoNewPrivs:\t0\n"
    );
    s.stop().await;
    let s = start(&[], &[("RELAY_SHELL_CONFINE", "always")]).await;
    assert_eq!(
        s.call("shell_exec", status.clone()).await,
        "[exit 0]\nNoNewPrivs:\t1\n"
    );
    s.stop().await;
    let s = start(
        &[],
        &[
            ("RELAY_SHELL_POLICY_MODE", "readonly"),
            ("RELAY_SHELL_CONFINE", "off"),
        ],
    )
    .await;
    assert_eq!(
        s.call("shell_exec", status).await,
        "[exit 0]\nNoNewPrivs:\t0\n"
    );
    assert_eq!(s.completion_records()[0]["confinement"], json!("none"));
    s.stop().await;
}

/// Install, in the child before exec, a seccomp filter that makes `landlock_create_ruleset`
/// fail with `ENOSYS`: to the server, a kernel built without Landlock.
fn without_landlock(cmd: &mut tokio::process::Command) {
    // SAFETY: prctl and seccomp system calls on a filter built before the fork.
    let filter: Vec<libc::sock_filter> = {
        let ld = |k| libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k,
        };
        let jeq = |k, jt, jf| libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt,
            jf,
            k,
        };
        let ret = |k| libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k,
        };
        vec![
            ld(0),
            jeq(libc::SYS_landlock_create_ruleset as u32, 0, 1),
            ret(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
            ret(libc::SECCOMP_RET_ALLOW),
        ]
    };
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[tokio::test]
async fn without_landlock_auto_warns_and_require_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl");
    let base = |confine: &str| {
        let mut c = tokio::process::Command::new(common::bin());
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RELAY_SHELL_LOG", "warn")
            .env("RELAY_SHELL_AUDIT_PATH", &audit)
            .env("RELAY_SHELL_POLICY_MODE", "readonly")
            .env("RELAY_SHELL_CONFINE", confine);
        without_landlock(&mut c);
        c
    };

    // require: refuses to start, saying why.
    let out = base("require").output().await.expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "relay-shell: invalid configuration: RELAY_SHELL_CONFINE=require but this kernel \
             cannot enforce the profiles (no landlock: landlock_create_ruleset: Function not \
             implemented (os error 38))"
        ),
        "{stderr}"
    );

    // auto: serves, warns at start, in server_info and in every record.
    let (transport, stderr) = TokioChildProcess::builder(base("auto"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let client = ClientConfig::default()
        .serve(transport)
        .await
        .expect("initialize");
    let s = Server { client, dir, audit };
    let info: Value = serde_json::from_str(&s.call("server_info", json!({})).await).expect("json");
    assert_eq!(info["confinement"]["landlock_abi"], json!(0));
    assert_eq!(info["confinement"]["missing"], json!(["no landlock"]));
    let warning = info["confinement"]["warning"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        warning.starts_with("confinement is partial on this kernel (no landlock"),
        "{warning}"
    );
    // The rest of the profile still applies.
    let r = s
        .call(
            "shell_exec",
            json!({"command": "grep -E '^NoNewPrivs:' /proc/self/status"}),
        )
        .await;
    assert_eq!(r, "[exit 0]\nNoNewPrivs:\t1\n");
    let labels: Vec<Value> = s
        .audit_records()
        .iter()
        .map(|r| r["confinement"].clone())
        .collect();
    assert_eq!(
        labels,
        [
            json!("none"),
            json!("read-only (partial: no landlock)"),
            json!("read-only (partial: no landlock)")
        ]
    );
    s.stop().await;
    let mut logged = String::new();
    if let Some(mut e) = stderr {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut logged).await;
    }
    assert!(logged.contains(&warning), "{logged}");
}

#[tokio::test]
async fn the_sandbox_verb_runs_a_command_under_a_profile() {
    if !kernel_enforces("the_sandbox_verb_runs_a_command_under_a_profile") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("x");
    let t = target.display().to_string();
    let out = common::command(&[])
        .args(["sandbox", "--profile", "read-only", "--", "touch", &t])
        .output()
        .expect("sandbox");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("relay-shell: sandbox: touch under read-only"),
        "{stderr}"
    );
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(!exists(&target));

    let roots = dir.path().display().to_string();
    let out = common::command(&[("RELAY_SHELL_WRITABLE_ROOTS", &roots)])
        .args(["sandbox", "--profile", "reversible", "--", "touch", &t])
        .output()
        .expect("sandbox");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(exists(&target));

    let out = common::command(&[])
        .args(["sandbox", "--", "sh", "-c", "echo $TMPDIR; kill -9 $$"])
        .output()
        .expect("sandbox");
    assert_eq!(out.status.code(), Some(128 + 9));
    let scratch = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        scratch.contains("relay-shell-") && !exists(Path::new(&scratch)),
        "{scratch}"
    );

    let out = common::command(&[])
        .args(["sandbox", "--profile", "jail", "--", "true"])
        .output()
        .expect("sandbox");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "relay-shell: sandbox: --profile jail (expected read-only, reversible or none)\n"
    );
    let out = common::command(&[])
        .args(["sandbox", "--", "no-such-program-relay-shell"])
        .output()
        .expect("sandbox");
    assert_eq!(out.status.code(), Some(127));
}
