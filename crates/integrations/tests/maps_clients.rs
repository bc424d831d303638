//! The Places and SerpApi clients against the loopback fake that speaks
//! their contracts: pages, 429 with Retry-After, quota, bad keys, nothing
//! found.

use std::collections::HashSet;
use std::time::Duration;

use leadgen_integrations::fake::{FAKE_KEY, FakeMaps};
use leadgen_integrations::google_places::{PlacesClient, PlacesFields};
use leadgen_integrations::http::{HttpClient, RetryPolicy};
use leadgen_integrations::maps::{MapsProvider, MapsQuery};
use leadgen_integrations::serpapi::SerpApiClient;
use leadgen_integrations::{IntegrationError, ServiceConfig};

fn config(fake: &FakeMaps, key: &str) -> ServiceConfig {
    ServiceConfig {
        base_url: fake.base_url(),
        api_key: Some(key.to_owned()),
    }
}

fn quick(service: &'static str) -> HttpClient {
    HttpClient::new(service, Duration::from_secs(5))
        .unwrap()
        .with_policy(RetryPolicy {
            retries: 2,
            base_delay: Duration::from_millis(10),
            max_wait: Duration::from_secs(2),
        })
}

fn providers(fake: &FakeMaps) -> Vec<Box<dyn MapsProvider>> {
    vec![
        Box::new(
            PlacesClient::new(config(fake, FAKE_KEY), PlacesFields::Full)
                .unwrap()
                .with_http(quick("google_places")),
        ),
        Box::new(
            SerpApiClient::new(config(fake, FAKE_KEY))
                .unwrap()
                .with_http(quick("serpapi")),
        ),
    ]
}

fn query(q: &str) -> MapsQuery {
    MapsQuery {
        query: q.into(),
        lat: 40.7506,
        lon: -73.9972,
        radius_m: 3000.0,
        page_size: 20,
    }
}

async fn all_pages(p: &dyn MapsProvider, q: &MapsQuery) -> (Vec<String>, u32, u64) {
    let (mut ids, mut pages, mut cost) = (Vec::new(), 0, 0);
    let mut token: Option<String> = None;
    loop {
        let page = p.search_page(q, token.as_deref()).await.unwrap();
        pages += 1;
        cost += page.cost_micros;
        ids.extend(page.places.iter().map(|p| p.place_id.clone().unwrap()));
        match page.next_page {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    (ids, pages, cost)
}

#[tokio::test]
async fn both_vendors_page_through_the_same_places() {
    let fake = FakeMaps::spawn();
    let mut seen = Vec::new();
    for p in providers(&fake) {
        let (ids, pages, cost) = all_pages(&*p, &query("dentist")).await;
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{}: a place twice across pages",
            p.name()
        );
        assert_eq!(ids.len(), 36, "{}: 9 cells × 4 businesses", p.name());
        assert_eq!(pages, 2, "{}", p.name());
        assert_eq!(cost, u64::from(pages) * p.cost_per_request_micros());
        seen.push(unique.into_iter().cloned().collect::<HashSet<String>>());
    }
    assert_eq!(seen[0], seen[1], "the vendors know the same place ids");
    let c = fake.control();
    assert_eq!((c.places_requests, c.serpapi_requests), (2, 2));
    assert!(c.masks.iter().all(|m| m == &PlacesFields::Full.mask()));
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_a_long_one_handed_back() {
    let fake = FakeMaps::spawn();
    for p in providers(&fake) {
        {
            let mut c = fake.control();
            c.fail_429 = 1;
            c.retry_after_s = 1;
        }
        let started = std::time::Instant::now();
        let page = p.search_page(&query("dentist"), None).await.unwrap();
        assert!(!page.places.is_empty());
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{}: waited",
            p.name()
        );
        {
            let mut c = fake.control();
            c.fail_429 = 1;
            c.retry_after_s = 120;
        }
        let err = p.search_page(&query("dentist"), None).await.unwrap_err();
        assert!(
            matches!(err, IntegrationError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(120)),
            "{}: {err:?}",
            p.name()
        );
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn quota_bad_key_and_empty_results() {
    let fake = FakeMaps::spawn();
    fake.control().empty_query = Some("unicorn".into());
    for p in providers(&fake) {
        let page = p
            .search_page(&query("unicorn groomer"), None)
            .await
            .unwrap();
        assert!(
            page.places.is_empty() && page.next_page.is_none(),
            "{}",
            p.name()
        );
    }
    fake.control().quota_exhausted = true;
    for p in providers(&fake) {
        let err = p.search_page(&query("dentist"), None).await.unwrap_err();
        assert!(
            matches!(
                err,
                IntegrationError::RateLimited {
                    retry_after: None,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    fake.control().quota_exhausted = false;
    let places = PlacesClient::new(config(&fake, "wrong"), PlacesFields::Basic)
        .unwrap()
        .with_http(quick("google_places"));
    let err = places
        .search_page(&query("dentist"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntegrationError::Auth { status: 403, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let serp = SerpApiClient::new(config(&fake, "wrong"))
        .unwrap()
        .with_http(quick("serpapi"));
    let err = serp.search_page(&query("dentist"), None).await.unwrap_err();
    assert!(
        matches!(err, IntegrationError::Auth { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("LEADGEN_SERPAPI_API_KEY"), "{err}");
    let none = ServiceConfig {
        base_url: fake.base_url(),
        api_key: None,
    };
    assert!(matches!(
        PlacesClient::new(none, PlacesFields::Basic),
        Err(IntegrationError::Config(_))
    ));
}

#[tokio::test]
async fn the_field_mask_decides_what_comes_back() {
    let fake = FakeMaps::spawn();
    let basic = PlacesClient::new(config(&fake, FAKE_KEY), PlacesFields::Basic)
        .unwrap()
        .with_http(quick("google_places"));
    let page = basic.search_page(&query("dentist"), None).await.unwrap();
    assert!(
        page.places
            .iter()
            .all(|p| p.phone.is_none() && p.rating.is_none())
    );
    assert!(
        page.places
            .iter()
            .all(|p| p.name.is_some() && p.postal_code.is_some())
    );
    assert_eq!(page.cost_micros, PlacesFields::Basic.list_price_micros());
}

#[tokio::test]
async fn a_tampered_page_token_is_refused() {
    let fake = FakeMaps::spawn();
    let places = PlacesClient::new(config(&fake, FAKE_KEY), PlacesFields::Full)
        .unwrap()
        .with_http(quick("google_places"));
    let first = places.search_page(&query("dentist"), None).await.unwrap();
    let token = first.next_page.unwrap();
    let mut other = query("dentist");
    other.radius_m = 9000.0;
    let err = places.search_page(&other, Some(&token)).await.unwrap_err();
    assert!(
        matches!(err, IntegrationError::BadRequest { status: 400, .. }),
        "{err:?}"
    );
}
