//! The Instantly and NovaCRM clients against their loopback fakes.

use std::time::Duration;

use leadgen_integrations::fake_instantly::{FAKE_INSTANTLY_KEY, FakeInstantly};
use leadgen_integrations::fake_novacrm::{FAKE_NOVACRM_KEY, FakeNovaCrm};
use leadgen_integrations::http::{HttpClient, RetryPolicy};
use leadgen_integrations::instantly::{InstantlyClient, InstantlyLead, Schedule};
use leadgen_integrations::novacrm::{Capture, NovaCrmClient};
use leadgen_integrations::{IntegrationError, ServiceConfig};

fn instantly(fake: &FakeInstantly, key: &str) -> InstantlyClient {
    InstantlyClient::new(ServiceConfig {
        base_url: fake.base_url(),
        api_key: Some(key.into()),
    })
    .unwrap()
}

fn lead(email: &str) -> InstantlyLead {
    InstantlyLead {
        email: email.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn instantly_creates_a_campaign_and_maps_created_leads_back() {
    let fake = FakeInstantly::spawn();
    let c = instantly(&fake, FAKE_INSTANTLY_KEY);
    let id = c
        .create_campaign("Dentists", &Schedule::default())
        .await
        .unwrap();
    let leads = vec![lead("a@x.com"), lead("not-an-email"), lead("b@x.com")];
    let r = c.add_leads(&id, &leads, false).await.unwrap();
    let idx: Vec<usize> = r.created_leads.iter().map(|l| l.index).collect();
    assert_eq!(idx, [0, 2]);
    assert_eq!((r.leads_uploaded, r.invalid_email_count), (2, 1));
    // Sent again with skip_if_in_campaign: nothing is created twice.
    let again = c.add_leads(&id, &leads, true).await.unwrap();
    assert_eq!((again.leads_uploaded, again.skipped_count), (0, 2));
    assert!(fake.control().duplicates().is_empty());
    fake.control().analytics.insert(
        id.clone(),
        serde_json::json!({"reply_count": 3, "emails_sent_count": 9}),
    );
    let a = c.analytics(&id).await.unwrap().unwrap();
    assert_eq!(
        (a.leads_count, a.reply_count, a.emails_sent_count),
        (2, 3, 9)
    );
    assert!(c.analytics("cmp-unknown").await.unwrap().is_none());
    let too_many: Vec<InstantlyLead> = (0..1001).map(|i| lead(&format!("p{i}@x.com"))).collect();
    assert!(matches!(
        c.add_leads(&id, &too_many, false).await,
        Err(IntegrationError::Config(_))
    ));
}

#[tokio::test]
async fn instantly_errors_are_sorted() {
    let fake = FakeInstantly::spawn();
    let bad = instantly(&fake, "wrong");
    assert!(matches!(
        bad.create_campaign("x", &Schedule::default()).await,
        Err(IntegrationError::Auth { status: 401, .. })
    ));
    let c = instantly(&fake, FAKE_INSTANTLY_KEY);
    fake.control().fail_429 = 1;
    match c.create_campaign("x", &Schedule::default()).await {
        Err(IntegrationError::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)))
        }
        other => panic!("{other:?}"),
    }
    fake.control().fail_5xx = 1;
    assert!(matches!(
        c.create_campaign("x", &Schedule::default()).await,
        Err(IntegrationError::Server { status: 500, .. })
    ));
    // A schedule in a timezone Instantly does not list is refused.
    let ny = Schedule {
        timezone: "America/New_York".into(),
        ..Schedule::default()
    };
    assert!(matches!(
        c.create_campaign("x", &ny).await,
        Err(IntegrationError::BadRequest { status: 400, .. })
    ));
    fake.control().latency = Duration::from_millis(500);
    let slow = c.clone().with_http(
        HttpClient::new("instantly", Duration::from_millis(100))
            .unwrap()
            .with_policy(RetryPolicy {
                retries: 0,
                ..RetryPolicy::default()
            }),
    );
    assert!(matches!(
        slow.create_campaign("x", &Schedule::default()).await,
        Err(IntegrationError::Transport { .. })
    ));
}

#[tokio::test]
async fn the_fake_enforces_100_requests_per_second() {
    let fake = FakeInstantly::spawn();
    let c = instantly(&fake, FAKE_INSTANTLY_KEY);
    let calls = (0..150).map(|_| {
        let c = c.clone();
        async move { c.analytics("none").await }
    });
    let results = futures_join(calls).await;
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(IntegrationError::RateLimited { .. })))
        .count();
    // All 150 arrive within about a second: 100 pass, the rest get 429
    // (a slow machine may spread them a little past the second).
    assert!((30..=50).contains(&limited), "{limited} limited");
    assert_eq!(fake.control().rate_limited, limited as u64);
}

async fn futures_join<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn novacrm_captures_and_sorts_errors() {
    let fake = FakeNovaCrm::spawn();
    let config = |key: &str| ServiceConfig {
        base_url: fake.base_url(),
        api_key: Some(key.into()),
    };
    let c = NovaCrmClient::new(config(FAKE_NOVACRM_KEY)).unwrap();
    let cap = Capture {
        name: "Jane Doe".into(),
        email: "jane@x.com".into(),
        source: "leadgen".into(),
        utm_campaign: "dentists".into(),
        ..Default::default()
    };
    assert_eq!(c.capture(&cap).await.unwrap(), "nova-1");
    assert_eq!(
        fake.control().captures_of("jane@x.com")[0]["utm_campaign"],
        "dentists"
    );
    let bad = NovaCrmClient::new(config("nope")).unwrap();
    assert!(matches!(
        bad.capture(&cap).await,
        Err(IntegrationError::Auth { status: 401, .. })
    ));
    fake.control().fail_429 = 1;
    assert!(matches!(
        c.capture(&cap).await,
        Err(IntegrationError::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(2)
    ));
    fake.control().fail_5xx = 1;
    assert!(matches!(
        c.capture(&cap).await,
        Err(IntegrationError::Server { status: 502, .. })
    ));
    let missing = Capture {
        email: String::new(),
        ..cap.clone()
    };
    assert!(matches!(
        c.capture(&missing).await,
        Err(IntegrationError::BadRequest { status: 422, .. })
    ));
    assert_eq!(fake.control().captures.len(), 1);
    assert!(
        NovaCrmClient::new(ServiceConfig {
            base_url: fake.base_url(),
            api_key: None
        })
        .is_err()
    );
}
