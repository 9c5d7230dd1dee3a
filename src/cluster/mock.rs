//! librdkafka's in-process mock cluster: instant, deterministic, and not a real broker.
//!
//! Good for quick tests of client behaviour and for faults a real broker cannot be made to
//! produce on demand (a produce request that fails after being written). Everything it
//! reports says "mock". It speaks the protocol librdkafka needs, but no admin API: topics are
//! created through the mock's own call and topic configs are ignored.
//!
//! The mock handle is not thread-safe in Rust's eyes, so one thread owns it and runs the
//! calls sent to it:
//!
//! ```text
//!   MockCluster ──Box<dyn FnOnce(&RdMock)>──> owner thread (holds rdkafka::mocking::MockCluster)
//! ```

use std::sync::mpsc;
use std::thread::JoinHandle;

use async_trait::async_trait;
use rdkafka::error::KafkaResult;
use rdkafka::mocking::MockCluster as RdMock;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use super::admin;
use super::{Capability, Cluster, ClusterError, ClusterKind, NodeId, NodeOp, TopicSpec, require};

type Job = Box<dyn FnOnce(&RdMock<'static, DefaultProducerContext>) + Send>;

/// An in-process mock cluster with `n` brokers (ids 1 to n).
#[derive(Debug)]
pub struct MockCluster {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    bootstrap: String,
    brokers: i32,
    /// Brokers taken down and not yet brought back.
    down: std::sync::Mutex<std::collections::BTreeSet<NodeId>>,
}

impl MockCluster {
    /// Starts a mock cluster with `brokers` brokers.
    pub fn start(brokers: i32) -> Result<MockCluster, ClusterError> {
        if !(1..=16).contains(&brokers) {
            return Err(ClusterError::Invalid(format!(
                "brokers = {brokers}: the mock cluster has 1 to 16 brokers"
            )));
        }
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("kafka-harness-mock".into())
            .spawn(move || match RdMock::new(brokers) {
                Ok(mock) => {
                    let _ = ready.send(Ok(mock.bootstrap_servers()));
                    for job in rx {
                        job(&mock);
                    }
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            })
            .map_err(ClusterError::io("starting the mock cluster thread"))?;
        let bootstrap = started
            .recv()
            .map_err(|_| ClusterError::Invalid("the mock cluster thread died".into()))?
            .map_err(ClusterError::kafka("starting librdkafka's mock cluster"))?;
        Ok(MockCluster {
            jobs: Some(jobs),
            thread: Some(thread),
            bootstrap,
            brokers,
            down: Default::default(),
        })
    }

    /// Runs `f` on the mock's owner thread and returns its result.
    fn call<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce(&RdMock<'static, DefaultProducerContext>) -> KafkaResult<T> + Send + 'static,
    ) -> Result<T, ClusterError> {
        let (reply, answer) = mpsc::channel();
        let job: Job = Box::new(move |mock| {
            let _ = reply.send(f(mock));
        });
        let gone = || ClusterError::Invalid("the mock cluster thread has stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        answer
            .recv()
            .map_err(|_| gone())?
            .map_err(ClusterError::kafka(what))
    }

    /// Makes the next requests of kind `api` fail with `errors`, one error per request, in
    /// order. Kafka's own semantics apply: a retriable error makes the client retry.
    pub fn inject_request_errors(
        &self,
        api: RDKafkaApiKey,
        errors: Vec<RDKafkaRespErr>,
    ) -> Result<(), ClusterError> {
        self.call("injecting request errors", move |mock| {
            mock.request_errors(api, &errors);
            Ok(())
        })
    }

    /// Removes errors injected for `api` that have not fired yet.
    pub fn clear_request_errors(&self, api: RDKafkaApiKey) -> Result<(), ClusterError> {
        self.call("clearing request errors", move |mock| {
            mock.clear_request_errors(api);
            Ok(())
        })
    }

    fn check_node(&self, node: NodeId) -> Result<(), ClusterError> {
        if (1..=self.brokers).contains(&node) {
            Ok(())
        } else {
            Err(ClusterError::UnknownNode {
                node,
                known: self.node_ids(),
            })
        }
    }
}

impl Drop for MockCluster {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[async_trait]
impl Cluster for MockCluster {
    fn kind(&self) -> ClusterKind {
        ClusterKind::Mock
    }

    fn bootstrap_servers(&self) -> String {
        self.bootstrap.clone()
    }

    fn kafka_version(&self) -> Option<String> {
        Some(format!(
            "mock (librdkafka {})",
            rdkafka::util::get_rdkafka_version().1
        ))
    }

    fn node_ids(&self) -> Vec<NodeId> {
        (1..=self.brokers).collect()
    }

    /// `Kill` takes a broker down (it refuses connections), `Restart` brings it back. Neither
    /// moves partition leadership: the mock has no controller.
    fn capabilities(&self) -> Vec<Capability> {
        ClusterKind::Mock.capabilities()
    }

    /// librdkafka's mock answers no DeleteTopics; its topics live in memory and die with it.
    async fn delete_topics(&self, _names: &[String]) -> Result<(), ClusterError> {
        Err(ClusterError::Unsupported {
            kind: ClusterKind::Mock,
            what: "delete topics".into(),
        })
    }

    async fn create_topic(&self, spec: &TopicSpec) -> Result<(), ClusterError> {
        if !spec.configs.is_empty() {
            tracing::warn!(
                "the mock cluster ignores topic configs: {:?}",
                spec.configs.keys().collect::<Vec<_>>()
            );
        }
        let (name, partitions, rf) = (spec.name.clone(), spec.partitions, spec.replication_factor);
        self.call(
            &format!("creating topic `{name}` on the mock"),
            move |mock| mock.create_topic(&name, partitions, rf),
        )?;
        admin::wait_for_leaders(&self.client_config(), spec).await
    }

    async fn apply(&self, node: NodeId, op: NodeOp) -> Result<(), ClusterError> {
        require(ClusterKind::Mock, &self.capabilities(), op)?;
        self.check_node(node)?;
        let what = format!("{op} mock broker {node}");
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match op {
            NodeOp::Kill => {
                self.call(&what, move |mock| mock.broker_down(node))?;
                down.insert(node);
            }
            NodeOp::Delay(by) => {
                self.call(&what, move |mock| mock.broker_round_trip_time(node, by))?;
            }
            _ => {
                self.call(&what, move |mock| mock.broker_up(node))?;
                down.remove(&node);
            }
        }
        Ok(())
    }

    fn nodes_down(&self) -> Vec<(NodeId, String)> {
        let down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        down.iter().map(|&n| (n, "down".to_owned())).collect()
    }
}
