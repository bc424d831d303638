//! The delivery clients (Resend, Slack, signed webhooks, HubSpot, lead
//! platforms) against their loopback fakes: success, idempotency, auth
//! failures, 429 with `Retry-After`, 5xx and timeouts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use leadgen_integrations::fake_hubspot::{FAKE_HUBSPOT_TOKEN, FakeHubspot};
use leadgen_integrations::fake_resend::{FAKE_RESEND_KEY, FakeResend};
use leadgen_integrations::fake_slack::FakeSlack;
use leadgen_integrations::fake_webhook::{FAKE_WEBHOOK_SECRET, FakeWebhook};
use leadgen_integrations::http::RetryPolicy;
use leadgen_integrations::hubspot::{HubspotClient, HubspotContact};
use leadgen_integrations::platform::PlatformClient;
use leadgen_integrations::resend::{OutgoingEmail, ResendClient};
use leadgen_integrations::slack::{SlackClient, SlackMessage};
use leadgen_integrations::webhook::{WebhookClient, WebhookTarget};
use leadgen_integrations::{IntegrationError, ServiceConfig};

fn quick() -> RetryPolicy {
    RetryPolicy {
        retries: 2,
        base_delay: Duration::from_millis(10),
        max_wait: Duration::from_secs(2),
    }
}

fn config(base: String, key: &str) -> ServiceConfig {
    ServiceConfig {
        base_url: base,
        api_key: Some(key.to_owned()),
    }
}

fn email() -> OutgoingEmail {
    OutgoingEmail {
        from: "Leadgen <alerts@example.com>".into(),
        to: vec!["ops@example.com".into()],
        subject: "Run finished".into(),
        text: Some("42 companies".into()),
        html: None,
        reply_to: None,
        tags: vec![],
    }
}

#[tokio::test]
async fn resend_sends_once_per_idempotency_key() {
    let fake = FakeResend::spawn();
    let c = ResendClient::new(config(fake.base_url(), FAKE_RESEND_KEY))
        .unwrap()
        .with_policy(quick());
    let a = c.send(&email(), "run:7").await.unwrap();
    let b = c.send(&email(), "run:7").await.unwrap();
    let other = c.send(&email(), "run:8").await.unwrap();
    assert_eq!(a, b);
    assert_ne!(a, other);
    let s = fake.state();
    assert_eq!(s.sent.len(), 2);
    assert_eq!(s.sent[0]["subject"], "Run finished");
    assert_eq!(s.sent[0]["to"][0], "ops@example.com");
}

#[tokio::test]
async fn resend_bad_key_is_an_auth_error_naming_the_variable() {
    let fake = FakeResend::spawn();
    let c = ResendClient::new(config(fake.base_url(), "re_wrong")).unwrap();
    let err = c.send(&email(), "k").await.unwrap_err();
    assert!(
        matches!(err, IntegrationError::Auth { status: 403, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("LEADGEN_RESEND_API_KEY"), "{err}");
    assert!(err.to_string().contains("API key is invalid"), "{err}");
}

#[tokio::test]
async fn resend_waits_out_a_429_then_sends() {
    let fake = FakeResend::spawn();
    fake.state().faults.fail_429 = 1;
    fake.state().faults.retry_after_s = 1;
    let c = ResendClient::new(config(fake.base_url(), FAKE_RESEND_KEY))
        .unwrap()
        .with_policy(quick());
    let t = Instant::now();
    c.send(&email(), "k").await.unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert_eq!(fake.state().requests, 2);
    assert_eq!(fake.state().sent.len(), 1);
}

#[tokio::test]
async fn resend_long_retry_after_is_handed_back() {
    let fake = FakeResend::spawn();
    fake.state().faults.fail_429 = 1;
    fake.state().faults.retry_after_s = 60;
    let c = ResendClient::new(config(fake.base_url(), FAKE_RESEND_KEY))
        .unwrap()
        .with_policy(quick());
    let err = c.send(&email(), "k").await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn resend_5xx_is_retried_then_reported() {
    let fake = FakeResend::spawn();
    fake.state().faults.fail_5xx = u32::MAX;
    let c = ResendClient::new(config(fake.base_url(), FAKE_RESEND_KEY))
        .unwrap()
        .with_policy(quick());
    let err = c.send(&email(), "k").await.unwrap_err();
    assert!(
        matches!(err, IntegrationError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(fake.state().requests, 3);
}

#[tokio::test]
async fn slack_posts_text_and_blocks() {
    let fake = FakeSlack::spawn();
    let c = SlackClient::new(&fake.webhook_url()).unwrap();
    c.post(&SlackMessage::markdown("*Run* done")).await.unwrap();
    let s = fake.state();
    assert_eq!(s.messages[0]["text"], "*Run* done");
    assert_eq!(s.messages[0]["blocks"][0]["text"]["type"], "mrkdwn");
}

#[tokio::test]
async fn slack_removed_webhook_says_how_to_fix_it() {
    let fake = FakeSlack::spawn();
    let url = format!("{}/services/T1/B1/gone", fake.server.base_url());
    let err = SlackClient::new(&url)
        .unwrap()
        .post(&SlackMessage::markdown("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, IntegrationError::Config(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("no_service") && msg.contains("LEADGEN_SLACK_WEBHOOK_URL"),
        "{msg}"
    );
}

#[tokio::test]
async fn slack_empty_message_is_a_bad_request() {
    let fake = FakeSlack::spawn();
    let err = SlackClient::new(&fake.webhook_url())
        .unwrap()
        .post(&SlackMessage {
            text: String::new(),
            blocks: vec![],
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntegrationError::BadRequest { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no_text"), "{err}");
}

#[tokio::test]
async fn slack_times_out_against_a_slow_hook() {
    let fake = FakeSlack::spawn();
    fake.state().faults.latency = Duration::from_secs(30);
    let c = SlackClient::new(&fake.webhook_url())
        .unwrap()
        .with_policy(RetryPolicy {
            retries: 0,
            ..quick()
        });
    let t = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(25),
        c.post(&SlackMessage::markdown("x")),
    )
    .await
    .expect("the client's own timeout fires first")
    .unwrap_err();
    assert!(matches!(err, IntegrationError::Transport { .. }), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn webhooks_carry_a_signature_the_receiver_accepts() {
    let fake = FakeWebhook::spawn();
    let c = WebhookClient::new().unwrap().with_policy(quick());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let good = WebhookTarget {
        url: fake.url(),
        secret: FAKE_WEBHOOK_SECRET.into(),
    };
    let body = serde_json::json!({"event": "lead.delivered", "lead": {"email": "a@b.com"}});
    c.deliver(&good, "lead.delivered", "evt-1", &body, now)
        .await
        .unwrap();
    // The same event again is accepted and dropped by id.
    c.deliver(&good, "lead.delivered", "evt-1", &body, now)
        .await
        .unwrap();
    let bad = WebhookTarget {
        url: fake.url(),
        secret: "wrong".into(),
    };
    let err = c
        .deliver(&bad, "lead.delivered", "evt-2", &body, now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntegrationError::Auth { status: 401, .. }),
        "{err:?}"
    );
    // A stale timestamp (replay) is refused too.
    let err = c
        .deliver(&good, "lead.delivered", "evt-3", &body, now - 3600)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntegrationError::Auth { status: 401, .. }),
        "{err:?}"
    );
    let s = fake.state();
    assert_eq!(s.received.len(), 1);
    assert_eq!(s.received[0].1, body);
    assert_eq!(s.rejected_signatures, 2);
}

#[tokio::test]
async fn webhook_5xx_then_success_delivers_once() {
    let fake = FakeWebhook::spawn();
    fake.state().faults.fail_5xx = 2;
    let c = WebhookClient::new().unwrap().with_policy(quick());
    let good = WebhookTarget {
        url: fake.url(),
        secret: FAKE_WEBHOOK_SECRET.into(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    c.deliver(&good, "e", "id", &serde_json::json!({}), now)
        .await
        .unwrap();
    assert_eq!(fake.state().requests, 3);
    assert_eq!(fake.state().received.len(), 1);
}

fn contacts(n: usize) -> Vec<HubspotContact> {
    (0..n)
        .map(|i| HubspotContact {
            email: format!("p{i}@example.com"),
            properties: BTreeMap::from([("firstname".to_string(), format!("P{i}"))]),
        })
        .collect()
}

#[tokio::test]
async fn hubspot_upserts_in_batches_of_100_by_email() {
    let fake = FakeHubspot::spawn();
    let c = HubspotClient::new(config(fake.base_url(), FAKE_HUBSPOT_TOKEN)).unwrap();
    let r = c.upsert_contacts(&contacts(250)).await.unwrap();
    assert_eq!((r.created, r.updated, r.requests), (250, 0, 3));
    assert_eq!(fake.state().batch_sizes, [100, 100, 50]);
    assert_eq!(r.ids.len(), 250);
    let again = c.upsert_contacts(&contacts(10)).await.unwrap();
    assert_eq!((again.created, again.updated), (0, 10));
    assert_eq!(again.ids["p3@example.com"], r.ids["p3@example.com"]);
    assert_eq!(fake.state().contacts.len(), 250);
}

#[tokio::test]
async fn hubspot_partial_errors_are_reported() {
    let fake = FakeHubspot::spawn();
    let c = HubspotClient::new(config(fake.base_url(), FAKE_HUBSPOT_TOKEN)).unwrap();
    let mut list = contacts(2);
    list.push(HubspotContact {
        email: "not-an-email".into(),
        properties: BTreeMap::new(),
    });
    let r = c.upsert_contacts(&list).await.unwrap();
    assert_eq!(r.created, 2);
    assert_eq!(r.errors.len(), 1);
    assert!(r.errors[0].contains("not-an-email"), "{:?}", r.errors);
}

#[tokio::test]
async fn hubspot_429_is_retried_and_401_is_auth() {
    let fake = FakeHubspot::spawn();
    fake.state().faults.fail_429 = 1;
    fake.state().faults.retry_after_s = 0;
    let c = HubspotClient::new(config(fake.base_url(), FAKE_HUBSPOT_TOKEN))
        .unwrap()
        .with_policy(quick());
    let r = c.upsert_contacts(&contacts(5)).await.unwrap();
    assert_eq!(r.created, 5);
    assert_eq!(fake.state().requests, 2);
    let bad = HubspotClient::new(config(fake.base_url(), "nope")).unwrap();
    let err = bad.upsert_contacts(&contacts(1)).await.unwrap_err();
    assert!(
        matches!(err, IntegrationError::Auth { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("LEADGEN_HUBSPOT_API_KEY"), "{err}");
}

#[tokio::test]
async fn platform_upload_posts_the_batch_with_its_id() {
    let fake = FakeWebhook::spawn();
    let c = PlatformClient::new().unwrap().with_policy(quick());
    let cfg = ServiceConfig {
        base_url: fake.platform_url("tech"),
        api_key: None,
    };
    let batch = serde_json::json!({"platform": "tech", "leads": [{"email": "a@b.com"}]});
    c.upload(&cfg, "b-1", &batch).await.unwrap();
    let s = fake.state();
    assert_eq!(s.uploads.len(), 1);
    assert_eq!(s.uploads[0].0, "tech");
    assert_eq!(s.uploads[0].1, "b-1");
    assert_eq!(s.uploads[0].2, batch);
}
