//! `--verify-deploy`, `deploy/install.sh`, and the man page and completions generated from the
//! command line: exact reports for matching, drifted, missing and absent templates; the
//! installer's dry run, install and idempotence into a temporary root.

mod deploy_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use deploy_support::{bin, deploy, output, repo, texts, tool};

const REQUIRED: &[(&str, &str)] = &[
    (
        "systemd/relay-shell.service",
        "etc/systemd/system/relay-shell.service",
    ),
    (
        "systemd/relay-shell.service.d/hardening.conf",
        "etc/systemd/system/relay-shell.service.d/hardening.conf",
    ),
    ("logrotate/relay-shell", "etc/logrotate.d/relay-shell"),
];

/// Lay the required templates out under `root` as an install would (the Caddyfile with the
/// installer's marker line).
fn install_required(root: &Path) {
    for (template, installed) in REQUIRED {
        let dest = root.join(installed);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::copy(deploy(template), &dest).expect("copy");
    }
    let caddy = root.join("etc/caddy/Caddyfile");
    std::fs::create_dir_all(caddy.parent().expect("parent")).expect("mkdir");
    let body = std::fs::read_to_string(deploy("Caddyfile")).expect("Caddyfile");
    std::fs::write(
        &caddy,
        format!("# relay-shell:install-edge:managed\n\n{body}"),
    )
    .expect("write Caddyfile");
}

fn verify_deploy(args: &[&str]) -> (i32, String, String) {
    let o = output(
        Command::new(bin())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .arg("--verify-deploy")
            .args(args),
    );
    let (out, err) = texts(&o);
    (o.status.code().unwrap_or(-1), out, err)
}

#[test]
fn verify_deploy_passes_when_every_required_file_matches() {
    let root = tempfile::tempdir().expect("tempdir");
    install_required(root.path());
    let p = root.path().display().to_string();
    let (code, out, err) = verify_deploy(&["--install-prefix", &p]);
    assert_eq!(err, "relay-shell: verify-deploy OK\n");
    assert_eq!(
        out,
        format!(
            "systemd-unit       OK               {p}/etc/systemd/system/relay-shell.service\n\
             systemd-hardening  OK               {p}/etc/systemd/system/relay-shell.service.d/hardening.conf\n\
             logrotate          OK               {p}/etc/logrotate.d/relay-shell\n\
             caddyfile          OK               {p}/etc/caddy/Caddyfile\n\
             systemd-scoped     NOT_INSTALLED    {p}/etc/systemd/system/relay-shell.service.d/scoped.conf  (optional; not installed)\n\
             rsyslog            NOT_INSTALLED    {p}/etc/rsyslog.d/30-relay-shell.conf  (optional; not installed)\n\
             vector             NOT_INSTALLED    {p}/etc/vector/relay-shell.yaml  (optional; not installed)\n"
        )
    );
    assert_eq!(code, 0);
    // The same against the repository's templates read from disk.
    let d = repo().join("deploy").display().to_string();
    let (code, _, err) = verify_deploy(&["--install-prefix", &p, "--templates-dir", &d]);
    assert_eq!((code, err.as_str()), (0, "relay-shell: verify-deploy OK\n"));
}

#[test]
fn verify_deploy_reports_drift_missing_and_optional_drift_exactly() {
    let root = tempfile::tempdir().expect("tempdir");
    install_required(root.path());
    let p = root.path().display().to_string();
    // An operator weakened one line of the hardening drop-in…
    let hardening = root
        .path()
        .join("etc/systemd/system/relay-shell.service.d/hardening.conf");
    let text = std::fs::read_to_string(&hardening).expect("read");
    let line = text
        .lines()
        .position(|l| l == "LockPersonality=yes")
        .expect("directive")
        + 1;
    std::fs::write(
        &hardening,
        text.replace("LockPersonality=yes", "LockPersonality=no"),
    )
    .expect("write");
    // …removed logrotate's file, and edited an optional one that is installed.
    std::fs::remove_file(root.path().join("etc/logrotate.d/relay-shell")).expect("rm");
    let scoped = root
        .path()
        .join("etc/systemd/system/relay-shell.service.d/scoped.conf");
    std::fs::write(&scoped, "[Service]\n").expect("write");
    // A marker glued to other text is not the installer's marker.
    let caddy = root.path().join("etc/caddy/Caddyfile");
    let body = std::fs::read_to_string(deploy("Caddyfile")).expect("Caddyfile");
    std::fs::write(
        &caddy,
        format!("# relay-shell:install-edge:managed-ish\n{body}"),
    )
    .expect("write");

    let (code, out, err) = verify_deploy(&["--install-prefix", &p]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "relay-shell: verify-deploy FAILED (drift=3, missing=1, absent_template=0)\n"
    );
    assert_eq!(
        out,
        format!(
            "systemd-unit       OK               {p}/etc/systemd/system/relay-shell.service\n\
             systemd-hardening  DRIFT            {p}/etc/systemd/system/relay-shell.service.d/hardening.conf  (deployed content does not match template; first difference at line {line})\n\
             logrotate          MISSING          {p}/etc/logrotate.d/relay-shell  ({p}/etc/logrotate.d/relay-shell does not exist)\n\
             caddyfile          DRIFT            {p}/etc/caddy/Caddyfile  (deployed content does not match template; first difference at line 1)\n\
             systemd-scoped     DRIFT            {p}/etc/systemd/system/relay-shell.service.d/scoped.conf  (deployed content does not match template; first difference at line 1)\n\
             rsyslog            NOT_INSTALLED    {p}/etc/rsyslog.d/30-relay-shell.conf  (optional; not installed)\n\
             vector             NOT_INSTALLED    {p}/etc/vector/relay-shell.yaml  (optional; not installed)\n"
        )
    );

    let (code, out, _) = verify_deploy(&["--install-prefix", &p, "--json"]);
    assert_eq!(code, 2);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert!(
        out.starts_with("{\n  \"ok\": false,\n  \"findings\": [\n    {\n"),
        "{out}"
    );
    assert_eq!(doc["ok"], false);
    let f = &doc["findings"][2];
    assert_eq!(
        f,
        &serde_json::json!({
            "name": "logrotate",
            "template": "<built-in>/logrotate/relay-shell",
            "install_path": format!("{p}/etc/logrotate.d/relay-shell"),
            "status": "MISSING",
            "detail": format!("{p}/etc/logrotate.d/relay-shell does not exist"),
        })
    );
    assert_eq!(doc["findings"][0]["detail"], "");
    assert_eq!(doc["findings"].as_array().map(Vec::len), Some(7));
}

#[test]
fn verify_deploy_without_templates_reports_each_as_absent() {
    let empty = tempfile::tempdir().expect("tempdir");
    let root = tempfile::tempdir().expect("tempdir");
    install_required(root.path());
    let t = empty.path().display().to_string();
    let p = root.path().display().to_string();
    let (code, out, err) = verify_deploy(&["--templates-dir", &t, "--install-prefix", &p]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "relay-shell: verify-deploy FAILED (drift=0, missing=0, absent_template=7)\n"
    );
    let first = out.lines().next().expect("a line");
    assert_eq!(
        first,
        format!(
            "systemd-unit       ABSENT_TEMPLATE  {p}/etc/systemd/system/relay-shell.service  (template file {t}/systemd/relay-shell.service not found)"
        )
    );
    assert_eq!(out.lines().count(), 7);
    // The template flags need --verify-deploy.
    let o = output(Command::new(bin()).args(["--templates-dir", &t]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_man_page_and_completions_come_from_the_command_line() {
    let o = output(Command::new(bin()).arg("man"));
    assert!(o.status.success());
    let man = String::from_utf8(o.stdout).expect("utf-8");
    assert!(man.contains(".TH relay-shell 1"), "{man}");
    for flag in [
        "verify\\-deploy",
        "install\\-prefix",
        "policy\\-mode",
        "RELAY_SHELL_POLICY_MODE",
        "audit\\-path",
    ] {
        assert!(man.contains(flag), "{flag} missing from the man page");
    }
    // man itself renders it.
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("relay-shell.1");
    std::fs::write(&page, &man).expect("write");
    let o = output(
        Command::new(tool("man"))
            .args(["-l", "-P", "cat"])
            .arg(&page)
            .env("MANWIDTH", "100"),
    );
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("--verify-deploy"), "{out}");

    for (shell, needle) in [
        ("bash", "--verify-deploy"),
        ("zsh", "--verify-deploy"),
        ("fish", "verify-deploy"),
        ("elvish", "--verify-deploy"),
        ("powershell", "--verify-deploy"),
    ] {
        let o = output(Command::new(bin()).args(["completions", shell]));
        assert!(o.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains(needle), "{shell}: {text}");
        assert!(text.contains("completions"), "{shell} completes the verbs");
    }
    // bash parses the bash script.
    let o = output(Command::new(tool("bash")).arg("-c").arg(format!(
        "source <({} completions bash) && complete -p relay-shell",
        bin()
    )));
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("relay-shell"), "{out}");
    // No configuration is read: an invalid variable does not stop them.
    let o = output(
        Command::new(bin())
            .arg("man")
            .env("RELAY_SHELL_MAX_OUTPUT", "12"),
    );
    assert!(o.status.success());
}

fn install_sh(args: &[&str]) -> (i32, String, String) {
    let o = output(
        Command::new(tool("bash"))
            .arg(deploy("install.sh"))
            .args(["--binary", bin()])
            .args(args),
    );
    let (out, err) = texts(&o);
    (o.status.code().unwrap_or(-1), out, err)
}

/// Every file under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).expect("prefix").display().to_string();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

#[test]
fn install_sh_dry_run_installs_nothing_and_a_second_run_changes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let p = root.path().display().to_string();
    let edge = [
        "--install-prefix",
        &p,
        "--scoped",
        "--edge",
        "relay.example.com",
        "203.0.113.0/24 2001:db8::/32",
    ];
    let with = |extra: &[&str]| {
        let mut v: Vec<&str> = edge.to_vec();
        v.extend_from_slice(extra);
        install_sh(&v)
    };

    let (code, out, err) = with(&["--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(tree(root.path()).is_empty(), "a dry run wrote files");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "skip account relay-shell (--install-prefix)");
    assert!(lines.contains(&"would install /etc/systemd/system/relay-shell.service"));
    assert!(lines.contains(&"would create /etc/relay-shell/relay-shell.env"));
    assert!(lines.contains(&"would install /etc/caddy/Caddyfile"));
    assert_eq!(
        lines.last(),
        Some(&"skip systemctl (not starting the service)")
    );

    let (code, first, err) = with(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(!first.contains("would "), "{first}");
    let r = root.path();
    assert_eq!(mode(&r.join("var/lib/relay-shell")), 0o700);
    assert_eq!(mode(&r.join("var/log/relay-shell")), 0o700);
    assert_eq!(mode(&r.join("var/lib/relay-shell/tokens")), 0o600);
    assert_eq!(mode(&r.join("etc/relay-shell/relay-shell.env")), 0o600);
    assert_eq!(mode(&r.join("usr/local/bin/relay-shell")), 0o755);
    // The environment file never sets the transport (an EnvironmentFile= value would
    // override the unit's).
    let env = std::fs::read_to_string(r.join("etc/relay-shell/relay-shell.env")).expect("env");
    assert!(
        !env.lines().any(|l| l.starts_with("RELAY_SHELL_TRANSPORT")),
        "{env}"
    );
    let edge_env = std::fs::read_to_string(r.join("etc/relay-shell/edge.env")).expect("edge");
    assert!(edge_env.contains("RELAY_SHELL_EDGE_CLIENT_CIDRS=\"203.0.113.0/24 2001:db8::/32\"\n"));
    assert!(
        std::fs::read_to_string(r.join("usr/local/share/man/man1/relay-shell.1"))
            .expect("man")
            .contains(".TH relay-shell 1")
    );
    // What was installed is what --verify-deploy expects, the scoped drop-in included.
    let (code, out, verr) = verify_deploy(&["--install-prefix", &p]);
    assert_eq!(
        (code, verr.as_str()),
        (0, "relay-shell: verify-deploy OK\n"),
        "{out}"
    );
    assert!(out.contains("systemd-scoped     OK "), "{out}");

    // The operator edits the environment file; a second run keeps it and changes nothing.
    std::fs::write(
        r.join("etc/relay-shell/relay-shell.env"),
        "RELAY_SHELL_POLICY_MODE=guarded\n",
    )
    .expect("edit env");
    let before: Vec<(String, std::time::SystemTime)> = tree(r)
        .into_iter()
        .map(|f| {
            let m = std::fs::metadata(r.join(&f)).expect("stat");
            (f, m.modified().expect("mtime"))
        })
        .collect();
    let (code, second, err) = with(&[]);
    assert_eq!(code, 0, "{err}");
    for line in second.lines() {
        assert!(
            line.starts_with("unchanged ")
                || line.starts_with("kept ")
                || line.starts_with("skip "),
            "second run changed something: {line}\n{second}"
        );
    }
    let after: Vec<(String, std::time::SystemTime)> = tree(r)
        .into_iter()
        .map(|f| {
            let m = std::fs::metadata(r.join(&f)).expect("stat");
            (f, m.modified().expect("mtime"))
        })
        .collect();
    assert_eq!(before, after);
    assert_eq!(
        std::fs::read_to_string(r.join("etc/relay-shell/relay-shell.env")).expect("env"),
        "RELAY_SHELL_POLICY_MODE=guarded\n"
    );
}

#[test]
fn install_sh_warns_about_an_environment_file_that_sets_the_transport() {
    let root = tempfile::tempdir().expect("tempdir");
    let p = root.path().display().to_string();
    let env = root.path().join("etc/relay-shell/relay-shell.env");
    std::fs::create_dir_all(env.parent().expect("parent")).expect("mkdir");
    std::fs::write(&env, "RELAY_SHELL_TRANSPORT=stdio\n").expect("write");
    let (code, _, err) = install_sh(&["--install-prefix", &p]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        "warning: /etc/relay-shell/relay-shell.env sets RELAY_SHELL_TRANSPORT, overriding the unit's transport (http); remove that line unless you mean it\n"
    );
    // Bad arguments are refused before anything is done.
    for bad in [
        vec!["--edge", "relay.example.com", "not-a-range"],
        vec!["--edge", "two words", "10.0.0.0/8"],
        vec!["--edge", "relay.example.com {", "10.0.0.0/8"],
        vec!["--edge", "relay.example.com", ""],
        vec!["--edge", "relay.example.com", "   "],
        // Caddy substitutes the value before parsing: a brace or a newline would add
        // directives to the edge.
        vec!["--edge", "relay.example.com", "10.0.0.0/8}"],
        vec!["--edge", "relay.example.com", "10.0.0.0/8\nrespond 200"],
        vec!["--edge", "relay.example.com", "0.0.0.0/0 {$HOME}/1"],
        vec!["--edge", "-rf", "10.0.0.0/8"],
        vec!["--binary"],
        vec!["--bogus"],
    ] {
        let mut args = vec!["--install-prefix", p.as_str()];
        args.extend(bad.iter().copied());
        let (code, out, err) = install_sh(&args);
        assert_eq!(code, 2, "{bad:?}: {out}");
        assert!(err.starts_with("install.sh: "), "{err}");
        assert!(out.is_empty(), "{out}");
    }
}

#[test]
fn verify_deploy_reads_odd_install_paths_safely() {
    let root = tempfile::tempdir().expect("tempdir");
    install_required(root.path());
    let p = root.path().display().to_string();
    let r = root.path();
    // A directory where a file should be, and bytes that are not UTF-8.
    let unit = r.join("etc/systemd/system/relay-shell.service");
    std::fs::remove_file(&unit).expect("rm");
    std::fs::create_dir(&unit).expect("mkdir");
    std::fs::write(r.join("etc/logrotate.d/relay-shell"), b"\xff\xfe\n").expect("write");
    // A symlink to identical content is what it points to.
    let real = r.join("hardening.real");
    let hardening = r.join("etc/systemd/system/relay-shell.service.d/hardening.conf");
    std::fs::rename(&hardening, &real).expect("mv");
    std::os::unix::fs::symlink(&real, &hardening).expect("symlink");
    let (code, out, err) = verify_deploy(&["--install-prefix", &p]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "relay-shell: verify-deploy FAILED (drift=1, missing=1, absent_template=0)\n"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "systemd-unit       MISSING          {p}/etc/systemd/system/relay-shell.service  (could not read: Is a directory (os error 21))"
        )
    );
    assert!(lines[1].starts_with("systemd-hardening  OK "), "{out}");
    assert!(lines[2].starts_with("logrotate          DRIFT "), "{out}");
}

#[test]
fn shell_scripts_are_shellcheck_clean() {
    let o = output(Command::new(tool("shellcheck")).current_dir(repo()).args([
        "deploy/install.sh",
        "scripts/test.sh",
        "scripts/conformance.sh",
        ".ci/run",
    ]));
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(out, "");
}
