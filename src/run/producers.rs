//! The run's producer instances: each built from its table (the driver factory), then one
//! task per instance sending on the open-loop schedule and handing every outcome to the
//! collector.
//!
//! ```text
//!   ProducerPlan ──build──> Producer { spec, driver, txn } ──produce──> Ev::Done (+ Ev::Txn)
//!   schedule: intended = seq / rate; sent = max(now, intended); send delay = sent - intended
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use tokio::sync::{Semaphore, TryAcquireError, mpsc, watch};

use super::collector::{Ev, SendDone, SentKey};
use super::engine::RunError;
use super::interrupt::Interrupt;
use crate::cluster::Cluster;
use crate::driver::exec::protocol::Configure;
use crate::driver::exec::{Dialect, ExecEnv, ExecProducer, ExecSpec, Role, verifiable};
use crate::driver::rdkafka::RdkafkaProducer;
use crate::driver::rskafka::RskafkaProducer;
use crate::driver::txn::TransactionalProducer;
use crate::driver::{Done, DriverError, OutRecord, ProducerDriver, SendOutcome, now_us};
use crate::history::stamp::Stamp;
use crate::history::{MsgId, TopicId, Txn, TxnOutcome};
use crate::scenario::{DriverKind, Plan, ProducerPlan, Rate, Seeds};
use crate::workload::{Generator, KeyChooser, Template, write_key};

/// One producer instance, ready to send.
pub(super) enum Producer {
    /// A client the run sends to on its schedule.
    Fed(Box<Fed>),
    /// Kafka's VerifiableProducer: it sends on its own schedule, and the run listens.
    Verifiable(Box<Listened>),
}

/// A producer instance the run sends to.
pub(super) struct Fed {
    spec: ProducerSpec,
    driver: Arc<dyn ProducerDriver>,
    txn: Option<TxnSender>,
}

/// A VerifiableProducer instance, started when the run clock starts.
pub(super) struct Listened {
    spec: ExecSpec,
    env: ExecEnv,
    topic_id: TopicId,
    /// Its messages per second.
    rate: f64,
    /// How many keys it cycles through.
    keys: u64,
    stop_at_us: Option<u64>,
}

/// When a run's producers stop.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Messages over all instances of all tables.
    pub messages: Option<u64>,
    /// Stop sending at this time on the run clock.
    pub stop_at_us: Option<u64>,
}

/// What one instance sends and when.
struct ProducerSpec {
    id: u32,
    topic_id: TopicId,
    topic: String,
    generator: Generator,
    keys: KeyChooser,
    template: Template,
    /// Messages per second, or none for as fast as the client takes them.
    rate: Option<f64>,
    budget: Option<u64>,
    stop_at_us: Option<u64>,
    max_in_flight: usize,
}

/// Creates (and connects) every producer instance of `plan`, ids 0, 1, ... in table order;
/// an exec table's processes start side by side.
pub(super) async fn build(
    plan: &Plan,
    cluster: &dyn Cluster,
    topics: &[String],
    suffix: &str,
    seeds: &Seeds,
    limits: Limits,
    exec: &ExecEnv,
) -> Result<Vec<Producer>, RunError> {
    let total_instances: u32 = plan.producers.iter().map(|p| p.instances).sum();
    let mut producers = Vec::new();
    let mut id = 0u32;
    for p in &plan.producers {
        if p.driver == DriverKind::Verifiable {
            for instance in 0..p.instances {
                let budget = limits.messages.map(|m| share(m, id, total_instances));
                producers.push(Producer::Verifiable(Box::new(listened(
                    p,
                    instance,
                    id,
                    cluster,
                    &topics[p.topic],
                    exec,
                    budget,
                    limits.stop_at_us,
                ))));
                id += 1;
            }
            continue;
        }
        let mut started = start_exec(p, id, cluster, &topics[p.topic], exec).await?;
        for _ in 0..p.instances {
            let txn = match p.transactions {
                None => None,
                Some(t) => {
                    let mut settings = cluster.client_config();
                    settings.extend(p.client.clone());
                    settings.extend(p.login.clone());
                    let transactional_id = format!("{}-{id}{suffix}", p.name);
                    Some(TxnSender {
                        producer: TransactionalProducer::new(&settings, &transactional_id)
                            .await
                            .map_err(|e| failed(p, e))?,
                        settings,
                        transactional_id,
                        every: t.every as usize,
                        abort_ratio: t.abort_ratio,
                        rng: rand::rngs::StdRng::seed_from_u64(
                            seeds.stream("txn-aborts", u64::from(id)),
                        ),
                        batch: Vec::new(),
                    })
                }
            };
            let driver = match (&txn, started.pop_front()) {
                (Some(txn), _) => txn.producer.driver(),
                (None, Some(exec)) => exec,
                (None, None) => driver(plan, p, cluster, &topics[p.topic]).await?,
            };
            let spec = ProducerSpec {
                id,
                topic_id: p.topic as TopicId,
                topic: topics[p.topic].clone(),
                generator: crate::workload::generator(p, seeds, id),
                keys: crate::workload::keys(p, seeds, id).map_err(|source| RunError::Workload {
                    producer: p.name.clone(),
                    source,
                })?,
                template: p.template,
                rate: match p.rate {
                    Rate::PerSecond(r) => Some(r / f64::from(p.instances)),
                    Rate::Max => None,
                },
                budget: limits.messages.map(|m| share(m, id, total_instances)),
                stop_at_us: limits.stop_at_us,
                max_in_flight: p.max_in_flight,
            };
            producers.push(Producer::Fed(Box::new(Fed { spec, driver, txn })));
            id += 1;
        }
    }
    Ok(producers)
}

/// Instance `instance` (id `id`) of verifiable table `p`, to be started with the run clock;
/// it sends `budget` messages or until `stop_at_us`.
#[allow(clippy::too_many_arguments)]
fn listened(
    p: &ProducerPlan,
    instance: u32,
    id: u32,
    cluster: &dyn Cluster,
    topic: &str,
    env: &ExecEnv,
    budget: Option<u64>,
    stop_at_us: Option<u64>,
) -> Listened {
    let rate = match p.rate {
        Rate::PerSecond(r) => r / f64::from(p.instances),
        // Refused by the scenario: VerifiableProducer needs a schedule.
        Rate::Max => 1.0,
    };
    let acks = match p.client.get("acks").map(|a| a.trim()) {
        None | Some("all") => "-1".to_owned(),
        Some(a) => a.to_owned(),
    };
    let bootstrap = cluster.bootstrap_servers();
    let command = env.tools.as_ref().map_or_else(Vec::new, |tools| {
        let args = verifiable::ProducerArgs {
            bootstrap: &bootstrap,
            topic,
            prefix: id,
            keys: p.key_count,
            throughput: rate as u64,
            max_messages: budget,
            acks: &acks,
        };
        verifiable::producer_command(tools, &args)
    });
    let mut security = cluster.client_config();
    security.remove("bootstrap.servers");
    security.extend(p.login.clone());
    let exec = p.exec.clone();
    Listened {
        spec: ExecSpec {
            table: p.name.clone(),
            role: Role::Producer,
            instance,
            id,
            command,
            env: BTreeMap::new(),
            cwd: exec
                .as_ref()
                .map_or_else(|| std::path::PathBuf::from("."), |e| e.cwd.clone()),
            startup_timeout: exec
                .as_ref()
                .map_or(Duration::from_secs(30), |e| e.startup_timeout),
            configure: Configure {
                role: Role::Producer,
                table: p.name.clone(),
                instance,
                bootstrap_servers: bootstrap,
                topic: topic.to_owned(),
                group: None,
                client: p.client.clone(),
                security,
            },
            dialect: Dialect::Verifiable,
        },
        env: env.clone(),
        topic_id: p.topic as TopicId,
        rate,
        keys: p.key_count,
        stop_at_us,
    }
}

/// The processes of an exec producer table (none for other tables), started side by side,
/// in instance order; `first` is the id of the table's first instance.
async fn start_exec(
    p: &ProducerPlan,
    first: u32,
    cluster: &dyn Cluster,
    topic: &str,
    env: &ExecEnv,
) -> Result<std::collections::VecDeque<Arc<dyn ProducerDriver>>, RunError> {
    let Some(exec) = &p.exec else {
        return Ok(Default::default());
    };
    let mut security = cluster.client_config();
    security.remove("bootstrap.servers");
    security.extend(p.login.clone());
    let starts = (0..p.instances).map(|instance| {
        let spec = ExecSpec {
            table: p.name.clone(),
            role: Role::Producer,
            instance,
            id: first + instance,
            command: exec.command.clone(),
            env: exec.env.clone(),
            cwd: exec.cwd.clone(),
            startup_timeout: exec.startup_timeout,
            configure: Configure {
                role: Role::Producer,
                table: p.name.clone(),
                instance,
                bootstrap_servers: cluster.bootstrap_servers(),
                topic: topic.to_owned(),
                group: None,
                client: p.client.clone(),
                security: security.clone(),
            },
            dialect: Dialect::Harness,
        };
        ExecProducer::start(spec, env.clone())
    });
    let mut started = std::collections::VecDeque::new();
    for result in futures::future::join_all(starts).await {
        // The others are dropped (and their processes killed) with the error.
        let driver = result.map_err(|e| failed(p, e))?;
        started.push_back(Arc::new(driver) as Arc<dyn ProducerDriver>);
    }
    Ok(started)
}

/// The client of a non-transactional producer table.
async fn driver(
    plan: &Plan,
    p: &ProducerPlan,
    cluster: &dyn Cluster,
    topic: &str,
) -> Result<Arc<dyn ProducerDriver>, RunError> {
    Ok(match p.driver {
        DriverKind::Rdkafka => {
            let mut settings = cluster.client_config();
            settings.extend(p.client.clone());
            settings.extend(p.login.clone());
            Arc::new(RdkafkaProducer::new(&settings).map_err(|e| failed(p, e))?)
        }
        DriverKind::Rskafka => Arc::new(
            RskafkaProducer::new(
                &cluster.bootstrap_servers(),
                topic,
                plan.topics[p.topic].partitions,
            )
            .await
            .map_err(|e| failed(p, e))?,
        ),
        // Started by `start_exec` or listened to, never here.
        DriverKind::Exec | DriverKind::Verifiable => {
            return Err(failed(
                p,
                DriverError::Setting {
                    client: format!("exec producer {}", p.name),
                    key: "command".into(),
                    value: String::new(),
                    reason: "an exec table without its process",
                },
            ));
        }
    })
}

/// The error of a producer table whose client could not be made.
fn failed(p: &ProducerPlan, source: DriverError) -> RunError {
    RunError::Producer {
        producer: p.name.clone(),
        source,
    }
}

/// `total` split over `n` instances; instance `i` gets its share (the first ones the rest).
fn share(total: u64, i: u32, n: u32) -> u64 {
    let (n, i) = (u64::from(n), u64::from(i));
    total / n + u64::from(i < total % n)
}

/// A send waiting for its outcome.
pub(super) struct Pending {
    pub id: MsgId,
    pub key: SentKey,
    pub size: usize,
    pub intended: u64,
    pub sent: u64,
}

impl Pending {
    /// The send with its outcome, for the collector.
    pub fn done(self, topic: TopicId, done: u64, outcome: SendOutcome, visible: bool) -> SendDone {
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
    settings: BTreeMap<String, String>,
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

/// One producer instance: hands every outcome to the collector, and returns its client
/// once every outcome is in (for the run to close; a VerifiableProducer has ended by then).
pub(super) async fn produce(
    producer: Producer,
    tx: mpsc::UnboundedSender<Ev>,
    run_start: Instant,
    start_epoch_us: u64,
    interrupt: Interrupt,
) -> Option<Arc<dyn ProducerDriver>> {
    match producer {
        Producer::Fed(fed) => Some(feed(*fed, tx, run_start, start_epoch_us, interrupt).await),
        Producer::Verifiable(listened) => {
            listen(*listened, tx, run_start, interrupt).await;
            None
        }
    }
}

/// Runs a VerifiableProducer until it has sent its messages (or the run's time is up: it is
/// stopped), handing each answer to the collector. It says nothing of when it sends: a
/// record's intended time is its place on its schedule (`seq / rate` after it said
/// `startup_complete`), which also stands for its send time. What it sent and never answered
/// is indeterminate.
async fn listen(
    p: Listened,
    tx: mpsc::UnboundedSender<Ev>,
    run_start: Instant,
    interrupt: Interrupt,
) {
    let (stop, stop_rx) = watch::channel(false);
    // Stopped when its time is up or the run is interrupted, whichever comes first.
    let stop_at = p.stop_at_us;
    let timer = tokio::spawn(async move {
        let time_up = async {
            match stop_at {
                Some(at) => {
                    tokio::time::sleep_until((run_start + Duration::from_micros(at)).into()).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = time_up => {}
            () = interrupt.wait() => {}
        }
        let _ = stop.send(true);
    });
    let id = p.spec.id;
    let now = || run_start.elapsed().as_micros() as u64;
    let mut schedule_start = 0u64;
    let pending = |seq: u64, key: SentKey, size: usize, start: u64, done: u64| {
        let intended = (start + (seq as f64 * 1e6 / p.rate) as u64).min(done);
        Pending {
            id: MsgId { producer: id, seq },
            key,
            size,
            intended,
            sent: intended,
        }
    };
    let ended = verifiable::run_producer(&p.spec, &p.env, id, stop_rx, |report| match report {
        verifiable::Report::Started { at_ms } => {
            // Its clock is the system's: its schedule started this long before now.
            let ago = at_ms.map_or(0, |ms| now_us().saturating_sub(ms.saturating_mul(1000)));
            schedule_start = now().saturating_sub(ago);
        }
        verifiable::Report::Answer {
            seq,
            key,
            size,
            outcome,
        } => {
            let done = now();
            let key = SentKey::Bytes(key.unwrap_or_default());
            let send = pending(seq, key, size, schedule_start, done);
            let _ = tx.send(Ev::Done(send.done(p.topic_id, done, outcome, true)));
        }
    })
    .await;
    timer.abort();
    match ended {
        Ok(ended) => {
            let done = now();
            for seq in ended.unanswered {
                let key = SentKey::Bytes((seq % p.keys.max(1)).to_string().into_bytes());
                let size = format!("{id}.{seq}").len();
                let send = pending(seq, key, size, schedule_start, done);
                let outcome = SendOutcome::Indeterminate(ended.reason.clone());
                let _ = tx.send(Ev::Done(send.done(p.topic_id, done, outcome, true)));
            }
        }
        Err(e) => p.env.fatal.raise(e),
    }
}

/// One instance the run sends to: sends on schedule, hands every outcome to the collector,
/// and returns its client once every outcome is in.
async fn feed(
    producer: Fed,
    tx: mpsc::UnboundedSender<Ev>,
    run_start: Instant,
    start_epoch_us: u64,
    interrupt: Interrupt,
) -> Arc<dyn ProducerDriver> {
    let Fed {
        mut spec,
        driver,
        mut txn,
    } = producer;
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
        // Its process ended: what it was sent is accounted for, nothing more can be.
        if driver.is_closed() {
            break;
        }
        // At max rate the intended time is now, and it stands for the send time too unless
        // the send then waits for a slot: one clock read per send instead of two.
        let (intended_us, mut read_us) = match spec.rate {
            Some(rate) => ((seq as f64 * 1e6 / rate) as u64, None),
            None => {
                let now = run_start.elapsed().as_micros() as u64;
                (now, Some(now))
            }
        };
        if spec.stop_at_us.is_some_and(|stop| intended_us >= stop) {
            break;
        }
        if spec.rate.is_some() {
            let due = run_start + Duration::from_micros(intended_us);
            if Instant::now() < due {
                tokio::select! {
                    () = tokio::time::sleep_until(due.into()) => {}
                    () = interrupt.wait() => break,
                }
            }
        }
        if interrupt.is_raised() {
            break;
        }
        // A free slot at once (the common case), else wait for one or the interrupt.
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => break,
            Err(TryAcquireError::NoPermits) => {
                read_us = None;
                tokio::select! {
                    permit = Arc::clone(&permits).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = interrupt.wait() => break,
                }
            }
        };
        let sent_us = read_us
            .unwrap_or_else(|| run_start.elapsed().as_micros() as u64)
            .max(intended_us);
        let index = spec.keys.next();
        record.key.clear();
        write_key(spec.template, index, &mut record.key);
        // Every generated key is ASCII.
        let key = std::str::from_utf8(&record.key).unwrap_or_default();
        spec.generator.value(key, seq, &mut record.value);
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
            key: SentKey::Generated {
                template: spec.template,
                index,
            },
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
    driver
}
