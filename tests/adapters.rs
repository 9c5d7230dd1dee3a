//! The teams' clients (`adapters/`: KafkaJS, segmentio/kafka-go, confluent-kafka-python)
//! under test through the binary and the exec driver, and the Java client through Kafka's
//! own VerifiableProducer and VerifiableConsumer (`driver = "verifiable"`), on the shared
//! cluster: every producer against every consumer, each pair held to one generic
//! assertion: every
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

/// The table keys of a client: `driver = "exec"` and its command for an adapter (a program
/// and its arguments, the adapter paths made absolute), `driver = "verifiable"` for Kafka's
/// own clients (no command: the harness runs them); a producer adapter's values are
/// webhook events.
fn client(role: &str, parts: &[&str]) -> String {
    if parts == VERIFIABLE {
        return "driver = \"verifiable\"".to_owned();
    }
    let values = if role == "producer" {
        "\ntemplate = \"webhook\"\nsize = \"400B\""
    } else {
        ""
    };
    format!("driver = \"exec\"\ncommand = {}{values}", command(parts))
}

/// Kafka's own VerifiableProducer or VerifiableConsumer, in the tables below.
const VERIFIABLE: &[&str] = &["verifiable"];

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

/// The producers: name and command.
const PRODUCERS: [(&str, &[&str]); 5] = [
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
    ("java-verifiable", VERIFIABLE),
];

/// The consumers: name and command.
const CONSUMERS: [(&str, &[&str]); 4] = [
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
    ("java-verifiable", VERIFIABLE),
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
{producer}
topic = "t"
keys = {{ count = 30, distribution = "uniform" }}
rate = "300/s"

[producers.client]
acks = "all"

[[consumers]]
name = "readers"
{consumer}
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
        // A Java client stopped by SIGTERM (how Kafka's own clients stop) exits 143 once its
        // shutdown hook has closed it.
        let stopped_java = p["how"] == "exit 143" && p["note"] == "shutdown: SIGTERM";
        if p["how"] != "exit 0" && !stopped_java {
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
            &pair(
                &name,
                &client("producer", producer.1),
                &client("consumer", consumer_command),
            ),
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

#[tokio::test]
async fn java_verifiable_producer_against_every_consumer_adapter() {
    against_every_consumer(PRODUCERS[4]).await;
}
