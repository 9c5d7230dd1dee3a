//! Throughput and memory of the checkers on a large synthetic clean run: 10 million records
//! by default (8 producers, 10,000 keys, 32 partitions of one topic, 4 consumers, every
//! record acknowledged, in the log once and delivered once, in order).
//!
//! Run: `cargo bench --bench checkers` (set `CHECKERS_RECORDS` for another size). The run
//! is built once, outside the timed section; each checker and `run_all` is then timed on one
//! core, throughput in records per second. After the timings, each checker runs once more in
//! a child process of its own that resets the kernel's peak-RSS mark (`/proc/self/clear_refs`)
//! after building the run and reads `VmHWM` after the check: the extra peak resident memory
//! per record, as the kernel counts it. A figure, not a test: it depends on the machine.

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};
use kafka_harness::check::{self, CheckName, CheckResult, CheckSettings, Verdict};
use kafka_harness::history::{
    Delivery, GroupEvent, History, Log, LogRecord, MsgId, Outcome, Send, TopicId,
};

const PRODUCERS: u32 = 8;
const KEYS: u32 = 10_000;
const PARTITIONS: i32 = 32;
const CONSUMERS: u32 = 4;
const TOPIC: TopicId = 0;
/// Set in a child process: measure the memory of this one check (or `run_all`).
const MEMORY_OF: &str = "CHECKERS_MEMORY_OF";

/// splitmix64: the key of the i-th send, reproducible without storing it.
fn key_of(i: u64) -> u32 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) % u64::from(KEYS)) as u32
}

fn partition_of(key: u32) -> i32 {
    (key % PARTITIONS as u32) as i32
}

/// Builds the synthetic run with every large vector allocated once at its final size, so
/// that no freed memory is lying around for a checker to reuse unseen.
fn synthetic(n: usize) -> (History, Log) {
    let mut per_partition = [0usize; PARTITIONS as usize];
    for i in 0..n as u64 {
        per_partition[partition_of(key_of(i)) as usize] += 1;
    }
    let mut start = [0usize; PARTITIONS as usize];
    let mut total = 0;
    for (p, count) in per_partition.iter().enumerate() {
        start[p] = total;
        total += count;
    }
    let mut next_offset = [0i64; PARTITIONS as usize];
    let mut sends = Vec::with_capacity(n);
    let blank = LogRecord {
        topic: TOPIC,
        partition: 0,
        offset: 0,
        id: None,
        key: None,
    };
    let mut records = vec![blank; n];
    for i in 0..n as u64 {
        let key = key_of(i);
        let partition = partition_of(key);
        let p = partition as usize;
        let offset = next_offset[p];
        next_offset[p] += 1;
        let id = MsgId {
            producer: (i % u64::from(PRODUCERS)) as u32,
            seq: i / u64::from(PRODUCERS),
        };
        sends.push(Send {
            id,
            topic: TOPIC,
            key,
            intended: i,
            completed: i + 500,
            outcome: Outcome::Ok { partition, offset },
        });
        records[start[p] + offset as usize] = LogRecord {
            topic: TOPIC,
            partition,
            offset,
            id: Some(id),
            key: Some(key),
        };
    }
    let mut deliveries = Vec::with_capacity(n);
    for (at, r) in records.iter().enumerate() {
        deliveries.push(Delivery {
            consumer: r.partition as u32 % CONSUMERS,
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            id: r.id,
            at: 1_000_000 + at as u64,
        });
    }
    let group_events = (0..CONSUMERS)
        .map(|c| GroupEvent::Assigned {
            consumer: c,
            at: 0,
            partitions: (0..PARTITIONS)
                .filter(|p| *p as u32 % CONSUMERS == c)
                .map(|p| (TOPIC, p))
                .collect(),
        })
        .collect();
    let history = History {
        faults: Vec::new(),
        txns: Vec::new(),
        failures: Vec::new(),
        topics: vec!["bench".to_owned()],
        keys: (0..KEYS)
            .map(|k| format!("key-{k:05}").into_bytes())
            .collect(),
        sends,
        deliveries,
        group_events,
    };
    let log = Log {
        isolation: kafka_harness::history::Isolation::ReadUncommitted,
        sources: Vec::new(),
        records,
        unreadable: Vec::new(),
    };
    (history, log)
}

fn settings() -> CheckSettings {
    CheckSettings {
        duplicate_delivery_allowed: false,
        max_duplicate_deliveries: None,
        consumed_topics: vec![TOPIC],
        pipelines: Vec::new(),
        assignments_unknown: Vec::new(),
    }
}

/// One check through its own public function (`None`: all of them through `run_all`).
fn run(
    name: Option<CheckName>,
    history: &History,
    log: &Log,
    settings: &CheckSettings,
) -> Vec<CheckResult> {
    let one = match name {
        None => return check::run_all(history, log, settings, &CheckName::ALL),
        Some(CheckName::LostWrite) => check::lost_write(history, log),
        Some(CheckName::DuplicateWrite) => check::duplicate_write(history, log),
        Some(CheckName::OrderViolation) => check::order_violation(history, log),
        Some(CheckName::KeySplit) => check::key_split(history, log),
        Some(CheckName::LostDelivery) => check::lost_delivery(history, log, settings),
        Some(CheckName::DuplicateDelivery) => check::duplicate_delivery(history, log, settings),
        Some(CheckName::NonmonotonicPoll) => check::nonmonotonic_poll(history, log),
        Some(CheckName::DeliveryOrder) => check::delivery_order(history, log),
        Some(CheckName::Phantom) => check::phantom(history, log),
        Some(CheckName::AbortedRead) => check::aborted_read(history, log),
        Some(CheckName::TornTransaction) => check::torn_transaction(history, log),
        Some(CheckName::ExactlyOnce) => check::exactly_once(history, log, settings),
    };
    vec![one]
}

fn records() -> usize {
    std::env::var("CHECKERS_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

fn label(name: Option<CheckName>) -> &'static str {
    name.map_or("run_all", CheckName::as_str)
}

fn targets() -> Vec<Option<CheckName>> {
    CheckName::ALL
        .into_iter()
        .map(Some)
        .chain(std::iter::once(None))
        .collect()
}

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Child process: build the run, reset the peak-RSS mark, run one check, print the extra peak.
fn memory_of(target: &str) {
    let n = records();
    let name = targets()
        .into_iter()
        .find(|t| label(*t) == target)
        .flatten();
    let (history, log) = synthetic(n);
    let settings = settings();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_bytes("VmRSS:");
    let results = black_box(run(name, &history, &log, &settings));
    let peak = status_bytes("VmHWM:");
    let verdict: Verdict = results.iter().map(|r| r.verdict).collect();
    match (reset, before, peak) {
        (true, Some(before), Some(peak)) => {
            let extra = peak.saturating_sub(before);
            println!(
                "memory {target:<18} extra peak RSS {:>8.1} MiB = {:>5.2} bytes/record (verdict {verdict})",
                extra as f64 / (1024.0 * 1024.0),
                extra as f64 / n as f64
            );
        }
        _ => println!("memory {target:<18} unavailable (no /proc/self/clear_refs or status)"),
    }
}

fn main() {
    if let Ok(target) = std::env::var(MEMORY_OF) {
        memory_of(&target);
        return;
    }
    let benching = std::env::args().any(|a| a == "--bench");
    let n = records();
    let started = std::time::Instant::now();
    let (history, log) = synthetic(n);
    let settings = settings();
    let evidence = std::mem::size_of::<Send>()
        + std::mem::size_of::<LogRecord>()
        + std::mem::size_of::<Delivery>();
    println!(
        "built {n} records in {:.1} s ({evidence} bytes/record of evidence: send + log record + delivery)",
        started.elapsed().as_secs_f64()
    );
    for result in run(None, &history, &log, &settings) {
        assert!(
            result.verdict == Verdict::Pass,
            "NOT CLEAN: {} {} {}",
            result.name,
            result.verdict,
            result.detail
        );
    }

    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut group = criterion.benchmark_group("checkers");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(n as u64));
    for target in targets() {
        group.bench_function(label(target), |b| {
            b.iter(|| black_box(run(target, &history, &log, &settings)))
        });
    }
    group.finish();
    criterion.final_summary();
    drop((history, log));

    if !benching {
        return; // `cargo test --benches`: the timings ran once; skip the memory runs
    }
    let Ok(me) = std::env::current_exe() else {
        println!("memory: cannot find this executable");
        return;
    };
    for target in targets() {
        match Command::new(&me).env(MEMORY_OF, label(target)).output() {
            Ok(out) => print!("{}", String::from_utf8_lossy(&out.stdout)),
            Err(e) => println!("memory {}: could not run: {e}", label(target)),
        }
    }
}
