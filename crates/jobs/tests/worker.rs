//! The worker loop against real stores (SQLite and a throw-away PostgreSQL):
//! draining, retries, panics, timeouts, pipeline follow-ups, graceful
//! shutdown and cron ticks enqueued once by concurrent schedulers.

use std::sync::Arc;
use std::time::Duration;

use leadgen_core::job::{Backoff, JobStatus, NewJob};
use leadgen_jobs::cron::{ParsedSchedule, Schedule, enqueue_due};
use leadgen_jobs::{
    Clock, HandlerError, HandlerSpec, JobContext, Outcome, Registry, SystemClock, WorkerOptions,
    noop, run_worker,
};
use leadgen_store::{JobFilter, Store, testing};
use tempfile::TempDir;
use tokio::sync::watch;

const WS: i64 = 1;

struct Harness {
    store: Arc<dyn Store>,
    url: String,
    _dir: Option<TempDir>,
}

impl Harness {
    fn sqlite() -> Harness {
        let (dir, store) = testing::sqlite_store();
        Harness {
            url: testing::sqlite_path(dir.path()).display().to_string(),
            store: Arc::new(store),
            _dir: Some(dir),
        }
    }

    fn postgres() -> Option<Harness> {
        let url = testing::pg_url()?;
        Some(Harness {
            store: Arc::from(leadgen_store::open(&url).unwrap()),
            url,
            _dir: None,
        })
    }

    fn other(&self) -> Arc<dyn Store> {
        bl(|| Arc::from(leadgen_store::open(&self.url).unwrap()))
    }
}

/// Runs blocking store calls from async test code: the synchronous
/// PostgreSQL client may not block a runtime thread.
fn bl<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

macro_rules! worker_suite {
    ($($t:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $t() { let h = super::bl(super::Harness::sqlite); super::$t(&h).await; super::bl(move || drop(h)); } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $t() { let Some(h) = super::bl(super::Harness::postgres) else { return }; super::$t(&h).await; super::bl(move || drop(h)); } )*
        }
    };
}

worker_suite![
    drains_until_idle_with_every_effect_once,
    retries_with_backoff_then_succeeds,
    panics_and_timeouts_are_retryable_permanent_errors_are_not,
    finished_stage_enqueues_the_next,
    shutdown_hands_back_running_jobs,
    three_schedulers_enqueue_a_tick_once,
    idle_worker_wakes_for_new_work,
    rate_limited_type_waits_for_tokens,
];

fn noop_job(payload: &str) -> NewJob {
    NewJob::new(WS, "noop", payload)
}

fn registry_with(specs: Vec<HandlerSpec>) -> Arc<Registry> {
    let mut r = Registry::new();
    r.register(noop::spec());
    for s in specs {
        r.register(s);
    }
    Arc::new(r)
}

fn opts(id: &str) -> WorkerOptions {
    let mut o = WorkerOptions::new(id);
    o.until_idle = true;
    o.idle_poll = Duration::from_millis(50);
    o
}

async fn run(h: &Harness, registry: Arc<Registry>, o: WorkerOptions) -> leadgen_jobs::WorkerReport {
    let (_tx, rx) = watch::channel(false);
    tokio::time::timeout(
        Duration::from_secs(60),
        run_worker(h.store.clone(), registry, Arc::new(SystemClock), o, rx),
    )
    .await
    .expect("worker finished in time")
    .expect("worker ran")
}

fn statuses(h: &Harness) -> Vec<(JobStatus, u64)> {
    let now = SystemClock.now_ms();
    bl(|| {
        h.store
            .queue_stats(WS, now)
            .unwrap()
            .by_status
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect()
    })
}

async fn drains_until_idle_with_every_effect_once(h: &Harness) {
    let n = 500;
    bl(|| {
        h.store
            .enqueue(
                &vec![noop_job(r#"{"effect":"seen"}"#); n],
                SystemClock.now_ms(),
            )
            .unwrap()
    });
    let report = run(h, registry_with(vec![]), opts("w1")).await;
    assert_eq!(report.completed, n as u64);
    assert_eq!(report.claimed, n as u64);
    assert_eq!(bl(|| h.store.effect_count(WS, "seen").unwrap()), n as u64);
    assert_eq!(statuses(h), vec![(JobStatus::Completed, n as u64)]);
}

async fn retries_with_backoff_then_succeeds(h: &Harness) {
    let mut spec = noop::spec();
    spec.backoff = Backoff {
        base_ms: 20,
        cap_ms: 100,
    };
    bl(|| {
        h.store
            .enqueue(&[noop_job(r#"{"fail_times":2}"#)], SystemClock.now_ms())
            .unwrap()
    });
    let report = run(h, registry_with(vec![spec]), opts("w1")).await;
    assert_eq!((report.retried, report.completed), (2, 1));
    let job = bl(|| {
        h.store
            .list_jobs(WS, &JobFilter::default())
            .unwrap()
            .remove(0)
    });
    assert_eq!((job.status, job.attempts), (JobStatus::Completed, 3));
    assert_eq!(job.errors.len(), 2);
    // The retry after attempt 1 waits 10..=20 ms (half to all of the base).
    let gap = job.errors[1].at - job.errors[0].at;
    assert!(gap >= 10, "second attempt waited its backoff ({gap} ms)");
}

async fn panics_and_timeouts_are_retryable_permanent_errors_are_not(h: &Harness) {
    let mut panicky = HandlerSpec::new("panicky", |ctx: JobContext| async move {
        if ctx.job.attempts == 1 {
            panic!("boom on attempt one");
        }
        Ok(Outcome::new(serde_json::json!("second time lucky")))
    });
    panicky.backoff = Backoff {
        base_ms: 1,
        cap_ms: 1,
    };
    let mut slow = HandlerSpec::new("slow", |_ctx: JobContext| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(Outcome::default())
    });
    slow.timeout = Duration::from_millis(50);
    slow.max_attempts = 2;
    slow.backoff = Backoff {
        base_ms: 1,
        cap_ms: 1,
    };
    let broken = HandlerSpec::new("broken", |_ctx: JobContext| async move {
        Err::<Outcome, _>(HandlerError::Permanent(
            "HTTP 401: the API key is wrong".into(),
        ))
    });
    let registry = registry_with(vec![panicky, slow, broken]);
    let now = SystemClock.now_ms();
    let mut jobs = vec![
        NewJob::new(WS, "panicky", "{}"),
        NewJob::new(WS, "slow", "{}"),
        NewJob::new(WS, "broken", "{}"),
    ];
    jobs[1].max_attempts = 2;
    let ids: Vec<i64> = bl(|| {
        h.store
            .enqueue(&jobs, now)
            .unwrap()
            .into_iter()
            .flatten()
            .collect()
    });
    run(h, registry, opts("w1")).await;
    let get = |id| bl(|| h.store.get_job(WS, id).unwrap().unwrap());
    let p = get(ids[0]);
    assert_eq!((p.status, p.attempts), (JobStatus::Completed, 2));
    assert!(
        p.errors[0]
            .message
            .contains("panicked: boom on attempt one"),
        "{:?}",
        p.errors
    );
    let s = get(ids[1]);
    assert_eq!((s.status, s.attempts), (JobStatus::Failed, 2));
    assert!(s.errors.iter().all(|e| e.message.contains("timed out")));
    let b = get(ids[2]);
    assert_eq!(
        (b.status, b.attempts),
        (JobStatus::Failed, 1),
        "no retry of a permanent error"
    );
    assert_eq!(b.errors[0].message, "HTTP 401: the API key is wrong");
}

async fn finished_stage_enqueues_the_next(h: &Harness) {
    let discover = HandlerSpec::new("discover_company", |ctx: JobContext| async move {
        let mut out = Outcome::new(serde_json::json!({"domain": "acme.com"}));
        out.delta.companies_found = 1;
        let mut next = NewJob::new(
            ctx.job.workspace,
            "enrich_company",
            r#"{"domain":"acme.com"}"#,
        );
        next.run = ctx.job.run;
        Ok(out.then(next))
    });
    let enrich = HandlerSpec::new("enrich_company", |_ctx: JobContext| async move {
        let mut out = Outcome::new(serde_json::json!({"contacts": 2}));
        out.delta.leads_found = 2;
        Ok(out)
    });
    let now = SystemClock.now_ms();
    let run_id = bl(|| h.store.create_run(WS, "discovery", "acme", now).unwrap());
    let mut first = NewJob::new(WS, "discover_company", "{}");
    first.run = Some(run_id);
    bl(|| h.store.enqueue(&[first], now).unwrap());
    run(h, registry_with(vec![discover, enrich]), opts("w1")).await;
    let r = bl(|| h.store.get_run(WS, run_id).unwrap().unwrap());
    assert_eq!(
        (
            r.total_jobs,
            r.completed_jobs,
            r.companies_found,
            r.leads_found
        ),
        (2, 2, 1, 2)
    );
    assert_eq!(r.status, leadgen_core::job::RunStatus::Completed);
}

async fn shutdown_hands_back_running_jobs(h: &Harness) {
    bl(|| {
        h.store
            .enqueue(
                &vec![noop_job(r#"{"sleep_ms":20000}"#); 3],
                SystemClock.now_ms(),
            )
            .unwrap()
    });
    let (tx, rx) = watch::channel(false);
    let mut o = opts("w1");
    o.until_idle = false;
    o.concurrency = 2;
    o.grace = Duration::from_millis(100);
    let worker = tokio::spawn(run_worker(
        h.store.clone(),
        registry_with(vec![]),
        Arc::new(SystemClock),
        o,
        rx,
    ));
    // Wait until both slots are busy.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !statuses(h).contains(&(JobStatus::Processing, 2)) {
        assert!(
            std::time::Instant::now() < deadline,
            "jobs never started: {:?}",
            statuses(h)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(true).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("shutdown within the grace period")
        .unwrap()
        .unwrap();
    assert_eq!(report.released, 2);
    assert_eq!(statuses(h), vec![(JobStatus::Pending, 3)]);
    let jobs = bl(|| h.store.list_jobs(WS, &JobFilter::default()).unwrap());
    assert!(jobs.iter().all(|j| j.attempts == 0 && j.worker.is_none()));
}

async fn three_schedulers_enqueue_a_tick_once(h: &Harness) {
    let sched = ParsedSchedule::parse(Schedule {
        name: "every_minute".into(),
        cron: "* * * * *".into(),
        timezone: "Europe/Paris".into(),
        job_type: "noop".into(),
        payload: "{}".into(),
        workspace: WS,
    })
    .unwrap();
    let start = 1_790_000_000_000 - 1_790_000_000_000 % 60_000;
    let stores: Vec<Arc<dyn Store>> = (0..3).map(|_| h.other()).collect();
    // Three schedulers, each looking at overlapping windows of ten minutes,
    // all at once.
    let handles: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let sched = sched.clone();
            std::thread::spawn(move || {
                let mut total = 0;
                let mut after = start - 1 - i as i64 * 7_000;
                for step in 1..=20 {
                    let now = start + step * 30_000 + i as i64 * 1_000;
                    total += enqueue_due(&*s, std::slice::from_ref(&sched), after, now).unwrap();
                    after = now;
                }
                total
            })
        })
        .collect();
    let enqueued: usize = handles.into_iter().map(|t| t.join().unwrap()).sum();
    let jobs = bl(|| {
        h.store
            .list_jobs(
                WS,
                &JobFilter {
                    limit: 1000,
                    ..JobFilter::default()
                },
            )
            .unwrap()
    });
    // Ticks at start, start+1min, ..., start+10min: 11, each once.
    assert_eq!(jobs.len(), 11);
    assert_eq!(
        enqueued, 11,
        "each tick counted as new by exactly one scheduler"
    );
    let mut keys: Vec<String> = jobs.iter().filter_map(|j| j.unique_key.clone()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 11);
}

async fn idle_worker_wakes_for_new_work(h: &Harness) {
    let (tx, rx) = watch::channel(false);
    let mut o = opts("w1");
    o.until_idle = false;
    // Long poll: on PostgreSQL the NOTIFY wakes the worker, on SQLite the
    // poll does; either way the job must run.
    o.idle_poll = Duration::from_millis(200);
    let worker = tokio::spawn(run_worker(
        h.store.clone(),
        registry_with(vec![]),
        Arc::new(SystemClock),
        o,
        rx,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other = h.other();
    bl(|| {
        other
            .enqueue(&[noop_job("{}")], SystemClock.now_ms())
            .unwrap()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while statuses(h) != vec![(JobStatus::Completed, 1)] {
        assert!(std::time::Instant::now() < deadline, "{:?}", statuses(h));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.send(true).unwrap();
    let report = worker.await.unwrap().unwrap();
    assert_eq!(report.completed, 1);
    bl(move || drop(other));
}

async fn rate_limited_type_waits_for_tokens(h: &Harness) {
    // 20 per second with no burst: ten jobs cannot finish in under 450 ms
    // however many slots the worker has.
    let mut limited = HandlerSpec::new("push_to_instantly", |_ctx: JobContext| async move {
        Ok(Outcome::default())
    });
    limited.rate = Some(leadgen_jobs::RateLimit {
        bucket: "instantly".into(),
        per_second: 20.0,
        burst: 1.0,
    });
    let jobs = vec![NewJob::new(WS, "push_to_instantly", "{}"); 10];
    bl(|| h.store.enqueue(&jobs, SystemClock.now_ms()).unwrap());
    let started = std::time::Instant::now();
    let report = run(h, registry_with(vec![limited]), opts("w1")).await;
    assert_eq!(report.completed, 10);
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "10 jobs at 20/s took only {:?}",
        started.elapsed()
    );
}
