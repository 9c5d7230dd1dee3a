//! Reads every partition back, by offset, after the run: the Log, ground truth for checkers.
//!
//! For each partition of each topic: its high watermark, then a read from the earliest
//! offset up to it, decoding each record's stamp and interning its key. A partition that
//! cannot be read to its end is listed in [`Log::unreadable`] so checkers can say
//! "unknown" instead of guessing. With transactions the log is read as a read_committed
//! consumer would see it ([`Isolation::ReadCommitted`]), and a stage's output records keep
//! the input they came from ([`Log::sources`]).
//!
//! The end of a partition is where the reader's *position* reaches the watermark, not
//! where the last record sits: transaction markers take offsets but are never returned as
//! messages, so a partition often ends with one. Read as read_committed, the watermark
//! query answers the last stable offset (librdkafka sends ListOffsets with the consumer's
//! isolation level), so an open transaction left behind does not hold the read up either.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::cluster::ClusterError;
use crate::cluster::admin::client_config;
use crate::driver::exec::verifiable;
pub use crate::history::Isolation;
use crate::history::stamp::{self, Stamp};
use crate::history::{KeyInterner, Log, LogRecord, MsgId, TopicId};

/// How long asking a partition's watermarks may take.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long reading one partition may take.
const PARTITION_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads every partition of `topics` (actual names, with their partition counts) into a [`Log`], as a
/// consumer with `isolation` would see them. `by_value[t]` lists the VerifiableProducers
/// writing to topic `t`: a record of theirs has no stamp, and its value (`<producer>.<seq>`)
/// names its message.
pub async fn read(
    settings: &BTreeMap<String, String>,
    topics: &[String],
    partitions: &[i32],
    by_value: &[Vec<u32>],
    mut keys: KeyInterner,
    isolation: Isolation,
) -> Result<(Log, KeyInterner), ClusterError> {
    let consumer = reader(settings, isolation)?;
    let topics = topics.to_vec();
    let partitions = partitions.to_vec();
    let by_value = by_value.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut log = Log {
            isolation,
            ..Log::default()
        };
        for (t, (topic, &count)) in topics.iter().zip(&partitions).enumerate() {
            for partition in 0..count {
                let named = by_value.get(t).map_or(&[][..], Vec::as_slice);
                if let Err(reason) = read_partition(
                    &consumer,
                    (topic, t as TopicId, partition),
                    named,
                    &mut log,
                    &mut keys,
                ) {
                    log.unreadable.push((t as TopicId, partition, reason));
                }
            }
        }
        (log, keys)
    })
    .await
    .map_err(|e| ClusterError::Io {
        what: "reading the log".into(),
        source: std::io::Error::other(e),
    })
}

/// Where each partition of `topics` (actual names, with their partition counts) ends now, as
/// a read-uncommitted consumer sees it: its high watermark. Partitions whose end could not be
/// asked are left out, with a warning.
pub async fn end_offsets(
    settings: &BTreeMap<String, String>,
    topics: &[String],
    partitions: &[i32],
) -> Result<HashMap<(TopicId, i32), i64>, ClusterError> {
    let consumer = reader(settings, Isolation::ReadUncommitted)?;
    let topics = topics.to_vec();
    let partitions = partitions.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut ends = HashMap::new();
        for (t, (topic, &count)) in topics.iter().zip(&partitions).enumerate() {
            for partition in 0..count {
                match consumer.fetch_watermarks(topic, partition, WATERMARK_TIMEOUT) {
                    Ok((_, high)) => {
                        ends.insert((t as TopicId, partition), high);
                    }
                    Err(e) => tracing::warn!("end offset of {topic}/{partition}: {e}"),
                }
            }
        }
        ends
    })
    .await
    .map_err(|e| ClusterError::Io {
        what: "asking the log's end offsets".into(),
        source: std::io::Error::other(e),
    })
}

/// A consumer that reads partitions by offset, as one with `isolation` would.
fn reader(
    settings: &BTreeMap<String, String>,
    isolation: Isolation,
) -> Result<BaseConsumer, ClusterError> {
    let mut config = client_config(settings);
    config
        .set("group.id", "kafka-harness-log-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set(
            "isolation.level",
            match isolation {
                Isolation::ReadUncommitted => "read_uncommitted",
                Isolation::ReadCommitted => "read_committed",
            },
        );
    config
        .create()
        .map_err(ClusterError::kafka("creating the log reader"))
}

fn read_partition(
    consumer: &BaseConsumer,
    (topic, t, partition): (&str, TopicId, i32),
    by_value: &[u32],
    log: &mut Log,
    keys: &mut KeyInterner,
) -> Result<(), String> {
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, WATERMARK_TIMEOUT)
        .map_err(|e| format!("watermarks: {e}"))?;
    if high <= low {
        return Ok(());
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Offset(low))
        .map_err(|e| e.to_string())?;
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + PARTITION_TIMEOUT;
    let mut next = low;
    let mut last_error = String::new();
    while next < high {
        if Instant::now() >= deadline {
            return Err(format!(
                "read only up to offset {next} of {high} within {PARTITION_TIMEOUT:?}{last_error}"
            ));
        }
        // Errors such as a lost connection are transient: librdkafka retries, and the
        // deadline bounds the wait.
        let message = match consumer.poll(Duration::from_millis(500)) {
            // Transaction markers take offsets but are never returned: the position says
            // when the reader has passed the last of them.
            None => {
                if let Ok(position) = consumer.position()
                    && let Some(p) = position.find_partition(topic, partition)
                    && let Offset::Offset(o) = p.offset()
                {
                    next = next.max(o);
                }
                continue;
            }
            Some(Err(e)) => {
                last_error = format!(" (last error: {e})");
                continue;
            }
            Some(Ok(message)) => message,
        };
        next = message.offset() + 1;
        let (mut id, source) = message
            .headers()
            .map_or((None, None), |h| ids(h.iter().map(|h| (h.key, h.value))));
        if id.is_none() && !by_value.is_empty() {
            id = message
                .payload()
                .and_then(|v| verifiable::message_of(v, by_value));
        }
        if let Some(source) = source {
            let at = u32::try_from(log.records.len())
                .map_err(|_| "more than 2^32 records in the log".to_owned())?;
            log.sources.push((at, source));
        }
        let key = message.key().map(|k| keys.intern(k));
        log.records.push(LogRecord {
            topic: t,
            partition,
            offset: message.offset(),
            id,
            key,
        });
    }
    Ok(())
}

/// A record's message (its `kh-stamp`) and the input it was made from (its `kh-source`),
/// from its headers; a missing or malformed header gives `None`, the first of each counts.
fn ids<'a>(
    headers: impl Iterator<Item = (&'a str, Option<&'a [u8]>)>,
) -> (Option<MsgId>, Option<MsgId>) {
    let (mut id, mut source) = (None, None);
    let mut seen = (false, false);
    for (key, value) in headers {
        if key == stamp::HEADER && !seen.0 {
            seen.0 = true;
            id = value.and_then(|v| Stamp::decode(v).ok()).map(|s| s.id());
        } else if key == stamp::SOURCE_HEADER && !seen.1 {
            seen.1 = true;
            source = value.and_then(stamp::decode_source);
        }
    }
    (id, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_give_the_stamp_and_the_source() {
        let stamp = Stamp {
            producer: 7,
            seq: 9,
            intended_us: 1,
        }
        .encode();
        let input = MsgId {
            producer: 2,
            seq: 40,
        };
        let source = stamp::encode_source(input);
        let headers = [
            ("other", Some(&b"x"[..])),
            (stamp::SOURCE_HEADER, Some(&source[..])),
            (stamp::HEADER, Some(&stamp[..])),
            (stamp::HEADER, Some(&b"later copy"[..])),
        ];
        assert_eq!(
            ids(headers.into_iter()),
            (
                Some(MsgId {
                    producer: 7,
                    seq: 9
                }),
                Some(input)
            )
        );
        // A plain record: no source. A malformed or valueless header: nothing.
        assert_eq!(ids([(stamp::HEADER, Some(&stamp[..]))].into_iter()).1, None);
        assert_eq!(
            ids([
                (stamp::HEADER, None),
                (stamp::SOURCE_HEADER, Some(&source[1..]))
            ]
            .into_iter()),
            (None, None)
        );
    }
}
