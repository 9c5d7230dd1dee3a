//! `run::backlog::read_backlog` on librdkafka's mock cluster: a producer-only run fills a
//! topic, then the plan's consumer reads all of it into a History, twice, in new groups.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use kafka_harness::cluster::mock::MockCluster;
use kafka_harness::run::backlog::{BacklogOptions, read_backlog};
use kafka_harness::run::engine::RunOptions;

const RECORDS: u64 = 300;

/// The scenario: a producer of `RECORDS` raw records on 2 partitions, and with `consumer`
/// an rdkafka group reading them.
fn scenario(consumer: bool) -> kafka_harness::scenario::Plan {
    let mut text = format!(
        "name = \"backlog\"\n\
         messages = {RECORDS}\n\
         warmup = \"0s\"\n\
         [[topics]]\n\
         name = \"backlog\"\n\
         partitions = 2\n\
         [[producers]]\n\
         name = \"p\"\n\
         driver = \"rdkafka\"\n\
         topic = \"backlog\"\n\
         template = \"raw\"\n\
         size = \"100B\"\n\
         keys = {{ count = 50, distribution = \"uniform\" }}\n\
         rate = \"max\"\n"
    );
    if consumer {
        text.push_str(
            "[[consumers]]\n\
             name = \"c\"\n\
             driver = \"rdkafka\"\n\
             topic = \"backlog\"\n\
             group = \"readers\"\n",
        );
    }
    kafka_harness::scenario::parse(Path::new("backlog.toml"), &text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_reads_the_whole_backlog_into_the_history() {
    let cluster = MockCluster::start(1).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (filled, _) = kafka_harness::run::execute(
        &scenario(false),
        &cluster,
        RunOptions::default(),
        out.path(),
    )
    .await
    .unwrap();
    assert_eq!(filled.counts.acked, RECORDS);

    let plan = scenario(true);
    for suffix in ["-first", "-second"] {
        let options = BacklogOptions {
            group_suffix: suffix.to_owned(),
            timeout: Duration::from_secs(120),
        };
        let read = read_backlog(&plan, &cluster, &filled.topics, &options)
            .await
            .unwrap();
        assert!(read.caught_up, "{suffix}");
        let ends: i64 = read.end_offsets.values().sum();
        assert_eq!(ends, RECORDS as i64);
        let h = &read.history;
        assert_eq!(
            h.deliveries.len() as u64,
            RECORDS,
            "{suffix}: each record once"
        );
        assert!(h.sends.is_empty());
        assert_eq!(h.topics, filled.topics);
        // Every record carried its producer's stamp: sequence numbers 0..RECORDS.
        let seqs: BTreeSet<u64> = h
            .deliveries
            .iter()
            .map(|d| d.id.expect("a stamped record").seq)
            .collect();
        assert_eq!(seqs, (0..RECORDS).collect());
        let positions: BTreeSet<(i32, i64)> = h
            .deliveries
            .iter()
            .map(|d| (d.partition, d.offset))
            .collect();
        for (&(_, p), &end) in &read.end_offsets {
            assert!(
                (0..end).all(|o| positions.contains(&(p, o))),
                "{suffix}: {p}"
            );
        }
        let (assigned, last) = (read.assigned.unwrap(), read.last_delivery.unwrap());
        assert!(assigned <= last, "{assigned:?} after {last:?}");
    }
}
