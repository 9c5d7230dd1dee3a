//! A recording of your own producer and consumer code, for the checkers: the [`History`] a
//! scenario run builds, built instead from the calls your code makes.
//!
//! ```text
//!   Recording ──producer()──> ProducerRecorder: stamp(topic, key) ──> Pending (a kh-stamp header
//!       │                          to send with the record) ──acked / failed / indeterminate
//!       └──consumer()──> ConsumerRecorder: delivered(topic, partition, offset, stamp header),
//!                          assigned, revoked, committed
//!   Recording::history() ──> (History, KeyInterner) ──> read the Log, run the checkers
//!                                                        (run::verify does both)
//! ```
//!
//! Every recorder is `Send + Sync` and cheap to clone; the calls take one short lock. Times
//! are microseconds since the recording began; a stamp carries its intended send time as the
//! harness's own stamps do, so a consumer in another process computes the same latency.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::stamp::{self, Stamp};
use super::{
    Delivery, GroupEvent, History, KeyId, KeyInterner, Micros, MsgId, Outcome, Send, TopicId,
};

/// What the recorders share.
#[derive(Debug)]
struct Shared {
    start: Instant,
    start_epoch_us: u64,
    producers: AtomicU32,
    consumers: AtomicU32,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    topic_ids: HashMap<String, TopicId>,
    keys: KeyInterner,
    history: History,
}

impl State {
    fn topic(&mut self, name: &str) -> TopicId {
        if let Some(&id) = self.topic_ids.get(name) {
            return id;
        }
        let id = self.history.topics.len() as TopicId;
        self.history.topics.push(name.to_owned());
        self.topic_ids.insert(name.to_owned(), id);
        id
    }

    fn topics(&mut self, name: &str, partitions: &[i32]) -> Vec<(TopicId, i32)> {
        let topic = self.topic(name);
        partitions.iter().map(|&p| (topic, p)).collect()
    }
}

/// Everything your producers and consumers did, recorded as they did it. Clones share it.
#[derive(Debug, Clone)]
pub struct Recording {
    shared: Arc<Shared>,
}

impl Default for Recording {
    fn default() -> Self {
        Recording::new()
    }
}

impl Recording {
    /// An empty recording; its clock starts now.
    pub fn new() -> Recording {
        let start_epoch_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        Recording {
            shared: Arc::new(Shared {
                start: Instant::now(),
                start_epoch_us,
                producers: AtomicU32::new(0),
                consumers: AtomicU32::new(0),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// A recorder for one producer instance (numbered 0, 1, ... in the order asked for).
    pub fn producer(&self) -> ProducerRecorder {
        ProducerRecorder {
            id: self.shared.producers.fetch_add(1, Ordering::Relaxed),
            seq: Arc::new(AtomicU64::new(0)),
            recording: self.clone(),
        }
    }

    /// A recorder for one consumer instance (numbered 0, 1, ... in the order asked for).
    pub fn consumer(&self) -> ConsumerRecorder {
        ConsumerRecorder {
            id: self.shared.consumers.fetch_add(1, Ordering::Relaxed),
            recording: self.clone(),
        }
    }

    /// What has been recorded so far, and the key table its ids index (to read the Log with,
    /// so log records and sends share key ids).
    pub fn history(&self) -> (History, KeyInterner) {
        let state = self.lock();
        let mut history = state.history.clone();
        history.keys = state.keys.keys().to_vec();
        (history, state.keys.clone())
    }

    /// Microseconds since the recording began.
    fn now(&self) -> Micros {
        self.shared.start.elapsed().as_micros() as Micros
    }

    /// A recorder's call in progress may have panicked; what it recorded stays usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A message stamped for sending: attach [`Pending::header`] to the record, then report its
/// outcome to the [`ProducerRecorder`] that made it.
#[derive(Debug, Clone)]
#[must_use = "report the send's outcome with acked, failed or indeterminate"]
pub struct Pending {
    id: MsgId,
    topic: TopicId,
    key: KeyId,
    intended: Micros,
    header: [u8; stamp::LEN],
}

impl Pending {
    /// The header to send with the record: its name (`kh-stamp`) and value.
    pub fn header(&self) -> (&'static str, &[u8]) {
        (stamp::HEADER, &self.header)
    }

    /// The message's id in the History.
    pub fn id(&self) -> MsgId {
        self.id
    }
}

/// Records one producer instance's sends. Clones record as the same instance.
#[derive(Debug, Clone)]
pub struct ProducerRecorder {
    id: u32,
    seq: Arc<AtomicU64>,
    recording: Recording,
}

impl ProducerRecorder {
    /// Stamps the next message for `topic` with `key` (`None`: a record without a key),
    /// taking now as its intended send time.
    pub fn stamp(&self, topic: &str, key: Option<&[u8]>) -> Pending {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let intended = self.recording.now();
        let (topic, key) = {
            let mut state = self.recording.lock();
            (
                state.topic(topic),
                state.keys.intern(key.unwrap_or_default()),
            )
        };
        let stamp = Stamp {
            producer: self.id,
            seq,
            intended_us: self.recording.shared.start_epoch_us + intended,
        };
        Pending {
            id: stamp.id(),
            topic,
            key,
            intended,
            header: stamp.encode(),
        }
    }

    /// The broker acknowledged it at `partition`/`offset`.
    pub fn acked(&self, pending: Pending, partition: i32, offset: i64) {
        self.outcome(pending, Outcome::Ok { partition, offset });
    }

    /// It was certainly not written (the client says so: a record too large, say).
    pub fn failed(&self, pending: Pending) {
        self.outcome(pending, Outcome::Fail);
    }

    /// Its fate is unknown (a timeout, a lost connection): it may or may not be in the log.
    pub fn indeterminate(&self, pending: Pending) {
        self.outcome(pending, Outcome::Indeterminate);
    }

    fn outcome(&self, pending: Pending, outcome: Outcome) {
        let completed = self.recording.now();
        self.recording.lock().history.sends.push(Send {
            id: pending.id,
            topic: pending.topic,
            key: pending.key,
            intended: pending.intended,
            completed,
            outcome,
        });
    }
}

/// Records one consumer instance's deliveries and group events.
#[derive(Debug, Clone)]
pub struct ConsumerRecorder {
    id: u32,
    recording: Recording,
}

impl ConsumerRecorder {
    /// Your code is done with the record at `topic`/`partition`/`offset`; `stamp` is the
    /// value of its `kh-stamp` header, if it had one (without it, or with bytes that are no
    /// stamp, the checkers find the message through the Log by its position).
    pub fn delivered(&self, topic: &str, partition: i32, offset: i64, stamp: Option<&[u8]>) {
        let at = self.recording.now();
        let id = stamp.and_then(|s| Stamp::decode(s).ok()).map(|s| s.id());
        let mut state = self.recording.lock();
        let topic = state.topic(topic);
        state.history.deliveries.push(Delivery {
            consumer: self.id,
            topic,
            partition,
            offset,
            id,
            at,
        });
    }

    /// The group gave this consumer these partitions of `topic`.
    pub fn assigned(&self, topic: &str, partitions: &[i32]) {
        self.group_change(topic, partitions, |consumer, at, partitions| {
            GroupEvent::Assigned {
                consumer,
                at,
                partitions,
            }
        });
    }

    /// The group took these partitions of `topic` from this consumer.
    pub fn revoked(&self, topic: &str, partitions: &[i32]) {
        self.group_change(topic, partitions, |consumer, at, partitions| {
            GroupEvent::Revoked {
                consumer,
                at,
                partitions,
            }
        });
    }

    /// Records the assignment change `event` makes of `partitions` of `topic`, now.
    fn group_change(
        &self,
        topic: &str,
        partitions: &[i32],
        event: impl FnOnce(u32, Micros, Vec<(TopicId, i32)>) -> GroupEvent,
    ) {
        let at = self.recording.now();
        let mut state = self.recording.lock();
        let partitions = state.topics(topic, partitions);
        state
            .history
            .group_events
            .push(event(self.id, at, partitions));
    }

    /// This consumer committed `next_offset` (the next offset to read, as Kafka commits it).
    pub fn committed(&self, topic: &str, partition: i32, next_offset: i64) {
        let at = self.recording.now();
        let mut state = self.recording.lock();
        let topic = state.topic(topic);
        state.history.group_events.push(GroupEvent::Committed {
            consumer: self.id,
            at,
            topic,
            partition,
            offset: next_offset,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_and_deliveries_share_ids_keys_and_topics() {
        let recording = Recording::new();
        let (p0, p1) = (recording.producer(), recording.producer());
        let consumer = recording.consumer();
        let a = p0.stamp("orders", Some(b"acct-1"));
        let b = p1.stamp("orders", Some(b"acct-1"));
        let c = p0.stamp("refunds", None);
        assert_eq!((a.id().producer, a.id().seq, c.id().seq), (0, 0, 1));
        assert_eq!(b.id().producer, 1);
        let (name, value) = a.header();
        assert_eq!(name, "kh-stamp");
        assert_eq!(Stamp::decode(value).unwrap().id(), a.id());
        consumer.assigned("orders", &[0, 1]);
        consumer.delivered("orders", 1, 7, Some(value));
        consumer.delivered("orders", 1, 8, Some(b"no stamp"));
        consumer.committed("orders", 1, 9);
        p0.acked(a, 1, 7);
        p1.indeterminate(b);
        p0.failed(c);
        let (history, keys) = recording.history();
        assert_eq!(history.topics, ["orders", "refunds"]);
        assert_eq!(history.keys, [b"acct-1".to_vec(), Vec::new()]);
        assert_eq!(keys.keys().len(), 2);
        let outcomes: Vec<_> = history.sends.iter().map(|s| s.outcome).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Ok {
                    partition: 1,
                    offset: 7
                },
                Outcome::Indeterminate,
                Outcome::Fail
            ]
        );
        assert_eq!(history.sends[0].key, history.sends[1].key);
        assert_eq!(history.sends[2].topic, 1);
        let ids: Vec<_> = history.deliveries.iter().map(|d| d.id).collect();
        assert_eq!(
            ids,
            [
                Some(MsgId {
                    producer: 0,
                    seq: 0
                }),
                None
            ]
        );
        assert_eq!(history.group_events.len(), 2);
        assert!(history.sends.iter().all(|s| s.completed >= s.intended));
    }

    #[test]
    fn recorders_are_shared_across_threads() {
        let recording = Recording::new();
        let producer = recording.producer();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let producer = producer.clone();
                scope.spawn(move || {
                    for i in 0..1000u32 {
                        let pending = producer.stamp("t", Some(&i.to_be_bytes()));
                        producer.acked(pending, 0, i64::from(i));
                    }
                });
            }
        });
        let (history, _) = recording.history();
        let mut seqs: Vec<u64> = history.sends.iter().map(|s| s.id.seq).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (0..4000).collect::<Vec<_>>(), "one sequence, no gaps");
    }
}
