//! Fuzz target `classify`: the classifier and the admission decision on a typed probe.
//!
//! The first byte chooses which probe field carries the text (shell command, argv, session
//! keystrokes, a script, a session program, a description, stdin, an env overlay, hosts);
//! the rest is the text. Checks: classification never panics, is deterministic, its tier is
//! one of 0..=3, at least the class's floor and the highest of its findings; adding stdin,
//! an environment overlay or hosts to a probe never lowers its tier; `readonly` admits only
//! tier 0, `guarded` admits tier 2 or 3 only through the allow rule, a deny rule matching
//! everything admits nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_shell::policy::probe::{Interpreter, PolicyClass, Probe};
use relay_shell::policy::{Mode, Policy, Tier, classify};

fn probe(selector: u8, text: &str) -> Probe {
    let shell = || Probe::new("shell_exec", PolicyClass::Shell);
    match selector % 10 {
        0 => shell().shell(text),
        1 => {
            let argv = text.split(' ').map(str::to_string).collect();
            shell().argv(argv, text)
        }
        2 => Probe::new("session_send", PolicyClass::Shell).input(text, text),
        3 => Probe::new("shell_script", PolicyClass::Shell).script(Interpreter::Bash, text),
        4 => Probe::new("shell_script", PolicyClass::Shell).script(Interpreter::Python, text),
        5 => Probe::new("shell_spawn", PolicyClass::Session).shell(text),
        6 => Probe::new("ssh_upload", PolicyClass::Stateful).describe(text),
        7 => shell().shell("cat").stdin(text),
        8 => {
            let entries = env_entries(text);
            shell().shell("env").env(text, entries)
        }
        _ => {
            let hosts = text.split(',').map(str::to_string).collect();
            Probe::new("ssh_exec", PolicyClass::Shell)
                .shell("uptime")
                .hosts(hosts, text)
        }
    }
}

/// `K=V` lines as an overlay (`K` alone unsets).
fn env_entries(text: &str) -> Vec<(String, Option<String>)> {
    text.lines()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (l.to_string(), None),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let p = probe(selector, &text);
    let first = classify(&p);
    let second = classify(&p);
    assert_eq!(first.tier, second.tier, "not deterministic");
    assert_eq!(
        first.reasons.len(),
        second.reasons.len(),
        "not deterministic"
    );
    let tier = first.tier;
    assert_eq!(Tier::from_u8(tier.as_u8()), Some(tier));
    assert!(tier.as_u8() <= 3);
    assert!(tier >= p.class().floor(), "below the class floor");
    let highest = first.reasons.iter().map(|r| r.tier).max();
    assert_eq!(
        tier,
        highest.unwrap_or(Tier::ReadOnly).max(p.class().floor()),
        "tier is not the highest finding"
    );

    // More input never lowers the tier.
    if selector % 10 == 0 {
        let grown = [
            probe(0, &text).stdin(&text),
            probe(0, &text).env(&text, env_entries(&text)),
            probe(0, &text).hosts(vec![text.to_string()], &text),
        ];
        for g in &grown {
            assert!(
                classify(g).tier >= tier,
                "extra input lowered the tier of {text:?}"
            );
        }
    }

    // Admission follows the tier.
    let readonly = Policy::new(Mode::Readonly, "", "").expect("policy"); // ok: constant
    let d = readonly.check(&p);
    assert_eq!(d.tier, tier.max(p.min_tier()));
    assert_eq!(
        d.admitted,
        d.tier == Tier::ReadOnly,
        "readonly admitted tier {:?}",
        d.tier
    );
    let guarded = Policy::new(Mode::Guarded, "", "").expect("policy"); // ok: constant
    let d = guarded.check(&p);
    assert_eq!(
        d.admitted,
        d.tier < Tier::Stateful,
        "guarded without allow rule"
    );
    let deny_all = Policy::new(Mode::Open, "(?s).", "").expect("policy"); // ok: constant
    assert!(
        !deny_all.check(&p).admitted,
        "a deny-everything rule admitted a call"
    );
    let open = Policy::new(Mode::Open, "", "").expect("policy"); // ok: constant
    assert!(
        open.check(&p).admitted,
        "open mode without rules refused a call"
    );
});
