//! A long-lived launcher per profile: threads of the server that confined themselves once
//! (capabilities dropped, `no_new_privs`, the profile's seccomp filter) and start every
//! confined child of that profile. Credentials, `no_new_privs` and seccomp filters belong to a
//! thread, not to the process, and a child inherits those of the thread that cloned it; so a
//! child of the launcher only has to enforce its own per-call Landlock domain.
//!
//! Why: installing a seccomp filter converts and JIT-compiles it and builds the kernel's
//! per-number cache, and each bounding-set drop commits new credentials; done once per
//! launcher instead of once per child, that cost leaves the call (`docs/performance.md`).
//! The launcher thread runs nothing but [`super::launch::launch`] and never touches work of
//! the server's other threads; the server's own credentials are untouched.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::child::ChildSteps;
use super::launch::{self, Apply, Launch, LaunchError, Launched};

/// One start request.
struct Job {
    /// What to start.
    spec: Launch,
    /// Descriptors `spec` names (stdio): owned here so they stay open until the launch,
    /// whatever the caller does meanwhile.
    fds: Vec<OwnedFd>,
    /// The child's per-call steps (its Landlock ruleset).
    steps: Arc<ChildSteps>,
    /// Where the started child goes.
    reply: oneshot::Sender<Result<Launched, LaunchError>>,
}

/// The launcher threads of one profile.
#[derive(Debug)]
pub(crate) struct Launcher {
    /// Their queue.
    jobs: Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("spec", &self.spec).finish()
    }
}

impl Launcher {
    /// Start the launcher threads (named `name`), each applying `steps` (capabilities,
    /// `no_new_privs`, seccomp; no ruleset) to itself. Several threads: a thread is held from
    /// `clone` until its child has exec'd (like `posix_spawn`), so under load one thread would
    /// serialise concurrent calls behind each other's scheduling. Fails, naming the step, if
    /// the kernel refuses one.
    pub(crate) fn start(name: &str, steps: ChildSteps) -> io::Result<Launcher> {
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8);
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let steps = Arc::new(steps);
        for _ in 0..threads {
            let (ready, is_ready) = sync_channel(1);
            let queue = queue.clone();
            let steps = steps.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    let setup = steps.apply_inherited();
                    let ok = setup.is_ok();
                    let _ = ready.send(setup);
                    if ok {
                        serve(&queue);
                    }
                })?;
            match is_ready.recv() {
                Ok(Ok(())) => {}
                Ok(Err((step, errno))) => {
                    return Err(io::Error::other(format!(
                        "confined launcher: {}: {}",
                        step.as_str(),
                        io::Error::from_raw_os_error(errno)
                    )));
                }
                Err(_) => return Err(io::Error::other("confined launcher thread stopped")),
            }
        }
        Ok(Launcher { jobs })
    }

    /// Start `spec` with `steps`' Landlock domain; `fds` are the descriptors it names.
    pub(crate) async fn launch(
        &self,
        spec: Launch,
        fds: Vec<OwnedFd>,
        steps: Arc<ChildSteps>,
    ) -> Result<Launched, LaunchError> {
        let (reply, started) = oneshot::channel();
        let stopped = || LaunchError::Parent(io::Error::other("confined launcher stopped"));
        self.jobs
            .send(Job {
                spec,
                fds,
                steps,
                reply,
            })
            .map_err(|_| stopped())?;
        started.await.map_err(|_| stopped())?
    }
}

/// A launcher thread's loop: take the next job (one thread waits on the queue at a time), start
/// its child, hand it over. Ends when the launcher is dropped.
fn serve(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = job else {
            return;
        };
        let started = launch::launch(&job.spec, Some(&job.steps), Apply::DomainOnly);
        drop(job.fds);
        if let Err(Ok(orphan)) = job.reply.send(started) {
            // The caller went away meanwhile: nobody will wait for this child.
            kill_and_reap(&orphan);
        }
    }
}

/// Kill and reap a child no caller is waiting for.
fn kill_and_reap(child: &Launched) {
    // SAFETY: a signal through our own pidfd.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            child.pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        );
    }
    let _ = nix::sys::wait::waitid(
        nix::sys::wait::Id::PIDFd(child.pidfd.as_fd()),
        nix::sys::wait::WaitPidFlag::WEXITED,
    );
}
