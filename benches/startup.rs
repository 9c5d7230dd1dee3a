//! How long an embedded cluster takes to be ready, provisioning cached: 1 node and 3 nodes,
//! each started plain, with class-data archives (the default) and with archives and C1-only
//! compilation (the opt-in for short test clusters); the median of five starts of each,
//! against the targets (1 node 2 s, 3 nodes 5 s).
//!
//! Run: `cargo bench --bench startup` (set `STARTUP_RUNS` for another sample count).
//! This is a benchmark, not a test: the figure depends on the machine and its load.

use std::time::{Duration, Instant};

use kafka_harness::{EmbeddedCluster, EmbeddedClusterBuilder};

/// A way to start: its name and what it sets on the builder.
type Mode = (
    &'static str,
    fn(EmbeddedClusterBuilder) -> EmbeddedClusterBuilder,
);

fn main() {
    let runs: usize = std::env::var("STARTUP_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // Provision, make the archives (and warm the page cache) once, outside the measurement.
    drop(
        runtime
            .block_on(EmbeddedCluster::builder().start())
            .expect("warm-up start"),
    );
    let modes: [Mode; 3] = [
        ("plain", |b| b.class_sharing(false)),
        ("archives", |b| b),
        ("archives + C1", |b| b.c1_only(true)),
    ];
    for (brokers, target) in [(1, Duration::from_secs(2)), (3, Duration::from_secs(5))] {
        for (mode, setup) in modes {
            let mut samples: Vec<Duration> = (0..runs)
                .map(|_| {
                    let started = Instant::now();
                    let cluster = runtime
                        .block_on(setup(EmbeddedCluster::builder().brokers(brokers)).start())
                        .expect("cluster start");
                    let ready = started.elapsed();
                    drop(cluster);
                    ready
                })
                .collect();
            samples.sort();
            let median = samples[samples.len() / 2];
            println!(
                "{brokers} node(s), {mode}: median {:.2} s over {runs} starts (min {:.2} s, \
                 max {:.2} s); target {} s: {}",
                median.as_secs_f64(),
                samples[0].as_secs_f64(),
                samples[samples.len() - 1].as_secs_f64(),
                target.as_secs(),
                if median <= target { "met" } else { "MISSED" }
            );
        }
    }
}
