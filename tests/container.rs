//! The container backend (feature `containers`): a round trip through an Apache Kafka
//! container. Machines without a Docker engine skip it, saying so on the terminal.
#![cfg(feature = "containers")]

mod common;

use std::io::Write;

use kafka_harness::cluster::container::{ContainerCluster, ContainerImage, docker_available};
use kafka_harness::{Cluster, ClusterKind, NodeOp, TopicSpec};

#[tokio::test]
async fn apache_kafka_container_round_trip() {
    if !docker_available().await {
        // Written straight to stderr so the test runner's capture does not hide it.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED container backend test: no Docker engine answers (DOCKER_HOST or \
             /var/run/docker.sock)"
        );
        return;
    }
    let cluster = ContainerCluster::start(ContainerImage::ApacheKafka("3.8.0".into()))
        .await
        .unwrap();
    assert_eq!(cluster.kind(), ClusterKind::Container);
    let topic = common::topic("container");
    cluster
        .create_topic(&TopicSpec::new(&topic, 1, 1))
        .await
        .unwrap();
    let sent = common::values(10);
    common::rdkafka_produce(&cluster.client_config(), &topic, 0, &sent).await;
    assert_eq!(
        common::rdkafka_read(&cluster.client_config(), &topic, 0, sent.len()).await,
        sent
    );
    cluster.apply(1, NodeOp::Pause).await.unwrap();
    cluster.apply(1, NodeOp::Resume).await.unwrap();
    assert!(
        cluster
            .apply(1, NodeOp::Kill)
            .await
            .unwrap_err()
            .is_bad_input()
    );
}
