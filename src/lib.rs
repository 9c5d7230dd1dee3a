//! kafka-harness: a test harness and load tester for Apache Kafka.
//!
//! It starts real brokers on your own machine (Apache Kafka in KRaft mode, run as child
//! processes the harness provisions and owns), breaks them on command, and never leaves them
//! behind. This crate is both the `kafka-harness` binary and a library you can use from your
//! own `cargo test`.
//!
//! ```text
//!   cluster::Cluster (trait)  <- embedded | mock | external | container
//!        │
//!        ├── cluster::admin   topics and metadata through librdkafka
//!        └── wire             the few Kafka requests librdkafka does not expose
//! ```
//!
//! Dependencies run one way: `wire` knows nothing of clusters; backends use `wire` and
//! `admin`; the binary (`src/main.rs`, `cli`) uses the library.
//!
//! Start here: [`EmbeddedCluster`].

#![deny(unsafe_code, rust_2018_idioms, missing_docs)]

pub mod check;
pub mod cluster;
pub mod driver;
pub mod history;
pub mod report;
pub mod run;
pub mod scenario;
pub mod workload;

/// Prints one line for a person on stderr. Unlike `eprintln!`, never panics when stderr is
/// closed (a pipe whose reader went away must not crash a harness that owns brokers).
pub fn note(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "kafka-harness: {line}");
}

pub use cluster::embedded::{EmbeddedCluster, EmbeddedClusterBuilder};
pub use cluster::{Capability, Cluster, ClusterError, ClusterKind, NodeId, NodeOp, TopicSpec};
