//! Latency and throughput, measured honestly.
//!
//! Three HDR histograms, in microseconds:
//!
//! ```text
//!   send_delay = actual send − intended send      (how far the sender fell behind schedule)
//!   ack        = acknowledgement − actual send    (what the client waited for the broker)
//!   e2e        = delivery to a consumer − intended send
//! ```
//!
//! End-to-end latency counts from the *intended* send time, so a stalled producer cannot hide
//! its stall (no coordinated omission); the send delay is shown on its own, as OpenMessaging
//! Benchmark does. Only messages intended after the warm-up are recorded. Each second gets its
//! own interval histograms too, for the timeline and the HdrHistogram interval logs: at two
//! significant digits (1 %) with 32-bit counts, made when the second records its first value,
//! so an hour of seconds costs tens of megabytes, not gigabytes (at three digits and 64-bit
//! counts a second's pair took 368 KiB).

use std::io::Write;
use std::path::Path;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use serde::{Deserialize, Serialize};

/// The largest latency recorded exactly (one hour); larger values are clamped.
const MAX_US: u64 = 3_600_000_000;

/// Percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest value.
    pub max: u64,
}

/// One point of a latency percentile spectrum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SpectrumPoint {
    /// Percentile, 0 to 100.
    pub percentile: f64,
    /// Latency at that percentile, in microseconds.
    pub value_us: u64,
}

/// The percentile spectrum of `h`, as HdrHistogram plots it: points that halve the distance
/// to 100% (50, 75, 87.5, ...), five per halving, ending at the maximum. Empty when `h` is.
pub fn spectrum(h: &Histogram<u64>) -> Vec<SpectrumPoint> {
    let mut points: Vec<SpectrumPoint> = Vec::new();
    if h.is_empty() {
        return points;
    }
    for v in h.iter_quantiles(5) {
        let point = SpectrumPoint {
            percentile: v.quantile_iterated_to() * 100.0,
            value_us: h.highest_equivalent(v.value_iterated_to()),
        };
        if points
            .last()
            .is_none_or(|p| p.percentile < point.percentile)
        {
            points.push(point);
        }
        if point.percentile >= 100.0 {
            break;
        }
    }
    points
}

#[allow(
    clippy::expect_used,
    reason = "constant bounds, which hdrhistogram accepts"
)]
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

/// A per-second histogram: two significant digits, 32-bit counts (a second holds fewer than
/// 4 billion values).
type IntervalHistogram = Histogram<u32>;

#[allow(
    clippy::expect_used,
    reason = "constant bounds, which hdrhistogram accepts"
)]
fn new_interval() -> IntervalHistogram {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("valid histogram bounds")
}

/// Records `value` in a second's histogram, making it on first use.
fn record_interval(slot: &mut Option<IntervalHistogram>, value: u64) {
    let _ = slot.get_or_insert_with(new_interval).record(value);
}

/// The 99th percentile of a second's histogram; 0 when it has none.
fn interval_p99(slot: &Option<IntervalHistogram>) -> u64 {
    slot.as_ref().map_or(0, |h| h.value_at_quantile(0.99))
}

/// Percentiles of `h`.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    Percentiles {
        count: h.len(),
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    }
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since the run started.
    pub t: u64,
    /// Sends invoked.
    pub sent: u64,
    /// Sends acknowledged.
    pub acked: u64,
    /// Sends failed or indeterminate.
    pub errors: u64,
    /// Records delivered to consumers.
    pub consumed: u64,
    /// 99th percentile ack latency of the acks in this second (µs).
    pub ack_p99_us: u64,
    /// 99th percentile end-to-end latency of the deliveries in this second (µs).
    pub e2e_p99_us: u64,
    /// Faults applied in this second, as `action target`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
}

/// The three latency histograms, cumulative and per second.
#[derive(Debug)]
pub struct Recorder {
    /// Cumulative histograms: ack, e2e, send delay.
    pub ack: Histogram<u64>,
    /// See [`Recorder::ack`].
    pub e2e: Histogram<u64>,
    /// See [`Recorder::ack`].
    pub send_delay: Histogram<u64>,
    /// Interval histograms per second: (ack, e2e), each made on its first value.
    intervals: Vec<(Option<IntervalHistogram>, Option<IntervalHistogram>)>,
    /// The per-second timeline.
    pub timeline: Vec<Second>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            ack: new_histogram(),
            e2e: new_histogram(),
            send_delay: new_histogram(),
            intervals: Vec::new(),
            timeline: Vec::new(),
        }
    }
}

impl Recorder {
    fn second(&mut self, at_us: u64) -> usize {
        let s = (at_us / 1_000_000) as usize;
        while self.timeline.len() <= s {
            let t = self.timeline.len() as u64;
            self.timeline.push(Second {
                t,
                ..Second::default()
            });
            self.intervals.push((None, None));
        }
        s
    }

    /// A send was invoked at `sent_us` (run time); counted in the timeline.
    pub fn sent(&mut self, sent_us: u64) {
        let s = self.second(sent_us);
        self.timeline[s].sent += 1;
    }

    /// A send completed; `measured` says whether it counts towards the figures.
    pub fn completed(
        &mut self,
        ok: bool,
        delay_us: u64,
        ack_us: u64,
        done_us: u64,
        measured: bool,
    ) {
        let s = self.second(done_us);
        if !ok {
            self.timeline[s].errors += 1;
            return;
        }
        self.timeline[s].acked += 1;
        let ack_us = ack_us.clamp(1, MAX_US);
        record_interval(&mut self.intervals[s].0, ack_us);
        if measured {
            let _ = self.ack.record(ack_us);
            let _ = self.send_delay.record(delay_us.clamp(1, MAX_US));
        }
    }

    /// A record was delivered at `at_us` with end-to-end latency `e2e_us`.
    pub fn delivered(&mut self, at_us: u64, e2e_us: Option<u64>, measured: bool) {
        let s = self.second(at_us);
        self.timeline[s].consumed += 1;
        if let Some(e2e) = e2e_us {
            self.end_to_end(at_us, e2e, measured);
        }
    }

    /// Records the end-to-end latency of a delivery at `at_us` already counted by
    /// [`delivered`](Self::delivered) without one (its record carried no stamp, and its
    /// message was found through the Log after the run). Call before [`finish`](Self::finish).
    pub fn end_to_end(&mut self, at_us: u64, e2e_us: u64, measured: bool) {
        let s = self.second(at_us);
        let e2e = e2e_us.clamp(1, MAX_US);
        record_interval(&mut self.intervals[s].1, e2e);
        if measured {
            let _ = self.e2e.record(e2e);
        }
    }

    /// The 99th percentile ack latency of the latest second with acks, for progress lines.
    pub fn recent_ack_p99(&self) -> u64 {
        self.intervals
            .iter()
            .rev()
            .find_map(|(ack, _)| ack.as_ref().filter(|h| !h.is_empty()))
            .map_or(0, |h| h.value_at_quantile(0.99))
    }

    /// Fills each second's p99 from its interval histograms.
    pub fn finish(&mut self) {
        for (second, (ack, e2e)) in self.timeline.iter_mut().zip(&self.intervals) {
            second.ack_p99_us = interval_p99(ack);
            second.e2e_p99_us = interval_p99(e2e);
        }
    }

    /// Writes the per-second ack and e2e histograms as HdrHistogram interval logs
    /// (`ack.hlog`, `e2e.hlog`) in `dir`, readable by HdrHistogram's own tools.
    pub fn write_logs(&self, dir: &Path, start_epoch_s: f64) -> std::io::Result<()> {
        for (name, pick) in [("ack", 0usize), ("e2e", 1)] {
            let mut file =
                std::io::BufWriter::new(std::fs::File::create(dir.join(format!("{name}.hlog")))?);
            let mut serializer = V2DeflateSerializer::new();
            let mut writer = IntervalLogWriterBuilder::new()
                .with_base_time(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(start_epoch_s),
                )
                .with_start_time(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(start_epoch_s),
                )
                .with_max_value_divisor(1000.0)
                .add_comment(&format!("kafka-harness {name} latency, microseconds"))
                .begin_log_with(&mut file, &mut serializer)
                .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
            for (t, pair) in self.intervals.iter().enumerate() {
                let slot = if pick == 0 { &pair.0 } else { &pair.1 };
                let Some(h) = slot.as_ref().filter(|h| !h.is_empty()) else {
                    continue;
                };
                writer
                    .write_histogram(
                        h,
                        std::time::Duration::from_secs(t as u64),
                        std::time::Duration::from_secs(1),
                        None,
                    )
                    .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
            }
            drop(writer);
            file.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_measured_values_only_and_fills_the_timeline() {
        let mut r = Recorder::default();
        r.sent(100);
        r.completed(true, 5, 1_000, 1_500_000, true);
        r.completed(true, 5, 9_000, 1_600_000, false);
        r.completed(false, 0, 0, 2_100_000, true);
        r.delivered(2_200_000, Some(3_000), true);
        r.finish();
        assert_eq!(r.ack.len(), 1);
        assert_eq!(r.timeline.len(), 3);
        assert_eq!(r.timeline[0].sent, 1);
        assert_eq!(r.timeline[1].acked, 2);
        assert_eq!(r.timeline[2].errors, 1);
        assert_eq!(r.timeline[2].consumed, 1);
        assert!(r.timeline[1].ack_p99_us >= 8_990);
        let p = percentiles(&r.e2e);
        assert_eq!(p.count, 1);
        assert!((2_990..=3_010).contains(&p.p50));
    }

    #[test]
    fn spectrum_climbs_to_the_maximum() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let s = spectrum(&h);
        assert!(s.len() > 20, "{} points", s.len());
        assert!(s.windows(2).all(|w| w[0].percentile < w[1].percentile));
        assert!(s.windows(2).all(|w| w[0].value_us <= w[1].value_us));
        let last = s.last().unwrap();
        assert_eq!(last.percentile, 100.0);
        assert!(last.value_us >= 9_990);
        assert!(spectrum(&new_histogram()).is_empty());
    }

    #[test]
    fn interval_logs_round_trip() {
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        let mut r = Recorder::default();
        for i in 0..3_000u64 {
            r.completed(true, 1, 100 + i, i * 1_000, true);
        }
        let dir = tempfile::tempdir().unwrap();
        r.write_logs(dir.path(), 1_700_000_000.0).unwrap();
        let text = std::fs::read(dir.path().join("ack.hlog")).unwrap();
        let intervals = IntervalLogIterator::new(&text)
            .filter_map(|e| match e {
                Ok(LogEntry::Interval(i)) => Some(i),
                _ => None,
            })
            .count();
        assert_eq!(intervals, 3);
    }
}
