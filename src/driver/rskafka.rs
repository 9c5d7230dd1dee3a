//! The rskafka driver: pure Rust, partition-level. No consumer groups, no transactions.
//!
//! The producer picks each keyed record's partition with the Java client's partitioner
//! (murmur2), so keys land where any Java-compatible client would put them, and sends each
//! partition's records in order, batching what queued up while the previous request was in
//! flight. The reader reads every partition of its topic from the earliest offset, one task
//! per partition.

use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::record::Record;

use super::{
    BoxFuture, ConsumerDriver, ConsumerEvent, Done, DriverError, EventSink, OutRecord,
    ProducerDriver, SendOutcome, Stop, now_us,
};
use crate::history::stamp::{self, Stamp};
use crate::workload::partition_for_key;

/// An rskafka producer for one topic: one sender task per partition.
///
/// `enqueue` hands the record to its partition's task at once, in call order; the task sends
/// whatever has queued up as one produce request and waits for the answer before the next,
/// so records of one partition are written in the order they were sent. (Polling rskafka's
/// `BatchProducer::produce` futures from spawned tasks would enqueue them in scheduling
/// order, and the harness's own order check caught exactly that.)
pub struct RskafkaProducer {
    partitions: Vec<mpsc::UnboundedSender<Job>>,
}

enum Job {
    /// A record for this partition, and who takes its outcome.
    Send(Record, i32, Done),
    Flush(oneshot::Sender<()>),
}

/// The most records one produce request carries.
const MAX_BATCH: usize = 1000;

/// A client of each of `topic`'s partitions, for the client named `name`.
async fn partition_clients(
    name: &str,
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<Vec<Arc<PartitionClient>>, DriverError> {
    let brokers = bootstrap.split(',').map(str::to_owned).collect();
    let client = ClientBuilder::new(brokers)
        .build()
        .await
        .map_err(|source| DriverError::Connect {
            client: name.to_owned(),
            bootstrap: bootstrap.to_owned(),
            source: Box::new(source),
        })?;
    let mut out = Vec::new();
    for p in 0..partitions {
        let pc = client
            .partition_client(topic, p, UnknownTopicHandling::Retry)
            .await
            .map_err(|source| DriverError::PartitionClient {
                client: name.to_owned(),
                topic: topic.to_owned(),
                partition: p,
                source: Box::new(source),
            })?;
        out.push(Arc::new(pc));
    }
    Ok(out)
}

/// Sends queued records of one partition, one request at a time.
async fn partition_sender(client: Arc<PartitionClient>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut queue = Vec::new();
    while jobs.recv_many(&mut queue, MAX_BATCH).await > 0 {
        let mut records = Vec::new();
        let mut replies = Vec::new();
        let mut flushes = Vec::new();
        for job in queue.drain(..) {
            match job {
                Job::Send(record, partition, done) => {
                    records.push(record);
                    replies.push((partition, done));
                }
                Job::Flush(done) => flushes.push(done),
            }
        }
        if !records.is_empty() {
            match client.produce(records, Compression::NoCompression).await {
                Ok(offsets) => {
                    // A reply without an offset is dropped: its `Done` reports it
                    // indeterminate.
                    for ((partition, done), offset) in replies.into_iter().zip(offsets) {
                        done.call(SendOutcome::Ok { partition, offset });
                    }
                }
                Err(e) => {
                    let reason = format!("the produce request failed: {e}");
                    for (_, done) in replies {
                        done.call(SendOutcome::Indeterminate(reason.clone()));
                    }
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

impl RskafkaProducer {
    /// Connects to `bootstrap` and starts a sender task per partition of `topic`.
    pub async fn new(bootstrap: &str, topic: &str, partitions: i32) -> Result<Self, DriverError> {
        let name = format!("rskafka producer of {topic}");
        let partitions = partition_clients(&name, bootstrap, topic, partitions)
            .await?
            .into_iter()
            .map(|client| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(partition_sender(client, rx));
                tx
            })
            .collect();
        Ok(RskafkaProducer { partitions })
    }
}

fn timestamp_now() -> rskafka::chrono::DateTime<rskafka::chrono::Utc> {
    rskafka::chrono::DateTime::from_timestamp_micros(now_us() as i64).unwrap_or_default()
}

impl ProducerDriver for RskafkaProducer {
    fn enqueue(&self, record: &OutRecord, done: Done) {
        let count = self.partitions.len() as i32;
        let partition = record
            .partition
            .unwrap_or_else(|| partition_for_key(&record.key, count));
        let rs_record = Record {
            key: Some(record.key.clone()),
            value: Some(record.value.clone()),
            headers: [(stamp::HEADER.to_owned(), record.stamp.encode().to_vec())]
                .into_iter()
                .chain(record.source.map(|s| {
                    (
                        stamp::SOURCE_HEADER.to_owned(),
                        stamp::encode_source(s).to_vec(),
                    )
                }))
                .collect(),
            timestamp: timestamp_now(),
        };
        let queued = self.partitions[partition as usize % self.partitions.len()]
            .send(Job::Send(rs_record, partition, done));
        if let Err(mpsc::error::SendError(Job::Send(_, _, done))) = queued {
            done.call(SendOutcome::Fail(
                "the partition's sender has stopped".into(),
            ));
        }
    }

    fn flush(&self) -> BoxFuture<()> {
        let waits: Vec<_> = self
            .partitions
            .iter()
            .filter_map(|tx| {
                let (done, wait) = oneshot::channel();
                tx.send(Job::Flush(done)).ok().map(|()| wait)
            })
            .collect();
        Box::pin(async move {
            for wait in waits {
                let _ = wait.await;
            }
        })
    }
}

/// An rskafka reader of every partition of one topic.
pub struct RskafkaReader {
    instance: u32,
    bootstrap: String,
    topic: String,
    partitions: i32,
}

impl RskafkaReader {
    /// A reader of `topic`'s `partitions` partitions.
    pub fn new(instance: u32, bootstrap: &str, topic: &str, partitions: i32) -> Self {
        RskafkaReader {
            instance,
            bootstrap: bootstrap.to_owned(),
            topic: topic.to_owned(),
            partitions,
        }
    }
}

impl ConsumerDriver for RskafkaReader {
    fn run(
        self: Box<Self>,
        events: EventSink,
        stop: tokio::sync::watch::Receiver<Stop>,
    ) -> BoxFuture<Result<(), DriverError>> {
        Box::pin(async move {
            let name = format!("rskafka reader {}", self.instance);
            let clients =
                partition_clients(&name, &self.bootstrap, &self.topic, self.partitions).await?;
            let _ = events.send(ConsumerEvent::Assigned {
                consumer: self.instance,
                partitions: (0..self.partitions)
                    .map(|p| (self.topic.clone(), p))
                    .collect(),
                at_us: now_us(),
            });
            let mut tasks: Vec<tokio::task::JoinHandle<Result<(), DriverError>>> = Vec::new();
            for (p, client) in clients.into_iter().enumerate() {
                let (events, mut stop) = (events.clone(), stop.clone());
                let (topic, consumer, name) = (self.topic.clone(), self.instance, name.clone());
                tasks.push(tokio::spawn(async move {
                    let mut offset = 0;
                    loop {
                        let fetched = tokio::select! {
                            f = client.fetch_records(offset, 1..4_000_000, 200) => f,
                            _ = stop.wait_for(|s| *s != Stop::Run) => return Ok(()),
                        };
                        let (records, _high_watermark) =
                            fetched.map_err(|source| DriverError::Fetch {
                                client: name.clone(),
                                topic: topic.clone(),
                                partition: p as i32,
                                offset,
                                source: Box::new(source),
                            })?;
                        for r in records {
                            offset = r.offset + 1;
                            let stamp = r
                                .record
                                .headers
                                .get(stamp::HEADER)
                                .and_then(|v| Stamp::decode(v).ok());
                            let _ = events.send(ConsumerEvent::Delivered {
                                consumer,
                                topic: topic.clone(),
                                partition: p as i32,
                                offset: r.offset,
                                stamp,
                                at_us: now_us(),
                            });
                        }
                    }
                }));
            }
            for (p, task) in tasks.into_iter().enumerate() {
                task.await.map_err(|source| DriverError::Task {
                    client: name.clone(),
                    task: format!("reader of {}/{p}", self.topic),
                    source,
                })??;
            }
            Ok(())
        })
    }
}
