//! The evidence of a run: what producers and consumers did (History), what the brokers hold
//! (Log), how each record is named ([`stamp`]) and how long things took ([`latency`]).
//! Checkers read these and nothing else.
//!
//! ```text
//!   drivers ──stamp in every record──> run's collector ──Send / Delivery / GroupEvent──> History ─┐
//!                                             └──ack, e2e, send delay──> latency::Recorder     │
//!   run::logread (every partition, by offset) ──> Log ──────────────────────────────────────┴─> check
//! ```
//!
//! Outside a run, your own producer and consumer code builds a History through a
//! [`recording::Recording`].
//!
//! Records are compact and `Copy` so a 10-million-message history fits in memory: keys are
//! interned (`KeyId`), topics are indices (`TopicId`), times are microseconds since the run
//! started. A logical message is named by its [`MsgId`]: the producer instance and its
//! sequence number, carried in every record's [`stamp::Stamp`].

pub mod latency;
pub mod recording;
pub mod stamp;

/// Microseconds since the run started.
pub type Micros = u64;
/// Index of a topic in [`History::topics`].
pub type TopicId = u16;
/// Index of a key in [`History::keys`].
pub type KeyId = u32;

/// One logical message: producer instance and its sequence number (0, 1, 2, ... per
/// producer, in send order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgId {
    /// The producer instance.
    pub producer: u32,
    /// Its sequence number.
    pub seq: u64,
}

/// How a send ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The broker acknowledged it at this position.
    Ok {
        /// Partition written.
        partition: i32,
        /// Offset written.
        offset: i64,
    },
    /// Definitely not written (the client says so: e.g. a record too large).
    Fail,
    /// Unknown: a timeout or a lost connection; it may or may not be in the log.
    Indeterminate,
}

/// One send invoked by a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Send {
    /// The message.
    pub id: MsgId,
    /// Its topic.
    pub topic: TopicId,
    /// Its key.
    pub key: KeyId,
    /// When it should have been sent (open loop) or was sent (max rate).
    pub intended: Micros,
    /// When its outcome became known.
    pub completed: Micros,
    /// What happened.
    pub outcome: Outcome,
}

/// One record handed to a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The consumer instance.
    pub consumer: u32,
    /// Topic read.
    pub topic: TopicId,
    /// Partition read.
    pub partition: i32,
    /// Offset read.
    pub offset: i64,
    /// The message, from its stamp; `None` when the record carried no valid stamp.
    pub id: Option<MsgId>,
    /// When it was delivered.
    pub at: Micros,
}

/// Consumer-group events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// The broker refused a consumer its group or topic (authorization).
    Refused {
        /// The consumer instance.
        consumer: u32,
        /// When.
        at: Micros,
        /// The client's error.
        reason: String,
    },
    /// Partitions assigned to a consumer.
    Assigned {
        /// The consumer instance.
        consumer: u32,
        /// When.
        at: Micros,
        /// The partitions, with their topic.
        partitions: Vec<(TopicId, i32)>,
    },
    /// Partitions taken from a consumer.
    Revoked {
        /// The consumer instance.
        consumer: u32,
        /// When.
        at: Micros,
        /// The partitions, with their topic.
        partitions: Vec<(TopicId, i32)>,
    },
    /// Offsets committed: the next offset to read.
    Committed {
        /// The consumer instance.
        consumer: u32,
        /// When.
        at: Micros,
        /// Topic.
        topic: TopicId,
        /// Partition.
        partition: i32,
        /// Next offset to read.
        offset: i64,
    },
    /// A commit failed: the committed offsets of these partitions did not move.
    CommitFailed {
        /// The consumer instance.
        consumer: u32,
        /// When.
        at: Micros,
        /// Topic, partition and the offset it tried to commit, when known.
        offsets: Vec<(TopicId, i32, Option<i64>)>,
        /// Which commit, and the client's reason.
        error: String,
    },
}

/// Everything producers and consumers did in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Topic names, indexed by [`TopicId`].
    pub topics: Vec<String>,
    /// Key bytes, indexed by [`KeyId`].
    pub keys: Vec<Vec<u8>>,
    /// Every send, in invocation order per producer.
    pub sends: Vec<Send>,
    /// Every delivery, in delivery order per consumer.
    pub deliveries: Vec<Delivery>,
    /// Assignments, revocations and commits.
    pub group_events: Vec<GroupEvent>,
    /// Faults the nemesis applied, in time order.
    pub faults: Vec<FaultRecord>,
    /// Transactions of transactional producers and stages.
    pub txns: Vec<Txn>,
    /// Why sends definitely failed: each producer's distinct reasons, counted.
    pub failures: Vec<Failure>,
}

/// Sends of one producer that failed for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The producer instance.
    pub producer: u32,
    /// The client's reason (the broker's error).
    pub reason: String,
    /// How many sends failed so.
    pub count: u64,
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnOutcome {
    /// Committed: every record must be visible.
    Committed,
    /// Aborted (on purpose or after an error): no record may be visible.
    Aborted,
    /// Unknown (the commit timed out or the producer failed): all or nothing visible.
    Indeterminate,
}

/// One transaction: a contiguous run of one producer's sequence numbers. An empty
/// transaction (no send between begin and commit or abort) is not recorded, and one
/// producer's transactions never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Txn {
    /// The producer (or stage) instance.
    pub producer: u32,
    /// Its first message's sequence number.
    pub first_seq: u64,
    /// Its last message's sequence number (inclusive).
    pub last_seq: u64,
    /// How it ended.
    pub outcome: TxnOutcome,
    /// When the outcome became known.
    pub at: Micros,
}

/// One record read back from a partition after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRecord {
    /// Topic.
    pub topic: TopicId,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The message, from its stamp; `None` when it carried no valid stamp.
    pub id: Option<MsgId>,
    /// Its key, interned in the same table as [`History::keys`].
    pub key: Option<KeyId>,
}

/// Which records a log read sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Isolation {
    /// Every record written, aborted transactions' included.
    #[default]
    ReadUncommitted,
    /// What a read_committed consumer may see: committed transactions and plain records.
    ReadCommitted,
}

/// The ground truth: every partition read by offset after the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// Records, grouped by (topic, partition) and ascending by offset within each.
    pub records: Vec<LogRecord>,
    /// Partitions that could not be read completely, with the reason.
    pub unreadable: Vec<(TopicId, i32, String)>,
    /// For records derived from another message (a stage's output): (index into
    /// `records`, the input message), ascending by index. Sparse, so records stay small.
    pub sources: Vec<(u32, MsgId)>,
    /// How the log was read: with read_committed, records of aborted transactions must not
    /// be in it.
    pub isolation: Isolation,
}

/// Gives each distinct key a [`KeyId`]: the History's key table, built as records arrive.
#[derive(Debug, Clone, Default)]
pub struct KeyInterner {
    keys: Vec<Vec<u8>>,
    index: std::collections::HashMap<Vec<u8>, KeyId>,
    /// Keys a generator made, by (key space, index): found without hashing their bytes.
    generated: std::collections::HashMap<(u32, u64), KeyId, rustc_hash::FxBuildHasher>,
}

impl KeyInterner {
    /// The id of `key`, assigning the next one if it is new.
    pub fn intern(&mut self, key: &[u8]) -> KeyId {
        if let Some(&id) = self.index.get(key) {
            return id;
        }
        let id = self.keys.len() as KeyId;
        self.keys.push(key.to_vec());
        self.index.insert(key.to_vec(), id);
        id
    }

    /// The id of the key a generator makes for `index` in key space `space` (the same
    /// space and index always make the same bytes): `make` runs only the first time.
    pub fn intern_generated(
        &mut self,
        space: u32,
        index: u64,
        make: impl FnOnce() -> Vec<u8>,
    ) -> KeyId {
        if let Some(&id) = self.generated.get(&(space, index)) {
            return id;
        }
        let id = self.intern(&make());
        self.generated.insert((space, index), id);
        id
    }

    /// The keys so far, indexed by [`KeyId`].
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }

    /// The key table, indexed by [`KeyId`], for [`History::keys`].
    pub fn into_keys(self) -> Vec<Vec<u8>> {
        self.keys
    }
}

/// A fault the nemesis applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRecord {
    /// When it was applied.
    pub at: Micros,
    /// How long applying it took (a restart lasts until the node is back in the cluster).
    pub took: Micros,
    /// kill, terminate, restart, pause, resume, add_consumer, remove_consumer,
    /// crash_consumer.
    pub action: String,
    /// What it hit, e.g. `node 2 (leader of orders/0)` or `consumer workers#3`.
    pub target: String,
    /// `ok`, or why it failed.
    pub outcome: String,
}

#[cfg(test)]
mod tests {
    use super::KeyInterner;

    #[test]
    fn a_generated_key_and_its_bytes_share_one_id() {
        let mut keys = KeyInterner::default();
        let a = keys.intern(b"key-000001");
        let mut made = 0;
        let mut make = |bytes: &[u8]| {
            made += 1;
            bytes.to_vec()
        };
        assert_eq!(keys.intern_generated(7, 1, || make(b"key-000001")), a);
        let b = keys.intern_generated(7, 2, || make(b"key-000002"));
        assert_ne!(a, b);
        // Found by its space and index without making it again, and by its bytes.
        assert_eq!(keys.intern_generated(7, 2, || make(b"unused")), b);
        assert_eq!(keys.intern(b"key-000002"), b);
        assert_eq!(made, 2);
        assert_eq!(
            keys.into_keys(),
            vec![b"key-000001".to_vec(), b"key-000002".to_vec()]
        );
    }
}
