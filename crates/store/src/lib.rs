//! The `Store` contract and its two real backends: SQLite (embedded default)
//! and PostgreSQL. Both run the same conformance suite (`tests/conformance.rs`).
//!
//! The contract is synchronous: both drivers are blocking, the ingest path is
//! a tight loop on one thread, and async callers use `spawn_blocking`.

pub mod auth;
pub mod campaigns;
mod codec;
pub mod companies;
pub mod deliveries;
pub mod enrichments;
pub mod intent;
pub mod jobs;
pub mod lead_edits;
mod lead_row;
mod pg_auth;
mod pg_companies;
mod pg_jobs;
pub mod postgres;
mod query;
mod schema;
pub mod settings;
pub mod spend;
pub mod sqlite;
mod sqlite_auth;
mod sqlite_bulk;
mod sqlite_companies;
mod sqlite_jobs;
mod sqlite_stats;
mod sqlite_writeback;
pub mod suppression;
#[cfg(feature = "testkit")]
pub mod testing;
pub mod verifications;
pub mod webhooks;

use leadgen_core::{Lead, LeadId, RecordId, WorkspaceId};

pub use auth::{ApiKey, AuthStore, NewApiKey, Role, SessionUser, User, Workspace};
pub use campaigns::{Campaign, CampaignCounts, CampaignStore, PushBatch};
pub use codec::{RecordChunk, RecordChunkWriter, SqlValue};
pub use companies::{CompanyFilter, CompanyStore, Upserted};
pub use deliveries::{Delivery, DeliveryStatus, DeliveryStore, NewDelivery, PlatformUpload};
pub use enrichments::{Enrichment, EnrichmentStore, EnrichmentTotals, NewEnrichment};
pub use intent::IntentStore;
pub use jobs::{ClaimRequest, JobFilter, JobQueue, JobWakeup, QueueStats};
pub use lead_edits::{LeadEdit, LeadEdits};
pub use lead_row::LeadRow;
pub use query::{Cursor, LeadFilter, LeadPage, LeadQuery, SortOrder};
pub use settings::{IntegrationSettings, SecretBox, SettingsStore};
pub use spend::SpendLedger;
pub use suppression::{
    AuditEntry, AuditLog, PersonData, Suppression, SuppressionKind, SuppressionReason,
    SuppressionStore,
};
pub use verifications::{StoredVerification, VerificationStore};
pub use webhooks::{NewWebhookEvent, WebhookEvent, WebhookStore};

/// Errors of any backend. Messages name what failed; callers add context.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", postgres::error_text(.0))]
    Postgres(#[from] ::postgres::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot open store at {path}: {reason}")]
    Open { path: String, reason: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Runs `step`, logging how long it took at debug level (where a bulk
/// load's time goes: `LEADGEN_LOG=leadgen_store=debug`).
pub(crate) fn timed<T>(what: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = std::time::Instant::now();
    let out = step();
    tracing::debug!(ms = started.elapsed().as_millis() as u64, what, "step took");
    out
}

/// What a batch of source records is: an import file, an API call, a scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMeta {
    /// `csv`, `api`, `capture`, `google_maps`, …
    pub kind: String,
    /// A human label: the file name.
    pub name: String,
    /// The source name leads from this batch carry (`csv_upload`, `apollo`).
    pub source: String,
    /// Hash of the content; the same content is the same batch.
    pub content_hash: String,
    /// Column headers of the records, for reading raw rows back.
    pub headers: Vec<String>,
}

/// A batch as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub source: String,
    pub content_hash: String,
    pub headers: Vec<String>,
    /// When the batch was first started; its records were observed then.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub counts: BatchCounts,
}

/// Counters of a finished batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchCounts {
    pub rows_read: u64,
    pub inserted: u64,
    pub merged: u64,
    pub rejected: u64,
}

/// A raw record read back: the batch's headers and the record's cells.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceRecord {
    pub record: RecordId,
    pub batch_name: String,
    pub source: String,
    pub observed_at: i64,
    pub headers: Vec<String>,
    pub cells: Vec<String>,
}

/// Summary numbers for `leadgen stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    pub leads: u64,
    pub by_status: Vec<(String, u64)>,
    pub by_tier: Vec<(String, u64)>,
    pub by_source: Vec<(String, u64)>,
    pub with_email: u64,
    pub with_phone: u64,
    pub with_linkedin: u64,
    pub batches: u64,
    pub source_records: u64,
}

/// What [`StoreStats`] counts per source in one scan of `leads` (no index
/// holds the sources): the query, with the workspace as parameter `ws`
/// (`?1` or `$1`), and its rows made into the stats. Leads, emails, phones
/// and LinkedIn URLs are summed over the sources.
pub(crate) mod source_totals {
    pub fn sql(ws: &str) -> String {
        format!(
            "SELECT source, count(*), count(email), count(phone), count(linkedin_url)
             FROM leads WHERE workspace_id = {ws} GROUP BY source ORDER BY 2 DESC, 1"
        )
    }

    /// Fills the per-source and total counts of `stats` from the rows.
    pub fn fill(stats: &mut super::StoreStats, rows: Vec<(String, [u64; 4])>) {
        let total = |i: usize| rows.iter().map(|(_, n)| n[i]).sum::<u64>();
        stats.leads = total(0);
        stats.with_email = total(1);
        stats.with_phone = total(2);
        stats.with_linkedin = total(3);
        stats.by_source = rows.into_iter().map(|(s, n)| (s, n[0])).collect();
    }
}

/// A lead store. Every call is scoped to one workspace.
pub trait Store:
    jobs::JobQueue
    + verifications::VerificationStore
    + auth::AuthStore
    + lead_edits::LeadEdits
    + companies::CompanyStore
    + spend::SpendLedger
    + suppression::SuppressionStore
    + suppression::AuditLog
    + suppression::PersonData
    + campaigns::CampaignStore
    + webhooks::WebhookStore
    + deliveries::DeliveryStore
    + enrichments::EnrichmentStore
    + intent::IntentStore
    + settings::SettingsStore
    + Send
    + Sync
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Brings the schema up to date. Safe to call on every start.
    fn migrate(&self) -> Result<()>;

    /// Opens the single write transaction of an ingest. It holds the
    /// workspace's ingest lock until commit; dropping it rolls back.
    /// A batch with the same content hash is reused, so a re-run of the same
    /// file has the same record ids and changes nothing.
    fn begin_ingest(
        &self,
        ws: WorkspaceId,
        meta: &BatchMeta,
        now: i64,
    ) -> Result<Box<dyn IngestTx + '_>>;

    fn batches(&self, ws: WorkspaceId) -> Result<Vec<Batch>>;
    fn get_lead(&self, ws: WorkspaceId, id: LeadId) -> Result<Option<Lead>>;
    fn query_leads(&self, ws: WorkspaceId, q: &LeadQuery) -> Result<LeadPage>;
    fn count_leads(&self, ws: WorkspaceId, f: &LeadFilter) -> Result<u64>;
    /// Streams every lead matching `f` in id order to `sink`.
    fn export_leads(
        &self,
        ws: WorkspaceId,
        f: &LeadFilter,
        sink: &mut dyn FnMut(Lead) -> std::io::Result<()>,
    ) -> Result<u64, ExportError>;
    fn source_record(&self, ws: WorkspaceId, record: RecordId) -> Result<Option<SourceRecord>>;
    fn stats(&self, ws: WorkspaceId) -> Result<StoreStats>;
}

/// An export stops on a store error or on the sink's IO error.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

/// The write side of one ingest, inside one transaction.
pub trait IngestTx {
    fn batch(&self) -> &Batch;
    /// Sources of all batches, for merge priorities.
    fn batch_sources(&mut self) -> Result<Vec<(i64, String)>>;
    /// Every identity key of the workspace, as `(stored key, lead id)`
    /// (see `leadgen_core::dedupe::stored_key`).
    fn load_keys(&mut self) -> Result<Vec<(i64, LeadId)>>;
    /// Records identity keys, sorted by key so the write is an append.
    /// A key already present keeps its lead.
    fn insert_keys(&mut self, keys: &[(i64, LeadId)]) -> Result<()>;
    /// Reserves `n` new lead ids; returns the first of a contiguous range.
    fn reserve_lead_ids(&mut self, n: u64) -> Result<LeadId>;
    fn get_leads(&mut self, ids: &[LeadId]) -> Result<Vec<Lead>>;
    /// Inserts new leads, given as encoded rows (their ids set).
    fn insert_rows(&mut self, rows: &[LeadRow]) -> Result<()>;
    /// [`IngestTx::insert_rows`] for leads at hand.
    fn insert_leads(&mut self, leads: &[Lead]) -> Result<()> {
        let rows: Vec<LeadRow> = leads.iter().map(LeadRow::encode).collect();
        self.insert_rows(&rows)
    }
    fn update_leads(&mut self, leads: &[Lead]) -> Result<()>;
    /// Stores raw records of this batch, for provenance. Storing a chunk
    /// that is already stored (a re-run of the same batch) is a no-op.
    fn store_records(&mut self, chunk: &RecordChunk) -> Result<()>;
    fn commit(self: Box<Self>, counts: BatchCounts, now: i64) -> Result<()>;
}

/// Opens the store a URL names: `postgres://…` or `sqlite:PATH` / a path.
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    open_with_readers(url, 0)
}

/// [`open`] for a server: on SQLite, with `readers` read-only connections
/// for concurrent listings and look-ups (PostgreSQL needs none).
pub fn open_with_readers(url: &str, readers: usize) -> Result<Box<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(postgres::PgStore::connect(url)?))
    } else {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Ok(Box::new(sqlite::SqliteStore::open_with_readers(
            std::path::Path::new(path),
            readers,
        )?))
    }
}
