//! Which job types run on remote workers (`leadgen worker --server URL`,
//! no database), and the server's side of them: what it adds to a claimed
//! job's payload for a worker that cannot look things up, and how it
//! applies a remote result in the job's own workspace.
//!
//! Remote types are those whose work is external: `noop` (queue tests and
//! health checks), `validate_email` (SMTP probes from another IP; the
//! server records the verification with [`crate::verify_job::record`], the
//! local handler's own function), `enrich_company` and `enrich_lead` (the
//! waterfall; contacts, steps and budget go through `/workers/leads/batch`
//! and `/workers/enrichments/*`, see [`crate::remote_enrich`]).

use std::sync::Arc;

use leadgen_core::job::{Job, types};
use leadgen_jobs::remote::{HttpOptions, HttpSource, Remote};
use leadgen_jobs::{HandlerError, Registry, SystemClock, WorkerOptions, WorkerReport, noop};
use leadgen_store::Store;
use tokio::sync::watch;

use crate::config::Config;
use crate::discovery::EnvLookup;
use crate::queue::{QueueError, restrict};

/// The job types a remote worker may claim.
pub const REMOTE_TYPES: &[&str] = &[
    types::NOOP,
    types::VALIDATE_EMAIL,
    types::ENRICH_COMPANY,
    types::ENRICH_LEAD,
];

/// The handlers of a remote worker that reaches its server through `http`;
/// `enrich_company` and `enrich_lead` when an enrichment config (`config`)
/// is given.
pub fn registry(http: Arc<HttpSource>, config: Option<Arc<Config>>, env: EnvLookup) -> Registry {
    let mut r = Registry::new();
    r.register(noop::spec());
    r.register(crate::verify_job::remote_spec());
    if let Some(config) = config {
        r.register(crate::remote_enrich::company_spec(
            config.clone(),
            env.clone(),
            http.clone(),
        ));
        r.register(crate::remote_enrich::lead_spec(config, env, http));
    }
    r
}

/// The payload a remote worker gets for `job` (JSON text).
pub fn prepare(store: &dyn Store, job: &Job) -> Result<String, HandlerError> {
    match job.job_type.as_str() {
        types::VALIDATE_EMAIL => {
            crate::verify_job::remote_payload(store, job.workspace, &job.payload)
        }
        types::ENRICH_COMPANY => {
            crate::remote_enrich::company_payload(store, job.workspace, &job.payload)
        }
        types::ENRICH_LEAD => {
            crate::remote_enrich::lead_payload(store, job.workspace, &job.payload)
        }
        _ => Ok(job.payload.clone()),
    }
}

/// Applies a remote worker's result for `job` (held by that worker) and
/// returns the result to store with the completion. A permanent error
/// fails the job; a retryable one asks the worker to send it again.
pub fn apply(
    store: &dyn Store,
    job: &Job,
    result: &serde_json::Value,
    valid_threshold: u8,
    now: i64,
) -> Result<serde_json::Value, HandlerError> {
    match job.job_type.as_str() {
        types::VALIDATE_EMAIL => crate::verify_job::apply_remote(
            store,
            job.workspace,
            &job.payload,
            result,
            valid_threshold,
            now,
        ),
        _ => Ok(result.clone()),
    }
}

/// Runs a remote worker against the server at `server_url` until
/// `shutdown` or, with `until_idle`, until nothing it can run is queued.
pub async fn work(
    server_url: &str,
    secret: &str,
    opts: WorkerOptions,
    types: Option<Vec<String>>,
    shutdown: watch::Receiver<bool>,
) -> Result<WorkerReport, QueueError> {
    work_with(
        server_url,
        secret,
        HttpOptions::default(),
        opts,
        types,
        shutdown,
    )
    .await
}

/// [`work`] with the HTTP client's options (timeouts and backoff).
pub async fn work_with(
    server_url: &str,
    secret: &str,
    http_opts: HttpOptions,
    mut opts: WorkerOptions,
    types: Option<Vec<String>>,
    shutdown: watch::Receiver<bool>,
) -> Result<WorkerReport, QueueError> {
    let http = Arc::new(HttpSource::new(server_url, secret, http_opts)?);
    let reg = restrict(
        registry(
            http.clone(),
            crate::enrich_job::process_config(),
            crate::settings::process_env(),
        ),
        types,
    )?;
    // Once told to stop, a call that cannot reach the server fails at once
    // instead of waiting for it: the worker's leases will simply run out.
    let stopper = http.clone();
    let mut stop_rx = shutdown.clone();
    tokio::spawn(async move {
        if stop_rx.wait_for(|stop| *stop).await.is_ok() {
            stopper.stop_retrying();
        }
    });
    let source = Remote(http);
    // Cron ticks are the database's workers' business.
    opts.schedules.clear();
    Ok(leadgen_jobs::run_worker_on(
        Arc::new(source),
        Arc::new(reg),
        Arc::new(SystemClock),
        opts,
        shutdown,
    )
    .await?)
}
