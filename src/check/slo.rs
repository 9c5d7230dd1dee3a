//! Service-level objectives: the scenario's latency and throughput bounds judged against what
//! the run measured. Like the checkers, pure: the figures in, a [`CheckResult`] per bound out.
//!
//! ```text
//!   [checks.slo] (Plan) + Recorder (HDR histograms) + measured acks and seconds ──> CheckResult
//! ```

use super::CheckResult;
use crate::history::latency::Recorder;
use crate::scenario::{LatencyMetric, Slo};

/// What the measured phase produced, for throughput bounds.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Acknowledged sends intended in the measured phase.
    pub acked: u64,
    /// Seconds of the measured phase.
    pub seconds: f64,
}

/// Judges every SLO: a latency bound against its histogram, a throughput bound against the
/// acknowledged rate. A latency with no values is `unknown`, never a pass.
pub fn judge(slos: &[Slo], latency: &Recorder, measured: Measured) -> Vec<CheckResult> {
    slos.iter()
        .map(|slo| judge_one(slo, latency, measured))
        .collect()
}

fn judge_one(slo: &Slo, latency: &Recorder, measured: Measured) -> CheckResult {
    let (observed, limit, ok, unit, bound) = match *slo {
        Slo::Latency {
            metric,
            percentile,
            max,
        } => {
            let h = match metric {
                LatencyMetric::Ack => &latency.ack,
                LatencyMetric::EndToEnd => &latency.e2e,
                LatencyMetric::SendDelay => &latency.send_delay,
            };
            if h.is_empty() {
                return CheckResult::unknown(slo.name(), "no values were measured".into());
            }
            let value = h.value_at_quantile(percentile / 100.0);
            let limit = max.as_micros() as u64;
            let ms = |us: u64| us as f64 / 1000.0;
            (ms(value), ms(limit), value <= limit, "ms", "limit")
        }
        Slo::MinThroughput(min) => {
            let rate = measured.acked as f64 / measured.seconds;
            (rate, min, rate >= min, "msgs/s", "minimum")
        }
    };
    let detail = format!("observed {observed:.1} {unit}, {bound} {limit:.1} {unit}");
    CheckResult::slo(slo.name(), ok, observed, limit, detail)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::check::Verdict;

    fn p99(max_ms: u64) -> Slo {
        Slo::Latency {
            metric: LatencyMetric::Ack,
            percentile: 99.0,
            max: Duration::from_millis(max_ms),
        }
    }

    #[test]
    fn latency_bounds_pass_at_the_limit_and_fail_above_it() {
        let mut latency = Recorder::default();
        for us in 1..=100u64 {
            latency.completed(true, 0, us * 100, us, true);
        }
        let measured = Measured {
            acked: 100,
            seconds: 1.0,
        };
        let results = judge(&[p99(10), p99(5)], &latency, measured);
        assert_eq!(results[0].verdict, Verdict::Pass, "{}", results[0].detail);
        assert_eq!(results[1].verdict, Verdict::Fail, "{}", results[1].detail);
        assert_eq!(results[1].count, 1);
        assert!(
            results[1].detail.contains("limit 5.0 ms"),
            "{}",
            results[1].detail
        );
    }

    #[test]
    fn no_latency_values_is_unknown_and_throughput_is_acks_per_second() {
        let latency = Recorder::default();
        let measured = Measured {
            acked: 500,
            seconds: 2.0,
        };
        let results = judge(
            &[
                p99(10),
                Slo::MinThroughput(250.0),
                Slo::MinThroughput(251.0),
            ],
            &latency,
            measured,
        );
        assert_eq!(results[0].verdict, Verdict::Unknown);
        assert_eq!(results[1].verdict, Verdict::Pass);
        assert_eq!(results[1].observed, Some(250.0));
        assert_eq!(results[2].verdict, Verdict::Fail);
    }
}
