//! PostgreSQL-only behaviour that the conformance suite cannot show with one
//! connection: ingest locking between connections, reconnection, NUL bytes
//! and the server's words in error messages.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use leadgen_core::RecordId;
use leadgen_core::lead::LeadStatus;
use leadgen_store::postgres::PgStore;
use leadgen_store::testing::{self, ingest_one, lead, meta};
use leadgen_store::{BatchCounts, LeadEdit, LeadEdits, LeadFilter, RecordChunkWriter, Store};

fn two_stores() -> Option<(PgStore, PgStore, String)> {
    let url = testing::pg_url()?;
    Some((
        PgStore::connect(&url).unwrap(),
        PgStore::connect(&url).unwrap(),
        url,
    ))
}

#[test]
fn imports_into_one_workspace_take_turns() {
    let Some((a, b, url)) = two_stores() else {
        return;
    };
    // A non-empty table: no index rebuild, whose DDL locks would serialize
    // imports of every workspace.
    ingest_one(&a, 1, "seed", 0);
    let committed = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(2));
    std::thread::scope(|s| {
        let mut tx = a.begin_ingest(1, &meta("first"), 1_000).unwrap();
        let (committed2, started2) = (committed.clone(), started.clone());
        let b = &b;
        let waiter = s.spawn(move || {
            started2.wait();
            let tx = b.begin_ingest(1, &meta("second"), 1_000).unwrap();
            assert!(
                committed2.load(Ordering::SeqCst),
                "the second import began before the first committed"
            );
            drop(tx);
        });
        started.wait();
        // Another workspace is not held up meanwhile (on a third connection).
        let c = PgStore::connect(&url).unwrap();
        let other = c.begin_ingest(2, &meta("other-ws"), 1_000).unwrap();
        drop(other);
        std::thread::sleep(Duration::from_millis(300));
        let first = tx.reserve_lead_ids(1).unwrap();
        let bb = tx.batch().clone();
        let mut l = lead(bb.id, bb.started_at, 1);
        l.id = first;
        tx.insert_leads(&[l]).unwrap();
        committed.store(true, Ordering::SeqCst);
        tx.commit(BatchCounts::default(), 2_000).unwrap();
        waiter.join().unwrap();
    });
    assert_eq!(a.count_leads(1, &LeadFilter::default()).unwrap(), 2);
}

#[test]
fn the_same_file_imported_twice_at_once_is_one_batch() {
    let Some((a, b, _)) = two_stores() else {
        return;
    };
    let barrier = Barrier::new(2);
    let run = |store: &PgStore| {
        barrier.wait();
        let tx = store.begin_ingest(1, &meta("same"), 1_000).unwrap();
        let id = tx.batch().id;
        std::thread::sleep(Duration::from_millis(100));
        tx.commit(BatchCounts::default(), 2_000).unwrap();
        id
    };
    let ids: Vec<i64> = std::thread::scope(|s| {
        let h1 = s.spawn(|| run(&a));
        let h2 = s.spawn(|| run(&b));
        vec![h1.join().unwrap(), h2.join().unwrap()]
    });
    assert_eq!(ids[0], ids[1]);
    assert_eq!(a.batches(1).unwrap().len(), 1);
}

#[test]
fn nul_bytes_do_not_fail_an_import() {
    let Some((s, _, _)) = two_stores() else {
        return;
    };
    let mut tx = s.begin_ingest(1, &meta("nul"), 1_000).unwrap();
    let b = tx.batch().clone();
    let mut l = lead(b.id, b.started_at, 1);
    l.id = tx.reserve_lead_ids(1).unwrap();
    l.first_name = Some("Ada\0Lovelace".into());
    l.tags = vec!["a\0b".into(), "plain".into()];
    l.custom = vec![("note".into(), "x\0y".into())];
    let mut w = RecordChunkWriter::default();
    w.push(3, ["p1@example.com", "Ada\0"].iter().map(|c| c.as_bytes()));
    tx.store_records(&w.finish().unwrap()).unwrap();
    tx.insert_leads(std::slice::from_ref(&l)).unwrap();
    tx.update_leads(std::slice::from_ref(&l)).unwrap();
    tx.commit(BatchCounts::default(), 2_000).unwrap();

    let got = s.get_lead(1, l.id).unwrap().unwrap();
    assert_eq!(got.first_name.as_deref(), Some("Ada\u{FFFD}Lovelace"));
    assert_eq!(got.tags, vec!["a\u{FFFD}b".to_owned(), "plain".to_owned()]);
    let f = LeadFilter {
        tags: vec!["plain".into()],
        ..LeadFilter::default()
    };
    assert_eq!(s.count_leads(1, &f).unwrap(), 1, "tag filters still work");
    // Raw records are stored as bytes: they keep the NUL.
    let rec = s.source_record(1, RecordId::new(b.id, 3)).unwrap().unwrap();
    assert_eq!(rec.cells, vec!["p1@example.com", "Ada\0"]);
}

#[test]
fn server_errors_carry_the_servers_message() {
    let Some((s, _, _)) = two_stores() else {
        return;
    };
    let mut tx = s.begin_ingest(1, &meta("dup"), 1_000).unwrap();
    let b = tx.batch().clone();
    let first = tx.reserve_lead_ids(2).unwrap();
    let mut l1 = lead(b.id, b.started_at, 1);
    let mut l2 = lead(b.id, b.started_at, 2);
    l1.id = first;
    l2.id = first; // the same primary key twice
    let err = tx.insert_leads(&[l1, l2]).unwrap_err().to_string();
    assert!(
        err.contains("duplicate key value violates unique constraint"),
        "{err}"
    );
    assert!(err.contains("leads_pkey"), "{err}");
    drop(tx);
    // The failed transaction was rolled back and the connection is usable.
    assert_eq!(s.count_leads(1, &LeadFilter::default()).unwrap(), 0);
    assert!(s.batches(1).unwrap().is_empty());
}

#[test]
fn a_connection_the_server_closed_is_reopened() {
    let Some((s, _, url)) = two_stores() else {
        return;
    };
    ingest_one(&s, 1, "seed", 0);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let killed: bool = admin
        .query_one(
            "SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(killed);
    std::thread::sleep(Duration::from_millis(100));
    // The first call may see the closed connection; the next reconnects.
    let _ = s.count_leads(1, &LeadFilter::default());
    assert_eq!(s.count_leads(1, &LeadFilter::default()).unwrap(), 1);
}

#[test]
fn bad_urls_say_what_to_check() {
    if !testing::pg_available() {
        testing::print_skip();
        return;
    }
    let err = PgStore::connect("postgres://nobody:secret@127.0.0.1:1/nowhere")
        .err()
        .expect("no server on port 1");
    let msg = err.to_string();
    assert!(
        msg.contains("127.0.0.1:1") && msg.contains("check the server is running"),
        "{msg}"
    );
    assert!(!msg.contains("secret"), "the password is not shown: {msg}");
}

/// A load into an empty store truncates the (empty) tables in its
/// transaction so that COPY writes the rows frozen: every page is
/// all-visible at once, and the index builds and ANALYZE after the commit
/// do not set hint bits on every page of the load and write it again. A
/// load into a store that has leads copies them as usual.
#[test]
fn a_load_into_an_empty_store_writes_its_rows_all_visible() {
    let Some(url) = testing::pg_url() else {
        return;
    };
    let s = PgStore::connect(&url).unwrap();
    let mut tx = s.begin_ingest(1, &meta("bulk"), 1_000).unwrap();
    let b = tx.batch().clone();
    let first = tx.reserve_lead_ids(2_000).unwrap();
    let leads: Vec<_> = (0..2_000)
        .map(|i| {
            let mut l = lead(b.id, b.started_at, i);
            l.id = first + i64::from(i);
            l
        })
        .collect();
    tx.insert_leads(&leads).unwrap();
    tx.insert_keys(&[(1, first), (2, first + 1)]).unwrap();
    tx.commit(BatchCounts::default(), 2_000).unwrap();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let visible = |client: &mut postgres::Client, table: &str| -> (i32, i32) {
        let row = client
            .query_one(
                "SELECT relpages, relallvisible FROM pg_class WHERE relname = $1",
                &[&table],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let (pages, all_visible) = visible(&mut client, "leads");
    assert!(pages > 10, "{pages} pages");
    assert_eq!(all_visible, pages, "leads: every page all-visible");

    ingest_one(&s, 1, "later", 5_000);
    assert_eq!(s.count_leads(1, &LeadFilter::default()).unwrap(), 2_001);
}

/// Two imports into different workspaces of an empty store may both find it
/// empty. The one that waits for the other's table locks must look again
/// once it holds them: rows committed meanwhile are not truncated. (Here
/// the other writer is a plain insert held open until the import waits.)
#[test]
fn a_load_that_found_the_store_empty_keeps_rows_committed_while_it_waited() {
    let Some(url) = testing::pg_url() else {
        return;
    };
    let s = PgStore::connect(&url).unwrap();
    let mut other = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut open = other.transaction().unwrap();
    open.execute(
        "INSERT INTO leads (id, workspace_id, source, status, lifecycle, score, tier, intent, \
         created_at, updated_at) VALUES (1, 2, 'csv_upload', 'raw', 'new', 0, 'C', 'cold', 0, 0)",
        &[],
    )
    .unwrap();
    std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            // Finds no committed row, then waits for the insert's lock.
            let tx = s.begin_ingest(1, &meta("while-waiting"), 1_000).unwrap();
            tx.commit(BatchCounts::default(), 2_000).unwrap();
        });
        std::thread::sleep(Duration::from_millis(500));
        open.commit().unwrap();
        load.join().unwrap();
    });
    let n: i64 = other
        .query_one("SELECT count(*) FROM leads", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the row committed while the load waited is kept");
}

/// Seeds workspace 1 with leads `p0`, `p1`, … and returns their ids.
fn seed(s: &PgStore, n: u32) -> Vec<i64> {
    testing::insert_leads(s, 1, "seed", |b| {
        (0..n).map(|i| lead(b.id, b.started_at, i)).collect()
    })
    .unwrap()
    .iter()
    .map(|l| l.id)
    .collect()
}

/// An import reads the leads it merges into locked: an edit of one of them
/// (the API, a verification) waits for the import and then applies to the
/// merged row. Read unlocked, the edit committed at once and the import's
/// write put the old status back; written as delete + insert, the waiting
/// edit found no row.
#[test]
fn an_edit_made_while_an_import_merges_into_the_lead_is_kept() {
    let Some((a, b, _)) = two_stores() else {
        return;
    };
    let id = seed(&a, 1)[0];
    let mut tx = a.begin_ingest(1, &meta("merge"), 1_000).unwrap();
    let mut target = tx.get_leads(&[id]).unwrap().remove(0);
    target.title = Some("CTO".into());
    let edited = AtomicBool::new(false);
    std::thread::scope(|s| {
        let edit = s.spawn(|| {
            let edit = LeadEdit {
                status: Some(LeadStatus::Validated),
                tags: None,
            };
            let found = b.edit_lead(1, id, &edit, 3_000).unwrap();
            edited.store(true, Ordering::SeqCst);
            found
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !edited.load(Ordering::SeqCst),
            "the edit did not wait for the import holding the lead"
        );
        tx.update_leads(&[target]).unwrap();
        tx.commit(BatchCounts::default(), 2_000).unwrap();
        assert!(
            edit.join().unwrap(),
            "the edit found its lead after the merge"
        );
    });
    let got = a.get_lead(1, id).unwrap().unwrap();
    assert_eq!(got.title.as_deref(), Some("CTO"), "the merge is kept");
    assert_eq!(got.status, LeadStatus::Validated, "the edit is kept");
}

/// A lead deleted while an import of its workspace runs would vanish from
/// under the import's key map (which loaded its keys) and fail it; the
/// delete waits for the import instead, and then deletes the merged lead.
#[test]
fn a_delete_waits_for_a_running_import_of_its_workspace() {
    let Some((a, b, url)) = two_stores() else {
        return;
    };
    let ids = seed(&a, 2);
    let mut tx = a.begin_ingest(1, &meta("during-delete"), 1_000).unwrap();
    let deleted = AtomicBool::new(false);
    std::thread::scope(|s| {
        let delete = s.spawn(|| {
            let found = b.delete_lead(1, ids[0]).unwrap();
            deleted.store(true, Ordering::SeqCst);
            found
        });
        // Another workspace's lead is deleted meanwhile (third connection).
        let c = PgStore::connect(&url).unwrap();
        assert!(!c.delete_lead(2, ids[1]).unwrap());
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !deleted.load(Ordering::SeqCst),
            "the delete did not wait for the import"
        );
        let mut got = tx.get_leads(&ids).unwrap();
        assert_eq!(got.len(), 2, "the import still finds both leads");
        got[0].title = Some("merged".into());
        tx.update_leads(&got[..1]).unwrap();
        tx.commit(BatchCounts::default(), 2_000).unwrap();
        assert!(delete.join().unwrap());
    });
    assert!(a.get_lead(1, ids[0]).unwrap().is_none());
    assert!(a.get_lead(1, ids[1]).unwrap().is_some());
}
