//! Transactions on librdkafka: a producer that sends a batch of records in one transaction,
//! optionally with a consumer group's offsets (the consume-transform-produce step), and
//! commits it, or aborts it on purpose or after an error.
//!
//! ```text
//!   begin ──send each record (stamped)──> await every delivery
//!         ──[send_offsets_to_transaction]──> commit (or abort) ──> outcomes + TxnOutcome
//! ```
//!
//! A commit that fails with an error the transaction can recover from is aborted (the
//! records must then never be seen); one that times out or leaves the producer fatally
//! broken is `Indeterminate`: the broker may have committed it or not.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::TopicPartitionList;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaError;
use rdkafka::producer::Producer;

use super::rdkafka::RdkafkaProducer;
use super::{OutRecord, ProducerDriver, SendOutcome};
use crate::history::TxnOutcome;

/// How long one transaction control call (init, commit, abort) may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// A transactional librdkafka producer.
pub struct TransactionalProducer {
    inner: Arc<RdkafkaProducer>,
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
    /// The producer can no longer be used (a fatal error): make a new one with the same
    /// transactional id, which fences this one.
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
        let inner = Arc::new(RdkafkaProducer::new(&settings).map_err(|e| e.to_string())?);
        let init = Arc::clone(&inner);
        blocking(move || init.client().init_transactions(CONTROL_TIMEOUT))
            .await
            .map_err(|e| format!("initialising transactions of {transactional_id}: {e}"))?;
        Ok(TransactionalProducer { inner })
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
        let client = || Arc::clone(&self.inner);
        if let Err(e) = client().client().begin_transaction() {
            return TxnReport {
                outcomes: vec![SendOutcome::Fail(format!("no transaction: {e}")); records.len()],
                outcome: TxnOutcome::Aborted,
                fatal: is_fatal(&e),
                error: Some(e.to_string()),
            };
        }
        let pending: Vec<_> = records.into_iter().map(|r| self.inner.send(r)).collect();
        let mut outcomes = Vec::with_capacity(pending.len());
        for p in pending {
            outcomes.push(p.await);
        }
        let mut error = outcomes.iter().find_map(|o| match o {
            SendOutcome::Ok { .. } => None,
            SendOutcome::Fail(e) | SendOutcome::Indeterminate(e) => Some(e.clone()),
        });
        if error.is_none()
            && let Some((offsets, group)) = offsets
        {
            let p = client();
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
            let p = client();
            match blocking(move || p.client().commit_transaction(CONTROL_TIMEOUT)).await {
                Ok(()) => {
                    return TxnReport {
                        outcomes,
                        outcome: TxnOutcome::Committed,
                        error: None,
                        fatal: false,
                    };
                }
                Err(e) if requires_abort(&e) => error = Some(format!("commit: {e}")),
                Err(e) => {
                    return TxnReport {
                        outcomes,
                        outcome: TxnOutcome::Indeterminate,
                        fatal: is_fatal(&e),
                        error: Some(format!("commit: {e}")),
                    };
                }
            }
        }
        let p = client();
        match blocking(move || p.client().abort_transaction(CONTROL_TIMEOUT)).await {
            Ok(()) => TxnReport {
                outcomes,
                outcome: TxnOutcome::Aborted,
                error,
                fatal: false,
            },
            Err(e) => TxnReport {
                outcomes,
                outcome: TxnOutcome::Indeterminate,
                fatal: is_fatal(&e),
                error: Some(format!("abort: {e}")),
            },
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

fn is_fatal(e: &KafkaError) -> bool {
    matches!(e, KafkaError::Transaction(t) if t.is_fatal())
}
