//! A sweep's outputs: `sweep.json` (every step and the answer), `sweep.html` (latency
//! against achieved throughput, the SLO lines, the answer marked, a link to each step's
//! report) and the terminal table.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Interrupted, RunResult};
use crate::check::Verdict;
use crate::scenario::sweep::GridPoint;
use crate::scenario::{LatencyMetric, Slo};

/// One step of a sweep: one run at one offered rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepStep {
    /// Offered total messages per second.
    pub offered: f64,
    /// Acknowledged messages per second.
    pub achieved: f64,
    /// The run's verdict.
    pub verdict: Verdict,
    /// The checks and SLOs that did not pass.
    pub not_passed: Vec<String>,
    /// Ack latency p50, p99, p99.9 (µs).
    pub ack_us: [u64; 3],
    /// End-to-end latency p50, p99, p99.9 (µs).
    pub e2e_us: [u64; 3],
    /// Send delay p99 (µs): how late the generator sent.
    pub send_delay_p99_us: u64,
    /// The harness, not the cluster, fell behind (see `run::sweep::generator_limited`).
    pub generator_limited: bool,
    /// The step's run folder, relative to the sweep's.
    pub run: String,
    /// The grid point it ran at (an index into `grid`; 0 without a grid).
    #[serde(default)]
    pub point: usize,
    /// The sweep's first step, which warms the cluster and is not counted.
    #[serde(default)]
    pub warmup: bool,
    /// Nodes found down after this step and restarted before the next, with their state.
    #[serde(default)]
    pub restarted: Vec<String>,
}

impl SweepStep {
    /// The step of `result`, a run at `offered` msgs/s in `run_dir` inside `sweep_dir`.
    pub fn of(
        offered: f64,
        result: &RunResult,
        generator_limited: bool,
        run_dir: &Path,
        sweep_dir: &Path,
    ) -> SweepStep {
        let l = &result.latency_us;
        SweepStep {
            offered,
            achieved: result.throughput.produced_msgs_per_s,
            verdict: result.verdict,
            not_passed: result
                .checks
                .iter()
                .filter(|c| c.verdict != Verdict::Pass)
                .map(|c| c.name.clone())
                .collect(),
            ack_us: [l.ack.p50, l.ack.p99, l.ack.p999],
            e2e_us: [l.e2e.p50, l.e2e.p99, l.e2e.p999],
            send_delay_p99_us: l.send_delay.p99,
            generator_limited,
            run: run_dir
                .strip_prefix(sweep_dir)
                .unwrap_or(run_dir)
                .display()
                .to_string(),
            point: 0,
            warmup: false,
            restarted: Vec::new(),
        }
    }
}

/// One grid point's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridResult {
    /// Its index, as the steps name it.
    pub point: usize,
    /// What it changes, in words (empty without a grid).
    pub label: String,
    /// What it changes.
    pub settings: GridPoint,
    /// What its sweep found.
    pub answer: SweepAnswer,
}

/// A latency bound of the scenario, drawn on the chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloLine {
    /// As written in the scenario, e.g. `e2e_p99`.
    pub name: String,
    /// The bound in milliseconds.
    pub max_ms: f64,
}

impl SloLine {
    /// The ack and end-to-end latency bounds among `slos` (the chart's latencies).
    pub fn of(slos: &[Slo]) -> Vec<SloLine> {
        slos.iter()
            .filter_map(|slo| match slo {
                Slo::Latency { metric, max, .. } if *metric != LatencyMetric::SendDelay => {
                    Some(SloLine {
                        name: slo.name(),
                        max_ms: max.as_secs_f64() * 1000.0,
                    })
                }
                _ => None,
            })
            .collect()
    }
}

/// What a sweep found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepAnswer {
    /// The highest offered rate that passed (every time it ran).
    pub highest_passing: Option<f64>,
    /// The lowest offered rate that failed (or was generator-limited).
    pub first_failing: Option<f64>,
    /// The first failing rate is where the harness, not the cluster, fell behind.
    pub generator_limited: bool,
    /// The answer in words.
    pub note: String,
}

/// `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// Scenario name.
    pub scenario: String,
    /// The sweep's folder name.
    pub sweep_id: String,
    /// How rates were chosen (`{"search": {from, to, precision}}` or `{"ladder": {rates}}`).
    pub mode: serde_json::Value,
    /// Every step, in the order run.
    pub steps: Vec<SweepStep>,
    /// The answer: with a grid, the weakest point's (the lowest highest passing rate).
    pub answer: SweepAnswer,
    /// Each grid point's answer (one point without a grid).
    #[serde(default)]
    pub grid: Vec<GridResult>,
    /// The scenario's ack and end-to-end latency bounds.
    #[serde(default)]
    pub slo: Vec<SloLine>,
    /// Why the sweep stopped before its end, other than a signal (a node it could not
    /// restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Set when a signal stopped the sweep early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interrupted>,
}

impl SweepResult {
    /// Whether it has more than one grid point.
    fn has_grid(&self) -> bool {
        self.grid.len() > 1
    }
}

/// Writes `sweep.json` into `dir`.
pub fn write_json(result: &SweepResult, dir: &Path) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(result).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("sweep.json"), json)
}

/// The terminal table: one line per step (grouped by grid point), then the answers.
pub fn table(result: &SweepResult) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    let mut out = format!(
        "\nSWEEP  {}\n\n  {:>10} {:>10}  {:>8} {:>9} {:>9} {:>9}  {}\n",
        result.scenario,
        "offered/s",
        "achieved/s",
        "verdict",
        "ack p99",
        "e2e p99",
        "delay p99",
        "not passed"
    );
    let mut point = None;
    for s in &result.steps {
        if result.has_grid() && point != Some(s.point) {
            point = Some(s.point);
            let label = result.grid.get(s.point).map_or("", |g| g.label.as_str());
            let _ = writeln!(out, "  [{}] {label}", s.point + 1);
        }
        let notes = step_notes(s);
        let _ = writeln!(
            out,
            "  {:>10.0} {:>10.0}  {:>8} {:>7.1}ms {:>7.1}ms {:>7.1}ms  {}{}",
            s.offered,
            s.achieved,
            s.verdict.to_string(),
            ms(s.ack_us[1]),
            ms(s.e2e_us[1]),
            ms(s.send_delay_p99_us),
            s.not_passed.join(", "),
            if notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", notes.join("; "))
            }
        );
    }
    if result.has_grid() {
        let _ = writeln!(out, "\n  capacity:");
        for g in &result.grid {
            let _ = writeln!(out, "  [{}] {}: {}", g.point + 1, g.label, g.answer.note);
        }
    }
    if let Some(why) = &result.stopped {
        let _ = writeln!(out, "\n  stopped: {why}");
    }
    let _ = writeln!(out, "\n  answer: {}", result.answer.note);
    out
}

/// What the table and the page say of a step beside its figures: warm-up, generator-limited,
/// nodes restarted after it.
fn step_notes(s: &SweepStep) -> Vec<String> {
    let mut notes = Vec::new();
    if s.warmup {
        notes.push("warm-up, not counted".to_owned());
    }
    if s.generator_limited {
        notes.push("generator-limited".to_owned());
    }
    if !s.restarted.is_empty() {
        notes.push(format!("restarted {}", s.restarted.join(", ")));
    }
    notes
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A chart's series: its name, its colour and its value of a step (µs).
type Series = (&'static str, &'static str, fn(&SweepStep) -> u64);

/// One point's chart: latency (log scale) against achieved throughput, one polyline per
/// series, the SLO bounds as horizontal lines and the highest passing rate as a vertical one.
fn chart(steps: &[&SweepStep], answer: &SweepAnswer, slo: &[SloLine], point: usize) -> String {
    let (w, h, pad) = (720.0, 360.0, 50.0);
    let max_x = steps
        .iter()
        .map(|s| s.achieved.max(s.offered))
        .fold(1.0, f64::max);
    let max_y = steps
        .iter()
        .map(|s| s.e2e_us[2].max(s.ack_us[2]) as f64 / 1000.0)
        .chain(slo.iter().map(|l| l.max_ms))
        .fold(1.0, f64::max);
    // Log scale for latency: knees show as a bend, not a wall.
    let y = |ms: f64| {
        h - pad - (ms.max(0.1) / 0.1).log10() / (max_y.max(0.2) / 0.1).log10() * (h - 2.0 * pad)
    };
    let x = |v: f64| pad + v / max_x * (w - 2.0 * pad);
    let mut sorted = steps.to_vec();
    sorted.sort_by(|a, b| a.achieved.total_cmp(&b.achieved));
    let mut svg = format!(
        "<svg class=\"chart\" data-point=\"{point}\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"latency against throughput\">\
         <line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>\
         <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"#888\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">achieved msgs/s (max {max_x:.0})</text>\
         <text x=\"12\" y=\"{pad}\">ms (log)</text>",
        h - pad,
        w - pad,
        h - pad,
        h - pad,
        w / 2.0,
        h - 12.0
    );
    let series: [Series; 4] = [
        ("ack p99", "#1f77b4", |s| s.ack_us[1]),
        ("e2e p50", "#2ca02c", |s| s.e2e_us[0]),
        ("e2e p99", "#d62728", |s| s.e2e_us[1]),
        ("e2e p99.9", "#9467bd", |s| s.e2e_us[2]),
    ];
    for (i, (name, color, value)) in series.iter().enumerate() {
        let points: Vec<String> = sorted
            .iter()
            .map(|s| format!("{:.1},{:.1}", x(s.achieved), y(value(s) as f64 / 1000.0)))
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"series\" data-series=\"{name}\" fill=\"none\" stroke=\"{color}\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>",
            points.join(" "),
            w - pad - 80.0,
            pad + 14.0 * i as f64
        );
    }
    for line in slo {
        let _ = write!(
            svg,
            "<line class=\"slo\" data-slo=\"{0}\" x1=\"{pad}\" y1=\"{1:.1}\" x2=\"{2}\" y2=\"{1:.1}\" stroke=\"#e67e22\" stroke-dasharray=\"6 3\"/>\
             <text x=\"{3}\" y=\"{4:.1}\" fill=\"#e67e22\">SLO {0} {5} ms</text>",
            esc(&line.name),
            y(line.max_ms),
            w - pad,
            pad + 6.0,
            y(line.max_ms) - 4.0,
            line.max_ms
        );
    }
    if let Some(best) = answer.highest_passing {
        let _ = write!(
            svg,
            "<line class=\"answer\" x1=\"{0:.1}\" y1=\"{pad}\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{0:.1}\" y=\"{2}\">highest passing {best:.0}/s</text>",
            x(best),
            h - pad,
            pad - 6.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `sweep.html`: per grid point, latency (p50, p99, p99.9; ack and end-to-end) against
/// achieved throughput with the SLO bounds and the answer marked; the capacity table of a
/// grid; and every step, linking its own report.
pub fn html(result: &SweepResult) -> String {
    let mut sections = String::new();
    let points: Vec<(usize, String, &SweepAnswer)> = if result.grid.is_empty() {
        vec![(0, String::new(), &result.answer)]
    } else {
        result
            .grid
            .iter()
            .map(|g| (g.point, g.label.clone(), &g.answer))
            .collect()
    };
    for (point, label, answer) in &points {
        let steps: Vec<&SweepStep> = result
            .steps
            .iter()
            .filter(|s| s.point == *point && !s.warmup)
            .collect();
        if result.has_grid() {
            let _ = write!(
                sections,
                "<h2>[{}] {}</h2><p class=\"point-answer\">{}</p>",
                point + 1,
                esc(label),
                esc(&answer.note)
            );
        }
        sections.push_str(&chart(&steps, answer, &result.slo, *point));
    }
    let mut capacity = String::new();
    if result.has_grid() {
        capacity.push_str(
            "<h2>Capacity</h2><table id=\"capacity\"><thead><tr><th>point</th><th>settings</th>\
             <th>highest passing/s</th><th>first failing/s</th><th>answer</th></tr></thead><tbody>",
        );
        let rate = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.0}"));
        for g in &result.grid {
            let _ = write!(
                capacity,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                g.point + 1,
                esc(&g.label),
                rate(g.answer.highest_passing),
                rate(g.answer.first_failing),
                esc(&g.answer.note)
            );
        }
        capacity.push_str("</tbody></table>");
    }
    let mut rows = String::new();
    for s in &result.steps {
        let mut notes = vec![s.not_passed.join(", ")];
        notes.extend(step_notes(s));
        notes.retain(|n| !n.is_empty());
        let notes: Vec<String> = notes.iter().map(|n| esc(n)).collect();
        let _ = write!(
            rows,
            "<tr class=\"v-{}\"><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td><a href=\"{}/report.html\">report</a></td></tr>",
            s.verdict,
            s.point + 1,
            s.offered,
            s.achieved,
            s.verdict,
            s.ack_us[1] as f64 / 1000.0,
            s.e2e_us[1] as f64 / 1000.0,
            s.send_delay_p99_us as f64 / 1000.0,
            notes.join("; "),
            esc(&s.run)
        );
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>sweep: {name}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse}}\
         td,th{{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:right}}.v-fail td{{color:#b00}}</style></head>\
         <body><h1>Sweep: {name}</h1><p id=\"answer\">{answer}</p>{interrupted}{stopped}{sections}{capacity}\
         <h2>Steps</h2><table id=\"steps\"><thead><tr><th>point</th><th>offered/s</th><th>achieved/s</th><th>verdict</th><th>ack p99 ms</th><th>e2e p99 ms</th><th>send delay p99 ms</th><th>notes</th><th></th></tr></thead>\
         <tbody>{rows}</tbody></table></body></html>\n",
        name = esc(&result.scenario),
        answer = esc(&result.answer.note),
        interrupted = result
            .interrupted
            .as_ref()
            .map_or(String::new(), |i| format!(
                "<p id=\"interrupted\">INTERRUPTED by {}: the sweep stopped early.</p>",
                esc(&i.signal)
            )),
        stopped = result.stopped.as_ref().map_or(String::new(), |why| format!(
            "<p id=\"stopped\">STOPPED: {}</p>",
            esc(why)
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(offered: f64, verdict: Verdict) -> SweepStep {
        SweepStep {
            offered,
            achieved: offered * 0.99,
            verdict,
            not_passed: if verdict == Verdict::Pass {
                Vec::new()
            } else {
                vec!["e2e_p99".into()]
            },
            ack_us: [2_000, 9_000, 20_000],
            e2e_us: [3_000, 12_000, 40_000],
            send_delay_p99_us: 500,
            generator_limited: false,
            run: format!("s-{offered}"),
            point: 0,
            warmup: false,
            restarted: Vec::new(),
        }
    }

    fn answer(low: f64, high: f64) -> SweepAnswer {
        SweepAnswer {
            highest_passing: Some(low),
            first_failing: Some(high),
            generator_limited: false,
            note: format!("{low:.0}/s passes, {high:.0}/s does not"),
        }
    }

    #[test]
    fn the_page_and_the_table_show_every_step_and_the_answer() {
        let result = SweepResult {
            scenario: "cap <audit>".into(),
            sweep_id: "cap-sweep-1".into(),
            mode: serde_json::json!({"search": {"from": 1000.0, "to": 8000.0, "precision": 0.05}}),
            steps: vec![
                step(1_000.0, Verdict::Pass),
                step(8_000.0, Verdict::Fail),
                step(2_828.0, Verdict::Pass),
            ],
            answer: answer(2_828.0, 8_000.0),
            grid: Vec::new(),
            slo: vec![SloLine {
                name: "e2e_p99".into(),
                max_ms: 50.0,
            }],
            stopped: None,
            interrupted: None,
        };
        let page = html(&result);
        assert!(page.contains("cap &lt;audit&gt;") && !page.contains("<audit>"));
        assert_eq!(page.matches("<polyline class=\"series\"").count(), 4);
        assert!(page.contains("highest passing 2828/s"));
        assert!(page.contains("SLO e2e_p99 50 ms"), "the SLO line is drawn");
        assert_eq!(page.matches("/report.html\"").count(), 3);
        let t = table(&result);
        assert!(t.contains("answer: 2828/s passes, 8000/s does not"), "{t}");
        let rows = t
            .lines()
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count();
        assert_eq!(rows, 3, "{t}");
        let back: SweepResult =
            serde_json::from_str(&serde_json::to_string(&result).unwrap()).unwrap();
        assert_eq!(back, result);
    }

    #[test]
    fn a_grid_has_a_chart_and_an_answer_per_point() {
        let mut steps = vec![step(1_000.0, Verdict::Pass), step(2_000.0, Verdict::Fail)];
        steps[0].warmup = true;
        let mut second = vec![step(1_000.0, Verdict::Pass), step(4_000.0, Verdict::Fail)];
        for s in &mut second {
            s.point = 1;
        }
        second[1].restarted = vec!["node 1 (stopped)".into()];
        steps.extend(second);
        let point = |i: usize, size: usize, a: SweepAnswer| GridResult {
            point: i,
            label: format!("size={size}B"),
            settings: GridPoint {
                size: Some(size),
                ..GridPoint::default()
            },
            answer: a,
        };
        let result = SweepResult {
            scenario: "cap".into(),
            sweep_id: "cap-sweep-2".into(),
            mode: serde_json::json!({"ladder": {"rates": [1000.0, 2000.0, 4000.0]}}),
            steps,
            answer: answer(1_000.0, 2_000.0),
            grid: vec![
                point(0, 100, answer(1_000.0, 2_000.0)),
                point(1, 1024, answer(1_000.0, 4_000.0)),
            ],
            slo: Vec::new(),
            stopped: None,
            interrupted: None,
        };
        let page = html(&result);
        assert_eq!(page.matches("<svg class=\"chart\"").count(), 2);
        assert!(page.contains("id=\"capacity\"") && page.contains("size=1024B"));
        assert!(page.contains("warm-up, not counted") && page.contains("restarted node 1"));
        let t = table(&result);
        assert!(
            t.contains("[2] size=1024B: 1000/s passes, 4000/s does not"),
            "{t}"
        );
        assert!(t.contains("(warm-up, not counted)"), "{t}");
        let back: SweepResult =
            serde_json::from_str(&serde_json::to_string(&result).unwrap()).unwrap();
        assert_eq!(back, result);
    }
}
