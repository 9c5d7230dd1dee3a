//! The transaction checks: `aborted_read`, `torn_transaction` and `exactly_once`.
//!
//! A transaction is a contiguous run of one producer's sequence numbers ([`Txn`]), so a
//! message's transaction is found by binary search in the transactions sorted by
//! (producer, last seq): no per-message map.

use std::collections::HashMap;

use super::{CheckName, CheckResult, CheckSettings, Context, Examples, Verdict, result};
use crate::history::{History, Log, MsgId, Txn, TxnOutcome};

/// `aborted_read`: records of aborted transactions delivered to a consumer or visible in
/// the log read as read_committed; counts both.
pub fn aborted_read(history: &History, log: &Log) -> CheckResult {
    aborted_read_in(&Context::new(history, log))
}

/// `torn_transaction`: committed transactions only partly visible in the log; counts the
/// transactions.
pub fn torn_transaction(history: &History, log: &Log) -> CheckResult {
    torn_transaction_in(&Context::new(history, log))
}

/// `exactly_once`: for each stage (input, output), inputs missing from the output plus
/// extra copies in it.
pub fn exactly_once(history: &History, log: &Log, settings: &CheckSettings) -> CheckResult {
    exactly_once_in(&Context::new(history, log), settings)
}

/// The transactions sorted by (producer, first seq), for [`txn_of`].
pub(super) fn sorted(txns: &[Txn]) -> Vec<Txn> {
    let mut sorted = txns.to_vec();
    sorted.sort_by_key(|t| (t.producer, t.first_seq));
    sorted
}

/// The transaction in `sorted` holding `id`, if any.
pub(super) fn txn_of(sorted: &[Txn], id: MsgId) -> Option<&Txn> {
    let i = sorted.partition_point(|t| (t.producer, t.last_seq) < (id.producer, id.seq));
    sorted
        .get(i)
        .filter(|t| t.producer == id.producer && t.first_seq <= id.seq)
}

/// `aborted_read`: records of aborted transactions that were seen, by a consumer or in the
/// log read as read_committed. `count` adds both.
pub(super) fn aborted_read_in(cx: &Context<'_>) -> CheckResult {
    let txns = cx.txns();
    let aborted = |id: Option<MsgId>| {
        id.and_then(|id| txn_of(txns, id))
            .is_some_and(|t| t.outcome == TxnOutcome::Aborted)
    };
    let (mut delivered, mut logged) = (0u64, 0u64);
    let (mut delivered_ex, mut logged_ex) = (Examples::default(), Examples::default());
    for d in cx.history.deliveries.iter().filter(|d| aborted(d.id)) {
        delivered += 1;
        delivered_ex
            .offer(|| cx.delivery_example(d, "delivered, yet its transaction aborted".into()));
    }
    for r in cx.log.records.iter().filter(|r| aborted(r.id)) {
        logged += 1;
        logged_ex.offer(|| {
            cx.record_example(
                r,
                "visible to read_committed, yet its transaction aborted".into(),
            )
        });
    }
    let count = delivered + logged;
    result(
        CheckName::AbortedRead,
        if count > 0 {
            Verdict::Fail
        } else {
            Verdict::Pass
        },
        count,
        vec![delivered_ex, logged_ex],
        format!(
            "{delivered} deliveries and {logged} committed-log records of {} aborted transactions",
            txns.iter()
                .filter(|t| t.outcome == TxnOutcome::Aborted)
                .count()
        ),
    )
}

/// `torn_transaction`: committed transactions of which some, but not all, records are in
/// the log. (All missing is `lost_write`'s business.) `count` is the number of such
/// transactions.
pub(super) fn torn_transaction_in(cx: &Context<'_>) -> CheckResult {
    let txns = cx.txns();
    let mut visible: HashMap<(u32, u64), u64> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for id in cx.log.records.iter().filter_map(|r| r.id) {
        if let Some(t) = txn_of(txns, id)
            && t.outcome == TxnOutcome::Committed
            && seen.insert(id)
        {
            *visible.entry((t.producer, t.first_seq)).or_insert(0) += 1;
        }
    }
    let mut torn = 0u64;
    let mut examples = Examples::default();
    let committed = txns.iter().filter(|t| t.outcome == TxnOutcome::Committed);
    for t in committed.clone() {
        let size = t.last_seq - t.first_seq + 1;
        let shown = visible
            .get(&(t.producer, t.first_seq))
            .copied()
            .unwrap_or(0);
        if shown > 0 && shown < size {
            torn += 1;
            examples.offer(|| super::Example {
                producer: Some(t.producer),
                seq: Some(t.first_seq),
                time_us: Some(t.at),
                note: format!(
                    "committed transaction of seqs {}..={}: {shown} of {size} records visible",
                    t.first_seq, t.last_seq
                ),
                ..super::Example::default()
            });
        }
    }
    result(
        CheckName::TornTransaction,
        if torn > 0 {
            Verdict::Fail
        } else {
            Verdict::Pass
        },
        torn,
        vec![examples],
        format!(
            "{torn} of {} committed transactions only partly visible",
            committed.count()
        ),
    )
}

/// `exactly_once`: for each pipeline (input topic, output topic), every record of the input
/// in the log is the source of exactly one output record in the log. `count` adds the
/// inputs missing from the output and the extra copies.
pub(super) fn exactly_once_in(cx: &Context<'_>, settings: &CheckSettings) -> CheckResult {
    if settings.pipelines.is_empty() {
        return result(
            CheckName::ExactlyOnce,
            Verdict::Pass,
            0,
            Vec::new(),
            "no consume-transform-produce stage: nothing to check".into(),
        );
    }
    let (mut missing, mut extra, mut inputs) = (0u64, 0u64, 0u64);
    let (mut missing_ex, mut extra_ex) = (Examples::default(), Examples::default());
    for &(input, output) in &settings.pipelines {
        let mut copies: HashMap<MsgId, u64> = HashMap::new();
        for &(i, source) in &cx.log.sources {
            if cx.log.records.get(i).is_some_and(|r| r.topic == output) {
                *copies.entry(source).or_insert(0) += 1;
            }
        }
        let mut seen = std::collections::HashSet::new();
        for r in cx.log.records.iter().filter(|r| r.topic == input) {
            let Some(id) = r.id else { continue };
            if !seen.insert(id) {
                continue; // a duplicate input is duplicate_write's business
            }
            inputs += 1;
            match copies.get(&id).copied().unwrap_or(0) {
                0 => {
                    missing += 1;
                    missing_ex.offer(|| cx.record_example(r, "never made it to the output".into()));
                }
                1 => {}
                n => {
                    extra += n - 1;
                    extra_ex.offer(|| cx.record_example(r, format!("in the output {n} times")));
                }
            }
        }
    }
    let count = missing + extra;
    result(
        CheckName::ExactlyOnce,
        if count > 0 {
            Verdict::Fail
        } else {
            Verdict::Pass
        },
        count,
        vec![missing_ex, extra_ex],
        format!("{missing} of {inputs} inputs missing from the output, {extra} extra copies"),
    )
}
