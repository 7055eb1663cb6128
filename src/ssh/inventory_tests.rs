//! Unit tests of the inventory reader (kept apart to keep `inventory.rs` short).

use super::*;

#[test]
fn config_aliases_follow_includes_and_first_value_wins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("conf.d")).unwrap();
    std::fs::write(
        d.join("conf.d/a.conf"),
        "Host inc1\n\tHostName 10.0.0.9\n\tUser=ops\n",
    )
    .unwrap();
    std::fs::write(
        d.join("config"),
        format!(
            "Include {}/conf.d/*.conf\nHost web01 web02 *.x !bad\n  HostName \"10.0.0.1\"\n  Port 2222\nHost web01\n  HostName other\n  ProxyJump bastion\nMatch all\n  User nobody\nHost *\n  User everyone\n",
            d.display()
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("inv.json"),
        r#"{"web02": {"host": "192.0.2.2", "port": "22", "known_hosts": "STRICT"},
           "bad1": {"hostname": "-oProxyCommand=x"}, "bad2": {"port": 70000},
           "bad3": {"identity_file": "a\"b"}, "skip": 3}"#,
    )
    .unwrap();
    let inv = Inventory::load(&d.join("config"), &d.join("inv.json").display().to_string());
    let names: Vec<&str> = inv.hosts().map(|h| h.name.as_str()).collect();
    assert_eq!(names, vec!["inc1", "web01", "web02"]);
    assert_eq!(inv.config_aliases(), &["inc1", "web01", "web02"]);
    let w1 = inv.get("web01").unwrap();
    assert_eq!(w1.hostname, "10.0.0.1");
    assert_eq!(w1.port, Some(2222));
    assert_eq!(w1.jump.as_deref(), Some("bastion"));
    assert_eq!(w1.user, None);
    let w2 = inv.get("web02").unwrap();
    assert_eq!(w2.source, Source::Inventory);
    assert_eq!(w2.hostname, "192.0.2.2");
    assert_eq!(w2.known_hosts, Some(KnownHosts::Strict));
    assert_eq!(inv.get("inc1").unwrap().user.as_deref(), Some("ops"));
    assert_eq!(inv.rejected.len(), 3);
    assert!(!inv.is_stale());
    std::fs::write(d.join("conf.d/b.conf"), "Host inc2\n").unwrap();
    assert!(inv.is_stale());
    let again = Inventory::load(&d.join("config"), &d.join("inv.json").display().to_string());
    assert!(again.get("inc2").is_some());
}

#[test]
fn explicit_specs_and_json() {
    let s = HostSpec::explicit("root@10.1.1.1");
    assert_eq!(s.user.as_deref(), Some("root"));
    assert_eq!(
        s.to_json().to_pretty(),
        "{\n  \"name\": \"root@10.1.1.1\",\n  \"hostname\": \"10.1.1.1\",\n  \"user\": \"root\",\n  \"port\": null,\n  \"identity_file\": null,\n  \"jump\": null,\n  \"source\": \"explicit\"\n}"
    );
    let missing = Inventory::load(Path::new("/nonexistent/config"), "/nonexistent.json");
    assert!(missing.is_empty());
    assert!(missing.config_path().is_none());
}

#[test]
fn wildcards() {
    assert!(wild_match("*.conf", "a.conf"));
    assert!(!wild_match("*.conf", "a.conf~"));
    assert!(wild_match("h?", "h1"));
    assert!(!wild_match("*", ".hidden"));
}

#[test]
fn wildcards_agree_with_the_recursive_definition() {
    fn reference(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => reference(&p[1..], n) || (!n.is_empty() && reference(p, &n[1..])),
            (Some(b'?'), Some(_)) => reference(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => reference(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let parts = ["", "*", "?", "a", "b", "**", "*a", "a*", "?*", "ab"];
    let names = ["", "a", "b", "ab", "ba", "aab", "abab", "bbb", "a.conf"];
    for p1 in parts {
        for p2 in parts {
            let pattern = format!("{p1}{p2}");
            for name in names {
                assert_eq!(
                    wild_match(&pattern, name),
                    reference(pattern.as_bytes(), name.as_bytes()),
                    "{pattern:?} {name:?}"
                );
            }
        }
    }
}

/// Found while writing the `inventory` fuzz target: the recursive matcher took time
/// exponential in the number of stars when they cannot all match; the linear one does not.
#[test]
fn many_stars_that_fail_to_match() {
    let pattern = format!("{}b", "*a".repeat(40));
    let name = "a".repeat(200);
    assert!(!wild_match(&pattern, &name));
    assert!(wild_match(&format!("{}*", "*a".repeat(40)), &name));
}

/// Many aliases on one `Host` line and many repeated keys: every alias gets the first value
/// (the reader indexes aliases and offers each key once per `Host` line).
#[test]
fn many_aliases_and_repeated_keys() {
    let aliases: Vec<String> = (0..2000).map(|i| format!("h{i}")).collect();
    let mut text = format!("Host {} h0 h1\n", aliases.join(" "));
    text.push_str("  HostName first.example\n");
    for i in 0..2000 {
        text.push_str(&format!("  HostName other{i}.example\n  Port {}\n", i + 1));
    }
    text.push_str("Host h5\n  HostName late.example\n  Port 0\n");
    let inv = Inventory::from_config_text(&text);
    assert_eq!(inv.len(), 2000);
    assert_eq!(inv.config_aliases().len(), 2000);
    assert!(
        inv.hosts()
            .all(|h| h.hostname == "first.example" && h.port == Some(1))
    );
}

/// An `Include` of something that is not a regular file (a device that never ends, a
/// directory) contributes nothing instead of blocking the server or exhausting its memory.
#[test]
fn includes_of_non_regular_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "Include /dev/zero\nInclude {}\nHost kept\n  Port 2200\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let inv = Inventory::load(&config, "");
    let names: Vec<&str> = inv.hosts().map(|h| h.name.as_str()).collect();
    assert_eq!(names, vec!["kept"]);
    assert_eq!(inv.get("kept").unwrap().port, Some(2200));
    // The same for a JSON inventory that is a device.
    let inv = Inventory::load(&dir.path().join("missing"), "/dev/zero");
    assert!(inv.is_empty());
}

/// Port 0 from an ssh_config is not a port (the JSON inventory already refused it).
#[test]
fn port_zero_is_not_listed() {
    let inv = Inventory::from_config_text("Host z\n  Port 0\n");
    assert_eq!(inv.get("z").unwrap().port, None);
}
