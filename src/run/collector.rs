//! The collector: one task that receives every event of a run (send outcomes, consumer
//! events, transactions) in order and builds the [`History`] and the latency [`Recorder`]
//! from them, keeping the live figures ([`Live`]) the drain and the progress line read.
//!
//! ```text
//!   producers ──Ev::Done──┐
//!   stages ──Ev::Done, Ev::Txn──┼──> channel ──> Collector::record ──> History, Recorder, Live
//!   consumers ──Ev::Consumer──┘                  Ev::Barrier ──> answered once all before it are recorded
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::engine::RunCounts;
use super::progress::Progress;
use crate::driver::{ConsumerEvent, SendOutcome};
use crate::history::latency::Recorder;
use crate::history::{
    Delivery, Failure, GroupEvent, History, KeyInterner, MsgId, Outcome, Send, TopicId, Txn,
};
use crate::scenario::Template;
use crate::workload::write_key;

/// The most events recorded under one lock of the live figures.
const BURST: usize = 1024;

/// How long the collector lets events gather once it has emptied the channel.
const GATHER: Duration = Duration::from_millis(1);

/// What the collector is told.
pub(super) enum Ev {
    /// A send's outcome.
    Done(SendDone),
    /// What a consumer did.
    Consumer(ConsumerEvent),
    /// A transaction's outcome.
    Txn(Txn),
    /// Answered once every event sent before it is recorded.
    Barrier(oneshot::Sender<()>),
}

/// A send's key: its bytes, or what makes them (interned without hashing the bytes).
pub(super) enum SentKey {
    /// The key's bytes.
    Bytes(Vec<u8>),
    /// The key [`write_key`] makes for this template and index.
    Generated { template: Template, index: u64 },
}

/// A send and its outcome, on the run clock.
pub(super) struct SendDone {
    pub id: MsgId,
    pub topic: TopicId,
    pub key: SentKey,
    pub size: usize,
    pub intended: u64,
    pub sent: u64,
    pub done: u64,
    pub outcome: SendOutcome,
    /// Whether readers can see it once acknowledged: not so in an aborted or undecided
    /// transaction.
    pub visible: bool,
}

/// Live figures shared between the collector, the drain and the progress line.
#[derive(Debug, Default)]
pub(super) struct Live {
    pub counts: RunCounts,
    /// Per topic and partition: 1 + the highest acknowledged offset.
    pub acked_high: HashMap<(TopicId, i32), i64>,
    /// Per consumer plan, topic and partition: 1 + the highest delivered offset.
    pub delivered_high: HashMap<(usize, TopicId, i32), i64>,
    /// Per topic: acknowledged records readers can see (outside aborted transactions).
    pub visible_acks: HashMap<TopicId, u64>,
    /// Per consumer plan: partitions currently assigned.
    pub assigned: HashMap<usize, HashSet<(TopicId, i32)>>,
}

impl Live {
    /// The figures, even when a thread panicked holding them (they stay consistent: every
    /// update is a few counter writes).
    pub fn lock(live: &Mutex<Live>) -> MutexGuard<'_, Live> {
        live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Figures of the measured phase.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Measured {
    pub acked: u64,
    pub consumed: u64,
    pub bytes: u64,
}

/// What the collector hands back when every sender is gone.
pub(super) struct Collected {
    pub history: History,
    pub recorder: Recorder,
    pub keys: KeyInterner,
    pub measured: Measured,
}

/// Builds the History and the latency figures from the run's events.
pub(super) struct Collector {
    history: History,
    recorder: Recorder,
    keys: KeyInterner,
    measured: Measured,
    live: Arc<Mutex<Live>>,
    /// Actual topic names, for consumer events that name topics.
    topics: Vec<String>,
    /// Consumer instance id to the consumer plan standing for its group.
    plan_of: Arc<RwLock<Vec<usize>>>,
    /// The run clock's start, microseconds since the UNIX epoch.
    epoch0: Arc<AtomicU64>,
    warmup_us: u64,
}

impl Collector {
    /// A collector for a run with these topics, consumers and clock.
    pub fn new(
        live: Arc<Mutex<Live>>,
        topics: Vec<String>,
        plan_of: Arc<RwLock<Vec<usize>>>,
        epoch0: Arc<AtomicU64>,
        warmup_us: u64,
    ) -> Collector {
        Collector {
            history: History::default(),
            recorder: Recorder::default(),
            keys: KeyInterner::default(),
            measured: Measured::default(),
            live,
            topics,
            plan_of,
            epoch0,
            warmup_us,
        }
    }

    /// Records every event until every sender is gone; with `progress`, a line a second.
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Ev>, progress: bool) -> Collected {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut display = progress.then(Progress::new);
        // Events come in bursts (a produce request's acknowledgements at once): each burst is
        // recorded under one lock of the live figures.
        let mut burst = Vec::with_capacity(BURST);
        let live = Arc::clone(&self.live);
        loop {
            tokio::select! {
                n = rx.recv_many(&mut burst, BURST) => {
                    if n == 0 {
                        break;
                    }
                    {
                        let mut live = Live::lock(&live);
                        for e in burst.drain(..) {
                            self.record(e, &mut live);
                        }
                    }
                    // The channel is empty: let the next events gather for a moment rather
                    // than be woken by each one (a burst's sender and this task would take
                    // turns waking each other, a few events at a time).
                    if n < BURST {
                        tokio::time::sleep(GATHER).await;
                    }
                }
                _ = tick.tick() => {
                    if let Some(display) = &mut display {
                        let counts = Live::lock(&self.live).counts;
                        display.show(counts, self.recorder.recent_ack_p99());
                    }
                }
            }
        }
        if let Some(display) = display {
            display.finish();
        }
        Collected {
            history: self.history,
            recorder: self.recorder,
            keys: self.keys,
            measured: self.measured,
        }
    }

    /// Records one event.
    fn record(&mut self, event: Ev, live: &mut Live) {
        match event {
            Ev::Done(done) => self.send(done, live),
            Ev::Txn(txn) => self.history.txns.push(txn),
            Ev::Consumer(event) => self.consumer(event, live),
            Ev::Barrier(reply) => {
                let _ = reply.send(());
            }
        }
    }

    fn topic_id(&self, name: &str) -> Option<TopicId> {
        self.topics
            .iter()
            .position(|t| t == name)
            .map(|i| i as TopicId)
    }

    fn topic_ids(&self, partitions: &[(String, i32)]) -> Vec<(TopicId, i32)> {
        partitions
            .iter()
            .filter_map(|(t, p)| self.topic_id(t).map(|t| (t, *p)))
            .collect()
    }

    /// Microseconds on the run clock of a wall-clock time.
    fn run_us(&self, epoch_us: u64) -> u64 {
        epoch_us.saturating_sub(self.epoch0.load(Ordering::Relaxed))
    }

    /// The consumer plan standing for an instance's group.
    fn plan_of(&self, consumer: u32) -> usize {
        self.plan_of
            .read()
            .ok()
            .and_then(|t| t.get(consumer as usize).copied())
            .unwrap_or(0)
    }

    fn send(&mut self, done: SendDone, l: &mut Live) {
        let key = match done.key {
            SentKey::Bytes(bytes) => self.keys.intern(&bytes),
            SentKey::Generated { template, index } => {
                self.keys.intern_generated(template as u32, index, || {
                    let mut bytes = Vec::new();
                    write_key(template, index, &mut bytes);
                    bytes
                })
            }
        };
        let measured_send = done.intended >= self.warmup_us;
        let outcome = match done.outcome {
            SendOutcome::Ok { partition, offset } => Outcome::Ok { partition, offset },
            SendOutcome::Fail(reason) => {
                self.failed(done.id.producer, reason);
                Outcome::Fail
            }
            SendOutcome::Indeterminate(_) => Outcome::Indeterminate,
        };
        let ok = matches!(outcome, Outcome::Ok { .. });
        self.recorder.completed(
            ok,
            done.sent - done.intended,
            done.done.saturating_sub(done.sent),
            done.done,
            measured_send,
        );
        self.recorder.sent(done.sent);
        {
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
            self.measured.acked += 1;
            self.measured.bytes += done.size as u64;
        }
        self.history.sends.push(Send {
            id: done.id,
            topic: done.topic,
            key,
            intended: done.intended,
            completed: done.done,
            outcome,
        });
    }

    /// Counts a definite failure by producer and reason (a few distinct reasons each).
    fn failed(&mut self, producer: u32, reason: String) {
        let failures = &mut self.history.failures;
        if let Some(f) = failures
            .iter_mut()
            .find(|f| f.producer == producer && f.reason == reason)
        {
            f.count += 1;
        } else if failures.iter().filter(|f| f.producer == producer).count() < 8 {
            failures.push(Failure {
                producer,
                reason,
                count: 1,
            });
        }
    }

    fn consumer(&mut self, event: ConsumerEvent, live: &mut Live) {
        match event {
            ConsumerEvent::Delivered {
                consumer,
                topic,
                partition,
                offset,
                stamp,
                at_us,
            } => {
                let Some(t) = self.topic_id(&topic) else {
                    return;
                };
                let at = self.run_us(at_us);
                let e2e = stamp.map(|s| at_us.saturating_sub(s.intended_us));
                // A record without a stamp (an exec consumer may report none) counts by the
                // time it was delivered: its intended time is unknown.
                let measured = match stamp {
                    Some(s) => self.run_us(s.intended_us) >= self.warmup_us,
                    None => at >= self.warmup_us,
                };
                self.recorder.delivered(at, e2e, measured);
                if measured {
                    self.measured.consumed += 1;
                }
                let plan = self.plan_of(consumer);
                live.counts.consumed += 1;
                let high = live.delivered_high.entry((plan, t, partition)).or_insert(0);
                *high = (*high).max(offset + 1);
                self.history.deliveries.push(Delivery {
                    consumer,
                    topic: t,
                    partition,
                    offset,
                    id: stamp.map(|s| s.id()),
                    at,
                });
            }
            ConsumerEvent::Assigned {
                consumer,
                partitions,
                at_us,
            } => self.assignment(consumer, &partitions, at_us, true, live),
            ConsumerEvent::Revoked {
                consumer,
                partitions,
                at_us,
            } => self.assignment(consumer, &partitions, at_us, false, live),
            ConsumerEvent::Refused {
                consumer,
                reason,
                at_us,
            } => {
                tracing::warn!("consumer {consumer}: refused by the broker: {reason}");
                self.history.group_events.push(GroupEvent::Refused {
                    consumer,
                    at: self.run_us(at_us),
                    reason,
                });
            }
            ConsumerEvent::CommitFailed {
                consumer,
                offsets,
                error,
                at_us,
            } => {
                let offsets = offsets
                    .into_iter()
                    .filter_map(|(t, p, o)| self.topic_id(&t).map(|t| (t, p, o)))
                    .collect();
                self.history.group_events.push(GroupEvent::CommitFailed {
                    consumer,
                    at: self.run_us(at_us),
                    offsets,
                    error,
                });
            }
            ConsumerEvent::Committed {
                consumer,
                offsets,
                at_us,
            } => {
                let at = self.run_us(at_us);
                for (topic, partition, offset) in offsets {
                    if let Some(topic) = self.topic_id(&topic) {
                        self.history.group_events.push(GroupEvent::Committed {
                            consumer,
                            at,
                            topic,
                            partition,
                            offset,
                        });
                    }
                }
            }
        }
    }

    /// Partitions assigned to (or revoked from) a consumer: its group's live assignment and
    /// the History.
    fn assignment(
        &mut self,
        consumer: u32,
        partitions: &[(String, i32)],
        at_us: u64,
        assigned: bool,
        live: &mut Live,
    ) {
        let partitions = self.topic_ids(partitions);
        let plan = self.plan_of(consumer);
        let at = self.run_us(at_us);
        let set = live.assigned.entry(plan).or_default();
        let event = if assigned {
            set.extend(partitions.iter().copied());
            GroupEvent::Assigned {
                consumer,
                at,
                partitions,
            }
        } else {
            for tp in &partitions {
                set.remove(tp);
            }
            GroupEvent::Revoked {
                consumer,
                at,
                partitions,
            }
        };
        self.history.group_events.push(event);
    }
}
