//! Confinement as the operator sees and sets it, through the built binary: the `confinement`
//! field of records, `server_info`, `explain`, the guarded and open mappings, a kernel without
//! Landlock under `auto` and `require`, and the `sandbox` verb.

mod common;
mod confine_support;

use std::path::Path;
use std::process::Stdio;

use rmcp::ServiceExt;
use rmcp::model::ClientConfig;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

use common::Server;
use confine_support::{exists, kernel_enforces, refused, start};

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
    // (the v0.5 tier notice follows the result: it is not part of what the command printed)
    assert_eq!(
        r.split("\n[NOTICE ").next(),
        Some("[exit 0]\nNoNewPrivs:\t0\n")
    );
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
    // SAFETY: the hook runs in the forked child before exec and only makes two prctl calls
    // on a filter built before the fork.
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
