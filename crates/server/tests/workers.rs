//! `/workers/jobs/*` and remote workers: the server on a random port, a
//! worker in this process reaching it over HTTP (`HttpSource`), on SQLite
//! and PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{A, App, B, Backend, test_opts, with_app_opts};
use leadgen_core::job::{JobStatus, NewJob, types};
use leadgen_core::lead::LeadStatus;
use leadgen_jobs::remote::{HttpSource, Remote};
use leadgen_jobs::{Registry, StoreSource, WorkerOptions, noop};
use leadgen_server::workers::ROUTES;
use leadgen_store::JobFilter;
use leadgen_verify::Verifier;
use leadgen_verify::testkit::{Behavior, FakeDns, SmtpFarm, loopback, options};
use serde_json::{Value, json};

use common::WORKER_SECRET as SECRET;

use common::worker_secret_opts as opts;

both_backends_with! {
    crate::common::worker_secret_opts;
    every_worker_route_refuses_a_missing_or_wrong_secret,
    malformed_bodies_get_4xx_in_the_error_shape,
    a_remote_and_a_local_worker_drain_noop_jobs_once,
    writes_apply_only_to_the_job_s_own_workspace,
    validate_email_through_a_remote_worker_sets_the_lead_status_like_the_local_path,
}

fn remote(app: &App) -> Arc<Remote> {
    Arc::new(Remote(Arc::new(
        HttpSource::new(&app.base, SECRET, common::worker_http_opts()).unwrap(),
    )))
}

fn worker_opts(id: &str) -> WorkerOptions {
    let mut o = WorkerOptions::new(id);
    o.until_idle = true;
    o.concurrency = 8;
    o.lease = Duration::from_secs(5);
    o
}

use common::drain as run;

fn noop_registry() -> Registry {
    let mut r = Registry::new();
    r.register(noop::spec());
    r
}

async fn post(app: &App, path: &str, auth: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r = app.http.post(app.url(path)).json(body);
    if let Some(a) = auth {
        r = r.bearer_auth(a);
    }
    r.send().await.unwrap()
}

async fn every_worker_route_refuses_a_missing_or_wrong_secret(app: App) {
    let body = json!({"worker": "w", "types": ["noop"], "limit": 1, "lease_ms": 5000});
    let wrong = format!("{SECRET}x");
    for path in ROUTES {
        for (auth, why) in [
            (None, "no secret"),
            (Some(wrong.as_str()), "a wrong secret"),
            (Some(&SECRET[1..]), "a prefix of the secret"),
            (Some(app.a_admin.as_str()), "an API key"),
        ] {
            let r = post(&app, path, auth, &body).await;
            assert_eq!(r.status(), 401, "{path} with {why}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "unauthorized", "{path}: {v}");
        }
    }
    // The pending seeded job was not claimed by any of that.
    let seeded = app.a_job;
    let job = app
        .store(move |s| s.get_job(A, seeded).unwrap())
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Pending);
}

#[test]
fn worker_routes_are_off_without_a_secret() {
    with_app_opts(Backend::Sqlite, test_opts(), |app: App| async move {
        for path in ROUTES {
            let r = post(&app, path, Some(SECRET), &json!({})).await;
            assert_eq!(r.status(), 404, "{path}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "not_found");
        }
    });
}

async fn malformed_bodies_get_4xx_in_the_error_shape(app: App) {
    let cases: Vec<(&str, Value, u16)> = vec![
        ("/workers/jobs/claim", json!("not an object"), 422),
        ("/workers/jobs/claim", json!({"worker": "w"}), 422),
        (
            "/workers/jobs/claim",
            json!({"worker": "w", "types": ["noop"], "limit": 0, "lease_ms": 5000}),
            422,
        ),
        (
            "/workers/jobs/claim",
            json!({"worker": "w", "types": ["noop"], "limit": 5, "lease_ms": 5}),
            422,
        ),
        (
            "/workers/jobs/claim",
            json!({"worker": "", "types": ["noop"], "limit": 5, "lease_ms": 5000}),
            422,
        ),
        (
            "/workers/jobs/claim",
            json!({"worker": "w", "types": ["push_to_crm"], "limit": 5, "lease_ms": 5000}),
            422,
        ),
        (
            "/workers/jobs/claim",
            json!({"worker": "w", "types": ["noop"], "limit": 5, "lease_ms": 5000, "extra": 1}),
            422,
        ),
        ("/workers/jobs/complete", json!({"worker": "w"}), 422),
        (
            "/workers/jobs/complete",
            json!({"worker": "w", "jobs": [{"id": "one", "result": {}}]}),
            422,
        ),
        (
            "/workers/jobs/complete",
            json!({"worker": "w", "jobs": [{"id": 1, "result": {}, "effects": "x"}]}),
            422,
        ),
        (
            "/workers/jobs/fail",
            json!({"worker": "w", "jobs": [{"id": 1}]}),
            422,
        ),
        (
            "/workers/jobs/extend",
            json!({"worker": "w", "ids": [1]}),
            422,
        ),
        ("/workers/jobs/next", json!({"types": []}), 422),
    ];
    for (path, body, want) in cases {
        let r = post(&app, path, Some(SECRET), &body).await;
        assert_eq!(r.status().as_u16(), want, "{path} {body}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{path} {body}: {v}"
        );
    }
    // Not JSON at all.
    let r = app
        .http
        .post(app.url("/workers/jobs/complete"))
        .bearer_auth(SECRET)
        .header("content-type", "application/json")
        .body("{\"worker\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .http
        .post(app.url("/workers/jobs/claim"))
        .bearer_auth(SECRET)
        .body("worker=w")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415, "no JSON content type");
    // The server is still up and the seeded job untouched.
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let seeded = app.a_job;
    let job = app
        .store(move |s| s.get_job(A, seeded).unwrap())
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Pending);
}

async fn a_remote_and_a_local_worker_drain_noop_jobs_once(app: App) {
    let n = 400u64;
    app.store(move |s| {
        let jobs: Vec<NewJob> = (0..n)
            .map(|i| {
                let ws = if i % 2 == 0 { A } else { B };
                NewJob::new(ws, types::NOOP, r#"{"effect": "seen", "sleep_ms": 5}"#)
            })
            .collect();
        s.enqueue(&jobs, leadgen_server::now_ms()).unwrap();
    })
    .await;
    let local = Arc::new(StoreSource(app.store.clone()));
    let (r, l) = tokio::join!(
        run(remote(&app), noop_registry(), worker_opts("remote-1")),
        run(local, noop_registry(), worker_opts("local-1")),
    );
    assert!(r.completed > 0, "the remote worker did work: {r:?}");
    assert!(l.completed > 0, "the local worker did work: {l:?}");
    // The seeded job of A is a noop too.
    assert_eq!(r.completed + l.completed, n + 1, "{r:?} {l:?}");
    for rep in [&r, &l] {
        assert_eq!(
            (rep.duplicate_effects, rep.lost, rep.failed),
            (0, 0, 0),
            "{rep:?}"
        );
    }
    let (ea, eb, done_a, done_b) = app
        .store(|s| {
            let done = |ws| {
                s.queue_stats(ws, 0)
                    .unwrap()
                    .by_status
                    .into_iter()
                    .find(|(st, _)| *st == JobStatus::Completed)
                    .unwrap()
                    .1
            };
            (
                s.effect_count(A, "seen").unwrap(),
                s.effect_count(B, "seen").unwrap(),
                done(A),
                done(B),
            )
        })
        .await;
    assert_eq!(
        (ea, eb),
        (n / 2, n / 2),
        "one effect per job, in its workspace"
    );
    assert_eq!((done_a, done_b), (n / 2 + 1, n / 2));
}

async fn writes_apply_only_to_the_job_s_own_workspace(app: App) {
    let id = app
        .store(|s| {
            s.enqueue(
                &[NewJob::new(B, types::NOOP, "{}")],
                leadgen_server::now_ms(),
            )
            .unwrap()[0]
                .unwrap()
        })
        .await;
    // Take everything claimable: the seeded job of A and this one of B.
    let r = post(
        &app,
        "/workers/jobs/claim",
        Some(SECRET),
        &json!({"worker": "w1", "types": ["noop"], "limit": 10, "lease_ms": 60000}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let claimed: Value = r.json().await.unwrap();
    let mine = claimed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .expect("B's job was served")
        .clone();
    assert_eq!(mine["workspace"], B);
    // Another worker cannot finish it.
    let complete = |worker: &str| {
        json!({"worker": worker, "jobs": [{
            "id": id,
            "result": {"ok": true},
            "effects": [{"kind": "mark", "key": "k"}],
            "follow_ups": [{"job_type": "noop", "payload": "{\"next\": 1}", "priority": 5, "max_attempts": 2}],
        }]})
    };
    let r = post(
        &app,
        "/workers/jobs/complete",
        Some(SECRET),
        &complete("w2"),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcomes"][0]["outcome"], "not_owned", "{v}");
    let r = post(
        &app,
        "/workers/jobs/complete",
        Some(SECRET),
        &complete("w1"),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcomes"][0]["outcome"], "completed", "{v}");
    // Effect and follow-up landed in B, the job's workspace; none in A.
    let (eff_a, eff_b, follow_a, follow_b) = app
        .store(|s| {
            let follow = |ws| {
                s.list_jobs(ws, &JobFilter::default())
                    .unwrap()
                    .into_iter()
                    .filter(|j| j.payload.contains("next"))
                    .count()
            };
            (
                s.effect_count(A, "mark").unwrap(),
                s.effect_count(B, "mark").unwrap(),
                follow(A),
                follow(B),
            )
        })
        .await;
    assert_eq!((eff_a, eff_b, follow_a, follow_b), (0, 1, 0, 1));
    // A second completion of the same job is refused, nothing doubled.
    let r = post(
        &app,
        "/workers/jobs/complete",
        Some(SECRET),
        &complete("w1"),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcomes"][0]["outcome"], "not_owned", "{v}");
    // Fail with a retry delay, measured by the server's clock.
    let seeded = app.a_job;
    let before = leadgen_server::now_ms();
    let r = post(
        &app,
        "/workers/jobs/fail",
        Some(SECRET),
        &json!({"worker": "w1", "jobs": [{"id": seeded, "message": "boom", "retry_in_ms": 60000}]}),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["statuses"][0], "pending", "{v}");
    let job = app
        .store(move |s| s.get_job(A, seeded).unwrap())
        .await
        .unwrap();
    assert!(job.run_at >= before + 60_000, "{job:?}");
    assert_eq!(job.errors[0].message, "boom");
    assert_eq!(job.errors[0].worker.as_deref(), Some("w1"));
}

async fn validate_email_through_a_remote_worker_sets_the_lead_status_like_the_local_path(app: App) {
    let dns = FakeDns::start();
    let farm = SmtpFarm::start(vec![
        (
            loopback(0),
            Behavior::known_users(&["jane@acme.test", "info@acme.test"]),
        ),
        (loopback(1), Behavior::always_greylist()),
    ]);
    dns.mail_domain("acme.test", loopback(0));
    dns.mail_domain("slow.test", loopback(1));
    let verifier = Arc::new(Verifier::new(options(&dns, farm.port)).unwrap());

    app.import(
        &app.a_member,
        "email\njane@acme.test\nbob@acme.test\ninfo@acme.test\njane@slow.test\n",
    )
    .await;
    let listed: Value = app
        .get("/api/v1/leads?sort=oldest", &app.a_member)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_of = |email: &str| {
        listed["leads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["email"] == email)
            .and_then(|l| l["id"].as_i64())
            .unwrap_or_else(|| panic!("{email} imported: {listed}"))
    };
    let ids = [
        id_of("jane@acme.test"),
        id_of("bob@acme.test"),
        id_of("info@acme.test"),
        id_of("jane@slow.test"),
    ];
    let (jane, bob, info, slow) = (ids[0], ids[1], ids[2], ids[3]);
    let job_ids = app
        .store(move |s| {
            let mut jobs: Vec<NewJob> = [jane, bob, info, slow]
                .iter()
                .map(|id| NewJob::new(A, types::VALIDATE_EMAIL, &format!(r#"{{"lead_id": {id}}}"#)))
                .collect();
            // A job of workspace B naming A's lead: it must not reach it.
            jobs.push(NewJob::new(
                B,
                types::VALIDATE_EMAIL,
                &format!(r#"{{"lead_id": {bob}}}"#),
            ));
            for j in &mut jobs {
                j.max_attempts = 1;
            }
            s.enqueue(&jobs, leadgen_server::now_ms()).unwrap()
        })
        .await;
    let mut reg = Registry::new();
    reg.register(leadgen_app::verify_job::remote_spec_with(verifier));
    let started = Instant::now();
    let rep = run(remote(&app), reg, worker_opts("remote-verify")).await;
    assert_eq!((rep.completed, rep.failed), (4, 1), "{rep:?}");
    assert!(started.elapsed() < Duration::from_secs(60));

    let store = app.store.clone();
    let check = move |id: i64| {
        let store = store.clone();
        // Off the async threads: the PostgreSQL client blocks.
        async move {
            tokio::task::spawn_blocking(move || {
                let v = store.verification(A, id).unwrap().expect("a verification");
                let lead = store.get_lead(A, id).unwrap().unwrap();
                let json: Value = serde_json::from_str(&v.result).unwrap();
                (v.status, v.score, lead.status, json)
            })
            .await
            .unwrap()
        }
    };
    // The same expectations as the local path's test (app/tests/verify_job.rs).
    let (st, score, lead, json) = check(jane).await;
    assert_eq!(
        (st.as_str(), score, lead),
        ("valid", 95, LeadStatus::Validated)
    );
    assert_eq!(json["smtp"]["code"], 250);
    assert_eq!(json["mx_hosts"][0], "mx.acme.test");
    let (st, _, lead, _) = check(bob).await;
    assert_eq!((st.as_str(), lead), ("invalid", LeadStatus::Invalid));
    let (st, score, lead, _) = check(info).await;
    assert_eq!(
        (st.as_str(), score, lead),
        ("risky", 60, LeadStatus::Invalid)
    );
    let (st, _, lead, json) = check(slow).await;
    assert_eq!(st.as_str(), "unknown");
    assert_eq!(json["reason"], "greylisted");
    assert_eq!(lead, LeadStatus::Raw, "unknown leaves the status alone");
    // B's job found no lead of that id in B: failed, A's lead untouched
    // by it (bob's verification above is A's own job's).
    let failed_b = app
        .store({
            let id = job_ids[4].unwrap();
            move |s| s.get_job(B, id).unwrap().unwrap()
        })
        .await;
    assert_eq!(failed_b.status, JobStatus::Failed, "{failed_b:?}");
    assert!(
        failed_b.errors[0].message.contains("no email"),
        "{:?}",
        failed_b.errors
    );
    let first = job_ids[0].unwrap();
    let done = app
        .store(move |s| s.get_job(A, first).unwrap().unwrap().result.unwrap())
        .await;
    let done: Value = serde_json::from_str(&done).unwrap();
    assert_eq!(done["lead_status"], "validated", "{done}");
}

/// Figure: noop jobs per second through one remote worker over loopback.
/// `cargo test -p leadgen-server --test workers -- --ignored --nocapture`
#[test]
#[ignore]
fn figure_remote_worker_noop_throughput() {
    let n: u64 = std::env::var("REMOTE_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    with_app_opts(Backend::Sqlite, opts(), move |app: App| async move {
        app.store(move |s| {
            let jobs: Vec<NewJob> = (0..n).map(|_| NewJob::new(A, types::NOOP, "{}")).collect();
            s.enqueue(&jobs, leadgen_server::now_ms()).unwrap();
        })
        .await;
        let mut o = worker_opts("bench");
        o.concurrency = 128;
        o.claim_batch = 128;
        let started = Instant::now();
        let rep = run(remote(&app), noop_registry(), o).await;
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(rep.completed, n + 1);
        println!(
            "{}",
            json!({"jobs": rep.completed, "elapsed_ms": (secs * 1000.0) as u64, "jobs_per_s": rep.completed as f64 / secs})
        );
    });
}
