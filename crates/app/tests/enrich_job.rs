//! `enrich_company` through a real worker on SQLite: a fixture site on
//! loopback, its contacts stored as leads once, `validate_email` queued.

use std::collections::HashMap;
use std::sync::Arc;

use leadgen_app::config::Config;
use leadgen_app::discovery::EnvLookup;
use leadgen_app::enrich_job;
use leadgen_core::job::{JobStatus, NewJob, types};
use leadgen_enrich::testkit::FixtureSites;
use leadgen_jobs::{Registry, SystemClock, WorkerOptions, run_worker};
use leadgen_store::{JobFilter, LeadQuery, Store, testing};

const WS: i64 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrich_company_stores_contacts_as_leads_and_queues_their_validation() {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("leadgen.toml");
    std::fs::write(
        &conf,
        "[jobs]\ndefault_schedules = false\n[enrich]\nllm = \"none\"\nallow_private_network = true\n\
         [enrich.waterfall]\ncompany = [\"crawl\"]\ncontacts = [\"crawl\"]\nemail = [\"crawl\"]\n",
    )
    .unwrap();
    let env = HashMap::from([(
        "LEADGEN_DATA_DIR".to_owned(),
        dir.path().join("data").display().to_string(),
    )]);
    let config = Arc::new(Config::load(Some(&conf), &env).unwrap());
    let lookup: EnvLookup = Arc::new(|_: &str| None);

    let (_sdir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let url = sites.ip_url("riverhelpers.org").unwrap();
    let payload = serde_json::json!({ "domain": url }).to_string();
    // Twice: the second run merges into the same lead.
    for i in 0..2 {
        let mut j = NewJob::new(WS, types::ENRICH_COMPANY, &payload);
        j.unique_key = Some(format!("enrich-test:{i}"));
        store.enqueue(&[j], 0).unwrap();
        let mut reg = Registry::new();
        reg.register(enrich_job::company_spec(config.clone(), lookup.clone()));
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let mut o = WorkerOptions::new("enrich-test");
        o.until_idle = true;
        let report = run_worker(store.clone(), Arc::new(reg), Arc::new(SystemClock), o, rx)
            .await
            .unwrap();
        let errors: Vec<_> = store
            .list_jobs(
                WS,
                &JobFilter {
                    limit: 10,
                    ..JobFilter::default()
                },
            )
            .unwrap()
            .into_iter()
            .map(|j| (j.status, j.errors))
            .collect();
        assert_eq!(report.completed, 1, "{report:?} {errors:?}");
    }
    let leads = store.query_leads(WS, &LeadQuery::default()).unwrap().leads;
    assert_eq!(leads.len(), 1, "{leads:?}");
    assert_eq!(
        leads[0].email.as_ref().unwrap().as_str(),
        "kofi@riverhelpers.org"
    );
    assert_eq!(leads[0].title.as_deref(), Some("Volunteer Coordinator"));
    let validations = store
        .list_jobs(
            WS,
            &JobFilter {
                job_type: Some(types::VALIDATE_EMAIL.into()),
                limit: 100,
                ..JobFilter::default()
            },
        )
        .unwrap();
    assert_eq!(validations.len(), 1, "one validate_email per lead");
    assert_eq!(validations[0].status, JobStatus::Pending);
    let steps = store.enrichments_of(WS, &url).unwrap();
    assert!(
        steps.iter().any(|s| s.step.provider == "crawl"),
        "{steps:?}"
    );
}
