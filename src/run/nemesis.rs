//! The nemesis: breaks things on the scenario's schedule and records what it did.
//!
//! ```text
//!   Plan.faults ──> one task per [[faults]] table ──> Cluster::apply (broker faults)
//!                        │  (time or ack count)  └──> Members (consumer faults, the runner's)
//!                        └──> FaultRecord { at, action, target, outcome } ──> History
//! ```
//!
//! Each fault table runs as its own task: wait for its trigger, fire, undo after
//! `restart_after` if asked, repeat `every` as many `times` as asked. Choices made at run time
//! (a random node, which member to remove) come from the seed and the table's index, so the
//! same seed picks the same targets. When the run stops, pending firings are dropped but
//! every undo still happens at once, so no broker is left down for the drain and read-back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::cluster::{Cluster, ClusterError, NodeId, NodeOp};
use crate::history::{FaultRecord, Micros};
use crate::scenario::{BrokerTarget, FaultAction, FaultPlan, FaultTarget, Seeds, Trigger};

/// A boxed future, as [`Members`] returns them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a fault could not be applied: recorded as the fault's outcome, the run goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// The cluster could not apply it, or could not say which node a target names.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The target names no node right now.
    #[error("{0}")]
    NoNode(&'static str),
    /// No member of the consumer table is running.
    #[error("no member of {table} is running")]
    NoMember {
        /// The consumer table.
        table: String,
    },
    /// The consumer instance did not stop as asked.
    #[error("consumer {instance}: {reason}")]
    Consumer {
        /// The instance.
        instance: u32,
        /// How it ended instead.
        reason: String,
    },
}

/// How the nemesis changes consumer groups: implemented by the runner, which owns the
/// consumers. Each call returns the instance it acted on, or why it could not.
pub trait Members: Send + Sync {
    /// Starts one more member of consumer table `consumer`.
    fn add(&self, consumer: usize) -> BoxFuture<'_, Result<u32, FaultError>>;
    /// Stops a member of consumer table `consumer`, chosen with `pick` among the live ones;
    /// `crash` stops it without leaving the group.
    fn remove(
        &self,
        consumer: usize,
        pick: u64,
        crash: bool,
    ) -> BoxFuture<'_, Result<u32, FaultError>>;
}

/// What the nemesis needs to run.
pub struct Nemesis<'a> {
    /// The schedule.
    pub faults: &'a [FaultPlan],
    /// Actual topic names, indexed like the plan's topics.
    pub topics: &'a [String],
    /// Consumer table names, indexed like the plan's consumers.
    pub consumer_names: Vec<String>,
    /// The cluster to break.
    pub cluster: &'a dyn Cluster,
    /// The runner's consumers.
    pub members: &'a dyn Members,
    /// Acknowledged sends so far, for `after_acks` triggers.
    pub acked: &'a (dyn Fn() -> u64 + Sync),
    /// The run's start: fault times are offsets from it (tokio's clock, so tests can pause it).
    pub start: Instant,
    /// The run's seeds (its stream "nemesis", one per fault table).
    pub seeds: Seeds,
}

impl Nemesis<'_> {
    /// Runs the whole schedule until it is done or `stop` turns true; returns every fault
    /// applied, in time order.
    pub async fn run(&self, stop: watch::Receiver<bool>) -> Vec<FaultRecord> {
        let records = Mutex::new(Vec::new());
        let tasks = self
            .faults
            .iter()
            .enumerate()
            .map(|(i, fault)| self.run_one(i, fault, stop.clone(), &records));
        futures::future::join_all(tasks).await;
        let mut records = records.into_inner().unwrap_or_else(|e| e.into_inner());
        records.sort_by_key(|r: &FaultRecord| r.at);
        records
    }

    async fn run_one(
        &self,
        index: usize,
        fault: &FaultPlan,
        mut stop: watch::Receiver<bool>,
        records: &Mutex<Vec<FaultRecord>>,
    ) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seeds.stream("nemesis", index as u64));
        let first = match fault.trigger {
            Trigger::At(at) => self.start + at,
            Trigger::AfterAcks(n) => loop {
                if (self.acked)() >= n {
                    break Instant::now();
                }
                if stopped_within(&mut stop, Duration::from_millis(20)).await {
                    return never_fired(index, fault, fault.times);
                }
            },
        };
        for k in 0..fault.times {
            let due = first + fault.every.unwrap_or_default() * k;
            if stopped_within(&mut stop, due.saturating_duration_since(Instant::now())).await {
                return never_fired(index, fault, fault.times - k);
            }
            let undo = self.fire(fault, &mut rng, records).await;
            if let (Some(after), Some((node, op, target))) = (fault.undo_after, undo) {
                stopped_within(&mut stop, after).await;
                let started = self.now();
                let outcome = self.cluster.apply(node, op).await;
                let action = match op {
                    NodeOp::Delay(_) => "remove_delay".to_owned(),
                    other => other.to_string(),
                };
                self.record(
                    records,
                    started,
                    action,
                    target,
                    outcome.map_err(Into::into),
                );
            }
        }
    }

    /// Applies one firing; returns what undoes it, when it was a broker fault that worked.
    async fn fire(
        &self,
        fault: &FaultPlan,
        rng: &mut rand::rngs::StdRng,
        records: &Mutex<Vec<FaultRecord>>,
    ) -> Option<(NodeId, NodeOp, String)> {
        let action = fault.action.name();
        let started = self.now();
        match (&fault.target, fault.action) {
            (FaultTarget::Broker(target), FaultAction::Broker(op)) => {
                let op = super::backend::node_op(op);
                let (node, described) = match self.resolve(target, rng).await {
                    Ok(found) => found,
                    Err((described, why)) => {
                        self.record(records, started, action, described, Err(why));
                        return None;
                    }
                };
                let outcome = self.cluster.apply(node, op).await;
                let ok = outcome.is_ok();
                self.record(
                    records,
                    started,
                    action,
                    described.clone(),
                    outcome.map_err(Into::into),
                );
                ok.then_some((node, op.undo(), format!("node {node}")))
            }
            (&FaultTarget::Consumer(consumer), action_kind) => {
                let name = &self.consumer_names[consumer];
                let result = match action_kind {
                    FaultAction::AddConsumer => self.members.add(consumer).await,
                    crash => {
                        let crash = crash == FaultAction::CrashConsumer;
                        self.members.remove(consumer, rng.random(), crash).await
                    }
                };
                let target = match &result {
                    Ok(instance) => format!("consumer {name}#{instance}"),
                    Err(_) => format!("consumer {name}"),
                };
                self.record(records, started, action, target, result.map(|_| ()));
                None
            }
            _ => None,
        }
    }

    /// The node a broker target names right now, described for the report.
    async fn resolve(
        &self,
        target: &BrokerTarget,
        rng: &mut rand::rngs::StdRng,
    ) -> Result<(NodeId, String), (String, FaultError)> {
        match *target {
            BrokerTarget::Node(id) => Ok((id, format!("node {id}"))),
            BrokerTarget::Random => {
                let ids = self.cluster.node_ids();
                if ids.is_empty() {
                    return Err((
                        "random node".into(),
                        FaultError::NoNode("the cluster lists no nodes"),
                    ));
                }
                let id = ids[rng.random_range(0..ids.len())];
                Ok((id, format!("node {id} (random)")))
            }
            BrokerTarget::Controller => match self.cluster.active_controller().await {
                Ok(id) => Ok((id, format!("node {id} (active controller)"))),
                Err(e) => Err(("active controller".into(), e.into())),
            },
            BrokerTarget::Leader { topic, partition } => {
                let name = &self.topics[topic];
                let described = format!("leader of {name}/{partition}");
                match self.cluster.partition_leader(name, partition).await {
                    Ok(Some(id)) => Ok((id, format!("node {id} ({described})"))),
                    Ok(None) => Err((
                        described,
                        FaultError::NoNode("the partition has no leader now"),
                    )),
                    Err(e) => Err((described, e.into())),
                }
            }
        }
    }

    /// Run time now.
    fn now(&self) -> Micros {
        self.start.elapsed().as_micros() as Micros
    }

    fn record(
        &self,
        records: &Mutex<Vec<FaultRecord>>,
        at: Micros,
        action: String,
        target: String,
        outcome: Result<(), FaultError>,
    ) {
        let took = self.now().saturating_sub(at);
        let outcome = match outcome {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        tracing::info!(at_s = at as f64 / 1e6, took_s = took as f64 / 1e6, %action, %target, %outcome, "fault");
        records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(FaultRecord {
                at,
                took,
                action,
                target,
                outcome,
            });
    }
}

/// Tells the user that `missed` firings of fault `index` never happened: the nemesis stops
/// when the producers finish.
fn never_fired(index: usize, fault: &FaultPlan, missed: u32) {
    crate::note(format!(
        "faults[{index}] ({}): {missed} of {} firing(s) never happened, because the producers \
         finished first; schedule it earlier or send for longer",
        fault.action.name(),
        fault.times
    ));
}

/// Sleeps for `wait` unless `stop` turns true first; returns whether it did.
async fn stopped_within(stop: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::time::timeout(wait, stop.wait_for(|s| *s))
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::cluster::{Capability, ClusterError, ClusterKind};
    use crate::scenario::{BrokerOp, FaultTarget};

    /// A cluster that records what was applied to it.
    #[derive(Default)]
    struct Fake {
        applied: Mutex<Vec<(NodeId, NodeOp)>>,
    }

    #[async_trait::async_trait]
    impl Cluster for Fake {
        fn kind(&self) -> ClusterKind {
            ClusterKind::Embedded
        }
        fn bootstrap_servers(&self) -> String {
            String::new()
        }
        fn kafka_version(&self) -> Option<String> {
            None
        }
        fn node_ids(&self) -> Vec<NodeId> {
            vec![1, 2, 3]
        }
        fn capabilities(&self) -> Vec<Capability> {
            ClusterKind::Embedded.capabilities()
        }
        async fn partition_leader(
            &self,
            _topic: &str,
            partition: i32,
        ) -> Result<Option<NodeId>, ClusterError> {
            Ok((partition == 0).then_some(2))
        }
        async fn apply(&self, node: NodeId, op: NodeOp) -> Result<(), ClusterError> {
            self.applied.lock().unwrap().push((node, op));
            Ok(())
        }
    }

    struct NoMembers;
    impl Members for NoMembers {
        fn add(&self, _: usize) -> BoxFuture<'_, Result<u32, FaultError>> {
            Box::pin(async { Ok(7) })
        }
        fn remove(
            &self,
            _: usize,
            pick: u64,
            crash: bool,
        ) -> BoxFuture<'_, Result<u32, FaultError>> {
            Box::pin(async move {
                if crash {
                    Err(FaultError::NoNode("no"))
                } else {
                    Ok(pick as u32 % 3)
                }
            })
        }
    }

    fn fault(action: FaultAction, target: FaultTarget, trigger: Trigger) -> FaultPlan {
        FaultPlan {
            action,
            target,
            trigger,
            every: None,
            times: 1,
            undo_after: None,
            position: (1, 1),
        }
    }

    async fn run(
        faults: &[FaultPlan],
        seed: u64,
        stop_after: Duration,
    ) -> (Vec<FaultRecord>, Vec<(NodeId, NodeOp)>) {
        let cluster = Fake::default();
        let acked = AtomicU64::new(0);
        let topics = vec!["orders-x".to_owned()];
        let nemesis = Nemesis {
            faults,
            topics: &topics,
            consumer_names: vec!["workers".into()],
            cluster: &cluster,
            members: &NoMembers,
            acked: &|| acked.load(Ordering::Relaxed),
            start: Instant::now(),
            seeds: Seeds::new(seed),
        };
        let (tx, rx) = watch::channel(false);
        let stopper = async {
            tokio::time::sleep(stop_after / 2).await;
            acked.store(100, Ordering::Relaxed);
            tokio::time::sleep(stop_after / 2).await;
            let _ = tx.send(true);
        };
        let (records, ()) = tokio::join!(nemesis.run(rx), stopper);
        let applied = cluster.applied.lock().unwrap().clone();
        (records, applied)
    }

    #[tokio::test(start_paused = true)]
    async fn fires_on_schedule_and_undoes_every_firing() {
        let mut kill = fault(
            FaultAction::Broker(BrokerOp::Kill),
            FaultTarget::Broker(BrokerTarget::Leader {
                topic: 0,
                partition: 0,
            }),
            Trigger::At(Duration::from_secs(2)),
        );
        kill.every = Some(Duration::from_secs(10));
        kill.times = 3;
        kill.undo_after = Some(Duration::from_secs(4));
        let (records, applied) = run(&[kill], 1, Duration::from_secs(60)).await;
        assert_eq!(applied, [(2, NodeOp::Kill), (2, NodeOp::Restart)].repeat(3));
        let times: Vec<u64> = records.iter().map(|r| r.at / 1_000_000).collect();
        assert_eq!(times, [2, 6, 12, 16, 22, 26]);
        assert_eq!(records[0].target, "node 2 (leader of orders-x/0)");
        assert!(records.iter().all(|r| r.outcome == "ok"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_drops_pending_firings_but_still_undoes() {
        let mut pause = fault(
            FaultAction::Broker(BrokerOp::Pause),
            FaultTarget::Broker(BrokerTarget::Node(3)),
            Trigger::At(Duration::from_secs(1)),
        );
        pause.every = Some(Duration::from_secs(30));
        pause.times = 5;
        pause.undo_after = Some(Duration::from_secs(20));
        let (_, applied) = run(&[pause], 1, Duration::from_secs(10)).await;
        assert_eq!(applied, [(3, NodeOp::Pause), (3, NodeOp::Resume)]);
    }

    #[tokio::test(start_paused = true)]
    async fn ack_triggers_random_targets_and_consumer_faults() {
        let faults = [
            fault(
                FaultAction::Broker(BrokerOp::Terminate),
                FaultTarget::Broker(BrokerTarget::Random),
                Trigger::AfterAcks(50),
            ),
            fault(
                FaultAction::CrashConsumer,
                FaultTarget::Consumer(0),
                Trigger::At(Duration::from_secs(1)),
            ),
            fault(
                FaultAction::RemoveConsumer,
                FaultTarget::Consumer(0),
                Trigger::At(Duration::from_secs(2)),
            ),
        ];
        let (a, applied_a) = run(&faults, 42, Duration::from_secs(10)).await;
        let (b, applied_b) = run(&faults, 42, Duration::from_secs(10)).await;
        assert_eq!(applied_a, applied_b, "the same seed picks the same node");
        assert_eq!(
            a.iter().map(|r| &r.target).collect::<Vec<_>>(),
            b.iter().map(|r| &r.target).collect::<Vec<_>>()
        );
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].action, "crash_consumer");
        assert_eq!(a[0].outcome, "no");
        assert!(a[1].target.starts_with("consumer workers#"), "{:?}", a[1]);
        assert_eq!(a[2].action, "terminate");
        assert!(
            a[2].at >= 5_000_000,
            "fired once 50 acks were in: {:?}",
            a[2]
        );
    }
}
