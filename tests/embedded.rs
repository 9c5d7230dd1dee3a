//! A single-node embedded cluster of the default Kafka version, shared by tests that do not
//! break it: topic administration, the controller query, and the external backend pointed
//! at it. (Each client producing and each reading back is the driver matrix,
//! tests/drivers.rs.) Class-data sharing starts clusters of its own.

mod common;

use std::collections::BTreeMap;

use common::{rdkafka_produce, rdkafka_read, shared_cluster};
use kafka_harness::cluster::embedded::DEFAULT_KAFKA_VERSION;
use kafka_harness::cluster::external::ExternalCluster;
use kafka_harness::{Cluster, ClusterKind, EmbeddedCluster, NodeOp, TopicSpec};

#[tokio::test]
async fn cluster_reports_itself() {
    let cluster = shared_cluster().await;
    assert_eq!(cluster.kind(), ClusterKind::Embedded);
    assert_eq!(
        cluster.kafka_version().as_deref(),
        Some(DEFAULT_KAFKA_VERSION)
    );
    assert_eq!(cluster.node_ids(), vec![1]);
    assert_eq!(cluster.active_controller().await.unwrap(), 1);
    let addr = cluster.broker_addr(1).unwrap();
    let md = kafka_harness::cluster::wire::metadata(addr, None, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(md.brokers.len(), 1);
    assert_eq!(md.brokers[0].port, i32::from(addr.port()));
    assert!(cluster.log_path(1).unwrap().exists());
    assert!(cluster.data_dir().exists());
}

#[tokio::test]
async fn topics_get_partitions_configs_and_leaders() {
    let cluster = shared_cluster().await;
    let topic = common::topic("admin");
    let spec = TopicSpec::new(&topic, 6, 1).config("cleanup.policy", "compact");
    cluster.create_topic(&spec).await.unwrap();
    for partition in 0..6 {
        assert_eq!(
            cluster.partition_leader(&topic, partition).await.unwrap(),
            Some(1)
        );
    }
    // A replication factor the cluster cannot meet is refused by the broker, not hidden.
    let err = cluster
        .create_topic(&TopicSpec::new(common::topic("too-many-replicas"), 1, 3))
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("replication"),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_nodes_are_named() {
    let cluster = shared_cluster().await;
    let err = cluster.apply(7, NodeOp::Kill).await.unwrap_err();
    assert!(err.is_bad_input());
    assert!(err.to_string().contains("no node 7"), "{err}");
}

#[tokio::test]
async fn external_backend_against_the_embedded_cluster() {
    let embedded = shared_cluster().await;
    let external = ExternalCluster::new(embedded.bootstrap_servers(), BTreeMap::new()).unwrap();
    external.check_reachable().await.unwrap();
    let topic = common::topic("external");
    external
        .create_topic(&TopicSpec::new(&topic, 2, 1))
        .await
        .unwrap();
    assert_eq!(external.partition_leader(&topic, 1).await.unwrap(), Some(1));
    let sent = common::values(10);
    rdkafka_produce(&external.client_config(), &topic, 1, &sent).await;
    assert_eq!(
        rdkafka_read(&external.client_config(), &topic, 1, sent.len()).await,
        sent
    );
    assert!(external.capabilities().is_empty());
    assert!(
        external
            .apply(1, NodeOp::Kill)
            .await
            .unwrap_err()
            .is_bad_input()
    );
}

#[tokio::test]
async fn external_backend_reports_an_unreachable_cluster() {
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = BTreeMap::from([("socket.timeout.ms".to_owned(), "2000".to_owned())]);
    let external = ExternalCluster::new(format!("127.0.0.1:{free_port}"), settings).unwrap();
    assert!(external.check_reachable().await.is_err());
}

/// Whether node 1's process maps the broker's class-data archive, and its command line.
fn sharing_of(cluster: &EmbeddedCluster) -> (bool, String) {
    let pid = cluster.pid(1).unwrap().expect("node 1 runs");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    (maps.contains("broker.jsa"), cmdline.replace('\0', " "))
}

#[tokio::test]
async fn class_data_archives_are_made_once_then_mapped_and_a_broken_one_is_ignored() {
    let cache = tempfile::tempdir().unwrap();
    let start = |c1_only| {
        EmbeddedCluster::builder()
            .class_sharing_cache(cache.path())
            .c1_only(c1_only)
            .start()
    };
    // The first start makes the archives, then maps them.
    let first = start(false).await.unwrap();
    let (mapped, cmdline) = sharing_of(&first);
    assert!(mapped, "the archive is not mapped: {cmdline}");
    assert!(!cmdline.contains("TieredStopAtLevel"), "{cmdline}");
    drop(first);
    let dirs: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let mut files: Vec<String> = std::fs::read_dir(&dirs[0])
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, [".lock", "broker.jsa", "format.jsa"]);
    // Later starts use them as they are; C1-only is asked for here.
    let second = start(true).await.unwrap();
    let (mapped, cmdline) = sharing_of(&second);
    assert!(
        mapped && cmdline.contains("-XX:TieredStopAtLevel=1"),
        "{cmdline}"
    );
    drop(second);
    // An archive that is no archive is ignored by the JVM: the cluster still starts and works.
    let broker = dirs[0].join("broker.jsa");
    std::fs::remove_file(&broker).unwrap();
    std::fs::write(&broker, b"not an archive").unwrap();
    let third = start(false).await.unwrap();
    assert!(!sharing_of(&third).0);
    let topic = common::topic("cds");
    third
        .create_topic(&TopicSpec::new(&topic, 1, 1))
        .await
        .unwrap();
    let sent = common::values(5);
    rdkafka_produce(&third.client_config(), &topic, 0, &sent).await;
    assert_eq!(
        rdkafka_read(&third.client_config(), &topic, 0, sent.len()).await,
        sent
    );
}
