//! `exec::run` against real processes, unconfined (the `posix_spawn` path): the cases are in
//! `exec_support/cases.rs`, shared with `confine_exec.rs`.

use relay_shell::confine::Confinement;

/// Children of this suite run unconfined.
fn confinement() -> Option<Confinement> {
    None
}

#[path = "exec_support/cases.rs"]
mod cases;
