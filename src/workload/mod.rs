//! The workload: what a load or correctness run sends.
//!
//! A run sends messages that look like the traffic of the services the harness stands in
//! for, so that sizes, compression ratios and key skew are those of real use, not of
//! `"aaaa"`. Three choices make a workload:
//!
//! - **template** ([`Template`]): the shape of each value: an audit entry, an
//!   authentication event, a webhook event, an invoice event, a compliance update, or raw
//!   random bytes. A [`Generator`] writes values of exactly the requested size (see
//!   [`Template::min_size`]), deterministic for (seed, key, sequence number), so a checker
//!   can regenerate any value from what it knows.
//! - **keys** ([`KeyChooser`]): how many distinct keys and how often each is used
//!   ([`KeyDistribution`]: uniform, Zipf-skewed with key 0 the hottest, or sequential). Keys
//!   are stable realistic strings per index (request ids, `acct-000042`, `INV-000042`,
//!   `ws-000042`) and the key is also the value's [`key_field`], as real producers do.
//! - **partitions** ([`partition_for_key`]): Kafka's default partitioner, so the partition a
//!   key lands in is known before sending.
//!
//! ```text
//!   KeyChooser::next ──index──> KeyChooser::key ──key──┬─> Generator::value(key, seq) ──> value
//!                                                       └─> partition_for_key ──> partition
//! ```
//!
//! [`Template`] and [`KeyDistribution`] are the scenario's values (`crate::scenario`, where
//! their names are parsed and their rules checked); this module turns them into generators
//! and parses no text.

pub mod keys;
pub mod partitioner;
pub mod template;

pub use crate::scenario::{KeyDistribution, Template};
pub use keys::{KeyChooser, key_string, write_key};
pub use partitioner::{murmur2, partition_for_key};
pub use template::{Generator, key_field, min_size_for_key};

use crate::scenario::{ProducerPlan, Seeds};

/// Why a workload setting was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    /// A key count of zero.
    #[error("the key count must be at least 1")]
    NoKeys,
    /// A Zipf exponent that is not a finite positive number (see [`KeyDistribution::check`]).
    #[error("the Zipf exponent must be a finite positive number, not {0}")]
    BadExponent(f64),
}

/// The value generator of producer instance `id` of `plan` (instances are numbered across
/// all producer tables, in order) in a run with `seeds` (its stream "generator").
pub fn generator(plan: &ProducerPlan, seeds: &Seeds, id: u32) -> Generator {
    let seed = seeds.stream("generator", u64::from(id));
    Generator::new(plan.template, plan.size, seed)
}

/// The key chooser of producer instance `id` of `plan` in a run with `seeds` (its stream
/// "keys").
pub fn keys(plan: &ProducerPlan, seeds: &Seeds, id: u32) -> Result<KeyChooser, WorkloadError> {
    let seed = seeds.stream("keys", u64::from(id));
    KeyChooser::new(plan.key_distribution, plan.key_count, seed)
}

/// The key and value of the first message producer instance `id` of `plan` sends in a run
/// with `seeds`.
pub fn first_message(
    plan: &ProducerPlan,
    seeds: &Seeds,
    id: u32,
) -> Result<(String, Vec<u8>), WorkloadError> {
    let mut keys = keys(plan, seeds, id)?;
    let index = keys.next();
    let key = keys.key(index, plan.template);
    let mut value = Vec::with_capacity(plan.size);
    generator(plan, seeds, id).value(&key, 0, &mut value);
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::tests::{parse_ok, valid};

    #[test]
    fn a_producer_instance_s_first_message_is_reproducible() {
        let plan = parse_ok(&valid());
        let p = &plan.producers[0];
        let seeds = Seeds::new(9);
        let (key, value) = first_message(p, &seeds, 0).unwrap();
        assert!(key.starts_with("acct-"), "{key}");
        assert_eq!(value.len(), p.size);
        // The same seed and instance give the same message; another instance another.
        assert_eq!(
            first_message(p, &seeds, 0).unwrap(),
            (key.clone(), value.clone())
        );
        assert_ne!(first_message(p, &seeds, 1).unwrap().1, value);
    }
}
