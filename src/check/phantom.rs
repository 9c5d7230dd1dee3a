//! The `phantom` check: records and deliveries that no producer attempted (semantics and a
//! worked example in the parent module's doc).
//!
//! ```text
//!   sends ─> message index ─┐
//!   log ────────────────────┴─> stamped but unsent (sorted, few) + unstamped
//!   deliveries ─> unsent and not in the log? ; unstamped and at no log position?
//! ```

use super::index::Bitset;
use super::{CheckName, CheckResult, Context, Examples, Verdict, result};
use crate::history::{History, Log, MsgId};

/// `phantom`: log records and deliveries naming a message no producer sent, and log records
/// without a valid stamp; counts them all.
pub fn phantom(history: &History, log: &Log) -> CheckResult {
    phantom_in(&Context::new(history, log))
}

pub(super) fn phantom_in(cx: &Context<'_>) -> CheckResult {
    let messages = cx.sends();
    let mut unsent: Vec<MsgId> = Vec::new();
    let mut unstamped = 0u64;
    let (mut unsent_ex, mut unstamped_ex) = (Examples::default(), Examples::default());
    for r in &cx.log.records {
        match r.id {
            Some(id) => {
                if messages.message(id).is_none() {
                    unsent.push(id);
                    unsent_ex
                        .offer(|| cx.record_example(r, "in the log, no producer sent it".into()));
                }
            }
            None => {
                unstamped += 1;
                unstamped_ex
                    .offer(|| cx.record_example(r, "in the log without a valid stamp".into()));
            }
        }
    }
    let unsent_records = unsent.len() as u64;
    unsent.sort_unstable();
    unsent.dedup();

    // Positions of the log, built only if some delivery has no stamp.
    let mut in_log: Option<Bitset> = None;
    let (mut delivered, mut delivered_unstamped) = (0u64, 0u64);
    let (mut delivered_ex, mut delivered_unstamped_ex) = (Examples::default(), Examples::default());
    for d in &cx.history.deliveries {
        match d.id {
            Some(id) => {
                if messages.message(id).is_none() && unsent.binary_search(&id).is_err() {
                    delivered += 1;
                    delivered_ex.offer(|| {
                        cx.delivery_example(d, "delivered, neither sent nor in the log".into())
                    });
                }
            }
            None => {
                let positions = cx.log_positions();
                let present = in_log.get_or_insert_with(|| {
                    let mut bits = Bitset::new(positions.len());
                    for r in &cx.log.records {
                        if let Some(i) = positions.position(r.topic, r.partition, r.offset) {
                            bits.set(i);
                        }
                    }
                    bits
                });
                let known = positions
                    .position(d.topic, d.partition, d.offset)
                    .is_some_and(|i| present.get(i));
                if !known {
                    delivered_unstamped += 1;
                    delivered_unstamped_ex.offer(|| {
                        cx.delivery_example(
                            d,
                            "delivered without a stamp, at no position in the log".into(),
                        )
                    });
                }
            }
        }
    }
    let count = unsent_records + unstamped + delivered + delivered_unstamped;
    let verdict = if count > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let detail = format!(
        "{unsent_records} log records name a message no producer sent; {unstamped} log records \
         carry no valid stamp; {delivered} deliveries name a message neither sent nor in the \
         log; {delivered_unstamped} unstamped deliveries at no log position"
    );
    result(
        CheckName::Phantom,
        verdict,
        count,
        vec![
            unsent_ex,
            unstamped_ex,
            delivered_ex,
            delivered_unstamped_ex,
        ],
        detail,
    )
}
