//! Where brokers come from: the [`Cluster`] trait and its backends.
//!
//! ```text
//!            ┌──────────── Cluster (trait) ─────────────┐
//!   embedded │ real Kafka, KRaft, JVM children we own   │ kill terminate restart pause resume
//!   mock     │ librdkafka's in-process mock             │ kill (= down) restart (= up) delay
//!   external │ bootstrap servers of a running cluster   │ no faults
//!   container│ testcontainers (feature `containers`)    │ pause resume
//!            └──────────────────────────────────────────┘
//! ```
//!
//! A backend declares its [`Capability`]s so a scenario that needs a fault the backend
//! cannot do is refused before anything runs. Every fault is a [`NodeOp`] applied with
//! [`Cluster::apply`], which returns only when the fault has taken effect.

pub mod admin;
#[cfg(feature = "containers")]
pub mod container;
pub mod embedded;
pub mod external;
pub mod mock;
pub mod wire;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;

/// A broker's node id (`node.id` in KRaft).
pub type NodeId = i32;

/// Which backend a cluster comes from; reports print it next to every figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterKind {
    /// Real Apache Kafka run as child processes of the harness.
    Embedded,
    /// librdkafka's in-process mock cluster: not a real broker.
    Mock,
    /// A cluster someone else runs, reached by bootstrap address.
    External,
    /// A broker in a container (testcontainers).
    Container,
}

impl fmt::Display for ClusterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClusterKind::Embedded => "embedded",
            ClusterKind::Mock => "mock",
            ClusterKind::External => "external",
            ClusterKind::Container => "container",
        })
    }
}

impl ClusterKind {
    /// What a backend of this kind can do, known before one is started.
    pub fn capabilities(self) -> Vec<Capability> {
        match self {
            ClusterKind::Embedded => vec![
                Capability::Kill,
                Capability::Terminate,
                Capability::Restart,
                Capability::Pause,
                Capability::Resume,
                Capability::ControllerQuery,
            ],
            ClusterKind::Mock => vec![Capability::Kill, Capability::Restart, Capability::Delay],
            ClusterKind::External => Vec::new(),
            ClusterKind::Container => vec![Capability::Pause, Capability::Resume],
        }
    }
}

/// A fault or repair applied to one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeOp {
    /// SIGKILL: no shutdown, no flush.
    Kill,
    /// SIGTERM (controlled shutdown), then SIGKILL after a grace period.
    Terminate,
    /// Start a stopped node again with the same id, ports and data (terminating it first
    /// if it runs).
    Restart,
    /// SIGSTOP: the process is frozen, its sockets stay open.
    Pause,
    /// SIGCONT after a pause.
    Resume,
    /// Delay every response of the node by this long (zero removes the delay); the
    /// requests themselves are handled at once, so a client that times out and retries may
    /// write twice.
    Delay(std::time::Duration),
}

/// Something a backend can do; see [`Cluster::capabilities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// [`NodeOp::Kill`].
    Kill,
    /// [`NodeOp::Terminate`].
    Terminate,
    /// [`NodeOp::Restart`].
    Restart,
    /// [`NodeOp::Pause`].
    Pause,
    /// [`NodeOp::Resume`].
    Resume,
    /// [`Cluster::active_controller`].
    ControllerQuery,
    /// [`NodeOp::Delay`].
    Delay,
}

impl NodeOp {
    /// The operation that undoes this one: resume a pause, remove a delay, restart the rest.
    pub fn undo(self) -> NodeOp {
        match self {
            NodeOp::Pause => NodeOp::Resume,
            NodeOp::Delay(_) => NodeOp::Delay(std::time::Duration::ZERO),
            _ => NodeOp::Restart,
        }
    }

    /// The capability a backend needs to apply this operation.
    pub fn capability(self) -> Capability {
        match self {
            NodeOp::Kill => Capability::Kill,
            NodeOp::Terminate => Capability::Terminate,
            NodeOp::Restart => Capability::Restart,
            NodeOp::Pause => Capability::Pause,
            NodeOp::Resume => Capability::Resume,
            NodeOp::Delay(_) => Capability::Delay,
        }
    }
}

impl fmt::Display for NodeOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeOp::Kill => "kill",
            NodeOp::Terminate => "terminate",
            NodeOp::Restart => "restart",
            NodeOp::Pause => "pause",
            NodeOp::Resume => "resume",
            NodeOp::Delay(_) => "delay",
        })
    }
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: i32,
    /// Topic configs (`min.insync.replicas`, `cleanup.policy`, ...).
    pub configs: BTreeMap<String, String>,
}

impl TopicSpec {
    /// A topic with `partitions` partitions and `replication_factor` replicas, no configs.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i32) -> Self {
        TopicSpec {
            name: name.into(),
            partitions,
            replication_factor,
            configs: BTreeMap::new(),
        }
    }

    /// Adds one topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// A cluster the harness can point clients at and, depending on the backend, break.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> ClusterKind;

    /// `host:port,host:port,...` for clients.
    fn bootstrap_servers(&self) -> String;

    /// Client settings every client of this cluster needs: `bootstrap.servers`, and for an
    /// external cluster its security settings. Pass them to rdkafka's `ClientConfig`.
    fn client_config(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("bootstrap.servers".to_owned(), self.bootstrap_servers())])
    }

    /// The Kafka version the brokers run, when known.
    fn kafka_version(&self) -> Option<String>;

    /// The node ids the harness knows of (empty for an external cluster).
    fn node_ids(&self) -> Vec<NodeId>;

    /// What this backend can do.
    fn capabilities(&self) -> Vec<Capability>;

    /// Each node's log file, for backends that own their brokers; empty otherwise.
    fn broker_logs(&self) -> Vec<(NodeId, std::path::PathBuf)> {
        Vec::new()
    }

    /// Creates a topic and returns once every partition has a leader. By default through
    /// librdkafka's admin API and metadata.
    async fn create_topic(&self, spec: &TopicSpec) -> Result<(), ClusterError> {
        let settings = self.client_config();
        admin::create_topic(&settings, spec).await?;
        admin::wait_for_leaders(&settings, spec).await
    }

    /// Deletes topics (and their data); a topic already gone is not an error. By default
    /// through librdkafka's admin API.
    async fn delete_topics(&self, names: &[String]) -> Result<(), ClusterError> {
        admin::delete_topics(&self.client_config(), names).await
    }

    /// The node leading `topic`/`partition`, or `None` when it has no leader right now. By
    /// default from librdkafka's metadata.
    async fn partition_leader(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<NodeId>, ClusterError> {
        admin::partition_leader(&self.client_config(), topic, partition).await
    }

    /// The node that is the active KRaft controller. By default unsupported: only backends
    /// with [`Capability::ControllerQuery`] can tell.
    async fn active_controller(&self) -> Result<NodeId, ClusterError> {
        Err(ClusterError::Unsupported {
            kind: self.kind(),
            what: "name the active controller".into(),
        })
    }

    /// Applies a fault or repair to one node; returns when it has taken effect.
    async fn apply(&self, node: NodeId, op: NodeOp) -> Result<(), ClusterError>;

    /// The nodes that are not serving (stopped, paused, or whose process died), each with
    /// its state, for backends that own their nodes; empty when every node is up or the
    /// backend cannot tell.
    fn nodes_down(&self) -> Vec<(NodeId, String)> {
        Vec::new()
    }
}

/// Everything that can go wrong with a cluster. Each message says what happened and what
/// to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No Java runtime could be run.
    #[error(
        "no Java runtime found: could not run `{java}` ({reason}). The embedded cluster runs \
         Apache Kafka as a Java process and needs Java {needed} or newer. Install a JDK (on \
         Debian: `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME to one."
    )]
    JavaMissing {
        /// The command tried.
        java: String,
        /// Why it failed.
        reason: String,
        /// The Java major version Kafka needs.
        needed: u32,
    },
    /// The Java runtime is older than the Kafka version needs.
    #[error(
        "Java {found} at `{java}` is too old: Kafka {kafka_version} needs Java {needed} or \
         newer. Install a newer JDK and point JAVA_HOME at it, or pick an older Kafka with \
         `--kafka-version 3.9.1`."
    )]
    JavaTooOld {
        /// The command tried.
        java: String,
        /// The major version found.
        found: u32,
        /// The major version needed.
        needed: u32,
        /// The Kafka version asked for.
        kafka_version: String,
    },
    /// Kafka is not cached, there is no `KAFKA_HOME`, and Maven is not installed.
    #[error(
        "Apache Kafka {version} is not provisioned yet and Maven (`{mvn}`) cannot be run \
         ({reason}). kafka-harness downloads Kafka's jars from Maven Central with Maven on \
         first use and caches them in {cache}. Install Maven (`apt-get install maven`), or \
         set KAFKA_HOME to an unpacked Kafka release."
    )]
    MavenMissing {
        /// The Kafka version asked for.
        version: String,
        /// The Maven command tried.
        mvn: String,
        /// Why it could not run.
        reason: String,
        /// The cache directory.
        cache: PathBuf,
    },
    /// Maven ran but could not fetch Kafka.
    #[error(
        "could not provision Apache Kafka {version} from Maven Central: {hint}. Maven's \
         output is in {log}; its last lines:\n{tail}"
    )]
    ProvisionFailed {
        /// The Kafka version asked for.
        version: String,
        /// What the harness makes of Maven's output.
        hint: String,
        /// Maven's full output.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// `KAFKA_HOME` does not hold a Kafka release.
    #[error(
        "KAFKA_HOME={path} does not look like an unpacked Kafka release: {reason}. Point it at \
         the folder that holds `libs/kafka_2.13-<version>.jar`, or unset it to let the \
         harness fetch Kafka through Maven."
    )]
    KafkaHomeInvalid {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A port the cluster needs is in use.
    #[error(
        "port {port} on 127.0.0.1 is already in use, so node {node} cannot listen on it. Stop \
         whatever holds it (`ss -ltnp 'sport = :{port}'`) or choose another base port."
    )]
    PortTaken {
        /// The node that needed it.
        node: NodeId,
        /// The port.
        port: u16,
    },
    /// A node's process ended while the cluster was starting or restarting.
    #[error(
        "Kafka node {node} exited during start-up ({status}). Its log is {log}; its last \
         lines:\n{tail}"
    )]
    NodeExited {
        /// The node.
        node: NodeId,
        /// The exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// The cluster did not become ready in time.
    #[error(
        "the cluster was not ready after {waited_s} s: {last_problem}. Node logs are in {dir}. \
         On a loaded machine, allow more time (`startup_timeout`)."
    )]
    StartTimeout {
        /// Seconds waited.
        waited_s: u64,
        /// What was still missing at the end.
        last_problem: String,
        /// Where the node logs are.
        dir: PathBuf,
    },
    /// An operation did not take effect in time.
    #[error("{what} did not take effect within {waited_s} s: {last_problem}")]
    OpTimeout {
        /// The operation.
        what: String,
        /// Seconds waited.
        waited_s: u64,
        /// What was observed last.
        last_problem: String,
    },
    /// The backend cannot do this.
    #[error("the {kind} cluster backend cannot {what}")]
    Unsupported {
        /// The backend.
        kind: ClusterKind,
        /// What was asked.
        what: String,
    },
    /// No node has this id.
    #[error("no node {node} in this cluster (nodes: {known:?})")]
    UnknownNode {
        /// The id asked for.
        node: NodeId,
        /// The ids there are.
        known: Vec<NodeId>,
    },
    /// A node is not in a state that allows the operation.
    #[error("cannot {op} node {node}: it is {state}")]
    BadState {
        /// The node.
        node: NodeId,
        /// The operation.
        op: NodeOp,
        /// Its state.
        state: String,
    },
    /// A Kafka client call failed.
    #[error("{what}: {source}")]
    Kafka {
        /// What the harness was doing.
        what: String,
        /// librdkafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// A request the harness speaks itself failed.
    #[error("{what}: {source}")]
    Wire {
        /// What the harness was doing.
        what: String,
        /// The wire error.
        source: crate::cluster::wire::WireError,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Bad settings for a cluster (a broker config the harness owns, a node count out of range).
    #[error("invalid cluster settings: {0}")]
    Invalid(String),
}

impl ClusterError {
    /// Wraps an I/O error with what the harness was doing.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
        let what = what.into();
        move |source| ClusterError::Io { what, source }
    }

    /// Wraps a librdkafka error with what the harness was doing.
    pub fn kafka(
        what: impl Into<String>,
    ) -> impl FnOnce(rdkafka::error::KafkaError) -> ClusterError {
        let what = what.into();
        move |source| ClusterError::Kafka { what, source }
    }

    /// True when the error is the user's input (bad settings, an unsupported request), not
    /// the infrastructure; the CLI maps this to exit code 2 instead of 3.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ClusterError::Invalid(_)
                | ClusterError::Unsupported { .. }
                | ClusterError::UnknownNode { .. }
        )
    }
}

/// Fails with [`ClusterError::Unsupported`] unless `caps` holds `op`'s capability.
pub(crate) fn require(
    kind: ClusterKind,
    caps: &[Capability],
    op: NodeOp,
) -> Result<(), ClusterError> {
    if caps.contains(&op.capability()) {
        Ok(())
    } else {
        Err(ClusterError::Unsupported {
            kind,
            what: format!("{op} a node (it can: {caps:?})"),
        })
    }
}
