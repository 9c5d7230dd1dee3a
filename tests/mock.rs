//! librdkafka's mock cluster: a round trip, a broker taken down and brought back, injected
//! request errors, and a plain refusal of what the mock cannot do.

mod common;

use std::time::Duration;

use common::{config, rdkafka_produce, rdkafka_read};
use kafka_harness::cluster::mock::MockCluster;
use kafka_harness::{Cluster, ClusterKind, NodeOp, TopicSpec};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

/// Sends one record with a short delivery timeout and no retries of its own.
async fn send_one(cluster: &MockCluster, topic: &str) -> Result<i64, KafkaError> {
    let producer: FutureProducer = config(
        &cluster.client_config(),
        &[("message.timeout.ms", "3000"), ("acks", "all")],
    )
    .create()
    .unwrap();
    producer
        .send(
            FutureRecord::to(topic).partition(0).key("k").payload("v"),
            Duration::from_secs(5),
        )
        .await
        .map(|delivery| delivery.offset)
        .map_err(|(e, _)| e)
}

#[tokio::test]
async fn round_trip_and_a_plain_label() {
    let cluster = MockCluster::start(3).unwrap();
    assert_eq!(cluster.kind(), ClusterKind::Mock);
    assert!(cluster.kafka_version().unwrap().starts_with("mock"));
    let topic = common::topic("mock");
    cluster
        .create_topic(&TopicSpec::new(&topic, 2, 3))
        .await
        .unwrap();
    let sent = common::values(20);
    let offsets = rdkafka_produce(&cluster.client_config(), &topic, 1, &sent).await;
    assert_eq!(offsets, (0..20).collect::<Vec<i64>>());
    assert_eq!(
        rdkafka_read(&cluster.client_config(), &topic, 1, sent.len()).await,
        sent
    );
}

#[tokio::test]
async fn a_broker_down_refuses_writes_until_it_is_back() {
    let cluster = MockCluster::start(1).unwrap();
    let topic = common::topic("mock-down");
    cluster
        .create_topic(&TopicSpec::new(&topic, 1, 1))
        .await
        .unwrap();
    let leader = cluster.partition_leader(&topic, 0).await.unwrap().unwrap();
    assert_eq!(send_one(&cluster, &topic).await.unwrap(), 0);

    cluster.apply(leader, NodeOp::Kill).await.unwrap();
    assert_eq!(cluster.nodes_down(), vec![(leader, "down".to_owned())]);
    let err = send_one(&cluster, &topic).await.unwrap_err();
    assert_eq!(
        err,
        KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut)
    );

    cluster.apply(leader, NodeOp::Restart).await.unwrap();
    assert_eq!(cluster.nodes_down(), vec![]);
    assert!(send_one(&cluster, &topic).await.is_ok());
}

#[tokio::test]
async fn injected_errors_fail_exactly_the_requests_they_were_meant_for() {
    let cluster = MockCluster::start(1).unwrap();
    let topic = common::topic("mock-errors");
    cluster
        .create_topic(&TopicSpec::new(&topic, 1, 1))
        .await
        .unwrap();
    cluster
        .inject_request_errors(
            RDKafkaApiKey::Produce,
            vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
        )
        .unwrap();
    assert_eq!(
        send_one(&cluster, &topic).await.unwrap_err(),
        KafkaError::MessageProduction(RDKafkaErrorCode::TopicAuthorizationFailed)
    );
    // One error was pushed; the next request goes through.
    assert!(send_one(&cluster, &topic).await.is_ok());

    // Cleared errors never fire.
    cluster
        .inject_request_errors(
            RDKafkaApiKey::Produce,
            vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
        )
        .unwrap();
    cluster
        .clear_request_errors(RDKafkaApiKey::Produce)
        .unwrap();
    assert!(send_one(&cluster, &topic).await.is_ok());
}

#[tokio::test]
async fn what_the_mock_cannot_do_is_refused() {
    let cluster = MockCluster::start(2).unwrap();
    let err = cluster.apply(1, NodeOp::Pause).await.unwrap_err();
    assert!(err.is_bad_input(), "{err}");
    assert!(
        cluster
            .apply(3, NodeOp::Kill)
            .await
            .unwrap_err()
            .is_bad_input()
    );
    assert!(cluster.active_controller().await.is_err());
    assert!(MockCluster::start(0).is_err());
}
