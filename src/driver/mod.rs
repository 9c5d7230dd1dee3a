//! Producer and consumer implementations under test, behind two small traits.
//!
//! ```text
//!   run ──&OutRecord, Done──> ProducerDriver::enqueue ··· client ··· Done(SendOutcome)
//!   ConsumerDriver::run ──ConsumerEvent──> channel ──> run's collector
//!   stage: consume ──> transform ──> produce in one transaction (txn) ──StageTxn──> run
//! ```
//!
//! A producer is one `enqueue(record, done)` that enqueues at once and calls `done` with the
//! outcome later, from whatever thread the client reports it on, as OpenMessaging
//! Benchmark's `sendAsync`: the run keeps its send schedule without waiting for
//! acknowledgements, and no task or future is made per record. [`ProducerDriver::send`]
//! wraps it in a future for callers that await outcomes one by one. A consumer runs until
//! told to stop and reports every record it is handed, with its stamp, plus assignments and
//! commits. Drivers know nothing of checkers or reports. The exec driver ([`exec`]) runs
//! your own client as a child process behind the same two traits, and Kafka's own
//! VerifiableProducer and VerifiableConsumer ([`exec::verifiable`]) with the same reader: a
//! VerifiableProducer sends on its own schedule, so the run listens to it instead.

pub mod exec;
pub mod rdkafka;
pub mod rskafka;
pub mod stage;
pub mod txn;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::history::stamp::Stamp;

/// A boxed future, as drivers return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Why a driver could not go on: which client, which topic, partition or group, what it was
/// doing, and the client library's own error as the source.
///
/// `client` names the instance as the run knows it (`rdkafka consumer 3`, `rskafka producer
/// of audit`, `stage 5`). A send's failure is not one of these: it is a [`SendOutcome`], kept
/// per record in the History. Sources are boxed to keep the error small.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// librdkafka refused to create a client from these settings.
    #[error("{client}: creating the client: {source}")]
    Create {
        /// The client.
        client: String,
        /// librdkafka's error.
        source: Box<::rdkafka::error::KafkaError>,
    },
    /// rskafka could not connect to the cluster.
    #[error("{client}: connecting to {bootstrap}: {source}")]
    Connect {
        /// The client.
        client: String,
        /// The bootstrap servers tried.
        bootstrap: String,
        /// rskafka's error.
        source: Box<::rskafka::client::error::Error>,
    },
    /// rskafka could not reach a partition's leader.
    #[error("{client}: reaching {topic}/{partition}: {source}")]
    PartitionClient {
        /// The client.
        client: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// rskafka's error.
        source: Box<::rskafka::client::error::Error>,
    },
    /// A client setting the driver cannot honour.
    #[error("{client}: `{key} = {value}`: {reason}")]
    Setting {
        /// The client.
        client: String,
        /// The setting's key.
        key: String,
        /// Its value.
        value: String,
        /// Why it cannot be honoured.
        reason: &'static str,
    },
    /// A consumer could not subscribe to its topic.
    #[error("{client}: subscribing to {topic} in group {group}: {source}")]
    Subscribe {
        /// The client.
        client: String,
        /// Topic.
        topic: String,
        /// Consumer group.
        group: String,
        /// librdkafka's error.
        source: Box<::rdkafka::error::KafkaError>,
    },
    /// A fetch failed in a way retrying cannot mend.
    #[error("{client}: fetching {topic}/{partition} at offset {offset}: {source}")]
    Fetch {
        /// The client.
        client: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The offset asked for.
        offset: i64,
        /// rskafka's error.
        source: Box<::rskafka::client::error::Error>,
    },
    /// A consumer-group call failed (reading the assignment or the committed offsets).
    #[error("{client}: {operation} in group {group}: {source}")]
    Group {
        /// The client.
        client: String,
        /// Consumer group.
        group: String,
        /// What it was doing.
        operation: &'static str,
        /// librdkafka's error.
        source: Box<::rdkafka::error::KafkaError>,
    },
    /// A consumer has no group metadata (it is not in a group), so it cannot commit offsets
    /// in a transaction.
    #[error("{client}: no group metadata for group {group}")]
    NoGroupMetadata {
        /// The client.
        client: String,
        /// Consumer group.
        group: String,
    },
    /// An offset could not be set on a partition list.
    #[error("{client}: offset {offset} of {topic}/{partition}: {source}")]
    Offset {
        /// The client.
        client: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The offset.
        offset: i64,
        /// librdkafka's error.
        source: Box<::rdkafka::error::KafkaError>,
    },
    /// A seek failed.
    #[error("{client}: seeking {topic}/{partition} to {offset}: {source}")]
    Seek {
        /// The client.
        client: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Where to (an offset, or `beginning`).
        offset: String,
        /// librdkafka's error.
        source: Box<::rdkafka::error::KafkaError>,
    },
    /// A transaction control call failed.
    #[error("transactional producer {transactional_id}: {call}: {source}")]
    Transaction {
        /// The producer's `transactional.id`.
        transactional_id: String,
        /// The call (`init_transactions`, ...).
        call: &'static str,
        /// How it failed.
        source: Box<txn::ControlError>,
    },
    /// A task of the driver panicked or was cancelled.
    #[error("{client}: {task} task: {source}")]
    Task {
        /// The client.
        client: String,
        /// Which task.
        task: String,
        /// Tokio's error.
        source: tokio::task::JoinError,
    },
    /// An exec process could not be started, or ended or stayed silent before it answered
    /// `startup_complete`.
    #[error(transparent)]
    Startup(Box<exec::StartupFailure>),
    /// A line an exec process wrote names a known event and breaks one of its rules.
    #[error(transparent)]
    Protocol(Box<exec::ProtocolBreach>),
    /// An exec consumer's process ended during the run without being asked to.
    #[error(
        "exec {role} `{table}` instance {instance} ended by itself ({how}); its log: {}",
        log.display()
    )]
    Exited {
        /// The scenario table.
        table: String,
        /// The instance number within the table.
        instance: u32,
        /// `producer` or `consumer`.
        role: &'static str,
        /// How it ended (`exit 1`, `signal 11`).
        how: String,
        /// Its log file.
        log: PathBuf,
    },
}

/// An error that ends the run (exit 3), raised by a driver from wherever it notices it (a
/// consumer's task, a producer's reader): the first one raised is kept, and the run, which
/// watches [`Fatal::raised`], stops and returns it.
#[derive(Clone, Debug)]
pub struct Fatal(Arc<FatalSlot>);

#[derive(Debug)]
struct FatalSlot {
    error: Mutex<Option<DriverError>>,
    raised: tokio::sync::watch::Sender<bool>,
}

impl Default for Fatal {
    fn default() -> Fatal {
        Fatal(Arc::new(FatalSlot {
            error: Mutex::new(None),
            raised: tokio::sync::watch::Sender::new(false),
        }))
    }
}

impl Fatal {
    /// Keeps `error` unless one was raised before, and wakes every waiter.
    pub fn raise(&self, error: DriverError) {
        let mut slot = self.0.error.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() && !*self.0.raised.borrow() {
            tracing::debug!("fatal: {error}");
            *slot = Some(error);
            self.0.raised.send_replace(true);
        }
    }

    /// Whether an error was raised.
    pub fn is_raised(&self) -> bool {
        *self.0.raised.borrow()
    }

    /// Resolves once an error is raised (never, if none is).
    pub async fn raised(&self) {
        let mut rx = self.0.raised.subscribe();
        if rx.wait_for(|r| *r).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// The error raised, taken (once).
    pub fn take(&self) -> Option<DriverError> {
        self.0
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// One record to send.
#[derive(Debug, Clone)]
pub struct OutRecord {
    /// Topic name.
    pub topic: String,
    /// Partition, when the harness chose it (drivers without a partitioner).
    pub partition: Option<i32>,
    /// Key bytes.
    pub key: Vec<u8>,
    /// Value bytes.
    pub value: Vec<u8>,
    /// The stamp to put in the record's headers.
    pub stamp: Stamp,
    /// The input message this record was made from (a stage's output), for its
    /// `kh-source` header.
    pub source: Option<crate::history::MsgId>,
}

/// How a send ended, as the client reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Acknowledged at this position.
    Ok {
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
    },
    /// Definitely not written, with the client's reason.
    Fail(String),
    /// Maybe written (timeout, lost connection), with the client's reason.
    Indeterminate(String),
}

/// The indeterminate outcome of a send whose client never reported it.
const LOST: &str = "the client lost the send";

/// Takes one send's outcome, once, on any thread; dropped uncalled, it reports indeterminate.
// `Sync` only because rdkafka asks it of a delivery opaque; a `Done` is never shared.
pub struct Done(Option<Box<dyn FnOnce(SendOutcome) + Send + Sync>>);

impl Done {
    /// A `Done` that hands the outcome to `f`.
    pub fn new(f: impl FnOnce(SendOutcome) + Send + Sync + 'static) -> Done {
        Done(Some(Box::new(f)))
    }

    /// Reports `outcome`.
    pub fn call(mut self, outcome: SendOutcome) {
        if let Some(f) = self.0.take() {
            f(outcome);
        }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f(SendOutcome::Indeterminate(LOST.into()));
        }
    }
}

/// A producer under test.
pub trait ProducerDriver: Send + Sync {
    /// Enqueues a copy of `record`; `done` gets its outcome (at once if the client refuses it).
    fn enqueue(&self, record: &OutRecord, done: Done);

    /// Waits until every enqueued record has an outcome.
    fn flush(&self) -> BoxFuture<()>;

    /// True once the producer can send nothing more (an exec producer's process ended): the
    /// run stops sending to it.
    fn is_closed(&self) -> bool {
        false
    }

    /// Stops the producer after the last flush (an exec producer's process is asked to shut
    /// down, and waited for). By default nothing: dropping the driver is enough.
    fn close(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }

    /// Enqueues `record`; the future resolves to its outcome.
    fn send(&self, record: OutRecord) -> BoxFuture<SendOutcome> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(
            &record,
            Done::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        );
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| SendOutcome::Indeterminate(LOST.into()))
        })
    }
}

/// What a consumer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerEvent {
    /// A record was handed to the consumer (and processed).
    Delivered {
        /// Consumer instance.
        consumer: u32,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// The record's stamp, if it had a valid one.
        stamp: Option<Stamp>,
        /// Wall-clock delivery time, microseconds since the UNIX epoch.
        at_us: u64,
    },
    /// Partitions assigned.
    Assigned {
        /// Consumer instance.
        consumer: u32,
        /// Topic and partition of each.
        partitions: Vec<(String, i32)>,
        /// Wall-clock time, microseconds since the UNIX epoch.
        at_us: u64,
    },
    /// Partitions revoked.
    Revoked {
        /// Consumer instance.
        consumer: u32,
        /// Topic and partition of each.
        partitions: Vec<(String, i32)>,
        /// Wall-clock time, microseconds since the UNIX epoch.
        at_us: u64,
    },
    /// Offsets committed (next offset to read).
    Committed {
        /// Consumer instance.
        consumer: u32,
        /// Topic, partition and offset of each.
        offsets: Vec<(String, i32, i64)>,
        /// Wall-clock time, microseconds since the UNIX epoch.
        at_us: u64,
    },
    /// The broker refused the consumer its group or topic (authorization): it reads nothing
    /// while refused. Reported once per distinct reason.
    Refused {
        /// Consumer instance.
        consumer: u32,
        /// The client's error.
        reason: String,
        /// Wall-clock time, microseconds since the UNIX epoch.
        at_us: u64,
    },
    /// A commit failed: the group's committed offsets did not move (for these partitions).
    CommitFailed {
        /// Consumer instance.
        consumer: u32,
        /// Topic, partition and the offset it tried to commit (next offset to read), when
        /// the client says; a commit of the stored offsets names the assigned partitions.
        offsets: Vec<(String, i32, Option<i64>)>,
        /// Which commit, and the client's reason.
        error: String,
        /// Wall-clock time, microseconds since the UNIX epoch.
        at_us: u64,
    },
}

/// Where a consumer sends its events.
pub type EventSink = tokio::sync::mpsc::UnboundedSender<ConsumerEvent>;

/// Microseconds since the UNIX epoch, now.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// What a running consumer is told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep consuming.
    Run,
    /// Finish the record in hand, commit what was processed, leave the group.
    Leave,
    /// Stop at once, as a crashed process would: drop the record in hand, commit nothing
    /// more, and do not leave the group (its session must time out).
    Crash,
}

/// When a group consumer commits offsets (a driver's own copy of the scenario's commit
/// mode: drivers know nothing of scenarios).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// The client's periodic auto-commit.
    Auto,
    /// Store each record's offset after processing it; commit the stored offsets every
    /// second and when leaving (at-least-once).
    AfterProcessing,
    /// Commit each record's offset, synchronously, before processing it (at-most-once).
    BeforeProcessing,
}

/// A consumer under test.
pub trait ConsumerDriver: Send {
    /// Consumes until `stop` says otherwise, reporting every event to `events`; returns an
    /// error if the client failed in a way it cannot recover from.
    fn run(
        self: Box<Self>,
        events: EventSink,
        stop: tokio::sync::watch::Receiver<Stop>,
    ) -> BoxFuture<Result<(), DriverError>>;
}
