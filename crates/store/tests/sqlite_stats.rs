//! A load into an empty SQLite store counts the planner statistics of
//! `leads` as it writes them instead of running `ANALYZE` over the built
//! indexes, and gathers the `lead_tags` rows instead of reading every
//! lead's tags back with `json_each`: what it writes to `sqlite_stat1` must
//! be exactly what `ANALYZE leads` writes, `lead_tags` exactly what
//! `json_each` finds, and an update during the load (which changes rows
//! already counted) must fall back to both.

use leadgen_core::lead::{LeadStatus, Tier};
use leadgen_core::{Lead, RecordId, SourceRef};
use leadgen_store::sqlite::SqliteStore;
use leadgen_store::{BatchCounts, BatchMeta, IngestTx, Store};
use rusqlite::Connection;

const WS: i64 = 1;

/// Leads whose indexed columns vary the ways SQLite's counting can tell
/// apart: statuses, tiers, scores, industries differing only in ASCII case
/// (one value to `lower`), in non-ASCII case (two values), and missing.
fn leads(n: usize, first_id: i64) -> Vec<Lead> {
    let statuses = [LeadStatus::Raw, LeadStatus::Enriched, LeadStatus::Validated];
    let tiers = [Tier::A, Tier::B, Tier::C];
    let industries = [
        Some("SaaS"),
        Some("saas"),
        Some("SAAS"),
        Some("Ärzte"),
        Some("ärzte"),
        Some("Fintech"),
        None,
        Some(""),
    ];
    let states = [
        Some("TX"),
        Some("tx"),
        Some("CA"),
        None,
        Some("Ca"),
        Some("NY"),
    ];
    (0..n)
        .map(|i| {
            let origin = SourceRef {
                at: 1_750_000_000_000,
                record: RecordId::new(1, i as u64 + 2),
            };
            let mut l = Lead::empty("csv_upload", origin);
            l.id = first_id + i as i64;
            l.first_name = Some(format!("First{i}"));
            l.status = statuses[i % statuses.len()];
            l.tier = tiers[i * 7 % tiers.len()];
            // Few scores for some statuses, many for others.
            l.score = if i % 3 == 0 { 50 } else { (i * 13 % 101) as u8 };
            l.industry = industries[i * 5 % industries.len()].map(str::to_owned);
            l.state = states[i % 11 % states.len()].map(str::to_owned);
            // Tags sort by bytes; one is twice in a lead, one needs JSON
            // escapes, most leads have none.
            l.tags = match i % 5 {
                0 => vec!["webinar".into(), "Q4".into()],
                1 => vec!["q4".into(), "say \"hi\"\\ñ".into(), "q4".into()],
                2 => vec![format!("batch-{}", i % 7)],
                _ => Vec::new(),
            };
            l
        })
        .collect()
}

fn meta() -> BatchMeta {
    BatchMeta {
        kind: "csv".into(),
        name: "stats.csv".into(),
        source: "csv_upload".into(),
        content_hash: "stats".into(),
        headers: vec!["first_name".into()],
    }
}

fn counts(n: usize) -> BatchCounts {
    BatchCounts {
        rows_read: n as u64,
        inserted: n as u64,
        merged: 0,
        rejected: 0,
    }
}

/// `(index, stat)` of `leads` in `sqlite_stat1`, and its `sqlite_stat4`
/// sample count.
type Stats = (Vec<(String, String)>, i64);

fn stats(conn: &Connection) -> Stats {
    let mut stmt = conn
        .prepare("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'leads' ORDER BY idx")
        .expect("reading sqlite_stat1");
    let stat1 = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("sqlite_stat1")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("sqlite_stat1 rows");
    let stat4 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_stat4 WHERE tbl = 'leads'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    (stat1, stat4)
}

/// Every row of `lead_tags`, in key order.
fn lead_tags(conn: &Connection) -> Vec<(String, i64)> {
    let mut stmt = conn
        .prepare("SELECT tag, lead_id FROM lead_tags ORDER BY tag, lead_id")
        .expect("reading lead_tags");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("lead_tags")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("lead_tags rows")
}

/// `lead_tags` as `json_each` reads the leads' tags.
fn lead_tags_from_json(conn: &Connection) -> Vec<(String, i64)> {
    conn.execute_batch(
        "DELETE FROM lead_tags;
         INSERT OR IGNORE INTO lead_tags (tag, lead_id)
         SELECT j.value, l.id FROM leads l, json_each(l.tags) j WHERE l.tags IS NOT NULL;",
    )
    .expect("filling lead_tags from the leads");
    lead_tags(conn)
}

/// Loads `n` leads in two inserts (one big enough to be counted on a
/// thread of its own), calls `between` on the open load, commits, and
/// returns the statistics the store left then those `ANALYZE leads` writes,
/// and `lead_tags` as left then as `json_each` fills it.
type Tags = Vec<(String, i64)>;
fn load_then_analyse(
    n: usize,
    between: impl FnOnce(&mut dyn IngestTx, i64),
) -> ((Stats, Stats), (Tags, Tags)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadgen.db");
    let store = SqliteStore::open(&path).expect("opening SQLite");
    store.migrate().expect("migrating");
    let mut tx = store
        .begin_ingest(WS, &meta(), 1_750_000_000_000)
        .expect("begin");
    let first = tx.reserve_lead_ids(n as u64).expect("reserve");
    let all = leads(n, first);
    let (big, small) = all.split_at(n - 100);
    tx.insert_leads(big).expect("insert");
    tx.insert_leads(small).expect("insert");
    between(&mut *tx, first);
    tx.commit(counts(n), 1_750_000_000_001).expect("commit");
    drop(store);
    let conn = Connection::open(&path).expect("opening the file");
    let left = stats(&conn);
    let tags = lead_tags(&conn);
    conn.execute_batch("PRAGMA analysis_limit = 0; ANALYZE leads")
        .expect("ANALYZE");
    ((left, stats(&conn)), (tags, lead_tags_from_json(&conn)))
}

#[test]
fn a_load_into_an_empty_store_writes_the_statistics_analyze_would() {
    let (((counted, samples), (analysed, analysed_samples)), (tags, from_json)) =
        load_then_analyse(9000, |_, _| {});
    // Of every five leads: two tags, two (q4 twice is one row), one.
    assert_eq!(tags.len(), 9000);
    assert!(tags.iter().any(|(t, _)| t == "say \"hi\"\\ñ"), "{tags:?}");
    assert_eq!(tags, from_json);
    assert_eq!(counted.len(), 5, "one row per index of leads: {counted:?}");
    assert_eq!(counted, analysed);
    // The counted statistics were written by the load, not by an ANALYZE
    // at its end: ANALYZE leaves samples in sqlite_stat4, the count none.
    assert!(analysed_samples > 0, "this SQLite keeps stat4 samples");
    assert_eq!(samples, 0, "the load ran ANALYZE over leads");
}

#[test]
fn an_update_during_the_load_leaves_the_statistics_to_analyze() {
    let (((left, samples), (analysed, _)), (tags, from_json)) =
        load_then_analyse(5000, |tx, first| {
            let mut changed = tx.get_leads(&[first]).expect("get");
            changed[0].industry = Some("A new industry".into());
            changed[0].score = 3;
            tx.update_leads(&changed).expect("update");
        });
    assert_eq!(left, analysed);
    assert!(samples > 0, "ANALYZE ran at the end of the load");
    assert!(!tags.is_empty());
    assert_eq!(tags, from_json);
}
