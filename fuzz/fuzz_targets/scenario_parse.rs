//! Any text, as a scenario file, gives a plan or a `file:line:column: message` error,
//! never a panic.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|text: &str| {
    if let Err(e) = kafka_harness::scenario::parse(Path::new("fuzz.toml"), text) {
        assert!(e.line >= 1 && e.column >= 1, "{e}");
        assert!(e.line <= text.split('\n').count(), "line past the end: {e}");
        assert!(!e.message.trim().is_empty(), "{e}");
    }
});
