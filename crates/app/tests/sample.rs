//! `write_sample` is a benchmark with an answer key: these tests pin down that
//! the key is right (unique leads really are distinct, duplicates really
//! re-state one earlier lead) and that the file is deterministic valid CSV.

use std::collections::HashMap;
use std::io::Cursor;

use leadgen_app::csv_source::{CsvSource, RawRow};
use leadgen_app::sample::{SAMPLE_HEADER, SampleSpec, SampleStats, write_sample};

fn generate(rows: u64, dup_rate: f64, seed: u64) -> (Vec<u8>, SampleStats) {
    let mut out = Vec::new();
    let stats = write_sample(
        &SampleSpec {
            rows,
            dup_rate,
            seed,
        },
        &mut out,
    )
    .expect("writes");
    (out, stats)
}

fn records(bytes: &[u8]) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().expect("header").clone();
    let rows = reader.records().map(|r| r.expect("valid CSV")).collect();
    (header, rows)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, sa) = generate(5_000, 0.15, 11);
    let (b, sb) = generate(5_000, 0.15, 11);
    let (c, _) = generate(5_000, 0.15, 12);
    assert_eq!(sa, sb);
    assert!(a == b, "deterministic for a seed");
    assert!(a != c, "the seed matters");
}

#[test]
fn row_count_is_exact_and_header_matches() {
    for rows in [0, 1, 2, 999, 10_000] {
        let (bytes, stats) = generate(rows, 0.1, 3);
        let (header, data) = records(&bytes);
        assert_eq!(header.iter().collect::<Vec<_>>().join(","), SAMPLE_HEADER);
        assert_eq!(data.len() as u64, rows);
        assert_eq!(stats.rows, rows);
        assert_eq!(
            stats.unique_leads + stats.planted_duplicates + stats.planted_bad,
            rows
        );
        assert!(data.iter().all(|r| r.len() == header.len()));
    }
}

#[test]
fn dup_rate_and_bad_rate_are_about_right() {
    let (_, stats) = generate(100_000, 0.2, 5);
    let dup = stats.planted_duplicates as f64 / stats.rows as f64;
    let bad = stats.planted_bad as f64 / stats.rows as f64;
    assert!((0.19..0.21).contains(&dup), "dup rate {dup}");
    assert!((0.001..0.003).contains(&bad), "bad rate {bad}");
    let (_, none) = generate(10_000, 0.0, 5);
    assert_eq!(none.planted_duplicates, 0);
}

#[test]
fn invalid_dup_rate_is_refused() {
    for rate in [-0.1, 0.99, f64::NAN] {
        let err = write_sample(
            &SampleSpec {
                rows: 10,
                dup_rate: rate,
                seed: 1,
            },
            Vec::new(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("dup_rate"));
    }
}

/// Union-find over row indices.
struct Clusters(Vec<usize>);

impl Clusters {
    fn find(&mut self, i: usize) -> usize {
        let mut root = i;
        while self.0[root] != root {
            root = self.0[root];
        }
        let mut i = i;
        while self.0[i] != root {
            let next = self.0[i];
            self.0[i] = root;
            i = next;
        }
        root
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        self.0[a] = b;
    }
}

fn email_key(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || !domain.contains('.') || domain.contains('@') {
        return None;
    }
    if domain == "gmail.com" {
        let local = local.split('+').next().unwrap_or("").replace('.', "");
        return Some(format!("{local}@gmail.com"));
    }
    Some(email)
}

fn linkedin_key(raw: &str) -> Option<String> {
    let (_, slug) = raw.split_once("/in/")?;
    Some(slug.trim_end_matches('/').to_lowercase())
}

#[test]
fn planted_duplicates_and_bad_rows_match_the_answer_key() {
    let (bytes, stats) = generate(60_000, 0.25, 9);
    let (header, rows) = records(&bytes);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (first, last, company, website, email, linkedin) = (
        col("First Name"),
        col("Last Name"),
        col("Company Name"),
        col("Website"),
        col("Email"),
        col("Person Linkedin Url"),
    );

    let mut clusters = Clusters((0..rows.len()).collect());
    let mut owners: HashMap<String, usize> = HashMap::new();
    let mut bad = 0;
    let mut good_rows = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let email_key = email_key(&r[email]);
        let linkedin_key = linkedin_key(&r[linkedin]);
        if email_key.is_none() && linkedin_key.is_none() && r[website].is_empty() {
            bad += 1;
            continue;
        }
        good_rows.push(i);
        let name_key = format!(
            "name:{}|{}|{}",
            r[first].trim().to_lowercase(),
            r[last].trim().to_lowercase(),
            r[company].to_lowercase()
        );
        let keys = [
            email_key.map(|k| format!("email:{k}")),
            linkedin_key.map(|k| format!("li:{k}")),
            Some(name_key),
        ];
        for key in keys.into_iter().flatten() {
            match owners.get(&key) {
                Some(&other) => clusters.union(i, other),
                None => {
                    owners.insert(key, i);
                }
            }
        }
    }
    let mut roots: Vec<usize> = good_rows.iter().map(|&i| clusters.find(i)).collect();
    roots.sort_unstable();
    roots.dedup();
    assert_eq!(
        bad, stats.planted_bad,
        "bad rows are exactly the planted ones"
    );
    assert_eq!(
        roots.len() as u64,
        stats.unique_leads,
        "rows cluster into exactly the unique leads"
    );
}

#[test]
fn looks_like_real_exports() {
    let (bytes, _) = generate(20_000, 0.2, 21);
    let text = String::from_utf8(bytes).expect("UTF-8");
    for needle in [
        "O'Neil",
        "Zoë",
        "@gmail.com",
        "GmbH",
        ".co.uk",
        "https://www.linkedin.com/in/",
        "linkedin.com/in/",
        "http://uk.linkedin.com/in/",
        "+44 20 ",
        "\"VP, Engineering\"",
    ] {
        assert!(text.contains(needle), "sample lacks {needle:?}");
    }
    // Phone formats: (415) 555-0123, 415-555-0123, +1 415 555 0123, 415.555.0123.
    let has = |pred: &dyn Fn(&str) -> bool| text.lines().any(|l| l.split(',').any(pred));
    assert!(has(&|c| c.starts_with('(')
        && c.contains(") ")
        && c.len() == 14));
    assert!(has(&|c| c.starts_with("+1 ") && c.len() == 15));
    assert!(has(&|c| c.len() == 12
        && c.matches('.').count() == 2
        && c.chars().next().is_some_and(|d| d.is_ascii_digit())));
    assert!(!text.contains("555-01"), "no fictional 555-01xx numbers");
}

#[test]
fn sample_reads_back_through_csv_source_as_apollo() {
    let (bytes, stats) = generate(2_000, 0.1, 4);
    let mut src = CsvSource::from_reader(Cursor::new(bytes), "sample.csv").unwrap();
    let headers: Vec<&str> = src.headers().iter().map(String::as_str).collect();
    let mapping = leadgen_core::mapping::auto_map(&headers, &[]).unwrap();
    assert_eq!(mapping.preset(), Some("apollo"));
    assert!(
        mapping.custom_columns().is_empty(),
        "{}",
        mapping.describe()
    );
    let mut row = RawRow::new();
    let mut n = 0;
    while src.read_row(&mut row).expect("no bad CSV rows") {
        n += 1;
    }
    assert_eq!(n, stats.rows);
}
