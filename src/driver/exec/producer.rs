//! The exec producer: a [`ProducerDriver`] whose client is a child process.
//!
//! ```text
//!   run ──enqueue(record, done)──> id, Done into `pending`; send line appended to `out`
//!                                          │ wake
//!   writer task ──one write per batch of lines──> process stdin
//!   reader task <──answers, one per line── process stdout
//!        └─> pending.remove(id) ──> Done(SendOutcome)       (unknown id: protocol error)
//!   watchdog task: a send unanswered for delivery.timeout.ms + max.block.ms + 30 s ──> kill
//!   stdout closed (the process ended) ──> every unanswered send indeterminate
//! ```
//!
//! `enqueue` never waits: the run's `max_in_flight` permits bound what is outstanding, and a
//! full pipe only holds the writer task back. Lines are written in id order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use super::protocol::{self, Event, Line};
use super::{ExecEnv, ExecSpec, GRACE, Launched, Names, Proc, Role, line_text, next_line, process};
use crate::driver::{BoxFuture, Done, DriverError, OutRecord, ProducerDriver, SendOutcome};
use crate::history::stamp;

/// Kafka's defaults for how long a client may take to settle a send: `delivery.timeout.ms`
/// once it took the record, and `max.block.ms` to take it.
const DELIVERY_TIMEOUT_MS: u64 = 120_000;
const MAX_BLOCK_MS: u64 = 60_000;
/// What a process gets beyond those to answer a send before it counts as hung.
const ANSWER_SLACK: Duration = Duration::from_secs(30);

/// Hashes a send id (a counter) with one multiplication: the ids are the harness's own, so
/// no one can pick them to collide.
#[derive(Default, Clone, Copy)]
struct IdHash(u64);

impl std::hash::Hasher for IdHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The sends waiting for their answers: id to its `Done` and when it was sent.
type Pending = HashMap<u64, (Done, Instant), std::hash::BuildHasherDefault<IdHash>>;

/// The sends waiting for their answers.
struct State {
    next_id: u64,
    pending: Pending,
    /// Why the process can take no more sends, once it cannot.
    closed: Option<String>,
}

/// What `enqueue`, the tasks and `flush` share.
struct Shared {
    /// The topic as a JSON string literal.
    topic: String,
    state: Mutex<State>,
    /// Send lines not yet written.
    out: Mutex<Vec<u8>>,
    /// Wakes the writer.
    wake: Notify,
    /// Set to make the writer write `shutdown` after the lines it has and close stdin.
    shutdown: AtomicBool,
    /// Wakes `flush` when nothing is outstanding any more, or the process ended.
    idle: Notify,
    /// `state.closed.is_some()`, read without the lock for every send.
    closed: AtomicBool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// No more sends: every outstanding one becomes indeterminate with `reason`.
    fn close(&self, reason: String) {
        let pending = {
            let mut state = self.state();
            if state.closed.is_none() {
                state.closed = Some(reason.clone());
            }
            self.closed.store(true, Ordering::Release);
            std::mem::take(&mut state.pending)
        };
        for (done, _) in pending.into_values() {
            done.call(SendOutcome::Indeterminate(reason.clone()));
        }
        self.idle.notify_waiters();
        self.wake.notify_one();
    }
}

/// A producer whose client is a child process speaking the exec protocol.
pub struct ExecProducer {
    shared: Arc<Shared>,
    proc: Proc,
    reader: Mutex<Option<JoinHandle<()>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl ExecProducer {
    /// Starts the process, sends it `configure` and waits until it answers
    /// `startup_complete` (at most `spec.startup_timeout`).
    pub async fn start(spec: ExecSpec, env: ExecEnv) -> Result<ExecProducer, DriverError> {
        let Launched {
            proc,
            stdin,
            stdout,
        } = super::launch(&spec, &env).await?;
        let shared = Arc::new(Shared {
            topic: protocol::json_string(&spec.configure.topic),
            state: Mutex::new(State {
                next_id: 0,
                pending: Pending::default(),
                closed: None,
            }),
            out: Mutex::new(Vec::with_capacity(1 << 16)),
            wake: Notify::new(),
            shutdown: AtomicBool::new(false),
            idle: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let (started_tx, started) = oneshot::channel();
        let reader = Reader {
            shared: Arc::clone(&shared),
            names: proc.names.clone(),
            topic: spec.configure.topic.clone(),
            env: env.clone(),
            index: proc.index,
            log: Arc::clone(&proc.log),
            exit: proc.child.exit.clone(),
            started: Some(started_tx),
        };
        let reader = tokio::spawn(reader.run(stdout));
        let exit = proc.child.exit.clone();
        let ready = tokio::select! {
            r = started => match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(protocol)) => Err(Some(protocol)),
                Err(_) => Err(None),
            },
            _ = exit.wait() => Err(None),
            _ = tokio::time::sleep(spec.startup_timeout) => Err(None),
        };
        match ready {
            Ok(()) => {}
            Err(Some(protocol)) => {
                reader.abort();
                proc.note("protocol error");
                proc.child.exit.kill();
                return Err(protocol);
            }
            Err(None) => {
                reader.abort();
                let timeout = spec.startup_timeout;
                return Err(proc
                    .failed_startup(&spec, |how| match how {
                        Some(how) => format!("ended ({how}) before it answered startup_complete"),
                        None => format!(
                            "did not answer startup_complete within {}; it was killed",
                            humantime::format_duration(timeout)
                        ),
                    })
                    .await);
            }
        }
        let writer = tokio::spawn(write(Arc::clone(&shared), stdin));
        let setting = |key: &str, default: u64| {
            spec.configure
                .client
                .get(key)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let settle_ms = setting("delivery.timeout.ms", DELIVERY_TIMEOUT_MS)
            .saturating_add(setting("max.block.ms", MAX_BLOCK_MS));
        let watchdog = tokio::spawn(watch(
            Arc::clone(&shared),
            proc.child.exit.clone(),
            Duration::from_millis(settle_ms) + ANSWER_SLACK,
            env,
            proc.index,
            Arc::clone(&proc.log),
        ));
        Ok(ExecProducer {
            shared,
            proc,
            reader: Mutex::new(Some(reader)),
            tasks: vec![writer, watchdog],
        })
    }
}

impl Drop for ExecProducer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(reader) = self.reader.lock().unwrap_or_else(|e| e.into_inner()).take() {
            reader.abort();
        }
        // `proc.child` kills the process group as it drops.
    }
}

impl ProducerDriver for ExecProducer {
    fn enqueue(&self, record: &OutRecord, done: Done) {
        let stamp = record.stamp.encode();
        let source = record.source.map(stamp::encode_source);
        let mut headers: [(&str, &[u8]); 2] = [(stamp::HEADER, &stamp[..]), ("", &[])];
        let headers = match &source {
            Some(source) => {
                headers[1] = (stamp::SOURCE_HEADER, &source[..]);
                &headers[..]
            }
            None => &headers[..1],
        };
        // `out` before `state`: ids reach the process in increasing order.
        let mut out = self.shared.out.lock().unwrap_or_else(|e| e.into_inner());
        let id = {
            let mut state = self.shared.state();
            if let Some(reason) = &state.closed {
                let reason = reason.clone();
                drop(state);
                drop(out);
                return done.call(SendOutcome::Indeterminate(reason));
            }
            let id = state.next_id;
            state.next_id += 1;
            state.pending.insert(id, (done, Instant::now()));
            id
        };
        protocol::encode_send(
            &mut out,
            id,
            &self.shared.topic,
            record.partition,
            &record.key,
            &record.value,
            headers,
        );
        drop(out);
        self.shared.wake.notify_one();
    }

    fn flush(&self) -> BoxFuture<()> {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            loop {
                let idle = shared.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                {
                    let state = shared.state();
                    if state.pending.is_empty() || state.closed.is_some() {
                        return;
                    }
                }
                idle.await;
            }
        })
    }

    fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    fn close(&self) -> BoxFuture<()> {
        let shared = Arc::clone(&self.shared);
        let exit = self.proc.child.exit.clone();
        let reader = self.reader.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (env, index, log, recorded) = (
            self.proc.env.clone(),
            self.proc.index,
            Arc::clone(&self.proc.log),
            self.proc.recorded.clone(),
        );
        Box::pin(async move {
            let note = |text: &str| super::note_on(&env, index, &log, text.to_owned());
            if exit.status().is_none() {
                note("shutdown");
                shared.shutdown.store(true, Ordering::Release);
                shared.wake.notify_one();
                if exit.wait_for(GRACE).await.is_none() {
                    note("shutdown: still running after the grace, SIGTERM");
                    exit.signal(Signal::SIGTERM);
                    if exit.wait_for(GRACE).await.is_none() {
                        note("shutdown: still running after SIGTERM and the grace, SIGKILL");
                        exit.kill();
                        exit.wait().await;
                    }
                }
            }
            // Its last answers, up to the end of its stdout.
            if let Some(reader) = reader {
                let _ = tokio::time::timeout(GRACE, reader).await;
            }
            shared.close(format!(
                "{} ended ({}) without answering",
                names_of(&env, index),
                exit.status()
                    .map_or_else(|| "still running".into(), process::how)
            ));
            if exit.status().is_some() {
                super::recorded(recorded).await;
            }
        })
    }
}

/// `exec producer t-0`, from the run's record.
fn names_of(env: &ExecEnv, index: usize) -> String {
    env.processes
        .all()
        .get(index)
        .map(|r| format!("exec {} {}-{}", r.role, r.table, r.instance))
        .unwrap_or_else(|| "the exec producer".into())
}

/// Writes the queued send lines, a batch per write; after `shutdown` is set, the last lines,
/// then `shutdown`, then closes stdin.
async fn write(shared: Arc<Shared>, stdin: Option<tokio::process::ChildStdin>) {
    let Some(mut stdin) = stdin else {
        return;
    };
    let mut batch: Vec<u8> = Vec::with_capacity(1 << 16);
    loop {
        let wake = shared.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        {
            let mut out = shared.out.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut *out, &mut batch);
        }
        if !batch.is_empty() {
            if stdin.write_all(&batch).await.is_err() {
                // The process is gone: the reader sees its stdout end.
                return;
            }
            batch.clear();
            if batch.capacity() > 1 << 24 {
                batch.shrink_to(1 << 16);
            }
            continue;
        }
        if shared.shutdown.load(Ordering::Acquire) {
            let _ = stdin.write_all(protocol::SHUTDOWN).await;
            let _ = stdin.flush().await;
            return;
        }
        wake.await;
    }
}

/// Kills a process that leaves a send unanswered longer than `limit`.
async fn watch(
    shared: Arc<Shared>,
    exit: process::Exit,
    limit: Duration,
    env: ExecEnv,
    index: usize,
    log: Arc<process::ClientLog>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if exit.status().is_some() {
            return;
        }
        let (outstanding, oldest) = {
            let state = shared.state();
            let oldest = state.pending.iter().min_by_key(|(_, (_, at))| *at);
            (
                state.pending.len(),
                oldest.map(|(id, (_, at))| (*id, at.elapsed())),
            )
        };
        if let Some((id, waited)) = oldest
            && waited > limit
        {
            let note = format!(
                "stopped answering: send {id} unanswered for {} ({outstanding} sends outstanding); killed",
                humantime::format_duration(Duration::from_secs(waited.as_secs()))
            );
            log.line("harness", &note);
            tracing::warn!("{}: {note}", names_of(&env, index));
            env.processes.update(index, |r| r.note = Some(note));
            exit.kill();
            return;
        }
    }
}

/// Reads the process's stdout: answers to their sends, everything else to the log.
struct Reader {
    shared: Arc<Shared>,
    names: Names,
    /// The topic it was given.
    topic: String,
    env: ExecEnv,
    index: usize,
    log: Arc<process::ClientLog>,
    exit: process::Exit,
    /// Told when `startup_complete` comes, or of a protocol error before it.
    started: Option<oneshot::Sender<Result<(), DriverError>>>,
}

impl Reader {
    async fn run(mut self, stdout: tokio::process::ChildStdout) {
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut buf = Vec::with_capacity(256);
        let mut line_no = 0u64;
        let mut broke = false;
        while next_line(&mut reader, &mut buf).await {
            line_no += 1;
            if let Err(error) = self.line(line_no, &buf) {
                broke = true;
                self.log.line("harness", &error.to_string());
                match self.started.take() {
                    // Before start-up, the error is the start's to return.
                    Some(started) => {
                        let _ = started.send(Err(error));
                    }
                    None => {
                        super::note_on(&self.env, self.index, &self.log, "protocol error".into());
                        self.env.fatal.raise(error);
                        self.exit.kill();
                    }
                }
                break;
            }
            buf.clear();
        }
        self.log.flush();
        let how = self.exit.wait_for(Duration::from_secs(2)).await;
        if how.is_none() && !broke {
            // Its stdout closed, yet it runs: it cannot answer any more.
            self.exit.kill();
        }
        let how = match how {
            Some(status) => process::how(status),
            None => self
                .exit
                .wait_for(Duration::from_secs(2))
                .await
                .map_or_else(|| "still running".into(), process::how),
        };
        if !broke && self.started.is_none() && !self.shared.shutdown.load(Ordering::Acquire) {
            tracing::warn!(
                "exec producer `{}` instance {} ended ({how}) during the run: it sends nothing \
                 more, and what it had not answered is indeterminate; its log: {}",
                self.names.table,
                self.names.instance,
                self.names.log.display()
            );
        }
        let reason = if broke {
            format!(
                "exec producer {}-{} broke the protocol and was killed before answering",
                self.names.table, self.names.instance
            )
        } else {
            format!(
                "exec producer {}-{} ended ({how}) without answering",
                self.names.table, self.names.instance
            )
        };
        self.shared.close(reason);
    }

    /// Handles one line; an error is the protocol error it makes.
    fn line(&mut self, line_no: u64, buf: &[u8]) -> Result<(), DriverError> {
        let Some(text) = line_text(buf) else {
            self.log.line("stdout", &String::from_utf8_lossy(buf));
            return Ok(());
        };
        let event = match protocol::parse(text) {
            Ok(Line::Event(event)) => event,
            Ok(Line::Unknown(_) | Line::Log) => {
                self.log.line("stdout", text);
                return Ok(());
            }
            Err(rule) => return Err(self.names.protocol(line_no, text, rule.0)),
        };
        let broken = |rule: String| self.names.protocol(line_no, text, rule);
        if event.role() == Some(Role::Consumer) {
            return Err(broken(format!(
                "{} is a consumer's event; this process is a producer",
                event.name()
            )));
        }
        let (id, topic, outcome) = match event {
            Event::StartupComplete { client } => {
                if let Some(started) = self.started.take() {
                    let client = client.map(|c| super::cut(&c, 200));
                    self.env.processes.update(self.index, |r| r.client = client);
                    let _ = started.send(Ok(()));
                }
                return Ok(());
            }
            Event::ShutdownComplete => {
                self.log.line("stdout", text);
                return Ok(());
            }
            Event::SendSuccess {
                id,
                topic,
                partition,
                offset,
            } => (id, topic, SendOutcome::Ok { partition, offset }),
            Event::SendError {
                id,
                topic,
                exception,
                message,
                retriable,
            } => {
                let reason = match exception {
                    Some(e) => format!("{e}: {message}"),
                    None => message.into_owned(),
                };
                let outcome = if retriable {
                    SendOutcome::Indeterminate(reason)
                } else {
                    SendOutcome::Fail(reason)
                };
                (id, topic, outcome)
            }
            _ => return Ok(()),
        };
        if let Some(topic) = topic
            && topic != self.topic.as_str()
        {
            return Err(broken(format!(
                "send {id} went to topic `{}`, but was sent to `{}`",
                topic, self.topic
            )));
        }
        let done = {
            let mut state = self.shared.state();
            match state.pending.remove(&id) {
                Some((done, _)) => (done, state.pending.is_empty()),
                None if id < state.next_id => {
                    return Err(broken(format!("send {id} was answered before")));
                }
                None => return Err(broken(format!("no send has id {id}"))),
            }
        };
        done.0.call(outcome);
        if done.1 {
            self.shared.idle.notify_waiters();
        }
        Ok(())
    }
}
