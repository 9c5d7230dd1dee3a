//! The run: one scenario end to end, the one layer that uses every other.
//!
//! ```text
//!   execute ──> engine::run ──> Evidence ──result::judge──> checks ──result::assemble──> RunResult
//!                   │                                                                   └──> reports/<run-id>/
//!                   ├─ producers   driver factory and the open-loop send loop
//!                   ├─ stages      consume-transform-produce instances, adapted to events
//!                   ├─ consumers   consumer instances, added, removed and crashed on command
//!                   ├─ nemesis     broker and consumer faults on the schedule
//!                   ├─ collector   every event, in order ──> History, latency, live figures
//!                   │   └─ progress  the line a second on stderr
//!                   ├─ drain       wait for assignment; wait until consumers have it all
//!                   └─ logread     every partition read back: the Log
//! ```

pub mod backend;
pub mod backlog;
mod collector;
pub mod consumers;
mod drain;
pub mod engine;
pub mod interrupt;
pub mod logread;
pub mod nemesis;
mod producers;
mod progress;
pub mod result;
mod stages;
pub mod sweep;
pub mod verify;

use std::path::{Path, PathBuf};

use engine::{RunError, RunOptions};
use result::Artefacts;

use crate::cluster::Cluster;
use crate::report::{self, ClusterInfo, RunResult};
use crate::scenario::{Plan, Seeds};

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
    let run_id = format!("{}-{epoch}-{tag}", folder_name(&plan.name));
    // One plain component under `out`, whatever the scenario's name holds.
    let dir = out.join(&run_id);
    std::fs::create_dir_all(&dir).map_err(|e| RunError::Io {
        path: dir.clone(),
        source: e,
    })?;
    let seeds = Seeds::resolve(options.seed, plan);
    let options = RunOptions {
        topic_suffix: format!("-{tag}"),
        run_dir: Some(dir.clone()),
        ..options
    };
    let evidence = engine::run(plan, cluster, &options, &seeds).await?;
    let checks = result::judge(plan, &evidence);

    let histogram_logs = match evidence.recorder.write_logs(&dir, evidence.start_epoch_s) {
        Ok(()) => vec!["ack.hlog".to_owned(), "e2e.hlog".to_owned()],
        Err(e) => {
            tracing::warn!("could not write histogram logs: {e}");
            Vec::new()
        }
    };
    let artefacts = Artefacts {
        run_id,
        seed: seeds.run(),
        cluster: ClusterInfo {
            kind: cluster.kind().to_string(),
            brokers: cluster.node_ids().len(),
            kafka_version: cluster.kafka_version(),
            bootstrap: cluster.bootstrap_servers(),
        },
        histogram_logs,
        broker_logs: copy_broker_logs(cluster, &dir),
        clients: client_versions(),
    };
    let result = result::assemble(plan, &evidence, checks, artefacts);
    let path = dir.join("result.json");
    report::write_json(&result, &dir).map_err(|e| RunError::Io { path, source: e })?;
    Ok((result, dir))
}

/// The longest part of a run folder's name taken from the scenario's name.
const NAME_CHARS: usize = 80;

/// A scenario name as one safe folder-name component: ASCII letters, digits, `.`, `_` and
/// `-` kept, every other run of characters (`/`, spaces, control characters, markup, other
/// scripts) one `_`; no leading `.` (so never `..`), at most 80 characters, and `scenario`
/// when nothing is left. The name itself is shown as written (escaped) in the reports.
pub fn folder_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed: String = out
        .trim_start_matches(['.', '_'])
        .chars()
        .take(NAME_CHARS)
        .collect();
    let trimmed = trimmed.trim_end_matches('_');
    if trimmed.is_empty() {
        "scenario".to_owned()
    } else {
        trimmed.to_owned()
    }
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

#[cfg(test)]
mod tests {
    use super::folder_name;

    #[test]
    fn run_folders_stay_one_plain_component() {
        for (name, folder) in [
            ("audit-flood", "audit-flood"),
            ("../../escaped", "escaped"),
            ("..", "scenario"),
            ("", "scenario"),
            ("/etc/passwd", "etc_passwd"),
            (
                "flood <script>alert(1)</script>",
                "flood_script_alert_1_script",
            ),
            ("tab\tand\nnewline\u{7}", "tab_and_newline"),
            ("konto-äöü", "konto-"),
            (".hidden", "hidden"),
        ] {
            assert_eq!(folder_name(name), folder, "{name:?}");
        }
        let long = folder_name(&"x".repeat(500));
        assert_eq!(long.len(), 80);
        for name in ["a/../../b", "..\\..\\c", "\u{0}", "./.", "x/..", "-rf /"] {
            let f = folder_name(name);
            let path = std::path::Path::new("out").join(&f);
            assert_eq!(
                path.parent(),
                Some(std::path::Path::new("out")),
                "{name:?} -> {f}"
            );
            assert!(!f.starts_with('.') && !f.contains('/'), "{name:?} -> {f}");
        }
    }
}
