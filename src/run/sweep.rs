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
//! runs both ends again. A failed step is tried again before it is believed (and a third
//! time after a pass): the majority of a rate's tries decides, a tie counts as failing. A step whose
//! generator fell behind while the cluster answered quickly measured the harness, not the
//! cluster: the search goes no higher, and the answer says so.
//!
//! The sweep's first step, at its first rate, warms the cluster (the brokers' JIT, the page
//! cache) and is not counted; while it fails its SLOs (and nothing else) and its latency is
//! still falling, it is run again, up to `MAX_WARMUPS` (8) times, so a cold cluster is never
//! taken for a slow one. With a `[sweep.grid]`, the whole search or ladder runs at each grid
//! point in turn. After every step, a node found down (a step broke it) is restarted before
//! the next, and the step's topics are deleted; a backend that cannot restart a node ends
//! the sweep.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::engine::{RunError, RunOptions};
use crate::check::Verdict;
use crate::cluster::{Capability, Cluster, NodeOp};
use crate::report::{self, GridResult, RunResult, SloLine, SweepAnswer, SweepResult, SweepStep};
use crate::scenario::sweep::{GridPoint, SweepMode, SweepPlan};
use crate::scenario::{Plan, Rate};

/// The most steps a search runs, whatever the noise.
const MAX_STEPS: usize = 40;

/// The most warm-up steps. A cold cluster is warmed again while its warm-up step fails and
/// its ack p99 still falls by a tenth or more from one warm-up to the next: three fresh JVMs
/// on two cores took minutes of load to compile their hot paths (ack p99 at 1,000 msgs/s in
/// successive 15 s steps: 454, 336, 198, 129, 66 ms).
const MAX_WARMUPS: usize = 8;

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

/// How many times `rate` was tried, and how many of those failed (or were
/// generator-limited).
fn tally(observations: &[Observation], rate: f64) -> (usize, usize) {
    let at = observations.iter().filter(|o| o.rate == rate);
    let failed = |o: &&Observation| !o.passed || o.generator_limited;
    (at.clone().count(), at.filter(failed).count())
}

/// Whether `rate` counts as failing: at least half its tries failed (one failed try of one,
/// one of two). A search confirms a failure before it believes it (see
/// [`unconfirmed`]); a ladder tries each rate once.
fn failing(observations: &[Observation], rate: f64) -> bool {
    let (tries, fails) = tally(observations, rate);
    fails * 2 >= tries
}

/// The lowest rate whose one failure is not yet confirmed or refuted: failed once in fewer
/// than three tries. A lone slow second fails a step at any rate on a busy machine (a 15 s
/// step at 16,000/s failed with one second at 171 ms, far below a knee near 99,000/s), so
/// a search tries such a rate again, and a third time after a pass: the majority decides.
fn unconfirmed(observations: &[Observation]) -> Option<f64> {
    observations
        .iter()
        .map(|o| o.rate)
        .filter(|&rate| {
            let (tries, fails) = tally(observations, rate);
            // The generator's limit is not noise: trying again measures the harness again.
            fails == 1 && tries < 3 && !generator_limited_at(observations, rate)
        })
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))))
}

/// The search's bracket from `observations`: the highest passing rate below the lowest
/// failing one, and that lowest failing rate (by [`failing`]).
fn bracket(observations: &[Observation]) -> (Option<f64>, Option<f64>) {
    let high = observations
        .iter()
        .filter(|o| failing(observations, o.rate))
        .map(|o| o.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))));
    let low = observations
        .iter()
        .filter(|o| !failing(observations, o.rate) && high.is_none_or(|h| o.rate < h))
        .map(|o| o.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    (low, high)
}

/// Whether every failure at `rate` was the generator's: it fell behind there and never
/// failed for a reason of the cluster's.
fn generator_limited_at(observations: &[Observation], rate: f64) -> bool {
    let at = || observations.iter().filter(move |o| o.rate == rate);
    at().any(|o| o.generator_limited) && !at().any(|o| !o.passed && !o.generator_limited)
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
    if let Some(rate) = unconfirmed(observations) {
        return Some(rate);
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
    if tried(high) < 2 && !generator_limited_at(observations, high) {
        return Some(high);
    }
    None
}

/// The answer of a sweep from its observations.
pub fn answer(observations: &[Observation]) -> SweepAnswer {
    let (low, high) = bracket(observations);
    let generator_limited = high.is_some_and(|h| generator_limited_at(observations, h));
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

/// `plan` with a grid point's changes: every producer table's value size, instances and
/// client settings, every topic's partitions.
pub fn at_point(plan: &Plan, point: &GridPoint) -> Plan {
    let mut out = plan.clone();
    for p in &mut out.producers {
        if let Some(size) = point.size {
            p.size = size;
        }
        if let Some(instances) = point.instances {
            p.instances = instances;
        }
        p.client
            .extend(point.client.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(partitions) = point.partitions {
        for t in &mut out.topics {
            t.partitions = partitions;
        }
    }
    out
}

/// Restarts the nodes a step left down; what was restarted, or why the sweep cannot go on.
async fn mend(cluster: &dyn Cluster) -> Result<Vec<String>, String> {
    let down = cluster.nodes_down();
    if down.is_empty() {
        return Ok(Vec::new());
    }
    let named: Vec<String> = down
        .iter()
        .map(|(node, state)| format!("node {node} ({state})"))
        .collect();
    if !cluster.capabilities().contains(&Capability::Restart) {
        return Err(format!(
            "{} after the last step, and the {} cluster cannot be restarted by the harness",
            named.join(", "),
            cluster.kind()
        ));
    }
    for (node, _) in &down {
        tracing::warn!("sweep: node {node} is down after a step; restarting it");
        cluster
            .apply(*node, NodeOp::Restart)
            .await
            .map_err(|e| format!("restarting node {node} after the last step: {e}"))?;
    }
    Ok(named)
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

/// The answer of a whole sweep: its one point's, or with a grid the weakest point's (the
/// lowest highest passing rate; none passing is the weakest), named.
fn overall(grid: &[GridResult]) -> SweepAnswer {
    let weakest = grid.iter().min_by(|a, b| {
        let rate = |g: &GridResult| g.answer.highest_passing.unwrap_or(-1.0);
        rate(a).total_cmp(&rate(b))
    });
    match weakest {
        None => answer(&[]),
        Some(g) if grid.len() == 1 => g.answer.clone(),
        Some(g) => SweepAnswer {
            note: format!(
                "weakest point [{}] {}: {}",
                g.point + 1,
                g.label,
                g.answer.note
            ),
            ..g.answer.clone()
        },
    }
}

/// Whether the cluster needs another warm-up step, given the ack p99 (µs) of those so far
/// and whether the last one failed on its SLOs alone (a lost write is no sign of a cold
/// cluster): not once one passes, nor once the latency stops improving (a cluster too slow
/// for the first rate, not a cold one), nor past the bound.
fn warm_again(p99s: &[u64], slow_only: bool) -> bool {
    let improving = match p99s {
        [.., before, last] => (*last as f64) < 0.9 * *before as f64,
        _ => true,
    };
    slow_only && improving && p99s.len() < MAX_WARMUPS
}

/// Whether `result` failed, and on its SLOs (threshold checks) alone.
fn failed_slo_only(result: &RunResult) -> bool {
    let mut failed = result.checks.iter().filter(|c| c.verdict != Verdict::Pass);
    result.verdict != Verdict::Pass && failed.all(|c| c.limit.is_some())
}

/// Deletes a finished step's topics, whose evidence is in its report: every step then
/// starts from the same broker state, and a search at hundreds of MB/s does not fill the
/// disk. A cluster that cannot delete keeps them, with a warning.
async fn clear(cluster: &dyn Cluster, topics: &[String]) {
    match cluster.delete_topics(topics).await {
        Ok(()) => {}
        Err(e @ crate::cluster::ClusterError::Unsupported { .. }) => tracing::debug!("{e}"),
        Err(e) => tracing::warn!("the step's topics stay on the cluster: {e}"),
    }
}

/// Runs one step: `plan` at `rate` in its own run folder inside `dir`, with its report.
async fn step(
    plan: &Plan,
    sweep: &SweepPlan,
    rate: f64,
    cluster: &dyn Cluster,
    options: &RunOptions,
    dir: &Path,
) -> Result<(RunResult, PathBuf), RunError> {
    let step_plan = at_rate(plan, rate, sweep.step, sweep.warmup);
    let (result, run_dir) = super::execute(&step_plan, cluster, options.clone(), dir).await?;
    if let Err(e) = report::html::write(&result, &run_dir) {
        tracing::warn!("could not write the step's report.html: {e}");
    }
    Ok((result, run_dir))
}

/// Runs the sweep of `plan` on `cluster`: every step in `out/<sweep-id>/`, then
/// `sweep.json` there. `on_step` hears of each step as it ends, with the observations of
/// its grid point so far (for progress).
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
    let first_rate = match &sweep.mode {
        SweepMode::Ladder { rates } => rates.first().copied(),
        SweepMode::Search { from, .. } => Some(*from),
    };
    let mut steps = Vec::new();
    let mut grid = Vec::new();
    let mut stopped = None;
    let mut halt = false;
    for (index, point) in sweep.grid.iter().enumerate() {
        if halt || options.interrupt.is_raised() {
            break;
        }
        let base = at_point(plan, point);
        let mut observations = Vec::new();
        let mut ladder = match &sweep.mode {
            SweepMode::Ladder { rates } => rates.clone().into_iter(),
            SweepMode::Search { .. } => Vec::new().into_iter(),
        };
        let mut warming = index == 0;
        let mut warmups = Vec::new();
        loop {
            if options.interrupt.is_raised() {
                halt = true;
                break;
            }
            let rate = if warming {
                first_rate
            } else {
                match &sweep.mode {
                    SweepMode::Ladder { .. } => ladder.next(),
                    SweepMode::Search {
                        from,
                        to,
                        precision,
                    } => next_search_rate(*from, *to, *precision, &observations),
                }
            };
            let Some(rate) = rate else {
                break;
            };
            let (result, run_dir) = step(&base, sweep, rate, cluster, &options, &dir).await?;
            let limited = generator_limited(rate, &result);
            let mut done = SweepStep::of(rate, &result, limited, &run_dir, &dir);
            done.point = index;
            done.warmup = warming;
            if warming {
                warmups.push(done.ack_us[1]);
                warming = warm_again(&warmups, failed_slo_only(&result));
            } else {
                observations.push(Observation {
                    rate,
                    passed: result.verdict == Verdict::Pass,
                    generator_limited: limited,
                });
            }
            match mend(cluster).await {
                Ok(restarted) => done.restarted = restarted,
                Err(why) => {
                    stopped = Some(why);
                    halt = true;
                }
            }
            if !halt {
                clear(cluster, &result.topics).await;
            }
            on_step(&done, &observations);
            steps.push(done);
            if halt || result.interrupted.is_some() {
                halt = true;
                break;
            }
        }
        grid.push(GridResult {
            point: index,
            label: point.label(),
            settings: point.clone(),
            answer: answer(&observations),
        });
    }
    let mut answer = overall(&grid);
    if let Some(why) = &stopped {
        answer.note = format!("{} (the sweep stopped early: {why})", answer.note);
    }
    let result = SweepResult {
        scenario: plan.name.clone(),
        sweep_id,
        mode: serde_json::to_value(&sweep.mode).unwrap_or_default(),
        steps,
        answer,
        grid,
        slo: SloLine::of(&plan.checks.slos),
        stopped,
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
    fn a_failing_warm_up_is_repeated_a_bounded_number_of_times() {
        assert!(
            !warm_again(&[90_000], false),
            "a passing warm-up (or one that lost writes) ends the warming"
        );
        assert!(
            warm_again(&[90_000], true),
            "a first slow warm-up warms again"
        );
        let cooling: Vec<u64> = (0..MAX_WARMUPS as u32).map(|i| 500_000 >> i).collect();
        assert!(warm_again(&cooling[..MAX_WARMUPS - 1], true));
        assert!(!warm_again(&cooling, true), "the warming is bounded");
        assert!(
            !warm_again(&[300_000, 290_000], true),
            "a cluster that stopped improving is too slow, not cold"
        );
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
        assert_eq!(obs.len(), 2, "a failure is tried again");
        let a = answer(&obs);
        assert_eq!((a.highest_passing, a.first_failing), (None, Some(1_000.0)));
        let obs = simulate(1e9, 0.0, 1, 1_000.0, 10_000.0, 0.05);
        let a = answer(&obs);
        assert_eq!((a.highest_passing, a.first_failing), (Some(10_000.0), None));
        assert!(a.note.contains("may sustain more"), "{}", a.note);
    }

    #[test]
    fn a_failure_is_tried_again_and_the_majority_decides() {
        let step = |rate: f64, passed: bool| Observation {
            rate,
            passed,
            generator_limited: false,
        };
        // A lone failure far below the knee (a slow second) is tried again before anything.
        let mut obs = vec![
            step(1_000.0, true),
            step(256_000.0, false),
            step(16_000.0, false),
        ];
        assert_eq!(
            next_search_rate(1_000.0, 256_000.0, 0.1, &obs),
            Some(16_000.0)
        );
        obs.push(step(16_000.0, true));
        assert_eq!(
            next_search_rate(1_000.0, 256_000.0, 0.1, &obs),
            Some(16_000.0),
            "one each: a third try decides"
        );
        obs.push(step(16_000.0, true));
        assert_eq!(bracket(&obs).0, Some(16_000.0), "two of three passed");
        // `to` failed once too: confirmed before the search goes on.
        assert_eq!(
            next_search_rate(1_000.0, 256_000.0, 0.1, &obs),
            Some(256_000.0)
        );
        // Two failures of two, or a tie after the retries, count as failing.
        obs.push(step(256_000.0, false));
        assert_eq!(bracket(&obs), (Some(16_000.0), Some(256_000.0)));
        let tie = [
            step(1_000.0, true),
            step(2_000.0, false),
            step(2_000.0, true),
        ];
        assert!(failing(&tie, 2_000.0) && unconfirmed(&tie) == Some(2_000.0));
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
        // A search would try 1,500/s and 2,000/s again before believing them.
        assert_eq!(unconfirmed(&obs), Some(1_500.0));
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

    #[test]
    fn a_rate_the_cluster_failed_once_is_not_the_generators_limit() {
        let o = |rate: f64, passed: bool, generator_limited: bool| Observation {
            rate,
            passed,
            generator_limited,
        };
        // At 8000/s the generator fell behind once, and once the cluster failed the SLO.
        let obs = [
            o(1_000.0, true, false),
            o(8_000.0, false, true),
            o(8_000.0, false, false),
        ];
        let a = answer(&obs);
        assert_eq!(a.first_failing, Some(8_000.0));
        assert!(!a.generator_limited, "{}", a.note);
        // Only the generator's failures: the cluster's limit was not reached.
        let a = answer(&obs[..2]);
        assert!(a.generator_limited, "{}", a.note);
    }

    #[test]
    fn a_grid_point_changes_every_table() {
        let mut plan = crate::scenario::tests::parse_ok(&crate::scenario::tests::valid());
        plan.producers.push(plan.producers[0].clone());
        let point = GridPoint {
            size: Some(2_048),
            partitions: Some(12),
            instances: Some(3),
            client: [("linger.ms".to_owned(), "20".to_owned())].into(),
        };
        let changed = at_point(&plan, &point);
        for p in &changed.producers {
            assert_eq!((p.size, p.instances), (2_048, 3));
            assert_eq!(p.client.get("linger.ms").map(String::as_str), Some("20"));
        }
        assert!(changed.topics.iter().all(|t| t.partitions == 12));
        assert_eq!(
            point.label(),
            "size=2048B partitions=12 instances=3 linger.ms=20"
        );
        // The default point changes nothing.
        assert_eq!(at_point(&plan, &GridPoint::default()), plan);
    }
}
