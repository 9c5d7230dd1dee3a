//! Kafka 3.9.x (log4j 1, the classic protocols) starts and round-trips as 4.x does, and a
//! `KAFKA_HOME` release is used as it is, without Maven.

mod common;

use common::{rdkafka_produce, rdkafka_read, rskafka_produce, rskafka_read};
use kafka_harness::cluster::embedded::provision::cache_root;
use kafka_harness::{Cluster, EmbeddedCluster, TopicSpec};

const OLD_VERSION: &str = "3.9.1";

/// Every client writes and every client reads back.
async fn round_trip_both_clients(cluster: &EmbeddedCluster) {
    let topic = common::topic("versions");
    cluster
        .create_topic(&TopicSpec::new(&topic, 2, 1))
        .await
        .unwrap();
    let sent = common::values(20);
    let settings = cluster.client_config();
    let bootstrap = cluster.bootstrap_servers();
    rdkafka_produce(&settings, &topic, 0, &sent).await;
    rskafka_produce(&bootstrap, &topic, 1, &sent).await;
    assert_eq!(rskafka_read(&bootstrap, &topic, 0, sent.len()).await, sent);
    assert_eq!(rdkafka_read(&settings, &topic, 1, sent.len()).await, sent);
}

#[tokio::test]
async fn kafka_3_9_starts_and_round_trips() {
    let cluster = EmbeddedCluster::builder()
        .kafka_version(OLD_VERSION)
        .start()
        .await
        .unwrap();
    assert_eq!(cluster.kafka_version().as_deref(), Some(OLD_VERSION));
    assert_eq!(cluster.active_controller().await.unwrap(), 1);
    round_trip_both_clients(&cluster).await;
}

#[tokio::test]
async fn kafka_home_is_used_as_it_is() {
    // Make sure the cache holds 3.9.1, then present it as an unpacked release.
    drop(
        EmbeddedCluster::builder()
            .kafka_version(OLD_VERSION)
            .start()
            .await
            .unwrap(),
    );
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        cache_root().join(OLD_VERSION).join("libs"),
        home.path().join("libs"),
    )
    .unwrap();
    let cluster = EmbeddedCluster::builder()
        .kafka_home(home.path())
        .start()
        .await
        .unwrap();
    assert_eq!(cluster.kafka_version().as_deref(), Some(OLD_VERSION));
    round_trip_both_clients(&cluster).await;
}
