//! Where keys landed: `key_split` (semantics and worked example in the parent module's doc).
//!
//! ```text
//!   log ─> first partition per (topic, key) ─> pairs seen on another partition: split
//!   log, once more, only when failing ─> records and producers per partition of the
//!                                        (at most MAX_EXAMPLES) split pairs shown
//! ```
//!
//! The first pass keeps one small entry per distinct (topic, key), not per record; the
//! second reads the log again without keeping anything but the few pairs it describes.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use super::index::FxMap;
use super::{CheckName, CheckResult, Context, Example, Examples, MAX_EXAMPLES, Verdict, result};
use crate::history::{History, KeyId, Log, TopicId};

/// `key_split`: (topic, key) pairs whose records sit on more than one partition of the
/// topic; counts the pairs. Records without a key are ignored.
pub fn key_split(history: &History, log: &Log) -> CheckResult {
    key_split_in(&Context::new(history, log))
}

/// Where one (topic, key) was first found, and whether it has been found elsewhere since.
#[derive(Clone, Copy)]
struct Placement {
    partition: i32,
    split: bool,
}

/// One partition of a split key, for its example: records, and who wrote them.
#[derive(Default)]
struct Share {
    records: u64,
    producers: BTreeSet<u32>,
    unstamped: u64,
}

fn pair(topic: TopicId, key: KeyId) -> u64 {
    (u64::from(topic) << 32) | u64::from(key)
}

pub(super) fn key_split_in(cx: &Context<'_>) -> CheckResult {
    let mut placed: FxMap<u64, Placement> = FxMap::default();
    let mut split = 0u64;
    // The first split pairs found, in log order: the ones the examples describe.
    let mut shown: Vec<(TopicId, KeyId)> = Vec::new();
    for record in &cx.log.records {
        let Some(key) = record.key else { continue };
        match placed.entry(pair(record.topic, key)) {
            Entry::Vacant(e) => {
                e.insert(Placement {
                    partition: record.partition,
                    split: false,
                });
            }
            Entry::Occupied(mut e) => {
                let p = e.get_mut();
                if p.partition != record.partition && !p.split {
                    p.split = true;
                    split += 1;
                    if shown.len() < MAX_EXAMPLES {
                        shown.push((record.topic, key));
                    }
                }
            }
        }
    }
    let pairs = placed.len();
    drop(placed);

    let mut examples = Examples::default();
    for (&(topic, key), shares) in shown.iter().zip(shares_of(cx, &shown)) {
        examples.offer(|| Example {
            key: cx.key_name(Some(key)),
            topic: Some(cx.topic_name(topic)),
            note: note(&shares),
            ..Example::default()
        });
    }

    let mut unreadable: Vec<(TopicId, i32)> =
        cx.log.unreadable.iter().map(|&(t, p, _)| (t, p)).collect();
    unreadable.sort_unstable();
    unreadable.dedup();
    // A split is a split whatever else is unseen; without one, a key may still have gone
    // to a partition that could not be read.
    let verdict = if split > 0 {
        Verdict::Fail
    } else if !unreadable.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::Pass
    };
    let mut detail = format!("{split} of {pairs} keys on more than one partition of their topic");
    if !unreadable.is_empty() {
        detail.push_str(&format!(
            "; {} unreadable partition(s) may hold more of any key",
            unreadable.len()
        ));
    }
    result(CheckName::KeySplit, verdict, split, vec![examples], detail)
}

/// For each of the `shown` pairs, its partitions with their records and producers: one more
/// pass over the log, keeping nothing for any other key.
fn shares_of(cx: &Context<'_>, shown: &[(TopicId, KeyId)]) -> Vec<BTreeMap<i32, Share>> {
    let mut shares: Vec<BTreeMap<i32, Share>> = shown.iter().map(|_| BTreeMap::new()).collect();
    if shown.is_empty() {
        return shares;
    }
    for record in &cx.log.records {
        let Some(key) = record.key else { continue };
        let Some(at) = shown.iter().position(|&p| p == (record.topic, key)) else {
            continue;
        };
        let Some(partitions) = shares.get_mut(at) else {
            continue;
        };
        let share = partitions.entry(record.partition).or_default();
        share.records += 1;
        match record.id {
            Some(id) => {
                share.producers.insert(id.producer);
            }
            None => share.unstamped += 1,
        }
    }
    shares
}

/// "on partitions 1 (producers 0, 1: 40 records), 4 (producer 2: 38 records)".
fn note(shares: &BTreeMap<i32, Share>) -> String {
    let parts: Vec<String> = shares
        .iter()
        .map(|(partition, share)| {
            let ids: Vec<String> = share.producers.iter().map(u32::to_string).collect();
            let mut who = match ids.len() {
                0 => String::new(),
                1 => format!("producer {}", ids.join("")),
                _ => format!("producers {}", ids.join(", ")),
            };
            if share.unstamped > 0 {
                if !who.is_empty() {
                    who.push_str(", ");
                }
                who.push_str(&format!("{} unstamped", share.unstamped));
            }
            let s = if share.records == 1 { "" } else { "s" };
            format!("{partition} ({who}: {} record{s})", share.records)
        })
        .collect();
    format!("on partitions {}", parts.join(", "))
}
