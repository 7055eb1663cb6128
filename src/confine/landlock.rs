//! Landlock through its three system calls (`landlock_create_ruleset`, `landlock_add_rule`,
//! `landlock_restrict_self`), called with `libc::syscall` rather than through a crate: the
//! child only ever makes the last call, on a ruleset descriptor the parent built, so nothing in
//! the child allocates or reports through a builder (see ADR 0006).
//!
//! Access rights come and go with the ABI version the kernel reports; a ruleset only handles
//! the rights its ABI knows, so an older kernel gets the strongest ruleset it can enforce and
//! [`super::Support`] names what is missing.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `LANDLOCK_CREATE_RULESET_VERSION`: ask for the ABI version instead of creating a ruleset.
const CREATE_RULESET_VERSION: u32 = 1;
/// `LANDLOCK_RULE_PATH_BENEATH`.
const RULE_PATH_BENEATH: libc::c_int = 1;

/// Execute a file.
pub(crate) const EXECUTE: u64 = 1 << 0;
/// Open a file with write access.
pub(crate) const WRITE_FILE: u64 = 1 << 1;
/// Open a file with read access.
pub(crate) const READ_FILE: u64 = 1 << 2;
/// Open a directory or list its content.
pub(crate) const READ_DIR: u64 = 1 << 3;
// Bits 4 to 12 remove directories and files and make the seven kinds of file (directory,
// regular, symlink, socket, fifo, character and block device); bit 13 (ABI 2, `REFER`)
// links or renames across directories. The profiles grant them only as a whole, on the
// scratch directory and the writable roots.
/// Truncate a file (`truncate`, `ftruncate`, `O_TRUNC`; ABI 3).
pub(crate) const TRUNCATE: u64 = 1 << 14;
/// `ioctl` on a character or block device opened in the domain (ABI 5).
pub(crate) const IOCTL_DEV: u64 = 1 << 15;

/// Bind a TCP socket to a port (ABI 4).
pub(crate) const NET_BIND_TCP: u64 = 1 << 0;
/// Connect a TCP socket to a port (ABI 4).
pub(crate) const NET_CONNECT_TCP: u64 = 1 << 1;

/// Refuse connecting to abstract unix sockets created outside the domain (ABI 6).
pub(crate) const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
/// Refuse signalling processes outside the domain (ABI 6).
pub(crate) const SCOPE_SIGNAL: u64 = 1 << 1;

/// Read and execute: what the read-only profile grants on `/`.
pub(crate) const READ: u64 = EXECUTE | READ_FILE | READ_DIR;
/// Rights that make sense on a file that is not a directory.
const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
/// A writable device file (`/dev/null`, a terminal): read, write, truncate on open, ioctl.
pub(crate) const DEVICE_RW: u64 = READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV;

/// The first ABI with signal and abstract-socket scopes.
pub(crate) const SCOPES_ABI: u32 = 6;

/// Filesystem rights known to `abi`.
pub(crate) fn fs_rights(abi: u32) -> u64 {
    match abi {
        0 => 0,
        1 => (1 << 13) - 1,
        2 => (1 << 14) - 1,
        3 | 4 => (1 << 15) - 1,
        _ => (1 << 16) - 1,
    }
}

/// Network rights known to `abi`.
pub(crate) fn net_rights(abi: u32) -> u64 {
    if abi >= 4 {
        NET_BIND_TCP | NET_CONNECT_TCP
    } else {
        0
    }
}

/// Scopes known to `abi`.
pub(crate) fn scopes(abi: u32) -> u64 {
    if abi >= SCOPES_ABI {
        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    } else {
        0
    }
}

/// `struct landlock_ruleset_attr` (its size grew with ABI 4 and 6).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the kernel's header).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version this kernel offers, or why it offers none (`ENOSYS`: not built
/// in; `EOPNOTSUPP`: built in but disabled at boot).
pub(crate) fn abi() -> io::Result<u32> {
    // SAFETY: with the VERSION flag the kernel reads no attribute and returns a number.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if v < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u32::try_from(v).unwrap_or(0))
}

/// A ruleset being built in the parent; the child only restricts itself with its descriptor.
#[derive(Debug)]
pub(crate) struct Ruleset {
    /// The ruleset descriptor (close-on-exec, as the kernel creates it).
    fd: OwnedFd,
    /// Filesystem rights this ruleset handles (everything not granted by a rule is denied).
    handled_fs: u64,
}

impl Ruleset {
    /// A ruleset for `abi` handling every filesystem right the ABI knows, the network rights
    /// in `net` and the scopes in `scoped` (each masked to what the ABI knows).
    pub(crate) fn new(abi: u32, net: u64, scoped: u64) -> io::Result<Ruleset> {
        let attr = RulesetAttr {
            handled_access_fs: fs_rights(abi),
            handled_access_net: net & net_rights(abi),
            scoped: scoped & scopes(abi),
        };
        // Older kernels know a shorter structure; give each the size it expects.
        let size = match abi {
            0..=3 => 8,
            4 | 5 => 16,
            _ => std::mem::size_of::<RulesetAttr>(),
        };
        // SAFETY: `attr` lives across the call and `size` never exceeds it.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                size,
                0u32,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(Ruleset {
            fd,
            handled_fs: attr.handled_access_fs,
        })
    }

    /// Grant `access` beneath `path` (or on the file itself). A path that does not exist is
    /// skipped: there is nothing to grant. Rights the ruleset does not handle are dropped, and
    /// a file that is not a directory only receives the rights that apply to files.
    pub(crate) fn allow(&mut self, path: &Path, access: u64) -> io::Result<()> {
        let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"));
        };
        // SAFETY: a NUL-terminated path; O_PATH opens nothing but the name.
        let raw = unsafe { libc::open(c_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if raw < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::EACCES) => Ok(()),
                _ => Err(e),
            };
        }
        // SAFETY: `raw` is a descriptor we just opened and own.
        let parent = unsafe { OwnedFd::from_raw_fd(raw) };
        self.allow_fd(parent.as_fd(), access)
    }

    /// Grant `access` beneath the file or directory `parent` refers to (an `O_PATH`
    /// descriptor is enough): no path lookup at all.
    pub(crate) fn allow_fd(&mut self, parent: BorrowedFd<'_>, access: u64) -> io::Result<()> {
        // SAFETY: fstat fills a zeroed structure we own, on a descriptor we borrow.
        let is_dir = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            libc::fstat(parent.as_raw_fd(), &mut st) == 0
                && st.st_mode & libc::S_IFMT == libc::S_IFDIR
        };
        let mut allowed = access & self.handled_fs;
        if !is_dir {
            allowed &= FILE_RIGHTS;
        }
        if allowed == 0 {
            return Ok(());
        }
        let attr = PathBeneathAttr {
            allowed_access: allowed,
            parent_fd: parent.as_raw_fd(),
        };
        // SAFETY: `attr` and both descriptors live across the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.fd.as_raw_fd(),
                RULE_PATH_BENEATH,
                &attr as *const PathBeneathAttr,
                0u32,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The descriptor the child passes to `landlock_restrict_self`.
    pub(crate) fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// Enforce the ruleset on the calling thread. Async-signal-safe: one system call.
pub(crate) fn restrict_self(ruleset_fd: i32) -> Result<(), i32> {
    // SAFETY: a plain system call on a descriptor; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset_fd, 0u32) };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// The calling thread's `errno`, without allocating.
pub(super) fn errno() -> i32 {
    // SAFETY: reading the thread's errno location.
    unsafe { *libc::__errno_location() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_grow_with_the_abi() {
        let refer = 1 << 13;
        assert_eq!(fs_rights(1) & refer, 0);
        assert_eq!(fs_rights(2) & refer, refer);
        assert_eq!(fs_rights(2) & TRUNCATE, 0);
        assert_eq!(fs_rights(3) & TRUNCATE, TRUNCATE);
        assert_eq!(fs_rights(4) & IOCTL_DEV, 0);
        assert_eq!(fs_rights(5) & IOCTL_DEV, IOCTL_DEV);
        assert_eq!(
            fs_rights(9),
            fs_rights(5),
            "unknown later rights are not handled"
        );
        assert_eq!(net_rights(3), 0);
        assert_eq!(scopes(5), 0);
        assert_eq!(scopes(6), SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL);
    }
}
