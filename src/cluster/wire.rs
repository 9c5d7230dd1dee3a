//! The few Kafka requests the harness speaks itself, over a plain TCP connection.
//!
//! librdkafka hides two things a harness must know: whether *every* broker is registered
//! (as seen by a given node, not by a client's cache) and which node is the active KRaft
//! controller. So the harness asks the brokers directly:
//!
//! ```text
//!   metadata(addr)        Metadata v4        -> brokers, controller id, topics, leaders, ISR
//!   describe_quorum(addr) DescribeQuorum v0  -> leader of __cluster_metadata (the controller)
//! ```
//!
//! Versions are chosen to be served by Kafka 3.x and 4.x alike (4.0 removed Metadata v0-v3).
//! Every read is bounds-checked: a short or malformed response is a [`WireError`], never a
//! panic. One request per connection keeps it simple; these calls are not on a hot path.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const API_METADATA: i16 = 3;
const API_DESCRIBE_QUORUM: i16 = 55;
const CLIENT_ID: &str = "kafka-harness";
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
    /// The response ended early or had an impossible length.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
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

/// Asks `addr` for metadata of `topics` (all topics when `None`).
pub async fn metadata(
    addr: SocketAddr,
    topics: Option<&[&str]>,
    timeout: Duration,
) -> Result<Metadata, WireError> {
    let mut body = Writer::default();
    match topics {
        None => body.i32(-1),
        Some(names) => {
            body.i32(len_i32(names.len())?);
            for name in names {
                body.string(name)?;
            }
        }
    }
    body.bool(false); // allow_auto_topic_creation
    let response = round_trip(addr, "Metadata", API_METADATA, 4, false, &body.0, timeout).await?;
    decode_metadata_v4(&response)
}

/// Asks `addr` (a broker listener, which forwards it to the controllers) for the state of the
/// KRaft metadata quorum.
pub async fn describe_quorum(addr: SocketAddr, timeout: Duration) -> Result<QuorumInfo, WireError> {
    let mut body = Writer::default();
    body.uvarint(2); // compact array of 1 topic
    body.compact_string("__cluster_metadata")?;
    body.uvarint(2); // compact array of 1 partition
    body.i32(0);
    body.uvarint(0); // partition tagged fields
    body.uvarint(0); // topic tagged fields
    body.uvarint(0); // request tagged fields
    let response = round_trip(
        addr,
        "DescribeQuorum",
        API_DESCRIBE_QUORUM,
        0,
        true,
        &body.0,
        timeout,
    )
    .await?;
    decode_describe_quorum_v0(&response)
}

/// Sends one request and returns the response body (after the response header).
async fn round_trip(
    addr: SocketAddr,
    api: &'static str,
    api_key: i16,
    version: i16,
    flexible: bool,
    body: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, WireError> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut frame = Writer::default();
        frame.i32(0); // length, patched below
        frame.i16(api_key);
        frame.i16(version);
        frame.i32(1); // correlation id
        frame.i16(CLIENT_ID.len() as i16);
        frame.0.extend_from_slice(CLIENT_ID.as_bytes());
        if flexible {
            frame.uvarint(0); // header tagged fields
        }
        frame.0.extend_from_slice(body);
        let len = (frame.0.len() - 4) as i32;
        frame.0[..4].copy_from_slice(&len.to_be_bytes());
        stream.write_all(&frame.0).await?;
        let len = stream.read_i32().await?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| (4..=MAX_RESPONSE).contains(&l))
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "impossible frame length")
            })?;
        let mut response = vec![0; len];
        stream.read_exact(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| WireError::Timeout { api, addr, timeout })?
        .map_err(|source| WireError::Io { api, addr, source })?;
    let mut reader = Reader::new(&response);
    let _correlation_id = reader.i32()?;
    if flexible {
        reader.skip_tagged_fields()?;
    }
    Ok(response[reader.pos..].to_vec())
}

/// Decodes the body of a Metadata v4 response (what follows the response header).
pub fn decode_metadata_v4(body: &[u8]) -> Result<Metadata, WireError> {
    let mut r = Reader::new(body);
    let _throttle_ms = r.i32()?;
    let brokers = r.array(|r| {
        let node_id = r.i32()?;
        let host = r.string()?;
        let port = r.i32()?;
        let _rack = r.nullable_string()?;
        Ok(BrokerInfo {
            node_id,
            host,
            port,
        })
    })?;
    let _cluster_id = r.nullable_string()?;
    let controller_id = r.i32()?;
    let topics = r.array(|r| {
        let error_code = r.i16()?;
        let name = r.string()?;
        let _is_internal = r.bool()?;
        let partitions = r.array(|r| {
            let error_code = r.i16()?;
            let partition = r.i32()?;
            let leader = r.i32()?;
            let replicas = r.array(Reader::i32)?;
            let isr = r.array(Reader::i32)?;
            Ok(PartitionInfo {
                partition,
                error_code,
                leader,
                replicas,
                isr,
            })
        })?;
        Ok(TopicInfo {
            name,
            error_code,
            partitions,
        })
    })?;
    Ok(Metadata {
        brokers,
        controller_id,
        topics,
    })
}

/// Decodes the body of a DescribeQuorum v0 response (what follows the response header).
pub fn decode_describe_quorum_v0(body: &[u8]) -> Result<QuorumInfo, WireError> {
    const API: &str = "DescribeQuorum";
    let mut r = Reader::new(body);
    let code = r.i16()?;
    if code != 0 {
        return Err(WireError::Kafka { api: API, code });
    }
    let topics = r.compact_array(|r| {
        let _name = r.compact_string()?;
        let partitions = r.compact_array(|r| {
            let _index = r.i32()?;
            let code = r.i16()?;
            let leader_id = r.i32()?;
            let leader_epoch = r.i32()?;
            let _high_watermark = r.i64()?;
            let replica = |r: &mut Reader<'_>| {
                let id = r.i32()?;
                let _log_end_offset = r.i64()?;
                r.skip_tagged_fields()?;
                Ok(id)
            };
            let voters = r.compact_array(replica)?;
            let _observers = r.compact_array(replica)?;
            r.skip_tagged_fields()?;
            Ok((code, leader_id, leader_epoch, voters))
        })?;
        r.skip_tagged_fields()?;
        Ok(partitions)
    })?;
    let (code, leader_id, leader_epoch, voters) = topics
        .into_iter()
        .flatten()
        .next()
        .ok_or(WireError::Malformed("DescribeQuorum listed no partition"))?;
    if code != 0 {
        return Err(WireError::Kafka { api: API, code });
    }
    Ok(QuorumInfo {
        leader_id,
        leader_epoch,
        voters,
    })
}

fn len_i32(len: usize) -> Result<i32, WireError> {
    i32::try_from(len).map_err(|_| WireError::Malformed("too many elements"))
}

/// Big-endian encoder for request bodies.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }
    fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn string(&mut self, s: &str) -> Result<(), WireError> {
        let len = i16::try_from(s.len()).map_err(|_| WireError::Malformed("string too long"))?;
        self.i16(len);
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
    fn compact_string(&mut self, s: &str) -> Result<(), WireError> {
        self.uvarint(s.len() as u64 + 1);
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Bounds-checked big-endian decoder for response bodies.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(WireError::Malformed("response ended early"))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn bool(&mut self) -> Result<bool, WireError> {
        Ok(self.fixed::<1>()?[0] != 0)
    }
    fn i16(&mut self) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(self.fixed()?))
    }
    fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(self.fixed()?))
    }
    fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.fixed()?))
    }
    fn uvarint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.fixed::<1>()?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::Malformed("varint longer than 10 bytes"))
    }
    fn utf8(&mut self, len: usize) -> Result<String, WireError> {
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError::Malformed("string is not UTF-8"))
    }
    fn nullable_string(&mut self) -> Result<Option<String>, WireError> {
        match self.i16()? {
            -1 => Ok(None),
            len if len >= 0 => self.utf8(len as usize).map(Some),
            _ => Err(WireError::Malformed("negative string length")),
        }
    }
    fn string(&mut self) -> Result<String, WireError> {
        self.nullable_string()?
            .ok_or(WireError::Malformed("null where a string is required"))
    }
    fn compact_string(&mut self) -> Result<String, WireError> {
        match self.uvarint()? {
            0 => Err(WireError::Malformed("null where a string is required")),
            n => self.utf8(usize::try_from(n - 1).map_err(|_| WireError::Malformed("length"))?),
        }
    }
    /// Reads an element count, refusing counts the remaining bytes cannot hold.
    fn count(&mut self, n: u64) -> Result<usize, WireError> {
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or(WireError::Malformed("array longer than the response"))
    }
    fn array<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, WireError>,
    ) -> Result<Vec<T>, WireError> {
        let n = match self.i32()? {
            -1 => 0,
            n if n >= 0 => self.count(n as u64)?,
            _ => return Err(WireError::Malformed("negative array length")),
        };
        (0..n).map(|_| item(self)).collect()
    }
    fn compact_array<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, WireError>,
    ) -> Result<Vec<T>, WireError> {
        let n = match self.uvarint()? {
            0 => 0,
            n => self.count(n - 1)?,
        };
        (0..n).map(|_| item(self)).collect()
    }
    fn skip_tagged_fields(&mut self) -> Result<(), WireError> {
        let fields = self.uvarint()?;
        let fields = self.count(fields)?;
        for _ in 0..fields {
            let _tag = self.uvarint()?;
            let size = self.uvarint()?;
            let size = self.count(size)?;
            self.take(size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata_body() -> Vec<u8> {
        let mut w = Writer::default();
        w.i32(0); // throttle
        w.i32(2); // brokers
        for (id, port) in [(1, 9092), (2, 9094)] {
            w.i32(id);
            w.string("127.0.0.1").unwrap();
            w.i32(port);
            w.i16(-1); // rack
        }
        w.i16(-1); // cluster id
        w.i32(2); // controller
        w.i32(1); // topics
        w.i16(0);
        w.string("t").unwrap();
        w.bool(false);
        w.i32(1); // partitions
        w.i16(0);
        w.i32(0);
        w.i32(2); // leader
        w.i32(2);
        w.i32(2);
        w.i32(1);
        w.i32(1);
        w.i32(2);
        w.0
    }

    #[test]
    fn parses_metadata_v4() {
        let md = decode_metadata_v4(&metadata_body()).unwrap();
        assert_eq!(md.brokers.len(), 2);
        assert_eq!(md.brokers[1].port, 9094);
        assert_eq!(md.controller_id, 2);
        let p = &md.topics[0].partitions[0];
        assert_eq!(
            (p.leader, p.replicas.clone(), p.isr.clone()),
            (2, vec![2, 1], vec![2])
        );
    }

    #[test]
    fn truncated_metadata_is_an_error_at_every_length() {
        let body = metadata_body();
        for len in 0..body.len() {
            assert!(decode_metadata_v4(&body[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn huge_array_length_is_refused_without_allocating() {
        let mut w = Writer::default();
        w.i32(0);
        w.i32(i32::MAX);
        assert!(matches!(
            decode_metadata_v4(&w.0),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn parses_describe_quorum_v0() {
        let mut w = Writer::default();
        w.i16(0);
        w.uvarint(2);
        w.compact_string("__cluster_metadata").unwrap();
        w.uvarint(2);
        w.i32(0);
        w.i16(0);
        w.i32(3); // leader
        w.i32(7); // epoch
        w.0.extend_from_slice(&100i64.to_be_bytes());
        w.uvarint(3); // two voters
        for id in [1, 3] {
            w.i32(id);
            w.0.extend_from_slice(&100i64.to_be_bytes());
            w.uvarint(0);
        }
        w.uvarint(1); // no observers
        w.uvarint(0);
        w.uvarint(0);
        w.uvarint(0);
        let q = decode_describe_quorum_v0(&w.0).unwrap();
        assert_eq!(q.leader_id, 3);
        assert_eq!(q.leader_epoch, 7);
        assert_eq!(q.voters, vec![1, 3]);
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_metadata_v4(&body);
            let _ = decode_describe_quorum_v0(&body);
        }

        #[test]
        fn decoders_never_panic_on_corrupted_responses(flips in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..8)) {
            let mut body = metadata_body();
            for (at, byte) in flips {
                let len = body.len();
                body[at % len] = byte;
            }
            let _ = decode_metadata_v4(&body);
        }
    }

    #[test]
    fn describe_quorum_error_code_is_reported() {
        let mut w = Writer::default();
        w.i16(41);
        assert!(matches!(
            decode_describe_quorum_v0(&w.0),
            Err(WireError::Kafka { code: 41, .. })
        ));
    }
}
