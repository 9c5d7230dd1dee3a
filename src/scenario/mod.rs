//! Scenario files: TOML, pure data, validated strictly before anything touches a broker.
//!
//! ```text
//!   file.toml ──toml (deny_unknown_fields)──> raw structs with spans ──validate()──> Plan
//! ```
//!
//! Every error names the file, line and column, the field, the value and the rule broken,
//! e.g. `audit.toml:12:8: producers[0].rate = "5k/s": expected a number per second like
//! "5000/s", or "max"`. Client settings (`[producers.client]`, `[consumers.client]`) pass
//! straight to the Kafka client; harness keys never mix with them. The keys are documented
//! in `docs/scenarios.md`.

pub mod checks;
pub mod faults;
pub mod secrets;
pub mod security;
pub mod seeds;
pub mod shape;
pub mod sweep;
pub mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

pub use checks::{CheckName, REGRESSION_METRICS, UnknownCheck};
pub use faults::{BrokerOp, BrokerTarget, FaultAction, FaultPlan, FaultTarget, Need, Trigger};
pub use security::{Expect, SecurityPlan};
pub use seeds::Seeds;
pub use shape::{KeyDistribution, KeyDistributionError, Template, UnknownTemplate};
pub use units::Rate;

/// A scenario that failed to parse or validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, naming the field, the value and the rule.
    pub message: String,
}

/// Which client implementation a producer or consumer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    /// librdkafka through the rdkafka crate: idempotence, transactions, consumer groups.
    Rdkafka,
    /// rskafka, pure Rust: partition-level, no groups, no transactions.
    Rskafka,
    /// Your own client, a child process speaking the exec protocol (`docs/drivers.md`).
    Exec,
    /// Kafka's own `VerifiableProducer` / `VerifiableConsumer` (the Java client), run
    /// unchanged from the `kafka-tools` artefact (`docs/drivers.md#verifiable`).
    Verifiable,
}

impl fmt::Display for DriverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriverKind::Rdkafka => "rdkafka",
            DriverKind::Rskafka => "rskafka",
            DriverKind::Exec => "exec",
            DriverKind::Verifiable => "verifiable",
        })
    }
}

/// When a group consumer commits offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitMode {
    /// The client's periodic auto-commit.
    Auto,
    /// Commit each record's offset after it has been processed (at-least-once).
    AfterProcessing,
    /// Commit each record's offset, synchronously, before processing it (at-most-once: a
    /// crash while processing loses the record). For showing what that costs.
    BeforeProcessing,
}

// ----- raw file structure -------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: u64,
    duration: Option<Spanned<String>>,
    messages: Option<Spanned<u64>>,
    warmup: Option<Spanned<String>>,
    drain_timeout: Option<Spanned<String>>,
    #[serde(default)]
    cluster: RawCluster,
    topics: Spanned<Vec<RawTopic>>,
    #[serde(default)]
    producers: Vec<RawProducer>,
    #[serde(default)]
    consumers: Vec<RawConsumer>,
    #[serde(default)]
    checks: RawChecks,
    #[serde(default)]
    stages: Vec<RawStage>,
    #[serde(default)]
    faults: Vec<faults::RawFault>,
    sweep: Option<sweep::RawSweep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: Spanned<String>,
    #[serde(default = "rdkafka_driver")]
    driver: Spanned<DriverKind>,
    #[serde(default = "one")]
    instances: Spanned<i64>,
    input: Spanned<String>,
    output: Spanned<String>,
    group: Spanned<String>,
    transaction_every: Spanned<i64>,
    #[serde(default)]
    client: BTreeMap<String, toml::Value>,
}

fn rdkafka_driver() -> Spanned<DriverKind> {
    Spanned::new(0..0, DriverKind::Rdkafka)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransactions {
    every: Spanned<i64>,
    #[serde(default)]
    abort: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    brokers: Option<Spanned<i64>>,
    kafka_version: Option<String>,
    #[serde(default)]
    broker_config: BTreeMap<String, toml::Value>,
    security: Option<security::RawSecurity>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    name: Spanned<String>,
    partitions: Spanned<i64>,
    #[serde(default = "one")]
    replication_factor: Spanned<i64>,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
}

fn one() -> Spanned<i64> {
    Spanned::new(0..0, 1)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProducer {
    name: Spanned<String>,
    driver: Spanned<DriverKind>,
    #[serde(default = "one")]
    instances: Spanned<i64>,
    topic: Spanned<String>,
    // Required, except on a verifiable table (which refuses them: its values are its own).
    template: Option<Spanned<String>>,
    size: Option<Spanned<String>>,
    keys: RawKeys,
    rate: Spanned<String>,
    max_in_flight: Option<Spanned<i64>>,
    transactions: Option<Spanned<RawTransactions>>,
    expect: Option<Spanned<String>>,
    #[serde(default)]
    client: BTreeMap<String, toml::Value>,
    principal: Option<Spanned<String>>,
    // The keys of an exec table (`driver = "exec"`), refused on any other.
    command: Option<Spanned<Vec<Spanned<String>>>>,
    env: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    cwd: Option<Spanned<String>>,
    startup_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    count: Spanned<i64>,
    distribution: Spanned<String>,
    exponent: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsumer {
    name: Spanned<String>,
    driver: Spanned<DriverKind>,
    #[serde(default = "one")]
    instances: Spanned<i64>,
    topic: Spanned<String>,
    group: Option<Spanned<String>>,
    commit: Option<Spanned<CommitMode>>,
    processing_time: Option<Spanned<String>>,
    #[serde(default)]
    client: BTreeMap<String, toml::Value>,
    principal: Option<Spanned<String>>,
    // The keys of an exec table (`driver = "exec"`), refused on any other.
    command: Option<Spanned<Vec<Spanned<String>>>>,
    env: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    cwd: Option<Spanned<String>>,
    startup_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    anomalies: Option<Spanned<Vec<Spanned<String>>>>,
    duplicate_delivery: Option<Spanned<String>>,
    max_duplicate_deliveries: Option<u64>,
    #[serde(default)]
    slo: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    regression: BTreeMap<String, Spanned<String>>,
}

// ----- the validated plan -------------------------------------------------------------

/// A validated scenario, ready to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Scenario name.
    pub name: String,
    /// What it is about.
    pub description: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Seed for every random choice (see [`Seeds`]).
    pub seed: u64,
    /// How long producers send (after warm-up), unless `messages` is set.
    #[serde(with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// How many messages producers send in all, instead of a duration.
    pub messages: Option<u64>,
    /// Sending time excluded from latency and throughput figures.
    #[serde(with = "humantime_serde")]
    pub warmup: Duration,
    /// How long consumers may take to catch up after producers stop.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// Cluster needs.
    pub cluster: ClusterNeeds,
    /// Topics to create.
    pub topics: Vec<TopicPlan>,
    /// Producer groups.
    pub producers: Vec<ProducerPlan>,
    /// Consumer groups.
    pub consumers: Vec<ConsumerPlan>,
    /// What to check.
    pub checks: ChecksPlan,
    /// Consume-transform-produce stages.
    pub stages: Vec<StagePlan>,
    /// The nemesis' schedule.
    pub faults: Vec<FaultPlan>,
    /// Capacity planning: the rates `kafka-harness sweep` tries (`[sweep]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<sweep::SweepPlan>,
}

impl Plan {
    /// The first consumer table of the group `table` belongs to (same group id and topic),
    /// which stands for the whole group; a table without a group stands for itself.
    pub fn reader_index(&self, table: usize) -> usize {
        let c = &self.consumers[table];
        match &c.group {
            Some(group) => self
                .consumers
                .iter()
                .position(|o| o.group.as_ref() == Some(group) && o.topic == c.topic)
                .unwrap_or(table),
            None => table,
        }
    }

    /// The instance id of each producer table's first instance: instances are numbered
    /// from 0 across the tables, in order.
    pub fn first_producer_ids(&self) -> Vec<u32> {
        self.producers
            .iter()
            .scan(0u32, |next, p| {
                let first = *next;
                *next += p.instances;
                Some(first)
            })
            .collect()
    }

    /// Whether any producer or stage uses transactions.
    pub fn has_transactions(&self) -> bool {
        !self.stages.is_empty() || self.producers.iter().any(|p| p.transactions.is_some())
    }

    /// Per topic (in order): its partitions if a consumer table reads it, else 0.
    pub fn consumed_partitions(&self) -> Vec<i32> {
        self.topics
            .iter()
            .enumerate()
            .map(|(t, p)| {
                let consumed = self.consumers.iter().any(|c| c.topic == t);
                if consumed { p.partitions } else { 0 }
            })
            .collect()
    }
}

/// Transactions of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TransactionPlan {
    /// Messages per transaction.
    pub every: u32,
    /// The share of transactions aborted on purpose (seeded), 0 to below 1.
    pub abort_ratio: f64,
}

/// A consume-transform-produce stage: reads `input` in a consumer group (read_committed),
/// writes each record to `output` and commits its input offsets in the same transaction,
/// every `transaction_every` records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StagePlan {
    /// Name.
    pub name: String,
    /// Number of instances (members of the group).
    pub instances: u32,
    /// Index into [`Plan::topics`] of the topic read.
    pub input: usize,
    /// Index into [`Plan::topics`] of the topic written.
    pub output: usize,
    /// Consumer group id.
    pub group: String,
    /// Records per transaction.
    pub transaction_every: u32,
    /// Settings passed straight to the client (consumer and producer alike).
    #[serde(serialize_with = "secrets::serialize_redacted")]
    pub client: BTreeMap<String, String>,
}

/// What the scenario needs of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterNeeds {
    /// Nodes (embedded backend).
    pub brokers: usize,
    /// Kafka version (embedded backend).
    pub kafka_version: Option<String>,
    /// Broker configs (embedded backend).
    #[serde(serialize_with = "secrets::serialize_redacted")]
    pub broker_config: BTreeMap<String, String>,
    /// How the client listener is secured, users and ACLs (embedded backend).
    pub security: SecurityPlan,
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicPlan {
    /// Name.
    pub name: String,
    /// Partitions.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: i32,
    /// Topic configs.
    #[serde(serialize_with = "secrets::serialize_redacted")]
    pub config: BTreeMap<String, String>,
}

/// A group of identical producer instances.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProducerPlan {
    /// Name.
    pub name: String,
    /// Client implementation.
    pub driver: DriverKind,
    /// Number of instances.
    pub instances: u32,
    /// Index into [`Plan::topics`].
    pub topic: usize,
    /// Message template.
    pub template: Template,
    /// Value size in bytes.
    pub size: usize,
    /// Number of distinct keys.
    pub key_count: u64,
    /// How keys are drawn.
    pub key_distribution: KeyDistribution,
    /// Total rate across instances.
    pub rate: Rate,
    /// Bound on unacknowledged sends per instance.
    pub max_in_flight: usize,
    /// Transactions, when the producer is transactional.
    pub transactions: Option<TransactionPlan>,
    /// Settings passed straight to the client.
    #[serde(serialize_with = "secrets::serialize_redacted")]
    pub client: BTreeMap<String, String>,
    /// The SASL login of the table's `principal` (added to `client`); secrets redacted
    /// when shown.
    #[serde(serialize_with = "security::redact_map")]
    pub login: BTreeMap<String, String>,
    /// Whether its sends must be accepted or refused for authorization.
    pub expect: Expect,
    /// The process to run, for `driver = "exec"` (and its start-up timeout for
    /// `driver = "verifiable"`, whose command the run makes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecPlan>,
}

/// The process of an exec table (`driver = "exec"`): one per instance, speaking the
/// protocol of `docs/drivers.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecPlan {
    /// The program and its arguments, run without a shell. A relative program path
    /// holding a `/` is resolved against [`ExecPlan::cwd`], where the process runs; a bare
    /// name is looked up on the `PATH`. Empty for a verifiable table (the run makes it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Variables added to the harness's environment.
    pub env: BTreeMap<String, String>,
    /// The folder it runs in: `cwd` resolved against the scenario file's folder, which is
    /// the default.
    pub cwd: PathBuf,
    /// How long it may take to answer `startup_complete`.
    #[serde(with = "humantime_serde")]
    pub startup_timeout: Duration,
}

/// A group of identical consumer instances.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerPlan {
    /// Name.
    pub name: String,
    /// Client implementation.
    pub driver: DriverKind,
    /// Number of instances.
    pub instances: u32,
    /// Index into [`Plan::topics`].
    pub topic: usize,
    /// Consumer group id (rdkafka only).
    pub group: Option<String>,
    /// Commit mode (rdkafka only).
    pub commit: CommitMode,
    /// Simulated work per record.
    #[serde(with = "humantime_serde")]
    pub processing_time: Duration,
    /// Settings passed straight to the client.
    #[serde(serialize_with = "secrets::serialize_redacted")]
    pub client: BTreeMap<String, String>,
    /// The SASL login of the table's `principal` (added to `client`); secrets redacted
    /// when shown.
    #[serde(serialize_with = "security::redact_map")]
    pub login: BTreeMap<String, String>,
    /// The process to run, for `driver = "exec"` (and its start-up timeout for
    /// `driver = "verifiable"`, whose command the run makes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecPlan>,
}

/// Which checks run and their limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChecksPlan {
    /// Anomaly checks enabled.
    pub anomalies: Vec<CheckName>,
    /// Whether duplicate deliveries are allowed (at-least-once) or forbidden.
    pub duplicate_delivery_allowed: bool,
    /// An upper bound on duplicate deliveries even when allowed.
    pub max_duplicate_deliveries: Option<u64>,
    /// Latency and throughput bounds.
    pub slos: Vec<Slo>,
    /// Per-metric regression limits for `compare` (metric name to a fraction: 0.1 is 10%).
    pub regression: BTreeMap<String, f64>,
}

/// Which latency figure an SLO bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LatencyMetric {
    /// Send to acknowledgement, from the intended send time.
    Ack,
    /// Intended send time to delivery to a consumer.
    EndToEnd,
    /// Actual minus intended send time.
    SendDelay,
}

/// A bound the run must meet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Slo {
    /// A latency percentile (0-100; 100 means max) at most `max`.
    Latency {
        /// Which latency.
        metric: LatencyMetric,
        /// Percentile.
        percentile: f64,
        /// Bound.
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
    /// Acknowledged messages per second (measured phase) at least this.
    MinThroughput(f64),
}

impl Slo {
    /// The SLO's name as written in the scenario, e.g. `ack_p99`.
    pub fn name(&self) -> String {
        match self {
            Slo::Latency {
                metric, percentile, ..
            } => {
                let m = match metric {
                    LatencyMetric::Ack => "ack",
                    LatencyMetric::EndToEnd => "e2e",
                    LatencyMetric::SendDelay => "send_delay",
                };
                let p = match *percentile {
                    p if p >= 100.0 => "max".to_owned(),
                    p if (p - 99.9).abs() < 1e-9 => "p999".to_owned(),
                    p => format!("p{p}"),
                };
                format!("{m}_{p}")
            }
            Slo::MinThroughput(_) => "min_throughput".to_owned(),
        }
    }
}

// ----- parsing and validation -------------------------------------------------------

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.to_owned(),
        line: 0,
        column: 0,
        message: format!("cannot read the file: {e}"),
    })?;
    parse(path, &text)
}

/// Parses and validates scenario text; `path` is used in messages only.
pub fn parse(path: &Path, text: &str) -> Result<Plan, ScenarioError> {
    let at = Locator { path, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        // serde's messages ("invalid type: string \"12\", expected i64") do not name the
        // field; toml knows its path and shows it as a last line "in `a.b`" when the error
        // is displayed without the input.
        let mut keyed = e.clone();
        keyed.set_input(None);
        let keyed = keyed.to_string();
        let message = e.message().trim();
        let message = match keyed
            .trim_end()
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("in `")?.strip_suffix('`'))
        {
            Some(field) => format!("`{field}`: {message}"),
            None => message.to_owned(),
        };
        at.error(span, message)
    })?;
    validate(&at, raw)
}

/// Turns byte spans into file:line:column errors.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, span: std::ops::Range<usize>, message: String) -> ScenarioError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ScenarioError {
            file: self.path.to_owned(),
            line,
            column,
            message,
        }
    }

    /// An error about `field` whose value is `value`, shown as written in the file.
    fn field<T: fmt::Debug>(&self, field: &str, value: &Spanned<T>, rule: &str) -> ScenarioError {
        let written = match self.text.get(value.span()) {
            Some(text) if !text.is_empty() => text.to_owned(),
            _ => format!("{:?}", value.get_ref()),
        };
        self.error(value.span(), format!("`{field} = {written}`: {rule}"))
    }
}

fn client_settings(table: &BTreeMap<String, toml::Value>) -> BTreeMap<String, String> {
    table
        .iter()
        .map(|(k, v)| {
            let v = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn in_range(
    at: &Locator<'_>,
    field: &str,
    value: &Spanned<i64>,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ScenarioError> {
    if range.contains(value.get_ref()) {
        Ok(*value.get_ref())
    } else {
        Err(at.field(
            field,
            value,
            &format!("must be from {} to {}", range.start(), range.end()),
        ))
    }
}

fn validate(at: &Locator<'_>, raw: RawScenario) -> Result<Plan, ScenarioError> {
    if raw.name.get_ref().trim().is_empty() {
        return Err(at.field("name", &raw.name, "must not be empty"));
    }
    let duration = raw
        .duration
        .as_ref()
        .map(|d| units::duration(d.get_ref()).map_err(|rule| at.field("duration", d, &rule)))
        .transpose()?;
    let messages = raw.messages.as_ref().map(|m| *m.get_ref());
    if duration.is_none() && messages.is_none() {
        return Err(at.error(
            raw.name.span(),
            "the scenario needs `duration = \"60s\"` or `messages = 100000` at the top level"
                .into(),
        ));
    }
    if let Some(m) = &raw.messages
        && *m.get_ref() == 0
    {
        return Err(at.field("messages", m, "must be at least 1"));
    }
    let warmup = raw
        .warmup
        .as_ref()
        .map(|d| units::duration(d.get_ref()).map_err(|rule| at.field("warmup", d, &rule)))
        .transpose()?
        .unwrap_or_default();
    let drain_timeout = raw
        .drain_timeout
        .as_ref()
        .map(|d| units::duration(d.get_ref()).map_err(|rule| at.field("drain_timeout", d, &rule)))
        .transpose()?
        .unwrap_or(Duration::from_secs(60));

    let brokers = match &raw.cluster.brokers {
        Some(b) => in_range(at, "cluster.brokers", b, 1..=5)? as usize,
        None => 1,
    };
    let cluster = ClusterNeeds {
        brokers,
        kafka_version: raw.cluster.kafka_version.clone(),
        broker_config: client_settings(&raw.cluster.broker_config),
        security: match &raw.cluster.security {
            Some(s) => security::validate(at, s)?,
            None => SecurityPlan::default(),
        },
    };

    if raw.topics.get_ref().is_empty() {
        return Err(at.error(
            raw.topics.span(),
            "`topics`: declare at least one topic".into(),
        ));
    }
    let mut topics = Vec::new();
    for (i, t) in raw.topics.get_ref().iter().enumerate() {
        let name = t.name.get_ref().clone();
        if name.is_empty() || topics.iter().any(|p: &TopicPlan| p.name == name) {
            return Err(at.field(
                &format!("topics[{i}].name"),
                &t.name,
                "must be a non-empty name used once",
            ));
        }
        let partitions = in_range(
            at,
            &format!("topics[{i}].partitions"),
            &t.partitions,
            1..=10_000,
        )?;
        let rf = in_range(
            at,
            &format!("topics[{i}].replication_factor"),
            &t.replication_factor,
            1..=brokers as i64,
        )
        .map_err(|mut e| {
            e.message.push_str(" (no more than the cluster's brokers)");
            e
        })?;
        topics.push(TopicPlan {
            name,
            partitions: partitions as i32,
            replication_factor: rf as i32,
            config: client_settings(&t.config),
        });
    }
    let topic_index = |field: &str, name: &Spanned<String>| {
        topics
            .iter()
            .position(|t| t.name == *name.get_ref())
            .ok_or_else(|| {
                let known: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
                at.field(field, name, &format!("no such topic; declared: {known:?}"))
            })
    };

    let mut producers = Vec::new();
    for (i, p) in raw.producers.iter().enumerate() {
        let f = |name: &str| format!("producers[{i}].{name}");
        let verifiable = *p.driver.get_ref() == DriverKind::Verifiable;
        let (template, size) = if verifiable {
            verifiable_producer(at, i, p)?;
            (Template::Verifiable, 0)
        } else {
            let missing = |key: &str, example: &str| {
                at.field(
                    &f("name"),
                    &p.name,
                    &format!(
                        "an {} producer needs `{key} = {example}`",
                        p.driver.get_ref()
                    ),
                )
            };
            let Some(t) = &p.template else {
                return Err(missing("template", "\"audit\""));
            };
            let Some(s) = &p.size else {
                return Err(missing("size", "\"1KiB\""));
            };
            let template: Template = t.get_ref().parse().map_err(|_| {
                at.field(
                    &f("template"),
                    t,
                    &format!("expected one of {}", Template::names()),
                )
            })?;
            let size = units::size(s.get_ref()).map_err(|rule| at.field(&f("size"), s, &rule))?;
            let min = template.min_size();
            if size < min || size > 16 << 20 {
                return Err(at.field(
                    &f("size"),
                    s,
                    &format!("the {template} template needs from {min} bytes to 16 MiB"),
                ));
            }
            (template, size)
        };
        let key_count = in_range(at, &f("keys.count"), &p.keys.count, 1..=1_000_000_000)? as u64;
        let exponent = p.keys.exponent.as_ref();
        let key_distribution = KeyDistribution::from_parts(
            p.keys.distribution.get_ref(),
            exponent.map(|e| *e.get_ref()),
        )
        .map_err(|e| match (e, exponent) {
            (KeyDistributionError::UnknownName, _) | (_, None) => at.field(
                &f("keys.distribution"),
                &p.keys.distribution,
                &e.to_string(),
            ),
            (_, Some(x)) => at.field(&f("keys.exponent"), x, &e.to_string()),
        })?;
        let rate =
            units::rate(p.rate.get_ref()).map_err(|rule| at.field(&f("rate"), &p.rate, &rule))?;
        let max_in_flight = match &p.max_in_flight {
            Some(m) => in_range(at, &f("max_in_flight"), m, 1..=1_000_000)? as usize,
            None => 10_000,
        };
        let exec = exec_plan(
            at,
            &format!("producers[{i}]"),
            &p.driver,
            &p.command,
            &p.env,
            &p.cwd,
            &p.startup_timeout,
        )?;
        let transactions = match &p.transactions {
            None => None,
            Some(t) => {
                if *p.driver.get_ref() == DriverKind::Exec {
                    return Err(at.error(
                        t.span(),
                        format!(
                            "`{}`: an exec producer cannot be transactional (the exec protocol has no transactions); use driver = \"rdkafka\"",
                            f("transactions")
                        ),
                    ));
                }
                if *p.driver.get_ref() != DriverKind::Rdkafka {
                    return Err(at.field(
                        &f("driver"),
                        &p.driver,
                        "transactions need driver = \"rdkafka\" (rskafka has no transactions)",
                    ));
                }
                let every = in_range(
                    at,
                    &f("transactions.every"),
                    &t.get_ref().every,
                    1..=100_000,
                )? as u32;
                let abort_ratio = match &t.get_ref().abort {
                    Some(a) if !(0.0..1.0).contains(a.get_ref()) => {
                        return Err(at.field(
                            &f("transactions.abort"),
                            a,
                            "the share of transactions aborted on purpose must be from 0 to below 1, like 0.1",
                        ));
                    }
                    Some(a) => *a.get_ref(),
                    None => 0.0,
                };
                Some(TransactionPlan { every, abort_ratio })
            }
        };
        producers.push(ProducerPlan {
            name: p.name.get_ref().clone(),
            driver: *p.driver.get_ref(),
            instances: in_range(at, &f("instances"), &p.instances, 1..=64)? as u32,
            topic: topic_index(&f("topic"), &p.topic)?,
            template,
            size,
            key_count,
            key_distribution,
            rate,
            max_in_flight,
            transactions,
            client: client_settings(&p.client),
            login: security::principal_login(at, &f("principal"), &p.principal, &cluster.security)?,
            expect: security::expect(at, &f("expect"), &p.expect)?,
            exec,
        });
    }
    if producers.is_empty() {
        return Err(at.error(
            raw.name.span(),
            "the scenario has no producers: add a [[producers]] table".into(),
        ));
    }

    let mut consumers = Vec::new();
    for (i, c) in raw.consumers.iter().enumerate() {
        let f = |name: &str| format!("consumers[{i}].{name}");
        let driver = *c.driver.get_ref();
        let instances = in_range(at, &f("instances"), &c.instances, 1..=64)? as u32;
        let topic = topic_index(&f("topic"), &c.topic)?;
        let exec = exec_plan(
            at,
            &format!("consumers[{i}]"),
            &c.driver,
            &c.command,
            &c.env,
            &c.cwd,
            &c.startup_timeout,
        )?;
        if driver == DriverKind::Exec {
            if let Some(m) = &c.commit {
                return Err(at.field(
                    &f("commit"),
                    m,
                    "an exec consumer commits as its own code does; the harness only records its commits (offsets_committed)",
                ));
            }
            if let Some(d) = &c.processing_time {
                return Err(at.field(
                    &f("processing_time"),
                    d,
                    "an exec consumer's processing is its own code; the harness cannot add to it",
                ));
            }
        }
        if driver == DriverKind::Verifiable {
            if let Some(m) = &c.commit
                && *m.get_ref() == CommitMode::BeforeProcessing
            {
                return Err(at.field(
                    &f("commit"),
                    m,
                    "VerifiableConsumer commits after each batch it processed (\"after_processing\", its default) or with the client's auto-commit (\"auto\")",
                ));
            }
            if let Some(d) = &c.processing_time {
                return Err(at.field(
                    &f("processing_time"),
                    d,
                    "VerifiableConsumer runs as Kafka ships it; the harness cannot add to its processing",
                ));
            }
        }
        if driver == DriverKind::Rskafka {
            if let Some(g) = &c.group {
                return Err(at.field(
                    &f("group"),
                    g,
                    "rskafka has no consumer groups (it reads partitions directly); use driver = \"rdkafka\" for a group",
                ));
            }
            if let Some(m) = &c.commit {
                return Err(at.field(
                    &f("commit"),
                    m,
                    "rskafka cannot commit offsets: it has no consumer groups",
                ));
            }
            if instances != 1 {
                return Err(at.field(
                    &f("instances"),
                    &c.instances,
                    "an rskafka reader reads every partition itself; use 1 instance",
                ));
            }
        }
        let group = match (&c.group, driver) {
            (Some(g), _) => Some(g.get_ref().clone()),
            (None, DriverKind::Rdkafka) => {
                return Err(at.field(
                    &f("name"),
                    &c.name,
                    "an rdkafka consumer needs `group = \"...\"` (its consumer group id)",
                ));
            }
            (None, DriverKind::Exec | DriverKind::Verifiable) => {
                return Err(at.field(
                    &f("name"),
                    &c.name,
                    &format!(
                        "a{} {driver} consumer needs `group = \"...\"` (the consumer group its process joins)",
                        if driver == DriverKind::Exec { "n" } else { "" }
                    ),
                ));
            }
            (None, DriverKind::Rskafka) => None,
        };
        let processing_time = c
            .processing_time
            .as_ref()
            .map(|d| {
                units::duration(d.get_ref())
                    .map_err(|rule| at.field(&f("processing_time"), d, &rule))
            })
            .transpose()?
            .unwrap_or_default();
        consumers.push(ConsumerPlan {
            name: c.name.get_ref().clone(),
            driver,
            instances,
            topic,
            group,
            commit: c.commit.as_ref().map_or(
                if driver == DriverKind::Verifiable {
                    CommitMode::AfterProcessing
                } else {
                    CommitMode::Auto
                },
                |m| *m.get_ref(),
            ),
            processing_time,
            client: client_settings(&c.client),
            login: security::principal_login(at, &f("principal"), &c.principal, &cluster.security)?,
            exec,
        });
    }

    let mut stages = Vec::new();
    for (i, st) in raw.stages.iter().enumerate() {
        let f = |name: &str| format!("stages[{i}].{name}");
        if *st.driver.get_ref() != DriverKind::Rdkafka {
            return Err(at.field(
                &f("driver"),
                &st.driver,
                &format!(
                    "a transactional stage needs driver = \"rdkafka\" ({} has no transactions)",
                    st.driver.get_ref()
                ),
            ));
        }
        let input = topic_index(&f("input"), &st.input)?;
        let output = topic_index(&f("output"), &st.output)?;
        if input == output {
            return Err(at.field(
                &f("output"),
                &st.output,
                "must differ from `input`: a stage reads one topic and writes another",
            ));
        }
        stages.push(StagePlan {
            name: st.name.get_ref().clone(),
            instances: in_range(at, &f("instances"), &st.instances, 1..=16)? as u32,
            input,
            output,
            group: st.group.get_ref().clone(),
            transaction_every: in_range(
                at,
                &f("transaction_every"),
                &st.transaction_every,
                1..=10_000,
            )? as u32,
            client: client_settings(&st.client),
        });
    }
    let faults = faults::validate(at, &raw.faults, brokers, &topics, &consumers)?;

    let sweep = match &raw.sweep {
        None => None,
        Some(raw_sweep) => {
            let plan = sweep::validate(at, raw_sweep, duration, warmup, &producers)?;
            if let Some(p) = producers.iter().find(|p| p.rate == Rate::Max) {
                return Err(at.error(
                    raw.name.span(),
                    format!(
                        "producer `{}` has rate = \"max\": a sweep scales every producer's \
                         rate, so each needs a rate in messages per second",
                        p.name
                    ),
                ));
            }
            Some(plan)
        }
    };
    let transactional = !stages.is_empty() || producers.iter().any(|p| p.transactions.is_some());
    let checks = validate_checks(at, &raw.checks, !consumers.is_empty(), transactional)?;
    Ok(Plan {
        name: raw.name.into_inner(),
        description: raw.description,
        file: at.path.to_owned(),
        seed: raw.seed,
        duration,
        messages,
        warmup,
        drain_timeout,
        cluster,
        topics,
        producers,
        consumers,
        checks,
        stages,
        faults,
        sweep,
    })
}

/// The default time an exec process has to answer `startup_complete`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The exec keys of the producer or consumer table `table` (`producers[0]`): an exec table
/// needs `command`, and no other table takes any of them. Paths are resolved against the
/// scenario file's folder.
fn exec_plan(
    at: &Locator<'_>,
    table: &str,
    driver: &Spanned<DriverKind>,
    command: &Option<Spanned<Vec<Spanned<String>>>>,
    env: &Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    cwd: &Option<Spanned<String>>,
    startup_timeout: &Option<Spanned<String>>,
) -> Result<Option<ExecPlan>, ScenarioError> {
    let f = |name: &str| format!("{table}.{name}");
    let base = match at.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    if *driver.get_ref() == DriverKind::Verifiable {
        let fixed = [
            ("command", command.as_ref().map(Spanned::span)),
            ("env", env.as_ref().map(Spanned::span)),
            ("cwd", cwd.as_ref().map(Spanned::span)),
        ];
        if let Some((key, span)) = fixed.into_iter().find_map(|(k, s)| Some((k, s?))) {
            return Err(at.error(
                span,
                format!(
                    "`{}`: a verifiable table runs Kafka's own VerifiableProducer or \
                     VerifiableConsumer, whose command the harness makes; remove `{key}` (or use \
                     driver = \"exec\" to run a program of yours)",
                    f(key)
                ),
            ));
        }
        return Ok(Some(ExecPlan {
            command: Vec::new(),
            env: BTreeMap::new(),
            cwd: absolute(base),
            startup_timeout: startup_timeout_of(at, table, startup_timeout)?,
        }));
    }
    if *driver.get_ref() != DriverKind::Exec {
        let only = |key: &str| {
            format!(
                "`{}`: only an exec table (driver = \"exec\") runs a process; this one's driver is {}",
                f(key),
                driver.get_ref()
            )
        };
        let spans = [
            ("command", command.as_ref().map(Spanned::span)),
            ("env", env.as_ref().map(Spanned::span)),
            ("cwd", cwd.as_ref().map(Spanned::span)),
            (
                "startup_timeout",
                startup_timeout.as_ref().map(Spanned::span),
            ),
        ];
        return match spans.into_iter().find_map(|(k, s)| Some((k, s?))) {
            Some((key, span)) => Err(at.error(span, only(key))),
            None => Ok(None),
        };
    }
    let Some(command) = command else {
        return Err(at.field(
            &f("driver"),
            driver,
            "an exec table needs `command = [\"program\", \"arg\", ...]`: the process to run for each instance",
        ));
    };
    let Some(program) = command.get_ref().first() else {
        return Err(at.field(
            &f("command"),
            command,
            "must name a program: `command = [\"program\", \"arg\", ...]`",
        ));
    };
    if program.get_ref().trim().is_empty() {
        return Err(at.field(&f("command[0]"), program, "the program must not be empty"));
    }
    for (i, arg) in command.get_ref().iter().enumerate() {
        if arg.get_ref().contains('\0') {
            return Err(at.field(
                &f(&format!("command[{i}]")),
                arg,
                "must not contain a NUL character",
            ));
        }
    }
    let mut argv: Vec<String> = command
        .get_ref()
        .iter()
        .map(|a| a.get_ref().clone())
        .collect();
    let mut vars = BTreeMap::new();
    if let Some(env) = env {
        for (key, value) in env.get_ref() {
            if key.is_empty() || key.contains(['=', '\0']) {
                return Err(at.error(
                    value.span(),
                    format!(
                        "`{}.{key:?}`: a variable name must be non-empty, without `=` or NUL",
                        f("env")
                    ),
                ));
            }
            if value.get_ref().contains('\0') {
                return Err(at.field(
                    &format!("{}.{key}", f("env")),
                    value,
                    "must not contain a NUL character",
                ));
            }
            vars.insert(key.clone(), value.get_ref().clone());
        }
    }
    let cwd = match cwd {
        Some(c) if c.get_ref().trim().is_empty() => {
            return Err(at.field(
                &f("cwd"),
                c,
                "must be a folder (relative to the scenario file's)",
            ));
        }
        Some(c) => absolute(base.join(c.get_ref())),
        None => absolute(base),
    };
    if argv[0].contains('/') && Path::new(&argv[0]).is_relative() {
        argv[0] = absolute(cwd.join(&argv[0])).to_string_lossy().into_owned();
    }
    Ok(Some(ExecPlan {
        command: argv,
        env: vars,
        cwd,
        startup_timeout: startup_timeout_of(at, table, startup_timeout)?,
    }))
}

/// A process table's `startup_timeout`, or the default.
fn startup_timeout_of(
    at: &Locator<'_>,
    table: &str,
    startup_timeout: &Option<Spanned<String>>,
) -> Result<Duration, ScenarioError> {
    let field = format!("{table}.startup_timeout");
    match startup_timeout {
        Some(t) => {
            let d = units::duration(t.get_ref()).map_err(|rule| at.field(&field, t, &rule))?;
            if d.is_zero() {
                return Err(at.field(&field, t, "must be longer than 0s"));
            }
            Ok(d)
        }
        None => Ok(STARTUP_TIMEOUT),
    }
}

/// The rules of a verifiable producer table (`producers[i]`): VerifiableProducer writes its
/// own values (`<producer>.<seq>`), cycles its keys (`0` to `count - 1`), paces itself at a
/// whole number of messages per second and keeps its own in-flight window, so the keys that
/// shape other producers' records are refused here.
fn verifiable_producer(at: &Locator<'_>, i: usize, p: &RawProducer) -> Result<(), ScenarioError> {
    let f = |name: &str| format!("producers[{i}].{name}");
    let own = [
        (
            "template",
            p.template.as_ref().map(Spanned::span),
            "its values are its own (`<producer>.<seq>`)",
        ),
        (
            "size",
            p.size.as_ref().map(Spanned::span),
            "its values are its own (`<producer>.<seq>`)",
        ),
        (
            "max_in_flight",
            p.max_in_flight.as_ref().map(Spanned::span),
            "it keeps its own window (`max.in.flight.requests.per.connection` in `client`)",
        ),
        (
            "transactions",
            p.transactions.as_ref().map(Spanned::span),
            "the harness runs it without a transactional id; use driver = \"rdkafka\"",
        ),
    ];
    if let Some((key, span, why)) = own.into_iter().find_map(|(k, s, why)| Some((k, s?, why))) {
        return Err(at.error(
            span,
            format!(
                "`{}`: a verifiable producer takes no `{key}`: {why}",
                f(key)
            ),
        ));
    }
    if p.keys.distribution.get_ref() != "uniform" || p.keys.exponent.is_some() {
        return Err(at.field(
            &f("keys.distribution"),
            &p.keys.distribution,
            "a verifiable producer cycles its keys (`0`, `1`, ... `count - 1`, then `0` again): use \"uniform\"",
        ));
    }
    let per_instance = match units::rate(p.rate.get_ref()) {
        Ok(Rate::PerSecond(r)) => r / (*p.instances.get_ref()).max(1) as f64,
        Ok(Rate::Max) => {
            return Err(at.field(
                &f("rate"),
                &p.rate,
                "a verifiable producer needs a rate: it does not say when it sends, so the harness measures its latency from its own schedule (`--throughput`)",
            ));
        }
        Err(rule) => return Err(at.field(&f("rate"), &p.rate, &rule)),
    };
    if per_instance < 1.0 || per_instance.fract() != 0.0 {
        return Err(at.field(
            &f("rate"),
            &p.rate,
            "VerifiableProducer paces itself at a whole number of messages per second: give a rate that is a whole multiple of `instances`, at least 1/s each",
        ));
    }
    Ok(())
}

fn validate_checks(
    at: &Locator<'_>,
    raw: &RawChecks,
    has_consumers: bool,
    transactional: bool,
) -> Result<ChecksPlan, ScenarioError> {
    let anomalies = match &raw.anomalies {
        None => CheckName::ALL
            .iter()
            .copied()
            .filter(|c| has_consumers || !c.needs_consumers())
            .filter(|c| transactional || !c.needs_transactions())
            .collect(),
        Some(list) => {
            let mut names = Vec::new();
            for item in list.get_ref() {
                let name: CheckName = item.get_ref().parse().map_err(|_| {
                    let all: Vec<String> = CheckName::ALL.iter().map(|c| c.to_string()).collect();
                    at.field(
                        "checks.anomalies",
                        item,
                        &format!("expected one of {}", all.join(", ")),
                    )
                })?;
                if name.needs_consumers() && !has_consumers {
                    return Err(at.field(
                        "checks.anomalies",
                        item,
                        "this check needs consumers; add a [[consumers]] table",
                    ));
                }
                if name.needs_transactions() && !transactional {
                    return Err(at.field(
                        "checks.anomalies",
                        item,
                        "this check needs transactions: a [producers.transactions] table or a [[stages]] table",
                    ));
                }
                names.push(name);
            }
            names
        }
    };
    let duplicate_delivery_allowed = match &raw.duplicate_delivery {
        None => true,
        Some(v) => match v.get_ref().as_str() {
            "allowed" => true,
            "forbidden" => false,
            _ => {
                return Err(at.field(
                    "checks.duplicate_delivery",
                    v,
                    "expected \"allowed\" (at-least-once) or \"forbidden\"",
                ));
            }
        },
    };
    let mut slos = Vec::new();
    for (key, value) in &raw.slo {
        let field = format!("checks.slo.{key}");
        if key == "min_throughput" {
            let text = value.get_ref().as_str().unwrap_or_default();
            match units::rate(text) {
                Ok(Rate::PerSecond(r)) => slos.push(Slo::MinThroughput(r)),
                _ => return Err(at.field(&field, value, "expected a rate like \"1000/s\"")),
            }
            continue;
        }
        let (metric, pct) = key.rsplit_once('_').unwrap_or((key.as_str(), ""));
        let metric = match metric {
            "ack" => LatencyMetric::Ack,
            "e2e" => LatencyMetric::EndToEnd,
            "send_delay" => LatencyMetric::SendDelay,
            _ => return Err(at.field(&field, value, "unknown SLO: expected ack_pNN, e2e_pNN, send_delay_pNN (p50, p90, p99, p999, max) or min_throughput")),
        };
        let percentile = match pct {
            "p50" => 50.0,
            "p90" => 90.0,
            "p99" => 99.0,
            "p999" => 99.9,
            "max" => 100.0,
            _ => {
                return Err(at.field(
                    &field,
                    value,
                    "unknown percentile: expected p50, p90, p99, p999 or max",
                ));
            }
        };
        if metric == LatencyMetric::EndToEnd && !has_consumers {
            return Err(at.field(&field, value, "end-to-end latency needs consumers"));
        }
        let max = value
            .get_ref()
            .as_str()
            .ok_or_else(|| "expected a duration like \"250ms\" or \"2s\"".to_owned())
            .and_then(units::duration)
            .map_err(|rule| at.field(&field, value, &rule))?;
        slos.push(Slo::Latency {
            metric,
            percentile,
            max,
        });
    }
    let mut regression = BTreeMap::new();
    for (metric, limit) in &raw.regression {
        let field = format!("checks.regression.{metric}");
        if !REGRESSION_METRICS.contains(&metric.as_str()) {
            return Err(at.field(
                &field,
                limit,
                &format!(
                    "unknown metric; expected one of {}",
                    REGRESSION_METRICS.join(", ")
                ),
            ));
        }
        let percent = limit
            .get_ref()
            .trim()
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|p| *p >= 0.0 && p.is_finite())
            .ok_or_else(|| at.field(&field, limit, "expected a percentage like \"10%\""))?;
        regression.insert(metric.clone(), percent / 100.0);
    }
    Ok(ChecksPlan {
        anomalies,
        duplicate_delivery_allowed,
        max_duplicate_deliveries: raw.max_duplicate_deliveries,
        slos,
        regression,
    })
}

#[cfg(test)]
pub(crate) mod tests;
