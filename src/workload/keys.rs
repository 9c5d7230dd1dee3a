//! Which key each message gets: a key index drawn from a distribution, and a realistic
//! key string per index.
//!
//! Key skew is what makes a partition hot and a compacted topic interesting: with
//! [`KeyDistribution::Zipf`] key 0 is the most frequent, key 1 half as frequent at exponent
//! 1, and so on. Key strings depend on the index and the template only, never on the seed,
//! so the same index names the same key in every run.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

use super::WorkloadError;
use super::template::uuid_text;
use crate::scenario::seeds::mix64;
use crate::scenario::{KeyDistribution, Template};

#[derive(Debug, Clone)]
enum Sampler {
    Uniform,
    Zipf(Zipf<f64>),
    Sequential { next: u64 },
}

/// Draws key indices in `0..count` from a [`KeyDistribution`], deterministic for a seed.
#[derive(Debug, Clone)]
pub struct KeyChooser {
    dist: KeyDistribution,
    count: u64,
    rng: SmallRng,
    sampler: Sampler,
}

impl KeyChooser {
    /// A chooser over `count` keys; fails for `count == 0` or a Zipf exponent the scenario
    /// would refuse ([`KeyDistribution::check`]).
    pub fn new(dist: KeyDistribution, count: u64, seed: u64) -> Result<KeyChooser, WorkloadError> {
        if count == 0 {
            return Err(WorkloadError::NoKeys);
        }
        let sampler = match dist {
            KeyDistribution::Uniform => Sampler::Uniform,
            KeyDistribution::Sequential => Sampler::Sequential { next: 0 },
            KeyDistribution::Zipf { exponent } => {
                dist.check()
                    .map_err(|_| WorkloadError::BadExponent(exponent))?;
                // Rejection-inversion sampling (Hörmann and Derflinger): O(1) per draw, no
                // table, exact for any count.
                Sampler::Zipf(
                    Zipf::new(count as f64, exponent)
                        .map_err(|_| WorkloadError::BadExponent(exponent))?,
                )
            }
        };
        Ok(KeyChooser {
            dist,
            count,
            rng: SmallRng::seed_from_u64(seed),
            sampler,
        })
    }

    /// The next key index, in `0..count`.
    #[allow(
        clippy::should_implement_trait,
        reason = "an endless stream: Iterator::next would wrap every index in Some"
    )]
    pub fn next(&mut self) -> u64 {
        match &mut self.sampler {
            Sampler::Uniform => self.rng.random_range(0..self.count),
            Sampler::Sequential { next } => {
                let i = *next;
                *next = if i + 1 == self.count { 0 } else { i + 1 };
                i
            }
            Sampler::Zipf(zipf) => {
                // Draws are whole numbers in 1..=count; rank 1 is index 0. The clamp only
                // guards against float rounding at astronomically large counts.
                let rank = zipf.sample(&mut self.rng) as u64;
                rank.saturating_sub(1).min(self.count - 1)
            }
        }
    }

    /// The key string for `index` under `template` (see [`key_string`]).
    pub fn key(&self, index: u64, template: Template) -> String {
        key_string(template, index)
    }

    /// The number of keys.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The distribution drawn from.
    pub fn distribution(&self) -> KeyDistribution {
        self.dist
    }
}

/// The stable, realistic key for `index`: a UUID-like request id for audit and auth
/// (distinct for distinct indices), `acct-000042` for webhook, `INV-000042` for invoice,
/// `ws-000042` for compliance and `key-000042` for raw.
pub fn key_string(template: Template, index: u64) -> String {
    let mut out = Vec::new();
    write_key(template, index, &mut out);
    // Every key is ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`key_string`]'s key for `index` to `out`, without allocating when `out` has
/// room: the producers' per-record path.
pub fn write_key(template: Template, index: u64, out: &mut Vec<u8>) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = match template {
        Template::Audit | Template::Auth => {
            let (hi, lo) = index_uuid(index);
            out.extend_from_slice(&uuid_text(hi, lo));
            Ok(())
        }
        Template::Webhook => write!(out, "acct-{index:06}"),
        Template::Invoice => write!(out, "INV-{index:06}"),
        Template::Compliance => write!(out, "ws-{index:06}"),
        Template::Raw => write!(out, "key-{index:06}"),
        Template::Verifiable => write!(out, "{index}"),
    };
}

/// A version-4-shaped UUID (as two halves) holding all 64 bits of a bijective mix of
/// `index`, so distinct indices give distinct UUIDs.
fn index_uuid(index: u64) -> (u64, u64) {
    let p = mix64(index);
    let q = mix64(p ^ 0x5851_f42d_4c95_7f2d);
    // time_low = p[63..32], time_mid = p[31..16], version 4 + p[15..4];
    // variant 0b10 + p[3..0] + 10 bits of q, node = 48 bits of q.
    let hi = (p & 0xffff_ffff_ffff_0000) | 0x4000 | ((p >> 4) & 0x0fff);
    let clock_seq = 0x8000 | ((p & 0xf) << 10) | (q & 0x3ff);
    let lo = (clock_seq << 48) | (q >> 16);
    (hi, lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn draws(dist: KeyDistribution, count: u64, seed: u64, n: usize) -> Vec<u64> {
        let mut c = KeyChooser::new(dist, count, seed).expect("chooser");
        (0..n).map(|_| c.next()).collect()
    }

    fn histogram(dist: KeyDistribution, count: u64, n: usize) -> Vec<u64> {
        let mut h = vec![0u64; count as usize];
        for i in draws(dist, count, 7, n) {
            h[i as usize] += 1;
        }
        h
    }

    #[test]
    fn zipf_rank_one_is_hottest_and_ratios_follow_the_exponent() {
        for exponent in [0.8, 1.0, 1.5] {
            let h = histogram(KeyDistribution::Zipf { exponent }, 1000, 100_000);
            let max = *h.iter().max().expect("non-empty");
            assert_eq!(
                h[0], max,
                "exponent {exponent}: index 0 is the most frequent"
            );
            // P(rank 1) / P(rank 2) = 2^s; P(rank 1) / P(rank 4) = 4^s.
            let r12 = h[0] as f64 / h[1] as f64;
            let r14 = h[0] as f64 / h[3] as f64;
            let want12 = 2f64.powf(exponent);
            let want14 = 4f64.powf(exponent);
            assert!(
                (r12 / want12 - 1.0).abs() < 0.1,
                "exponent {exponent}: rank1/rank2 = {r12}, want {want12}"
            );
            assert!(
                (r14 / want14 - 1.0).abs() < 0.15,
                "exponent {exponent}: rank1/rank4 = {r14}, want {want14}"
            );
        }
    }

    #[test]
    fn zipf_rank_one_share_matches_the_harmonic_number() {
        // At exponent 1 over n keys, P(rank 1) = 1 / H_n.
        let n = 100u64;
        let harmonic: f64 = (1..=n).map(|k| 1.0 / k as f64).sum();
        let h = histogram(KeyDistribution::Zipf { exponent: 1.0 }, n, 100_000);
        let share = h[0] as f64 / 100_000.0;
        assert!(
            (share * harmonic - 1.0).abs() < 0.05,
            "share {share}, want {}",
            1.0 / harmonic
        );
    }

    #[test]
    fn zipf_stays_in_range_for_one_key_and_for_huge_counts() {
        assert!(
            draws(KeyDistribution::Zipf { exponent: 1.2 }, 1, 1, 1000)
                .iter()
                .all(|&i| i == 0)
        );
        let big = u64::MAX;
        let d = draws(KeyDistribution::Zipf { exponent: 1.0 }, big, 1, 1000);
        assert!(d.iter().all(|&i| i < big));
    }

    #[test]
    fn uniform_covers_every_key_evenly() {
        let h = histogram(KeyDistribution::Uniform, 100, 100_000);
        assert!(h.iter().all(|&c| c > 0), "every key drawn");
        assert!(
            h.iter().all(|&c| (700..1300).contains(&c)),
            "roughly even: {h:?}"
        );
    }

    #[test]
    fn sequential_cycles() {
        let d = draws(KeyDistribution::Sequential, 5, 99, 12);
        assert_eq!(d, vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
        assert_eq!(draws(KeyDistribution::Sequential, 1, 0, 3), vec![0, 0, 0]);
    }

    #[test]
    fn same_seed_same_draws_other_seed_other_draws() {
        for dist in [
            KeyDistribution::Uniform,
            KeyDistribution::Zipf { exponent: 1.1 },
        ] {
            assert_eq!(draws(dist, 10_000, 42, 500), draws(dist, 10_000, 42, 500));
            assert_ne!(draws(dist, 10_000, 42, 500), draws(dist, 10_000, 43, 500));
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        assert_eq!(
            KeyChooser::new(KeyDistribution::Uniform, 0, 0).err(),
            Some(WorkloadError::NoKeys)
        );
        for exponent in [0.0, -0.5, f64::INFINITY] {
            assert_eq!(
                KeyChooser::new(KeyDistribution::Zipf { exponent }, 10, 0).err(),
                Some(WorkloadError::BadExponent(exponent))
            );
        }
        assert!(matches!(
            KeyChooser::new(KeyDistribution::Zipf { exponent: f64::NAN }, 10, 0),
            Err(WorkloadError::BadExponent(_))
        ));
    }

    fn is_uuid_v4(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 36
            && b.iter().enumerate().all(|(i, &c)| match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
            })
            && b[14] == b'4'
            && matches!(b[19], b'8' | b'9' | b'a' | b'b')
    }

    #[test]
    fn key_strings_look_real_and_are_stable() {
        let c = KeyChooser::new(KeyDistribution::Uniform, 100, 1).expect("chooser");
        let other = KeyChooser::new(KeyDistribution::Sequential, 5, 2).expect("chooser");
        assert_eq!(c.key(42, Template::Webhook), "acct-000042");
        assert_eq!(c.key(42, Template::Invoice), "INV-000042");
        assert_eq!(c.key(42, Template::Compliance), "ws-000042");
        assert_eq!(c.key(42, Template::Raw), "key-000042");
        assert_eq!(c.key(1_234_567, Template::Invoice), "INV-1234567");
        for t in [Template::Audit, Template::Auth] {
            let k = c.key(42, t);
            assert!(is_uuid_v4(&k), "{k}");
            assert_eq!(k, other.key(42, t), "independent of the chooser's seed");
            assert!(is_uuid_v4(&c.key(u64::MAX, t)));
        }
    }

    #[test]
    fn uuid_keys_are_distinct() {
        let keys: HashSet<String> = (0..50_000)
            .map(|i| key_string(Template::Audit, i))
            .collect();
        assert_eq!(keys.len(), 50_000);
    }

    #[test]
    fn index_uuid_keeps_every_bit_of_the_mix() {
        // Reassemble p from the UUID halves: injectivity follows from mix64 being a bijection.
        for index in [0u64, 1, 2, 12_345, u64::MAX] {
            let (hi, lo) = index_uuid(index);
            let clock_seq = lo >> 48;
            let p = (hi & 0xffff_ffff_ffff_0000) | ((hi & 0x0fff) << 4) | ((clock_seq >> 10) & 0xf);
            assert_eq!(p, mix64(index));
        }
    }
}
