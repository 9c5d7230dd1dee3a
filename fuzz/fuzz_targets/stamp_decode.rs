//! Any header value gives a stamp or an error, never a panic; a stamp that decodes
//! re-encodes to the very same bytes, and an error says why. The same bytes read as a
//! `kh-source` value give a message id that re-encodes to them, or nothing.
#![no_main]

use kafka_harness::history::stamp::{self, Stamp, StampError};

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    match Stamp::decode(bytes) {
        Ok(decoded) => assert_eq!(&decoded.encode()[..], bytes),
        Err(StampError::Length(n)) => assert!(n == bytes.len() && n != stamp::LEN),
        Err(StampError::Version(v)) => assert!(bytes.len() == stamp::LEN && v == bytes[0]),
        Err(e) => panic!("an error this target does not know: {e}"),
    }
    match stamp::decode_source(bytes) {
        Some(id) => assert_eq!(&stamp::encode_source(id)[..], bytes),
        None => assert!(bytes.len() != stamp::SOURCE_LEN || bytes[0] != 1),
    }
});
