//! The pipeline's job handlers and the queue services the CLI and server
//! call: which types this binary runs, worker options from config, and the
//! queue benchmark.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leadgen_core::job::{JobStatus, NewJob, types};
use leadgen_jobs::{
    Clock, HandlerError, HandlerSpec, JobContext, Outcome, Registry, SystemClock, WorkerOptions,
    WorkerReport, noop, run_worker,
};
use leadgen_store::Store;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::Config;
use crate::delivery::notify::{run_completed_spec, with_run_notice};

/// Every job type this binary has a handler for.
pub fn registry() -> Registry {
    use crate::settings::with_workspace_settings as per_ws;
    let mut r = Registry::new();
    r.register(noop::spec());
    r.register(analytics_spec());
    r.register(crate::verify_job::spec());
    r.register(per_ws(|env| {
        with_run_notice(crate::discovery::maps::maps_spec_with(env))
    }));
    r.register(per_ws(|env| {
        with_run_notice(crate::discovery::ads::meta_ads_spec_with(env))
    }));
    r.register(per_ws(run_completed_spec));
    r.register(per_ws(crate::intent::run_spec_with));
    r.register(per_ws(crate::campaigns::push_spec_with));
    r.register(per_ws(crate::campaigns::crm_spec_with));
    r.register(per_ws(crate::campaigns::analytics_spec_with));
    for spec in crate::enrich_job::specs().into_iter().flatten() {
        r.register(spec);
    }
    r.register(per_ws(|env| {
        with_run_notice(crate::discovery::google_ads::google_ads_spec_with(env))
    }));
    r.register(per_ws(|env| {
        with_run_notice(crate::discovery::linkedin_ads::linkedin_ads_spec_with(env))
    }));
    r
}

/// Worker options from config and flags.
pub fn worker_options(
    config: &Config,
    worker_id: String,
    concurrency: usize,
    until_idle: bool,
) -> WorkerOptions {
    let mut o = WorkerOptions::new(worker_id);
    o.concurrency = concurrency.max(1);
    o.until_idle = until_idle;
    o.lease = config.lease;
    o.schedules = config.schedules.clone();
    o
}

/// `host-pid`: unique per process, readable in `jobs list`.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "worker".into());
    format!("{host}-{}", std::process::id())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalyticsPayload {
    #[serde(default = "daily")]
    period: String,
}

fn daily() -> String {
    "daily".into()
}

/// `generate_analytics`: a snapshot of the workspace's lead and queue
/// counts, kept as the job's result, one per period and day.
fn analytics_spec() -> HandlerSpec {
    let mut spec = HandlerSpec::new(types::GENERATE_ANALYTICS, |ctx: JobContext| async move {
        let p: AnalyticsPayload = ctx.payload()?;
        if !["daily", "weekly"].contains(&p.period.as_str()) {
            return Err(HandlerError::Permanent(format!(
                "analytics period {:?} is not daily or weekly",
                p.period
            )));
        }
        let (store, ws, now) = (ctx.store()?.clone(), ctx.job.workspace, ctx.clock.now_ms());
        let (leads, queue) = tokio::task::spawn_blocking(move || {
            Ok::<_, leadgen_store::StoreError>((store.stats(ws)?, store.queue_stats(ws, now)?))
        })
        .await
        .map_err(|e| HandlerError::retry(e.to_string()))?
        .map_err(|e| HandlerError::retry(e.to_string()))?;
        let day = ctx.job.run_at.div_euclid(86_400_000);
        let result = serde_json::json!({
            "period": p.period,
            "at": ctx.job.run_at,
            "leads": leads,
            "jobs": queue_json(&queue),
        });
        Ok(Outcome::new(result).effect("analytics_snapshot", format!("{}:{day}", p.period)))
    });
    spec.max_attempts = 3;
    spec
}

/// `jobs stats --json`: `{"by_status": {...}, "by_type": {...}, ...}`.
pub fn queue_json(s: &leadgen_store::QueueStats) -> serde_json::Value {
    let by_status: serde_json::Map<String, serde_json::Value> = s
        .by_status
        .iter()
        .map(|(st, n)| (st.as_str().to_owned(), (*n).into()))
        .collect();
    let mut by_type = serde_json::Map::new();
    for (t, st, n) in &s.by_type {
        let entry = by_type
            .entry(t.clone())
            .or_insert_with(|| serde_json::json!({}));
        entry[st.as_str()] = (*n).into();
    }
    serde_json::json!({
        "by_status": by_status,
        "by_type": by_type,
        "oldest_pending_age_ms": s.oldest_pending_age_ms,
        "completed_last_minute": s.completed_last_minute,
        "throughput_per_s": s.completed_last_minute as f64 / 60.0,
    })
}

/// Runs a worker until `shutdown` or, with `until_idle`, until nothing is
/// left. The store is opened by the caller outside the runtime.
pub async fn work(
    store: Arc<dyn Store>,
    opts: WorkerOptions,
    types: Option<Vec<String>>,
    shutdown: watch::Receiver<bool>,
) -> Result<WorkerReport, QueueError> {
    let reg = restrict(registry(), types)?;
    Ok(run_worker(store, Arc::new(reg), Arc::new(SystemClock), opts, shutdown).await?)
}

/// `reg` keeping only `types` (a worker's `--types`), when given.
pub fn restrict(mut reg: Registry, types: Option<Vec<String>>) -> Result<Registry, QueueError> {
    if let Some(t) = types {
        let known = reg.types();
        reg.restrict(&t)
            .map_err(|unknown| QueueError::UnknownTypes { unknown, known })?;
    }
    Ok(reg)
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("no handler for job type(s) {unknown:?}; this binary runs {known:?}")]
    UnknownTypes {
        unknown: Vec<String>,
        known: Vec<String>,
    },
    #[error(transparent)]
    Jobs(#[from] leadgen_jobs::JobsError),
    #[error(transparent)]
    Store(#[from] leadgen_store::StoreError),
    #[error("a queue task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("starting the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// `leadgen jobs bench` figures.
#[derive(Debug, Clone, Serialize)]
pub struct QueueBench {
    pub backend: String,
    pub jobs: u64,
    pub workers: usize,
    pub concurrency: usize,
    pub enqueue_ms: u64,
    pub enqueue_per_s: f64,
    pub elapsed_ms: u64,
    pub jobs_per_s: f64,
    /// Idle-worker pickup latency: enqueue to completion of single jobs.
    pub latency_ms_median: Option<f64>,
    pub latency_ms_p95: Option<f64>,
}

/// Enqueues `jobs` no-op jobs in bulk, then drains them with `workers`
/// workers (one store connection each) and times both; optionally measures
/// the pickup latency of single jobs while workers idle.
pub fn bench_queue(
    url: &str,
    jobs: u64,
    workers: usize,
    concurrency: usize,
    latency_probes: usize,
) -> Result<QueueBench, QueueError> {
    let open =
        || -> Result<Arc<dyn Store>, QueueError> { Ok(Arc::from(leadgen_store::open(url)?)) };
    let store = open()?;
    let clock = SystemClock;
    let job = NewJob::new(leadgen_core::DEFAULT_WORKSPACE, types::NOOP, "{}");
    let started = Instant::now();
    let mut left = jobs;
    while left > 0 {
        let n = left.min(50_000);
        store.enqueue(&vec![job.clone(); n as usize], clock.now_ms())?;
        left -= n;
    }
    let enqueue_ms = started.elapsed().as_millis() as u64;
    let stores: Vec<Arc<dyn Store>> = (0..workers.max(1))
        .map(|_| open())
        .collect::<Result<_, _>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let reports: Vec<WorkerReport> = rt.block_on(async {
        let (_tx, rx) = watch::channel(false);
        let mut handles = Vec::new();
        for (i, s) in stores.iter().enumerate() {
            let mut o = WorkerOptions::new(format!("bench-{}-{i}", std::process::id()));
            o.concurrency = concurrency.max(1);
            o.until_idle = true;
            o.claim_batch = concurrency.max(1) as u32;
            handles.push(tokio::spawn(work(s.clone(), o, None, rx.clone())));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await??);
        }
        Ok::<_, QueueError>(out)
    })?;
    let elapsed = started.elapsed();
    let done: u64 = reports.iter().map(|r| r.completed).sum();
    let (median, p95) = if latency_probes > 0 {
        let lat = rt.block_on(probe_latency(stores[0].clone(), open()?, latency_probes))?;
        (
            Some(crate::bench::percentile(&lat, 0.5)),
            Some(crate::bench::percentile(&lat, 0.95)),
        )
    } else {
        (None, None)
    };
    drop(rt);
    Ok(QueueBench {
        backend: store.backend().to_owned(),
        jobs: done,
        workers: workers.max(1),
        concurrency,
        enqueue_ms,
        enqueue_per_s: jobs as f64 / (enqueue_ms.max(1) as f64 / 1000.0),
        elapsed_ms: elapsed.as_millis() as u64,
        jobs_per_s: done as f64 / elapsed.as_secs_f64().max(1e-9),
        latency_ms_median: median,
        latency_ms_p95: p95,
    })
}

/// With one idle worker running, enqueues single jobs from another
/// connection and measures enqueue → completed (ms), sorted.
async fn probe_latency(
    worker_store: Arc<dyn Store>,
    client: Arc<dyn Store>,
    probes: usize,
) -> Result<Vec<f64>, QueueError> {
    let (tx, rx) = watch::channel(false);
    let mut o = WorkerOptions::new(format!("probe-{}", std::process::id()));
    o.idle_poll = Duration::from_secs(1);
    let worker = tokio::spawn(work(worker_store, o, None, rx));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut lat = Vec::with_capacity(probes);
    for _ in 0..probes {
        let c = client.clone();
        let lap = tokio::task::spawn_blocking(move || -> Result<f64, QueueError> {
            let job = NewJob::new(leadgen_core::DEFAULT_WORKSPACE, types::NOOP, "{}");
            let t = Instant::now();
            let id = c.enqueue(&[job], SystemClock.now_ms())?[0].expect("no unique key");
            loop {
                let j = c.get_job(leadgen_core::DEFAULT_WORKSPACE, id)?;
                if j.is_some_and(|j| j.status == JobStatus::Completed) {
                    return Ok(t.elapsed().as_secs_f64() * 1000.0);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        })
        .await??;
        lat.push(lap);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tx.send(true).ok();
    worker.await??;
    tokio::task::spawn_blocking(move || drop(client)).await.ok();
    lat.sort_by(f64::total_cmp);
    Ok(lat)
}
