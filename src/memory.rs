//! Memory hygiene for a long-running server: few allocator arenas, and the garbage of
//! start-up (compiling the policy and redaction tables) handed back to the system.
//!
//! glibc gives each thread that meets contention its own malloc arena, up to eight per core;
//! each keeps the high-water mark of whatever was once allocated in it. A server whose calls
//! allocate little gains nothing from more than two, and its resident size is then what it
//! holds, not what it once held.

use crate::policy;

/// Most malloc arenas (glibc): the main heap plus one.
pub const MALLOC_ARENAS: i32 = 2;

/// Cap glibc's malloc arenas at [`MALLOC_ARENAS`]. Call first thing in `main`, before any
/// thread starts. A no-op on other C libraries. An operator's own `MALLOC_ARENA_MAX` wins.
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable; it is called before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

/// Build the tables the first call would otherwise build (the classifier's rule set), then
/// return free heap pages to the system. Call once, after the server's state is built and
/// before it serves. Nothing is classified here: a search cache or parser made on this
/// thread would never be used again.
pub fn settle_after_startup() {
    policy::prepare();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
