//! What a run's History costs in memory per send: the peak resident set added while the
//! History of N sends (default 10,000,000) is built the way the run's collector builds it,
//! each case in a fresh process of its own, so one case's peak cannot hide another's.
//!
//! Run: `cargo bench --bench history_memory`. Settings: `HISTORY_MEMORY_SENDS` (default
//! 10000000).
//!
//! ```text
//!   parent ──for each case: this binary again, HISTORY_MEMORY_CASE=<case>──> child
//!   child: key strings made (not counted) ─ VmRSS read ─> on a thread of its own, per send:
//!            key bytes (as a SendDone carries them) ─KeyInterner::intern─> Send pushed
//!            [+ one consumer's Delivery pushed] [+ the latency Recorder fed, as the collector does]
//!          ─ VmHWM read ─> "peak delta" = VmHWM − VmRSS before
//! ```
//!
//! The collector (`src/run/collector.rs`) is private to the run, so the child repeats its
//! `send` and `Delivered` steps: intern the key, push a `Send` (outcome Ok with partition and
//! offset), push a `Delivery` with the stamp's id, and in the `recorder` cases feed
//! `latency::Recorder` the same calls (`completed`, `sent`, `delivered`). It leaves out the
//! live figures (a few counters per partition). Sends are timed as at 3,000 msgs/s, so 10
//! million span 3,334 s, an hour's timeline. The work runs on a spawned thread, as the
//! collector runs on a tokio worker (whose allocations come from a glibc arena other than
//! the main thread's). Keys are the audit template's 36-byte UUIDs, drawn uniformly.

use std::io::Write;
use std::mem::size_of;
use std::process::Command;

use kafka_harness::history::latency::Recorder;
use kafka_harness::history::{
    Delivery, GroupEvent, History, KeyInterner, LogRecord, MsgId, Outcome, Send,
};
use kafka_harness::workload::{KeyChooser, KeyDistribution, Template};

/// The send rate the times are spread at.
const RATE_PER_S: u64 = 3_000;
/// Producer instances (sequence numbers per producer), and partitions of the one topic.
const PRODUCERS: u64 = 4;
const PARTITIONS: u64 = 12;

/// One measurement: what the child builds.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    keys: u64,
    deliveries: bool,
    recorder: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "sends, 1000 keys",
        keys: 1_000,
        deliveries: false,
        recorder: false,
    },
    Case {
        name: "sends, 100000 keys",
        keys: 100_000,
        deliveries: false,
        recorder: false,
    },
    Case {
        name: "sends + deliveries, 1000 keys",
        keys: 1_000,
        deliveries: true,
        recorder: false,
    },
    Case {
        name: "sends + deliveries, 100000 keys",
        keys: 100_000,
        deliveries: true,
        recorder: false,
    },
    Case {
        name: "sends + Recorder, 1000 keys",
        keys: 1_000,
        deliveries: false,
        recorder: true,
    },
    Case {
        name: "sends + deliveries + Recorder, 1000 keys",
        keys: 1_000,
        deliveries: true,
        recorder: true,
    },
];

/// A field of /proc/self/status, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// What a child reports.
struct Measured {
    /// Peak resident bytes added while building.
    peak_delta: u64,
    /// Resident bytes added, still held at the end.
    held_delta: u64,
    /// Bytes the History's vectors reserved (capacity × element size) and its key table.
    reserved: u64,
}

/// Builds the case's History (and Recorder) of `sends` sends; run in the child.
fn build(case: Case, sends: u64) -> Measured {
    let mut chooser =
        KeyChooser::new(KeyDistribution::Uniform, case.keys, 1).expect("a key chooser");
    // The producers' key strings: their memory, not the History's.
    let key_strings: Vec<String> = (0..case.keys)
        .map(|i| chooser.key(i, Template::Audit))
        .collect();
    let before = status_bytes("VmRSS");
    let worker = std::thread::spawn(move || {
        let mut history = History::default();
        let mut interner = KeyInterner::default();
        let mut recorder = case.recorder.then(Recorder::default);
        let mut offsets = [0i64; PARTITIONS as usize];
        let mut seqs = [0u64; PRODUCERS as usize];
        for i in 0..sends {
            // What a SendDone carries: the key's bytes, owned.
            let key: Vec<u8> = key_strings[chooser.next() as usize].as_bytes().to_vec();
            let key = interner.intern(&key);
            let producer = i % PRODUCERS;
            let seq = seqs[producer as usize];
            seqs[producer as usize] += 1;
            let partition = (i * 7919 % PARTITIONS) as i32;
            let offset = offsets[partition as usize];
            offsets[partition as usize] += 1;
            let intended = i * 1_000_000 / RATE_PER_S;
            let sent = intended + 20;
            let completed = sent + 2_000 + i % 997;
            let id = MsgId {
                producer: producer as u32,
                seq,
            };
            if let Some(r) = recorder.as_mut() {
                r.completed(true, sent - intended, completed - sent, completed, true);
                r.sent(sent);
            }
            history.sends.push(Send {
                id,
                topic: 0,
                key,
                intended,
                completed,
                outcome: Outcome::Ok { partition, offset },
            });
            if case.deliveries {
                let at = completed + 1_000 + i % 1_009;
                if let Some(r) = recorder.as_mut() {
                    r.delivered(at, Some(at - intended), true);
                }
                history.deliveries.push(Delivery {
                    consumer: 0,
                    topic: 0,
                    partition,
                    offset,
                    id: Some(id),
                    at,
                });
            }
        }
        if let Some(r) = recorder.as_mut() {
            r.finish();
        }
        history.keys = interner.into_keys();
        (history, recorder)
    });
    let (history, recorder) = worker.join().expect("the building thread");
    let peak = status_bytes("VmHWM");
    let held = status_bytes("VmRSS");
    let reserved = (history.sends.capacity() * size_of::<Send>()
        + history.deliveries.capacity() * size_of::<Delivery>()
        + history.keys.capacity() * size_of::<Vec<u8>>()
        + history.keys.iter().map(|k| k.capacity()).sum::<usize>()) as u64;
    std::hint::black_box((&history, &recorder));
    Measured {
        peak_delta: peak.saturating_sub(before),
        held_delta: held.saturating_sub(before),
        reserved,
    }
}

fn main() {
    let sends: u64 = match std::env::var("HISTORY_MEMORY_SENDS") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("HISTORY_MEMORY_SENDS={v}: not a number")),
        _ => 10_000_000,
    };
    assert!(sends > 0, "HISTORY_MEMORY_SENDS must be at least 1");

    // The child: one case, one line on stdout.
    if let Ok(name) = std::env::var("HISTORY_MEMORY_CASE") {
        let case = *CASES
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case {name:?}"));
        let m = build(case, sends);
        let mut out = std::io::stdout().lock();
        writeln!(out, "{} {} {}", m.peak_delta, m.held_delta, m.reserved).expect("stdout");
        return;
    }

    println!("history memory: {sends} sends per case, each case in a fresh process");
    println!(
        "  size_of: Send {} B, Delivery {} B, Outcome {} B, MsgId {} B, Option<MsgId> {} B, \
         LogRecord {} B, GroupEvent {} B",
        size_of::<Send>(),
        size_of::<Delivery>(),
        size_of::<Outcome>(),
        size_of::<MsgId>(),
        size_of::<Option<MsgId>>(),
        size_of::<LogRecord>(),
        size_of::<GroupEvent>(),
    );
    println!();
    println!(
        "  {:<42} {:>14} {:>14} {:>14} {:>16}",
        "case", "peak delta MiB", "B/send (peak)", "held B/send", "reserved B/send"
    );
    let exe = std::env::current_exe().expect("this bench's path");
    for case in CASES {
        let out = Command::new(&exe)
            .env("HISTORY_MEMORY_CASE", case.name)
            .env("HISTORY_MEMORY_SENDS", sends.to_string())
            .output()
            .expect("running a case");
        assert!(
            out.status.success(),
            "case {:?} failed ({}): {}",
            case.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<u64> = text
            .split_whitespace()
            .map(|f| f.parse().expect("a number"))
            .collect();
        let [peak, held, reserved] = fields[..] else {
            panic!("case {:?} printed {text:?}", case.name);
        };
        let per_send = |bytes: u64| bytes as f64 / sends as f64;
        println!(
            "  {:<42} {:>14.1} {:>14.1} {:>14.1} {:>16.1}",
            case.name,
            peak as f64 / (1024.0 * 1024.0),
            per_send(peak),
            per_send(held),
            per_send(reserved),
        );
    }
}
