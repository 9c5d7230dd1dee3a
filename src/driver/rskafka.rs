//! The rskafka driver: pure Rust, partition-level. No consumer groups, no transactions.
//!
//! The producer picks each keyed record's partition with the Java client's partitioner
//! (murmur2), so keys land where any Java-compatible client would put them, and batches per
//! partition with rskafka's `BatchProducer` (linger 5 ms). The reader reads every partition
//! of its topic from the earliest offset, one task per partition.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::producer::aggregator::RecordAggregator;
use rskafka::client::producer::{BatchProducer, BatchProducerBuilder};
use rskafka::record::Record;

use super::{
    BoxFuture, ConsumerDriver, ConsumerEvent, EventSink, OutRecord, ProducerDriver, SendOutcome,
    now_us,
};
use crate::stamp::{self, Stamp};
use crate::workload::partition_for_key;

/// An rskafka producer for one topic.
pub struct RskafkaProducer {
    producers: Vec<Arc<BatchProducer<RecordAggregator>>>,
}

async fn partition_clients(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<Vec<Arc<PartitionClient>>, String> {
    let brokers = bootstrap.split(',').map(str::to_owned).collect();
    let client = ClientBuilder::new(brokers)
        .build()
        .await
        .map_err(|e| format!("rskafka cannot connect to {bootstrap}: {e}"))?;
    let mut out = Vec::new();
    for p in 0..partitions {
        let pc = client
            .partition_client(topic, p, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| format!("rskafka cannot reach {topic}/{p}: {e}"))?;
        out.push(Arc::new(pc));
    }
    Ok(out)
}

impl RskafkaProducer {
    /// Connects to `bootstrap` and prepares a batching producer per partition of `topic`.
    pub async fn new(bootstrap: &str, topic: &str, partitions: i32) -> Result<Self, String> {
        let producers = partition_clients(bootstrap, topic, partitions)
            .await?
            .into_iter()
            .map(|pc| {
                Arc::new(
                    BatchProducerBuilder::new(pc)
                        .with_linger(Duration::from_millis(5))
                        .with_compression(Compression::NoCompression)
                        .build(RecordAggregator::new(1024 * 1024)),
                )
            })
            .collect();
        Ok(RskafkaProducer { producers })
    }
}

fn timestamp_now() -> rskafka::chrono::DateTime<rskafka::chrono::Utc> {
    rskafka::chrono::DateTime::from_timestamp_micros(now_us() as i64).unwrap_or_default()
}

impl ProducerDriver for RskafkaProducer {
    fn send(&self, record: OutRecord) -> BoxFuture<SendOutcome> {
        let partitions = self.producers.len() as i32;
        let partition = record
            .partition
            .unwrap_or_else(|| partition_for_key(&record.key, partitions));
        let producer = Arc::clone(&self.producers[partition as usize % self.producers.len()]);
        let rs_record = Record {
            key: Some(record.key),
            value: Some(record.value),
            headers: BTreeMap::from([(stamp::HEADER.to_owned(), record.stamp.encode().to_vec())]),
            timestamp: timestamp_now(),
        };
        Box::pin(async move {
            match producer.produce(rs_record).await {
                Ok(offset) => SendOutcome::Ok { partition, offset },
                Err(e) => SendOutcome::Indeterminate(e.to_string()),
            }
        })
    }

    fn flush(&self) -> BoxFuture<()> {
        let producers = self.producers.clone();
        Box::pin(async move {
            for p in producers {
                let _ = p.flush().await;
            }
        })
    }
}

/// An rskafka reader of every partition of one topic.
pub struct RskafkaReader {
    instance: u32,
    bootstrap: String,
    topic: String,
    partitions: i32,
}

impl RskafkaReader {
    /// A reader of `topic`'s `partitions` partitions.
    pub fn new(instance: u32, bootstrap: &str, topic: &str, partitions: i32) -> Self {
        RskafkaReader {
            instance,
            bootstrap: bootstrap.to_owned(),
            topic: topic.to_owned(),
            partitions,
        }
    }
}

impl ConsumerDriver for RskafkaReader {
    fn run(
        self: Box<Self>,
        events: EventSink,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> BoxFuture<Result<(), String>> {
        Box::pin(async move {
            let clients = partition_clients(&self.bootstrap, &self.topic, self.partitions).await?;
            let _ = events.send(ConsumerEvent::Assigned {
                consumer: self.instance,
                partitions: (0..self.partitions)
                    .map(|p| (self.topic.clone(), p))
                    .collect(),
                at_us: now_us(),
            });
            let mut tasks: Vec<tokio::task::JoinHandle<Result<(), String>>> = Vec::new();
            for (p, client) in clients.into_iter().enumerate() {
                let (events, mut stop) = (events.clone(), stop.clone());
                let (topic, consumer) = (self.topic.clone(), self.instance);
                tasks.push(tokio::spawn(async move {
                    let mut offset = 0;
                    loop {
                        let fetched = tokio::select! {
                            f = client.fetch_records(offset, 1..4_000_000, 200) => f,
                            _ = stop.wait_for(|s| *s) => return Ok(()),
                        };
                        let (records, _high_watermark) =
                            fetched.map_err(|e| format!("rskafka fetch {topic}/{p}: {e}"))?;
                        for r in records {
                            offset = r.offset + 1;
                            let stamp = r
                                .record
                                .headers
                                .get(stamp::HEADER)
                                .and_then(|v| Stamp::decode(v).ok());
                            let _ = events.send(ConsumerEvent::Delivered {
                                consumer,
                                topic: topic.clone(),
                                partition: p as i32,
                                offset: r.offset,
                                stamp,
                                at_us: now_us(),
                            });
                        }
                    }
                }));
            }
            for task in tasks {
                task.await.map_err(|e| e.to_string())??;
            }
            Ok(())
        })
    }
}
