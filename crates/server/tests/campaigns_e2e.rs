//! The plan's end-to-end scenario, on both backends: 50 validated leads →
//! a campaign → pushed in batches to the fake Instantly (one batch's answer
//! lost on the way back) → a positive `reply_received` webhook → the lead
//! at the fake NovaCRM exactly once, with source "leadgen" and UTM fields →
//! the same webhook delivered again changes nothing. Suppressed leads are
//! refused by every outbound path.

mod common;

use std::sync::Arc;

use common::{A, App, Backend, with_app_opts};
use leadgen_app::campaigns::{self, crm_spec_with, push_spec_with};
use leadgen_app::discovery::EnvLookup;
use leadgen_core::lead::{LeadStatus, LifecycleStage};
use leadgen_integrations::fake_instantly::{FAKE_INSTANTLY_KEY, FakeInstantly};
use leadgen_integrations::fake_novacrm::{FAKE_NOVACRM_KEY, FakeNovaCrm};
use leadgen_jobs::{Registry, SystemClock, WorkerOptions, run_worker};
use leadgen_store::{StoredVerification, Suppression, SuppressionKind, SuppressionReason, testing};
use serde_json::json;

const SECRET: &str = "hook-secret";

#[test]
fn sqlite() {
    run(Backend::Sqlite);
}

#[test]
fn postgres() {
    run(Backend::Postgres);
}

fn run(backend: Backend) {
    let opts = leadgen_server::ServerOptions {
        instantly_webhook_secret: Some(SECRET.into()),
        ..common::test_opts()
    };
    with_app_opts(backend, opts, scenario);
}

fn registry(instantly: &FakeInstantly, crm: &FakeNovaCrm) -> Arc<Registry> {
    let (ib, cb) = (instantly.base_url(), crm.base_url());
    let env: EnvLookup = Arc::new(move |k: &str| match k {
        "LEADGEN_INSTANTLY_BASE_URL" => Some(ib.clone()),
        "LEADGEN_INSTANTLY_API_KEY" => Some(FAKE_INSTANTLY_KEY.into()),
        "LEADGEN_NOVACRM_BASE_URL" => Some(cb.clone()),
        "LEADGEN_NOVACRM_API_KEY" => Some(FAKE_NOVACRM_KEY.into()),
        _ => None,
    });
    let mut r = Registry::new();
    for mut spec in [push_spec_with(env.clone()), crm_spec_with(env)] {
        spec.backoff.base_ms = 20;
        spec.backoff.cap_ms = 200;
        r.register(spec);
    }
    Arc::new(r)
}

async fn work(app: &App, registry: &Arc<Registry>) {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut o = WorkerOptions::new("e2e");
    o.until_idle = true;
    o.concurrency = 2;
    run_worker(
        app.store.clone(),
        registry.clone(),
        Arc::new(SystemClock),
        o,
        rx,
    )
    .await
    .unwrap();
}

async fn webhook(app: &App, secret: Option<&str>, body: String) -> (u16, serde_json::Value) {
    let mut r = app
        .http
        .post(app.url("/integrations/instantly/webhook"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(s) = secret {
        r = r.header("X-Leadgen-Webhook-Secret", s);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

async fn scenario(app: App) {
    let instantly = FakeInstantly::spawn();
    let crm = FakeNovaCrm::spawn();
    let registry = registry(&instantly, &crm);

    // 50 validated dentists in NY with a valid email, and 10 leads outside
    // the segment; one of the 50 has unsubscribed before.
    let leads = app
        .store(|s| {
            let leads = testing::insert_leads(s, A, "e2e", |b| {
                (0..60u64)
                    .map(|i| {
                        let mut l =
                            testing::lead_with_email(b, i + 2, &format!("dr{i}@clinic{i}.com"));
                        l.first_name = Some(format!("Dana{i}"));
                        l.last_name = Some("Smile".into());
                        l.company_name = Some(format!("Clinic {i}"));
                        l.industry = Some("Dentist".into());
                        l.state = Some(if i < 50 { "NY" } else { "CA" }.into());
                        l.score = 80;
                        l.status = LeadStatus::Validated;
                        l
                    })
                    .collect()
            })
            .unwrap();
            for l in &leads {
                let v = StoredVerification {
                    lead: l.id,
                    email: l.email.as_ref().unwrap().as_str().into(),
                    status: "valid".into(),
                    score: 95,
                    result: "{}".into(),
                    checked_at: 1,
                };
                s.record_verification(A, &v, None, 1).unwrap();
            }
            let gone = Suppression::for_email(
                "dr3@clinic3.com",
                SuppressionKind::Email,
                SuppressionReason::Unsubscribed,
                "test",
                1,
            );
            s.suppress(A, &gone).unwrap();
            leads
        })
        .await;

    let segment = r#"industry = "dentist" and state in ("NY","NJ","CT") and score >= 70 and email_status = "valid""#;
    let (campaign, members) = app
        .store(move |s| campaigns::create(s, A, "Dentists Northeast", segment, 10).unwrap())
        .await;
    assert_eq!(members, 50);

    // Push in batches of 20; the first upload reaches Instantly but its
    // answer is lost (500), so that batch is in doubt and sent again.
    instantly.control().fail_after_upload = 1;
    app.store(move |s| {
        s.enqueue(&[campaigns::push_job(A, campaign, 20)], 11)
            .unwrap()
    })
    .await;
    work(&app, &registry).await;
    let iid = {
        let c = instantly.control();
        assert_eq!(c.campaigns.len(), 1, "one Instantly campaign");
        let iid = c.campaigns.keys().next().unwrap().clone();
        assert_eq!(
            c.lead_count(&iid),
            49,
            "every member but the suppressed one"
        );
        assert!(
            c.duplicates().is_empty(),
            "uploaded twice: {:?}",
            c.duplicates()
        );
        assert!(!c.created[&iid].contains_key("dr3@clinic3.com"));
        assert_eq!(c.uploads, 4, "3 batches, the first one twice");
        iid
    };
    let counts = app
        .store(move |s| s.campaign_counts(A, campaign).unwrap())
        .await;
    assert_eq!(
        (counts.leads, counts.pushed, counts.suppressed),
        (50, 49, 1)
    );
    let lead5 = leads[5].id;
    let status = app
        .store(move |s| s.get_lead(A, lead5).unwrap().unwrap().status)
        .await;
    assert_eq!(status, LeadStatus::PushedToInstantly);

    // Webhooks: the secret is required, malformed bodies are refused; both
    // are stored.
    let event = json!({
        "timestamp": "2026-12-01T10:00:00Z",
        "event_type": "reply_received",
        "workspace": "ws-1",
        "campaign_id": iid,
        "campaign_name": "Dentists Northeast",
        "lead_email": "dr5@clinic5.com",
        "reply_text": "Yes, I'm interested. Can we book a call on Tuesday?",
        "email_id": "em-5",
    })
    .to_string();
    assert_eq!(webhook(&app, None, event.clone()).await.0, 401);
    assert_eq!(webhook(&app, Some("wrong"), event.clone()).await.0, 401);
    assert_eq!(webhook(&app, Some(SECRET), "{not json".into()).await.0, 400);
    let (code, body) = webhook(&app, Some(SECRET), event.clone()).await;
    assert_eq!((code, body["processed"].as_bool()), (200, Some(true)));
    work(&app, &registry).await;
    {
        let c = crm.control();
        let got = c.captures_of("dr5@clinic5.com");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["source"], "leadgen");
        assert_eq!(got[0]["utm_source"], "instantly");
        assert_eq!(got[0]["utm_medium"], "email");
        assert_eq!(got[0]["utm_campaign"], "dentists-northeast");
        assert_eq!(got[0]["name"], "Dana5 Smile");
        assert_eq!(got[0]["organization_name"], "Clinic 5");
    }
    let lead = app
        .store(move |s| s.get_lead(A, lead5).unwrap().unwrap())
        .await;
    assert_eq!(
        (lead.status, lead.lifecycle),
        (LeadStatus::PushedToCrm, LifecycleStage::Replied)
    );

    // The same delivery again: acknowledged, nothing stored or done.
    let stored_before = app
        .store(|s| s.list_webhooks(A, "instantly", 100).unwrap().len())
        .await;
    let (code, body) = webhook(&app, Some(SECRET), event.clone()).await;
    assert_eq!((code, body["duplicate"].as_bool()), (200, Some(true)));
    work(&app, &registry).await;
    assert_eq!(crm.control().captures_of("dr5@clinic5.com").len(), 1);
    let stored_after = app
        .store(|s| s.list_webhooks(A, "instantly", 100).unwrap().len())
        .await;
    assert_eq!(stored_after, stored_before);
    assert_eq!(stored_before, 4, "two refused, one malformed, one accepted");

    // A bounce suppresses; a positive reply from a suppressed lead never
    // reaches the CRM.
    let bounce = json!({
        "timestamp": "2026-12-01T11:00:00Z", "event_type": "email_bounced", "workspace": "w",
        "campaign_id": iid, "campaign_name": "x", "lead_email": "dr7@clinic7.com",
    });
    assert_eq!(webhook(&app, Some(SECRET), bounce.to_string()).await.0, 200);
    let reason = app
        .store(|s| s.suppressed_reason(A, "dr7@clinic7.com").unwrap())
        .await;
    assert_eq!(reason, Some(SuppressionReason::HardBounce));
    let interested = json!({
        "timestamp": "2026-12-01T12:00:00Z", "event_type": "lead_interested", "workspace": "w",
        "campaign_id": iid, "campaign_name": "x", "lead_email": "dr7@clinic7.com",
    });
    let (_, body) = webhook(&app, Some(SECRET), interested.to_string()).await;
    assert_eq!(body["processed"].as_bool(), Some(true));
    work(&app, &registry).await;
    assert!(crm.control().captures_of("dr7@clinic7.com").is_empty());
    let shown = app
        .store(move |s| campaigns::show(s, A, campaign).unwrap())
        .await;
    assert_eq!(shown["events"]["reply_received"], 1);
    assert_eq!(shown["counts"]["pushed_to_crm"], 1);
}
