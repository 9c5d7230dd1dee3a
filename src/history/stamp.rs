//! The stamp every record carries in a header, so checkers never parse values.
//!
//! Header `kh-stamp`, 21 bytes: a format version (1), the producer instance (u32), its
//! sequence number (u64) and the intended send time in microseconds since the UNIX epoch
//! (u64), all big-endian. A wall-clock time lets a consumer in another process compute
//! end-to-end latency from the *intended* send time.
//!
//! A stage's output record also carries header `kh-source`, 13 bytes: the version (1) and
//! the [`MsgId`] of the input message it was made from (producer u32, seq u64), big-endian.

use crate::history::MsgId;

/// The header that carries the stamp.
pub const HEADER: &str = "kh-stamp";
/// Encoded length in bytes.
pub const LEN: usize = 21;
const VERSION: u8 = 1;

/// The header naming the input message a stage's output record was made from.
pub const SOURCE_HEADER: &str = "kh-source";
/// Encoded length of a `kh-source` value in bytes.
pub const SOURCE_LEN: usize = 13;

/// The `kh-source` header value for input message `id`: the format version (1), the
/// producer (u32) and the sequence number (u64), big-endian.
pub fn encode_source(id: MsgId) -> [u8; SOURCE_LEN] {
    let mut out = [0; SOURCE_LEN];
    out[0] = VERSION;
    out[1..5].copy_from_slice(&id.producer.to_be_bytes());
    out[5..].copy_from_slice(&id.seq.to_be_bytes());
    out
}

/// Reads a `kh-source` header value; `None` unless it is [`SOURCE_LEN`] bytes of a known
/// version. Never panics.
pub fn decode_source(bytes: &[u8]) -> Option<MsgId> {
    let bytes: &[u8; SOURCE_LEN] = bytes.try_into().ok()?;
    let [version, p0, p1, p2, p3, s @ ..] = *bytes;
    (version == VERSION).then(|| MsgId {
        producer: u32::from_be_bytes([p0, p1, p2, p3]),
        seq: u64::from_be_bytes(s),
    })
}

/// Who sent a record, which one it was, and when it should have left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Producer instance.
    pub producer: u32,
    /// Sequence number within that producer.
    pub seq: u64,
    /// Intended send time, microseconds since the UNIX epoch.
    pub intended_us: u64,
}

/// Why bytes are not a stamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StampError {
    /// Wrong length.
    #[error("a stamp is {LEN} bytes, this one {0}")]
    Length(usize),
    /// Unknown format version.
    #[error("unknown stamp version {0}")]
    Version(u8),
}

impl Stamp {
    /// The message this stamp names.
    pub fn id(&self) -> MsgId {
        MsgId {
            producer: self.producer,
            seq: self.seq,
        }
    }

    /// The header value.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0; LEN];
        out[0] = VERSION;
        out[1..5].copy_from_slice(&self.producer.to_be_bytes());
        out[5..13].copy_from_slice(&self.seq.to_be_bytes());
        out[13..21].copy_from_slice(&self.intended_us.to_be_bytes());
        out
    }

    /// Reads a header value; any input gives a stamp or an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Stamp, StampError> {
        let bytes: &[u8; LEN] = bytes
            .try_into()
            .map_err(|_| StampError::Length(bytes.len()))?;
        if bytes[0] != VERSION {
            return Err(StampError::Version(bytes[0]));
        }
        let u64_at = |i: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_be_bytes(b)
        };
        Ok(Stamp {
            producer: u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]),
            seq: u64_at(5),
            intended_us: u64_at(13),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_source_is_versioned_big_endian() {
        let id = MsgId {
            producer: 0x0102_0304,
            seq: 5,
        };
        let bytes = encode_source(id);
        assert_eq!(bytes, [1, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 5]);
        let mut unknown = bytes;
        unknown[0] = 2;
        assert_eq!(decode_source(&unknown), None);
        assert_eq!(decode_source(&bytes[1..]), None);
    }

    proptest! {
        #[test]
        fn round_trips(producer in any::<u32>(), seq in any::<u64>(), intended_us in any::<u64>()) {
            let stamp = Stamp { producer, seq, intended_us };
            prop_assert_eq!(Stamp::decode(&stamp.encode()), Ok(stamp));
        }

        #[test]
        fn sources_round_trip(producer in any::<u32>(), seq in any::<u64>()) {
            let id = MsgId { producer, seq };
            prop_assert_eq!(decode_source(&encode_source(id)), Some(id));
        }

        #[test]
        fn any_bytes_are_a_source_or_none(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            match decode_source(&bytes) {
                Some(id) => prop_assert_eq!(&encode_source(id)[..], &bytes[..]),
                None => prop_assert!(bytes.len() != SOURCE_LEN || bytes[0] != VERSION),
            }
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            match Stamp::decode(&bytes) {
                Ok(stamp) => prop_assert_eq!(&stamp.encode()[..], &bytes[..]),
                Err(StampError::Length(n)) => prop_assert_ne!(n, LEN),
                Err(StampError::Version(v)) => prop_assert_ne!(v, VERSION),
            }
        }
    }
}
