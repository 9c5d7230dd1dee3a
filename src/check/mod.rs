//! Checkers: pure functions from the evidence of a run ([`History`] and [`Log`]) to a
//! [`CheckResult`] per anomaly. They never talk to a broker.
//!
//! ```text
//!   History (sends, deliveries, group events) ─┐
//!   Log (every partition, by offset) ──────────┴─> run_all(settings, enabled)
//!                                                    ├─ writes:    lost_write, duplicate_write, order_violation
//!                                                    ├─ keys:      key_split
//!                                                    ├─ reads:     lost_delivery, duplicate_delivery, nonmonotonic_poll,
//!                                                    │             delivery_order
//!                                                    └─ phantom:   phantom
//!                                                          │
//!                                                          v
//!                                            Vec<CheckResult> ─> RunResult / reports
//! ```
//!
//! Every check is linear in the size of the run (plus a sort only for inputs that break the
//! [`Log`] contract of grouped, ascending partitions) and keeps its per-message facts in
//! bitsets over a dense numbering of messages (producer, seq) and of positions (topic,
//! partition, offset): a 10-million-record run costs a few bytes per record, not a hash-map
//! entry per record. See `benches/checkers.rs` for throughput and memory.
//!
//! # Verdicts
//!
//! A check answers [`Verdict::Pass`], [`Verdict::Fail`] or [`Verdict::Unknown`] (it could not
//! decide: e.g. the log could not be read). Combined, `fail` outranks `unknown`, which
//! outranks `pass` ([`Verdict::combine`]). Each result carries a `count` of anomalies and at
//! most [`MAX_EXAMPLES`] [`Example`]s per kind of anomaly. In the worked examples below,
//! `p0:3` is seq 3 of producer 0, and `t/1@7` is topic `t`, partition 1, offset 7.
//!
//! # The anomalies
//!
//! ## `lost_write`
//!
//! A send whose outcome is [`Outcome::Ok`] (the broker acknowledged it) and whose [`MsgId`]
//! is nowhere in the log. Only acknowledged writes can be lost: a `Fail` or `Indeterminate`
//! send missing from the log is not a loss. When the acknowledged position lies in a
//! partition listed in [`Log::unreadable`], the write may be there unseen: such writes are
//! counted apart and make the verdict `unknown`, unless definite losses make it `fail`.
//! `count` is the number of definite losses.
//!
//! ```text
//!   sends: p0:0 ok t/0@0   p0:1 ok t/0@1   p0:2 indeterminate   p0:3 fail
//!   log:   t/0@0 = p0:0
//!   => fail, count 1: p0:1 (p0:2 and p0:3 are not losses)
//!   had t/0 been unreadable => unknown, count 0, p0:1 reported as undecided
//! ```
//!
//! ## `duplicate_write`
//!
//! One [`MsgId`] in the log more than once. `count` is the number of extra copies (a message
//! written three times counts 2). An indeterminate send found once is fine; found twice it is
//! a duplicate like any other.
//!
//! ```text
//!   log: t/0@0 = p0:0   t/0@1 = p0:1   t/0@2 = p0:0
//!   => fail, count 1: p0:0 at t/0@2 (note: also at t/0@0)
//! ```
//!
//! ## `order_violation`
//!
//! For one producer and one key, walking a partition by offset, a message whose seq is lower
//! than the seq of the previous message of that producer and key: the producer sent it
//! earlier, yet it sits later. Only messages present in the log are compared (a lost one
//! leaves no gap to complain about), each at its first occurrence (later copies are
//! `duplicate_write`s), and the key is the record's key in the log (records without a key,
//! or whose id no producer sent, are skipped). A producer and key spread over several
//! partitions is checked within each partition. `count` is the number of such backward
//! steps: one swapped pair counts 1.
//!
//! ```text
//!   log t/0: @0 = p0:0 key a   @1 = p0:2 key a   @2 = p1:0 key a   @3 = p0:1 key a
//!   => fail, count 1: p0:1 at t/0@3 follows p0:2 at t/0@1 (p1 is another producer)
//! ```
//!
//! ## `key_split`
//!
//! One key's records on more than one partition of a topic: Kafka orders records within a
//! partition only, so that key's order cannot hold, whatever each producer did. It happens
//! when producers of one topic place keys differently: the Java client, KafkaJS and
//! franz-go hash keys with murmur2, librdkafka by default with CRC32 (`consistent_random`;
//! the harness sets `murmur2_random` unless a scenario says otherwise), kafka-go's `Hash`
//! balancer with FNV-1a, and its `LeastBytes` balancer ignores keys. The key is the
//! record's key in the log; records without a key are ignored (they are spread on
//! purpose), and the same key in two topics is two keys. Every keyed record counts,
//! stamped or not. `count` is the number of (topic, key) pairs found on more than one
//! partition; each example names the key and topic, and its note lists the partitions,
//! each with its records and the producers that wrote them. A split found is `fail` even
//! if some partition was unreadable; with none found, a partition in [`Log::unreadable`]
//! makes the verdict `unknown`, since a key may have gone there unseen.
//!
//! ```text
//!   log t/1: @0 = p0:0 key a   @1 = p1:0 key a   @2 = p0:1 key b
//!   log t/4: @0 = p2:0 key a   @1 = p2:1 (no key)
//!   log u/0: @0 = p3:0 key b
//!   => fail, count 1: key a in t, "on partitions 1 (producers 0, 1: 2 records),
//!      4 (producer 2: 1 record)"; key b (t/1 only, u is another topic) and the keyless
//!      record are fine
//! ```
//!
//! ## `lost_delivery`
//!
//! A log record with a valid stamp, in one of [`CheckSettings::consumed_topics`], that no
//! consumer ever received: no [`Delivery`] has its (topic, partition, offset), and none
//! names its [`MsgId`]. Records of topics nobody consumed are ignored; with no consumed
//! topics the check passes trivially (and says so). `count` is the number of such records.
//!
//! ```text
//!   log t/0: @0 = p0:0   @1 = p0:1   @2 = p0:2      deliveries: t/0@0, t/0@2
//!   => fail, count 1: p0:1 at t/0@1
//! ```
//!
//! ## `duplicate_delivery`
//!
//! One (topic, partition, offset) delivered more than once, counting every consumer. `count`
//! is the number of extra deliveries. At-least-once consumers redeliver after a rebalance,
//! so the verdict is `fail` only when [`CheckSettings::duplicate_delivery_allowed`] is false
//! or the count exceeds [`CheckSettings::max_duplicate_deliveries`]; otherwise `pass`, with
//! the count reported.
//!
//! ```text
//!   deliveries: c0 t/0@0, c0 t/0@1, (rebalance), c1 t/0@1, c1 t/0@2
//!   => count 1 (t/0@1); pass when duplicates are allowed, fail when forbidden
//! ```
//!
//! ## `nonmonotonic_poll`
//!
//! Within one assignment of a partition to a consumer (from a [`GroupEvent::Assigned`] or
//! [`GroupEvent::Revoked`] naming that partition to the next one, by time; an event at the
//! same microsecond as a delivery comes first), the consumer's offsets for that partition
//! went backwards or repeated. A consumer with no group events for a partition has one
//! assignment for the whole run. `count` is the number of deliveries whose offset is not
//! above the previous one in the same assignment. A consumer in
//! [`CheckSettings::assignments_unknown`] (a group member that reported no assignment at
//! all) may have been through rebalances nobody saw: its backward offsets are counted
//! apart and make the verdict `unknown`, unless others make it `fail`.
//!
//! ```text
//!   c0: assigned t/0 at 0; t/0@0 (1), t/0@1 (2), t/0@1 (3), revoked at 4, assigned at 5, t/0@0 (6)
//!   => fail, count 1: t/0@1 at 3 repeats; t/0@0 at 6 starts a new assignment
//! ```
//!
//! ## `delivery_order`
//!
//! Per key, what the consumers' code processed, in time, across every consumer: a keyed
//! record first delivered after a later record of the same key and partition (a worker
//! pool that hands one account's events to two workers). Its key is the log record's at
//! that position. A redelivery (a position delivered before) replays and is not counted, so
//! at-least-once consumers pass; records without a key promise no order. `count` is the
//! number of records processed after a later one of their key. Unlike
//! `nonmonotonic_poll`, different keys of one partition may interleave freely.
//!
//! ```text
//!   log t/0: @0 key a, @1 key b, @2 key a
//!   deliveries: w1 t/0@1 (1), w0 t/0@2 (2), w1 t/0@0 (3)
//!   => fail, count 1: t/0@0 (key a) at 3 after t/0@2 (key a) at 2; b interleaving is fine
//! ```
//!
//! With the log read as read_committed, a delivery without a stamp at a position the log
//! does not hold may be a record of an aborted transaction (or of no transaction at all):
//! when aborted transactions exist, such deliveries are counted apart and make the
//! verdict `unknown`, unless definite aborted reads make it `fail`.
//!
//! ## `phantom`
//!
//! Something nobody sent: a log record whose stamp names a [`MsgId`] no [`Send`] has, a log
//! record with no valid stamp, or a delivery that names a message neither sent nor in the
//! log (a delivery without a stamp is a phantom when no log record sits at its position).
//! `count` adds them all up; `detail` breaks it down (stamped, unstamped, delivered).
//!
//! ```text
//!   sends: p0:0   log: t/0@0 = p0:0, t/0@1 = p9:0, t/0@2 = (no stamp)
//!   deliveries: t/0@0 p0:0, t/0@5 p7:3
//!   => fail, count 3: p9:0 in the log, one unstamped record, p7:3 delivered
//! ```

use std::cell::OnceCell;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::history::{Delivery, History, KeyId, Log, LogRecord, Micros, Outcome, Send, TopicId};
#[cfg(doc)]
use crate::history::{GroupEvent, MsgId};

pub mod authz;
pub mod behaviour;
mod index;
mod keys;
mod phantom;
mod reads;
pub mod slo;
mod txn;
mod writes;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use index::DenseIndex;

pub use crate::scenario::{CheckName, UnknownCheck};
pub use keys::key_split;
pub use phantom::phantom;
pub use reads::{delivery_order, duplicate_delivery, lost_delivery, nonmonotonic_poll};
pub use txn::{aborted_read, exactly_once, torn_transaction};
pub use writes::{duplicate_write, lost_write, order_violation};

/// At most this many examples are kept per kind of anomaly.
pub const MAX_EXAMPLES: usize = 5;

/// What a check concluded. The default, `pass`, is the verdict of no checks at all (the
/// identity of [`Verdict::combine`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No anomaly.
    #[default]
    Pass,
    /// At least one anomaly that fails the run.
    Fail,
    /// The check could not decide (e.g. part of the log could not be read).
    Unknown,
}

impl Verdict {
    /// The verdict of two results together: `fail` outranks `unknown`, which outranks `pass`.
    pub fn combine(self, other: Verdict) -> Verdict {
        if self.rank() >= other.rank() {
            self
        } else {
            other
        }
    }

    /// Its name in reports: `pass`, `fail` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Unknown => 1,
            Verdict::Fail => 2,
        }
    }
}

/// Combines many verdicts ([`Verdict::combine`]); none at all is a pass.
impl FromIterator<Verdict> for Verdict {
    fn from_iter<I: IntoIterator<Item = Verdict>>(iter: I) -> Verdict {
        iter.into_iter().fold(Verdict::Pass, Verdict::combine)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One instance of an anomaly, for a person to look up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The message key (lossy UTF-8), when known.
    pub key: Option<String>,
    /// The producer instance, when known.
    pub producer: Option<u32>,
    /// The producer's sequence number, when known.
    pub seq: Option<u64>,
    /// The consumer instance, for delivery anomalies.
    pub consumer: Option<u32>,
    /// Topic name.
    pub topic: Option<String>,
    /// Partition.
    pub partition: Option<i32>,
    /// Offset.
    pub offset: Option<i64>,
    /// When, in microseconds since the run started (send completion or delivery time).
    pub time_us: Option<Micros>,
    /// What is wrong with it, in a few words.
    pub note: String,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name ([`CheckName::as_str`]).
    pub name: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// How many anomalies it found (each check's doc says what it counts).
    pub count: u64,
    /// At most [`MAX_EXAMPLES`] examples per kind of anomaly.
    pub examples: Vec<Example>,
    /// One line for a person: what was checked and found.
    pub detail: String,
    /// For a threshold check (an SLO): the measured value. Absent for anomaly checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<f64>,
    /// For a threshold check (an SLO): the limit it was held to. Absent for anomaly checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
}

impl CheckResult {
    /// A check that could not decide, with the reason.
    pub fn unknown(name: impl Into<String>, detail: String) -> CheckResult {
        CheckResult {
            name: name.into(),
            verdict: Verdict::Unknown,
            count: 0,
            examples: Vec::new(),
            detail,
            observed: None,
            limit: None,
        }
    }

    /// A threshold check (an SLO): pass when `ok`, else fail with a count of 1.
    pub fn slo(
        name: impl Into<String>,
        ok: bool,
        observed: f64,
        limit: f64,
        detail: String,
    ) -> CheckResult {
        CheckResult {
            name: name.into(),
            verdict: if ok { Verdict::Pass } else { Verdict::Fail },
            count: u64::from(!ok),
            examples: Vec::new(),
            detail,
            observed: Some(observed),
            limit: Some(limit),
        }
    }
}

/// What a scenario allows and what it consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSettings {
    /// Duplicate deliveries are allowed (at-least-once consumers); `false` for exactly-once.
    pub duplicate_delivery_allowed: bool,
    /// With duplicates allowed, fail anyway when there are more than this many.
    pub max_duplicate_deliveries: Option<u64>,
    /// Topics a consumer group read: `lost_delivery` checks records of these only.
    pub consumed_topics: Vec<TopicId>,
    /// Consume-transform-produce stages, as (input topic, output topic): `exactly_once`
    /// checks these.
    pub pipelines: Vec<(TopicId, TopicId)>,
    /// Consumer instances that reported no assignment changes at all although a group
    /// assigns their partitions (exec consumers that write no `partitions_assigned`): a
    /// backward offset of theirs may follow a rebalance, so `nonmonotonic_poll` counts it
    /// as undecided, not as a failure.
    pub assignments_unknown: Vec<u32>,
}

/// At-least-once: duplicates allowed without limit; no consumed topics.
impl Default for CheckSettings {
    fn default() -> CheckSettings {
        CheckSettings {
            duplicate_delivery_allowed: true,
            max_duplicate_deliveries: None,
            consumed_topics: Vec::new(),
            pipelines: Vec::new(),
            assignments_unknown: Vec::new(),
        }
    }
}

/// Runs the `enabled` checks (each once, in the order given) on one run's evidence, sharing
/// the indexes they have in common.
pub fn run_all(
    history: &History,
    log: &Log,
    settings: &CheckSettings,
    enabled: &[CheckName],
) -> Vec<CheckResult> {
    let cx = Context::new(history, log);
    let mut done: Vec<CheckName> = Vec::with_capacity(enabled.len());
    let mut results = Vec::with_capacity(enabled.len());
    for &name in enabled {
        if done.contains(&name) {
            continue;
        }
        done.push(name);
        results.push(guarded(name, || match name {
            CheckName::LostWrite => writes::lost_write_in(&cx),
            CheckName::DuplicateWrite => writes::duplicate_write_in(&cx),
            CheckName::OrderViolation => writes::order_violation_in(&cx),
            CheckName::KeySplit => keys::key_split_in(&cx),
            CheckName::LostDelivery => reads::lost_delivery_in(&cx, settings),
            CheckName::DuplicateDelivery => reads::duplicate_delivery_in(&cx, settings),
            CheckName::NonmonotonicPoll => reads::nonmonotonic_poll_in(&cx, settings),
            CheckName::DeliveryOrder => reads::delivery_order_in(&cx),
            CheckName::Phantom => phantom::phantom_in(&cx),
            CheckName::AbortedRead => txn::aborted_read_in(&cx),
            CheckName::TornTransaction => txn::torn_transaction_in(&cx),
            CheckName::ExactlyOnce => txn::exactly_once_in(&cx, settings),
        }));
    }
    results
}

/// Runs one checker; a checker that panics (a bug in it, or evidence it did not expect)
/// gives that check `unknown` with the panic's message, and the other checks still run.
fn guarded(name: CheckName, check: impl FnOnce() -> CheckResult) -> CheckResult {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        CheckResult::unknown(name.as_str(), format!("the checker failed: {message}"))
    })
}

/// One run's evidence and the indexes built on it, each at most once.
struct Context<'a> {
    history: &'a History,
    log: &'a Log,
    sends: OnceCell<DenseIndex>,
    log_positions: OnceCell<DenseIndex>,
    txns: OnceCell<txn::Txns>,
    uncommitted: OnceCell<txn::Txns>,
}

impl<'a> Context<'a> {
    fn new(history: &'a History, log: &'a Log) -> Context<'a> {
        Context {
            history,
            log,
            sends: OnceCell::new(),
            log_positions: OnceCell::new(),
            txns: OnceCell::new(),
            uncommitted: OnceCell::new(),
        }
    }

    /// Every transaction, for lookups by message.
    fn txns(&self) -> &txn::Txns {
        self.txns
            .get_or_init(|| txn::Txns::new(&self.history.txns, |_| true))
    }

    /// The aborted and undecided transactions (few, usually), for lookups by message.
    fn uncommitted(&self) -> &txn::Txns {
        self.uncommitted.get_or_init(|| {
            txn::Txns::new(&self.history.txns, |t| {
                t.outcome != crate::history::TxnOutcome::Committed
            })
        })
    }

    /// Every message any producer attempted, numbered densely.
    fn sends(&self) -> &DenseIndex {
        self.sends
            .get_or_init(|| index::message_index(|| self.history.sends.iter().map(|s| s.id)))
    }

    /// Every position in the log, numbered densely.
    fn log_positions(&self) -> &DenseIndex {
        self.log_positions.get_or_init(|| {
            index::position_index(|| {
                self.log
                    .records
                    .iter()
                    .map(|r| (r.topic, r.partition, r.offset))
            })
        })
    }

    fn topic_name(&self, topic: TopicId) -> String {
        match self.history.topics.get(usize::from(topic)) {
            Some(name) => name.clone(),
            None => format!("#{topic}"),
        }
    }

    fn key_name(&self, key: Option<KeyId>) -> Option<String> {
        let bytes = self.history.keys.get(usize::try_from(key?).ok()?)?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    fn send_example(&self, send: &Send, note: String) -> Example {
        let (partition, offset) = match send.outcome {
            Outcome::Ok { partition, offset } => (Some(partition), Some(offset)),
            _ => (None, None),
        };
        Example {
            key: self.key_name(Some(send.key)),
            producer: Some(send.id.producer),
            seq: Some(send.id.seq),
            consumer: None,
            topic: Some(self.topic_name(send.topic)),
            partition,
            offset,
            time_us: Some(send.completed),
            note,
        }
    }

    fn record_example(&self, record: &LogRecord, note: String) -> Example {
        Example {
            key: self.key_name(record.key),
            producer: record.id.map(|id| id.producer),
            seq: record.id.map(|id| id.seq),
            consumer: None,
            topic: Some(self.topic_name(record.topic)),
            partition: Some(record.partition),
            offset: Some(record.offset),
            time_us: None,
            note,
        }
    }

    fn delivery_example(&self, delivery: &Delivery, note: String) -> Example {
        Example {
            key: None,
            producer: delivery.id.map(|id| id.producer),
            seq: delivery.id.map(|id| id.seq),
            consumer: Some(delivery.consumer),
            topic: Some(self.topic_name(delivery.topic)),
            partition: Some(delivery.partition),
            offset: Some(delivery.offset),
            time_us: Some(delivery.at),
            note,
        }
    }
}

/// Up to [`MAX_EXAMPLES`] examples of one kind of anomaly, built only when kept.
#[derive(Debug, Default)]
struct Examples(Vec<Example>);

impl Examples {
    fn offer(&mut self, make: impl FnOnce() -> Example) {
        if self.0.len() < MAX_EXAMPLES {
            self.0.push(make());
        }
    }
}

/// A result from its parts; `kinds` lists each kind's examples, in order.
fn result(
    name: CheckName,
    verdict: Verdict,
    count: u64,
    kinds: Vec<Examples>,
    detail: String,
) -> CheckResult {
    CheckResult {
        name: name.as_str().to_owned(),
        verdict,
        count,
        examples: kinds.into_iter().flat_map(|k| k.0).collect(),
        detail,
        observed: None,
        limit: None,
    }
}
