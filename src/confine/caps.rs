//! Capabilities: which ones a confined child keeps, and the system calls that drop the rest.
//!
//! Kept (only when the server holds them; see ADR 0006 for the reasoning):
//! - `CAP_DAC_READ_SEARCH`: root reads every file whatever its mode, as an operator expects of
//!   a root diagnostic (`cat` of a service's 0600 configuration). It grants no write, and
//!   `open_by_handle_at`, the one call through which it could bypass path checks, is refused by
//!   the seccomp filter.
//! - `CAP_SYSLOG`: `dmesg` under `kernel.dmesg_restrict=1`; the filter lets `syslog` only read.
//!
//! Everything else goes: from the bounding set (so no later `execve` of a root-owned or
//! set-uid program can regain it), from the ambient, inheritable, permitted and effective sets.

use std::io;

/// `CAP_DAC_READ_SEARCH`.
pub(crate) const DAC_READ_SEARCH: u32 = 2;
/// `CAP_SETPCAP`: needed to shrink the bounding set.
pub(crate) const SETPCAP: u32 = 8;
/// `CAP_SYSLOG`.
pub(crate) const SYSLOG: u32 = 34;

/// The capabilities a confined child may keep (if the server has them).
pub(crate) const KEEP: u64 = (1 << DAC_READ_SEARCH) | (1 << SYSLOG);

const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The server's own effective and permitted sets.
pub(crate) fn current() -> io::Result<(u64, u64)> {
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: header and two data structures, as version 3 requires.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
    ))
}

/// The highest capability number this kernel knows.
pub(crate) fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// What the child does with its capabilities, decided in the parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CapPlan {
    /// The set kept as permitted and effective (a subset of [`KEEP`]).
    pub keep: u64,
    /// Whether the bounding set can be shrunk (the server has `CAP_SETPCAP`).
    pub drop_bounding: bool,
    /// The highest capability number to drop from the bounding set.
    pub last_cap: u32,
}

impl CapPlan {
    /// The plan for this server's own capabilities.
    pub(crate) fn for_this_process() -> CapPlan {
        let (effective, permitted) = current().unwrap_or((0, 0));
        CapPlan {
            keep: permitted & KEEP,
            drop_bounding: effective & (1 << SETPCAP) != 0,
            last_cap: last_cap().min(63),
        }
    }

    /// Drop everything but `keep`. Async-signal-safe: system calls only. Returns the errno of
    /// the first call that failed.
    pub(crate) fn apply(&self) -> Result<(), i32> {
        if self.drop_bounding {
            for cap in 0..=self.last_cap {
                if self.keep & (1 << cap) != 0 {
                    continue;
                }
                // SAFETY: prctl with integer arguments.
                let r =
                    unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
                if r < 0 && super::landlock::errno() != libc::EINVAL {
                    return Err(super::landlock::errno());
                }
            }
        }
        // SAFETY: prctl with integer arguments; EINVAL means a kernel without ambient sets.
        let r = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        };
        if r < 0 && super::landlock::errno() != libc::EINVAL {
            return Err(super::landlock::errno());
        }
        let mut header = Header {
            version: VERSION_3,
            pid: 0,
        };
        let lo = self.keep as u32;
        let hi = (self.keep >> 32) as u32;
        let data = [
            Data {
                effective: lo,
                permitted: lo,
                inheritable: 0,
            },
            Data {
                effective: hi,
                permitted: hi,
                inheritable: 0,
            },
        ];
        // SAFETY: header and two data structures on this stack frame.
        let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
        if r < 0 {
            return Err(super::landlock::errno());
        }
        Ok(())
    }
}

/// Names of the capabilities in `set` that the profiles keep, for `server_info`.
pub(crate) fn kept_names(set: u64) -> Vec<&'static str> {
    let mut names = Vec::new();
    if set & (1 << DAC_READ_SEARCH) != 0 {
        names.push("CAP_DAC_READ_SEARCH");
    }
    if set & (1 << SYSLOG) != 0 {
        names.push("CAP_SYSLOG");
    }
    names
}
