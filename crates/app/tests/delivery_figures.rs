//! Throughput figures, run by hand (ignored by default):
//! `cargo test -p leadgen-app --all-features --test delivery_figures -- --ignored --nocapture`.
//! Deliveries/s through the service (ledger writes included) against the
//! loopback fakes, and HubSpot batch-upsert throughput.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leadgen_app::delivery::{
    ChannelSettings, DeliveryService, EnvLookup, Notification, SendStatus,
};
use leadgen_integrations::ServiceConfig;
use leadgen_integrations::fake_hubspot::{FAKE_HUBSPOT_TOKEN, FakeHubspot};
use leadgen_integrations::fake_resend::{FAKE_RESEND_KEY, FakeResend};
use leadgen_integrations::fake_slack::FakeSlack;
use leadgen_integrations::fake_webhook::{FAKE_WEBHOOK_SECRET, FakeWebhook};
use leadgen_integrations::http::RetryPolicy;
use leadgen_integrations::hubspot::{HubspotClient, HubspotContact};
use leadgen_store::{Store, testing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn deliveries_per_second() {
    let (resend, slack, hook) = (
        FakeResend::spawn(),
        FakeSlack::spawn(),
        FakeWebhook::spawn(),
    );
    let (r, s, h) = (resend.base_url(), slack.webhook_url(), hook.url());
    let env: EnvLookup = Arc::new(move |k: &str| match k {
        "LEADGEN_RESEND_BASE_URL" => Some(r.clone()),
        "LEADGEN_RESEND_API_KEY" => Some(FAKE_RESEND_KEY.into()),
        "LEADGEN_SLACK_WEBHOOK_URL" => Some(s.clone()),
        "LEADGEN_NOTIFY_EMAIL_TO" => Some("ops@example.com".into()),
        "LEADGEN_NOTIFY_EMAIL_FROM" => Some("a@example.com".into()),
        "LEADGEN_WEBHOOK_URLS" => Some(h.clone()),
        "LEADGEN_WEBHOOK_SECRET" => Some(FAKE_WEBHOOK_SECRET.into()),
        _ => None,
    });
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let policy = RetryPolicy {
        retries: 3,
        base_delay: Duration::from_millis(5),
        max_wait: Duration::from_secs(1),
    };
    let svc = DeliveryService::new(
        store.clone(),
        1,
        &ChannelSettings::from_env(&env),
        env,
        policy,
    )
    .unwrap();
    let events = 600;
    let in_flight = 16;
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut delivered = 0usize;
    for i in 0..events {
        if set.len() >= in_flight
            && let Some(Ok(r)) = set.join_next().await
        {
            delivered += r;
        }
        let svc = svc.clone();
        set.spawn(async move {
            let n = Notification {
                event: "bench".into(),
                key: format!("bench:{i}"),
                subject: "s".into(),
                text: "t".into(),
                data: serde_json::json!({"i": i}),
            };
            svc.notify(&n)
                .await
                .iter()
                .filter(|r| r.status == SendStatus::Delivered)
                .count()
        });
    }
    while let Some(Ok(r)) = set.join_next().await {
        delivered += r;
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(delivered, events * 3);
    println!(
        "FIGURE deliveries: {delivered} deliveries ({events} events x email+slack+webhook, {in_flight} events in flight, SQLite ledger) in {secs:.2} s = {:.0} deliveries/s",
        delivered as f64 / secs
    );
    drop(svc);
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn hubspot_upsert_throughput() {
    let fake = FakeHubspot::spawn();
    let client = HubspotClient::new(ServiceConfig {
        base_url: fake.base_url(),
        api_key: Some(FAKE_HUBSPOT_TOKEN.into()),
    })
    .unwrap();
    let n = 20_000;
    let contacts: Vec<HubspotContact> = (0..n)
        .map(|i| HubspotContact {
            email: format!("person{i}@example.com"),
            properties: BTreeMap::from([
                ("firstname".to_string(), format!("First{i}")),
                ("lastname".to_string(), "Last".to_string()),
                ("company".to_string(), "Example Inc".to_string()),
            ]),
        })
        .collect();
    let t = Instant::now();
    let report = client.upsert_contacts(&contacts).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(report.created, n as u64);
    println!(
        "FIGURE hubspot: {n} contacts in {} batch requests in {secs:.2} s = {:.0} contacts/s, {:.0} requests/s (one client, sequential batches of 100)",
        report.requests,
        n as f64 / secs,
        report.requests as f64 / secs
    );
}
