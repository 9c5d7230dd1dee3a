//! The consumer peer comparison: our rdkafka group consumer, every delivery recorded into
//! the History as a run records it, against Kafka's own `kafka-consumer-perf-test`
//! (`org.apache.kafka.tools.ConsumerPerformance`), both reading the same backlog from the
//! beginning, in a new group each time, on one embedded 1-node cluster.
//!
//! Run: `cargo bench --bench consumer_peer`. Settings: `CPEER_RECORDS` (default 1000000),
//! `CPEER_SIZE` (value bytes, default 100), `CPEER_RUNS` (per side, default 3),
//! `CPEER_PARTITIONS` (default 1), `CPEER_ONLY` (`ours` or `theirs`: one side only, e.g. to
//! profile it), `CPEER_CLIENT` (`key=value,...`: client settings for our consumer only, on
//! top of the defaults, e.g. to try librdkafka's fetch settings), `CPEER_TOOLS_VERSION` (the
//! kafka-tools release to run; default the cluster's, else the newest one known to be on
//! Maven Central).
//!
//! ```text
//!   EmbeddedCluster (1 node, default version)
//!     ├─ fill: a producer-only scenario (rate = max, stamps on) ─run::execute─> the backlog topic
//!     ├─ warm-up: ours reads it once, not reported
//!     └─ ours, theirs, ours, theirs, ... (each in a group of its own, from the beginning)
//!          ours   = the scenario's [[consumers]] table ─run::backlog::read_backlog─> History
//!          theirs = java -cp '<kafka-tools jars>/*' ConsumerPerformance ... (a child JVM)
//! ```
//!
//! What is counted. Ours: records delivered (each recorded into the History by the run's
//! collector) over the seconds from the consumer's start (its client created, subscribed,
//! joining the group) until the collector had recorded the last record (within 2 ms); "ours
//! after join" over the same span less the time until the group assignment came. Theirs:
//! its `nMsg.sec`, records over the milliseconds from just before `subscribe` (after the
//! client was constructed) until the poll loop had counted the N-th record, and its
//! `fetch.nMsg.sec`, the same less the time until its first partitions were assigned. So
//! ours total compares with `nMsg.sec` and ours after join with `fetch.nMsg.sec`. Neither
//! counts the JVM's start-up, closing the client, or leaving the group. Both use the
//! clients' default fetch sizes (`fetch.max.bytes` 50 MiB, `max.partition.fetch.bytes`
//! 1 MiB, `fetch.min.bytes` 1, 500 ms fetch wait) with `auto.offset.reset = earliest` and
//! auto-commit; the tool also sets its socket receive buffer to 2 MiB (librdkafka leaves it
//! to the system). A figure, not a test: it depends on the machine.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Peer, cpu_seconds, env_var, find_peer, median, run_child, spread, tool_command};
use kafka_harness::run::backlog::{Backlog, BacklogOptions, read_backlog};
use kafka_harness::run::engine::RunOptions;
use kafka_harness::{Cluster, EmbeddedCluster};

/// `batch.size` of the producer that fills the backlog.
const BATCH_BYTES: usize = 65_536;
/// How long one read (either side) may take before it is stopped.
const READ_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, PartialEq)]
enum Sides {
    Both,
    Ours,
    Theirs,
}

struct Settings {
    records: u64,
    size: usize,
    runs: usize,
    partitions: i32,
    sides: Sides,
    /// Client settings for our consumer on top of the defaults (`CPEER_CLIENT`).
    client: Vec<(String, String)>,
}

impl Settings {
    fn from_env() -> Settings {
        let sides = match env_var("CPEER_ONLY", String::new()).as_str() {
            "" => Sides::Both,
            "ours" => Sides::Ours,
            "theirs" => Sides::Theirs,
            other => panic!("CPEER_ONLY={other}: ours or theirs"),
        };
        let settings = Settings {
            records: env_var("CPEER_RECORDS", 1_000_000u64),
            size: env_var("CPEER_SIZE", 100usize),
            runs: env_var("CPEER_RUNS", 3usize),
            partitions: env_var("CPEER_PARTITIONS", 1i32),
            sides,
            client: env_var("CPEER_CLIENT", String::new())
                .split(',')
                .filter(|kv| !kv.trim().is_empty())
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
                    None => panic!("CPEER_CLIENT: {kv:?} is not key=value"),
                })
                .collect(),
        };
        assert!(settings.records > 0, "CPEER_RECORDS must be at least 1");
        assert!(settings.runs > 0, "CPEER_RUNS must be at least 1");
        assert!(
            settings.partitions > 0,
            "CPEER_PARTITIONS must be at least 1"
        );
        settings
    }

    /// Unacknowledged sends of the filling producer: the 5 requests an idempotent producer
    /// keeps in flight per partition and one batch behind them (see benches/peer.rs).
    fn max_in_flight(&self) -> usize {
        let per_batch = (BATCH_BYTES / self.size.max(1)).max(1);
        6 * per_batch * self.partitions as usize
    }
}

/// The scenario: the producer that fills the backlog and, with `consumer`, the consumer
/// that reads it (client defaults; `auto.offset.reset = earliest` is the driver's).
fn scenario(s: &Settings, consumer: bool) -> kafka_harness::scenario::Plan {
    let mut text = format!(
        "name = \"consumer-peer\"\n\
         description = \"a backlog for the consumer peer bench\"\n\
         seed = 1\n\
         messages = {records}\n\
         warmup = \"0s\"\n\
         [cluster]\n\
         brokers = 1\n\
         [[topics]]\n\
         name = \"cpeer-backlog\"\n\
         partitions = {partitions}\n\
         replication_factor = 1\n\
         [[producers]]\n\
         name = \"fill\"\n\
         driver = \"rdkafka\"\n\
         topic = \"cpeer-backlog\"\n\
         template = \"raw\"\n\
         size = \"{size}B\"\n\
         keys = {{ count = 1000, distribution = \"uniform\" }}\n\
         rate = \"max\"\n\
         max_in_flight = {max_in_flight}\n\
         [producers.client]\n\
         \"acks\" = \"all\"\n\
         \"linger.ms\" = \"5\"\n\
         \"batch.size\" = \"{BATCH_BYTES}\"\n\
         \"compression.type\" = \"none\"\n",
        records = s.records,
        partitions = s.partitions,
        size = s.size,
        max_in_flight = s.max_in_flight(),
    );
    if consumer {
        text.push_str(
            "[[consumers]]\n\
             name = \"ours\"\n\
             driver = \"rdkafka\"\n\
             topic = \"cpeer-backlog\"\n\
             group = \"cpeer-ours\"\n\
             [consumers.client]\n",
        );
        for (k, v) in &s.client {
            text.push_str(&format!("{k:?} = {v:?}\n"));
        }
    }
    kafka_harness::scenario::parse(Path::new("consumer-peer.toml"), &text)
        .unwrap_or_else(|e| panic!("the bench's scenario does not parse: {e}\n{text}"))
}

/// One read of ours: records per second from the consumer's start, and after its join.
struct Ours {
    per_s: f64,
    fetch_per_s: f64,
    join_ms: f64,
    seconds: f64,
    /// CPU seconds of this process (consumer, collector, everything) during the read.
    cpu_s: f64,
    /// CPU seconds of the broker during the read.
    broker_cpu_s: f64,
    /// The longest time between two deliveries, in ms (a fetch backoff shows here).
    max_gap_ms: f64,
}

async fn run_ours(
    cluster: &EmbeddedCluster,
    broker: &str,
    s: &Settings,
    topics: &[String],
    suffix: &str,
) -> Ours {
    let plan = scenario(s, true);
    let options = BacklogOptions {
        group_suffix: suffix.to_owned(),
        timeout: READ_TIMEOUT,
    };
    let (cpu_before, _) = cpu_seconds("self");
    let (broker_before, _) = cpu_seconds(broker);
    let Backlog {
        history,
        recorded,
        assigned,
        caught_up,
        ..
    } = read_backlog(&plan, cluster, topics, &options)
        .await
        .unwrap_or_else(|e| panic!("our read failed: {e}"));
    let cpu_s = cpu_seconds("self").0 - cpu_before;
    let broker_cpu_s = cpu_seconds(broker).0 - broker_before;
    assert!(
        caught_up,
        "ours did not read the backlog within {READ_TIMEOUT:?}"
    );
    let delivered = history.deliveries.len() as u64;
    assert_eq!(delivered, s.records, "ours: each record once");
    assert!(
        history.deliveries.iter().all(|d| d.id.is_some()),
        "ours: every record carried its stamp"
    );
    let max_gap_ms = history
        .deliveries
        .windows(2)
        .map(|w| w[1].at.saturating_sub(w[0].at))
        .max()
        .unwrap_or(0) as f64
        / 1e3;
    let seconds = recorded.as_secs_f64();
    let join = assigned.expect("ours: assigned").as_secs_f64();
    Ours {
        per_s: delivered as f64 / seconds,
        fetch_per_s: delivered as f64 / (seconds - join),
        join_ms: join * 1e3,
        seconds,
        cpu_s,
        broker_cpu_s,
        max_gap_ms,
    }
}

/// ConsumerPerformance's result line.
#[derive(Debug, Clone, PartialEq)]
struct TheirSummary {
    records: u64,
    per_s: f64,
    rebalance_ms: f64,
    fetch_per_s: f64,
    /// CPU seconds of the JVM, start-up to exit.
    cpu_s: f64,
    /// CPU seconds of the broker while it ran.
    broker_cpu_s: f64,
}

/// Parses ConsumerPerformance's line under its header "start.time, end.time,
/// data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms,
/// fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec", e.g. "2026-01-01 10:00:00:000,
/// 2026-01-01 10:00:03:000, 95.3674, 31.7891, 1000000, 333333.3333, 3012, -12, ...".
fn parse_summary(line: &str) -> Option<TheirSummary> {
    let fields: Vec<&str> = line.trim().split(", ").collect();
    if fields.len() != 10 {
        return None;
    }
    let number = |i: usize| -> Option<f64> { fields[i].trim().parse().ok() };
    Some(TheirSummary {
        records: fields[4].trim().parse().ok()?,
        per_s: number(5)?,
        rebalance_ms: number(6)?,
        fetch_per_s: number(9)?,
        cpu_s: 0.0,
        broker_cpu_s: 0.0,
    })
}

const CONSUMER_PERFORMANCE: &str = "org.apache.kafka.tools.ConsumerPerformance";

/// The tool's option for the number of records to read: `--num-records` where its `--help`
/// lists it (newer 4.x, which deprecates `--messages`), else `--messages`; and the CPU
/// seconds the JVM took to start, print that and exit.
async fn count_option(peer: &Peer) -> (&'static str, f64) {
    let mut command = tool_command(peer, CONSUMER_PERFORMANCE);
    command.arg("--help");
    let (_, children) = cpu_seconds("self");
    let out = run_child(
        command,
        Duration::from_secs(60),
        "ConsumerPerformance --help",
    )
    .await;
    let cpu_s = cpu_seconds("self").1 - children;
    let help = format!("{}\n{}", out.stdout.join("\n"), out.stderr);
    let option = if help.contains("--num-records") {
        "--num-records"
    } else {
        "--messages"
    };
    (option, cpu_s)
}

/// One run of theirs, in group `group`.
async fn run_theirs(
    cluster: &EmbeddedCluster,
    broker: &str,
    peer: &Peer,
    count_option: &str,
    s: &Settings,
    topic: &str,
    group: &str,
) -> TheirSummary {
    let mut command = tool_command(peer, CONSUMER_PERFORMANCE);
    command
        .args(["--bootstrap-server", &cluster.bootstrap_servers()])
        .args(["--topic", topic])
        .args([count_option, &s.records.to_string()])
        .args(["--group", group])
        // The longest wait between returned records before it gives up.
        .args(["--timeout", "60000"]);
    let (_, children) = cpu_seconds("self");
    let (broker_before, _) = cpu_seconds(broker);
    let out = run_child(command, READ_TIMEOUT, "ConsumerPerformance").await;
    let cpu_s = cpu_seconds("self").1 - children;
    let broker_cpu_s = cpu_seconds(broker).0 - broker_before;
    let header = out
        .stdout
        .iter()
        .position(|l| l.starts_with("start.time, end.time"));
    let summary = header
        .and_then(|h| out.stdout.get(h + 1))
        .and_then(|l| parse_summary(l));
    match (out.status.success(), summary) {
        (true, Some(mut summary)) => {
            summary.cpu_s = cpu_s;
            summary.broker_cpu_s = broker_cpu_s;
            assert_eq!(
                summary.records,
                s.records,
                "theirs: every record should be read\n{}",
                out.stdout.join("\n")
            );
            summary
        }
        (_, summary) => panic!(
            "ConsumerPerformance failed ({}, summary {summary:?}); its output:\n{}\n{}",
            out.status,
            out.stdout.join("\n"),
            out.stderr
        ),
    }
}

/// `median (min..max)` of `values`, as whole numbers.
fn summary_cell(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".to_owned();
    }
    let (min, max) = spread(values);
    format!("{:.0} ({:.0}..{:.0})", median(values), min, max)
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
        let peer = find_peer(&version, scratch.path(), "CPEER_TOOLS_VERSION", "cpeer");
        let (count_option, jvm_start_cpu_s) = count_option(&peer).await;
        let broker = cluster
            .node_ids()
            .first()
            .and_then(|&n| cluster.pid(n).ok().flatten())
            .expect("the broker's pid")
            .to_string();
        eprintln!(
            "cpeer: cluster {} (Kafka {version}); a backlog of {} records of {} B on {} \
             partition(s), {} reads a side; pid {}",
            cluster.bootstrap_servers(),
            s.records,
            s.size,
            s.partitions,
            s.runs,
            std::process::id()
        );

        let (filled, _) =
            kafka_harness::run::execute(&scenario(&s, false), &cluster, RunOptions::default(), &reports)
                .await
                .unwrap_or_else(|e| panic!("filling the backlog failed: {e}"));
        assert_eq!(filled.counts.acked, s.records, "the backlog: every record acknowledged");
        let topics = filled.topics.clone();
        eprintln!(
            "cpeer: filled {} at {:.0} msgs/s",
            topics[0], filled.throughput.produced_msgs_per_s
        );

        // Warm the broker's read path (JIT) so that the first measured read is not the cold one.
        let warm = run_ours(&cluster, &broker, &s, &topics, "-warm-up").await;
        eprintln!("cpeer: warm-up, ours: {:.0} msgs/s (not counted)", warm.per_s);

        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for run in 1..=s.runs {
            if s.sides != Sides::Theirs {
                let o = run_ours(&cluster, &broker, &s, &topics, &format!("-{run}")).await;
                eprintln!(
                    "cpeer: run {run} ours   {:>10.0} msgs/s, {:>10.0} after join ({:.2} s, join {:.0} ms; cpu {:.2} s, broker {:.2} s; longest gap {:.0} ms)",
                    o.per_s, o.fetch_per_s, o.seconds, o.join_ms, o.cpu_s, o.broker_cpu_s, o.max_gap_ms
                );
                ours.push(o);
            }
            if s.sides != Sides::Ours {
                let group = format!("cpeer-theirs-{run}-{:08x}", rand::random::<u32>());
                let t = run_theirs(&cluster, &broker, &peer, count_option, &s, &topics[0], &group).await;
                eprintln!(
                    "cpeer: run {run} theirs {:>10.0} msgs/s, {:>10.0} after join (join {:.0} ms; cpu {:.2} s, broker {:.2} s)",
                    t.per_s, t.fetch_per_s, t.rebalance_ms, t.cpu_s, t.broker_cpu_s
                );
                theirs.push(t);
            }
        }
        drop(cluster); // every broker JVM is killed and reaped here

        let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
        println!();
        println!(
            "consumer peer comparison on one embedded 1-node Kafka {version} cluster: a backlog \
             of {} records of {} B values on {} partition(s), each read from the beginning in a \
             new group",
            s.records, s.size, s.partitions
        );
        println!(
            "  ours:   kafka-harness rdkafka group consumer (librdkafka {librdkafka}), client \
             defaults{}, deliveries recorded into the History by the run's collector; \
             run::backlog::read_backlog",
            s.client
                .iter()
                .map(|(k, v)| format!(" + {k}={v}"))
                .collect::<String>()
        );
        println!(
            "  theirs: org.apache.kafka.tools.ConsumerPerformance from kafka-tools {}{}, tool \
             defaults",
            peer.tools_version,
            peer.note
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        println!(
            "  msgs/s: from the start (ours: client created; theirs: subscribe) to the last \
             record; after join: less the time to the group assignment (theirs: fetch.nMsg.sec)"
        );
        println!(
            "  cpu s: CPU seconds during the read of the reader (ours: this whole process; \
             theirs: the JVM from start to exit, {jvm_start_cpu_s:.2} s of which is what \
             `--help` alone costs) and of the broker"
        );
        println!();
        println!(
            "  {:<5} {:>9} {:>10} {:>7} {:>6} {:>7}   {:>9} {:>10} {:>7} {:>6} {:>7}",
            "run",
            "ours",
            "after join",
            "join ms",
            "cpu s",
            "broker",
            "theirs",
            "after join",
            "join ms",
            "cpu s",
            "broker"
        );
        let whole = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
        let cents = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
        for i in 0..s.runs {
            let (o, t) = (ours.get(i), theirs.get(i));
            println!(
                "  {:<5} {:>9} {:>10} {:>7} {:>6} {:>7}   {:>9} {:>10} {:>7} {:>6} {:>7}",
                i + 1,
                whole(o.map(|o| o.per_s)),
                whole(o.map(|o| o.fetch_per_s)),
                whole(o.map(|o| o.join_ms)),
                cents(o.map(|o| o.cpu_s)),
                cents(o.map(|o| o.broker_cpu_s)),
                whole(t.map(|t| t.per_s)),
                whole(t.map(|t| t.fetch_per_s)),
                whole(t.map(|t| t.rebalance_ms)),
                cents(t.map(|t| t.cpu_s)),
                cents(t.map(|t| t.broker_cpu_s)),
            );
        }
        let our_total: Vec<f64> = ours.iter().map(|o| o.per_s).collect();
        let our_fetch: Vec<f64> = ours.iter().map(|o| o.fetch_per_s).collect();
        let their_total: Vec<f64> = theirs.iter().map(|t| t.per_s).collect();
        let their_fetch: Vec<f64> = theirs.iter().map(|t| t.fetch_per_s).collect();
        let per_record_us = |cpu: &[f64]| {
            if cpu.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.2}", median(cpu) * 1e6 / s.records as f64)
            }
        };
        let our_cpu: Vec<f64> = ours.iter().map(|o| o.cpu_s).collect();
        let their_cpu: Vec<f64> = theirs.iter().map(|t| t.cpu_s).collect();
        println!();
        println!("  median (min..max), msgs/s:");
        println!("    ours total          {}", summary_cell(&our_total));
        println!("    theirs nMsg.sec     {}", summary_cell(&their_total));
        println!("    ours after join     {}", summary_cell(&our_fetch));
        println!("    theirs fetch.nMsg.sec {}", summary_cell(&their_fetch));
        println!(
            "  reader CPU per record (median): ours {} us, theirs {} us (JVM start-up included)",
            per_record_us(&our_cpu),
            per_record_us(&their_cpu)
        );
        if !ours.is_empty() && !theirs.is_empty() {
            println!(
                "  ratio ours/theirs (medians): {:.2} total (vs nMsg.sec), {:.2} after join \
                 (vs fetch.nMsg.sec)",
                median(&our_total) / median(&their_total),
                median(&our_fetch) / median(&their_fetch)
            );
        }
    });
    // The reports of the fill run live in the scratch folder, removed here.
    drop(scratch);
}
