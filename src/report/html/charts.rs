//! Chart geometry for the HTML report: scales, ticks, paths, bars and markers, computed
//! here as numbers and short labels; the template draws them as inline SVG.
//!
//! ```text
//!   RunResult ─> spectrum()   percentile spectrum, log-scale percentile axis, log latency
//!            ├─> timeline()   msgs/s and p99 per second, faults and rebalances as markers
//!            └─> skew()       records per partition, one bar each
//! ```
//!
//! A series of more points than the plot has pixels is thinned to the lowest and highest
//! value per pixel column, so an hour-long run stays small and keeps its spikes.

use serde::Serialize;

use crate::history::latency::{Second, SpectrumPoint};
use crate::report::{Fault, GroupReport};

/// Width of every chart, in SVG user units (pixels at 100%).
const WIDTH: f64 = 880.0;
/// Space left of the plot for y labels, below it for x labels, and around it.
const LEFT: f64 = 70.0;
const RIGHT: f64 = 18.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 40.0;

/// One chart, ready to draw.
#[derive(Debug, Serialize)]
pub struct Chart {
    /// Element id, for links and the browser test.
    pub id: &'static str,
    /// Heading above the chart.
    pub title: String,
    /// What the chart says, for screen readers and as the SVG `<desc>`.
    pub description: String,
    /// SVG size.
    pub width: f64,
    /// SVG height.
    pub height: f64,
    /// The plot area.
    pub plot: Rect,
    /// X axis ticks.
    pub x_ticks: Vec<Tick>,
    /// Y axis ticks.
    pub y_ticks: Vec<Tick>,
    /// X axis caption.
    pub x_label: String,
    /// Y axis caption.
    pub y_label: String,
    /// Lines.
    pub series: Vec<Series>,
    /// Bars.
    pub bars: Vec<Bar>,
    /// Vertical markers (faults, rebalances).
    pub markers: Vec<Marker>,
}

/// A rectangle in SVG units.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// An axis tick: where, and its label.
#[derive(Debug, Serialize)]
pub struct Tick {
    /// Position along the axis, in SVG units.
    pub at: f64,
    /// Label.
    pub label: String,
}

/// A line: an SVG path (`M x y L x y ...`, restarted after a gap in the data).
#[derive(Debug, Serialize)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// CSS class (its colour).
    pub class: &'static str,
    /// SVG path data.
    pub path: String,
}

/// A bar.
#[derive(Debug, Serialize)]
pub struct Bar {
    /// Geometry.
    pub rect: Rect,
    /// CSS class (its colour).
    pub class: &'static str,
    /// Hover text.
    pub title: String,
}

/// A vertical marker across the plot.
#[derive(Debug, Serialize)]
pub struct Marker {
    /// X position.
    pub x: f64,
    /// Short label drawn at the top ("1", "2", ...); empty for none.
    pub label: String,
    /// Hover text.
    pub title: String,
    /// CSS class: `fault` or `rebalance`.
    pub class: &'static str,
}

/// A linear or base-10 logarithmic map from data to SVG units.
#[derive(Debug, Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
    log: bool,
}

impl Scale {
    fn linear(d0: f64, d1: f64, r0: f64, r1: f64) -> Scale {
        let d1 = if d1 > d0 { d1 } else { d0 + 1.0 };
        Scale {
            d0,
            d1,
            r0,
            r1,
            log: false,
        }
    }

    /// A log scale over whole decades covering `lo..=hi` (both above 0).
    fn log(lo: f64, hi: f64, r0: f64, r1: f64) -> Scale {
        let d0 = lo.max(1.0).log10().floor();
        let d1 = hi.max(1.0).log10().ceil().max(d0 + 1.0);
        Scale {
            d0,
            d1,
            r0,
            r1,
            log: true,
        }
    }

    fn at(&self, v: f64) -> f64 {
        let v = if self.log { v.max(1.0).log10() } else { v };
        let f = ((v - self.d0) / (self.d1 - self.d0)).clamp(0.0, 1.0);
        self.r0 + f * (self.r1 - self.r0)
    }

    /// Ticks of a linear scale at a round step, about five of them.
    fn linear_ticks(&self, label: impl Fn(f64) -> String) -> Vec<Tick> {
        let step = nice_step((self.d1 - self.d0) / 5.0);
        let first = (self.d0 / step).ceil() as i64;
        let last = (self.d1 / step).floor() as i64;
        (first..=last)
            .take(12)
            .map(|i| {
                let v = i as f64 * step;
                Tick {
                    at: self.at(v),
                    label: label(v),
                }
            })
            .collect()
    }

    /// Ticks of a log scale at each decade.
    fn decade_ticks(&self, label: impl Fn(f64) -> String) -> Vec<Tick> {
        (self.d0 as i32..=self.d1 as i32)
            .map(|e| {
                let v = 10f64.powi(e);
                Tick {
                    at: self.at(v),
                    label: label(v),
                }
            })
            .collect()
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// A latency in microseconds, short: `850 µs`, `12 ms`, `1.5 s`.
pub fn duration_us(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        let ms = us / 1_000.0;
        if ms < 10.0 {
            format!("{ms:.1} ms").replace(".0 ", " ")
        } else {
            format!("{ms:.0} ms")
        }
    } else {
        let s = us / 1_000_000.0;
        if s < 10.0 {
            format!("{s:.1} s").replace(".0 ", " ")
        } else {
            format!("{s:.0} s")
        }
    }
}

/// A count, short: `950`, `12k`, `3.4M`.
pub fn count(v: f64) -> String {
    if v < 1_000.0 {
        format!("{v:.0}")
    } else if v < 1_000_000.0 {
        let k = v / 1_000.0;
        if k < 10.0 && k.fract() != 0.0 {
            format!("{k:.1}k")
        } else {
            format!("{k:.0}k")
        }
    } else {
        format!("{:.1}M", v / 1_000_000.0)
    }
}

/// A time axis label in seconds: `90 s`, `15 min`, `1 h`.
fn clock(s: f64) -> String {
    if s < 300.0 {
        format!("{s:.0} s")
    } else if s < 7_200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3_600.0)
    }
}

fn frame(height: f64) -> Rect {
    Rect {
        x: LEFT,
        y: TOP,
        w: WIDTH - LEFT - RIGHT,
        h: height - TOP - BOTTOM,
    }
}

/// Builds path data from points, starting a new stroke after each `None`; when there are
/// more points than pixel columns, keeps each column's lowest and highest point.
fn path(points: impl Iterator<Item = Option<(f64, f64)>>) -> String {
    use std::fmt::Write;
    let mut d = String::new();
    let mut pen_down = false;
    // The pixel column being filled, with its first, lowest and highest y.
    let mut column: Option<(i64, f64, f64, f64, f64)> = None;
    let flush = |d: &mut String, pen_down: &mut bool, c: (i64, f64, f64, f64, f64)| {
        let (_, x, first, lo, hi) = c;
        for y in [first, lo, hi] {
            let _ = write!(d, "{}{x:.1} {y:.1}", if *pen_down { "L" } else { "M" });
            *pen_down = true;
        }
    };
    for p in points {
        match p {
            Some((x, y)) => {
                let px = x.round() as i64;
                column = match column {
                    Some(c) if c.0 == px => Some((px, c.1, c.2, c.3.min(y), c.4.max(y))),
                    Some(c) => {
                        flush(&mut d, &mut pen_down, c);
                        Some((px, x, y, y, y))
                    }
                    None => Some((px, x, y, y, y)),
                };
            }
            None => {
                if let Some(c) = column.take() {
                    flush(&mut d, &mut pen_down, c);
                }
                pen_down = false;
            }
        }
    }
    if let Some(c) = column {
        flush(&mut d, &mut pen_down, c);
    }
    d
}

/// The percentile spectrum of ack and end-to-end latency: percentile on a log axis of
/// "nines" (0%, 90%, 99%, ...), latency on a log axis. `None` when nothing was measured.
pub fn spectrum(ack: &[SpectrumPoint], e2e: &[SpectrumPoint]) -> Option<Chart> {
    let all = || ack.iter().chain(e2e);
    all().next()?;
    // x = number of nines: -log10(1 - q); the 100% point (the maximum) one step past the
    // last decade.
    let nines = |p: &SpectrumPoint| {
        let q = p.percentile / 100.0;
        (q < 1.0).then(|| -(1.0 - q).log10())
    };
    let finite_max = all().filter_map(nines).fold(0.0, f64::max);
    let x_max = finite_max.floor() + 1.0;
    let height = 340.0;
    let plot = frame(height);
    let x = Scale::linear(0.0, x_max, plot.x, plot.x + plot.w);
    let lo = all().map(|p| p.value_us).min().unwrap_or(1) as f64;
    let hi = all().map(|p| p.value_us).max().unwrap_or(1) as f64;
    let y = Scale::log(lo, hi, plot.y + plot.h, plot.y);
    let mut x_ticks: Vec<Tick> = (0..x_max as i32)
        .map(|n| Tick {
            at: x.at(n as f64),
            label: match n {
                0 => "0%".into(),
                n => format!(
                    "{:.*}%",
                    (n as usize).saturating_sub(2),
                    100.0 - 100.0 * 10f64.powi(-n)
                ),
            },
        })
        .collect();
    x_ticks.push(Tick {
        at: x.at(x_max),
        label: "max".into(),
    });
    let line = |points: &[SpectrumPoint]| {
        path(points.iter().map(|p| {
            let n = nines(p).unwrap_or(x_max);
            Some((x.at(n), y.at(p.value_us as f64)))
        }))
    };
    let mut series = Vec::new();
    if !ack.is_empty() {
        series.push(Series {
            name: "ack".into(),
            class: "s-ack",
            path: line(ack),
        });
    }
    if !e2e.is_empty() {
        series.push(Series {
            name: "end to end".into(),
            class: "s-e2e",
            path: line(e2e),
        });
    }
    Some(Chart {
        id: "chart-spectrum",
        title: "Latency by percentile".into(),
        description: "Latency at each percentile, log scales; right is rarer".into(),
        width: WIDTH,
        height,
        plot,
        x_ticks,
        y_ticks: y.decade_ticks(duration_us),
        x_label: "percentile".into(),
        y_label: "latency".into(),
        series,
        bars: Vec::new(),
        markers: Vec::new(),
    })
}

/// Markers of one kind closer than this (SVG units) to the previous one are merged into it.
const MARKER_GAP: f64 = 3.0;
/// A marker's number is drawn only this far (SVG units) from the previous number.
const LABEL_GAP: f64 = 18.0;

/// Faults (numbered as in the report's table) and group changes as markers on a time
/// axis. Markers that would overlap merge, so a fault every second of an hour-long run
/// draws as a few hundred markers, not thousands.
fn markers(faults: &[Fault], group: Option<&GroupReport>, x: &Scale) -> Vec<Marker> {
    let mut out = Vec::new();
    let mut order: Vec<usize> = (0..faults.len()).collect();
    order.sort_by(|&a, &b| faults[a].at_s.total_cmp(&faults[b].at_s));
    let mut last_label = f64::NEG_INFINITY;
    for run in runs(&order, |&i| x.at(faults[i].at_s)) {
        let first = &faults[run[0]];
        let at = x.at(first.at_s);
        let mut title = format!(
            "{}: {} {} at {:.1} s ({})",
            run[0] + 1,
            first.action,
            first.target,
            first.at_s,
            first.outcome
        );
        if run.len() > 1 {
            title.push_str(&format!("; {} more faults here", run.len() - 1));
        }
        let label = if at - last_label >= LABEL_GAP {
            last_label = at;
            (run[0] + 1).to_string()
        } else {
            String::new()
        };
        out.push(Marker {
            x: at,
            label,
            title,
            class: "fault",
        });
    }
    let changes = group.map_or(&[][..], |g| &g.changes[..]);
    for run in runs(changes, |c| x.at(c.at_s)) {
        out.push(Marker {
            x: x.at(run[0].at_s),
            label: String::new(),
            title: match run.len() {
                1 => format!("group change at {:.1} s", run[0].at_s),
                n => format!("{n} group changes from {:.1} s", run[0].at_s),
            },
            class: "rebalance",
        });
    }
    out
}

/// Splits `items` (in ascending position) into runs whose members lie within
/// [`MARKER_GAP`] of the run's first.
fn runs<T>(items: &[T], position: impl Fn(&T) -> f64) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=items.len() {
        if i == items.len() || position(&items[i]) - position(&items[start]) >= MARKER_GAP {
            out.push(&items[start..i]);
            start = i;
        }
    }
    out
}

/// Throughput and p99 latency per second, two charts on one time axis, with faults and
/// rebalances marked on both. Empty when the timeline is.
pub fn timeline(seconds: &[Second], faults: &[Fault], group: Option<&GroupReport>) -> Vec<Chart> {
    let Some(last) = seconds.last() else {
        return Vec::new();
    };
    let end = (last.t + 1) as f64;
    let height = 260.0;
    let plot = frame(height);
    let x = Scale::linear(0.0, end, plot.x, plot.x + plot.w);
    let x_ticks = || x.linear_ticks(clock);

    let peak = seconds
        .iter()
        .map(|s| s.sent.max(s.acked).max(s.consumed))
        .max()
        .unwrap_or(0) as f64;
    let y = Scale::linear(0.0, peak.max(1.0) * 1.05, plot.y + plot.h, plot.y);
    let rate = |name: &str, class, get: fn(&Second) -> u64| Series {
        name: name.into(),
        class,
        path: path(
            seconds
                .iter()
                .map(|s| Some((x.at(s.t as f64 + 0.5), y.at(get(s) as f64)))),
        ),
    };
    let mut rates = vec![
        rate("sent", "s-sent", |s| s.sent),
        rate("acked", "s-ack", |s| s.acked),
    ];
    if seconds.iter().any(|s| s.consumed > 0) {
        rates.push(rate("consumed", "s-consumed", |s| s.consumed));
    }
    let throughput = Chart {
        id: "chart-throughput",
        title: "Throughput".into(),
        description: "Messages per second sent, acknowledged and consumed over the run".into(),
        width: WIDTH,
        height,
        plot,
        x_ticks: x_ticks(),
        y_ticks: y.linear_ticks(count),
        x_label: "time since start".into(),
        y_label: "msgs/s".into(),
        series: rates,
        bars: Vec::new(),
        markers: markers(faults, group, &x),
    };

    let latencies = seconds
        .iter()
        .flat_map(|s| [s.ack_p99_us, s.e2e_p99_us])
        .filter(|&v| v > 0);
    let (lo, hi) = latencies.fold((u64::MAX, 0), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let y = Scale::log(lo.min(hi) as f64, hi as f64, plot.y + plot.h, plot.y);
    let p99 = |name: &str, class, get: fn(&Second) -> u64| Series {
        name: name.into(),
        class,
        // A second without a measurement is a gap in the line, not a zero.
        path: path(seconds.iter().map(|s| {
            let v = get(s);
            (v > 0).then(|| (x.at(s.t as f64 + 0.5), y.at(v as f64)))
        })),
    };
    let mut lines = vec![p99("ack p99", "s-ack", |s| s.ack_p99_us)];
    if seconds.iter().any(|s| s.e2e_p99_us > 0) {
        lines.push(p99("end-to-end p99", "s-e2e", |s| s.e2e_p99_us));
    }
    let latency = Chart {
        id: "chart-latency",
        title: "p99 latency per second".into(),
        description: "The 99th percentile of ack and end-to-end latency, per second, log scale"
            .into(),
        width: WIDTH,
        height,
        plot,
        x_ticks: x_ticks(),
        y_ticks: if hi == 0 {
            Vec::new()
        } else {
            y.decade_ticks(duration_us)
        },
        x_label: "time since start".into(),
        y_label: "p99".into(),
        series: lines,
        bars: Vec::new(),
        markers: markers(faults, group, &x),
    };
    vec![throughput, latency]
}

/// Records per partition in the log, a bar each, grouped by topic: skew shows as uneven
/// bars. `counts` maps `topic/partition` to records. `None` when empty.
pub fn skew(counts: &std::collections::BTreeMap<String, u64>) -> Option<Chart> {
    // (topic, partition, records), by topic then partition number.
    let mut parts: Vec<(&str, i64, u64)> = counts
        .iter()
        .map(|(name, &n)| match name.rsplit_once('/') {
            Some((topic, p)) => (topic, p.parse().unwrap_or(-1), n),
            None => (name.as_str(), -1, n),
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    parts.sort_unstable();
    let height = 240.0;
    let plot = frame(height);
    let topics = {
        let mut t: Vec<&str> = parts.iter().map(|p| p.0).collect();
        t.dedup();
        t
    };
    // One slot per bar, plus one between topics.
    let slots = (parts.len() + topics.len() - 1) as f64;
    let slot = plot.w / slots;
    let peak = parts.iter().map(|p| p.2).max().unwrap_or(0) as f64;
    let y = Scale::linear(0.0, peak.max(1.0) * 1.05, plot.y + plot.h, plot.y);
    let mut bars = Vec::new();
    let mut x_ticks = Vec::new();
    let mut at = 0.0;
    for (i, topic) in topics.iter().enumerate() {
        let first = at;
        for &(_, p, n) in parts.iter().filter(|p| p.0 == *topic) {
            let top = y.at(n as f64);
            bars.push(Bar {
                rect: Rect {
                    x: plot.x + at * slot + slot * 0.1,
                    y: top,
                    w: (slot * 0.8).max(0.5),
                    h: plot.y + plot.h - top,
                },
                class: if i % 2 == 0 { "b-even" } else { "b-odd" },
                title: format!("{topic} partition {p}: {n} records"),
            });
            at += 1.0;
        }
        x_ticks.push(Tick {
            at: plot.x + (first + at) / 2.0 * slot,
            label: topic.to_string(),
        });
        at += 1.0;
    }
    let mean = parts.iter().map(|p| p.2).sum::<u64>() as f64 / parts.len() as f64;
    Some(Chart {
        id: "chart-skew",
        title: "Records per partition".into(),
        description: format!(
            "{} partitions; the fullest holds {:.2}x the mean",
            parts.len(),
            if mean > 0.0 { peak / mean } else { 0.0 }
        ),
        width: WIDTH,
        height,
        plot,
        x_ticks,
        y_ticks: y.linear_ticks(count),
        x_label: "partitions, by topic".into(),
        y_label: "records".into(),
        series: Vec::new(),
        bars,
        markers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(t: u64, sent: u64, p99: u64) -> Second {
        Second {
            t,
            sent,
            acked: sent,
            errors: 0,
            consumed: 0,
            ack_p99_us: p99,
            e2e_p99_us: 0,
            faults: Vec::new(),
        }
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(430.0), 500.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(duration_us(850.0), "850 µs");
        assert_eq!(duration_us(1_500.0), "1.5 ms");
        assert_eq!(duration_us(2_500_000.0), "2.5 s");
        assert_eq!(duration_us(1_000_000.0), "1 s");
        assert_eq!(count(12_000.0), "12k");
        assert_eq!(count(2_500.0), "2.5k");
        assert_eq!(clock(3_600.0), "60 min");
    }

    #[test]
    fn a_gap_restarts_the_line() {
        let d = path([Some((1.0, 5.0)), None, Some((3.0, 6.0))].into_iter());
        assert_eq!(d.matches('M').count(), 2, "{d}");
    }

    #[test]
    fn many_points_are_thinned_to_columns_keeping_spikes() {
        // 36,000 points over 100 pixels: at most three points per column survive, and the
        // one spike is among them.
        let points = (0..36_000).map(|i| {
            let y = if i == 20_000 { 1.0 } else { 50.0 };
            Some((i as f64 / 360.0, y))
        });
        let d = path(points);
        assert!(d.matches(['M', 'L']).count() <= 303, "{}", d.len());
        assert!(d.contains(" 1.0"), "the spike is kept");
    }

    #[test]
    fn the_spectrum_axis_counts_nines_and_ends_at_max() {
        let points = [0.0, 90.0, 99.0, 99.9, 100.0].map(|p| SpectrumPoint {
            percentile: p,
            value_us: 1_000 + p as u64 * 100,
        });
        let c = spectrum(&points, &[]).unwrap();
        let labels: Vec<&str> = c.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "max"]);
        assert_eq!(c.series.len(), 1);
        assert!(spectrum(&[], &[]).is_none());
    }

    #[test]
    fn markers_line_up_with_the_timeline() {
        let seconds: Vec<Second> = (0..100).map(|t| second(t, 1_000, 5_000)).collect();
        let faults = [Fault {
            at_s: 50.0,
            action: "kill".into(),
            target: "node 1".into(),
            outcome: "ok".into(),
            took_s: 0.0,
        }];
        let charts = timeline(&seconds, &faults, None);
        assert_eq!(charts.len(), 2);
        let plot = charts[0].plot;
        let m = &charts[0].markers[0];
        assert!((m.x - (plot.x + plot.w / 2.0)).abs() < 0.01, "{}", m.x);
        assert_eq!(m.label, "1");
        assert!(m.title.contains("kill node 1"));
        assert_eq!(charts[1].markers.len(), 1);
        assert!(timeline(&[], &faults, None).is_empty());
    }

    #[test]
    fn crowded_markers_merge_and_keep_their_numbers() {
        // A fault every second of an hour, out of order: about one marker per 3 px.
        let seconds: Vec<Second> = (0..3_600).map(|t| second(t, 1_000, 5_000)).collect();
        let faults: Vec<Fault> = (0..3_600u64)
            .rev()
            .map(|t| Fault {
                at_s: t as f64,
                action: "pause".into(),
                target: "node 2".into(),
                outcome: "ok".into(),
                took_s: 0.0,
            })
            .collect();
        let charts = timeline(&seconds, &faults, None);
        let m = &charts[0].markers;
        assert!(m.len() < 300 && m.len() > 200, "{} markers", m.len());
        // Sorted by time; the first is the fault at 0 s, number 3600 in the table.
        assert!(m.windows(2).all(|w| w[0].x < w[1].x));
        assert_eq!(m[0].label, "3600");
        assert!(m[0].title.contains("more faults here"));
        let labelled: Vec<f64> = m
            .iter()
            .filter(|m| !m.label.is_empty())
            .map(|m| m.x)
            .collect();
        assert!(labelled.windows(2).all(|w| w[1] - w[0] >= LABEL_GAP));
    }

    #[test]
    fn skew_draws_a_bar_per_partition() {
        let counts = [("a/0", 10), ("a/1", 30), ("a/10", 5), ("b/0", 20)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let c = skew(&counts).unwrap();
        assert_eq!(c.bars.len(), 4);
        // Partitions in numeric order: a/0, a/1, a/10.
        assert!(c.bars[2].title.contains("partition 10"));
        assert_eq!(c.x_ticks.len(), 2);
        // The fullest bar is the tallest.
        let tallest = c.bars.iter().max_by(|a, b| a.rect.h.total_cmp(&b.rect.h));
        assert!(tallest.unwrap().title.contains("partition 1:"));
        assert!(c.description.contains("1.85x"), "{}", c.description);
    }
}
