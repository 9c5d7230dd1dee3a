//! How the system behaved under faults, from the History: the longest time producers went
//! without acknowledgements, how long they took to recover after the first broker fault, and
//! what consumer groups went through (rebalances, partitions left without an owner).
//!
//! ```text
//!   History (sends, group events) + FaultRecords ──> Availability, GroupReport (result.json)
//! ```
//!
//! Pure functions, like the checkers, but they measure rather than judge.

use std::collections::{BTreeSet, HashMap};

use crate::history::{FaultRecord, GroupEvent, History, Micros, Outcome, TopicId};
use serde::{Deserialize, Serialize};

/// A change in a consumer group's membership or assignment, for the timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupChange {
    /// Seconds since the run started.
    pub at_s: f64,
    /// The consumer instance.
    pub consumer: u32,
    /// assigned, revoked, joined, left or crashed.
    pub change: String,
    /// Partitions assigned or revoked (0 for joined, left, crashed).
    pub partitions: usize,
}

/// How the consumer groups behaved.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupReport {
    /// The group protocol used: `classic` or `consumer` (KIP-848).
    pub protocol: String,
    /// Rebalances seen (assignment changes across the group, counted once per moment).
    pub rebalances: u64,
    /// Total partition-seconds partitions spent without an owner after the first assignment.
    pub unassigned_partition_s: f64,
    /// Every membership and assignment change.
    pub changes: Vec<GroupChange>,
}

/// How long producers went without acknowledgements (faults make these interesting).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Availability {
    /// The longest time, in seconds, in which no send was acknowledged while sends were due.
    pub longest_ack_gap_s: f64,
    /// When that gap began, seconds since the run started.
    pub gap_started_at_s: f64,
    /// Seconds from the first fault until acknowledgements were back at half the pre-fault
    /// rate; absent without faults or when they never recovered.
    pub recovery_s: Option<f64>,
}

/// A topic and partition.
type Partition = (TopicId, i32);

/// Acknowledgements must come back to this share of the pre-fault rate to count as
/// recovered.
const RECOVERED_SHARE: f64 = 0.5;
/// The window over which rates are compared.
const WINDOW_US: Micros = 1_000_000;
/// Group events closer than this belong to one rebalance.
const REBALANCE_GAP_US: Micros = 2_000_000;

/// The longest stretch without acknowledgements while sends were due, and the time to
/// recover after the first broker fault (`None` without broker faults, or when the rate never
/// came back to half of what it was in the second before the fault).
pub fn availability(history: &History, faults: &[FaultRecord]) -> Option<Availability> {
    let mut acks: Vec<Micros> = history
        .sends
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Ok { .. }))
        .map(|s| s.completed)
        .collect();
    if acks.is_empty() {
        return None;
    }
    acks.sort_unstable();
    let first_due = history.sends.iter().map(|s| s.intended).min()?;
    let last_due = history.sends.iter().map(|s| s.intended).max()?;
    // Gaps from the first send due to the first ack, between acks, and from the last ack to
    // the last send due (if sends were still due after it).
    let mut longest = (acks[0].saturating_sub(first_due), first_due);
    for pair in acks.windows(2) {
        let gap = pair[1] - pair[0];
        if gap > longest.0 {
            longest = (gap, pair[0]);
        }
    }
    let last = *acks.last()?;
    if last_due > last && last_due - last > longest.0 {
        longest = (last_due - last, last);
    }
    let first_fault = faults
        .iter()
        .find(|f| f.outcome == "ok" && is_broker_fault(&f.action))
        .map(|f| f.at);
    Some(Availability {
        longest_ack_gap_s: longest.0 as f64 / 1e6,
        gap_started_at_s: longest.1 as f64 / 1e6,
        recovery_s: first_fault
            .and_then(|f| recovery(&acks, f))
            .map(|us| us as f64 / 1e6),
    })
}

fn is_broker_fault(action: &str) -> bool {
    matches!(action, "kill" | "terminate" | "pause" | "restart" | "delay")
}

/// Microseconds from `fault` until a full window after it held at least half as many acks
/// as the window before it.
fn recovery(acks: &[Micros], fault: Micros) -> Option<Micros> {
    let before = acks
        .iter()
        .filter(|&&t| t < fault && t + WINDOW_US >= fault)
        .count();
    if before == 0 {
        return None;
    }
    let needed = ((before as f64 * RECOVERED_SHARE).ceil() as usize).max(1);
    let after: Vec<Micros> = acks.iter().copied().filter(|&t| t >= fault).collect();
    // The earliest end t >= fault + 1 s of a 1-s window (t - 1 s, t] holding `needed` acks:
    // windows ending at an ack; one ending before fault + 1 s stands for the window ending
    // there, which holds at least the same acks (all are after the fault).
    let mut lo = 0;
    for hi in 0..after.len() {
        while after[hi] - after[lo] >= WINDOW_US {
            lo += 1;
        }
        if hi + 1 - lo >= needed {
            return Some(after[hi].max(fault + WINDOW_US) - fault);
        }
    }
    None
}

/// What the consumer groups went through: every assignment change and consumer fault, the
/// number of rebalances, and partition-seconds without an owner up to `end`. A crashed
/// member holds nothing from the moment it crashed (it no longer processes), though the group
/// reassigns its partitions only when its session times out: that wait is unowned time.
/// `protocols` describes the group protocol of each group, e.g. `workers: classic`.
pub fn group_report(
    history: &History,
    faults: &[FaultRecord],
    protocols: &[String],
    end: Micros,
) -> Option<GroupReport> {
    if history.group_events.is_empty() && protocols.is_empty() {
        return None;
    }
    // Assignment changes and consumer faults, in time order: (at, consumer, what, partitions).
    let mut items: Vec<(Micros, u32, &str, &[Partition])> = Vec::new();
    for event in &history.group_events {
        match event {
            GroupEvent::Assigned {
                consumer,
                at,
                partitions,
            } => items.push((*at, *consumer, "assigned", partitions)),
            GroupEvent::Revoked {
                consumer,
                at,
                partitions,
            } => items.push((*at, *consumer, "revoked", partitions)),
            GroupEvent::Committed { .. }
            | GroupEvent::CommitFailed { .. }
            | GroupEvent::Refused { .. } => {}
        }
    }
    for f in faults.iter().filter(|f| f.outcome == "ok") {
        let change = match f.action.as_str() {
            "add_consumer" => "joined",
            "remove_consumer" => "left",
            "crash_consumer" => "crashed",
            _ => continue,
        };
        let consumer = f.target.rsplit('#').next().and_then(|n| n.parse().ok());
        items.push((f.at, consumer.unwrap_or(u32::MAX), change, &[]));
    }
    items.sort_by_key(|item| item.0);

    let mut changes = Vec::new();
    let mut moments = Vec::new();
    // Who owns each partition, as the members' own callbacks say; delta or full lists alike.
    let mut owners: HashMap<Partition, BTreeSet<u32>> = HashMap::new();
    let mut unowned_since: HashMap<Partition, Micros> = HashMap::new();
    let mut unassigned_us: Micros = 0;
    for (at, consumer, change, partitions) in items.into_iter().filter(|i| i.0 <= end) {
        let lost: Vec<Partition> = match change {
            "revoked" => partitions.to_vec(),
            "crashed" => owners
                .iter()
                .filter(|(_, o)| o.contains(&consumer))
                .map(|(p, _)| *p)
                .collect(),
            _ => Vec::new(),
        };
        if matches!(change, "assigned" | "revoked") {
            moments.push(at);
        }
        changes.push(GroupChange {
            at_s: at as f64 / 1e6,
            consumer,
            change: change.into(),
            partitions: if change == "assigned" {
                partitions.len()
            } else {
                lost.len()
            },
        });
        if change == "assigned" {
            for p in partitions {
                owners.entry(*p).or_default().insert(consumer);
                if let Some(since) = unowned_since.remove(p) {
                    unassigned_us += at - since;
                }
            }
        }
        for p in lost {
            let o = owners.entry(p).or_default();
            if o.remove(&consumer) && o.is_empty() {
                unowned_since.insert(p, at);
            }
        }
    }
    unassigned_us += unowned_since.values().map(|&s| end - s).sum::<Micros>();
    moments.sort_unstable();
    let rebalances = moments
        .iter()
        .enumerate()
        .filter(|&(i, &t)| i == 0 || t - moments[i - 1] > REBALANCE_GAP_US)
        .count() as u64;
    Some(GroupReport {
        protocol: protocols.join(", "),
        rebalances,
        unassigned_partition_s: unassigned_us as f64 / 1e6,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{MsgId, Send};

    fn ack(seq: u64, intended: Micros, completed: Micros) -> Send {
        Send {
            id: MsgId { producer: 0, seq },
            topic: 0,
            key: 0,
            intended,
            completed,
            outcome: Outcome::Ok {
                partition: 0,
                offset: seq as i64,
            },
        }
    }

    fn fault(at: Micros, action: &str, target: &str) -> FaultRecord {
        FaultRecord {
            at,
            took: 0,
            action: action.into(),
            target: target.into(),
            outcome: "ok".into(),
        }
    }

    /// 1000 acks/s, with no acks from 10 s to 13.5 s, then 1000/s again.
    fn dip() -> History {
        let mut sends = Vec::new();
        for i in 0..20_000u64 {
            let t = i * 1_000;
            let done = if (10_000_000..13_500_000).contains(&t) {
                13_500_000 + i
            } else {
                t + 500
            };
            sends.push(ack(i, t, done));
        }
        History {
            sends,
            ..History::default()
        }
    }

    #[test]
    fn the_longest_gap_and_the_recovery_are_measured() {
        let history = dip();
        let faults = [fault(10_000_000, "kill", "node 2")];
        let a = availability(&history, &faults).unwrap();
        assert!(
            (3.4..3.6).contains(&a.longest_ack_gap_s),
            "gap {}",
            a.longest_ack_gap_s
        );
        assert!((9.9..10.1).contains(&a.gap_started_at_s));
        let r = a.recovery_s.unwrap();
        assert!((3.4..4.6).contains(&r), "recovery {r}");
        let none = availability(&history, &[]).unwrap();
        assert_eq!(none.recovery_s, None);
        assert!(availability(&History::default(), &faults).is_none());
    }

    #[test]
    fn a_fault_without_effect_recovers_within_a_window() {
        let mut history = dip();
        for s in &mut history.sends {
            s.completed = s.intended + 500;
        }
        let a = availability(&history, &[fault(5_000_000, "pause", "node 1")]).unwrap();
        assert!(a.longest_ack_gap_s < 0.01);
        assert!((0.99..1.01).contains(&a.recovery_s.unwrap()));
    }

    #[test]
    fn rebalances_and_unowned_time_are_counted() {
        let mut history = History::default();
        let p = |n: i32| vec![(0 as TopicId, n)];
        history.group_events = vec![
            GroupEvent::Assigned {
                consumer: 0,
                at: 1_000_000,
                partitions: vec![(0, 0), (0, 1)],
            },
            GroupEvent::Revoked {
                consumer: 0,
                at: 10_000_000,
                partitions: p(1),
            },
            GroupEvent::Assigned {
                consumer: 1,
                at: 10_500_000,
                partitions: p(1),
            },
            GroupEvent::Revoked {
                consumer: 1,
                at: 30_000_000,
                partitions: p(1),
            },
        ];
        // Consumer 1 crashes at 25 s holding partition 1; the group reassigns it at 36 s.
        history.group_events.pop();
        history.group_events.push(GroupEvent::Assigned {
            consumer: 0,
            at: 36_000_000,
            partitions: p(1),
        });
        let faults = [fault(25_000_000, "crash_consumer", "consumer workers#1")];
        let g = group_report(&history, &faults, &["workers: classic".into()], 40_000_000).unwrap();
        assert_eq!(g.rebalances, 3);
        // 0.5 s at 10 s, then 11 s from the crash to the reassignment.
        assert!(
            (11.4..11.6).contains(&g.unassigned_partition_s),
            "{}",
            g.unassigned_partition_s
        );
        assert_eq!(g.protocol, "workers: classic");
        let kinds: Vec<&str> = g.changes.iter().map(|c| c.change.as_str()).collect();
        assert_eq!(
            kinds,
            ["assigned", "revoked", "assigned", "crashed", "assigned"]
        );
        assert_eq!((g.changes[3].consumer, g.changes[3].partitions), (1, 1));
    }
}
