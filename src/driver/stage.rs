//! A consume-transform-produce stage, the exactly-once loop of Kafka Streams: read the input
//! topic in a consumer group (read_committed), write each record to the output topic, and
//! commit the output and the input offsets in one transaction.
//!
//! ```text
//!   input ──poll up to N──> output records (own stamp + kh-source naming the input)
//!         ──transaction(records, input offsets)──> committed: move on
//!                                                  aborted:   rewind to the committed offsets
//! ```
//!
//! Each output record gets the stage's own stamp (its producer id, its own sequence, and the
//! input's intended send time, so end-to-end latency spans the pipeline) and a `kh-source`
//! header naming the input message: `exactly_once` checks every input appears once.
//!
//! Records are gathered before the transaction opens, so a rebalance (served while polling)
//! never falls inside one. A rebalance while gathering drops the batch and rewinds: the
//! revoked partitions' records are now another member's to move, and the group's
//! generation in the transaction's offsets fences a member that missed a rebalance. After an
//! abort the consumer rewinds to the committed offsets; a producer left unusable (fenced,
//! undecided commit) is replaced by one with the same `transactional.id` first, which
//! settles its open transaction, so the committed offsets read next are final.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};

use crate::driver::txn::{TransactionalProducer, TxnReport};
use crate::driver::{DriverError, OutRecord, now_us};
use crate::history::stamp::{self, Stamp};
use crate::history::{MsgId, TxnOutcome};

/// How long a stage waits to fill a transaction before committing what it has.
const BATCH_WAIT: Duration = Duration::from_millis(200);
/// How long reading committed offsets or seeking may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause before trying a failed rewind or producer creation again.
const RETRY_WAIT: Duration = Duration::from_millis(500);

/// What a stage reports: each transaction's records and end.
#[derive(Debug)]
pub struct StageTxn {
    /// The records written, with their stamps' ids and intended times (UNIX µs).
    pub sent: Vec<(MsgId, Vec<u8>, usize, u64)>,
    /// The transaction's report.
    pub report: TxnReport,
    /// When it ended, UNIX µs.
    pub at_us: u64,
}

/// One stage instance. Its producer's `transactional.id` is `<group>-<producer>`, so an
/// instance restarted with the same producer id fences its predecessor.
pub struct Stage {
    /// The producer id in its output stamps.
    pub producer: u32,
    /// Client settings (cluster's and the scenario's).
    pub settings: BTreeMap<String, String>,
    /// Consumer group.
    pub group: String,
    /// Topic read.
    pub input: String,
    /// Topic written.
    pub output: String,
    /// Records per transaction.
    pub every: usize,
}

impl Stage {
    /// Runs until `stop` turns true, reporting every transaction to `events`.
    pub async fn run(
        self,
        events: mpsc::UnboundedSender<StageTxn>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), DriverError> {
        let client = || format!("stage {}", self.producer);
        let mut config = ClientConfig::new();
        config
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("enable.auto.commit", "false");
        for (k, v) in &self.settings {
            config.set(k, v);
        }
        config.set("group.id", &self.group);
        let rebalances = Arc::new(AtomicU64::new(0));
        let context = StageContext(Arc::clone(&rebalances));
        let consumer: StreamConsumer<StageContext> =
            super::rdkafka::subscribed(config, context, &self.input, &self.group, client)?;
        let txn_id = format!("{}-{}", self.group, self.producer);
        let mut producer = TransactionalProducer::new(&self.settings, &txn_id).await?;
        let mut seq = 0u64;
        // Set when the consumer's position may be past records no committed transaction
        // moved; nothing is gathered until a rewind has succeeded.
        let mut must_rewind = false;
        while !*stop.borrow() {
            if must_rewind {
                match rewind(&consumer, &client(), &self.group) {
                    Ok(()) => must_rewind = false,
                    Err(e) => {
                        tracing::debug!("stage {}: {e}", self.producer);
                        tokio::select! {
                            _ = tokio::time::sleep(RETRY_WAIT) => {}
                            _ = stop.wait_for(|s| *s) => {}
                        }
                        continue;
                    }
                }
            }
            let generation = rebalances.load(Ordering::SeqCst);
            let mut batch = Vec::new();
            let deadline = tokio::time::Instant::now() + BATCH_WAIT;
            while batch.len() < self.every {
                tokio::select! {
                    m = consumer.recv() => match m {
                        Ok(m) => batch.push(m.detach()),
                        Err(e) => tracing::debug!("stage {}: {e}", self.producer),
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
            if rebalances.load(Ordering::SeqCst) != generation {
                // Partitions moved while gathering: drop the batch, read again from what the
                // group committed.
                must_rewind = !batch.is_empty();
                continue;
            }
            if batch.is_empty() {
                continue;
            }
            let mut next: HashMap<(String, i32), i64> = HashMap::new();
            let mut records = Vec::with_capacity(batch.len());
            let mut sent = Vec::with_capacity(batch.len());
            for m in &batch {
                next.insert((m.topic().to_owned(), m.partition()), m.offset() + 1);
                let input = m.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key == stamp::HEADER)
                        .and_then(|h| h.value)
                        .and_then(|v| Stamp::decode(v).ok())
                });
                let stamp = Stamp {
                    producer: self.producer,
                    seq,
                    intended_us: input.map_or_else(now_us, |s| s.intended_us),
                };
                seq += 1;
                let value = m.payload().unwrap_or_default().to_vec();
                sent.push((
                    stamp.id(),
                    m.key().unwrap_or_default().to_vec(),
                    value.len(),
                    stamp.intended_us,
                ));
                records.push(OutRecord {
                    topic: self.output.clone(),
                    partition: None,
                    key: m.key().unwrap_or_default().to_vec(),
                    value,
                    stamp,
                    source: input.map(|s| s.id()),
                });
            }
            let mut offsets = TopicPartitionList::new();
            for ((topic, partition), offset) in &next {
                offsets
                    .add_partition_offset(topic, *partition, Offset::Offset(*offset))
                    .map_err(|source| DriverError::Offset {
                        client: client(),
                        topic: topic.clone(),
                        partition: *partition,
                        offset: *offset,
                        source: Box::new(source),
                    })?;
            }
            let group = consumer
                .group_metadata()
                .ok_or_else(|| DriverError::NoGroupMetadata {
                    client: client(),
                    group: self.group.clone(),
                })?;
            let began = tokio::time::Instant::now();
            let size = records.len();
            let report = producer
                .transaction(records, Some((offsets, group)), false)
                .await;
            let (outcome, fatal) = (report.outcome, report.fatal);
            tracing::debug!(
                "stage {}: {size} records, {outcome:?} in {:?}{}",
                self.producer,
                began.elapsed(),
                if fatal {
                    ", replacing the producer"
                } else {
                    ""
                }
            );
            if let Some(e) = &report.error {
                tracing::debug!("stage {}: {e}", self.producer);
            }
            let _ = events.send(StageTxn {
                sent,
                report,
                at_us: now_us(),
            });
            if fatal {
                producer = loop {
                    match TransactionalProducer::new(&self.settings, &txn_id).await {
                        Ok(p) => break p,
                        Err(e) if !*stop.borrow() => {
                            tracing::debug!("stage {}: {e}", self.producer);
                            tokio::time::sleep(RETRY_WAIT).await;
                        }
                        Err(e) => return Err(e),
                    }
                };
            }
            // Read again from what the group committed: the aborted output is gone.
            must_rewind = outcome != TxnOutcome::Committed;
        }
        consumer.unsubscribe();
        Ok(())
    }
}

/// Counts rebalances, so the stage knows a batch spans one.
struct StageContext(Arc<AtomicU64>);

impl ClientContext for StageContext {}

impl ConsumerContext for StageContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, _rebalance: &Rebalance<'_>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Seeks each assigned partition back to the group's committed offset (or the start).
fn rewind(
    consumer: &StreamConsumer<StageContext>,
    client: &str,
    group: &str,
) -> Result<(), DriverError> {
    let group_error = |operation, source| DriverError::Group {
        client: client.to_owned(),
        group: group.to_owned(),
        operation,
        source: Box::new(source),
    };
    tokio::task::block_in_place(|| {
        let assigned = consumer
            .assignment()
            .map_err(|e| group_error("reading the assignment", e))?;
        let committed = consumer
            .committed_offsets(assigned, CONTROL_TIMEOUT)
            .map_err(|e| group_error("reading the committed offsets", e))?;
        for e in committed.elements() {
            let offset = match e.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            consumer
                .seek(e.topic(), e.partition(), offset, CONTROL_TIMEOUT)
                .map_err(|source| DriverError::Seek {
                    client: client.to_owned(),
                    topic: e.topic().to_owned(),
                    partition: e.partition(),
                    offset: match offset {
                        Offset::Offset(o) => o.to_string(),
                        _ => "the beginning".into(),
                    },
                    source: Box::new(source),
                })?;
        }
        Ok(())
    })
}
