//! Where Kafka puts a keyed record: the Java client's default partitioner, bit for bit.
//!
//! A record with a key and no explicit partition goes to
//! `toPositive(murmur2(key)) % partitions` in the Java producer
//! (`org.apache.kafka.common.utils.Utils`), and librdkafka's `murmur2_random` partitioner
//! computes the same. Knowing the partition up front lets a checker tell which partition a
//! key's messages must be in, and lets a workload aim keys at partitions.

/// Kafka's 32-bit murmur2 hash of `data`, exactly as the Java client's `Utils.murmur2`
/// (seed `0x9747b28c`, Java `int` wrapping arithmetic).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java: `int h = seed ^ length` (a Java array is shorter than 2^31, so the length fits).
    let mut h = SEED ^ (data.len() as u32);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        let mut k = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // The Java `switch (length % 4)` falls through from case 3 to case 1.
    let tail = words.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&first) = tail.first() {
        h ^= u32::from(first);
        h = h.wrapping_mul(M);
    }
    // Java's `>>>` is a logical shift: the same as `>>` on u32.
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner gives a record with this key:
/// `(murmur2(key) & 0x7fffffff) % partitions`.
///
/// # Panics
///
/// If `partitions < 1`: a topic has at least one partition.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    assert!(
        partitions >= 1,
        "partition_for_key: a topic has at least one partition, not {partitions}"
    );
    (murmur2(key) & 0x7fff_ffff) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use rdkafka::ClientConfig;
    use rdkafka::ClientContext;
    use rdkafka::message::{DeliveryResult, Message};
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// The cases of Kafka's own `UtilsTest.testMurmur2`
    /// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
    const KAFKA_VECTORS: [(&[u8], i32); 6] = [
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (b"abc", 479_470_107),
    ];

    #[test]
    fn murmur2_matches_kafka_utils_test() {
        for (data, want) in KAFKA_VECTORS {
            assert_eq!(
                murmur2(data),
                want,
                "murmur2({:?})",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn partition_is_the_positive_hash_modulo_partitions() {
        for (data, hash) in KAFKA_VECTORS {
            for partitions in [1, 2, 3, 6, 12, 100, i32::MAX] {
                let p = partition_for_key(data, partitions);
                assert_eq!(p, (hash & 0x7fff_ffff) % partitions);
                assert!((0..partitions).contains(&p));
            }
        }
        // "foobar": toPositive(-790332482) = 1357151166.
        assert_eq!(partition_for_key(b"foobar", 10), 6);
    }

    #[test]
    #[should_panic(expected = "at least one partition")]
    fn zero_partitions_is_refused() {
        partition_for_key(b"k", 0);
    }

    /// Collects (key, partition) from delivery reports.
    struct Collect(Mutex<Vec<(Vec<u8>, i32)>>);

    impl ClientContext for Collect {}

    impl ProducerContext for Collect {
        type DeliveryOpaque = ();

        fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
            if let Ok(m) = result {
                let key = m.key().unwrap_or_default().to_vec();
                self.0.lock().expect("lock").push((key, m.partition()));
            }
        }
    }

    /// librdkafka's `murmur2_random` partitioner (the Java-compatible one) puts every random
    /// key where `partition_for_key` says, on an in-process mock cluster (about 0.3 s).
    #[test]
    fn librdkafka_murmur2_random_agrees() {
        const PARTITIONS: i32 = 7;
        let mock = MockCluster::new(1).expect("mock cluster");
        mock.create_topic("keys", PARTITIONS, 1).expect("topic");
        let producer: BaseProducer<Collect> = ClientConfig::new()
            .set("bootstrap.servers", mock.bootstrap_servers())
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "0")
            .create_with_context(Collect(Mutex::new(Vec::new())))
            .expect("producer");

        let mut runner = TestRunner::new(Config::with_cases(64));
        let keys = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..64);
        runner
            .run(&keys, |mut keys| {
                // The empty key is hashed too: only a missing key is spread at random.
                keys.push(Vec::new());
                producer.context().0.lock().expect("lock").clear();
                for key in &keys {
                    producer
                        .send(BaseRecord::<[u8], [u8]>::to("keys").key(key).payload(b"v"))
                        .map_err(|(e, _)| TestCaseError::fail(format!("send: {e}")))?;
                }
                // Poll briefly rather than `flush`, whose wait goes in steps of 100 ms.
                let deadline = Instant::now() + Duration::from_secs(10);
                while producer.context().0.lock().expect("lock").len() < keys.len()
                    && Instant::now() < deadline
                {
                    producer.poll(Duration::from_millis(1));
                }
                let delivered = producer.context().0.lock().expect("lock").clone();
                prop_assert_eq!(delivered.len(), keys.len(), "every record delivered");
                for (key, partition) in delivered {
                    prop_assert_eq!(
                        partition,
                        partition_for_key(&key, PARTITIONS),
                        "key {:?}",
                        key
                    );
                }
                Ok(())
            })
            .expect("librdkafka and partition_for_key agree");
    }
}
