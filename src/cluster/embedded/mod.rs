//! Real Apache Kafka on your own machine: KRaft nodes run as JVM children of the harness.
//!
//! ```text
//!   builder ─> provision (Java + jars) ─> WorkDir ─> ports ─> format each node (StorageTool)
//!           ─> spawn every node (Spawner) ─> ready: every node's Metadata lists every broker
//!                                                   and the quorum has a leader
//! ```
//!
//! The cluster is yours until it drops: then every JVM is killed and waited for, and the
//! data folder removed (unless kept). If the harness dies without dropping it, the kernel
//! kills the JVMs (see the crate's `child` module) and the next cluster removes the folder (see
//! [`workdir`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafka_harness::ClusterError> {
//! use kafka_harness::{Cluster, EmbeddedCluster, NodeOp, TopicSpec};
//!
//! let cluster = EmbeddedCluster::builder().brokers(3).start().await?;
//! cluster.create_topic(&TopicSpec::new("orders", 6, 3)).await?;
//! let leader = cluster.partition_leader("orders", 0).await?.expect("a leader");
//! cluster.apply(leader, NodeOp::Kill).await?;
//! // ... check what survived ...
//! cluster.apply(leader, NodeOp::Restart).await?;
//! # Ok(()) }
//! ```

pub mod cds;
pub mod config;
pub mod provision;
pub mod security;
pub mod workdir;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use nix::sys::signal::Signal;

use self::cds::{Jvm, Sharing};
use self::config::NodeLayout;
use self::provision::{KafkaDist, ProvisionRequest};
use self::security::{Prepared, Security};
use self::workdir::WorkDir;
use super::admin::{self, PollError, poll_until};
use super::{Capability, Cluster, ClusterError, ClusterKind, NodeId, NodeOp, TopicSpec};
use crate::child::{self as process, Spawner};
use crate::cluster::wire::{self, PartitionInfo};

pub use self::provision::DEFAULT_KAFKA_VERSION;

/// The most nodes an embedded cluster may have.
pub const MAX_BROKERS: usize = 5;
/// How long one wire request to a node may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often readiness is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Settings for an [`EmbeddedCluster`]; every one has a default.
#[derive(Debug, Clone)]
pub struct EmbeddedClusterBuilder {
    brokers: usize,
    provision: ProvisionRequest,
    broker_configs: BTreeMap<String, String>,
    heap_mb: u32,
    base_port: Option<u16>,
    startup_timeout: Duration,
    terminate_grace: Duration,
    keep_data: bool,
    work_root: Option<PathBuf>,
    security: Security,
    class_sharing: bool,
    class_sharing_cache: Option<PathBuf>,
    c1_only: bool,
    /// Set for the cluster that makes the archives: what its JVMs do.
    training: Option<Sharing>,
}

impl Default for EmbeddedClusterBuilder {
    fn default() -> Self {
        EmbeddedClusterBuilder {
            brokers: 1,
            provision: ProvisionRequest::default(),
            broker_configs: BTreeMap::new(),
            heap_mb: 512,
            base_port: None,
            startup_timeout: Duration::from_secs(90),
            terminate_grace: Duration::from_secs(20),
            keep_data: false,
            work_root: None,
            security: Security::default(),
            class_sharing: true,
            class_sharing_cache: None,
            c1_only: false,
            training: None,
        }
    }
}

impl EmbeddedClusterBuilder {
    /// Number of nodes, 1 to 5 (default 1). Each is broker and controller.
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n;
        self
    }
    /// Kafka version to run (default [`DEFAULT_KAFKA_VERSION`], or `KAFKA_HOME`'s).
    pub fn kafka_version(mut self, version: impl Into<String>) -> Self {
        self.provision.version = Some(version.into());
        self
    }
    /// Use an unpacked Kafka release instead of Maven (default: `KAFKA_HOME` if set).
    pub fn kafka_home(mut self, path: impl Into<PathBuf>) -> Self {
        self.provision.kafka_home = Some(path.into());
        self
    }
    /// The `java` executable (default: `$JAVA_HOME/bin/java`, else `java`).
    pub fn java(mut self, path: impl Into<PathBuf>) -> Self {
        self.provision.java = Some(path.into());
        self
    }
    /// A broker config for every node, overriding the harness's defaults.
    pub fn broker_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.broker_configs.insert(key.into(), value.into());
        self
    }
    /// Class-data sharing (default on): the JVMs map an archive of the classes they load,
    /// made once per Kafka version and Java build (the first start takes a few seconds more
    /// to make it) and cached; later clusters are ready in about two thirds of the time.
    /// See [`cds`].
    pub fn class_sharing(mut self, on: bool) -> Self {
        self.class_sharing = on;
        self
    }
    /// Where the class-data archives are cached (default: `cds/` in the jar cache).
    pub fn class_sharing_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.class_sharing_cache = Some(dir.into());
        self
    }
    /// Compile with C1 only (`-XX:TieredStopAtLevel=1`, default off): a node is ready
    /// sooner and a short test suite runs sooner, but sustained throughput is lower, so never
    /// use it for load or capacity figures.
    pub fn c1_only(mut self, on: bool) -> Self {
        self.c1_only = on;
        self
    }
    /// Maximum JVM heap per node in MiB (default 512).
    pub fn heap_mb(mut self, mb: u32) -> Self {
        self.heap_mb = mb;
        self
    }
    /// Use ports `base, base+1, ...` (two per node, three for a secured cluster) instead of
    /// free ones chosen at random.
    pub fn base_port(mut self, port: u16) -> Self {
        self.base_port = Some(port);
        self
    }
    /// How long start-up may take before it is an error (default 90 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }
    /// How long [`NodeOp::Terminate`] waits after SIGTERM before SIGKILL (default 20 s).
    pub fn terminate_grace(mut self, grace: Duration) -> Self {
        self.terminate_grace = grace;
        self
    }
    /// Keep the data folder after the cluster stops (default: remove it).
    pub fn keep_data(mut self, keep: bool) -> Self {
        self.keep_data = keep;
        self
    }
    /// How the client listener is secured, its users and ACLs (default: plaintext, no
    /// authorizer); see [`security`].
    pub fn security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }
    /// Where cluster folders go (default: `$TMPDIR/kafka-harness`).
    pub fn work_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.work_root = Some(root.into());
        self
    }

    /// Provisions Kafka if needed, starts every node, and returns once the cluster is ready.
    pub async fn start(self) -> Result<EmbeddedCluster, ClusterError> {
        if !(1..=MAX_BROKERS).contains(&self.brokers) {
            return Err(ClusterError::Invalid(format!(
                "brokers = {}: an embedded cluster has 1 to {MAX_BROKERS} nodes",
                self.brokers
            )));
        }
        config::check_overrides(&self.broker_configs)?;
        self.security.check()?;
        let request = self.provision.clone();
        let dist = tokio::task::spawn_blocking(move || provision::provision(&request))
            .await
            .map_err(|e| ClusterError::Io {
                what: "provisioning task".into(),
                source: std::io::Error::other(e),
            })??;
        let sharing = self.sharing(&dist).await;
        let started = Instant::now();
        let mut workdir = WorkDir::create(self.work_root.as_deref(), self.keep_data)?;
        let layouts = self.layouts(workdir.path())?;
        let major = dist.major();
        let secured = match self.security.secured() {
            true => Some(security::prepare(&self.security, workdir.path())?),
            false => None,
        };
        let secured_props = secured
            .as_ref()
            .map(Prepared::broker_properties)
            .unwrap_or_default();
        for layout in &layouts {
            fs::create_dir_all(layout.data_dir()).map_err(ClusterError::io(format!(
                "creating {}",
                layout.dir.display()
            )))?;
            let props = config::server_properties(
                layout,
                &layouts,
                major,
                &self.broker_configs,
                self.security.protocol.kafka_name(),
                &secured_props,
            );
            // 0600: a PLAIN user's password may be in it.
            security::write_private(&layout.config_path(), &props)?;
            fs::write(layout.log_config_path(), config::log_config(major)).map_err(
                ClusterError::io(format!("writing {}", layout.log_config_path().display())),
            )?;
        }
        let spawner = Spawner::new().map_err(ClusterError::io("starting the spawner thread"))?;
        if let Err(e) = format_all(&spawner, &dist, &layouts, secured.as_ref(), &sharing).await {
            workdir.keep_on_drop();
            return Err(e);
        }
        let nodes = layouts
            .into_iter()
            .map(|layout| Node {
                layout,
                state: Mutex::new(NodeState::Stopped),
            })
            .collect();
        let mut cluster = EmbeddedCluster {
            nodes,
            dist,
            heap_mb: self.heap_mb,
            sharing,
            c1_only: self.c1_only,
            terminate_grace: self.terminate_grace,
            spawner,
            workdir,
            startup: Duration::ZERO,
            secured,
        };
        let started_ok = async {
            for node in &cluster.nodes {
                cluster.spawn(node).await?;
            }
            cluster.wait_ready(self.startup_timeout).await?;
            cluster.secure().await
        };
        if let Err(e) = started_ok.await {
            // The error points at node logs: keep them for the user to read.
            cluster.workdir.keep_on_drop();
            return Err(e);
        }
        cluster.startup = started.elapsed();
        Ok(cluster)
    }

    /// Chooses each node's ports and folder.
    /// What this cluster's JVMs do with class-data archives; makes them first when none
    /// are cached (once per Kafka version and Java build).
    async fn sharing(&self, dist: &KafkaDist) -> Sharing {
        if let Some(training) = &self.training {
            return training.clone();
        }
        if !self.class_sharing {
            return Sharing::Off;
        }
        let root = (self.class_sharing_cache.clone())
            .unwrap_or_else(|| provision::cache_root().join("cds"));
        match cds::plan(&root, dist) {
            cds::Plan::Use(dir) => Sharing::Use(dir),
            cds::Plan::Without => Sharing::Off,
            // The lock is held until the archives are in place.
            cds::Plan::Train(dir, _lock) => match self.train(&dir).await {
                true => Sharing::Use(dir),
                false => Sharing::Off,
            },
        }
    }

    /// Makes the archives in `dir`: a plain 1-node cluster whose JVMs dump the classes they
    /// loaded when they exit, stopped gracefully once ready. Whether the archives are there.
    async fn train(&self, dir: &Path) -> bool {
        tracing::info!(
            "making class-data archives in {} (once per Kafka version and Java build; later \
             starts are faster)",
            dir.display()
        );
        let suffix = format!("{}.tmp", std::process::id());
        let trainee = EmbeddedClusterBuilder {
            brokers: 1,
            broker_configs: BTreeMap::new(),
            base_port: None,
            keep_data: false,
            security: Security::default(),
            c1_only: false,
            training: Some(Sharing::Train(dir.to_owned(), suffix.clone())),
            ..self.clone()
        };
        let stopped_cleanly = match Box::pin(trainee.start()).await {
            Ok(cluster) => cluster.stop_all().await,
            Err(e) => {
                tracing::debug!("the class-data training cluster did not start: {e}");
                false
            }
        };
        cds::install(dir, &suffix, stopped_cleanly)
    }

    fn layouts(&self, root: &Path) -> Result<Vec<NodeLayout>, ClusterError> {
        let per_node = if self.security.secured() { 3 } else { 2 };
        let ports = match self.base_port {
            Some(base) => fixed_ports(base, self.brokers, per_node)?,
            None => free_ports(self.brokers * per_node)?,
        };
        Ok((0..self.brokers)
            .map(|i| {
                let id = i as NodeId + 1;
                NodeLayout {
                    id,
                    broker_port: ports[per_node * i],
                    controller_port: ports[per_node * i + 1],
                    client_port: (per_node == 3).then(|| ports[per_node * i + 2]),
                    dir: root.join(format!("node-{id}")),
                }
            })
            .collect())
    }
}

/// A running real Kafka cluster owned by this process.
#[derive(Debug)]
pub struct EmbeddedCluster {
    nodes: Vec<Node>,
    dist: KafkaDist,
    heap_mb: u32,
    sharing: Sharing,
    c1_only: bool,
    terminate_grace: Duration,
    // Field order matters on drop: nodes are killed in `Drop`, then the spawner thread
    // ends, then the folder goes.
    spawner: Spawner,
    workdir: WorkDir,
    startup: Duration,
    secured: Option<Prepared>,
}

#[derive(Debug)]
struct Node {
    layout: NodeLayout,
    state: Mutex<NodeState>,
}

#[derive(Debug)]
enum NodeState {
    Running(Child),
    Paused(Child),
    Stopped,
}

impl NodeState {
    fn name(&self) -> &'static str {
        match self {
            NodeState::Running(_) => "running",
            NodeState::Paused(_) => "paused",
            NodeState::Stopped => "stopped",
        }
    }
    fn child(&mut self) -> Option<&mut Child> {
        match self {
            NodeState::Running(c) | NodeState::Paused(c) => Some(c),
            NodeState::Stopped => None,
        }
    }
}

impl EmbeddedCluster {
    /// Settings for a new cluster.
    pub fn builder() -> EmbeddedClusterBuilder {
        EmbeddedClusterBuilder::default()
    }

    /// The cluster's folder (configs, data and logs of every node).
    pub fn data_dir(&self) -> &Path {
        self.workdir.path()
    }

    /// The client properties files of a secured cluster, for its super user: librdkafka
    /// keys (`client.properties`) and Java client keys (`client-java.properties`).
    pub fn client_properties(&self) -> Option<(PathBuf, PathBuf)> {
        self.secured
            .as_ref()
            .map(|p| (p.client_properties_path(), p.java_properties_path()))
    }

    /// The client listener's security protocol.
    pub fn security_protocol(&self) -> security::Protocol {
        self.secured
            .as_ref()
            .map_or(security::Protocol::Plaintext, |p| p.security.protocol)
    }

    /// Client settings (with `bootstrap.servers`) of the user `name` the cluster was told
    /// about; [`Cluster::client_config`] gives the harness's own super user's.
    pub fn client_config_for(&self, name: &str) -> Result<BTreeMap<String, String>, ClusterError> {
        let mut settings = match &self.secured {
            Some(p) => p.client_settings(Some(name))?,
            None => {
                return Err(ClusterError::Invalid(format!(
                    "user `{name}`: this cluster is plaintext and has no users"
                )));
            }
        };
        settings.insert("bootstrap.servers".into(), self.bootstrap_servers());
        Ok(settings)
    }

    /// Creates the ACLs and writes the client properties files of a secured cluster.
    async fn secure(&self) -> Result<(), ClusterError> {
        let Some(prepared) = &self.secured else {
            return Ok(());
        };
        if !prepared.security.acls.is_empty() {
            let what = "creating the scenario's ACLs";
            let acls = &prepared.security.acls;
            poll_until(what, Duration::from_secs(30), POLL_INTERVAL, || async {
                let addr = *self
                    .live_addrs()
                    .first()
                    .ok_or_else(|| PollError::NotYet("no node is running".into()))?;
                match wire::create_acls(addr, acls, Duration::from_secs(10)).await {
                    Ok(()) => Ok(()),
                    Err(e @ wire::WireError::Refused { .. }) => {
                        Err(PollError::Fatal(ClusterError::Wire {
                            what: what.into(),
                            source: e,
                        }))
                    }
                    Err(e) => Err(PollError::NotYet(e.to_string())),
                }
            })
            .await?;
        }
        prepared.write_client_properties(&self.bootstrap_servers())
    }

    /// How long [`EmbeddedClusterBuilder::start`] took, provisioning excluded.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// A node's log file (its stdout and stderr).
    pub fn log_path(&self, node: NodeId) -> Result<PathBuf, ClusterError> {
        Ok(self.node(node)?.layout.log_path())
    }

    /// A node's process id, while it runs or is paused.
    pub fn pid(&self, node: NodeId) -> Result<Option<u32>, ClusterError> {
        let mut state = lock(&self.node(node)?.state);
        Ok(state.child().map(|c| c.id()))
    }

    /// A node's client address.
    pub fn broker_addr(&self, node: NodeId) -> Result<SocketAddr, ClusterError> {
        Ok(addr(self.node(node)?.layout.broker_port))
    }

    /// Leader, replicas and in-sync replicas of a partition, as a running node reports them.
    pub async fn partition_state(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<PartitionInfo, ClusterError> {
        let what = format!("reading metadata of {topic}/{partition}");
        let partitions = self.topic_partitions(topic, &what).await?;
        partitions
            .into_iter()
            .find(|p| p.partition == partition)
            .ok_or_else(|| ClusterError::Invalid(format!("{topic} has no partition {partition}")))
    }

    /// Stops every node (SIGTERM, then SIGKILL after a short grace) and removes the folder.
    pub async fn shutdown(self) {
        self.stop_all().await;
        // Drop kills whatever is left.
    }

    /// Sends every node SIGTERM and waits a short grace; whether all of them exited.
    async fn stop_all(&self) -> bool {
        for node in &self.nodes {
            let mut state = lock(&node.state);
            if let Some(child) = state.child() {
                let _ = process::signal_group(child.id(), Signal::SIGCONT);
                let _ = process::signal_group(child.id(), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10).min(self.terminate_grace);
        while Instant::now() < deadline {
            if self.nodes.iter().all(reap) {
                return true;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        false
    }

    fn node(&self, id: NodeId) -> Result<&Node, ClusterError> {
        self.nodes
            .iter()
            .find(|n| n.layout.id == id)
            .ok_or_else(|| ClusterError::UnknownNode {
                node: id,
                known: self.node_ids(),
            })
    }

    /// Client addresses of the nodes that are running (not paused, not stopped).
    fn live_addrs(&self) -> Vec<SocketAddr> {
        self.nodes
            .iter()
            .filter(|n| matches!(*lock(&n.state), NodeState::Running(_)))
            .map(|n| addr(n.layout.broker_port))
            .collect()
    }

    async fn spawn(&self, node: &Node) -> Result<(), ClusterError> {
        let layout = &node.layout;
        let log = File::options()
            .create(true)
            .append(true)
            .open(layout.log_path())
            .map_err(ClusterError::io(format!(
                "opening {}",
                layout.log_path().display()
            )))?;
        let log2 = log
            .try_clone()
            .map_err(ClusterError::io("duplicating the log handle"))?;
        let mut command = Command::new(&self.dist.java);
        command
            .args(config::jvm_args(
                self.heap_mb,
                self.dist.major(),
                &layout.log_config_path(),
            ))
            .args(self.sharing.args(Jvm::Broker))
            .args(self.c1_only.then_some("-XX:TieredStopAtLevel=1"))
            .arg("-cp")
            .arg(self.dist.classpath())
            .arg("kafka.Kafka")
            .arg(layout.config_path())
            .current_dir(&layout.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let child = self
            .spawner
            .spawn(command)
            .await
            .map_err(ClusterError::io(format!("starting node {}", layout.id)))?;
        *lock(&node.state) = NodeState::Running(child);
        Ok(())
    }

    /// Fails with [`ClusterError::NodeExited`] if a node meant to run has exited.
    fn check_alive(&self, node: &Node) -> Result<(), ClusterError> {
        let mut state = lock(&node.state);
        let Some(child) = state.child() else {
            return Ok(());
        };
        match child.try_wait() {
            Ok(Some(status)) => {
                *state = NodeState::Stopped;
                let log = node.layout.log_path();
                let text = fs::read_to_string(&log).unwrap_or_default();
                Err(ClusterError::NodeExited {
                    node: node.layout.id,
                    status: status.to_string(),
                    tail: provision::tail_lines(&text, 20),
                    log,
                })
            }
            Ok(None) => Ok(()),
            Err(e) => Err(ClusterError::io("checking a node's process")(e)),
        }
    }

    /// Polls until every running node lists every running node as a broker and the quorum
    /// has a leader.
    async fn wait_ready(&self, timeout: Duration) -> Result<(), ClusterError> {
        let result = poll_until("cluster start-up", timeout, POLL_INTERVAL, || async {
            for node in &self.nodes {
                self.check_alive(node)?;
            }
            let live = self.live_addrs();
            for addr in &live {
                let md = wire::metadata(*addr, Some(&[]), PROBE_TIMEOUT)
                    .await
                    .map_err(|e| PollError::NotYet(e.to_string()))?;
                if md.brokers.len() < live.len() {
                    return Err(PollError::NotYet(format!(
                        "{addr} lists {} of {} brokers",
                        md.brokers.len(),
                        live.len()
                    )));
                }
            }
            self.quorum_leader()
                .await
                .map_err(|e| PollError::NotYet(e.to_string()))?;
            Ok(())
        })
        .await;
        match result {
            Err(ClusterError::OpTimeout {
                waited_s,
                last_problem,
                ..
            }) => Err(ClusterError::StartTimeout {
                waited_s,
                last_problem,
                dir: self.data_dir().to_owned(),
            }),
            other => other,
        }
    }

    /// The active controller, asked of running nodes in turn.
    async fn quorum_leader(&self) -> Result<NodeId, ClusterError> {
        let mut last = String::from("no node is running");
        for addr in self.live_addrs() {
            match wire::describe_quorum(addr, PROBE_TIMEOUT).await {
                Ok(q) if q.leader_id >= 0 => return Ok(q.leader_id),
                Ok(_) => last = format!("{addr}: the quorum is electing a leader"),
                Err(e) => last = e.to_string(),
            }
        }
        Err(ClusterError::OpTimeout {
            what: "finding the active controller".into(),
            waited_s: 0,
            last_problem: last,
        })
    }

    async fn topic_partitions(
        &self,
        topic: &str,
        what: &str,
    ) -> Result<Vec<PartitionInfo>, ClusterError> {
        let mut last = None;
        for addr in self.live_addrs() {
            match wire::metadata(addr, Some(&[topic]), PROBE_TIMEOUT).await {
                Ok(md) => {
                    return Ok(md
                        .topics
                        .into_iter()
                        .filter(|t| t.name == topic && t.error_code == 0)
                        .flat_map(|t| t.partitions)
                        .collect());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(source) => ClusterError::Wire {
                what: what.to_owned(),
                source,
            },
            None => ClusterError::OpTimeout {
                what: what.to_owned(),
                waited_s: 0,
                last_problem: "no node is running".into(),
            },
        })
    }

    async fn kill(&self, node: &Node, signal: Signal, grace: Duration) -> Result<(), ClusterError> {
        {
            let mut state = lock(&node.state);
            let Some(child) = state.child() else {
                return Ok(());
            };
            let pid = child.id();
            if signal != Signal::SIGKILL {
                let _ = process::signal_group(pid, Signal::SIGCONT);
            }
            process::signal_group(pid, signal).map_err(ClusterError::io(format!(
                "signalling node {}",
                node.layout.id
            )))?;
        }
        let deadline = Instant::now() + grace;
        while !reap(node) {
            if Instant::now() >= deadline {
                if let Some(child) = lock(&node.state).child() {
                    tracing::warn!(
                        "node {} ignored {signal} for {grace:?}: SIGKILL",
                        node.layout.id
                    );
                    let _ = process::signal_group(child.id(), Signal::SIGKILL);
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                while !reap(node) && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    async fn restart(&self, node: &Node) -> Result<(), ClusterError> {
        self.kill(node, Signal::SIGTERM, self.terminate_grace)
            .await?;
        self.spawn(node).await?;
        let id = node.layout.id;
        let me = addr(node.layout.broker_port);
        poll_until(
            &format!("restarting node {id}"),
            Duration::from_secs(90),
            POLL_INTERVAL,
            || async {
                self.check_alive(node)?;
                let md = wire::metadata(me, Some(&[]), PROBE_TIMEOUT)
                    .await
                    .map_err(|e| PollError::NotYet(e.to_string()))?;
                if !md.brokers.iter().any(|b| b.node_id == id) {
                    return Err(PollError::NotYet(format!(
                        "node {id} is not yet registered (unfenced)"
                    )));
                }
                self.quorum_leader()
                    .await
                    .map_err(|e| PollError::NotYet(e.to_string()))?;
                Ok(())
            },
        )
        .await
    }

    async fn pause(&self, node: &Node, pause: bool) -> Result<(), ClusterError> {
        let id = node.layout.id;
        let pid = {
            let mut state = lock(&node.state);
            let child = match (std::mem::replace(&mut *state, NodeState::Stopped), pause) {
                (NodeState::Running(c), true) | (NodeState::Paused(c), false) => c,
                (other, _) => {
                    let name = other.name();
                    *state = other;
                    return Err(ClusterError::BadState {
                        node: id,
                        op: if pause { NodeOp::Pause } else { NodeOp::Resume },
                        state: name.into(),
                    });
                }
            };
            let pid = child.id();
            let signal = if pause {
                Signal::SIGSTOP
            } else {
                Signal::SIGCONT
            };
            let sent = process::signal_group(pid, signal);
            *state = if pause {
                NodeState::Paused(child)
            } else {
                NodeState::Running(child)
            };
            sent.map_err(ClusterError::io(format!("signalling node {id}")))?;
            pid
        };
        poll_until(
            &format!("{} node {id}", if pause { "pausing" } else { "resuming" }),
            Duration::from_secs(10),
            Duration::from_millis(10),
            || async {
                match process::is_stopped(pid) {
                    Ok(stopped) if stopped == pause => Ok(()),
                    Ok(_) => Err(PollError::NotYet("signal not yet delivered".into())),
                    Err(e) => Err(PollError::Fatal(ClusterError::io("reading /proc")(e))),
                }
            },
        )
        .await
    }
}

#[async_trait]
impl Cluster for EmbeddedCluster {
    fn kind(&self) -> ClusterKind {
        ClusterKind::Embedded
    }

    fn bootstrap_servers(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let port = n.layout.client_port.unwrap_or(n.layout.broker_port);
                format!("127.0.0.1:{port}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn client_config(&self) -> BTreeMap<String, String> {
        let mut settings = match &self.secured {
            // The harness's own user always exists.
            Some(p) => p.client_settings(None).unwrap_or_default(),
            None => BTreeMap::new(),
        };
        settings.insert("bootstrap.servers".into(), self.bootstrap_servers());
        settings
    }

    fn kafka_version(&self) -> Option<String> {
        Some(self.dist.version.clone())
    }

    fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|n| n.layout.id).collect()
    }

    fn broker_logs(&self) -> Vec<(NodeId, PathBuf)> {
        self.nodes
            .iter()
            .map(|n| (n.layout.id, n.layout.log_path()))
            .collect()
    }

    fn capabilities(&self) -> Vec<Capability> {
        ClusterKind::Embedded.capabilities()
    }

    async fn create_topic(&self, spec: &TopicSpec) -> Result<(), ClusterError> {
        admin::create_topic(&self.client_config(), spec).await?;
        let what = format!("waiting for leaders of `{}`", spec.name);
        poll_until(&what, admin::TOPIC_TIMEOUT, POLL_INTERVAL, || async {
            let partitions = match self.topic_partitions(&spec.name, &what).await {
                Ok(partitions) => partitions,
                // A broker busy creating many topics at once (a cold JVM on a 2-core machine)
                // may take longer than one probe allows: asked again, not given up on.
                Err(ClusterError::Wire {
                    source: source @ wire::WireError::Timeout { .. },
                    ..
                }) => return Err(PollError::NotYet(source.to_string())),
                Err(e) => return Err(e.into()),
            };
            match admin::leaders_missing(&partitions, spec.partitions) {
                Some(problem) => Err(PollError::NotYet(problem)),
                None => Ok(()),
            }
        })
        .await
    }

    async fn partition_leader(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<NodeId>, ClusterError> {
        let state = self.partition_state(topic, partition).await?;
        Ok((state.leader >= 0).then_some(state.leader))
    }

    async fn active_controller(&self) -> Result<NodeId, ClusterError> {
        self.quorum_leader().await
    }

    async fn apply(&self, id: NodeId, op: NodeOp) -> Result<(), ClusterError> {
        let node = self.node(id)?;
        match op {
            NodeOp::Kill => {
                self.kill(node, Signal::SIGKILL, Duration::from_secs(10))
                    .await
            }
            NodeOp::Terminate => self.kill(node, Signal::SIGTERM, self.terminate_grace).await,
            NodeOp::Restart => self.restart(node).await,
            NodeOp::Pause => self.pause(node, true).await,
            NodeOp::Resume => self.pause(node, false).await,
            NodeOp::Delay(_) => super::require(ClusterKind::Embedded, &self.capabilities(), op),
        }
    }

    fn nodes_down(&self) -> Vec<(NodeId, String)> {
        self.nodes
            .iter()
            .filter_map(|node| {
                let exited = reap(node);
                let state = lock(&node.state);
                match *state {
                    NodeState::Running(_) => None,
                    _ if exited => Some((node.layout.id, "stopped (its process is gone)".into())),
                    _ => Some((node.layout.id, state.name().to_owned())),
                }
            })
            .collect()
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            let mut state = lock(&node.state);
            if let Some(child) = state.child() {
                let _ = process::signal_group(child.id(), Signal::SIGKILL);
                let _ = child.wait();
            }
            *state = NodeState::Stopped;
        }
    }
}

/// Formats every node's storage with one cluster id, all nodes at once.
///
/// A secured cluster's nodes are formatted from an argument file (`java @file`) that holds
/// the SCRAM credentials, so no password is on a command line.
async fn format_all(
    spawner: &Spawner,
    dist: &KafkaDist,
    layouts: &[NodeLayout],
    secured: Option<&Prepared>,
    sharing: &Sharing,
) -> Result<(), ClusterError> {
    let cluster_id = new_cluster_id();
    let mut running = Vec::new();
    for layout in layouts {
        let log = layout.dir.join("format.log");
        let out =
            File::create(&log).map_err(ClusterError::io(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(ClusterError::io("duplicating the log handle"))?;
        let mut command = Command::new(&dist.java);
        command
            .args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .args(sharing.args(Jvm::Format))
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                layout.log_config_path().display()
            ))
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                layout.log_config_path().display()
            ))
            .arg("-cp")
            .arg(dist.classpath());
        match secured {
            Some(p) => {
                let args = p.write_format_args(&cluster_id, &layout.config_path())?;
                command.arg(format!("@{}", args.display()));
            }
            None => {
                command
                    .args(["kafka.tools.StorageTool", "format", "-t", &cluster_id, "-c"])
                    .arg(layout.config_path());
            }
        }
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = spawner
            .spawn(command)
            .await
            .map_err(ClusterError::io("starting Kafka's StorageTool"))?;
        running.push((layout, log, child));
    }
    for (layout, log, mut child) in running {
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .map_err(|e| ClusterError::Io {
                what: "formatting task".into(),
                source: std::io::Error::other(e),
            })?
            .map_err(ClusterError::io("waiting for Kafka's StorageTool"))?;
        if !status.success() {
            let text = fs::read_to_string(&log).unwrap_or_default();
            return Err(ClusterError::NodeExited {
                node: layout.id,
                status: format!("formatting its storage failed, {status}"),
                tail: provision::tail_lines(&text, 20),
                log,
            });
        }
    }
    Ok(())
}

/// 16 random bytes, base64url without padding, not starting with `-` (Kafka's rule).
fn new_cluster_id() -> String {
    loop {
        let bytes: [u8; 16] = rand::random();
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// `n` distinct free ports on 127.0.0.1, held open together so none repeats.
fn free_ports(n: usize) -> Result<Vec<u16>, ClusterError> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ClusterError::io("finding free ports on 127.0.0.1"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(ClusterError::io("finding free ports on 127.0.0.1"))
}

/// Ports `base..base+per_node*n`, each checked free.
fn fixed_ports(base: u16, brokers: usize, per_node: usize) -> Result<Vec<u16>, ClusterError> {
    (0..brokers * per_node)
        .map(|i| {
            let port = base
                .checked_add(i as u16)
                .ok_or_else(|| ClusterError::Invalid(format!("base port {base} is too high")))?;
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(_) => Ok(port),
                Err(_) => Err(ClusterError::PortTaken {
                    node: (i / per_node) as NodeId + 1,
                    port,
                }),
            }
        })
        .collect()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Locks a node's state; a poisoned lock (a panic elsewhere) still holds valid state.
fn lock(state: &Mutex<NodeState>) -> std::sync::MutexGuard<'_, NodeState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// True once the node's process is gone (reaping it if it just exited).
fn reap(node: &Node) -> bool {
    let mut state = lock(&node.state);
    let exited = match state.child() {
        None => return true,
        Some(child) => !matches!(child.try_wait(), Ok(None)),
    };
    if exited {
        *state = NodeState::Stopped;
    }
    exited
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        for _ in 0..200 {
            let id = new_cluster_id();
            assert_eq!(id.len(), 22);
            assert!(!id.starts_with('-'));
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
        }
    }

    #[test]
    fn free_ports_are_distinct() {
        let mut ports = free_ports(10).unwrap();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), 10);
    }

    #[test]
    fn a_taken_fixed_port_is_named() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        match fixed_ports(port - 2, 2, 2) {
            Err(ClusterError::PortTaken { node: 2, port: p }) => assert_eq!(p, port),
            // The port below may itself be taken by someone else on a busy machine.
            Err(ClusterError::PortTaken { .. }) => {}
            other => panic!("expected PortTaken, got {other:?}"),
        }
    }
}
