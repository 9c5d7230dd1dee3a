//! The HTML report: one self-contained `report.html` per run, and an index page over
//! several runs, rendered from [`RunResult`] alone with a template engine (minijinja), so
//! `kafka-harness report result.json` gives the same page later.
//!
//! ```text
//!   RunResult ─> Page (view model: rows, labels, charts::Chart geometry)
//!             ─> templates/report.html (minijinja, HTML auto-escaped) ─> report.html
//!                  extends templates/page.html (head, inlined style.css, footer)
//!   [RunResult] ─> IndexRow ─> templates/index.html ─> index.html
//! ```
//!
//! Every piece of user text reaches the page through the template's auto-escaping; the
//! page loads nothing (no scripts, fonts or images from anywhere), and its charts are
//! inline SVG, so it works as a CI artefact or an e-mail attachment.

pub mod charts;

use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use crate::check::{CheckResult, Example, Verdict};
use crate::report::RunResult;
use charts::Chart;

/// The frame both pages extend.
const PAGE: &str = include_str!("../../../templates/page.html");
/// The report template.
const REPORT: &str = include_str!("../../../templates/report.html");
/// The index template.
const INDEX: &str = include_str!("../../../templates/index.html");
/// The style sheet both pages inline.
const STYLE: &str = include_str!("../../../templates/style.css");

/// Faults listed in the report's table; the rest are counted (all are in result.json).
const MAX_FAULT_ROWS: usize = 200;

/// Rendering failed: a bug in a template, never bad input.
#[derive(Debug, thiserror::Error)]
#[error("could not render the HTML report: {0}")]
pub struct HtmlError(#[from] minijinja::Error);

/// A check as the page shows it.
#[derive(Debug, Serialize)]
struct CheckRow<'a> {
    name: &'a str,
    verdict: &'static str,
    count: u64,
    observed: Option<String>,
    limit: Option<String>,
    detail: &'a str,
    examples: Vec<ExampleRow<'a>>,
}

/// An anomaly example: where it is, and what is wrong.
#[derive(Debug, Serialize)]
struct ExampleRow<'a> {
    key: Option<&'a str>,
    message: Option<String>,
    place: Option<String>,
    consumer: Option<u32>,
    at: Option<String>,
    note: &'a str,
}

impl<'a> ExampleRow<'a> {
    fn new(e: &'a Example) -> ExampleRow<'a> {
        let place = e.topic.as_ref().map(|t| {
            let mut s = t.clone();
            if let Some(p) = e.partition {
                s.push_str(&format!("/{p}"));
            }
            if let Some(o) = e.offset {
                s.push_str(&format!(" @{o}"));
            }
            s
        });
        ExampleRow {
            key: e.key.as_deref(),
            message: match (e.producer, e.seq) {
                (Some(p), Some(s)) => Some(format!("p{p}:{s}")),
                (Some(p), None) => Some(format!("p{p}")),
                _ => None,
            },
            place,
            consumer: e.consumer,
            at: e.time_us.map(|us| format!("{:.3} s", us as f64 / 1e6)),
            note: &e.note,
        }
    }
}

/// A measured or limit value, without trailing zeros.
fn number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

fn check_row(c: &CheckResult) -> CheckRow<'_> {
    CheckRow {
        name: &c.name,
        verdict: c.verdict.as_str(),
        count: c.count,
        observed: c.observed.map(number),
        limit: c.limit.map(number),
        detail: &c.detail,
        examples: c.examples.iter().map(ExampleRow::new).collect(),
    }
}

/// The scenario as run, as TOML (the language it was written in); JSON when a value has
/// no TOML form.
fn plan_text(plan: &serde_json::Value) -> String {
    fn without_nulls(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
            serde_json::Value::Array(a) => a
                .iter()
                .filter(|v| !v.is_null())
                .map(without_nulls)
                .collect(),
            v => v.clone(),
        }
    }
    if plan.is_null() {
        return String::new();
    }
    toml::to_string_pretty(&without_nulls(plan))
        .or_else(|_| serde_json::to_string_pretty(plan))
        .unwrap_or_default()
}

/// A UNIX time as an RFC 3339 UTC timestamp to the second.
fn timestamp(epoch_s: f64) -> String {
    if !(epoch_s.is_finite() && epoch_s > 0.0) {
        return "unknown".into();
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(epoch_s);
    // 2026-11-25T04:57:34Z, read more easily as 2026-11-25 04:57:34 UTC.
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
        .replace('Z', " UTC")
}

/// Files beside the result the page links to, with whether each exists.
#[derive(Debug, Serialize)]
struct Link {
    href: String,
    present: bool,
}

/// An exec process as the page shows it: its fields, and whether its log is there.
#[derive(Debug, Serialize)]
struct ProcessRow<'a> {
    #[serde(flatten)]
    process: &'a crate::report::Process,
    present: bool,
}

fn links(names: &[String], dir: Option<&Path>) -> Vec<Link> {
    names
        .iter()
        .map(|n| Link {
            href: n.clone(),
            present: dir.is_none_or(|d| d.join(n).is_file()),
        })
        .collect()
}

fn environment() -> Result<Environment<'static>, HtmlError> {
    let mut env = Environment::new();
    env.add_template("page.html", PAGE)?;
    env.add_template("report.html", REPORT)?;
    env.add_template("index.html", INDEX)?;
    env.add_filter("us", |v: f64| charts::duration_us(v));
    env.add_filter("num", |v: f64| grouped(v));
    Ok(env)
}

/// A number with thousands separators: `1,234,567`; one decimal below 100.
fn grouped(v: f64) -> String {
    if v.abs() < 100.0 && v.fract() != 0.0 {
        return format!("{v:.1}");
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// Renders the report of one run. `dir`, the folder of its result.json, marks links to
/// files that are not there (a result copied without its logs).
pub fn render(result: &RunResult, dir: Option<&Path>) -> Result<String, HtmlError> {
    let env = environment()?;
    let mut charts: Vec<Chart> = Vec::new();
    charts.extend(charts::spectrum(
        &result.latency_spectrum.ack,
        &result.latency_spectrum.e2e,
    ));
    charts.extend(charts::timeline(
        &result.timeline,
        &result.faults,
        result.group.as_ref(),
    ));
    charts.extend(charts::skew(&result.partition_counts));
    let checks: Vec<CheckRow<'_>> = result.checks.iter().map(check_row).collect();
    let failing = result
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .count();
    let html = env.get_template("report.html")?.render(context! {
        style => Value::from_safe_string(STYLE.to_owned()),
        r => Value::from(Serde(result)),
        verdict => result.verdict.as_str(),
        mock => result.cluster.kind == "mock",
        checks => Value::from(Serde(&checks)),
        failing => failing,
        max_fault_rows => MAX_FAULT_ROWS,
        charts => Value::from(Serde(&charts)),
        plan => plan_text(&result.plan),
        started => timestamp(result.started_at_epoch_s),
        histogram_logs => Value::from(Serde(links(&result.histogram_logs, dir))),
        broker_logs => Value::from(Serde(links(&result.broker_logs, dir))),
        processes => Value::from(Serde(
            result
                .processes
                .iter()
                .map(|p| ProcessRow {
                    process: p,
                    present: dir.is_none_or(|d| d.join(&p.log).is_file()),
                })
                .collect::<Vec<_>>()
        )),
        version => env!("CARGO_PKG_VERSION"),
    })?;
    Ok(html)
}

/// One run on the index page.
#[derive(Debug, Serialize)]
struct IndexRow<'a> {
    scenario: &'a str,
    run_id: &'a str,
    verdict: &'static str,
    href: String,
    cluster: String,
    started: String,
    measured_s: f64,
    acked: u64,
    produced_msgs_per_s: f64,
    ack_p99_us: u64,
    e2e_p99_us: u64,
    failed_checks: Vec<&'a str>,
}

/// Renders an index of several runs, one row each; `hrefs` are the links to their reports.
pub fn render_index(runs: &[(&RunResult, String)]) -> Result<String, HtmlError> {
    let env = environment()?;
    let rows: Vec<IndexRow<'_>> = runs
        .iter()
        .map(|(r, href)| IndexRow {
            scenario: &r.scenario,
            run_id: &r.run_id,
            verdict: r.verdict.as_str(),
            href: href.clone(),
            cluster: format!(
                "{} ×{}{}",
                r.cluster.kind,
                r.cluster.brokers,
                r.cluster
                    .kafka_version
                    .as_deref()
                    .map(|v| format!(", Kafka {v}"))
                    .unwrap_or_default()
            ),
            started: timestamp(r.started_at_epoch_s),
            measured_s: r.measured_s,
            acked: r.counts.acked,
            produced_msgs_per_s: r.throughput.produced_msgs_per_s,
            ack_p99_us: r.latency_us.ack.p99,
            e2e_p99_us: r.latency_us.e2e.p99,
            failed_checks: r
                .checks
                .iter()
                .filter(|c| c.verdict != Verdict::Pass)
                .map(|c| c.name.as_str())
                .collect(),
        })
        .collect();
    let verdict = runs
        .iter()
        .map(|(r, _)| r.verdict)
        .fold(Verdict::Pass, Verdict::combine);
    let html = env.get_template("index.html")?.render(context! {
        style => Value::from_safe_string(STYLE.to_owned()),
        rows => Value::from(Serde(&rows)),
        verdict => verdict.as_str(),
        version => env!("CARGO_PKG_VERSION"),
    })?;
    Ok(html)
}

/// Writes `report.html` into `dir` (the folder of the result) and returns its path.
pub fn write(result: &RunResult, dir: &Path) -> std::io::Result<PathBuf> {
    let html = render(result, Some(dir)).map_err(std::io::Error::other)?;
    let path = dir.join("report.html");
    std::fs::write(&path, html)?;
    Ok(path)
}

/// Writes an index page at `path` (creating its folder) linking each run's `report.html`
/// (in the folder paired with its result) by a path relative to the page.
pub fn write_index(path: &Path, runs: &[(RunResult, PathBuf)]) -> std::io::Result<()> {
    let base = path.parent().unwrap_or(Path::new("."));
    let rows: Vec<(&RunResult, String)> = runs
        .iter()
        .map(|(r, dir)| (r, relative(&dir.join("report.html"), base)))
        .collect();
    let html = render_index(&rows).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(base)?;
    std::fs::write(path, html)
}

/// `target` as a link from a page in `base`: relative when both resolve, else absolute.
fn relative(target: &Path, base: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (target, base) = (absolute(target), absolute(base));
    let link = pathdiff::diff_paths(&target, &base).unwrap_or(target);
    let mut href = String::new();
    for (i, c) in link.components().enumerate() {
        if i > 0 && !href.ends_with('/') {
            href.push('/');
        }
        for ch in c.as_os_str().to_string_lossy().chars() {
            match ch {
                ' ' | '#' | '?' | '%' | '"' => href.push_str(&format!("%{:02X}", ch as u32)),
                ch => href.push(ch),
            }
        }
    }
    href
}

#[cfg(test)]
mod tests;
