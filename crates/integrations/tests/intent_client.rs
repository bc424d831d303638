//! The DataShopper-style intent client against its loopback fake: pages,
//! size filters, a refused key, running out of credits, 429 and 5xx.

use std::time::Duration;

use leadgen_core::intent::ActiveQuery;
use leadgen_integrations::fake::FAKE_KEY;
use leadgen_integrations::fake_intent::{FakeIntent, WORLD_SIZE};
use leadgen_integrations::http::{HttpClient, RetryPolicy};
use leadgen_integrations::intent::{DataShopperClient, IntentProvider};
use leadgen_integrations::{IntegrationError, ServiceConfig};

fn client(fake: &FakeIntent, key: &str) -> DataShopperClient {
    DataShopperClient::new(ServiceConfig {
        base_url: fake.base_url(),
        api_key: Some(key.into()),
    })
    .unwrap()
    .with_http(
        HttpClient::new("datashopper", Duration::from_secs(5))
            .unwrap()
            .with_policy(RetryPolicy {
                retries: 2,
                base_delay: Duration::from_millis(10),
                max_wait: Duration::from_secs(2),
            }),
    )
}

fn query(limit: u32) -> ActiveQuery {
    ActiveQuery {
        topic: "crm software".into(),
        country: Some("US".into()),
        states: vec![],
        min_size: None,
        max_size: None,
        industries: vec!["software".into()],
        limit,
    }
}

#[tokio::test]
async fn pages_carry_the_signals_and_say_when_more_remain() {
    let fake = FakeIntent::spawn();
    fake.faults().today = Some("2026-11-30".into());
    let c = client(&fake, FAKE_KEY);
    let p: &dyn IntentProvider = &c;
    let first = p.search_page(&query(20), 1).await.unwrap();
    assert_eq!((first.signals.len(), first.has_more), (20, true));
    let second = p.search_page(&query(20), 2).await.unwrap();
    assert_eq!(
        (second.signals.len() as u32, second.has_more),
        (WORLD_SIZE - 20, false)
    );
    let s = &first.signals[0];
    assert_eq!(s.domain.as_deref(), Some("intent0-fake.com"));
    assert_eq!(
        (s.score.as_deref(), s.strength.as_deref()),
        (Some("85"), Some("high"))
    );
    assert_eq!(s.detected_at.as_deref(), Some("2026-11-30T00:00:00Z"));
    let small = ActiveQuery {
        max_size: Some(50),
        ..query(100)
    };
    assert_eq!(
        c.search(&small, 1).await.unwrap().signals.len(),
        5,
        "10 to 50 employees"
    );
    assert_eq!(fake.state().topics.len(), 3);
}

#[tokio::test]
async fn refusals_sort_into_what_to_do() {
    let fake = FakeIntent::spawn();
    let e = client(&fake, "wrong")
        .search(&query(10), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(e, IntegrationError::Auth { status: 401, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("LEADGEN_DATASHOPPER_API_KEY"));
    let c = client(&fake, FAKE_KEY);
    fake.state().out_of_credits = true;
    let e = c.search(&query(10), 1).await.unwrap_err();
    assert!(
        matches!(&e, IntegrationError::RateLimited { message, retry_after: Some(_), .. } if message.contains("credits")),
        "{e:?}"
    );
    fake.state().out_of_credits = false;
    {
        let mut f = fake.faults();
        (f.fail_429, f.retry_after_s, f.fail_5xx) = (1, 1, 1);
    }
    let started = std::time::Instant::now();
    assert_eq!(c.search(&query(10), 1).await.unwrap().signals.len(), 10);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited out Retry-After"
    );
    fake.faults().fail_5xx = 9;
    let e = c.search(&query(10), 1).await.unwrap_err();
    assert!(
        matches!(e, IntegrationError::Server { status: 503, .. }),
        "{e:?}"
    );
    let none = DataShopperClient::new(ServiceConfig {
        base_url: fake.base_url(),
        api_key: None,
    });
    assert!(matches!(none, Err(IntegrationError::Config(_))));
}
