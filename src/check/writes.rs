//! Checks of what producers wrote against what the log holds: `lost_write`,
//! `duplicate_write` and `order_violation` (semantics and worked examples in the parent
//! module's doc).
//!
//! ```text
//!   sends ─> message index (producer, seq -> 0..n)
//!   log   ─> bits over that numbering: present / seen ─> lost, duplicated
//!   log, by partition and offset ─> last seq per (producer, key) ─> order violations
//! ```

use super::index::{Bitset, FxMap, producer_group};
use super::{CheckName, CheckResult, Context, Examples, Verdict, result};
use crate::history::{History, Log, LogRecord, MsgId, Outcome, TopicId};

/// `lost_write`: acknowledged sends whose message is nowhere in the log.
pub fn lost_write(history: &History, log: &Log) -> CheckResult {
    lost_write_in(&Context::new(history, log))
}

/// `duplicate_write`: messages in the log more than once; counts the extra copies.
pub fn duplicate_write(history: &History, log: &Log) -> CheckResult {
    duplicate_write_in(&Context::new(history, log))
}

/// `order_violation`: for one producer and key, a partition holds a message after one the
/// producer sent later; counts the backward steps.
pub fn order_violation(history: &History, log: &Log) -> CheckResult {
    order_violation_in(&Context::new(history, log))
}

pub(super) fn lost_write_in(cx: &Context<'_>) -> CheckResult {
    let index = cx.sends();
    let mut present = Bitset::new(index.len());
    for id in cx.log.records.iter().filter_map(|r| r.id) {
        if let Some(i) = index.message(id) {
            present.set(i);
        }
    }
    let mut unreadable: Vec<(TopicId, i32)> =
        cx.log.unreadable.iter().map(|&(t, p, _)| (t, p)).collect();
    unreadable.sort_unstable();
    unreadable.dedup();

    let (mut acked, mut lost, mut undecided, mut uncommitted) = (0u64, 0u64, 0u64, 0u64);
    let (mut lost_ex, mut undecided_ex) = (Examples::default(), Examples::default());
    let txns = cx.uncommitted();
    for send in &cx.history.sends {
        let Outcome::Ok { partition, .. } = send.outcome else {
            continue;
        };
        // In a transaction, an acknowledged record counts only once its transaction
        // committed: aborted ones must vanish, undecided ones may.
        if txns.find(send.id).is_some() {
            uncommitted += 1;
            continue;
        }
        acked += 1;
        if index.message(send.id).is_some_and(|i| present.get(i)) {
            continue;
        }
        if unreadable.binary_search(&(send.topic, partition)).is_ok() {
            undecided += 1;
            undecided_ex.offer(|| {
                cx.send_example(
                    send,
                    "acknowledged, not found, partition unreadable: undecided".into(),
                )
            });
        } else {
            lost += 1;
            lost_ex.offer(|| cx.send_example(send, "acknowledged, never in the log".into()));
        }
    }
    let verdict = if lost > 0 {
        Verdict::Fail
    } else if undecided > 0 {
        Verdict::Unknown
    } else {
        Verdict::Pass
    };
    let mut detail = format!("{lost} of {acked} acknowledged sends missing from the log");
    if uncommitted > 0 {
        detail.push_str(&format!(
            " ({uncommitted} more of aborted or undecided transactions not counted)"
        ));
    }
    if undecided > 0 {
        detail.push_str(&format!(
            "; {undecided} more not found in {} unreadable partition(s): undecided",
            unreadable.len()
        ));
    }
    result(
        CheckName::LostWrite,
        verdict,
        lost,
        vec![lost_ex, undecided_ex],
        detail,
    )
}

pub(super) fn duplicate_write_in(cx: &Context<'_>) -> CheckResult {
    let index = cx.sends();
    let records = &cx.log.records;
    let mut seen = Bitset::new(index.len());
    // Messages no send names (phantoms): few, so sorted instead of numbered.
    let mut foreign: Vec<(MsgId, usize)> = Vec::new();
    let mut extra = 0u64;
    let mut copies: Vec<usize> = Vec::new();
    for (at, record) in records.iter().enumerate() {
        let Some(id) = record.id else { continue };
        match index.message(id) {
            Some(i) => {
                if seen.set(i) {
                    extra += 1;
                    if copies.len() < super::MAX_EXAMPLES {
                        copies.push(at);
                    }
                }
            }
            None => foreign.push((id, at)),
        }
    }
    foreign.sort_unstable();
    for pair in foreign.windows(2) {
        if let [(a, _), (b, at)] = pair
            && a == b
        {
            extra += 1;
            if copies.len() < super::MAX_EXAMPLES {
                copies.push(*at);
            }
        }
    }
    drop(foreign);
    let mut examples = Examples::default();
    for &at in &copies {
        let Some(copy) = records.get(at) else {
            continue;
        };
        // Where the message was first seen: one scan per example, only when failing.
        let first = records.iter().find(|r| r.id == copy.id);
        let note = match first {
            Some(f) if !std::ptr::eq(f, copy) => format!(
                "extra copy; also at partition {} offset {}",
                f.partition, f.offset
            ),
            _ => "extra copy".to_owned(),
        };
        examples.offer(|| cx.record_example(copy, note));
    }
    let verdict = if extra > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let detail = format!("{extra} extra copies among {} log records", records.len());
    result(
        CheckName::DuplicateWrite,
        verdict,
        extra,
        vec![examples],
        detail,
    )
}

/// Last message seen for one (producer, key): in which partition run, its seq and offset.
#[derive(Clone, Copy)]
struct Last {
    run: u32,
    seq: u64,
    offset: i64,
}

pub(super) fn order_violation_in(cx: &Context<'_>) -> CheckResult {
    let index = cx.sends();
    let mut first = Bitset::new(index.len());
    let mut last: FxMap<u64, Last> = FxMap::default();
    let mut run = 0u32;
    let mut current: Option<(TopicId, i32)> = None;
    let mut violations = 0u64;
    let mut examples = Examples::default();
    let mut visit = |record: &LogRecord| {
        if current != Some((record.topic, record.partition)) {
            current = Some((record.topic, record.partition));
            run = run.wrapping_add(1);
        }
        let (Some(id), Some(key)) = (record.id, record.key) else {
            return;
        };
        let (Some(i), Some(slot)) = (index.message(id), index.slot(producer_group(id))) else {
            return;
        };
        if first.set(i) {
            return; // a later copy: duplicate_write's business
        }
        let this = Last {
            run,
            seq: id.seq,
            offset: record.offset,
        };
        match last.entry((u64::from(slot) << 32) | u64::from(key)) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let prev = *e.get();
                if prev.run == run && id.seq < prev.seq {
                    violations += 1;
                    examples.offer(|| {
                        cx.record_example(
                            record,
                            format!(
                                "sent before seq {} of the same producer and key, found after it (offset {})",
                                prev.seq, prev.offset
                            ),
                        )
                    });
                }
                e.insert(this);
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(this);
            }
        }
    };
    match offset_order(cx.log) {
        None => cx.log.records.iter().for_each(&mut visit),
        Some(order) => order
            .iter()
            .filter_map(|&at| cx.log.records.get(at))
            .for_each(&mut visit),
    }
    let verdict = if violations > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let detail = format!(
        "{violations} backward steps over {} (producer, key) pairs",
        last.len()
    );
    result(
        CheckName::OrderViolation,
        verdict,
        violations,
        vec![examples],
        detail,
    )
}

/// `None` when the log keeps its contract (each partition in one run, offsets ascending);
/// otherwise the record indices sorted by (topic, partition, offset), ties in log order.
fn offset_order(log: &Log) -> Option<Vec<usize>> {
    let mut runs: FxMap<(TopicId, i32), ()> = FxMap::default();
    let mut prev: Option<&LogRecord> = None;
    let mut sorted = true;
    for record in &log.records {
        match prev {
            Some(p) if (p.topic, p.partition) == (record.topic, record.partition) => {
                if record.offset < p.offset {
                    sorted = false;
                    break;
                }
            }
            _ => {
                if runs.insert((record.topic, record.partition), ()).is_some() {
                    sorted = false;
                    break;
                }
            }
        }
        prev = Some(record);
    }
    if sorted {
        return None;
    }
    let mut order: Vec<usize> = (0..log.records.len()).collect();
    order.sort_by_key(|&at| {
        log.records
            .get(at)
            .map(|r| (r.topic, r.partition, r.offset))
    });
    Some(order)
}
