//! One contract, two stores: every behaviour below is written once against
//! `&dyn Store` and runs on SQLite and on PostgreSQL (a throw-away cluster;
//! skipped with a loud line when PostgreSQL is not installed, except on CI).

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use leadgen_core::domain::Domain;
use leadgen_core::email::Email;
use leadgen_core::geo::Country;
use leadgen_core::lead::{IntentLevel, LeadStatus, LifecycleStage, Tier};
use leadgen_core::linkedin::LinkedinUrl;
use leadgen_core::phone::Phone;
use leadgen_core::{Field, Lead, LeadId, RecordId, SourceRef, WorkspaceId};
use leadgen_store::testing;
use leadgen_store::{
    Batch, BatchCounts, BatchMeta, ExportError, LeadFilter, LeadQuery, RecordChunkWriter,
    SortOrder, Store,
};
use tempfile::TempDir;

const WS: WorkspaceId = 1;
const OTHER_WS: WorkspaceId = 2;
const LEAD_INDEXES: [&str; 5] = [
    "leads_status_score",
    "leads_score",
    "leads_industry",
    "leads_state",
    "leads_tier",
];

// ---------------------------------------------------------------- harness

/// A store under test and a way to look at its schema from the outside.
struct Harness {
    store: Box<dyn Store>,
    probe: Probe,
    _dir: Option<TempDir>,
}

enum Probe {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Harness {
    fn sqlite() -> Harness {
        let (dir, store) = testing::sqlite_store();
        Harness {
            probe: Probe::Sqlite(testing::sqlite_path(dir.path())),
            store: Box::new(store),
            _dir: Some(dir),
        }
    }

    fn postgres() -> Option<Harness> {
        let url = testing::pg_url()?;
        let store = leadgen_store::postgres::PgStore::connect(&url)
            .expect("connecting to the test database");
        Some(Harness {
            store: Box::new(store),
            probe: Probe::Postgres(url),
            _dir: None,
        })
    }

    /// Whether `lead_keys` has its primary key (a load into an empty
    /// store drops it for the load), read through a separate connection.
    fn keys_have_primary_key(&self) -> bool {
        match &self.probe {
            Probe::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(
                    "SELECT count(*) FROM pragma_table_info('lead_keys') WHERE name = 'key' AND pk = 1",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
                    == 1
            }
            Probe::Postgres(url) => {
                let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
                client
                    .query_one(
                        "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
                         WHERE c.relname = 'lead_keys' AND i.indisprimary",
                        &[],
                    )
                    .unwrap()
                    .get::<_, i64>(0)
                    == 1
            }
        }
    }

    /// Whether the chunk of `batch` starting at `first_line` is stored
    /// packed, and as how many bytes, read through a separate connection.
    fn stored_chunk(&self, batch: i64, first_line: i64) -> (bool, i64) {
        match &self.probe {
            Probe::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(
                    "SELECT typeof(data) = 'blob', length(CAST(data AS BLOB)) FROM source_chunks \
                     WHERE batch_id = ?1 AND first_line = ?2",
                    [batch, first_line],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap()
            }
            Probe::Postgres(url) => {
                let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
                let row = client
                    .query_one(
                        "SELECT packed IS NOT NULL, coalesce(length(packed), octet_length(data))::int8 \
                         FROM source_chunks WHERE batch_id = $1 AND first_line = $2",
                        &[&batch, &first_line],
                    )
                    .unwrap();
                (row.get(0), row.get(1))
            }
        }
    }

    /// Stores a chunk of raw records as text, the way stores kept them
    /// before chunks were packed.
    fn store_text_chunk(&self, batch: i64, first_line: i64, last_line: i64, text: &str) {
        match &self.probe {
            Probe::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute(
                    "INSERT INTO source_chunks (batch_id, first_line, last_line, data) VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![batch, first_line, last_line, text],
                )
                .unwrap();
            }
            Probe::Postgres(url) => {
                let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
                client
                    .execute(
                        "INSERT INTO source_chunks (batch_id, first_line, last_line, data) VALUES ($1, $2, $3, $4)",
                        &[&batch, &first_line, &last_line, &text],
                    )
                    .unwrap();
            }
        }
    }

    /// Names of the indexes on `leads`, read through a separate connection.
    fn index_names(&self) -> BTreeSet<String> {
        match &self.probe {
            Probe::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'")
                    .unwrap();
                stmt.query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Probe::Postgres(url) => {
                let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
                leadgen_store::testing::pg_lead_index_names(&mut client)
            }
        }
    }
}

/// Generates one test per backend for every behaviour. Behaviours in
/// `store:` take `&dyn Store`; those in `harness:` also look at the schema.
macro_rules! conformance {
    (store: [$($s:ident),* $(,)?], harness: [$($h:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $( #[test] fn $s() { let h = super::Harness::sqlite(); super::$s(&*h.store); } )*
            $( #[test] fn $h() { let h = super::Harness::sqlite(); super::$h(&h); } )*
        }
        mod postgres {
            $( #[test] fn $s() { let Some(h) = super::Harness::postgres() else { return }; super::$s(&*h.store); } )*
            $( #[test] fn $h() { let Some(h) = super::Harness::postgres() else { return }; super::$h(&h); } )*
        }
    };
}

conformance! {
    store: [
        migrate_is_idempotent,
        full_and_minimal_leads_round_trip,
        same_content_hash_reuses_the_batch,
        dropped_ingest_rolls_back,
        reserved_id_ranges_are_disjoint,
        load_keys_returns_stored_keys,
        update_leads_changes_values,
        query_filters_match_the_reference,
        sort_orders_and_cursors_visit_each_lead_once,
        like_wildcards_in_search_text_are_literal,
        export_streams_matching_leads_in_id_order,
        export_stops_on_sink_error_and_store_stays_usable,
        source_record_reads_back_raw_cells,
        stats_count_leads_and_batches,
        workspaces_are_isolated,
        verification_is_stored_with_the_lead_status,
    ],
    harness: [
        indexes_exist_after_ingest_into_empty_store,
        raw_records_are_packed_and_text_chunks_still_read,
    ],
}

// ---------------------------------------------------------------- helpers

fn meta(hash: &str) -> BatchMeta {
    BatchMeta {
        kind: "csv".into(),
        name: format!("{hash}.csv"),
        source: "csv_upload".into(),
        content_hash: hash.into(),
        headers: vec!["email".into(), "first name".into(), "notes".into()],
    }
}

const NOW: i64 = 1_750_000_000_000;

fn origin(batch: &Batch, line: u64) -> SourceRef {
    SourceRef {
        at: batch.started_at,
        record: RecordId::new(batch.id, line),
    }
}

/// One ingest: reserves ids for `leads` (built by `make` from the batch),
/// stores a raw record per lead and commits. Returns the stored leads.
fn ingest(
    s: &dyn Store,
    ws: WorkspaceId,
    hash: &str,
    make: impl FnOnce(&Batch) -> Vec<Lead>,
) -> (Batch, Vec<Lead>) {
    let mut tx = s.begin_ingest(ws, &meta(hash), NOW).unwrap();
    let batch = tx.batch().clone();
    let mut leads = make(&batch);
    if !leads.is_empty() {
        let first = tx.reserve_lead_ids(leads.len() as u64).unwrap();
        let mut w = RecordChunkWriter::default();
        for (i, lead) in leads.iter_mut().enumerate() {
            lead.id = first + i as i64;
            let line = lead
                .provenance
                .origin
                .map_or(i as u64 + 2, |o| o.record.line());
            let email = lead.email.as_ref().map_or("", |e| e.as_str()).to_owned();
            let name = lead.first_name.clone().unwrap_or_default();
            let cells = [email.as_str(), name.as_str(), "raw"];
            w.push(line, cells.iter().map(|c| c.as_bytes()));
        }
        tx.store_records(&w.finish().unwrap()).unwrap();
        tx.insert_leads(&leads).unwrap();
    }
    let counts = BatchCounts {
        rows_read: leads.len() as u64,
        inserted: leads.len() as u64,
        merged: 0,
        rejected: 0,
    };
    tx.commit(counts, NOW + 1).unwrap();
    (batch, leads)
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

fn phone(s: &str) -> Phone {
    Phone::parse(s, Country::US).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

fn linkedin(s: &str) -> LinkedinUrl {
    LinkedinUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

fn domain(s: &str) -> Domain {
    Domain::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

/// A lead with every optional field set.
fn full_lead(batch: &Batch, line: u64, n: u32) -> Lead {
    let mut l = Lead::empty("csv_upload", origin(batch, line));
    l.email = Some(email(&format!("Ada.Lovelace{n}@Example.com")));
    l.first_name = Some("Ada".into());
    l.last_name = Some(format!("Lovelace{n}"));
    l.title = Some("VP of Engineering".into());
    l.seniority = Some("vp".into());
    l.department = Some("engineering".into());
    l.phone = Some(phone("(650) 253-0000 ext. 42"));
    l.mobile = Some(phone("+1 202 456 1111"));
    l.linkedin = Some(linkedin(&format!(
        "https://www.linkedin.com/in/ada-lovelace-{n}"
    )));
    l.company_name = Some("Analytical Engines, Inc. — \"Tab\tand\\backslash\"".into());
    l.company_domain = Some(domain(&format!("engines{n}.example.com")));
    l.company_linkedin = Some(linkedin(
        "https://www.linkedin.com/company/analytical-engines",
    ));
    l.company_phone = Some(phone("212-736-3100"));
    l.industry = Some("Computing\nand mathematics".into());
    l.employee_count = Some(4_000_000_000);
    l.revenue = Some(9_000_000_000_000_000_000);
    l.city = Some("San Francisco".into());
    l.state = Some("CA".into());
    l.country = Some(Country::parse("United States").unwrap_or(Country::US));
    l.postal_code = Some("94107".into());
    l.tags = vec!["vip".into(), "q3 list".into(), "ünïcode ✓".into()];
    // JSON objects come back with sorted keys.
    l.custom = vec![
        ("Notes".into(), "met at \\N conference\r\n".into()),
        ("favourite".into(), "多语言".into()),
    ];
    l.status = LeadStatus::Validated;
    l.lifecycle = LifecycleStage::Meeting;
    l.score = 87;
    l.tier = Tier::A;
    l.intent = IntentLevel::Hot;
    let other = SourceRef {
        at: batch.started_at + 5,
        record: RecordId::new(batch.id, line + 100),
    };
    l.provenance.set(Field::Title, other);
    l.provenance.set(Field::Phone, other);
    l.provenance.linked = vec![
        RecordId::new(batch.id, line + 100),
        RecordId::new(batch.id + 7, 3),
    ];
    l.updated_at = l.created_at + 1234;
    assert!(
        l.phone.as_ref().unwrap().extension().is_some(),
        "the test needs a phone with an extension"
    );
    l
}

/// A lead with only what every lead has.
fn minimal_lead(batch: &Batch, line: u64, n: u32) -> Lead {
    let mut l = Lead::empty("apollo", origin(batch, line));
    l.email = Some(email(&format!("min{n}@example.org")));
    l
}

fn all_pages(
    s: &dyn Store,
    ws: WorkspaceId,
    filter: &LeadFilter,
    sort: SortOrder,
    limit: u32,
) -> Vec<Lead> {
    let mut out = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let q = LeadQuery {
            filter: filter.clone(),
            sort,
            limit,
            after,
        };
        let page = s.query_leads(ws, &q).unwrap();
        assert!(page.leads.len() <= limit as usize);
        pages += 1;
        assert!(pages < 10_000, "pagination does not end");
        out.extend(page.leads);
        match page.next {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

fn export_all(s: &dyn Store, ws: WorkspaceId, f: &LeadFilter) -> Vec<Lead> {
    let mut out = Vec::new();
    let n = s
        .export_leads(ws, f, &mut |l| {
            out.push(l);
            Ok(())
        })
        .unwrap();
    assert_eq!(n as usize, out.len());
    out
}

fn ids(leads: &[Lead]) -> Vec<LeadId> {
    leads.iter().map(|l| l.id).collect()
}

/// A varied data set for filters and sorting: statuses, sources, tied
/// scores, tiers, tags, names and companies with LIKE wildcards.
fn dataset(batch: &Batch) -> Vec<Lead> {
    let firsts = [
        "Ada", "grace", "ALAN", "Edsger", "Barbara", "Donald", "Frances",
    ];
    let companies = [
        "Acme Corp",
        "50% Growth Co",
        "50x Labs",
        "Under_Score Inc",
        "UnderXScore Ltd",
        "Back\\Slash",
    ];
    let titles = [
        "CEO",
        "Head of Growth",
        "Sales Engineer",
        "CTO",
        "Marketing Lead",
    ];
    let statuses = [
        LeadStatus::Raw,
        LeadStatus::Enriched,
        LeadStatus::Validated,
        LeadStatus::Invalid,
    ];
    (0..45u32)
        .map(|i| {
            let mut l = Lead::empty(
                if i % 3 == 0 { "apollo" } else { "csv_upload" },
                origin(batch, u64::from(i) + 2),
            );
            if i % 9 != 4 {
                l.email = Some(email(&format!(
                    "{}.{i}@corp{}.example.com",
                    firsts[i as usize % 7].to_lowercase(),
                    i % 4
                )));
            } else {
                l.linkedin = Some(linkedin(&format!("https://www.linkedin.com/in/person-{i}")));
            }
            l.first_name = Some(firsts[i as usize % firsts.len()].into());
            l.last_name = Some(format!("Person{i}"));
            l.company_name = (i % 8 != 7).then(|| companies[i as usize % companies.len()].into());
            l.title = (i % 5 != 1).then(|| titles[i as usize % titles.len()].into());
            l.company_domain = (i % 6 != 5).then(|| domain(&format!("corp{}.com", i % 4)));
            l.status = statuses[i as usize % statuses.len()];
            l.score = ((i * 7) % 6 * 20) as u8; // 0..=100 with many ties
            l.tier = match l.score {
                80.. => Tier::A,
                40.. => Tier::B,
                _ => Tier::C,
            };
            if i % 3 == 0 {
                l.tags.push("vip".into());
            }
            if i % 4 == 0 {
                l.tags.push("q3".into());
            }
            if i % 11 == 0 {
                l.tags.push("VIP".into()); // tags match exactly
            }
            l
        })
        .collect()
}

/// What a filter means, computed without a database.
fn reference_match(l: &Lead, f: &LeadFilter) -> bool {
    let text = f
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase);
    (f.statuses.is_empty() || f.statuses.contains(&l.status))
        && f.source.as_ref().is_none_or(|s| *s == l.source)
        && f.min_score.is_none_or(|m| l.score >= m)
        && f.max_score.is_none_or(|m| l.score <= m)
        && f.tier.is_none_or(|t| l.tier == t)
        && f.company_domain
            .as_ref()
            .is_none_or(|d| l.company_domain.as_ref().map(|c| c.as_str()) == Some(d.as_str()))
        && f.tags.iter().all(|t| l.tags.contains(t))
        && text.is_none_or(|t| {
            [
                l.email.as_ref().map(|e| e.as_str().to_owned()),
                l.first_name.clone(),
                l.last_name.clone(),
                l.company_name.clone(),
                l.title.clone(),
            ]
            .into_iter()
            .flatten()
            .any(|v| v.to_lowercase().contains(&t))
        })
}

fn filters() -> Vec<LeadFilter> {
    let f = LeadFilter::default;
    vec![
        f(),
        LeadFilter {
            statuses: vec![LeadStatus::Validated],
            ..f()
        },
        LeadFilter {
            statuses: vec![LeadStatus::Raw, LeadStatus::Invalid],
            ..f()
        },
        LeadFilter {
            source: Some("apollo".into()),
            ..f()
        },
        LeadFilter {
            min_score: Some(40),
            ..f()
        },
        LeadFilter {
            max_score: Some(40),
            ..f()
        },
        LeadFilter {
            min_score: Some(20),
            max_score: Some(60),
            ..f()
        },
        LeadFilter {
            tier: Some(Tier::A),
            ..f()
        },
        LeadFilter {
            tags: vec!["vip".into()],
            ..f()
        },
        LeadFilter {
            tags: vec!["VIP".into()],
            ..f()
        },
        LeadFilter {
            tags: vec!["vip".into(), "q3".into()],
            ..f()
        },
        LeadFilter {
            tags: vec!["nope".into()],
            ..f()
        },
        LeadFilter {
            text: Some("ada".into()),
            ..f()
        },
        LeadFilter {
            text: Some("  GRACE ".into()),
            ..f()
        },
        LeadFilter {
            text: Some("growth".into()),
            ..f()
        },
        LeadFilter {
            text: Some("person1".into()),
            ..f()
        },
        LeadFilter {
            text: Some("EXAMPLE.COM".into()),
            ..f()
        },
        LeadFilter {
            text: Some("   ".into()),
            ..f()
        },
        LeadFilter {
            company_domain: Some("corp2.com".into()),
            ..f()
        },
        LeadFilter {
            company_domain: Some("CORP2.com".into()),
            ..f()
        },
        LeadFilter {
            statuses: vec![LeadStatus::Enriched, LeadStatus::Validated],
            source: Some("csv_upload".into()),
            min_score: Some(20),
            tags: vec!["vip".into()],
            text: Some("a".into()),
            ..f()
        },
    ]
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

// ------------------------------------------------------------- behaviours

fn migrate_is_idempotent(s: &dyn Store) {
    s.migrate().unwrap();
    s.migrate().unwrap();
    let (_, leads) = ingest(s, WS, "m1", |b| vec![minimal_lead(b, 2, 1)]);
    s.migrate().unwrap();
    assert_eq!(
        s.get_lead(WS, leads[0].id).unwrap().as_ref(),
        Some(&leads[0])
    );
    assert_eq!(s.stats(WS).unwrap().leads, 1);
    assert!(matches!(s.backend(), "sqlite" | "postgres"));
}

fn full_and_minimal_leads_round_trip(s: &dyn Store) {
    let (_, leads) = ingest(s, WS, "rt", |b| {
        vec![full_lead(b, 2, 1), minimal_lead(b, 3, 1)]
    });
    for lead in &leads {
        let got = s.get_lead(WS, lead.id).unwrap().expect("stored lead");
        assert_eq!(&got, lead);
    }
    assert_eq!(s.get_lead(WS, leads[1].id + 1000).unwrap(), None);
    // The listing and the export read the same columns back.
    assert_eq!(
        all_pages(s, WS, &LeadFilter::default(), SortOrder::Oldest, 10),
        leads
    );
    assert_eq!(export_all(s, WS, &LeadFilter::default()), leads);
}

fn same_content_hash_reuses_the_batch(s: &dyn Store) {
    let (first, leads) = ingest(s, WS, "same", |b| vec![minimal_lead(b, 2, 1)]);
    let mut tx = s.begin_ingest(WS, &meta("same"), NOW + 10_000).unwrap();
    assert_eq!(tx.batch().id, first.id);
    assert_eq!(
        tx.batch().started_at,
        first.started_at,
        "the batch keeps its first observation time"
    );
    assert_eq!(tx.batch().counts.inserted, 1);
    assert_eq!(
        ids(&tx.get_leads(&[leads[0].id]).unwrap()),
        vec![leads[0].id]
    );
    tx.commit(
        BatchCounts {
            rows_read: 1,
            inserted: 0,
            merged: 1,
            rejected: 0,
        },
        NOW + 10_001,
    )
    .unwrap();

    let other = s.begin_ingest(WS, &meta("different"), NOW).unwrap();
    assert_ne!(other.batch().id, first.id);
    drop(other);

    let batches = s.batches(WS).unwrap();
    assert_eq!(batches.len(), 1, "{batches:?}");
    let b = &batches[0];
    assert_eq!(
        (
            b.id,
            b.name.as_str(),
            b.source.as_str(),
            b.content_hash.as_str()
        ),
        (first.id, "same.csv", "csv_upload", "same")
    );
    assert_eq!(b.headers, meta("same").headers);
    assert_eq!(b.finished_at, Some(NOW + 10_001));
    assert_eq!(
        b.counts,
        BatchCounts {
            rows_read: 1,
            inserted: 1,
            merged: 1,
            rejected: 0
        }
    );
}

fn dropped_ingest_rolls_back(s: &dyn Store) {
    {
        let mut tx = s.begin_ingest(WS, &meta("rolled"), NOW).unwrap();
        let batch = tx.batch().clone();
        let first = tx.reserve_lead_ids(2).unwrap();
        let mut leads = vec![full_lead(&batch, 2, 1), minimal_lead(&batch, 3, 1)];
        leads[0].id = first;
        leads[1].id = first + 1;
        let mut w = RecordChunkWriter::default();
        w.push(2, ["a", "b"].iter().map(|c| c.as_bytes()));
        tx.store_records(&w.finish().unwrap()).unwrap();
        tx.insert_leads(&leads).unwrap();
        // Dropped here without commit.
    }
    assert_eq!(s.count_leads(WS, &LeadFilter::default()).unwrap(), 0);
    assert!(s.batches(WS).unwrap().is_empty());
    assert_eq!(s.stats(WS).unwrap(), leadgen_store::StoreStats::default());
    // The store is usable afterwards, and the same file imports cleanly.
    let (batch, leads) = ingest(s, WS, "rolled", |b| vec![full_lead(b, 2, 1)]);
    assert_eq!(
        s.get_lead(WS, leads[0].id).unwrap().as_ref(),
        Some(&leads[0])
    );
    assert_eq!(s.batches(WS).unwrap().len(), 1);
    assert_eq!(
        s.source_record(WS, RecordId::new(batch.id, 2))
            .unwrap()
            .unwrap()
            .cells[2],
        "raw"
    );
}

fn reserved_id_ranges_are_disjoint(s: &dyn Store) {
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    let mut tx = s.begin_ingest(WS, &meta("ids1"), NOW).unwrap();
    for n in [10u64, 1, 5] {
        let first = tx.reserve_lead_ids(n).unwrap();
        ranges.push((first, first + n as i64));
    }
    tx.commit(BatchCounts::default(), NOW).unwrap();
    let (_, leads) = ingest(s, OTHER_WS, "ids2", |b| {
        (0..3).map(|i| minimal_lead(b, i + 2, i as u32)).collect()
    });
    ranges.push((leads[0].id, leads[2].id + 1));
    let mut tx = s.begin_ingest(WS, &meta("ids3"), NOW).unwrap();
    let first = tx.reserve_lead_ids(4).unwrap();
    ranges.push((first, first + 4));
    drop(tx);
    for (i, a) in ranges.iter().enumerate() {
        assert!(a.0 >= 1 && a.0 < a.1, "{a:?}");
        for b in &ranges[i + 1..] {
            assert!(
                a.1 <= b.0 || b.1 <= a.0,
                "ranges overlap: {a:?} {b:?} in {ranges:?}"
            );
        }
    }
}

fn load_keys_returns_stored_keys(s: &dyn Store) {
    let mut tx = s.begin_ingest(WS, &meta("keys"), NOW).unwrap();
    tx.insert_keys(&[(-7, 3), (10, 2), (20, 1), (30, 1)])
        .unwrap();
    // A key already present keeps its lead.
    tx.insert_keys(&[(10, 99), (40, 4)]).unwrap();
    tx.commit(BatchCounts::default(), NOW).unwrap();
    let mut tx = s.begin_ingest(OTHER_WS, &meta("keys-other"), NOW).unwrap();
    tx.insert_keys(&[(50, 5)]).unwrap();
    tx.commit(BatchCounts::default(), NOW).unwrap();

    let mut tx = s.begin_ingest(WS, &meta("keys2"), NOW).unwrap();
    let mut keys = tx.load_keys().unwrap();
    keys.sort();
    assert_eq!(keys, vec![(-7, 3), (10, 2), (20, 1), (30, 1), (40, 4)]);
    let mut sources = tx.batch_sources().unwrap();
    sources.sort();
    assert_eq!(
        sources.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        vec!["csv_upload", "csv_upload"]
    );
    drop(tx);
    // Keys written in a transaction that rolls back are gone.
    let mut tx = s.begin_ingest(WS, &meta("keys3"), NOW).unwrap();
    tx.insert_keys(&[(60, 6)]).unwrap();
    drop(tx);
    let mut tx = s.begin_ingest(WS, &meta("keys4"), NOW).unwrap();
    assert!(!tx.load_keys().unwrap().contains(&(60, 6)));
}

fn update_leads_changes_values(s: &dyn Store) {
    let (_, leads) = ingest(s, WS, "u1", |b| {
        vec![
            full_lead(b, 2, 1),
            minimal_lead(b, 3, 1),
            minimal_lead(b, 4, 2),
        ]
    });
    let mut tx = s.begin_ingest(WS, &meta("u2"), NOW + 50).unwrap();
    let batch = tx.batch().clone();
    let mut got = tx
        .get_leads(&[leads[2].id, leads[0].id, leads[1].id])
        .unwrap();
    got.sort_by_key(|l| l.id);
    assert_eq!(got, leads);
    // The full lead loses every optional field; the minimal one gains them.
    let mut emptied = minimal_lead(&batch, 9, 7);
    emptied.id = leads[0].id;
    emptied.created_at = leads[0].created_at;
    emptied.provenance.origin = leads[0].provenance.origin;
    emptied.updated_at = NOW + 60;
    let mut filled = full_lead(&batch, 10, 8);
    filled.id = leads[1].id;
    filled.created_at = leads[1].created_at;
    filled.provenance.origin = leads[1].provenance.origin;
    let mut twice = leads[2].clone();
    twice.title = Some("first update".into());
    let mut last = leads[2].clone();
    last.title = Some("second update".into());
    last.status = LeadStatus::PushedToInstantly;
    last.score = 100;
    tx.update_leads(&[emptied.clone(), twice, filled.clone(), last.clone()])
        .unwrap();
    // Updates are visible inside the transaction, and a second call works.
    assert_eq!(tx.get_leads(&[last.id]).unwrap(), vec![last.clone()]);
    last.lifecycle = LifecycleStage::Won;
    tx.update_leads(std::slice::from_ref(&last)).unwrap();
    tx.commit(
        BatchCounts {
            rows_read: 3,
            inserted: 0,
            merged: 3,
            rejected: 0,
        },
        NOW + 70,
    )
    .unwrap();
    assert_eq!(s.get_lead(WS, emptied.id).unwrap(), Some(emptied.clone()));
    assert_eq!(s.get_lead(WS, filled.id).unwrap(), Some(filled.clone()));
    assert_eq!(s.get_lead(WS, last.id).unwrap(), Some(last.clone()));
}

fn query_filters_match_the_reference(s: &dyn Store) {
    let (_, leads) = ingest(s, WS, "q", dataset);
    ingest(s, OTHER_WS, "q-other", |b| {
        dataset(b).into_iter().take(10).collect()
    });
    for f in filters() {
        let expected: Vec<LeadId> = leads
            .iter()
            .filter(|l| reference_match(l, &f))
            .map(|l| l.id)
            .collect();
        let got = all_pages(s, WS, &f, SortOrder::Oldest, 1000);
        assert_eq!(ids(&got), expected, "filter {f:?}");
        assert_eq!(
            s.count_leads(WS, &f).unwrap(),
            expected.len() as u64,
            "count of {f:?}"
        );
    }
    // The filters are not all trivially empty or full.
    let sizes: HashSet<u64> = filters()
        .iter()
        .map(|f| s.count_leads(WS, f).unwrap())
        .collect();
    assert!(sizes.len() > 8, "{sizes:?}");
}

fn sort_orders_and_cursors_visit_each_lead_once(s: &dyn Store) {
    let (_, leads) = ingest(s, WS, "sort", dataset);
    for f in [
        LeadFilter::default(),
        LeadFilter {
            tags: vec!["vip".into()],
            ..LeadFilter::default()
        },
        // A score range: in score order the cursor and max_score are both
        // upper bounds, and only the tighter one is sent to the planner.
        LeadFilter {
            min_score: Some(20),
            max_score: Some(70),
            ..LeadFilter::default()
        },
        LeadFilter {
            statuses: vec![LeadStatus::Raw],
            max_score: Some(50),
            ..LeadFilter::default()
        },
    ] {
        let matching: Vec<&Lead> = leads.iter().filter(|l| reference_match(l, &f)).collect();
        assert!(!matching.is_empty(), "the dataset has leads for {f:?}");
        for sort in [SortOrder::Newest, SortOrder::Oldest, SortOrder::ScoreDesc] {
            let mut expected: Vec<&Lead> = matching.clone();
            match sort {
                SortOrder::Newest => expected.sort_by_key(|l| std::cmp::Reverse(l.id)),
                SortOrder::Oldest => expected.sort_by_key(|l| l.id),
                SortOrder::ScoreDesc => {
                    expected.sort_by_key(|l| std::cmp::Reverse((l.score, l.id)))
                }
            }
            let expected: Vec<LeadId> = expected.iter().map(|l| l.id).collect();
            for limit in [1, 4, 7, 45, 100] {
                let got = ids(&all_pages(s, WS, &f, sort, limit));
                assert_eq!(got, expected, "{sort:?} limit {limit} filter {f:?}");
            }
        }
    }
    // A page that ends exactly at the last lead has no next cursor.
    let page = s
        .query_leads(
            WS,
            &LeadQuery {
                limit: 45,
                ..LeadQuery::default()
            },
        )
        .unwrap();
    assert_eq!((page.leads.len(), page.next), (45, None));
}

fn like_wildcards_in_search_text_are_literal(s: &dyn Store) {
    let (_, leads) = ingest(s, WS, "like", dataset);
    let count = |needle: &str| {
        let f = LeadFilter {
            text: Some(needle.into()),
            ..LeadFilter::default()
        };
        let got = s.count_leads(WS, &f).unwrap();
        assert_eq!(
            ids(&all_pages(s, WS, &f, SortOrder::Oldest, 5)).len() as u64,
            got
        );
        got
    };
    let with_company = |c: &str| {
        leads
            .iter()
            .filter(|l| l.company_name.as_deref() == Some(c))
            .count() as u64
    };
    assert_eq!(count("50%"), with_company("50% Growth Co"));
    assert_eq!(count("50% g"), with_company("50% Growth Co"));
    assert_eq!(count("under_score"), with_company("Under_Score Inc"));
    assert_eq!(count("k\\s"), with_company("Back\\Slash"));
    assert_eq!(count("%"), with_company("50% Growth Co"));
    assert_eq!(count("_"), with_company("Under_Score Inc"));
    assert_eq!(count("a%z"), 0);
    assert!(
        with_company("50% Growth Co") > 0
            && with_company("Under_Score Inc") > 0
            && with_company("Back\\Slash") > 0
    );
}

fn export_streams_matching_leads_in_id_order(s: &dyn Store) {
    let (_, leads) = ingest(s, WS, "export", dataset);
    ingest(s, OTHER_WS, "export-other", |b| {
        dataset(b).into_iter().take(5).collect()
    });
    for f in filters() {
        let expected: Vec<&Lead> = leads.iter().filter(|l| reference_match(l, &f)).collect();
        let got = export_all(s, WS, &f);
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "filter {f:?}");
    }
}

fn export_stops_on_sink_error_and_store_stays_usable(s: &dyn Store) {
    ingest(s, WS, "export-err", dataset);
    let mut seen = 0;
    let err = s
        .export_leads(WS, &LeadFilter::default(), &mut |_| {
            seen += 1;
            if seen == 3 {
                Err(std::io::Error::other("disk full"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(err, ExportError::Io(_)), "{err:?}");
    assert_eq!(seen, 3);
    assert_eq!(s.count_leads(WS, &LeadFilter::default()).unwrap(), 45);
    ingest(s, WS, "export-err2", |b| vec![minimal_lead(b, 2, 500)]);
    assert_eq!(export_all(s, WS, &LeadFilter::default()).len(), 46);
}

fn source_record_reads_back_raw_cells(s: &dyn Store) {
    let mut tx = s.begin_ingest(WS, &meta("raw"), NOW).unwrap();
    let batch = tx.batch().clone();
    let rows: Vec<(u64, Vec<&str>)> = vec![
        (2, vec!["ada@example.com", "Ada", "plain"]),
        (3, vec!["", "Gr\"ace\"", "comma, and\nnewline\r\nand tab\t"]),
        (5, vec!["ünï@example.com", "多语言", "\\N"]),
        (6, vec!["short"]),
    ];
    let mut w = RecordChunkWriter::default();
    for (line, cells) in &rows[..2] {
        w.push(*line, cells.iter().map(|c| c.as_bytes()));
    }
    tx.store_records(&w.finish().unwrap()).unwrap();
    let mut w = RecordChunkWriter::default();
    for (line, cells) in &rows[2..] {
        w.push(*line, cells.iter().map(|c| c.as_bytes()));
    }
    let chunk = w.finish().unwrap();
    tx.store_records(&chunk).unwrap();
    tx.store_records(&chunk).unwrap(); // storing a chunk twice is a no-op
    tx.commit(
        BatchCounts {
            rows_read: 4,
            ..BatchCounts::default()
        },
        NOW + 5,
    )
    .unwrap();

    for (line, cells) in &rows {
        let rec = s
            .source_record(WS, RecordId::new(batch.id, *line))
            .unwrap()
            .expect("stored record");
        assert_eq!(rec.cells, *cells, "line {line}");
        assert_eq!(rec.record, RecordId::new(batch.id, *line));
        assert_eq!(
            (rec.batch_name.as_str(), rec.source.as_str()),
            ("raw.csv", "csv_upload")
        );
        assert_eq!(rec.observed_at, batch.started_at);
        assert_eq!(rec.headers, meta("raw").headers);
    }
    assert_eq!(
        s.source_record(WS, RecordId::new(batch.id, 4)).unwrap(),
        None,
        "a line that was not stored"
    );
    assert_eq!(
        s.source_record(WS, RecordId::new(batch.id, 7)).unwrap(),
        None,
        "past the last line"
    );
    assert_eq!(
        s.source_record(WS, RecordId::new(batch.id + 1, 2)).unwrap(),
        None,
        "an unknown batch"
    );
}

fn raw_records_are_packed_and_text_chunks_still_read(h: &Harness) {
    let s = &*h.store;
    let mut tx = s.begin_ingest(WS, &meta("packed"), NOW).unwrap();
    let batch = tx.batch().clone();
    let mut w = RecordChunkWriter::default();
    let mut text_len = 0;
    for line in 2..=301u64 {
        let cells = [
            format!("p{line}@example.com"),
            "Ada".into(),
            "Lovelace".into(),
        ];
        text_len += line.to_string().len() + cells.iter().map(|c| c.len() + 1).sum::<usize>() + 1;
        w.push(line, cells.iter().map(|c| c.as_bytes()));
    }
    tx.store_records(&w.finish().unwrap()).unwrap();
    tx.commit(BatchCounts::default(), NOW + 1).unwrap();
    let (packed, bytes) = h.stored_chunk(batch.id, 2);
    assert!(packed, "a new chunk is stored packed");
    assert!(
        (bytes as usize) * 3 < text_len,
        "{bytes} bytes stored for {text_len} of text"
    );
    let rec = s
        .source_record(WS, RecordId::new(batch.id, 150))
        .unwrap()
        .unwrap();
    assert_eq!(rec.cells, ["p150@example.com", "Ada", "Lovelace"]);

    // A store written before chunks were packed.
    h.store_text_chunk(
        batch.id,
        400,
        401,
        "400,old@example.com,\"Smith, Jo\"\n401,x\n",
    );
    let rec = s
        .source_record(WS, RecordId::new(batch.id, 400))
        .unwrap()
        .unwrap();
    assert_eq!(rec.cells, ["old@example.com", "Smith, Jo"]);
    assert!(!h.stored_chunk(batch.id, 400).0);
}

fn stats_count_leads_and_batches(s: &dyn Store) {
    assert_eq!(s.stats(WS).unwrap(), leadgen_store::StoreStats::default());
    let (_, leads) = ingest(s, WS, "stats", dataset);
    // A second source: the totals are counted over every source.
    let (_, more) = ingest(s, WS, "stats2", |b| {
        let mut l = full_lead(b, 2, 1);
        l.source = "apollo".into();
        vec![l]
    });
    let all: Vec<&Lead> = leads.iter().chain(&more).collect();
    let st = s.stats(WS).unwrap();
    assert_eq!(st.by_source.len(), 2, "{:?}", st.by_source);
    assert_eq!(st.leads, all.len() as u64);
    assert_eq!(
        st.with_email,
        all.iter().filter(|l| l.email.is_some()).count() as u64
    );
    assert_eq!(
        st.with_phone,
        all.iter().filter(|l| l.phone.is_some()).count() as u64
    );
    assert_eq!(
        st.with_linkedin,
        all.iter().filter(|l| l.linkedin.is_some()).count() as u64
    );
    assert_eq!((st.batches, st.source_records), (2, all.len() as u64));
    let group = |key: &dyn Fn(&Lead) -> String| {
        let mut m = std::collections::BTreeMap::<String, u64>::new();
        for l in &all {
            *m.entry(key(l)).or_default() += 1;
        }
        m.into_iter().collect::<Vec<_>>()
    };
    assert_eq!(
        sorted(st.by_status.clone()),
        group(&|l| l.status.as_str().to_owned())
    );
    assert_eq!(
        sorted(st.by_tier.clone()),
        group(&|l| l.tier.as_str().to_owned())
    );
    assert_eq!(sorted(st.by_source.clone()), group(&|l| l.source.clone()));
    for g in [&st.by_status, &st.by_tier, &st.by_source] {
        assert!(
            g.windows(2).all(|w| w[0].1 >= w[1].1),
            "groups are listed largest first: {g:?}"
        );
    }
}

fn workspaces_are_isolated(s: &dyn Store) {
    let (batch1, mine) = ingest(s, WS, "iso", |b| dataset(b).into_iter().take(6).collect());
    // The same file in another workspace is another batch.
    let (batch2, theirs) = ingest(s, OTHER_WS, "iso", dataset);
    assert_ne!(batch1.id, batch2.id);
    let everything = LeadFilter::default();
    for l in &theirs {
        assert_eq!(s.get_lead(WS, l.id).unwrap(), None);
        assert_eq!(s.get_lead(OTHER_WS, l.id).unwrap().as_ref(), Some(l));
    }
    assert_eq!(s.get_lead(OTHER_WS, mine[0].id).unwrap(), None);
    assert_eq!(
        ids(&all_pages(s, WS, &everything, SortOrder::Oldest, 4)),
        ids(&mine)
    );
    assert_eq!(
        ids(&all_pages(
            s,
            WS,
            &LeadFilter {
                tags: vec!["vip".into()],
                ..everything.clone()
            },
            SortOrder::ScoreDesc,
            2
        ))
        .len(),
        mine.iter()
            .filter(|l| l.tags.iter().any(|t| t == "vip"))
            .count()
    );
    assert_eq!(s.count_leads(WS, &everything).unwrap(), 6);
    assert_eq!(s.count_leads(OTHER_WS, &everything).unwrap(), 45);
    assert_eq!(ids(&export_all(s, WS, &everything)), ids(&mine));
    assert_eq!(s.stats(WS).unwrap().leads, 6);
    assert_eq!(s.stats(WS).unwrap().batches, 1);
    assert_eq!(s.stats(OTHER_WS).unwrap().leads, 45);
    assert_eq!(
        s.batches(WS)
            .unwrap()
            .iter()
            .map(|b| b.id)
            .collect::<Vec<_>>(),
        vec![batch1.id]
    );
    assert_eq!(s.batches(3).unwrap(), vec![]);
    assert!(
        s.source_record(WS, RecordId::new(batch2.id, 2))
            .unwrap()
            .is_none()
    );
    assert!(
        s.source_record(OTHER_WS, RecordId::new(batch2.id, 2))
            .unwrap()
            .is_some()
    );
    let mut tx = s
        .begin_ingest(OTHER_WS, &meta("iso-keys-other"), NOW)
        .unwrap();
    tx.insert_keys(&[(1, theirs[0].id)]).unwrap();
    tx.commit(BatchCounts::default(), NOW).unwrap();
    let mut tx = s.begin_ingest(WS, &meta("iso-keys"), NOW).unwrap();
    tx.insert_keys(&[(2, mine[0].id)]).unwrap();
    let keys: BTreeSet<LeadId> = tx
        .load_keys()
        .unwrap()
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(keys, BTreeSet::from([mine[0].id]));
    assert_eq!(
        tx.batch_sources().unwrap().len(),
        2,
        "its own two batches only"
    );
}

fn indexes_exist_after_ingest_into_empty_store(h: &Harness) {
    let s = &*h.store;
    let has_all = |names: &BTreeSet<String>| LEAD_INDEXES.iter().all(|i| names.contains(*i));
    assert!(
        has_all(&h.index_names()),
        "after migrate: {:?}",
        h.index_names()
    );
    // A rolled-back load into the empty table keeps the indexes.
    {
        let mut tx = s.begin_ingest(WS, &meta("idx0"), NOW).unwrap();
        let batch = tx.batch().clone();
        let mut lead = minimal_lead(&batch, 2, 1);
        lead.id = tx.reserve_lead_ids(1).unwrap();
        tx.insert_leads(&[lead]).unwrap();
    }
    assert!(
        has_all(&h.index_names()),
        "after a rollback: {:?}",
        h.index_names()
    );
    ingest(s, WS, "idx1", dataset);
    assert!(
        has_all(&h.index_names()),
        "after a load into the empty table: {:?}",
        h.index_names()
    );
    assert!(
        h.keys_have_primary_key(),
        "identity keys lost their primary key"
    );
    ingest(s, WS, "idx2", |b| vec![minimal_lead(b, 2, 1)]);
    assert!(
        has_all(&h.index_names()),
        "after a load into a filled table: {:?}",
        h.index_names()
    );
    s.migrate().unwrap();
    assert!(has_all(&h.index_names()));
    assert!(h.keys_have_primary_key());
}

fn verification_is_stored_with_the_lead_status(s: &dyn Store) {
    let (_, leads) = ingest(s, WS, "ver", |b| vec![full_lead(b, 2, 1)]);
    let id = leads[0].id;
    let mut v = leadgen_store::StoredVerification {
        lead: id,
        email: "jane@acme.com".into(),
        status: "risky".into(),
        score: 55,
        result: r#"{"status":"risky"}"#.into(),
        checked_at: NOW + 5,
    };
    assert_eq!(s.verification(WS, id).unwrap(), None);
    assert!(s.record_verification(WS, &v, None, NOW + 5).unwrap());
    assert_eq!(s.verification(WS, id).unwrap().as_ref(), Some(&v));
    assert_eq!(s.get_lead(WS, id).unwrap().unwrap().status, leads[0].status);
    // A later check replaces the first and moves the lead.
    v.status = "valid".into();
    v.score = 95;
    assert!(
        s.record_verification(WS, &v, Some(LeadStatus::Validated), NOW + 9)
            .unwrap()
    );
    assert_eq!(s.verification(WS, id).unwrap().unwrap().score, 95);
    let lead = s.get_lead(WS, id).unwrap().unwrap();
    assert_eq!(lead.status, LeadStatus::Validated);
    assert_eq!(lead.updated_at, NOW + 9);
    // Another workspace cannot write to or read this lead's verification.
    assert!(
        !s.record_verification(OTHER_WS, &v, Some(LeadStatus::Invalid), NOW)
            .unwrap()
    );
    assert_eq!(s.verification(OTHER_WS, id).unwrap(), None);
    assert_eq!(
        s.get_lead(WS, id).unwrap().unwrap().status,
        LeadStatus::Validated
    );
}
