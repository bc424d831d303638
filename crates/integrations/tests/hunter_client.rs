//! The Hunter client against its loopback fake.

use std::time::Duration;

use leadgen_integrations::fake_hunter::{FAKE_KEY, FakeHunter, HunterPerson};
use leadgen_integrations::http::{HttpClient, RetryPolicy};
use leadgen_integrations::hunter::HunterClient;
use leadgen_integrations::{IntegrationError, ServiceConfig};

fn client(fake: &FakeHunter, key: &str) -> HunterClient {
    HunterClient::new(ServiceConfig {
        base_url: fake.base_url(),
        api_key: Some(key.into()),
    })
    .unwrap()
    .with_http(
        HttpClient::new("hunter", Duration::from_secs(2))
            .unwrap()
            .with_policy(RetryPolicy {
                retries: 2,
                base_delay: Duration::from_millis(10),
                max_wait: Duration::from_secs(2),
            }),
    )
}

fn seeded() -> FakeHunter {
    let fake = FakeHunter::spawn();
    fake.control().people.insert(
        "acme.com".into(),
        vec![HunterPerson {
            first: "Jane".into(),
            last: "Doe".into(),
            email: "jane.doe@acme.com".into(),
            position: "CEO".into(),
            confidence: 94,
        }],
    );
    fake
}

#[tokio::test]
async fn domain_search_finder_and_verifier_read_the_envelope() {
    let fake = seeded();
    let c = client(&fake, FAKE_KEY);
    let d = c.domain_search("acme.com", 10).await.unwrap();
    assert_eq!(d.emails[0].value, "jane.doe@acme.com");
    assert_eq!(d.emails[0].position.as_deref(), Some("CEO"));
    assert_eq!(d.pattern.as_deref(), Some("{first}.{last}"));
    let f = c.email_finder("acme.com", "Jane", "Doe").await.unwrap();
    assert_eq!(
        (f.email.as_deref(), f.score),
        (Some("jane.doe@acme.com"), Some(94))
    );
    let none = c.email_finder("acme.com", "Bob", "Roe").await.unwrap();
    assert_eq!(none.email, None);
    assert_eq!(
        c.email_verifier("jane.doe@acme.com").await.unwrap().status,
        "valid"
    );
    assert_eq!(
        c.email_verifier("x@acme.com").await.unwrap().status,
        "invalid"
    );
}

#[tokio::test]
async fn hunter_statuses_sort_into_what_to_do() {
    let fake = seeded();
    let err = client(&fake, "wrong")
        .domain_search("acme.com", 10)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntegrationError::Auth { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("No user found"));

    // 403 is Hunter's rate limit: retried in place.
    fake.control().fail_403 = 1;
    assert!(
        client(&fake, FAKE_KEY)
            .domain_search("acme.com", 10)
            .await
            .is_ok()
    );
    // 403 with a long Retry-After goes back to the caller with it.
    {
        let mut c = fake.control();
        c.fail_403 = 5;
        c.retry_after_s = Some(30);
    }
    let err = client(&fake, FAKE_KEY)
        .domain_search("acme.com", 10)
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    fake.control().fail_403 = 0;

    // 429 is the plan's usage: never retried.
    fake.control().usage_spent = true;
    let before = fake.control().requests;
    let err = client(&fake, FAKE_KEY)
        .domain_search("acme.com", 10)
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(fake.control().requests, before + 1);
    fake.control().usage_spent = false;

    fake.control().fail_500 = 1;
    assert!(
        client(&fake, FAKE_KEY)
            .domain_search("acme.com", 10)
            .await
            .is_ok()
    );

    // 202: still verifying, ask again later.
    fake.control().verifying = 1;
    let err = client(&fake, FAKE_KEY)
        .email_verifier("jane.doe@acme.com")
        .await
        .unwrap_err();
    assert!(err.retry_after().is_some(), "{err}");
}

#[tokio::test]
async fn a_slow_hunter_times_out() {
    let fake = seeded();
    fake.control().latency = Duration::from_secs(4);
    let c = HunterClient::new(ServiceConfig {
        base_url: fake.base_url(),
        api_key: Some(FAKE_KEY.into()),
    })
    .unwrap()
    .with_http(
        HttpClient::new("hunter", Duration::from_millis(200))
            .unwrap()
            .with_policy(RetryPolicy {
                retries: 0,
                base_delay: Duration::from_millis(1),
                max_wait: Duration::from_secs(1),
            }),
    );
    let err = c.domain_search("acme.com", 10).await.unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
}
