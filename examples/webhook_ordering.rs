//! The webhook service's ordering, checked with the recorder on 3 brokers while a partition
//! leader is killed: a dispatcher that gives each account one worker keeps every account's
//! events in order and loses none; a shared worker pool (any free worker takes the next
//! event) does not, and `delivery_order` names the first account it reordered.
//!
//! Run it: `cargo run --example webhook_ordering`; as a test (CI does):
//! `cargo test --example webhook_ordering`.
//!
//! ```text
//!   producer ──stamped events, keyed by account──> webhooks (3 partitions, RF 3, min ISR 2)
//!       └── after a third of them: the leader of partition 0 killed, later restarted
//!   consumer ──recv──> dispatcher ──> workers (a simulated HTTP call) ──> delivered(...)
//!                      per-account: account -> its worker (a queue each)
//!                      shared pool: one queue, every worker takes from it
//!   run::verify::verify ──> lost_write, duplicate_write, order_violation, lost_delivery,
//!                           delivery_order
//! ```

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use kafka_harness::cluster::admin;
use kafka_harness::history::recording::{ConsumerRecorder, Recording};
use kafka_harness::history::stamp;
use kafka_harness::run::verify::{Verification, verify};
use kafka_harness::scenario::CheckName;
use kafka_harness::{Cluster, EmbeddedCluster, NodeOp, TopicSpec};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::{Mutex, mpsc};

/// Events sent, over this many accounts, to this many workers.
const EVENTS: usize = 600;
const ACCOUNTS: usize = 12;
const WORKERS: usize = 6;

const CHECKS: [CheckName; 5] = [
    CheckName::LostWrite,
    CheckName::DuplicateWrite,
    CheckName::OrderViolation,
    CheckName::LostDelivery,
    CheckName::DeliveryOrder,
];

/// How events reach the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dispatch {
    /// Each account has one worker: its events are handled one at a time, in order.
    PerAccount,
    /// One queue for all: any free worker takes the next event, whatever its account.
    SharedPool,
}

/// One event taken from Kafka, for a worker.
struct Event {
    partition: i32,
    offset: i64,
    stamp: Option<Vec<u8>>,
}

/// The cluster's client settings (bootstrap servers, security) plus `extra`.
fn client(cluster: &EmbeddedCluster, extra: &[(&str, &str)]) -> ClientConfig {
    let mut config = admin::client_config(&cluster.client_config());
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config
}

/// Sends the events, killing the leader of partition 0 a third of the way through and
/// restarting it two thirds of the way.
async fn produce(cluster: &EmbeddedCluster, topic: &str, recording: &Recording) {
    let recorder = recording.producer();
    let producer: FutureProducer = client(
        cluster,
        &[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("message.timeout.ms", "60000"),
        ],
    )
    .create()
    .expect("a producer");
    let mut killed = None;
    for i in 0..EVENTS {
        if i == EVENTS / 3 {
            let leader = cluster.partition_leader(topic, 0).await.expect("metadata");
            if let Some(leader) = leader {
                cluster.apply(leader, NodeOp::Kill).await.expect("kill");
                killed = Some(leader);
            }
        }
        if i == 2 * EVENTS / 3
            && let Some(node) = killed.take()
        {
            cluster.apply(node, NodeOp::Restart).await.expect("restart");
        }
        let account = format!("account-{:02}", i % ACCOUNTS);
        let body = format!("{{\"account\":\"{account}\",\"event\":{i}}}");
        let pending = recorder.stamp(topic, Some(account.as_bytes()));
        let (name, stamp) = pending.header();
        let record = FutureRecord::to(topic)
            .key(&account)
            .payload(&body)
            .headers(OwnedHeaders::new().insert(Header {
                key: name,
                value: Some(stamp),
            }));
        match producer.send(record, Duration::from_secs(60)).await {
            Ok(delivery) => recorder.acked(pending, delivery.partition, delivery.offset),
            Err(_) => recorder.indeterminate(pending),
        }
    }
}

/// A worker: handles each event (a simulated HTTP call of up to 3 ms), then records it.
async fn handle(topic: &str, recorder: &ConsumerRecorder, event: Event) {
    tokio::time::sleep(Duration::from_micros(rand::random_range(0..3000))).await;
    let stamp = event.stamp.as_deref();
    recorder.delivered(topic, event.partition, event.offset, stamp);
}

/// Reads every event once and hands it to the workers as `dispatch` says; returns when every
/// worker is done.
async fn consume(
    cluster: &EmbeddedCluster,
    topic: &str,
    recording: &Recording,
    dispatch: Dispatch,
) {
    let consumer: StreamConsumer = client(
        cluster,
        &[
            ("group.id", "webhook-dispatcher"),
            ("auto.offset.reset", "earliest"),
        ],
    )
    .create()
    .expect("a consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let recorder = recording.consumer();
    let mut queues = Vec::new();
    let mut workers = Vec::new();
    let shared = {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        (tx, Arc::new(Mutex::new(rx)))
    };
    for _ in 0..WORKERS {
        let (recorder, topic) = (recorder.clone(), topic.to_owned());
        match dispatch {
            Dispatch::PerAccount => {
                let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
                queues.push(tx);
                workers.push(tokio::spawn(async move {
                    while let Some(event) = rx.recv().await {
                        handle(&topic, &recorder, event).await;
                    }
                }));
            }
            Dispatch::SharedPool => {
                let rx = Arc::clone(&shared.1);
                workers.push(tokio::spawn(async move {
                    loop {
                        let Some(event) = rx.lock().await.recv().await else {
                            break;
                        };
                        handle(&topic, &recorder, event).await;
                    }
                }));
            }
        }
    }
    let mut seen = HashSet::new();
    while seen.len() < EVENTS {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .expect("an event within 60 s");
        let Ok(message) = message else {
            continue; // a broker was killed: the client reconnects by itself
        };
        seen.insert((message.partition(), message.offset()));
        let account = message.key().map(|k| k.to_vec()).unwrap_or_default();
        let event = Event {
            partition: message.partition(),
            offset: message.offset(),
            stamp: message
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == stamp::HEADER))
                .and_then(|h| h.value.map(<[u8]>::to_vec)),
        };
        let sent = match dispatch {
            Dispatch::PerAccount => {
                let worker = account.iter().map(|&b| usize::from(b)).sum::<usize>() % WORKERS;
                queues[worker].send(event)
            }
            Dispatch::SharedPool => shared.0.send(event),
        };
        sent.expect("a worker");
    }
    drop(queues);
    drop(shared);
    for worker in workers {
        worker.await.expect("a worker");
    }
}

/// One round on a fresh topic: produce (with the leader kill), consume through `dispatch`,
/// check.
async fn round(cluster: &EmbeddedCluster, dispatch: Dispatch) -> Verification {
    let topic = format!("webhooks-{:08x}", rand::random::<u32>());
    let spec = TopicSpec::new(&topic, 3, 3).config("min.insync.replicas", "2");
    cluster.create_topic(&spec).await.expect("a topic");
    let recording = Recording::new();
    produce(cluster, &topic, &recording).await;
    consume(cluster, &topic, &recording, dispatch).await;
    verify(cluster, &recording, &CHECKS)
        .await
        .expect("the log read back")
}

#[tokio::main]
async fn main() {
    let cluster = EmbeddedCluster::builder()
        .brokers(3)
        .start()
        .await
        .expect("3 brokers");
    println!(
        "per-account workers:\n{}",
        round(&cluster, Dispatch::PerAccount).await
    );
    println!(
        "shared pool:\n{}",
        round(&cluster, Dispatch::SharedPool).await
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_harness::check::Verdict;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn per_account_workers_keep_order_through_a_leader_kill_and_a_shared_pool_does_not() {
        let cluster = EmbeddedCluster::builder().brokers(3).start().await.unwrap();
        let right = round(&cluster, Dispatch::PerAccount).await;
        assert!(right.passed(), "{right}");
        assert_eq!(right.log_records, EVENTS, "{right}");

        let wrong = round(&cluster, Dispatch::SharedPool).await;
        let order = wrong.check(CheckName::DeliveryOrder).unwrap();
        assert_eq!(order.verdict, Verdict::Fail, "{wrong}");
        let first = &order.examples[0];
        assert!(
            first
                .key
                .as_deref()
                .is_some_and(|k| k.starts_with("account-")),
            "{wrong}"
        );
        // Nothing was lost: only the order broke.
        for check in [CheckName::LostWrite, CheckName::LostDelivery] {
            assert_eq!(
                wrong.check(check).unwrap().verdict,
                Verdict::Pass,
                "{wrong}"
            );
        }
    }
}
