//! Runs a validated [`Plan`] against a [`Cluster`] and gathers the evidence.
//!
//! ```text
//!   create topics ─> consumers (consumers.rs), stages (stages.rs) ─> wait for assignment (drain.rs)
//!        ─> producers (producers.rs: build, then produce on the run clock) + nemesis (nemesis.rs)
//!              │ Ev::Done / Ev::Txn            │ Ev::Consumer
//!              v                               v
//!        collector task (collector.rs): History + Recorder + Live figures + progress line
//!        ─> producers done ─> drain (drain.rs) ─> stop stages and consumers ─> read the Log (logread.rs)
//! ```
//!
//! The engine records; it does not judge. Checkers and SLOs run afterwards on what it
//! returns ([`Evidence`]).
//!
//! A driver error that must end the run (an exec process that does not start, or breaks
//! the protocol) can come from any task; the driver raises it in the run's
//! [`Fatal`](crate::driver::Fatal) slot, and every wait here (assignment, producers, drain,
//! stop) also watches that slot: the run then stops its producers and consumers (their exec
//! processes are killed) and returns the error ([`RunError::Driver`], exit 3).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::collector::{Collected, Collector, Ev, Live};
use super::consumers::Members;
use super::drain::{self, EndOffsets};
use super::interrupt::{self, Interrupt};
use super::logread::{self, Isolation};
use super::nemesis::Nemesis;
use super::producers::{self, Limits};
use super::stages;
use crate::cluster::embedded::provision::{self, DEFAULT_KAFKA_VERSION};
use crate::cluster::{Cluster, ClusterError, TopicSpec};
use crate::driver::exec::verifiable::Tools;
use crate::driver::exec::{ExecEnv, ProcessRecord};
use crate::driver::{ConsumerEvent, DriverError, now_us};
use crate::history::latency::Recorder;
use crate::history::{History, Log, MsgId, TopicId};
use crate::report::Interrupted;
use crate::scenario::{DriverKind, Plan, Seeds};
use crate::workload::WorkloadError;

/// Why a run could not be carried out (as opposed to a check failing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The cluster failed (topic creation, metadata, reading the log).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A producer table's client could not be created or connected.
    #[error("producer `{producer}`: {source}")]
    Producer {
        /// The producer table.
        producer: String,
        /// What went wrong.
        source: DriverError,
    },
    /// A producer table's workload could not be built (its keys).
    #[error("producer `{producer}`: {source}")]
    Workload {
        /// The producer table.
        producer: String,
        /// What went wrong.
        source: WorkloadError,
    },
    /// A file of the run's output folder could not be written.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A client failed in a way that ends the run: an exec process that did not start (a
    /// consumer's) or broke the protocol.
    #[error(transparent)]
    Driver(DriverError),
    /// A task of the run panicked or was cancelled: a bug in the harness.
    #[error("the {task} task failed: {source}")]
    Task {
        /// Which task.
        task: &'static str,
        /// How it ended.
        source: tokio::task::JoinError,
    },
}

impl RunError {
    /// True when the scenario asked for something that cannot be (a client setting the
    /// client refuses, a cluster setting the broker refuses): exit code 2, not 3.
    pub fn is_bad_input(&self) -> bool {
        let refused =
            |e: &DriverError| matches!(e, DriverError::Create { .. } | DriverError::Setting { .. });
        match self {
            RunError::Cluster(e) => e.is_bad_input(),
            RunError::Producer { source, .. } | RunError::Driver(source) => refused(source),
            _ => false,
        }
    }
}

/// Options that override the scenario file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Replaces the scenario's seed.
    pub seed: Option<u64>,
    /// Replaces the scenario's duration (and drops its message count).
    pub duration: Option<Duration>,
    /// Show progress (a line per second on stderr).
    pub progress: bool,
    /// A suffix for topic names, so repeated runs never share topics.
    pub topic_suffix: String,
    /// The run's output folder: exec processes' logs go in its `clients/` (without one, in
    /// a folder of their own under the system's temporary folder).
    pub run_dir: Option<PathBuf>,
    /// Raised to stop the run early and keep its evidence (a signal).
    pub interrupt: Interrupt,
}

/// What a run produced, for the checkers and the report.
#[derive(Debug)]
pub struct Evidence {
    /// Producers' and consumers' record.
    pub history: History,
    /// The partitions read back after the run.
    pub log: Log,
    /// Latency histograms and timeline.
    pub recorder: Recorder,
    /// Counters.
    pub counts: RunCounts,
    /// Seconds of the measured phase (after warm-up until producers stopped).
    pub measured_s: f64,
    /// Value bytes sent in the measured phase and acknowledged.
    pub measured_bytes: u64,
    /// Acknowledged sends intended in the measured phase.
    pub measured_acked: u64,
    /// Deliveries of messages intended in the measured phase.
    pub measured_consumed: u64,
    /// Wall-clock start, seconds since the UNIX epoch.
    pub start_epoch_s: f64,
    /// Actual topic names.
    pub topics: Vec<String>,
    /// Whether consumers caught up before the drain timeout.
    pub drained: bool,
    /// Seconds from the run's start until producers were done.
    pub producers_done_s: f64,
    /// Every exec process the run started.
    pub processes: Vec<ProcessRecord>,
    /// Set when the run was stopped early.
    pub interrupted: Option<Interrupted>,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Sends invoked.
    pub attempted: u64,
    /// Sends acknowledged.
    pub acked: u64,
    /// Sends that definitely failed.
    pub failed: u64,
    /// Sends with unknown outcome.
    pub indeterminate: u64,
    /// Records delivered to consumers.
    pub consumed: u64,
}

/// Kafka's tools and a Java to run them, when a table is `driver = "verifiable"` (fetched
/// through Maven on first use, then cached).
async fn verifiable_tools(plan: &Plan) -> Result<Option<Tools>, RunError> {
    let verifiable = plan
        .producers
        .iter()
        .map(|p| p.driver)
        .chain(plan.consumers.iter().map(|c| c.driver))
        .any(|d| d == DriverKind::Verifiable);
    if !verifiable {
        return Ok(None);
    }
    let version = DEFAULT_KAFKA_VERSION;
    let (java, libs) = tokio::task::spawn_blocking(move || provision::tools(version))
        .await
        .map_err(|source| RunError::Task {
            task: "provisioning Kafka's tools",
            source,
        })??;
    Ok(Some(Tools {
        java,
        libs,
        version: version.to_owned(),
    }))
}

/// Per topic, the producer ids of its VerifiableProducers (ids run 0, 1, ... in table
/// order, as `producers::build` gives them).
fn verifiable_producers(plan: &Plan) -> Vec<Vec<u32>> {
    let mut by_topic = vec![Vec::new(); plan.topics.len()];
    let mut id = 0u32;
    for p in &plan.producers {
        for _ in 0..p.instances {
            if p.driver == DriverKind::Verifiable {
                by_topic[p.topic].push(id);
            }
            id += 1;
        }
    }
    by_topic
}

/// Runs `plan` on `cluster`, every random choice drawn from `seeds`.
pub async fn run(
    plan: &Plan,
    cluster: &dyn Cluster,
    options: &RunOptions,
    seeds: &Seeds,
) -> Result<Evidence, RunError> {
    let suffix = &options.topic_suffix;
    let topics: Vec<String> = plan
        .topics
        .iter()
        .map(|t| format!("{}{suffix}", t.name))
        .collect();
    for (t, name) in plan.topics.iter().zip(&topics) {
        let mut spec = TopicSpec::new(name, t.partitions, t.replication_factor);
        spec.configs = t.config.clone();
        cluster.create_topic(&spec).await?;
    }
    // The run clock starts when producers start (below); until then events count as time 0.
    let epoch0 = Arc::new(AtomicU64::new(now_us()));
    let warmup_us = plan.warmup.as_micros() as u64;
    let live = Arc::new(Mutex::new(Live::default()));
    let (tx, rx) = mpsc::unbounded_channel::<Ev>();

    let clients_dir = match &options.run_dir {
        Some(dir) => dir.join("clients"),
        None => std::env::temp_dir().join(format!(
            "kafka-harness-clients-{}{suffix}",
            std::process::id()
        )),
    };
    let mut exec = ExecEnv::new(clients_dir);
    exec.tools = verifiable_tools(plan).await?;
    let fatal = exec.fatal.clone();
    // The run's fatal error, when one was raised, else `error`.
    let failed = |error: RunError| fatal.take().map_or(error, RunError::Driver);

    // Consumers first, so they are in their groups before the first record.
    let (consumer_tx, consumer_rx) = mpsc::unbounded_channel::<ConsumerEvent>();
    let members = Members::start(
        plan,
        &topics,
        cluster.client_config(),
        cluster.bootstrap_servers(),
        suffix,
        consumer_tx,
        exec.clone(),
    );
    let forwarder = tokio::spawn(forward(consumer_rx, tx.clone()));
    let collector = Collector::new(
        Arc::clone(&live),
        topics.clone(),
        members.reader_of(),
        Arc::clone(&epoch0),
        warmup_us,
    );
    let collector = tokio::spawn(collector.run(rx, options.progress));
    let (stages_stop, stages_stop_rx) = watch::channel(false);
    let stage_tasks = stages::start(
        plan,
        cluster,
        &topics,
        suffix,
        &tx,
        &epoch0,
        &stages_stop_rx,
    );
    tokio::select! {
        () = drain::wait_for_assignment(plan, &live) => {}
        () = fatal.raised() => {}
    }
    if let Some(e) = fatal.take() {
        return Err(RunError::Driver(e));
    }

    // Producer clients are created (and connected) before the run clock starts, so their
    // set-up is not counted as time spent sending.
    let (duration, messages) = match options.duration {
        Some(d) => (Some(d), None),
        None => (plan.duration, plan.messages),
    };
    let limits = Limits {
        messages,
        stop_at_us: duration.map(|d| warmup_us + d.as_micros() as u64),
    };
    let producers = producers::build(plan, cluster, &topics, suffix, seeds, limits, &exec)
        .await
        .map_err(failed)?;

    // Producers, on the run clock; the nemesis on the same clock, until producers are done.
    let run_start = Instant::now();
    let start_epoch_us = now_us();
    epoch0.store(start_epoch_us, Ordering::Relaxed);
    let producer_tasks: Vec<_> = producers
        .into_iter()
        .map(|p| {
            tokio::spawn(producers::produce(
                p,
                tx.clone(),
                run_start,
                start_epoch_us,
                options.interrupt.clone(),
            ))
        })
        .collect();
    let (nemesis_stop, nemesis_stop_rx) = watch::channel(false);
    let acked = || Live::lock(&live).counts.acked;
    let nemesis = Nemesis {
        faults: &plan.faults,
        topics: &topics,
        consumer_names: plan.consumers.iter().map(|c| c.name.clone()).collect(),
        cluster,
        members: &members,
        acked: &acked,
        start: run_start.into(),
        seeds: *seeds,
    };
    let aborts: Vec<_> = producer_tasks.iter().map(|t| t.abort_handle()).collect();
    let producing = async {
        let all = async {
            let mut drivers = Vec::new();
            for task in producer_tasks {
                drivers.push(task.await.map_err(|source| RunError::Task {
                    task: "producer",
                    source,
                })?);
            }
            Ok::<_, RunError>(drivers)
        };
        let done = tokio::select! {
            done = all => done,
            () = fatal.raised() => {
                // Dropping a producer kills its exec process.
                for task in &aborts {
                    task.abort();
                }
                Ok(Vec::new())
            }
        };
        // The nemesis undoes what it did (a broker it killed comes back) before it returns.
        let _ = nemesis_stop.send(true);
        done
    };
    let (produced, faults) = tokio::join!(producing, nemesis.run(nemesis_stop_rx));
    let drivers = produced.map_err(failed)?;
    if let Some(e) = fatal.take() {
        return Err(RunError::Driver(e));
    }
    let producers_done_us = run_start.elapsed().as_micros() as u64;
    // Every outcome is in: the clients stop (an exec process shuts down), outside the
    // measured time.
    let drivers: Vec<_> = drivers.into_iter().flatten().collect();
    futures::future::join_all(drivers.iter().map(|d| d.close())).await;
    drop(drivers);

    // Drain: consumers catch up with everything acknowledged and everything in the log.
    let end_offsets = consumed_end_offsets(plan, cluster, &topics).await;
    let drain_timeout = match options.interrupt.raised() {
        Some((signal, _)) => {
            crate::note(format!(
                "{signal}: producers stopped; draining the consumers for at most {} s, then \
                 reading the log back and checking (a second signal stops at once)",
                interrupt::DRAIN_LIMIT.as_secs()
            ));
            plan.drain_timeout.min(interrupt::DRAIN_LIMIT)
        }
        None => plan.drain_timeout,
    };
    let drained = tokio::select! {
        drained = drain::drain(plan, &live, &tx, &end_offsets, drain_timeout) => drained,
        () = fatal.raised() => false,
    };
    let _ = stages_stop.send(true);
    stop_stages(stage_tasks).await;
    if let Some(e) = fatal.take() {
        return Err(RunError::Driver(e));
    }
    members.stop_all().await;
    drop(members);
    if let Some(e) = fatal.take() {
        return Err(RunError::Driver(e));
    }
    let _ = forwarder.await;
    drop(tx);
    let Collected {
        mut history,
        mut recorder,
        keys,
        measured,
    } = collector.await.map_err(|source| RunError::Task {
        task: "collector",
        source,
    })?;
    history.topics = topics.clone();
    history.faults = faults;

    let isolation = if plan.has_transactions() {
        Isolation::ReadCommitted
    } else {
        Isolation::ReadUncommitted
    };
    let partitions: Vec<i32> = plan.topics.iter().map(|t| t.partitions).collect();
    let (log, keys) = logread::read(
        &cluster.client_config(),
        &topics,
        &partitions,
        &verifiable_producers(plan),
        keys,
        isolation,
    )
    .await?;
    history.keys = keys.into_keys();
    unstamped_end_to_end(&history, &log, &mut recorder, warmup_us);
    recorder.finish();
    let counts = Live::lock(&live).counts;
    let measured_s = (producers_done_us.saturating_sub(warmup_us) as f64 / 1e6).max(1e-3);
    Ok(Evidence {
        history,
        log,
        recorder,
        counts,
        measured_s,
        measured_bytes: measured.bytes,
        measured_acked: measured.acked,
        measured_consumed: measured.consumed,
        start_epoch_s: start_epoch_us as f64 / 1e6,
        topics,
        drained,
        producers_done_s: producers_done_us as f64 / 1e6,
        processes: exec.processes.all(),
        interrupted: options.interrupt.raised().map(|(signal, at)| Interrupted {
            signal,
            at_s: at.saturating_duration_since(run_start).as_secs_f64(),
        }),
    })
}

/// End-to-end latency of deliveries that carried no stamp (an exec consumer that reports
/// positions only, Kafka's VerifiableConsumer): each found through the Log, timed from its
/// send's intended time.
fn unstamped_end_to_end(history: &History, log: &Log, recorder: &mut Recorder, warmup_us: u64) {
    if history.deliveries.iter().all(|d| d.id.is_some()) {
        return;
    }
    let at: HashMap<(TopicId, i32, i64), MsgId> = log
        .records
        .iter()
        .filter_map(|r| Some(((r.topic, r.partition, r.offset), r.id?)))
        .collect();
    let intended: HashMap<MsgId, u64> = history.sends.iter().map(|s| (s.id, s.intended)).collect();
    for d in history.deliveries.iter().filter(|d| d.id.is_none()) {
        if let Some(id) = at.get(&(d.topic, d.partition, d.offset))
            && let Some(&sent) = intended.get(id)
        {
            recorder.end_to_end(d.at, d.at.saturating_sub(sent), sent >= warmup_us);
        }
    }
}

/// Hands consumer events to the collector.
async fn forward(mut rx: mpsc::UnboundedReceiver<ConsumerEvent>, tx: mpsc::UnboundedSender<Ev>) {
    while let Some(e) = rx.recv().await {
        if tx.send(Ev::Consumer(e)).is_err() {
            break;
        }
    }
}

/// Where the consumed topics' partitions end once producers are done: what the drain waits
/// for besides acknowledged offsets. None with transactions (markers take offsets no
/// consumer is handed; acknowledged offsets of committed records are the targets then), and
/// none when the cluster cannot say (then acknowledged offsets alone, with a warning).
async fn consumed_end_offsets(plan: &Plan, cluster: &dyn Cluster, topics: &[String]) -> EndOffsets {
    if plan.has_transactions() || plan.consumers.is_empty() {
        return EndOffsets::new();
    }
    let partitions = plan.consumed_partitions();
    match logread::end_offsets(&cluster.client_config(), topics, &partitions).await {
        Ok(ends) => ends,
        Err(e) => {
            tracing::warn!("the drain waits on acknowledged offsets only: {e}");
            EndOffsets::new()
        }
    }
}

/// Waits (up to 60 s each) for the stopped stages to finish.
async fn stop_stages(tasks: Vec<JoinHandle<Result<(), DriverError>>>) {
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(60), task).await {
            Ok(Ok(Err(e))) => tracing::warn!("stage: {e}"),
            Ok(Err(e)) => tracing::warn!("stage task: {e}"),
            Err(_) => tracing::warn!("a stage did not stop within 60 s"),
            Ok(Ok(Ok(()))) => {}
        }
    }
}
