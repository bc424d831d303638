//! Intent CSV import: rows per second from a vendor export into a fresh
//! SQLite store (read, map, parse, store, recompute levels).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use leadgen_app::intent::import_intent_csv;

const ROWS: u64 = 20_000;
/// 2026-11-30T12:00:00Z.
const NOW: i64 = 1_796_040_000_000;

fn export(path: &std::path::Path) {
    let mut csv = String::from("Company Domain,Intent Topic,Composite Score,Date,Signal Type\n");
    for i in 0..ROWS {
        csv.push_str(&format!(
            "company{}-bench.com,topic {},{},2026-11-{:02},surge\n",
            i % 5000,
            i % 40,
            30 + i % 70,
            1 + i % 28
        ));
    }
    std::fs::write(path, csv).expect("writing the export");
}

fn import(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("intent.csv");
    export(&file);
    let mut group = c.benchmark_group("intent_csv_import");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS));
    group.bench_function("rows_into_fresh_sqlite", |b| {
        b.iter_batched(
            leadgen_store::testing::sqlite_store,
            |(_dir, store)| {
                let s = import_intent_csv(&store, 1, &file, &[], NOW).expect("import");
                assert_eq!(s.added, ROWS);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
