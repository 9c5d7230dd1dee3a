//! Capacity planning: one scenario at many total rates on one cluster, each step a whole run
//! with fresh topics and its own report, and the answer: the highest rate that passed.
//!
//! ```text
//!   Plan + [sweep] ──next_rate(observations)──> rate ──at_rate──> step plan ──execute──> RunResult
//!        ^                                                                                  │
//!        └──────────── (rate, passed, generator-limited) ◄──────────────────────────────────┘
//!   steps ──> SweepResult ──> sweep.json, sweep.html, the terminal table
//! ```
//!
//! A search tries `from` (which must pass), then `to`, then the geometric middle of the
//! highest passing and lowest failing rates until they are within the precision; then it
//! runs both ends again, and a rate that failed once counts as failing. A step whose
//! generator fell behind while the cluster answered quickly measured the harness, not the
//! cluster: the search goes no higher, and the answer says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::engine::{RunError, RunOptions};
use crate::check::Verdict;
use crate::cluster::Cluster;
use crate::report::{self, RunResult, SweepAnswer, SweepResult, SweepStep};
use crate::scenario::sweep::SweepMode;
use crate::scenario::{Plan, Rate};

/// The most steps a search runs, whatever the noise.
const MAX_STEPS: usize = 40;

/// What one step showed: its offered total rate, whether it passed, and whether its
/// generator (not the cluster) fell behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Offered messages per second.
    pub rate: f64,
    /// Every check and SLO passed.
    pub passed: bool,
    /// The harness could not offer the rate while the cluster kept up.
    pub generator_limited: bool,
}

/// The search's bracket from `observations`: the highest rate that always passed below the
/// lowest rate that ever failed (or was generator-limited), and that lowest failing rate.
fn bracket(observations: &[Observation]) -> (Option<f64>, Option<f64>) {
    let failed = |o: &Observation| !o.passed || o.generator_limited;
    let high = observations
        .iter()
        .filter(|o| failed(o))
        .map(|o| o.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))));
    let ever_failed = |rate: f64| observations.iter().any(|o| o.rate == rate && failed(o));
    let low = observations
        .iter()
        .filter(|o| !ever_failed(o.rate) && high.is_none_or(|h| o.rate < h))
        .map(|o| o.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    (low, high)
}

/// The next rate a search between `from` and `to` should try, or `None` when it is done.
pub fn next_search_rate(
    from: f64,
    to: f64,
    precision: f64,
    observations: &[Observation],
) -> Option<f64> {
    if observations.len() >= MAX_STEPS {
        return None;
    }
    let tried = |rate: f64| observations.iter().filter(|o| o.rate == rate).count();
    if tried(from) == 0 {
        return Some(from);
    }
    let (low, high) = bracket(observations);
    let low = low?; // `from` failed: no rate passes.
    let Some(high) = high else {
        if tried(to) == 0 {
            return Some(to);
        }
        // Everything up to `to` passed; once more to be sure.
        return (tried(to) < 2).then_some(to);
    };
    if high / low > 1.0 + precision {
        return Some((low * high).sqrt());
    }
    // Narrow enough: each end once more, on a noisy machine.
    if tried(low) < 2 {
        return Some(low);
    }
    if tried(high) < 2
        && !observations
            .iter()
            .any(|o| o.rate == high && o.generator_limited)
    {
        return Some(high);
    }
    None
}

/// The answer of a sweep from its observations.
pub fn answer(observations: &[Observation]) -> SweepAnswer {
    let (low, high) = bracket(observations);
    let generator_limited = high.is_some_and(|h| {
        observations
            .iter()
            .any(|o| o.rate == h && o.generator_limited)
    });
    let note = match (low, high) {
        (None, Some(h)) => format!("no rate passed: the lowest tried, {h:.0}/s, failed"),
        (None, None) => "no step ran".to_owned(),
        (Some(l), None) => {
            format!("every rate tried passed, up to {l:.0}/s: the cluster may sustain more")
        }
        (Some(l), Some(h)) if generator_limited => format!(
            "at least {l:.0}/s: at {h:.0}/s the harness could not offer the rate while the \
             cluster kept up, so the cluster's limit was not reached"
        ),
        (Some(l), Some(h)) => format!("{l:.0}/s passes, {h:.0}/s does not"),
    };
    SweepAnswer {
        highest_passing: low,
        first_failing: high,
        generator_limited,
        note,
    }
}

/// `plan` at `total` messages per second over all its producer tables (each keeping its
/// share), running `step` after `warmup`.
pub fn at_rate(plan: &Plan, total: f64, step: Duration, warmup: Duration) -> Plan {
    let offered: f64 = plan
        .producers
        .iter()
        .map(|p| match p.rate {
            Rate::PerSecond(r) => r,
            Rate::Max => 0.0,
        })
        .sum();
    let mut out = plan.clone();
    for p in &mut out.producers {
        if let Rate::PerSecond(r) = p.rate {
            p.rate = Rate::PerSecond(if offered > 0.0 {
                r * total / offered
            } else {
                total
            });
        }
    }
    out.duration = Some(step);
    out.messages = None;
    out.warmup = warmup;
    out.sweep = None;
    out
}

/// A step whose generator fell behind while the cluster answered quickly: it offered less
/// than 95 % of the rate, or its sends were late by more than 100 ms at p99, with ack p99
/// under 100 ms (the cluster was not what held it back).
pub fn generator_limited(offered: f64, result: &RunResult) -> bool {
    let l = &result.latency_us;
    let behind =
        result.throughput.produced_msgs_per_s < 0.95 * offered || l.send_delay.p99 > 100_000;
    behind && l.ack.count > 0 && l.ack.p99 < 100_000
}

/// Runs the sweep of `plan` on `cluster`: every step in `out/<sweep-id>/`, then
/// `sweep.json` there. `on_step` hears of each step as it ends (for progress).
pub async fn sweep(
    plan: &Plan,
    cluster: &dyn Cluster,
    options: RunOptions,
    out: &Path,
    mut on_step: impl FnMut(&SweepStep, &[Observation]),
) -> Result<(SweepResult, PathBuf), RunError> {
    let Some(sweep) = &plan.sweep else {
        return Err(RunError::Io {
            path: plan.file.clone(),
            source: std::io::Error::other("the scenario has no [sweep] table"),
        });
    };
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let sweep_id = format!(
        "{}-sweep-{epoch}-{:08x}",
        super::folder_name(&plan.name),
        rand::random::<u32>()
    );
    let dir = out.join(&sweep_id);
    std::fs::create_dir_all(&dir).map_err(|e| RunError::Io {
        path: dir.clone(),
        source: e,
    })?;
    let mut observations = Vec::new();
    let mut steps = Vec::new();
    let mut ladder = match &sweep.mode {
        SweepMode::Ladder { rates } => rates.clone().into_iter(),
        SweepMode::Search { .. } => Vec::new().into_iter(),
    };
    loop {
        if options.interrupt.is_raised() {
            break;
        }
        let rate = match &sweep.mode {
            SweepMode::Ladder { .. } => ladder.next(),
            SweepMode::Search {
                from,
                to,
                precision,
            } => next_search_rate(*from, *to, *precision, &observations),
        };
        let Some(rate) = rate else {
            break;
        };
        let step_plan = at_rate(plan, rate, sweep.step, sweep.warmup);
        let (result, run_dir) = super::execute(&step_plan, cluster, options.clone(), &dir).await?;
        if let Err(e) = report::html::write(&result, &run_dir) {
            tracing::warn!("could not write the step's report.html: {e}");
        }
        let observation = Observation {
            rate,
            passed: result.verdict == Verdict::Pass,
            generator_limited: generator_limited(rate, &result),
        };
        observations.push(observation);
        let step = SweepStep::of(rate, &result, observation.generator_limited, &run_dir, &dir);
        on_step(&step, &observations);
        steps.push(step);
        if result.interrupted.is_some() {
            break;
        }
    }
    let result = SweepResult {
        scenario: plan.name.clone(),
        sweep_id,
        mode: serde_json::to_value(&sweep.mode).unwrap_or_default(),
        steps,
        answer: answer(&observations),
        interrupted: options
            .interrupt
            .raised()
            .map(|(signal, _)| report::Interrupted { signal, at_s: 0.0 }),
    };
    let path = dir.join("sweep.json");
    report::sweep::write_json(&result, &dir).map_err(|e| RunError::Io { path, source: e })?;
    Ok((result, dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A simulated cluster: a step passes below `knee`, give or take `noise` (relative).
    fn simulate(
        knee: f64,
        noise: f64,
        seed: u64,
        from: f64,
        to: f64,
        precision: f64,
    ) -> Vec<Observation> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut observations = Vec::new();
        while let Some(rate) = next_search_rate(from, to, precision, &observations) {
            let felt = rate * (1.0 + rng.random_range(-noise..=noise));
            observations.push(Observation {
                rate,
                passed: felt < knee,
                generator_limited: false,
            });
        }
        observations
    }

    #[test]
    fn the_search_finds_a_known_knee_within_its_precision() {
        let (knee, noise, precision) = (12_345.0, 0.02, 0.05);
        for seed in 0..200 {
            let obs = simulate(knee, noise, seed, 1_000.0, 100_000.0, precision);
            let a = answer(&obs);
            let (low, high) = (a.highest_passing.unwrap(), a.first_failing.unwrap());
            assert!(
                high / low <= 1.0 + precision + 1e-9,
                "seed {seed}: {low}..{high}"
            );
            // The answer is below the knee (as felt through the noise) and near it.
            assert!(low < knee * (1.0 + noise), "seed {seed}: {low}");
            assert!(
                low > knee * (1.0 - noise) / (1.0 + precision),
                "seed {seed}: {low}"
            );
            assert!(obs.len() < MAX_STEPS, "seed {seed}: {} steps", obs.len());
        }
    }

    #[test]
    fn a_search_says_when_nothing_passes_or_everything_does() {
        let obs = simulate(500.0, 0.0, 1, 1_000.0, 10_000.0, 0.05);
        assert_eq!(obs.len(), 1);
        let a = answer(&obs);
        assert_eq!((a.highest_passing, a.first_failing), (None, Some(1_000.0)));
        let obs = simulate(1e9, 0.0, 1, 1_000.0, 10_000.0, 0.05);
        let a = answer(&obs);
        assert_eq!((a.highest_passing, a.first_failing), (Some(10_000.0), None));
        assert!(a.note.contains("may sustain more"), "{}", a.note);
    }

    #[test]
    fn a_rate_that_fails_once_counts_as_failing() {
        let obs = [
            Observation {
                rate: 1_000.0,
                passed: true,
                generator_limited: false,
            },
            Observation {
                rate: 2_000.0,
                passed: false,
                generator_limited: false,
            },
            Observation {
                rate: 1_500.0,
                passed: true,
                generator_limited: false,
            },
            Observation {
                rate: 1_500.0,
                passed: false,
                generator_limited: false,
            },
        ];
        assert_eq!(bracket(&obs), (Some(1_000.0), Some(1_500.0)));
    }

    #[test]
    fn the_generators_limit_is_never_the_answer() {
        let obs = [
            Observation {
                rate: 1_000.0,
                passed: true,
                generator_limited: false,
            },
            Observation {
                rate: 8_000.0,
                passed: true,
                generator_limited: true,
            },
        ];
        let a = answer(&obs);
        assert_eq!(
            (a.highest_passing, a.first_failing),
            (Some(1_000.0), Some(8_000.0))
        );
        assert!(
            a.generator_limited && a.note.contains("could not offer"),
            "{}",
            a.note
        );
        // It is not tried again: more of the same would measure the harness again.
        let next = next_search_rate(1_000.0, 8_000.0, 0.05, &obs);
        assert!(next.is_some_and(|r| r > 1_000.0 && r < 8_000.0), "{next:?}");
    }

    #[test]
    fn a_step_plan_keeps_each_tables_share() {
        let mut plan = crate::scenario::tests::parse_ok(&crate::scenario::tests::valid());
        let mut second = plan.producers[0].clone();
        second.rate = Rate::PerSecond(500.0);
        plan.producers[0].rate = Rate::PerSecond(1_500.0);
        plan.producers.push(second);
        let step = at_rate(
            &plan,
            4_000.0,
            Duration::from_secs(7),
            Duration::from_secs(1),
        );
        assert_eq!(step.producers[0].rate, Rate::PerSecond(3_000.0));
        assert_eq!(step.producers[1].rate, Rate::PerSecond(1_000.0));
        assert_eq!(
            (step.duration, step.messages),
            (Some(Duration::from_secs(7)), None)
        );
        assert_eq!(step.warmup, Duration::from_secs(1));
    }
}
