//! Properties of the classifier over generated input: total (never panics, on any bytes),
//! deterministic, and monotone under wrappers (`sudo …` and `bash -c '…'` never lower a tier;
//! `sudo` takes the tier of the command it runs).

use proptest::prelude::*;
use relay_shell::policy::{Tier, classify};

/// Words that exercise the parser: commands, flags, operators, quotes, substitutions,
/// heredocs, wrappers, Windows forms.
const VOCABULARY: &[&str] = &[
    "rm",
    "-rf",
    "/",
    "ls",
    "-la",
    "echo",
    "\"x y\"",
    "'y'",
    "|",
    ";",
    "&&",
    "||",
    "$(",
    ")",
    "`",
    "reboot",
    "sudo",
    "cat",
    "/etc/passwd",
    ">",
    ">>",
    "/dev/sda",
    "/dev/null",
    "<<EOF\nrm -rf /\nEOF\n",
    "\n",
    "$X",
    "X=rm",
    "S=sudo",
    "sh",
    "bash",
    "-c",
    "find",
    ".",
    "-delete",
    "-exec",
    "{}",
    "\\;",
    "grep",
    "xargs",
    "python3",
    "-e",
    "(",
    "{",
    "}",
    "*",
    "'",
    "\"",
    "\\",
    "#",
    "eval",
    "env",
    "timeout",
    "5",
    "nice",
    "git",
    "push",
    "-f",
    "systemctl",
    "restart",
    "status",
    "docker",
    "ps",
    "kubectl",
    "delete",
    "<(",
    "<<<",
    "f()",
    "alias",
    "a=b",
    "Remove-Item",
    "-Recurse",
    "del",
    "/s",
    "format",
    "C:",
    "tee",
    "sed",
    "-i",
    "awk",
    "'{print}'",
    "2>&1",
    "&",
    "!",
    "case",
    "in",
    "esac",
    "if",
    "then",
    "fi",
    "for",
    "do",
    "done",
    "while",
    "PATH=/tmp",
    "ssh",
    "host",
    "su",
    "-",
    "exec",
    "command",
    "busybox",
    "watch",
    "$'\\x72m'",
    "r''m",
    "\\rm",
    "/bin/rm",
    "shutdown",
    "dd",
    "of=/dev/sda",
];

fn shellish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY), 0..12).prop_map(|w| w.join(" "))
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        shellish(),
        "\\PC{0,64}",
    ]
}

/// Single-quote `text` for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Whether the text starts with a plain command word (a letter, digit, `/` or `.`).
fn starts_with_command_word(text: &str) -> bool {
    text.trim_start_matches(' ')
        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '/' || c == '.')
}

/// Whether the classifier parsed `text` as shell (no "does not parse" finding).
fn parses(text: &str) -> bool {
    !classify("shell_exec", text)
        .reasons
        .iter()
        .any(|r| r.rule.contains("does not parse"))
}

const TOOLS: &[&str] = &[
    "shell_exec",
    "session_send",
    "ssh_exec",
    "shell_spawn",
    "ssh_upload",
    "session_kill",
    "server_info",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn total_and_deterministic(text in any_text(), tool in prop::sample::select(TOOLS)) {
        let a = classify(tool, &text);
        let b = classify(tool, &text);
        prop_assert_eq!(a, b);
    }

    // Text that does not parse is classified from its raw words; `sudo ` in front can turn it
    // into a different, valid program (`| host reboot` → `sudo | host reboot`, where `reboot`
    // is a DNS name), and text starting with an option hands that option to sudo
    // (`-c tee shutdown` → `sudo -c tee shutdown`). The property is about command lines, so it
    // ranges over text that parses and starts with a command word.
    #[test]
    fn sudo_never_lowers_the_tier(text in shellish()) {
        prop_assume!(parses(&text) && starts_with_command_word(&text));
        let plain = classify("shell_exec", &text).tier;
        let wrapped = classify("shell_exec", &format!("sudo {text}")).tier;
        prop_assert!(wrapped >= plain, "{:?}: {:?} < {:?}", text, wrapped, plain);
    }

    #[test]
    fn bash_c_never_lowers_the_tier(text in shellish()) {
        let plain = classify("shell_exec", &text).tier;
        let wrapped = classify("shell_exec", &format!("bash -c {}", quote(&text))).tier;
        prop_assert!(wrapped >= plain, "{:?}: {:?} < {:?}", text, wrapped, plain);
    }

    #[test]
    fn sh_c_of_arbitrary_text_never_lowers_the_tier(text in any_text()) {
        let plain = classify("shell_exec", &text).tier;
        let wrapped = classify("shell_exec", &format!("sh -c {}", quote(&text))).tier;
        prop_assert!(wrapped >= plain, "{:?}: {:?} < {:?}", text, wrapped, plain);
    }
}

#[test]
fn pathological_nesting_does_not_overflow_the_stack() {
    for n in [1_000usize, 20_000] {
        let deep = "$(".repeat(n);
        assert!(classify("shell_exec", &deep).tier >= Tier::Stateful);
        let closed = format!("{}rm -rf /{}", "$(".repeat(n), ")".repeat(n));
        assert_eq!(classify("shell_exec", &closed).tier, Tier::Irreversible);
        let quotes = "\"$(echo '".repeat(n);
        assert!(classify("shell_exec", &quotes).tier >= Tier::Stateful);
    }
    // Shell code nested beyond the followed depth fails closed and keeps the raw-text floor.
    let mut nested = "reboot".to_string();
    for _ in 0..10 {
        nested = format!("bash -c {}", quote(&nested));
    }
    assert_eq!(classify("shell_exec", &nested).tier, Tier::Irreversible);
}
