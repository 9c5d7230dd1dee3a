//! One scenario end to end: run it, judge the evidence, write the report.
//!
//! ```text
//!   Plan + Cluster ──runner──> Evidence ──checkers + SLOs──> RunResult ──> reports/<run-id>/
//! ```

use std::path::{Path, PathBuf};

use crate::check::{self, CheckSettings};
use crate::cluster::Cluster;
use crate::report::{self, ClusterInfo, RunResult};
use crate::runner::{self, RunError, RunOptions};
use crate::scenario::Plan;

/// Runs `plan` on `cluster`, writes `out/<run-id>/` and returns the result and that folder.
pub async fn execute(
    plan: &Plan,
    cluster: &dyn Cluster,
    options: RunOptions,
    out: &Path,
) -> Result<(RunResult, PathBuf), RunError> {
    let tag = format!("{:08x}", rand::random::<u32>());
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let run_id = format!("{}-{epoch}-{tag}", plan.name);
    let dir = out.join(&run_id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| RunError::Client(format!("creating {}: {e}", dir.display())))?;
    let seed = options.seed.unwrap_or(plan.seed);
    let options = RunOptions {
        topic_suffix: format!("-{tag}"),
        ..options
    };
    let evidence = runner::run(plan, cluster, &options).await?;

    let settings = CheckSettings {
        duplicate_delivery_allowed: plan.checks.duplicate_delivery_allowed,
        max_duplicate_deliveries: plan.checks.max_duplicate_deliveries,
        consumed_topics: plan.consumers.iter().map(|c| c.topic as u16).collect(),
    };
    let mut checks = check::run_all(
        &evidence.history,
        &evidence.log,
        &settings,
        &plan.checks.anomalies,
    );
    checks.extend(report::slo_results(plan, &evidence));

    let logs = match evidence.recorder.write_logs(&dir, evidence.start_epoch_s) {
        Ok(()) => vec!["ack.hlog".to_owned(), "e2e.hlog".to_owned()],
        Err(e) => {
            tracing::warn!("could not write histogram logs: {e}");
            Vec::new()
        }
    };
    let info = ClusterInfo {
        kind: cluster.kind().to_string(),
        brokers: cluster.node_ids().len(),
        kafka_version: cluster.kafka_version(),
        bootstrap: cluster.bootstrap_servers(),
    };
    let result = report::build(plan, &run_id, seed, info, &evidence, checks, logs);
    report::write_json(&result, &dir)
        .map_err(|e| RunError::Client(format!("writing result.json: {e}")))?;
    Ok((result, dir))
}
