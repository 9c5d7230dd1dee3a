//! Helpers shared by the integration tests: produce and read-back functions on the raw
//! rdkafka and rskafka clients, a shared cluster, and process checks.
//!
//! Every test binary compiles this module; not every binary uses every helper.
#![allow(dead_code)]

pub mod cli;
pub mod exec;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_harness::EmbeddedCluster;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;
use tokio::sync::OnceCell;

/// A topic name no other test uses.
pub fn topic(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// The values the round-trip tests send: `msg-0`, `msg-1`, ...
pub fn values(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("msg-{i}")).collect()
}

/// One single-node cluster (the default Kafka version) shared by the tests of a binary that
/// do not break it. It is never dropped: the kernel kills its JVM when the test process ends
/// (PR_SET_PDEATHSIG) and the next cluster removes its folder.
pub async fn shared_cluster() -> &'static EmbeddedCluster {
    static CLUSTER: OnceCell<EmbeddedCluster> = OnceCell::const_new();
    CLUSTER
        .get_or_init(|| async {
            EmbeddedCluster::builder()
                .start()
                .await
                .unwrap_or_else(|e| panic!("shared cluster did not start: {e}"))
        })
        .await
}

/// A client config with the cluster's settings plus `extra`.
pub fn config(settings: &BTreeMap<String, String>, extra: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in settings {
        config.set(k, v);
    }
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config
}

/// Produces `values` to `topic`/`partition` with rdkafka (acks=all); returns their offsets.
pub async fn rdkafka_produce(
    settings: &BTreeMap<String, String>,
    topic: &str,
    partition: i32,
    values: &[String],
) -> Vec<i64> {
    let producer: FutureProducer = config(
        settings,
        &[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("message.timeout.ms", "30000"),
        ],
    )
    .create()
    .expect("producer");
    let mut offsets = Vec::new();
    for value in values {
        let record = FutureRecord::to(topic)
            .partition(partition)
            .key("k")
            .payload(value);
        let delivery = producer
            .send(record, Duration::from_secs(30))
            .await
            .unwrap_or_else(|(e, _)| panic!("rdkafka produce to {topic} failed: {e}"));
        offsets.push(delivery.offset);
    }
    offsets
}

/// Reads `expected` records from `topic`/`partition` with rdkafka, from the beginning.
pub async fn rdkafka_read(
    settings: &BTreeMap<String, String>,
    topic: &str,
    partition: i32,
    expected: usize,
) -> Vec<String> {
    let group = format!("reader-{:08x}", rand::random::<u32>());
    let consumer: StreamConsumer = config(
        settings,
        &[("group.id", &group), ("enable.auto.commit", "false")],
    )
    .create()
    .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Beginning)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let mut out = Vec::new();
    while out.len() < expected {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("rdkafka read only {} of {expected}", out.len()));
        // librdkafka reports transient trouble (a connection to a killed broker) through the
        // stream too; it recovers by itself, and the timeout above bounds the wait.
        let Ok(message) = message else {
            continue;
        };
        out.push(String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned());
    }
    out
}

/// An rskafka client for the first bootstrap server.
async fn rskafka_client(bootstrap: &str) -> rskafka::client::Client {
    let first = bootstrap.split(',').next().unwrap().to_owned();
    rskafka::client::ClientBuilder::new(vec![first])
        .build()
        .await
        .expect("rskafka client")
}

/// Produces `values` to `topic`/`partition` with rskafka in one batch; returns their offsets.
pub async fn rskafka_produce(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    values: &[String],
) -> Vec<i64> {
    let client = rskafka_client(bootstrap).await;
    let partition = client
        .partition_client(topic, partition, UnknownTopicHandling::Retry)
        .await
        .expect("rskafka partition client");
    let records = values
        .iter()
        .map(|v| Record {
            key: Some(b"k".to_vec()),
            value: Some(v.clone().into_bytes()),
            headers: BTreeMap::new(),
            timestamp: now_utc(),
        })
        .collect();
    partition
        .produce(records, Compression::NoCompression)
        .await
        .expect("rskafka produce")
}

fn now_utc() -> rskafka::chrono::DateTime<rskafka::chrono::Utc> {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    rskafka::chrono::DateTime::from_timestamp_millis(ms as i64).unwrap()
}

/// Reads `expected` records from `topic`/`partition` with rskafka, from offset 0.
pub async fn rskafka_read(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    expected: usize,
) -> Vec<String> {
    let client = rskafka_client(bootstrap).await;
    let partition = client
        .partition_client(topic, partition, UnknownTopicHandling::Retry)
        .await
        .expect("rskafka partition client");
    let mut out = Vec::new();
    let mut offset = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while out.len() < expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "rskafka read only {} of {expected}",
            out.len()
        );
        let (records, _high_watermark) = partition
            .fetch_records(offset, 1..1_000_000, 500)
            .await
            .expect("rskafka fetch");
        for r in records {
            offset = r.offset + 1;
            out.push(String::from_utf8_lossy(&r.record.value.unwrap_or_default()).into_owned());
        }
    }
    out
}

/// True while a process with this pid exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits up to `timeout` for every pid to be gone; returns those still alive.
pub fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() || std::time::Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pids of the processes whose parent is `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}
