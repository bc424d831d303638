//! A Google Maps sweep end to end: planned, enqueued as a run, processed by
//! a real worker against the loopback vendor fake, companies merged across
//! ZIP codes and across vendors, enrichment enqueued, counters right; and a
//! run paused and resumed in the middle. On SQLite and PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use leadgen_app::discovery::ads::{MetaAdsPayload, meta_ads_spec_with, start_meta_scan};
use leadgen_app::discovery::google_ads::{
    GoogleAdsPayload, google_ads_spec_with, start_google_scan,
};
use leadgen_app::discovery::linkedin_ads::{
    LinkedinAdsPayload, linkedin_ads_spec_with, start_linkedin_scan,
};
use leadgen_app::discovery::{
    EnvLookup, MapsVendor, SweepRequest, maps_spec_with, plan_sweep, start_sweep,
};
use leadgen_core::job::{JobStatus, RunStatus, types};
use leadgen_core::zipcodes;
use leadgen_integrations::fake::{FAKE_KEY, FAKE_META_TOKEN, FakeMaps, world_search};
use leadgen_integrations::fake_google_ads_transparency::{FakeLibrary, FakeTransparency};
use leadgen_integrations::fake_linkedin_ads::FakeLinkedinAds;
use leadgen_integrations::google_places::PlacesFields;
use leadgen_jobs::{Registry, SystemClock, WorkerOptions, WorkerReport, run_worker};
use leadgen_store::{CompanyFilter, JobFilter, Store, testing};

const WS: i64 = 1;
const ZIPS: [&str; 10] = [
    "10001", "10002", "10003", "10004", "10005", "10006", "10007", "10009", "10010", "10011",
];

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

fn env_for(fake: &FakeMaps) -> EnvLookup {
    let base = fake.base_url();
    Arc::new(move |k: &str| match k {
        "LEADGEN_GOOGLE_PLACES_BASE_URL" | "LEADGEN_SERPAPI_BASE_URL" => Some(base.clone()),
        "LEADGEN_GOOGLE_PLACES_API_KEY" | "LEADGEN_SERPAPI_API_KEY" => Some(FAKE_KEY.into()),
        _ => None,
    })
}

fn registry(fake: &FakeMaps) -> Arc<Registry> {
    let mut r = Registry::new();
    r.register(maps_spec_with(env_for(fake)));
    Arc::new(r)
}

fn request(vendor: MapsVendor, batch: usize) -> SweepRequest {
    SweepRequest {
        query: "dentist".into(),
        states: vec![],
        zips: ZIPS.iter().map(|z| z.to_string()).collect(),
        all_zip_kinds: false,
        max_per_zip: 25,
        vendor,
        fields: PlacesFields::Full,
        batch,
        radius_m: 3000.0,
        cost_micros: None,
    }
}

/// Tests call the (synchronous) store directly, so they are plain tests
/// and run workers on a runtime of their own.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs a worker with `registry` until nothing is left.
fn work_until_idle(store: &Arc<dyn Store>, registry: Arc<Registry>, id: &str) -> WorkerReport {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut o = WorkerOptions::new(id);
    o.until_idle = true;
    o.concurrency = 4;
    runtime()
        .block_on(run_worker(
            store.clone(),
            registry,
            Arc::new(SystemClock),
            o,
            rx,
        ))
        .unwrap()
}

fn drain(store: &Arc<dyn Store>, fake: &FakeMaps) -> WorkerReport {
    work_until_idle(store, registry(fake), "sweeper")
}

/// Place ids the fake world holds for the sweep: the first 25 around
/// each ZIP's centroid.
fn expected_place_ids() -> HashSet<String> {
    ZIPS.iter()
        .flat_map(|z| {
            let z = zipcodes::lookup(z).unwrap();
            world_search("dentist", z.lat, z.lon).into_iter().take(25)
        })
        .map(|b| b.place_id)
        .collect()
}

fn all_companies(store: &dyn Store) -> Vec<leadgen_core::company::Company> {
    let f = CompanyFilter {
        limit: 10_000,
        ..CompanyFilter::default()
    };
    store.list_companies(WS, &f).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn ten_zip_sweep_merges_across_zips_and_vendors(store: Arc<dyn Store>) {
    let fake = FakeMaps::spawn();
    let plan = plan_sweep(&request(MapsVendor::Places, 3)).unwrap();
    assert_eq!((plan.zip_count, plan.job_count), (10, 4));
    let run = start_sweep(&*store, WS, &plan, now()).unwrap();
    let report = drain(&store, &fake);
    assert_eq!(report.completed, 4, "{report:?}");

    let expected = expected_place_ids();
    let companies = all_companies(&*store);
    let place_ids: Vec<&str> = companies
        .iter()
        .filter_map(|c| c.place_id.as_deref())
        .collect();
    let distinct: HashSet<&str> = place_ids.iter().copied().collect();
    assert_eq!(distinct.len(), place_ids.len(), "a place stored twice");
    // Locations of one chain share a website, so they are one company (the
    // domain rule); every other business is a company of its own.
    assert!(distinct.iter().all(|p| expected.contains(*p)));
    let chain = chain_locations(&expected);
    assert_eq!(
        companies.len(),
        expected.len() - chain + usize::from(chain > 0),
        "{} places, {chain} of them one chain",
        expected.len()
    );

    let r = store.get_run(WS, run).unwrap().unwrap();
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!((r.total_jobs, r.completed_jobs, r.failed_jobs), (4, 4, 0));
    assert_eq!(r.companies_found, companies.len() as u64);
    let requests = fake.control().places_requests;
    assert_eq!(requests, 20, "two pages of 20 for 25 results, ten zips");
    assert_eq!(
        r.cost_micros,
        requests * PlacesFields::Full.list_price_micros()
    );

    // One enrich_company job per new company, none twice.
    let f = JobFilter {
        job_type: Some(types::ENRICH_COMPANY.into()),
        limit: 10_000,
        ..JobFilter::default()
    };
    let enrich = store.list_jobs(WS, &f).unwrap();
    assert_eq!(enrich.len(), companies.len());
    let targets: HashSet<&str> = enrich.iter().map(|j| j.payload.as_str()).collect();
    assert_eq!(targets.len(), enrich.len());
    assert!(enrich.iter().all(|j| j.status == JobStatus::Pending));

    // Every company has its listing as a source record.
    let c = &companies[0];
    let origin = c.provenance.origin.unwrap();
    let raw = store.source_record(WS, origin.record).unwrap().unwrap();
    assert_eq!(raw.source, "google_places");
    assert!(
        raw.cells[0].contains(c.place_id.as_deref().unwrap_or("")),
        "{raw:?}"
    );

    // The same sweep through SerpApi finds the same businesses: nothing new.
    let before = companies.len();
    let plan = plan_sweep(&request(MapsVendor::Serpapi, 5)).unwrap();
    let run2 = start_sweep(&*store, WS, &plan, now()).unwrap();
    drain(&store, &fake);
    let after = all_companies(&*store);
    assert_eq!(after.len(), before, "merged across vendors");
    let r2 = store.get_run(WS, run2).unwrap().unwrap();
    assert_eq!((r2.status, r2.companies_found), (RunStatus::Completed, 0));
    let linked: HashMap<i64, usize> = after
        .iter()
        .map(|c| (c.id, c.provenance.linked.len()))
        .collect();
    assert!(
        linked.values().all(|n| *n >= 1),
        "each company links its SerpApi record"
    );
}

/// How many of the sweep's places are locations of the fake world's chain.
fn chain_locations(ids: &HashSet<String>) -> usize {
    let mut chain = HashSet::new();
    for z in ZIPS {
        let z = zipcodes::lookup(z).unwrap();
        for b in world_search("dentist", z.lat, z.lon) {
            if ids.contains(&b.place_id) && b.website.is_some_and(|w| w.contains("brightcare")) {
                chain.insert(b.place_id);
            }
        }
    }
    chain.len()
}

fn a_run_paused_mid_sweep_holds_its_jobs_until_resumed(store: Arc<dyn Store>) {
    let fake = FakeMaps::spawn();
    fake.control().latency = Duration::from_millis(40);
    let plan = plan_sweep(&request(MapsVendor::Places, 1)).unwrap();
    assert_eq!(plan.job_count, 10);
    let run = start_sweep(&*store, WS, &plan, now()).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut o = WorkerOptions::new("pauser");
    o.concurrency = 1;
    o.claim_batch = 1;
    o.idle_poll = Duration::from_millis(50);
    let rt = runtime();
    let worker = rt.spawn(run_worker(
        store.clone(),
        registry(&fake),
        Arc::new(SystemClock),
        o,
        rx,
    ));
    let completed = |s: &Arc<dyn Store>| s.get_run(WS, run).unwrap().unwrap().completed_jobs;
    let deadline = Instant::now() + Duration::from_secs(60);
    while completed(&store) < 2 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        store
            .set_run_status(WS, run, RunStatus::Paused, now())
            .unwrap()
    );
    // What was running when the pause came may finish; nothing new starts.
    std::thread::sleep(Duration::from_millis(600));
    let held = completed(&store);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        completed(&store),
        held,
        "a paused run's jobs are not claimed"
    );
    assert!(held < 10, "paused before the end");
    assert_eq!(
        store.get_run(WS, run).unwrap().unwrap().status,
        RunStatus::Paused
    );
    assert!(
        store
            .set_run_status(WS, run, RunStatus::Running, now())
            .unwrap()
    );
    while store.get_run(WS, run).unwrap().unwrap().status != RunStatus::Completed {
        assert!(Instant::now() < deadline, "the resumed run did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(completed(&store), 10);
    tx.send(true).unwrap();
    rt.block_on(worker).unwrap().unwrap();
}

fn a_vendor_that_refuses_the_key_fails_the_job_at_once(store: Arc<dyn Store>) {
    let fake = FakeMaps::spawn();
    let plan = plan_sweep(&request(MapsVendor::Places, 10)).unwrap();
    let run = start_sweep(&*store, WS, &plan, now()).unwrap();
    let mut r = Registry::new();
    let bad: EnvLookup = {
        let base = fake.base_url();
        Arc::new(move |k: &str| match k {
            "LEADGEN_GOOGLE_PLACES_BASE_URL" => Some(base.clone()),
            "LEADGEN_GOOGLE_PLACES_API_KEY" => Some("wrong".into()),
            _ => None,
        })
    };
    r.register(maps_spec_with(bad));
    let report = work_until_idle(&store, Arc::new(r), "w");
    assert_eq!(report.failed, 1, "{report:?}");
    let jobs = store.list_jobs(WS, &JobFilter::default()).unwrap();
    let job = jobs
        .iter()
        .find(|j| j.job_type == types::SCRAPE_GOOGLE_MAPS)
        .unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Failed, 1));
    assert!(
        job.errors[0]
            .message
            .contains("LEADGEN_GOOGLE_PLACES_API_KEY"),
        "{:?}",
        job.errors
    );
    let r = store.get_run(WS, run).unwrap().unwrap();
    assert_eq!(r.failed_jobs, 1);
    assert_eq!(store.count_companies(WS).unwrap(), 0);
}

fn meta_ads_scan_keeps_active_advertisers_with_a_site(store: Arc<dyn Store>) {
    let fake = FakeMaps::spawn();
    let p = MetaAdsPayload {
        search: "dental implants".into(),
        country: "US".into(),
        min_ads: 3,
        days: 30,
    };
    let run = start_meta_scan(&*store, WS, &p, now()).unwrap();
    let mut r = Registry::new();
    r.register(meta_ads_spec_with(meta_env(&fake)));
    let r = Arc::new(r);
    let report = work_until_idle(&store, r.clone(), "ads");
    assert_eq!(report.completed, 1, "{report:?}");
    // Advertiser k has k + 1 ads, all in the window; those with fewer than
    // three (k < 2) or no site (k = 0, 5, 10, 15) are left out.
    let companies = all_companies(&*store);
    assert_eq!(
        companies.len(),
        15,
        "{:?}",
        companies.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    assert_eq!(fake.control().meta_requests, 3, "210 ads in pages of 100");
    for c in &companies {
        let a = c.meta_ads.as_ref().expect("meta activity");
        let k: u32 = c.domain.as_ref().unwrap().as_str()["advertiser".len()..]
            .trim_end_matches("-fake.com")
            .parse()
            .unwrap();
        assert_eq!(a.ad_count, k + 1, "{c:?}");
        assert!(a.running() && c.ad_platforms() == ["meta"]);
        assert!(
            a.sample_creative
                .as_deref()
                .unwrap()
                .starts_with("dental implants")
        );
    }
    let run = store.get_run(WS, run).unwrap().unwrap();
    assert_eq!(
        (run.status, run.companies_found),
        (RunStatus::Completed, 15)
    );
    // A second scan finds the same advertisers: nothing new.
    start_meta_scan(&*store, WS, &p, now() + 1).unwrap();
    work_until_idle(&store, r, "ads");
    assert_eq!(all_companies(&*store).len(), 15);
    // A refused token fails the job at once, naming the variable to set.
    let mut bad = Registry::new();
    bad.register(meta_ads_spec_with(Arc::new(|_: &str| None)));
    start_meta_scan(&*store, WS, &p, now() + 2).unwrap();
    let report = work_until_idle(&store, Arc::new(bad), "ads2");
    assert_eq!(report.failed, 1);
    let f = JobFilter {
        status: Some(JobStatus::Failed),
        ..JobFilter::default()
    };
    let failed = store.list_jobs(WS, &f).unwrap();
    assert!(
        failed[0].errors[0].message.contains("LEADGEN_META_API_KEY"),
        "{:?}",
        failed[0].errors
    );
}

fn a_spent_daily_budget_holds_the_sweep_until_midnight(store: Arc<dyn Store>) {
    let fake = FakeMaps::spawn();
    let base = fake.base_url();
    // $0.10 a day at $0.04 a request: two requests.
    let env: EnvLookup = Arc::new(move |k: &str| match k {
        "LEADGEN_GOOGLE_PLACES_BASE_URL" => Some(base.clone()),
        "LEADGEN_GOOGLE_PLACES_API_KEY" => Some(FAKE_KEY.into()),
        "LEADGEN_GOOGLE_PLACES_DAILY_BUDGET_USD" => Some("0.10".into()),
        _ => None,
    });
    let plan = plan_sweep(&request(MapsVendor::Places, 10)).unwrap();
    let run = start_sweep(&*store, WS, &plan, now()).unwrap();
    let mut r = Registry::new();
    r.register(maps_spec_with(env));
    // The job waits for midnight, so a worker that runs until idle would
    // wait with it: run one until the job has been put back, then stop it.
    let (tx, rx) = tokio::sync::watch::channel(false);
    let rt = runtime();
    let worker = rt.spawn(run_worker(
        store.clone(),
        Arc::new(r),
        Arc::new(SystemClock),
        WorkerOptions::new("budget"),
        rx,
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    let put_back = || {
        store
            .list_jobs(
                WS,
                &JobFilter {
                    run: Some(run),
                    ..JobFilter::default()
                },
            )
            .unwrap()
            .remove(0)
    };
    while put_back().errors.is_empty() {
        assert!(Instant::now() < deadline, "the job never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    tx.send(true).unwrap();
    let report = rt.block_on(worker).unwrap().unwrap();
    assert_eq!((report.completed, report.retried), (0, 1), "{report:?}");
    assert_eq!(fake.control().places_requests, 2);
    let today = leadgen_core::ads::date_of_ms(now());
    assert_eq!(
        store.spend_on(WS, &today).unwrap(),
        [("google_places".to_string(), 80_000)]
    );
    let job = store
        .list_jobs(
            WS,
            &JobFilter {
                run: Some(run),
                ..JobFilter::default()
            },
        )
        .unwrap()
        .remove(0);
    assert_eq!(job.status, JobStatus::Pending);
    // Midnight UTC, plus the few ms between the refusal and the reschedule.
    assert!(
        job.run_at % 86_400_000 < 5_000,
        "waits for midnight UTC: {}",
        job.run_at
    );
    assert!(job.run_at > now());
    assert!(
        job.errors[0].message.contains("daily budget"),
        "{:?}",
        job.errors
    );
}

fn library_env(google: &FakeLibrary, linkedin: &FakeLibrary) -> EnvLookup {
    let (g, l) = (google.base_url(), linkedin.base_url());
    Arc::new(move |k: &str| match k {
        "LEADGEN_GOOGLE_ADS_TRANSPARENCY_BASE_URL" => Some(g.clone()),
        "LEADGEN_LINKEDIN_ADS_BASE_URL" => Some(l.clone()),
        _ => None,
    })
}

fn google_and_linkedin_scans_find_the_same_advertisers(store: Arc<dyn Store>) {
    let (google, linkedin) = (FakeTransparency::spawn(), FakeLinkedinAds::spawn());
    let mut r = Registry::new();
    r.register(google_ads_spec_with(library_env(&google, &linkedin)));
    r.register(linkedin_ads_spec_with(library_env(&google, &linkedin)));
    let r = Arc::new(r);
    let g = GoogleAdsPayload {
        keyword: "crm software".into(),
        advertiser_ids: vec![],
        region: Some("US".into()),
        min_ads: 3,
        days: 30,
    };
    let run = start_google_scan(&*store, WS, &g, now()).unwrap();
    let report = work_until_idle(&store, r.clone(), "google");
    assert_eq!(report.completed, 1, "{report:?}");
    assert_eq!(google.control().requests, 6, "210 creatives in pages of 40");
    // As on Meta: advertisers with at least three ads and a site.
    let companies = all_companies(&*store);
    assert_eq!(companies.len(), 15);
    for c in &companies {
        let a = c.google_ads.as_ref().expect("google activity");
        let k: u32 = c.domain.as_ref().unwrap().as_str()["advertiser".len()..]
            .trim_end_matches("-fake.com")
            .parse()
            .unwrap();
        assert_eq!(a.ad_count, k + 1, "{c:?}");
        assert_eq!(
            c.ad_platforms(),
            ["google"],
            "shown until yesterday: running"
        );
        assert!(
            c.custom
                .iter()
                .any(|(f, v)| f == "google_advertiser_id" && v == &format!("AR10{k:04}"))
        );
    }
    let run = store.get_run(WS, run).unwrap().unwrap();
    assert_eq!(
        (run.status, run.companies_found),
        (RunStatus::Completed, 15)
    );

    // LinkedIn, for five advertisers by company id: 4 has a site, 5 none.
    let l = LinkedinAdsPayload {
        keyword: None,
        company_ids: (2..=6).map(|k| format!("10{k:04}")).collect(),
        countries: vec!["US".into()],
        min_ads: 3,
        days: 30,
    };
    let run = start_linkedin_scan(&*store, WS, &l, now()).unwrap();
    let report = work_until_idle(&store, r.clone(), "linkedin");
    assert_eq!(report.completed, 1, "{report:?}");
    assert_eq!(linkedin.control().requests, 2, "25 ads in pages of 24");
    let companies = all_companies(&*store);
    assert_eq!(companies.len(), 15, "the same companies, merged by domain");
    let on_linkedin: Vec<_> = companies
        .iter()
        .filter(|c| c.linkedin_ads.is_some())
        .collect();
    assert_eq!(on_linkedin.len(), 4, "advertisers 2, 3, 4 and 6");
    for c in on_linkedin {
        assert_eq!(c.ad_platforms(), ["google", "linkedin"]);
        let li = c.linkedin.as_ref().expect("the company page");
        assert!(li.as_str().contains("linkedin.com/company/10000"), "{li:?}");
    }
    let run = store.get_run(WS, run).unwrap().unwrap();
    assert_eq!(
        (run.status, run.companies_found),
        (RunStatus::Completed, 0),
        "none new"
    );

    // Requests the scan could not read are refused before they are queued.
    let bad = LinkedinAdsPayload {
        company_ids: vec!["acme".into()],
        ..l
    };
    assert!(start_linkedin_scan(&*store, WS, &bad, now()).is_err());
    let nothing = GoogleAdsPayload {
        keyword: " ".into(),
        ..g
    };
    assert!(start_google_scan(&*store, WS, &nothing, now()).is_err());
}

fn meta_env(fake: &FakeMaps) -> EnvLookup {
    let base = fake.base_url();
    Arc::new(move |k: &str| match k {
        "LEADGEN_META_BASE_URL" => Some(base.clone()),
        "LEADGEN_META_API_KEY" => Some(FAKE_META_TOKEN.into()),
        _ => None,
    })
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
    ten_zip_sweep_merges_across_zips_and_vendors,
    a_run_paused_mid_sweep_holds_its_jobs_until_resumed,
    a_vendor_that_refuses_the_key_fails_the_job_at_once,
    meta_ads_scan_keeps_active_advertisers_with_a_site,
    a_spent_daily_budget_holds_the_sweep_until_midnight,
    google_and_linkedin_scans_find_the_same_advertisers,
);
