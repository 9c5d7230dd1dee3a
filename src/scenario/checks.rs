//! The `[checks]` table's vocabulary: the anomaly checks by name, and the metrics a
//! `[checks.regression]` limit may name. The checkers (module `check`) and `compare` use
//! these same names; they are defined here, where a scenario file is read, so that this
//! module needs nothing else of the crate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The figures `kafka-harness compare` holds against a baseline, by name: acknowledged
/// throughput, and ack and end-to-end latency percentiles.
pub const REGRESSION_METRICS: &[&str] = &[
    "throughput",
    "ack_p50",
    "ack_p90",
    "ack_p99",
    "ack_p999",
    "ack_max",
    "e2e_p50",
    "e2e_p90",
    "e2e_p99",
    "e2e_p999",
    "e2e_max",
];

/// The checks, by the names reports and scenarios use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// Acknowledged, never in the log.
    LostWrite,
    /// One message in the log more than once.
    DuplicateWrite,
    /// For one key and producer, log order differs from send order.
    OrderViolation,
    /// One key's records on more than one partition of a topic: its order cannot hold.
    KeySplit,
    /// In the log, never delivered.
    LostDelivery,
    /// Delivered more than once.
    DuplicateDelivery,
    /// A consumer's offsets went backwards within one assignment.
    NonmonotonicPoll,
    /// A key's record processed before an earlier record of that key (first deliveries).
    DeliveryOrder,
    /// In the log or delivered, yet no producer sent it.
    Phantom,
    /// A record of an aborted transaction was delivered or is visible to read_committed.
    AbortedRead,
    /// A committed transaction is only partly visible.
    TornTransaction,
    /// A stage's input is not in its output exactly once.
    ExactlyOnce,
}

impl CheckName {
    /// Every check, in report order.
    pub const ALL: [CheckName; 12] = [
        CheckName::LostWrite,
        CheckName::DuplicateWrite,
        CheckName::OrderViolation,
        CheckName::KeySplit,
        CheckName::LostDelivery,
        CheckName::DuplicateDelivery,
        CheckName::NonmonotonicPoll,
        CheckName::DeliveryOrder,
        CheckName::Phantom,
        CheckName::AbortedRead,
        CheckName::TornTransaction,
        CheckName::ExactlyOnce,
    ];

    /// Whether it judges transactions, so needs a scenario with transactional producers or
    /// stages (`aborted_read`, `torn_transaction`, `exactly_once`).
    pub fn needs_transactions(self) -> bool {
        matches!(
            self,
            CheckName::AbortedRead | CheckName::TornTransaction | CheckName::ExactlyOnce
        )
    }

    /// Whether it judges deliveries only, so needs a scenario with consumers
    /// (`lost_delivery`, `duplicate_delivery`, `nonmonotonic_poll`, `delivery_order`).
    pub fn needs_consumers(self) -> bool {
        matches!(
            self,
            CheckName::LostDelivery
                | CheckName::DuplicateDelivery
                | CheckName::NonmonotonicPoll
                | CheckName::DeliveryOrder
        )
    }

    /// Its snake_case name, as in `architecture.md`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::LostWrite => "lost_write",
            CheckName::DuplicateWrite => "duplicate_write",
            CheckName::OrderViolation => "order_violation",
            CheckName::KeySplit => "key_split",
            CheckName::LostDelivery => "lost_delivery",
            CheckName::DuplicateDelivery => "duplicate_delivery",
            CheckName::NonmonotonicPoll => "nonmonotonic_poll",
            CheckName::DeliveryOrder => "delivery_order",
            CheckName::Phantom => "phantom",
            CheckName::AbortedRead => "aborted_read",
            CheckName::TornTransaction => "torn_transaction",
            CheckName::ExactlyOnce => "exactly_once",
        }
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct UnknownCheck(pub String);

impl fmt::Display for UnknownCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown check {:?}; the checks are ", self.0)?;
        for (i, name) in CheckName::ALL.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{name}")?;
        }
        Ok(())
    }
}

impl FromStr for CheckName {
    type Err = UnknownCheck;
    fn from_str(s: &str) -> Result<CheckName, UnknownCheck> {
        CheckName::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCheck(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_check_lists_every_check() {
        assert_eq!(
            UnknownCheck("torn_write".into()).to_string(),
            "unknown check \"torn_write\"; the checks are lost_write, duplicate_write, order_violation, key_split, lost_delivery, duplicate_delivery, nonmonotonic_poll, delivery_order, phantom, aborted_read, torn_transaction, exactly_once"
        );
    }
}
