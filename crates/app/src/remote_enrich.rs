//! `enrich_company` on a remote worker (`leadgen worker --server URL`), and
//! the server's side of its two writes.
//!
//! The worker runs the local handler's waterfall ([`enrich_job::run_company`])
//! with a [`RemoteLedger`] instead of the store's:
//!
//! - **budget**: every paid call is reserved first with
//!   `POST /workers/enrichments/reserve`; the server takes it from the job's
//!   workspace's monthly ledger against *its* `[enrich.waterfall]
//!   monthly_budget_usd` ([`enrich_job::reserve_month`], the local ledger's
//!   own function), so local and remote workers share one budget;
//! - **cache**: the worker does not read the server's enrichment cache (a
//!   round trip per step for a rare hit); answers it paid for are cached in
//!   memory for the job and sent to the server with the steps, so local
//!   workers and later runs find them;
//! - **steps**: recorded in memory, then sent with
//!   `POST /workers/enrichments/create` (the same rows the local ledger
//!   writes);
//! - **contacts**: [`enrich_job::contact_rows`] sent with
//!   `POST /workers/leads/batch`; the server stores them through
//!   [`crate::lead_batch`] (the import path, source `enrich`), as
//!   [`enrich_job::store_contacts`] does locally.
//!
//! Every write names the job and an idempotency key chosen by the worker
//! (`a<attempt>:<what>`); the server keeps its first answer per (job, key)
//! in the enrichment cache table (provider `worker`) and answers a retry
//! with it, adding nothing twice.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use leadgen_core::job::{Job, JobId, types};
use leadgen_enrich::waterfall::{Ledger, MemoryLedger, Reservation, StepRecord};
use leadgen_jobs::remote::HttpSource;
use leadgen_jobs::remote::wire::{
    CacheEntry, EnrichmentRow, EnrichmentsBody, EnrichmentsReply, LeadsBatchBody, LeadsBatchReply,
    ReserveBody,
};
use leadgen_jobs::{HandlerError, HandlerSpec, JobContext, JobsError};
use leadgen_store::{NewEnrichment, Store};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::discovery::EnvLookup;
use crate::enrich_job;
use crate::lead_batch::{self, LeadBatch};
use leadgen_jobs::now_ms;

/// The enrichment-cache provider under which the server keeps its answers
/// to remote writes, by `job:<id>:<key>`.
pub const REPLIES: &str = "worker";

/// Most enrichment rows or cache entries per call.
pub const MAX_ROWS: usize = 1_000;

/// A write the server refuses or cannot make.
#[derive(Debug, thiserror::Error)]
pub enum RemoteWriteError {
    /// The request is wrong (a 422).
    #[error("{0}")]
    Invalid(String),
    /// The store failed (a 5xx; the worker tries again).
    #[error("store: {0}")]
    Store(String),
}

fn store_error(e: impl std::fmt::Display) -> RemoteWriteError {
    RemoteWriteError::Store(e.to_string())
}

/// The source of the leads a remote worker hands in for `job`.
pub fn source_of(job: &Job) -> &str {
    match job.job_type.as_str() {
        types::ENRICH_COMPANY | types::ENRICH_LEAD => enrich_job::ENRICH_SOURCE,
        other => other,
    }
}

fn check_key(key: &str) -> Result<(), RemoteWriteError> {
    if key.trim().is_empty() || key.len() > 200 {
        return Err(RemoteWriteError::Invalid(
            "key must be 1 to 200 characters".into(),
        ));
    }
    Ok(())
}

/// `f`'s answer for (`job`, `call`, `key`), made once: a repeated request
/// gets the stored first answer (and `true`) and `f` does not run.
pub fn once<T: Serialize + DeserializeOwned>(
    store: &dyn Store,
    job: &Job,
    call: &str,
    key: &str,
    f: impl FnOnce() -> Result<T, RemoteWriteError>,
) -> Result<(T, bool), RemoteWriteError> {
    check_key(key)?;
    let ws = job.workspace;
    let slot = format!("job:{}:{key}", job.id);
    if let Some(text) = store
        .cached_enrichment(ws, REPLIES, call, &slot)
        .map_err(store_error)?
        && let Ok(reply) = serde_json::from_str(&text)
    {
        return Ok((reply, true));
    }
    let reply = f()?;
    let text = serde_json::to_string(&reply).map_err(store_error)?;
    store
        .cache_enrichment(ws, REPLIES, call, &slot, &text, now_ms())
        .map_err(store_error)?;
    Ok((reply, false))
}

/// `POST /workers/leads/batch` for `job` (held by the caller): the leads go
/// through the import path in the job's workspace, source [`source_of`],
/// in a source batch named `job-<id>-<key>`.
pub fn store_leads(
    store: &dyn Store,
    config: &Config,
    job: &Job,
    body: &LeadsBatchBody,
) -> Result<(LeadsBatchReply, bool), RemoteWriteError> {
    if body.leads.len() > lead_batch::MAX_LEADS {
        return Err(RemoteWriteError::Invalid(format!(
            "at most {} leads per batch",
            lead_batch::MAX_LEADS
        )));
    }
    if body.tags.len() > 20
        || body
            .tags
            .iter()
            .any(|t| t.trim().is_empty() || t.len() > 100)
    {
        return Err(RemoteWriteError::Invalid(
            "tags: at most 20, each 1 to 100 characters".into(),
        ));
    }
    once(store, job, "leads_batch", &body.key, || {
        let batch = LeadBatch {
            workspace: job.workspace,
            source: source_of(job),
            tags: body.tags.clone(),
            name: format!("job-{}-{}", job.id, body.key),
        };
        lead_batch::ingest(store, config, &batch, &body.leads).map_err(|e| match e {
            lead_batch::BatchError::Invalid(m) => RemoteWriteError::Invalid(m),
            lead_batch::BatchError::Failed(m) => RemoteWriteError::Store(m),
        })
    })
}

/// `POST /workers/enrichments/create` for `job`: the rows are recorded for
/// the job's workspace, for a lead or company of that workspace only.
pub fn store_enrichments(
    store: &dyn Store,
    job: &Job,
    body: &EnrichmentsBody,
) -> Result<(EnrichmentsReply, bool), RemoteWriteError> {
    let ws = job.workspace;
    if body.rows.len() > MAX_ROWS || body.cache.len() > MAX_ROWS {
        return Err(RemoteWriteError::Invalid(format!(
            "at most {MAX_ROWS} rows and {MAX_ROWS} cache entries per call"
        )));
    }
    if let Some(id) = body.lead_id
        && store.get_lead(ws, id).map_err(store_error)?.is_none()
    {
        return Err(RemoteWriteError::Invalid(format!(
            "lead {id} is not in the job's workspace"
        )));
    }
    if let Some(id) = body.company_id
        && store.get_company(ws, id).map_err(store_error)?.is_none()
    {
        return Err(RemoteWriteError::Invalid(format!(
            "company {id} is not in the job's workspace"
        )));
    }
    if let Some(r) = body
        .rows
        .iter()
        .find(|r| r.provider.is_empty() || r.kind.is_empty() || r.outcome.is_empty())
    {
        return Err(RemoteWriteError::Invalid(format!(
            "a row needs provider, kind and outcome: {r:?}"
        )));
    }
    if body.cache.iter().any(|c| c.provider == REPLIES) {
        return Err(RemoteWriteError::Invalid(format!(
            "cache provider `{REPLIES}` is the server's own"
        )));
    }
    once(store, job, "enrichments", &body.key, || {
        let now = now_ms();
        let mut ids = Vec::with_capacity(body.rows.len());
        for r in &body.rows {
            let e = NewEnrichment {
                subject: r.subject.clone(),
                lead_id: body.lead_id,
                company_id: body.company_id,
                provider: r.provider.clone(),
                kind: r.kind.clone(),
                outcome: r.outcome.clone(),
                result: r.result.to_string(),
                confidence: r.confidence,
                reasoning: r.reasoning.clone(),
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
                cost_micros: r.cost_micros,
            };
            ids.push(store.record_enrichment(ws, &e, now).map_err(store_error)?);
        }
        for c in &body.cache {
            store
                .cache_enrichment(ws, &c.provider, &c.kind, &c.key, &c.value.to_string(), now)
                .map_err(store_error)?;
        }
        Ok(EnrichmentsReply { ids })
    })
}

/// `POST /workers/enrichments/reserve` for `job`: `micros` of its
/// workspace's monthly budget (the server's limit), once per key.
pub fn reserve(
    store: &dyn Store,
    config: &Config,
    job: &Job,
    body: &ReserveBody,
) -> Result<(bool, bool), RemoteWriteError> {
    let limit = config
        .enrich
        .waterfall
        .monthly_budget_usd
        .map(|usd| (usd.max(0.0) * 1e6).round() as u64);
    once(store, job, "reserve", &body.key, || {
        Ok(enrich_job::reserve_month(
            store,
            job.workspace,
            body.micros,
            limit,
        ))
    })
}

/// The waterfall's ledger on a remote worker (see the module's notes).
pub struct RemoteLedger {
    http: Arc<HttpSource>,
    worker: String,
    job: JobId,
    attempt: u32,
    reservations: AtomicU64,
    memory: MemoryLedger,
    paid: Mutex<Vec<CacheEntry>>,
}

impl RemoteLedger {
    pub fn new(http: Arc<HttpSource>, worker: String, job: &Job) -> RemoteLedger {
        RemoteLedger {
            http,
            worker,
            job: job.id,
            attempt: job.attempts,
            reservations: AtomicU64::new(0),
            memory: MemoryLedger::default(),
            paid: Mutex::new(Vec::new()),
        }
    }

    /// An idempotency key of this attempt.
    pub fn key(&self, what: &str) -> String {
        format!("a{}:{what}", self.attempt)
    }

    /// The steps recorded so far, as the wire carries them.
    pub fn rows(&self) -> Vec<EnrichmentRow> {
        let r = self
            .memory
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        r.iter()
            .map(|(subject, s)| EnrichmentRow {
                subject: subject.clone(),
                provider: s.provider.clone(),
                kind: s.kind.clone(),
                outcome: s.outcome.clone(),
                result: s.result.clone(),
                confidence: s.confidence,
                reasoning: s.reasoning.clone(),
                input_tokens: s.input_tokens,
                output_tokens: s.output_tokens,
                cost_micros: s.cost_micros,
            })
            .collect()
    }

    /// Answers paid for during the job, for the server's cache.
    pub fn paid_answers(&self) -> Vec<CacheEntry> {
        self.paid.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Ledger for RemoteLedger {
    fn cached(&self, provider: &str, kind: &str, key: &str) -> Option<serde_json::Value> {
        self.memory.cached(provider, kind, key)
    }

    fn store_cache(&self, provider: &str, kind: &str, key: &str, value: &serde_json::Value) {
        self.memory.store_cache(provider, kind, key, value);
        self.paid
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(CacheEntry {
                provider: provider.to_owned(),
                kind: kind.to_owned(),
                key: key.to_owned(),
                value: value.clone(),
            });
    }

    fn reserve_month(&self, micros: u64, _limit_micros: Option<u64>) -> Reservation<'_> {
        // The server applies its own limit: the budget is the workspace's.
        let n = self.reservations.fetch_add(1, Ordering::SeqCst);
        let body = ReserveBody {
            worker: self.worker.clone(),
            job: self.job,
            key: self.key(&format!("reserve:{n}")),
            micros,
        };
        Box::pin(async move {
            match self.http.reserve(&body).await {
                Ok(r) => r.granted,
                Err(e) => {
                    tracing::warn!(job = self.job, error = %e, "reserving enrichment budget on the server; the paid step is skipped");
                    false
                }
            }
        })
    }

    fn record(&self, subject: &str, step: &StepRecord) {
        self.memory.record(subject, step);
    }
}

/// An `enrich_company` payload as a remote worker gets it: the server
/// looked the company's domain up.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteCompanyPayload {
    pub company_id: Option<i64>,
    pub domain: String,
}

/// The payload a remote worker gets for an `enrich_company` job of `ws`.
pub fn company_payload(store: &dyn Store, ws: i64, payload: &str) -> Result<String, HandlerError> {
    let (domain, company_id) = enrich_job::resolve_company(store, ws, payload)?;
    Ok(serde_json::to_string(&RemoteCompanyPayload { company_id, domain }).expect("plain data"))
}

fn remote_error(e: JobsError) -> HandlerError {
    HandlerError::retry(e.to_string())
}

/// After the waterfall: the steps to `/workers/enrichments/create` (about
/// `lead_id` or `company_id`), the contacts to `/workers/leads/batch`,
/// then the job's outcome as the local handler makes it.
async fn hand_in(
    http: &HttpSource,
    ledger: &RemoteLedger,
    job: &Job,
    subject: (Option<i64>, Option<i64>),
    enriched: enrich_job::Enriched,
) -> Result<leadgen_jobs::Outcome, HandlerError> {
    let steps = EnrichmentsBody {
        worker: ledger.worker.clone(),
        job: job.id,
        key: ledger.key("steps"),
        lead_id: subject.0,
        company_id: subject.1,
        rows: ledger.rows(),
        cache: ledger.paid_answers(),
    };
    if !steps.rows.is_empty() || !steps.cache.is_empty() {
        http.create_enrichments(&steps)
            .await
            .map_err(remote_error)?;
    }
    let (found, summary, cost_usd) = match enriched {
        enrich_job::Enriched::Done(out) => return Ok(out),
        enrich_job::Enriched::Found {
            found,
            summary,
            cost_usd,
        } => (found, summary, cost_usd),
    };
    let rows: Vec<BTreeMap<String, String>> = enrich_job::contact_rows(&found);
    let ids = if rows.is_empty() {
        Vec::new()
    } else {
        let batch = LeadsBatchBody {
            worker: ledger.worker.clone(),
            job: job.id,
            key: ledger.key("contacts"),
            tags: enrich_job::contact_tags(),
            leads: rows,
        };
        let reply = http.leads_batch(&batch).await.map_err(remote_error)?;
        enrich_job::lead_ids(&reply.outcomes)
    };
    Ok(enrich_job::company_outcome(
        job.workspace,
        &ids,
        summary,
        cost_usd,
    ))
}

fn worker_of(job: &Job) -> Result<String, HandlerError> {
    job.worker
        .clone()
        .ok_or_else(|| HandlerError::Permanent("a remote job without its worker".into()))
}

/// `enrich_company` on a remote worker: the local waterfall with a
/// [`RemoteLedger`]; contacts and steps written through the server.
pub fn company_spec(config: Arc<Config>, env: EnvLookup, http: Arc<HttpSource>) -> HandlerSpec {
    let mut spec = HandlerSpec::new(types::ENRICH_COMPANY, move |ctx: JobContext| {
        let (config, env, http) = (config.clone(), env.clone(), http.clone());
        async move {
            let p: RemoteCompanyPayload = ctx.payload()?;
            let ledger = Arc::new(RemoteLedger::new(
                http.clone(),
                worker_of(&ctx.job)?,
                &ctx.job,
            ));
            let (found, summary) =
                enrich_job::run_company(&config, &env, ledger.clone(), &p.domain).await?;
            let cost_usd = found.cost_usd;
            let enriched = enrich_job::Enriched::Found {
                found: Box::new(found),
                summary,
                cost_usd,
            };
            hand_in(&http, &ledger, &ctx.job, (None, p.company_id), enriched).await
        }
    });
    spec.max_attempts = 3;
    spec.timeout = std::time::Duration::from_secs(300);
    spec
}

/// The payload a remote worker gets for an `enrich_lead` job of `ws`: the
/// lead's name, company and email ([`enrich_job::LeadFacts`]).
pub fn lead_payload(store: &dyn Store, ws: i64, payload: &str) -> Result<String, HandlerError> {
    let facts = enrich_job::lead_facts(store, ws, payload)?;
    Ok(serde_json::to_string(&facts).expect("plain data"))
}

/// `enrich_lead` on a remote worker: [`enrich_job::run_lead`] with a
/// [`RemoteLedger`]; the address found is merged through the server.
pub fn lead_spec(config: Arc<Config>, env: EnvLookup, http: Arc<HttpSource>) -> HandlerSpec {
    let mut spec = HandlerSpec::new(types::ENRICH_LEAD, move |ctx: JobContext| {
        let (config, env, http) = (config.clone(), env.clone(), http.clone());
        async move {
            let lead: enrich_job::LeadFacts = ctx.payload()?;
            let ledger = Arc::new(RemoteLedger::new(
                http.clone(),
                worker_of(&ctx.job)?,
                &ctx.job,
            ));
            let ws = ctx.job.workspace;
            let enriched = enrich_job::run_lead(&config, &env, ledger.clone(), ws, &lead).await?;
            hand_in(
                &http,
                &ledger,
                &ctx.job,
                (Some(lead.lead_id), None),
                enriched,
            )
            .await
        }
    });
    spec.max_attempts = 3;
    spec.timeout = std::time::Duration::from_secs(300);
    spec
}
