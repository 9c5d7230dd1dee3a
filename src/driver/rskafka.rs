//! The rskafka driver: pure Rust, partition-level. No consumer groups, no transactions.
//!
//! The producer picks each keyed record's partition with the Java client's partitioner
//! (murmur2), so keys land where any Java-compatible client would put them, and sends each
//! partition's records in order, batching what queued up while the previous request was in
//! flight. The reader reads every partition of its topic from the earliest offset, one task
//! per partition. A fetch that fails in a way that may pass (a broker down, a leader moving,
//! a timeout: `retriable`) is tried again after a pause that doubles from 100 ms up to 2 s,
//! for as long as the reader runs; any other failure ends that partition's reader (the
//! others read on) with a [`DriverError::Fetch`] naming the topic, partition and offset.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use rskafka::BackoffConfig;
use rskafka::client::ClientBuilder;
use rskafka::client::error::{Error as RsError, ProtocolError, RequestError};
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

/// A client of each of `topic`'s partitions, for the client named `name`, retrying inside
/// rskafka as `backoff` says.
async fn partition_clients(
    name: &str,
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    backoff: BackoffConfig,
) -> Result<Vec<Arc<PartitionClient>>, DriverError> {
    let brokers = bootstrap.split(',').map(str::to_owned).collect();
    let client = ClientBuilder::new(brokers)
        .backoff_config(backoff)
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
async fn partition_sender(
    client: Arc<PartitionClient>,
    compression: Compression,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
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
            match client.produce(records, compression).await {
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

/// The codec a `compression.type` value names (librdkafka's names; rskafka has all five).
fn compression(value: &str) -> Option<Compression> {
    Some(match value {
        "none" => Compression::NoCompression,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => return None,
    })
}

impl RskafkaProducer {
    /// Connects to `bootstrap` and starts a sender task per partition of `topic`; records go
    /// uncompressed.
    pub async fn new(bootstrap: &str, topic: &str, partitions: i32) -> Result<Self, DriverError> {
        Self::with_settings(bootstrap, topic, partitions, &BTreeMap::new()).await
    }

    /// As [`RskafkaProducer::new`], with client settings. rskafka has few: of the keys a
    /// librdkafka producer knows it honours `compression.type` (`none`, `gzip`, `snappy`,
    /// `lz4`, `zstd`; alias `compression.codec`), and ignores the others.
    pub async fn with_settings(
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        settings: &BTreeMap<String, String>,
    ) -> Result<Self, DriverError> {
        let name = format!("rskafka producer of {topic}");
        let codec = match ["compression.type", "compression.codec"]
            .into_iter()
            .find_map(|key| settings.get_key_value(key))
        {
            None => Compression::NoCompression,
            Some((key, value)) => compression(value).ok_or_else(|| DriverError::Setting {
                client: name.clone(),
                key: key.clone(),
                value: value.clone(),
                reason: "rskafka compresses with none, gzip, snappy, lz4 or zstd",
            })?,
        };
        let partitions = partition_clients(
            &name,
            bootstrap,
            topic,
            partitions,
            BackoffConfig::default(),
        )
        .await?
        .into_iter()
        .map(|client| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(partition_sender(client, codec, rx));
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

/// How long rskafka itself retries inside one call of the reader (connecting, finding a
/// leader, fetching) before it returns the error: a fetch stuck on a dead broker comes back
/// to the reader's own loop, which sees the stop signal and tries again.
const READER_BACKOFF: BackoffConfig = BackoffConfig {
    init_backoff: Duration::from_millis(100),
    max_backoff: Duration::from_secs(1),
    base: 2.0,
    deadline: Some(Duration::from_secs(10)),
};

/// The first pause before a failed fetch is tried again; it doubles with each failure in a
/// row.
const RETRY_MIN: Duration = Duration::from_millis(100);
/// The longest pause between tries of a failed fetch.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Whether a fetch that failed with `e` may succeed if tried again: the connection failed or
/// broke, the partition's leader is unknown, moving or elsewhere, the broker timed out, or
/// rskafka's own retries of one of those ran out. Not retriable: authorisation and SASL
/// failures, an offset out of range, a corrupt or unreadable response, a request rskafka
/// cannot encode, and anything rskafka adds later.
// A fetch is a read: retrying it cannot duplicate anything, so "may pass" is enough.
pub(crate) fn retriable(e: &RsError) -> bool {
    match e {
        RsError::Connection(c) => match c {
            // Refused credentials, or no API version both sides speak: only I/O trouble
            // while asking may pass.
            rskafka::ConnectionError::SaslFailed(_) | rskafka::ConnectionError::SyncVersions(_) => {
                caused_by_io(c)
            }
            _ => true,
        },
        RsError::Request(RequestError::IO(_) | RequestError::Poisoned(_)) => true,
        // A frame cut short by a closed connection is I/O; a malformed one is not.
        RsError::Request(r) => caused_by_io(r),
        RsError::ServerError { protocol_error, .. } => matches!(
            protocol_error,
            ProtocolError::LeaderNotAvailable
                | ProtocolError::NotLeaderOrFollower
                | ProtocolError::RequestTimedOut
                | ProtocolError::BrokerNotAvailable
                | ProtocolError::ReplicaNotAvailable
                | ProtocolError::NetworkException
                | ProtocolError::UnknownTopicOrPartition
                | ProtocolError::NotEnoughReplicas
                | ProtocolError::NotEnoughReplicasAfterAppend
                | ProtocolError::KafkaStorageError
                | ProtocolError::FencedLeaderEpoch
                | ProtocolError::UnknownLeaderEpoch
                | ProtocolError::OffsetNotAvailable
                | ProtocolError::PreferredLeaderNotAvailable
                | ProtocolError::EligibleLeadersNotAvailable
                | ProtocolError::ThrottlingQuotaExceeded
        ),
        RsError::RetryFailed(_) | RsError::Timeout => true,
        _ => false,
    }
}

/// Whether an I/O error is among the causes of `e`.
fn caused_by_io(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.is::<std::io::Error>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Reads one partition from offset 0 until `stop` says otherwise, reporting each record.
async fn read_partition(
    client: Arc<PartitionClient>,
    (name, consumer): (String, u32),
    (topic, partition): (String, i32),
    events: EventSink,
    mut stop: tokio::sync::watch::Receiver<Stop>,
) -> Result<(), DriverError> {
    let mut offset = 0;
    let mut pause = RETRY_MIN;
    loop {
        let fetched = tokio::select! {
            f = client.fetch_records(offset, 1..4_000_000, 200) => f,
            _ = stop.wait_for(|s| *s != Stop::Run) => return Ok(()),
        };
        let records = match fetched {
            Ok((records, _high_watermark)) => {
                pause = RETRY_MIN;
                records
            }
            Err(e) if retriable(&e) => {
                tracing::debug!(
                    "{name}: fetching {topic}/{partition} at offset {offset}: {e}; again in \
                     {pause:?}"
                );
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.wait_for(|s| *s != Stop::Run) => return Ok(()),
                }
                pause = (pause * 2).min(RETRY_MAX);
                continue;
            }
            Err(source) => {
                return Err(DriverError::Fetch {
                    client: name,
                    topic,
                    partition,
                    offset,
                    source: Box::new(source),
                });
            }
        };
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
                partition,
                offset: r.offset,
                stamp,
                at_us: now_us(),
            });
        }
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
            let clients = partition_clients(
                &name,
                &self.bootstrap,
                &self.topic,
                self.partitions,
                READER_BACKOFF,
            )
            .await?;
            let _ = events.send(ConsumerEvent::Assigned {
                consumer: self.instance,
                partitions: (0..self.partitions)
                    .map(|p| (self.topic.clone(), p))
                    .collect(),
                at_us: now_us(),
            });
            // A partition whose reader gave up does not stop the others; its error is
            // returned when they end.
            let tasks: Vec<_> = clients
                .into_iter()
                .zip(0..)
                .map(|(client, p)| {
                    tokio::spawn(read_partition(
                        client,
                        (name.clone(), self.instance),
                        (self.topic.clone(), p),
                        events.clone(),
                        stop.clone(),
                    ))
                })
                .collect();
            let mut failed = None;
            for (p, task) in tasks.into_iter().enumerate() {
                let ended = task.await.map_err(|source| DriverError::Task {
                    client: name.clone(),
                    task: format!("reader of {}/{p}", self.topic),
                    source,
                });
                match (ended.and_then(|r| r), &failed) {
                    (Ok(()), _) => {}
                    (Err(e), None) => failed = Some(e),
                    (Err(e), Some(_)) => tracing::warn!("{e}"),
                }
            }
            failed.map_or(Ok(()), Err)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rskafka::client::error::RequestContext;

    fn io() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer")
    }

    fn server(protocol_error: ProtocolError) -> RsError {
        RsError::ServerError {
            protocol_error,
            error_message: None,
            request: RequestContext::Partition("t".into(), 0),
            response: None,
            is_virtual: false,
        }
    }

    #[test]
    fn transient_fetch_errors_are_retriable() {
        let retriable_errors = [
            RsError::Connection(rskafka::ConnectionError::Metadata(RequestError::IO(io()))),
            RsError::Connection(rskafka::ConnectionError::SaslFailed(
                rskafka::SaslError::RequestError(RequestError::IO(io())),
            )),
            RsError::Connection(rskafka::ConnectionError::RetryFailed(
                rskafka::BackoffError::DeadlineExceded {
                    deadline: Duration::from_secs(10),
                    source: Box::new(io()),
                },
            )),
            RsError::Request(RequestError::IO(io())),
            RsError::Request(RequestError::Poisoned(Arc::new(RequestError::IO(io())))),
            // A frame cut short: the I/O error is its cause.
            RsError::Request(RequestError::ReadFramedMessageError(io().into())),
            RsError::RetryFailed(rskafka::BackoffError::DeadlineExceded {
                deadline: Duration::from_secs(10),
                source: Box::new(io()),
            }),
            RsError::Timeout,
            server(ProtocolError::LeaderNotAvailable),
            server(ProtocolError::NotLeaderOrFollower),
            server(ProtocolError::RequestTimedOut),
            server(ProtocolError::BrokerNotAvailable),
            server(ProtocolError::ReplicaNotAvailable),
            server(ProtocolError::NetworkException),
            server(ProtocolError::UnknownTopicOrPartition),
            server(ProtocolError::FencedLeaderEpoch),
            server(ProtocolError::UnknownLeaderEpoch),
            server(ProtocolError::KafkaStorageError),
        ];
        for e in &retriable_errors {
            assert!(retriable(e), "{e}");
        }
    }

    #[test]
    fn errors_retrying_cannot_mend_are_not_retriable() {
        let final_errors = [
            server(ProtocolError::OffsetOutOfRange),
            server(ProtocolError::TopicAuthorizationFailed),
            server(ProtocolError::ClusterAuthorizationFailed),
            server(ProtocolError::SaslAuthenticationFailed),
            server(ProtocolError::CorruptMessage),
            server(ProtocolError::UnsupportedVersion),
            server(ProtocolError::UnsupportedCompressionType),
            server(ProtocolError::UnknownServerError),
            server(ProtocolError::Unknown(-42)),
            RsError::InvalidResponse("Expected a single topic in response, got 2".into()),
        ];
        for e in &final_errors {
            assert!(!retriable(e), "{e}");
        }
    }

    #[tokio::test]
    async fn a_codec_rskafka_lacks_is_refused_before_connecting() {
        assert_eq!(compression("zstd"), Some(Compression::Zstd));
        assert_eq!(compression("none"), Some(Compression::NoCompression));
        let settings = BTreeMap::from([("compression.type".to_owned(), "brotli".to_owned())]);
        // Nothing listens on port 1: the setting is refused before any connection.
        let Err(e) = RskafkaProducer::with_settings("127.0.0.1:1", "t", 1, &settings).await else {
            panic!("brotli accepted");
        };
        let text = e.to_string();
        assert!(
            text.starts_with("rskafka producer of t: `compression.type = brotli`: "),
            "{text}"
        );
    }

    #[test]
    fn a_fetch_error_names_the_reader_topic_partition_and_offset() {
        let e = DriverError::Fetch {
            client: "rskafka reader 2".into(),
            topic: "audit".into(),
            partition: 5,
            offset: 1234,
            source: Box::new(server(ProtocolError::OffsetOutOfRange)),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("rskafka reader 2: fetching audit/5 at offset 1234: "),
            "{text}"
        );
        assert!(text.contains("OffsetOutOfRange"), "{text}");
    }
}
