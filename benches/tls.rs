//! The price of TLS: the audit flood's traffic (JSON audit events keyed by request id,
//! acks=all, lz4, 1 KiB, a consumer group reading) on a plaintext embedded cluster and on a
//! SASL_SSL one (SCRAM-SHA-512), same machine, same build, runs alternating; both at the
//! scenario's fixed rate (where TLS shows in the latency tails) and at `rate = "max"` (where
//! it shows in throughput).
//!
//! Run: `cargo bench --bench tls`. Settings: `TLS_RUNS` (per side and load, default 3),
//! `TLS_SECONDS` (each fixed-rate run, default 15), `TLS_RECORDS` (each max-rate run,
//! default 1000000).
//!
//! ```text
//!   EmbeddedCluster plaintext ─┐  (both started first; the idle one costs little)
//!   EmbeddedCluster sasl_ssl ──┤
//!                              └─ plaintext, sasl_ssl, plaintext, ... through run::execute
//!   figures: result.throughput.produced_msgs_per_s, latency_us.ack.p99, latency_us.e2e.p99
//! ```
//!
//! A figure, not a test: it depends on the machine (here, 2 cores shared with the brokers).

mod common;

use std::path::Path;

use common::{env_var as var, median};

use kafka_harness::report::RunResult;
use kafka_harness::run::engine::RunOptions;
use kafka_harness::{Cluster, EmbeddedCluster};

/// The audit flood, lighter: `load` is `duration = "15s"` lines or `messages = N` lines, and
/// the producers' rate; `security` the `[cluster.security]` lines (empty for plaintext).
fn scenario(load: &str, rate: &str, security: &str) -> String {
    format!(
        r#"name = "tls-price"
seed = 1
{load}
drain_timeout = "60s"
{security}
[[topics]]
name = "audit-events"
partitions = 6

[[producers]]
name = "audit-middleware"
driver = "rdkafka"
instances = 2
topic = "audit-events"
template = "audit"
size = "1KiB"
keys = {{ count = 1000000, distribution = "uniform" }}
rate = "{rate}"
max_in_flight = 4000

[producers.client]
acks = "all"
"enable.idempotence" = "true"
"compression.type" = "lz4"
"linger.ms" = "5"
"batch.size" = "65536"

[[consumers]]
name = "audit-indexer"
driver = "rdkafka"
instances = 2
topic = "audit-events"
group = "audit-indexer"
commit = "auto"

[checks]
anomalies = ["lost_write", "duplicate_write", "lost_delivery"]
duplicate_delivery = "allowed"
"#
    )
}

const SASL_SSL: &str = "[cluster.security]\nprotocol = \"sasl_ssl\"\n";

async fn run(cluster: &dyn Cluster, text: &str, out: &Path) -> RunResult {
    let plan = kafka_harness::scenario::parse(Path::new("tls-bench.toml"), text)
        .unwrap_or_else(|e| panic!("the bench's scenario does not parse: {e}\n{text}"));
    let (result, _) = kafka_harness::run::execute(&plan, cluster, RunOptions::default(), out)
        .await
        .unwrap_or_else(|e| panic!("run failed: {e}"));
    assert_eq!(result.counts.lost, 0, "a lost write in the bench");
    result
}

#[tokio::main]
async fn main() {
    let runs: usize = var("TLS_RUNS", 3);
    let seconds: u64 = var("TLS_SECONDS", 15);
    let records: u64 = var("TLS_RECORDS", 1_000_000);
    let plaintext = EmbeddedCluster::builder()
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = kafka_harness::scenario::parse(
        Path::new("tls-bench.toml"),
        &scenario("messages = 1", "10/s", SASL_SSL),
    )
    .unwrap();
    let secured = EmbeddedCluster::builder()
        .security(kafka_harness::run::backend::embedded_security(
            &plan.cluster.security,
        ))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap();
    let loads = [
        (
            format!("warmup = \"3s\"\nduration = \"{seconds}s\""),
            "2000/s",
            "fixed 2000/s",
        ),
        // No warm-up: at rate = max a run can end inside one.
        (format!("messages = {records}"), "max", "rate = max"),
    ];
    println!(
        "tls: {runs} runs per side and load, plaintext vs sasl_ssl (SCRAM-SHA-512), 1 node each"
    );
    println!(
        "  {:<13} {:<10} {:>10} {:>10} {:>10}",
        "load", "listener", "msgs/s", "ack p99 ms", "e2e p99 ms"
    );
    for (load, rate, name) in &loads {
        let mut figures = [
            (Vec::new(), Vec::new(), Vec::new()),
            (Vec::new(), Vec::new(), Vec::new()),
        ];
        for _ in 0..runs {
            for (side, (cluster, security)) in [
                (&plaintext as &dyn Cluster, ""),
                (&secured as &dyn Cluster, SASL_SSL),
            ]
            .into_iter()
            .enumerate()
            {
                let r = run(cluster, &scenario(load, rate, security), out.path()).await;
                let f = &mut figures[side];
                f.0.push(r.throughput.produced_msgs_per_s);
                f.1.push(r.latency_us.ack.p99 as f64 / 1000.0);
                f.2.push(r.latency_us.e2e.p99 as f64 / 1000.0);
                println!(
                    "  {name:<13} {:<10} {:>10.0} {:>10.1} {:>10.1}",
                    ["plaintext", "sasl_ssl"][side],
                    r.throughput.produced_msgs_per_s,
                    r.latency_us.ack.p99 as f64 / 1000.0,
                    r.latency_us.e2e.p99 as f64 / 1000.0
                );
            }
        }
        let m = |side: usize| {
            (
                median(&figures[side].0),
                median(&figures[side].1),
                median(&figures[side].2),
            )
        };
        let (p, s) = (m(0), m(1));
        println!(
            "  {name}: medians plaintext {:.0} msgs/s, ack p99 {:.1} ms, e2e p99 {:.1} ms; \
             sasl_ssl {:.0} msgs/s, ack p99 {:.1} ms, e2e p99 {:.1} ms",
            p.0, p.1, p.2, s.0, s.1, s.2
        );
        println!(
            "  {name}: sasl_ssl/plaintext: throughput {:.2}, ack p99 {:.2}x, e2e p99 {:.2}x",
            s.0 / p.0,
            s.1 / p.1,
            s.2 / p.2
        );
    }
}
