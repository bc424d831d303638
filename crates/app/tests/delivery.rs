//! The delivery service against loopback fakes: graceful degradation
//! (one channel failing never blocks another), the ledger (a retried
//! notification never delivers twice), platform upload by industry, and
//! "scraper run completed" hooked into the job queue.

use std::sync::Arc;
use std::time::Duration;

use leadgen_app::delivery::notify::{run_completed_spec, with_run_notice};
use leadgen_app::delivery::platform::{platform_for, upload_to_platforms};
use leadgen_app::delivery::{
    ChannelSettings, DeliveryService, EmailSettings, EnvLookup, Notification, SendStatus,
    WebhookSettings,
};
use leadgen_core::email::Email;
use leadgen_core::job::NewJob;
use leadgen_core::lead::IntentLevel;
use leadgen_core::{Lead, RecordId, SourceRef, WorkspaceId};
use leadgen_integrations::fake_resend::{FAKE_RESEND_KEY, FakeResend};
use leadgen_integrations::fake_slack::FakeSlack;
use leadgen_integrations::fake_webhook::{FAKE_WEBHOOK_SECRET, FakeWebhook};
use leadgen_integrations::http::RetryPolicy;
use leadgen_jobs::{Registry, SystemClock, WorkerOptions, noop, run_worker};
use leadgen_store::{BatchCounts, BatchMeta, DeliveryStatus, RecordChunkWriter, Store, testing};

const WS: WorkspaceId = 1;

struct Fakes {
    resend: FakeResend,
    slack: FakeSlack,
    hook: FakeWebhook,
}

impl Fakes {
    fn spawn() -> Fakes {
        Fakes {
            resend: FakeResend::spawn(),
            slack: FakeSlack::spawn(),
            hook: FakeWebhook::spawn(),
        }
    }

    fn env(&self) -> EnvLookup {
        let (resend, slack, hook) = (
            self.resend.base_url(),
            self.slack.webhook_url(),
            self.hook.server.base_url(),
        );
        Arc::new(move |k: &str| match k {
            "LEADGEN_RESEND_BASE_URL" => Some(resend.clone()),
            "LEADGEN_RESEND_API_KEY" => Some(FAKE_RESEND_KEY.into()),
            "LEADGEN_SLACK_WEBHOOK_URL" => Some(slack.clone()),
            "LEADGEN_NOTIFY_EMAIL_TO" => Some("ops@example.com".into()),
            "LEADGEN_NOTIFY_EMAIL_FROM" => Some("Leadgen <alerts@example.com>".into()),
            "LEADGEN_WEBHOOK_URLS" => Some(format!("{hook}/hook")),
            "LEADGEN_WEBHOOK_SECRET" => Some(FAKE_WEBHOOK_SECRET.into()),
            "LEADGEN_PLATFORM_TECH_BASE_URL" => Some(format!("{hook}/tech")),
            "LEADGEN_PLATFORM_HEALTHCARE_BASE_URL" => Some(format!("{hook}/healthcare")),
            "LEADGEN_PLATFORM_BATCH_SIZE" => Some("2".into()),
            _ => None,
        })
    }
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        retries: 3,
        base_delay: Duration::from_millis(5),
        max_wait: Duration::from_secs(1),
    }
}

fn service(store: &Arc<dyn Store>, env: EnvLookup) -> DeliveryService {
    let settings = ChannelSettings::from_env(&env);
    DeliveryService::new(store.clone(), WS, &settings, env, quick()).unwrap()
}

fn notification(key: &str) -> Notification {
    Notification {
        event: "run.completed".into(),
        key: key.into(),
        subject: "Run done".into(),
        text: "42 companies".into(),
        data: serde_json::json!({"run_id": 7}),
    }
}

fn statuses(results: &[leadgen_app::delivery::ChannelResult]) -> Vec<(String, SendStatus)> {
    results
        .iter()
        .map(|r| (r.channel.clone(), r.status.clone()))
        .collect()
}

#[tokio::test]
async fn slack_failing_forever_never_blocks_email_or_webhooks() {
    let fakes = Fakes::spawn();
    fakes.slack.state().faults.fail_5xx = u32::MAX;
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let svc = service(&store, fakes.env());
    let results = svc.notify(&notification("run.completed:1")).await;
    let st = statuses(&results);
    assert_eq!(st[0], ("email".into(), SendStatus::Delivered));
    assert!(
        matches!(&st[1], (c, SendStatus::Failed { error }) if c == "slack" && error.contains("500")),
        "{st:?}"
    );
    assert_eq!(st[2], ("webhook".into(), SendStatus::Delivered));
    // Slack was tried 1 + 3 times.
    assert_eq!(fakes.slack.state().requests, 4);
    assert_eq!(fakes.resend.state().sent.len(), 1);
    let received = fakes.hook.state().received.clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].1["data"]["run_id"], 7);
    let ledger = store.list_deliveries(WS, 10).unwrap();
    let slack = ledger.iter().find(|d| d.channel == "slack").unwrap();
    assert_eq!((slack.status, slack.attempts), (DeliveryStatus::Failed, 1));
    assert!(slack.last_error.as_deref().unwrap_or("").contains("500"));
    assert_eq!(
        ledger
            .iter()
            .filter(|d| d.status == DeliveryStatus::Delivered)
            .count(),
        2
    );
}

#[tokio::test]
async fn a_retried_notification_sends_only_what_failed() {
    let fakes = Fakes::spawn();
    fakes.slack.state().faults.fail_5xx = u32::MAX;
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let svc = service(&store, fakes.env());
    svc.notify(&notification("run.completed:2")).await;
    fakes.slack.state().faults.fail_5xx = 0;
    let again = statuses(&svc.notify(&notification("run.completed:2")).await);
    assert_eq!(
        again,
        [
            ("email".into(), SendStatus::AlreadyDelivered),
            ("slack".into(), SendStatus::Delivered),
            ("webhook".into(), SendStatus::AlreadyDelivered),
        ]
    );
    assert_eq!(fakes.resend.state().sent.len(), 1);
    assert_eq!(fakes.resend.state().requests, 1);
    assert_eq!(fakes.hook.state().requests, 1);
    assert_eq!(fakes.slack.state().messages.len(), 1);
    let slack = store
        .list_deliveries(WS, 10)
        .unwrap()
        .into_iter()
        .find(|d| d.channel == "slack")
        .unwrap();
    assert_eq!(
        (slack.status, slack.attempts),
        (DeliveryStatus::Delivered, 2)
    );
}

#[tokio::test]
async fn a_webhook_without_its_secret_fails_alone() {
    let fakes = Fakes::spawn();
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let settings = ChannelSettings {
        email: Some(EmailSettings {
            from: "Leadgen <alerts@example.com>".into(),
            to: vec!["ops@example.com".into()],
        }),
        slack_webhook_env: None,
        webhooks: vec![WebhookSettings {
            url: format!("{}?token=abc", fakes.hook.url()),
            secret_env: "LEADGEN_MISSING_SECRET".into(),
        }],
    };
    let svc = DeliveryService::new(store.clone(), WS, &settings, fakes.env(), quick()).unwrap();
    let r = svc.notify(&notification("k")).await;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].status, SendStatus::Delivered);
    match &r[1].status {
        SendStatus::Failed { error } => {
            assert!(error.contains("LEADGEN_MISSING_SECRET"), "{error}")
        }
        s => panic!("{s:?}"),
    }
    // The recorded target never carries the URL's query.
    assert!(!r[1].target.contains("token"), "{}", r[1].target);
}

#[tokio::test]
async fn bounce_rate_notifies_at_the_threshold_once_a_day() {
    let fakes = Fakes::spawn();
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let base = fakes.env();
    let env: EnvLookup = Arc::new(move |k: &str| match k {
        "LEADGEN_NOTIFY_BOUNCE_RATE" => Some("8%".into()),
        _ => base(k),
    });
    let svc = service(&store, env);
    assert!(svc.notify_bounce_rate("Dentists NE", 0.05).await.is_empty());
    let r = svc.notify_bounce_rate("Dentists NE", 0.12).await;
    assert!(r.iter().all(|r| r.status == SendStatus::Delivered), "{r:?}");
    let again = svc.notify_bounce_rate("Dentists NE", 0.15).await;
    assert!(
        again
            .iter()
            .all(|r| r.status == SendStatus::AlreadyDelivered)
    );
    let msg = fakes.slack.state().messages[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("Dentists NE") && msg.contains("12.0%"),
        "{msg}"
    );
    svc.notify_low_leads("Dentists NE", 12).await;
    let s = fakes.slack.state();
    assert_eq!(s.messages.len(), 2);
    assert!(
        s.messages[1]["text"]
            .as_str()
            .unwrap()
            .contains("12 leads left")
    );
}

/// Stores leads (one ingest batch) and returns them with their ids.
pub fn store_leads(store: &dyn Store, leads: Vec<Lead>) -> Vec<Lead> {
    let meta = BatchMeta {
        kind: "test".into(),
        name: "t".into(),
        source: "test".into(),
        content_hash: format!("h{}", leads.len()),
        headers: vec!["email".into()],
    };
    let mut tx = store.begin_ingest(WS, &meta, 1).unwrap();
    let first = tx.reserve_lead_ids(leads.len() as u64).unwrap();
    let mut w = RecordChunkWriter::default();
    let mut out = leads;
    for (i, l) in out.iter_mut().enumerate() {
        l.id = first + i as i64;
        w.push(
            i as u64 + 2,
            [l.id.to_string()].iter().map(|c| c.as_bytes()),
        );
    }
    tx.store_records(&w.finish().unwrap()).unwrap();
    tx.insert_leads(&out).unwrap();
    tx.commit(BatchCounts::default(), 2).unwrap();
    out
}

pub fn lead(n: u32, industry: Option<&str>, intent: IntentLevel) -> Lead {
    let mut l = Lead::empty(
        "test",
        SourceRef {
            at: 1,
            record: RecordId::new(1, u64::from(n) + 2),
        },
    );
    l.email = Some(Email::parse(&format!("p{n}@example.com")).unwrap());
    l.first_name = Some(format!("P{n}"));
    l.industry = industry.map(str::to_owned);
    l.intent = intent;
    l
}

#[test]
fn industries_map_to_platforms() {
    assert_eq!(
        platform_for(Some("Information Technology & Services")),
        "tech"
    );
    assert_eq!(platform_for(Some("Computer Software")), "tech");
    assert_eq!(platform_for(Some("Banking")), "finance");
    assert_eq!(platform_for(Some("Dentist")), "healthcare");
    assert_eq!(platform_for(Some("E-commerce")), "retail");
    assert_eq!(platform_for(Some("Marketing and Advertising")), "marketing");
    assert_eq!(platform_for(Some("Roofing")), "general");
    assert_eq!(platform_for(None), "general");
}

#[tokio::test]
async fn hot_and_warm_leads_upload_by_industry_once() {
    let fakes = Fakes::spawn();
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let leads = store_leads(
        store.as_ref(),
        vec![
            lead(1, Some("Software"), IntentLevel::Hot),
            lead(2, Some("SaaS"), IntentLevel::Warm),
            lead(3, Some("Technology"), IntentLevel::Hot),
            lead(4, Some("Technology"), IntentLevel::Cold),
            lead(5, Some("Dental clinic"), IntentLevel::Warm),
            lead(6, Some("Roofing"), IntentLevel::Hot),
        ],
    );
    let svc = service(&store, fakes.env());
    let dry = upload_to_platforms(&svc, quick(), true).await.unwrap();
    assert_eq!(dry.candidates, 5);
    assert_eq!(dry.batches.len(), 4);
    assert!(fakes.hook.state().uploads.is_empty());
    let report = upload_to_platforms(&svc, quick(), false).await.unwrap();
    let by: Vec<(&str, usize, bool)> = report
        .batches
        .iter()
        .map(|b| {
            (
                b.platform.as_str(),
                b.leads,
                b.status == SendStatus::Delivered,
            )
        })
        .collect();
    // general has no endpoint configured: it fails alone.
    assert_eq!(
        by,
        [
            ("general", 1, false),
            ("healthcare", 1, true),
            ("tech", 2, true),
            ("tech", 1, true)
        ]
    );
    match &report.batches[0].status {
        SendStatus::Failed { error } => assert!(
            error.contains("LEADGEN_PLATFORM_GENERAL_BASE_URL"),
            "{error}"
        ),
        s => panic!("{s:?}"),
    }
    let uploads = fakes.hook.state().uploads.clone();
    assert_eq!(uploads.len(), 3);
    let (platform, key, body) = &uploads[0];
    assert_eq!(platform, "healthcare");
    assert_eq!(body["format"], "leadgen.platform-upload.v1");
    assert_eq!(body["batch_id"], key.as_str());
    assert_eq!(body["leads"][0]["id"], leads[4].id);
    assert_eq!(body["leads"][0]["email"], "p5@example.com");
    assert_eq!(body["leads"][0]["company"]["industry"], "Dental clinic");
    let recorded = store.platform_uploads(WS, 10).unwrap();
    assert_eq!(recorded.iter().map(|u| u.leads).sum::<u64>(), 4);
    assert!(recorded.iter().any(|u| u.platform == "tech"));
    // Second run: only the unconfigured platform's lead is left.
    let second = upload_to_platforms(&svc, quick(), false).await.unwrap();
    assert_eq!(second.already_uploaded, 4);
    assert_eq!(second.batches.len(), 1);
    assert_eq!(fakes.hook.state().uploads.len(), 3);
}

#[test]
fn a_completed_run_is_announced_once() {
    let fakes = Fakes::spawn();
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    let run = store
        .create_run(WS, "scrape_google_maps", "dentists NJ", 1)
        .unwrap();
    let jobs: Vec<NewJob> = (0..3)
        .map(|i| {
            let mut j = NewJob::new(WS, "noop", &format!("{{\"sleep_ms\":{i}}}"));
            j.run = Some(run);
            j
        })
        .collect();
    store.enqueue(&jobs, 1).unwrap();
    let mut r = Registry::new();
    r.register(with_run_notice(noop::spec()));
    r.register(run_completed_spec(fakes.env()));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut o = WorkerOptions::new("w");
    o.until_idle = true;
    o.concurrency = 1;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run_worker(
        store.clone(),
        Arc::new(r),
        Arc::new(SystemClock),
        o,
        rx,
    ))
    .unwrap();
    let s = fakes.slack.state();
    assert_eq!(s.messages.len(), 1, "{:?}", s.messages);
    assert!(
        s.messages[0]["text"]
            .as_str()
            .unwrap()
            .contains("dentists NJ")
    );
    assert_eq!(fakes.resend.state().sent.len(), 1);
    assert_eq!(fakes.hook.state().received.len(), 1);
    assert_eq!(
        store.get_run(WS, run).unwrap().unwrap().total_jobs,
        3,
        "the notice jobs are not part of the run"
    );
}

// ------------------------------------------- every outbound path refuses a suppressed lead

fn suppress_some(store: &dyn Store) {
    use leadgen_store::{Suppression, SuppressionKind, SuppressionReason};
    store
        .suppress(
            WS,
            &Suppression::for_email(
                "p2@example.com",
                SuppressionKind::Email,
                SuppressionReason::HardBounce,
                "test",
                1,
            ),
        )
        .unwrap();
    store
        .suppress(
            WS,
            &Suppression::for_email(
                "P3@Example.com",
                SuppressionKind::EmailHash,
                SuppressionReason::GdprErasure,
                "test",
                1,
            ),
        )
        .unwrap();
}

#[tokio::test]
async fn resend_email_to_a_suppressed_lead_is_not_sent() {
    let fakes = Fakes::spawn();
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    suppress_some(store.as_ref());
    let svc = service(&store, fakes.env());
    let r = svc
        .email_lead("p2@example.com", "Hi", "Hello", "lead:2:intro")
        .await;
    assert_eq!(r.status, SendStatus::Suppressed);
    let r = svc
        .email_lead("p3@example.com", "Hi", "Hello", "lead:3:intro")
        .await;
    assert_eq!(
        r.status,
        SendStatus::Suppressed,
        "an erased address (hash only) is refused too"
    );
    let r = svc
        .email_lead("p1@example.com", "Hi", "Hello", "lead:1:intro")
        .await;
    assert_eq!(r.status, SendStatus::Delivered);
    let s = fakes.resend.state();
    assert_eq!(s.requests, 1);
    assert_eq!(s.sent[0]["to"][0], "p1@example.com");
}

#[tokio::test]
async fn webhook_deliveries_leave_suppressed_leads_out() {
    let fakes = Fakes::spawn();
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    suppress_some(store.as_ref());
    let leads = store_leads(
        store.as_ref(),
        (1..=3)
            .map(|n| lead(n, Some("Software"), IntentLevel::Hot))
            .collect(),
    );
    let svc = service(&store, fakes.env());
    let (results, dropped) = svc
        .deliver_leads("leads.delivered", "batch:1", leads.clone())
        .await
        .unwrap();
    assert_eq!(dropped, 2);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, SendStatus::Delivered);
    let received = fakes.hook.state().received.clone();
    let sent: Vec<&str> = received[0].1["data"]["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["email"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["p1@example.com"]);
    // Only suppressed leads: nothing goes out at all.
    let (results, dropped) = svc
        .deliver_leads("leads.delivered", "batch:2", leads[1..].to_vec())
        .await
        .unwrap();
    assert_eq!((results.len(), dropped), (0, 2));
    assert_eq!(fakes.hook.state().requests, 1);
}

#[tokio::test]
async fn hubspot_upsert_leaves_suppressed_leads_out() {
    use leadgen_app::delivery::hubspot::push_to_hubspot;
    use leadgen_integrations::fake_hubspot::{FAKE_HUBSPOT_TOKEN, FakeHubspot};
    use leadgen_integrations::hubspot::HubspotClient;
    let fake = FakeHubspot::spawn();
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    suppress_some(store.as_ref());
    let leads = store_leads(
        store.as_ref(),
        (1..=4).map(|n| lead(n, None, IntentLevel::Warm)).collect(),
    );
    let client = HubspotClient::new(leadgen_integrations::ServiceConfig {
        base_url: fake.base_url(),
        api_key: Some(FAKE_HUBSPOT_TOKEN.into()),
    })
    .unwrap();
    let push = push_to_hubspot(store.clone(), WS, &client, leads)
        .await
        .unwrap();
    assert_eq!((push.sent, push.created, push.suppressed), (2, 2, 2));
    let emails: Vec<String> = fake.state().contacts.keys().cloned().collect();
    assert_eq!(emails, ["p1@example.com", "p4@example.com"]);
    assert_eq!(fake.state().contacts["p1@example.com"].1["firstname"], "P1");
}

#[tokio::test]
async fn platform_upload_leaves_suppressed_leads_out() {
    let fakes = Fakes::spawn();
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    suppress_some(store.as_ref());
    store_leads(
        store.as_ref(),
        (1..=3)
            .map(|n| lead(n, Some("Software"), IntentLevel::Hot))
            .collect(),
    );
    let svc = service(&store, fakes.env());
    let report = upload_to_platforms(&svc, quick(), false).await.unwrap();
    assert_eq!(report.suppressed, 2, "{report:?}");
    let uploads = fakes.hook.state().uploads.clone();
    assert_eq!(uploads.len(), 1);
    let leads = uploads[0].2["leads"].as_array().unwrap().clone();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["email"], "p1@example.com");
}

#[tokio::test]
async fn notification_emails_skip_suppressed_recipients() {
    let fakes = Fakes::spawn();
    let (_dir, store) = testing::sqlite_store();
    let store: Arc<dyn Store> = Arc::new(store);
    store
        .suppress(
            WS,
            &leadgen_store::Suppression::for_email(
                "ops@example.com",
                leadgen_store::SuppressionKind::Email,
                leadgen_store::SuppressionReason::Unsubscribed,
                "test",
                1,
            ),
        )
        .unwrap();
    let svc = service(&store, fakes.env());
    let r = svc.notify(&notification("n:1")).await;
    assert_eq!(r[0].channel, "email");
    assert_eq!(r[0].status, SendStatus::Suppressed);
    assert_eq!(fakes.resend.state().requests, 0);
}
