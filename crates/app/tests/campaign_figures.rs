//! The push figure of issue 7, run by hand (ignored by default; release for
//! the reported numbers):
//! `cargo test --release -p leadgen-app --all-features --test campaign_figures -- --ignored --nocapture`.
//!
//! 100,000 leads pushed by the `push_to_instantly` job to the loopback fake
//! Instantly, which enforces the documented limit (100 requests/s and
//! 6,000/min, 429 beyond), twice: in batches of 1,000 (100 requests: our
//! side's speed) and in batches of 10 (10,000 requests: the rate limit is
//! what bounds it). `LEADGEN_FIGURE_LEADS` changes the count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leadgen_app::campaigns::{self, push_spec_with};
use leadgen_app::discovery::EnvLookup;
use leadgen_integrations::fake_instantly::{FAKE_INSTANTLY_KEY, FakeInstantly};
use leadgen_jobs::{Registry, SystemClock, WorkerOptions, run_worker};
use leadgen_store::{Store, testing};

const WS: i64 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn push_100k_leads_to_a_rate_limited_instantly() {
    let n: u64 = std::env::var("LEADGEN_FIGURE_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let s = store.clone();
    tokio::task::spawn_blocking(move || {
        testing::insert_leads(&*s, WS, "figure", |b| {
            (0..n)
                .map(|i| {
                    let mut l = testing::lead_with_email(b, i + 2, &format!("p{i}@x{i}.com"));
                    l.first_name = Some(format!("P{i}"));
                    l.company_name = Some(format!("Company {i}"));
                    l.score = 80;
                    l
                })
                .collect()
        })
        .unwrap();
    })
    .await
    .unwrap();

    for batch in [1000usize, 10] {
        let instantly = FakeInstantly::spawn();
        let base = instantly.base_url();
        let env: EnvLookup = Arc::new(move |k: &str| match k {
            "LEADGEN_INSTANTLY_BASE_URL" => Some(base.clone()),
            "LEADGEN_INSTANTLY_API_KEY" => Some(FAKE_INSTANTLY_KEY.into()),
            _ => None,
        });
        let mut registry = Registry::new();
        registry.register(push_spec_with(env));
        let s = store.clone();
        let id = tokio::task::spawn_blocking(move || {
            let (id, members) =
                campaigns::create(&*s, WS, &format!("Figure {batch}"), "score >= 0", 1).unwrap();
            assert_eq!(members, n);
            campaigns::enqueue_push(&*s, WS, id, batch, 2).unwrap();
            id
        })
        .await
        .unwrap();

        // Requests the fake saw, sampled every second.
        let control = instantly.control.clone();
        let per_s = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
        let samples = per_s.clone();
        let sampler = tokio::spawn(async move {
            let mut last = 0u64;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = control.lock().unwrap().requests;
                samples.lock().unwrap().push(now - last);
                last = now;
            }
        });
        let started = Instant::now();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let mut o = WorkerOptions::new("figure");
        o.until_idle = true;
        run_worker(
            store.clone(),
            Arc::new(registry),
            Arc::new(SystemClock),
            o,
            rx,
        )
        .await
        .unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        sampler.abort();
        let per_s = per_s.lock().unwrap().clone();
        let busiest_second = per_s.iter().max().copied().unwrap_or(0);
        let busiest_minute = per_s.windows(60).map(|w| w.iter().sum::<u64>()).max();

        let s = store.clone();
        let counts = tokio::task::spawn_blocking(move || s.campaign_counts(WS, id).unwrap())
            .await
            .unwrap();
        assert_eq!(counts.pushed, n);
        let c = instantly.control();
        let iid = c.campaigns.keys().next().cloned().unwrap_or_default();
        assert_eq!(c.lead_count(&iid) as u64, n, "every lead reached Instantly");
        assert!(c.duplicates().is_empty(), "none twice");
        let rps = c.requests as f64 / elapsed;
        println!(
            "push {n} leads in batches of {batch}: {:.1} s, {} requests ({} answered 429), \
             {:.1} requests/s = {:.0} requests/min on average, busiest second {busiest_second}, \
             busiest 60 s {}, {:.0} leads/s",
            elapsed,
            c.requests,
            c.rate_limited,
            rps,
            rps * 60.0,
            busiest_minute.map_or_else(|| "(run shorter than 60 s)".into(), |m| m.to_string()),
            n as f64 / elapsed
        );
    }
}
