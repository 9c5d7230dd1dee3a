//! From the evidence to the [`RunResult`]: the checkers and SLOs judge it, and the result is
//! assembled here, in one place, field by field.
//!
//! ```text
//!   Evidence ──check::run_all + check::slo::judge──> Vec<CheckResult> ─┐
//!   Evidence + Plan + Artefacts (run id, seed, cluster, files) ────────┴─> RunResult
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::engine::Evidence;
use crate::check::{self, CheckResult, CheckSettings, Verdict, behaviour, slo};
use crate::history::latency::{percentiles, spectrum};
use crate::history::{GroupEvent, TxnOutcome};
use crate::report::{
    ClusterInfo, Counts, Fault, HostInfo, Latency, MessageSample, Process, RunResult, Spectra,
    Throughput, Transactions,
};
use crate::scenario::{Plan, Seeds};

/// Bytes of a sample value kept in the result.
const SAMPLE_BYTES: usize = 2048;

/// What the run made besides the evidence: its names and the files beside the result.
#[derive(Debug, Clone)]
pub struct Artefacts {
    /// The run id (the report folder's name).
    pub run_id: String,
    /// The seed the run used.
    pub seed: u64,
    /// The cluster it ran on.
    pub cluster: ClusterInfo,
    /// Histogram logs written beside the result.
    pub histogram_logs: Vec<String>,
    /// Broker logs copied beside the result.
    pub broker_logs: Vec<String>,
    /// Client library versions, by driver name.
    pub clients: BTreeMap<String, String>,
}

/// Every enabled check and every SLO of `plan`, judged on `evidence`.
pub fn judge(plan: &Plan, evidence: &Evidence) -> Vec<CheckResult> {
    let settings = CheckSettings {
        duplicate_delivery_allowed: plan.checks.duplicate_delivery_allowed,
        max_duplicate_deliveries: plan.checks.max_duplicate_deliveries,
        consumed_topics: plan
            .consumers
            .iter()
            .map(|c| c.topic as u16)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        pipelines: plan
            .stages
            .iter()
            .map(|s| (s.input as u16, s.output as u16))
            .collect(),
        assignments_unknown: assignments_unknown(evidence),
    };
    let mut checks = check::run_all(
        &evidence.history,
        &evidence.log,
        &settings,
        &plan.checks.anomalies,
    );
    let measured = slo::Measured {
        acked: evidence.measured_acked,
        seconds: evidence.measured_s,
    };
    checks.extend(slo::judge(&plan.checks.slos, &evidence.recorder, measured));
    checks.extend(check::authz::judge(plan, &evidence.history));
    checks
}

/// The result of a run: every field of `result.json`, from the evidence, the plan, the check
/// results and the run's artefacts.
pub fn assemble(
    plan: &Plan,
    evidence: &Evidence,
    checks: Vec<CheckResult>,
    artefacts: Artefacts,
) -> RunResult {
    let count_of = |name: &str| {
        checks
            .iter()
            .find(|c| c.name == name)
            .map_or(0, |c| c.count)
    };
    let verdict = checks
        .iter()
        .fold(Verdict::Pass, |v, c| v.combine(c.verdict));
    // Stopped before its end: what it checked may hold, but the scenario did not run.
    let verdict = match (&evidence.interrupted, verdict) {
        (Some(_), Verdict::Pass) => Verdict::Unknown,
        (_, v) => v,
    };
    let history = &evidence.history;
    let c = evidence.counts;
    let per_s = |n: u64| n as f64 / evidence.measured_s;
    let mut timeline = evidence.recorder.timeline.clone();
    for f in &history.faults {
        if let Some(second) = timeline.get_mut((f.at / 1_000_000) as usize) {
            second.faults.push(format!("{} {}", f.action, f.target));
        }
    }
    let end = (evidence.producers_done_s * 1e6) as u64;
    RunResult {
        scenario: plan.name.clone(),
        scenario_file: plan.file.clone(),
        run_id: artefacts.run_id,
        verdict,
        seed: artefacts.seed,
        cluster: artefacts.cluster,
        topics: evidence.topics.clone(),
        counts: Counts {
            attempted: c.attempted,
            acked: c.acked,
            failed: c.failed,
            indeterminate: c.indeterminate,
            consumed: c.consumed,
            lost: count_of("lost_write"),
            duplicated: count_of("duplicate_write"),
            order_violations: count_of("order_violation"),
            aborted_reads: count_of("aborted_read"),
            torn_transactions: count_of("torn_transaction"),
        },
        throughput: Throughput {
            produced_msgs_per_s: per_s(evidence.measured_acked),
            consumed_msgs_per_s: per_s(evidence.measured_consumed),
            produced_bytes_per_s: per_s(evidence.measured_bytes),
        },
        latency_us: Latency {
            ack: percentiles(&evidence.recorder.ack),
            e2e: percentiles(&evidence.recorder.e2e),
            send_delay: percentiles(&evidence.recorder.send_delay),
        },
        faults: history
            .faults
            .iter()
            .map(|f| Fault {
                at_s: f.at as f64 / 1e6,
                action: f.action.clone(),
                target: f.target.clone(),
                outcome: f.outcome.clone(),
                took_s: f.took as f64 / 1e6,
            })
            .collect(),
        latency_spectrum: Spectra {
            ack: spectrum(&evidence.recorder.ack),
            e2e: spectrum(&evidence.recorder.e2e),
        },
        group: behaviour::group_report(history, &history.faults, &group_protocols(plan), end),
        availability: behaviour::availability(history, &history.faults),
        transactions: plan.has_transactions().then(|| {
            let count = |o| history.txns.iter().filter(|t| t.outcome == o).count() as u64;
            Transactions {
                committed: count(TxnOutcome::Committed),
                aborted: count(TxnOutcome::Aborted),
                indeterminate: count(TxnOutcome::Indeterminate),
            }
        }),
        plan: serde_json::to_value(plan).unwrap_or_default(),
        clients: with_exec_clients(artefacts.clients, evidence),
        processes: processes(evidence),
        interrupted: evidence.interrupted.clone(),
        host: HostInfo::this_machine(),
        started_at_epoch_s: evidence.start_epoch_s,
        broker_logs: artefacts.broker_logs,
        regression_limits: plan.checks.regression.clone(),
        partition_counts: partition_counts(evidence),
        samples: samples(plan, artefacts.seed),
        timeline,
        measured_s: evidence.measured_s,
        drained: evidence.drained,
        histogram_logs: artefacts.histogram_logs,
        checks,
    }
}

/// Exec consumers that reported no assignment change at all: the group assigned their
/// partitions, but when, nobody can say.
fn assignments_unknown(evidence: &Evidence) -> Vec<u32> {
    let reported: BTreeSet<u32> = evidence
        .history
        .group_events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::Assigned { consumer, .. } | GroupEvent::Revoked { consumer, .. } => {
                Some(*consumer)
            }
            _ => None,
        })
        .collect();
    evidence
        .processes
        .iter()
        .filter(|p| p.role == crate::driver::exec::Role::Consumer && !reported.contains(&p.id))
        .map(|p| p.id)
        .collect()
}

/// The exec processes, their times on the run clock.
fn processes(evidence: &Evidence) -> Vec<Process> {
    let run_s = |us: u64| (us as f64 / 1e6 - evidence.start_epoch_s).max(0.0);
    evidence
        .processes
        .iter()
        .map(|p| Process {
            table: p.table.clone(),
            role: p.role.as_str().to_owned(),
            instance: p.instance,
            id: p.id,
            pid: p.pid,
            client: p.client.clone(),
            started_at_s: run_s(p.started_at_us),
            ended_at_s: p.ended_at_us.map(run_s),
            how: p.how.clone().unwrap_or_else(|| "still running".into()),
            note: p.note.clone(),
            log: p.log.clone(),
        })
        .collect()
}

/// The client versions, with each exec table's client as its processes named it
/// (`exec audit-writer`: `kafkajs 2.2.4`).
fn with_exec_clients(
    mut clients: BTreeMap<String, String>,
    evidence: &Evidence,
) -> BTreeMap<String, String> {
    for p in &evidence.processes {
        if let Some(client) = &p.client {
            clients
                .entry(format!("exec {}", p.table))
                .or_insert_with(|| client.clone());
        }
    }
    clients
}

/// `group: protocol` for every consumer group of the plan.
fn group_protocols(plan: &Plan) -> Vec<String> {
    plan.consumers
        .iter()
        .filter_map(|c| {
            let group = c.group.as_ref()?;
            let protocol = c
                .client
                .get("group.protocol")
                .map_or("classic", String::as_str);
            Some(format!("{group}: {protocol}"))
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Records per `topic/partition` in the log.
fn partition_counts(evidence: &Evidence) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for r in &evidence.log.records {
        let topic = evidence
            .history
            .topics
            .get(r.topic as usize)
            .map_or("?", String::as_str);
        *counts
            .entry(format!("{topic}/{}", r.partition))
            .or_insert(0) += 1;
    }
    counts
}

/// The first message of each producer table's first instance in a run with `seed`.
fn samples(plan: &Plan, seed: u64) -> Vec<MessageSample> {
    let seeds = Seeds::new(seed);
    plan.producers
        .iter()
        .zip(plan.first_producer_ids())
        .filter_map(|(p, id)| {
            let (key, value) = crate::workload::first_message(p, &seeds, id).ok()?;
            let mut text = String::from_utf8_lossy(&value[..value.len().min(SAMPLE_BYTES)]);
            if value.len() > SAMPLE_BYTES {
                text.to_mut().push('…');
            }
            Some(MessageSample {
                producer: p.name.clone(),
                template: p.template.name().to_owned(),
                key,
                value: text.into_owned(),
                size: value.len(),
            })
        })
        .collect()
}
