//! Reading a backlog: a plan's consumers over topics that already hold records (written by
//! an earlier run of the plan's producers), every delivery recorded into a [`History`]
//! through the run's own collector, timed until the last record is recorded. What a run
//! does for its consumers, without producers, stages or faults: how fast a consumer drains
//! a backlog (`benches/consumer_peer.rs`).
//!
//! ```text
//!   end offsets of every consumed partition (asked first: the target)
//!   clock starts ─> Members::start (the plan's consumer tables; groups get `group_suffix`)
//!        │ ConsumerEvent ──> forward ──> Collector ──> History + Live
//!   poll Live every 2 ms until each reader has been delivered up to every end offset ─> clock stops
//!   stop the consumers (they leave their groups) ─> the collector hands back the History
//! ```
//!
//! The topics are not created and their names are used as given. Every read needs new
//! groups (a fresh `group_suffix`): with `auto.offset.reset = earliest` (the rdkafka
//! driver's default) they read the whole backlog, while a group that has committed offsets
//! starts after them and may never reach the targets (the read then ends at its timeout).
//! Verifiable consumer tables are not supported here (their tools are provisioned by
//! [`run`](super::engine::run) only): they fail to start, and the error is returned.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::collector::{Collected, Collector, Ev, Live};
use super::consumers::Members;
use super::engine::RunError;
use super::logread;
use crate::cluster::{Cluster, ClusterError};
use crate::driver::exec::ExecEnv;
use crate::driver::{ConsumerEvent, now_us};
use crate::history::{GroupEvent, History, Micros, TopicId};
use crate::scenario::Plan;

/// How often the live figures are looked at: the resolution of [`Backlog::recorded`].
const POLL: Duration = Duration::from_millis(2);

/// How to read a backlog.
#[derive(Debug, Clone)]
pub struct BacklogOptions {
    /// Appended to each consumer table's group id: a new suffix is a new group, which
    /// reads from the beginning.
    pub group_suffix: String,
    /// How long the consumers may take to read everything.
    pub timeout: Duration,
}

/// What reading a backlog produced.
#[derive(Debug)]
pub struct Backlog {
    /// Deliveries and group events; times are microseconds since the consumers started.
    /// Sends are empty (no producer ran); keys are not read back.
    pub history: History,
    /// Per topic (index into the plan's topics) and partition: where the log ended when the
    /// read began, the offsets each reader was waited for.
    pub end_offsets: HashMap<(TopicId, i32), i64>,
    /// From the consumers' start until every reader held all its topic's partitions, from
    /// the group events the consumers reported; `None` if one never did.
    pub assigned: Option<Duration>,
    /// From the consumers' start until the last delivery, as the consumers timed it.
    pub last_delivery: Option<Duration>,
    /// From the consumers' start until the collector had recorded, for every reader, a
    /// delivery of every partition's last record (to within 2 ms, how often it looks).
    pub recorded: Duration,
    /// False when `timeout` passed first.
    pub caught_up: bool,
}

/// Reads what `topics` (actual names, indexed like `plan.topics`) hold with `plan`'s
/// consumer tables, recording every delivery, until each reader has been delivered every
/// record up to the end offsets the partitions had when it began (or `options.timeout`).
pub async fn read_backlog(
    plan: &Plan,
    cluster: &dyn Cluster,
    topics: &[String],
    options: &BacklogOptions,
) -> Result<Backlog, RunError> {
    let settings = cluster.client_config();
    // Only consumed topics are asked about (the others count as having no partitions).
    let partitions = plan.consumed_partitions();
    let end_offsets = logread::end_offsets(&settings, topics, &partitions).await?;
    if let Some((t, p)) = (0..partitions.len())
        .flat_map(|t| (0..partitions[t]).map(move |p| (t as TopicId, p)))
        .find(|tp| !end_offsets.contains_key(tp))
    {
        return Err(RunError::Cluster(ClusterError::Io {
            what: format!("asking where {}/{p} ends", topics[usize::from(t)]),
            source: std::io::Error::other("the broker did not say"),
        }));
    }

    let live = Arc::new(Mutex::new(Live::default()));
    let (tx, rx) = mpsc::unbounded_channel::<Ev>();
    let (consumer_tx, consumer_rx) = mpsc::unbounded_channel::<ConsumerEvent>();
    let exec = ExecEnv::new(std::env::temp_dir().join(format!(
        "kafka-harness-clients-{}{}",
        std::process::id(),
        options.group_suffix
    )));
    let fatal = exec.fatal.clone();

    let start = Instant::now();
    let epoch0 = Arc::new(AtomicU64::new(now_us()));
    let members = Members::start(
        plan,
        topics,
        settings,
        cluster.bootstrap_servers(),
        &options.group_suffix,
        consumer_tx,
        exec,
    );
    let reader_of = members.reader_of();
    let forwarder = tokio::spawn(forward(consumer_rx, tx.clone()));
    let collector = Collector::new(
        Arc::clone(&live),
        topics.to_vec(),
        members.reader_of(),
        epoch0,
        0,
    );
    let collector = tokio::spawn(collector.run(rx, false));

    let deadline = start + options.timeout;
    let caught_up = loop {
        if fatal.is_raised() || caught_up(plan, &Live::lock(&live), &end_offsets) {
            break !fatal.is_raised();
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                "consumers did not read the backlog within {:?}",
                options.timeout
            );
            break false;
        }
        tokio::time::sleep(POLL).await;
    };
    let recorded = start.elapsed();

    members.stop_all().await;
    drop(members);
    if let Some(e) = fatal.take() {
        return Err(RunError::Driver(e));
    }
    let _ = forwarder.await;
    drop(tx);
    let Collected { mut history, .. } = collector.await.map_err(|source| RunError::Task {
        task: "collector",
        source,
    })?;
    history.topics = topics.to_vec();
    let reader_of = reader_of.read().map(|r| r.clone()).unwrap_or_default();
    let since_start = |us: Micros| Duration::from_micros(us);
    Ok(Backlog {
        assigned: all_assigned_at(plan, &history, &reader_of).map(since_start),
        last_delivery: history
            .deliveries
            .iter()
            .map(|d| d.at)
            .max()
            .map(since_start),
        history,
        end_offsets,
        recorded,
        caught_up,
    })
}

/// Hands consumer events to the collector (as the run's engine does).
async fn forward(mut rx: mpsc::UnboundedReceiver<ConsumerEvent>, tx: mpsc::UnboundedSender<Ev>) {
    while let Some(e) = rx.recv().await {
        if tx.send(Ev::Consumer(e)).is_err() {
            break;
        }
    }
}

/// The readers ([`Plan::reader_index`]): the consumer tables standing for their groups.
fn readers(plan: &Plan) -> impl Iterator<Item = usize> + '_ {
    (0..plan.consumers.len()).filter(|&i| plan.reader_index(i) == i)
}

/// Whether every reader has been delivered every record before its partitions' ends.
fn caught_up(plan: &Plan, l: &Live, end_offsets: &HashMap<(TopicId, i32), i64>) -> bool {
    readers(plan).all(|ci| {
        let topic = plan.consumers[ci].topic;
        end_offsets
            .iter()
            .filter(|((t, _), _)| usize::from(*t) == topic)
            .all(|(&(t, p), &end)| l.delivered_high.get(&(ci, t, p)).copied().unwrap_or(0) >= end)
    })
}

/// When every reader first held all its topic's partitions at once, the latest of them, by
/// the assignments and revocations in `history` (`reader_of`: consumer instance to the table
/// standing for its group).
fn all_assigned_at(plan: &Plan, history: &History, reader_of: &[usize]) -> Option<Micros> {
    let mut held: HashMap<usize, HashSet<(TopicId, i32)>> = HashMap::new();
    let mut full_at: HashMap<usize, Micros> = HashMap::new();
    for event in &history.group_events {
        let (consumer, at, partitions, assigned) = match event {
            GroupEvent::Assigned {
                consumer,
                at,
                partitions,
            } => (consumer, at, partitions, true),
            GroupEvent::Revoked {
                consumer,
                at,
                partitions,
            } => (consumer, at, partitions, false),
            _ => continue,
        };
        let Some(&reader) = reader_of.get(*consumer as usize) else {
            continue;
        };
        let set = held.entry(reader).or_default();
        for tp in partitions {
            if assigned {
                set.insert(*tp);
            } else {
                set.remove(tp);
            }
        }
        let wanted = plan.topics[plan.consumers[reader].topic].partitions as usize;
        if set.len() >= wanted {
            full_at.entry(reader).or_insert(*at);
        }
    }
    readers(plan)
        .map(|r| full_at.get(&r).copied())
        .try_fold(0, |latest: Micros, at| at.map(|at| latest.max(at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"
name = "backlog"
messages = 10
[[topics]]
name = "t"
partitions = 2
[[producers]]
name = "p"
driver = "rdkafka"
topic = "t"
template = "raw"
size = "100B"
keys = { count = 10, distribution = "uniform" }
rate = "max"
[[consumers]]
name = "a"
driver = "rdkafka"
topic = "t"
group = "g"
[[consumers]]
name = "b"
driver = "rdkafka"
topic = "t"
group = "g"
[[consumers]]
name = "other"
driver = "rdkafka"
topic = "t"
group = "h"
"#;

    fn plan() -> Plan {
        crate::scenario::parse(std::path::Path::new("backlog.toml"), SCENARIO)
            .expect("a valid plan")
    }

    fn assigned(consumer: u32, at: Micros, partitions: &[i32]) -> GroupEvent {
        GroupEvent::Assigned {
            consumer,
            at,
            partitions: partitions.iter().map(|&p| (0, p)).collect(),
        }
    }

    #[test]
    fn all_assigned_waits_for_every_partition_of_every_group() {
        let plan = plan();
        // Instances 0 and 1 are tables a and b (group g, read as table 0); 2 is table other.
        let reader_of = [0, 0, 2];
        let mut history = History::default();
        assert_eq!(all_assigned_at(&plan, &history, &reader_of), None);
        history.group_events = vec![
            assigned(0, 10, &[0, 1]),
            GroupEvent::Revoked {
                consumer: 0,
                at: 20,
                partitions: vec![(0, 1)],
            },
            assigned(1, 30, &[1]),
            assigned(2, 40, &[0]),
        ];
        // Group g held both at 10; group h holds one of two.
        assert_eq!(all_assigned_at(&plan, &history, &reader_of), None);
        history.group_events.push(assigned(2, 50, &[1]));
        assert_eq!(all_assigned_at(&plan, &history, &reader_of), Some(50));
    }

    #[test]
    fn caught_up_means_every_reader_reached_every_end() {
        let plan = plan();
        let ends = HashMap::from([((0, 0), 5), ((0, 1), 0)]);
        let mut live = Live::default();
        assert!(!caught_up(&plan, &live, &ends));
        live.delivered_high.insert((0, 0, 0), 5);
        assert!(!caught_up(&plan, &live, &ends), "group h has read nothing");
        live.delivered_high.insert((2, 0, 0), 4);
        assert!(!caught_up(&plan, &live, &ends));
        live.delivered_high.insert((2, 0, 0), 5);
        assert!(
            caught_up(&plan, &live, &ends),
            "an empty partition needs nothing"
        );
    }
}
