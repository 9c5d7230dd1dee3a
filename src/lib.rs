//! kafka-harness: a test harness and load tester for Apache Kafka.
//!
//! It starts real brokers on your own machine (Apache Kafka in KRaft mode, run as child
//! processes the harness provisions and owns), runs declarative scenarios against producer
//! and consumer implementations, breaks brokers and consumers on a schedule, proves what was
//! delivered and measures latency free of coordinated omission. This crate is both the
//! `kafka-harness` binary and a library you can use from your own `cargo test`.
//!
//! Each folder is one layer of the data flow:
//!
//! ```text
//!   scenario.toml ──scenario──> Plan ──────────────────────────────┐
//!                                 │                                  │
//!                       workload (templates, keys)                  run (the engine)
//!                                 │                                  │
//!   cluster (embedded | mock | external | container) <── topics, nemesis (faults)
//!                                 │                                  │
//!   driver (rdkafka, rskafka, transactions, stages, exec, verifiable) <── producers and consumers
//!                                 │
//!                                 v
//!   history: History (sends, deliveries, groups, faults) + Log (read back) + latency
//!                                 │
//!   check (pure): anomalies, SLOs, availability and groups ──> CheckResults
//!                                 │
//!   run::result assembles ──> report: RunResult ──> result.json, report.html, junit.xml, compare
//! ```
//!
//! Imports point down the layers, never up: `scenario` imports nothing of the crate; `workload`
//! only `scenario`'s vocabulary; `child` (child processes that die with the harness: the
//! brokers' JVMs, the exec drivers' clients) imports nothing and serves `cluster` and
//! `driver`; `cluster` nothing above it; `driver` only `child`, `history` and `workload`;
//! `check` only `history` and `scenario`; `report` only `check`, `history` and
//! `scenario`; `run` is the one layer that imports them all. The binary (`src/main.rs`,
//! `cli`) uses the library.
//!
//! Start here: [`EmbeddedCluster`] for a real broker in a test, [`run::execute`] for a
//! whole scenario, [`check::run_all`] for the checkers on a history of your own.

#![deny(unsafe_code, rust_2018_idioms, missing_docs)]
// Library code returns errors; a panic in a harness that owns brokers and child processes is
// a bug (a checker's panic is caught and reported as `unknown`, see `check::run_all`).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
// Standard output belongs to the CLI (the summary, `bootstrap=...`); lines for a person go
// through `note`, which never panics when stderr is a closed pipe.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod check;
mod child;
pub mod cluster;
pub mod driver;
pub mod history;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stderr;
pub mod workload;

/// Prints one line for a person on stderr. Unlike `eprintln!`, never panics when stderr is
/// closed (a pipe whose reader went away must not crash a harness that owns brokers).
/// Secret values registered with [`stderr::hide`] are written as `[redacted]`.
pub fn note(line: impl std::fmt::Display) {
    use std::io::Write;
    let line = stderr::scrub(&line.to_string());
    let _ = writeln!(std::io::stderr(), "kafka-harness: {line}");
}

pub use cluster::embedded::{EmbeddedCluster, EmbeddedClusterBuilder};
pub use cluster::{Capability, Cluster, ClusterError, ClusterKind, NodeId, NodeOp, TopicSpec};
