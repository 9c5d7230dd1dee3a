//! Rendering the HTML report of an hour-long run: a 3,600-second timeline, percentile
//! spectra of full histograms (100 million values over a wide range), a fault every
//! ten minutes, group changes and 48 partitions. Goal: well under a second, under 1 MB.
//!
//! Run: `cargo bench --bench report` (about 10 s). Prints the page's size, then
//! criterion's time per render. A figure, not a test.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use hdrhistogram::Histogram;
use kafka_harness::history::latency::{Second, spectrum};
use kafka_harness::report::{Fault, GroupChange, GroupReport, RunResult};

/// Seconds in the run.
const SECONDS: u64 = 3_600;

fn hour_long_run() -> RunResult {
    let mut r = RunResult {
        scenario: "audit-flood-soak".into(),
        run_id: "audit-flood-soak-1-abc".into(),
        measured_s: SECONDS as f64,
        drained: true,
        histogram_logs: vec!["ack.hlog".into(), "e2e.hlog".into()],
        ..RunResult::default()
    };
    // Full histograms: values from 100 µs to minutes, every bucket of the range in use.
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
    let mut v = 100u64;
    for _ in 0..1_000_000 {
        v = (v * 1_103_515_245 + 12_345) % 120_000_000 + 100;
        h.record_n(v, 100).expect("in range");
    }
    r.latency_spectrum.ack = spectrum(&h);
    r.latency_spectrum.e2e = spectrum(&h);
    r.timeline = (0..SECONDS)
        .map(|t| Second {
            t,
            sent: 8_000 + t % 97,
            acked: 8_000 - t % 89,
            errors: 0,
            consumed: 7_990 + t % 31,
            ack_p99_us: 4_000 + (t * 7_919) % 40_000,
            e2e_p99_us: 9_000 + (t * 104_729) % 80_000,
            faults: Vec::new(),
        })
        .collect();
    r.faults = (0..SECONDS / 600)
        .map(|i| Fault {
            at_s: (i * 600 + 300) as f64,
            action: "kill".into(),
            target: format!("leader of audit-events/{i}"),
            outcome: "ok".into(),
            took_s: 20.0,
        })
        .collect();
    r.group = Some(GroupReport {
        protocol: "audit-indexer: classic".into(),
        rebalances: 12,
        unassigned_partition_s: 80.0,
        changes: (0..240)
            .map(|i| GroupChange {
                at_s: i as f64 * 15.0,
                consumer: i % 4,
                change: "assigned".into(),
                partitions: 12,
            })
            .collect(),
    });
    r.partition_counts = (0..48)
        .map(|p| (format!("audit-events/{p}"), 600_000 + p * 1_000))
        .collect();
    r
}

fn render(c: &mut Criterion) {
    let result = hour_long_run();
    let html = kafka_harness::report::html::render(&result, None).expect("renders");
    println!(
        "report of a {SECONDS}-second run: {} bytes ({:.0}% of 1 MB), {} spectrum points",
        html.len(),
        html.len() as f64 / 10_000.0,
        result.latency_spectrum.ack.len()
    );
    let mut group = c.benchmark_group("html_report");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("render_one_hour_run", |b| {
        b.iter(|| kafka_harness::report::html::render(black_box(&result), None).map(|s| s.len()))
    });
    group.finish();
}

criterion::criterion_group!(benches, render);
criterion::criterion_main!(benches);
