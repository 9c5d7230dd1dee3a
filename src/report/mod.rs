//! What a run found, and every rendering of it: [`RunResult`] (the `result.json` contract),
//! the terminal summary, `junit.xml` ([`junit`]), `report.html` and the index page
//! ([`html`]), and the regression gate between two results ([`compare`]).
//!
//! ```text
//!   crate::run assembles ──> RunResult ──> result.json, terminal summary
//!                               ├────────> junit.xml, report.html, index.html
//!   baseline RunResult ─────────┴────────> compare (exit 1 on a regression)
//! ```
//!
//! Everything here is a function of a `RunResult` (or two): this layer imports the check
//! results' and latency figures' types, never the run, its drivers or its cluster, so a
//! report re-rendered from an old `result.json` is the report the run wrote.
//! `result.json` fields are a contract: add freely, never rename or remove.

pub mod compare;
pub mod html;
pub mod junit;
pub mod sweep;

pub use sweep::{GridResult, SloLine, SweepAnswer, SweepResult, SweepStep};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::check::behaviour::{Availability, GroupChange, GroupReport};
use crate::check::{CheckResult, Verdict};
use crate::history::latency::{Percentiles, Second, SpectrumPoint};

/// The cluster a run used.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// embedded, mock, external or container.
    pub kind: String,
    /// Broker count (0 when unknown).
    pub brokers: usize,
    /// Kafka version, when known.
    pub kafka_version: Option<String>,
    /// Bootstrap servers.
    pub bootstrap: String,
}

/// Totals; the anomaly counts come from the checks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Sends invoked.
    pub attempted: u64,
    /// Sends acknowledged.
    pub acked: u64,
    /// Sends that definitely failed.
    pub failed: u64,
    /// Sends with unknown outcome.
    pub indeterminate: u64,
    /// Records delivered to consumers.
    pub consumed: u64,
    /// Acknowledged and missing from the log.
    pub lost: u64,
    /// Messages in the log more than once.
    pub duplicated: u64,
    /// Per-key order violations.
    pub order_violations: u64,
    /// Records of aborted transactions seen by consumers or in the committed log.
    pub aborted_reads: u64,
    /// Committed transactions only partly visible.
    #[serde(default)]
    pub torn_transactions: u64,
}

/// Measured-phase throughput.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Throughput {
    /// Acknowledged messages per second.
    pub produced_msgs_per_s: f64,
    /// Delivered messages per second.
    pub consumed_msgs_per_s: f64,
    /// Acknowledged value bytes per second.
    pub produced_bytes_per_s: f64,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Acknowledgement latency (from the actual send).
    pub ack: Percentiles,
    /// End-to-end latency (from the intended send).
    pub e2e: Percentiles,
    /// Actual minus intended send time.
    pub send_delay: Percentiles,
}

/// Latency percentile spectra (see [`crate::history::latency::spectrum`]), for charts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Spectra {
    /// Acknowledgement latency.
    pub ack: Vec<SpectrumPoint>,
    /// End-to-end latency.
    pub e2e: Vec<SpectrumPoint>,
}

/// Transactions run by transactional producers and stages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Transactions {
    /// Committed.
    pub committed: u64,
    /// Aborted, on purpose or after an error.
    pub aborted: u64,
    /// Commit outcome unknown (e.g. a timeout during commit).
    pub indeterminate: u64,
}

/// The machine a run used.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostInfo {
    /// Host name.
    pub name: String,
    /// Operating system and architecture.
    pub os: String,
    /// Logical CPUs.
    pub cpus: usize,
}

impl HostInfo {
    /// The machine this process runs on.
    pub fn this_machine() -> HostInfo {
        HostInfo {
            name: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_default(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        }
    }
}

/// The first message of a producer table's first instance, exactly as sent: what its
/// traffic looks like.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageSample {
    /// The producer table.
    pub producer: String,
    /// Its template.
    pub template: String,
    /// The key.
    pub key: String,
    /// The value as text (invalid UTF-8 replaced), cut after 2 KiB.
    pub value: String,
    /// The value's whole size in bytes.
    pub size: usize,
}

/// A fault applied during the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// Seconds since the run started.
    pub at_s: f64,
    /// kill, terminate, restart, pause, resume, ...
    pub action: String,
    /// What it was applied to.
    pub target: String,
    /// ok, or the error.
    pub outcome: String,
    /// Seconds applying it took (a restart lasts until the node is back in the cluster).
    #[serde(default)]
    pub took_s: f64,
}

/// An exec client process of the run (`driver = "exec"`): when it ran and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Process {
    /// The scenario table.
    pub table: String,
    /// `producer` or `consumer`.
    pub role: String,
    /// Its instance number within the table.
    pub instance: u32,
    /// Its id in the History: the producer or consumer that anomaly examples name.
    pub id: u32,
    /// Its process id.
    #[serde(default)]
    pub pid: Option<u32>,
    /// The client it said it is (`startup_complete`'s `client`).
    #[serde(default)]
    pub client: Option<String>,
    /// When it started, seconds on the run clock (0 for anything before the first send).
    pub started_at_s: f64,
    /// When it ended, seconds on the run clock.
    pub ended_at_s: Option<f64>,
    /// How it ended: `exit 0`, `signal 9`, ...; `not started` when it could not be started.
    pub how: String,
    /// Why, as far as the harness knows: `shutdown`, `crash_consumer: ...`, `ended by
    /// itself`, `stopped answering: ...`, `protocol error`.
    #[serde(default)]
    pub note: Option<String>,
    /// Its log (stderr and stdout lines that are no events), relative to the result.
    pub log: String,
}

/// Everything a run found: rendered to `result.json`, `report.html`, `junit.xml` and the
/// terminal. The default is an empty run that passed (a starting point for fixtures).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// The scenario file.
    pub scenario_file: PathBuf,
    /// Run id (the report folder's name).
    pub run_id: String,
    /// Overall verdict: fail outranks unknown outranks pass.
    pub verdict: Verdict,
    /// The seed used.
    pub seed: u64,
    /// The cluster.
    pub cluster: ClusterInfo,
    /// Topic names as created.
    pub topics: Vec<String>,
    /// Every check and SLO.
    pub checks: Vec<CheckResult>,
    /// Totals.
    pub counts: Counts,
    /// Throughput in the measured phase.
    pub throughput: Throughput,
    /// Latency in the measured phase.
    pub latency_us: Latency,
    /// Faults applied, in order.
    pub faults: Vec<Fault>,
    /// One entry per second.
    pub timeline: Vec<Second>,
    /// Seconds of the measured phase.
    pub measured_s: f64,
    /// Whether consumers caught up with every acknowledged record before the drain timeout.
    pub drained: bool,
    /// HdrHistogram interval logs written beside the result.
    pub histogram_logs: Vec<String>,
    /// Latency percentile spectra of the measured phase.
    #[serde(default)]
    pub latency_spectrum: Spectra,
    /// Consumer-group behaviour, when the scenario has group consumers.
    #[serde(default)]
    pub group: Option<GroupReport>,
    /// Producer unavailability, from the acknowledgement timeline.
    #[serde(default)]
    pub availability: Option<Availability>,
    /// Transaction totals, when the scenario uses transactions.
    #[serde(default)]
    pub transactions: Option<Transactions>,
    /// The scenario as run, defaults filled in.
    #[serde(default)]
    pub plan: serde_json::Value,
    /// Client library versions, by driver name.
    #[serde(default)]
    pub clients: BTreeMap<String, String>,
    /// The machine.
    #[serde(default)]
    pub host: HostInfo,
    /// Wall-clock start, seconds since the UNIX epoch.
    #[serde(default)]
    pub started_at_epoch_s: f64,
    /// Broker log files (embedded clusters), absolute paths.
    #[serde(default)]
    pub broker_logs: Vec<String>,
    /// Regression limits for `compare`, from the scenario's `[checks.regression]`: metric
    /// name (`throughput`, `ack_p99`, `e2e_p50`, ...) to the largest allowed regression as a
    /// fraction (0.1 is 10%). Metrics not named use the command line's `--max-regression`.
    #[serde(default)]
    pub regression_limits: BTreeMap<String, f64>,
    /// Per-partition record counts in the log, `topic/partition` to count, for skew charts.
    #[serde(default)]
    pub partition_counts: BTreeMap<String, u64>,
    /// The first message of each producer table, as sent.
    #[serde(default)]
    pub samples: Vec<MessageSample>,
    /// Every exec client process, in the order they started.
    #[serde(default)]
    pub processes: Vec<Process>,
    /// Set when the run was stopped before its end (a signal): its checks ran on what was
    /// sent until then, and it is never a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interrupted>,
}

/// How a run was stopped before its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interrupted {
    /// The signal (`SIGTERM`, `SIGINT`).
    pub signal: String,
    /// When it came, seconds on the run clock (0 when it came before producers started).
    pub at_s: f64,
}

/// Writes `result.json` into `dir`.
pub fn write_json(result: &RunResult, dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join("result.json");
    let json = serde_json::to_vec_pretty(result).map_err(std::io::Error::other)?;
    std::fs::write(&path, json)?;
    Ok(path)
}

impl RunResult {
    /// Every check and SLO passed (an interrupted run never passes).
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// The terminal summary: so `assert!(result.passed(), "{result}")` says what failed.
impl std::fmt::Display for RunResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&summary(self))
    }
}

/// The summary printed at the end of a run.
pub fn summary(result: &RunResult) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let ms = |us: u64| us as f64 / 1000.0;
    if let Some(i) = &result.interrupted {
        let _ = writeln!(
            out,
            "\nINTERRUPTED by {} at {:.1} s: producers stopped, consumers drained, checks ran on \
             what was sent until then; an interrupted run is never a pass",
            i.signal, i.at_s
        );
    }
    let _ = writeln!(
        out,
        "\n{}  {}  (seed {}, {} cluster, Kafka {}{})",
        result.verdict.to_string().to_uppercase(),
        result.scenario,
        result.seed,
        result.cluster.kind,
        result.cluster.kafka_version.as_deref().unwrap_or("unknown"),
        if result.cluster.kind == "mock" {
            ", NOT A REAL BROKER"
        } else {
            ""
        }
    );
    out.push_str(&check_table(&result.checks));
    let n = &result.counts;
    let _ = writeln!(
        out,
        "\n  sends {} attempted, {} acked, {} failed, {} indeterminate; {} consumed{}",
        n.attempted,
        n.acked,
        n.failed,
        n.indeterminate,
        n.consumed,
        if result.drained {
            ""
        } else {
            " (consumers did NOT catch up)"
        }
    );
    let t = &result.throughput;
    let _ = writeln!(
        out,
        "  throughput {:.0} msgs/s produced ({:.2} MiB/s), {:.0} msgs/s consumed, over {:.1} s measured",
        t.produced_msgs_per_s,
        t.produced_bytes_per_s / (1024.0 * 1024.0),
        t.consumed_msgs_per_s,
        result.measured_s
    );
    let _ = writeln!(
        out,
        "\n  {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "latency ms", "p50", "p90", "p99", "p99.9", "max", "count"
    );
    for (name, p) in [
        ("ack", &result.latency_us.ack),
        ("end-to-end", &result.latency_us.e2e),
        ("send delay", &result.latency_us.send_delay),
    ] {
        let _ = writeln!(
            out,
            "  {:<12} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>10}",
            name,
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.p999),
            ms(p.max),
            p.count
        );
    }
    if !result.faults.is_empty() {
        let _ = writeln!(out, "\n  faults");
        for f in &result.faults {
            let _ = writeln!(
                out,
                "    {:>7.1} s  {:<16} {}  ({}, took {:.1} s)",
                f.at_s, f.action, f.target, f.outcome, f.took_s
            );
        }
    }
    if let Some(a) = &result.availability
        && !result.faults.is_empty()
    {
        let recovery = a
            .recovery_s
            .map_or("not seen".to_owned(), |r| format!("{r:.1} s"));
        let _ = writeln!(
            out,
            "  longest time without acks {:.1} s (from {:.1} s); recovery after the first broker fault {recovery}",
            a.longest_ack_gap_s, a.gap_started_at_s
        );
    }
    if let Some(g) = &result.group {
        let _ = writeln!(
            out,
            "  groups ({}): {} rebalances, {:.1} partition-seconds without an owner",
            g.protocol, g.rebalances, g.unassigned_partition_s
        );
    }
    if let Some(t) = &result.transactions {
        let _ = writeln!(
            out,
            "  transactions: {} committed, {} aborted, {} undecided",
            t.committed, t.aborted, t.indeterminate
        );
    }
    if !result.processes.is_empty() {
        let _ = writeln!(out, "\n  exec processes");
        for p in &result.processes {
            let _ = writeln!(
                out,
                "    {:<8} {:<20} {:<10} {:>7} to {:>7}  {}  {}",
                p.role,
                format!("{}-{}", p.table, p.instance),
                p.how,
                format!("{:.1} s", p.started_at_s),
                p.ended_at_s.map_or("-".to_owned(), |e| format!("{e:.1} s")),
                p.note.as_deref().unwrap_or(""),
                p.log
            );
        }
    }
    out.push_str(&failed_examples(&result.checks));
    out
}

/// The summary's table of checks: name, verdict, count and detail, a line each.
pub fn check_table(checks: &[CheckResult]) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "\n  {:<22} {:<8} {:>10}  detail\n",
        "check", "verdict", "count"
    );
    for c in checks {
        let _ = writeln!(
            out,
            "  {:<22} {:<8} {:>10}  {}",
            c.name,
            c.verdict.to_string(),
            c.count,
            c.detail
        );
    }
    out
}

/// The examples of every check that did not pass (key, producer, partition, offset, ...).
pub fn failed_examples(checks: &[CheckResult]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for c in checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass && !c.examples.is_empty())
    {
        let _ = writeln!(out, "\n  {} examples:", c.name);
        for e in &c.examples {
            let _ = writeln!(out, "    {}", serde_json::to_string(e).unwrap_or_default());
        }
    }
    out
}
