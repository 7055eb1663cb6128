//! Each shipped deploy artefact checked by its own tool: `caddy validate` and `caddy fmt`,
//! `systemd-analyze verify` (which exits 0 on unknown keys, so any output fails) and
//! `systemd-analyze security`, `logrotate -d`, `rsyslogd -N1`, and the Vector file parsed as
//! YAML (Vector itself is not packaged for Debian).

mod deploy_support;

use std::path::Path;
use std::process::Command;

use deploy_support::{bin, deploy, output, texts, tool};

#[test]
fn the_caddyfile_validates_offline_and_is_formatted() {
    let home = tempfile::tempdir().expect("tempdir");
    let log = home.path().join("access.log").display().to_string();
    let caddy = || {
        let mut c = Command::new(tool("caddy"));
        c.env_clear()
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path())
            .env("RELAY_SHELL_EDGE_ACCESS_LOG", &log);
        c
    };
    let o = output(
        caddy()
            .args(["validate", "--adapter", "caddyfile", "--config"])
            .arg(deploy("Caddyfile")),
    );
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("Valid configuration"), "{out}");
    assert!(!err.contains("\"level\":\"warn\""), "caddy warned: {err}");
    // The same with operator values: two ranges, an IPv6 one among them.
    let o = output(
        caddy()
            .env("RELAY_SHELL_EDGE_DOMAIN", "relay.example.com")
            .env(
                "RELAY_SHELL_EDGE_CLIENT_CIDRS",
                "203.0.113.0/24 2001:db8::/32",
            )
            .args(["adapt", "--adapter", "caddyfile", "--config"])
            .arg(deploy("Caddyfile")),
    );
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains(r#""remote_ip":{"ranges":["203.0.113.0/24","2001:db8::/32"]}"#),
        "{out}"
    );
    assert!(out.contains(r#""flush_interval":-1"#), "{out}");
    // Without a value the edge admits loopback only (fails closed).
    let o = output(
        caddy()
            .args(["adapt", "--adapter", "caddyfile", "--config"])
            .arg(deploy("Caddyfile")),
    );
    let (out, _) = texts(&o);
    assert!(
        out.contains(r#""remote_ip":{"ranges":["127.0.0.1/32","::1/128"]}"#),
        "{out}"
    );
    let o = output(caddy().arg("fmt").arg(deploy("Caddyfile")));
    let formatted = String::from_utf8_lossy(&o.stdout);
    let shipped = std::fs::read_to_string(deploy("Caddyfile")).expect("Caddyfile");
    assert_eq!(
        formatted, shipped,
        "deploy/Caddyfile is not `caddy fmt` output"
    );
}

/// The unit and its drop-ins, copied into `dir` with ExecStart pointing at the built binary
/// (systemd-analyze checks that the program exists).
fn unit_copy(dir: &Path, scoped: bool) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(deploy("systemd/relay-shell.service")).expect("unit");
    assert!(unit.contains("\nExecStart=/usr/local/bin/relay-shell\n"));
    let unit = unit.replace(
        "\nExecStart=/usr/local/bin/relay-shell\n",
        &format!("\nExecStart={}\n", bin()),
    );
    let path = dir.join("relay-shell.service");
    std::fs::write(&path, unit).expect("write unit");
    let d = dir.join("relay-shell.service.d");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::copy(
        deploy("systemd/relay-shell.service.d/hardening.conf"),
        d.join("hardening.conf"),
    )
    .expect("copy");
    if scoped {
        std::fs::copy(
            deploy("systemd/relay-shell.service.d/scoped.conf"),
            d.join("scoped.conf"),
        )
        .expect("copy");
    }
    path
}

/// `man relay-shell` must resolve (Documentation=man:relay-shell(1)): a MANPATH holding the
/// generated page.
fn manpath(dir: &Path) -> std::path::PathBuf {
    let m = dir.join("man");
    std::fs::create_dir_all(m.join("man1")).expect("mkdir");
    let o = output(Command::new(bin()).arg("man"));
    std::fs::write(m.join("man1/relay-shell.1"), o.stdout).expect("write man");
    m
}

#[test]
fn systemd_analyze_verify_prints_nothing_for_the_unit_and_both_postures() {
    for scoped in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let unit = unit_copy(dir.path(), scoped);
        let o = output(
            Command::new(tool("systemd-analyze"))
                .env("MANPATH", manpath(dir.path()))
                .arg("verify")
                .arg(&unit),
        );
        let (out, err) = texts(&o);
        assert!(o.status.success(), "scoped={scoped}: {out}{err}");
        assert_eq!(out, "", "scoped={scoped}");
        assert_eq!(err, "", "scoped={scoped}");
    }
    // The check is able to fail: an unknown key is reported (with exit status 0).
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_copy(dir.path(), false);
    std::fs::write(
        dir.path().join("relay-shell.service.d/zz-typo.conf"),
        "[Service]\nProtectSytem=strict\n",
    )
    .expect("write");
    let o = output(
        Command::new(tool("systemd-analyze"))
            .env("MANPATH", manpath(dir.path()))
            .arg("verify")
            .arg(&unit),
    );
    let (_, err) = texts(&o);
    assert!(err.contains("Unknown key 'ProtectSytem'"), "{err}");
}

/// The "Overall exposure level" figure of `systemd-analyze security --offline=yes`.
fn exposure(unit: &Path) -> f64 {
    let o = output(
        Command::new(tool("systemd-analyze"))
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(unit),
    );
    let (out, err) = texts(&o);
    let line = out
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure figure: {out}{err}"));
    line.split(": ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable figure: {line}"))
}

#[test]
fn the_exposure_figures_are_the_documented_ones() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deployment.md"))
        .expect("docs/deployment.md");
    let dir = tempfile::tempdir().expect("tempdir");
    let default = exposure(&unit_copy(dir.path(), false));
    let dir = tempfile::tempdir().expect("tempdir");
    let scoped = exposure(&unit_copy(dir.path(), true));
    assert!(scoped < default, "{scoped} < {default}");
    for (what, figure) in [("default", default), ("scoped", scoped)] {
        let needle = format!("exposure ({what}): {figure:.1}");
        assert!(
            doc.contains(&needle),
            "docs/deployment.md should record `{needle}`"
        );
    }
}

#[test]
fn logrotate_accepts_the_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = std::fs::read_to_string(deploy("logrotate/relay-shell")).expect("logrotate");
    assert!(shipped.contains("\n\tcreate 0600\n"));
    assert!(
        !shipped.contains("\tcopytruncate"),
        "copytruncate loses lines"
    );
    // logrotate resolves the `su` user when it reads the file: the service account exists
    // on an installed host, not on a test machine, where root stands in for it.
    let exists = output(Command::new(tool("getent")).args(["passwd", "relay-shell"]))
        .status
        .success();
    let text = if exists {
        shipped.clone()
    } else {
        shipped.replace("\tsu relay-shell relay-shell\n", "\tsu root root\n")
    };
    let conf = dir.path().join("relay-shell");
    std::fs::write(&conf, text).expect("write");
    let o = output(
        Command::new(tool("logrotate"))
            .arg("-d")
            .arg("-s")
            .arg(dir.path().join("state"))
            .arg(&conf),
    );
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(!err.contains("error:"), "{err}");
    assert!(
        err.contains("rotating pattern: /var/log/relay-shell/audit.jsonl"),
        "{err}"
    );
}

#[test]
fn rsyslogd_validates_the_shipper_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("rsyslog.conf");
    std::fs::create_dir_all(dir.path().join("work")).expect("mkdir");
    std::fs::write(
        &main,
        format!(
            "global(workDirectory=\"{}\")\ninclude(file=\"{}\")\n",
            dir.path().join("work").display(),
            deploy("rsyslog/relay-shell.conf").display()
        ),
    )
    .expect("write");
    let o = output(
        Command::new(tool("rsyslogd"))
            .args(["-N1", "-f"])
            .arg(&main),
    );
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(err.contains("End of config validation run"), "{err}");
    assert!(!err.to_lowercase().contains("error"), "{err}");
    // A broken configuration fails: the check is able to fail.
    std::fs::write(
        &main,
        "module(load=\"imfile\")\ninput(type=\"imfile\" Bogus=\"x\")\n",
    )
    .expect("write");
    let o = output(
        Command::new(tool("rsyslogd"))
            .args(["-N1", "-f"])
            .arg(&main),
    );
    assert!(!o.status.success());
}

#[test]
fn the_vector_configuration_is_yaml_with_the_pass_through_pipeline() {
    let script = r#"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
src = d["sources"]["relay_shell_audit"]
assert src["type"] == "file", src
assert src["include"] == ["/var/log/relay-shell/audit.jsonl"], src
assert src["read_from"] == "beginning", src
sink = d["sinks"]["collector"]
assert sink["inputs"] == ["relay_shell_audit"], sink
assert sink["encoding"] == {"codec": "text"}, sink
assert sink["framing"] == {"method": "newline_delimited"}, sink
assert "transforms" not in d, "lines must pass through unchanged"
assert d["data_dir"], "checkpoints need a data_dir"
print("ok")
"#;
    let o = output(
        Command::new(tool("python3"))
            .arg("-c")
            .arg(script)
            .arg(deploy("vector/relay-shell.yaml")),
    );
    let (out, err) = texts(&o);
    assert_eq!(out, "ok\n", "{err}");
}
