//! Reading `/proc`: who is whose parent, and what a process was started as. Used to find the
//! descendants of a call where the server cannot create cgroups, and to describe what a call
//! left running.

use std::collections::{HashMap, HashSet};

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Proc {
    /// Process id.
    pub pid: i32,
    /// Parent's process id.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// State letter (`R`, `S`, `Z`, …).
    pub state: char,
    /// Start time in clock ticks since boot (field 22): tells a pid from its reuse.
    pub start: u64,
}

impl Proc {
    /// Not a zombie (nor dead): it can still run.
    pub(super) fn is_live(&self) -> bool {
        self.state != 'Z' && self.state != 'X'
    }
}

/// Parse one `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may
/// contain spaces and parentheses itself, so fields are counted after the last `)`.
pub(super) fn parse_stat(text: &str) -> Option<Proc> {
    let pid = text.split_whitespace().next()?.parse().ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    Some(Proc {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        // Field 22 overall; fields here start at field 3.
        start: fields.get(19)?.parse().ok()?,
    })
}

/// One process, if it exists.
pub(super) fn stat(pid: i32) -> Option<Proc> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process the kernel lists now.
pub(super) fn all() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let entry = entry.ok()?;
        let name = entry.file_name();
        let name = name.to_str()?;
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        stat(name.parse().ok()?)
    })
    .collect()
}

/// The server's children, from `/proc/self/task/*/children` (a few reads however many
/// processes the host runs) where the kernel offers it (`CONFIG_PROC_CHILDREN`); every
/// process's `stat` otherwise.
pub(super) fn own_children() -> Vec<Proc> {
    let me = std::process::id() as i32;
    let mut pids: Vec<i32> = Vec::new();
    let mut offered = false;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                offered = true;
                pids.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok()),
                );
            }
        }
    }
    if !offered {
        return all().into_iter().filter(|p| p.ppid == me).collect();
    }
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter()
        .filter_map(stat)
        .filter(|p| p.ppid == me)
        .collect()
}

/// Whether `pid`'s initial environment holds `entry` (`NAME=value`) exactly.
pub(super) fn has_env(pid: i32, entry: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|e| e == entry))
        .unwrap_or(false)
}

/// Whether `p` carries the call's marker `entry` in its initial environment. An orphan the
/// server adopted (subreaper mode) is found by its marker alone, its parent being gone, so
/// one caught inside an `execve` is read again once the exec is done ([`has_env_settled`]).
pub(super) fn has_marker(p: &Proc, entry: &[u8]) -> bool {
    if p.ppid == std::process::id() as i32 {
        has_env_settled(p.pid, entry)
    } else {
        has_env(p.pid, entry)
    }
}

/// How many times [`has_env_settled`] reads a process that is between two programs, a
/// millisecond apart.
const EXEC_WAIT_TRIES: u32 = 20;

/// [`has_env`] for a process that may be in the middle of an `execve`: while the kernel loads
/// the new program, the process's environment and command line both read empty (the new
/// memory map has no argument or environment area yet), and a marked process read then
/// would look unmarked. That window lasts microseconds, so an empty read of both is read
/// again, a millisecond apart, at most [`EXEC_WAIT_TRIES`] times. A program started with an
/// empty environment still has a command line, so it costs one read.
pub(super) fn has_env_settled(pid: i32, entry: &[u8]) -> bool {
    for _ in 0..EXEC_WAIT_TRIES {
        match std::fs::read(format!("/proc/{pid}/environ")) {
            Ok(env) if env.is_empty() && between_programs(pid) => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Ok(env) => return env.split(|b| *b == 0).any(|e| e == entry),
            Err(_) => return false,
        }
    }
    false
}

/// Whether `pid`'s command line reads empty: a kernel thread, a zombie, or a process in the
/// middle of an `execve`.
fn between_programs(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.is_empty())
}

/// The value after `prefix` (`NAME=start`) of the first entry of `pid`'s initial
/// environment that starts with it, as the whole entry's value (`start…`).
pub(super) fn marker(pid: i32, prefix: &str) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let name_len = prefix.find('=')? + 1;
    env.split(|b| *b == 0)
        .find(|e| e.starts_with(prefix.as_bytes()))
        .map(|e| String::from_utf8_lossy(&e[name_len..]).into_owned())
}

/// Longest command line kept for one process, in bytes.
pub(super) const CMDLINE_MAX: usize = 512;

/// `pid`'s command line, arguments joined by spaces, at most [`CMDLINE_MAX`] bytes (cut at a
/// character boundary); the name in `stat` for a kernel thread or a process that cleared it.
pub(super) fn cmdline(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let mut line = words.join(" ");
    if line.is_empty() {
        line = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| format!("[{}]", c.trim_end()))
            .unwrap_or_default();
    }
    if line.len() > CMDLINE_MAX {
        let mut cut = CMDLINE_MAX;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line
}

/// The live processes in `procs` that descend from `roots` (the roots included), never the
/// server itself, init, or an ancestor of the server.
pub(super) fn descendants(procs: &[Proc], roots: &[i32]) -> Vec<Proc> {
    let mut children: HashMap<i32, Vec<&Proc>> = HashMap::new();
    let by_pid: HashMap<i32, &Proc> = procs.iter().map(|p| (p.pid, p)).collect();
    for p in procs {
        children.entry(p.ppid).or_default().push(p);
    }
    let protected = protected_pids(&by_pid);
    let mut seen: HashSet<i32> = HashSet::new();
    let mut queue: Vec<i32> = roots.to_vec();
    let mut found = Vec::new();
    while let Some(pid) = queue.pop() {
        if protected.contains(&pid) || !seen.insert(pid) {
            continue;
        }
        if let Some(p) = by_pid.get(&pid) {
            if p.is_live() {
                found.push(**p);
            }
            // A zombie's children were re-parented already; live ones still hang below it.
            for c in children.get(&pid).into_iter().flatten() {
                queue.push(c.pid);
            }
        }
    }
    found
}

/// The server, its ancestors and init: never part of a call, whatever its markers say.
fn protected_pids(by_pid: &HashMap<i32, &Proc>) -> HashSet<i32> {
    let mut out = HashSet::from([0, 1]);
    let mut pid = std::process::id() as i32;
    while pid > 1 && out.insert(pid) {
        pid = by_pid.get(&pid).map_or(0, |p| p.ppid);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, state: char) -> Proc {
        Proc {
            pid,
            ppid,
            pgrp: pid,
            session: pid,
            state,
            start: 0,
        }
    }

    #[test]
    fn parses_stat_with_odd_names() {
        let line = "42 (a) b (c)) S 7 42 40 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987 0 0";
        let got = parse_stat(line).expect("parses");
        assert_eq!((got.pid, got.ppid, got.pgrp, got.session), (42, 7, 42, 40));
        assert_eq!((got.state, got.start), ('S', 987));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn descendants_skip_zombies_but_follow_their_children() {
        let procs = [p(10, 1, 'S'), p(11, 10, 'Z'), p(12, 11, 'S'), p(13, 1, 'S')];
        let got: Vec<i32> = descendants(&procs, &[10]).iter().map(|p| p.pid).collect();
        assert_eq!(got, vec![10, 12]);
    }

    #[test]
    fn the_server_and_init_are_never_descendants() {
        let me = std::process::id() as i32;
        let procs = [p(1, 0, 'S'), p(me, 1, 'S')];
        assert!(descendants(&procs, &[1, me]).is_empty());
    }

    #[test]
    fn a_settled_read_finds_a_marker_and_not_an_empty_environment() {
        // An empty environment with a command line is read once and answers no; the race it
        // guards against (a read inside an `execve`) is too narrow to provoke here:
        // `tests/leftovers.rs` (subreaper mode, 20 orphans) met it about once in 50 runs.
        let entry = b"RELAY_SHELL_SCAN_TEST=1";
        for (env, want) in [(Some("1"), true), (None, false)] {
            let mut cmd = std::process::Command::new("sleep");
            cmd.arg("5").env_clear();
            if let Some(v) = env {
                cmd.env("RELAY_SHELL_SCAN_TEST", v);
            }
            let mut child = cmd.spawn().expect("spawn sleep");
            let pid = child.id() as i32;
            assert_eq!(has_env_settled(pid, entry), want);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    #[test]
    fn own_command_line_is_read() {
        let me = std::process::id() as i32;
        assert!(!cmdline(me).is_empty());
        assert!(!has_env(me, b"NO_SUCH_ENTRY=x"));
    }
}
