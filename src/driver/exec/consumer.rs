//! The exec consumer: a [`ConsumerDriver`] whose client is a child process that joins its
//! group with its own group logic, commits as its own code does, and reports what it did.
//!
//! ```text
//!   run(events, stop) ──spawn, configure──> process
//!   one loop, in order:
//!     stdout line ──parse──> partitions_assigned / revoked ──> ConsumerEvent::Assigned / Revoked
//!                            record_data, records_consumed ──> ConsumerEvent::Delivered (each offset)
//!                            offsets_committed ─────────────> Committed / CommitFailed
//!     stop = Leave ──> `shutdown`, stdin closed; no exit within the grace: SIGTERM, then SIGKILL
//!     stop = Crash ──> SIGKILL to its process group at once (no revocation, no last commit)
//!     stdout ends ──> the process ended: its events are all in
//! ```
//!
//! A start-up failure or a protocol error is the run's [`Fatal`](crate::driver::Fatal)
//! error, and `run` returns `Ok` after raising it; a process that ends without being asked
//! to returns [`DriverError::Exited`].

use std::borrow::Cow;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tokio::time::Instant;

use super::protocol::{self, Consumed, Event, Line, Processed, Role};
use super::{Dialect, ExecEnv, ExecSpec, GRACE, Launched, Proc, line_text, next_line, process};
use crate::driver::{
    BoxFuture, ConsumerDriver, ConsumerEvent, DriverError, EventSink, Stop, now_us,
};
use crate::history::stamp::Stamp;

/// The most offsets one `records_consumed` entry may cover without listing them.
const MAX_RANGE: i64 = 1_000_000;

/// A consumer whose client is a child process speaking the exec protocol.
pub struct ExecConsumer {
    spec: ExecSpec,
    env: ExecEnv,
}

impl ExecConsumer {
    /// A consumer that runs `spec`'s process when the run starts it.
    pub fn new(spec: ExecSpec, env: ExecEnv) -> ExecConsumer {
        ExecConsumer { spec, env }
    }
}

impl ConsumerDriver for ExecConsumer {
    fn run(
        self: Box<Self>,
        events: EventSink,
        stop: watch::Receiver<Stop>,
    ) -> BoxFuture<Result<(), DriverError>> {
        Box::pin(async move {
            let ExecConsumer { spec, env } = *self;
            match super::launch(&spec, &env).await {
                Ok(launched) => Session::new(&spec, launched, events).run(stop).await,
                Err(e) => {
                    env.fatal.raise(e);
                    Ok(())
                }
            }
        })
    }
}

/// Where a running process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Running; not yet ready until `startup_complete`.
    Running,
    /// Asked to shut down; SIGTERM (and then SIGKILL) when the deadline passes.
    Leaving { signals: u8 },
    /// Killed on purpose (crash, protocol error, start-up failure): reading what is left.
    Killed,
}

struct Session<'a> {
    spec: &'a ExecSpec,
    proc: Proc,
    stdin: Option<tokio::process::ChildStdin>,
    stdout: Option<tokio::process::ChildStdout>,
    events: EventSink,
    started: bool,
}

/// How reading ended.
enum End {
    /// Its stdout ended.
    Closed,
    /// A protocol error (raised as the run's fatal error).
    Broke,
    /// It did not answer `startup_complete` in time.
    Silent,
}

impl<'a> Session<'a> {
    fn new(spec: &'a ExecSpec, launched: Launched, events: EventSink) -> Session<'a> {
        Session {
            spec,
            proc: launched.proc,
            stdin: launched.stdin,
            stdout: Some(launched.stdout),
            events,
            started: false,
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<Stop>) -> Result<(), DriverError> {
        let Some(stdout) = self.stdout.take() else {
            return Ok(());
        };
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut buf = Vec::with_capacity(256);
        let mut line_no = 0u64;
        let exit = self.proc.child.exit.clone();
        let startup = Instant::now() + self.spec.startup_timeout;
        let mut phase = Phase::Running;
        let mut deadline: Option<Instant> = None;
        let mut stop_open = true;
        let end = loop {
            let asked = *stop.borrow_and_update();
            if stop_open {
                match (asked, phase) {
                    (Stop::Leave, Phase::Running) if self.spec.dialect == Dialect::Verifiable => {
                        // Its shutdown hook commits, leaves the group and says so.
                        self.proc.note("shutdown: SIGTERM");
                        exit.signal(Signal::SIGTERM);
                        phase = Phase::Leaving { signals: 1 };
                        deadline = Some(Instant::now() + GRACE);
                    }
                    (Stop::Leave, Phase::Running) => {
                        self.proc.note("shutdown");
                        self.shutdown().await;
                        phase = Phase::Leaving { signals: 0 };
                        deadline = Some(Instant::now() + GRACE);
                    }
                    (Stop::Crash, Phase::Running | Phase::Leaving { .. }) => {
                        self.proc
                            .note("crash_consumer: SIGKILL to its process group");
                        exit.kill();
                        phase = Phase::Killed;
                        deadline = None;
                    }
                    _ => {}
                }
            }
            tokio::select! {
                more = next_line(&mut reader, &mut buf) => {
                    if !more {
                        break End::Closed;
                    }
                    line_no += 1;
                    let handled = self.line(line_no, &buf);
                    buf.clear();
                    if let Err(error) = handled {
                        self.proc.broke_protocol(error);
                        break End::Broke;
                    }
                }
                changed = stop.changed(), if stop_open => {
                    if changed.is_err() {
                        stop_open = false;
                    }
                }
                _ = tokio::time::sleep_until(startup), if !self.started && phase == Phase::Running => {
                    break End::Silent;
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or(startup)), if deadline.is_some() => {
                    if let Phase::Leaving { signals } = phase {
                        let (signal, note) = if signals == 0 {
                            (Signal::SIGTERM, "shutdown: still running after the grace, SIGTERM")
                        } else {
                            (Signal::SIGKILL, "shutdown: still running after SIGTERM and the grace, SIGKILL")
                        };
                        self.proc.note(note);
                        exit.signal(signal);
                        phase = Phase::Leaving { signals: signals + 1 };
                        deadline = (signals == 0).then(|| Instant::now() + GRACE);
                    }
                }
            }
        };
        self.stdin = None;
        let env = self.proc.env.clone();
        let recorded = self.proc.recorded.clone();
        let ended = self.end(end, phase, &env).await;
        super::recorded(recorded).await;
        ended
    }

    /// What reading's end means: a start-up failure, an end asked for, or one not.
    async fn end(self, end: End, phase: Phase, env: &ExecEnv) -> Result<(), DriverError> {
        let exit = self.proc.child.exit.clone();
        match end {
            End::Broke => {
                exit.wait_for(Duration::from_secs(2)).await;
                Ok(())
            }
            End::Silent => {
                let timeout = self.spec.startup_timeout;
                let error = self
                    .proc
                    .failed_startup(self.spec, |how| match how {
                        Some(how) => format!("ended ({how}) before it answered startup_complete"),
                        None => format!(
                            "did not answer startup_complete within {}; it was killed",
                            humantime::format_duration(timeout)
                        ),
                    })
                    .await;
                env.fatal.raise(error);
                Ok(())
            }
            End::Closed if !self.started && phase == Phase::Running => {
                let error = self
                    .proc
                    .failed_startup(self.spec, |how| match how {
                        Some(how) => format!("ended ({how}) before it answered startup_complete"),
                        None => {
                            "closed its stdout before it answered startup_complete; it was killed"
                                .to_owned()
                        }
                    })
                    .await;
                env.fatal.raise(error);
                Ok(())
            }
            End::Closed => {
                let status = match exit.wait_for(Duration::from_secs(2)).await {
                    Some(status) => Some(status),
                    None => {
                        // Its stdout closed, yet it runs: it can report nothing more.
                        self.proc.note("closed its stdout; killed");
                        exit.kill();
                        exit.wait_for(Duration::from_secs(2)).await
                    }
                };
                self.proc.log.flush();
                if phase == Phase::Running {
                    let how = status.map_or_else(|| "still running".into(), process::how);
                    return Err(DriverError::Exited {
                        table: self.spec.table.clone(),
                        instance: self.spec.instance,
                        role: Role::Consumer.as_str(),
                        how,
                        log: self.proc.log.path().to_owned(),
                    });
                }
                Ok(())
            }
        }
    }

    /// Writes `shutdown` and closes stdin.
    async fn shutdown(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(protocol::SHUTDOWN).await;
            let _ = stdin.flush().await;
        }
    }

    /// Handles one line; an error is the protocol error it makes.
    fn line(&mut self, line_no: u64, buf: &[u8]) -> Result<(), DriverError> {
        let log = &self.proc.log;
        let Some(text) = line_text(buf) else {
            log.line("stdout", &String::from_utf8_lossy(buf));
            return Ok(());
        };
        if self.spec.dialect == Dialect::Verifiable
            && text.contains("\"name\":\"records_consumed\"")
        {
            // VerifiableConsumer's summary of the `record_data` lines before it (`--verbose`).
            log.line("stdout", text);
            return Ok(());
        }
        let names = &self.proc.names;
        let event = match protocol::parse(text) {
            Ok(Line::Event(event)) => event,
            Ok(Line::Unknown(_) | Line::Log) => {
                log.line("stdout", text);
                return Ok(());
            }
            Err(rule) => return Err(names.protocol(line_no, text, rule.0)),
        };
        let broken = |rule: String| names.protocol(line_no, text, rule);
        if event.role() == Some(Role::Producer) {
            return Err(broken(format!(
                "{} is a producer's event; this process is a consumer",
                event.name()
            )));
        }
        let topic = self.spec.configure.topic.as_str();
        let mine = |t: &Cow<'_, str>| {
            if t == topic {
                Ok(())
            } else {
                Err(broken(format!(
                    "topic `{t}` is not the topic this consumer was given (`{topic}`)"
                )))
            }
        };
        let (consumer, at_us) = (self.spec.id, now_us());
        let partitions = |list: &[(Cow<'_, str>, i32)]| -> Result<Vec<(String, i32)>, DriverError> {
            list.iter()
                .map(|(t, p)| mine(t).map(|()| (t.clone().into_owned(), *p)))
                .collect()
        };
        let send = |event: ConsumerEvent| {
            let _ = self.events.send(event);
        };
        match event {
            Event::StartupComplete { client } => {
                if !self.started {
                    self.started = true;
                    self.proc.client(client.as_deref());
                }
            }
            Event::ShutdownComplete => log.line("stdout", text),
            Event::PartitionsAssigned(list) => send(ConsumerEvent::Assigned {
                consumer,
                partitions: partitions(&list)?,
                at_us,
            }),
            Event::PartitionsRevoked(list) => send(ConsumerEvent::Revoked {
                consumer,
                partitions: partitions(&list)?,
                at_us,
            }),
            Event::RecordData {
                topic: t,
                partition,
                offset,
                stamp,
            } => {
                mine(&t)?;
                send(ConsumerEvent::Delivered {
                    consumer,
                    topic: t.into_owned(),
                    partition,
                    offset,
                    stamp: stamp.and_then(|s| Stamp::decode(&s).ok()),
                    at_us,
                });
            }
            Event::RecordsConsumed(list) => {
                for (
                    i,
                    Consumed {
                        topic: t,
                        partition,
                        offsets,
                    },
                ) in list.into_iter().enumerate()
                {
                    mine(&t)?;
                    let offsets: Vec<i64> = match offsets {
                        Processed::List(list) => list,
                        Processed::Range { min, max } => {
                            if max - min >= MAX_RANGE {
                                return Err(broken(format!(
                                    "records_consumed: `partitions[{i}]` spans {} offsets, more than {MAX_RANGE}; report fewer at a time",
                                    max - min + 1
                                )));
                            }
                            (min..=max).collect()
                        }
                    };
                    for offset in offsets {
                        send(ConsumerEvent::Delivered {
                            consumer,
                            topic: t.clone().into_owned(),
                            partition,
                            offset,
                            stamp: None,
                            at_us,
                        });
                    }
                }
            }
            Event::OffsetsCommitted {
                success,
                offsets,
                error,
            } => {
                for (t, _, _) in &offsets {
                    mine(t)?;
                }
                if success {
                    send(ConsumerEvent::Committed {
                        consumer,
                        offsets: offsets
                            .into_iter()
                            .map(|(t, p, o)| (t.into_owned(), p, o))
                            .collect(),
                        at_us,
                    });
                } else {
                    send(ConsumerEvent::CommitFailed {
                        consumer,
                        offsets: offsets
                            .into_iter()
                            .map(|(t, p, o)| (t.into_owned(), p, Some(o)))
                            .collect(),
                        error: format!(
                            "commit: {}",
                            error
                                .as_deref()
                                .unwrap_or("failed (the process gave no reason)")
                        ),
                        at_us,
                    });
                }
            }
            Event::SendSuccess { .. } | Event::SendError { .. } => {}
        }
        Ok(())
    }
}
