//! The librdkafka driver: a `ThreadedProducer` and a consumer-group `StreamConsumer`.
//!
//! The producer's delivery reports are served on the client's polling thread, where each
//! one calls its send's [`Done`] (the record's delivery opaque): no task, channel or future
//! per record.
//!
//! Scenario client settings pass straight to librdkafka. Three defaults differ from
//! librdkafka's, and a scenario may override each: `partitioner = murmur2_random` (the Java
//! client's, so keys land where a Java producer would put them) and, for consumers,
//! `auto.offset.reset = earliest` and `fetch.queue.backoff.ms = 10` (librdkafka's 1000 ms
//! stops fetching for up to a second whenever its local queue holds 100,000 records, which
//! a consumer reading a backlog of small records drains in a fraction of that: reading
//! 1,000,000 records of 100 B ran 3.5x as fast with 10 ms, and the Java client has no such
//! pause). In `after_processing` commit mode the consumer stores
//! each offset only after processing the record (`enable.auto.offset.store = false`) and
//! commits the stored offsets every second and when it leaves: at-least-once. In
//! `before_processing` mode it commits each record's offset, synchronously, before
//! processing it: at-most-once. A crashed consumer ([`Stop::Crash`]) commits nothing more.
//!
//! Every commit that fails is reported ([`ConsumerEvent::CommitFailed`]): an auto-commit's
//! result comes through the client's commit callback, and the consumer's own commits are
//! synchronous, because librdkafka reports the result of an application's asynchronous
//! commit to no one when, as in rust-rdkafka, commit results arrive as events rather than
//! through an `offset_commit_cb`. A commit with nothing to commit is no failure.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, TopicPartitionList};

use super::{
    BoxFuture, Commit, ConsumerDriver, ConsumerEvent, Done, DriverError, EventSink, OutRecord,
    ProducerDriver, SendOutcome, Stop, now_us,
};
use crate::history::stamp::{self, Stamp};

fn config(base: &BTreeMap<String, String>, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in defaults {
        config.set(*k, *v);
    }
    for (k, v) in base {
        config.set(k, v);
    }
    config
}

/// How long a flush waits for every enqueued send's outcome.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Hands each delivery report to its send's [`Done`].
pub(crate) struct Deliveries;

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Done>;

    fn delivery(&self, result: &DeliveryResult<'_>, done: Box<Done>) {
        done.call(match result {
            Ok(m) => SendOutcome::Ok {
                partition: m.partition(),
                offset: m.offset(),
            },
            Err((e, _)) => failed(e),
        });
    }
}

/// The librdkafka client of a [`RdkafkaProducer`].
pub(crate) type Client = ThreadedProducer<Deliveries>;

/// A librdkafka producer.
pub struct RdkafkaProducer {
    producer: Arc<Client>,
}

impl RdkafkaProducer {
    /// Creates a producer from client settings (cluster settings plus the scenario's).
    pub fn new(settings: &BTreeMap<String, String>) -> Result<Self, DriverError> {
        let producer = config(settings, &[("partitioner", "murmur2_random")])
            .create_with_context(Deliveries)
            .map_err(|source| DriverError::Create {
                client: match settings.get("transactional.id") {
                    Some(id) => format!("rdkafka producer {id}"),
                    None => "rdkafka producer".into(),
                },
                source: Box::new(source),
            })?;
        Ok(RdkafkaProducer {
            producer: Arc::new(producer),
        })
    }

    /// The librdkafka client, for transaction control ([`super::txn`]).
    pub(crate) fn client(&self) -> &Client {
        &self.producer
    }
}

/// Errors after which the record was certainly not written.
fn definitely_not_written(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::UnknownPartition
        )
    )
}

/// The outcome of a send that failed with `e`.
fn failed(e: &KafkaError) -> SendOutcome {
    if definitely_not_written(e) {
        SendOutcome::Fail(e.to_string())
    } else {
        SendOutcome::Indeterminate(e.to_string())
    }
}

impl ProducerDriver for RdkafkaProducer {
    fn enqueue(&self, record: &OutRecord, done: Done) {
        let stamp = record.stamp.encode();
        let mut headers = OwnedHeaders::new_with_capacity(2).insert(Header {
            key: stamp::HEADER,
            value: Some(&stamp[..]),
        });
        let source = record.source.map(stamp::encode_source);
        if let Some(source) = &source {
            headers = headers.insert(Header {
                key: stamp::SOURCE_HEADER,
                value: Some(&source[..]),
            });
        }
        let mut base = BaseRecord::with_opaque_to(&record.topic, Box::new(done))
            .key(&record.key[..])
            .payload(&record.value[..])
            .headers(headers);
        base.partition = record.partition;
        // A full local queue is back-pressure, not an outcome: wait and retry.
        loop {
            match self.producer.send(base) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    base = r;
                    self.producer.poll(Duration::from_millis(5));
                }
                Err((e, r)) => return r.delivery_opaque.call(failed(&e)),
            }
        }
    }

    fn flush(&self) -> BoxFuture<()> {
        let producer = Arc::clone(&self.producer);
        Box::pin(async move {
            // Sends still unreported after a failed flush end through their `Done`: reported
            // later, or indeterminate when the producer is dropped.
            match tokio::task::spawn_blocking(move || producer.flush(FLUSH_TIMEOUT)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("rdkafka producer: flushing: {e}"),
                Err(e) => tracing::warn!("rdkafka producer: flushing task: {e}"),
            }
        })
    }
}

/// Whether a consumer's error is the broker refusing it its group or topic.
fn refused(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::GroupAuthorizationFailed
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
        )
    )
}

/// Reports rebalances and commits of one consumer instance.
struct GroupContext {
    consumer: u32,
    events: EventSink,
}

fn partitions(list: &TopicPartitionList) -> Vec<(String, i32)> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn post_rebalance(
        &self,
        _consumer: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &Rebalance<'_>,
    ) {
        let (consumer, at_us) = (self.consumer, now_us());
        let event = match rebalance {
            Rebalance::Assign(list) => ConsumerEvent::Assigned {
                consumer,
                partitions: partitions(list),
                at_us,
            },
            Rebalance::Revoke(list) => ConsumerEvent::Revoked {
                consumer,
                partitions: partitions(list),
                at_us,
            },
            Rebalance::Error(e) => {
                // librdkafka has unassigned the consumer's partitions (rust-rdkafka logs it too).
                tracing::warn!("rdkafka consumer {consumer}: rebalance failed: {e}");
                return;
            }
        };
        let _ = self.events.send(event);
    }

    /// An auto-commit's result (the consumer's own commits are synchronous and report
    /// themselves: librdkafka calls this for no commit the application made).
    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        let offset =
            |e: &rdkafka::topic_partition_list::TopicPartitionListElem<'_>| match e.offset() {
                rdkafka::Offset::Offset(o) => Some(o),
                _ => None,
            };
        let mut committed = Vec::new();
        let mut failed = Vec::new();
        for e in offsets.elements() {
            let (topic, partition) = (e.topic().to_owned(), e.partition());
            match result.clone().and(e.error()) {
                Ok(()) => {
                    if let Some(o) = offset(&e) {
                        committed.push((topic, partition, o));
                    }
                }
                Err(error) => {
                    if !nothing_to_commit(&error) {
                        failed.push((topic, partition, offset(&e), error.to_string()));
                    }
                }
            }
        }
        if !committed.is_empty() {
            let _ = self.events.send(ConsumerEvent::Committed {
                consumer: self.consumer,
                offsets: committed,
                at_us: now_us(),
            });
        }
        if let Err(e) = &result
            && offsets.count() == 0
            && !nothing_to_commit(e)
        {
            // A failure that names no partition.
            commit_failed(&self.events, self.consumer, Vec::new(), "auto-commit", e);
        }
        // One event per distinct reason, naming the partitions that failed with it.
        failed.sort_by(|a, b| a.3.cmp(&b.3));
        for group in failed.chunk_by(|a, b| a.3 == b.3) {
            let _ = self.events.send(ConsumerEvent::CommitFailed {
                consumer: self.consumer,
                offsets: group
                    .iter()
                    .map(|(t, p, o, _)| (t.clone(), *p, *o))
                    .collect(),
                error: format!("auto-commit: {}", group[0].3),
                at_us: now_us(),
            });
        }
    }
}

/// A commit found nothing new to commit: not a failure.
fn nothing_to_commit(e: &KafkaError) -> bool {
    e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset)
}

/// Reports that the commit `what` of `offsets` failed with `error`.
fn commit_failed(
    events: &EventSink,
    consumer: u32,
    offsets: Vec<(String, i32, Option<i64>)>,
    what: &str,
    error: &KafkaError,
) {
    let _ = events.send(ConsumerEvent::CommitFailed {
        consumer,
        offsets,
        error: format!("{what}: {error}"),
        at_us: now_us(),
    });
}

/// Commits the stored offsets, synchronously; reports a failure, naming each assigned
/// partition with the offset stored for it (`stored`: partition of `topic` to next offset).
fn commit_stored(
    consumer: &StreamConsumer<GroupContext>,
    events: &EventSink,
    instance: u32,
    topic: &str,
    stored: &BTreeMap<i32, i64>,
    what: &str,
) {
    let result = tokio::task::block_in_place(|| {
        consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
    });
    let Err(e) = result else { return };
    if nothing_to_commit(&e) {
        return;
    }
    let offsets = match consumer.assignment() {
        Ok(list) => list
            .elements()
            .iter()
            .map(|p| {
                let offset = (p.topic() == topic)
                    .then(|| stored.get(&p.partition()).copied())
                    .flatten();
                (p.topic().to_owned(), p.partition(), offset)
            })
            .collect(),
        Err(_) => stored
            .iter()
            .map(|(&p, &o)| (topic.to_owned(), p, Some(o)))
            .collect(),
    };
    commit_failed(events, instance, offsets, what, &e);
}

/// How often an `after_processing` consumer commits the offsets it has processed.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);

/// A librdkafka consumer-group member.
pub struct RdkafkaConsumer {
    instance: u32,
    settings: BTreeMap<String, String>,
    topic: String,
    group: String,
    commit: Commit,
    processing_time: Duration,
}

impl RdkafkaConsumer {
    /// A member of `group` reading `topic`.
    pub fn new(
        instance: u32,
        mut settings: BTreeMap<String, String>,
        group: &str,
        topic: &str,
        commit: Commit,
        processing_time: Duration,
    ) -> Self {
        settings.insert("group.id".into(), group.to_owned());
        RdkafkaConsumer {
            instance,
            settings,
            topic: topic.to_owned(),
            group: group.to_owned(),
            commit,
            processing_time,
        }
    }
}

impl ConsumerDriver for RdkafkaConsumer {
    fn run(
        self: Box<Self>,
        events: EventSink,
        mut stop: tokio::sync::watch::Receiver<Stop>,
    ) -> BoxFuture<Result<(), DriverError>> {
        Box::pin(async move {
            let client = || format!("rdkafka consumer {}", self.instance);
            let mut defaults = vec![
                ("auto.offset.reset", "earliest"),
                ("fetch.queue.backoff.ms", "10"),
            ];
            match self.commit {
                Commit::Auto => {}
                // Offsets stored after processing, committed by this loop every second (not
                // by the client, so a crash commits nothing more, as a dead process would).
                Commit::AfterProcessing => {
                    defaults.push(("enable.auto.offset.store", "false"));
                    defaults.push(("enable.auto.commit", "false"));
                }
                Commit::BeforeProcessing => defaults.push(("enable.auto.commit", "false")),
            }
            let context = GroupContext {
                consumer: self.instance,
                events: events.clone(),
            };
            let consumer = subscribed(
                config(&self.settings, &defaults),
                context,
                &self.topic,
                &self.group,
                client,
            )?;
            let mut commit_tick = tokio::time::interval(COMMIT_INTERVAL);
            // The offsets stored after processing (`after_processing`): partition of the
            // topic to the next offset to read, to name them when a commit fails.
            // Authorization refusals reported so far (each once).
            let mut refusals: Vec<String> = Vec::new();
            let mut stored: BTreeMap<i32, i64> = BTreeMap::new();
            loop {
                let message = tokio::select! {
                    m = consumer.recv() => m,
                    _ = commit_tick.tick(), if self.commit == Commit::AfterProcessing => {
                        commit_stored(&consumer, &events, self.instance, &self.topic, &stored,
                            "commit after processing");
                        continue;
                    }
                    _ = stop.wait_for(|s| *s != Stop::Run) => break,
                };
                let message = match message {
                    Ok(m) => m,
                    Err(e) => {
                        let reason = e.to_string();
                        if refused(&e) && !refusals.contains(&reason) {
                            refusals.push(reason.clone());
                            let _ = events.send(ConsumerEvent::Refused {
                                consumer: self.instance,
                                reason,
                                at_us: now_us(),
                            });
                        }
                        tracing::debug!("consumer {}: {e}", self.instance);
                        continue;
                    }
                };
                if self.commit == Commit::BeforeProcessing {
                    let (topic, partition, next) =
                        (message.topic(), message.partition(), message.offset() + 1);
                    let mut list = TopicPartitionList::new();
                    let committed = list
                        .add_partition_offset(topic, partition, rdkafka::Offset::Offset(next))
                        .and_then(|()| {
                            tokio::task::block_in_place(|| {
                                consumer.commit(&list, rdkafka::consumer::CommitMode::Sync)
                            })
                        });
                    if let Err(e) = committed {
                        let offsets = vec![(topic.to_owned(), partition, Some(next))];
                        commit_failed(
                            &events,
                            self.instance,
                            offsets,
                            "commit before processing",
                            &e,
                        );
                    }
                }
                if !self.processing_time.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(self.processing_time) => {}
                        // A crash drops the record in hand, unprocessed.
                        _ = stop.wait_for(|s| *s == Stop::Crash) => break,
                    }
                }
                let stamp = message.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key == stamp::HEADER)
                        .and_then(|h| h.value)
                        .and_then(|v| Stamp::decode(v).ok())
                });
                let _ = events.send(ConsumerEvent::Delivered {
                    consumer: self.instance,
                    topic: message.topic().to_owned(),
                    partition: message.partition(),
                    offset: message.offset(),
                    stamp,
                    at_us: now_us(),
                });
                if self.commit == Commit::AfterProcessing {
                    match consumer.store_offset_from_message(&message) {
                        Ok(()) => {
                            stored.insert(message.partition(), message.offset() + 1);
                        }
                        // Usually a partition revoked while its record was processed: its
                        // offset is not committed, and the record is read again.
                        Err(e) => tracing::debug!(
                            "rdkafka consumer {}: storing the offset of {}/{} at {}: {e}",
                            self.instance,
                            message.topic(),
                            message.partition(),
                            message.offset()
                        ),
                    }
                }
            }
            if *stop.borrow() == Stop::Crash {
                // No final commit and no unsubscribe. Dropping the client still closes it; a
                // member that may crash is a static member (`group.instance.id`, set by the
                // runner), and static members do not leave their group on close, so the group
                // learns of the crash only when the session times out.
                return Ok(());
            }
            if self.commit == Commit::AfterProcessing {
                commit_stored(
                    &consumer,
                    &events,
                    self.instance,
                    &self.topic,
                    &stored,
                    "commit on leaving",
                );
            }
            consumer.unsubscribe();
            Ok(())
        })
    }
}

/// A group consumer made from `config` with `context`, subscribed to `topic`; errors name
/// the client (`client()`), the topic and the group.
pub(super) fn subscribed<C: ConsumerContext + 'static>(
    config: ClientConfig,
    context: C,
    topic: &str,
    group: &str,
    client: impl Fn() -> String,
) -> Result<StreamConsumer<C>, DriverError> {
    let consumer: StreamConsumer<C> =
        config
            .create_with_context(context)
            .map_err(|source| DriverError::Create {
                client: client(),
                source: Box::new(source),
            })?;
    consumer
        .subscribe(&[topic])
        .map_err(|source| DriverError::Subscribe {
            client: client(),
            topic: topic.to_owned(),
            group: group.to_owned(),
            source: Box::new(source),
        })?;
    Ok(consumer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> (
        GroupContext,
        tokio::sync::mpsc::UnboundedReceiver<ConsumerEvent>,
    ) {
        let (events, rx) = tokio::sync::mpsc::unbounded_channel();
        (
            GroupContext {
                consumer: 3,
                events,
            },
            rx,
        )
    }

    fn offsets() -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        list.add_partition_offset("t", 0, rdkafka::Offset::Offset(10))
            .unwrap();
        list.add_partition_offset("t", 1, rdkafka::Offset::Invalid)
            .unwrap();
        list
    }

    #[test]
    fn an_auto_commit_reports_what_it_committed() {
        let (cx, mut rx) = context();
        cx.commit_callback(Ok(()), &offsets());
        let ConsumerEvent::Committed {
            consumer, offsets, ..
        } = rx.try_recv().unwrap()
        else {
            panic!("not a commit");
        };
        assert_eq!((consumer, offsets), (3, vec![("t".to_owned(), 0, 10)]));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_failed_auto_commit_is_reported_not_dropped() {
        let (cx, mut rx) = context();
        let error = KafkaError::ConsumerCommit(RDKafkaErrorCode::RebalanceInProgress);
        cx.commit_callback(Err(error), &offsets());
        let ConsumerEvent::CommitFailed {
            consumer,
            offsets,
            error,
            ..
        } = rx.try_recv().unwrap()
        else {
            panic!("not a failed commit");
        };
        assert_eq!(consumer, 3);
        assert_eq!(
            offsets,
            vec![("t".to_owned(), 0, Some(10)), ("t".to_owned(), 1, None)]
        );
        assert!(error.starts_with("auto-commit: "), "{error}");
        assert!(error.contains("rebalance"), "{error}");
        assert!(rx.try_recv().is_err(), "one event per failure");
    }

    #[test]
    fn nothing_to_commit_is_no_failure() {
        let (cx, mut rx) = context();
        let error = KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset);
        cx.commit_callback(Err(error.clone()), &offsets());
        cx.commit_callback(Err(error), &TopicPartitionList::new());
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_failure_naming_no_partition_is_reported() {
        let (cx, mut rx) = context();
        let error = KafkaError::ConsumerCommit(RDKafkaErrorCode::NotCoordinator);
        cx.commit_callback(Err(error), &TopicPartitionList::new());
        assert!(matches!(
            rx.try_recv().unwrap(),
            ConsumerEvent::CommitFailed { offsets, .. } if offsets.is_empty()
        ));
    }
}
