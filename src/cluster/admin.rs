//! Topic administration and metadata through librdkafka, shared by the backends.
//!
//! librdkafka speaks every security protocol an external cluster may need (SASL, TLS), so
//! topic creation and the metadata queries of external and container clusters go through
//! it. The embedded backend asks its own nodes directly (see [`crate::cluster::wire`]) because it
//! knows which nodes are up and must not wait on a paused one.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::{ClusterError, TopicSpec};
use crate::cluster::wire::PartitionInfo;

/// How long topic creation and leader election may take.
pub const TOPIC_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds an rdkafka `ClientConfig` from a cluster's client settings.
pub fn client_config(settings: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in settings {
        config.set(key, value);
    }
    config
}

/// Sends CreateTopics for `spec` and waits for the broker's answer.
pub async fn create_topic(
    settings: &BTreeMap<String, String>,
    spec: &TopicSpec,
) -> Result<(), ClusterError> {
    let what = format!("creating topic `{}`", spec.name);
    let admin: AdminClient<DefaultClientContext> = client_config(settings)
        .create()
        .map_err(ClusterError::kafka(what.clone()))?;
    let mut topic = NewTopic::new(
        &spec.name,
        spec.partitions,
        TopicReplication::Fixed(spec.replication_factor),
    );
    for (key, value) in &spec.configs {
        topic = topic.set(key, value);
    }
    let options = AdminOptions::new().operation_timeout(Some(TOPIC_TIMEOUT));
    let results = admin
        .create_topics([&topic], &options)
        .await
        .map_err(ClusterError::kafka(what.clone()))?;
    for result in results {
        if let Err((_, code)) = result {
            return Err(ClusterError::Kafka {
                what,
                source: rdkafka::error::KafkaError::AdminOp(code),
            });
        }
    }
    Ok(())
}

/// Sends DeleteTopics for `names` and waits for the broker's answer; a topic already gone
/// is not an error.
pub async fn delete_topics(
    settings: &BTreeMap<String, String>,
    names: &[String],
) -> Result<(), ClusterError> {
    let what = format!("deleting topics {}", names.join(", "));
    let admin: AdminClient<DefaultClientContext> = client_config(settings)
        .create()
        .map_err(ClusterError::kafka(what.clone()))?;
    let options = AdminOptions::new().operation_timeout(Some(TOPIC_TIMEOUT));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let results = admin
        .delete_topics(&names, &options)
        .await
        .map_err(ClusterError::kafka(what.clone()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((_, code)) => {
                return Err(ClusterError::Kafka {
                    what,
                    source: rdkafka::error::KafkaError::AdminOp(code),
                });
            }
        }
    }
    Ok(())
}

/// The partitions of `topic` as librdkafka's metadata reports them.
pub async fn topic_partitions(
    settings: &BTreeMap<String, String>,
    topic: &str,
) -> Result<Vec<PartitionInfo>, ClusterError> {
    let what = format!("reading metadata of topic `{topic}`");
    let consumer: BaseConsumer = client_config(settings)
        .create()
        .map_err(ClusterError::kafka(what.clone()))?;
    let topic = topic.to_owned();
    blocking(move || {
        let metadata = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .map_err(ClusterError::kafka(what))?;
        Ok(metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .map(|p| PartitionInfo {
                partition: p.id(),
                error_code: p.error().map_or(0, |e| e as i16),
                leader: p.leader(),
                replicas: p.replicas().to_vec(),
                isr: p.isr().to_vec(),
            })
            .collect())
    })
    .await
}

/// Waits until every partition of `spec` has a leader, per librdkafka's metadata.
pub async fn wait_for_leaders(
    settings: &BTreeMap<String, String>,
    spec: &TopicSpec,
) -> Result<(), ClusterError> {
    let what = format!("waiting for leaders of `{}`", spec.name);
    poll_until(&what, TOPIC_TIMEOUT, Duration::from_millis(100), || async {
        let found = topic_partitions(settings, &spec.name).await?;
        match leaders_missing(&found, spec.partitions) {
            Some(problem) => Err(PollError::NotYet(problem)),
            None => Ok(()),
        }
    })
    .await
}

/// The leader of `topic`/`partition` per librdkafka's metadata, if it has one.
pub async fn partition_leader(
    settings: &BTreeMap<String, String>,
    topic: &str,
    partition: i32,
) -> Result<Option<i32>, ClusterError> {
    let found = topic_partitions(settings, topic).await?;
    Ok(found
        .iter()
        .find(|p| p.partition == partition && p.leader >= 0)
        .map(|p| p.leader))
}

/// The number of brokers a client sees; fails when the cluster cannot be reached.
pub async fn broker_count(settings: &BTreeMap<String, String>) -> Result<usize, ClusterError> {
    let consumer: BaseConsumer = client_config(settings)
        .create()
        .map_err(ClusterError::kafka("creating a metadata client"))?;
    blocking(move || {
        consumer
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|md| md.brokers().len())
            .map_err(ClusterError::kafka("reading cluster metadata"))
    })
    .await
}

/// Runs a blocking librdkafka call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ClusterError> + Send + 'static,
) -> Result<T, ClusterError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClusterError::Io {
            what: "a blocking librdkafka call".into(),
            source: std::io::Error::other(e),
        })?
}

/// Checks that `partitions` lists `expected` partitions, each with a leader; returns what is
/// missing otherwise.
pub fn leaders_missing(partitions: &[PartitionInfo], expected: i32) -> Option<String> {
    let led = partitions.iter().filter(|p| p.leader >= 0).count();
    (led != expected as usize || partitions.len() != expected as usize)
        .then(|| format!("{led} of {expected} partitions have a leader"))
}

/// Calls `probe` every `interval` until it returns `Ok(Some(value))` or `timeout` passes.
///
/// `Ok(None)` and `Err(problem)` both mean "not yet"; the last problem is in the timeout error.
pub async fn poll_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: F,
) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PollError>>,
{
    let start = Instant::now();
    loop {
        let problem = match probe().await {
            Ok(value) => return Ok(value),
            Err(PollError::Fatal(e)) => return Err(e),
            Err(PollError::NotYet(problem)) => problem,
        };
        if start.elapsed() >= timeout {
            return Err(ClusterError::OpTimeout {
                what: what.to_owned(),
                waited_s: timeout.as_secs(),
                last_problem: problem,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// Why a probe of [`poll_until`] did not succeed.
#[derive(Debug)]
pub enum PollError {
    /// Not yet; try again. Says what is still missing.
    NotYet(String),
    /// Give up now.
    Fatal(ClusterError),
}

impl From<ClusterError> for PollError {
    fn from(e: ClusterError) -> Self {
        PollError::Fatal(e)
    }
}
