//! Waiting on the consumers: before the first record, until every group holds all its
//! partitions; after the last send, until every group has been handed everything the log
//! holds for it (the drain).
//!
//! ```text
//!   producers done ──Ev::Barrier──> collector has recorded every outcome sent before it
//!        └──> targets per partition: max(1 + highest acknowledged offset, log end offset)
//!        └──> poll Live until every reader's delivered offsets reach the targets (or time out)
//! ```
//!
//! The drain waits on ground truth, not on what the collector happened to have seen: the
//! barrier makes every outcome count before the targets are read, and the log's end
//! offsets (where a read-uncommitted consumer can get them) include records whose sends
//! ended undecided yet landed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::collector::{Ev, Live};
use crate::history::TopicId;
use crate::scenario::{ConsumerPlan, Plan};

/// How often the figures are looked at.
const POLL: Duration = Duration::from_millis(50);

/// Per topic and partition, the offset the log ends at.
pub(super) type EndOffsets = HashMap<(TopicId, i32), i64>;

/// The consumer tables that stand for their group ([`Plan::reader_index`]).
fn readers(plan: &Plan) -> impl Iterator<Item = (usize, &ConsumerPlan)> {
    plan.consumers
        .iter()
        .enumerate()
        .filter(|&(i, _)| plan.reader_index(i) == i)
}

/// Waits (up to 30 s) until every group consumer plan has all its topic's partitions.
pub(super) async fn wait_for_assignment(plan: &Plan, live: &Mutex<Live>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ready = readers(plan).all(|(ci, c)| {
            let partitions = plan.topics[c.topic].partitions as usize;
            Live::lock(live).assigned.get(&ci).map_or(0, |a| a.len()) >= partitions
        });
        if ready {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
    tracing::warn!("consumers were not assigned every partition within 30 s; starting anyway");
}

/// Waits until every stage has moved all its input and every consumer plan has been
/// delivered every record up to its partitions' targets: the acknowledged offsets (once the
/// collector has recorded every outcome sent before this call) and `end_offsets`. False when
/// `timeout` passes first.
pub(super) async fn drain(
    plan: &Plan,
    live: &Mutex<Live>,
    collector: &mpsc::UnboundedSender<Ev>,
    end_offsets: &EndOffsets,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    let (reply, recorded) = oneshot::channel();
    let barrier = async { collector.send(Ev::Barrier(reply)).is_ok() && recorded.await.is_ok() };
    match tokio::time::timeout(timeout, barrier).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("the collector stopped before the drain");
            return false;
        }
        Err(_) => {
            tracing::warn!("the collector did not record every outcome within {timeout:?}");
            return false;
        }
    }
    loop {
        if caught_up(plan, &Live::lock(live), end_offsets) {
            return true;
        }
        if Instant::now() >= deadline {
            tracing::warn!("consumers did not catch up within {timeout:?}");
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether stages and consumers have caught up with the targets.
fn caught_up(plan: &Plan, l: &Live, end_offsets: &EndOffsets) -> bool {
    let visible = |t: usize| l.visible_acks.get(&(t as TopicId)).copied().unwrap_or(0);
    let stages_done = plan
        .stages
        .iter()
        .all(|st| visible(st.output) >= visible(st.input));
    let mut targets: HashMap<(TopicId, i32), i64> = l.acked_high.clone();
    for (&tp, &end) in end_offsets {
        let target = targets.entry(tp).or_insert(0);
        *target = (*target).max(end);
    }
    stages_done
        && readers(plan).all(|(ci, c)| {
            targets
                .iter()
                .filter(|((t, _), _)| usize::from(*t) == c.topic)
                .all(|(&(t, p), &target)| {
                    l.delivered_high.get(&(ci, t, p)).copied().unwrap_or(0) >= target
                })
        })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::sync::{Arc, RwLock};

    use super::*;
    use crate::driver::{ConsumerEvent, SendOutcome};
    use crate::history::MsgId;
    use crate::run::collector::{Collector, SendDone, SentKey};

    const SCENARIO: &str = r#"
name = "drain"
messages = 11
[[topics]]
name = "t"
partitions = 1
[[producers]]
name = "p"
driver = "rdkafka"
topic = "t"
template = "webhook"
size = "400B"
keys = { count = 10, distribution = "uniform" }
rate = "1000/s"
[[consumers]]
name = "c"
driver = "rdkafka"
topic = "t"
group = "g"
"#;

    fn plan() -> Plan {
        crate::scenario::parse(std::path::Path::new("drain.toml"), SCENARIO).expect("a valid plan")
    }

    fn acked(offset: i64) -> Ev {
        Ev::Done(SendDone {
            id: MsgId {
                producer: 0,
                seq: offset as u64,
            },
            topic: 0,
            key: SentKey::Bytes(b"k".to_vec()),
            size: 1,
            intended: 0,
            sent: 0,
            done: 0,
            outcome: SendOutcome::Ok {
                partition: 0,
                offset,
            },
            visible: true,
        })
    }

    fn delivered(offset: i64) -> Ev {
        Ev::Consumer(ConsumerEvent::Delivered {
            consumer: 0,
            topic: "t".into(),
            partition: 0,
            offset,
            stamp: None,
            at_us: 0,
        })
    }

    /// A real collector behind a channel that hands it each event `lag` late, as a busy
    /// collector would be: what the drain must not mistake for having caught up.
    fn lagging_collector(live: &Arc<Mutex<Live>>, lag: Duration) -> mpsc::UnboundedSender<Ev> {
        let (tx, rx) = mpsc::unbounded_channel();
        let collector = Collector::new(
            Arc::clone(live),
            vec!["t".into()],
            Arc::new(RwLock::new(vec![0])),
            Arc::new(AtomicU64::new(0)),
            0,
        );
        tokio::spawn(collector.run(rx, false));
        let (slow_tx, mut slow_rx) = mpsc::unbounded_channel::<Ev>();
        tokio::spawn(async move {
            while let Some(e) = slow_rx.recv().await {
                tokio::time::sleep(lag).await;
                if tx.send(e).is_err() {
                    break;
                }
            }
        });
        slow_tx
    }

    /// Ten records acknowledged and delivered, then an eleventh acknowledged whose outcome the
    /// collector has not recorded yet when the drain starts.
    async fn eleventh_in_flight(live: &Arc<Mutex<Live>>, tx: &mpsc::UnboundedSender<Ev>) {
        for offset in 0..10 {
            tx.send(acked(offset)).expect("collector");
            tx.send(delivered(offset)).expect("collector");
        }
        while Live::lock(live).delivered_high.get(&(0, 0, 0)) != Some(&10) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tx.send(acked(10)).expect("collector");
    }

    #[tokio::test]
    async fn an_outcome_the_collector_has_not_recorded_yet_holds_the_drain() {
        let plan = plan();
        let live = Arc::new(Mutex::new(Live::default()));
        let tx = lagging_collector(&live, Duration::from_millis(20));
        eleventh_in_flight(&live, &tx).await;
        // The figures alone say "caught up" (10 acked, 10 delivered): the race that reported
        // records as lost_delivery that no consumer had had the time to read.
        assert!(caught_up(&plan, &Live::lock(&live), &EndOffsets::new()));
        let drained = drain(
            &plan,
            &live,
            &tx,
            &EndOffsets::new(),
            Duration::from_secs(1),
        )
        .await;
        assert!(!drained, "offset 10 was acknowledged and never delivered");
    }

    #[tokio::test]
    async fn the_drain_ends_once_the_last_record_is_delivered() {
        let plan = plan();
        let live = Arc::new(Mutex::new(Live::default()));
        let tx = lagging_collector(&live, Duration::from_millis(20));
        eleventh_in_flight(&live, &tx).await;
        tx.send(delivered(10)).expect("collector");
        let drained = drain(
            &plan,
            &live,
            &tx,
            &EndOffsets::new(),
            Duration::from_secs(5),
        )
        .await;
        assert!(drained);
        assert_eq!(Live::lock(&live).delivered_high.get(&(0, 0, 0)), Some(&11));
    }

    #[tokio::test]
    async fn records_in_the_log_beyond_every_acknowledgement_hold_the_drain() {
        let plan = plan();
        let live = Arc::new(Mutex::new(Live::default()));
        let tx = lagging_collector(&live, Duration::ZERO);
        eleventh_in_flight(&live, &tx).await;
        tx.send(delivered(10)).expect("collector");
        // Offsets 11 and 12 came from sends that ended undecided: in the log all the same.
        let ends = EndOffsets::from([((0, 0), 13)]);
        assert!(!drain(&plan, &live, &tx, &ends, Duration::from_millis(500)).await);
        tx.send(delivered(11)).expect("collector");
        tx.send(delivered(12)).expect("collector");
        assert!(drain(&plan, &live, &tx, &ends, Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn a_collector_that_is_gone_is_not_caught_up() {
        let plan = plan();
        let live = Arc::new(Mutex::new(Live::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        drop(rx);
        assert!(
            !drain(
                &plan,
                &live,
                &tx,
                &EndOffsets::new(),
                Duration::from_secs(1)
            )
            .await
        );
    }
}
