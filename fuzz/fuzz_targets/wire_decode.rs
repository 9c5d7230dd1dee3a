//! The harness's own Kafka response decoders must turn any bytes into a value or an error,
//! never a panic or an allocation the input cannot justify.
//!
//! `wire.rs` is compiled in directly (it needs only tokio and thiserror), which keeps
//! librdkafka's C build out of the fuzz build.
#![no_main]

#[allow(dead_code)]
#[path = "../../src/wire.rs"]
mod wire;

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    let _ = wire::decode_metadata_v4(body);
    let _ = wire::decode_describe_quorum_v0(body);
});
