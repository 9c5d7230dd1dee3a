//! What the exec protocol costs: the same client, librdkafka, in the harness's own process
//! (`driver = "rdkafka"`) and behind the exec protocol (`driver = "exec"`, running
//! `examples/exec_rdkafka.rs`), each at `rate = "max"` with 1 KiB values, on one embedded
//! 1-node cluster, same settings, runs alternating.
//!
//! Run: `cargo bench --bench exec`. Settings: `EXEC_RECORDS` (per run, default 300000),
//! `EXEC_SIZE` (value bytes, default 1024), `EXEC_RUNS` (per side, default 5),
//! `EXEC_PARTITIONS` (default 1).
//!
//! ```text
//!   EmbeddedCluster (1 node) ─ warm-up (a run of each side, not reported)
//!     └─ in-process, exec, in-process, exec, ... each a scenario run through run::execute
//!          figure: result.throughput.produced_msgs_per_s (acknowledged / seconds from the
//!          producer's first send until every outcome is in; the process's start and its
//!          shutdown are outside that time)
//! ```
//!
//! Both sides keep the harness's bookkeeping (stamps, the History, latency); the exec side
//! also pays for a JSON line and base64 each way per record and a second process. A figure,
//! not a test: it depends on the machine (here, 2 cores shared with the broker).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{env_var as var, median, spread};

use kafka_harness::EmbeddedCluster;
use kafka_harness::report::RunResult;
use kafka_harness::run::engine::RunOptions;

/// `batch.size`, in bytes, on both sides.
const BATCH_BYTES: usize = 65_536;

struct Settings {
    records: u64,
    size: usize,
    runs: usize,
    partitions: i32,
}

impl Settings {
    fn from_env() -> Settings {
        let s = Settings {
            records: var("EXEC_RECORDS", 300_000u64),
            size: var("EXEC_SIZE", 1024usize),
            runs: var("EXEC_RUNS", 5usize),
            partitions: var("EXEC_PARTITIONS", 1i32),
        };
        assert!(s.records > 0 && s.runs > 0 && s.partitions > 0);
        s
    }

    /// The in-flight bound of benches/peer.rs: the 5 requests an idempotent producer keeps
    /// in flight per partition and one batch waiting.
    fn max_in_flight(&self) -> usize {
        let per_batch = (BATCH_BYTES / self.size.max(1)).max(1);
        6 * per_batch * self.partitions as usize
    }
}

/// Builds the adapter (release, as this bench) and returns its path.
fn adapter() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--example",
            "exec_rdkafka",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .status()
        .expect("running cargo build");
    assert!(status.success(), "building the exec adapter: {status}");
    let path = profile_dir.join("examples/exec_rdkafka");
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The scenario of one side: `driver` is `rdkafka` or `exec` (with `command`).
fn scenario(s: &Settings, records: u64, driver: &str, adapter: &Path) -> String {
    let exec = if driver == "exec" {
        format!(
            "command = {}\n",
            serde_json::to_string(&[adapter.to_string_lossy()]).expect("a JSON string")
        )
    } else {
        String::new()
    };
    format!(
        "name = \"exec-bench-{driver}\"\n\
         seed = 1\n\
         messages = {records}\n\
         [[topics]]\n\
         name = \"exec-bench-{driver}\"\n\
         partitions = {partitions}\n\
         [[producers]]\n\
         name = \"p\"\n\
         driver = \"{driver}\"\n\
         {exec}\
         topic = \"exec-bench-{driver}\"\n\
         template = \"raw\"\n\
         size = \"{size}B\"\n\
         keys = {{ count = 1000, distribution = \"uniform\" }}\n\
         rate = \"max\"\n\
         max_in_flight = {max_in_flight}\n\
         [producers.client]\n\
         acks = \"all\"\n\
         \"linger.ms\" = \"5\"\n\
         \"batch.size\" = \"{BATCH_BYTES}\"\n\
         \"compression.type\" = \"none\"\n\
         \"enable.idempotence\" = \"true\"\n",
        partitions = s.partitions,
        size = s.size,
        max_in_flight = s.max_in_flight(),
    )
}

/// One run: acknowledged messages per second, and the result.
async fn run(
    cluster: &EmbeddedCluster,
    s: &Settings,
    records: u64,
    driver: &str,
    adapter: &Path,
    reports: &Path,
) -> (f64, RunResult) {
    let text = scenario(s, records, driver, adapter);
    let plan = kafka_harness::scenario::parse(Path::new("exec-bench.toml"), &text)
        .unwrap_or_else(|e| panic!("the bench's scenario does not parse: {e}\n{text}"));
    let options = RunOptions::default();
    let (result, _dir) = kafka_harness::run::execute(&plan, cluster, options, reports)
        .await
        .unwrap_or_else(|e| panic!("{driver} run failed: {e}"));
    let c = &result.counts;
    assert_eq!(
        (c.acked, c.failed, c.indeterminate),
        (records, 0, 0),
        "{driver}: every record should be acknowledged"
    );
    (result.throughput.produced_msgs_per_s, result)
}

fn main() {
    common::init_tracing();
    let s = Settings::from_env();
    let adapter = adapter();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let reports = scratch.path().join("reports");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let cluster = EmbeddedCluster::builder()
            .start()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let version = kafka_harness::Cluster::kafka_version(&cluster).unwrap_or_default();
        eprintln!(
            "exec: Kafka {version}; {} records of {} B per run, {} runs a side",
            s.records, s.size, s.runs
        );
        // The broker's JIT and page cache warm up over the first million records or so:
        // a run of each side first, not counted.
        for driver in ["rdkafka", "exec"] {
            let (rate, _) = run(&cluster, &s, s.records, driver, &adapter, &reports).await;
            eprintln!("exec: warm-up, {driver}: {rate:.0} msgs/s (not counted)");
        }
        let (mut inproc, mut exec) = (Vec::new(), Vec::new());
        let (mut inproc_ack, mut exec_ack) = (Vec::new(), Vec::new());
        for i in 1..=s.runs {
            let (rate, r) = run(&cluster, &s, s.records, "rdkafka", &adapter, &reports).await;
            eprintln!(
                "exec: run {i} in-process {rate:>10.0} msgs/s ({:.1} s)",
                r.measured_s
            );
            inproc.push(rate);
            inproc_ack.push(r.latency_us.ack.p50);
            let (rate, r) = run(&cluster, &s, s.records, "exec", &adapter, &reports).await;
            eprintln!(
                "exec: run {i} exec       {rate:>10.0} msgs/s ({:.1} s)",
                r.measured_s
            );
            exec.push(rate);
            exec_ack.push(r.latency_us.ack.p50);
        }
        drop(cluster);
        let (mi, me) = (median(&inproc), median(&exec));
        let ((ilo, ihi), (elo, ehi)) = (spread(&inproc), spread(&exec));
        let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
        println!();
        println!(
            "exec vs in-process on one embedded 1-node Kafka {version} cluster, topic of {} \
             partition(s), {} records of {} B per run, rate = max, max_in_flight = {}",
            s.partitions,
            s.records,
            s.size,
            s.max_in_flight()
        );
        println!(
            "  both: librdkafka {librdkafka}, acks=all linger.ms=5 batch.size={BATCH_BYTES} \
             compression.type=none enable.idempotence=true; stamps and History on"
        );
        println!(
            "  {:<6} {:>16} {:>16}",
            "run", "in-process msg/s", "exec msg/s"
        );
        for i in 0..s.runs {
            println!("  {:<6} {:>16.0} {:>16.0}", i + 1, inproc[i], exec[i]);
        }
        println!(
            "  {:<6} {:>16.0} {:>16.0}   (spread {ilo:.0}-{ihi:.0} vs {elo:.0}-{ehi:.0})",
            "median", mi, me
        );
        println!(
            "  ack p50 (median of runs): in-process {:.1} ms, exec {:.1} ms",
            median(&inproc_ack.iter().map(|&v| v as f64).collect::<Vec<_>>()) / 1000.0,
            median(&exec_ack.iter().map(|&v| v as f64).collect::<Vec<_>>()) / 1000.0
        );
        println!("  ratio exec / in-process (medians): {:.2}", me / mi);
    });
    drop(scratch);
}
