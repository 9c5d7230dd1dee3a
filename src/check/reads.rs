//! Checks of what consumers received: `lost_delivery`, `duplicate_delivery`,
//! `nonmonotonic_poll` and `delivery_order` (semantics and worked examples in the parent
//! module's doc).
//!
//! ```text
//!   deliveries ─> bits over log positions and messages ─> log records nobody received
//!   deliveries ─> position index of their own ─> bits: seen ─> extra deliveries
//!   group events ─> assignment boundaries per (consumer, partition) ─┐
//!   deliveries, in order ─────────────────────────────────────────────┴─> backward offsets
//!   deliveries by time, first of each position ─> key from the log ─> highest offset per
//!       (partition, key) ─> a lower one after it: processed out of its key's order
//! ```

use super::index::{Bitset, FxMap, partition_group, position_index};
use super::{CheckName, CheckResult, CheckSettings, Context, Examples, Verdict, result};
use crate::history::{GroupEvent, History, KeyId, Log, Micros, MsgId};

/// `lost_delivery`: log records of a consumed topic that no consumer received, by position
/// or by message.
pub fn lost_delivery(history: &History, log: &Log, settings: &CheckSettings) -> CheckResult {
    lost_delivery_in(&Context::new(history, log), settings)
}

/// `duplicate_delivery`: positions delivered more than once; counts the extra deliveries and
/// fails only as [`CheckSettings`] says.
pub fn duplicate_delivery(history: &History, log: &Log, settings: &CheckSettings) -> CheckResult {
    duplicate_delivery_in(&Context::new(history, log), settings)
}

/// `nonmonotonic_poll`: within one assignment, a consumer's offsets for a partition went
/// backwards or repeated; counts those deliveries.
pub fn nonmonotonic_poll(history: &History, log: &Log) -> CheckResult {
    nonmonotonic_poll_in(&Context::new(history, log), &CheckSettings::default())
}

/// `delivery_order`: a keyed record processed (first delivered, by any consumer) after a
/// later record of its key in the same partition; redeliveries are not counted.
pub fn delivery_order(history: &History, log: &Log) -> CheckResult {
    delivery_order_in(&Context::new(history, log))
}

pub(super) fn lost_delivery_in(cx: &Context<'_>, settings: &CheckSettings) -> CheckResult {
    if settings.consumed_topics.is_empty() {
        return result(
            CheckName::LostDelivery,
            Verdict::Pass,
            0,
            Vec::new(),
            "no consumed topics: nothing to check".into(),
        );
    }
    let mut consumed = vec![false; usize::from(u16::MAX) + 1];
    for &topic in &settings.consumed_topics {
        if let Some(c) = consumed.get_mut(usize::from(topic)) {
            *c = true;
        }
    }
    let messages = cx.sends();
    let positions = cx.log_positions();
    let mut by_position = Bitset::new(positions.len());
    let mut by_message = Bitset::new(messages.len());
    let mut foreign: Vec<MsgId> = Vec::new();
    for d in &cx.history.deliveries {
        if let Some(i) = positions.position(d.topic, d.partition, d.offset) {
            by_position.set(i);
        }
        if let Some(id) = d.id {
            match messages.message(id) {
                Some(i) => {
                    by_message.set(i);
                }
                None => foreign.push(id),
            }
        }
    }
    foreign.sort_unstable();
    foreign.dedup();
    let (mut checked, mut lost) = (0u64, 0u64);
    let mut examples = Examples::default();
    for r in &cx.log.records {
        let Some(id) = r.id else { continue };
        if !consumed.get(usize::from(r.topic)).copied().unwrap_or(false) {
            continue;
        }
        checked += 1;
        let delivered = positions
            .position(r.topic, r.partition, r.offset)
            .is_some_and(|i| by_position.get(i))
            || match messages.message(id) {
                Some(i) => by_message.get(i),
                None => foreign.binary_search(&id).is_ok(),
            };
        if !delivered {
            lost += 1;
            examples.offer(|| cx.record_example(r, "in the log, never delivered".into()));
        }
    }
    let verdict = if lost > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let detail = format!(
        "{lost} of {checked} stamped records in {} consumed topic(s) never delivered",
        settings.consumed_topics.len()
    );
    result(
        CheckName::LostDelivery,
        verdict,
        lost,
        vec![examples],
        detail,
    )
}

pub(super) fn duplicate_delivery_in(cx: &Context<'_>, settings: &CheckSettings) -> CheckResult {
    let deliveries = &cx.history.deliveries;
    let index = position_index(|| deliveries.iter().map(|d| (d.topic, d.partition, d.offset)));
    let mut seen = Bitset::new(index.len());
    let mut extra = 0u64;
    let mut copies: Vec<usize> = Vec::new();
    for (at, d) in deliveries.iter().enumerate() {
        if let Some(i) = index.position(d.topic, d.partition, d.offset)
            && seen.set(i)
        {
            extra += 1;
            if copies.len() < super::MAX_EXAMPLES {
                copies.push(at);
            }
        }
    }
    drop(seen);
    drop(index);
    let mut examples = Examples::default();
    for &at in &copies {
        let Some(again) = deliveries.get(at) else {
            continue;
        };
        // The first delivery of that position: one scan per example, only when there are any.
        let first = deliveries.iter().find(|d| {
            (d.topic, d.partition, d.offset) == (again.topic, again.partition, again.offset)
        });
        let note = match first {
            Some(f) => format!(
                "delivered again; first to consumer {} at {} us",
                f.consumer, f.at
            ),
            None => "delivered again".to_owned(),
        };
        examples.offer(|| cx.delivery_example(again, note));
    }
    let over_limit = settings.max_duplicate_deliveries.is_some_and(|m| extra > m);
    let fail = extra > 0 && (!settings.duplicate_delivery_allowed || over_limit);
    let policy = match (
        settings.duplicate_delivery_allowed,
        settings.max_duplicate_deliveries,
    ) {
        (false, _) => "forbidden".to_owned(),
        (true, None) => "allowed".to_owned(),
        (true, Some(m)) => format!("allowed up to {m}"),
    };
    let detail = format!(
        "{extra} extra deliveries among {} (duplicates {policy})",
        deliveries.len()
    );
    result(
        CheckName::DuplicateDelivery,
        if fail { Verdict::Fail } else { Verdict::Pass },
        extra,
        vec![examples],
        detail,
    )
}

/// One consumer's reading of one partition: its assignment boundaries (a range of the
/// sorted boundary list), the assignment of its last delivery, and that delivery.
#[derive(Clone, Copy)]
struct Track {
    from: usize,
    to: usize,
    epoch: usize,
    last: Option<(i64, Micros)>,
}

pub(super) fn nonmonotonic_poll_in(cx: &Context<'_>, settings: &CheckSettings) -> CheckResult {
    // Every Assigned or Revoked naming a partition starts a new assignment of it.
    let mut bounds: Vec<((u32, u64), Micros)> = Vec::new();
    for event in &cx.history.group_events {
        let (consumer, at, partitions) = match event {
            GroupEvent::Assigned {
                consumer,
                at,
                partitions,
            }
            | GroupEvent::Revoked {
                consumer,
                at,
                partitions,
            } => (*consumer, *at, partitions),
            GroupEvent::Committed { .. }
            | GroupEvent::CommitFailed { .. }
            | GroupEvent::Refused { .. } => continue,
        };
        for &(topic, partition) in partitions {
            bounds.push(((consumer, partition_group(topic, partition)), at));
        }
    }
    bounds.sort_unstable();
    let mut tracks: FxMap<(u32, u64), Track> = FxMap::default();
    let mut from = 0usize;
    for chunk in bounds.chunk_by(|a, b| a.0 == b.0) {
        if let Some(&(key, _)) = chunk.first() {
            tracks.insert(
                key,
                Track {
                    from,
                    to: from + chunk.len(),
                    epoch: 0,
                    last: None,
                },
            );
        }
        from += chunk.len();
    }
    let mut violations = 0u64;
    let mut undecided = 0u64;
    let mut examples = Examples::default();
    let mut undecided_examples = Examples::default();
    for d in &cx.history.deliveries {
        let key = (d.consumer, partition_group(d.topic, d.partition));
        let track = tracks.entry(key).or_insert(Track {
            from: 0,
            to: 0,
            epoch: 0,
            last: None,
        });
        let epoch = bounds
            .get(track.from..track.to)
            .map_or(0, |b| b.partition_point(|&(_, at)| at <= d.at));
        if let Some((prev, prev_at)) = track.last
            && track.epoch == epoch
            && d.offset <= prev
            && settings.assignments_unknown.contains(&d.consumer)
        {
            undecided += 1;
            undecided_examples.offer(|| {
                cx.delivery_example(
                    d,
                    format!(
                        "offset {} after offset {prev} (at {prev_at} us); the consumer reported no assignment changes, so a rebalance between them cannot be ruled out",
                        d.offset
                    ),
                )
            });
        } else if let Some((prev, prev_at)) = track.last
            && track.epoch == epoch
            && d.offset <= prev
        {
            violations += 1;
            examples.offer(|| {
                cx.delivery_example(
                    d,
                    format!(
                        "offset {} after offset {prev} (at {prev_at} us) in the same assignment",
                        d.offset
                    ),
                )
            });
        }
        track.epoch = epoch;
        track.last = Some((d.offset, d.at));
    }
    let verdict = if violations > 0 {
        Verdict::Fail
    } else if undecided > 0 {
        Verdict::Unknown
    } else {
        Verdict::Pass
    };
    let mut detail = format!(
        "{violations} backward or repeated offsets over {} (consumer, partition) pairs and {} assignment changes",
        tracks.len(),
        bounds.len()
    );
    if undecided > 0 {
        detail.push_str(&format!(
            "; {undecided} more by consumers {:?}, which reported no assignment changes: undecided (a rebalance may lie between)",
            settings.assignments_unknown
        ));
    }
    result(
        CheckName::NonmonotonicPoll,
        verdict,
        violations,
        vec![examples, undecided_examples],
        detail,
    )
}

pub(super) fn delivery_order_in(cx: &Context<'_>) -> CheckResult {
    let positions = cx.log_positions();
    // Position index -> the log record there, for its key.
    let mut record_at = vec![u32::MAX; positions.len()];
    for (i, r) in cx.log.records.iter().enumerate() {
        if let Some(p) = positions.position(r.topic, r.partition, r.offset) {
            record_at[p] = i as u32;
        }
    }
    let mut by_time: Vec<usize> = (0..cx.history.deliveries.len()).collect();
    by_time.sort_by_key(|&i| cx.history.deliveries[i].at);
    let mut delivered = Bitset::new(positions.len());
    // (partition group, key) -> the highest offset processed so far, when, by whom.
    let mut highest: FxMap<(u64, KeyId), (i64, Micros, u32)> = FxMap::default();
    let mut violations = 0u64;
    let mut examples = Examples::default();
    for i in by_time {
        let d = &cx.history.deliveries[i];
        let Some(p) = positions.position(d.topic, d.partition, d.offset) else {
            continue; // not in the log: `phantom` says so
        };
        if delivered.set(p) {
            continue; // a redelivery replays, it does not reorder
        }
        let Some(key) = cx
            .log
            .records
            .get(record_at[p] as usize)
            .and_then(|r| r.key)
        else {
            continue; // no key, no order promised
        };
        let group = (partition_group(d.topic, d.partition), key);
        match highest.get(&group) {
            Some(&(offset, at, consumer)) if d.offset < offset => {
                violations += 1;
                examples.offer(|| {
                    let mut example = cx.delivery_example(
                        d,
                        format!(
                            "offset {} processed after offset {offset} of the same key (consumer {consumer} at {at} us)",
                            d.offset
                        ),
                    );
                    example.key = cx.key_name(Some(key));
                    example
                });
            }
            _ => {
                highest.insert(group, (d.offset, d.at, d.consumer));
            }
        }
    }
    let verdict = if violations > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    result(
        CheckName::DeliveryOrder,
        verdict,
        violations,
        vec![examples],
        format!(
            "{violations} keyed records processed after a later record of their key, over {} (partition, key) pairs",
            highest.len()
        ),
    )
}
