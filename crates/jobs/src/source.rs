//! Where a worker gets its jobs and writes their results: the store itself
//! ([`StoreSource`], a worker next to the database) or a server over HTTP
//! (`crate::remote::HttpSource`, a worker that cannot reach the database).
//! The worker loop is written once against [`JobSource`].
//!
//! Times are the worker's Unix milliseconds; a source that talks to another
//! machine turns them into durations, so clocks need not agree.

use std::sync::Arc;

use leadgen_core::job::{Completion, CompletionOutcome, Failure, Job, JobId, JobStatus};
use leadgen_store::{ClaimRequest, Store};

use crate::handler::BoxFuture;
use crate::{JobsError, Result};

/// The queue operations the worker loop needs (see `leadgen_store::JobQueue`
/// for their meaning; every write is guarded by the worker's ownership).
pub trait JobSource: Send + Sync {
    /// For logs: the store backend or the server's address.
    fn describe(&self) -> String;
    /// The database, when this worker has one: handlers that need it, cron
    /// ticks, notifications and shared rate limits use it. `None` for a
    /// remote worker, which then runs only handlers that need no store.
    fn store(&self) -> Option<Arc<dyn Store>>;
    fn claim(&self, req: ClaimRequest) -> BoxFuture<Result<Vec<Job>>>;
    fn start(&self, worker: String, ids: Vec<JobId>, now: i64) -> BoxFuture<Result<u64>>;
    fn extend(
        &self,
        worker: String,
        ids: Vec<JobId>,
        lease_until: i64,
        now: i64,
    ) -> BoxFuture<Result<u64>>;
    fn complete(
        &self,
        worker: String,
        done: Vec<Completion>,
        now: i64,
    ) -> BoxFuture<Result<Vec<CompletionOutcome>>>;
    fn fail(
        &self,
        worker: String,
        failures: Vec<Failure>,
        now: i64,
    ) -> BoxFuture<Result<Vec<Option<JobStatus>>>>;
    fn release(&self, worker: String, ids: Vec<JobId>, now: i64) -> BoxFuture<Result<u64>>;
    fn reap(&self, now: i64) -> BoxFuture<Result<u64>>;
    fn next_claimable(&self, types: Vec<String>, now: i64) -> BoxFuture<Result<Option<i64>>>;
}

/// A worker with the database: every call is the store's, run on the
/// blocking pool.
#[derive(Clone)]
pub struct StoreSource(pub Arc<dyn Store>);

/// Runs a blocking store call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> leadgen_store::Result<T> + Send + 'static,
) -> Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&*store))
        .await
        .map_err(|e| JobsError::Join(e.to_string()))?
        .map_err(JobsError::from)
}

impl StoreSource {
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> leadgen_store::Result<T> + Send + 'static,
    ) -> BoxFuture<Result<T>> {
        let store = self.0.clone();
        Box::pin(async move { blocking(&store, f).await })
    }
}

impl JobSource for StoreSource {
    fn describe(&self) -> String {
        self.0.backend().to_owned()
    }
    fn store(&self) -> Option<Arc<dyn Store>> {
        Some(self.0.clone())
    }
    fn claim(&self, req: ClaimRequest) -> BoxFuture<Result<Vec<Job>>> {
        self.call(move |s| s.claim(&req))
    }
    fn start(&self, worker: String, ids: Vec<JobId>, now: i64) -> BoxFuture<Result<u64>> {
        self.call(move |s| s.start_jobs(&worker, &ids, now))
    }
    fn extend(
        &self,
        worker: String,
        ids: Vec<JobId>,
        lease_until: i64,
        now: i64,
    ) -> BoxFuture<Result<u64>> {
        self.call(move |s| s.extend_leases(&worker, &ids, lease_until, now))
    }
    fn complete(
        &self,
        worker: String,
        done: Vec<Completion>,
        now: i64,
    ) -> BoxFuture<Result<Vec<CompletionOutcome>>> {
        self.call(move |s| s.complete_jobs(&worker, &done, now))
    }
    fn fail(
        &self,
        worker: String,
        failures: Vec<Failure>,
        now: i64,
    ) -> BoxFuture<Result<Vec<Option<JobStatus>>>> {
        self.call(move |s| s.fail_jobs(&worker, &failures, now))
    }
    fn release(&self, worker: String, ids: Vec<JobId>, now: i64) -> BoxFuture<Result<u64>> {
        self.call(move |s| s.release_jobs(&worker, &ids, now))
    }
    fn reap(&self, now: i64) -> BoxFuture<Result<u64>> {
        self.call(move |s| s.reap_expired(now))
    }
    fn next_claimable(&self, types: Vec<String>, now: i64) -> BoxFuture<Result<Option<i64>>> {
        self.call(move |s| s.next_claimable(Some(&types), now))
    }
}
