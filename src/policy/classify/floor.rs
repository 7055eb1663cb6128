//! The raw-text floor: the Python implementation's tier tables (docs/compatibility.md, "Policy"; PowerShell and cmd rules included), kept
//! for text the parser cannot account for — unknown commands, interpreter code, unparseable
//! input. Matches the parser proves to be inert data (an argument of `echo`, `grep`, `man`, a
//! string never executed) are skipped by the caller's `inert` test.
//!
//! The Python implementation's look-behind `(?<![\w])` is an explicit check in code (the `regex` crate has no
//! look-around; it is linear time). Word ends are checked the same way, which fixes the
//! Python implementation's prefix false positives (`halting`, `rebooted`, `shredder`, `reboot-test-01`).

use std::sync::{LazyLock, OnceLock};

use regex::{Regex, RegexSet};

use crate::policy::Tier;

/// One raw-text rule.
struct FloorRule {
    /// What the rule catches.
    name: &'static str,
    /// The tier a match imposes.
    tier: Tier,
    /// The pattern (compiled case-insensitively).
    pattern: &'static str,
    /// The match must not start right after a word character or `-`.
    word_start: bool,
    /// The match must not end right before a word character or `-`.
    word_end: bool,
    /// The match must not start right after `/` or `.` either (`/etc/passwd` is not `passwd`).
    not_in_path: bool,
}

const fn rule(name: &'static str, tier: Tier, pattern: &'static str) -> FloorRule {
    FloorRule {
        name,
        tier,
        pattern,
        word_start: true,
        word_end: false,
        not_in_path: false,
    }
}

const fn word(name: &'static str, tier: Tier, pattern: &'static str) -> FloorRule {
    FloorRule {
        word_end: true,
        ..rule(name, tier, pattern)
    }
}

const fn anywhere(name: &'static str, tier: Tier, pattern: &'static str) -> FloorRule {
    FloorRule {
        word_start: false,
        ..rule(name, tier, pattern)
    }
}

use Tier::{Irreversible as T3, Stateful as T2};

const RULES: &[FloorRule] = &[
    // ---- tier 3: irreversible ----
    // `rm x -r` counts too: PowerShell's `rm` (Remove-Item) takes switches after the path.
    rule("rm with -r/-f", T3, r"rm\s+(?:\S+\s+){0,16}?-[a-z]*[rf]"),
    rule(
        "rm with --recursive/--force",
        T3,
        r"rm\s+(?:\S+\s+){0,16}?--(?:recursive|force|no-preserve-root)\b",
    ),
    word(
        "disk destruction tool",
        T3,
        r"(?:shred|mkfs|fdisk|sgdisk|wipefs)",
    ),
    rule("dd to a device", T3, r"dd\s+[^|\n]*of=/dev/"),
    anywhere(
        "redirect to a disk",
        T3,
        r">\s*/dev/(?:sd|hd|vd|xvd|nvme|mmcblk)",
    ),
    anywhere(
        "raw disk named",
        T3,
        r"/dev/(?:sd[a-z]|hd[a-z]|nvme[0-9]|mmcblk[0-9])",
    ),
    word(
        "power off or restart",
        T3,
        r"(?:shutdown|reboot|halt|poweroff)",
    ),
    word("init 0/6", T3, r"init\s+[06]"),
    rule(
        "SQL drop/truncate",
        T3,
        r"(?:drop\s+(?:database|table|schema)|truncate\s+table)\b",
    ),
    rule(
        "git force push",
        T3,
        r"git\s+push\s[^\n]*?(?:--force|--mirror|--delete|\s-[a-z]*f\b|\s\+\S)",
    ),
    rule(
        "git reset --hard / clean -f",
        T3,
        r"git\s+(?:reset\s+--hard|clean\s+-[a-z]*f)",
    ),
    word("account removal", T3, r"(?:userdel|deluser|gpasswd)"),
    FloorRule {
        not_in_path: true,
        ..rule("passwd", T3, r"passwd\s+")
    },
    rule(
        "firewall flush",
        T3,
        r"(?:iptables\s+(?:-[a-z]*F|--flush)|nft\s+flush)",
    ),
    rule("link down", T3, r"ip\s+link\s+[^\n]*?down\b"),
    anywhere("fork bomb", T3, r":\s*\(\s*\)\s*\{"),
    rule("truncate to zero", T3, r"truncate\s+(?:-s\s*0|--size[= ]0)"),
    rule("find -delete", T3, r"find\s[^\n|;&]*?-delete\b"),
    rule(
        "kubectl delete/drain",
        T3,
        r"kubectl\s+(?:\S+\s+){0,8}?(?:delete|drain)\b",
    ),
    rule(
        "recursive/forced Remove-Item",
        T3,
        r"(?:remove-item|ri|del|erase|rd|rmdir)\b(?:\s+\S+){0,16}?\s+-(?:r[a-z]*|fo[a-z]*)\b",
    ),
    anywhere(
        "pipeline into Remove-Item",
        T3,
        r"\|\s*(?:remove-item|ri)\b",
    ),
    word(
        "destructive PowerShell cmdlet",
        T3,
        r"(?:clear-disk|format-volume|initialize-disk|stop-computer|restart-computer|remove-service|remove-localuser|remove-localgroup|clear-eventlog|remove-partition)",
    ),
    rule(
        "cmd delete with /s or /q",
        T3,
        r"(?:del|erase|rd|rmdir)\b(?:\s+\S+){0,8}?\s+/[sq]\b",
    ),
    rule("format a drive", T3, r"format(?:\s+/\S+){0,4}\s+[a-z]:"),
    word("diskpart/bcdedit", T3, r"(?:diskpart|bcdedit)"),
    rule(
        "Windows destructive tool",
        T3,
        r"(?:vssadmin\s+delete\s+shadows|cipher\s+/w|(?:reg|sc)(?:\.exe)?\s+delete|wevtutil\s+cl)\b",
    ),
    // ---- tier 2: stateful ----
    rule("privilege escalation", T2, r"(?:sudo|doas|pkexec|runas)\b"),
    rule(
        "service change",
        T2,
        r"(?:systemctl\s+(?:stop|start|restart|reload|enable|disable|mask|kill)|service\s+\S+\s+(?:stop|start|restart))\b",
    ),
    rule(
        "package change",
        T2,
        r"(?:apt(?:-get)?\s+(?:install|remove|purge|upgrade|dist-upgrade)|(?:yum|dnf)\s+(?:install|remove)|pip3?\s+install|npm\s+(?:install|i)\b)",
    ),
    rule(
        "container change",
        T2,
        r"(?:docker\s+(?:run|rm|stop|kill|compose|build)|kubectl\s+(?:apply|delete|scale|rollout))\b",
    ),
    word("ownership change", T2, r"chown"),
    rule("permission change", T2, r"chmod\s+(?:-R|[0-7]{3,4}\s+/)"),
    rule(
        "symlink, move or copy into /",
        T2,
        r"(?:ln\s+-s|mv\s+/|cp\s+-[a-z]*\s+/)",
    ),
    rule("in-place edit", T2, r"sed\s+-[a-z]*i"),
    rule("write to /etc", T2, r"tee\s+(?:-a\s+)?/etc/"),
    anywhere("redirect into /etc", T2, r">>?\s*/etc/"),
    word("crontab", T2, r"crontab"),
    rule(
        "git publish or history change",
        T2,
        r"git\s+(?:push|commit|merge|rebase)\b",
    ),
    rule(
        "firewall change",
        T2,
        r"ufw\s+(?:allow|deny|enable|disable)\b",
    ),
    word("ssh-copy-id", T2, r"ssh-copy-id"),
    word(
        "Windows service change",
        T2,
        r"(?:stop|start|restart|set)-service",
    ),
    rule(
        "cmd service change",
        T2,
        r"(?:sc|net)(?:\.exe)?\s+(?:stop|start|config)\b",
    ),
    word(
        "Windows package change",
        T2,
        r"(?:install|uninstall)-(?:module|package)",
    ),
    rule(
        "choco/winget install",
        T2,
        r"(?:choco|winget)\s+(?:install|uninstall)\b",
    ),
    word(
        "Windows firewall, registry, users, tasks or policy",
        T2,
        r"(?:(?:remove|disable|set|new)-netfirewallrule|new-localuser|(?:un)?register-scheduledtask|set-executionpolicy)",
    ),
    rule(
        "netsh/reg/schtasks change",
        T2,
        r"(?:netsh\s+advfirewall|reg(?:\.exe)?\s+add|schtasks\s+/create)\b",
    ),
];

/// The compiled tables: one set that says which rules match anywhere (one pass over the
/// text), and each rule's own regex, compiled the first time the set reports that rule (a
/// typical command hits none or a few, so most are never built).
struct Compiled {
    set: RegexSet,
    each: Vec<OnceLock<Option<Regex>>>,
}

/// A table pattern as compiled: case-insensitive, and `\b` as an ASCII word boundary. Every
/// `\b` in the tables sits next to an ASCII letter, where the ASCII boundary holds wherever the
/// Unicode one does (and also between an ASCII letter and a non-ASCII letter, which only
/// widens a match); it keeps the lazy DFA usable on non-ASCII text and the tables small.
fn compiled_pattern(rule: &FloorRule) -> String {
    format!("(?i){}", rule.pattern.replace(r"\b", r"(?-u:\b)"))
}

static COMPILED: LazyLock<Option<Compiled>> = LazyLock::new(|| {
    let patterns: Vec<String> = RULES.iter().map(compiled_pattern).collect();
    let set = RegexSet::new(&patterns).ok()?;
    let each = RULES.iter().map(|_| OnceLock::new()).collect();
    Some(Compiled { set, each })
});

impl Compiled {
    /// Rule `index`'s own regex (`None` only if a constant table failed to compile).
    fn rule_regex(&self, index: usize) -> Option<&Regex> {
        self.each
            .get(index)?
            .get_or_init(|| Regex::new(&compiled_pattern(RULES.get(index)?)).ok())
            .as_ref()
    }
}

/// Compile the rule set now (it is otherwise built by the first classification), without
/// searching: search caches and parsers belong to the threads that classify.
pub(crate) fn prepare() {
    LazyLock::force(&COMPILED);
}

/// One floor finding.
pub(crate) struct FloorHit {
    /// Tier of the rule.
    pub tier: Tier,
    /// The rule's name.
    pub rule: &'static str,
    /// The matched text (bounded).
    pub matched: String,
}

fn wordish(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Scan `text`; `inert(start, end)` says whether a match lies entirely in inert data. At most
/// one hit per rule. Linear in `text`: one pass of the set, then one pass per rule that hit.
pub(crate) fn scan(text: &str, inert: &dyn Fn(usize, usize) -> bool) -> Vec<FloorHit> {
    let Some(compiled) = COMPILED.as_ref() else {
        // The tables are constants; if they ever failed to compile, treat everything as hit.
        return vec![FloorHit {
            tier: Tier::Irreversible,
            rule: "raw-text tables unavailable",
            matched: String::new(),
        }];
    };
    let mut hits = Vec::new();
    for index in compiled.set.matches(text).iter() {
        let rule = &RULES[index];
        let Some(regex) = compiled.rule_regex(index) else {
            hits.push(FloorHit {
                tier: Tier::Irreversible,
                rule: "raw-text tables unavailable",
                matched: String::new(),
            });
            continue;
        };
        for m in regex.find_iter(text) {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            if rule.word_start && before.is_some_and(wordish) {
                continue;
            }
            if rule.not_in_path && before.is_some_and(|c| c == '/' || c == '.') {
                continue;
            }
            if rule.word_end && after.is_some_and(wordish) {
                continue;
            }
            if inert(m.start(), m.end()) {
                continue;
            }
            hits.push(FloorHit {
                tier: rule.tier,
                rule: rule.name,
                matched: m.as_str().chars().take(80).collect(),
            });
            break;
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(text: &str) -> Option<Tier> {
        scan(text, &|_, _| false).iter().map(|h| h.tier).max()
    }

    #[test]
    fn tables_compile() {
        let compiled = COMPILED.as_ref().expect("tables compile");
        for (index, rule) in RULES.iter().enumerate() {
            assert!(compiled.rule_regex(index).is_some(), "{}", rule.name);
            // The ASCII-boundary rewrite must only ever see a real `\b`.
            assert!(!rule.pattern.contains(r"\\b"), "{}", rule.name);
        }
    }

    #[test]
    fn boundaries() {
        assert_eq!(tier("reboot"), Some(T3));
        assert_eq!(tier("halting"), None);
        assert_eq!(tier("ssh_exec uptime\nreboot-test-01"), None);
        assert_eq!(tier("cat /etc/passwd | x"), None);
        assert_eq!(tier("passwd bob"), Some(T3));
        assert_eq!(tier("echo sudoku-fan"), None);
        assert_eq!(tier("Start-Process pwsh -Verb RunAs"), Some(T2));
        assert_eq!(tier("Format-Table -AutoSize"), None);
        assert_eq!(tier("format /q /fs:ntfs D:"), Some(T3));
        assert_eq!(tier("del C:\\temp /q"), Some(T3));
        assert_eq!(tier("del C:\\onefile.txt"), None);
    }

    #[test]
    fn option_windows_span_the_whole_command_but_not_the_next() {
        let far = format!("find /srv{} -delete", " -name x".repeat(200));
        assert_eq!(tier(&far), Some(T3));
        assert_eq!(tier("find /srv -name x | xargs echo -delete"), None);
        let push = format!("git push origin{} --force", " main".repeat(200));
        assert_eq!(tier(&push), Some(T3));
        assert_eq!(tier("git push origin main\necho --force"), Some(T2));
    }
}
