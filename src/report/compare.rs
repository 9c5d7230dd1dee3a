//! `kafka-harness compare`: the regression gate between two results of one scenario.
//!
//! ```text
//!   baseline result.json ─┐
//!   current result.json ──┴─> one row per metric: baseline, current, change, limit ─> exit 0 / 1
//! ```
//!
//! Throughput regresses when it falls, latency when it rises. Each metric's limit is the
//! current result's `regression_limits` entry for it, else the command line's
//! `--max-regression`. A baseline of zero cannot regress and is shown as such.

use std::fmt::Write;

use crate::history::latency::Percentiles;
use crate::report::RunResult;

/// The metrics compared, by the names `regression_limits` uses.
pub use crate::scenario::REGRESSION_METRICS as METRICS;

/// One metric in both results.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Its name, from [`METRICS`].
    pub metric: &'static str,
    /// The baseline's value (msgs/s or µs).
    pub baseline: f64,
    /// The current value.
    pub current: f64,
    /// How much worse the current value is, as a fraction of the baseline (negative: better).
    pub regression: f64,
    /// The largest regression allowed.
    pub limit: f64,
}

impl Row {
    /// Whether the current value is worse than the limit allows.
    pub fn regressed(&self) -> bool {
        self.regression > self.limit
    }
}

fn value(r: &RunResult, metric: &str) -> f64 {
    let pick = |p: &Percentiles, q: &str| match q {
        "p50" => p.p50,
        "p90" => p.p90,
        "p99" => p.p99,
        "p999" => p.p999,
        _ => p.max,
    } as f64;
    match metric.split_once('_') {
        Some(("ack", q)) => pick(&r.latency_us.ack, q),
        Some(("e2e", q)) => pick(&r.latency_us.e2e, q),
        _ => r.throughput.produced_msgs_per_s,
    }
}

/// Compares `current` with `baseline`; `default_limit` applies to metrics the current
/// result sets no limit for. Metrics measured in neither result (no consumers: no e2e) are
/// left out.
pub fn compare(baseline: &RunResult, current: &RunResult, default_limit: f64) -> Vec<Row> {
    METRICS
        .iter()
        .filter_map(|&metric| {
            let (b, c) = (value(baseline, metric), value(current, metric));
            let measured = |r: &RunResult| match metric.split_once('_') {
                Some(("e2e", _)) => r.latency_us.e2e.count > 0,
                Some(("ack", _)) => r.latency_us.ack.count > 0,
                _ => true,
            };
            if !measured(baseline) && !measured(current) {
                return None;
            }
            let regression = if b <= 0.0 {
                0.0
            } else if metric == "throughput" {
                (b - c) / b
            } else {
                (c - b) / b
            };
            Some(Row {
                metric,
                baseline: b,
                current: c,
                regression,
                limit: current
                    .regression_limits
                    .get(metric)
                    .copied()
                    .unwrap_or(default_limit),
            })
        })
        .collect()
}

/// The comparison as a table for the terminal.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<12} {:>14} {:>14} {:>9} {:>7}  verdict",
        "metric", "baseline", "current", "change", "limit"
    );
    for r in rows {
        let unit = |v: f64| {
            if r.metric == "throughput" {
                format!("{v:.0}/s")
            } else {
                format!("{:.2} ms", v / 1000.0)
            }
        };
        let _ = writeln!(
            out,
            "  {:<12} {:>14} {:>14} {:>+8.1}% {:>6.0}%  {}",
            r.metric,
            unit(r.baseline),
            unit(r.current),
            r.regression * 100.0,
            r.limit * 100.0,
            if r.regressed() { "REGRESSED" } else { "ok" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(throughput: f64, ack_p99: u64, e2e_count: u64) -> RunResult {
        let mut r = RunResult::default();
        r.throughput.produced_msgs_per_s = throughput;
        r.latency_us.ack = Percentiles {
            count: 10,
            p50: 1000,
            p90: 2000,
            p99: ack_p99,
            p999: 9000,
            max: 9000,
        };
        r.latency_us.e2e.count = e2e_count;
        r
    }

    #[test]
    fn identical_results_pass() {
        let r = result(1000.0, 5000, 10);
        let rows = compare(&r, &r, 0.1);
        assert_eq!(rows.len(), METRICS.len());
        assert!(
            rows.iter()
                .all(|row| !row.regressed() && row.regression == 0.0)
        );
    }

    #[test]
    fn slower_or_less_is_a_regression_beyond_the_limit() {
        let baseline = result(1000.0, 5000, 0);
        let slower = result(850.0, 5400, 0);
        let rows = compare(&baseline, &slower, 0.1);
        // No end-to-end latency in either result: those rows are left out.
        assert!(rows.iter().all(|r| !r.metric.starts_with("e2e")));
        let row = |m: &str| rows.iter().find(|r| r.metric == m).unwrap().clone();
        assert!(row("throughput").regressed(), "15% fewer msgs/s");
        assert!((row("throughput").regression - 0.15).abs() < 1e-9);
        assert!(!row("ack_p99").regressed(), "8% slower is within 10%");
        let mut strict = slower.clone();
        strict.regression_limits.insert("ack_p99".into(), 0.05);
        assert!(compare(&baseline, &strict, 0.1)[3].regressed());
        // Faster and more are improvements, negative changes.
        let better = compare(&slower, &baseline, 0.1);
        assert!(better.iter().all(|r| !r.regressed() && r.regression <= 0.0));
        assert!(table(&rows).contains("REGRESSED"));
    }

    #[test]
    fn a_zero_baseline_cannot_regress() {
        let rows = compare(&result(0.0, 0, 0), &result(10.0, 7000, 0), 0.1);
        assert!(rows.iter().all(|r| !r.regressed()));
    }
}
