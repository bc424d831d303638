//! Bulk-load figures, ignored by default:
//!
//! ```text
//! cargo test --release -p leadgen-store --test bulk_insert -- --ignored --nocapture
//! ```
//!
//! `LEADGEN_BULK_LEADS` sets the number of leads (default 1,000,000).

use std::time::Instant;

use leadgen_core::domain::Domain;
use leadgen_core::email::Email;
use leadgen_core::geo::Country;
use leadgen_core::lead::{LeadStatus, Tier};
use leadgen_core::phone::Phone;
use leadgen_core::{Lead, RecordId, SourceRef};
use leadgen_store::testing;
use leadgen_store::{BatchCounts, BatchMeta, LeadFilter, Store};

fn leads_wanted() -> usize {
    std::env::var("LEADGEN_BULK_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Leads shaped like an enriched CSV import: identity, names, company,
/// phone, place, tags and a custom field.
fn make_leads(n: usize, batch: i64, at: i64, first_id: i64) -> Vec<Lead> {
    let phone = Phone::parse("(650) 253-0000", Country::US).expect("phone");
    let titles = [
        "CEO",
        "Head of Growth",
        "VP Sales",
        "Marketing Manager",
        "CTO",
    ];
    let cities = [
        ("Austin", "TX"),
        ("Denver", "CO"),
        ("Boston", "MA"),
        ("Seattle", "WA"),
    ];
    let statuses = [LeadStatus::Raw, LeadStatus::Enriched, LeadStatus::Validated];
    (0..n)
        .map(|i| {
            let origin = SourceRef {
                at,
                record: RecordId::new(batch, i as u64 + 2),
            };
            let mut l = Lead::empty("csv_upload", origin);
            l.id = first_id + i as i64;
            l.email = Some(
                Email::parse(&format!("person.{i}@company{}.example.com", i % 50_000))
                    .expect("email"),
            );
            l.first_name = Some(format!("First{}", i % 997));
            l.last_name = Some(format!("Last{i}"));
            l.title = Some(titles[i % titles.len()].to_owned());
            l.company_name = Some(format!("Company {} LLC", i % 50_000));
            l.company_domain =
                Some(Domain::parse(&format!("company{}.example.com", i % 50_000)).expect("domain"));
            l.phone = (i % 2 == 0).then(|| phone.clone());
            let (city, state) = cities[i % cities.len()];
            l.city = Some(city.to_owned());
            l.state = Some(state.to_owned());
            l.country = Some(Country::US);
            l.employee_count = Some((i % 5000) as u32);
            l.tags = if i % 3 == 0 {
                vec!["webinar".to_owned()]
            } else {
                Vec::new()
            };
            l.custom = vec![("lead_source_detail".to_owned(), format!("row {i}"))];
            l.status = statuses[i % statuses.len()];
            l.score = (i % 101) as u8;
            l.tier = if l.score >= 70 {
                Tier::A
            } else if l.score >= 40 {
                Tier::B
            } else {
                Tier::C
            };
            l
        })
        .collect()
}

fn run(name: &str, store: &dyn Store) {
    let n = leads_wanted();
    let meta = BatchMeta {
        kind: "csv".into(),
        name: "bulk.csv".into(),
        source: "csv_upload".into(),
        content_hash: "bulk".into(),
        headers: vec!["email".into()],
    };
    let mut tx = store
        .begin_ingest(1, &meta, 1_750_000_000_000)
        .expect("begin");
    let batch = tx.batch().clone();
    let first = tx.reserve_lead_ids(n as u64).expect("reserve");
    let t = Instant::now();
    let leads = make_leads(n, batch.id, batch.started_at, first);
    let build = t.elapsed();

    let t = Instant::now();
    for chunk in leads.chunks(50_000) {
        tx.insert_leads(chunk).expect("insert");
    }
    let insert = t.elapsed();
    let t = Instant::now();
    tx.commit(
        BatchCounts {
            rows_read: n as u64,
            inserted: n as u64,
            merged: 0,
            rejected: 0,
        },
        1_750_000_000_001,
    )
    .expect("commit");
    let commit = t.elapsed();
    assert_eq!(
        store.count_leads(1, &LeadFilter::default()).expect("count"),
        n as u64
    );
    let total = insert + commit;
    eprintln!(
        "{name}: {n} leads — insert_leads {:.2}s ({:.0} leads/s); commit incl. index build {:.2}s; \
         insert+commit {:.2}s ({:.0} leads/s); building the Lead values {:.2}s (not counted)",
        insert.as_secs_f64(),
        n as f64 / insert.as_secs_f64(),
        commit.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        build.as_secs_f64(),
    );
}

#[test]
#[ignore = "a benchmark: run with --release -- --ignored --nocapture"]
fn postgres_copy_one_million_leads() {
    let Some(url) = testing::pg_url() else { return };
    let store = leadgen_store::postgres::PgStore::connect(&url).expect("connect");
    run("postgres (binary COPY)", &store);
}

#[test]
#[ignore = "a benchmark: run with --release -- --ignored --nocapture"]
fn sqlite_insert_one_million_leads() {
    let (_dir, store) = testing::sqlite_store();
    run("sqlite (multi-row INSERT)", &store);
}
