//! Discovery: finding companies on our own. Google Maps sweeps by ZIP code
//! ([`maps`]) and ad libraries ([`ads`]) run as jobs; what they find is kept
//! as source records of a batch per job and merged into the store's
//! companies by their identity keys ([`store_discovered`]), and every new
//! company is handed to enrichment.

use std::sync::Arc;

use leadgen_core::ads::date_of_ms;
use leadgen_core::company::{Company, CompanyKeys};
use leadgen_core::job::{NewJob, types};
use leadgen_core::zipcodes::ZipSelectError;
use leadgen_core::{RecordId, SourceRef, WorkspaceId};
use leadgen_integrations::IntegrationError;
use leadgen_jobs::{HandlerError, JobContext, Outcome};
use leadgen_store::{BatchCounts, BatchMeta, RecordChunkWriter, Store, StoreError, Upserted};

pub mod ads;
pub mod google_ads;
pub mod linkedin_ads;
pub mod maps;

pub use maps::{
    MapsPayload, MapsVendor, SweepPlan, SweepRequest, maps_spec_with, plan_sweep, start_sweep,
};

/// Reads a variable: the process environment, or a test's own.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(transparent)]
    Zips(#[from] ZipSelectError),
    #[error("{0}")]
    Invalid(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// What a vendor error means for the job.
pub(crate) fn handler_error(e: IntegrationError) -> HandlerError {
    if e.is_retryable() {
        HandlerError::Retryable {
            message: e.to_string(),
            retry_after: e.retry_after(),
        }
    } else {
        HandlerError::Permanent(e.to_string())
    }
}

pub(crate) fn store_error(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::retry(format!("store: {e}"))
}

/// Reserves one request's price against the provider's daily budget
/// (`LEADGEN_<SERVICE>_DAILY_BUDGET_USD`; none set, no limit) before the
/// request is made. Over budget, the job waits for the next UTC midnight,
/// when the day's spend starts from zero again.
pub async fn reserve_spend(
    ctx: &JobContext,
    env: &EnvLookup,
    env_name: &str,
    provider: &'static str,
    micros: u64,
) -> Result<(), HandlerError> {
    let var = format!("LEADGEN_{env_name}_DAILY_BUDGET_USD");
    let limit = match env(&var).map(|v| v.trim().parse::<f64>()) {
        None => None,
        Some(Ok(usd)) if usd.is_finite() && usd >= 0.0 => Some((usd * 1e6).round() as u64),
        Some(_) => {
            return Err(HandlerError::Permanent(format!(
                "{var} is not an amount in dollars (e.g. 50 or 12.5)"
            )));
        }
    };
    let now = ctx.clock.now_ms();
    let day = date_of_ms(now);
    let (store, ws, d) = (ctx.store()?.clone(), ctx.job.workspace, day.clone());
    let granted =
        tokio::task::spawn_blocking(move || store.reserve_spend(ws, provider, &d, micros, limit))
            .await
            .map_err(store_error)?
            .map_err(store_error)?;
    if granted.is_some() {
        return Ok(());
    }
    let midnight = (now.div_euclid(86_400_000) + 1) * 86_400_000;
    Err(HandlerError::Retryable {
        message: format!(
            "{provider}: the daily budget ({var} = ${:.2}) is spent for {day}; continuing after midnight UTC",
            limit.unwrap_or(0) as f64 / 1e6
        ),
        retry_after: Some(std::time::Duration::from_millis(
            (midnight - now).max(0) as u64
        )),
    })
}

/// What a job's finds did to the store.
pub struct Stored {
    pub batch: i64,
    pub upserted: Vec<Upserted>,
    /// Records kept that identify no company (nothing to find it by again).
    pub unkeyed: usize,
}

impl Stored {
    /// The job's outcome: `result` plus what was stored, the run's counters,
    /// and an `enrich_company` job for each new company (once per company).
    pub fn outcome(
        &self,
        mut result: serde_json::Value,
        ws: WorkspaceId,
        cost_micros: u64,
    ) -> Outcome {
        let new: Vec<i64> = self
            .upserted
            .iter()
            .filter(|u| u.inserted)
            .map(|u| u.id)
            .collect();
        let mut seen: Vec<i64> = self.upserted.iter().map(|u| u.id).collect();
        seen.sort_unstable();
        seen.dedup();
        result["records"] = serde_json::json!(self.upserted.len() + self.unkeyed);
        result["unkeyed"] = serde_json::json!(self.unkeyed);
        result["companies"] = serde_json::json!(seen.len());
        result["new_companies"] = serde_json::json!(new.len());
        result["batch"] = serde_json::json!(self.batch);
        let mut out = Outcome::new(result);
        out.delta.companies_found = new.len() as u64;
        out.delta.cost_micros = cost_micros;
        for id in new {
            let mut j = NewJob::new(
                ws,
                types::ENRICH_COMPANY,
                &serde_json::json!({ "company_id": id }).to_string(),
            );
            j.unique_key = Some(format!("enrich_company:{id}"));
            out.follow_ups.push(j);
        }
        out
    }
}

/// Keeps `raws` (one JSON record each) as the source records of the job's
/// batch, then merges the company `make` builds from each record (given
/// the record's source reference) into the store. The job is the batch
/// (content hash `job:<id>`): a retried job reuses its batch and record ids.
pub async fn store_discovered(
    store: Arc<dyn Store>,
    ws: WorkspaceId,
    job_id: i64,
    mut meta: BatchMeta,
    raws: Vec<String>,
    now: i64,
    make: impl Fn(usize, SourceRef) -> Option<Company> + Send + 'static,
) -> Result<Stored, HandlerError> {
    meta.content_hash = format!("job:{job_id}");
    tokio::task::spawn_blocking(move || -> Result<Stored, StoreError> {
        let mut tx = store.begin_ingest(ws, &meta, now)?;
        let batch = tx.batch().clone();
        let mut records = RecordChunkWriter::default();
        let mut companies: Vec<Company> = Vec::with_capacity(raws.len());
        let mut unkeyed = 0;
        for (i, raw) in raws.iter().enumerate() {
            let line = i as u64 + 1;
            records.push(line, std::iter::once(raw.as_bytes()));
            let origin = SourceRef {
                at: batch.started_at,
                record: RecordId::new(batch.id, line),
            };
            // A record with nothing to find its company by again would
            // come back as a new company every time; its raw record stays.
            match make(i, origin).filter(|c| !CompanyKeys::of(c).is_empty()) {
                Some(c) => companies.push(c),
                None => unkeyed += 1,
            }
        }
        if let Some(chunk) = records.finish() {
            tx.store_records(&chunk)?;
        }
        let counts = BatchCounts {
            rows_read: raws.len() as u64,
            ..BatchCounts::default()
        };
        tx.commit(counts, now)?;
        let upserted = store.upsert_companies(ws, &companies, now)?;
        Ok(Stored {
            batch: batch.id,
            upserted,
            unkeyed,
        })
    })
    .await
    .map_err(store_error)?
    .map_err(store_error)
}
