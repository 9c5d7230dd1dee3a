//! `authorization`: whether each producer table was let in or kept out as its scenario
//! says. A table with `expect = "refused"` passes when every one of its sends was a
//! definite failure for authorization (and it sent at least one); any other table fails
//! the check when the broker refused one of its sends for authorization. A consumer the
//! broker refused its group or topic fails it too, named with the broker's reason. Runs
//! when a scenario secures its cluster, states an expectation, or a consumer was refused.
//!
//! ```text
//!   compliance (expect refused): 40 of 40 sends refused: Broker: Topic authorization failed  pass
//!   compliance (expect refused): 38 of 40 sends refused, 2 accepted                         fail
//!   audit (accepted): 3 sends refused: Broker: Topic authorization failed                  fail
//! ```

use super::{CheckResult, Example, Verdict};
use crate::history::{GroupEvent, History, Outcome};
use crate::scenario::{Expect, Plan};

/// The check's name in results.
pub const NAME: &str = "authorization";

/// Whether `reason` (a client's error) is an authorization refusal.
pub fn is_refusal(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("authorization") || r.contains("not authorized")
}

/// The `authorization` check, when the plan secures its cluster or expects a refusal.
pub fn judge(plan: &Plan, history: &History) -> Option<CheckResult> {
    let refused_consumers: Vec<(u32, &str)> = history
        .group_events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::Refused {
                consumer, reason, ..
            } => Some((*consumer, reason.as_str())),
            _ => None,
        })
        .collect();
    let relevant = plan.cluster.security != Default::default()
        || plan.producers.iter().any(|p| p.expect == Expect::Refused)
        || !refused_consumers.is_empty();
    if !relevant {
        return None;
    }
    let mut problems: Vec<Example> = Vec::new();
    let mut lines = Vec::new();
    for (table, first) in plan.producers.iter().zip(plan.first_producer_ids()) {
        let ids = first..first + table.instances;
        let sends = history
            .sends
            .iter()
            .filter(|s| ids.contains(&s.id.producer));
        let (mut total, mut failed) = (0u64, 0u64);
        for s in sends {
            total += 1;
            failed += u64::from(s.outcome == Outcome::Fail);
        }
        let reasons: Vec<(&str, u64)> = history
            .failures
            .iter()
            .filter(|f| ids.contains(&f.producer))
            .map(|f| (f.reason.as_str(), f.count))
            .collect();
        let refused: u64 = reasons
            .iter()
            .filter(|(r, _)| is_refusal(r))
            .map(|(_, n)| n)
            .sum();
        let why = reasons
            .iter()
            .filter(|(r, _)| is_refusal(r))
            .map(|(r, _)| *r)
            .next()
            .unwrap_or("no refusal");
        let name = &table.name;
        match table.expect {
            Expect::Refused => {
                let line =
                    format!("{name} (expect refused): {refused} of {total} sends refused: {why}");
                if total == 0 || refused != total || failed != total {
                    problems.push(example(first, format!(
                        "{name}: expected every send refused for authorization; {refused} of {total} were"
                    )));
                }
                lines.push(line);
            }
            Expect::Accepted if refused > 0 => {
                problems.push(example(
                    first,
                    format!("{name}: {refused} sends refused: {why}"),
                ));
                lines.push(format!("{name}: {refused} of {total} sends refused: {why}"));
            }
            Expect::Accepted => {}
        }
    }
    // A consumer refused its group or topic reads nothing: no scenario expects that.
    let mut seen = Vec::new();
    for (consumer, reason) in refused_consumers {
        if seen.contains(&consumer) {
            continue;
        }
        seen.push(consumer);
        let note = format!("consumer {consumer}: refused: {reason}");
        lines.push(note.clone());
        problems.push(Example {
            consumer: Some(consumer),
            note,
            ..Example::default()
        });
    }
    let verdict = if problems.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let detail = if lines.is_empty() {
        "no send was refused for authorization".to_owned()
    } else {
        lines.join("; ")
    };
    Some(CheckResult {
        name: NAME.to_owned(),
        verdict,
        count: problems.len() as u64,
        examples: problems.into_iter().take(super::MAX_EXAMPLES).collect(),
        detail,
        observed: None,
        limit: None,
    })
}

fn example(producer: u32, note: String) -> Example {
    Example {
        producer: Some(producer),
        note,
        ..Example::default()
    }
}
