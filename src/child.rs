//! Child processes that die with the harness: Kafka's JVMs (the embedded cluster) and the
//! exec drivers' client processes. A bottom layer: it imports nothing of the crate, and both
//! `cluster` and `driver` use it.
//!
//! Every child is started by a [`Spawner`] thread that outlives it: an embedded cluster has
//! one that lives exactly as long as the cluster, and exec drivers share one that lives as
//! long as the harness ([`shared`]).
//!
//! ```text
//!   caller ──Command──> Spawner thread ──fork/exec──> child (own process group,
//!                            │                              PR_SET_PDEATHSIG = SIGKILL)
//!                            └─ lives until the cluster drops (or, shared, the process ends)
//! ```
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends, not the process,
//! so spawning from a short-lived thread (a tokio blocking thread, a test thread) would kill
//! the child early. If the harness dies any way at all (panic, SIGKILL), its threads end and
//! the kernel kills the children. Each child gets its own process group so a Ctrl-C in the
//! terminal reaches the harness only, which then shuts its children down in order; signals
//! to a child go to its whole group (its own children included).
//!
//! This is the one module allowed `unsafe`: `pre_exec` runs code between fork and exec.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::{OnceLock, mpsc};
use std::thread::JoinHandle;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::sync::oneshot;

type Job = (Command, oneshot::Sender<io::Result<Child>>);

/// A thread that spawns children and outlives them.
#[derive(Debug)]
pub(crate) struct Spawner {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Spawner {
    /// Starts the spawner thread.
    pub(crate) fn new() -> io::Result<Spawner> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("kafka-harness-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    tie_to_this_thread(&mut command);
                    // The receiver may be gone if the caller gave up; the child then stays
                    // tied to this thread and dies when it ends.
                    let _ = reply.send(command.spawn());
                }
            })?;
        Ok(Spawner {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Spawns `command` from the spawner thread.
    pub(crate) async fn spawn(&self, command: Command) -> io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        let gone = || io::Error::other("the spawner thread has stopped");
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send((command, reply))
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The spawner thread shared by every child that lives as long as the harness may: started
/// on first use, never stopped (a static is never dropped), so its children die only with
/// the process or when their owner kills them.
pub(crate) fn shared() -> io::Result<&'static Spawner> {
    static SHARED: OnceLock<Result<Spawner, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| Spawner::new().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| io::Error::other(format!("starting the spawner thread: {e}")))
}

/// Puts the child in its own process group and has the kernel SIGKILL it when the calling
/// thread ends.
///
/// Call it from a thread that lives as long as the child should.
#[allow(unsafe_code)]
pub(crate) fn tie_to_this_thread(command: &mut Command) {
    let parent = std::process::id();
    command.process_group(0);
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed. It makes two raw syscalls (prctl, getppid) and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // The parent may have died between fork and prctl; then no signal will come.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(io::Error::other("parent exited before the child started"));
            }
            Ok(())
        });
    }
}

/// Sends `signal` to the process group led by `pid`.
pub(crate) fn signal_group(pid: u32, signal: Signal) -> io::Result<()> {
    killpg(Pid::from_raw(pid as i32), signal).map_err(io::Error::from)
}

/// True when the process is stopped (SIGSTOP), read from `/proc/PID/stat`.
pub(crate) fn is_stopped(pid: u32) -> io::Result<bool> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The state is the first field after the command name, which is in parentheses and may
    // itself contain spaces or parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .ok_or_else(|| io::Error::other("unreadable /proc stat"))?;
    Ok(state == "T" || state == "t")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn child_dies_with_the_spawner_thread() {
        let spawner = Spawner::new().unwrap();
        let mut command = Command::new("sleep");
        command.arg("30");
        let mut child = spawner.spawn(command).await.unwrap();
        drop(spawner);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "child outlived its spawner");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[tokio::test]
    async fn stop_and_continue_are_visible() {
        let spawner = Spawner::new().unwrap();
        let mut command = Command::new("sleep");
        command.arg("30");
        let mut child = spawner.spawn(command).await.unwrap();
        let pid = child.id();
        signal_group(pid, Signal::SIGSTOP).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_stopped(pid).unwrap() {
            assert!(Instant::now() < deadline, "never stopped");
            std::thread::sleep(Duration::from_millis(10));
        }
        signal_group(pid, Signal::SIGCONT).unwrap();
        while is_stopped(pid).unwrap() {
            assert!(Instant::now() < deadline, "never continued");
            std::thread::sleep(Duration::from_millis(10));
        }
        signal_group(pid, Signal::SIGKILL).unwrap();
        child.wait().unwrap();
    }
}
