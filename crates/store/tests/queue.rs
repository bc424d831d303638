//! The job queue's contract, written once and run on SQLite and PostgreSQL.
//! Times are passed in, so leases and backoff are tested with an injected
//! clock rather than by sleeping.

use std::collections::HashSet;
use std::time::Duration;

use leadgen_core::job::{
    Backoff, Completion, CompletionOutcome, Effect, Failure, JobStatus, NewJob, RunDelta, RunStatus,
};
use leadgen_store::{ClaimRequest, JobFilter, Store, testing};
use tempfile::TempDir;

const WS: i64 = 1;
const T0: i64 = 1_700_000_000_000;
const LEASE: u64 = 30_000;

/// A store under test and a way to open more connections to the same data.
struct Harness {
    store: Box<dyn Store>,
    url: String,
    _dir: Option<TempDir>,
}

impl Harness {
    fn sqlite() -> Harness {
        let (dir, store) = testing::sqlite_store();
        Harness {
            url: testing::sqlite_path(dir.path()).display().to_string(),
            store: Box::new(store),
            _dir: Some(dir),
        }
    }

    fn postgres() -> Option<Harness> {
        let url = testing::pg_url()?;
        Some(Harness {
            store: leadgen_store::open(&url).expect("connecting to the test database"),
            url,
            _dir: None,
        })
    }

    /// Another connection, as another worker process would have.
    fn other(&self) -> Box<dyn Store> {
        leadgen_store::open(&self.url).expect("opening a second connection")
    }
}

macro_rules! queue_suite {
    ($($t:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $t() { super::$t(&super::Harness::sqlite()); } )*
        }
        mod postgres {
            $( #[test] fn $t() { let Some(h) = super::Harness::postgres() else { return }; super::$t(&h); } )*
        }
    };
}

queue_suite![
    claims_by_priority_then_age,
    unique_key_makes_enqueue_a_no_op,
    delayed_jobs_wait_for_run_at,
    backoff_with_injected_clock,
    failures_keep_history_until_out_of_attempts,
    permanent_failure_fails_at_once_and_can_be_retried,
    expired_lease_is_rerun_once,
    release_hands_back_without_an_attempt,
    paused_run_holds_its_jobs,
    run_counters_and_completion,
    effects_are_recorded_once,
    follow_ups_are_enqueued_with_the_completion,
    per_type_caps_hold_across_workers,
    concurrent_claimers_take_disjoint_jobs,
    cancel_job_and_cancel_run,
    token_bucket_is_shared,
    stats_count_by_status_and_type,
    next_claimable_reports_due_and_delayed_work,
    wakeup_on_enqueue,
    held_jobs_are_the_worker_s_running_jobs_in_any_workspace,
];

fn job(t: &str) -> NewJob {
    NewJob::new(WS, t, r#"{"n":1}"#)
}

fn claim(store: &dyn Store, worker: &str, limit: u32, now: i64) -> Vec<leadgen_core::job::Job> {
    store
        .claim(&ClaimRequest {
            worker: worker.into(),
            types: None,
            limit,
            lease_ms: LEASE,
            now,
            caps: vec![],
        })
        .unwrap()
}

fn done(id: i64) -> Completion {
    Completion {
        id,
        result: r#"{"ok":true}"#.into(),
        effects: vec![],
        delta: RunDelta::default(),
        follow_ups: vec![],
    }
}

fn ids(jobs: &[leadgen_core::job::Job]) -> Vec<i64> {
    jobs.iter().map(|j| j.id).collect()
}

fn claims_by_priority_then_age(h: &Harness) {
    let s = &*h.store;
    let mut low = job("noop");
    low.priority = 2;
    let mut high = job("noop");
    high.priority = 9;
    let got = s
        .enqueue(
            &[low.clone(), job("noop"), high.clone(), job("noop"), high],
            T0,
        )
        .unwrap();
    let id: Vec<i64> = got.into_iter().map(Option::unwrap).collect();
    let first = claim(s, "w1", 3, T0);
    assert_eq!(
        ids(&first),
        vec![id[2], id[4], id[1]],
        "priority 9 twice, then the oldest 5"
    );
    assert!(
        first
            .iter()
            .all(|j| j.status == JobStatus::Claimed && j.attempts == 1)
    );
    assert_eq!(first[0].worker.as_deref(), Some("w1"));
    assert_eq!(first[0].lease_until, Some(T0 + LEASE as i64));
    assert_eq!(ids(&claim(s, "w2", 10, T0)), vec![id[3], id[0]]);
    assert!(claim(s, "w3", 10, T0).is_empty());
}

fn unique_key_makes_enqueue_a_no_op(h: &Harness) {
    let s = &*h.store;
    let mut a = job("enrich_lead");
    a.unique_key = Some("enrich:42".into());
    let first = s.enqueue(&[a.clone()], T0).unwrap();
    assert!(first[0].is_some());
    // Again, and twice in one batch: no-ops, even after the first completed.
    let again = s.enqueue(&[a.clone(), job("noop"), a.clone()], T0).unwrap();
    assert_eq!(again[0], None);
    assert!(again[1].is_some());
    assert_eq!(again[2], None);
    let c = claim(s, "w", 10, T0);
    assert_eq!(c.len(), 2);
    s.complete_jobs("w", &[done(c[0].id), done(c[1].id)], T0)
        .unwrap();
    assert_eq!(s.enqueue(&[a.clone()], T0 + 1).unwrap(), vec![None]);
    // The same key in another workspace is another job.
    let mut other = a;
    other.workspace = WS + 1;
    assert!(s.enqueue(&[other], T0).unwrap()[0].is_some());
}

fn delayed_jobs_wait_for_run_at(h: &Harness) {
    let s = &*h.store;
    let mut later = job("noop");
    later.run_at = Some(T0 + 5_000);
    s.enqueue(&[later], T0).unwrap();
    assert!(claim(s, "w", 10, T0 + 4_999).is_empty());
    assert_eq!(claim(s, "w", 10, T0 + 5_000).len(), 1);
}

fn backoff_with_injected_clock(h: &Harness) {
    let s = &*h.store;
    let backoff = Backoff {
        base_ms: 1_000,
        cap_ms: 60_000,
    };
    s.enqueue(&[job("noop")], T0).unwrap();
    let mut now = T0;
    // Three failed attempts; each retry becomes claimable exactly at the
    // backoff's time and not a millisecond earlier.
    for attempt in 1..=3u32 {
        let c = claim(s, "w", 1, now);
        assert_eq!(c.len(), 1, "attempt {attempt}");
        assert_eq!(c[0].attempts, attempt);
        let at = backoff.retry_at(now, attempt, 7, None);
        let expected = now + backoff.delay_ms(attempt, 7) as i64;
        assert_eq!(at, expected);
        let st = s
            .fail_jobs(
                "w",
                &[Failure {
                    id: c[0].id,
                    message: format!("HTTP 503 on attempt {attempt}"),
                    retry_at: Some(at),
                }],
                now,
            )
            .unwrap();
        assert_eq!(st, vec![Some(JobStatus::Pending)]);
        assert!(
            claim(s, "w", 1, at - 1).is_empty(),
            "attempt {attempt} too early"
        );
        now = at;
    }
    // Delays grew: 500..1000, 1000..2000, 2000..4000 ms.
    let j = s
        .list_jobs(WS, &JobFilter::default())
        .unwrap()
        .pop()
        .unwrap();
    let gaps: Vec<i64> = j.errors.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= 500 && gaps[0] <= 1_000, "{gaps:?}");
    assert!(gaps[1] >= 1_000 && gaps[1] <= 2_000, "{gaps:?}");
    // A Retry-After longer than the backoff wins.
    let c = claim(s, "w", 1, now);
    let at = backoff.retry_at(now, 4, 0, Some(120_000));
    assert_eq!(at, now + 120_000);
    s.fail_jobs(
        "w",
        &[Failure {
            id: c[0].id,
            message: "429".into(),
            retry_at: Some(at),
        }],
        now,
    )
    .unwrap();
    assert!(claim(s, "w", 1, now + 119_999).is_empty());
    assert_eq!(claim(s, "w", 1, now + 120_000).len(), 1);
}

fn failures_keep_history_until_out_of_attempts(h: &Harness) {
    let s = &*h.store;
    let mut j = job("validate_email");
    j.max_attempts = 2;
    let id = s.enqueue(&[j], T0).unwrap()[0].unwrap();
    for (n, expect) in [(1, JobStatus::Pending), (2, JobStatus::Failed)] {
        let c = claim(s, "w", 1, T0 + n);
        assert_eq!(ids(&c), vec![id]);
        let st = s
            .fail_jobs(
                "w",
                &[Failure {
                    id,
                    message: format!("timeout {n}"),
                    retry_at: Some(T0 + n),
                }],
                T0 + n,
            )
            .unwrap();
        assert_eq!(st, vec![Some(expect)]);
    }
    let j = s.get_job(WS, id).unwrap().unwrap();
    assert_eq!(j.status, JobStatus::Failed);
    assert_eq!(j.attempts, 2);
    let msgs: Vec<&str> = j.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs, ["timeout 1", "timeout 2"]);
    assert_eq!(j.errors[1].attempt, 2);
    assert_eq!(j.errors[0].worker.as_deref(), Some("w"));
    assert_eq!(j.finished_at, Some(T0 + 2));
    assert!(claim(s, "w", 1, T0 + 10).is_empty());
    // Not the worker's job: nothing happens.
    assert_eq!(
        s.fail_jobs(
            "w",
            &[Failure {
                id,
                message: "x".into(),
                retry_at: None
            }],
            T0
        )
        .unwrap(),
        vec![None]
    );
}

fn permanent_failure_fails_at_once_and_can_be_retried(h: &Harness) {
    let s = &*h.store;
    let id = s.enqueue(&[job("push_to_crm")], T0).unwrap()[0].unwrap();
    claim(s, "w", 1, T0);
    let st = s
        .fail_jobs(
            "w",
            &[Failure {
                id,
                message: "HTTP 401: bad API key".into(),
                retry_at: None,
            }],
            T0,
        )
        .unwrap();
    assert_eq!(st, vec![Some(JobStatus::Failed)]);
    assert_eq!(s.get_job(WS, id).unwrap().unwrap().attempts, 1);
    assert!(s.retry_job(WS, id, T0 + 1).unwrap());
    assert!(
        !s.retry_job(WS, id, T0 + 1).unwrap(),
        "only failed or cancelled jobs"
    );
    let j = s.get_job(WS, id).unwrap().unwrap();
    assert_eq!((j.status, j.attempts), (JobStatus::Pending, 0));
    assert_eq!(j.errors.len(), 1, "history survives a manual retry");
    assert_eq!(ids(&claim(s, "w", 1, T0 + 1)), vec![id]);
    assert!(
        !s.retry_job(WS + 1, id, T0).unwrap(),
        "another workspace cannot touch it"
    );
}

fn expired_lease_is_rerun_once(h: &Harness) {
    let s = &*h.store;
    let id = s.enqueue(&[job("noop")], T0).unwrap()[0].unwrap();
    assert_eq!(ids(&claim(s, "dead", 1, T0)), vec![id]);
    s.start_jobs("dead", &[id], T0).unwrap();
    // The lease still runs: nobody else gets it, reaping finds nothing.
    assert_eq!(s.reap_expired(T0 + LEASE as i64 - 1).unwrap(), 0);
    assert!(claim(s, "alive", 1, T0 + 1).is_empty());
    // The worker died: after the lease the job is back, once.
    let later = T0 + LEASE as i64 + 1;
    assert_eq!(s.reap_expired(later).unwrap(), 1);
    assert_eq!(s.reap_expired(later).unwrap(), 0);
    let again = claim(s, "alive", 5, later);
    assert_eq!(ids(&again), vec![id]);
    assert_eq!(again[0].attempts, 2);
    assert!(again[0].errors[0].message.contains("lease expired"));
    // The "dead" worker comes back: it cannot complete what is not its own.
    assert_eq!(
        s.complete_jobs("dead", &[done(id)], later).unwrap(),
        vec![CompletionOutcome::NotOwned]
    );
    assert_eq!(
        s.complete_jobs("alive", &[done(id)], later).unwrap(),
        vec![CompletionOutcome::Completed]
    );
    assert!(claim(s, "any", 5, later + 10 * LEASE as i64).is_empty());
    assert_eq!(s.reap_expired(later + 10 * LEASE as i64).unwrap(), 0);
    let j = s.get_job(WS, id).unwrap().unwrap();
    assert_eq!(j.status, JobStatus::Completed);
    assert_eq!(j.result.as_deref(), Some(r#"{"ok":true}"#));
    // A heartbeat keeps a lease alive.
    let id2 = s.enqueue(&[job("noop")], later).unwrap()[0].unwrap();
    claim(s, "slow", 1, later);
    let pushed = later + 3 * LEASE as i64;
    assert_eq!(
        s.extend_leases("slow", &[id2], pushed, later + 1).unwrap(),
        1
    );
    assert_eq!(s.reap_expired(pushed - 1).unwrap(), 0);
    assert_eq!(
        s.extend_leases("other", &[id2], pushed, later + 1).unwrap(),
        0
    );
}

fn release_hands_back_without_an_attempt(h: &Harness) {
    let s = &*h.store;
    let id = s.enqueue(&[job("noop")], T0).unwrap()[0].unwrap();
    claim(s, "w", 1, T0);
    assert_eq!(s.release_jobs("other", &[id], T0).unwrap(), 0);
    assert_eq!(s.release_jobs("w", &[id], T0).unwrap(), 1);
    let j = s.get_job(WS, id).unwrap().unwrap();
    assert_eq!(
        (j.status, j.attempts, j.worker),
        (JobStatus::Pending, 0, None)
    );
    assert_eq!(claim(s, "w2", 1, T0)[0].attempts, 1);
}

fn paused_run_holds_its_jobs(h: &Harness) {
    let s = &*h.store;
    let run = s
        .create_run(WS, "scrape_google_maps", "dentists NY", T0)
        .unwrap();
    let mut jobs = vec![job("scrape_google_maps"); 3];
    for j in &mut jobs {
        j.run = Some(run);
    }
    s.enqueue(&jobs, T0).unwrap();
    s.enqueue(&[job("noop")], T0).unwrap();
    assert!(s.set_run_status(WS, run, RunStatus::Paused, T0).unwrap());
    assert!(
        !s.set_run_status(WS, run, RunStatus::Paused, T0).unwrap(),
        "already paused"
    );
    let c = claim(s, "w", 10, T0);
    assert_eq!(c.len(), 1, "only the job outside the run");
    assert_eq!(c[0].run, None);
    assert_eq!(
        s.get_run(WS, run).unwrap().unwrap().status,
        RunStatus::Paused
    );
    assert!(s.set_run_status(WS, run, RunStatus::Running, T0).unwrap());
    assert_eq!(claim(s, "w", 10, T0).len(), 3);
    assert!(s.set_run_status(WS, run, RunStatus::Completed, T0).is_err());
}

fn run_counters_and_completion(h: &Harness) {
    let s = &*h.store;
    let run = s.create_run(WS, "scrape_google_maps", "sweep", T0).unwrap();
    let mut jobs = vec![job("scrape_google_maps"); 3];
    for j in &mut jobs {
        j.run = Some(run);
        j.max_attempts = 1;
    }
    s.enqueue(&jobs, T0).unwrap();
    let r = s.get_run(WS, run).unwrap().unwrap();
    assert_eq!((r.total_jobs, r.status), (3, RunStatus::Running));
    let c = claim(s, "w", 10, T0);
    let mut a = done(c[0].id);
    a.delta = RunDelta {
        leads_found: 7,
        companies_found: 3,
        cost_micros: 32_000,
    };
    let mut b = done(c[1].id);
    b.delta = RunDelta {
        leads_found: 1,
        companies_found: 1,
        cost_micros: 0,
    };
    s.complete_jobs("w", &[a, b], T0 + 5).unwrap();
    let r = s.get_run(WS, run).unwrap().unwrap();
    assert_eq!(
        (
            r.completed_jobs,
            r.leads_found,
            r.companies_found,
            r.cost_micros
        ),
        (2, 8, 4, 32_000)
    );
    assert_eq!(r.status, RunStatus::Running);
    s.fail_jobs(
        "w",
        &[Failure {
            id: c[2].id,
            message: "quota".into(),
            retry_at: Some(T0),
        }],
        T0 + 9,
    )
    .unwrap();
    let r = s.get_run(WS, run).unwrap().unwrap();
    assert_eq!((r.failed_jobs, r.status), (1, RunStatus::Completed));
    assert_eq!(r.finished_at, Some(T0 + 9));
    // Retrying the failed job reopens the run.
    assert!(s.retry_job(WS, c[2].id, T0 + 10).unwrap());
    let r = s.get_run(WS, run).unwrap().unwrap();
    assert_eq!((r.failed_jobs, r.status), (0, RunStatus::Running));
    assert_eq!(s.list_runs(WS, 10).unwrap().len(), 1);
    assert!(s.list_runs(WS + 1, 10).unwrap().is_empty());
}

fn effects_are_recorded_once(h: &Harness) {
    let s = &*h.store;
    s.enqueue(&[job("push_to_instantly"), job("push_to_instantly")], T0)
        .unwrap();
    let c = claim(s, "w", 2, T0);
    let effect = Effect {
        kind: "instantly_lead".into(),
        key: "campaign-1:lead-9".into(),
    };
    let mut a = done(c[0].id);
    a.effects = vec![effect.clone()];
    let mut b = done(c[1].id);
    b.effects = vec![
        Effect {
            kind: "instantly_lead".into(),
            key: "campaign-1:lead-10".into(),
        },
        effect.clone(),
    ];
    let out = s.complete_jobs("w", &[a, b], T0).unwrap();
    assert_eq!(out[0], CompletionOutcome::Completed);
    assert_eq!(
        out[1],
        CompletionOutcome::DuplicateEffect {
            kind: effect.kind.clone(),
            key: effect.key.clone(),
            by: c[0].id
        }
    );
    assert_eq!(
        s.effect_count(WS, "instantly_lead").unwrap(),
        1,
        "the duplicate job's other effect was not kept either"
    );
    let second = s.get_job(WS, c[1].id).unwrap().unwrap();
    assert_eq!(second.status, JobStatus::Failed);
    assert!(second.errors[0].message.contains("already recorded"));
}

fn follow_ups_are_enqueued_with_the_completion(h: &Harness) {
    let s = &*h.store;
    let id = s.enqueue(&[job("enrich_company")], T0).unwrap()[0].unwrap();
    claim(s, "w", 1, T0);
    let mut next = job("validate_email");
    next.unique_key = Some("validate:jane@acme.com".into());
    let mut c = done(id);
    c.follow_ups = vec![next.clone(), next];
    s.complete_jobs("w", &[c.clone()], T0).unwrap();
    let got = claim(s, "w", 10, T0);
    assert_eq!(got.len(), 1, "the duplicate follow-up was a no-op");
    assert_eq!(got[0].job_type, "validate_email");
    // A completion that is not owned enqueues nothing.
    let mut stale = c;
    stale.follow_ups = vec![job("score_lead")];
    assert_eq!(
        s.complete_jobs("w", &[stale], T0).unwrap(),
        vec![CompletionOutcome::NotOwned]
    );
    assert!(claim(s, "w", 10, T0).is_empty());
}

fn per_type_caps_hold_across_workers(h: &Harness) {
    let other = h.other();
    let s = &*h.store;
    s.enqueue(&vec![job("push_to_instantly"); 5], T0).unwrap();
    s.enqueue(&vec![job("noop"); 3], T0).unwrap();
    let req = |w: &str| ClaimRequest {
        worker: w.into(),
        types: None,
        limit: 10,
        lease_ms: LEASE,
        now: T0,
        caps: vec![("push_to_instantly".into(), 2)],
    };
    let a = s.claim(&req("a")).unwrap();
    let count = |v: &[leadgen_core::job::Job]| {
        v.iter()
            .filter(|j| j.job_type == "push_to_instantly")
            .count()
    };
    assert_eq!((count(&a), a.len()), (2, 5));
    let b = other.claim(&req("b")).unwrap();
    assert_eq!(b.len(), 0, "the cap is full for every worker");
    s.complete_jobs(
        "a",
        &[done(a.iter().find(|j| j.job_type != "noop").unwrap().id)],
        T0,
    )
    .unwrap();
    assert_eq!(count(&other.claim(&req("b")).unwrap()), 1);
    // Expired leases do not hold a slot.
    let mut late = req("c");
    late.now = T0 + LEASE as i64 + 1;
    assert_eq!(count(&s.claim(&late).unwrap()), 2, "the two pending ones");
    assert_eq!(
        count(&other.claim(&late).unwrap()),
        0,
        "and now the cap is full again"
    );
}

fn concurrent_claimers_take_disjoint_jobs(h: &Harness) {
    let n = 600;
    h.store.enqueue(&vec![job("noop"); n], T0).unwrap();
    let stores: Vec<Box<dyn Store>> = (0..4).map(|_| h.other()).collect();
    let taken: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, st)| {
                scope.spawn(move || {
                    let w = format!("w{i}");
                    let mut mine = Vec::new();
                    loop {
                        let c = claim(&**st, &w, 7, T0);
                        if c.is_empty() {
                            break mine;
                        }
                        let done: Vec<Completion> = c.iter().map(|j| done(j.id)).collect();
                        let out = st.complete_jobs(&w, &done, T0).unwrap();
                        assert!(out.iter().all(|o| *o == CompletionOutcome::Completed));
                        mine.extend(ids(&c));
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<i64> = taken.iter().flatten().copied().collect();
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), n, "every job taken exactly once");
    assert_eq!(unique.len(), n);
    let stats = h.store.queue_stats(WS, T0).unwrap();
    assert!(stats.by_status.contains(&(JobStatus::Completed, n as u64)));
}

fn cancel_job_and_cancel_run(h: &Harness) {
    let s = &*h.store;
    let id = s.enqueue(&[job("noop")], T0).unwrap()[0].unwrap();
    assert!(!s.cancel_job(WS + 1, id, T0).unwrap());
    assert!(s.cancel_job(WS, id, T0).unwrap());
    assert!(!s.cancel_job(WS, id, T0).unwrap());
    assert!(claim(s, "w", 1, T0).is_empty());
    let run = s.create_run(WS, "import", "x", T0).unwrap();
    let mut jobs = vec![job("noop"); 4];
    for j in &mut jobs {
        j.run = Some(run);
    }
    s.enqueue(&jobs, T0).unwrap();
    let c = claim(s, "w", 1, T0);
    s.complete_jobs("w", &[done(c[0].id)], T0).unwrap();
    let running = claim(s, "w", 1, T0);
    assert!(s.set_run_status(WS, run, RunStatus::Cancelled, T0).unwrap());
    let r = s.get_run(WS, run).unwrap().unwrap();
    assert_eq!(
        (r.status, r.completed_jobs, r.cancelled_jobs),
        (RunStatus::Cancelled, 1, 3)
    );
    // The job that was running cannot complete into a cancelled run.
    assert_eq!(
        s.complete_jobs("w", &[done(running[0].id)], T0).unwrap(),
        vec![CompletionOutcome::NotOwned]
    );
    assert!(claim(s, "w", 10, T0).is_empty());
}

fn token_bucket_is_shared(h: &Harness) {
    let other = h.other();
    let s = &*h.store;
    // 2 per second, burst 2: two tokens now (one per worker), then a wait.
    assert_eq!(s.take_token("instantly", 2.0, 2.0, T0).unwrap(), 0);
    assert_eq!(other.take_token("instantly", 2.0, 2.0, T0).unwrap(), 0);
    assert_eq!(s.take_token("instantly", 2.0, 2.0, T0).unwrap(), 500);
    assert_eq!(
        other.take_token("instantly", 2.0, 2.0, T0 + 250).unwrap(),
        250
    );
    assert_eq!(
        other.take_token("instantly", 2.0, 2.0, T0 + 500).unwrap(),
        0
    );
    // Buckets are independent.
    assert_eq!(s.take_token("hunter", 2.0, 2.0, T0).unwrap(), 0);
}

fn stats_count_by_status_and_type(h: &Harness) {
    let s = &*h.store;
    s.enqueue(&vec![job("noop"); 3], T0).unwrap();
    s.enqueue(&[job("validate_email")], T0 + 1_000).unwrap();
    let c = claim(s, "w", 1, T0 + 2_000);
    s.complete_jobs("w", &[done(c[0].id)], T0 + 2_000).unwrap();
    let st = s.queue_stats(WS, T0 + 3_000).unwrap();
    let status = |x| st.by_status.iter().find(|(s, _)| *s == x).unwrap().1;
    assert_eq!(status(JobStatus::Pending), 3);
    assert_eq!(status(JobStatus::Completed), 1);
    assert_eq!(status(JobStatus::Failed), 0);
    assert_eq!(st.by_status.len(), 6, "every status is listed");
    assert!(st.by_type.contains(&("noop".into(), JobStatus::Pending, 2)));
    assert!(
        st.by_type
            .contains(&("validate_email".into(), JobStatus::Pending, 1))
    );
    assert_eq!(st.oldest_pending_age_ms, Some(3_000));
    assert_eq!(st.completed_last_minute, 1);
    assert_eq!(
        s.queue_stats(WS + 1, T0).unwrap().oldest_pending_age_ms,
        None
    );
}

fn next_claimable_reports_due_and_delayed_work(h: &Harness) {
    let s = &*h.store;
    assert_eq!(s.next_claimable(None, T0).unwrap(), None);
    let mut later = job("validate_email");
    later.run_at = Some(T0 + 9_000);
    s.enqueue(&[later], T0).unwrap();
    assert_eq!(s.next_claimable(None, T0).unwrap(), Some(T0 + 9_000));
    let noop = ["noop".to_string()];
    assert_eq!(s.next_claimable(Some(&noop), T0).unwrap(), None);
    s.enqueue(&[job("noop")], T0).unwrap();
    assert_eq!(s.next_claimable(Some(&noop), T0).unwrap(), Some(T0));
}

fn wakeup_on_enqueue(h: &Harness) {
    let Some(mut wake) = h.store.job_wakeup().unwrap() else {
        assert_eq!(h.store.backend(), "sqlite", "only SQLite polls");
        return;
    };
    assert!(
        !wake.wait(Duration::from_millis(50)).unwrap(),
        "nothing enqueued yet"
    );
    let other = h.other();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        other.enqueue(&[job("noop")], T0).unwrap();
    });
    let started = std::time::Instant::now();
    assert!(wake.wait(Duration::from_secs(10)).unwrap());
    assert!(started.elapsed() < Duration::from_secs(5));
    t.join().unwrap();
}

fn held_jobs_are_the_worker_s_running_jobs_in_any_workspace(h: &Harness) {
    let s = &*h.store;
    let mut other_ws = job("noop");
    other_ws.workspace = 2;
    let got = s
        .enqueue(&[job("noop"), other_ws, job("noop"), job("noop")], T0)
        .unwrap();
    let [a, b, c, d] = [got[0], got[1], got[2], got[3]].map(Option::unwrap);
    let mine = claim(s, "w", 3, T0);
    assert_eq!(ids(&mine), vec![a, b, c]);
    s.start_jobs("w", &[b], T0).unwrap();
    s.complete_jobs("w", &[done(c)], T0).unwrap();
    claim(s, "other", 1, T0);
    let held = s.held_jobs("w", &[a, b, c, d, 999_999]).unwrap();
    assert_eq!(
        held.iter()
            .map(|j| (j.id, j.workspace, j.status))
            .collect::<Vec<_>>(),
        vec![(a, WS, JobStatus::Claimed), (b, 2, JobStatus::Processing)],
        "completed c and d (another worker's) are not held"
    );
    assert_eq!(held[0].payload, r#"{"n":1}"#);
    assert!(s.held_jobs("nobody", &[a, b]).unwrap().is_empty());
    assert!(s.held_jobs("w", &[]).unwrap().is_empty());
}
