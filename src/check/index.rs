//! The compact structures the checkers share: a fast hasher for packed integer keys, a bitset,
//! and [`DenseIndex`], which numbers `(group, value)` pairs densely so that per-message or
//! per-offset facts live in one bit each.
//!
//! ```text
//!   sends ──(producer, seq)──────────> DenseIndex ─> 0..len ─> Bitset (one bit per message)
//!   log   ──(topic+partition, offset)─> DenseIndex ─> 0..len ─> Bitset (one bit per position)
//! ```
//!
//! Sequence numbers are dense per producer (0, 1, 2, ...) and offsets nearly dense per
//! partition, so a group usually maps to one range `min..=max` and a lookup is a hash of the
//! group (a handful of producers or partitions) plus a subtraction. A group whose values are
//! sparse (span more than twice their count plus 64) keeps its sorted distinct values
//! instead, and a lookup there is a binary search: memory stays linear on any input.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use crate::history::{MsgId, TopicId};

/// Builds [`Fx`] hashers: a multiply-based hash for integer keys, with a final mix so keys
/// that differ only in their high bits still spread over the buckets.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FxBuild;

impl BuildHasher for FxBuild {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

/// The hasher [`FxBuild`] builds.
#[derive(Debug)]
pub(super) struct Fx(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(SEED);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        // murmur3's 64-bit finaliser: every input bit reaches the low (bucket) bits.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A hash map with the [`Fx`] hasher.
pub(super) type FxMap<K, V> = HashMap<K, V, FxBuild>;

/// One bit per index.
#[derive(Debug, Clone)]
pub(super) struct Bitset(Vec<u64>);

impl Bitset {
    /// All clear, for indices `0..len`.
    pub(super) fn new(len: usize) -> Bitset {
        Bitset(vec![0; len.div_ceil(64)])
    }

    /// Sets bit `i`; returns whether it was already set. Out of range: ignored, `false`.
    pub(super) fn set(&mut self, i: usize) -> bool {
        match self.0.get_mut(i / 64) {
            Some(word) => {
                let mask = 1u64 << (i % 64);
                let was = *word & mask != 0;
                *word |= mask;
                was
            }
            None => false,
        }
    }

    /// Whether bit `i` is set (`false` out of range).
    pub(super) fn get(&self, i: usize) -> bool {
        self.0
            .get(i / 64)
            .is_some_and(|word| word & (1u64 << (i % 64)) != 0)
    }
}

/// Where one group's values sit in the dense numbering.
#[derive(Debug)]
struct Slot {
    base: usize,
    /// Dense groups: the lowest value; values `min..min + span` map to `base..`.
    min: u64,
    span: u64,
    /// Sparse groups: their sorted distinct values (empty for a dense group).
    sparse: Vec<u64>,
}

/// Numbers every `(group, value)` pair of a collection densely, `0..len()`.
#[derive(Debug)]
pub(super) struct DenseIndex {
    groups: FxMap<u64, u32>,
    slots: Vec<Slot>,
    len: usize,
}

/// Group statistics gathered in the first pass.
struct Stats {
    min: u64,
    max: u64,
    count: u64,
}

impl DenseIndex {
    /// Indexes the pairs `items()` yields (called once or twice: a second pass collects the
    /// values of sparse groups).
    pub(super) fn build<I, F>(items: F) -> DenseIndex
    where
        F: Fn() -> I,
        I: Iterator<Item = (u64, u64)>,
    {
        let mut stats: FxMap<u64, u32> = FxMap::default();
        let mut per_slot: Vec<Stats> = Vec::new();
        let mut last: Option<(u64, usize)> = None;
        for (group, value) in items() {
            let slot = match last {
                Some((g, s)) if g == group => s,
                _ => {
                    let next = per_slot.len();
                    let s = *stats
                        .entry(group)
                        .or_insert_with(|| u32::try_from(next).unwrap_or(u32::MAX))
                        as usize;
                    if s == per_slot.len() {
                        per_slot.push(Stats {
                            min: value,
                            max: value,
                            count: 0,
                        });
                    }
                    last = Some((group, s));
                    s
                }
            };
            if let Some(st) = per_slot.get_mut(slot) {
                st.min = st.min.min(value);
                st.max = st.max.max(value);
                st.count += 1;
            }
        }
        let mut slots = Vec::with_capacity(per_slot.len());
        let mut any_sparse = false;
        for st in &per_slot {
            let span = (st.max - st.min).saturating_add(1);
            let dense = span <= st.count.saturating_mul(2).saturating_add(64);
            any_sparse |= !dense;
            slots.push(Slot {
                base: 0,
                min: st.min,
                span: if dense { span } else { 0 },
                sparse: Vec::new(),
            });
        }
        drop(per_slot);
        if any_sparse {
            for (group, value) in items() {
                if let Some(slot) = stats.get(&group).and_then(|&s| slots.get_mut(s as usize))
                    && slot.span == 0
                {
                    slot.sparse.push(value);
                }
            }
            for slot in &mut slots {
                slot.sparse.sort_unstable();
                slot.sparse.dedup();
                slot.sparse.shrink_to_fit();
            }
        }
        let mut len = 0usize;
        for slot in &mut slots {
            slot.base = len;
            let size = if slot.sparse.is_empty() {
                usize::try_from(slot.span).unwrap_or(usize::MAX)
            } else {
                slot.sparse.len()
            };
            len = len.saturating_add(size);
        }
        DenseIndex {
            groups: stats,
            slots,
            len,
        }
    }

    /// Size of the numbering: every indexed pair maps below this.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The slot number of a group, if it has any value.
    pub(super) fn slot(&self, group: u64) -> Option<u32> {
        self.groups.get(&group).copied()
    }

    /// The number of `value` in `group`, if that pair was indexed (dense groups also number
    /// the gaps between their values).
    pub(super) fn get(&self, group: u64, value: u64) -> Option<usize> {
        let slot = self.slots.get(self.slot(group)? as usize)?;
        if slot.sparse.is_empty() {
            let delta = value.checked_sub(slot.min)?;
            (delta < slot.span).then(|| slot.base + delta as usize)
        } else {
            slot.sparse
                .binary_search(&value)
                .ok()
                .map(|rank| slot.base + rank)
        }
    }
}

/// The group key of a message: its producer.
pub(super) fn producer_group(id: MsgId) -> u64 {
    u64::from(id.producer)
}

/// The group key of a partition: topic and partition packed in one word.
pub(super) fn partition_group(topic: TopicId, partition: i32) -> u64 {
    (u64::from(topic) << 32) | u64::from(partition as u32)
}

/// An offset as an order-preserving unsigned value.
pub(super) fn offset_value(offset: i64) -> u64 {
    (offset as u64) ^ (1 << 63)
}

/// Numbers the messages of a collection of ids (producer, then seq).
pub(super) fn message_index<I, F>(ids: F) -> DenseIndex
where
    F: Fn() -> I,
    I: Iterator<Item = MsgId>,
{
    DenseIndex::build(|| ids().map(|id| (producer_group(id), id.seq)))
}

/// Numbers the positions of a collection of (topic, partition, offset).
pub(super) fn position_index<I, F>(positions: F) -> DenseIndex
where
    F: Fn() -> I,
    I: Iterator<Item = (TopicId, i32, i64)>,
{
    DenseIndex::build(|| positions().map(|(t, p, o)| (partition_group(t, p), offset_value(o))))
}

/// Lookups by message and position on a [`DenseIndex`] built by [`message_index`] or
/// [`position_index`].
impl DenseIndex {
    /// The number of a message.
    pub(super) fn message(&self, id: MsgId) -> Option<usize> {
        self.get(producer_group(id), id.seq)
    }

    /// The number of a position.
    pub(super) fn position(&self, topic: TopicId, partition: i32, offset: i64) -> Option<usize> {
        self.get(partition_group(topic, partition), offset_value(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_groups_number_every_pair() {
        let pairs = [
            (1u64, 5u64),
            (1, 6),
            (1, 8),
            (2, 0),
            (2, 1 << 40),
            (2, 7),
            (2, 7),
        ];
        let index = DenseIndex::build(|| pairs.iter().copied());
        // group 1 dense 5..=8 (4 numbers), group 2 sparse {0, 7, 2^40} (3 numbers).
        assert_eq!(index.len(), 7);
        let mut seen = Bitset::new(index.len());
        for &(g, v) in &pairs[..6] {
            let i = index.get(g, v).expect("indexed");
            assert!(i < index.len());
            assert!(!seen.set(i), "distinct pairs get distinct numbers");
        }
        assert_eq!(index.get(2, 7), index.get(2, 7));
        assert_eq!(index.get(2, 3), None);
        assert_eq!(index.get(1, 4), None);
        assert_eq!(index.get(1, 9), None);
        assert_eq!(index.get(3, 0), None);
        assert!(
            index.get(1, 7).is_some(),
            "gaps in a dense group are numbered"
        );
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let pairs = [(0u64, 0u64), (0, u64::MAX), (u64::MAX, u64::MAX)];
        let index = DenseIndex::build(|| pairs.iter().copied());
        assert_eq!(index.len(), 3);
        assert!(index.get(0, u64::MAX).is_some());
        assert!(index.get(u64::MAX, u64::MAX).is_some());
        assert_eq!(index.get(u64::MAX, 0), None);
        let empty = DenseIndex::build(std::iter::empty);
        assert_eq!(empty.len(), 0);
        assert_eq!(empty.get(0, 0), None);
    }

    #[test]
    fn offsets_keep_their_order() {
        assert!(offset_value(-1) < offset_value(0));
        assert!(offset_value(i64::MIN) < offset_value(i64::MAX));
        let mut b = Bitset::new(3);
        assert!(!b.set(2));
        assert!(b.set(2));
        assert!(!b.set(1000));
        assert!(!b.get(1000));
    }
}
