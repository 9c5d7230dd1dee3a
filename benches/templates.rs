//! How fast each template writes 1 KiB values: `Generator::value` into a reused buffer, one
//! value per iteration (keys made by `key_string`, as a producer would send them).
//!
//! Run: `cargo bench --bench templates` (about 20 s). Criterion reports values per second
//! per template (times 1 KiB for bytes). A figure, not a test.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use kafka_harness::workload::{Generator, Template, key_string};

const SIZE: usize = 1024;
/// Distinct keys cycled through, as a uniform key chooser over a small key space would give.
const KEYS: u64 = 1024;

fn templates(c: &mut Criterion) {
    let mut group = c.benchmark_group("template_1KiB");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    for template in Template::ALL {
        let keys: Vec<String> = (0..KEYS).map(|i| key_string(template, i)).collect();
        let mut generator = Generator::new(template, SIZE, 42);
        let mut value = Vec::with_capacity(SIZE);
        // Every value is exactly 1 KiB: the sizes are what the throughput says.
        generator.value(&keys[0], 0, &mut value);
        assert_eq!(value.len(), SIZE, "{template}");
        let mut seq = 0u64;
        group.bench_function(template.name(), |b| {
            b.iter(|| {
                let key = &keys[(seq % KEYS) as usize];
                generator.value(black_box(key), black_box(seq), &mut value);
                seq += 1;
                black_box(value.len())
            })
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    templates(&mut criterion);
    criterion.final_summary();
}
