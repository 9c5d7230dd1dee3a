//! Transactions on librdkafka: a producer that sends a batch of records in one transaction,
//! optionally with a consumer group's offsets (the consume-transform-produce step), and
//! commits it, or aborts it on purpose or after an error.
//!
//! ```text
//!   begin ──send each record (stamped)──> await every delivery
//!         ──[send_offsets_to_transaction]──> commit (or abort) ──> outcomes + TxnOutcome
//! ```
//!
//! How a transaction ends, and what the caller does next:
//!
//! | what happened | outcome | `fatal` |
//! |---|---|---|
//! | commit succeeded | `Committed` | no |
//! | aborted on purpose, or a send, the offsets or the commit failed in a way that requires an abort | `Aborted` | only if the abort call failed |
//! | the commit still timed out after three tries of 10 s, or failed fatally (e.g. fenced) | `Indeterminate`: the broker may have committed it | yes |
//! | `begin_transaction` refused (nothing sent) | `Aborted` | yes |
//! | a delivery not reported within `transaction.timeout.ms` + 5 s (a client that lost it) | `Aborted` (never committed; the replacement fences it) | yes |
//!
//! A `fatal` producer can no longer be used: the caller makes a new one with the same
//! `transactional.id`, which fences this one and makes the coordinator finish whatever it left
//! open. Producers are idempotent with `acks=all` (Kafka requires both for transactions).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::TopicPartitionList;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::producer::Producer;

use super::rdkafka::{Client, RdkafkaProducer};
use super::{OutRecord, ProducerDriver, SendOutcome};
use crate::history::TxnOutcome;

/// How long one transaction control call (init, sending offsets) may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a commit or abort that timed out is tried in all.
const CONTROL_ATTEMPTS: u32 = 3;
/// How long one try of a commit or abort may take: all tries together take no longer than
/// one other control call.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// librdkafka's default `transaction.timeout.ms`.
const DEFAULT_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// How much longer than `transaction.timeout.ms` a transaction's deliveries may take.
const DELIVERY_MARGIN: Duration = Duration::from_secs(5);

/// A transactional librdkafka producer.
pub struct TransactionalProducer {
    inner: Arc<RdkafkaProducer>,
    /// How long a transaction's deliveries may take before the producer counts as broken:
    /// `transaction.timeout.ms` (librdkafka's bound on each delivery) plus [`DELIVERY_MARGIN`].
    delivery_deadline: Duration,
}

/// What became of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnReport {
    /// Each record's delivery, in order.
    pub outcomes: Vec<SendOutcome>,
    /// The transaction's end.
    pub outcome: TxnOutcome,
    /// Why it aborted or is undecided, when not on purpose.
    pub error: Option<String>,
    /// The producer can no longer be used (a fatal error, or a commit or abort it could not
    /// finish): make a new one with the same transactional id, which fences this one.
    pub fatal: bool,
}

impl TransactionalProducer {
    /// A producer with `transactional.id` set, its transactions initialised.
    pub async fn new(
        settings: &BTreeMap<String, String>,
        transactional_id: &str,
    ) -> Result<Self, String> {
        let mut settings = settings.clone();
        settings.insert("transactional.id".into(), transactional_id.to_owned());
        // What librdkafka implies for a transactional producer, stated; a scenario that sets
        // otherwise is refused when the client is created.
        for (key, value) in [("enable.idempotence", "true"), ("acks", "all")] {
            settings.entry(key.into()).or_insert_with(|| value.into());
        }
        let transaction_timeout = settings
            .get("transaction.timeout.ms")
            .and_then(|ms| ms.trim().parse().ok())
            .map_or(DEFAULT_TRANSACTION_TIMEOUT, Duration::from_millis);
        let inner = Arc::new(RdkafkaProducer::new(&settings).map_err(|e| e.to_string())?);
        let init = Arc::clone(&inner);
        blocking(move || init.client().init_transactions(CONTROL_TIMEOUT))
            .await
            .map_err(|e| format!("initialising transactions of {transactional_id}: {e}"))?;
        Ok(TransactionalProducer {
            inner,
            delivery_deadline: transaction_timeout + DELIVERY_MARGIN,
        })
    }

    /// The producer, for sends outside the transaction calls (flush).
    pub fn driver(&self) -> Arc<dyn ProducerDriver> {
        Arc::clone(&self.inner) as Arc<dyn ProducerDriver>
    }

    /// Sends `records` in one transaction, with `offsets` of the consumer group `group` if
    /// given, then commits it, or aborts it when `abort` is set or anything failed.
    pub async fn transaction(
        &self,
        records: Vec<OutRecord>,
        offsets: Option<(TopicPartitionList, ConsumerGroupMetadata)>,
        abort: bool,
    ) -> TxnReport {
        if let Err(e) = self.inner.client().begin_transaction() {
            // Nothing was sent. The producer is fatally broken or still inside an earlier
            // transaction it could not end: either way only a new one can go on.
            return TxnReport {
                outcomes: vec![SendOutcome::Fail(format!("no transaction: {e}")); records.len()],
                outcome: TxnOutcome::Aborted,
                error: Some(format!("begin: {e}")),
                fatal: true,
            };
        }
        let pending: Vec<_> = records.into_iter().map(|r| self.inner.send(r)).collect();
        let mut outcomes = Vec::with_capacity(pending.len());
        // librdkafka reports every delivery within `transaction.timeout.ms`; a producer that
        // has not, past a margin, is broken: its sends are undecided and it is replaced.
        let deadline = tokio::time::Instant::now() + self.delivery_deadline;
        let mut stuck = false;
        for p in pending {
            match tokio::time::timeout_at(deadline, p).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(_) => {
                    stuck = true;
                    outcomes.push(SendOutcome::Indeterminate(format!(
                        "no delivery report within {:?}",
                        self.delivery_deadline
                    )));
                }
            }
        }
        let mut error = outcomes.iter().find_map(|o| match o {
            SendOutcome::Ok { .. } => None,
            SendOutcome::Fail(e) | SendOutcome::Indeterminate(e) => Some(e.clone()),
        });
        if error.is_none()
            && let Some((offsets, group)) = offsets
        {
            let p = Arc::clone(&self.inner);
            if let Err(e) = blocking(move || {
                p.client()
                    .send_offsets_to_transaction(&offsets, &group, CONTROL_TIMEOUT)
            })
            .await
            {
                error = Some(format!("sending offsets: {e}"));
            }
        }
        if !abort && error.is_none() {
            match self
                .control(|p| p.commit_transaction(ATTEMPT_TIMEOUT))
                .await
            {
                Ok(()) => {
                    return TxnReport {
                        outcomes,
                        outcome: TxnOutcome::Committed,
                        error: None,
                        fatal: false,
                    };
                }
                Err(e) if requires_abort(&e) => error = Some(format!("commit: {e}")),
                // Still timing out, or fatal: the commit may have reached the coordinator.
                Err(e) => {
                    return TxnReport {
                        outcomes,
                        outcome: TxnOutcome::Indeterminate,
                        error: Some(format!("commit: {e}")),
                        fatal: true,
                    };
                }
            }
        }
        // No commit was attempted (a send failed or was never reported: `error` says which),
        // or it failed in a way that requires an abort: whether or not the abort call
        // succeeds, this transaction can never be committed (a producer that replaces this
        // one aborts it when it initialises). A producer that lost a delivery is replaced.
        let aborted = self.control(|p| p.abort_transaction(ATTEMPT_TIMEOUT)).await;
        TxnReport {
            outcomes,
            outcome: TxnOutcome::Aborted,
            fatal: stuck || aborted.is_err(),
            error: match (error, aborted) {
                (error, Ok(())) => error,
                (None, Err(e)) => Some(format!("abort: {e}")),
                (Some(error), Err(e)) => Some(format!("{error}; abort: {e}")),
            },
        }
    }

    /// Runs a commit or abort call, again while librdkafka says a retry may succeed (it timed
    /// out: the call resumes where it stopped), up to [`CONTROL_ATTEMPTS`] times.
    async fn control(&self, call: fn(&Client) -> KafkaResult<()>) -> KafkaResult<()> {
        let mut attempt = 1;
        loop {
            let p = Arc::clone(&self.inner);
            match blocking(move || call(p.client())).await {
                Err(e) if attempt < CONTROL_ATTEMPTS && retriable(&e) => attempt += 1,
                result => return result,
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
) -> Result<T, KafkaError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or(Err(KafkaError::Canceled))
}

fn requires_abort(e: &KafkaError) -> bool {
    matches!(e, KafkaError::Transaction(t) if t.txn_requires_abort())
}

fn retriable(e: &KafkaError) -> bool {
    matches!(e, KafkaError::Transaction(t) if t.is_retriable())
}
