//! Any bytes, as a `--client-config` properties file, give settings, each with a name, or
//! an error naming the file: never a panic.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    match kafka_harness::cluster::external::client_properties(bytes, Path::new("fuzz.properties")) {
        Ok(settings) => {
            assert!(settings.keys().all(|k| !k.trim().is_empty()));
        }
        Err(e) => assert!(e.to_string().contains("fuzz.properties"), "{e}"),
    }
});
