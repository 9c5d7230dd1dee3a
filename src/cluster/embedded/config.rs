//! What each node is told: its `server.properties`, its logging config, its JVM flags.
//!
//! Every node is a combined broker and controller (KRaft) on 127.0.0.1 with a static quorum
//! (`controller.quorum.voters`), so formatting needs no extra flag on 3.9 or 4.x. The
//! defaults are tuned for a laptop or a 2-core CI runner; users may override any of them,
//! but not the keys that wire the cluster together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cluster::{ClusterError, NodeId};

/// Keys the harness sets itself: overriding them would break the cluster's wiring.
const OWNED_KEYS: &[&str] = &[
    "process.roles",
    "node.id",
    "listeners",
    "advertised.listeners",
    "controller.listener.names",
    "inter.broker.listener.name",
    "listener.security.protocol.map",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "log.dirs",
    "log.dir",
];

/// How long the controller waits for a broker's heartbeat before fencing it (Kafka's
/// default is 9 s); a killed broker loses its leaderships after this long.
pub const BROKER_SESSION_TIMEOUT_MS: u32 = 4000;

/// One node's addresses and files.
#[derive(Debug, Clone)]
pub struct NodeLayout {
    /// `node.id`.
    pub id: NodeId,
    /// The PLAINTEXT port: clients' of a plaintext cluster, else broker to broker and the
    /// harness's probes only.
    pub broker_port: u16,
    /// The KRaft controller port.
    pub controller_port: u16,
    /// The secured client listener's port (`CLIENT`), for a secured cluster.
    pub client_port: Option<u16>,
    /// The node's folder: config, data, log.
    pub dir: PathBuf,
}

impl NodeLayout {
    /// `server.properties`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("server.properties")
    }
    /// The logging config.
    pub fn log_config_path(&self) -> PathBuf {
        self.dir.join("log4j.properties")
    }
    /// Where the node's stdout and stderr go.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("kafka.log")
    }
    /// `log.dirs`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}

/// Refuses overrides of keys the harness owns.
pub fn check_overrides(overrides: &BTreeMap<String, String>) -> Result<(), ClusterError> {
    match overrides.keys().find(|k| OWNED_KEYS.contains(&k.as_str())) {
        Some(key) => Err(ClusterError::Invalid(format!(
            "broker config `{key}` is set by the harness (it wires the nodes together) and \
             cannot be overridden; remove it"
        ))),
        None => Ok(()),
    }
}

/// The `server.properties` of `node` in a cluster of `all` nodes.
///
/// A node with a client port gets a `CLIENT` listener of protocol `client_protocol` (e.g.
/// `SASL_SSL`) and the settings in `secured`, which users cannot override.
pub fn server_properties(
    node: &NodeLayout,
    all: &[NodeLayout],
    kafka_major: u32,
    overrides: &BTreeMap<String, String>,
    client_protocol: &str,
    secured: &BTreeMap<String, String>,
) -> String {
    let n = all.len();
    let rf = n.min(3).to_string();
    let min_isr = n.min(2).to_string();
    let voters = all
        .iter()
        .map(|v| format!("{}@127.0.0.1:{}", v.id, v.controller_port))
        .collect::<Vec<_>>()
        .join(",");
    let mut props: BTreeMap<String, String> = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        props.insert(k.to_owned(), v);
    };
    set("process.roles", "broker,controller".into());
    set("node.id", node.id.to_string());
    let (client, client_map) = match node.client_port {
        Some(port) => (
            format!(",CLIENT://127.0.0.1:{port}"),
            format!(",CLIENT:{client_protocol}"),
        ),
        None => (String::new(), String::new()),
    };
    set(
        "listeners",
        format!(
            "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}{client}",
            node.broker_port, node.controller_port
        ),
    );
    set(
        "advertised.listeners",
        format!("PLAINTEXT://127.0.0.1:{}{client}", node.broker_port),
    );
    set("controller.listener.names", "CONTROLLER".into());
    set("inter.broker.listener.name", "PLAINTEXT".into());
    set(
        "listener.security.protocol.map",
        format!("PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT{client_map}"),
    );
    set("controller.quorum.voters", voters);
    set("log.dirs", node.data_dir().display().to_string());
    // Replication of internal topics: at most 3, so one node works and three survive a death.
    set("default.replication.factor", rf.clone());
    set("offsets.topic.replication.factor", rf.clone());
    set("transaction.state.log.replication.factor", rf.clone());
    set("transaction.state.log.min.isr", min_isr.clone());
    if kafka_major >= 4 {
        set("share.coordinator.state.topic.replication.factor", rf);
        set("share.coordinator.state.topic.min.isr", min_isr);
    }
    // Small machine: fewer internal partitions and threads, a small dedupe buffer.
    set("offsets.topic.num.partitions", "10".into());
    set("transaction.state.log.num.partitions", "10".into());
    set("num.network.threads", "2".into());
    set("num.io.threads", "4".into());
    set("background.threads", "4".into());
    set("num.recovery.threads.per.data.dir", "1".into());
    set("log.cleaner.threads", "1".into());
    set(
        "log.cleaner.dedupe.buffer.size",
        (4 * 1024 * 1024).to_string(),
    );
    // Tests: no rebalance delay, quick fencing of a dead broker.
    set("group.initial.rebalance.delay.ms", "0".into());
    set(
        "broker.session.timeout.ms",
        BROKER_SESSION_TIMEOUT_MS.to_string(),
    );
    set("broker.heartbeat.interval.ms", "500".into());
    // A deleted topic's files go at once, not a minute later in the middle of the next
    // workload (a sweep deletes each step's gigabytes before the next step).
    set("log.segment.delete.delay.ms", "0".into());
    for (k, v) in overrides.iter().chain(secured) {
        props.insert(k.clone(), v.clone());
    }
    let mut out = String::from("# Written by kafka-harness.\n");
    for (k, v) in props {
        out.push_str(&format!("{k}={v}\n"));
    }
    out
}

/// A logging config that writes to stdout (captured in the node's log file).
pub fn log_config(kafka_major: u32) -> &'static str {
    if kafka_major >= 4 {
        "rootLogger.level = INFO\n\
         rootLogger.appenderRef.stdout.ref = STDOUT\n\
         appender.stdout.type = Console\n\
         appender.stdout.name = STDOUT\n\
         appender.stdout.layout.type = PatternLayout\n\
         appender.stdout.layout.pattern = [%d] %p %m (%c)%n\n\
         logger.request.name = kafka.request.logger\n\
         logger.request.level = WARN\n"
    } else {
        "log4j.rootLogger=INFO, stdout\n\
         log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n\
         log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n\
         log4j.logger.kafka.request.logger=WARN\n"
    }
}

/// The JVM flags of a node.
pub fn jvm_args(heap_mb: u32, kafka_major: u32, log_config: &Path) -> Vec<String> {
    let logging = if kafka_major >= 4 {
        format!("-Dlog4j2.configurationFile={}", log_config.display())
    } else {
        format!("-Dlog4j.configuration=file:{}", log_config.display())
    };
    vec![
        format!("-Xms{}m", heap_mb.min(256)),
        format!("-Xmx{heap_mb}m"),
        "-XX:+UseSerialGC".into(),
        "-XX:+ExitOnOutOfMemoryError".into(),
        "-XX:-UsePerfData".into(),
        "-Djava.awt.headless=true".into(),
        logging,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(n: i32) -> Vec<NodeLayout> {
        (1..=n)
            .map(|id| NodeLayout {
                id,
                broker_port: 9000 + id as u16 * 2,
                controller_port: 9001 + id as u16 * 2,
                client_port: None,
                dir: PathBuf::from(format!("/tmp/n{id}")),
            })
            .collect()
    }

    #[test]
    fn one_node_has_replication_factor_one() {
        let nodes = layout(1);
        let props = server_properties(&nodes[0], &nodes, 4, &BTreeMap::new(), "", &BTreeMap::new());
        assert!(props.contains("offsets.topic.replication.factor=1\n"));
        assert!(props.contains("transaction.state.log.min.isr=1\n"));
        assert!(props.contains("share.coordinator.state.topic.min.isr=1\n"));
        assert!(props.contains("controller.quorum.voters=1@127.0.0.1:9003\n"));
    }

    #[test]
    fn three_nodes_list_every_voter_and_3x_has_no_share_keys() {
        let nodes = layout(3);
        let props = server_properties(&nodes[1], &nodes, 3, &BTreeMap::new(), "", &BTreeMap::new());
        assert!(props.contains("node.id=2\n"));
        assert!(props.contains(
            "controller.quorum.voters=1@127.0.0.1:9003,2@127.0.0.1:9005,3@127.0.0.1:9007\n"
        ));
        assert!(props.contains("transaction.state.log.min.isr=2\n"));
        assert!(!props.contains("share.coordinator"));
    }

    #[test]
    fn overrides_win_but_owned_keys_are_refused() {
        let nodes = layout(1);
        let overrides = BTreeMap::from([("num.io.threads".to_owned(), "8".to_owned())]);
        let props = server_properties(&nodes[0], &nodes, 4, &overrides, "", &BTreeMap::new());
        assert!(props.contains("num.io.threads=8\n"));
        assert!(check_overrides(&overrides).is_ok());
        let owned = BTreeMap::from([("node.id".to_owned(), "7".to_owned())]);
        assert!(matches!(
            check_overrides(&owned),
            Err(ClusterError::Invalid(m)) if m.contains("node.id")
        ));
    }
}
