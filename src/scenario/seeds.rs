//! The run's seed, and every random stream of a run derived from it by name.
//!
//! ```text
//!   --seed N, else the scenario's `seed` ──Seeds::resolve──> Seeds
//!        Seeds::stream("generator", producer) ── values
//!        Seeds::stream("keys", producer)      ── key indices
//!        Seeds::stream("txn-aborts", producer) ── which transactions abort on purpose
//!        Seeds::stream("nemesis", fault table) ── random nodes, which member to remove
//! ```
//!
//! Each stream's seed comes from [`derive`](fn@derive), the one mixing function, so streams of
//! different names or indices are unrelated and the same run seed repeats them all.

use super::Plan;

/// A run's seed and the seeds of its random streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    run: u64,
}

impl Seeds {
    /// The seeds of a run of `plan`: `cli` (the `--seed` override) when given, else the
    /// scenario's `seed`.
    pub fn resolve(cli: Option<u64>, plan: &Plan) -> Seeds {
        Seeds::new(cli.unwrap_or(plan.seed))
    }

    /// The seeds of a run whose seed, already resolved, is `run` (e.g. a result's `seed`).
    pub fn new(run: u64) -> Seeds {
        Seeds { run }
    }

    /// The run's seed, as reports show it.
    pub fn run(self) -> u64 {
        self.run
    }

    /// The seed of stream `name` number `index` (a producer instance, a fault table...).
    pub fn stream(self, name: &str, index: u64) -> u64 {
        derive(self.run, name.as_bytes(), index)
    }
}

/// The seed for (`seed`, `name`, `index`): FNV-1a over `name`, mixed with `seed`, then with
/// `index`, by the splitmix64 finalizer. A bijection of `index` for a given seed and name.
#[inline]
pub fn derive(seed: u64, name: &[u8], index: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(mix64(seed ^ h) ^ index)
}

/// The splitmix64 finalizer: a bijection on u64 that mixes every bit into every other.
#[inline]
pub fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const NAMES: [&str; 4] = ["generator", "keys", "txn-aborts", "nemesis"];

    #[test]
    fn the_same_stream_repeats_and_every_other_differs() {
        let seeds = Seeds::new(42);
        let mut seen = HashSet::new();
        for name in NAMES {
            for index in 0..100 {
                let s = seeds.stream(name, index);
                assert_eq!(s, Seeds::new(42).stream(name, index), "{name} {index}");
                assert!(seen.insert(s), "{name} {index} repeats another stream");
            }
        }
        // Another run seed gives other streams.
        for name in NAMES {
            for index in 0..100 {
                assert!(!seen.contains(&Seeds::new(43).stream(name, index)));
            }
        }
        // Neighbouring seeds and indices are not related by a simple offset.
        assert_ne!(
            seeds.stream("keys", 1) ^ seeds.stream("keys", 0),
            Seeds::new(43).stream("keys", 1) ^ Seeds::new(43).stream("keys", 0)
        );
    }

    #[test]
    fn the_command_line_seed_replaces_the_scenario_s() {
        let mut plan = crate::scenario::tests::parse_ok(&crate::scenario::tests::valid());
        plan.seed = 5;
        assert_eq!(Seeds::resolve(None, &plan), Seeds::new(5));
        assert_eq!(Seeds::resolve(Some(9), &plan).run(), 9);
        assert_eq!(Seeds::resolve(Some(0), &plan).run(), 0);
    }
}
