//! Which job types run on remote workers (`leadgen worker --server URL`,
//! no database), and the server's side of them: what it adds to a claimed
//! job's payload for a worker that cannot look things up, and how it
//! applies a remote result in the job's own workspace.
//!
//! Remote types are those whose work is external and whose effects are
//! small: `noop` (queue tests and health checks) and `validate_email` (SMTP
//! probes from another IP; the server records the verification with
//! [`crate::verify_job::record`], the local handler's own function).

use std::sync::Arc;

use leadgen_core::job::{Job, types};
use leadgen_jobs::remote::{HttpOptions, HttpSource, Remote};
use leadgen_jobs::{HandlerError, Registry, SystemClock, WorkerOptions, WorkerReport, noop};
use leadgen_store::Store;
use tokio::sync::watch;

use crate::queue::{QueueError, restrict};

/// The job types a remote worker may claim.
pub const REMOTE_TYPES: &[&str] = &[types::NOOP, types::VALIDATE_EMAIL];

/// The handlers of a remote worker.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(noop::spec());
    r.register(crate::verify_job::remote_spec());
    r
}

/// The payload a remote worker gets for `job` (JSON text).
pub fn prepare(store: &dyn Store, job: &Job) -> Result<String, HandlerError> {
    match job.job_type.as_str() {
        types::VALIDATE_EMAIL => {
            crate::verify_job::remote_payload(store, job.workspace, &job.payload)
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
    mut opts: WorkerOptions,
    types: Option<Vec<String>>,
    shutdown: watch::Receiver<bool>,
) -> Result<WorkerReport, QueueError> {
    let reg = restrict(registry(), types)?;
    let source = Remote(Arc::new(HttpSource::new(
        server_url,
        secret,
        HttpOptions::default(),
    )?));
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
