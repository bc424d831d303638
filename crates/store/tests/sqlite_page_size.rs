//! A new SQLite store is created with `sqlite::PAGE_SIZE` pages; a database
//! created before (with SQLite's default 4 KiB pages) keeps its page size,
//! its data, and works as a store.

use leadgen_store::sqlite::{PAGE_SIZE, SqliteStore};
use leadgen_store::testing::{insert_leads, lead};
use leadgen_store::{LeadFilter, Store};
use rusqlite::Connection;

const WS: i64 = 1;

fn page_size(path: &std::path::Path) -> u32 {
    Connection::open(path)
        .expect("opening the file")
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .expect("page_size")
}

/// Loads `n` leads into `store` in one import and returns how many it counts.
fn load(store: &SqliteStore, n: u32, hash: &str) -> u64 {
    insert_leads(store, WS, hash, |b| {
        (0..n).map(|i| lead(b.id, b.started_at, i)).collect()
    })
    .expect("loading leads");
    store
        .count_leads(WS, &LeadFilter::default())
        .expect("counting")
}

#[test]
fn a_new_store_is_created_with_the_larger_page_size() {
    assert_ne!(
        PAGE_SIZE, 4096,
        "the test needs a size other than SQLite's default"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadgen.db");
    let store = SqliteStore::open(&path).expect("opening SQLite");
    assert_eq!(load(&store, 3000, "new"), 3000);
    drop(store);
    assert_eq!(page_size(&path), PAGE_SIZE);
}

#[test]
fn an_existing_database_keeps_its_page_size_and_its_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadgen.db");
    {
        let conn = Connection::open(&path).expect("creating the file");
        conn.execute_batch(
            "PRAGMA page_size = 4096;
             CREATE TABLE kept (note TEXT);
             INSERT INTO kept VALUES ('written before leadgen opened this file');",
        )
        .expect("an older database");
    }
    let store = SqliteStore::open(&path).expect("opening the older database");
    assert_eq!(load(&store, 3000, "old"), 3000);
    drop(store);
    assert_eq!(page_size(&path), 4096);
    let note: String = Connection::open(&path)
        .expect("reopening")
        .query_row("SELECT note FROM kept", [], |r| r.get(0))
        .expect("the older table");
    assert_eq!(note, "written before leadgen opened this file");
}
