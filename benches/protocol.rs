//! How fast the harness reads and writes exec protocol lines (`docs/drivers.md`): reading
//! `producer_send_success` answers (one per record an exec producer sends) and writing
//! `send` lines of 1 KiB values. One line per iteration, from a pool of distinct lines.
//!
//! Run: `cargo bench --bench protocol` (about 10 s). Criterion reports lines per second
//! (the target for reading: at least a million a second on one core). A figure, not a test.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use kafka_harness::driver::exec::protocol::{self, Event, Line};

/// Distinct lines cycled through.
const LINES: usize = 4096;

fn read(c: &mut Criterion) {
    // As the adapters write them: a topic with the run's tag, growing ids and offsets.
    let lines: Vec<String> = (0..LINES as u64)
        .map(|i| {
            format!(
                r#"{{"name":"producer_send_success","id":{},"topic":"audit-events-1a2b3c4d","partition":{},"offset":{}}}"#,
                1_000_000 + i,
                i % 12,
                5_000_000 + i * 7
            )
        })
        .collect();
    let mut group = c.benchmark_group("protocol");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("parse producer_send_success", |b| {
        b.iter(|| {
            let line = &lines[i % LINES];
            i += 1;
            match protocol::parse(black_box(line)) {
                Ok(Line::Event(Event::SendSuccess { id, offset, .. })) => {
                    black_box(id ^ offset as u64)
                }
                other => panic!("{other:?}"),
            }
        })
    });
    let value = vec![b'x'; 1024];
    let key = b"req-000042".to_vec();
    let stamp = [1u8; 21];
    let topic = protocol::json_string("audit-events-1a2b3c4d");
    let mut out = Vec::with_capacity(1 << 20);
    let mut id = 0u64;
    group.bench_function("encode send, 1 KiB value", |b| {
        b.iter(|| {
            if out.len() > 1 << 20 {
                out.clear();
            }
            protocol::encode_send(
                &mut out,
                black_box(id),
                &topic,
                None,
                &key,
                black_box(&value),
                &[("kh-stamp", &stamp)],
            );
            id += 1;
            black_box(out.len())
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    read(&mut criterion);
    criterion.final_summary();
}
