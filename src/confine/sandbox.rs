//! `relay-shell sandbox --profile P -- CMD…`: run one command by hand under a profile, as the
//! server would run it (the child environment of `exec/`, a scratch `TMPDIR`), but with this
//! terminal's stdin, stdout and stderr. Exits with the command's status (128 + N for signal N).

use std::ffi::CString;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use super::launch::{self, Launch};
use super::{Confiner, Profile};

/// Run `argv` under `profile`. Refuses (exit 2) when the confiner says the kernel cannot
/// enforce what `require` asks for; warns on stderr when confinement is partial.
pub fn run_sandbox_cli(confiner: &Confiner, profile: Profile, argv: &[String]) -> ExitCode {
    let Some(name) = argv.first() else {
        eprintln!("relay-shell: sandbox: no command given (relay-shell sandbox -- CMD ARGS…)");
        return ExitCode::from(2);
    };
    if let Some(refusal) = confiner.refusal() {
        eprintln!("relay-shell: sandbox: {refusal}");
        return ExitCode::from(2);
    }
    if let Some(warning) = confiner.warning() {
        eprintln!("relay-shell: sandbox: warning: {warning}");
    }
    let tty = nix::unistd::ttyname(std::io::stdin().as_fd()).ok();
    let prepared = match confiner.prepare(profile, None, tty.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("relay-shell: sandbox: {}", e.message);
            return ExitCode::from(2);
        }
    };
    let mut env = crate::exec::child_env(&Vec::new());
    if let Some(p) = &prepared {
        env.retain(|(k, _)| k != "TMPDIR");
        env.push(("TMPDIR".into(), p.tmpdir().as_os_str().to_owned()));
    }
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    let program = match launch::resolve_program(name, path_var.as_deref(), None) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("relay-shell: sandbox: {name}: {e}");
            return ExitCode::from(127);
        }
    };
    let cstr = |b: &[u8]| CString::new(b).ok();
    let built = (|| {
        Some(Launch {
            program: cstr(program.as_os_str().as_bytes())?,
            argv: argv
                .iter()
                .map(|a| cstr(a.as_bytes()))
                .collect::<Option<_>>()?,
            envp: env
                .iter()
                .map(|(k, v)| cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
                .collect::<Option<_>>()?,
            cwd: None,
            stdio: [None; 3],
            new_session: false,
            setup: crate::procs::ChildSetup::NONE,
        })
    })();
    let Some(spec) = built else {
        eprintln!("relay-shell: sandbox: an argument or variable contains a NUL byte");
        return ExitCode::from(2);
    };
    eprintln!(
        "relay-shell: sandbox: {} under {}",
        name,
        prepared.as_ref().map_or("none", |p| p.label())
    );
    let steps = prepared.as_ref().map(|p| p.steps().as_ref());
    let child = match launch::launch(&spec, steps, launch::Apply::All) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("relay-shell: sandbox: {name}: {e}");
            return ExitCode::from(126);
        }
    };
    // Like system(3): the terminal's ^C and ^\ are for the command, not for us, so the
    // scratch directory is still removed when it dies of them.
    // SAFETY: setting dispositions of our own, after the child has its defaults.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    let code = loop {
        match waitid(Id::PIDFd(child.pidfd.as_fd()), WaitPidFlag::WEXITED) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("relay-shell: sandbox: waiting for {name}: {e}");
                break 125;
            }
        }
    };
    drop(prepared);
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}
