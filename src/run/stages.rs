//! The stage adapter: starts every consume-transform-produce stage instance
//! ([`crate::driver::stage`]) and turns each transaction it reports into the collector's
//! events, on the run clock.
//!
//! ```text
//!   StagePlan ──> Stage::run ──StageTxn──> adapter task ──Ev::Txn, Ev::Done per output──> collector
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::collector::{Ev, SentKey};
use super::producers::Pending;
use crate::cluster::Cluster;
use crate::driver::DriverError;
use crate::driver::stage::{Stage, StageTxn};
use crate::history::{TopicId, Txn, TxnOutcome};
use crate::scenario::Plan;

/// Starts every stage instance (producer ids after the producer tables' instances); their
/// transactions reach the collector as sends and [`Txn`]s. Returns the stage tasks.
pub(super) fn start(
    plan: &Plan,
    cluster: &dyn Cluster,
    topics: &[String],
    suffix: &str,
    tx: &mpsc::UnboundedSender<Ev>,
    epoch0: &Arc<AtomicU64>,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<Result<(), DriverError>>> {
    let mut tasks = Vec::new();
    let mut id: u32 = plan.producers.iter().map(|p| p.instances).sum();
    for st in &plan.stages {
        for _ in 0..st.instances {
            let mut settings = cluster.client_config();
            settings.extend(st.client.clone());
            let stage = Stage {
                producer: id,
                settings,
                group: format!("{}{suffix}", st.group),
                input: topics[st.input].clone(),
                output: topics[st.output].clone(),
                every: st.transaction_every as usize,
            };
            id += 1;
            let (events, rx) = mpsc::unbounded_channel::<StageTxn>();
            tokio::spawn(adapt(
                rx,
                tx.clone(),
                Arc::clone(epoch0),
                st.output as TopicId,
            ));
            tasks.push(tokio::spawn(stage.run(events, stop.clone())));
        }
    }
    tasks
}

/// Forwards one stage's transactions to the collector: the transaction, then each output
/// record as a send (intended and sent when the stage read its input, done at the commit).
async fn adapt(
    mut rx: mpsc::UnboundedReceiver<StageTxn>,
    tx: mpsc::UnboundedSender<Ev>,
    epoch0: Arc<AtomicU64>,
    output: TopicId,
) {
    while let Some(t) = rx.recv().await {
        let epoch = epoch0.load(Ordering::Relaxed);
        let done = t.at_us.saturating_sub(epoch);
        let visible = t.report.outcome == TxnOutcome::Committed;
        if let (Some(first), Some(last)) = (t.sent.first(), t.sent.last()) {
            let _ = tx.send(Ev::Txn(Txn {
                producer: first.0.producer,
                first_seq: first.0.seq,
                last_seq: last.0.seq,
                outcome: t.report.outcome,
                at: done,
            }));
        }
        for ((id, key, size, intended_us), outcome) in t.sent.into_iter().zip(t.report.outcomes) {
            let intended = intended_us.saturating_sub(epoch).min(done);
            let pending = Pending {
                id,
                key: SentKey::Bytes(key),
                size,
                intended,
                sent: intended,
            };
            let _ = tx.send(Ev::Done(pending.done(output, done, outcome, visible)));
        }
    }
}
