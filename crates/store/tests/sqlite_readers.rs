//! SQLite with read-only connections beside the writer, as `leadgen serve`
//! opens it: reads see every committed write at once, and go on while a
//! write transaction is open.

use std::sync::Arc;
use std::time::Duration;

use leadgen_store::testing::{self, ingest_one, lead, meta};
use leadgen_store::{AuthStore, BatchCounts, LeadFilter, LeadQuery, NewApiKey, Role, Store};

#[test]
fn reads_through_readers_see_each_committed_write() {
    let (_dir, s) = testing::sqlite_store_with_readers(2);
    for n in 0..20 {
        ingest_one(&s, 1, &format!("h{n}"), n);
        assert_eq!(
            s.count_leads(1, &LeadFilter::default()).unwrap(),
            u64::from(n) + 1
        );
        let page = s.query_leads(1, &LeadQuery::default()).unwrap();
        assert_eq!(page.leads.len(), n as usize + 1);
        assert!(s.get_lead(1, page.leads[0].id).unwrap().is_some());
    }
    s.ensure_workspace(1, "One", 1).unwrap();
    let id = s
        .create_api_key(
            &NewApiKey {
                workspace: 1,
                name: "k",
                role: Role::Member,
                key_hash: "h",
                prefix: "lgk_",
            },
            1,
        )
        .unwrap();
    assert!(
        s.api_key_by_hash("h")
            .unwrap()
            .is_some_and(|k| k.revoked_at.is_none())
    );
    s.revoke_api_key(1, id, 2).unwrap();
    assert!(
        s.api_key_by_hash("h")
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "a revocation is seen by the next look-up"
    );
}

#[test]
fn listings_go_on_while_an_import_holds_the_writer() {
    let (_dir, s) = testing::sqlite_store_with_readers(2);
    ingest_one(&s, 1, "seed", 0);
    let s = Arc::new(s);
    // An import in progress: the writer's lock is held until commit.
    let mut tx = s.begin_ingest(1, &meta("big"), 1_000).unwrap();
    let b = tx.batch().clone();
    let mut l = lead(b.id, b.started_at, 1);
    l.id = tx.reserve_lead_ids(1).unwrap();
    tx.insert_leads(&[l]).unwrap();
    let (sent, got) = std::sync::mpsc::channel();
    {
        let s = s.clone();
        std::thread::spawn(move || {
            let _ = sent.send(s.count_leads(1, &LeadFilter::default()).unwrap());
        });
    }
    // Without readers the count would wait for the commit below: a failure
    // here, not a hang.
    let n = got
        .recv_timeout(Duration::from_secs(5))
        .expect("the read waited for the import");
    assert_eq!(n, 1, "the open import is not visible yet");
    tx.commit(
        BatchCounts {
            rows_read: 1,
            inserted: 1,
            ..BatchCounts::default()
        },
        2_000,
    )
    .unwrap();
    assert_eq!(s.count_leads(1, &LeadFilter::default()).unwrap(), 2);
}

/// After an import the planner's statistics count every row, so segment
/// counts pick the selective expression index (see `SqliteIngest::commit`).
#[test]
fn an_import_leaves_planner_statistics_over_every_row() {
    let (dir, s) = leadgen_store::testing::sqlite_store();
    leadgen_store::testing::insert_leads(&s, 1, "stats", |b| {
        (0..3000u64)
            .map(|i| {
                let mut l =
                    leadgen_store::testing::lead_with_email(b, i + 2, &format!("p{i}@x.com"));
                l.industry = Some(format!("industry {}", i % 30));
                l
            })
            .collect()
    })
    .unwrap();
    let conn = rusqlite::Connection::open(leadgen_store::testing::sqlite_path(dir.path())).unwrap();
    let stat: String = conn
        .query_row(
            "SELECT stat FROM sqlite_stat1 WHERE idx = 'leads_industry'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Rows, rows per workspace, rows per (workspace, industry), per
    // (workspace, industry, score): all 3,000 counted, 30 industries of 100,
    // every score the same.
    assert_eq!(stat, "3000 3000 100 100");
}
