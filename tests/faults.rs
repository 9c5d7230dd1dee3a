//! Faults on a real 3-node cluster: kill the leader of a partition and see a new one elected
//! with every acknowledged record still readable; restart it and see it rejoin the ISR;
//! kill the active controller; pause, resume and terminate nodes.

mod common;

use std::time::{Duration, Instant};

use common::{alive, rdkafka_produce, rdkafka_read};
use kafka_harness::{Cluster, EmbeddedCluster, NodeOp, TopicSpec};

/// Polls `check` every 100 ms for up to `timeout`.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_survive_leader_and_controller_kills() {
    let cluster = EmbeddedCluster::builder()
        .brokers(3)
        .terminate_grace(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    assert_eq!(cluster.node_ids(), vec![1, 2, 3]);
    // Ready means every node lists every broker.
    for id in cluster.node_ids() {
        let md = kafka_harness::cluster::wire::metadata(
            cluster.broker_addr(id).unwrap(),
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(md.brokers.len(), 3, "node {id} sees {:?}", md.brokers);
    }

    let topic = common::topic("faults");
    let spec = TopicSpec::new(&topic, 3, 3).config("min.insync.replicas", "2");
    cluster.create_topic(&spec).await.unwrap();
    let settings = cluster.client_config();
    let before = common::values(200);
    let offsets = rdkafka_produce(&settings, &topic, 0, &before).await;
    assert_eq!(offsets.len(), before.len());

    // Kill the leader of partition 0: a new leader is elected among the others.
    let leader = cluster.partition_leader(&topic, 0).await.unwrap().unwrap();
    let pid = cluster.pid(leader).unwrap().unwrap();
    assert_eq!(cluster.nodes_down(), vec![]);
    cluster.apply(leader, NodeOp::Kill).await.unwrap();
    assert!(!alive(pid), "killed node {leader} (pid {pid}) still runs");
    assert_eq!(cluster.pid(leader).unwrap(), None);
    // A sweep asks this to find the nodes a step broke.
    assert_eq!(
        cluster.nodes_down().iter().map(|d| d.0).collect::<Vec<_>>(),
        vec![leader]
    );
    eventually("a new leader", Duration::from_secs(30), || async {
        matches!(cluster.partition_leader(&topic, 0).await, Ok(Some(l)) if l != leader)
    })
    .await;

    // Everything acknowledged before the kill is still there, and writes go on (2 of 3
    // replicas meet min.insync.replicas = 2).
    let after = vec!["after-kill".to_owned()];
    rdkafka_produce(&settings, &topic, 0, &after).await;
    let read = rdkafka_read(&settings, &topic, 0, before.len() + 1).await;
    assert_eq!(read[..before.len()], before[..]);
    assert_eq!(read[before.len()], "after-kill");

    // Restart: the node comes back with its id, ports and data and rejoins the ISR.
    cluster.apply(leader, NodeOp::Restart).await.unwrap();
    assert!(cluster.pid(leader).unwrap().is_some());
    assert_eq!(cluster.nodes_down(), vec![]);
    eventually(
        "the restarted node in the ISR",
        Duration::from_secs(60),
        || async {
            cluster
                .partition_state(&topic, 0)
                .await
                .is_ok_and(|p| p.isr.contains(&leader) && p.isr.len() == 3)
        },
    )
    .await;

    // Kill the active controller: the quorum elects another.
    let controller = cluster.active_controller().await.unwrap();
    cluster.apply(controller, NodeOp::Kill).await.unwrap();
    eventually("a new controller", Duration::from_secs(30), || async {
        matches!(cluster.active_controller().await, Ok(c) if c != controller)
    })
    .await;
    cluster.apply(controller, NodeOp::Restart).await.unwrap();

    // Pause freezes the process, resume thaws it; a paused node cannot be paused again.
    let victim = cluster
        .node_ids()
        .into_iter()
        .find(|&n| n != controller)
        .unwrap();
    let pid = cluster.pid(victim).unwrap().unwrap();
    cluster.apply(victim, NodeOp::Pause).await.unwrap();
    assert!(
        process_state(pid).starts_with('T'),
        "{}",
        process_state(pid)
    );
    assert!(cluster.apply(victim, NodeOp::Pause).await.is_err());
    cluster.apply(victim, NodeOp::Resume).await.unwrap();
    assert!(!process_state(pid).starts_with('T'));
    eventually(
        "all three brokers registered",
        Duration::from_secs(30),
        || async {
            let addr = cluster.broker_addr(victim).unwrap();
            kafka_harness::cluster::wire::metadata(addr, None, Duration::from_secs(2))
                .await
                .is_ok_and(|md| md.brokers.len() == 3)
        },
    )
    .await;

    // Terminate: a controlled shutdown that ends well within the grace period.
    let started = Instant::now();
    cluster.apply(victim, NodeOp::Terminate).await.unwrap();
    assert!(!alive(pid));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "SIGTERM was not enough: the node was killed after the grace period"
    );
    let log = std::fs::read_to_string(cluster.log_path(victim).unwrap()).unwrap();
    assert!(
        log.contains("shut down completed") || log.contains("shutting down"),
        "no controlled shutdown in the log"
    );
    // The survivors still serve the data.
    let read = rdkafka_read(&settings, &topic, 0, before.len() + 1).await;
    assert_eq!(read[..before.len()], before[..]);
}

/// The state letter of a process, from `/proc/PID/stat`.
fn process_state(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit_once(')')
        .unwrap()
        .1
        .trim()
        .chars()
        .take(1)
        .collect()
}
