//! The embedded default: one SQLite file in WAL mode.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use leadgen_core::{Lead, LeadId, RecordId, WorkspaceId};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params, params_from_iter};

use crate::codec::{
    self, LEAD_COLUMNS, RowGet, SqlValue, lead_from_row, push_lead_values, select_list,
};
use crate::lead_edits::{clear_mark_sql, drop_dead_keys, marks_sql};
use crate::query::{Dialect, SortOrder, order_by, paginate, where_clause};
use crate::schema::{LEAD_INDEXES, create_index_sql};
use crate::sqlite_bulk::BulkStatement;
use crate::sqlite_stats::LeadIndexStats;
use crate::sqlite_writeback::{self as writeback, Writeback};
use crate::{
    Batch, BatchCounts, BatchMeta, ExportError, IngestTx, LeadFilter, LeadPage, LeadQuery, LeadRow,
    RecordChunk, Result, SourceRecord, Store, StoreError, StoreStats,
};

/// Ordered migrations; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE batches (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    headers TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    rows_read INTEGER NOT NULL DEFAULT 0,
    inserted INTEGER NOT NULL DEFAULT 0,
    merged INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    UNIQUE (workspace_id, content_hash)
);
CREATE TABLE source_chunks (
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    first_line INTEGER NOT NULL,
    last_line INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (batch_id, first_line)
);
CREATE TABLE id_blocks (name TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE lead_keys (key INTEGER PRIMARY KEY, workspace_id INTEGER NOT NULL, lead_id INTEGER NOT NULL);
INSERT INTO id_blocks VALUES ('lead', 1);
CREATE TABLE leads (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    email TEXT,
    first_name TEXT, last_name TEXT,
    title TEXT, seniority TEXT, department TEXT,
    phone TEXT, mobile TEXT, linkedin_url TEXT,
    company_name TEXT, company_domain TEXT, company_linkedin_url TEXT, company_phone TEXT,
    industry TEXT, employee_count INTEGER, revenue INTEGER,
    city TEXT, state TEXT, country TEXT, postal_code TEXT,
    tags TEXT, custom_fields TEXT,
    source TEXT NOT NULL, status TEXT NOT NULL, lifecycle TEXT NOT NULL,
    score INTEGER NOT NULL, tier TEXT NOT NULL, intent TEXT NOT NULL,
    origin_record INTEGER, provenance TEXT,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
"#];

/// Every migration, in order: the lead tables, then the queue's.
fn migrations() -> Vec<String> {
    let mut all: Vec<String> = MIGRATIONS.iter().map(|m| m.to_string()).collect();
    all.push(crate::jobs::queue_ddl("INTEGER PRIMARY KEY"));
    all.push(crate::verifications::VERIFICATIONS_DDL.to_owned());
    all.push(crate::auth::auth_ddl("INTEGER PRIMARY KEY"));
    all.push(crate::companies::companies_ddl("INTEGER PRIMARY KEY"));
    all.push(crate::spend::SPEND_DDL.to_owned());
    all.push(crate::suppression::SUPPRESSION_DDL.to_owned());
    all.push(crate::campaigns::campaigns_ddl("INTEGER PRIMARY KEY"));
    all.push(crate::webhooks::webhooks_ddl("INTEGER PRIMARY KEY"));
    all.push(crate::deliveries::deliveries_ddl("INTEGER PRIMARY KEY"));
    all.push(crate::enrichments::enrichments_ddl("INTEGER PRIMARY KEY"));
    all.push(crate::intent::intent_ddl("INTEGER PRIMARY KEY"));
    all.push(format!(
        "{LEAD_TAGS_DDL}
{FILL_LEAD_TAGS};"
    ));
    all.push(crate::schema::WIDEN_SEGMENT_INDEXES.to_owned());
    all.push(crate::settings::SETTINGS_DDL.to_owned());
    all.push(crate::lead_edits::DELETED_LEADS_DDL.to_owned());
    all
}

/// Every tag of every lead, so `tags has "x"` reads the leads that have it
/// instead of parsing every lead's tags. Lead ids are unique across
/// workspaces; the query around it keeps to one workspace.
const LEAD_TAGS_DDL: &str = "CREATE TABLE lead_tags (tag TEXT NOT NULL, lead_id INTEGER NOT NULL, PRIMARY KEY (tag, lead_id)) WITHOUT ROWID;";

/// `lead_tags` from `leads`, in key order (an append).
const FILL_LEAD_TAGS: &str = "INSERT OR IGNORE INTO lead_tags (tag, lead_id) \
     SELECT j.value, l.id FROM leads l, json_each(l.tags) j WHERE l.tags IS NOT NULL ORDER BY 1, 2";

/// Triggers that keep `lead_tags` equal to the leads' tags on every write
/// path (imports, edits, bulk actions, erasure): (name, body).
const LEAD_TAG_TRIGGERS: [(&str, &str); 3] = [
    (
        "lead_tags_insert",
        "AFTER INSERT ON leads WHEN new.tags IS NOT NULL BEGIN \
         INSERT OR IGNORE INTO lead_tags (tag, lead_id) SELECT value, new.id FROM json_each(new.tags); END",
    ),
    (
        "lead_tags_update",
        "AFTER UPDATE OF tags ON leads WHEN old.tags IS NOT new.tags BEGIN \
         DELETE FROM lead_tags WHERE lead_id = old.id AND tag IN (SELECT value FROM json_each(coalesce(old.tags, '[]'))); \
         INSERT OR IGNORE INTO lead_tags (tag, lead_id) SELECT value, new.id FROM json_each(coalesce(new.tags, '[]')); END",
    ),
    (
        "lead_tags_delete",
        "AFTER DELETE ON leads WHEN old.tags IS NOT NULL BEGIN \
         DELETE FROM lead_tags WHERE lead_id = old.id AND tag IN (SELECT value FROM json_each(old.tags)); END",
    ),
];

/// What a bulk load into an empty `leads` drops first and builds at the
/// end, in one pass each, instead of maintaining row by row.
fn drop_derived(conn: &Connection) -> Result<()> {
    for (name, _, _) in LEAD_INDEXES {
        conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    for (name, _) in LEAD_TAG_TRIGGERS {
        conn.execute_batch(&format!("DROP TRIGGER IF EXISTS {name}"))?;
    }
    Ok(())
}

/// How [`create_derived`] fills `lead_tags` (empty after [`drop_derived`]).
enum FillTags<'a> {
    /// It is already filled.
    No,
    /// From the leads' `tags`, with `json_each`.
    FromLeads,
    /// With the rows a load gathered as it wrote the leads.
    Rows(&'a [(&'a str, i64)]),
}

/// The indexes and triggers of `leads`, where missing, and `lead_tags`
/// filled as `fill` says.
fn create_derived(conn: &Connection, fill: FillTags<'_>) -> Result<()> {
    for (name, cols, unique) in LEAD_INDEXES {
        crate::timed(name, || {
            Ok(conn.execute_batch(&create_index_sql(name, cols, unique))?)
        })?;
    }
    crate::timed("lead_tags", || match fill {
        FillTags::No => Ok(()),
        FillTags::FromLeads => Ok(conn.execute_batch(FILL_LEAD_TAGS)?),
        FillTags::Rows(rows) => insert_grouped(
            conn,
            "INSERT OR IGNORE INTO lead_tags (tag, lead_id) VALUES",
            2,
            rows,
            |(tag, id), out| {
                out.extend([SqlValue::Text((*tag).into()), SqlValue::Int(*id)]);
                Ok(())
            },
        ),
    })?;
    for (name, body) in LEAD_TAG_TRIGGERS {
        conn.execute_batch(&format!("CREATE TRIGGER IF NOT EXISTS {name} {body}"))?;
    }
    Ok(())
}

/// Runs `head` (`INSERT … VALUES`) over `rows`, each bound as the `width`
/// values `push` appends: `INSERT_ROWS` rows per statement, then one a
/// statement. Text is bound in place.
fn insert_grouped<'v, T>(
    conn: &Connection,
    head: &str,
    width: usize,
    rows: &'v [T],
    push: impl Fn(&'v T, &mut Vec<SqlValue<'v>>) -> Result<()>,
) -> Result<()> {
    let row = format!("({})", vec!["?"; width].join(","));
    let mut values: Vec<SqlValue<'v>> = Vec::with_capacity(INSERT_ROWS * width);
    let (full, rest) = rows.split_at(rows.len() - rows.len() % INSERT_ROWS);
    for (n, part) in [(INSERT_ROWS, full), (1, rest)] {
        if part.is_empty() {
            continue;
        }
        let sql = format!("{head} {}", vec![row.as_str(); n].join(","));
        let mut stmt = BulkStatement::prepare(conn, &sql)?;
        for group in part.chunks(n) {
            values.clear();
            for r in group {
                push(r, &mut values)?;
            }
            stmt.execute(&values)?;
        }
    }
    Ok(())
}

/// Writes the statistics of `leads` to `sqlite_stat1` as `ANALYZE leads`
/// would, replacing any it had (samples in `sqlite_stat4` too).
fn write_lead_stats(conn: &Connection, stats: &LeadIndexStats) -> Result<()> {
    // Analysing the schema table (it has no indexes) creates the
    // statistics tables where missing, as only ANALYZE may.
    conn.execute_batch(
        "ANALYZE sqlite_schema;
         DELETE FROM sqlite_stat1 WHERE tbl = 'leads';",
    )?;
    let has_stat4: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat4')",
        [],
        |r| r.get(0),
    )?;
    if has_stat4 {
        conn.execute_batch("DELETE FROM sqlite_stat4 WHERE tbl = 'leads'")?;
    }
    let mut insert =
        conn.prepare("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('leads', ?1, ?2)")?;
    for (index, stat) in stats.stat1() {
        insert.execute(params![index, stat])?;
    }
    Ok(())
}

/// The writer connection's page cache, in KiB.
const CACHE_KIB: u32 = 256 * 1024;
/// Its page cache while a load builds its indexes (see `commit`).
const INDEX_BUILD_CACHE_KIB: u32 = 4 * 1024;
/// Helper threads SQLite's sorter may use (`PRAGMA threads`) …
const SORT_THREADS: u32 = 2;
/// … and while a load rebuilds the lead indexes: with more of them than
/// cores, a helper sorting one buffer does not hold up the next, and the
/// final merge runs as a tree of threads. Five index builds over 850K leads
/// (sqlite3 shell, 4 alternating runs each): median 6.07 s with 2, 5.78 s
/// with 4, 5.82 s with 8.
const INDEX_BUILD_THREADS: u32 = 4;
/// Page cache while loading into an empty table (see `start`).
const LOAD_CACHE_KIB: u32 = 32 * 1024;
/// Page cache while a read scans the whole table (see `with_scan_cache`).
const SCAN_CACHE_KIB: u32 = 8 * 1024;

/// Gives the writer connection its usual page cache and sort threads, which
/// a load or a scan changes for its duration.
fn writer_settings(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{CACHE_KIB}; PRAGMA threads = {SORT_THREADS};"
    ))
}

/// Runs `read`, a scan of whole tables (an export, the totals of `stats`),
/// with the connection's page cache at [`SCAN_CACHE_KIB`], then gives the
/// writer its cache size back, also when `read` fails. A scan reads each
/// page once, in order: a cache as large as the table (the writer's
/// 256 MiB) only takes memory, which is slow to take on a machine that
/// hands freed memory back to its host.
fn with_scan_cache<T, E: From<StoreError>>(
    conn: &Connection,
    read: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    conn.execute_batch(&format!("PRAGMA cache_size = -{SCAN_CACHE_KIB}"))
        .map_err(StoreError::from)?;
    let out = read();
    let restored = writer_settings(conn).map_err(StoreError::from);
    let out = out?;
    restored?;
    Ok(out)
}

/// Inserts of at least this many rows count their statistics on a thread
/// of their own.
const THREADED_STATS_ROWS: usize = 4096;

/// Rows per multi-row INSERT: fewer statement executions, within SQLite's
/// limit of 32766 bound parameters.
const INSERT_ROWS: usize = 128;

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Read-only connections for the hot reads of a server (lead listings,
    /// key and session look-ups), so they run beside each other and beside
    /// a write; empty in the CLI (see [`SqliteStore::open_with_readers`]).
    readers: Vec<Mutex<Connection>>,
}

pub(crate) struct Sqlite;

impl Dialect for Sqlite {
    fn param(&self, n: usize) -> String {
        format!("?{n}")
    }
    fn has_tag(&self, p: &str) -> String {
        format!("leads.id IN (SELECT lead_id FROM lead_tags WHERE tag = {p})")
    }
    fn json_int(&self, doc: &str, key: &str, sub: &str) -> String {
        format!("json_extract({doc}, '$.{key}.{sub}')")
    }
    fn ilike(&self) -> &'static str {
        "LIKE"
    }
    fn no_index(&self, column: &str) -> String {
        format!("+{column}")
    }
}

impl ToSql for SqlValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl RowGet for rusqlite::Row<'_> {
    fn text(&self, idx: usize) -> Result<Option<String>> {
        Ok(self.get(idx)?)
    }
    fn int(&self, idx: usize) -> Result<Option<i64>> {
        Ok(self.get(idx)?)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: dir.display().to_string(),
                reason: format!("{e}; check the directory is writable or pass --data-dir"),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 10000;
             PRAGMA foreign_keys = ON;",
        )?;
        writer_settings(&conn)?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            readers: Vec::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// [`SqliteStore::open`], plus `readers` read-only connections that
    /// listings and look-ups use concurrently (WAL lets them read while the
    /// writer writes). For a server; a bulk import then stays in WAL mode.
    pub fn open_with_readers(path: &Path, readers: usize) -> Result<SqliteStore> {
        let mut store = SqliteStore::open(path)?;
        for _ in 0..readers {
            let conn = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            conn.execute_batch(
                "PRAGMA busy_timeout = 10000;
                 PRAGMA cache_size = -65536;
                 PRAGMA query_only = ON;",
            )?;
            store.readers.push(Mutex::new(conn));
        }
        Ok(store)
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the
        // transaction rolls back), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection for a read: a free reader, else the writer's when there
    /// are no readers, else a busy reader to wait for. A read sees every
    /// committed write.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return self.conn();
        }
        for r in &self.readers {
            match r.try_lock() {
                Ok(g) => return g,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::thread::current().id().hash(&mut h);
        let i = (h.finish() as usize) % self.readers.len();
        self.readers[i].lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn batch_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Batch> {
    let headers: String = r.get(5)?;
    Ok(Batch {
        id: r.get(0)?,
        kind: r.get(1)?,
        name: r.get(2)?,
        source: r.get(3)?,
        content_hash: r.get(4)?,
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
        counts: BatchCounts {
            rows_read: r.get::<_, i64>(8)? as u64,
            inserted: r.get::<_, i64>(9)? as u64,
            merged: r.get::<_, i64>(10)? as u64,
            rejected: r.get::<_, i64>(11)? as u64,
        },
    })
}

const BATCH_COLS: &str = "id, kind, name, source, content_hash, headers, started_at, finished_at, rows_read, inserted, merged, rejected";

fn query_leads_sql(conn: &Connection, sql: &str, params: &[SqlValue<'_>]) -> Result<Vec<Lead>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(lead_from_row(row)?);
    }
    Ok(out)
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, m) in migrations().iter().enumerate().skip(done as usize) {
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        create_derived(&tx, FillTags::No)?;
        tx.commit()?;
        Ok(())
    }

    fn begin_ingest(
        &self,
        ws: WorkspaceId,
        meta: &BatchMeta,
        now: i64,
    ) -> Result<Box<dyn IngestTx + '_>> {
        Ok(Box::new(self.ingest(ws, meta, now)?))
    }

    fn batches(&self, ws: WorkspaceId) -> Result<Vec<Batch>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {BATCH_COLS} FROM batches WHERE workspace_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([ws], batch_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn get_lead(&self, ws: WorkspaceId, id: LeadId) -> Result<Option<Lead>> {
        let conn = self.reader();
        let sql = format!(
            "SELECT {} FROM leads WHERE workspace_id = ?1 AND id = ?2",
            select_list()
        );
        Ok(query_leads_sql(&conn, &sql, &[SqlValue::Int(ws), SqlValue::Int(id)])?.pop())
    }

    fn query_leads(&self, ws: WorkspaceId, q: &LeadQuery) -> Result<LeadPage> {
        let w = where_clause(&Sqlite, ws, &q.filter, Some(q.sort), q.after);
        let sql = format!(
            "SELECT {} FROM leads WHERE {} ORDER BY {} LIMIT {}",
            select_list(),
            w.sql,
            order_by(q.sort),
            q.limit as u64 + 1
        );
        let conn = self.reader();
        Ok(paginate(query_leads_sql(&conn, &sql, &w.params)?, q.limit))
    }

    fn count_leads(&self, ws: WorkspaceId, f: &LeadFilter) -> Result<u64> {
        let w = where_clause(&Sqlite, ws, f, None, None);
        let conn = self.reader();
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM leads WHERE {}", w.sql),
            params_from_iter(w.params.iter()),
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    fn export_leads(
        &self,
        ws: WorkspaceId,
        f: &LeadFilter,
        sink: &mut dyn FnMut(Lead) -> std::io::Result<()>,
    ) -> Result<u64, ExportError> {
        let w = where_clause(&Sqlite, ws, f, Some(SortOrder::Oldest), None);
        let sql = format!(
            "SELECT {} FROM leads WHERE {} ORDER BY id",
            select_list(),
            w.sql
        );
        let conn = self.conn();
        with_scan_cache(&conn, || {
            let mut stmt = conn.prepare(&sql).map_err(StoreError::from)?;
            let mut rows = stmt
                .query(params_from_iter(w.params.iter()))
                .map_err(StoreError::from)?;
            let mut n = 0;
            while let Some(row) = rows.next().map_err(StoreError::from)? {
                sink(lead_from_row(row)?)?;
                n += 1;
            }
            Ok(n)
        })
    }

    fn source_record(&self, ws: WorkspaceId, record: RecordId) -> Result<Option<SourceRecord>> {
        let conn = self.conn();
        let Some(batch) = conn
            .query_row(
                &format!("SELECT {BATCH_COLS} FROM batches WHERE workspace_id = ?1 AND id = ?2"),
                params![ws, record.batch()],
                batch_from_row,
            )
            .optional()?
        else {
            return Ok(None);
        };
        // Packed chunks are BLOBs in the TEXT column, older ones text.
        let data: Option<Vec<u8>> = conn
            .query_row(
                "SELECT data FROM source_chunks WHERE batch_id = ?1 AND first_line <= ?2 AND last_line >= ?2",
                params![batch.id, record.line() as i64],
                |r| Ok(r.get_ref(0)?.as_bytes()?.to_vec()),
            )
            .optional()?;
        Ok(data
            .and_then(|d| codec::decode_record(&d, record.line()))
            .map(|cells| SourceRecord {
                record,
                batch_name: batch.name,
                source: batch.source,
                observed_at: batch.started_at,
                headers: batch.headers,
                cells,
            }))
    }

    fn stats(&self, ws: WorkspaceId) -> Result<StoreStats> {
        let conn = self.conn();
        let group = |col: &str| -> Result<Vec<(String, u64)>> {
            let mut stmt = conn.prepare(&format!(
                "SELECT {col}, count(*) FROM leads WHERE workspace_id = ?1 GROUP BY {col} ORDER BY 2 DESC, 1"
            ))?;
            let rows = stmt.query_map([ws], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        // One scan of the table for the totals and the sources.
        let sources: Vec<(String, [u64; 4])> = with_scan_cache(&conn, || {
            let mut stmt = conn.prepare(&crate::source_totals::sql("?1"))?;
            let rows = stmt.query_map([ws], |r| {
                let n = |i| r.get::<_, i64>(i).map(|n| n as u64);
                Ok((r.get::<_, String>(0)?, [n(1)?, n(2)?, n(3)?, n(4)?]))
            })?;
            Ok::<_, StoreError>(rows.collect::<rusqlite::Result<_>>()?)
        })?;
        let (batches, source_records): (i64, i64) = conn.query_row(
            "SELECT count(*), coalesce(sum(rows_read), 0) FROM batches WHERE workspace_id = ?1",
            [ws],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut stats = StoreStats {
            by_status: group("status")?,
            by_tier: group("tier")?,
            batches: batches as u64,
            source_records: source_records as u64,
            ..StoreStats::default()
        };
        crate::source_totals::fill(&mut stats, sources);
        Ok(stats)
    }
}

struct SqliteIngest<'a> {
    conn: MutexGuard<'a, Connection>,
    ws: WorkspaceId,
    batch: Option<Batch>,
    /// The table was empty at the start: indexes were dropped for the load
    /// and are rebuilt at commit, which is much faster than maintaining them.
    rebuild_indexes: bool,
    /// With `rebuild_indexes`, the planner statistics of the rows loaded,
    /// until a row is updated (then `ANALYZE` counts them at the end).
    stats: Option<LeadIndexStats>,
    done: bool,
    /// The load runs in rollback-journal mode; WAL is restored at the end.
    left_wal: bool,
    /// In rollback-journal mode, a helper syncing the file as the load
    /// writes it (see `sqlite_writeback`); stopped after the commit.
    writeback: Option<Writeback>,
}

impl SqliteStore {
    /// Opens an import's transaction (see [`Store::begin_ingest`]).
    fn ingest(&self, ws: WorkspaceId, meta: &BatchMeta, now: i64) -> Result<SqliteIngest<'_>> {
        let conn = self.conn();
        // A rollback journal for the load when this is the only connection:
        // appended pages are written once, straight to the file, where WAL
        // would write them twice and, once the transaction outgrows the page
        // cache, search an ever longer WAL index on every page read. Another
        // connection (a running server) keeps WAL: the switch then fails and
        // the load goes on in WAL mode.
        let journal: String = conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .unwrap_or_else(|_| "wal".into());
        let left_wal = journal.eq_ignore_ascii_case("delete");
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let writeback = conn
            .path()
            .filter(|p| left_wal && !p.is_empty())
            .and_then(|p| Writeback::start(Path::new(p), writeback::PERIOD));
        let mut tx = SqliteIngest {
            left_wal,
            writeback,
            conn,
            ws,
            batch: None,
            rebuild_indexes: false,
            stats: None,
            done: false,
        };
        tx.start(meta, now)?;
        Ok(tx)
    }
}

impl SqliteIngest<'_> {
    fn restore_wal(&mut self) {
        if std::mem::take(&mut self.left_wal) {
            let _ = self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0));
        }
    }
}

impl SqliteIngest<'_> {
    fn insert_encoded(&mut self, leads: &[LeadRow]) -> Result<()> {
        let head = format!(
            "INSERT INTO leads ({}, updated_at) VALUES",
            LEAD_COLUMNS.join(", ")
        );
        let ws = self.ws;
        insert_grouped(
            &self.conn,
            &head,
            LEAD_COLUMNS.len() + 1,
            leads,
            |lead, out| lead.push_values(out, ws),
        )
    }

    fn start(&mut self, meta: &BatchMeta, now: i64) -> Result<()> {
        let c = &self.conn;
        let existing = c
            .query_row(
                &format!(
                    "SELECT {BATCH_COLS} FROM batches WHERE workspace_id = ?1 AND content_hash = ?2"
                ),
                params![self.ws, meta.content_hash],
                batch_from_row,
            )
            .optional()?;
        let batch = match existing {
            Some(b) => b,
            None => {
                let headers = serde_json::to_string(&meta.headers).unwrap_or_default();
                c.execute(
                    "INSERT INTO batches (workspace_id, kind, name, source, content_hash, headers, started_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![self.ws, meta.kind, meta.name, meta.source, meta.content_hash, headers, now],
                )?;
                c.query_row(
                    &format!("SELECT {BATCH_COLS} FROM batches WHERE id = ?1"),
                    [c.last_insert_rowid()],
                    batch_from_row,
                )?
            }
        };
        self.batch = Some(batch);
        let empty: bool =
            c.query_row("SELECT NOT EXISTS (SELECT 1 FROM leads)", [], |r| r.get(0))?;
        if empty {
            drop_derived(c)?;
            self.rebuild_indexes = true;
            self.stats = Some(LeadIndexStats::new()?);
            // A load into an empty table appends: the page cache then holds
            // little worth reading again, and its memory is better spent by
            // the import holding new leads until they are written.
            c.execute_batch(&format!("PRAGMA cache_size = -{LOAD_CACHE_KIB}"))?;
        }
        Ok(())
    }
}

impl Drop for SqliteIngest<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Dropped without commit: an error or a panic upstream.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if self.rebuild_indexes {
            // The load's own cache sizes and sort threads end with it.
            let _ = writer_settings(&self.conn);
        }
        self.restore_wal();
    }
}

impl IngestTx for SqliteIngest<'_> {
    fn batch(&self) -> &Batch {
        self.batch.as_ref().expect("batch is set in start")
    }

    fn batch_sources(&mut self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, source FROM batches WHERE workspace_id = ?1")?;
        let rows = stmt.query_map([self.ws], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn load_keys(&mut self) -> Result<Vec<(i64, LeadId)>> {
        let dead: std::collections::HashSet<LeadId> = self
            .conn
            .prepare(&marks_sql(|n| format!("?{n}")))?
            .query_map([self.ws], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT key, lead_id FROM lead_keys WHERE workspace_id = ?1")?;
        let rows = stmt.query_map([self.ws], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let (live, stale) = drop_dead_keys(rows.collect::<rusqlite::Result<_>>()?, &dead);
        if !dead.is_empty() {
            let mut delete = self.conn.prepare("DELETE FROM lead_keys WHERE key = ?1")?;
            for key in stale {
                delete.execute([key])?;
            }
            let mut clear = self.conn.prepare(&clear_mark_sql(|n| format!("?{n}")))?;
            for id in &dead {
                clear.execute(params![self.ws, id])?;
            }
        }
        Ok(live)
    }

    fn insert_keys(&mut self, keys: &[(i64, LeadId)]) -> Result<()> {
        const ROWS: usize = 256;
        let insert = |rows: usize| {
            format!(
                "INSERT OR IGNORE INTO lead_keys (key, workspace_id, lead_id) VALUES {}",
                vec!["(?, ?, ?)"; rows].join(",")
            )
        };
        let mut chunks = keys.chunks_exact(ROWS);
        let mut many = self.conn.prepare_cached(&insert(ROWS))?;
        let mut values: Vec<i64> = Vec::with_capacity(ROWS * 3);
        for chunk in &mut chunks {
            values.clear();
            for (key, id) in chunk {
                values.extend([*key, self.ws, *id]);
            }
            many.execute(params_from_iter(values.iter()))?;
        }
        let mut one = self.conn.prepare_cached(&insert(1))?;
        for (key, id) in chunks.remainder() {
            one.execute(params![key, self.ws, id])?;
        }
        Ok(())
    }

    fn reserve_lead_ids(&mut self, n: u64) -> Result<LeadId> {
        let first: i64 = self.conn.query_row(
            "UPDATE id_blocks SET next = max(next, (SELECT coalesce(max(id), 0) + 1 FROM leads)) + ?1
             WHERE name = 'lead' RETURNING next - ?1",
            [n as i64],
            |r| r.get(0),
        )?;
        Ok(first)
    }

    fn get_leads(&mut self, ids: &[LeadId]) -> Result<Vec<Lead>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!("SELECT {} FROM leads WHERE id IN ({marks})", select_list());
            let params: Vec<SqlValue<'_>> = chunk.iter().map(|id| SqlValue::Int(*id)).collect();
            out.extend(query_leads_sql(&self.conn, &sql, &params)?);
        }
        Ok(out)
    }

    fn insert_rows(&mut self, leads: &[LeadRow]) -> Result<()> {
        let Some(mut stats) = self.stats.take() else {
            return self.insert_encoded(leads);
        };
        let ws = self.ws;
        // A large insert is counted on another core while this one inserts.
        let (inserted, counted) = std::thread::scope(|scope| {
            let counter = if leads.len() >= THREADED_STATS_ROWS {
                std::thread::Builder::new()
                    .name("leadgen-stats".into())
                    .spawn_scoped(scope, || stats.add_rows(leads, ws))
                    .ok()
            } else {
                None
            };
            let inserted = self.insert_encoded(leads);
            (inserted, counter.map(|c| matches!(c.join(), Ok(Ok(())))))
        });
        // Counted here when no thread did (a small insert, or no thread to
        // be had); a count that missed rows is dropped, for ANALYZE's.
        let counted = counted.unwrap_or_else(|| stats.add_rows(leads, ws).is_ok());
        self.stats = counted.then_some(stats);
        inserted
    }

    fn update_leads(&mut self, leads: &[Lead]) -> Result<()> {
        // An update changes rows already counted.
        self.stats = None;
        let sets: Vec<String> = LEAD_COLUMNS
            .iter()
            .chain(std::iter::once(&codec::UPDATED_AT))
            .enumerate()
            .skip(2)
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE leads SET {} WHERE id = ?1 AND workspace_id = ?2",
            sets.join(", ")
        );
        let mut stmt = BulkStatement::prepare(&self.conn, &sql)?;
        let mut values: Vec<SqlValue<'_>> = Vec::with_capacity(LEAD_COLUMNS.len() + 1);
        for lead in leads {
            values.clear();
            push_lead_values(&mut values, lead, self.ws);
            stmt.execute(&values)?;
        }
        Ok(())
    }

    fn store_records(&mut self, chunk: &RecordChunk) -> Result<()> {
        let batch_id = self.batch().id;
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO source_chunks (batch_id, first_line, last_line, data) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![batch_id, chunk.first_line as i64, chunk.last_line as i64, chunk.packed])?;
        Ok(())
    }

    fn commit(mut self: Box<Self>, counts: BatchCounts, now: i64) -> Result<()> {
        let batch_id = self.batch().id;
        self.conn.execute(
            "UPDATE batches SET finished_at = ?2, rows_read = ?3, inserted = inserted + ?4, merged = ?5, rejected = ?6
             WHERE id = ?1",
            params![
                batch_id,
                now,
                counts.rows_read as i64,
                counts.inserted as i64,
                counts.merged as i64,
                counts.rejected as i64
            ],
        )?;
        // What the load gathered as it wrote: planner statistics and tags.
        let mut counted = self.stats.take().filter(|s| s.rows() > 0);
        if self.rebuild_indexes {
            // SQLite's sorter hands a full buffer to a helper thread
            // (`PRAGMA threads`) and goes on scanning, but its buffer is as
            // large as the page cache: with the 256 MiB cache every index
            // is one buffer, sorted after the scan on this thread alone. A
            // 4 MiB cache while the indexes are built lets the other core
            // sort beside the scan: five indexes over 850K leads take ~3.1 s
            // instead of ~4.3 s.
            self.conn.execute_batch(&format!(
                "PRAGMA cache_size = -{INDEX_BUILD_CACHE_KIB}; PRAGMA threads = {INDEX_BUILD_THREADS};"
            ))?;
            let started = std::time::Instant::now();
            let tag_rows = counted.as_mut().map(|s| s.tag_rows());
            let fill = tag_rows
                .as_deref()
                .map_or(FillTags::FromLeads, FillTags::Rows);
            create_derived(&self.conn, fill)?;
            tracing::debug!(ms = started.elapsed().as_millis() as u64, "indexes built");
        }
        if let Some(stats) = &counted {
            write_lead_stats(&self.conn, stats)?;
        }
        let started = std::time::Instant::now();
        self.conn.execute_batch("COMMIT")?;
        self.done = true;
        self.writeback = None;
        self.restore_wal();
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "committed");
        let started = std::time::Instant::now();
        // Planner statistics over every row: a sample of 1,000 rows in a
        // workspace of 850K leads made `lower(industry) = ?` look as wide
        // as `score >= 60`, and segment counts took the score index (1.3 s
        // instead of 72 ms). `optimize` analyses only tables never analysed
        // or grown tenfold, so this full pass (~0.6 s per million rows) is
        // rare; after a load into an empty table, the statistics of
        // `leads` were counted as it was written, and are loaded here.
        if counted.is_some() {
            self.conn.execute_batch("ANALYZE sqlite_schema")?;
        }
        self.conn
            .execute_batch("PRAGMA analysis_limit = 0; PRAGMA optimize = 0x10002;")?;
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "analysed");
        Ok(())
    }
}

impl crate::verifications::VerificationStore for SqliteStore {
    fn record_verification(
        &self,
        ws: WorkspaceId,
        v: &crate::StoredVerification,
        lead_status: Option<leadgen_core::lead::LeadStatus>,
        now: i64,
    ) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM leads WHERE workspace_id = ?1 AND id = ?2",
                params![ws, v.lead],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !exists {
            return Ok(false);
        }
        tx.execute(
            &crate::verifications::upsert_sql(|n| format!("?{n}")),
            params![
                ws,
                v.lead,
                v.email,
                v.status,
                v.score,
                v.result,
                v.checked_at
            ],
        )?;
        if let Some(status) = lead_status {
            tx.execute(
                "UPDATE leads SET status = ?1, updated_at = ?2 WHERE workspace_id = ?3 AND id = ?4",
                params![status.as_str(), now, ws, v.lead],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    fn verification(
        &self,
        ws: WorkspaceId,
        lead: LeadId,
    ) -> Result<Option<crate::StoredVerification>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT lead_id, email, status, score, result, checked_at FROM email_verifications \
                 WHERE workspace_id = ?1 AND lead_id = ?2",
                params![ws, lead],
                |r| {
                    Ok(crate::StoredVerification {
                        lead: r.get(0)?,
                        email: r.get(1)?,
                        status: r.get(2)?,
                        score: r.get::<_, i64>(3)?.clamp(0, 100) as u8,
                        result: r.get(4)?,
                        checked_at: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadgen_core::SourceRef;

    fn cache_kib(store: &SqliteStore) -> i64 {
        let pages: i64 = store
            .conn()
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .expect("reading cache_size");
        -pages
    }

    fn meta(name: &str) -> BatchMeta {
        BatchMeta {
            kind: "csv".into(),
            name: name.into(),
            source: "csv_upload".into(),
            content_hash: name.into(),
            headers: vec!["first_name".into()],
        }
    }

    #[test]
    fn a_load_into_an_empty_store_gives_back_the_cache_and_sort_threads_it_built_with() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("leadgen.db")).expect("opening");
        let threads = |s: &SqliteStore| -> i64 {
            s.conn()
                .query_row("PRAGMA threads", [], |r| r.get(0))
                .expect("reading threads")
        };
        assert_eq!(threads(&store), i64::from(SORT_THREADS));
        let tx = store.ingest(1, &meta("a.csv"), 1).expect("begin");
        assert!(tx.rebuild_indexes, "an empty store rebuilds its indexes");
        IngestTx::commit(Box::new(tx), BatchCounts::default(), 2).expect("commit");
        assert_eq!(threads(&store), i64::from(SORT_THREADS));
        assert_eq!(cache_kib(&store), i64::from(CACHE_KIB));
    }

    #[test]
    fn a_load_in_rollback_journal_mode_starts_the_writeback_helper_and_one_in_wal_mode_does_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("leadgen.db");
        let alone = SqliteStore::open(&path).expect("opening");
        let tx = alone.ingest(1, &meta("a.csv"), 1).expect("begin");
        assert!(tx.left_wal && tx.writeback.is_some());
        drop(tx);
        drop(alone);
        // Beside a reader the load stays in WAL mode, where the pages go to
        // the WAL file, not the database file: no helper.
        let shared = SqliteStore::open_with_readers(&path, 1).expect("opening");
        let tx = shared.ingest(1, &meta("b.csv"), 1).expect("begin");
        assert!(!tx.left_wal && tx.writeback.is_none());
    }

    #[test]
    fn an_export_gives_the_writer_its_cache_back_even_when_the_sink_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("leadgen.db")).expect("opening");
        let mut tx = store
            .begin_ingest(1, &meta("export.csv"), 1)
            .expect("begin");
        let first = tx.reserve_lead_ids(2).expect("reserve");
        let leads: Vec<Lead> = (0..2)
            .map(|i| {
                let origin = SourceRef {
                    at: 1,
                    record: RecordId::new(1, i + 2),
                };
                let mut l = Lead::empty("csv_upload", origin);
                l.id = first + i as i64;
                l.first_name = Some(format!("Lead{i}"));
                l
            })
            .collect();
        tx.insert_leads(&leads).expect("insert");
        let counts = BatchCounts {
            rows_read: 2,
            inserted: 2,
            merged: 0,
            rejected: 0,
        };
        tx.commit(counts, 2).expect("commit");
        assert_eq!(cache_kib(&store), i64::from(CACHE_KIB));

        let mut names = Vec::new();
        let n = store
            .export_leads(1, &LeadFilter::default(), &mut |l| {
                names.extend(l.first_name);
                Ok(())
            })
            .expect("export");
        assert_eq!(
            (n, names),
            (2, vec!["Lead0".to_owned(), "Lead1".to_owned()])
        );
        assert_eq!(cache_kib(&store), i64::from(CACHE_KIB));

        let failed = store.export_leads(1, &LeadFilter::default(), &mut |_| {
            Err(std::io::Error::other("disk full"))
        });
        assert!(
            failed.is_err_and(|e| e.to_string().contains("disk full")),
            "the sink's error comes back"
        );
        assert_eq!(cache_kib(&store), i64::from(CACHE_KIB));
    }
}
