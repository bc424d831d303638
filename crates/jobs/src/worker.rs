//! The worker loop.
//!
//! One loop per worker process: claim as many jobs as there are free slots,
//! run each handler in its own task (in a `tracing` span with the job's id
//! and type), collect results and write them in batches, extend the leases
//! of running jobs by heartbeat, reap jobs of dead workers, enqueue due cron
//! ticks, and sleep until a notification, a result, the next due job or the
//! poll interval. On shutdown it stops claiming, lets running jobs finish
//! within a grace period and hands back the rest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadgen_core::job::{Completion, CompletionOutcome, Failure, Job, JobId, JobStatus};
use leadgen_store::{ClaimRequest, Store};
use rand::RngExt;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::AbortHandle;
use tracing::Instrument;

use crate::Result;
use crate::clock::Clock;
use crate::cron::{ParsedSchedule, enqueue_due};
use crate::handler::{HandlerError, JobContext, Outcome, Registry};
use crate::source::{JobSource, StoreSource, blocking};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Unique per worker; recorded on the jobs it holds.
    pub worker_id: String,
    /// Jobs running at once in this process.
    pub concurrency: usize,
    /// Exit once nothing this worker can run is queued.
    pub until_idle: bool,
    pub lease: Duration,
    /// Longest sleep when idle (a notification or a due job wakes earlier).
    pub idle_poll: Duration,
    /// Most jobs per claim.
    pub claim_batch: u32,
    /// How long a shutdown waits for running jobs before handing them back.
    pub grace: Duration,
    pub schedules: Vec<ParsedSchedule>,
}

impl WorkerOptions {
    pub fn new(worker_id: impl Into<String>) -> WorkerOptions {
        WorkerOptions {
            worker_id: worker_id.into(),
            concurrency: 16,
            until_idle: false,
            lease: Duration::from_secs(30),
            idle_poll: Duration::from_secs(1),
            claim_batch: 256,
            grace: Duration::from_secs(30),
            schedules: Vec::new(),
        }
    }
}

/// What a worker did, for logs and `--json` output.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WorkerReport {
    pub claimed: u64,
    pub completed: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    pub failed: u64,
    /// Results refused because the job was no longer this worker's.
    pub lost: u64,
    /// Jobs that failed because their effect was already recorded.
    pub duplicate_effects: u64,
    /// Jobs handed back at shutdown.
    pub released: u64,
    pub reaped: u64,
    pub cron_enqueued: u64,
}

/// A handler's result on its way to the store.
struct Finished {
    job: Job,
    result: std::result::Result<Outcome, HandlerError>,
}

/// A worker next to the database.
pub async fn run_worker(
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    opts: WorkerOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<WorkerReport> {
    run_worker_on(
        Arc::new(StoreSource(store)),
        registry,
        clock,
        opts,
        shutdown,
    )
    .await
}

/// The worker loop over any [`JobSource`] (the store, or a server for a
/// remote worker).
pub async fn run_worker_on(
    source: Arc<dyn JobSource>,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    opts: WorkerOptions,
    mut shutdown: watch::Receiver<bool>,
) -> Result<WorkerReport> {
    let mut w = Worker {
        types: registry.types(),
        caps: registry.caps(),
        store: source.store(),
        source: source.clone(),
        registry,
        clock: clock.clone(),
        inflight: Arc::new(Mutex::new(HashMap::new())),
        report: WorkerReport::default(),
        opts,
    };
    tracing::info!(worker = %w.opts.worker_id, types = ?w.types, source = %source.describe(), "worker started");
    let (tx, mut rx) = mpsc::unbounded_channel::<Finished>();
    let wake = Arc::new(Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let listener = w.start_listener(wake.clone(), stop.clone()).await?;
    if listener.is_none() {
        // No notifications (SQLite): new work is only seen by polling.
        w.opts.idle_poll = w.opts.idle_poll.min(Duration::from_millis(100));
    }
    let heartbeat = w.start_heartbeat(stop.clone());

    let result = w.main_loop(&tx, &mut rx, &wake, &mut shutdown).await;
    let drained = match result {
        Ok(()) => w.drain(&mut rx).await,
        Err(e) => Err(e),
    };
    stop.store(true, Ordering::SeqCst);
    heartbeat.abort();
    if let Some(l) = listener {
        let _ = tokio::task::spawn_blocking(move || l.join()).await;
    }
    drained?;
    tracing::info!(worker = %w.opts.worker_id, report = ?w.report, "worker stopped");
    Ok(w.report)
}

struct Worker {
    source: Arc<dyn JobSource>,
    /// `None` on a remote worker.
    store: Option<Arc<dyn Store>>,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    opts: WorkerOptions,
    types: Vec<String>,
    caps: Vec<(String, u32)>,
    inflight: Arc<Mutex<HashMap<JobId, AbortHandle>>>,
    report: WorkerReport,
}

impl Worker {
    fn inflight_len(&self) -> usize {
        self.inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    fn inflight_ids(inflight: &Mutex<HashMap<JobId, AbortHandle>>) -> Vec<JobId> {
        inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// On PostgreSQL, a thread that waits on LISTEN and pokes the loop.
    async fn start_listener(
        &self,
        wake: Arc<Notify>,
        stop: Arc<AtomicBool>,
    ) -> Result<Option<std::thread::JoinHandle<()>>> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let Some(mut wakeup) = blocking(store, |s| s.job_wakeup()).await? else {
            return Ok(None);
        };
        let worker = self.opts.worker_id.clone();
        Ok(Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match wakeup.wait(Duration::from_millis(250)) {
                    Ok(true) => wake.notify_one(),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(%worker, error = %e, "job notifications lost; polling instead");
                        return;
                    }
                }
            }
        })))
    }

    /// Extends the leases of running jobs every third of the lease.
    fn start_heartbeat(&self, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
        let (source, clock, inflight) = (
            self.source.clone(),
            self.clock.clone(),
            self.inflight.clone(),
        );
        let (worker, lease) = (self.opts.worker_id.clone(), self.opts.lease);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(lease / 3);
            tick.tick().await;
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let ids = Worker::inflight_ids(&inflight);
                if ids.is_empty() {
                    continue;
                }
                let now = clock.now_ms();
                let until = now + lease.as_millis() as i64;
                match source.extend(worker.clone(), ids, until, now).await {
                    Ok(n) => tracing::trace!(extended = n, "heartbeat"),
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed; leases may expire"),
                }
            }
        })
    }

    async fn main_loop(
        &mut self,
        tx: &mpsc::UnboundedSender<Finished>,
        rx: &mut mpsc::UnboundedReceiver<Finished>,
        wake: &Notify,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<()> {
        let lease_ms = self.opts.lease.as_millis() as i64;
        let mut next_reap = i64::MIN;
        let mut cron_after = self.clock.now_ms() - 60_000;
        let mut next_cron = i64::MIN;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            self.flush(rx).await?;
            let now = self.clock.now_ms();
            if now >= next_reap {
                let n = self.source.reap(now).await?;
                if n > 0 {
                    tracing::warn!(jobs = n, "re-queued jobs of workers whose lease expired");
                }
                self.report.reaped += n;
                next_reap = now + lease_ms / 2;
            }
            if let Some(store) = self
                .store
                .as_ref()
                .filter(|_| !self.opts.schedules.is_empty())
                && now >= next_cron
            {
                let schedules = self.opts.schedules.clone();
                let after = cron_after;
                let n = blocking(store, move |s| {
                    enqueue_due(s, &schedules, after, now)
                        .map_err(|e| leadgen_store::StoreError::Invalid(e.to_string()))
                })
                .await?;
                self.report.cron_enqueued += n as u64;
                cron_after = now;
                next_cron = now + 1_000;
            }
            let free = self.opts.concurrency.saturating_sub(self.inflight_len());
            let mut claimed = 0;
            if free > 0 {
                let req = ClaimRequest {
                    worker: self.opts.worker_id.clone(),
                    types: Some(self.types.clone()),
                    limit: (free as u32).min(self.opts.claim_batch),
                    lease_ms: self.opts.lease.as_millis() as u64,
                    now,
                    caps: self.caps.clone(),
                };
                let jobs = self.source.claim(req).await?;
                claimed = jobs.len();
                if claimed > 0 {
                    self.start(jobs, tx).await?;
                    if self.inflight_len() < self.opts.concurrency {
                        continue;
                    }
                }
            }
            let mut wait = self.opts.idle_poll;
            if claimed == 0 && self.inflight_len() == 0 {
                let types = self.types.clone();
                let next = self.source.next_claimable(types, now).await?;
                match next {
                    None if self.opts.until_idle => return Ok(()),
                    None => {}
                    Some(t) if t <= now => {
                        // Due but not claimed: an expired lease to reap, or
                        // a full cap. Reap at once and poll gently.
                        next_reap = now;
                        wait = wait.min(Duration::from_millis(50));
                    }
                    Some(t) => wait = wait.min(Duration::from_millis((t - now) as u64)),
                }
            }
            tokio::select! {
                got = rx.recv() => {
                    if let Some(f) = got {
                        self.write(vec![f]).await?;
                    }
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Marks claimed jobs processing and spawns their handlers.
    async fn start(&mut self, jobs: Vec<Job>, tx: &mpsc::UnboundedSender<Finished>) -> Result<()> {
        self.report.claimed += jobs.len() as u64;
        let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
        let (worker, now) = (self.opts.worker_id.clone(), self.clock.now_ms());
        self.source.start(worker, ids, now).await?;
        for mut job in jobs {
            job.status = JobStatus::Processing;
            let Some(spec) = self.registry.get(&job.job_type).cloned() else {
                // Claimed by type, so this cannot happen; fail loudly if it does.
                let _ = tx.send(Finished {
                    result: Err(HandlerError::Permanent(format!(
                        "no handler for job type {:?}",
                        job.job_type
                    ))),
                    job,
                });
                continue;
            };
            let span = tracing::info_span!("job", id = job.id, job_type = %job.job_type, attempt = job.attempts);
            let ctx = JobContext {
                job: job.clone(),
                store: self.store.clone(),
                clock: self.clock.clone(),
            };
            let tx = tx.clone();
            let id = job.id;
            let mut guard = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            let handle = tokio::spawn(
                async move {
                    if let Some(rate) = &spec.rate
                        && let Err(e) = ctx.rate_limit(rate).await
                    {
                        let _ = tx.send(Finished {
                            job,
                            result: Err(e),
                        });
                        return;
                    }
                    let run = tokio::spawn(
                        tokio::time::timeout(spec.timeout, (spec.handler)(ctx)).in_current_span(),
                    );
                    let result = match run.await {
                        Ok(Ok(r)) => r,
                        Ok(Err(_)) => Err(HandlerError::retry(format!(
                            "timed out after {:?}",
                            spec.timeout
                        ))),
                        Err(e) if e.is_panic() => Err(HandlerError::retry(format!(
                            "handler panicked: {}",
                            panic_message(e.into_panic())
                        ))),
                        Err(e) => Err(HandlerError::retry(format!("handler cancelled: {e}"))),
                    };
                    match &result {
                        Ok(_) => tracing::debug!("job done"),
                        Err(e) => tracing::warn!(error = %e, "job attempt failed"),
                    }
                    let _ = tx.send(Finished { job, result });
                }
                .instrument(span),
            );
            guard.insert(id, handle.abort_handle());
        }
        Ok(())
    }

    /// Writes every result that is ready.
    async fn flush(&mut self, rx: &mut mpsc::UnboundedReceiver<Finished>) -> Result<()> {
        let mut ready = Vec::new();
        while let Ok(f) = rx.try_recv() {
            ready.push(f);
        }
        self.write(ready).await
    }

    async fn write(&mut self, mut ready: Vec<Finished>) -> Result<()> {
        if ready.is_empty() {
            return Ok(());
        }
        // More may have arrived since the caller looked.
        let now = self.clock.now_ms();
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for f in ready.drain(..) {
            match f.result {
                Ok(o) => done.push(Completion {
                    id: f.job.id,
                    result: o.result.to_string(),
                    effects: o.effects,
                    delta: o.delta,
                    follow_ups: o.follow_ups,
                }),
                Err(e) => {
                    let retry_at = match (&e, self.registry.get(&f.job.job_type)) {
                        (HandlerError::Retryable { retry_after, .. }, Some(spec)) => {
                            let draw = rand::rng().random::<u64>();
                            Some(spec.backoff.retry_at(
                                now,
                                f.job.attempts,
                                draw,
                                retry_after.map(|d| d.as_millis() as u64),
                            ))
                        }
                        _ => None,
                    };
                    failed.push(Failure {
                        id: f.job.id,
                        message: e.to_string(),
                        retry_at,
                    });
                }
            }
        }
        let worker = self.opts.worker_id.clone();
        let ids: Vec<JobId> = done
            .iter()
            .map(|c| c.id)
            .chain(failed.iter().map(|f| f.id))
            .collect();
        if !done.is_empty() {
            let outcomes = self.source.complete(worker.clone(), done, now).await?;
            for o in outcomes {
                match o {
                    CompletionOutcome::Completed => self.report.completed += 1,
                    CompletionOutcome::NotOwned => self.report.lost += 1,
                    CompletionOutcome::DuplicateEffect { kind, key, by } => {
                        tracing::error!(%kind, %key, by, "effect already recorded; job failed instead of doubling it");
                        self.report.duplicate_effects += 1;
                    }
                    CompletionOutcome::Rejected { message } => {
                        tracing::warn!(%message, "result refused; the job failed");
                        self.report.failed += 1;
                    }
                }
            }
        }
        if !failed.is_empty() {
            let statuses = self.source.fail(worker.clone(), failed, now).await?;
            for st in statuses {
                match st {
                    Some(JobStatus::Pending) => self.report.retried += 1,
                    Some(_) => self.report.failed += 1,
                    None => self.report.lost += 1,
                }
            }
        }
        let mut guard = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            guard.remove(&id);
        }
        Ok(())
    }

    /// Shutdown: wait for running jobs up to the grace period, then hand the
    /// rest back.
    async fn drain(&mut self, rx: &mut mpsc::UnboundedReceiver<Finished>) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.opts.grace;
        while self.inflight_len() > 0 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(f)) => {
                    let mut batch = vec![f];
                    while let Ok(f) = rx.try_recv() {
                        batch.push(f);
                    }
                    self.write(batch).await?;
                }
                Ok(None) | Err(_) => break,
            }
        }
        let left: Vec<(JobId, AbortHandle)> = self
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        let ids: Vec<JobId> = left
            .iter()
            .map(|(id, h)| {
                h.abort();
                *id
            })
            .collect();
        let (worker, now) = (self.opts.worker_id.clone(), self.clock.now_ms());
        let n = self.source.release(worker, ids, now).await?;
        tracing::warn!(jobs = n, "handed back running jobs at shutdown");
        self.report.released += n;
        Ok(())
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}
