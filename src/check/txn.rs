//! The transaction checks: `aborted_read`, `torn_transaction` and `exactly_once`
//! (semantics and worked examples in the parent module's doc).
//!
//! A transaction is a contiguous run of one producer's sequence numbers ([`Txn`]), so the
//! transaction of a message is found by a binary search in a [`Txns`] table sorted by
//! producer and seq: no per-message map.
//!
//! ```text
//!   History.txns ─> Txns (all) ─────────> per log record: committed? ─> visible per txn ─> torn
//!                └> Txns (uncommitted) ─> per send / record / delivery: aborted? undecided?
//!   log (input topic) ─> copies per input ─┐
//!   log.sources (output topic) ────────────┴─> missing, extra, outputs of no input
//! ```

use super::index::{Bitset, FxMap};
use super::{CheckName, CheckResult, CheckSettings, Context, Example, Examples, Verdict, result};
use crate::history::{History, Isolation, Log, MsgId, Outcome, TopicId, Txn, TxnOutcome};

/// `aborted_read`: records of aborted transactions delivered to a consumer, or present in a
/// log read as read_committed; counts both.
pub fn aborted_read(history: &History, log: &Log) -> CheckResult {
    aborted_read_in(&Context::new(history, log))
}

/// `torn_transaction`: committed transactions only partly visible in the log; counts the
/// transactions.
pub fn torn_transaction(history: &History, log: &Log) -> CheckResult {
    torn_transaction_in(&Context::new(history, log))
}

/// `exactly_once`: for each pipeline (input topic, output topic), input messages missing
/// from the output, extra copies, and outputs made from no input; counts all three.
pub fn exactly_once(history: &History, log: &Log, settings: &CheckSettings) -> CheckResult {
    exactly_once_in(&Context::new(history, log), settings)
}

/// Transactions sorted by (producer, first seq), for finding a message's transaction.
/// One producer's transactions do not overlap (the [`Txn`] contract); a malformed one
/// (last seq below first) holds no message.
#[derive(Debug, Default)]
pub(super) struct Txns(Vec<Txn>);

impl Txns {
    /// The transactions `keep` accepts, sorted.
    pub(super) fn new(txns: &[Txn], keep: impl Fn(&Txn) -> bool) -> Txns {
        let mut sorted: Vec<Txn> = txns
            .iter()
            .filter(|t| t.first_seq <= t.last_seq && keep(t))
            .copied()
            .collect();
        sorted.sort_unstable_by_key(|t| (t.producer, t.first_seq, t.last_seq));
        Txns(sorted)
    }

    /// The number (index in sorted order) of the transaction holding `id`.
    fn position(&self, id: MsgId) -> Option<usize> {
        let i = self
            .0
            .partition_point(|t| (t.producer, t.last_seq) < (id.producer, id.seq));
        self.0
            .get(i)
            .filter(|t| t.producer == id.producer && t.first_seq <= id.seq)
            .map(|_| i)
    }

    /// The transaction holding `id`.
    pub(super) fn find(&self, id: MsgId) -> Option<&Txn> {
        self.position(id).and_then(|i| self.0.get(i))
    }

    /// How the transaction holding `id` ended; `None` outside transactions.
    pub(super) fn outcome(&self, id: MsgId) -> Option<TxnOutcome> {
        self.find(id).map(|t| t.outcome)
    }
}

/// Whether `id` belongs to an aborted transaction (`uncommitted` holds every aborted one).
fn aborted(uncommitted: &Txns, id: Option<MsgId>) -> bool {
    id.and_then(|id| uncommitted.outcome(id)) == Some(TxnOutcome::Aborted)
}

fn verdict(definite: u64, undecided: u64) -> Verdict {
    if definite > 0 {
        Verdict::Fail
    } else if undecided > 0 {
        Verdict::Unknown
    } else {
        Verdict::Pass
    }
}

pub(super) fn aborted_read_in(cx: &Context<'_>) -> CheckResult {
    let uncommitted = cx.uncommitted();
    let (mut delivered, mut logged) = (0u64, 0u64);
    let (mut delivered_ex, mut logged_ex) = (Examples::default(), Examples::default());
    for d in cx
        .history
        .deliveries
        .iter()
        .filter(|d| aborted(uncommitted, d.id))
    {
        delivered += 1;
        delivered_ex
            .offer(|| cx.delivery_example(d, "delivered, yet its transaction aborted".into()));
    }
    let committed_log = cx.log.isolation == Isolation::ReadCommitted;
    if committed_log {
        for r in cx.log.records.iter().filter(|r| aborted(uncommitted, r.id)) {
            logged += 1;
            logged_ex.offer(|| {
                cx.record_example(
                    r,
                    "in the log read as read_committed, yet its transaction aborted".into(),
                )
            });
        }
    }
    let count = delivered + logged;
    let aborted_txns = uncommitted
        .0
        .iter()
        .filter(|t| t.outcome == TxnOutcome::Aborted)
        .count();
    // A delivery without a stamp names no message: at a position the read_committed log
    // does not hold, it may be a record of an aborted transaction.
    let mut unstamped = 0u64;
    let mut unstamped_ex = Examples::default();
    if committed_log && aborted_txns > 0 {
        let positions = cx.log_positions();
        for d in cx.history.deliveries.iter().filter(|d| d.id.is_none()) {
            if positions.position(d.topic, d.partition, d.offset).is_none() {
                unstamped += 1;
                unstamped_ex.offer(|| {
                    cx.delivery_example(
                        d,
                        "delivered without a stamp at a position the committed log does not hold: maybe a record of an aborted transaction".into(),
                    )
                });
            }
        }
    }
    let mut detail = format!(
        "{delivered} deliveries and {logged} log records of {aborted_txns} aborted transactions"
    );
    if unstamped > 0 {
        detail.push_str(&format!(
            "; {unstamped} deliveries without a stamp at positions the committed log does not hold: undecided"
        ));
    }
    if !committed_log {
        detail.push_str("; the log was read as read_uncommitted, so its records are not judged");
    }
    result(
        CheckName::AbortedRead,
        verdict(count, unstamped),
        count,
        vec![delivered_ex, logged_ex, unstamped_ex],
        detail,
    )
}

pub(super) fn torn_transaction_in(cx: &Context<'_>) -> CheckResult {
    let txns = cx.txns();
    let index = cx.sends();
    // Distinct visible messages per transaction; a copy counts once, a message no send names
    // (a phantom) not at all.
    let mut present = Bitset::new(index.len());
    let mut visible = vec![0u64; txns.0.len()];
    for id in cx.log.records.iter().filter_map(|r| r.id) {
        if let Some(t) = txns.position(id)
            && let Some(i) = index.message(id)
            && !present.set(i)
            && let Some(v) = visible.get_mut(t)
        {
            *v += 1;
        }
    }
    let size = |t: &Txn| (t.last_seq - t.first_seq).saturating_add(1);
    // An undecided transaction with a record visible to read_committed must have committed.
    let judged = |t: &Txn| match t.outcome {
        TxnOutcome::Committed => true,
        TxnOutcome::Indeterminate => cx.log.isolation == Isolation::ReadCommitted,
        TxnOutcome::Aborted => false,
    };
    let torn: Vec<usize> = (0..txns.0.len())
        .filter(|&i| {
            let (t, v) = (&txns.0[i], visible[i]);
            judged(t) && v > 0 && v < size(t)
        })
        .collect();
    // A missing record whose partition could not be read may be there: that transaction is
    // undecided. Found by one pass over the sends, only when something is torn.
    let mut undecided_txns = vec![false; torn.len()];
    if !torn.is_empty() && !cx.log.unreadable.is_empty() {
        for send in &cx.history.sends {
            let Some(t) = txns.position(send.id) else {
                continue;
            };
            let Ok(k) = torn.binary_search(&t) else {
                continue;
            };
            if index.message(send.id).is_some_and(|i| present.get(i)) {
                continue;
            }
            let unseen = match send.outcome {
                Outcome::Ok { partition, .. } => cx
                    .log
                    .unreadable
                    .iter()
                    .any(|&(topic, p, _)| (topic, p) == (send.topic, partition)),
                // Where it went is unknown: any unreadable partition may hold it.
                Outcome::Fail | Outcome::Indeterminate => true,
            };
            if unseen && let Some(u) = undecided_txns.get_mut(k) {
                *u = true;
            }
        }
    }
    let (mut count, mut undecided) = (0u64, 0u64);
    let (mut torn_ex, mut undecided_ex) = (Examples::default(), Examples::default());
    for (&i, &unseen) in torn.iter().zip(&undecided_txns) {
        let t = &txns.0[i];
        let note = format!(
            "{} transaction of seqs {}..={}: {} of {} records visible{}",
            if t.outcome == TxnOutcome::Committed {
                "committed"
            } else {
                "undecided (so committed, as some records are visible)"
            },
            t.first_seq,
            t.last_seq,
            visible[i],
            size(t),
            if unseen {
                "; the others may be in an unreadable partition"
            } else {
                ""
            }
        );
        let example = || Example {
            producer: Some(t.producer),
            seq: Some(t.first_seq),
            time_us: Some(t.at),
            note,
            ..Example::default()
        };
        if unseen {
            undecided += 1;
            undecided_ex.offer(example);
        } else {
            count += 1;
            torn_ex.offer(example);
        }
    }
    let judged = txns.0.iter().filter(|t| judged(t)).count();
    let mut detail = format!("{count} of {judged} committed transactions only partly visible");
    if undecided > 0 {
        detail.push_str(&format!(
            "; {undecided} more partly visible, the rest possibly in unreadable partitions: undecided"
        ));
    }
    result(
        CheckName::TornTransaction,
        verdict(count, undecided),
        count,
        vec![torn_ex, undecided_ex],
        detail,
    )
}

/// Copies of one message on one side of a pipeline, and the log index of the first.
#[derive(Clone, Copy)]
struct Copies {
    count: u64,
    first: usize,
}

fn tally(map: &mut FxMap<MsgId, Copies>, id: MsgId, at: usize) {
    map.entry(id)
        .and_modify(|c| c.count += 1)
        .or_insert(Copies {
            count: 1,
            first: at,
        });
}

pub(super) fn exactly_once_in(cx: &Context<'_>, settings: &CheckSettings) -> CheckResult {
    let mut pipelines = settings.pipelines.clone();
    pipelines.sort_unstable();
    pipelines.dedup();
    if pipelines.is_empty() {
        return result(
            CheckName::ExactlyOnce,
            Verdict::Pass,
            0,
            Vec::new(),
            "no consume-transform-produce stage: nothing to check".into(),
        );
    }
    let uncommitted = cx.uncommitted();
    if cx.log.isolation == Isolation::ReadUncommitted
        && uncommitted
            .0
            .iter()
            .any(|t| t.outcome == TxnOutcome::Indeterminate)
    {
        return CheckResult::unknown(
            CheckName::ExactlyOnce.as_str(),
            "the log was read as read_uncommitted and some transactions are undecided: \
             what a read_committed reader sees is unknown"
                .into(),
        );
    }
    let records = &cx.log.records;
    let unreadable = |topic: TopicId| cx.log.unreadable.iter().any(|u| u.0 == topic);
    let (mut inputs, mut missing, mut extra, mut orphan, mut undecided) = (0u64, 0, 0, 0, 0);
    let mut missing_ex = Examples::default();
    let mut extra_ex = Examples::default();
    let mut orphan_ex = Examples::default();
    let mut undecided_ex = Examples::default();
    for (input, output) in pipelines {
        // What the stage was to read: input records outside aborted transactions.
        let mut expected: FxMap<MsgId, Copies> = FxMap::default();
        for (at, r) in records.iter().enumerate() {
            if r.topic == input
                && let Some(id) = r.id
                && !aborted(uncommitted, Some(id))
            {
                tally(&mut expected, id, at);
            }
        }
        // What it wrote: output records naming their input, outside aborted transactions.
        let mut found: FxMap<MsgId, Copies> = FxMap::default();
        for &(at, source) in &cx.log.sources {
            let at = at as usize;
            if let Some(r) = records.get(at)
                && r.topic == output
                && !aborted(uncommitted, r.id)
            {
                tally(&mut found, source, at);
            }
        }
        let (output_unseen, input_unseen) = (unreadable(output), unreadable(input));
        inputs += expected.len() as u64;
        // In log order, each message at its first copy: examples are reproducible.
        for (at, r) in records.iter().enumerate() {
            let Some(e) = r.id.and_then(|id| expected.get(&id)) else {
                continue;
            };
            if e.first != at {
                continue;
            }
            let f = r.id.and_then(|id| found.get(&id)).map_or(0, |c| c.count);
            let times = |n: u64| match n {
                1 => "once".to_owned(),
                n => format!("{n} times"),
            };
            if f < e.count {
                let note = format!(
                    "in the input {}, in the output {}",
                    times(e.count),
                    if f == 0 { "never".into() } else { times(f) }
                );
                if output_unseen {
                    undecided += e.count - f;
                    undecided_ex
                        .offer(|| cx.record_example(r, note + "; output partly unreadable"));
                } else {
                    missing += e.count - f;
                    missing_ex.offer(|| cx.record_example(r, note));
                }
            } else if f > e.count {
                let note = format!(
                    "in the input {}, in the output {}",
                    times(e.count),
                    times(f)
                );
                if input_unseen {
                    undecided += f - e.count;
                    undecided_ex.offer(|| cx.record_example(r, note + "; input partly unreadable"));
                } else {
                    extra += f - e.count;
                    extra_ex.offer(|| cx.record_example(r, note));
                }
            }
        }
        for &(at, source) in &cx.log.sources {
            let at = at as usize;
            let Some(f) = found.get(&source) else {
                continue;
            };
            if f.first != at || expected.contains_key(&source) {
                continue;
            }
            let Some(r) = records.get(at) else { continue };
            let why = if aborted(uncommitted, Some(source)) {
                "of an aborted transaction"
            } else {
                "not in the input"
            };
            let note = format!(
                "made from p{}:{}, {why} ({} output records)",
                source.producer, source.seq, f.count
            );
            if input_unseen {
                undecided += f.count;
                undecided_ex.offer(|| cx.record_example(r, note + "; input partly unreadable"));
            } else {
                orphan += f.count;
                orphan_ex.offer(|| cx.record_example(r, note));
            }
        }
    }
    let count = missing + extra + orphan;
    let mut detail = format!(
        "{inputs} input messages: {missing} copies missing from the output, {extra} extra \
         copies, {orphan} output records made from no input"
    );
    if undecided > 0 {
        detail.push_str(&format!(
            "; {undecided} more with part of the input or output unreadable: undecided"
        ));
    }
    result(
        CheckName::ExactlyOnce,
        verdict(count, undecided),
        count,
        vec![missing_ex, extra_ex, orphan_ex, undecided_ex],
        detail,
    )
}
