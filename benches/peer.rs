//! The peer comparison: our rdkafka producer, with the harness's bookkeeping on, against a
//! bare librdkafka send loop (the harness's own cost) and against
//! Kafka's own `kafka-producer-perf-test` (`org.apache.kafka.tools.ProducerPerformance`), on
//! one embedded 1-node cluster, same record count, record size and producer settings.
//!
//! Run: `cargo bench --bench peer`. Settings: `PEER_RECORDS` (default 500000), `PEER_SIZE`
//! (value bytes, default 1024), `PEER_RUNS` (per side, default 3), `PEER_PARTITIONS`
//! (default 1), `PEER_MAX_IN_FLIGHT` (our producer's `max_in_flight`; default 6 batches' worth
//! per partition, see `Settings::max_in_flight`), `PEER_IDEMPOTENCE` (`true`/`false`, set on both sides; default `true`, the
//! Java producer's own default with acks=all), `PEER_TOOLS_VERSION` (the kafka-tools release to run; default the
//! cluster's, else the newest one known to be on Maven Central).
//!
//! ```text
//!   EmbeddedCluster (1 node, default version)
//!     ├─ warm-up: ours, N records, not reported
//!     └─ ours, bare, theirs, ours, bare, theirs, ... (each on a topic of its own)
//!          ours   = scenario text ─scenario::parse─> Plan ─run::execute─> RunResult
//!                   msgs/s = result.throughput.produced_msgs_per_s
//!          bare   = a librdkafka ThreadedProducer send loop in this process, nothing else
//!                   msgs/s = acknowledged / seconds from the first send until flush returned
//!          theirs = java -cp '<kafka-tools jars>/*' ProducerPerformance ... (a child JVM)
//!                   msgs/s = its final "N records sent, X records/sec ..." line
//! ```
//!
//! All three figures are acknowledged records over the time from the producer's start to the
//! last acknowledgement: ours is `result.throughput.produced_msgs_per_s` (with no warm-up:
//! acknowledged sends / seconds from the producers' start until every outcome came back);
//! ProducerPerformance's is successful callbacks / milliseconds from before its first send
//! until `close()` returned. Neither counts topic creation, the JVM's start-up, or our log
//! read-back and checks after the run. A figure, not a test: it depends on the machine.

mod common;

use std::path::Path;
use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use kafka_harness::report::RunResult;
use kafka_harness::run::engine::RunOptions;
use kafka_harness::{Cluster, EmbeddedCluster, TopicSpec};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

/// The allocator the `kafka-harness` binary runs with.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `batch.size`, in bytes, on both sides.
const BATCH_BYTES: usize = 65_536;
/// Produce requests an idempotent producer keeps in flight per partition (Kafka's limit).
const REQUESTS_IN_FLIGHT: usize = 5;
/// How long one ProducerPerformance run may take before it is killed.
const THEIR_TIMEOUT: Duration = Duration::from_secs(600);

struct Settings {
    records: u64,
    size: usize,
    runs: usize,
    partitions: i32,
    idempotence: bool,
    max_in_flight: Option<usize>,
}

impl Settings {
    fn from_env() -> Settings {
        use common::env_var as var;
        let settings = Settings {
            records: var("PEER_RECORDS", 500_000u64),
            size: var("PEER_SIZE", 1024usize),
            runs: var("PEER_RUNS", 3usize),
            partitions: var("PEER_PARTITIONS", 1i32),
            // 0: the default below.
            max_in_flight: Some(var("PEER_MAX_IN_FLIGHT", 0usize)).filter(|n| *n > 0),
            idempotence: var("PEER_IDEMPOTENCE", true),
        };
        assert!(settings.records > 0, "PEER_RECORDS must be at least 1");
        assert!(settings.runs > 0, "PEER_RUNS must be at least 1");
        assert!(
            settings.partitions > 0,
            "PEER_PARTITIONS must be at least 1"
        );
        settings
    }

    /// Unacknowledged sends our producer may have: the requests in flight per partition and
    /// one batch waiting behind them. A deeper local queue makes librdkafka's broker thread
    /// busy-poll while the in-flight window is full and a whole batch waits (it sets its
    /// next wake-up to "now" and finds it may not send), burning the CPU the co-located
    /// broker needs: at 50,000 ours ran at 0.96x theirs, at this bound faster, with half the
    /// CPU. The Java producer waits on a condition instead, so its 32 MiB `buffer.memory`
    /// costs it nothing.
    fn max_in_flight(&self) -> usize {
        if let Some(n) = self.max_in_flight {
            return n;
        }
        let per_batch = (BATCH_BYTES / self.size.max(1)).max(1);
        (REQUESTS_IN_FLIGHT + 1) * per_batch * self.partitions as usize
    }

    /// The producer settings both sides get.
    fn producer_props(&self) -> Vec<(&'static str, String)> {
        vec![
            ("acks", "all".to_owned()),
            ("linger.ms", "5".to_owned()),
            ("batch.size", BATCH_BYTES.to_string()),
            ("compression.type", "none".to_owned()),
            ("enable.idempotence", self.idempotence.to_string()),
        ]
    }
}

/// The scenario our side runs: what `kafka-harness run` would run from this text.
fn our_scenario(s: &Settings, records: u64) -> String {
    let client: String = s
        .producer_props()
        .iter()
        .map(|(k, v)| format!("\"{k}\" = \"{v}\"\n"))
        .collect();
    format!(
        "name = \"peer-ours\"\n\
         description = \"kafka-harness's rdkafka producer at rate = max, for the peer bench\"\n\
         seed = 1\n\
         messages = {records}\n\
         warmup = \"0s\"\n\
         [cluster]\n\
         brokers = 1\n\
         [[topics]]\n\
         name = \"peer-ours\"\n\
         partitions = {partitions}\n\
         replication_factor = 1\n\
         [[producers]]\n\
         name = \"ours\"\n\
         driver = \"rdkafka\"\n\
         instances = 1\n\
         topic = \"peer-ours\"\n\
         template = \"raw\"\n\
         size = \"{size}B\"\n\
         keys = {{ count = 1000, distribution = \"uniform\" }}\n\
         rate = \"max\"\n\
         max_in_flight = {max_in_flight}\n\
         [producers.client]\n\
         {client}",
        partitions = s.partitions,
        size = s.size,
        max_in_flight = s.max_in_flight(),
    )
}

/// One run of ours: the acknowledged messages per second, and the run's result.
async fn run_ours(
    cluster: &EmbeddedCluster,
    s: &Settings,
    records: u64,
    reports: &Path,
) -> (f64, RunResult) {
    let text = our_scenario(s, records);
    let plan = kafka_harness::scenario::parse(Path::new("peer-ours.toml"), &text)
        .unwrap_or_else(|e| panic!("the bench's scenario does not parse: {e}\n{text}"));
    let options = RunOptions::default();
    let (result, _dir) = kafka_harness::run::execute(&plan, cluster, options, reports)
        .await
        .unwrap_or_else(|e| panic!("our run failed: {e}"));
    let c = &result.counts;
    assert_eq!(
        (c.acked, c.failed, c.indeterminate),
        (records, 0, 0),
        "ours: every record should be acknowledged"
    );
    // Cross-check the report's figure against its definition.
    let rate = result.throughput.produced_msgs_per_s;
    let expected = c.acked as f64 / result.measured_s;
    assert!(
        (rate - expected).abs() <= 1e-6 * expected,
        "produced_msgs_per_s {rate} is not acked / measured_s {expected}"
    );
    (rate, result)
}

/// Counts the bare loop's delivery reports, and nothing else.
#[derive(Default)]
struct Counted {
    acked: AtomicU64,
    failed: AtomicU64,
}

impl rdkafka::ClientContext for Counted {}

impl ProducerContext for Counted {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let counter = if result.is_ok() {
            &self.acked
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One run of the bare loop on a fresh topic: librdkafka with our settings (the same
/// partitioner, keys and value size) and nothing of the harness (no stamps, no history, no
/// per-send bookkeeping, librdkafka's own local queue). Acknowledged records per second from
/// the first send until `flush` returned, as ProducerPerformance counts.
async fn run_bare(cluster: &EmbeddedCluster, s: &Settings, topic: &str) -> f64 {
    cluster
        .create_topic(&TopicSpec::new(topic, s.partitions, 1))
        .await
        .unwrap_or_else(|e| panic!("creating {topic}: {e}"));
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("partitioner", "murmur2_random");
    for (k, v) in s.producer_props() {
        config.set(k, v);
    }
    let producer: ThreadedProducer<Counted> = config
        .create_with_context(Counted::default())
        .unwrap_or_else(|e| panic!("the bare producer: {e}"));
    let (records, size, topic) = (s.records, s.size, topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let keys: Vec<String> = (0..1000).map(|k| format!("key-{k}")).collect();
        let value = vec![b'x'; size];
        let start = Instant::now();
        for i in 0..records {
            let mut record = BaseRecord::to(&topic)
                .key(&keys[i as usize % keys.len()])
                .payload(&value[..]);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(1));
                    }
                    Err((e, _)) => panic!("the bare producer: {e}"),
                }
            }
        }
        producer
            .flush(THEIR_TIMEOUT)
            .unwrap_or_else(|e| panic!("the bare producer's flush: {e}"));
        let seconds = start.elapsed().as_secs_f64();
        let c = producer.context();
        let acked = c.acked.load(Ordering::Relaxed);
        assert_eq!(
            (acked, c.failed.load(Ordering::Relaxed)),
            (records, 0),
            "bare: every record should be acknowledged"
        );
        acked as f64 / seconds
    })
    .await
    .expect("the bare loop")
}

/// What ProducerPerformance printed last.
#[derive(Debug, Clone, PartialEq)]
struct TheirSummary {
    records: u64,
    per_s: f64,
    /// 50th, 95th, 99th, 99.9th percentiles in ms, when printed.
    percentiles_ms: Vec<f64>,
}

/// Parses ProducerPerformance's final line: "500000 records sent, 81234.5 records/sec
/// (79.33 MB/sec), 180.12 ms avg latency, 420.00 ms max latency, 175 ms 50th, 300 ms 95th,
/// 380 ms 99th, 410 ms 99.9th."
fn parse_summary(line: &str) -> Option<TheirSummary> {
    let mut parts = line.trim().trim_end_matches('.').split(", ");
    let number = |text: &str, suffix: &str| -> Option<f64> {
        text.trim().strip_suffix(suffix)?.trim().parse().ok()
    };
    let records = number(parts.next()?, "records sent")? as u64;
    let (rate, mb) = parts.next()?.split_once(" records/sec (")?;
    let per_s = rate.trim().parse().ok()?;
    // The rest is checked for shape only.
    number(mb, "MB/sec)")?;
    number(parts.next()?, "ms avg latency")?;
    number(parts.next()?, "ms max latency")?;
    let percentiles_ms = parts
        .filter_map(|p| {
            p.trim()
                .split_once(" ms ")
                .and_then(|(v, _)| v.parse().ok())
        })
        .collect();
    Some(TheirSummary {
        records,
        per_s,
        percentiles_ms,
    })
}

/// One run of theirs on a fresh topic.
async fn run_theirs(
    cluster: &EmbeddedCluster,
    peer: &common::Peer,
    s: &Settings,
    topic: &str,
) -> TheirSummary {
    cluster
        .create_topic(&TopicSpec::new(topic, s.partitions, 1))
        .await
        .unwrap_or_else(|e| panic!("creating {topic}: {e}"));
    let mut command = common::tool_command(peer, "org.apache.kafka.tools.ProducerPerformance");
    command
        .args(["--topic", topic])
        .args(["--num-records", &s.records.to_string()])
        .args(["--record-size", &s.size.to_string()])
        .args(["--throughput", "-1"])
        .arg("--producer-props")
        .arg(format!("bootstrap.servers={}", cluster.bootstrap_servers()))
        .args(s.producer_props().iter().map(|(k, v)| format!("{k}={v}")));
    let common::ChildOutput {
        status,
        stdout: out,
        stderr: err,
    } = common::run_child(command, THEIR_TIMEOUT, "ProducerPerformance").await;
    let summary = out
        .iter()
        .rev()
        .find(|l| l.contains(" ms 50th"))
        .and_then(|l| parse_summary(l));
    match (status.success(), summary) {
        (true, Some(summary)) => {
            assert_eq!(
                summary.records,
                s.records,
                "theirs: every record should be acknowledged\n{}",
                out.join("\n")
            );
            summary
        }
        (_, summary) => panic!(
            "ProducerPerformance failed ({status}, summary {summary:?}); its output:\n{}\n{}",
            out.join("\n"),
            err
        ),
    }
}

fn main() {
    common::init_tracing();
    let s = Settings::from_env();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let reports = scratch.path().join("reports");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // block_on runs this future on the main thread, which the peer's JVMs are tied to.
    runtime.block_on(async {
        let cluster = EmbeddedCluster::builder()
            .start()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let version = cluster.kafka_version().unwrap_or_default();
        let peer = common::find_peer(&version, scratch.path(), "PEER_TOOLS_VERSION", "peer");
        eprintln!(
            "peer: cluster {} (Kafka {version}); {} records of {} B per run, {} runs a side",
            cluster.bootstrap_servers(),
            s.records,
            s.size,
            s.runs
        );

        // Warm the broker (JIT, page cache) so that the first measured run is not the cold one.
        let warm = s.records;
        let (rate, _) = run_ours(&cluster, &s, warm, &reports).await;
        eprintln!("peer: warm-up, ours, {warm} records: {rate:.0} msgs/s (not counted)");

        let mut ours = Vec::new();
        let mut bare = Vec::new();
        let mut theirs = Vec::new();
        let mut our_ack = Vec::new();
        for run in 1..=s.runs {
            let (rate, result) = run_ours(&cluster, &s, s.records, &reports).await;
            eprintln!(
                "peer: run {run} ours   {rate:>10.0} msgs/s ({:.1} s)",
                result.measured_s
            );
            ours.push(rate);
            our_ack.push(result.latency_us.ack);
            let rate = run_bare(&cluster, &s, &format!("peer-bare-{run}")).await;
            eprintln!("peer: run {run} bare   {rate:>10.0} msgs/s");
            bare.push(rate);
            let summary = run_theirs(&cluster, &peer, &s, &format!("peer-theirs-{run}")).await;
            eprintln!("peer: run {run} theirs {:>10.0} msgs/s", summary.per_s);
            theirs.push(summary);
        }
        drop(cluster); // every broker JVM is killed and reaped here

        let their_rates: Vec<f64> = theirs.iter().map(|t| t.per_s).collect();
        let (m_ours, m_bare, m_theirs) = (
            common::median(&ours),
            common::median(&bare),
            common::median(&their_rates),
        );
        let mib = |msgs: f64| msgs * s.size as f64 / (1024.0 * 1024.0);
        let props: Vec<String> = s
            .producer_props()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
        println!();
        println!(
            "peer comparison on one embedded 1-node Kafka {version} cluster, topic of {} \
             partition(s), {} records of {} B per run",
            s.partitions, s.records, s.size
        );
        println!("  settings (both): {}", props.join(" "));
        println!(
            "  ours:   kafka-harness rdkafka producer (librdkafka {librdkafka}), rate = max, \
             max_in_flight = {}, template raw, 1000 keys, stamps + history on; \
             figure: result.throughput.produced_msgs_per_s",
            s.max_in_flight()
        );
        println!(
            "  bare:   a librdkafka send loop (ThreadedProducer, its default local queue), \
             same settings, partitioner and keys, no stamps, no history; figure: acked / \
             seconds from the first send until flush returned"
        );
        println!(
            "  theirs: org.apache.kafka.tools.ProducerPerformance from kafka-tools {}{}, \
             --throughput -1, null keys; figure: its final records/sec",
            peer.tools_version,
            peer.note
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        println!();
        println!(
            "  {:<8} {:>13} {:>13} {:>13}   {:>22} {:>22}",
            "run",
            "ours msgs/s",
            "bare msgs/s",
            "theirs msgs/s",
            "ours ack p50/p99 ms",
            "theirs p50/p99 ms"
        );
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            let ack = &our_ack[i];
            let their_p = |k: usize| t.percentiles_ms.get(k).copied().unwrap_or(f64::NAN);
            println!(
                "  {:<8} {:>13.0} {:>13.0} {:>13.0}   {:>22} {:>22}",
                i + 1,
                o,
                bare[i],
                t.per_s,
                format!(
                    "{:.1} / {:.1}",
                    ack.p50 as f64 / 1000.0,
                    ack.p99 as f64 / 1000.0
                ),
                format!("{:.0} / {:.0}", their_p(0), their_p(2)),
            );
        }
        let spread = |v: &[f64]| {
            let (lo, hi) = common::spread(v);
            format!("{lo:.0}..{hi:.0}")
        };
        println!(
            "  {:<8} {:>13.0} {:>13.0} {:>13.0}   ({:.1} / {:.1} / {:.1} MiB/s of values)",
            "median",
            m_ours,
            m_bare,
            m_theirs,
            mib(m_ours),
            mib(m_bare),
            mib(m_theirs)
        );
        println!(
            "  {:<8} {:>13} {:>13} {:>13}",
            "spread",
            spread(&ours),
            spread(&bare),
            spread(&their_rates)
        );
        println!("  ratio ours/theirs (medians): {:.2}", m_ours / m_theirs);
        println!("  ratio ours/bare   (medians): {:.2}", m_ours / m_bare);
    });
    // The reports of our runs live in the scratch folder, removed here.
    drop(scratch);
}
