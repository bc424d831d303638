//! The pipeline's own job handlers, run by a real worker on a real store.

use std::sync::Arc;

use leadgen_app::queue::{registry, work};
use leadgen_core::job::{JobStatus, NewJob, types};
use leadgen_jobs::WorkerOptions;
use leadgen_store::{JobFilter, Store, testing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_snapshot_is_kept_once_per_period_and_day() {
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let day = 1_790_000_000_000 - 1_790_000_000_000 % 86_400_000;
    let job = |payload: &str, at: i64| {
        let mut j = NewJob::new(1, types::GENERATE_ANALYTICS, payload);
        j.run_at = Some(at);
        j
    };
    // Two daily jobs for the same day (say, a tick and a manual run), one
    // weekly, and one with a period that does not exist.
    store
        .enqueue(
            &[
                job(r#"{"period":"daily"}"#, day),
                job(r#"{"period":"daily"}"#, day + 5_000),
                job(r#"{"period":"weekly"}"#, day),
                job(r#"{"period":"hourly"}"#, day),
            ],
            day,
        )
        .unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut o = WorkerOptions::new("w");
    o.until_idle = true;
    let report = work(store.clone(), o, None, rx).await.unwrap();
    assert_eq!(report.completed, 2, "{report:?}");
    assert_eq!(
        report.duplicate_effects, 1,
        "the second daily snapshot of the day"
    );
    assert_eq!(store.effect_count(1, "analytics_snapshot").unwrap(), 2);
    let jobs = store.list_jobs(1, &JobFilter::default()).unwrap();
    let done: Vec<_> = jobs
        .iter()
        .filter(|j| j.status == JobStatus::Completed)
        .collect();
    let result: serde_json::Value = serde_json::from_str(done[0].result.as_ref().unwrap()).unwrap();
    assert_eq!(result["leads"]["leads"], 0);
    assert!(result["jobs"]["by_status"].is_object());
    let bad = jobs.iter().find(|j| j.payload.contains("hourly")).unwrap();
    assert_eq!((bad.status, bad.attempts), (JobStatus::Failed, 1));
    assert!(bad.errors[0].message.contains("not daily or weekly"));
    assert!(
        registry()
            .types()
            .contains(&"generate_analytics".to_string())
    );
}
