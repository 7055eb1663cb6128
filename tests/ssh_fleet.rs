//! Host-key policies, policy on destination hosts, bad input, and the fleet tools (fan-out,
//! check, keyscan, inventory, resources), against real OpenSSH daemons on 127.0.0.1.

mod common;
mod ssh_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::json;
use ssh_support::{keygen, lab, masters, start_sshd, stop_sshd, wait_until};

async fn server_with(cfg: &Path, extra: &[(&str, &str)]) -> (common::Server, tempfile::TempDir) {
    let xdg = tempfile::tempdir().expect("xdg");
    let cfg = cfg.display().to_string();
    let xdg_s = xdg.path().display().to_string();
    let mut envs: Vec<(&str, &str)> = vec![
        ("RELAY_SHELL_SSH_CONFIG", &cfg),
        ("RELAY_SHELL_SSH_KNOWN_HOSTS", "strict"),
        ("XDG_RUNTIME_DIR", &xdg_s),
    ];
    envs.extend_from_slice(extra);
    (common::start(&envs).await, xdg)
}

async fn server(extra: &[(&str, &str)]) -> (common::Server, tempfile::TempDir) {
    server_with(&lab().ssh_config, extra).await
}

#[tokio::test]
async fn strict_refuses_a_host_missing_from_its_known_hosts_file() {
    let lab = lab();
    let (s, x) = server(&[]).await;
    let out = s
        .call("ssh_exec", json!({"host": "unknownkey", "command": "true"}))
        .await;
    let want = format!(
        "[ERROR: HostKeyNotVerifiable: no host key for [127.0.0.1]:{} is in the known_hosts file",
        lab.target.port
    );
    assert!(out.starts_with(&want), "{out}");
    assert!(masters(x.path()).is_empty());
    // ignore connects and records nothing.
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "unknownkey", "known_hosts": "ignore", "command": "echo in"}),
        )
        .await;
    // ... and says so after the result (v0.5's per-call SSH notice).
    assert_eq!(
        out,
        "[exit 0]\nin\n\n[NOTICE ssh: host-key verification is off (known_hosts=ignore); the peer is not authenticated and the connection can be intercepted]"
    );
    assert_eq!(
        std::fs::read_to_string(lab.dir.join("empty_known_hosts")).unwrap(),
        ""
    );
    let recs = s.completion_records();
    assert_eq!(recs.last().unwrap()["args"]["known_hosts"], "ignore");
    s.stop().await;
    // An operator can forbid weakening the default per call.
    let (s, _x) = server(&[("RELAY_SHELL_SSH_ALLOW_WEAKER_KNOWN_HOSTS", "false")]).await;
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "unknownkey", "known_hosts": "ignore", "command": "true"}),
        )
        .await;
    assert!(
        out.starts_with(
            "[ERROR: InvalidArgument: known_hosts=ignore would weaken the server default 'strict'"
        ),
        "{out}"
    );
    s.stop().await;
}

fn fingerprint(pub_key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pub_key)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn accept_new_records_a_key_then_refuses_a_changed_one() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = ssh_support::free_port();
    keygen(&d.join("host_a"), "");
    let daemon = start_sshd(
        d,
        "tofu",
        port,
        &d.join("host_a"),
        &lab.dir.join("authorized_keys"),
    );
    let kh = d.join("tofu_known_hosts");
    let cfg = d.join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host tofu\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {}\n",
            lab.key.display(),
            kh.display()
        ),
    )
    .unwrap();
    let (s, _x) = server_with(&cfg, &[("RELAY_SHELL_SSH_KNOWN_HOSTS", "accept-new")]).await;
    let out = s
        .call("ssh_exec", json!({"host": "tofu", "command": "echo first"}))
        .await;
    assert_eq!(out, "[exit 0]\nfirst\n");
    let recorded = std::fs::read_to_string(&kh).unwrap();
    let key_a = std::fs::read_to_string(d.join("host_a.pub")).unwrap();
    let b64_a = key_a.split_whitespace().nth(1).unwrap();
    assert_eq!(recorded.lines().count(), 1, "{recorded}");
    assert!(recorded.contains(b64_a), "{recorded}");
    // Recorded under `[host]:port` (the file may hash host names, so ask ssh-keygen).
    let found = Command::new("ssh-keygen")
        .args(["-F", &format!("[127.0.0.1]:{port}"), "-f"])
        .arg(&kh)
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "no [127.0.0.1]:{port} entry: {recorded}"
    );
    s.stop().await;

    // Same port, new host key: a man in the middle as far as the client can tell.
    stop_sshd(&daemon);
    keygen(&d.join("host_b"), "");
    let _daemon = start_sshd(
        d,
        "tofu",
        port,
        &d.join("host_b"),
        &lab.dir.join("authorized_keys"),
    );
    let (s, x) = server_with(&cfg, &[("RELAY_SHELL_SSH_KNOWN_HOSTS", "accept-new")]).await;
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "tofu", "command": "echo second"}),
        )
        .await;
    assert!(
        out.starts_with(&format!(
            "[ERROR: HostKeyNotVerifiable: the host key of [127.0.0.1]:{port} has changed: the server offered {}",
            fingerprint(&d.join("host_b.pub"))
        )),
        "{out}"
    );
    assert!(out.contains("known_hosts=accept-new"), "{out}");
    assert!(masters(x.path()).is_empty());
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        recorded,
        "known_hosts changed"
    );
    s.stop().await;
}

#[tokio::test]
async fn deny_rules_see_every_spelling_of_the_destination() {
    let (s, x) = server(&[("RELAY_SHELL_POLICY_DENY", r"127\.0\.0\.1")]).await;
    for host in ["2130706433", "root@0x7f000001", "127.1:22", "target"] {
        let out = s
            .call("ssh_exec", json!({"host": host, "command": "true"}))
            .await;
        assert!(
            out.starts_with("[DENIED tier 0 (READ_ONLY): matched RELAY_SHELL_POLICY_DENY]"),
            "{host}: {out}"
        );
    }
    // A jump hop is a destination too: its spellings reach the regexes.
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "example.invalid", "jump": "root@2130706433:22", "command": "true"}),
        )
        .await;
    assert!(
        out.starts_with("[DENIED tier 0 (READ_ONLY): matched RELAY_SHELL_POLICY_DENY]"),
        "{out}"
    );
    // With no hosts, the fleet tools list every inventory host in the probe.
    let out = s.call("ssh_fanout", json!({"command": "true"})).await;
    assert!(out.starts_with("[DENIED"), "{out}");
    let out = s.call("ssh_check", json!({})).await;
    assert!(out.starts_with("[DENIED"), "{out}");
    assert!(masters(x.path()).is_empty());
    let recs = s.completion_records();
    assert!(recs.iter().all(|r| r["denied"] == true));
    s.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_runs() {
    let lab = lab();
    let (s, x) = server(&[]).await;
    let pwned = tempfile::tempdir().unwrap();
    let p = pwned.path().join("pwned");
    let ps = p.display().to_string();
    let cases = [
        json!({"host": format!("-oProxyCommand=touch {ps}"), "command": "true"}),
        json!({"host": format!("-oProxyCommand=touch${{IFS}}{ps}"), "command": "true"}),
        json!({"host": "web 01", "command": "true"}),
        json!({"host": format!("x;touch {ps}"), "command": "true"}),
        json!({"host": format!("$(touch {ps})"), "command": "true"}),
        json!({"host": "target", "user": format!("-oProxyCommand=touch {ps}"), "command": "true"}),
        json!({"host": "target", "jump": format!("-oProxyCommand=touch {ps}"), "command": "true"}),
        json!({"host": "target", "port": 70000, "command": "true"}),
        json!({"host": "target", "known_hosts": "trust-me", "command": "true"}),
    ];
    for args in cases {
        let out = s.call("ssh_exec", args.clone()).await;
        assert!(
            out.starts_with("[ERROR: InvalidArgument: "),
            "{args}: {out}"
        );
    }
    let out = s
        .call(
            "ssh_spawn",
            json!({"host": format!("-oProxyCommand=touch {ps}")}),
        )
        .await;
    assert!(
        out.starts_with("[ERROR: InvalidArgument: invalid ssh host"),
        "{out}"
    );
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "key_path": "/nonexistent/id", "command": "true"}),
        )
        .await;
    assert!(
        out.starts_with("[ERROR: NotFound: identity file /nonexistent/id cannot be read"),
        "{out}"
    );
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "jump": "jumphost,jumphost", "command": "true"}),
        )
        .await;
    assert!(out.contains("loops"), "{out}");
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "jump": "target", "command": "true"}),
        )
        .await;
    assert!(out.contains("loops"), "{out}");
    let out = s
        .call("ssh_exec", json!({"host": "loopa", "command": "true"}))
        .await;
    assert!(
        out.starts_with("[ERROR: InvalidArgument: ssh jump chain for loopa loops"),
        "{out}"
    );
    assert!(!p.exists(), "a host string reached a shell");
    assert!(masters(x.path()).is_empty(), "bad input started a master");
    // Unknown alias: ssh resolves it as a name, and says so.
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "no-such-alias.invalid", "command": "true"}),
        )
        .await;
    assert!(
        out.starts_with("[ERROR: ConnectionFailed: ") && out.contains("no-such-alias.invalid"),
        "{out}"
    );
    // No prompt is ever possible: an encrypted key or a key the server refuses fails at once.
    for key in [&lab.key_encrypted, &lab.key_unauthorized] {
        let out = s
            .call(
                "ssh_exec",
                json!({"host": "127.0.0.1", "port": lab.target.port, "user": "root",
                       "known_hosts": "ignore", "key_path": key.display().to_string(), "command": "true"}),
            )
            .await;
        assert!(out.starts_with("[ERROR: AuthenticationFailed: "), "{out}");
        if key == &lab.key_encrypted {
            assert!(out.contains("is protected by a passphrase"), "{out}");
        }
    }
    // Every one of them is audited.
    let recs = s.completion_records();
    assert_eq!(recs.iter().filter(|r| r["tool"] == "ssh_exec").count(), 16);
    s.stop().await;
}

/// A host that times out keeps what it wrote before the deadline, after the timeout text (as
/// `ssh_exec` does).
#[tokio::test]
async fn fanout_timeout_keeps_the_output_read_before_the_deadline() {
    let (s, _x) = server(&[]).await;
    let out = s
        .call(
            "ssh_fanout",
            json!({"command": "echo early-$((6*7)); sleep 30", "hosts": "target", "timeout": 2}),
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let r = &v["results"][0];
    assert_eq!(r["exit_code"], serde_json::Value::Null, "{out}");
    let o = r["output"].as_str().unwrap_or_default();
    assert!(
        o.starts_with("[TIMEOUT after 2s] outcome unknown: the remote side may still be running"),
        "{o}"
    );
    assert!(o.ends_with("retrying a mutation\nearly-42\n"), "{o}");
    s.stop().await;
}

#[tokio::test]
async fn fanout_reports_each_host_and_stays_valid_json() {
    let (s, _x) = server(&[]).await;
    let out = s
        .call(
            "ssh_fanout",
            json!({"command": "echo ok-$((6*7))", "hosts": "target, behind 127.0.0.1:1", "timeout": 10}),
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["host_count"], 3);
    assert_eq!(v["concurrency"], 8);
    let r = v["results"].as_array().unwrap();
    assert_eq!(
        r[0],
        json!({"host": "target", "exit_code": 0, "output": "ok-42\n"})
    );
    assert_eq!(
        r[1],
        json!({"host": "behind", "exit_code": 0, "output": "ok-42\n"})
    );
    assert_eq!(r[2]["host"], "127.0.0.1:1");
    assert_eq!(r[2]["exit_code"], serde_json::Value::Null);
    let o = r[2]["output"].as_str().unwrap();
    assert!(
        o.starts_with("[UNREACHABLE: ConnectionFailed: ") && o.contains("refused"),
        "{o}"
    );
    s.stop().await;

    let (s, _x) = server(&[("RELAY_SHELL_MAX_OUTPUT", "1024")]).await;
    let noisy = "for i in $(seq 400); do printf '\\001é\"\\\\%s\\n' $i; done";
    let out = s
        .call(
            "ssh_fanout",
            json!({"command": noisy, "hosts": "t01,t02,t03,t04,t05", "concurrency": 3}),
        )
        .await;
    assert!(out.len() <= 1024, "{} bytes", out.len());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["host_count"], 5);
    let shown = v["results"].as_array().unwrap().len() as u64;
    assert_eq!(
        shown
            + v.get("results_omitted")
                .and_then(|o| o.as_u64())
                .unwrap_or(0),
        5
    );
    assert_eq!(v["results"][0]["exit_code"], 0);
    s.stop().await;
}

#[tokio::test]
async fn check_keyscan_and_hosts() {
    let lab = lab();
    let (s, _x) = server(&[]).await;
    let out = s
        .call(
            "ssh_check",
            json!({"hosts": "target,127.0.0.1:1", "timeout": 5}),
        )
        .await;
    assert_eq!(
        out,
        "target: ok\n127.0.0.1:1: UNREACHABLE (ConnectionFailed)"
    );
    let out = s
        .call(
            "ssh_keyscan",
            json!({"hosts": "127.0.0.1", "port": lab.target.port, "key_types": "ed25519", "timeout": 5}),
        )
        .await;
    assert!(out.starts_with("[exit 0]\n"), "{out}");
    let b64 = lab.target.host_pub.split_whitespace().nth(1).unwrap();
    assert!(
        out.contains(&format!(
            "[127.0.0.1]:{} ssh-ed25519 {b64}",
            lab.target.port
        )),
        "{out}"
    );
    let out = s
        .call("ssh_keyscan", json!({"hosts": "-oProxyCommand=x"}))
        .await;
    assert!(
        out.starts_with("[ERROR: InvalidArgument: rejected host"),
        "{out}"
    );
    let out = s.call("ssh_keyscan", json!({"hosts": ""})).await;
    assert_eq!(out, "[no hosts; pass hosts=<host>[,<host>...]]");
    let hosts: serde_json::Value =
        serde_json::from_str(&s.call("ssh_hosts", json!({})).await).unwrap();
    let names: Vec<&str> = hosts
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert!(
        names.starts_with(&["behind", "jumphost", "loopa", "loopb", "t01"]),
        "{names:?}"
    );
    assert_eq!(hosts[0]["source"], "ssh_config");
    assert_eq!(hosts[0]["jump"], "jumphost");
    s.stop().await;
}

#[tokio::test]
async fn inventory_reloads_and_resources_are_audited_reads() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.json");
    let entry = |name: &str| {
        json!({name: {"hostname": "127.0.0.1", "port": lab.target.port, "user": "root",
                      "identity_file": lab.key.display().to_string(), "known_hosts": "ignore"}})
    };
    std::fs::write(&inv, entry("inv1").to_string()).unwrap();
    let inv_s = inv.display().to_string();
    let (s, _x) = server(&[
        ("RELAY_SHELL_INVENTORY", &inv_s),
        ("RELAY_SHELL_POLICY_MODE", "readonly"),
    ])
    .await;
    let hosts = s.call("ssh_hosts", json!({})).await;
    assert!(
        hosts.contains("\"name\": \"inv1\"") && hosts.contains("\"source\": \"inventory\""),
        "{hosts}"
    );
    let mut both = entry("inv1");
    both.as_object_mut()
        .unwrap()
        .extend(entry("inv2").as_object().unwrap().clone());
    std::fs::write(&inv, both.to_string()).unwrap();
    assert!(
        s.call("ssh_hosts", json!({}))
            .await
            .contains("\"name\": \"inv2\""),
        "no reload"
    );

    let read = |uri: &str| ReadResourceRequestParams::new(uri.to_string());
    let text = |r: rmcp::model::ReadResourceResult| match &r.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("{other:?}"),
    };
    let all = text(
        s.client
            .read_resource(read("relay-shell://inventory"))
            .await
            .unwrap(),
    );
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert!(
        v.as_array().unwrap().iter().any(|h| h["name"] == "inv2"),
        "{all}"
    );
    assert!(
        all.contains("\"name\": \"inv1\", \"hostname\": \"127.0.0.1\""),
        "{all}"
    );
    let one = text(
        s.client
            .read_resource(read("relay-shell://inventory/inv1"))
            .await
            .unwrap(),
    );
    assert!(one.starts_with("{\"name\": \"inv1\""), "{one}");
    let other = text(
        s.client
            .read_resource(read("relay-shell://inventory/root%40web9"))
            .await
            .unwrap(),
    );
    assert!(
        other.contains("\"source\": \"explicit\"") && other.contains("\"user\": \"root\""),
        "{other}"
    );
    let cfg = text(
        s.client
            .read_resource(read("relay-shell://ssh-config"))
            .await
            .unwrap(),
    );
    let v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(v["path"], lab.ssh_config.display().to_string());
    assert!(v["aliases"].as_array().unwrap().contains(&json!("target")));
    assert!(
        s.client
            .read_resource(read("relay-shell://nope"))
            .await
            .is_err()
    );
    let guide = s
        .client
        .get_prompt(GetPromptRequestParams::new("operating_guide"))
        .await
        .unwrap();
    let g = format!("{:?}", guide.messages);
    assert!(
        g.contains("operating guide") && g.contains("session_recv"),
        "{g}"
    );
    let recs = s.completion_records();
    let tools: Vec<&str> = recs.iter().map(|r| r["tool"].as_str().unwrap()).collect();
    for t in [
        "resource:inventory",
        "resource:inventory_host",
        "resource:ssh-config",
        "prompt:operating_guide",
    ] {
        assert!(tools.contains(&t), "{t} not audited: {tools:?}");
    }
    assert!(
        recs.iter()
            .filter(|r| r["tool"].as_str().unwrap().contains(':'))
            .all(|r| r["tier"] == 0)
    );
    // readonly refuses a remote command, whatever the host.
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "inv1", "command": "touch /tmp/x"}),
        )
        .await;
    assert!(out.starts_with("[DENIED tier"), "{out}");
    s.stop().await;
    let _ = wait_until(Duration::from_millis(1), || true);
}

#[tokio::test]
async fn remote_commands_are_classified_like_local_ones() {
    let (s, _x) = server(&[("RELAY_SHELL_POLICY_MODE", "readonly")]).await;
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "command": "cat /etc/hostname | wc -l"}),
        )
        .await;
    assert_eq!(out, "[exit 0]\n1\n");
    // Nothing here confines the remote command (readonly over SSH rests on the classifier),
    // and the local ssh client runs unconfined: the record says `none`, not `read-only`.
    let recs = s.completion_records();
    let last = recs.last().unwrap();
    assert_eq!(last["tool"], "ssh_exec");
    assert_eq!(last["confinement"], "none");
    let out = s
        .call(
            "ssh_exec",
            json!({"host": "target", "command": "rm -rf /tmp/nothing-here"}),
        )
        .await;
    assert!(out.starts_with("[DENIED tier 3 (IRREVERSIBLE)"), "{out}");
    let out = s
        .call(
            "ssh_fanout",
            json!({"hosts": "target", "command": "uptime"}),
        )
        .await;
    assert!(out.starts_with("{\"command\": \"uptime\""), "{out}");
    // A JSON-looking or host-looking last line of a remote command is shell like the rest
    // (the readonly bypass of a flattened probe): refused, and nothing runs.
    let pwned = tempfile::tempdir().unwrap();
    let p = pwned.path().join("pwned");
    for command in [
        format!("true\n{{\"x\":\"$(touch {})\"}}", p.display()),
        format!("true\n{{\"x\":\"`touch {}`\"}}", p.display()),
        "true\ntarget".to_string(),
    ] {
        for (tool, args) in [
            ("ssh_exec", json!({"host": "target", "command": command})),
            ("ssh_fanout", json!({"hosts": "target", "command": command})),
        ] {
            let out = s.call(tool, args).await;
            assert!(out.starts_with("[DENIED tier"), "{tool} {command:?}: {out}");
        }
    }
    assert!(!p.exists());
    s.stop().await;
    // A login shell (no command) is tier 1: the host name is never read as a command.
    let (s, _x) = server(&[("RELAY_SHELL_POLICY_MODE", "guarded")]).await;
    let out = s.call("ssh_spawn", json!({"host": "target"})).await;
    assert!(out.starts_with("session ssh-"), "{out}");
    let recs = s.completion_records();
    assert_eq!(recs.last().unwrap()["tier"], 1);
    s.stop().await;
}
