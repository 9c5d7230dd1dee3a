//! A single broker in a container (testcontainers), for machines that have Docker.
//!
//! Built only with the cargo feature `containers`. Two images: Apache Kafka (the official
//! `apache/kafka` image through testcontainers-modules) and Redpanda (a generic image
//! started in dev-container mode). The container is removed when the handle drops.
//! Faults: pause and resume (the container's processes are frozen, as with SIGSTOP).

use std::time::Duration;

use async_trait::async_trait;
use testcontainers_modules::kafka::apache::{KAFKA_PORT, Kafka};
use testcontainers_modules::testcontainers::core::{ContainerPort, WaitFor};
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::admin;
use super::{Capability, Cluster, ClusterError, ClusterKind, NodeId, NodeOp, require};

/// Which broker image to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerImage {
    /// `apache/kafka` at the given tag (e.g. "3.8.0").
    ApacheKafka(String),
    /// `redpandadata/redpanda` at the given tag (e.g. "v24.2.4").
    Redpanda(String),
}

enum Running {
    Kafka(ContainerAsync<Kafka>),
    Redpanda(ContainerAsync<GenericImage>),
}

/// A broker running in a container.
pub struct ContainerCluster {
    running: Running,
    bootstrap: String,
    image: ContainerImage,
}

impl std::fmt::Debug for ContainerCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerCluster")
            .field("bootstrap", &self.bootstrap)
            .field("image", &self.image)
            .finish()
    }
}

/// True when a Docker engine answers a ping on `DOCKER_HOST` or `/var/run/docker.sock`.
pub async fn docker_available() -> bool {
    let socket = match std::env::var("DOCKER_HOST") {
        Ok(host) => match host.strip_prefix("unix://") {
            Some(path) => path.to_owned(),
            // A TCP engine: let testcontainers find out when it starts.
            None => return !host.is_empty(),
        },
        Err(_) => "/var/run/docker.sock".to_owned(),
    };
    let ping = async {
        let mut stream = tokio::net::UnixStream::connect(&socket).await?;
        stream
            .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(
            answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200"),
        )
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), ping).await,
        Ok(Ok(true))
    )
}

impl ContainerCluster {
    /// Starts the image and returns once the broker answers.
    pub async fn start(image: ContainerImage) -> Result<ContainerCluster, ClusterError> {
        let failed =
            |e: testcontainers_modules::testcontainers::TestcontainersError| ClusterError::Io {
                what: format!(
                    "starting a {image:?} container (is a Docker engine running? `docker info` \
                     tells)"
                ),
                source: std::io::Error::other(e.to_string()),
            };
        let (running, bootstrap) = match &image {
            ContainerImage::ApacheKafka(tag) => {
                let container = Kafka::default()
                    .with_tag(tag.as_str())
                    .start()
                    .await
                    .map_err(failed)?;
                let port = container
                    .get_host_port_ipv4(KAFKA_PORT)
                    .await
                    .map_err(failed)?;
                (Running::Kafka(container), format!("127.0.0.1:{port}"))
            }
            ContainerImage::Redpanda(tag) => {
                // Redpanda advertises the address it is given, so the host port and the
                // container port are made the same.
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map_err(ClusterError::io("finding a free port"))?
                    .port();
                let container = GenericImage::new("redpandadata/redpanda", tag.as_str())
                    .with_wait_for(WaitFor::message_on_stderr("Successfully started Redpanda!"))
                    .with_mapped_port(port, ContainerPort::Tcp(port))
                    .with_cmd([
                        "redpanda".to_owned(),
                        "start".to_owned(),
                        "--mode=dev-container".to_owned(),
                        "--smp=1".to_owned(),
                        format!("--kafka-addr=0.0.0.0:{port}"),
                        format!("--advertise-kafka-addr=127.0.0.1:{port}"),
                    ])
                    .start()
                    .await
                    .map_err(failed)?;
                (Running::Redpanda(container), format!("127.0.0.1:{port}"))
            }
        };
        let cluster = ContainerCluster {
            running,
            bootstrap,
            image,
        };
        admin::broker_count(&cluster.client_config()).await?;
        Ok(cluster)
    }
}

#[async_trait]
impl Cluster for ContainerCluster {
    fn kind(&self) -> ClusterKind {
        ClusterKind::Container
    }

    fn bootstrap_servers(&self) -> String {
        self.bootstrap.clone()
    }

    fn kafka_version(&self) -> Option<String> {
        Some(match &self.image {
            ContainerImage::ApacheKafka(tag) => tag.clone(),
            ContainerImage::Redpanda(tag) => format!("redpanda {tag}"),
        })
    }

    fn node_ids(&self) -> Vec<NodeId> {
        vec![1]
    }

    fn capabilities(&self) -> Vec<Capability> {
        ClusterKind::Container.capabilities()
    }

    async fn apply(&self, node: NodeId, op: NodeOp) -> Result<(), ClusterError> {
        require(ClusterKind::Container, &self.capabilities(), op)?;
        if node != 1 {
            return Err(ClusterError::UnknownNode {
                node,
                known: vec![1],
            });
        }
        let result = match (&self.running, op) {
            (Running::Kafka(c), NodeOp::Pause) => c.pause().await,
            (Running::Kafka(c), _) => c.unpause().await,
            (Running::Redpanda(c), NodeOp::Pause) => c.pause().await,
            (Running::Redpanda(c), _) => c.unpause().await,
        };
        result.map_err(|e| ClusterError::Io {
            what: format!("{op} the container"),
            source: std::io::Error::other(e.to_string()),
        })
    }
}
