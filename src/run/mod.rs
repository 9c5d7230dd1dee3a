//! One scenario end to end: run it, judge the evidence, write the report.
//!
//! ```text
//!   Plan + Cluster ──runner──> Evidence ──checkers + SLOs──> RunResult ──> reports/<run-id>/
//! ```

pub mod backend;
pub mod consumers;
pub mod engine;
pub mod logread;
pub mod nemesis;

use std::path::{Path, PathBuf};

use crate::check::behaviour;
use crate::check::{self, CheckSettings};
use crate::cluster::Cluster;
use crate::history::TxnOutcome;
use crate::report::{self, ClusterInfo, Fault, RunResult};
use crate::scenario::{Plan, Seeds};
use engine::{RunError, RunOptions};

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
    let seeds = Seeds::resolve(options.seed, plan);
    let options = RunOptions {
        topic_suffix: format!("-{tag}"),
        ..options
    };
    let evidence = engine::run(plan, cluster, &options, &seeds).await?;

    let settings = CheckSettings {
        duplicate_delivery_allowed: plan.checks.duplicate_delivery_allowed,
        max_duplicate_deliveries: plan.checks.max_duplicate_deliveries,
        consumed_topics: plan
            .consumers
            .iter()
            .map(|c| c.topic as u16)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        pipelines: plan
            .stages
            .iter()
            .map(|s| (s.input as u16, s.output as u16))
            .collect(),
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
    let mut result = report::build(plan, &run_id, seeds.run(), info, &evidence, checks, logs);
    let history = &evidence.history;
    result.faults = history
        .faults
        .iter()
        .map(|f| Fault {
            at_s: f.at as f64 / 1e6,
            action: f.action.clone(),
            target: f.target.clone(),
            outcome: f.outcome.clone(),
            took_s: f.took as f64 / 1e6,
        })
        .collect();
    for f in &history.faults {
        if let Some(second) = result.timeline.get_mut((f.at / 1_000_000) as usize) {
            second.faults.push(format!("{} {}", f.action, f.target));
        }
    }
    result.availability = behaviour::availability(history, &history.faults);
    let protocols: Vec<String> = plan
        .consumers
        .iter()
        .filter_map(|c| {
            let group = c.group.as_ref()?;
            let protocol = c
                .client
                .get("group.protocol")
                .map_or("classic", String::as_str);
            Some(format!("{group}: {protocol}"))
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let end = (evidence.producers_done_s * 1e6) as u64;
    result.group = behaviour::group_report(history, &history.faults, &protocols, end);
    result.plan = serde_json::to_value(plan).unwrap_or_default();
    if plan.has_transactions() {
        let count = |o| history.txns.iter().filter(|t| t.outcome == o).count() as u64;
        result.transactions = Some(report::Transactions {
            committed: count(TxnOutcome::Committed),
            aborted: count(TxnOutcome::Aborted),
            indeterminate: count(TxnOutcome::Indeterminate),
        });
    }
    result.clients = client_versions();
    result.broker_logs = copy_broker_logs(cluster, &dir);
    report::write_json(&result, &dir)
        .map_err(|e| RunError::Client(format!("writing result.json: {e}")))?;
    Ok((result, dir))
}

/// The client libraries in this build, by driver name.
fn client_versions() -> std::collections::BTreeMap<String, String> {
    let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
    [
        ("rdkafka".to_owned(), format!("librdkafka {librdkafka}")),
        ("rskafka".to_owned(), "rskafka 0.6".to_owned()),
    ]
    .into()
}

/// Copies each broker's log into `dir/brokers/`, so the report can link to it after the
/// cluster (and its work directory) is gone; returns the paths relative to `dir`.
fn copy_broker_logs(cluster: &dyn Cluster, dir: &Path) -> Vec<String> {
    let logs = cluster.broker_logs();
    if logs.is_empty() {
        return Vec::new();
    }
    let target = dir.join("brokers");
    if let Err(e) = std::fs::create_dir_all(&target) {
        tracing::warn!("could not keep broker logs: {e}");
        return Vec::new();
    }
    logs.into_iter()
        .filter_map(|(node, path)| {
            let name = format!("brokers/node-{node}.log");
            match std::fs::copy(&path, dir.join(&name)) {
                Ok(_) => Some(name),
                Err(e) => {
                    tracing::warn!("could not copy {}: {e}", path.display());
                    None
                }
            }
        })
        .collect()
}
