//! The dynamic oracle (`tests/oracle/`): commands are run as root in a throwaway sandbox (fresh
//! mount, network, PID, UTS and IPC namespaces; an overlay over `/`; a reduced capability set;
//! strace recording global-state system calls). Any command the classifier puts at tier 0 that
//! the oracle sees changing something is a failure. Candidates: every tier-0 `shell_exec` text
//! of the two corpora, and option combinations generated from the classifier's own grammars for
//! the programs installed here (fixed seed `RELAY_SHELL_ORACLE_SEED`, budget
//! `RELAY_SHELL_ORACLE_BUDGET`, default 160). The oracle needs root; elsewhere the tests say why
//! they did not run, except under `CI=true`, where that is a failure.

mod oracle;

use std::collections::HashMap;

use relay_shell::policy::Tier;
use relay_shell::policy::declared_programs;
use relay_shell::policy::options::{Arity, Grammar};

use oracle::{Observation, Oracle};

/// A case stated as (tool, text), classified from its typed probe.
fn classify(tool: &str, text: &str) -> relay_shell::policy::Classification {
    relay_shell::policy::classify(&relay_shell::policy::probe::test_probe(tool, text))
}

fn oracle_or_skip() -> Option<Oracle> {
    let why = match oracle::unavailable() {
        None => match Oracle::new() {
            Ok(o) => return Some(o),
            Err(e) => e,
        },
        Some(why) => why,
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the oracle cannot run: {why}"
    );
    eprintln!("policy_oracle: not run: {why}");
    None
}

/// Run `commands` in the oracle (`RELAY_SHELL_ORACLE_JOBS` at a time, default 3: most of a
/// run is waiting); results in the same order.
fn observe_all(oracle: &Oracle, commands: &[String]) -> Vec<Observation> {
    let jobs: usize = std::env::var("RELAY_SHELL_ORACLE_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(3);
    oracle.observe_all(commands, jobs)
}

fn unescape(s: &str) -> String {
    s.replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\\\", "\\")
}

/// The `shell_exec` texts of both corpora.
fn corpus_texts() -> Vec<String> {
    let mut out = Vec::new();
    for data in [
        include_str!("data/policy_corpus.tsv"),
        include_str!("data/policy_redteam.tsv"),
    ] {
        for line in data.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.splitn(3, '\t');
            if let (Some("shell_exec"), Some(_), Some(text)) =
                (parts.next(), parts.next(), parts.next())
            {
                out.push(unescape(text));
            }
        }
    }
    out
}

/// splitmix64: a fixed, dependency-free generator for reproducible samples.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Programs not worth generating for: they only talk to the network (a fresh namespace has
/// none), wait for a terminal, or are wrappers of other commands.
const NOT_GENERATED: &[&str] = &[
    "nc",
    "ncat",
    "netcat",
    "nc.openbsd",
    "nc.traditional",
    "socat",
    "telnet",
    "ftp",
    "sftp",
    "lftp",
    "tftp",
    "mail",
    "mailx",
    "sendmail",
    "mutt",
    "swaks",
    "ssh",
    "scp",
    "rsync",
    "curl",
    "wget",
    "wget2",
    "ping",
    "ping4",
    "ping6",
    "dig",
    "host",
    "nslookup",
    "traceroute",
    "traceroute6",
    "tcptraceroute",
    "tracepath",
    "tracepath6",
    "mtr",
    "arping",
    "whois",
    "less",
    "more",
    "most",
    "pg",
    "zless",
    "zmore",
    "bzless",
    "xzless",
    "man",
    "info",
    "pinfo",
    "vi",
    "vim",
    "nvim",
    "view",
    "vimdiff",
    "gvim",
    "rvim",
    "ex",
    "nano",
    "pico",
    "emacs",
    "ed",
    "red",
    "joe",
    "micro",
    "mcedit",
    "jed",
    "kak",
    "hx",
    "helix",
    "mg",
    "htop",
    "btop",
    "atop",
    "nmtui",
    "mc",
    "ranger",
    "nnn",
    "lf",
    "vifm",
    "ncdu",
    "glances",
    "k9s",
    "lazygit",
    "lazydocker",
    "tig",
    "bpytop",
    "nvtop",
    "bmon",
    "nethogs",
    "tmux",
    "screen",
    "byobu",
    "zellij",
    "top",
    "iftop",
    "iotop",
    "watch",
    "yes",
];

const OPERANDS: &[&str] = &[
    "f",
    "a",
    "b",
    "d",
    "big",
    "list",
    "f.gz",
    "a.tar",
    "x.json",
    "f.yaml",
    "sums",
    "c.pem",
    "key.pub",
    "link",
    ".",
    "/etc/hostname",
    "sub",
];
const VALUES: &[&str] = &[
    "1",
    "2",
    "f",
    "a",
    "x",
    "/var/tmp/relay-oracle-out",
    "-",
    "10",
    "d",
    "json",
];

/// Shell-quote a word.
fn quote(w: &str) -> String {
    if w.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+%@".contains(c))
        && !w.is_empty()
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// One generated command line for `name` from its grammar.
fn generate(rng: &mut Rng, name: &str, grammar: &Grammar) -> String {
    let mut words: Vec<String> = Vec::new();
    let options = grammar.options();
    let count = if options.is_empty() { 0 } else { rng.below(4) };
    for _ in 0..count {
        let info = rng.pick(options);
        let shown = *rng.pick(&info.names);
        if info.tags.contains('h') || shown == "-#" {
            continue;
        }
        let value = (*rng.pick(VALUES)).to_string();
        let long = shown.starts_with("--") || shown.len() > 2;
        match (info.arity, long) {
            (Arity::Flag, _) => words.push(shown.to_string()),
            (Arity::Required, true) if rng.below(2) == 0 => words.push(format!("{shown}={value}")),
            (Arity::Required, _) if rng.below(2) == 0 && !long => {
                words.push(format!("{shown}{value}"))
            }
            (Arity::Required, _) => {
                words.push(shown.to_string());
                words.push(value);
            }
            (Arity::Optional, true) => words.push(format!("{shown}={value}")),
            (Arity::Optional, false) => words.push(format!("{shown}{value}")),
        }
    }
    for _ in 0..rng.below(3) {
        words.push((*rng.pick(OPERANDS)).to_string());
    }
    let (prefix, program) = match name.split_once(' ') {
        Some((tool, sub)) => ("cd repo && ", format!("{tool} {sub}")),
        None => ("", name.to_string()),
    };
    let rest: Vec<String> = words.iter().map(|w| quote(w)).collect();
    format!("{prefix}{program} {}", rest.join(" "))
        .trim_end()
        .to_string()
}

/// Whether a program is installed here.
fn installed(program: &str, cache: &mut HashMap<String, bool>) -> bool {
    *cache.entry(program.to_string()).or_insert_with(|| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn generated(budget: usize, seed: u64) -> Vec<String> {
    let mut cache = HashMap::new();
    let programs: Vec<(&str, &Grammar)> = declared_programs()
        .into_iter()
        .filter(|(name, _)| {
            let first = name.split(' ').next().unwrap_or(name);
            !NOT_GENERATED.contains(&first) && installed(first, &mut cache)
        })
        .collect();
    let mut rng = Rng(seed);
    (0..budget)
        .map(|_| {
            let (name, grammar) = *rng.pick(&programs);
            generate(&mut rng, name, grammar)
        })
        .collect()
}

#[test]
fn the_oracle_sees_writes_and_state_changes() {
    let Some(oracle) = oracle_or_skip() else {
        return;
    };
    let writers = [
        "touch new",
        "rm f",
        "echo x >> /etc/hosts",
        "date -s 2001-01-01",
        "ip link set lo up",
        "hostname other",
        "dmesg -C",
        "mkdir /tmp/x",
        "ln -s f /var/tmp/relay-oracle-link",
    ];
    let cmds: Vec<String> = writers.iter().map(|s| s.to_string()).collect();
    let seen = observe_all(&oracle, &cmds);
    for (cmd, s) in writers.iter().zip(&seen) {
        assert!(s.broken.is_none(), "{cmd}: {:?}", s.broken);
        assert!(!s.changes.is_empty(), "{cmd}: the oracle saw no change");
    }
    // Readers, including ones that wait (killed after 2 s), attach to PID 1 or leave a process
    // behind (its PID namespace ends with the run).
    let readers = [
        "ls -la",
        "cat f",
        "grep -r hello .",
        "ip addr",
        "ps aux",
        "cd repo && git log --oneline",
        "tail -f f",
        "strace -p 1",
        "sleep 30 &",
        "ls",
    ];
    let cmds: Vec<String> = readers.iter().map(|s| s.to_string()).collect();
    for (cmd, s) in readers.iter().zip(observe_all(&oracle, &cmds)) {
        assert!(s.broken.is_none() && s.changes.is_empty(), "{cmd}: {s:?}");
    }
}

#[test]
fn no_command_the_classifier_puts_at_tier_0_changes_anything() {
    let Some(oracle) = oracle_or_skip() else {
        return;
    };
    let budget = std::env::var("RELAY_SHELL_ORACLE_BUDGET")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(160);
    let seed = std::env::var("RELAY_SHELL_ORACLE_SEED")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(20_261_130);
    let mut corpus: Vec<String> = corpus_texts()
        .into_iter()
        .filter(|t| classify("shell_exec", t).tier == Tier::ReadOnly)
        .collect();
    corpus.sort();
    corpus.dedup();
    let generated = generated(budget, seed);
    let mut commands = corpus.clone();
    commands.extend(generated.iter().cloned());
    let seen = observe_all(&oracle, &commands);
    let (mut false_admits, mut broken, mut quiet_above_zero) = (Vec::new(), Vec::new(), 0usize);
    let mut tier0_generated = 0usize;
    for (i, (cmd, s)) in commands.iter().zip(&seen).enumerate() {
        let tier = classify("shell_exec", cmd).tier;
        if i >= corpus.len() && tier == Tier::ReadOnly {
            tier0_generated += 1;
        }
        if let Some(b) = &s.broken {
            broken.push(format!("{cmd:?}: {b}"));
            continue;
        }
        if tier == Tier::ReadOnly && !s.changes.is_empty() {
            false_admits.push(format!("{cmd:?}\n      {}", s.changes.join("\n      ")));
        }
        if tier > Tier::ReadOnly && s.changes.is_empty() {
            quiet_above_zero += 1;
        }
    }
    println!(
        "oracle: {} corpus tier-0 commands, {} generated (seed {seed}; {} at tier 0), \
         {} tier-0 commands that changed something, {} generated commands above tier 0 that changed nothing, {} sandbox failures",
        corpus.len(),
        generated.len(),
        tier0_generated,
        false_admits.len(),
        quiet_above_zero,
        broken.len()
    );
    let mut slowest: Vec<(std::time::Duration, &String)> =
        seen.iter().map(|s| s.took).zip(commands.iter()).collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (took, cmd) in slowest.iter().take(25) {
        println!("  slowest: {:>6.2} s  {cmd:?}", took.as_secs_f64());
    }
    let total: std::time::Duration = seen.iter().map(|s| s.took).sum();
    println!("  sandbox time in total: {:.0} s", total.as_secs_f64());
    assert!(
        broken.is_empty(),
        "sandbox failures:\n{}",
        broken.join("\n")
    );
    assert!(
        false_admits.is_empty(),
        "{} commands at tier 0 changed something:\n{}",
        false_admits.len(),
        false_admits.join("\n")
    );
}
