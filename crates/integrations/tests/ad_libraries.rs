//! The scraped ad libraries: their parsers on saved pages, and their
//! clients against loopback fakes that answer in the same shapes — pages,
//! 429 with Retry-After, 5xx, timeouts, LinkedIn's login wall — and the
//! parsers on arbitrary bytes.

use std::time::Duration;

use leadgen_integrations::IntegrationError;
use leadgen_integrations::ServiceConfig;
use leadgen_integrations::ad_library::AdPage;
use leadgen_integrations::fake_google_ads_transparency::FakeTransparency;
use leadgen_integrations::fake_linkedin_ads::FakeLinkedinAds;
use leadgen_integrations::google_ads_transparency::{
    CreativeSearch, TransparencyClient, parse_search_creatives,
};
use leadgen_integrations::http::{HttpClient, RetryPolicy};
use leadgen_integrations::linkedin_ads::{
    LinkedinAdSearch, LinkedinAdsClient, PAGE_SIZE, is_login_wall, parse_search_page,
};
use proptest::prelude::*;

const TODAY: &str = "2026-11-30";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn quick(service: &'static str, timeout: Duration) -> HttpClient {
    HttpClient::new(service, timeout)
        .unwrap()
        .with_policy(RetryPolicy {
            retries: 2,
            base_delay: Duration::from_millis(10),
            max_wait: Duration::from_secs(2),
        })
}

fn config(base: String) -> ServiceConfig {
    ServiceConfig {
        base_url: base,
        api_key: None,
    }
}

#[test]
fn a_saved_search_creatives_answer_gives_its_ads() {
    let page =
        parse_search_creatives(&fixture("google_ads_transparency_search_creatives.txt")).unwrap();
    assert_eq!(
        page.ads.len(),
        5,
        "the creative without an advertiser is dropped"
    );
    assert_eq!(
        page.next.as_deref(),
        Some("CAEQAhogChxDUjA3Nzc0MjI5MTQwMjEwOTc0NzMQARj_kV0")
    );
    let text = &page.ads[0];
    assert_eq!(text.advertiser_id, "AR01614014350098432001");
    assert_eq!(text.advertiser_name.as_deref(), Some("Acme Software Inc."));
    assert_eq!(text.link.as_deref(), Some("acmecrm.com"));
    assert_eq!(
        text.creative_text.as_deref(),
        Some(
            "Acme CRM \u{2013} Close Deals Faster Pipeline, email & calls in one place. Start your free trial."
        )
    );
    assert_eq!(
        (text.started.as_deref(), text.stopped.as_deref()),
        (Some("2025-11-01"), Some("2025-11-30"))
    );
    let image = &page.ads[1];
    assert_eq!(image.creative_text, None, "an image ad has no text");
    assert_eq!(image.started.as_deref(), Some("2025-10-01"));
    let odd = &page.ads[4];
    assert_eq!(
        (
            odd.advertiser_name.as_deref(),
            odd.started.as_deref(),
            odd.stopped.as_deref()
        ),
        (None, None, None)
    );
}

#[test]
fn a_saved_search_page_gives_its_ad_cards() {
    let html = fixture("linkedin_ad_library_search.html");
    assert!(!is_login_wall(&html));
    let ads = parse_search_page(&html);
    assert_eq!(ads.len(), 3, "the commented-out card is not an ad: {ads:?}");
    let a = &ads[0];
    assert_eq!(
        (a.id.as_str(), a.advertiser_id.as_str()),
        ("656802214", "2414183")
    );
    assert_eq!(a.advertiser_name.as_deref(), Some("Acme Analytics"));
    assert_eq!(
        a.link.as_deref(),
        Some(
            "https://www.acme-analytics.com/demo?utm_source=linkedin&utm_medium=paid&utm_campaign=q4"
        )
    );
    assert_eq!(
        a.creative_text.as_deref(),
        Some(
            "Your dashboards, minus the spreadsheets. See why 4,000 teams switched \u{2014} book a 15\u{2011}minute demo."
        )
    );
    assert_eq!(
        (a.started.as_deref(), a.stopped.as_deref()),
        (Some("2026-11-03"), Some("2026-11-24"))
    );
    let b = &ads[1];
    assert_eq!(
        (b.id.as_str(), b.advertiser_id.as_str()),
        ("661234587", "acme-analytics")
    );
    assert_eq!((b.link.as_deref(), b.stopped.as_deref()), (None, None));
    assert_eq!(b.started.as_deref(), Some("2026-11-20"));
    assert_eq!(
        b.creative_text.as_deref(),
        Some("Q4 webinar: forecasting with \"live\" data")
    );
    let c = &ads[2];
    assert_eq!(
        c.advertiser_id, "name:northwind payroll",
        "no company link: grouped by name"
    );
    assert_eq!(
        c.link.as_deref(),
        Some("http://northwind-payroll.example/start")
    );
}

async fn all_google(client: &TransparencyClient, s: &CreativeSearch) -> (Vec<AdPage>, usize) {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let p = client.search(s, token.as_deref()).await.unwrap();
        token = p.next.clone();
        pages.push(p);
        if token.is_none() {
            break;
        }
    }
    let n = pages.iter().map(|p| p.ads.len()).sum();
    (pages, n)
}

#[tokio::test]
async fn the_transparency_client_pages_through_a_search() {
    let fake = FakeTransparency::spawn();
    fake.control().today = Some(TODAY.into());
    let client = TransparencyClient::new(config(fake.base_url()))
        .unwrap()
        .with_http(quick("google_ads_transparency", Duration::from_secs(5)));
    let s = CreativeSearch {
        text: "crm software".into(),
        advertiser_ids: vec![],
        region: Some("US".into()),
    };
    let (pages, n) = all_google(&client, &s).await;
    assert_eq!(n, 210, "twenty advertisers with k + 1 ads each");
    assert_eq!(pages.len(), 6, "pages of 40");
    let first = &pages[0].ads[0];
    assert_eq!(first.advertiser_id, "AR100000");
    assert!(
        first
            .creative_text
            .as_deref()
            .unwrap()
            .starts_with("crm software: offer 0")
    );
    assert_eq!(fake.control().requests, 6);
    // One advertiser only.
    let one = CreativeSearch {
        advertiser_ids: vec!["AR100003".into()],
        ..s.clone()
    };
    let (_, n) = all_google(&client, &one).await;
    assert_eq!(n, 4);
    // A search with nothing to search for gets `{}`: an empty last page.
    let empty = client
        .search(&CreativeSearch::default(), None)
        .await
        .unwrap();
    assert_eq!(empty, AdPage::default());
}

#[tokio::test]
async fn library_clients_wait_out_short_429s_and_5xx_and_hand_back_long_ones() {
    let g = FakeTransparency::spawn();
    let l = FakeLinkedinAds::spawn();
    let google = TransparencyClient::new(config(g.base_url()))
        .unwrap()
        .with_http(quick("google_ads_transparency", Duration::from_secs(5)));
    let linkedin = LinkedinAdsClient::new(config(l.base_url()))
        .unwrap()
        .with_http(quick("linkedin_ads", Duration::from_secs(5)));
    let gs = CreativeSearch {
        text: "crm".into(),
        ..CreativeSearch::default()
    };
    let ls = LinkedinAdSearch {
        keyword: Some("crm".into()),
        ..LinkedinAdSearch::default()
    };
    for c in [&g.control, &l.control] {
        let mut c = c.lock().unwrap();
        (c.fail_429, c.retry_after_s, c.fail_5xx) = (1, 1, 1);
    }
    let started = std::time::Instant::now();
    assert!(!google.search(&gs, None).await.unwrap().ads.is_empty());
    assert!(!linkedin.search(&ls, None).await.unwrap().ads.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(1800),
        "both waited a second"
    );
    for c in [&g.control, &l.control] {
        let mut c = c.lock().unwrap();
        (c.fail_429, c.retry_after_s) = (1, 600);
    }
    let long = |e: IntegrationError| matches!(e, IntegrationError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(600));
    assert!(long(google.search(&gs, None).await.unwrap_err()));
    assert!(long(linkedin.search(&ls, None).await.unwrap_err()));
    // 5xx beyond the retries is a server error, to be retried later.
    g.control().fail_5xx = 5;
    let e = google.search(&gs, None).await.unwrap_err();
    assert!(
        matches!(e, IntegrationError::Server { status: 503, .. }) && e.is_retryable(),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_slow_library_times_out_as_a_transport_error() {
    let l = FakeLinkedinAds::spawn();
    l.control().latency = Duration::from_millis(800);
    let client = LinkedinAdsClient::new(config(l.base_url()))
        .unwrap()
        .with_http(
            quick("linkedin_ads", Duration::from_millis(200)).with_policy(RetryPolicy {
                retries: 0,
                ..RetryPolicy::default()
            }),
        );
    let e = client
        .search(&LinkedinAdSearch::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, IntegrationError::Transport { message, .. } if message == "timed out"),
        "{e:?}"
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn the_linkedin_client_pages_by_offset_and_reports_the_login_wall() {
    let l = FakeLinkedinAds::spawn();
    l.control().today = Some(TODAY.into());
    let client = LinkedinAdsClient::new(config(l.base_url()))
        .unwrap()
        .with_http(quick("linkedin_ads", Duration::from_secs(5)));
    let s = LinkedinAdSearch {
        keyword: Some("crm software".into()),
        company_ids: vec!["100004".into(), "100019".into()],
        countries: vec!["US".into()],
        date_range: None,
    };
    let mut ads = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let p = client.search(&s, token.as_deref()).await.unwrap();
        pages += 1;
        ads.extend(p.ads);
        match p.next {
            Some(n) => token = Some(n),
            None => break,
        }
    }
    assert_eq!(ads.len(), 5 + 20, "advertisers 4 and 19");
    assert_eq!(pages, 2, "{PAGE_SIZE} a page");
    assert!(
        ads.iter()
            .all(|a| a.advertiser_id == "100004" || a.advertiser_id == "100019")
    );
    let a = ads.iter().find(|a| a.advertiser_id == "100004").unwrap();
    assert_eq!(
        a.link.as_deref(),
        Some("https://advertiser4-fake.com/demo?utm_source=linkedin&utm_medium=paid")
    );
    assert!(a.started.is_some());
    l.control().login_wall = true;
    let e = client.search(&s, None).await.unwrap_err();
    assert!(
        matches!(&e, IntegrationError::RateLimited { message, .. } if message.contains("login wall")),
        "{e:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse_search_creatives(&s);
        let _ = parse_search_page(&s);
        let _ = is_login_wall(&s);
    }

    #[test]
    fn parsers_never_panic_on_mangled_pages(cut in 0usize..6000, junk in "[<>\"'&;#a-z0-9 /=-]{0,40}") {
        for page in [fixture("linkedin_ad_library_search.html"), fixture("google_ads_transparency_search_creatives.txt")] {
            let mut at = cut.min(page.len());
            while !page.is_char_boundary(at) { at -= 1; }
            let mangled = format!("{}{junk}{}", &page[..at], &page[at..]);
            let _ = parse_search_page(&mangled);
            let _ = parse_search_creatives(&mangled);
            let _ = parse_search_page(&page[..at]);
        }
    }
}
