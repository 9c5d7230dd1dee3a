//! Transactions against a real single-node embedded Kafka: what a read_committed reader sees
//! of committed and aborted transactions (the claim the `aborted_read` check rests on), a
//! fenced producer, and the consume-transform-produce stage moving records exactly once
//! across a restart.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use common::shared_cluster;
use kafka_harness::driver::rdkafka::RdkafkaProducer;
use kafka_harness::driver::stage::{Stage, StageTxn};
use kafka_harness::driver::txn::TransactionalProducer;
use kafka_harness::driver::{OutRecord, ProducerDriver, SendOutcome};
use kafka_harness::history::stamp::{self, Stamp};
use kafka_harness::history::{MsgId, TxnOutcome};
use kafka_harness::{Cluster, TopicSpec};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};

/// One record read back: where it was and what its headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Read {
    partition: i32,
    offset: i64,
    stamp: Option<Stamp>,
    source: Option<MsgId>,
}

/// Reads every partition of `topic` from the beginning to its end with the given isolation
/// level. Call it once every transaction on the topic has ended (so the end is stable).
async fn read_all(
    settings: &BTreeMap<String, String>,
    topic: &str,
    partitions: i32,
    isolation: &str,
) -> Vec<Read> {
    let group = format!("reader-{:08x}", rand::random::<u32>());
    let consumer: StreamConsumer = common::config(
        settings,
        &[
            ("group.id", &group),
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "true"),
            ("isolation.level", isolation),
        ],
    )
    .create()
    .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let mut at_end = BTreeSet::new();
    let mut out = Vec::new();
    while at_end.len() < partitions as usize {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{topic}: only {:?} read to the end", at_end));
        let message = match message {
            Ok(m) => m,
            Err(KafkaError::PartitionEOF(p)) => {
                at_end.insert(p);
                continue;
            }
            Err(_) => continue,
        };
        let header = |key: &str| {
            message
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == key).and_then(|h| h.value))
        };
        out.push(Read {
            partition: message.partition(),
            offset: message.offset(),
            stamp: header(stamp::HEADER).and_then(|v| Stamp::decode(v).ok()),
            source: header(stamp::SOURCE_HEADER).and_then(stamp::decode_source),
        });
    }
    out
}

/// `n` stamped records of `producer`, seqs from `first`, to partition 0 of `topic`.
fn records(topic: &str, producer: u32, first: u64, n: u64) -> Vec<OutRecord> {
    (first..first + n)
        .map(|seq| OutRecord {
            topic: topic.to_owned(),
            partition: Some(0),
            key: format!("k{}", seq % 3).into_bytes(),
            value: format!("v{seq}").into_bytes(),
            stamp: Stamp {
                producer,
                seq,
                intended_us: kafka_harness::driver::now_us(),
            },
            source: None,
        })
        .collect()
}

fn seqs(reads: &[Read]) -> Vec<u64> {
    reads
        .iter()
        .map(|r| r.stamp.expect("stamped").seq)
        .collect()
}

/// Offsets the producer was given; panics on a send that was not acknowledged.
fn offsets(outcomes: &[SendOutcome]) -> Vec<i64> {
    outcomes
        .iter()
        .map(|o| match o {
            SendOutcome::Ok {
                partition: 0,
                offset,
            } => *offset,
            other => panic!("a send in a transaction: {other:?}"),
        })
        .collect()
}

/// Committed transactions are visible to a read_committed reader, aborted ones are not, and a
/// read_uncommitted reader sees both, at the offsets the delivery reports gave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_transactions_are_invisible_to_read_committed_only() {
    let cluster = shared_cluster().await;
    let topic = common::topic("txn-visibility");
    cluster
        .create_topic(&TopicSpec::new(&topic, 1, 1))
        .await
        .unwrap();
    let settings = cluster.client_config();
    let producer = TransactionalProducer::new(&settings, &format!("{topic}-p"))
        .await
        .expect("transactional producer");

    let mut acked = Vec::new();
    for (first, abort) in [(0, false), (10, true), (20, false)] {
        let report = producer
            .transaction(records(&topic, 1, first, 10), None, abort)
            .await;
        let expected = if abort {
            TxnOutcome::Aborted
        } else {
            TxnOutcome::Committed
        };
        assert_eq!(report.outcome, expected, "{report:?}");
        assert!(!report.fatal && report.error.is_none(), "{report:?}");
        acked.extend(offsets(&report.outcomes));
    }
    // Each transaction's records are consecutive, and a marker follows each transaction.
    assert!(acked.windows(2).all(|w| w[0] < w[1]), "{acked:?}");
    assert_eq!(acked[10], acked[9] + 2, "a marker after the first commit");

    let committed = read_all(&settings, &topic, 1, "read_committed").await;
    let expected: Vec<u64> = (0..10).chain(20..30).collect();
    assert_eq!(seqs(&committed), expected, "read_committed");
    let committed_offsets: Vec<i64> = committed.iter().map(|r| r.offset).collect();
    let expected_offsets: Vec<i64> = acked[..10].iter().chain(&acked[20..]).copied().collect();
    assert_eq!(committed_offsets, expected_offsets);

    let uncommitted = read_all(&settings, &topic, 1, "read_uncommitted").await;
    assert_eq!(seqs(&uncommitted), (0..30).collect::<Vec<u64>>());
    assert_eq!(
        uncommitted.iter().map(|r| r.offset).collect::<Vec<i64>>(),
        acked
    );
}

/// A second producer with the same transactional id fences the first: the first learns it
/// is fenced (fatal: it must be recreated), its records never become visible, and the new
/// one commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_producer_is_fatal_and_its_records_invisible() {
    let cluster = shared_cluster().await;
    let topic = common::topic("txn-fenced");
    cluster
        .create_topic(&TopicSpec::new(&topic, 1, 1))
        .await
        .unwrap();
    let settings = cluster.client_config();
    let id = format!("{topic}-p");
    let old = TransactionalProducer::new(&settings, &id).await.unwrap();
    let first = old.transaction(records(&topic, 1, 0, 5), None, false).await;
    assert_eq!(first.outcome, TxnOutcome::Committed, "{first:?}");

    let new = TransactionalProducer::new(&settings, &id).await.unwrap();
    let fenced = old.transaction(records(&topic, 1, 5, 5), None, false).await;
    // Never committed: a fenced producer's transaction is aborted by the coordinator.
    assert_eq!(fenced.outcome, TxnOutcome::Aborted, "{fenced:?}");
    assert!(fenced.fatal, "fencing is fatal: {fenced:?}");
    assert!(fenced.error.is_some(), "{fenced:?}");

    let after = new.transaction(records(&topic, 2, 0, 5), None, false).await;
    assert_eq!(after.outcome, TxnOutcome::Committed, "{after:?}");

    let read = read_all(&settings, &topic, 1, "read_committed").await;
    let ids: Vec<(u32, u64)> = read
        .iter()
        .map(|r| {
            let s = r.stamp.unwrap();
            (s.producer, s.seq)
        })
        .collect();
    let expected: Vec<(u32, u64)> = (0..5)
        .map(|s| (1, s))
        .chain((0..5).map(|s| (2, s)))
        .collect();
    assert_eq!(ids, expected);
}

/// Writes stamped records of producer `producer`, sequence numbers `seqs`, to `topic`, spread
/// over keys, a few at a time with pauses, so a stage reading them is mid-stream when it is
/// stopped.
async fn feed(
    settings: BTreeMap<String, String>,
    topic: String,
    producer: u32,
    seqs: std::ops::Range<u64>,
) {
    let driver = RdkafkaProducer::new(&settings).expect("input producer");
    for chunk in seqs.collect::<Vec<u64>>().chunks(20) {
        let pending: Vec<_> = chunk
            .iter()
            .map(|&seq| {
                driver.send(OutRecord {
                    topic: topic.clone(),
                    partition: None,
                    key: format!("key-{}", seq % 17).into_bytes(),
                    value: format!("input {seq}").into_bytes(),
                    stamp: Stamp {
                        producer,
                        seq,
                        intended_us: kafka_harness::driver::now_us(),
                    },
                    source: None,
                })
            })
            .collect();
        for p in pending {
            assert!(matches!(p.await, SendOutcome::Ok { .. }), "input send");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A stage's world: input and output topics of `partitions` each, its group, a feeder
/// writing records `0..n` of `producer` to the input, and the stages' transaction reports.
struct Pipeline {
    settings: BTreeMap<String, String>,
    input: String,
    output: String,
    group: String,
    partitions: i32,
    producer: u32,
    n: u64,
    feeder: Option<tokio::task::JoinHandle<()>>,
    events_tx: mpsc::UnboundedSender<StageTxn>,
    events: mpsc::UnboundedReceiver<StageTxn>,
    /// Records of committed transactions reported so far.
    committed: usize,
}

impl Pipeline {
    /// Creates the topics `<name>-in` and `<name>-out` and starts feeding the whole input.
    async fn start(name: &str, partitions: i32, producer: u32, n: u64) -> Pipeline {
        let mut p = Pipeline::empty(name, partitions, producer, n).await;
        p.feed(0..n).await;
        p
    }

    /// Creates the topics `<name>-in` and `<name>-out`; nothing is fed yet.
    async fn empty(name: &str, partitions: i32, producer: u32, n: u64) -> Pipeline {
        let cluster = shared_cluster().await;
        let input = common::topic(&format!("{name}-in"));
        let output = common::topic(&format!("{name}-out"));
        for topic in [&input, &output] {
            cluster
                .create_topic(&TopicSpec::new(topic, partitions, 1))
                .await
                .unwrap();
        }
        let settings = cluster.client_config();
        let (events_tx, events) = mpsc::unbounded_channel();
        Pipeline {
            group: format!("{input}-stage"),
            settings,
            input,
            output,
            partitions,
            producer,
            n,
            feeder: None,
            events_tx,
            events,
            committed: 0,
        }
    }

    /// Starts stage instance `id` of the group; returns its stop switch and the task running
    /// it.
    fn stage(
        &self,
        id: u32,
    ) -> (
        watch::Sender<bool>,
        tokio::task::JoinHandle<Result<(), kafka_harness::driver::DriverError>>,
    ) {
        let stage = Stage {
            producer: id,
            settings: self.settings.clone(),
            group: self.group.clone(),
            input: self.input.clone(),
            output: self.output.clone(),
            every: 10,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        (
            stop_tx,
            tokio::spawn(stage.run(self.events_tx.clone(), stop_rx)),
        )
    }

    /// Waits up to 30 s until the stages have reported committing `at_least` records in all;
    /// returns how many transactions did not commit meanwhile.
    async fn wait(&mut self, at_least: usize) -> usize {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut failed = 0;
        loop {
            failed += self.drain();
            if self.committed >= at_least {
                return failed;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "stages committed {} of {at_least}",
                self.committed
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sums the records of committed transactions among the reports received so far into
    /// `committed`; returns how many transactions did not commit.
    fn drain(&mut self) -> usize {
        let mut failed = 0;
        while let Ok(txn) = self.events.try_recv() {
            assert_eq!(txn.sent.len(), txn.report.outcomes.len());
            if txn.report.outcome == TxnOutcome::Committed {
                self.committed += txn.report.outcomes.len();
            } else {
                failed += 1;
            }
        }
        failed
    }

    /// Starts feeding records `seqs` to the input, once what was fed before is written.
    async fn feed(&mut self, seqs: std::ops::Range<u64>) {
        self.fed().await;
        self.feeder = Some(tokio::spawn(feed(
            self.settings.clone(),
            self.input.clone(),
            self.producer,
            seqs,
        )));
    }

    /// Waits until what was fed is written.
    async fn fed(&mut self) {
        if let Some(feeder) = self.feeder.take() {
            feeder.await.unwrap();
        }
    }

    /// Reads the output with read_committed and checks each input record (`0..n` of the
    /// feeder's producer) appears exactly once among the kh-source headers, in records the
    /// stage instances `stages` stamped; and the stages reported committing each once.
    async fn assert_exactly_once(&self, stages: &[u32]) {
        let read = read_all(
            &self.settings,
            &self.output,
            self.partitions,
            "read_committed",
        )
        .await;
        let mut seen: HashMap<MsgId, usize> = HashMap::new();
        for r in &read {
            let source = r.source.unwrap_or_else(|| panic!("no kh-source: {r:?}"));
            *seen.entry(source).or_default() += 1;
            let stamp = r.stamp.expect("the stage stamps its output");
            assert!(stages.contains(&stamp.producer), "{stamp:?}");
        }
        let mut duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        duplicated.sort();
        assert!(
            duplicated.is_empty(),
            "moved more than once: {duplicated:?}"
        );
        let producer = self.producer;
        let expected: BTreeSet<MsgId> = (0..self.n).map(|seq| MsgId { producer, seq }).collect();
        let moved: BTreeSet<MsgId> = seen.into_keys().collect();
        let missing: Vec<_> = expected.difference(&moved).collect();
        assert!(missing.is_empty(), "never moved: {missing:?}");
        assert_eq!(moved, expected, "each input exactly once in the output");
        assert_eq!(
            self.committed, self.n as usize,
            "the stages reported committing each once"
        );
    }
}

/// The stage moves every input record to the output exactly once, read with read_committed,
/// even when it is stopped half-way and a second instance of the same group takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stage_moves_each_record_exactly_once_across_a_restart() {
    let mut p = Pipeline::start("stage", 3, 7, 300).await;
    let (stop, first) = p.stage(100);
    p.wait(p.n as usize / 3).await;
    stop.send(true).unwrap();
    first.await.unwrap().expect("first stage");
    p.drain();
    assert!(
        p.committed < p.n as usize,
        "the first stage was stopped half-way, not after the whole input ({})",
        p.committed
    );

    let (stop, second) = p.stage(101);
    p.wait(p.n as usize).await;
    p.fed().await;
    stop.send(true).unwrap();
    second.await.unwrap().expect("second stage");
    p.drain();
    p.assert_exactly_once(&[100, 101]).await;
}

/// Two instances of one stage share the input: one joins while the other is mid-batch, then
/// the first leaves; every rebalance moves partitions between them with records in flight,
/// and still each input record reaches the output exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stage_instances_move_each_record_exactly_once() {
    let mut p = Pipeline::start("stage2", 6, 8, 400).await;
    let (stop_a, a) = p.stage(200);
    p.wait(p.n as usize / 4).await;
    let (stop_b, b) = p.stage(201);
    p.wait(p.n as usize / 2).await;
    stop_a.send(true).unwrap();
    a.await.unwrap().expect("stage a");
    p.wait(p.n as usize).await;
    p.fed().await;
    stop_b.send(true).unwrap();
    b.await.unwrap().expect("stage b");
    p.drain();
    p.assert_exactly_once(&[200, 201]).await;
}

/// A stage whose producer is fenced (another producer took its transactional id) aborts the
/// open transaction, replaces its producer, rewinds to the committed offsets and goes on:
/// still each input record exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_stage_recovers_and_moves_each_record_exactly_once() {
    const STAGE: u32 = 300;
    let mut p = Pipeline::empty("stage3", 3, 9, 300).await;
    let third = p.n / 3;
    p.feed(0..third).await;
    let (stop, stage) = p.stage(STAGE);
    let mut failed = p.wait(third as usize).await;
    // The stage's transactional id is `<group>-<producer>`. The rest of the input is fed
    // only once the fencer holds it, so the stage surely opens a transaction after the fence.
    let fencer = TransactionalProducer::new(&p.settings, &format!("{}-{STAGE}", p.group))
        .await
        .expect("fencing producer");
    p.feed(third..p.n).await;
    failed += p.wait(p.n as usize).await;
    p.fed().await;
    stop.send(true).unwrap();
    stage.await.unwrap().expect("stage");
    failed += p.drain();
    drop(fencer);

    assert!(
        failed > 0,
        "the fenced producer's transaction did not commit"
    );
    p.assert_exactly_once(&[STAGE]).await;
}
