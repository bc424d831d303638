//! `/workers/leads/batch` and `/workers/enrichments/*`: a remote worker's
//! writes for a job it holds (ownership, idempotency, tenant isolation,
//! the shared monthly budget), `enrich_company` through a remote worker
//! producing what the local handler produces, and a remote worker that
//! outlives a server restart. The server runs on a random port.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{A, App, B, SAMPLE_CSV, error_code, seed_company};
use leadgen_app::config::Config;
use leadgen_app::discovery::EnvLookup;
use leadgen_app::enrich_job;
use leadgen_app::remote_enrich::RemoteLedger;
use leadgen_core::job::{JobStatus, NewJob, types};
use leadgen_enrich::testkit::FixtureSites;
use leadgen_enrich::waterfall::Ledger;
use leadgen_jobs::remote::{HttpOptions, HttpSource, Remote};
use leadgen_jobs::{Registry, StoreSource, WorkerOptions};
use leadgen_server::AppState;
use leadgen_server::workers::ROUTES;
use leadgen_store::{JobFilter, LeadFilter, LeadQuery, Store};
use serde_json::{Value, json};

use common::{
    WORKER_SECRET as SECRET, drain, worker_http_opts as http_opts, worker_secret_opts as opts,
};

both_backends_with! {
    crate::common::worker_secret_opts;
    the_worker_routes_are_documented_with_their_secret_scheme,
    lead_batches_go_through_the_import_path_once_per_key,
    enrichment_rows_are_recorded_once_for_the_job_s_company,
    the_monthly_budget_holds_across_local_and_remote_workers,
    writes_need_the_job_held_by_the_calling_worker,
    a_job_of_one_workspace_cannot_write_into_another,
    malformed_writes_get_4xx_in_the_error_shape,
    enrich_lead_on_a_remote_worker_reads_its_lead_in_the_job_s_workspace_only,
    enrich_company_on_a_remote_worker_stores_what_the_local_handler_stores,
}

async fn post(app: &App, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .bearer_auth(SECRET)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn enqueue(app: &App, ws: i64, job_type: &str, payload: Value) -> i64 {
    let job_type = job_type.to_owned();
    app.store(move |s| {
        s.enqueue(
            &[NewJob::new(ws, &job_type, &payload.to_string())],
            leadgen_server::now_ms(),
        )
        .unwrap()[0]
            .unwrap()
    })
    .await
}

/// Claims every claimable `enrich_company` job for `worker`.
async fn claim(app: &App, worker: &str) -> Vec<Value> {
    let r = post(
        app,
        "/workers/jobs/claim",
        &json!({"worker": worker, "types": ["enrich_company"], "limit": 10, "lease_ms": 60000}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["jobs"].as_array().unwrap().clone()
}

async fn held_job(app: &App, ws: i64, worker: &str) -> i64 {
    let id = enqueue(
        app,
        ws,
        types::ENRICH_COMPANY,
        json!({"domain": "acme.example"}),
    )
    .await;
    let jobs = claim(app, worker).await;
    assert!(jobs.iter().any(|j| j["id"] == id), "{jobs:?}");
    id
}

async fn count_leads(app: &App, ws: i64) -> u64 {
    app.store(move |s| s.count_leads(ws, &LeadFilter::default()).unwrap())
        .await
}

async fn the_worker_routes_are_documented_with_their_secret_scheme(app: App) {
    let doc: Value = app
        .get("/api/v1/openapi.json", &app.a_viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut documented: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|p| p.starts_with("/workers/"))
        .collect();
    documented.sort_unstable();
    let mut routes = ROUTES.to_vec();
    routes.sort_unstable();
    assert_eq!(
        documented, routes,
        "the document lists exactly the routed paths"
    );
    let scheme = &doc["components"]["securitySchemes"]["worker_secret"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    for path in ROUTES {
        let item = doc["paths"][*path].as_object().unwrap();
        let methods: Vec<&String> = item.keys().filter(|k| *k != "parameters").collect();
        assert_eq!(methods, vec!["post"], "{path}");
        assert_eq!(
            item["post"]["security"],
            json!([{"worker_secret": []}]),
            "{path} takes the worker secret, not an API key"
        );
        assert!(item["post"]["responses"]["401"].is_object(), "{path}");
        // Routed for POST only, with the secret.
        for m in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let r = app
                .http
                .request(m.clone(), app.url(path))
                .bearer_auth(SECRET)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 405, "{m} {path}");
        }
    }
}

async fn lead_batches_go_through_the_import_path_once_per_key(app: App) {
    app.import(&app.a_member, SAMPLE_CSV).await;
    let ann = app
        .store(|s| {
            let q = LeadQuery {
                filter: LeadFilter {
                    text: Some("ann@acme.example".into()),
                    ..LeadFilter::default()
                },
                ..LeadQuery::default()
            };
            s.query_leads(A, &q).unwrap().leads[0].id
        })
        .await;
    let job = held_job(&app, A, "w1").await;
    let body = json!({"worker": "w1", "job": job, "key": "a1:contacts", "tags": ["enriched"],
    "leads": [
        {"full_name": "Cara Cole", "email": "cara@acme.example", "title": "CFO", "website": "acme.example"},
        {"full_name": "Ann Archer", "email": "ANN@acme.example", "title": "Chief Executive"},
        {"full_name": "No Mail", "title": "CTO"},
        {"full_name": "Bad Mail", "email": "not-an-email"},
    ]});
    let before = count_leads(&app, A).await;
    let r = post(&app, "/workers/leads/batch", &body).await;
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    let o = first["outcomes"].as_array().unwrap();
    assert_eq!(o.len(), 4, "{first}");
    assert_eq!(o[0]["outcome"], "inserted", "{first}");
    assert_eq!(o[1]["outcome"], "merged", "{first}");
    assert_eq!(o[1]["lead"], ann, "merged into the imported lead: {first}");
    assert_eq!(o[2]["outcome"], "rejected");
    assert!(
        o[2]["reason"].as_str().unwrap().contains("email"),
        "{first}"
    );
    assert_eq!(o[3]["outcome"], "rejected");
    assert!(o[3]["reason"].as_str().is_some(), "{first}");
    assert_eq!(count_leads(&app, A).await, before + 1);

    // The new lead came through the import path: normalized, source of
    // the job, tagged, its origin a record of the job's batch.
    let cara = o[0]["lead"].as_i64().unwrap();
    let batch = first["batch"].as_i64().unwrap();
    let (lead, batches) = app
        .store(move |s| (s.get_lead(A, cara).unwrap().unwrap(), s.batches(A).unwrap()))
        .await;
    assert_eq!(lead.source, "enrich");
    assert_eq!(lead.tags, vec!["enriched".to_owned()]);
    assert_eq!(lead.first_name.as_deref(), Some("Cara"));
    assert_eq!(lead.provenance.origin.unwrap().record.batch(), batch);
    let b = batches.iter().find(|b| b.id == batch).unwrap();
    assert!(b.name.starts_with(&format!("job-{job}-")), "{b:?}");
    assert_eq!(b.source, "enrich");

    // A retry with the same key gets the same answer and adds nothing.
    let n_batches = batches.len();
    let again: Value = post(&app, "/workers/leads/batch", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, first);
    let batches = app.store(|s| s.batches(A).unwrap().len()).await;
    assert_eq!(batches, n_batches, "no second batch");
    assert_eq!(count_leads(&app, A).await, before + 1);
    // Another key is another batch: the same leads merge.
    let mut other = body.clone();
    other["key"] = json!("a2:contacts");
    let v: Value = post(&app, "/workers/leads/batch", &other)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["outcomes"][0]["outcome"], "merged", "{v}");
    assert_eq!(v["outcomes"][0]["lead"], cara);
    assert_eq!(count_leads(&app, A).await, before + 1);
}

fn rows() -> Value {
    json!([
        {"subject": "acme.example", "provider": "crawl", "kind": "crawl", "outcome": "found",
         "result": {"pages": 3}, "confidence": 0.9},
        {"subject": "acme.example", "provider": "hunter", "kind": "contacts", "outcome": "found",
         "result": [{"name": "Cara Cole"}], "confidence": 0.8, "reasoning": "domain search",
         "input_tokens": 0, "output_tokens": 0, "cost_micros": 10000},
    ])
}

async fn enrichment_rows_are_recorded_once_for_the_job_s_company(app: App) {
    let cid = seed_company(&app, A, "Acme", Some("acme.com"), "CA").await;
    let job = enqueue(&app, A, types::ENRICH_COMPANY, json!({"company_id": cid})).await;
    let jobs = claim(&app, "w1").await;
    let claimed = jobs.iter().find(|j| j["id"] == job).unwrap();
    // The server looked the domain up for the worker.
    let payload: Value = serde_json::from_str(claimed["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, json!({"company_id": cid, "domain": "acme.com"}));

    let body = json!({"worker": "w1", "job": job, "key": "a1:steps", "company_id": cid,
        "rows": rows(),
        "cache": [{"provider": "hunter", "kind": "contacts", "key": "k1", "value": [{"name": "Cara Cole"}]}]});
    let r = post(&app, "/workers/enrichments/create", &body).await;
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["ids"].as_array().unwrap().len(), 2, "{first}");
    let again: Value = post(&app, "/workers/enrichments/create", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, first, "a retry gets the first answer");
    let (steps, totals, cached, other_ws) = app
        .store(|s| {
            (
                s.enrichments_of(A, "acme.example").unwrap(),
                s.enrichment_totals(A).unwrap(),
                s.cached_enrichment(A, "hunter", "contacts", "k1").unwrap(),
                s.enrichment_totals(B).unwrap(),
            )
        })
        .await;
    assert_eq!(steps.len(), 2, "recorded once: {steps:?}");
    assert_eq!(steps[1].step.provider, "hunter");
    assert_eq!(steps[1].step.company_id, Some(cid));
    assert_eq!(steps[1].step.cost_micros, 10000);
    assert_eq!(steps[1].step.reasoning.as_deref(), Some("domain search"));
    assert_eq!(totals.cost_micros, 10000);
    assert_eq!(cached.as_deref(), Some(r#"[{"name":"Cara Cole"}]"#));
    assert_eq!(other_ws.steps, 0);
}

async fn the_monthly_budget_holds_across_local_and_remote_workers(app: App) {
    // The server's default budget: 100 dollars a month per workspace.
    let job = held_job(&app, A, "w1").await;
    let reserve =
        |key: &str, micros: u64| json!({"worker": "w1", "job": job, "key": key, "micros": micros});
    let granted = |v: Value| v["granted"].as_bool().unwrap();
    let r = post(
        &app,
        "/workers/enrichments/reserve",
        &reserve("r1", 60_000_000),
    )
    .await;
    assert!(granted(r.json().await.unwrap()));
    // A retry is not a second reservation.
    let r = post(
        &app,
        "/workers/enrichments/reserve",
        &reserve("r1", 60_000_000),
    )
    .await;
    assert!(granted(r.json().await.unwrap()));
    // A local worker's reservation comes from the same ledger.
    let local = app
        .store(|s| enrich_job::reserve_month(s, A, 30_000_000, Some(100_000_000)))
        .await;
    assert!(local);
    let r = post(
        &app,
        "/workers/enrichments/reserve",
        &reserve("r2", 20_000_000),
    )
    .await;
    assert!(!granted(r.json().await.unwrap()), "60 + 30 + 20 > 100");
    // The worker side: the waterfall's ledger asks the server.
    let http = Arc::new(HttpSource::new(&app.base, SECRET, http_opts()).unwrap());
    let held = app
        .store(move |s| s.held_jobs("w1", &[job]).unwrap().remove(0))
        .await;
    let ledger = RemoteLedger::new(http, "w1".into(), &held);
    assert!(
        ledger.reserve_month(10_000_000, None).await,
        "90 + 10 = 100"
    );
    assert!(!ledger.reserve_month(1, None).await, "the budget is spent");
    let month: String = leadgen_core::ads::date_of_ms(leadgen_server::now_ms())
        .chars()
        .take(7)
        .collect();
    let (spent_a, spent_b) = app
        .store(move |s| {
            (
                s.spend_on(A, &month).unwrap(),
                s.spend_on(B, &month).unwrap(),
            )
        })
        .await;
    assert_eq!(spent_a, vec![("enrich".to_owned(), 100_000_000)]);
    assert!(spent_b.is_empty(), "{spent_b:?}");
}

async fn writes_need_the_job_held_by_the_calling_worker(app: App) {
    let job = held_job(&app, A, "w1").await;
    let pending = enqueue(
        &app,
        A,
        types::ENRICH_COMPANY,
        json!({"domain": "b.example"}),
    )
    .await;
    let lead = json!([{"email": "x@acme.example"}]);
    for (worker, id, why) in [
        ("w2", job, "another worker's job"),
        ("w1", pending, "a job nobody claimed"),
        ("w1", 999_999, "no such job"),
    ] {
        for (path, body) in [
            (
                "/workers/leads/batch",
                json!({"worker": worker, "job": id, "key": "k", "leads": lead}),
            ),
            (
                "/workers/enrichments/create",
                json!({"worker": worker, "job": id, "key": "k", "rows": rows()}),
            ),
            (
                "/workers/enrichments/reserve",
                json!({"worker": worker, "job": id, "key": "k", "micros": 1}),
            ),
        ] {
            let r = post(&app, path, &body).await;
            assert_eq!(r.status(), 409, "{path} for {why}");
            assert_eq!(error_code(r).await, "conflict", "{path} for {why}");
        }
    }
    // Once completed, the job is no longer the worker's either.
    let r = post(
        &app,
        "/workers/jobs/complete",
        &json!({"worker": "w1", "jobs": [{"id": job, "result": {}}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &app,
        "/workers/leads/batch",
        &json!({"worker": "w1", "job": job, "key": "late", "leads": lead}),
    )
    .await;
    assert_eq!(r.status(), 409);
    let (leads, steps) = app
        .store(|s| {
            (
                s.count_leads(A, &LeadFilter::default()).unwrap(),
                s.enrichment_totals(A).unwrap().steps,
            )
        })
        .await;
    assert_eq!((leads, steps), (0, 0), "nothing was written");
}

async fn a_job_of_one_workspace_cannot_write_into_another(app: App) {
    let company_a = seed_company(&app, A, "Acme", Some("acme.com"), "CA").await;
    app.import(&app.a_member, SAMPLE_CSV).await;
    let lead_a = app
        .store(|s| s.query_leads(A, &LeadQuery::default()).unwrap().leads[0].id)
        .await;
    let job_b = held_job(&app, B, "w1").await;
    let leads_a = count_leads(&app, A).await;
    let r = post(
        &app,
        "/workers/leads/batch",
        &json!({"worker": "w1", "job": job_b, "key": "k",
                "leads": [{"email": "ann@acme.example", "full_name": "Ann Archer"}]}),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcomes"][0]["outcome"], "inserted", "a lead of B: {v}");
    assert_eq!(count_leads(&app, A).await, leads_a, "A unchanged");
    assert_eq!(count_leads(&app, B).await, 1);
    for (field, id) in [("company_id", company_a), ("lead_id", lead_a)] {
        let mut body =
            json!({"worker": "w1", "job": job_b, "key": format!("k-{field}"), "rows": rows()});
        body[field] = json!(id);
        let r = post(&app, "/workers/enrichments/create", &body).await;
        assert_eq!(r.status(), 422, "{field} of A for a job of B");
        assert_eq!(error_code(r).await, "unprocessable");
    }
    let steps = app
        .store(|s| {
            (
                s.enrichment_totals(A).unwrap().steps,
                s.enrichment_totals(B).unwrap().steps,
            )
        })
        .await;
    assert_eq!(steps, (0, 0));
}

async fn malformed_writes_get_4xx_in_the_error_shape(app: App) {
    let job = held_job(&app, A, "w1").await;
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"email": format!("p{i}@x.example")}))
        .collect();
    let cases: Vec<(&str, Value)> = vec![
        ("/workers/leads/batch", json!("not an object")),
        (
            "/workers/leads/batch",
            json!({"worker": "w1", "job": job, "leads": []}),
        ),
        (
            "/workers/leads/batch",
            json!({"worker": "w1", "job": job, "key": "", "leads": []}),
        ),
        (
            "/workers/leads/batch",
            json!({"worker": "", "job": job, "key": "k", "leads": []}),
        ),
        (
            "/workers/leads/batch",
            json!({"worker": "w1", "job": job, "key": "k", "leads": [{"email": 5}]}),
        ),
        (
            "/workers/leads/batch",
            json!({"worker": "w1", "job": job, "key": "k", "leads": many}),
        ),
        (
            "/workers/leads/batch",
            json!({"worker": "w1", "job": job, "key": "k", "tags": [""], "leads": []}),
        ),
        (
            "/workers/enrichments/create",
            json!({"worker": "w1", "job": job, "key": "k"}),
        ),
        (
            "/workers/enrichments/create",
            json!({"worker": "w1", "job": job, "key": "k",
            "rows": [{"subject": "s", "provider": "", "kind": "k", "outcome": "found", "result": null}]}),
        ),
        (
            "/workers/enrichments/create",
            json!({"worker": "w1", "job": job, "key": "k", "rows": [],
            "cache": [{"provider": "worker", "kind": "k", "key": "k", "value": 1}]}),
        ),
        (
            "/workers/enrichments/reserve",
            json!({"worker": "w1", "job": job, "key": "k"}),
        ),
        (
            "/workers/enrichments/reserve",
            json!({"worker": "w1", "job": "one", "key": "k", "micros": 1}),
        ),
    ];
    for (path, body) in cases {
        let r = post(&app, path, &body).await;
        assert_eq!(r.status(), 422, "{path} {body}");
        error_code(r).await;
    }
    let r = app
        .http
        .post(app.url("/workers/leads/batch"))
        .bearer_auth(SECRET)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    error_code(r).await;
    assert_eq!(count_leads(&app, A).await, 0);
}

fn enrich_config(dir: &std::path::Path) -> Arc<Config> {
    let conf = dir.join("leadgen.toml");
    std::fs::write(
        &conf,
        "[jobs]\ndefault_schedules = false\n[enrich]\nllm = \"none\"\nallow_private_network = true\n\
         [enrich.waterfall]\ncompany = [\"crawl\"]\ncontacts = [\"crawl\"]\nemail = [\"crawl\"]\n",
    )
    .unwrap();
    let env = HashMap::from([(
        "LEADGEN_DATA_DIR".to_owned(),
        dir.join("data").display().to_string(),
    )]);
    Arc::new(Config::load(Some(&conf), &env).unwrap())
}

fn worker(id: &str) -> WorkerOptions {
    let mut o = WorkerOptions::new(id);
    o.until_idle = true;
    o.lease = Duration::from_secs(30);
    o
}

async fn enrich_company_on_a_remote_worker_stores_what_the_local_handler_stores(app: App) {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = enrich_config(dir.path());
    let lookup: EnvLookup = Arc::new(|_: &str| None);
    let url = sites.ip_url("riverhelpers.org").unwrap();
    let payload = json!({ "domain": url });
    // Workspace A through a remote worker, B through the local handler.
    enqueue(&app, A, types::ENRICH_COMPANY, payload.clone()).await;
    let http = Arc::new(HttpSource::new(&app.base, SECRET, http_opts()).unwrap());
    let mut reg =
        leadgen_app::remote_jobs::registry(http.clone(), Some(config.clone()), lookup.clone());
    reg.restrict(&[types::ENRICH_COMPANY.to_owned()]).unwrap();
    let rep = drain(Arc::new(Remote(http)), reg, worker("remote-enrich")).await;
    assert_eq!((rep.completed, rep.failed), (1, 0), "{rep:?}");

    enqueue(&app, B, types::ENRICH_COMPANY, payload).await;
    let mut reg = Registry::new();
    reg.register(enrich_job::company_spec(config.clone(), lookup));
    let rep = drain(
        Arc::new(StoreSource(app.store.clone())),
        reg,
        worker("local-enrich"),
    )
    .await;
    assert_eq!((rep.completed, rep.failed), (1, 0), "{rep:?}");

    let snapshot = move |s: &dyn Store, ws: i64, url: &str| {
        let leads: Vec<(String, Option<String>, String, Vec<String>)> = s
            .query_leads(ws, &LeadQuery::default())
            .unwrap()
            .leads
            .into_iter()
            .map(|l| {
                (
                    l.email.unwrap().as_str().to_owned(),
                    l.title,
                    l.source,
                    l.tags,
                )
            })
            .collect();
        let steps: Vec<(String, String, String, String, Option<f64>, u64)> = s
            .enrichments_of(ws, url)
            .unwrap()
            .into_iter()
            .map(|e| {
                let st = e.step;
                (
                    st.provider,
                    st.kind,
                    st.outcome,
                    st.result,
                    st.confidence,
                    st.cost_micros,
                )
            })
            .collect();
        let validations = s
            .list_jobs(
                ws,
                &JobFilter {
                    job_type: Some(types::VALIDATE_EMAIL.into()),
                    limit: 100,
                    ..JobFilter::default()
                },
            )
            .unwrap()
            .len();
        (leads, steps, validations)
    };
    let (remote, local, results) = app
        .store(move |s| {
            let results: Vec<(JobStatus, Option<String>)> = [A, B]
                .into_iter()
                .map(|ws| {
                    let f = JobFilter {
                        job_type: Some(types::ENRICH_COMPANY.into()),
                        limit: 10,
                        ..JobFilter::default()
                    };
                    let j = s.list_jobs(ws, &f).unwrap().remove(0);
                    (j.status, j.result)
                })
                .collect();
            (snapshot(s, A, &url), snapshot(s, B, &url), results)
        })
        .await;
    assert_eq!(results[0].0, JobStatus::Completed);
    assert_eq!(
        remote.0,
        vec![(
            "kofi@riverhelpers.org".to_owned(),
            Some("Volunteer Coordinator".to_owned()),
            "enrich".to_owned(),
            vec!["enriched".to_owned()]
        )],
        "the remote worker's contacts"
    );
    assert_eq!(remote.0, local.0, "the same leads as the local handler");
    assert!(!remote.1.is_empty(), "steps recorded");
    assert_eq!(remote.1, local.1, "the same enrichment rows");
    assert_eq!((remote.2, local.2), (1, 1), "a validate_email per lead");
    // The same job result but for the lead ids (ids are global).
    let summary = |r: &Option<String>| {
        let mut v: Value = serde_json::from_str(r.as_deref().unwrap()).unwrap();
        assert_eq!(v["leads"].as_array().unwrap().len(), 1, "{v}");
        v["leads"] = Value::Null;
        v
    };
    assert_eq!(summary(&results[0].1), summary(&results[1].1));
}

async fn enrich_lead_on_a_remote_worker_reads_its_lead_in_the_job_s_workspace_only(app: App) {
    app.import(&app.a_member, SAMPLE_CSV).await;
    let ann = app
        .store(|s| {
            let q = LeadQuery {
                filter: LeadFilter {
                    text: Some("ann@acme.example".into()),
                    ..LeadFilter::default()
                },
                ..LeadQuery::default()
            };
            s.query_leads(A, &q).unwrap().leads[0].id
        })
        .await;
    let own = enqueue(&app, A, types::ENRICH_LEAD, json!({"lead_id": ann})).await;
    // A job of B naming A's lead: the server looks the lead up in B.
    let cross = enqueue(&app, B, types::ENRICH_LEAD, json!({"lead_id": ann})).await;
    let dir = tempfile::tempdir().unwrap();
    let http = Arc::new(HttpSource::new(&app.base, SECRET, http_opts()).unwrap());
    let lookup: EnvLookup = Arc::new(|_: &str| None);
    let mut reg =
        leadgen_app::remote_jobs::registry(http.clone(), Some(enrich_config(dir.path())), lookup);
    reg.restrict(&[types::ENRICH_LEAD.to_owned()]).unwrap();
    let rep = drain(Arc::new(Remote(http)), reg, worker("remote-lead")).await;
    assert_eq!((rep.completed, rep.failed), (1, 0), "{rep:?}");
    let (own, cross, validations) = app
        .store(move |s| {
            let f = JobFilter {
                job_type: Some(types::VALIDATE_EMAIL.into()),
                limit: 10,
                ..JobFilter::default()
            };
            (
                s.get_job(A, own).unwrap().unwrap(),
                s.get_job(B, cross).unwrap().unwrap(),
                s.list_jobs(A, &f).unwrap(),
            )
        })
        .await;
    // Ann has an email: nothing to find, as the local handler decides,
    // and her validation is queued.
    assert_eq!(own.status, JobStatus::Completed);
    let result: Value = serde_json::from_str(own.result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"lead": ann, "skipped": "has an email"}));
    assert_eq!(validations.len(), 1, "{validations:?}");
    assert_eq!(validations[0].payload, json!({"lead_id": ann}).to_string());
    assert_eq!(cross.status, JobStatus::Failed, "{cross:?}");
    assert!(
        cross.errors[0].message.contains("no lead"),
        "{:?}",
        cross.errors
    );
}

/// A server on `addr` in a runtime of its own, so that stopping it drops
/// every connection too (as a killed process would).
struct Server {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(store: Arc<dyn Store>, addr: std::net::SocketAddr) -> Server {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, is_ready) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
                let config = Config::load(None, &HashMap::new()).unwrap();
                let state = AppState::new(store, config, opts());
                let app = leadgen_server::router(state)
                    .into_make_service_with_connect_info::<std::net::SocketAddr>();
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
                ready.send(()).unwrap();
                let _ = stopped.await;
            });
            rt.shutdown_background();
        });
        is_ready.recv().unwrap();
        Server {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
    }
}

#[test]
fn a_remote_worker_outlives_a_server_restart() {
    let (_dir, store) = leadgen_store::testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let n = 40u64;
    let jobs: Vec<NewJob> = (0..n)
        .map(|_| NewJob::new(A, types::NOOP, r#"{"sleep_ms": 50}"#))
        .collect();
    store.enqueue(&jobs, leadgen_server::now_ms()).unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = Server::start(store.clone(), addr);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let (report, server) = rt.block_on(async {
        let http_opts = HttpOptions {
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(400),
            // Never give up: only the server's return ends the wait.
            give_up_after: None,
            ..HttpOptions::default()
        };
        let mut o = WorkerOptions::new("survivor");
        o.until_idle = true;
        o.concurrency = 2;
        o.lease = Duration::from_secs(10);
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let url = format!("http://{addr}");
        let worker = tokio::spawn(async move {
            leadgen_app::remote_jobs::work_with(
                &url,
                SECRET,
                http_opts,
                o,
                Some(vec![types::NOOP.to_owned()]),
                rx,
            )
            .await
        });
        // Let it work a little, then take the server away for a while.
        let done = |s: &Arc<dyn Store>| {
            s.queue_stats(A, 0)
                .unwrap()
                .by_status
                .into_iter()
                .find(|(st, _)| *st == JobStatus::Completed)
                .map_or(0, |(_, n)| n)
        };
        while done(&store) < 5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let s = store.clone();
        tokio::task::spawn_blocking(move || server.stop())
            .await
            .unwrap();
        let at_stop = done(&store);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!worker.is_finished(), "the worker waits for the server");
        assert_eq!(
            done(&store),
            at_stop,
            "nothing completes without the server"
        );
        let server = tokio::task::spawn_blocking(move || Server::start(s, addr))
            .await
            .unwrap();
        let report = tokio::time::timeout(Duration::from_secs(15), worker)
            .await
            .expect("the worker finishes once the server is back")
            .unwrap()
            .unwrap();
        (report, server)
    });
    server.stop();
    drop(rt);
    let left: Vec<(JobStatus, u64)> = store.queue_stats(A, 0).unwrap().by_status;
    let completed = left
        .iter()
        .find(|(s, _)| *s == JobStatus::Completed)
        .map_or(0, |(_, n)| *n);
    assert_eq!(completed, n, "every job completed: {left:?} {report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
}
