//! Read back and check, for your own code: the Log of a [`Recording`]'s topics read from any
//! [`Cluster`], the checkers run on (History, Log), and one outcome that prints like the
//! terminal summary, so `assert!(v.passed(), "{v}")` explains itself when it fails.
//!
//! ```text
//!   Recording ──history()──> (History, keys) ──┐
//!   Cluster ──metadata: partitions per topic──> logread::read ──> Log ──> check::run_all ──> Verification
//! ```

use std::fmt;

use crate::check::{self, CheckResult, CheckSettings, Verdict};
use crate::cluster::{Cluster, ClusterError, admin};
use crate::history::recording::Recording;
use crate::history::{Isolation, TopicId};
use crate::scenario::CheckName;

/// The checkers' verdicts on a recording, with what they read.
#[derive(Debug, Clone)]
pub struct Verification {
    /// One result per check asked for, in that order.
    pub checks: Vec<CheckResult>,
    /// Sends recorded.
    pub sends: usize,
    /// Records read back from the log.
    pub log_records: usize,
    /// Deliveries recorded.
    pub deliveries: usize,
}

impl Verification {
    /// Every check passed (an undecided check is no pass).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict == Verdict::Pass)
    }

    /// The result of check `name`, if it was asked for.
    pub fn check(&self, name: CheckName) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name.as_str())
    }
}

/// The terminal summary's form: the verdict, what was read, the check table, and the
/// examples of every check that did not pass.
impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        writeln!(
            f,
            "{verdict}  {} sends recorded, {} records in the log, {} deliveries recorded",
            self.sends, self.log_records, self.deliveries
        )?;
        f.write_str(&crate::report::check_table(&self.checks))?;
        f.write_str(&crate::report::failed_examples(&self.checks))
    }
}

/// Reads every partition of the recording's topics from `cluster` and runs `checks` on
/// them, at least once: duplicate deliveries allowed, `lost_delivery` over the topics that
/// were consumed.
pub async fn verify(
    cluster: &dyn Cluster,
    recording: &Recording,
    checks: &[CheckName],
) -> Result<Verification, ClusterError> {
    verify_with(cluster, recording, checks, CheckSettings::default()).await
}

/// [`verify`] with settings of your own (e.g. no duplicate delivery allowed); consumed
/// topics left empty are taken from the deliveries.
pub async fn verify_with(
    cluster: &dyn Cluster,
    recording: &Recording,
    checks: &[CheckName],
    mut settings: CheckSettings,
) -> Result<Verification, ClusterError> {
    let (history, keys) = recording.history();
    let client = cluster.client_config();
    let mut partitions = Vec::with_capacity(history.topics.len());
    for topic in &history.topics {
        partitions.push(admin::topic_partitions(&client, topic).await?.len() as i32);
    }
    let (log, _) = super::logread::read(
        &client,
        &history.topics,
        &partitions,
        &[],
        keys,
        Isolation::ReadUncommitted,
    )
    .await?;
    if settings.consumed_topics.is_empty() {
        let mut consumed: Vec<TopicId> = history.deliveries.iter().map(|d| d.topic).collect();
        consumed.sort_unstable();
        consumed.dedup();
        settings.consumed_topics = consumed;
    }
    Ok(Verification {
        checks: check::run_all(&history, &log, &settings, checks),
        sends: history.sends.len(),
        log_records: log.records.len(),
        deliveries: history.deliveries.len(),
    })
}
