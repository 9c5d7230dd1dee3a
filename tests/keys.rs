//! `key_split` on a real broker, through the binary: two services writing one key set to one
//! topic of 6 partitions, an rdkafka producer and an rskafka producer (which places keys
//! by murmur2, as the Java client does). With librdkafka's own default partitioner
//! (`consistent_random`, CRC32) on the rdkafka side, most keys land on two partitions and
//! the run fails naming them; with `murmur2_random` both agree and it passes.

mod common;

use common::cli::{assert_exit, check, results, scenario};
use kafka_harness::workload::{Template, key_string, partition_for_key};

/// CRC-32 (IEEE, reflected), as librdkafka's `rd_crc32`: the hash of its default
/// `consistent_random` partitioner, which puts a key on `crc32(key) % partitions`.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The two producers, 300 messages each over the same 50 keys (the key strings depend on
/// the template and index only), the rdkafka one with `partitioner`.
fn two_services(name: &str, partitioner: &str) -> String {
    format!(
        r#"name = "{name}"
seed = 11
messages = 600
drain_timeout = "30s"

[[topics]]
name = "accounts"
partitions = 6

[[producers]]
name = "billing-librdkafka"
driver = "rdkafka"
topic = "accounts"
template = "webhook"
size = "400B"
keys = {{ count = 50, distribution = "sequential" }}
rate = "600/s"

[producers.client]
partitioner = "{partitioner}"

[[producers]]
name = "ledger-rskafka"
driver = "rskafka"
topic = "accounts"
template = "webhook"
size = "400B"
keys = {{ count = 50, distribution = "sequential" }}
rate = "600/s"

[checks]
anomalies = ["lost_write", "key_split"]
"#
    )
}

/// Runs `file` on the shared cluster (as an external one); checks the exit code and
/// returns the result.
async fn result_on_shared(file: std::path::PathBuf, code: i32) -> serde_json::Value {
    let out = tempfile::tempdir().unwrap();
    let output = common::cli::run_on_shared(&file, out.path(), None).await;
    assert_exit(&output, code);
    let mut all = results(out.path());
    assert_eq!(all.len(), 1);
    all.remove(0)
}

#[tokio::test]
async fn crc32_and_murmur2_producers_split_keys_and_agreeing_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();

    let split = scenario(
        dir.path(),
        "split",
        &two_services("split", "consistent_random"),
    );
    let r = result_on_shared(split, 1).await;
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["counts"]["acked"], 600);
    assert_eq!(check(&r, "lost_write")["verdict"], "pass");
    let ks = check(&r, "key_split");
    assert_eq!(ks["verdict"], "fail", "{ks}");
    // Where each side puts each key, computed here: the keys on two partitions are
    // exactly those whose CRC32 and murmur2 partitions differ.
    let place = |key: &str| {
        let crc = (crc32(key.as_bytes()) % 6) as i32;
        (crc, partition_for_key(key.as_bytes(), 6))
    };
    let expected = (0..50)
        .map(|i| key_string(Template::Webhook, i))
        .filter(|k| {
            let (crc, murmur) = place(k);
            crc != murmur
        })
        .count();
    assert_eq!(ks["count"], expected as u64, "{ks}");
    let detail = ks["detail"].as_str().unwrap();
    assert_eq!(
        detail,
        format!("{expected} of 50 keys on more than one partition of their topic")
    );
    println!("key_split: {detail}");
    let examples = ks["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 5, "{ks}");
    for e in examples {
        assert!(e["topic"].as_str().unwrap().starts_with("accounts"), "{e}");
        // Each service wrote each key 6 times to its own partition: producer 0 (the
        // rdkafka table, first in the file) by CRC32, producer 1 (rskafka) by murmur2.
        let key = e["key"].as_str().unwrap();
        let (crc, murmur) = place(key);
        let (a, b) = (
            format!("{crc} (producer 0"),
            format!("{murmur} (producer 1"),
        );
        let (first, second) = if crc < murmur { (a, b) } else { (b, a) };
        let note = e["note"].as_str().unwrap();
        assert_eq!(
            note,
            format!("on partitions {first}: 6 records), {second}: 6 records)"),
            "key {key}"
        );
        println!("  key {key}: {note}");
    }

    let agree = scenario(
        dir.path(),
        "agree",
        &two_services("agree", "murmur2_random"),
    );
    let r = result_on_shared(agree, 0).await;
    let ks = check(&r, "key_split");
    assert_eq!((&ks["verdict"], &ks["count"]), (&"pass".into(), &0.into()));
    assert_eq!(
        ks["detail"],
        "0 of 50 keys on more than one partition of their topic"
    );
}
