//! The teams' clients (`adapters/`: KafkaJS, segmentio/kafka-go, confluent-kafka-python)
//! under test through the binary and the exec driver, on the shared cluster: every producer
//! adapter against every consumer adapter, each pair held to one generic assertion: every
//! record sent is in the log once, every acknowledged record reached the consumer group, and
//! nothing arrived that nobody sent, with every process ending as asked.
//!
//! Per-key order is not part of it: two of the adapters reproduce patterns that do not keep
//! it (kafka-go's `LeastBytes` writer ignores keys, the webhook service's worker pool
//! processes a partition's records out of order). That is what `scenarios/clients/` reports
//! as findings; here the question is whether each client delivers.
//!
//! The adapters are installed from their registries by `adapters/install.sh` (npm, Go
//! modules, pip), once per test binary; it is quick when they are already installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::cli::{check, results, run_on_shared, scenario, stderr, stdout};
use serde_json::Value;

/// The repository's `adapters/` folder.
fn adapters() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters")
}

/// Installs every adapter once; fails the test with the installer's output when it cannot.
fn installed() {
    static INSTALL: OnceLock<Result<(), String>> = OnceLock::new();
    let result = INSTALL.get_or_init(|| {
        let o = Command::new("bash")
            .arg(adapters().join("install.sh"))
            .output()
            .map_err(|e| format!("running adapters/install.sh: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!(
                "adapters/install.sh failed ({}):\n{}\n{}",
                o.status,
                stdout(&o),
                stderr(&o)
            ))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A client's command line: a program and its arguments, the adapter paths made absolute.
fn command(parts: &[&str]) -> String {
    let root = adapters();
    let argv: Vec<String> = parts
        .iter()
        .map(|p| match p.strip_prefix("adapters/") {
            Some(rest) => root.join(rest).to_string_lossy().into_owned(),
            None => (*p).to_owned(),
        })
        .collect();
    serde_json::to_string(&argv).unwrap()
}

/// The producer adapters: name and command.
const PRODUCERS: [(&str, &[&str]); 4] = [
    ("kafkajs", &["node", "adapters/kafkajs/producer.js"]),
    (
        "kafka-go-leastbytes",
        &[
            "adapters/kafka-go/bin/kafka-go-adapter",
            "producer",
            "-balancer",
            "leastbytes",
        ],
    ),
    (
        "kafka-go-hash",
        &[
            "adapters/kafka-go/bin/kafka-go-adapter",
            "producer",
            "-balancer",
            "hash",
        ],
    ),
    (
        "confluent-kafka-python",
        &[
            "adapters/confluent-kafka-python/.venv/bin/python",
            "adapters/confluent-kafka-python/producer.py",
        ],
    ),
];

/// The consumer adapters: name and command.
const CONSUMERS: [(&str, &[&str]); 3] = [
    ("kafkajs", &["node", "adapters/kafkajs/consumer.js"]),
    (
        "kafka-go-pool",
        &["adapters/kafka-go/bin/kafka-go-adapter", "consumer"],
    ),
    (
        "confluent-kafka-python",
        &[
            "adapters/confluent-kafka-python/.venv/bin/python",
            "adapters/confluent-kafka-python/consumer.py",
        ],
    ),
];

/// Messages each pair sends.
const MESSAGES: u64 = 300;

/// A scenario: one producer process of `producer`, two consumer processes of `consumer` in
/// one group, three partitions.
fn pair(name: &str, producer: &str, consumer: &str) -> String {
    format!(
        r#"name = "{name}"
seed = 5
messages = {MESSAGES}
drain_timeout = "60s"

[[topics]]
name = "t"
partitions = 3

[[producers]]
name = "writer"
driver = "exec"
command = {producer}
topic = "t"
template = "webhook"
size = "400B"
keys = {{ count = 30, distribution = "uniform" }}
rate = "300/s"

[producers.client]
acks = "all"

[[consumers]]
name = "readers"
driver = "exec"
command = {consumer}
instances = 2
topic = "t"
group = "readers"

[consumers.client]
# kafka-go's reader closes only once its fetch in flight returns (default wait 10 s).
"fetch.max.wait.ms" = "500"

[checks]
anomalies = ["lost_write", "duplicate_write", "lost_delivery", "phantom"]
duplicate_delivery = "allowed"
"#
    )
}

/// What is wrong with one pair's run, if anything.
fn judge(result: &Value) -> Vec<String> {
    let mut wrong = Vec::new();
    let counts = &result["counts"];
    if counts["attempted"] != MESSAGES || counts["acked"] != MESSAGES {
        wrong.push(format!(
            "sent {} of {MESSAGES}, {} acknowledged",
            counts["attempted"], counts["acked"]
        ));
    }
    for name in ["lost_write", "duplicate_write", "lost_delivery", "phantom"] {
        let c = check(result, name);
        if c["verdict"] != "pass" {
            wrong.push(format!("{name}: {} ({})", c["verdict"], c["detail"]));
        }
    }
    for p in result["processes"].as_array().into_iter().flatten() {
        if p["how"] != "exit 0" {
            wrong.push(format!(
                "{} {} ended {} (log {})",
                p["table"], p["instance"], p["how"], p["log"]
            ));
        }
    }
    wrong
}

/// Runs `producer` against every consumer adapter; fails naming every pair that did not
/// deliver.
async fn against_every_consumer(producer: (&str, &[&str])) {
    installed();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (consumer, consumer_command) in CONSUMERS {
        let name = format!("{}-to-{consumer}", producer.0);
        let file = scenario(
            dir.path(),
            &name,
            &pair(&name, &command(producer.1), &command(consumer_command)),
        );
        let out = dir.path().join(&name);
        let o = run_on_shared(&file, &out, None).await;
        let found = if out.exists() {
            results(&out)
        } else {
            Vec::new()
        };
        let Some(result) = found.first() else {
            failures.push(format!(
                "{name}: no result (exit {:?})\n{}",
                o.status.code(),
                stderr(&o)
            ));
            continue;
        };
        let wrong = judge(result);
        if !wrong.is_empty() || o.status.code() != Some(0) {
            failures.push(format!(
                "{name} (exit {:?}): {}",
                o.status.code(),
                wrong.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn kafkajs_producer_against_every_consumer_adapter() {
    against_every_consumer(PRODUCERS[0]).await;
}

#[tokio::test]
async fn kafka_go_leastbytes_producer_against_every_consumer_adapter() {
    against_every_consumer(PRODUCERS[1]).await;
}

#[tokio::test]
async fn kafka_go_hash_producer_against_every_consumer_adapter() {
    against_every_consumer(PRODUCERS[2]).await;
}

#[tokio::test]
async fn confluent_kafka_python_producer_against_every_consumer_adapter() {
    against_every_consumer(PRODUCERS[3]).await;
}
