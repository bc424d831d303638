//! The crawler against the fixture sites, each checked against its
//! ground truth (`truth.json`), plus the SSRF and limit tests.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use leadgen_enrich::crawl::{CrawlError, CrawlOptions, Crawler, SiteReport};
use leadgen_enrich::net::{FetchError, FetchOptions, StaticResolver};
use leadgen_enrich::testkit::{FixtureSites, fixtures_root};
use serde_json::Value;

fn options(allow_private: bool) -> CrawlOptions {
    CrawlOptions {
        fetch: FetchOptions {
            allow_private_network: allow_private,
            timeout: Duration::from_secs(5),
            ..FetchOptions::default()
        },
        ..CrawlOptions::default()
    }
}

fn crawler(allow_private: bool, resolver: StaticResolver) -> Crawler {
    Crawler::with_resolver(options(allow_private), Arc::new(resolver)).unwrap()
}

fn set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

fn truth(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures_root().join(name).join("truth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn check(name: &str, r: &SiteReport, t: &Value) -> Vec<String> {
    let mut wrong = Vec::new();
    let emails: BTreeSet<String> = r.emails.iter().map(|e| e.email.clone()).collect();
    if emails != set(&t["emails"]) {
        wrong.push(format!(
            "{name}: emails {emails:?} != {:?}",
            set(&t["emails"])
        ));
    }
    let phones: BTreeSet<String> = r.phones.iter().cloned().collect();
    if phones != set(&t["phones"]) {
        wrong.push(format!(
            "{name}: phones {phones:?} != {:?}",
            set(&t["phones"])
        ));
    }
    let socials: BTreeSet<(String, String)> = r
        .socials
        .iter()
        .map(|(k, u)| (k.as_str().to_owned(), u.clone()))
        .collect();
    let want: BTreeSet<(String, String)> = t["socials"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        .collect();
    if socials != want {
        wrong.push(format!("{name}: socials {socials:?} != {want:?}"));
    }
    let tech: BTreeSet<String> = r.tech_stack.iter().cloned().collect();
    if tech != set(&t["tech"]) {
        wrong.push(format!("{name}: tech {tech:?} != {:?}", set(&t["tech"])));
    }
    let people: BTreeSet<(String, String)> = r
        .people
        .iter()
        .map(|p| (p.name.clone(), p.title.clone().unwrap_or_default()))
        .collect();
    let want: BTreeSet<(String, String)> = t["people"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_owned(),
                p["title"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    if people != want {
        wrong.push(format!("{name}: people {people:?} != {want:?}"));
    }
    let blocked = t["robots_blocked"].as_bool().unwrap_or(false);
    if blocked != (r.pages.is_empty() && !r.robots_disallowed.is_empty()) {
        wrong.push(format!(
            "{name}: robots_blocked expected {blocked}, pages {:?}",
            r.pages
        ));
    }
    if let Some(d) = t["domain"].as_str()
        && r.domain.as_deref() != Some(d)
    {
        wrong.push(format!("{name}: domain {:?} != {d}", r.domain));
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_site_matches_its_ground_truth() {
    let sites = FixtureSites::spawn_bundled().unwrap();
    assert!(sites.sites.len() >= 20, "{} sites", sites.sites.len());
    let c = crawler(true, FixtureSites::resolver());
    let mut wrong = Vec::new();
    for name in sites.sites.keys() {
        let r = c.crawl(&sites.url(name).unwrap()).await.unwrap();
        wrong.extend(check(name, &r, &truth(name)));
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn signals_read_the_home_page() {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let c = crawler(true, FixtureSites::resolver());
    let r = c
        .crawl(&sites.url("bellaplumbing.com").unwrap())
        .await
        .unwrap();
    assert!(r.signals.mobile_viewport && !r.signals.https);
    assert_eq!(r.signals.copyright_year, Some(2024));
    assert!(r.signals.page_weight_bytes > 500);
    assert_eq!(r.addresses[0].locality.as_deref(), Some("Springfield"));
    assert_eq!(r.name.as_deref(), Some("Bella Plumbing"));
    let old = c
        .crawl(&sites.url("greenlawn-care.com").unwrap())
        .await
        .unwrap();
    assert!(!old.signals.mobile_viewport);
    assert_eq!(old.signals.copyright_year, Some(2015));
    let form = c
        .crawl(&sites.url("northside-dental.com").unwrap())
        .await
        .unwrap();
    assert!(form.signals.has_form && form.emails.is_empty());
}

#[tokio::test]
async fn robots_keeps_us_off_forbidden_pages() {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let c = crawler(true, FixtureSites::resolver());
    let r = c.crawl(&sites.url("halfopen.com").unwrap()).await.unwrap();
    assert!(
        r.robots_disallowed.iter().any(|u| u.ends_with("/team")),
        "{r:?}"
    );
    assert!(!r.pages.iter().any(|p| p.url.ends_with("/team")));
}

#[tokio::test]
async fn loopback_is_refused_unless_allowed() {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let url = sites.ip_url("bellaplumbing.com").unwrap();
    let err = crawler(false, StaticResolver::new())
        .crawl(&url)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CrawlError::Fetch(FetchError::Refused { .. })),
        "{err}"
    );
    let ok = crawler(true, StaticResolver::new())
        .crawl(&url)
        .await
        .unwrap();
    assert!(!ok.pages.is_empty());
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused() {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let port = sites.sites["bellaplumbing.com"].port();
    for ip in ["127.0.0.1", "10.0.0.7", "169.254.169.254", "::1"] {
        let ip: IpAddr = ip.parse().unwrap();
        let r = StaticResolver::new().with("innocent.example", ip);
        let err = crawler(false, r)
            .crawl(&format!("http://innocent.example:{port}/"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, CrawlError::Fetch(FetchError::Refused { .. })),
            "{ip}: {err}"
        );
    }
}

#[tokio::test]
async fn every_redirect_hop_is_checked_again() {
    // The start site is allowed (127.0.0.1 only, as an internal proxy
    // would be); its redirects point at another loopback address and at a
    // name that resolves to the cloud metadata address. Both hops must be
    // refused although the first request was fine.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ssrf");
    let sites = FixtureSites::spawn(&root).unwrap();
    let port = sites.sites["hopper.example"].port();
    let resolver = StaticResolver::new()
        .with("hopper.example", IpAddr::V4(Ipv4Addr::LOCALHOST))
        .with("metadata.internal", "169.254.169.254".parse().unwrap());
    let opts = FetchOptions {
        allowed_addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        ..FetchOptions::default()
    };
    let f = leadgen_enrich::net::Fetcher::with_resolver(opts, Arc::new(resolver)).unwrap();
    let page = f
        .get(&url::Url::parse(&format!("http://hopper.example:{port}/ok")).unwrap())
        .await
        .unwrap();
    assert_eq!(page.status, 200);
    for path in ["to-loopback", "to-metadata"] {
        let u = url::Url::parse(&format!("http://hopper.example:{port}/{path}")).unwrap();
        let err = f.get(&u).await.unwrap_err();
        assert!(err.is_refusal(), "{path}: {err}");
    }
}

#[tokio::test]
async fn redirect_chains_are_followed_and_limited() {
    let sites = FixtureSites::spawn_bundled().unwrap();
    let c = crawler(true, FixtureSites::resolver());
    let r = c.crawl(&sites.url("oldbrand.com").unwrap()).await.unwrap();
    assert!(
        r.final_url.as_deref().unwrap().ends_with("/home"),
        "{:?}",
        r.final_url
    );
    let mut opts = options(true);
    opts.fetch.max_redirects = 1;
    let strict = Crawler::with_resolver(opts, Arc::new(FixtureSites::resolver())).unwrap();
    let err = strict
        .crawl(&sites.url("oldbrand.com").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CrawlError::Fetch(FetchError::TooManyRedirects { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn byte_and_time_limits_hold() {
    use leadgen_enrich::net::Fetcher;
    let sites = FixtureSites::spawn_bundled().unwrap();
    let base = sites.url("bellaplumbing.com").unwrap();
    let opts = FetchOptions {
        allow_private_network: true,
        max_bytes: 64 * 1024,
        timeout: Duration::from_millis(500),
        ..FetchOptions::default()
    };
    let f = Fetcher::with_resolver(opts, Arc::new(FixtureSites::resolver())).unwrap();
    let big = f
        .get(&url::Url::parse(&format!("{base}__big")).unwrap())
        .await
        .unwrap();
    assert!(big.truncated && big.bytes == 64 * 1024);
    let started = Instant::now();
    let slow = f
        .get(&url::Url::parse(&format!("{base}__slow")).unwrap())
        .await;
    assert!(matches!(slow, Err(FetchError::Timeout { .. })), "{slow:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let mut o = options(true);
    o.pages_per_site = 2;
    let c = Crawler::with_resolver(o, Arc::new(FixtureSites::resolver())).unwrap();
    let r = c.crawl(&sites.url("teamflow.io").unwrap()).await.unwrap();
    assert_eq!(r.pages.len(), 2, "{:?}", r.pages);
}

#[test]
fn a_bare_domain_starts_over_https() {
    let u = Crawler::start_url("acme.com").unwrap();
    assert_eq!(u.as_str(), "https://acme.com/");
    assert!(Crawler::start_url("").is_err());
    let _ = Ipv4Addr::LOCALHOST;
}
