//! Intent data end to end, on SQLite and PostgreSQL: a run pulls the
//! active queries from the loopback provider and sets lead levels; CSV and
//! webhook signals land once with their refusals explained; weekly trends,
//! the breakdown and the leads ready for upload.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use leadgen_app::import::{ImportOptions, import_csv};
use leadgen_app::intent::{
    IntentColumn, import_intent_csv, ingest_webhook, ready_leads, run_intent, save_query, stats,
    trends,
};
use leadgen_core::geo::Country;
use leadgen_core::intent::{ActiveQuery, Direction};
use leadgen_core::lead::IntentLevel;
use leadgen_core::score::ScoringRules;
use leadgen_integrations::ServiceConfig;
use leadgen_integrations::fake::FAKE_KEY;
use leadgen_integrations::fake_intent::FakeIntent;
use leadgen_integrations::http::{HttpClient, RetryPolicy};
use leadgen_integrations::intent::DataShopperClient;
use leadgen_store::{LeadFilter, LeadQuery, Store, testing};

const WS: i64 = 1;
const DAY: i64 = 86_400_000;
/// 2026-11-30T12:00:00Z.
const NOW: i64 = 1_796_040_000_000;

fn sqlite() -> (Option<tempfile::TempDir>, Arc<dyn Store>) {
    let (dir, s) = testing::sqlite_store();
    (Some(dir), Arc::new(s))
}

fn postgres() -> Option<(Option<tempfile::TempDir>, Arc<dyn Store>)> {
    let url = testing::pg_url()?;
    Some((
        None,
        Arc::new(leadgen_store::postgres::PgStore::connect(&url).unwrap()),
    ))
}

/// Leads at the fake world's companies 0–5, imported from a CSV.
fn import_leads(store: &dyn Store, dir: &Path) {
    let path = dir.join("leads.csv");
    let mut csv = String::from("email,first name,last name,company domain\n");
    for i in 0..6 {
        csv.push_str(&format!(
            "lead{i}@intent{i}-fake.com,Ann,Lee{i},intent{i}-fake.com\n"
        ));
    }
    csv.push_str("nobody@elsewhere.com,Bo,Ray,elsewhere.com\n");
    std::fs::write(&path, csv).unwrap();
    let opts = ImportOptions {
        path,
        overrides: Vec::new(),
        tags: Vec::new(),
        source: "csv_upload".into(),
        default_country: Country::US,
        rules: ScoringRules::default(),
        source_priority: Default::default(),
        workspace: WS,
        staging_bytes: leadgen_app::import::STAGING_BYTES,
    };
    import_csv(store, &opts, &|_| {}).unwrap();
}

fn level_of(store: &dyn Store, email: &str) -> IntentLevel {
    let q = LeadQuery {
        filter: LeadFilter {
            text: Some(email.into()),
            ..LeadFilter::default()
        },
        ..LeadQuery::default()
    };
    store.query_leads(WS, &q).unwrap().leads[0].intent
}

fn client(fake: &FakeIntent) -> DataShopperClient {
    DataShopperClient::new(ServiceConfig {
        base_url: fake.base_url(),
        api_key: Some(FAKE_KEY.into()),
    })
    .unwrap()
    .with_http(
        HttpClient::new("datashopper", Duration::from_secs(5))
            .unwrap()
            .with_policy(RetryPolicy {
                retries: 1,
                base_delay: Duration::from_millis(10),
                max_wait: Duration::from_secs(1),
            }),
    )
}

fn a_run_pulls_active_queries_and_sets_lead_levels(store: Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    import_leads(&*store, dir.path());
    let fake = FakeIntent::spawn();
    fake.faults().today = Some("2026-11-30".into());
    for topic in [
        "CRM Software",
        "sales automation",
        "lead scoring",
        "email outreach",
    ] {
        let q = ActiveQuery {
            topic: topic.into(),
            country: Some("US".into()),
            states: vec![],
            min_size: None,
            max_size: None,
            industries: vec![],
            limit: 20,
        };
        save_query(&*store, WS, q, NOW).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = client(&fake);
    let summary = rt.block_on(run_intent(store.clone(), WS, &c, NOW)).unwrap();
    // Each topic: 20 of 30 companies in one page of 20.
    assert_eq!(
        (summary.queries, summary.pages, summary.received),
        (4, 4, 80)
    );
    assert_eq!((summary.added, summary.rejected), (80, 0));
    assert_eq!(
        fake.state().topics[0],
        "crm software",
        "topics are kept lower-case"
    );
    // Four high signals: hot; four medium: warm; low ones: cold.
    assert_eq!(
        level_of(&*store, "lead0@intent0-fake.com"),
        IntentLevel::Hot
    );
    assert_eq!(
        level_of(&*store, "lead1@intent1-fake.com"),
        IntentLevel::Warm
    );
    assert_eq!(
        level_of(&*store, "lead2@intent2-fake.com"),
        IntentLevel::Cold
    );
    assert_eq!(
        level_of(&*store, "lead3@intent3-fake.com"),
        IntentLevel::Hot
    );
    assert_eq!(level_of(&*store, "nobody@elsewhere.com"), IntentLevel::Cold);
    assert_eq!(summary.leads_changed, 4, "leads 0, 1, 3 and 4");
    // A second run adds nothing and changes nothing.
    let again = rt.block_on(run_intent(store.clone(), WS, &c, NOW)).unwrap();
    assert_eq!((again.added, again.leads_changed), (0, 0));
    let s = stats(&*store, WS, NOW).unwrap();
    assert_eq!((s.leads.hot, s.leads.warm, s.leads.cold), (2, 2, 3));
    assert_eq!(s.leads.total, 7);
    // Companies with signals in the last 30 days: 0–10 (3i ≤ 30 days).
    assert_eq!(s.companies.total, 11, "{s:?}");
    assert_eq!(s.companies.hot, 4, "companies 0, 3, 6, 9");
    let ready = ready_leads(&*store, WS, 0, false, 100).unwrap();
    let emails: Vec<&str> = ready
        .iter()
        .filter_map(|l| l.email.as_ref().map(|e| e.as_str()))
        .collect();
    assert_eq!(emails.len(), 4, "{emails:?}");
    assert!(
        emails[..2]
            .iter()
            .all(|e| ["lead0@intent0-fake.com", "lead3@intent3-fake.com"].contains(e)),
        "hot first: {emails:?}"
    );
    // Out of credits: the run fails with what to do, nothing changes.
    fake.state().out_of_credits = true;
    let err = rt
        .block_on(run_intent(store.clone(), WS, &c, NOW))
        .unwrap_err();
    assert!(err.to_string().contains("credits"), "{err}");
}

fn csv_and_webhook_signals_land_once_with_refusals_explained(store: Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    import_leads(&*store, dir.path());
    let path = dir.path().join("bombora-export.csv");
    let date = |days_ago: i64| leadgen_core::ads::date_of_ms(NOW - days_ago * DAY);
    let mut csv = String::from("Account Website;Intent Topic;Composite Score;Week;Comment\n");
    for (domain, topic, score, ago) in [
        ("intent5-fake.com", "crm", "92", 1),
        ("intent5-fake.com", "erp", "88", 2),
        ("intent5-fake.com", "hr", "75", 3),
        ("intent4-fake.com", "crm", "45", 9),
        ("intent4-fake.com", "crm", "45", 10),
        ("not a site", "crm", "80", 1),
        ("intent4-fake.com", "crm", "", 1),
        ("intent4-fake.com", "", "80", 1),
        ("intent4-fake.com", "crm", "180", 1),
    ] {
        csv.push_str(&format!("{domain};{topic};{score};{};x\n", date(ago)));
    }
    std::fs::write(&path, &csv).unwrap();
    let s = import_intent_csv(&*store, WS, &path, &[], NOW).unwrap();
    assert_eq!(
        (s.received, s.added, s.rejected, s.duplicates),
        (9, 6, 3, 0),
        "{s:?}"
    );
    let rejects = std::fs::read_to_string(s.rejects_file.as_ref().unwrap()).unwrap();
    assert!(
        rejects.contains("not a site") && rejects.contains("180"),
        "{rejects}"
    );
    assert_eq!(
        level_of(&*store, "lead5@intent5-fake.com"),
        IntentLevel::Hot
    );
    let again = import_intent_csv(&*store, WS, &path, &[], NOW).unwrap();
    assert_eq!((again.added, again.duplicates), (0, 6));
    // Named columns instead of found ones.
    let odd = dir.path().join("odd.csv");
    std::fs::write(&odd, "acct,subject\nintent4-fake.com,payroll\n").unwrap();
    assert!(import_intent_csv(&*store, WS, &odd, &[], NOW).is_err());
    let named = [
        (IntentColumn::Domain, "acct".to_owned()),
        (IntentColumn::Topic, "subject".to_owned()),
    ];
    assert_eq!(
        import_intent_csv(&*store, WS, &odd, &named, NOW)
            .unwrap()
            .added,
        1
    );

    // A vendor's webhook: nested company, numbers, one bad signal.
    let body = serde_json::json!({"signals": [
        {"company": {"domain": "intent4-fake.com"}, "topic": "crm", "intent_score": 50, "detected_at": date(2)},
        {"email": "lead4@intent4-fake.com", "topic": "crm", "strength": "medium", "detected_at": date(1)},
        {"topic": "crm", "score": 90},
    ]});
    let w = ingest_webhook(&*store, WS, "g2", body.to_string().as_bytes(), NOW).unwrap();
    assert_eq!((w.received, w.added, w.rejected), (3, 2, 1), "{w:?}");
    assert_eq!(w.errors[0].0, 2);
    assert!(w.errors[0].1.contains("domain"), "{:?}", w.errors);
    // 4 medium: two from the CSV, the webhook's two.
    assert_eq!(
        level_of(&*store, "lead4@intent4-fake.com"),
        IntentLevel::Warm
    );
    assert!(ingest_webhook(&*store, WS, "g2", b"not json", NOW).is_err());
    assert!(ingest_webhook(&*store, WS, "../x", b"[]", NOW).is_err());

    // crm: 2 (CSV; a row without a score is a low signal) + 2 (webhook)
    // this week, 2 the week before.
    let t = trends(&*store, WS, NOW, 8).unwrap();
    let crm = t.iter().find(|t| t.topic == "crm").unwrap();
    assert_eq!((crm.this_week, crm.previous_week), (4, 2), "{crm:?}");
    assert_eq!(
        (crm.change_pct, crm.direction),
        (Some(100.0), Direction::Up)
    );
    assert_eq!(crm.weekly.len(), 8);
}

/// Runs one `run_intent` job through a worker whose environment is `env`;
/// the finished job.
fn run_job(store: &Arc<dyn Store>, env: Vec<(&'static str, String)>) -> leadgen_core::job::Job {
    use leadgen_jobs::{Registry, SystemClock, WorkerOptions, run_worker};
    let env: std::collections::HashMap<&str, String> = env.into_iter().collect();
    let lookup: leadgen_app::discovery::EnvLookup = Arc::new(move |k: &str| env.get(k).cloned());
    let mut registry = Registry::new();
    registry.register(leadgen_app::intent::run_spec_with(lookup));
    let job = leadgen_core::job::NewJob::new(WS, leadgen_core::job::types::RUN_INTENT, "{}");
    let id = store.enqueue(&[job], NOW).unwrap()[0].unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut o = WorkerOptions::new("intent-test");
    o.until_idle = true;
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run_worker(
            store.clone(),
            Arc::new(registry),
            Arc::new(SystemClock),
            o,
            rx,
        ))
        .unwrap();
    store.get_job(WS, id).unwrap().unwrap()
}

fn the_daily_run_is_a_job_that_skips_without_a_provider(store: Arc<dyn Store>) {
    use leadgen_core::job::JobStatus;
    let fake = FakeIntent::spawn();
    let env = || {
        vec![
            ("LEADGEN_DATASHOPPER_BASE_URL", fake.base_url()),
            ("LEADGEN_DATASHOPPER_API_KEY", FAKE_KEY.to_owned()),
        ]
    };
    // No key: nothing to pull, and not a failure every day.
    let job = run_job(&store, vec![]);
    assert_eq!(job.status, JobStatus::Completed);
    assert!(
        job.result
            .as_deref()
            .unwrap_or("")
            .contains("LEADGEN_DATASHOPPER_API_KEY"),
        "{:?}",
        job.result
    );
    // A key but no active query: also skipped.
    let job = run_job(&store, env());
    assert!(
        job.result
            .as_deref()
            .unwrap_or("")
            .contains("no active intent queries"),
        "{:?}",
        job.result
    );
    // With a query, the job pulls it like `leadgen intent run`.
    let q = ActiveQuery {
        topic: "crm software".into(),
        country: Some("US".into()),
        states: vec![],
        min_size: None,
        max_size: None,
        industries: vec![],
        limit: 20,
    };
    save_query(&*store, WS, q, NOW).unwrap();
    let job = run_job(&store, env());
    assert_eq!(job.status, JobStatus::Completed, "{:?}", job.errors);
    let result: serde_json::Value = serde_json::from_str(job.result.as_deref().unwrap()).unwrap();
    assert_eq!(
        (&result["queries"], &result["received"], &result["added"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(20),
            &serde_json::json!(20)
        ),
        "{result}"
    );
}

macro_rules! both {
    ($($t:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $t() { let (_d, s) = super::sqlite(); super::$t(s); } )*
        }
        mod postgres {
            $( #[test] fn $t() { let Some((_d, s)) = super::postgres() else { return }; super::$t(s); } )*
        }
    };
}

both!(
    a_run_pulls_active_queries_and_sets_lead_levels,
    the_daily_run_is_a_job_that_skips_without_a_provider,
    csv_and_webhook_signals_land_once_with_refusals_explained,
);
