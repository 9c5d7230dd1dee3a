//! The `[sweep]` table: capacity planning, the same scenario at many rates on one cluster.
//!
//! ```toml
//! [sweep]
//! mode = "search"        # the highest total rate that passes every check and SLO
//! from = "1000/s"        # must pass (else there is no answer)
//! to = "64000/s"         # the most to try
//! precision = 0.05       # stop when the bracket is within 5 %
//! step = "20s"           # each step's length after its warm-up (default: `duration`)
//! warmup = "5s"          # each step's warm-up (default: `warmup`)
//!
//! # or a ladder: these rates, or `steps` geometric steps from `from` to `to`
//! # mode = "ladder"
//! # rates = ["1000/s", "2000/s", "4000/s"]
//!
//! [sweep.grid]           # optional: the same sweep at every combination of these
//! size = ["100B", "1KiB"]            # every producer table's value size
//! partitions = [1, 6]                # every topic's partitions
//! instances = [1, 2]                 # every producer table's instances
//! client = { "linger.ms" = ["5", "20"], "compression.type" = ["none", "lz4"] }
//! ```
//!
//! Rates are the total over every producer table: each table keeps its share of the
//! scenario's total.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::units::{self, Rate};
use super::{DriverKind, Locator, ProducerPlan, ScenarioError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSweep {
    mode: Spanned<String>,
    rates: Option<Spanned<Vec<Spanned<String>>>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    steps: Option<Spanned<i64>>,
    precision: Option<Spanned<f64>>,
    step: Option<Spanned<String>>,
    warmup: Option<Spanned<String>>,
    grid: Option<Spanned<RawGrid>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrid {
    size: Option<Spanned<Vec<Spanned<String>>>>,
    partitions: Option<Spanned<Vec<Spanned<i64>>>>,
    instances: Option<Spanned<Vec<Spanned<i64>>>>,
    #[serde(default)]
    client: std::collections::BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

/// One combination of a `[sweep.grid]`: what it changes in the scenario (nothing, for a
/// sweep without a grid).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GridPoint {
    /// Every producer table's value size, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// Every topic's partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<i32>,
    /// Every producer table's instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
    /// Client settings of every producer table.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub client: std::collections::BTreeMap<String, String>,
}

impl GridPoint {
    /// This point with what `other` sets.
    fn merged(&self, other: &GridPoint) -> GridPoint {
        let mut client = self.client.clone();
        client.extend(other.client.clone());
        GridPoint {
            size: other.size.or(self.size),
            partitions: other.partitions.or(self.partitions),
            instances: other.instances.or(self.instances),
            client,
        }
    }

    /// The point in words, like `size=1024B partitions=6 linger.ms=5`; empty for none.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(size) = self.size {
            parts.push(format!("size={size}B"));
        }
        if let Some(p) = self.partitions {
            parts.push(format!("partitions={p}"));
        }
        if let Some(i) = self.instances {
            parts.push(format!("instances={i}"));
        }
        parts.extend(self.client.iter().map(|(k, v)| format!("{k}={v}")));
        parts.join(" ")
    }
}

/// The most points a grid may have: each runs a whole search.
const MAX_POINTS: usize = 64;

/// How a sweep chooses its rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepMode {
    /// These total rates, in order.
    Ladder {
        /// Messages per second.
        rates: Vec<f64>,
    },
    /// The highest rate that passes, between `from` (which must pass) and `to`, narrowed
    /// until the bracket's ends are within `precision` of each other.
    Search {
        /// The lowest rate tried.
        from: f64,
        /// The highest rate tried.
        to: f64,
        /// The bracket's relative width at which the search stops (0.05: 5 %).
        precision: f64,
    },
}

/// A validated `[sweep]` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPlan {
    /// Which rates.
    pub mode: SweepMode,
    /// Each step's length after its warm-up.
    #[serde(with = "humantime_serde")]
    pub step: Duration,
    /// Each step's warm-up.
    #[serde(with = "humantime_serde")]
    pub warmup: Duration,
    /// The combinations to sweep, in order: one default point without a `[sweep.grid]`.
    pub grid: Vec<GridPoint>,
}

/// The highest rate a sweep may ask for.
const MAX_RATE: f64 = 10_000_000.0;

/// Validates `[sweep]`; `duration` and `warmup` are the scenario's, the step defaults.
pub(super) fn validate(
    at: &Locator<'_>,
    raw: &RawSweep,
    duration: Option<Duration>,
    warmup: Duration,
    producers: &[ProducerPlan],
) -> Result<SweepPlan, ScenarioError> {
    let per_second = |field: &str, value: &Spanned<String>| -> Result<f64, ScenarioError> {
        match units::rate(value.get_ref()) {
            Ok(Rate::PerSecond(r)) if r > 0.0 && r <= MAX_RATE => Ok(r),
            Ok(_) => Err(at.field(
                field,
                value,
                "a sweep's rates are messages per second, from above 0 to 10000000/s (not \"max\")",
            )),
            Err(rule) => Err(at.field(field, value, &rule)),
        }
    };
    let bounds = |need: &str| -> Result<(f64, f64), ScenarioError> {
        let (Some(from), Some(to)) = (&raw.from, &raw.to) else {
            return Err(at.field(
                "sweep.mode",
                &raw.mode,
                &format!("{need} needs `from` and `to`, like from = \"1000/s\", to = \"64000/s\""),
            ));
        };
        let (low, high) = (per_second("sweep.from", from)?, per_second("sweep.to", to)?);
        if high <= low {
            return Err(at.field("sweep.to", to, "must be above `from`"));
        }
        Ok((low, high))
    };
    let refuse = |field: &str, span: Option<std::ops::Range<usize>>, why: &str| match span {
        Some(span) => Err(at.error(span, format!("`sweep.{field}`: {why}"))),
        None => Ok(()),
    };
    let mode = match raw.mode.get_ref().as_str() {
        "ladder" => {
            refuse(
                "precision",
                raw.precision.as_ref().map(Spanned::span),
                "only a search narrows to a precision",
            )?;
            let rates = match (&raw.rates, &raw.steps) {
                (Some(rates), None) => {
                    if raw.from.is_some() || raw.to.is_some() {
                        return Err(at.field(
                            "sweep.rates",
                            rates,
                            "give either `rates` or `from`, `to` and `steps`, not both",
                        ));
                    }
                    if rates.get_ref().is_empty() {
                        return Err(at.field("sweep.rates", rates, "must list at least one rate"));
                    }
                    rates
                        .get_ref()
                        .iter()
                        .enumerate()
                        .map(|(i, r)| per_second(&format!("sweep.rates[{i}]"), r))
                        .collect::<Result<Vec<_>, _>>()?
                }
                (None, Some(steps)) => {
                    let (low, high) = bounds("a geometric ladder")?;
                    let n = *steps.get_ref();
                    if !(2..=100).contains(&n) {
                        return Err(at.field("sweep.steps", steps, "must be from 2 to 100"));
                    }
                    let ratio = (high / low).powf(1.0 / (n - 1) as f64);
                    (0..n).map(|i| low * ratio.powi(i as i32)).collect()
                }
                (Some(rates), Some(_)) => {
                    return Err(at.field(
                        "sweep.rates",
                        rates,
                        "give either `rates` or `from`, `to` and `steps`, not both",
                    ));
                }
                (None, None) => {
                    return Err(at.field(
                        "sweep.mode",
                        &raw.mode,
                        "a ladder needs `rates = [\"1000/s\", ...]` or `from`, `to` and `steps`",
                    ));
                }
            };
            SweepMode::Ladder { rates }
        }
        "search" => {
            refuse(
                "rates",
                raw.rates.as_ref().map(Spanned::span),
                "a search chooses its rates; give `from` and `to`",
            )?;
            refuse(
                "steps",
                raw.steps.as_ref().map(Spanned::span),
                "a search narrows to `precision` instead",
            )?;
            let (from, to) = bounds("a search")?;
            let precision = match &raw.precision {
                Some(p) if !(0.001..=1.0).contains(p.get_ref()) => {
                    return Err(at.field(
                        "sweep.precision",
                        p,
                        "the bracket's relative width, from 0.001 to 1, like 0.05 (5 %)",
                    ));
                }
                Some(p) => *p.get_ref(),
                None => 0.05,
            };
            SweepMode::Search {
                from,
                to,
                precision,
            }
        }
        _ => {
            return Err(at.field(
                "sweep.mode",
                &raw.mode,
                "expected \"search\" (the highest rate that passes) or \"ladder\" (given rates)",
            ));
        }
    };
    let duration_of =
        |field: &str, d: &Option<Spanned<String>>| -> Result<Option<Duration>, ScenarioError> {
            d.as_ref()
                .map(|d| units::duration(d.get_ref()).map_err(|rule| at.field(field, d, &rule)))
                .transpose()
        };
    let step = match (duration_of("sweep.step", &raw.step)?, duration) {
        (Some(s), _) | (None, Some(s)) if !s.is_zero() => s,
        _ => {
            return Err(at.field(
                "sweep.mode",
                &raw.mode,
                "a sweep needs each step's length: `step = \"20s\"` (or the scenario's `duration`)",
            ));
        }
    };
    let warmup = duration_of("sweep.warmup", &raw.warmup)?.unwrap_or(warmup);
    let grid = match &raw.grid {
        Some(grid) => points(at, grid, producers)?,
        None => vec![GridPoint::default()],
    };
    Ok(SweepPlan {
        mode,
        step,
        warmup,
        grid,
    })
}

/// The combinations of a `[sweep.grid]`, sizes outermost, client settings innermost.
fn points(
    at: &Locator<'_>,
    raw: &Spanned<RawGrid>,
    producers: &[ProducerPlan],
) -> Result<Vec<GridPoint>, ScenarioError> {
    let grid = raw.get_ref();
    let listed = |field: &str, span: std::ops::Range<usize>, n: usize| {
        if n == 0 {
            Err(at.error(
                span,
                format!("`sweep.grid.{field}`: list at least one value"),
            ))
        } else {
            Ok(())
        }
    };
    let mut out = vec![GridPoint::default()];
    // Each axis is a list of points that set one thing; the grid is their product.
    let mut expand = |axis: Vec<GridPoint>| {
        out = out
            .iter()
            .flat_map(|p| axis.iter().map(move |a| p.merged(a)))
            .collect();
    };
    if let Some(sizes) = &grid.size {
        listed("size", sizes.span(), sizes.get_ref().len())?;
        let mut values = Vec::new();
        for (i, size) in sizes.get_ref().iter().enumerate() {
            let field = format!("sweep.grid.size[{i}]");
            let bytes =
                units::size(size.get_ref()).map_err(|rule| at.field(&field, size, &rule))?;
            for p in producers {
                if p.driver == DriverKind::Verifiable {
                    return Err(at.field(
                        &field,
                        size,
                        &format!(
                            "producer `{}` is a VerifiableProducer, whose values are its own: its size cannot be swept",
                            p.name
                        ),
                    ));
                }
                let min = p.template.min_size();
                if bytes < min || bytes > 16 << 20 {
                    return Err(at.field(
                        &field,
                        size,
                        &format!(
                            "producer `{}` has the {} template, which needs from {min} bytes to 16 MiB",
                            p.name, p.template
                        ),
                    ));
                }
            }
            values.push(GridPoint {
                size: Some(bytes),
                ..GridPoint::default()
            });
        }
        expand(values);
    }
    // A list of whole numbers in `1..=max`, each a point made by `point`.
    let counts = |field: &str,
                  list: &Spanned<Vec<Spanned<i64>>>,
                  max: i64,
                  point: fn(i64) -> GridPoint|
     -> Result<Vec<GridPoint>, ScenarioError> {
        listed(field, list.span(), list.get_ref().len())?;
        list.get_ref()
            .iter()
            .enumerate()
            .map(|(i, n)| match *n.get_ref() {
                v if (1..=max).contains(&v) => Ok(point(v)),
                _ => Err(at.field(
                    &format!("sweep.grid.{field}[{i}]"),
                    n,
                    &format!("from 1 to {max}"),
                )),
            })
            .collect()
    };
    if let Some(list) = &grid.partitions {
        expand(counts("partitions", list, 10_000, |n| GridPoint {
            partitions: Some(n as i32),
            ..GridPoint::default()
        })?);
    }
    if let Some(list) = &grid.instances {
        expand(counts("instances", list, 1_000, |n| GridPoint {
            instances: Some(n as u32),
            ..GridPoint::default()
        })?);
    }
    for (key, list) in &grid.client {
        let field = format!("sweep.grid.client.{key}");
        if super::secrets::is_secret(key) {
            return Err(at.field(
                &field,
                list,
                "a secret is not swept: its values would be named in sweep.json and the chart",
            ));
        }
        listed(&format!("client.{key}"), list.span(), list.get_ref().len())?;
        let mut values = Vec::new();
        for value in list.get_ref() {
            values.push(GridPoint {
                client: [(key.clone(), value.get_ref().clone())].into(),
                ..GridPoint::default()
            });
        }
        expand(values);
    }
    if out.len() > MAX_POINTS {
        return Err(at.error(
            raw.span(),
            format!(
                "`sweep.grid` has {} combinations; at most {MAX_POINTS} (each runs a whole sweep)",
                out.len()
            ),
        ));
    }
    Ok(out)
}
