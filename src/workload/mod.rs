//! The workload: what a load or correctness run sends.
//!
//! A run sends messages that look like the traffic of the services the harness stands in
//! for, so that sizes, compression ratios and key skew are those of real use, not of
//! `"aaaa"`. Three choices make a workload:
//!
//! - **template** ([`Template`]): the shape of each value: an audit entry, an
//!   authentication event, a webhook event, an invoice event, a compliance update, or raw
//!   random bytes. A [`Generator`] writes values of exactly the requested size (see
//!   [`min_size`]), deterministic for (seed, key, sequence number), so a checker can
//!   regenerate any value from what it knows.
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

pub mod keys;
pub mod partitioner;
pub mod template;

pub use keys::{KeyChooser, KeyDistribution, key_string};
pub use partitioner::{murmur2, partition_for_key};
pub use template::{Generator, Template, key_field, min_size, min_size_for_key};

/// Why a workload setting was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    /// A template name that is not one of [`Template::ALL`].
    #[error(
        "unknown template {0:?}: expected one of audit, auth, webhook, invoice, compliance, raw"
    )]
    UnknownTemplate(String),
    /// A key distribution that does not parse.
    #[error("unknown key distribution {0:?}: expected uniform, sequential, zipf or zipf:EXPONENT")]
    UnknownDistribution(String),
    /// A key count of zero.
    #[error("the key count must be at least 1")]
    NoKeys,
    /// A Zipf exponent that is negative, infinite or NaN.
    #[error("the Zipf exponent must be finite and >= 0, not {0}")]
    BadExponent(f64),
}
