//! Any header value gives a stamp or an error, never a panic; a stamp that decodes
//! re-encodes to the very same bytes, and an error says why.
#![no_main]

use kafka_harness::stamp::{self, Stamp, StampError};

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    match Stamp::decode(bytes) {
        Ok(decoded) => assert_eq!(&decoded.encode()[..], bytes),
        Err(StampError::Length(n)) => assert!(n == bytes.len() && n != stamp::LEN),
        Err(StampError::Version(v)) => assert!(bytes.len() == stamp::LEN && v == bytes[0]),
        Err(e) => panic!("an error this target does not know: {e}"),
    }
});
