//! The core ingest path per row: parse cells → normalize → dedupe keys →
//! score. The target is ≥ 1,000,000 rows/s on one core.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use leadgen_core::dedupe::KeyHashes;
use leadgen_core::geo::Country;
use leadgen_core::mapping::auto_map;
use leadgen_core::record::{Cells, RowParser};
use leadgen_core::score::ScoringRules;
use leadgen_core::{RecordId, SourceRef};

/// The allocator the `leadgen` binary runs with, so a row costs here what
/// it costs in an import.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HEADERS: [&str; 15] = [
    "First Name",
    "Last Name",
    "Title",
    "Seniority",
    "Company Name",
    "Website",
    "Email",
    "Phone",
    "Person Linkedin Url",
    "Industry",
    "# Employees",
    "City",
    "State",
    "Country",
    "Tags",
];

/// Rows shaped like a real export: mixed phone formats, URL forms, casing.
fn rows(n: usize, phones: &[&str]) -> Vec<Vec<String>> {
    let first = [
        "Jane", "José", "Liam", "Zoë", "Priya", "Connor", "Mei", "Ahmed",
    ];
    let last = [
        "Doe", "O'Neil", "García", "Smith", "Nguyen", "Müller", "Okafor", "Kowalski",
    ];
    let titles = [
        "VP Sales",
        "Head of Marketing",
        "Software Engineer",
        "CEO",
        "Account Executive",
    ];
    let companies = [
        ("Acme Inc", "acme.com"),
        ("Globex LLC", "globex.io"),
        ("Initech Ltd", "initech.co.uk"),
    ];
    (0..n)
        .map(|i| {
            let f = first[i % first.len()];
            let l = last[(i / 3) % last.len()];
            let (c, d) = companies[i % companies.len()];
            let n4 = format!("{:04}", 1000 + i % 9000);
            let phone = phones[i % phones.len()]
                .replace("{n}", &n4)
                .replace("{n3}", &n4[1..]);
            let site = if i % 2 == 0 {
                format!("https://www.{d}/about")
            } else {
                d.to_string()
            };
            vec![
                f.to_string(),
                l.to_string(),
                titles[i % titles.len()].to_string(),
                "senior".into(),
                c.to_string(),
                site,
                format!(
                    "{}.{}{}@{d}",
                    f.to_lowercase(),
                    l.to_lowercase().replace('\'', ""),
                    i
                ),
                phone,
                format!(
                    "linkedin.com/in/{}-{}-{i}/",
                    f.to_lowercase(),
                    l.to_lowercase()
                ),
                "Software".into(),
                "51-200".into(),
                "San Francisco".into(),
                "California".into(),
                "United States".into(),
                "q4".into(),
            ]
        })
        .collect()
}

/// A row as the import's reader holds it: its cells' text in one buffer,
/// with the end of each cell.
struct PackedRow {
    text: String,
    ends: Vec<usize>,
}

impl PackedRow {
    fn new(cells: &[String]) -> PackedRow {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(cells.len());
        for c in cells {
            text.push_str(c);
            ends.push(text.len());
        }
        PackedRow { text, ends }
    }
}

impl Cells for PackedRow {
    fn cell(&self, col: usize) -> &str {
        let start = if col == 0 { 0 } else { self.ends[col - 1] };
        self.ends.get(col).map_or("", |&end| &self.text[start..end])
    }
}

fn bench(c: &mut Criterion) {
    let mapping = auto_map(&HEADERS, &[]).expect("headers map");
    let parser = RowParser::new(
        mapping,
        Country::US,
        "csv_upload",
        vec![],
        ScoringRules::default(),
    );
    let mut g = c.benchmark_group("ingest_core");
    // North American numbers take the fast phone path; others go through
    // libphonenumber, which dominates the cost of a row that has one.
    let nanp = [
        "(415) 404-{n}",
        "212-779-{n}",
        "+1 312 315 {n}",
        "617.864.{n}",
    ];
    let mixed = [
        "(415) 404-{n}",
        "212-779-{n}",
        "+1 312 315 {n}",
        "617.864.{n}",
        "+44 20 7946 0{n3}",
    ];
    for (name, phones) in [
        ("nanp_phones", &nanp[..]),
        ("one_in_five_uk_phones", &mixed[..]),
    ] {
        let cells: Vec<PackedRow> = rows(10_000, phones)
            .iter()
            .map(|r| PackedRow::new(r))
            .collect();
        g.throughput(Throughput::Elements(cells.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |()| {
                    let mut n = 0usize;
                    let mut key_buf = String::new();
                    for (i, row) in cells.iter().enumerate() {
                        let origin = SourceRef {
                            at: 0,
                            record: RecordId::new(1, i as u64 + 2),
                        };
                        if let Ok(lead) = parser.parse(row, origin) {
                            n += KeyHashes::of(&lead, &mut key_buf)
                                .email
                                .map_or(0, |k| k as usize & 1);
                        }
                    }
                    n
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
