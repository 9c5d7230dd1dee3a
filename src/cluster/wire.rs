//! The few Kafka requests the harness speaks itself, over a plain TCP connection.
//!
//! librdkafka hides two things a harness must know: whether *every* broker is registered
//! (as seen by a given node, not by a client's cache) and which node is the active KRaft
//! controller. So the harness asks the brokers directly:
//!
//! ```text
//!   metadata(addr)        Metadata v4        -> brokers, controller id, topics, leaders, ISR
//!   describe_quorum(addr) DescribeQuorum v0  -> leader of __cluster_metadata (the controller)
//!   create_acls(addr)     CreateAcls v1      -> a secured cluster's ACLs (internal listener)
//!
//!   request:  size (i32) | RequestHeader (api key, version, correlation id, client id) | body
//!   response: size (i32) | ResponseHeader (correlation id)                             | body
//! ```
//!
//! Messages are encoded and decoded by `kafka-protocol` rather than by hand: it is generated
//! from Kafka's own message schemas. This module frames them, checks them and turns them into
//! the small types below.
//! Versions are chosen to be served by Kafka 3.x and 4.x alike (4.0 removed Metadata v0-v3).
//!
//! A short or malformed response is a [`WireError`], never a panic: the size prefix is checked
//! against a maximum (64 MiB) before anything is allocated, the correlation id must match, and
//! every element count in the body is checked against the bytes that follow it before
//! `kafka-protocol` decodes the body, because it reserves room for as many elements as a
//! count claims before reading any (kafka-protocol-rs/kafka-protocol-rs#152, #200). One
//! request per connection keeps it simple; these calls are not on a hot path.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateAclsRequest, CreateAclsResponse, DescribeQuorumRequest,
    DescribeQuorumResponse, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CLIENT_ID: &str = "kafka-harness";
/// One request per connection, so one correlation id serves them all.
const CORRELATION_ID: i32 = 1;
/// The largest response accepted; metadata of a test cluster is a few KiB.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// A request that could not be completed or a response that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Connecting, writing or reading failed.
    #[error("{api} request to {addr}: {source}")]
    Io {
        /// The request's name.
        api: &'static str,
        /// Where it was sent.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No answer within the time allowed.
    #[error("{api} request to {addr}: no answer within {timeout:?}")]
    Timeout {
        /// The request's name.
        api: &'static str,
        /// Where it was sent.
        addr: SocketAddr,
        /// How long the harness waited.
        timeout: Duration,
    },
    /// The request could not be encoded, or the response was too large, ended early, answered
    /// another request or did not decode.
    #[error("malformed {api} exchange: {reason}")]
    Malformed {
        /// The request's name.
        api: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The broker refused a request, saying why.
    #[error("{api} refused with Kafka error code {code}: {message}")]
    Refused {
        /// The request's name.
        api: &'static str,
        /// Kafka's error code.
        code: i16,
        /// The broker's message.
        message: String,
    },
    /// The broker answered with a Kafka error code.
    #[error("{api} answered with Kafka error code {code}")]
    Kafka {
        /// The request's name.
        api: &'static str,
        /// Kafka's error code (see the protocol guide).
        code: i16,
    },
}

/// A broker as listed in a Metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// The node id.
    pub node_id: i32,
    /// The advertised host.
    pub host: String,
    /// The advertised port.
    pub port: i32,
}

/// One partition's replicas as listed in a Metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition index.
    pub partition: i32,
    /// Kafka's error code for this partition (0 when fine).
    pub error_code: i16,
    /// The leader's node id, or -1 when there is none.
    pub leader: i32,
    /// All replicas.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
}

/// One topic as listed in a Metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// The topic name.
    pub name: String,
    /// Kafka's error code for this topic (0 when fine, 3 when it does not exist).
    pub error_code: i16,
    /// The partitions, in the order the broker sent them.
    pub partitions: Vec<PartitionInfo>,
}

/// A Metadata response as seen by one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Registered (unfenced) brokers.
    pub brokers: Vec<BrokerInfo>,
    /// The controller id the broker reports (in KRaft a random live broker, not the quorum leader).
    pub controller_id: i32,
    /// The topics asked for.
    pub topics: Vec<TopicInfo>,
}

/// The KRaft quorum's state as reported by DescribeQuorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumInfo {
    /// The active controller's node id, or -1 during an election.
    pub leader_id: i32,
    /// The leader's epoch.
    pub leader_epoch: i32,
    /// Node ids of the voters.
    pub voters: Vec<i32>,
}

/// A request the harness sends: its name for errors, key, version and response shape.
struct Api {
    name: &'static str,
    key: ApiKey,
    version: i16,
    response: &'static [Shape],
}

const METADATA: Api = Api {
    name: "Metadata",
    key: ApiKey::Metadata,
    version: 4,
    response: METADATA_V4,
};

const DESCRIBE_QUORUM: Api = Api {
    name: "DescribeQuorum",
    key: ApiKey::DescribeQuorum,
    version: 0,
    response: DESCRIBE_QUORUM_V0,
};

const CREATE_ACLS: Api = Api {
    name: "CreateAcls",
    key: ApiKey::CreateAcls,
    version: 1,
    response: CREATE_ACLS_V1,
};

/// Creates `acls` through `addr` (a listener whose principal may create them).
pub async fn create_acls(
    addr: SocketAddr,
    acls: &[crate::cluster::embedded::security::Acl],
    timeout: Duration,
) -> Result<(), WireError> {
    let creations = acls
        .iter()
        .map(|acl| {
            AclCreation::default()
                .with_resource_type(acl.resource_type as i8)
                .with_resource_name(StrBytes::from_string(acl.resource_name.clone()))
                .with_resource_pattern_type(acl.pattern as i8)
                .with_principal(StrBytes::from_string(acl.kafka_principal()))
                .with_host(StrBytes::from_static_str("*"))
                .with_operation(acl.operation as i8)
                .with_permission_type(if acl.allow { 3 } else { 2 })
        })
        .collect();
    let request = CreateAclsRequest::default().with_creations(creations);
    let frame = round_trip(addr, &CREATE_ACLS, &request, timeout).await?;
    let response: CreateAclsResponse = decode_response(&CREATE_ACLS, &frame)?;
    match response.results.iter().find(|r| r.error_code != 0) {
        Some(r) => Err(WireError::Refused {
            api: CREATE_ACLS.name,
            code: r.error_code,
            message: r
                .error_message
                .as_ref()
                .map_or_else(String::new, |m| m.to_string()),
        }),
        None => Ok(()),
    }
}

/// Asks `addr` for metadata of `topics` (all topics when `None`).
pub async fn metadata(
    addr: SocketAddr,
    topics: Option<&[&str]>,
    timeout: Duration,
) -> Result<Metadata, WireError> {
    let topics = topics.map(|names| {
        names
            .iter()
            .map(|name| MetadataRequestTopic::default().with_name(Some(topic_name(name))))
            .collect()
    });
    let request = MetadataRequest::default()
        .with_topics(topics)
        .with_allow_auto_topic_creation(false);
    let frame = round_trip(addr, &METADATA, &request, timeout).await?;
    decode_metadata_response(&frame)
}

/// Asks `addr` (a broker listener, which forwards it to the controllers) for the state of the
/// KRaft metadata quorum.
pub async fn describe_quorum(addr: SocketAddr, timeout: Duration) -> Result<QuorumInfo, WireError> {
    let request = DescribeQuorumRequest::default().with_topics(vec![
        TopicData::default()
            .with_topic_name(topic_name("__cluster_metadata"))
            .with_partitions(vec![PartitionData::default().with_partition_index(0)]),
    ]);
    let frame = round_trip(addr, &DESCRIBE_QUORUM, &request, timeout).await?;
    decode_describe_quorum_response(&frame)
}

/// Decodes a Metadata response as read after its size prefix (header, then body).
pub fn decode_metadata_response(frame: &[u8]) -> Result<Metadata, WireError> {
    let md: MetadataResponse = decode_response(&METADATA, frame)?;
    let ids = |ids: Vec<BrokerId>| ids.into_iter().map(|id| id.0).collect();
    Ok(Metadata {
        brokers: md
            .brokers
            .into_iter()
            .map(|b| BrokerInfo {
                node_id: b.node_id.0,
                host: b.host.to_string(),
                port: b.port,
            })
            .collect(),
        controller_id: md.controller_id.0,
        topics: md
            .topics
            .into_iter()
            .map(|t| TopicInfo {
                // Never null before v12; an empty name matches no topic the harness asks for.
                name: t.name.map(|n| n.0.to_string()).unwrap_or_default(),
                error_code: t.error_code,
                partitions: t
                    .partitions
                    .into_iter()
                    .map(|p| PartitionInfo {
                        partition: p.partition_index,
                        error_code: p.error_code,
                        leader: p.leader_id.0,
                        replicas: ids(p.replica_nodes),
                        isr: ids(p.isr_nodes),
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// Decodes a DescribeQuorum response as read after its size prefix (header, then body).
pub fn decode_describe_quorum_response(frame: &[u8]) -> Result<QuorumInfo, WireError> {
    let api = DESCRIBE_QUORUM.name;
    let response: DescribeQuorumResponse = decode_response(&DESCRIBE_QUORUM, frame)?;
    if response.error_code != 0 {
        let code = response.error_code;
        return Err(WireError::Kafka { api, code });
    }
    let partition = response
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .next()
        .ok_or_else(|| malformed(api, "no partition listed"))?;
    if partition.error_code != 0 {
        let code = partition.error_code;
        return Err(WireError::Kafka { api, code });
    }
    Ok(QuorumInfo {
        leader_id: partition.leader_id.0,
        leader_epoch: partition.leader_epoch,
        voters: partition
            .current_voters
            .into_iter()
            .map(|v| v.replica_id.0)
            .collect(),
    })
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

fn malformed(api: &'static str, reason: impl ToString) -> WireError {
    WireError::Malformed {
        api,
        reason: reason.to_string(),
    }
}

/// Sends one request on a new connection and returns the response frame (after its size).
async fn round_trip(
    addr: SocketAddr,
    api: &Api,
    request: &(impl Encodable + HeaderVersion),
    timeout: Duration,
) -> Result<Vec<u8>, WireError> {
    let request = encode_request(api, request)?;
    let io = |source| WireError::Io {
        api: api.name,
        addr,
        source,
    };
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(io)?;
        stream.write_all(&request).await.map_err(io)?;
        let len = stream.read_i32().await.map_err(io)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| (4..=MAX_RESPONSE).contains(&len))
            .ok_or_else(|| malformed(api.name, format!("response size {len}")))?;
        let mut frame = vec![0; len];
        stream.read_exact(&mut frame).await.map_err(io)?;
        Ok(frame)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| WireError::Timeout {
            api: api.name,
            addr,
            timeout,
        })?
}

/// The request's bytes: size, header, body.
fn encode_request<R: Encodable + HeaderVersion>(
    api: &Api,
    request: &R,
) -> Result<Vec<u8>, WireError> {
    let header = RequestHeader::default()
        .with_request_api_key(api.key as i16)
        .with_request_api_version(api.version)
        .with_correlation_id(CORRELATION_ID)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut frame = vec![0; 4];
    header
        .encode(&mut frame, R::header_version(api.version))
        .and_then(|()| request.encode(&mut frame, api.version))
        .map_err(|e| malformed(api.name, format!("{e:#}")))?;
    let len = i32::try_from(frame.len() - 4).map_err(|_| malformed(api.name, "request size"))?;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    Ok(frame)
}

/// Decodes a response frame: header, correlation id, element counts, then body.
fn decode_response<R: Decodable + HeaderVersion>(api: &Api, frame: &[u8]) -> Result<R, WireError> {
    let mut buf = frame;
    let header = ResponseHeader::decode(&mut buf, R::header_version(api.version))
        .map_err(|e| malformed(api.name, format!("{e:#}")))?;
    if header.correlation_id != CORRELATION_ID {
        return Err(malformed(
            api.name,
            format!(
                "correlation id {}, expected {CORRELATION_ID}",
                header.correlation_id
            ),
        ));
    }
    check_counts(api.response, &mut &buf[..]).map_err(|reason| malformed(api.name, reason))?;
    R::decode(&mut buf, api.version).map_err(|e| malformed(api.name, format!("{e:#}")))
}

/// Where the element counts of a response body are, as far as [`check_counts`] needs to know.
#[derive(Clone, Copy)]
enum Shape {
    /// A field of this many bytes.
    Fixed(usize),
    /// A nullable string: i16 length, -1 for null.
    Str,
    /// A nullable compact string: unsigned varint length + 1, 0 for null.
    CompactStr,
    /// A nullable array: i32 count, -1 for null, then its elements.
    Array(&'static [Shape]),
    /// A nullable compact array: unsigned varint count + 1, 0 for null, then its elements.
    CompactArray(&'static [Shape]),
    /// Tagged fields: unsigned varint count, then (tag, size, bytes) each.
    Tags,
}

use Shape::{Array, CompactArray, CompactStr, Fixed, Str, Tags};

/// MetadataResponse v4: throttle, brokers (node id, host, port, rack), cluster id, controller
/// id, topics (error, name, is internal, partitions (error, index, leader, replicas, ISR)).
const METADATA_V4: &[Shape] = &[
    Fixed(4),
    Array(&[Fixed(4), Str, Fixed(4), Str]),
    Str,
    Fixed(4),
    Array(&[
        Fixed(2),
        Str,
        Fixed(1),
        Array(&[
            Fixed(2),
            Fixed(4),
            Fixed(4),
            Array(&[Fixed(4)]),
            Array(&[Fixed(4)]),
        ]),
    ]),
];

/// DescribeQuorumResponse v0: error, topics (name, partitions (index, error, leader, epoch,
/// high watermark, voters and observers (id, log end offset))).
const DESCRIBE_QUORUM_V0: &[Shape] = &[
    Fixed(2),
    CompactArray(&[
        CompactStr,
        CompactArray(&[
            Fixed(4),
            Fixed(2),
            Fixed(4),
            Fixed(4),
            Fixed(8),
            CompactArray(&[Fixed(4), Fixed(8), Tags]),
            CompactArray(&[Fixed(4), Fixed(8), Tags]),
            Tags,
        ]),
        Tags,
    ]),
    Tags,
];

/// CreateAclsResponse v1: throttle, results (error code, error message).
const CREATE_ACLS_V1: &[Shape] = &[Fixed(4), Array(&[Fixed(2), Str])];

/// Walks `buf` as `shape`, reading counts and lengths as `kafka-protocol` reads them, and
/// refuses any that the bytes present cannot hold. Every element is at least one byte, so the
/// walk takes no more steps than there are bytes, and once it passes, no count the decoder
/// allocates for exceeds the elements actually present.
fn check_counts(shape: &[Shape], buf: &mut &[u8]) -> Result<(), &'static str> {
    for field in shape {
        match *field {
            Fixed(n) => skip(buf, n)?,
            Str => {
                let len = i16::from_be_bytes(take(buf)?);
                skip(buf, usize::try_from(len).unwrap_or(0))?;
            }
            CompactStr => {
                let len = uvarint(buf)?;
                skip(buf, len.saturating_sub(1) as usize)?;
            }
            Array(items) => {
                for _ in 0..i32::from_be_bytes(take(buf)?) {
                    check_counts(items, buf)?;
                }
            }
            CompactArray(items) => {
                for _ in 1..uvarint(buf)? {
                    check_counts(items, buf)?;
                }
            }
            Tags => {
                for _ in 0..uvarint(buf)? {
                    let _tag = uvarint(buf)?;
                    let size = uvarint(buf)?;
                    skip(buf, size as usize)?;
                }
            }
        }
    }
    Ok(())
}

fn skip(buf: &mut &[u8], n: usize) -> Result<(), &'static str> {
    *buf = buf
        .get(n..)
        .ok_or("an element count or length exceeds the response")?;
    Ok(())
}

fn take<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], &'static str> {
    let (bytes, rest) = buf
        .split_first_chunk()
        .ok_or("an element count or length exceeds the response")?;
    *buf = rest;
    Ok(*bytes)
}

/// An unsigned varint as `kafka-protocol` reads it: at most 5 bytes, excess bits dropped.
fn uvarint(buf: &mut &[u8]) -> Result<u32, &'static str> {
    let mut value = 0u32;
    for i in 0..5 {
        let [b] = take(buf)?;
        value |= u32::from(b & 0x7f) << (i * 7);
        if b < 0x80 {
            break;
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::describe_quorum_response::{
        PartitionData as QuorumPartition, ReplicaState, TopicData as QuorumTopic,
    };
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    /// A response as a broker frames it after the size prefix: header, then body.
    fn frame<R: Encodable + HeaderVersion>(api: &Api, correlation_id: i32, body: &R) -> Vec<u8> {
        let mut out = Vec::new();
        ResponseHeader::default()
            .with_correlation_id(correlation_id)
            .encode(&mut out, R::header_version(api.version))
            .unwrap();
        body.encode(&mut out, api.version).unwrap();
        out
    }

    fn sized(frame: &[u8]) -> Vec<u8> {
        let mut out = i32::try_from(frame.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(frame);
        out
    }

    fn ids(ids: &[i32]) -> Vec<BrokerId> {
        ids.iter().copied().map(BrokerId).collect()
    }

    fn metadata_response() -> MetadataResponse {
        let broker = |id, port, rack: Option<&'static str>| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(port)
                .with_rack(rack.map(StrBytes::from_static_str))
        };
        let partition = MetadataResponsePartition::default()
            .with_partition_index(0)
            .with_leader_id(BrokerId(2))
            .with_replica_nodes(ids(&[2, 1]))
            .with_isr_nodes(ids(&[2]));
        let topic = |name: &str, error_code, partitions| {
            MetadataResponseTopic::default()
                .with_name(Some(topic_name(name)))
                .with_error_code(error_code)
                .with_partitions(partitions)
        };
        MetadataResponse::default()
            .with_brokers(vec![broker(1, 9092, Some("r1")), broker(2, 9094, None)])
            .with_cluster_id(Some(StrBytes::from_static_str("kh")))
            .with_controller_id(BrokerId(2))
            .with_topics(vec![
                topic("t", 0, vec![partition]),
                topic("gone", 3, vec![]),
            ])
    }

    fn expected_metadata() -> Metadata {
        let broker = |node_id, port| BrokerInfo {
            node_id,
            host: "127.0.0.1".into(),
            port,
        };
        Metadata {
            brokers: vec![broker(1, 9092), broker(2, 9094)],
            controller_id: 2,
            topics: vec![
                TopicInfo {
                    name: "t".into(),
                    error_code: 0,
                    partitions: vec![PartitionInfo {
                        partition: 0,
                        error_code: 0,
                        leader: 2,
                        replicas: vec![2, 1],
                        isr: vec![2],
                    }],
                },
                TopicInfo {
                    name: "gone".into(),
                    error_code: 3,
                    partitions: vec![],
                },
            ],
        }
    }

    fn quorum_response(error_code: i16) -> DescribeQuorumResponse {
        let replica = |id| {
            ReplicaState::default()
                .with_replica_id(BrokerId(id))
                .with_log_end_offset(100)
        };
        let partition = QuorumPartition::default()
            .with_leader_id(BrokerId(3))
            .with_leader_epoch(7)
            .with_high_watermark(100)
            .with_current_voters(vec![replica(1), replica(3)])
            .with_observers(vec![replica(4)])
            .with_unknown_tagged_field(9, b"later"[..].into());
        DescribeQuorumResponse::default()
            .with_error_code(error_code)
            .with_topics(vec![
                QuorumTopic::default()
                    .with_topic_name(topic_name("__cluster_metadata"))
                    .with_partitions(vec![partition]),
            ])
    }

    /// A broker that answers one request with `reply` (sent as is) and hands back the request.
    async fn fake_broker(reply: Vec<u8>) -> (SocketAddr, JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let broker = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let len = stream.read_i32().await.unwrap();
            let mut request = vec![0; usize::try_from(len).unwrap()];
            stream.read_exact(&mut request).await.unwrap();
            stream.write_all(&reply).await.unwrap();
            request
        });
        (addr, broker)
    }

    #[tokio::test]
    async fn metadata_round_trips_through_a_broker() {
        let reply = sized(&frame(&METADATA, CORRELATION_ID, &metadata_response()));
        let (addr, broker) = fake_broker(reply).await;
        let md = metadata(addr, Some(&["t", "gone"]), TIMEOUT).await.unwrap();
        assert_eq!(md, expected_metadata());

        let request = broker.await.unwrap();
        let mut buf = &request[..];
        let header = RequestHeader::decode(&mut buf, 1).unwrap();
        assert_eq!(header.request_api_key, ApiKey::Metadata as i16);
        assert_eq!(header.request_api_version, 4);
        assert_eq!(header.correlation_id, CORRELATION_ID);
        assert_eq!(header.client_id.as_deref(), Some(CLIENT_ID));
        let body = MetadataRequest::decode(&mut buf, 4).unwrap();
        let names: Vec<_> = body.topics.unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(names, [Some(topic_name("t")), Some(topic_name("gone"))]);
        assert!(!body.allow_auto_topic_creation);
        assert!(buf.is_empty(), "the size prefix covers the request exactly");
    }

    #[tokio::test]
    async fn metadata_of_all_topics_asks_for_a_null_list() {
        let reply = sized(&frame(&METADATA, CORRELATION_ID, &metadata_response()));
        let (addr, broker) = fake_broker(reply).await;
        metadata(addr, None, TIMEOUT).await.unwrap();
        let request = broker.await.unwrap();
        let mut buf = &request[..];
        RequestHeader::decode(&mut buf, 1).unwrap();
        assert_eq!(MetadataRequest::decode(&mut buf, 4).unwrap().topics, None);
    }

    #[tokio::test]
    async fn describe_quorum_round_trips_through_a_broker() {
        let reply = sized(&frame(
            &DESCRIBE_QUORUM,
            CORRELATION_ID,
            &quorum_response(0),
        ));
        let (addr, broker) = fake_broker(reply).await;
        let quorum = describe_quorum(addr, TIMEOUT).await.unwrap();
        let expected = QuorumInfo {
            leader_id: 3,
            leader_epoch: 7,
            voters: vec![1, 3],
        };
        assert_eq!(quorum, expected);

        let request = broker.await.unwrap();
        let mut buf = &request[..];
        let header = RequestHeader::decode(&mut buf, 2).unwrap();
        assert_eq!(header.request_api_key, ApiKey::DescribeQuorum as i16);
        assert_eq!(header.request_api_version, 0);
        assert_eq!(header.client_id.as_deref(), Some(CLIENT_ID));
        let body = DescribeQuorumRequest::decode(&mut buf, 0).unwrap();
        assert_eq!(body.topics.len(), 1);
        assert_eq!(body.topics[0].topic_name, topic_name("__cluster_metadata"));
        assert_eq!(body.topics[0].partitions[0].partition_index, 0);
        assert!(buf.is_empty(), "the size prefix covers the request exactly");
    }

    #[tokio::test]
    async fn impossible_size_prefixes_are_refused_before_reading_on() {
        for len in [i32::MAX, MAX_RESPONSE as i32 + 1, 3, -1] {
            let (addr, _broker) = fake_broker(len.to_be_bytes().to_vec()).await;
            let err = metadata(addr, None, TIMEOUT).await.unwrap_err();
            assert!(
                matches!(&err, WireError::Malformed { reason, .. } if reason == &format!("response size {len}")),
                "{len}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn a_response_cut_short_is_an_error() {
        let mut reply = sized(&frame(&METADATA, CORRELATION_ID, &metadata_response()));
        reply.truncate(reply.len() - 1);
        let (addr, _broker) = fake_broker(reply).await;
        let err = metadata(addr, None, TIMEOUT).await.unwrap_err();
        assert!(
            matches!(&err, WireError::Io { source, .. } if source.kind() == std::io::ErrorKind::UnexpectedEof),
            "{err}"
        );
    }

    #[test]
    fn truncated_frames_are_an_error_at_every_length() {
        let md = frame(&METADATA, CORRELATION_ID, &metadata_response());
        for len in 0..md.len() {
            assert!(
                decode_metadata_response(&md[..len]).is_err(),
                "length {len}"
            );
        }
        let quorum = frame(&DESCRIBE_QUORUM, CORRELATION_ID, &quorum_response(0));
        for len in 0..quorum.len() {
            let decoded = decode_describe_quorum_response(&quorum[..len]);
            assert!(decoded.is_err(), "length {len}");
        }
    }

    #[test]
    fn a_correlation_id_mismatch_is_an_error() {
        let md = frame(&METADATA, CORRELATION_ID + 1, &metadata_response());
        let err = decode_metadata_response(&md).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed Metadata exchange: correlation id 2, expected 1"
        );
    }

    /// Without the count check, kafka-protocol would reserve gigabytes for these and abort.
    #[test]
    fn huge_element_counts_are_refused_before_decoding() {
        let mut md = CORRELATION_ID.to_be_bytes().to_vec();
        md.extend_from_slice(&0i32.to_be_bytes()); // throttle
        md.extend_from_slice(&i32::MAX.to_be_bytes()); // brokers
        md.extend_from_slice(&[0; 64]);
        assert!(matches!(
            decode_metadata_response(&md),
            Err(WireError::Malformed { .. })
        ));

        let mut quorum = CORRELATION_ID.to_be_bytes().to_vec();
        quorum.push(0); // header tagged fields
        quorum.extend_from_slice(&0i16.to_be_bytes()); // error code
        quorum.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // topics: u32::MAX - 1
        quorum.extend_from_slice(&[0; 64]);
        assert!(matches!(
            decode_describe_quorum_response(&quorum),
            Err(WireError::Malformed { .. })
        ));
    }

    #[test]
    fn describe_quorum_error_codes_are_reported() {
        let quorum = frame(&DESCRIBE_QUORUM, CORRELATION_ID, &quorum_response(41));
        assert!(matches!(
            decode_describe_quorum_response(&quorum),
            Err(WireError::Kafka { code: 41, .. })
        ));
        let mut response = quorum_response(0);
        response.topics[0].partitions[0].error_code = 6;
        let quorum = frame(&DESCRIBE_QUORUM, CORRELATION_ID, &response);
        assert!(matches!(
            decode_describe_quorum_response(&quorum),
            Err(WireError::Kafka { code: 6, .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(frame in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_metadata_response(&frame);
            let _ = decode_describe_quorum_response(&frame);
        }

        #[test]
        fn decoders_never_panic_on_corrupted_responses(flips in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..8)) {
            let mut md = frame(&METADATA, CORRELATION_ID, &metadata_response());
            let mut quorum = frame(&DESCRIBE_QUORUM, CORRELATION_ID, &quorum_response(0));
            for (at, byte) in flips {
                let len = md.len();
                md[at % len] = byte;
                let len = quorum.len();
                quorum[at % len] = byte;
            }
            let _ = decode_metadata_response(&md);
            let _ = decode_describe_quorum_response(&quorum);
        }
    }
}
