//! Runs a validated [`Plan`] against a [`Cluster`] and gathers the evidence.
//!
//! ```text
//!   create topics ─> start consumers, wait for assignment ─> producers (open loop or max)
//!        │                       │                                  │
//!        │                 ConsumerEvent ───────┐               SendDone
//!        │                                      v                   v
//!        │                          collector task: History + Recorder + progress
//!        v
//!   producers done ─> drain (consumers catch up) ─> stop consumers ─> read the Log
//! ```
//!
//! The runner records; it does not judge. Checkers and SLOs run afterwards on what it
//! returns ([`Evidence`]).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, watch};

use crate::cluster::{Cluster, ClusterError, TopicSpec};
use crate::driver::rdkafka::RdkafkaProducer;
use crate::driver::rskafka::RskafkaProducer;
use crate::driver::stage::{Stage, StageTxn};
use crate::driver::txn::TransactionalProducer;
use crate::driver::{ConsumerEvent, Done, OutRecord, ProducerDriver, SendOutcome, now_us};
use crate::history::latency::Recorder;
use crate::history::stamp::Stamp;
use crate::history::{
    Delivery, GroupEvent, History, KeyInterner, Log, MsgId, Outcome, Send, TopicId, Txn, TxnOutcome,
};
use crate::run::consumers::Members;
use crate::run::logread::{self, Isolation};
use crate::run::nemesis::Nemesis;
use crate::scenario::{DriverKind, Plan, Rate};
use crate::workload::{Generator, KeyChooser};

/// Why a run could not be carried out (as opposed to a check failing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The cluster failed (topic creation, metadata).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A client could not be created or connected.
    #[error("{0}")]
    Client(String),
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

/// What the collector is told.
enum Ev {
    Done(SendDone),
    Consumer(ConsumerEvent),
    Txn(Txn),
}

struct SendDone {
    id: MsgId,
    topic: TopicId,
    key: Vec<u8>,
    size: usize,
    intended: u64,
    sent: u64,
    done: u64,
    outcome: SendOutcome,
    /// Whether readers can see it once acknowledged: not so in an aborted or undecided
    /// transaction.
    visible: bool,
}

/// Live figures shared between the collector and the runner.
#[derive(Debug, Default)]
struct Live {
    counts: RunCounts,
    /// Per topic and partition: 1 + the highest acknowledged offset.
    acked_high: HashMap<(TopicId, i32), i64>,
    /// Per consumer plan, topic and partition: 1 + the highest delivered offset.
    delivered_high: HashMap<(usize, TopicId, i32), i64>,
    /// Per topic: acknowledged records readers can see (outside aborted transactions).
    visible_acks: HashMap<TopicId, u64>,
    /// Per consumer plan: partitions currently assigned.
    assigned: HashMap<usize, std::collections::HashSet<(TopicId, i32)>>,
}

/// Runs `plan` on `cluster`.
pub async fn run(
    plan: &Plan,
    cluster: &dyn Cluster,
    options: &RunOptions,
) -> Result<Evidence, RunError> {
    let seed = options.seed.unwrap_or(plan.seed);
    let (duration, messages) = match options.duration {
        Some(d) => (Some(d), None),
        None => (plan.duration, plan.messages),
    };
    let topics: Vec<String> = plan
        .topics
        .iter()
        .map(|t| format!("{}{}", t.name, options.topic_suffix))
        .collect();
    for (t, name) in plan.topics.iter().zip(&topics) {
        let mut spec = TopicSpec::new(name, t.partitions, t.replication_factor);
        spec.configs = t.config.clone();
        cluster.create_topic(&spec).await?;
    }
    let start = Instant::now();
    // The run clock starts when producers start (below); until then events count as time 0.
    let epoch0 = Arc::new(AtomicU64::new(now_us()));
    let warmup_us = plan.warmup.as_micros() as u64;
    let live = Arc::new(Mutex::new(Live::default()));
    let (tx, rx) = mpsc::unbounded_channel::<Ev>();

    // Consumers first, so they are in their groups before the first record.
    let (consumer_tx, mut consumer_rx) = mpsc::unbounded_channel::<ConsumerEvent>();
    let members = Members::start(
        plan,
        &topics,
        cluster.client_config(),
        cluster.bootstrap_servers(),
        &options.topic_suffix,
        consumer_tx.clone(),
    );
    drop(consumer_tx);
    let forward = tx.clone();
    let forwarder = tokio::spawn(async move {
        while let Some(e) = consumer_rx.recv().await {
            if forward.send(Ev::Consumer(e)).is_err() {
                break;
            }
        }
    });
    let collector = tokio::spawn(collect(
        rx,
        Arc::clone(&live),
        topics.clone(),
        members.reader_of(),
        Arc::clone(&epoch0),
        warmup_us,
        options.progress,
    ));
    let (stages_stop, stages_stop_rx) = watch::channel(false);
    let stage_tasks = start_stages(
        plan,
        cluster,
        &topics,
        &options.topic_suffix,
        plan.producers.iter().map(|p| p.instances).sum(),
        &tx,
        &epoch0,
        &stages_stop_rx,
    );
    wait_for_assignment(plan, &live).await;

    // Producer clients are created (and connected) before the run clock starts, so their
    // set-up is not counted as time spent sending.
    let total_instances: u32 = plan.producers.iter().map(|p| p.instances).sum();
    let mut producers = Vec::new();
    let mut producer_id = 0u32;
    for p in &plan.producers {
        let topic_id = p.topic as TopicId;
        let topic = topics[p.topic].clone();
        for _ in 0..p.instances {
            let id = producer_id;
            producer_id += 1;
            let txn = match p.transactions {
                None => None,
                Some(t) => {
                    use rand::SeedableRng;
                    let mut settings = cluster.client_config();
                    settings.extend(p.client.clone());
                    let id_name = format!("{}-{id}{}", p.name, options.topic_suffix);
                    Some(TxnSender {
                        producer: TransactionalProducer::new(&settings, &id_name)
                            .await
                            .map_err(|e| RunError::Client(format!("producer {}: {e}", p.name)))?,
                        settings,
                        transactional_id: id_name,
                        every: t.every as usize,
                        abort_ratio: t.abort_ratio,
                        rng: rand::rngs::StdRng::seed_from_u64(seed ^ 0x7478_6e00 ^ u64::from(id)),
                        batch: Vec::new(),
                    })
                }
            };
            let driver: Arc<dyn ProducerDriver> = match (&txn, p.driver) {
                (Some(txn), _) => txn.producer.driver(),
                (None, DriverKind::Rdkafka) => {
                    let mut settings = cluster.client_config();
                    settings.extend(p.client.clone());
                    Arc::new(
                        RdkafkaProducer::new(&settings)
                            .map_err(|e| RunError::Client(format!("producer {}: {e}", p.name)))?,
                    )
                }
                (None, DriverKind::Rskafka) => Arc::new(
                    RskafkaProducer::new(
                        &cluster.bootstrap_servers(),
                        &topic,
                        plan.topics[p.topic].partitions,
                    )
                    .await
                    .map_err(|e| RunError::Client(e.to_string()))?,
                ),
            };
            let rate = match p.rate {
                Rate::PerSecond(r) => Some(r / f64::from(p.instances)),
                Rate::Max => None,
            };
            let budget = messages.map(|m| share(m, id, total_instances));
            let stop_at_us = duration.map(|d| warmup_us + d.as_micros() as u64);
            let spec = ProducerSpec {
                id,
                topic_id,
                topic: topic.clone(),
                generator: p.generator(seed, id),
                keys: p
                    .keys(seed, id)
                    .map_err(|e| RunError::Client(format!("producer {}: {e}", p.name)))?,
                template: p.template,
                rate,
                budget,
                stop_at_us,
                max_in_flight: p.max_in_flight,
            };
            producers.push((spec, driver, txn));
        }
    }

    // Producers, on the run clock.
    let run_start = Instant::now();
    let start_epoch_us = now_us();
    epoch0.store(start_epoch_us, Ordering::Relaxed);
    let producer_tasks: Vec<_> = producers
        .into_iter()
        .map(|(spec, driver, txn)| {
            tokio::spawn(produce(
                spec,
                driver,
                txn,
                tx.clone(),
                run_start,
                start_epoch_us,
            ))
        })
        .collect();
    // The nemesis, on the same clock, until producers are done.
    let (nemesis_stop, nemesis_stop_rx) = watch::channel(false);
    let acked = || live.lock().map_or(0, |l| l.counts.acked);
    let nemesis = Nemesis {
        faults: &plan.faults,
        topics: &topics,
        consumer_names: plan.consumers.iter().map(|c| c.name.clone()).collect(),
        cluster,
        members: &members,
        acked: &acked,
        start: run_start.into(),
        seed,
    };
    let producing = async {
        for task in producer_tasks {
            task.await
                .map_err(|e| RunError::Client(format!("producer task: {e}")))?;
        }
        let _ = nemesis_stop.send(true);
        Ok::<_, RunError>(())
    };
    let (produced, faults) = tokio::join!(producing, nemesis.run(nemesis_stop_rx));
    produced?;
    let producers_done_us = run_start.elapsed().as_micros() as u64;

    // Drain: consumers catch up with everything acknowledged.
    let drained = drain(plan, &live, plan.drain_timeout).await;
    let _ = stages_stop.send(true);
    for task in stage_tasks {
        match tokio::time::timeout(Duration::from_secs(60), task).await {
            Ok(Ok(Err(e))) => tracing::warn!("stage: {e}"),
            Ok(Err(e)) => tracing::warn!("stage task: {e}"),
            Err(_) => tracing::warn!("a stage did not stop within 60 s"),
            Ok(Ok(Ok(()))) => {}
        }
    }
    members.stop_all().await;
    drop(members);
    let _ = forwarder.await;
    drop(tx);
    let (mut history, mut recorder, key_index, measured) = collector
        .await
        .map_err(|e| RunError::Client(format!("collector task: {e}")))?;
    recorder.finish();
    history.topics = topics.clone();
    history.faults = faults;

    let isolation = if plan.has_transactions() {
        Isolation::ReadCommitted
    } else {
        Isolation::ReadUncommitted
    };
    let (log, key_index) = logread::read(
        &cluster.client_config(),
        &topics,
        &plan.topics,
        key_index,
        isolation,
    )
    .await?;
    history.keys = key_index.into_keys();
    let counts = live.lock().map(|l| l.counts).unwrap_or_default();
    let measured_s = (producers_done_us.saturating_sub(warmup_us) as f64 / 1e6).max(1e-3);
    tracing::debug!("run took {:?}", start.elapsed());
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
    })
}

/// `total` split over `n` instances; instance `i` gets its share (the first ones the rest).
fn share(total: u64, i: u32, n: u32) -> u64 {
    let (n, i) = (u64::from(n), u64::from(i));
    total / n + u64::from(i < total % n)
}

struct ProducerSpec {
    id: u32,
    topic_id: TopicId,
    topic: String,
    generator: Generator,
    keys: KeyChooser,
    template: crate::workload::Template,
    rate: Option<f64>,
    budget: Option<u64>,
    stop_at_us: Option<u64>,
    max_in_flight: usize,
}

/// A send waiting for its outcome.
struct Pending {
    id: MsgId,
    key: Vec<u8>,
    size: usize,
    intended: u64,
    sent: u64,
}

impl Pending {
    fn done(self, topic: TopicId, done: u64, outcome: SendOutcome, visible: bool) -> SendDone {
        SendDone {
            id: self.id,
            topic,
            key: self.key,
            size: self.size,
            intended: self.intended,
            sent: self.sent,
            done,
            outcome,
            visible,
        }
    }
}

/// A transactional producer instance's open batch.
struct TxnSender {
    producer: TransactionalProducer,
    /// Client settings and transactional id, to replace a producer a fatal error broke.
    settings: std::collections::BTreeMap<String, String>,
    transactional_id: String,
    every: usize,
    abort_ratio: f64,
    rng: rand::rngs::StdRng,
    batch: Vec<(OutRecord, Pending)>,
}

impl TxnSender {
    /// Sends the batch as one transaction (aborted on purpose with the plan's odds) and
    /// reports every send and the transaction.
    async fn run(&mut self, topic: TopicId, tx: &mpsc::UnboundedSender<Ev>, run_start: Instant) {
        use rand::Rng;
        let batch = std::mem::take(&mut self.batch);
        let abort = self.rng.random_bool(self.abort_ratio);
        let (records, pending): (Vec<OutRecord>, Vec<Pending>) = batch.into_iter().unzip();
        let report = self.producer.transaction(records, None, abort).await;
        let done = run_start.elapsed().as_micros() as u64;
        if let Some(e) = &report.error {
            tracing::debug!("transaction: {e}");
        }
        if report.fatal {
            // A new producer with the same transactional id fences the broken one.
            match TransactionalProducer::new(&self.settings, &self.transactional_id).await {
                Ok(p) => self.producer = p,
                Err(e) => tracing::warn!("replacing producer {}: {e}", self.transactional_id),
            }
        }
        let visible = report.outcome == TxnOutcome::Committed;
        if let (Some(first), Some(last)) = (pending.first(), pending.last()) {
            let _ = tx.send(Ev::Txn(Txn {
                producer: first.id.producer,
                first_seq: first.id.seq,
                last_seq: last.id.seq,
                outcome: report.outcome,
                at: done,
            }));
        }
        for (p, outcome) in pending.into_iter().zip(report.outcomes) {
            let _ = tx.send(Ev::Done(p.done(topic, done, outcome, visible)));
        }
    }
}

/// One producer instance: sends on schedule, hands every outcome to the collector.
async fn produce(
    mut spec: ProducerSpec,
    driver: Arc<dyn ProducerDriver>,
    mut txn: Option<TxnSender>,
    tx: mpsc::UnboundedSender<Ev>,
    run_start: Instant,
    start_epoch_us: u64,
) {
    let permits = Arc::new(Semaphore::new(spec.max_in_flight));
    let mut seq = 0u64;
    // One record, refilled for every send: drivers copy what they enqueue.
    let mut record = OutRecord {
        topic: spec.topic.clone(),
        partition: None,
        key: Vec::new(),
        value: Vec::with_capacity(spec.generator.size()),
        stamp: Stamp {
            producer: spec.id,
            seq,
            intended_us: start_epoch_us,
        },
        source: None,
    };
    loop {
        if spec.budget.is_some_and(|b| seq >= b) {
            break;
        }
        let intended_us = match spec.rate {
            Some(rate) => (seq as f64 * 1e6 / rate) as u64,
            None => run_start.elapsed().as_micros() as u64,
        };
        if spec.stop_at_us.is_some_and(|stop| intended_us >= stop) {
            break;
        }
        if spec.rate.is_some() {
            tokio::time::sleep_until((run_start + Duration::from_micros(intended_us)).into()).await;
        }
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let sent_us = (run_start.elapsed().as_micros() as u64).max(intended_us);
        let index = spec.keys.next();
        let key = spec.keys.key(index, spec.template);
        spec.generator.value(&key, seq, &mut record.value);
        record.key.clear();
        record.key.extend_from_slice(key.as_bytes());
        record.stamp = Stamp {
            producer: spec.id,
            seq,
            intended_us: start_epoch_us + intended_us,
        };
        let meta = Pending {
            id: MsgId {
                producer: spec.id,
                seq,
            },
            key: key.into_bytes(),
            size: record.value.len(),
            intended: intended_us,
            sent: sent_us,
        };
        seq += 1;
        if let Some(txn) = &mut txn {
            txn.batch.push((record.clone(), meta));
            drop(permit);
            if txn.batch.len() >= txn.every {
                txn.run(spec.topic_id, &tx, run_start).await;
            }
            continue;
        }
        // Runs where the client reports the outcome (rdkafka: on its polling thread).
        let (tx, topic) = (tx.clone(), spec.topic_id);
        let done = Done::new(move |outcome| {
            let done = run_start.elapsed().as_micros() as u64;
            let _ = tx.send(Ev::Done(meta.done(topic, done, outcome, true)));
            drop(permit);
        });
        driver.enqueue(&record, done);
    }
    if let Some(txn) = &mut txn
        && !txn.batch.is_empty()
    {
        txn.run(spec.topic_id, &tx, run_start).await;
    }
    driver.flush().await;
    // Every outcome is in once every permit is back.
    let _ = permits.acquire_many(spec.max_in_flight as u32).await;
}

/// Starts every stage instance (producer ids from `first_id` on); their transactions reach
/// the collector as sends and [`Txn`]s. Returns the tasks.
#[allow(clippy::too_many_arguments)]
fn start_stages(
    plan: &Plan,
    cluster: &dyn Cluster,
    topics: &[String],
    suffix: &str,
    first_id: u32,
    tx: &mpsc::UnboundedSender<Ev>,
    epoch0: &Arc<AtomicU64>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<Result<(), crate::driver::DriverError>>> {
    let mut tasks = Vec::new();
    let mut id = first_id;
    for st in &plan.stages {
        for _ in 0..st.instances {
            let mut settings = cluster.client_config();
            settings.extend(st.client.clone());
            let stage = Stage {
                producer: id,
                settings,
                group: format!("{}{suffix}", st.group),
                input: topics[st.input].clone(),
                output: topics[st.output].clone(),
                every: st.transaction_every as usize,
            };
            id += 1;
            let (events, mut rx) = mpsc::unbounded_channel::<StageTxn>();
            let (tx, epoch0, output) = (tx.clone(), Arc::clone(epoch0), st.output as TopicId);
            tokio::spawn(async move {
                while let Some(t) = rx.recv().await {
                    let epoch = epoch0.load(Ordering::Relaxed);
                    let done = t.at_us.saturating_sub(epoch);
                    let visible = t.report.outcome == TxnOutcome::Committed;
                    if let (Some(first), Some(last)) = (t.sent.first(), t.sent.last()) {
                        let _ = tx.send(Ev::Txn(Txn {
                            producer: first.0.producer,
                            first_seq: first.0.seq,
                            last_seq: last.0.seq,
                            outcome: t.report.outcome,
                            at: done,
                        }));
                    }
                    for ((id, key, size, intended_us), outcome) in
                        t.sent.into_iter().zip(t.report.outcomes)
                    {
                        let intended = intended_us.saturating_sub(epoch).min(done);
                        let pending = Pending {
                            id,
                            key,
                            size,
                            intended,
                            sent: intended,
                        };
                        let _ = tx.send(Ev::Done(pending.done(output, done, outcome, visible)));
                    }
                }
            });
            tasks.push(tokio::spawn(stage.run(events, stop.clone())));
        }
    }
    tasks
}

/// The consumer tables that stand for their group ([`Plan::reader_index`]).
fn readers(plan: &Plan) -> impl Iterator<Item = (usize, &crate::scenario::ConsumerPlan)> {
    plan.consumers
        .iter()
        .enumerate()
        .filter(|&(i, _)| plan.reader_index(i) == i)
}

/// Waits (up to 30 s) until every group consumer plan has all its topic's partitions.
async fn wait_for_assignment(plan: &Plan, live: &Mutex<Live>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ready = readers(plan).all(|(ci, c)| {
            let partitions = plan.topics[c.topic].partitions as usize;
            live.lock()
                .map(|l| l.assigned.get(&ci).map_or(0, |a| a.len()) >= partitions)
                .unwrap_or(true)
        });
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::warn!("consumers were not assigned every partition within 30 s; starting anyway");
}

/// Waits until every consumer plan has delivered up to every acknowledged offset.
async fn drain(plan: &Plan, live: &Mutex<Live>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let done = live
            .lock()
            .map(|l| {
                let stages_done = plan.stages.iter().all(|st| {
                    let count =
                        |t: usize| l.visible_acks.get(&(t as TopicId)).copied().unwrap_or(0);
                    count(st.output) >= count(st.input)
                });
                stages_done
                    && readers(plan).all(|(ci, c)| {
                        l.acked_high
                            .iter()
                            .filter(|((t, _), _)| usize::from(*t) == c.topic)
                            .all(|((t, p), high)| {
                                l.delivered_high.get(&(ci, *t, *p)).copied().unwrap_or(0) >= *high
                            })
                    })
            })
            .unwrap_or(true);
        if done {
            return true;
        }
        if Instant::now() >= deadline {
            tracing::warn!("consumers did not catch up within {timeout:?}");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Figures of the measured phase.
#[derive(Debug, Default, Clone, Copy)]
struct Measured {
    acked: u64,
    consumed: u64,
    bytes: u64,
}

/// Builds the History and the latency figures from every event; prints progress.
async fn collect(
    mut rx: mpsc::UnboundedReceiver<Ev>,
    live: Arc<Mutex<Live>>,
    topics: Vec<String>,
    consumer_plan_of: Arc<std::sync::RwLock<Vec<usize>>>,
    epoch0: Arc<AtomicU64>,
    warmup_us: u64,
    progress: bool,
) -> (History, Recorder, KeyInterner, Measured) {
    let mut history = History::default();
    let mut recorder = Recorder::default();
    let mut keys = KeyInterner::default();
    let mut measured = Measured::default();
    let topic_id = |name: &str| topics.iter().position(|t| t == name).map(|i| i as TopicId);
    let run_us = |epoch_us: u64| epoch_us.saturating_sub(epoch0.load(Ordering::Relaxed));
    let topic_ids = |partitions: &[(String, i32)]| -> Vec<(TopicId, i32)> {
        partitions
            .iter()
            .filter_map(|(t, p)| topic_id(t).map(|t| (t, *p)))
            .collect()
    };
    let plan_of = |consumer: u32| {
        consumer_plan_of
            .read()
            .ok()
            .and_then(|t| t.get(consumer as usize).copied())
            .unwrap_or(0)
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let started = Instant::now();
    let mut last_acked = 0u64;
    // A live line on a terminal; plain periodic lines otherwise (CI logs).
    let bar = (progress && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar
    });
    loop {
        let event = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => break },
            _ = tick.tick() => {
                if progress {
                    let l = live.lock().map(|l| l.counts).unwrap_or_default();
                    let line = format!(
                        "{:>4.0} s  sent {:>9}  acked {:>9} ({:>7}/s)  consumed {:>9}  ack p99 {:>7.1} ms  failed/indeterminate {}",
                        started.elapsed().as_secs_f64(), l.attempted, l.acked, l.acked - last_acked, l.consumed,
                        recorder.recent_ack_p99() as f64 / 1000.0, l.failed + l.indeterminate
                    );
                    match &bar {
                        Some(bar) => bar.set_message(line),
                        None => crate::note(line),
                    }
                    last_acked = l.acked;
                }
                continue;
            }
        };
        match event {
            Ev::Done(done) => {
                let key = keys.intern(&done.key);
                let measured_send = done.intended >= warmup_us;
                let outcome = match done.outcome {
                    SendOutcome::Ok { partition, offset } => Outcome::Ok { partition, offset },
                    SendOutcome::Fail(_) => Outcome::Fail,
                    SendOutcome::Indeterminate(_) => Outcome::Indeterminate,
                };
                let ok = matches!(outcome, Outcome::Ok { .. });
                recorder.completed(
                    ok,
                    done.sent - done.intended,
                    done.done.saturating_sub(done.sent),
                    done.done,
                    measured_send,
                );
                recorder.sent(done.sent);
                if let Ok(mut l) = live.lock() {
                    l.counts.attempted += 1;
                    match outcome {
                        Outcome::Ok { partition, offset } => {
                            l.counts.acked += 1;
                            if done.visible {
                                let high = l.acked_high.entry((done.topic, partition)).or_insert(0);
                                *high = (*high).max(offset + 1);
                                *l.visible_acks.entry(done.topic).or_insert(0) += 1;
                            }
                        }
                        Outcome::Fail => l.counts.failed += 1,
                        Outcome::Indeterminate => l.counts.indeterminate += 1,
                    }
                }
                if ok && measured_send {
                    measured.acked += 1;
                    measured.bytes += done.size as u64;
                }
                history.sends.push(Send {
                    id: done.id,
                    topic: done.topic,
                    key,
                    intended: done.intended,
                    completed: done.done,
                    outcome,
                });
            }
            Ev::Txn(txn) => history.txns.push(txn),
            Ev::Consumer(ConsumerEvent::Delivered {
                consumer,
                topic,
                partition,
                offset,
                stamp,
                at_us,
            }) => {
                let Some(t) = topic_id(&topic) else { continue };
                let at = run_us(at_us);
                let e2e = stamp.map(|s| at_us.saturating_sub(s.intended_us));
                let measured_delivery = stamp.is_some_and(|s| run_us(s.intended_us) >= warmup_us);
                recorder.delivered(at, e2e, measured_delivery);
                if measured_delivery {
                    measured.consumed += 1;
                }
                if let Ok(mut l) = live.lock() {
                    l.counts.consumed += 1;
                    let high = l
                        .delivered_high
                        .entry((plan_of(consumer), t, partition))
                        .or_insert(0);
                    *high = (*high).max(offset + 1);
                }
                history.deliveries.push(Delivery {
                    consumer,
                    topic: t,
                    partition,
                    offset,
                    id: stamp.map(|s| s.id()),
                    at,
                });
            }
            Ev::Consumer(ConsumerEvent::Assigned {
                consumer,
                partitions,
                at_us,
            }) => {
                let partitions = topic_ids(&partitions);
                if let Ok(mut l) = live.lock() {
                    let set = l.assigned.entry(plan_of(consumer)).or_default();
                    set.extend(partitions.iter().copied());
                }
                history.group_events.push(GroupEvent::Assigned {
                    consumer,
                    at: run_us(at_us),
                    partitions,
                });
            }
            Ev::Consumer(ConsumerEvent::Revoked {
                consumer,
                partitions,
                at_us,
            }) => {
                let partitions = topic_ids(&partitions);
                if let Ok(mut l) = live.lock()
                    && let Some(set) = l.assigned.get_mut(&plan_of(consumer))
                {
                    for tp in &partitions {
                        set.remove(tp);
                    }
                }
                history.group_events.push(GroupEvent::Revoked {
                    consumer,
                    at: run_us(at_us),
                    partitions,
                });
            }
            Ev::Consumer(ConsumerEvent::Committed {
                consumer,
                offsets,
                at_us,
            }) => {
                for (topic, partition, offset) in offsets {
                    if let Some(topic) = topic_id(&topic) {
                        history.group_events.push(GroupEvent::Committed {
                            consumer,
                            at: run_us(at_us),
                            topic,
                            partition,
                            offset,
                        });
                    }
                }
            }
            Ev::Consumer(ConsumerEvent::CommitFailed {
                consumer,
                offsets,
                error,
                at_us,
            }) => history.group_events.push(GroupEvent::CommitFailed {
                consumer,
                at: run_us(at_us),
                offsets: offsets
                    .into_iter()
                    .filter_map(|(t, p, o)| topic_id(&t).map(|t| (t, p, o)))
                    .collect(),
                error,
            }),
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    (history, recorder, keys, measured)
}
