//! The seccomp filter: a hand-built classic-BPF program (no dependency; it is a few dozen
//! instructions) that returns `EPERM` for the system calls no confined command needs and that
//! change the host or escalate, whatever Landlock and the dropped capabilities already stop.
//!
//! Layout: check the architecture (any other, e.g. 32-bit `int 0x80` calls on x86_64, is
//! refused wholesale), refuse x32 numbers, then one `jeq nr → EPERM` pair per refused call,
//! then calls allowed only on the caller itself (`pid`/`who` argument 0), then `syslog` limited
//! to reading, then, with the network off, `socket` limited to unix and netlink families.

use std::sync::Arc;

use libc::sock_filter;

/// What the filter is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterSpec {
    /// Also refuse changing file metadata (mode, owner, times, extended attributes), which
    /// Landlock does not cover: the read-only profile.
    pub deny_metadata: bool,
    /// Refuse sockets other than unix and netlink (`RELAY_SHELL_READONLY_NETWORK=none`).
    pub deny_network: bool,
}

/// A built filter, shared by every child that installs it.
#[derive(Clone)]
pub struct Filter {
    /// The BPF instructions.
    program: Arc<[sock_filter]>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Filter({} instructions)", self.program.len())
    }
}

impl Filter {
    /// The program's instructions (for `SECCOMP_SET_MODE_FILTER`).
    pub fn instructions(&self) -> &[sock_filter] {
        &self.program
    }
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// Whether this build has a filter for its architecture.
pub const SUPPORTED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
/// Low 32 bits of argument `i` (little-endian).
const fn arg_low(i: u32) -> u32 {
    16 + 8 * i
}

const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | (libc::EPERM as u32 & libc::SECCOMP_RET_DATA);

/// System calls refused in every confined profile: mounts and namespaces' roots, reboot and
/// kexec, kernel modules, swap, clocks, host and domain names, BPF, the key store,
/// userfaultfd, io_uring (a second path to most calls, unseen by this filter), writing other
/// processes' memory, ptrace, opening files by handle (which bypasses path checks), process
/// accounting and quotas.
fn denied_always() -> Vec<i64> {
    let mut v = vec![
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        467, // open_tree_attr (6.15), same number on every architecture
        libc::SYS_reboot,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_settimeofday,
        libc::SYS_adjtimex,
        libc::SYS_sethostname,
        libc::SYS_setdomainname,
        libc::SYS_bpf,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_process_vm_writev,
        libc::SYS_ptrace,
        libc::SYS_open_by_handle_at,
        libc::SYS_acct,
        libc::SYS_quotactl,
        libc::SYS_fchownat,
        libc::SYS_fchown,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_fremovexattr,
        463, // setxattrat (6.13)
        466, // removexattrat (6.13)
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        libc::SYS_iopl,
        libc::SYS_ioperm,
        libc::SYS_chown,
        libc::SYS_lchown,
    ]);
    v
}

/// Refused only in the read-only profile: mode and time changes, which a reversible command
/// legitimately makes under its writable roots (`touch`, `chmod +x`).
fn denied_metadata() -> Vec<i64> {
    let mut v = vec![
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        libc::SYS_fchmodat2,
        libc::SYS_utimensat,
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        libc::SYS_chmod,
        libc::SYS_utime,
        libc::SYS_utimes,
        libc::SYS_futimesat,
    ]);
    v
}

/// Calls that act on another process named by an argument, allowed only for the caller
/// itself (argument = 0): renice, CPU affinity, scheduling, I/O priority, resource limits.
fn self_only() -> Vec<(i64, u32)> {
    vec![
        (libc::SYS_setpriority, 1),
        (libc::SYS_sched_setaffinity, 0),
        (libc::SYS_sched_setscheduler, 0),
        (libc::SYS_sched_setparam, 0),
        (libc::SYS_sched_setattr, 0),
        (libc::SYS_ioprio_set, 1),
        (libc::SYS_prlimit64, 0),
    ]
}

/// `syslog` actions that only read the kernel log: 2 (read), 3 (read all), 9 (size unread),
/// 10 (buffer size). Clearing (4, 5) and console control (6, 7, 8) are refused.
const SYSLOG_READS: [u32; 4] = [2, 3, 9, 10];

fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

const LD: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const JEQ: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const JGE: u32 = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
const RET: u32 = libc::BPF_RET | libc::BPF_K;

/// What the filter does with one system call number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// `EPERM`.
    Deny,
    /// Allowed only when argument `arg` is 0 (the caller itself).
    SelfOnly(u32),
    /// `syslog`: allowed only for reading actions.
    SyslogRead,
    /// `socket`: allowed only for unix and netlink families.
    LocalSockets,
}

/// The instructions that carry out `action` for the number in the accumulator; they always
/// end in a return.
fn action_code(action: Action) -> Vec<sock_filter> {
    match action {
        Action::Deny => vec![stmt(RET, RET_EPERM)],
        Action::SelfOnly(arg) => vec![
            stmt(LD, arg_low(arg)),
            jump(JEQ, 0, 0, 1),
            stmt(RET, RET_ALLOW),
            stmt(RET, RET_EPERM),
        ],
        Action::SyslogRead => {
            let n = SYSLOG_READS.len() as u8;
            let mut v = vec![stmt(LD, arg_low(0))];
            for (i, read) in SYSLOG_READS.iter().enumerate() {
                // a read action jumps over the remaining checks and the EPERM to the ALLOW.
                v.push(jump(JEQ, *read, n - i as u8, 0));
            }
            v.extend([stmt(RET, RET_EPERM), stmt(RET, RET_ALLOW)]);
            v
        }
        Action::LocalSockets => vec![
            stmt(LD, arg_low(0)),
            jump(JEQ, libc::AF_UNIX as u32, 2, 0),
            jump(JEQ, libc::AF_NETLINK as u32, 1, 0),
            stmt(RET, RET_EPERM),
            stmt(RET, RET_ALLOW),
        ],
    }
}

/// Most numbers tested one after the other at a leaf of the search tree.
const LEAF: usize = 4;

/// Emit a binary search over `calls` (sorted by number): `jge` splits down to leaves of at
/// most [`LEAF`] `jeq` tests, each followed by its action; a number that matches none is
/// allowed. The kernel runs the filter on every call of the child and, when it is installed,
/// once per system call number to build its cache of always-allowed calls: a tree makes both
/// about ten instructions instead of a hundred. `None` if a jump would not fit in 8 bits.
fn emit_tree(calls: &[(u32, Action)], out: &mut Vec<sock_filter>) -> Option<()> {
    if calls.len() <= LEAF {
        for (nr, action) in calls {
            let code = action_code(*action);
            out.push(jump(JEQ, *nr, 0, u8::try_from(code.len()).ok()?));
            out.extend(code);
        }
        out.push(stmt(RET, RET_ALLOW));
        return Some(());
    }
    let mid = calls.len() / 2;
    let split = out.len();
    out.push(jump(JGE, calls[mid].0, 0, 0));
    emit_tree(&calls[..mid], out)?;
    // taken when nr >= the pivot: skip the lower half.
    out[split].jt = u8::try_from(out.len() - split - 1).ok()?;
    emit_tree(&calls[mid..], out)
}

/// Build the filter for `spec` (refused numbers from `denied_always` and, when asked,
/// `denied_metadata`), or `None` on an architecture this build has no filter for.
pub fn build(spec: FilterSpec) -> Option<Filter> {
    if !SUPPORTED {
        return None;
    }
    let mut p = vec![
        stmt(LD, ARCH),
        jump(JEQ, AUDIT_ARCH, 1, 0),
        stmt(RET, RET_EPERM),
        stmt(LD, NR),
    ];
    if cfg!(target_arch = "x86_64") {
        // x32 system calls carry bit 30 and the x86_64 audit architecture.
        p.push(jump(JGE, 0x4000_0000, 0, 1));
        p.push(stmt(RET, RET_EPERM));
    }
    let mut calls = std::collections::BTreeMap::new();
    let mut denied = denied_always();
    if spec.deny_metadata {
        denied.extend(denied_metadata());
    }
    for nr in denied {
        calls.insert(nr as u32, Action::Deny);
    }
    for (nr, arg) in self_only() {
        calls.insert(nr as u32, Action::SelfOnly(arg));
    }
    calls.insert(libc::SYS_syslog as u32, Action::SyslogRead);
    if spec.deny_network {
        calls.insert(libc::SYS_socket as u32, Action::LocalSockets);
    }
    let calls: Vec<(u32, Action)> = calls.into_iter().collect();
    emit_tree(&calls, &mut p)?;
    Some(Filter { program: p.into() })
}

/// Install `program` on the calling thread (`no_new_privs` must already be set).
/// Async-signal-safe: one system call on memory prepared by the parent.
pub fn install(program: &libc::sock_fprog) -> Result<(), i32> {
    // SAFETY: `program` points at instructions that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0u32,
            program as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(super::landlock::errno());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `p` on a call the way the kernel does (the subset of classic BPF we emit).
    fn run(p: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> (u32, usize) {
        let (mut acc, mut pc, mut steps) = (0u32, 0usize, 0usize);
        loop {
            let insn = p[pc];
            steps += 1;
            match u32::from(insn.code) {
                LD => {
                    acc = match insn.k {
                        NR => nr,
                        ARCH => arch,
                        k => args[((k - 16) / 8) as usize] as u32,
                    };
                    pc += 1;
                }
                JEQ | JGE => {
                    let taken = if u32::from(insn.code) == JEQ {
                        acc == insn.k
                    } else {
                        acc >= insn.k
                    };
                    pc += 1 + usize::from(if taken { insn.jt } else { insn.jf });
                }
                RET => return (insn.k, steps),
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    fn filter(deny_metadata: bool, deny_network: bool) -> Vec<sock_filter> {
        build(FilterSpec {
            deny_metadata,
            deny_network,
        })
        .expect("supported architecture") // ok: test
        .instructions()
        .to_vec()
    }

    #[test]
    fn every_jump_lands_inside_the_program() {
        for deny_metadata in [false, true] {
            for deny_network in [false, true] {
                let p = filter(deny_metadata, deny_network);
                for (i, insn) in p.iter().enumerate() {
                    if u32::from(insn.code) & 0x07 == libc::BPF_JMP {
                        assert!(i + 1 + (insn.jt as usize) < p.len());
                        assert!(i + 1 + (insn.jf as usize) < p.len());
                    }
                }
            }
        }
    }

    #[test]
    fn each_call_gets_its_action_and_everything_else_is_allowed() {
        let none = [0u64; 6];
        let denied: Vec<i64> = denied_always()
            .into_iter()
            .chain(denied_metadata())
            .collect();
        let mut slowest = 0;
        let p = filter(true, false);
        for nr in 0..600u32 {
            let (ret, steps) = run(&p, AUDIT_ARCH, nr, none);
            slowest = slowest.max(steps);
            // (syslog action 0 closes the log: refused.)
            let expected = if denied.contains(&i64::from(nr)) || i64::from(nr) == libc::SYS_syslog {
                RET_EPERM
            } else {
                RET_ALLOW
            };
            assert_eq!(ret, expected, "system call {nr}");
        }
        assert!(slowest <= 20, "a call takes {slowest} instructions");
        let p = filter(true, true);
        let call = |nr: i64, args: [u64; 6]| run(&p, AUDIT_ARCH, nr as u32, args).0;
        assert_eq!(call(libc::SYS_setpriority, [0, 0, 5, 0, 0, 0]), RET_ALLOW);
        assert_eq!(call(libc::SYS_setpriority, [0, 1, 5, 0, 0, 0]), RET_EPERM);
        assert_eq!(call(libc::SYS_prlimit64, [0, 7, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(call(libc::SYS_prlimit64, [1, 7, 0, 0, 0, 0]), RET_EPERM);
        assert_eq!(call(libc::SYS_syslog, [3, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(call(libc::SYS_syslog, [5, 0, 0, 0, 0, 0]), RET_EPERM);
        assert_eq!(
            call(libc::SYS_socket, [libc::AF_UNIX as u64, 1, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            call(libc::SYS_socket, [libc::AF_NETLINK as u64, 3, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            call(libc::SYS_socket, [libc::AF_INET as u64, 1, 0, 0, 0, 0]),
            RET_EPERM
        );
        assert_eq!(
            call(libc::SYS_socket, [libc::AF_PACKET as u64, 3, 0, 0, 0, 0]),
            RET_EPERM
        );
        let open = filter(false, false);
        let call = |nr: i64| run(&open, AUDIT_ARCH, nr as u32, none).0;
        assert_eq!(call(libc::SYS_socket), RET_ALLOW, "network any");
        assert_eq!(
            call(libc::SYS_fchmodat),
            RET_ALLOW,
            "reversible changes modes"
        );
        assert_eq!(call(libc::SYS_mount), RET_EPERM);
        // Another architecture's calls (32-bit x86 on x86_64) are refused outright.
        assert_eq!(
            run(&open, 0x4000_0003, libc::SYS_getpid as u32, none).0,
            RET_EPERM
        );
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                run(&open, AUDIT_ARCH, 0x4000_0000 | 39, none).0,
                RET_EPERM,
                "x32"
            );
        }
    }
}
