//! The Kafka responses the harness reads itself (a frame after its size prefix: response
//! header, then a Metadata or DescribeQuorum body that kafka-protocol decodes) must turn into a
//! value or an error, never a panic or an allocation the input cannot justify.
#![no_main]

use kafka_harness::cluster::wire;

libfuzzer_sys::fuzz_target!(|frame: &[u8]| {
    let _ = wire::decode_metadata_response(frame);
    let _ = wire::decode_describe_quorum_response(frame);
});
