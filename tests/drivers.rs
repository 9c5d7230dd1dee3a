//! The driver matrix, through the crate's own driver traits ([`ProducerDriver`],
//! [`ConsumerDriver`]): every producer driver (rdkafka, rskafka, a committing transactional
//! rdkafka producer, an exec process) × every consumer driver (an rdkafka group member, the
//! rskafka reader, an exec process) × every compression codec, against one shared
//! single-node embedded cluster, one topic per case. The exec processes are
//! `examples/exec_rdkafka.rs` (librdkafka behind the exec protocol); the pairs with them are
//! the exec producer with each consumer and the rdkafka producer with the exec consumer. One pair is out: the rskafka reader cannot read what a transactional producer
//! wrote (an rskafka bug; its test says which, and checks the reader fails as it should).
//!
//! Each case sends [`RECORDS`] keyed records over [`KEYS`] keys to a topic of
//! [`PARTITIONS`] partitions, then consumes the topic and checks one thing, the same for
//! every case ([`assert_delivered`]): every acknowledged record is consumed exactly once, at
//! the partition and offset it was acknowledged at, each key on the partition the Java
//! client's partitioner picks, and in send order within each key.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use common::shared_cluster;
use futures::future::join_all;
use kafka_harness::driver::exec::protocol::Configure;
use kafka_harness::driver::exec::{Dialect, ExecConsumer, ExecEnv, ExecProducer, ExecSpec, Role};
use kafka_harness::driver::rdkafka::{RdkafkaConsumer, RdkafkaProducer};
use kafka_harness::driver::rskafka::{RskafkaProducer, RskafkaReader};
use kafka_harness::driver::txn::TransactionalProducer;
use kafka_harness::driver::{
    Commit, ConsumerDriver, ConsumerEvent, DriverError, OutRecord, ProducerDriver, SendOutcome,
    Stop, now_us,
};
use kafka_harness::history::TxnOutcome;
use kafka_harness::history::stamp::Stamp;
use kafka_harness::workload::partition_for_key;
use kafka_harness::{Cluster, EmbeddedCluster, TopicSpec};
use tokio::sync::{mpsc, watch};

/// Records sent per case.
const RECORDS: u64 = 200;
/// Distinct keys per case.
const KEYS: u64 = 10;
/// Partitions of each case's topic.
const PARTITIONS: i32 = 3;
/// Records per transaction of the transactional producer.
const TRANSACTION: usize = 50;
/// How long a case may take to consume what it sent.
const CONSUME_TIMEOUT: Duration = Duration::from_secs(30);

/// Every codec Kafka has (`compression.type`). rskafka has all five too: its default
/// features, which this crate uses, build gzip, snappy, lz4 and zstd.
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

#[derive(Debug, Clone, Copy)]
enum Producer {
    Rdkafka,
    Rskafka,
    /// rdkafka, transactional, committing every [`TRANSACTION`] records.
    Transactional,
    /// librdkafka in a child process, behind the exec protocol.
    Exec,
}

#[derive(Debug, Clone, Copy)]
enum Consumer {
    /// An rdkafka consumer-group member committing after processing (at-least-once; its
    /// commits, every second and on leaving, must not fail).
    Group,
    /// The rskafka reader of every partition.
    Reader,
    /// librdkafka in a child process, behind the exec protocol: a group member committing
    /// what it processed every second and before it leaves.
    Exec,
}

/// One case of the matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    producer: Producer,
    consumer: Consumer,
    codec: &'static str,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} -> {:?}, {}",
            self.producer, self.consumer, self.codec
        )
    }
}

/// One acknowledged send.
#[derive(Debug, Clone)]
struct Sent {
    seq: u64,
    key: Vec<u8>,
    partition: i32,
    offset: i64,
}

/// One delivery, as the consumer driver reported it.
#[derive(Debug, Clone)]
struct Got {
    partition: i32,
    offset: i64,
    stamp: Option<Stamp>,
}

fn records(topic: &str) -> Vec<OutRecord> {
    (0..RECORDS)
        .map(|seq| OutRecord {
            topic: topic.to_owned(),
            partition: None,
            key: format!("key-{}", seq % KEYS).into_bytes(),
            value: format!("value-{seq}").into_bytes(),
            stamp: Stamp {
                producer: 0,
                seq,
                intended_us: now_us(),
            },
            source: None,
        })
        .collect()
}

/// Pairs each record with its outcome; every outcome must be an acknowledgement.
fn acknowledged(case: Case, records: &[OutRecord], outcomes: Vec<SendOutcome>) -> Vec<Sent> {
    assert_eq!(outcomes.len(), records.len(), "{case}: outcomes");
    records
        .iter()
        .zip(outcomes)
        .map(|(r, outcome)| match outcome {
            SendOutcome::Ok { partition, offset } => Sent {
                seq: r.stamp.seq,
                key: r.key.clone(),
                partition,
                offset,
            },
            other => panic!("{case}: send {} ended {other:?}", r.stamp.seq),
        })
        .collect()
}

/// Enqueues every record at once, in order, and waits for every outcome.
async fn send_all(driver: &dyn ProducerDriver, records: &[OutRecord]) -> Vec<SendOutcome> {
    let pending: Vec<_> = records.iter().map(|r| driver.send(r.clone())).collect();
    driver.flush().await;
    join_all(pending).await
}

/// Sends the case's records with its producer driver; returns what was acknowledged.
async fn produce(case: Case, cluster: &EmbeddedCluster, topic: &str) -> Vec<Sent> {
    let mut settings = cluster.client_config();
    settings.insert("compression.type".into(), case.codec.into());
    let records = records(topic);
    let outcomes = match case.producer {
        Producer::Rdkafka => {
            let driver = RdkafkaProducer::new(&settings).unwrap_or_else(|e| panic!("{case}: {e}"));
            send_all(&driver, &records).await
        }
        Producer::Rskafka => {
            let bootstrap = cluster.bootstrap_servers();
            let driver = RskafkaProducer::with_settings(&bootstrap, topic, PARTITIONS, &settings)
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            send_all(&driver, &records).await
        }
        Producer::Exec => {
            let env = exec_env(topic);
            let spec = exec_spec(
                Role::Producer,
                cluster,
                topic,
                None,
                [("compression.type".to_owned(), case.codec.to_owned())].into(),
            );
            let driver = ExecProducer::start(spec, env.clone())
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            let outcomes = send_all(&driver, &records).await;
            driver.close().await;
            drop(driver);
            assert_exec_ended_cleanly(case, &env);
            outcomes
        }
        Producer::Transactional => {
            let driver = TransactionalProducer::new(&settings, &format!("{topic}-txn"))
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            let mut outcomes = Vec::new();
            for batch in records.chunks(TRANSACTION) {
                let report = driver.transaction(batch.to_vec(), None, false).await;
                assert_eq!(
                    report.outcome,
                    TxnOutcome::Committed,
                    "{case}: transaction: {:?}",
                    report.error
                );
                outcomes.extend(report.outcomes);
            }
            outcomes
        }
    };
    acknowledged(case, &records, outcomes)
}

/// Where a case's exec processes log (a folder per case and role, removed when they ended
/// cleanly), and its fatal slot.
fn exec_env(topic: &str) -> ExecEnv {
    ExecEnv::new(std::env::temp_dir().join(format!("kh-drivers-{}-{topic}", std::process::id())))
}

/// An exec process of the adapter for `topic` (and `group`, for a consumer).
fn exec_spec(
    role: Role,
    cluster: &EmbeddedCluster,
    topic: &str,
    group: Option<String>,
    client: BTreeMap<String, String>,
) -> ExecSpec {
    let mut security = cluster.client_config();
    security.remove("bootstrap.servers");
    ExecSpec {
        table: format!("{role}"),
        role,
        instance: 0,
        id: 0,
        command: vec![common::exec::adapter().to_string_lossy().into_owned()],
        env: BTreeMap::new(),
        cwd: std::env::temp_dir(),
        startup_timeout: Duration::from_secs(30),
        configure: Configure {
            role,
            table: format!("{role}"),
            instance: 0,
            bootstrap_servers: cluster.bootstrap_servers(),
            topic: topic.to_owned(),
            group,
            client,
            security,
        },
        dialect: Dialect::Harness,
    }
}

/// The case's exec processes broke no rule and ended as asked: shutdown, exit 0.
#[track_caller]
fn assert_exec_ended_cleanly(case: Case, env: &ExecEnv) {
    if let Some(e) = env.fatal.take() {
        panic!("{case}: {e}");
    }
    let processes = env.processes.all();
    assert!(!processes.is_empty(), "{case}: no process recorded");
    for p in processes {
        assert_eq!(
            (p.how.as_deref(), p.note.as_deref()),
            (Some("exit 0"), Some("shutdown")),
            "{case}: {p:?}"
        );
        assert!(p.client.is_some_and(|c| c.contains("librdkafka")), "{case}");
    }
    let _ = std::fs::remove_dir_all(&env.clients_dir);
}

/// Consumes the case's topic with its consumer driver until `expected` records came (or
/// the timeout, or the driver ended), then stops it; returns every delivery it reported, in
/// order, and how the driver ended.
async fn consume(
    case: Case,
    cluster: &EmbeddedCluster,
    topic: &str,
    expected: usize,
) -> (Vec<Got>, Result<(), DriverError>) {
    let env = exec_env(&format!("{topic}-consumer"));
    let driver: Box<dyn ConsumerDriver> = match case.consumer {
        Consumer::Exec => Box::new(ExecConsumer::new(
            exec_spec(
                Role::Consumer,
                cluster,
                topic,
                Some(format!("{topic}-group")),
                BTreeMap::new(),
            ),
            env.clone(),
        )),
        Consumer::Group => Box::new(RdkafkaConsumer::new(
            0,
            cluster.client_config(),
            &format!("{topic}-group"),
            topic,
            Commit::AfterProcessing,
            Duration::ZERO,
        )),
        Consumer::Reader => Box::new(RskafkaReader::new(
            0,
            &cluster.bootstrap_servers(),
            topic,
            PARTITIONS,
        )),
    };
    let (events, mut rx) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(Stop::Run);
    let running = tokio::spawn(driver.run(events, stop_rx));
    let mut got = Vec::new();
    let mut other = Vec::new();
    let deadline = tokio::time::Instant::now() + CONSUME_TIMEOUT;
    while got.len() < expected {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(event)) => take(event, &mut got, &mut other),
            Ok(None) | Err(_) => break,
        }
    }
    // Whatever it delivered before it stopped counts too: a duplicate would show here.
    // Fails only if the consumer already ended: its result says why.
    let _ = stop.send(Stop::Leave);
    let ended = tokio::time::timeout(CONSUME_TIMEOUT, running)
        .await
        .unwrap_or_else(|_| panic!("{case}: the consumer did not stop"))
        .unwrap_or_else(|e| panic!("{case}: consumer task: {e}"));
    while let Ok(event) = rx.try_recv() {
        take(event, &mut got, &mut other);
    }
    let failed: Vec<_> = other
        .iter()
        .filter(|e| matches!(e, ConsumerEvent::CommitFailed { .. }))
        .collect();
    assert!(failed.is_empty(), "{case}: {failed:?}");
    if matches!(case.consumer, Consumer::Exec) {
        assert_exec_ended_cleanly(case, &env);
        // A group member reports its assignment, and its commits.
        assert!(
            other
                .iter()
                .any(|e| matches!(e, ConsumerEvent::Assigned { partitions, .. } if partitions.len() == PARTITIONS as usize)),
            "{case}: {other:?}"
        );
        assert!(
            other
                .iter()
                .any(|e| matches!(e, ConsumerEvent::Committed { .. })),
            "{case}: no commit reported"
        );
    }
    (got, ended)
}

fn take(event: ConsumerEvent, got: &mut Vec<Got>, other: &mut Vec<ConsumerEvent>) {
    match event {
        ConsumerEvent::Delivered {
            partition,
            offset,
            stamp,
            ..
        } => got.push(Got {
            partition,
            offset,
            stamp,
        }),
        event => other.push(event),
    }
}

/// The matrix's one assertion: every acknowledged record consumed exactly once and none
/// else, where it was acknowledged, each key on its murmur2 partition, and per partition
/// each key's records consumed in send order.
fn assert_delivered(case: Case, sent: &[Sent], got: &[Got]) {
    let by_seq: HashMap<u64, &Sent> = sent.iter().map(|s| (s.seq, s)).collect();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for g in got {
        let stamp = g
            .stamp
            .unwrap_or_else(|| panic!("{case}: {}@{} has no stamp", g.partition, g.offset));
        let s = by_seq
            .get(&stamp.seq)
            .unwrap_or_else(|| panic!("{case}: {stamp:?} was never sent"));
        assert_eq!(
            (g.partition, g.offset),
            (s.partition, s.offset),
            "{case}: seq {} consumed where it was not acknowledged",
            s.seq
        );
        *seen.entry(stamp.seq).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|&(_, &n)| n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "{case}: consumed more than once: {duplicated:?}"
    );
    let missing: Vec<_> = sent.iter().filter(|s| !seen.contains_key(&s.seq)).collect();
    assert!(missing.is_empty(), "{case}: never consumed: {missing:?}");
    assert_eq!(got.len(), sent.len(), "{case}: consumed");

    // Per key: one partition, murmur2's; consumed in send order within it.
    let mut sent_order: BTreeMap<&[u8], Vec<u64>> = BTreeMap::new();
    for s in sent {
        assert_eq!(
            s.partition,
            partition_for_key(&s.key, PARTITIONS),
            "{case}: key {:?} not on its murmur2 partition",
            String::from_utf8_lossy(&s.key)
        );
        sent_order.entry(s.key.as_slice()).or_default().push(s.seq);
    }
    let mut consumed_order: BTreeMap<&[u8], Vec<u64>> = BTreeMap::new();
    for g in got {
        let s = by_seq[&g.stamp.unwrap().seq];
        consumed_order
            .entry(s.key.as_slice())
            .or_default()
            .push(s.seq);
    }
    for (key, order) in &sent_order {
        assert_eq!(
            consumed_order.get(key),
            Some(order),
            "{case}: key {:?} consumed out of send order",
            String::from_utf8_lossy(key)
        );
    }
}

async fn run_case(case: Case) {
    let cluster = shared_cluster().await;
    let name = format!(
        "drivers-{:?}-{:?}-{}",
        case.producer, case.consumer, case.codec
    );
    let topic = common::topic(&name.to_lowercase());
    cluster
        .create_topic(&TopicSpec::new(&topic, PARTITIONS, 1))
        .await
        .unwrap_or_else(|e| panic!("{case}: creating {topic}: {e}"));
    let sent = produce(case, cluster, &topic).await;
    let (got, ended) = consume(case, cluster, &topic, sent.len()).await;
    if let Err(e) = ended {
        panic!("{case}: {e}");
    }
    assert_delivered(case, &sent, &got);
}

/// Runs one producer × consumer pair with every codec, side by side.
async fn matrix(producer: Producer, consumer: Consumer) {
    join_all(CODECS.map(|codec| {
        run_case(Case {
            producer,
            consumer,
            codec,
        })
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_to_group() {
    matrix(Producer::Rdkafka, Consumer::Group).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_to_reader() {
    matrix(Producer::Rdkafka, Consumer::Reader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rskafka_to_group() {
    matrix(Producer::Rskafka, Consumer::Group).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rskafka_to_reader() {
    matrix(Producer::Rskafka, Consumer::Reader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_to_group() {
    matrix(Producer::Transactional, Consumer::Group).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_to_group() {
    matrix(Producer::Exec, Consumer::Group).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_to_reader() {
    matrix(Producer::Exec, Consumer::Reader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_to_exec() {
    matrix(Producer::Exec, Consumer::Exec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_to_exec() {
    matrix(Producer::Rdkafka, Consumer::Exec).await;
}

/// Not in the matrix: rskafka 0.6 cannot read a topic a transactional producer wrote, with
/// any codec. It parses a control batch's record (a commit or abort marker) as bare
/// version and type fields, not as the record whose key holds them, so every fetch that
/// reaches a marker fails ("Unknown control batch record version: 8192";
/// influxdata/rskafka#297, open). What the reader must do then: give up that partition with
/// an error naming it and the offset, not retry for ever nor hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_to_reader_fails_on_rskafka_control_batch_bug() {
    let case = Case {
        producer: Producer::Transactional,
        consumer: Consumer::Reader,
        codec: "none",
    };
    let cluster = shared_cluster().await;
    let topic = common::topic("drivers-transactional-reader");
    cluster
        .create_topic(&TopicSpec::new(&topic, PARTITIONS, 1))
        .await
        .unwrap();
    let mut settings = cluster.client_config();
    settings.insert("compression.type".into(), case.codec.into());
    let driver = TransactionalProducer::new(&settings, &format!("{topic}-txn"))
        .await
        .unwrap();
    let report = driver.transaction(records(&topic), None, false).await;
    assert_eq!(report.outcome, TxnOutcome::Committed, "{:?}", report.error);
    let (got, ended) = consume(case, cluster, &topic, RECORDS as usize).await;
    // Each partition's first fetch, from offset 0, reaches its partition's marker.
    let Err(e @ DriverError::Fetch { offset: 0, .. }) = ended else {
        panic!(
            "expected rskafka's control-batch error, got {ended:?} after {} records (if the \
             reader read them all, the bug is fixed: put the pair back in the matrix)",
            got.len()
        );
    };
    assert!(e.to_string().contains("control batch"), "{e}");
}
