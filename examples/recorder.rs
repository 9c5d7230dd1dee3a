//! Your own producer and consumer under the checkers: wrap the calls your code makes with a
//! `Recording`, read the topic back, and assert that nothing acknowledged was lost, nothing
//! was written twice, each key kept its order, and every record was processed. A consumer
//! that skips records (here, one that drops every 40th) fails `lost_delivery`, and the
//! failure names the messages: key, partition, offset.
//!
//! Run it: `cargo run --example recorder`; as a test (CI does): `cargo test --example recorder`.
//!
//! ```text
//!   producer: recording.producer().stamp(topic, key) ──header──> FutureProducer::send
//!             ──delivery──> acked(pending, partition, offset) | indeterminate | failed
//!   consumer: StreamConsumer::recv ──your processing──> delivered(topic, partition, offset, stamp)
//!   run::verify::verify(&cluster, &recording, checks) ──> Verification (prints like the summary)
//! ```

use std::time::Duration;

use kafka_harness::cluster::admin;
use kafka_harness::history::recording::{ProducerRecorder, Recording};
use kafka_harness::history::stamp;
use kafka_harness::run::verify::{Verification, verify};
use kafka_harness::scenario::CheckName;
use kafka_harness::{Cluster, EmbeddedCluster, TopicSpec};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// Messages sent, over this many accounts (the keys).
const MESSAGES: usize = 400;
const ACCOUNTS: usize = 20;

/// What is checked.
const CHECKS: [CheckName; 4] = [
    CheckName::LostWrite,
    CheckName::DuplicateWrite,
    CheckName::OrderViolation,
    CheckName::LostDelivery,
];

/// The cluster's client settings (bootstrap servers, security) plus `extra`.
fn client(cluster: &EmbeddedCluster, extra: &[(&str, &str)]) -> ClientConfig {
    let mut config = admin::client_config(&cluster.client_config());
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config
}

/// Sends `MESSAGES` keyed records, each stamped and its outcome recorded.
async fn produce(cluster: &EmbeddedCluster, topic: &str, recorder: &ProducerRecorder) {
    let producer: FutureProducer =
        client(cluster, &[("acks", "all"), ("enable.idempotence", "true")])
            .create()
            .expect("a producer");
    for i in 0..MESSAGES {
        let key = format!("account-{}", i % ACCOUNTS);
        let value = format!("{{\"account\":\"{key}\",\"amount\":{i}}}");
        let pending = recorder.stamp(topic, Some(key.as_bytes()));
        let (name, stamp) = pending.header();
        let headers = OwnedHeaders::new().insert(Header {
            key: name,
            value: Some(stamp),
        });
        let record = FutureRecord::to(topic)
            .key(&key)
            .payload(&value)
            .headers(headers);
        match producer.send(record, Duration::from_secs(30)).await {
            Ok(delivery) => recorder.acked(pending, delivery.partition, delivery.offset),
            // Which errors mean "not written" is your client's business; unknown is safe.
            Err(_) => recorder.indeterminate(pending),
        }
    }
}

/// Reads every record once and "processes" it, skipping every `drop_every`-th (0: none).
async fn consume(cluster: &EmbeddedCluster, topic: &str, recording: &Recording, drop_every: usize) {
    let consumer: StreamConsumer = client(
        cluster,
        &[
            ("group.id", "ledger-readers"),
            ("auto.offset.reset", "earliest"),
        ],
    )
    .create()
    .expect("a consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let recorder = recording.consumer();
    for seen in 1..=MESSAGES {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("a record within 30 s")
            .expect("a record");
        if drop_every > 0 && seen % drop_every == 0 {
            continue; // the bug: this record is never processed
        }
        let stamp = message
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == stamp::HEADER))
            .and_then(|h| h.value);
        recorder.delivered(topic, message.partition(), message.offset(), stamp);
    }
}

/// A fresh topic on `cluster`, produced and consumed through `drop_every`'s consumer, checked.
async fn round(cluster: &EmbeddedCluster, drop_every: usize) -> Verification {
    let topic = format!("ledger-{:08x}", rand::random::<u32>());
    cluster
        .create_topic(&TopicSpec::new(&topic, 3, 1))
        .await
        .expect("a topic");
    let recording = Recording::new();
    produce(cluster, &topic, &recording.producer()).await;
    consume(cluster, &topic, &recording, drop_every).await;
    verify(cluster, &recording, &CHECKS)
        .await
        .expect("the log read back")
}

#[tokio::main]
async fn main() {
    let cluster = EmbeddedCluster::builder().start().await.expect("a broker");
    println!("{}", round(&cluster, 0).await);
    println!("{}", round(&cluster, 40).await);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_correct_consumer_passes_and_a_skipping_one_is_named() {
        let cluster = EmbeddedCluster::builder().start().await.unwrap();
        let good = round(&cluster, 0).await;
        assert!(good.passed(), "{good}");
        assert_eq!(
            (good.sends, good.log_records, good.deliveries),
            (400, 400, 400)
        );

        let bad = round(&cluster, 40).await;
        assert!(!bad.passed());
        let lost = bad.check(CheckName::LostDelivery).unwrap();
        assert_eq!(lost.count, 10, "{bad}");
        let example = &lost.examples[0];
        assert!(
            example
                .key
                .as_deref()
                .is_some_and(|k| k.starts_with("account-"))
                && example.partition.is_some()
                && example.offset.is_some(),
            "{bad}"
        );
        // It prints like the terminal summary, with the examples.
        let text = bad.to_string();
        assert!(
            text.starts_with("FAIL") && text.contains("lost_delivery examples:"),
            "{text}"
        );
        // The writes themselves were fine.
        assert!(
            bad.check(CheckName::LostWrite).unwrap().verdict == kafka_harness::check::Verdict::Pass
        );
    }
}
