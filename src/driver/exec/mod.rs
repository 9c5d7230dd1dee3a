//! The exec driver: your own client, in any language, as a child process speaking
//! newline-delimited JSON (the protocol is `docs/drivers.md`, version 1; [`protocol`] reads
//! and writes its lines).
//!
//! ```text
//!   run ──ExecSpec + ExecEnv──> ExecProducer::start / ExecConsumer::run
//!                                   │ spawn (process.rs: own process group, dies with the harness)
//!                                   v
//!   stdin:  configure ──────────> process ──stdout──> one line at a time ──protocol::parse──┐
//!           send (per record,                 └──stderr──> clients/<table>-<instance>.log  │
//!           batched by a writer task)                                                      │
//!           shutdown                        ┌──────────────────────────────────────────────┘
//!                                           ├─ producer: answer ──> the send's Done (SendOutcome)
//!                                           ├─ consumer: event ──> ConsumerEvent ──> EventSink
//!                                           ├─ not an event, unknown name ──> the log file
//!                                           └─ broken rule ──> Fatal (the run ends, exit 3), kill
//!   every process ──ProcessLog──> run ──> result.json `processes` (when, how it ended, its log)
//! ```
//!
//! An exec producer is one more [`ProducerDriver`](super::ProducerDriver): the run keeps its
//! open-loop schedule, its send-delay accounting and its `max_in_flight` window, and the
//! driver writes one `send` line per record and hands each answer to the record's
//! [`Done`](super::Done). An exec consumer is one more
//! [`ConsumerDriver`](super::ConsumerDriver): it reports what the process reports, in order.
//! A process that ends, is killed or stops answering leaves its unanswered sends
//! indeterminate, never lost.
//!
//! Settings reach the process only through the `configure` line on its stdin, never its
//! command line or environment, and that line is never logged. [`verifiable`] runs Kafka's
//! own VerifiableProducer and VerifiableConsumer in the same way ([`Dialect::Verifiable`]:
//! settings as a properties file on stdin, stopped by SIGTERM).

pub mod consumer;
mod process;
pub mod producer;
pub mod protocol;
pub mod verifiable;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use consumer::ExecConsumer;
pub use producer::ExecProducer;
pub use protocol::Role;

use super::Fatal;

/// How long a process may take to finish after `shutdown` before it gets SIGTERM, and after
/// SIGTERM before it gets SIGKILL.
pub const GRACE: Duration = Duration::from_secs(10);

/// One process to run: what to start, where, and what to tell it.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// The scenario table.
    pub table: String,
    /// Producer or consumer.
    pub role: Role,
    /// The instance number within the table (0, 1, ...; never reused in a run).
    pub instance: u32,
    /// The instance's id in the History (producer id in stamps, consumer id in deliveries).
    pub id: u32,
    /// The program and its arguments (no shell).
    pub command: Vec<String>,
    /// Variables added to the harness's environment.
    pub env: BTreeMap<String, String>,
    /// The folder it runs in.
    pub cwd: PathBuf,
    /// How long it may take to answer `startup_complete`.
    pub startup_timeout: Duration,
    /// The `configure` line's settings.
    pub configure: protocol::Configure,
    /// How it takes its settings and is stopped.
    pub dialect: Dialect,
}

/// How a process takes its settings, reports and is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The exec protocol: `configure` on stdin, `shutdown` to stop.
    Harness,
    /// Kafka's VerifiableProducer / VerifiableConsumer ([`verifiable`]): the client and
    /// security settings as a properties file on stdin, then EOF; stopped by SIGTERM; a
    /// consumer's `records_consumed` repeats its `record_data` and is not counted again.
    Verifiable,
}

impl ExecSpec {
    /// The command as a person would type it (arguments with spaces quoted).
    pub fn command_line(&self) -> String {
        self.command
            .iter()
            .map(|a| {
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
                    format!("'{}'", a.replace('\'', "'\\''"))
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `exec producer audit-writer-0`, as messages name the process.
    pub fn name(&self) -> String {
        format!("exec {} {}-{}", self.role, self.table, self.instance)
    }
}

/// What every exec process of a run shares: where logs go, where a fatal error goes, and
/// the record of every process.
#[derive(Clone, Debug)]
pub struct ExecEnv {
    /// The folder of the processes' log files (`<run dir>/clients`).
    pub clients_dir: PathBuf,
    /// Where a start-up or protocol error goes: it ends the run.
    pub fatal: Fatal,
    /// Every process started.
    pub processes: ProcessLog,
    /// Kafka's tools, for verifiable tables (provisioned by the run when it has any).
    pub tools: Option<verifiable::Tools>,
}

impl ExecEnv {
    /// Logs in `clients_dir`, a fresh fatal slot and process record.
    pub fn new(clients_dir: PathBuf) -> ExecEnv {
        ExecEnv {
            clients_dir,
            fatal: Fatal::default(),
            processes: ProcessLog::default(),
            tools: None,
        }
    }
}

/// One process of the run, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    /// The scenario table.
    pub table: String,
    /// Producer or consumer.
    pub role: Role,
    /// Instance number within the table.
    pub instance: u32,
    /// Its id in the History (the producer or consumer examples name).
    pub id: u32,
    /// Its process id.
    pub pid: Option<u32>,
    /// The client it said it is (`startup_complete`'s `client`).
    pub client: Option<String>,
    /// Its log, relative to the run folder (`clients/<table>-<instance>.log`).
    pub log: String,
    /// When it started, microseconds since the UNIX epoch.
    pub started_at_us: u64,
    /// When it ended, if it did.
    pub ended_at_us: Option<u64>,
    /// How it ended: `exit 0`, `signal 9`; `None` while it runs (or if it never started).
    pub how: Option<String>,
    /// Why it ended, as far as the harness knows: `shutdown`, `crash_consumer`, `protocol
    /// error`, `stopped answering`, `start-up failed`, `ended by itself`.
    pub note: Option<String>,
}

/// The record of every exec process of a run, shared by its drivers.
#[derive(Debug, Clone, Default)]
pub struct ProcessLog(Arc<Mutex<Vec<ProcessRecord>>>);

impl ProcessLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ProcessRecord>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a process; returns its index.
    fn add(&self, record: ProcessRecord) -> usize {
        let mut all = self.lock();
        all.push(record);
        all.len() - 1
    }

    /// Changes the process at `index`.
    fn update(&self, index: usize, change: impl FnOnce(&mut ProcessRecord)) {
        if let Some(r) = self.lock().get_mut(index) {
            change(r);
        }
    }

    /// Every process so far, in the order they started.
    pub fn all(&self) -> Vec<ProcessRecord> {
        self.lock().clone()
    }
}

/// An exec process that could not be started, or ended or stayed silent before it
/// answered `startup_complete`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "exec {role} `{table}` instance {instance}: `{command}` {reason}\n{}  its log: {}",
    stderr_lines(last_stderr),
    log.display()
)]
pub struct StartupFailure {
    /// The scenario table.
    pub table: String,
    /// The instance number within the table.
    pub instance: u32,
    /// Producer or consumer.
    pub role: Role,
    /// The command, as a person would type it.
    pub command: String,
    /// What happened (`could not be started: No such file or directory (os error 2)`,
    /// `ended (exit 1) before it answered startup_complete`, ...).
    pub reason: String,
    /// The last lines it wrote to stderr.
    pub last_stderr: Vec<String>,
    /// Its log file.
    pub log: PathBuf,
}

/// `its last stderr lines:` and the lines, indented, each on a line of its own.
fn stderr_lines(lines: &[String]) -> String {
    if lines.is_empty() {
        return "  it wrote nothing to stderr\n".to_owned();
    }
    let mut text = String::from("  its last stderr lines:\n");
    for line in lines {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// A line of an exec process's stdout that names a known event and breaks one of its rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "exec {role} `{table}` instance {instance}: line {line_no} of its stdout breaks the \
     protocol (docs/drivers.md): {rule}\n  the line: {line}\n  its log: {}",
    log.display()
)]
pub struct ProtocolBreach {
    /// The scenario table.
    pub table: String,
    /// The instance number within the table.
    pub instance: u32,
    /// Producer or consumer.
    pub role: Role,
    /// 1-based line number on its stdout.
    pub line_no: u64,
    /// The line (cut after 500 bytes).
    pub line: String,
    /// The rule it broke.
    pub rule: String,
    /// Its log file.
    pub log: PathBuf,
}

/// At most `max` bytes of `text` (cut at a character boundary), `…` marking a cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Everything a running process's reader needs to name it in an error.
#[derive(Debug, Clone)]
struct Names {
    table: String,
    instance: u32,
    role: Role,
    log: PathBuf,
}

impl Names {
    fn of(spec: &ExecSpec, log: PathBuf) -> Names {
        Names {
            table: spec.table.clone(),
            instance: spec.instance,
            role: spec.role,
            log,
        }
    }

    /// The protocol error of line `line_no`.
    fn protocol(&self, line_no: u64, line: &str, rule: String) -> super::DriverError {
        super::DriverError::Protocol(Box::new(ProtocolBreach {
            table: self.table.clone(),
            instance: self.instance,
            role: self.role,
            line_no,
            line: cut(line, 500),
            rule,
            log: self.log.clone(),
        }))
    }
}

/// The start-up error of `spec`'s process.
fn startup_error(
    spec: &ExecSpec,
    reason: String,
    last_stderr: Vec<String>,
    log: PathBuf,
) -> super::DriverError {
    super::DriverError::Startup(Box::new(StartupFailure {
        table: spec.table.clone(),
        instance: spec.instance,
        role: spec.role,
        command: spec.command_line(),
        reason,
        last_stderr,
        log,
    }))
}

/// A process started and configured, not yet known to be ready: the process and its pipes.
struct Launched {
    proc: Proc,
    /// `None` once closed (a verifiable process reads its settings to EOF).
    stdin: Option<tokio::process::ChildStdin>,
    stdout: tokio::process::ChildStdout,
}

/// A running process as its driver holds it; dropping it kills the process group.
struct Proc {
    child: process::Child,
    /// Ends when its stderr closes.
    stderr: tokio::task::JoinHandle<()>,
    log: Arc<process::ClientLog>,
    /// Its entry in the run's [`ProcessLog`].
    index: usize,
    names: Names,
    env: ExecEnv,
    /// True once its end is in its record.
    recorded: tokio::sync::watch::Receiver<bool>,
}

/// Creates the log, starts the process, records it and writes its `configure` line.
async fn launch(spec: &ExecSpec, env: &ExecEnv) -> Result<Launched, super::DriverError> {
    use tokio::io::AsyncWriteExt;
    let log = process::ClientLog::create(&env.clients_dir, spec).map_err(|e| {
        startup_error(
            spec,
            format!(
                "was not started: its log could not be created in {}: {e}",
                env.clients_dir.display()
            ),
            Vec::new(),
            env.clients_dir.clone(),
        )
    })?;
    let log = Arc::new(log);
    log.line(
        "harness",
        &format!(
            "starting {}: `{}` in {}",
            spec.name(),
            spec.command_line(),
            spec.cwd.display()
        ),
    );
    let index = env.processes.add(ProcessRecord {
        table: spec.table.clone(),
        role: spec.role,
        instance: spec.instance,
        id: spec.id,
        pid: None,
        client: None,
        log: log.relative.clone(),
        started_at_us: super::now_us(),
        ended_at_us: None,
        how: None,
        note: None,
    });
    let spawned = match process::spawn(spec, &log).await {
        Ok(s) => s,
        Err(e) => {
            let reason = if spec.cwd.is_dir() {
                format!("could not be started: {e}")
            } else {
                format!(
                    "could not be started: its folder (cwd) {} is not a folder ({e})",
                    spec.cwd.display()
                )
            };
            log.line("harness", &reason);
            env.processes.update(index, |r| {
                r.ended_at_us = Some(super::now_us());
                r.how = Some("not started".into());
                r.note = Some("start-up failed".into());
            });
            return Err(startup_error(
                spec,
                reason,
                Vec::new(),
                log.path().to_owned(),
            ));
        }
    };
    let pid = spawned.child.exit.pid();
    env.processes.update(index, |r| r.pid = Some(pid));
    log.line("harness", &format!("started, pid {pid}"));
    // The exit, recorded when it happens, however it happens.
    let (done, recorded) = tokio::sync::watch::channel(false);
    {
        let (exit, log, processes) = (
            spawned.child.exit.clone(),
            Arc::clone(&log),
            env.processes.clone(),
        );
        tokio::spawn(async move {
            if let Some(status) = exit.wait().await {
                let how = process::how(status);
                log.line("harness", &format!("ended: {how}"));
                log.flush();
                processes.update(index, |r| {
                    r.ended_at_us = Some(super::now_us());
                    r.how = Some(how);
                    if r.note.is_none() {
                        r.note = Some("ended by itself".into());
                    }
                });
            }
            let _ = done.send(true);
        });
    }
    let mut stdin = spawned.stdin;
    // Never logged: it may hold credentials. A process that already died makes this fail;
    // its exit says more, and is what the caller reports.
    let stdin = match spec.dialect {
        Dialect::Harness => {
            let _ = stdin.write_all(&spec.configure.line()).await;
            let _ = stdin.flush().await;
            Some(stdin)
        }
        Dialect::Verifiable => {
            let mut settings = spec.configure.security.clone();
            settings.extend(spec.configure.client.clone());
            let java = verifiable::java_settings(&settings);
            let _ = stdin.write_all(&verifiable::properties(&java)).await;
            let _ = stdin.shutdown().await;
            None
        }
    };
    let names = Names::of(spec, log.path().to_owned());
    Ok(Launched {
        proc: Proc {
            child: spawned.child,
            stderr: spawned.stderr,
            log,
            index,
            names,
            env: env.clone(),
            recorded,
        },
        stdin,
        stdout: spawned.stdout,
    })
}

/// Waits (briefly) until the end of a process that has ended is in its record.
async fn recorded(mut recorded: tokio::sync::watch::Receiver<bool>) {
    let _ = tokio::time::timeout(Duration::from_secs(2), recorded.wait_for(|r| *r)).await;
}

impl Proc {
    /// Marks why the process is about to end (the exit fills in how).
    fn note(&self, note: impl Into<String>) {
        note_on(&self.env, self.index, &self.log, note.into());
    }

    /// Records the client `startup_complete` named.
    fn client(&self, client: Option<&str>) {
        let client = client.map(|c| cut(c, 200));
        self.env.processes.update(self.index, |r| r.client = client);
    }

    /// The start-up error after the process failed to answer `startup_complete`: it is
    /// killed (if it still runs), and the error waits briefly for its last stderr lines.
    async fn failed_startup(
        self,
        spec: &ExecSpec,
        reason: impl FnOnce(Option<String>) -> String,
    ) -> super::DriverError {
        let exit = self.child.exit.clone();
        let status = exit.wait_for(Duration::from_millis(200)).await;
        self.note("start-up failed");
        exit.kill();
        let status = match status {
            Some(s) => Some(s),
            None => exit.wait_for(Duration::from_secs(2)).await,
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.stderr).await;
        recorded(self.recorded.clone()).await;
        let reason = reason(status.map(process::how));
        self.log.line("harness", &reason);
        self.log.flush();
        startup_error(
            spec,
            reason,
            self.log.last_stderr(),
            self.log.path().to_owned(),
        )
    }

    /// Stops a process that broke the protocol: raises `error` as the run's fatal error
    /// and kills it.
    fn broke_protocol(&self, error: super::DriverError) {
        self.note("protocol error");
        self.log.line("harness", &error.to_string());
        self.env.fatal.raise(error);
        self.child.exit.kill();
    }
}

/// Writes `note` to the log and the process's record.
fn note_on(env: &ExecEnv, index: usize, log: &process::ClientLog, note: String) {
    log.line("harness", &note);
    env.processes.update(index, |r| r.note = Some(note));
}

/// Reads the next line of `reader` into `buf` (without its line end); false at the end of
/// the stream. Cancel-safe as tokio's `read_until`: a partial line stays in `buf`, and the
/// caller clears `buf` only after a whole line.
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R, buf: &mut Vec<u8>) -> bool {
    use tokio::io::AsyncBufReadExt;
    match reader.read_until(b'\n', buf).await {
        Ok(0) => !buf.is_empty(),
        Ok(_) => true,
        Err(_) => !buf.is_empty(),
    }
}

/// `buf` without its line end, as text; `None` when it is not UTF-8.
fn line_text(buf: &[u8]) -> Option<&str> {
    let line = buf.strip_suffix(b"\n").unwrap_or(buf);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).ok()
}
