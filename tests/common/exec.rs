//! The exec adapter of `examples/exec_rdkafka.rs`, built once per test binary.
//!
//! `cargo test --test NAME` builds no examples, so the first test to need the adapter asks
//! Cargo for it (a no-op when it is up to date), with the features this test was built with
//! so the library is not built twice.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The built adapter's path.
pub fn adapter() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/<test binary>
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut command = Command::new(cargo);
            command
                .args([
                    "build",
                    "--quiet",
                    "--example",
                    "exec_rdkafka",
                    "--manifest-path",
                ])
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
            if release {
                command.arg("--release");
            }
            if cfg!(feature = "containers") {
                command.arg("--features=containers");
            }
            let status = command.status().expect("running cargo build --example");
            assert!(
                status.success(),
                "cargo build --example exec_rdkafka: {status}"
            );
            let path = profile_dir.join("examples").join("exec_rdkafka");
            assert!(path.is_file(), "{} was not built", path.display());
            path
        })
        .clone()
}
