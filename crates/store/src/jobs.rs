//! The durable job queue's storage contract, implemented by both backends
//! (`sqlite_jobs.rs`, `pg_jobs.rs`) and checked by one suite
//! (`tests/queue.rs`).
//!
//! Every state change is one transaction guarded by ownership: a worker can
//! only finish, fail, release or extend jobs it holds (`worker_id` matches and
//! the job is claimed or processing). A worker whose lease expired and whose
//! job went to someone else therefore cannot write its result a second time,
//! and a completion's effects, run counters and follow-up jobs are written in
//! the same transaction as the completion itself.

use std::time::Duration;

use leadgen_core::WorkspaceId;
use leadgen_core::job::{
    Completion, CompletionOutcome, Failure, Job, JobErrorEntry, JobId, JobStatus, NewJob, Run,
    RunId, RunStatus,
};

use crate::{Result, StoreError};

/// The PostgreSQL channel an enqueue notifies, so idle workers wake at once.
pub const JOBS_CHANNEL: &str = "leadgen_jobs";

/// What a worker asks for when it claims.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub worker: String,
    /// Only these types (the ones the worker has handlers for); `None`: any.
    pub types: Option<Vec<String>>,
    pub limit: u32,
    pub lease_ms: u64,
    pub now: i64,
    /// At most this many jobs of a type in flight (claimed or processing,
    /// lease alive) across all workers.
    pub caps: Vec<(String, u32)>,
}

/// Which types one claim statement may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeSel {
    Any,
    In(Vec<String>),
    NotIn(Vec<String>),
}

impl ClaimRequest {
    /// The claim split into statements: the uncapped types in one, each
    /// capped type with room in one of its own, with its room as limit.
    /// `inflight` gives the live count of each capped type.
    pub(crate) fn plan(&self, inflight: &dyn Fn(&str) -> u64) -> Vec<(TypeSel, u32)> {
        let wanted = |t: &str| {
            self.types
                .as_ref()
                .is_none_or(|ts| ts.iter().any(|x| x == t))
        };
        let capped: Vec<String> = self.caps.iter().map(|(t, _)| t.clone()).collect();
        let mut plan = Vec::new();
        match &self.types {
            None if capped.is_empty() => plan.push((TypeSel::Any, self.limit)),
            None => plan.push((TypeSel::NotIn(capped), self.limit)),
            Some(ts) => {
                let free: Vec<String> =
                    ts.iter().filter(|t| !capped.contains(t)).cloned().collect();
                if !free.is_empty() {
                    plan.push((TypeSel::In(free), self.limit));
                }
            }
        }
        for (t, cap) in &self.caps {
            if !wanted(t) {
                continue;
            }
            let room = u64::from(*cap)
                .saturating_sub(inflight(t))
                .min(u64::from(self.limit));
            if room > 0 {
                plan.push((TypeSel::In(vec![t.clone()]), room as u32));
            }
        }
        plan
    }
}

/// A listing of jobs.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub run: Option<RunId>,
    pub limit: u32,
}

/// Counts for `leadgen jobs stats`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QueueStats {
    /// Every status, zero included.
    pub by_status: Vec<(JobStatus, u64)>,
    /// (type, status, count), non-zero only.
    pub by_type: Vec<(String, JobStatus, u64)>,
    /// Age of the oldest pending job that is due (ms), if any.
    pub oldest_pending_age_ms: Option<i64>,
    /// Jobs completed in the last minute.
    pub completed_last_minute: u64,
}

/// Blocks until a job may have become claimable.
pub trait JobWakeup: Send {
    /// `true` if woken by a notification, `false` on timeout.
    fn wait(&mut self, timeout: Duration) -> Result<bool>;
}

/// The queue's storage. Times are Unix milliseconds, passed in.
pub trait JobQueue {
    /// Inserts jobs in one transaction; `None` where the unique key already
    /// existed (the enqueue is a no-op for that job).
    fn enqueue(&self, jobs: &[NewJob], now: i64) -> Result<Vec<Option<JobId>>>;
    /// Takes up to `limit` due jobs, highest priority first, then oldest,
    /// skipping paused runs; they become `claimed` with a lease.
    fn claim(&self, req: &ClaimRequest) -> Result<Vec<Job>>;
    /// Claimed → processing (the handler started).
    fn start_jobs(&self, worker: &str, ids: &[JobId], now: i64) -> Result<u64>;
    /// Heartbeat: pushes the lease of the worker's jobs to `lease_until`.
    fn extend_leases(&self, worker: &str, ids: &[JobId], lease_until: i64, now: i64)
    -> Result<u64>;
    fn complete_jobs(
        &self,
        worker: &str,
        done: &[Completion],
        now: i64,
    ) -> Result<Vec<CompletionOutcome>>;
    /// Records failed attempts: back to pending at `retry_at` while attempts
    /// remain, else failed. `None` where the job was not the worker's.
    fn fail_jobs(
        &self,
        worker: &str,
        failures: &[Failure],
        now: i64,
    ) -> Result<Vec<Option<JobStatus>>>;
    /// Hands jobs back untouched (graceful shutdown): pending, the attempt
    /// not counted.
    fn release_jobs(&self, worker: &str, ids: &[JobId], now: i64) -> Result<u64>;
    /// Jobs whose lease expired (their worker died) go back to pending, or
    /// fail when out of attempts. Returns how many.
    fn reap_expired(&self, now: i64) -> Result<u64>;
    /// Earliest time a job of these types may need a worker: a pending job's
    /// `run_at` (≤ now when due) or a running job's lease end (its worker may
    /// die); `None` when no job of these types is pending or running.
    fn next_claimable(&self, types: Option<&[String]>, now: i64) -> Result<Option<i64>>;

    fn cancel_job(&self, ws: WorkspaceId, id: JobId, now: i64) -> Result<bool>;
    /// A failed or cancelled job back to pending with fresh attempts.
    fn retry_job(&self, ws: WorkspaceId, id: JobId, now: i64) -> Result<bool>;
    fn get_job(&self, ws: WorkspaceId, id: JobId) -> Result<Option<Job>>;
    /// Those of `ids` the worker holds (claimed or processing), in any
    /// workspace: how the server learns a remote worker's jobs' workspaces
    /// and payloads before it applies their results.
    fn held_jobs(&self, worker: &str, ids: &[JobId]) -> Result<Vec<Job>>;
    fn list_jobs(&self, ws: WorkspaceId, f: &JobFilter) -> Result<Vec<Job>>;
    fn queue_stats(&self, ws: WorkspaceId, now: i64) -> Result<QueueStats>;

    fn create_run(&self, ws: WorkspaceId, kind: &str, name: &str, now: i64) -> Result<RunId>;
    fn get_run(&self, ws: WorkspaceId, id: RunId) -> Result<Option<Run>>;
    fn list_runs(&self, ws: WorkspaceId, limit: u32) -> Result<Vec<Run>>;
    /// Pause (running → paused), resume (paused → running) or cancel (and
    /// its unfinished jobs). `false` if the run is not in a state that allows it.
    fn set_run_status(&self, ws: WorkspaceId, id: RunId, to: RunStatus, now: i64) -> Result<bool>;

    /// Token bucket shared by every worker on this store: takes one token
    /// from `bucket` (refilled at `per_second` up to `burst`). Returns 0 when
    /// taken, else how many ms to wait before asking again.
    fn take_token(&self, bucket: &str, per_second: f64, burst: f64, now: i64) -> Result<u64>;
    /// How many effects of `kind` are recorded.
    fn effect_count(&self, ws: WorkspaceId, kind: &str) -> Result<u64>;

    /// A way for idle workers to sleep until a job arrives; `None` when the
    /// backend has no notifications (workers poll).
    fn job_wakeup(&self) -> Result<Option<Box<dyn JobWakeup>>>;
}

/// Token-bucket arithmetic shared by both backends: given the stored state,
/// the new state and the wait.
pub(crate) fn refill(
    tokens: f64,
    refreshed_at: i64,
    per_second: f64,
    burst: f64,
    now: i64,
) -> (f64, u64) {
    let elapsed = (now - refreshed_at).max(0) as f64 / 1000.0;
    let available = (tokens + elapsed * per_second).min(burst);
    if available >= 1.0 {
        (available - 1.0, 0)
    } else {
        let wait = ((1.0 - available) / per_second * 1000.0).ceil().max(1.0);
        (available, wait as u64)
    }
}

/// Column list both backends select jobs with, in [`JobRow`] order.
pub(crate) const JOB_COLUMNS: &str = "id, workspace_id, job_type, status, priority, payload, result, attempts, max_attempts, run_at, worker_id, lease_until, errors, unique_key, run_id, created_at, updated_at, finished_at";

pub(crate) const RUN_COLUMNS: &str = "id, workspace_id, kind, name, status, total_jobs, completed_jobs, failed_jobs, cancelled_jobs, leads_found, companies_found, cost_micros, created_at, updated_at, finished_at";

/// Reads a row by column index; each backend implements it for its row type.
pub(crate) trait QueueRow {
    fn i64_at(&self, i: usize) -> Result<i64>;
    fn opt_i64_at(&self, i: usize) -> Result<Option<i64>>;
    fn str_at(&self, i: usize) -> Result<String>;
    fn opt_str_at(&self, i: usize) -> Result<Option<String>>;
}

pub(crate) fn job_from_row(r: &dyn QueueRow) -> Result<Job> {
    let status = r.str_at(3)?;
    let errors = r.str_at(12)?;
    Ok(Job {
        id: r.i64_at(0)?,
        workspace: r.i64_at(1)?,
        job_type: r.str_at(2)?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("job status {status:?}")))?,
        priority: r.i64_at(4)?.clamp(1, 10) as u8,
        payload: r.str_at(5)?,
        result: r.opt_str_at(6)?,
        attempts: r.i64_at(7)? as u32,
        max_attempts: r.i64_at(8)? as u32,
        run_at: r.i64_at(9)?,
        worker: r.opt_str_at(10)?,
        lease_until: r.opt_i64_at(11)?,
        errors: serde_json::from_str::<Vec<JobErrorEntry>>(&errors)
            .map_err(|e| StoreError::Corrupt(format!("job error history: {e}")))?,
        unique_key: r.opt_str_at(13)?,
        run: r.opt_i64_at(14)?,
        created_at: r.i64_at(15)?,
        updated_at: r.i64_at(16)?,
        finished_at: r.opt_i64_at(17)?,
    })
}

pub(crate) fn run_from_row(r: &dyn QueueRow) -> Result<Run> {
    let status = r.str_at(4)?;
    let n = |i| r.i64_at(i).map(|v| v.max(0) as u64);
    Ok(Run {
        id: r.i64_at(0)?,
        workspace: r.i64_at(1)?,
        kind: r.str_at(2)?,
        name: r.str_at(3)?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))?,
        total_jobs: n(5)?,
        completed_jobs: n(6)?,
        failed_jobs: n(7)?,
        cancelled_jobs: n(8)?,
        leads_found: n(9)?,
        companies_found: n(10)?,
        cost_micros: n(11)?,
        created_at: r.i64_at(12)?,
        updated_at: r.i64_at(13)?,
        finished_at: r.opt_i64_at(14)?,
    })
}

/// One error-history entry as JSON text.
pub(crate) fn error_entry(attempt: i64, at: i64, worker: Option<&str>, message: &str) -> String {
    serde_json::to_string(&JobErrorEntry {
        attempt: attempt.max(0) as u32,
        at,
        worker: worker.map(str::to_owned),
        message: message.to_owned(),
    })
    .expect("serializing plain data")
}

pub(crate) fn validate_new_job(j: &NewJob) -> Result<()> {
    if !(1..=10).contains(&j.priority) {
        return Err(StoreError::Invalid(format!(
            "job priority {} is outside 1..=10",
            j.priority
        )));
    }
    if j.max_attempts == 0 {
        return Err(StoreError::Invalid(
            "max_attempts must be at least 1".into(),
        ));
    }
    if j.job_type.is_empty() {
        return Err(StoreError::Invalid("job type is empty".into()));
    }
    Ok(())
}

/// The status a cancelled or finished job moves its run by: the counter
/// column to increment.
pub(crate) fn run_counter(status: JobStatus) -> Option<&'static str> {
    match status {
        JobStatus::Completed => Some("completed_jobs"),
        JobStatus::Failed => Some("failed_jobs"),
        JobStatus::Cancelled => Some("cancelled_jobs"),
        _ => None,
    }
}

/// SQL that marks a run completed once every job of it has finished; `{p}`
/// placeholders are the backend's (now, run id).
pub(crate) fn finish_run_sql(now: &str, id: &str) -> String {
    format!(
        "UPDATE runs SET status = 'completed', finished_at = {now}, updated_at = {now} \
         WHERE id = {id} AND status = 'running' \
         AND completed_jobs + failed_jobs + cancelled_jobs >= total_jobs"
    )
}

/// Groups finished jobs by run: (run, counter column, delta sums).
pub(crate) fn tally_runs(
    finished: &[(Option<RunId>, JobStatus, leadgen_core::job::RunDelta)],
) -> Vec<(RunId, &'static str, u64, leadgen_core::job::RunDelta)> {
    let mut out: Vec<(RunId, &'static str, u64, leadgen_core::job::RunDelta)> = Vec::new();
    for (run, status, delta) in finished {
        let (Some(run), Some(col)) = (run, run_counter(*status)) else {
            continue;
        };
        match out.iter_mut().find(|(r, c, _, _)| r == run && *c == col) {
            Some((_, _, n, d)) => {
                *n += 1;
                d.leads_found += delta.leads_found;
                d.companies_found += delta.companies_found;
                d.cost_micros += delta.cost_micros;
            }
            None => out.push((*run, col, 1, *delta)),
        }
    }
    out
}

/// The queue's tables, in SQL both backends accept; `id` is the backend's
/// auto-increment primary key clause.
pub(crate) fn queue_ddl(id: &str) -> String {
    format!(
        r#"
CREATE TABLE runs (
    id {id},
    workspace_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    total_jobs BIGINT NOT NULL DEFAULT 0,
    completed_jobs BIGINT NOT NULL DEFAULT 0,
    failed_jobs BIGINT NOT NULL DEFAULT 0,
    cancelled_jobs BIGINT NOT NULL DEFAULT 0,
    leads_found BIGINT NOT NULL DEFAULT 0,
    companies_found BIGINT NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX runs_paused ON runs (id) WHERE status = 'paused';
CREATE TABLE jobs (
    id {id},
    workspace_id BIGINT NOT NULL,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,
    priority BIGINT NOT NULL,
    payload TEXT NOT NULL,
    result TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    worker_id TEXT,
    lease_until BIGINT,
    errors TEXT NOT NULL DEFAULT '[]',
    unique_key TEXT,
    run_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_claim ON jobs (priority DESC, id) WHERE status = 'pending';
CREATE INDEX jobs_leases ON jobs (lease_until) WHERE status IN ('claimed', 'processing');
CREATE UNIQUE INDEX jobs_unique ON jobs (workspace_id, unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX jobs_run ON jobs (run_id) WHERE run_id IS NOT NULL;
CREATE TABLE job_effects (
    workspace_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    job_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, key)
);
CREATE TABLE rate_buckets (
    name TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    refreshed_at BIGINT NOT NULL
);
"#
    )
}

/// Builds [`QueueStats`] from (type, status, count) rows.
pub(crate) fn stats_from_counts(
    rows: Vec<(String, String, i64)>,
    oldest_pending_age_ms: Option<i64>,
    completed_last_minute: u64,
) -> Result<QueueStats> {
    let mut by_status: Vec<(JobStatus, u64)> = JobStatus::ALL.iter().map(|s| (*s, 0)).collect();
    let mut by_type = Vec::with_capacity(rows.len());
    for (t, s, n) in rows {
        let status =
            JobStatus::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("job status {s:?}")))?;
        let n = n.max(0) as u64;
        if let Some(slot) = by_status.iter_mut().find(|(x, _)| *x == status) {
            slot.1 += n;
        }
        by_type.push((t, status, n));
    }
    Ok(QueueStats {
        by_status,
        by_type,
        oldest_pending_age_ms: oldest_pending_age_ms.map(|a| a.max(0)),
        completed_last_minute,
    })
}

/// The run statuses a move to `to` may start from, as an SQL list.
pub(crate) fn run_transition_from(to: RunStatus) -> Result<&'static str> {
    match to {
        RunStatus::Paused => Ok("'running'"),
        RunStatus::Running => Ok("'paused'"),
        RunStatus::Cancelled => Ok("'running', 'paused'"),
        RunStatus::Completed => Err(StoreError::Invalid(
            "a run completes by itself when its jobs finish".into(),
        )),
    }
}

/// The error recorded when a job's lease runs out.
pub(crate) fn lease_expired_message(worker: Option<&str>) -> String {
    format!(
        "lease expired: worker {} stopped heartbeating (killed or lost)",
        worker.unwrap_or("?")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_at_its_rate_up_to_burst() {
        // Empty bucket, 10/s: a token after 100 ms.
        assert_eq!(refill(0.0, 0, 10.0, 5.0, 0), (0.0, 100));
        let (t, wait) = refill(0.0, 0, 10.0, 5.0, 100);
        assert_eq!(wait, 0);
        assert!(t.abs() < 1e-9);
        // Long idle: capped at burst, minus the one taken.
        let (t, wait) = refill(0.0, 0, 10.0, 5.0, 60_000);
        assert_eq!((t, wait), (4.0, 0));
    }

    #[test]
    fn claim_plan_splits_capped_types() {
        let req = ClaimRequest {
            worker: "w".into(),
            types: Some(vec!["a".into(), "b".into(), "c".into()]),
            limit: 10,
            lease_ms: 1000,
            now: 0,
            caps: vec![("b".into(), 3), ("c".into(), 2), ("z".into(), 1)],
        };
        let plan = req.plan(&|t| if t == "b" { 1 } else { 2 });
        assert_eq!(
            plan,
            vec![
                (TypeSel::In(vec!["a".to_string()]), 10),
                (TypeSel::In(vec!["b".to_string()]), 2)
            ],
            "c is full, z is not wanted"
        );
    }
}
