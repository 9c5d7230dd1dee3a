//! One client process: spawned from the harness's shared spawner thread (own process group,
//! `PR_SET_PDEATHSIG = SIGKILL`, see the crate's `child` module), its stderr and its
//! non-event stdout lines written to its log file, its exit watched by a thread of its own.
//!
//! ```text
//!   spawn ──> child ──stdin──> (the driver writes configure, send, shutdown)
//!               ├──stdout──> (the driver reads events; log lines go to ClientLog)
//!               ├──stderr──> task ──> ClientLog (+ the last lines, for a start-up error)
//!               └──exit────> waiter thread: wait(), SIGKILL what is left of its group,
//!                                           publish the status (Exit)
//! ```
//!
//! The driver owns a [`Child`]: dropping it SIGKILLs the process group if the process is
//! still running, so a task aborted or a run failed leaves no process behind. Tasks get a
//! [`Exit`] (the status, and a kill that does nothing once the process has been reaped).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use super::ExecSpec;
use crate::driver::now_us;

/// Stderr lines kept for a start-up error.
const TAIL: usize = 20;

/// The log file of one process: its stderr, its stdout lines that are no events, and the
/// harness's own notes about it, each line marked with where it came from and when (seconds
/// since the process started).
pub(crate) struct ClientLog {
    path: PathBuf,
    /// The path relative to the run folder (`clients/<table>-<instance>.log`).
    pub(crate) relative: String,
    file: Mutex<io::BufWriter<std::fs::File>>,
    tail: Mutex<VecDeque<String>>,
    started_us: u64,
}

/// A name fit for a file: letters, digits, `.`, `_` and `-` kept, anything else `_`.
fn file_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl ClientLog {
    /// Creates `<dir>/<table>-<instance>.log` (`<table>-<role>-<instance>.log` if a table of
    /// the other role took that name).
    pub(crate) fn create(dir: &Path, spec: &ExecSpec) -> io::Result<ClientLog> {
        std::fs::create_dir_all(dir)?;
        let table = file_name(&spec.table);
        let names = [
            format!("{table}-{}.log", spec.instance),
            format!("{table}-{}-{}.log", spec.role, spec.instance),
        ];
        let mut last = None;
        for name in names {
            let path = dir.join(&name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    let folder = dir
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    return Ok(ClientLog {
                        relative: if folder.is_empty() {
                            name
                        } else {
                            format!("{folder}/{name}")
                        },
                        path,
                        file: Mutex::new(io::BufWriter::new(file)),
                        tail: Mutex::new(VecDeque::new()),
                        started_us: now_us(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no file name")))
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line from `source` (`stdout`, `stderr`, `harness`).
    pub(crate) fn line(&self, source: &str, text: &str) {
        let at = now_us().saturating_sub(self.started_us) as f64 / 1e6;
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(file, "[{at:>9.3} {source}] {text}");
    }

    /// Appends a stderr line and keeps it among the last ones.
    fn stderr(&self, text: &str) {
        self.line("stderr", text);
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == TAIL {
            tail.pop_front();
        }
        tail.push_back(super::cut(text, 500));
    }

    /// The last stderr lines.
    pub(crate) fn last_stderr(&self) -> Vec<String> {
        self.tail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Writes what is buffered to the file.
    pub(crate) fn flush(&self) {
        let _ = self.file.lock().unwrap_or_else(|e| e.into_inner()).flush();
    }
}

impl Drop for ClientLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// How a process ended, as the report says it: `exit 0`, `signal 9`.
pub(crate) fn how(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}

/// The exit of one process, shared with the tasks that read it.
#[derive(Clone)]
pub(crate) struct Exit {
    pid: u32,
    status: watch::Receiver<Option<ExitStatus>>,
}

impl Exit {
    /// The status, once the process has ended.
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        *self.status.borrow()
    }

    /// Waits for the process to end.
    pub(crate) async fn wait(&self) -> Option<ExitStatus> {
        let mut status = self.status.clone();
        let ended = status.wait_for(Option::is_some).await.ok().and_then(|s| *s);
        ended.or_else(|| self.status())
    }

    /// Waits at most `timeout` for the process to end.
    pub(crate) async fn wait_for(&self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.wait())
            .await
            .ok()
            .flatten()
    }

    /// Sends `signal` to the process group, unless the process has been reaped (its group
    /// was killed then, and its pid may belong to someone else by now).
    pub(crate) fn signal(&self, signal: Signal) {
        if self.status().is_none() {
            let _ = crate::child::signal_group(self.pid, signal);
        }
    }

    /// SIGKILL to the process group.
    pub(crate) fn kill(&self) {
        self.signal(Signal::SIGKILL);
    }

    /// The process id (and process group id).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }
}

/// The owner's handle: dropping it kills the process group.
pub(crate) struct Child {
    pub(crate) exit: Exit,
}

impl Drop for Child {
    fn drop(&mut self) {
        self.exit.kill();
    }
}

/// A started process and its pipes.
pub(crate) struct Spawned {
    pub(crate) child: Child,
    pub(crate) stdin: tokio::process::ChildStdin,
    pub(crate) stdout: tokio::process::ChildStdout,
    /// Ends when stderr closes (the process and everything holding its stderr ended).
    pub(crate) stderr: tokio::task::JoinHandle<()>,
}

/// Starts the process `spec` describes. Fails when it cannot be started (no such command,
/// not executable, no such folder).
pub(crate) async fn spawn(spec: &ExecSpec, log: &Arc<ClientLog>) -> io::Result<Spawned> {
    let Some((program, args)) = spec.command.split_first() else {
        return Err(io::Error::other("the command is empty"));
    };
    let mut command = std::process::Command::new(program);
    command
        .args(args)
        .envs(&spec.env)
        .current_dir(&spec.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = crate::child::shared()?.spawn(command).await?;
    let pid = child.id();
    let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
        let _ = crate::child::signal_group(pid, Signal::SIGKILL);
        let _ = child.wait();
        return Err(io::Error::other("the process's pipes were not made"));
    };
    let (tx, status) = watch::channel(None);
    // Waits on its own thread (a blocking wait), then kills what is left of the group (a
    // process the client started and left behind) before anyone can see it reaped.
    std::thread::Builder::new()
        .name(format!("kh-exec-{pid}"))
        .spawn(move || {
            let ended = child.wait();
            let _ = crate::child::signal_group(pid, Signal::SIGKILL);
            let _ = tx.send(Some(ended.unwrap_or_else(|_| ExitStatus::from_raw(-1))));
        })?;
    let exit = Exit { pid, status };
    let owned = Child { exit };
    let stdin = tokio::process::ChildStdin::from_std(stdin)?;
    let stdout = tokio::process::ChildStdout::from_std(stdout)?;
    let stderr = tokio::process::ChildStderr::from_std(stderr)?;
    let log = Arc::clone(log);
    let stderr = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr);
        let mut line = Vec::new();
        loop {
            line.clear();
            match lines.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    log.stderr(text.trim_end_matches(['\n', '\r']));
                }
            }
        }
        log.flush();
    });
    Ok(Spawned {
        child: owned,
        stdin,
        stdout,
        stderr,
    })
}
