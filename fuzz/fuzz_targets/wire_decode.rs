//! The harness's own Kafka response decoders must turn any bytes into a value or an error,
//! never a panic or an allocation the input cannot justify.
#![no_main]

use kafka_harness::cluster::wire;

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    let _ = wire::decode_metadata_v4(body);
    let _ = wire::decode_describe_quorum_v0(body);
});
