//! Property tests. Random clean runs (a few producers, keys, topics, partitions and
//! consumers; acknowledged, indeterminate and failed sends; a log consistent with them;
//! every record delivered once, in order) pass every check. Then exactly K anomalies of one
//! kind are injected, and the check that names them reports exactly K while the checks the
//! injection cannot affect still pass.

use proptest::prelude::*;
use proptest::sample::subsequence;

use super::*;
use crate::history::{Delivery, GroupEvent, LogRecord, MsgId, Outcome, Send};

/// The shape of a random run: sizes, then one operation per send (producer, key, topic, and
/// an outcome kind: 0..=6 acknowledged, 7 indeterminate and written, 8 indeterminate and
/// not written, 9 failed).
#[derive(Debug, Clone)]
struct Spec {
    producers: u32,
    topics: u16,
    partitions: i32,
    consumers: u32,
    ops: Vec<(u32, u32, u16, u8)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (1u32..=3, 1u16..=2, 1i32..=3, 1u32..=5, 1u32..=3).prop_flat_map(
        |(producers, topics, partitions, keys, consumers)| {
            prop::collection::vec((0..producers, 0..keys, 0..topics, 0u8..10), 0..120).prop_map(
                move |ops| Spec {
                    producers,
                    topics,
                    partitions,
                    consumers,
                    ops,
                },
            )
        },
    )
}

/// A run whose log is kept per partition (slot `topic * partitions + partition`), so an
/// injection can append to one.
#[derive(Debug, Clone)]
struct Run {
    history: History,
    parts: Vec<Vec<LogRecord>>,
    unreadable: Vec<(TopicId, i32, String)>,
    settings: CheckSettings,
}

impl Run {
    fn log(&self) -> Log {
        Log {
            isolation: crate::history::Isolation::ReadCommitted,
            sources: Vec::new(),
            records: self.parts.concat(),
            unreadable: self.unreadable.clone(),
        }
    }

    fn check(&self) -> Vec<CheckResult> {
        run_all(&self.history, &self.log(), &self.settings, &CheckName::ALL)
    }

    fn acked(&self, id: Option<MsgId>) -> bool {
        self.history
            .sends
            .iter()
            .any(|s| Some(s.id) == id && matches!(s.outcome, Outcome::Ok { .. }))
    }
}

fn build(spec: &Spec) -> Run {
    let slots = usize::from(spec.topics) * spec.partitions as usize;
    let mut parts: Vec<Vec<LogRecord>> = vec![Vec::new(); slots];
    let mut next_seq = vec![0u64; spec.producers as usize];
    let mut sends = Vec::new();
    for (i, &(producer, key, topic, kind)) in spec.ops.iter().enumerate() {
        let seq = next_seq[producer as usize];
        next_seq[producer as usize] += 1;
        let id = MsgId { producer, seq };
        let partition = (key % spec.partitions as u32) as i32;
        let slot = usize::from(topic) * spec.partitions as usize + partition as usize;
        let offset = parts[slot].len() as i64;
        if kind <= 7 {
            parts[slot].push(LogRecord {
                topic,
                partition,
                offset,
                id: Some(id),
                key: Some(key),
            });
        }
        let outcome = match kind {
            0..=6 => Outcome::Ok { partition, offset },
            7 | 8 => Outcome::Indeterminate,
            _ => Outcome::Fail,
        };
        sends.push(Send {
            id,
            topic,
            key,
            intended: i as u64,
            completed: i as u64 + 1,
            outcome,
        });
    }
    // Partition slot s belongs to consumer s % consumers; deliveries round-robin over the
    // partitions, each partition in offset order.
    let consumer_of = |slot: usize| slot as u32 % spec.consumers;
    let mut deliveries = Vec::new();
    let mut cursor = vec![0usize; slots];
    let mut at = 1000u64;
    loop {
        let mut any = false;
        for slot in 0..slots {
            if let Some(r) = parts[slot].get(cursor[slot]) {
                cursor[slot] += 1;
                any = true;
                at += 1;
                deliveries.push(Delivery {
                    consumer: consumer_of(slot),
                    topic: r.topic,
                    partition: r.partition,
                    offset: r.offset,
                    id: r.id,
                    at,
                });
            }
        }
        if !any {
            break;
        }
    }
    let group_events = (0..spec.consumers)
        .map(|c| GroupEvent::Assigned {
            consumer: c,
            at: 0,
            partitions: (0..slots)
                .filter(|&s| consumer_of(s) == c)
                .map(|s| {
                    (
                        (s / spec.partitions as usize) as TopicId,
                        (s % spec.partitions as usize) as i32,
                    )
                })
                .collect(),
        })
        .collect();
    let history = History {
        faults: Vec::new(),
        txns: Vec::new(),
        failures: Vec::new(),
        topics: (0..spec.topics).map(|t| format!("topic-{t}")).collect(),
        keys: (0..5).map(|k| format!("key-{k}").into_bytes()).collect(),
        sends,
        deliveries,
        group_events,
    };
    Run {
        history,
        parts,
        unreadable: Vec::new(),
        settings: CheckSettings {
            duplicate_delivery_allowed: false,
            max_duplicate_deliveries: None,
            consumed_topics: (0..spec.topics).collect(),
            pipelines: Vec::new(),
            assignments_unknown: Vec::new(),
        },
    }
}

/// Every check passes with a zero count, except those listed with their verdict and count.
fn assert_only(results: &[CheckResult], expected: &[(CheckName, Verdict, u64)]) {
    assert_eq!(results.len(), CheckName::ALL.len());
    for r in results {
        let (verdict, count) = expected
            .iter()
            .find(|(name, _, _)| name.as_str() == r.name)
            .map_or((Verdict::Pass, 0), |&(_, v, c)| (v, c));
        assert_eq!((r.verdict, r.count), (verdict, count), "{r:#?}");
        assert!(r.examples.len() <= 4 * MAX_EXAMPLES);
        if r.verdict == Verdict::Pass && r.count == 0 {
            assert!(r.examples.is_empty(), "{r:#?}");
        }
    }
}

/// K anomalies found: fail with count K (pass with 0 when K is 0).
fn found(name: CheckName, k: usize) -> (CheckName, Verdict, u64) {
    let verdict = if k > 0 { Verdict::Fail } else { Verdict::Pass };
    (name, verdict, k as u64)
}

/// A clean run and a random subset of the candidates `pick` lists for an injection.
fn run_and<T, F>(pick: F) -> impl Strategy<Value = (Run, Vec<T>)>
where
    T: Clone + std::fmt::Debug + 'static,
    F: Fn(&Run) -> Vec<T> + Clone + 'static,
{
    spec().prop_flat_map(move |s| {
        let run = build(&s);
        let candidates = pick(&run);
        let most = candidates.len().min(6);
        (Just(run), subsequence(candidates, 0..=most))
    })
}

/// Every (slot, index) of the log.
fn positions(run: &Run) -> Vec<(usize, usize)> {
    run.parts
        .iter()
        .enumerate()
        .flat_map(|(slot, part)| (0..part.len()).map(move |i| (slot, i)))
        .collect()
}

/// Disjoint pairs of consecutive records of one producer and key in one partition.
fn adjacent_pairs(run: &Run) -> Vec<(usize, usize, usize)> {
    let mut pairs = Vec::new();
    for (slot, part) in run.parts.iter().enumerate() {
        let mut by_pk: std::collections::BTreeMap<(u32, Option<KeyId>), Vec<usize>> =
            std::collections::BTreeMap::new();
        for (i, r) in part.iter().enumerate() {
            let pk = (r.id.map_or(u32::MAX, |id| id.producer), r.key);
            by_pk.entry(pk).or_default().push(i);
        }
        for (_, v) in by_pk {
            pairs.extend(v.chunks_exact(2).map(|c| (slot, c[0], c[1])));
        }
    }
    pairs
}

proptest! {
    #[test]
    fn clean_runs_pass_every_check(s in spec()) {
        let run = build(&s);
        let log = run.log();
        let results = run.check();
        assert_only(&results, &[]);
        // The shared-index path and the one-check functions agree.
        let one_by_one = [
            lost_write(&run.history, &log),
            duplicate_write(&run.history, &log),
            order_violation(&run.history, &log),
            key_split(&run.history, &log),
            lost_delivery(&run.history, &log, &run.settings),
            duplicate_delivery(&run.history, &log, &run.settings),
            nonmonotonic_poll(&run.history, &log),
            delivery_order(&run.history, &log),
            phantom(&run.history, &log),
            aborted_read(&run.history, &log),
            torn_transaction(&run.history, &log),
            exactly_once(&run.history, &log, &run.settings),
        ];
        prop_assert_eq!(&results[..], &one_by_one[..]);
    }

    #[test]
    fn dropped_acknowledged_records_are_lost_writes(
        (mut run, picks) in run_and(|run: &Run| {
            positions(run)
                .into_iter()
                .filter(|&(s, i)| run.acked(run.parts[s][i].id))
                .collect()
        })
    ) {
        for &(slot, i) in picks.iter().rev() {
            run.parts[slot].remove(i);
        }
        assert_only(&run.check(), &[found(CheckName::LostWrite, picks.len())]);
    }

    #[test]
    fn copied_records_are_duplicate_writes((mut run, picks) in run_and(positions)) {
        for &(slot, i) in &picks {
            let mut copy = run.parts[slot][i];
            copy.offset = run.parts[slot].len() as i64;
            run.parts[slot].push(copy);
        }
        assert_only(&run.check(), &[found(CheckName::DuplicateWrite, picks.len())]);
    }

    #[test]
    fn swapped_pairs_are_order_violations((mut run, picks) in run_and(adjacent_pairs)) {
        for &(slot, a, b) in &picks {
            let (ida, idb) = (run.parts[slot][a].id, run.parts[slot][b].id);
            run.parts[slot][a].id = idb;
            run.parts[slot][b].id = ida;
        }
        assert_only(&run.check(), &[found(CheckName::OrderViolation, picks.len())]);
    }

    #[test]
    fn dropped_deliveries_are_lost_deliveries(
        (mut run, picks) in run_and(|run: &Run| (0..run.history.deliveries.len()).collect())
    ) {
        for &i in picks.iter().rev() {
            run.history.deliveries.remove(i);
        }
        assert_only(&run.check(), &[found(CheckName::LostDelivery, picks.len())]);
    }

    #[test]
    fn repeated_deliveries_are_duplicate_deliveries_and_nonmonotonic(
        (mut run, picks) in run_and(|run: &Run| (0..run.history.deliveries.len()).collect())
    ) {
        for &i in picks.iter().rev() {
            let again = run.history.deliveries[i];
            run.history.deliveries.insert(i + 1, again);
        }
        let k = picks.len();
        assert_only(
            &run.check(),
            &[found(CheckName::DuplicateDelivery, k), found(CheckName::NonmonotonicPoll, k)],
        );
        // Allowed, the same duplicates are counted and pass.
        run.settings.duplicate_delivery_allowed = true;
        assert_only(
            &run.check(),
            &[
                (CheckName::DuplicateDelivery, Verdict::Pass, k as u64),
                found(CheckName::NonmonotonicPoll, k),
            ],
        );
    }

    #[test]
    fn foreign_records_are_phantoms_nobody_received(
        (mut run, picks) in run_and(|run: &Run| {
            // Each non-empty partition, twice: a pick appends one foreign record there.
            (0..run.parts.len())
                .filter(|&s| !run.parts[s].is_empty())
                .flat_map(|s| [s, s])
                .collect()
        })
    ) {
        for (j, &slot) in picks.iter().enumerate() {
            let last = run.parts[slot][run.parts[slot].len() - 1];
            run.parts[slot].push(LogRecord {
                offset: last.offset + 1,
                id: Some(MsgId { producer: 1000 + j as u32, seq: 0 }),
                ..last
            });
        }
        let k = picks.len();
        assert_only(
            &run.check(),
            &[found(CheckName::Phantom, k), found(CheckName::LostDelivery, k)],
        );
    }

    #[test]
    fn an_unreadable_partition_makes_lost_writes_unknown(
        (mut run, picks) in run_and(|run: &Run| (0..run.parts.len()).collect())
    ) {
        let Some(&slot) = picks.first() else { return Ok(()) };
        let dropped = std::mem::take(&mut run.parts[slot]);
        let had_acked = dropped.iter().any(|r| run.acked(r.id));
        if let Some(r) = dropped.first() {
            run.unreadable.push((r.topic, r.partition, "leader not available".into()));
        }
        let verdict = if had_acked { Verdict::Unknown } else { Verdict::Pass };
        // Any unreadable partition may hold a key seen elsewhere: key_split cannot pass.
        let split = if run.unreadable.is_empty() { Verdict::Pass } else { Verdict::Unknown };
        assert_only(
            &run.check(),
            &[(CheckName::LostWrite, verdict, 0), (CheckName::KeySplit, split, 0)],
        );
    }

    #[test]
    fn a_record_moved_to_another_partition_splits_its_key(
        (mut run, picks) in run_and(|run: &Run| {
            // Each (topic, key) with two records or more, when a topic has two partitions.
            let mut records = std::collections::BTreeMap::new();
            for r in run.parts.iter().flatten() {
                *records.entry((r.topic, r.key)).or_insert(0usize) += 1;
            }
            let partitions = run.parts.len() / run.history.topics.len();
            records
                .into_iter()
                .filter(|&(_, n)| n >= 2 && partitions >= 2)
                .map(|(pair, _)| pair)
                .collect()
        })
    ) {
        // A key lives in one partition of its topic (key % partitions): its last record
        // moves to the end of the next partition, where that key has no other record, so
        // no order, copy or delivery is affected, and the key is split.
        let partitions = run.parts.len() / run.history.topics.len();
        for &(topic, key) in &picks {
            let Some((slot, at)) = run.parts.iter().enumerate().find_map(|(slot, part)| {
                part.iter().rposition(|r| (r.topic, r.key) == (topic, key)).map(|at| (slot, at))
            }) else {
                continue;
            };
            let mut moved = run.parts[slot].remove(at);
            let next = slot - slot % partitions + (slot + 1) % partitions;
            moved.partition = (next % partitions) as i32;
            moved.offset = run.parts[next].last().map_or(0, |r| r.offset + 1);
            run.parts[next].push(moved);
        }
        assert_only(&run.check(), &[found(CheckName::KeySplit, picks.len())]);
    }
}
