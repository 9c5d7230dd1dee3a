//! The exec protocol's lines (`docs/drivers.md`, version 1): one JSON object per line.
//!
//! ```text
//!   harness ──configure / send / shutdown──> process          (encode_*: bytes, no serde for send)
//!   process ──one stdout line──> parse ──> Line::Event(Event) | Line::Unknown(name) | Line::Log
//!                                     └──> ProtocolError (a known event that breaks its rules)
//! ```
//!
//! Reading is the hot path of an exec producer (one answer per record), so a line is parsed
//! once, into a flat struct of optional fields that borrows its strings from the line; only
//! when that fails for a reason other than bad JSON is the line read again, as a
//! `serde_json::Value`, to say which field broke which rule (or that it is no event at all).
//! Every field name has one type in every event, as the protocol's tables give it.
//!
//! The rules that need to know what was sent (an id never sent, answered twice, an event of
//! the other role, a topic the process was not given) are the drivers'.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this harness speaks.
pub const VERSION: u32 = 1;

/// The line that asks a process to stop.
pub const SHUTDOWN: &[u8] = b"{\"name\":\"shutdown\"}\n";

/// Producer or consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Answers `send` lines.
    Producer,
    /// Reports what it consumed.
    Consumer,
}

impl Role {
    /// `producer` or `consumer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line the harness writes: every setting the process gets (the line adds
/// `"name":"configure"` and `"protocol":` [`VERSION`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Configure {
    /// The process's role.
    pub role: Role,
    /// The scenario table.
    pub table: String,
    /// This process's instance number within its table.
    pub instance: u32,
    /// `host:port,...` of the cluster.
    pub bootstrap_servers: String,
    /// The actual topic name.
    pub topic: String,
    /// The consumer group id; `None` for producers.
    pub group: Option<String>,
    /// The table's client settings, as strings.
    pub client: BTreeMap<String, String>,
    /// The cluster's connection settings (its client config without the bootstrap servers).
    pub security: BTreeMap<String, String>,
}

impl Configure {
    /// The `configure` line, newline included.
    pub fn line(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Line<'a> {
            name: &'static str,
            protocol: u32,
            #[serde(flatten)]
            configure: &'a Configure,
        }
        let line = Line {
            name: "configure",
            protocol: VERSION,
            configure: self,
        };
        let mut line = serde_json::to_vec(&line).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// The JSON string literal of `text`, quotes included.
pub fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Appends `bytes` as base64 (standard alphabet, padded) to `out`.
fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    let written = STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// Appends one `send` line (newline included) to `out`. `topic` is the topic as a JSON
/// string literal ([`json_string`]), made once per producer; header keys are plain ASCII
/// names the harness chose (`kh-stamp`, `kh-source`).
pub fn encode_send(
    out: &mut Vec<u8>,
    id: u64,
    topic: &str,
    partition: Option<i32>,
    key: &[u8],
    value: &[u8],
    headers: &[(&str, &[u8])],
) {
    use std::io::Write;
    let _ = write!(
        out,
        "{{\"name\":\"send\",\"id\":{id},\"topic\":{topic},\"partition\":"
    );
    match partition {
        Some(p) => {
            let _ = write!(out, "{p}");
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"key\":\"");
    push_base64(out, key);
    out.extend_from_slice(b"\",\"value\":\"");
    push_base64(out, value);
    out.extend_from_slice(b"\",\"headers\":[");
    for (i, (k, v)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":\"");
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"\",\"value\":\"");
        push_base64(out, v);
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}\n");
}

/// A topic and partition, as events name them.
pub type TopicPartition<'a> = (Cow<'a, str>, i32);

/// What a consumer says it processed of one partition (`records_consumed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed<'a> {
    /// Topic.
    pub topic: Cow<'a, str>,
    /// Partition.
    pub partition: i32,
    /// The offsets processed.
    pub offsets: Processed,
}

/// The offsets of a `records_consumed` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Every offset from `min` to `max`, both included.
    Range {
        /// First offset.
        min: i64,
        /// Last offset.
        max: i64,
    },
    /// These offsets.
    List(Vec<i64>),
}

/// An event a process reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// The process is ready (producer: connected; consumer: subscribed).
    StartupComplete {
        /// The client library and version, when given.
        client: Option<Cow<'a, str>>,
    },
    /// The process finished after `shutdown`.
    ShutdownComplete,
    /// A send was acknowledged.
    SendSuccess {
        /// The send's id.
        id: u64,
        /// The topic, when given.
        topic: Option<Cow<'a, str>>,
        /// Partition written.
        partition: i32,
        /// Offset written.
        offset: i64,
    },
    /// A send failed.
    SendError {
        /// The send's id.
        id: u64,
        /// The topic, when given.
        topic: Option<Cow<'a, str>>,
        /// The client's error class, when given.
        exception: Option<Cow<'a, str>>,
        /// The client's message.
        message: Cow<'a, str>,
        /// True: it may have been written (indeterminate); false: it was not (failed).
        retriable: bool,
    },
    /// The group gave the process these partitions.
    PartitionsAssigned(Vec<TopicPartition<'a>>),
    /// The group took these partitions.
    PartitionsRevoked(Vec<TopicPartition<'a>>),
    /// One record processed.
    RecordData {
        /// Topic.
        topic: Cow<'a, str>,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// The `kh-stamp` header's bytes, when given.
        stamp: Option<Vec<u8>>,
    },
    /// Records processed, per partition.
    RecordsConsumed(Vec<Consumed<'a>>),
    /// A commit and its outcome.
    OffsetsCommitted {
        /// Whether it succeeded.
        success: bool,
        /// Topic, partition and the next offset to read, per partition.
        offsets: Vec<(Cow<'a, str>, i32, i64)>,
        /// Why it failed, when it did.
        error: Option<Cow<'a, str>>,
    },
}

impl Event<'_> {
    /// The role whose events these are; `None` for both roles' events.
    pub fn role(&self) -> Option<Role> {
        match self {
            Event::StartupComplete { .. } | Event::ShutdownComplete => None,
            Event::SendSuccess { .. } | Event::SendError { .. } => Some(Role::Producer),
            _ => Some(Role::Consumer),
        }
    }

    /// The event's name, as on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Event::StartupComplete { .. } => "startup_complete",
            Event::ShutdownComplete => "shutdown_complete",
            Event::SendSuccess { .. } => "producer_send_success",
            Event::SendError { .. } => "producer_send_error",
            Event::PartitionsAssigned(_) => "partitions_assigned",
            Event::PartitionsRevoked(_) => "partitions_revoked",
            Event::RecordData { .. } => "record_data",
            Event::RecordsConsumed(_) => "records_consumed",
            Event::OffsetsCommitted { .. } => "offsets_committed",
        }
    }
}

/// What one line of a process's stdout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// A known event, well formed.
    Event(Event<'a>),
    /// A JSON object with a `name` this harness does not know: kept in the log, ignored.
    Unknown(Cow<'a, str>),
    /// Not a JSON object with a string `name`: the process's log.
    Log,
}

/// A line that names a known event and breaks one of its rules: the rule, for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

fn broken(rule: impl Into<String>) -> ProtocolError {
    ProtocolError(rule.into())
}

/// The event names this harness knows.
const KNOWN: [&str; 9] = [
    "startup_complete",
    "shutdown_complete",
    "producer_send_success",
    "producer_send_error",
    "partitions_assigned",
    "partitions_revoked",
    "record_data",
    "records_consumed",
    "offsets_committed",
];

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    id: Option<u64>,
    #[serde(borrow)]
    topic: Option<Cow<'a, str>>,
    partition: Option<i32>,
    offset: Option<i64>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    exception: Option<Cow<'a, str>>,
    retriable: Option<bool>,
    success: Option<bool>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    partitions: Option<Vec<RawPartition<'a>>>,
    #[serde(borrow)]
    offsets: Option<Vec<RawOffset<'a>>>,
    #[serde(borrow)]
    client: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawPartition<'a> {
    #[serde(borrow)]
    topic: Option<Cow<'a, str>>,
    partition: Option<i32>,
    count: Option<u64>,
    #[serde(rename = "minOffset")]
    min_offset: Option<i64>,
    #[serde(rename = "maxOffset")]
    max_offset: Option<i64>,
    offsets: Option<Vec<i64>>,
}

#[derive(Deserialize)]
struct RawOffset<'a> {
    #[serde(borrow)]
    topic: Option<Cow<'a, str>>,
    partition: Option<i32>,
    offset: Option<i64>,
}

/// Reads one line of a process's stdout (without its newline).
pub fn parse(line: &str) -> Result<Line<'_>, ProtocolError> {
    // Only an object can be an event; anything else is log text (and cheap to tell).
    if !line.trim_start().starts_with('{') {
        return Ok(Line::Log);
    }
    match serde_json::from_str::<Raw<'_>>(line) {
        Ok(raw) => event(raw),
        Err(e) if e.is_data() => reread(line, &e),
        // Not JSON (or cut short): the process's log.
        Err(_) => Ok(Line::Log),
    }
}

/// A field the event needs.
fn need<T>(value: Option<T>, event: &str, field: &str, what: &str) -> Result<T, ProtocolError> {
    value.ok_or_else(|| broken(format!("{event} needs `{field}` ({what})")))
}

fn non_negative<T: Into<i64> + Copy>(
    value: T,
    event: &str,
    field: &str,
) -> Result<T, ProtocolError> {
    if value.into() < 0 {
        Err(broken(format!(
            "{event}: `{field}` must not be negative, found {}",
            value.into()
        )))
    } else {
        Ok(value)
    }
}

fn partition_of(value: Option<i32>, event: &str, field: &str) -> Result<i32, ProtocolError> {
    non_negative(need(value, event, field, "an integer")?, event, field)
}

fn offset_of(value: Option<i64>, event: &str, field: &str) -> Result<i64, ProtocolError> {
    non_negative(need(value, event, field, "an integer")?, event, field)
}

fn topic_partitions<'a>(
    raw: Option<Vec<RawPartition<'a>>>,
    event: &str,
) -> Result<Vec<TopicPartition<'a>>, ProtocolError> {
    let list = need(raw, event, "partitions", "a list of {topic, partition}")?;
    list.into_iter()
        .enumerate()
        .map(|(i, p)| {
            let topic = need(
                p.topic,
                event,
                &format!("partitions[{i}].topic"),
                "a string",
            )?;
            let partition =
                partition_of(p.partition, event, &format!("partitions[{i}].partition"))?;
            Ok((topic, partition))
        })
        .collect()
}

/// The event a well-typed line names, or why it breaks its rules.
fn event(raw: Raw<'_>) -> Result<Line<'_>, ProtocolError> {
    let name = raw.name.as_ref();
    let event = match name {
        "startup_complete" => Event::StartupComplete { client: raw.client },
        "shutdown_complete" => Event::ShutdownComplete,
        "producer_send_success" => Event::SendSuccess {
            id: need(raw.id, name, "id", "the send's id")?,
            topic: raw.topic,
            partition: partition_of(raw.partition, name, "partition")?,
            offset: offset_of(raw.offset, name, "offset")?,
        },
        "producer_send_error" => Event::SendError {
            id: need(raw.id, name, "id", "the send's id")?,
            topic: raw.topic,
            exception: raw.exception,
            message: need(raw.message, name, "message", "a string")?,
            retriable: need(
                raw.retriable,
                name,
                "retriable",
                "true: it may have been written; false: it was not",
            )?,
        },
        "partitions_assigned" => {
            Event::PartitionsAssigned(topic_partitions(raw.partitions, "partitions_assigned")?)
        }
        "partitions_revoked" => {
            Event::PartitionsRevoked(topic_partitions(raw.partitions, "partitions_revoked")?)
        }
        "record_data" => Event::RecordData {
            topic: need(raw.topic, name, "topic", "a string")?,
            partition: partition_of(raw.partition, name, "partition")?,
            offset: offset_of(raw.offset, name, "offset")?,
            stamp: match raw.stamp {
                None => None,
                Some(s) => Some(STANDARD.decode(s.as_bytes()).map_err(|e| {
                    broken(format!(
                        "record_data: `stamp` must be base64 (standard alphabet, padded): {e}"
                    ))
                })?),
            },
        },
        "records_consumed" => {
            let list = need(
                raw.partitions,
                name,
                "partitions",
                "a list of {topic, partition, count, minOffset, maxOffset}",
            )?;
            let mut consumed = Vec::with_capacity(list.len());
            for (i, p) in list.into_iter().enumerate() {
                let field = |f: &str| format!("partitions[{i}].{f}");
                let topic = need(p.topic, name, &field("topic"), "a string")?;
                let partition = partition_of(p.partition, name, &field("partition"))?;
                let min = offset_of(p.min_offset, name, &field("minOffset"))?;
                let max = offset_of(p.max_offset, name, &field("maxOffset"))?;
                if min > max {
                    return Err(broken(format!(
                        "records_consumed: `{}` {min} is above `{}` {max}",
                        field("minOffset"),
                        field("maxOffset")
                    )));
                }
                let offsets = match p.offsets {
                    Some(list) => {
                        if let Some(o) = list.iter().find(|&&o| o < min || o > max) {
                            return Err(broken(format!(
                                "records_consumed: `{}` holds {o}, outside minOffset {min} to maxOffset {max}",
                                field("offsets")
                            )));
                        }
                        Processed::List(list)
                    }
                    None => {
                        let span = (max - min) as u64 + 1;
                        if let Some(count) = p.count
                            && count != span
                        {
                            return Err(broken(format!(
                                "records_consumed: `{}` is {count}, but minOffset {min} to maxOffset {max} spans {span} offsets; \
                                 when the offsets processed have gaps (transaction markers, compaction), list them in `{}`",
                                field("count"),
                                field("offsets")
                            )));
                        }
                        Processed::Range { min, max }
                    }
                };
                consumed.push(Consumed {
                    topic,
                    partition,
                    offsets,
                });
            }
            Event::RecordsConsumed(consumed)
        }
        "offsets_committed" => {
            let success = need(raw.success, name, "success", "true or false")?;
            let list = need(
                raw.offsets,
                name,
                "offsets",
                "a list of {topic, partition, offset}",
            )?;
            let mut offsets = Vec::with_capacity(list.len());
            for (i, o) in list.into_iter().enumerate() {
                let field = |f: &str| format!("offsets[{i}].{f}");
                offsets.push((
                    need(o.topic, name, &field("topic"), "a string")?,
                    partition_of(o.partition, name, &field("partition"))?,
                    offset_of(o.offset, name, &field("offset"))?,
                ));
            }
            Event::OffsetsCommitted {
                success,
                offsets,
                error: raw.error,
            }
        }
        _ => return Ok(Line::Unknown(raw.name)),
    };
    Ok(Line::Event(event))
}

/// A JSON line the flat struct could not take: no event at all (not an object, no string
/// `name`), an unknown event (whose fields are its own business), or a known one with a
/// mistyped field, named.
fn reread<'a>(line: &'a str, error: &serde_json::Error) -> Result<Line<'a>, ProtocolError> {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) else {
        return Ok(Line::Log);
    };
    let Some(Value::String(name)) = object.get("name") else {
        return Ok(Line::Log);
    };
    if !KNOWN.contains(&name.as_str()) {
        return Ok(Line::Unknown(Cow::Owned(name.clone())));
    }
    Err(broken(match mistyped(&object) {
        Some((field, expected, found)) => {
            format!("{name}: `{field}` must be {expected}, found {found}")
        }
        None => format!("{name}: {error}"),
    }))
}

/// The first field of the protocol's vocabulary whose value has the wrong type: its path,
/// what it must be, and what it is.
fn mistyped(object: &serde_json::Map<String, Value>) -> Option<(String, &'static str, String)> {
    fn int(v: &Value, min: i128, max: i128) -> bool {
        v.as_i64()
            .map(i128::from)
            .or(v.as_u64().map(i128::from))
            .is_some_and(|n| (min..=max).contains(&n))
    }
    fn check(path: String, v: &Value, kind: Kind) -> Option<(String, &'static str, String)> {
        let ok = v.is_null() && kind != Kind::List
            || match kind {
                Kind::Id => int(v, 0, u64::MAX.into()),
                Kind::Partition => int(v, i32::MIN.into(), i32::MAX.into()),
                Kind::Offset => int(v, i64::MIN.into(), i64::MAX.into()),
                Kind::Text => v.is_string(),
                Kind::Flag => v.is_boolean(),
                Kind::List => v.is_array(),
            };
        (!ok).then(|| (path, kind.expected(), super::cut(&v.to_string(), 60)))
    }
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Id,
        Partition,
        Offset,
        Text,
        Flag,
        List,
    }
    impl Kind {
        fn expected(self) -> &'static str {
            match self {
                Kind::Id => "an integer from 0 to 2^64-1",
                Kind::Partition => "an integer partition number",
                Kind::Offset => "an integer offset",
                Kind::Text => "a string",
                Kind::Flag => "true or false",
                Kind::List => "a list",
            }
        }
    }
    let top = [
        ("id", Kind::Id),
        ("topic", Kind::Text),
        ("partition", Kind::Partition),
        ("offset", Kind::Offset),
        ("message", Kind::Text),
        ("exception", Kind::Text),
        ("retriable", Kind::Flag),
        ("success", Kind::Flag),
        ("error", Kind::Text),
        ("stamp", Kind::Text),
        ("client", Kind::Text),
    ];
    for (field, kind) in top {
        if let Some(v) = object.get(field)
            && let Some(bad) = check(field.to_owned(), v, kind)
        {
            return Some(bad);
        }
    }
    let entries = [
        (
            "partitions",
            &[
                ("topic", Kind::Text),
                ("partition", Kind::Partition),
                ("count", Kind::Id),
                ("minOffset", Kind::Offset),
                ("maxOffset", Kind::Offset),
                ("offsets", Kind::List),
            ][..],
        ),
        (
            "offsets",
            &[
                ("topic", Kind::Text),
                ("partition", Kind::Partition),
                ("offset", Kind::Offset),
            ][..],
        ),
    ];
    for (list, fields) in entries {
        let Some(v) = object.get(list) else { continue };
        if v.is_null() {
            continue;
        }
        let Some(items) = v.as_array() else {
            return check(list.to_owned(), v, Kind::List);
        };
        for (i, item) in items.iter().enumerate() {
            let Some(item) = item.as_object() else {
                return Some((
                    format!("{list}[{i}]"),
                    "an object",
                    super::cut(&item.to_string(), 60),
                ));
            };
            for &(field, kind) in fields {
                if let Some(v) = item.get(field)
                    && let Some(bad) = check(format!("{list}[{i}].{field}"), v, kind)
                {
                    return Some(bad);
                }
            }
            if let Some(Value::Array(offsets)) = item.get("offsets") {
                for (j, o) in offsets.iter().enumerate() {
                    if !int(o, i64::MIN.into(), i64::MAX.into()) {
                        return Some((
                            format!("{list}[{i}].offsets[{j}]"),
                            Kind::Offset.expected(),
                            super::cut(&o.to_string(), 60),
                        ));
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
