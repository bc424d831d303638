//! The parsers' side of `leadgen import`, on rows from `gen-sample` (the
//! file the import figures are measured with), one core:
//!
//! - `core_path`: parse a row, normalize it, dedupe keys, score; what the
//!   core bench measures on its own narrower rows.
//! - `parse_stage`: all a parser thread does per row in an import: the core
//!   path plus encoding the lead for the store and keeping the raw record.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leadgen_app::csv_source::{CsvSource, RawRow};
use leadgen_app::import::parse_stage;
use leadgen_app::sample::{SampleSpec, write_sample};
use leadgen_core::dedupe::KeyHashes;
use leadgen_core::geo::Country;
use leadgen_core::mapping::auto_map;
use leadgen_core::record::RowParser;
use leadgen_core::score::ScoringRules;
use leadgen_core::{RecordId, SourceRef};

/// The allocator the `leadgen` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rows per iteration: one import chunk.
const ROWS: u64 = 4096;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leads.csv");
    let spec = SampleSpec {
        rows: ROWS,
        dup_rate: 0.15,
        seed: 7,
    };
    write_sample(&spec, std::fs::File::create(&path).expect("sample file")).expect("sample");
    let mut source = CsvSource::open(&path).expect("sample opens");
    let headers: Vec<&str> = source.headers().iter().map(String::as_str).collect();
    let mapping = auto_map(&headers, &[]).expect("headers map");
    let parser = RowParser::new(
        mapping,
        Country::US,
        "csv_upload",
        vec![],
        ScoringRules::default(),
    );
    let mut rows = Vec::new();
    loop {
        let mut row = RawRow::new();
        match source.read_row(&mut row) {
            Ok(true) => rows.push(row),
            Ok(false) => break,
            Err(_) => {}
        }
    }

    let mut g = c.benchmark_group("import_parse");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("core_path", |b| {
        let mut key_buf = String::new();
        b.iter(|| {
            let mut n = 0usize;
            for row in &rows {
                let origin = SourceRef {
                    at: 0,
                    record: RecordId::new(1, row.line()),
                };
                if let Ok(lead) = parser.parse(row, origin) {
                    n += KeyHashes::of(&lead, &mut key_buf)
                        .email
                        .map_or(0, |k| k as usize & 1);
                }
            }
            n
        })
    });
    g.bench_function("parse_stage", |b| {
        // The stage takes the rows and gives them back, as the import's
        // reader and parsers pass them around.
        let mut held = rows.clone();
        b.iter(|| {
            let (accepted, back) = parse_stage(std::mem::take(&mut held), &parser);
            held = back;
            accepted
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
