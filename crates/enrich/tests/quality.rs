//! Figures on the fixture set: contact recall and precision of the free
//! steps (the crawl's people), and crawl throughput on loopback with the
//! process's peak memory. Run with `--nocapture` to see the numbers; the
//! throughput figure is `--ignored` (a figure, not a timed assertion):
//! `cargo test --release -p leadgen-enrich --all-features --test quality -- --ignored --nocapture`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use leadgen_enrich::testkit::{FixtureSites, fixtures_root, loopback_crawler};
use serde_json::Value;

fn truth_people(name: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(fixtures_root().join(name).join("truth.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["people"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_steps_contact_recall_and_precision() {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let c = loopback_crawler();
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for name in sites.sites.keys() {
        let r = c.crawl(&sites.url(name).unwrap()).await.unwrap();
        let found: BTreeSet<String> = r
            .people
            .iter()
            .filter(|p| p.title.is_some())
            .map(|p| p.name.clone())
            .collect();
        let truth = truth_people(name);
        tp += found.intersection(&truth).count();
        fp += found.difference(&truth).count();
        fneg += truth.difference(&found).count();
    }
    let recall = tp as f64 / (tp + fneg) as f64;
    let precision = tp as f64 / (tp + fp) as f64;
    println!(
        "free steps on {} fixture sites: {tp} people found, {fp} wrong, {fneg} missed; recall {recall:.3}, precision {precision:.3}",
        sites.sites.len()
    );
    assert!(tp >= 15, "the fixture set names at least 15 people");
    assert!(
        recall >= 0.9 && precision >= 0.9,
        "recall {recall}, precision {precision}"
    );
}

/// Peak resident memory of this process (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a figure: run with --ignored --nocapture"]
async fn crawl_throughput_on_loopback() {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let c = loopback_crawler();
    let urls: Vec<String> = sites.sites.keys().filter_map(|n| sites.url(n)).collect();
    let rounds = 20;
    let total = urls.len() * rounds;
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let (c, url, sem) = (c.clone(), urls[i % urls.len()].clone(), sem.clone());
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            c.crawl(&url).await.map(|r| r.pages.len())
        });
    }
    let (mut pages, mut failed) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(n) => pages += n,
            Err(_) => failed += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let per_min = total as f64 / secs * 60.0;
    println!(
        "crawled {total} sites ({pages} pages) in {secs:.2} s: {per_min:.0} sites/min, 32 at a time; peak RSS {} KiB",
        peak_rss_kib().unwrap_or(0)
    );
    println!("{failed} crawls ended in an error");
    assert!(pages > 0, "the crawls fetched pages");
}
