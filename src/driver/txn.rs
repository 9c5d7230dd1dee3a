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
//! | sending the offsets never returned (see below) | `Aborted` (no commit was sent; the replacement aborts it) | yes |
//!
//! Every control call runs on a thread of its own and is waited for at most its own timeout
//! plus `HUNG_MARGIN`: librdkafka 2.12 can block in `send_offsets_to_transaction` far past
//! its timeout when the group coordinator's broker dies (confluentinc/librdkafka#5456 and
//! #5511; seen here as a stage that stopped for ten minutes after a broker kill). A call
//! that overruns is abandoned with its producer, which is then never called again.
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
use super::{DriverError, OutRecord, ProducerDriver, SendOutcome};
use crate::history::TxnOutcome;

/// How long initialising transactions may take.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a commit or abort that timed out is tried in all.
const CONTROL_ATTEMPTS: u32 = 3;
/// How long one try of a commit or abort, or sending the offsets, may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much longer than its own timeout a control call is waited for before it counts as
/// hung.
const HUNG_MARGIN: Duration = Duration::from_secs(5);

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
    ) -> Result<Self, DriverError> {
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
        let inner = Arc::new(RdkafkaProducer::new(&settings)?);
        let init = Arc::clone(&inner);
        control_call(INIT_TIMEOUT, move || {
            init.client().init_transactions(INIT_TIMEOUT)
        })
        .await
        .map_err(|source| DriverError::Transaction {
            transactional_id: transactional_id.to_owned(),
            call: "init_transactions",
            source: Box::new(source),
        })?;
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
        let began = tokio::time::Instant::now();
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
        tracing::debug!(
            "{} deliveries reported in {:?}{}",
            outcomes.len(),
            began.elapsed(),
            if stuck { " (some never)" } else { "" }
        );
        let mut error = outcomes.iter().find_map(|o| match o {
            SendOutcome::Ok { .. } => None,
            SendOutcome::Fail(e) | SendOutcome::Indeterminate(e) => Some(e.clone()),
        });
        if error.is_none()
            && let Some((offsets, group)) = offsets
        {
            let p = Arc::clone(&self.inner);
            match control_call(ATTEMPT_TIMEOUT, move || {
                p.client()
                    .send_offsets_to_transaction(&offsets, &group, ATTEMPT_TIMEOUT)
            })
            .await
            {
                Ok(()) => {}
                // The call is still running inside librdkafka: no other call may be made on
                // this producer. Nothing was committed; its replacement aborts the rest.
                Err(e @ ControlError::Hung(_)) => {
                    return TxnReport {
                        outcomes,
                        outcome: TxnOutcome::Aborted,
                        error: Some(format!("sending offsets: {e}")),
                        fatal: true,
                    };
                }
                Err(e) => error = Some(format!("sending offsets: {e}")),
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
                Err(e) if e.requires_abort() => error = Some(format!("commit: {e}")),
                // Still timing out, hung, or fatal: the commit may have reached the
                // coordinator.
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
    async fn control(&self, call: fn(&Client) -> KafkaResult<()>) -> Result<(), ControlError> {
        let mut attempt = 1;
        loop {
            let p = Arc::clone(&self.inner);
            let began = tokio::time::Instant::now();
            let result = control_call(ATTEMPT_TIMEOUT, move || call(p.client())).await;
            tracing::debug!(
                "control call {attempt}: {result:?} in {:?}",
                began.elapsed()
            );
            match result {
                Err(e) if attempt < CONTROL_ATTEMPTS && e.retriable() => attempt += 1,
                result => return result,
            }
        }
    }
}

/// Why a transaction control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// librdkafka returned this error.
    #[error(transparent)]
    Kafka(KafkaError),
    /// The call had not returned this long after it began; it may still be running.
    #[error(
        "the client had not returned after {0:?} (a librdkafka call past its timeout); the \
         producer is abandoned"
    )]
    Hung(Duration),
    /// No thread could be started to make the call (it was not made).
    #[error("no thread for the call: {0}")]
    NoThread(#[source] std::io::Error),
}

impl ControlError {
    fn requires_abort(&self) -> bool {
        matches!(self, ControlError::Kafka(KafkaError::Transaction(t)) if t.txn_requires_abort())
    }

    fn retriable(&self) -> bool {
        matches!(self, ControlError::Kafka(KafkaError::Transaction(t)) if t.is_retriable())
    }
}

/// Runs the blocking librdkafka call `f`, whose own timeout is `timeout`, on a thread of its
/// own, and waits for it at most `timeout` + [`HUNG_MARGIN`]. A hung call's thread is left
/// behind: it holds its producer and ends when (if ever) librdkafka returns, and it keeps
/// neither the runtime nor the process from ending.
async fn control_call<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> KafkaResult<T> + Send + 'static,
) -> Result<T, ControlError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("kh-txn-control".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if let Err(e) = spawned {
        return Err(ControlError::NoThread(e));
    }
    let limit = timeout + HUNG_MARGIN;
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(result)) => result.map_err(ControlError::Kafka),
        Ok(Err(_)) => Err(ControlError::Kafka(KafkaError::Canceled)),
        Err(_) => Err(ControlError::Hung(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_control_call_returns_its_result() {
        let ok = control_call(Duration::from_secs(1), || Ok::<_, KafkaError>(7)).await;
        assert_eq!(ok.unwrap(), 7);
        let err = control_call(Duration::from_secs(1), || {
            Err::<(), _>(KafkaError::Canceled)
        });
        assert!(matches!(
            err.await,
            Err(ControlError::Kafka(KafkaError::Canceled))
        ));
    }

    /// A call that blocks past its timeout (as librdkafka's send_offsets_to_transaction can)
    /// is given up after the margin, not waited for.
    #[tokio::test]
    async fn a_call_past_its_timeout_counts_as_hung() {
        let began = std::time::Instant::now();
        let hung = control_call(Duration::ZERO, || {
            std::thread::sleep(HUNG_MARGIN * 3);
            Ok::<_, KafkaError>(())
        })
        .await;
        let waited = began.elapsed();
        assert!(
            matches!(hung, Err(ControlError::Hung(d)) if d == HUNG_MARGIN),
            "{hung:?}"
        );
        assert!(waited < HUNG_MARGIN * 2, "waited {waited:?}");
        assert!(!hung.unwrap_err().requires_abort());
    }
}
