//! Parse throughput of the scraped ad libraries: a Transparency Center
//! `SearchCreatives` page of 40 creatives and a LinkedIn Ad Library page of
//! 24 cards, both built from the saved fixtures.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leadgen_integrations::google_ads_transparency::parse_search_creatives;
use leadgen_integrations::linkedin_ads::parse_search_page;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

/// The fixture's creatives repeated to a full page of 40.
fn google_page() -> String {
    let body = fixture("google_ads_transparency_search_creatives.txt");
    let json = body.trim_start().trim_start_matches(")]}'");
    let v: serde_json::Value = serde_json::from_str(json).expect("fixture JSON");
    let creatives = v["1"].as_array().expect("creatives").clone();
    let page: Vec<serde_json::Value> = creatives.iter().cycle().take(40).cloned().collect();
    format!(")]}}'\n{}", serde_json::json!({"1": page, "2": "next"}))
}

/// The fixture's three cards repeated to a full page of 24.
fn linkedin_page() -> String {
    let html = fixture("linkedin_ad_library_search.html");
    let start = html.find("<li>").expect("cards");
    let end = html.rfind("</li>").expect("cards") + "</li>".len();
    let cards = &html[start..end];
    format!("{}{}{}", &html[..start], cards.repeat(8), &html[end..])
}

fn parse(c: &mut Criterion) {
    let g = google_page();
    let l = linkedin_page();
    let google_ads = parse_search_creatives(&g).expect("page").ads.len();
    let linkedin_ads = parse_search_page(&l).len();
    assert_eq!(
        (google_ads, linkedin_ads),
        (34, 24),
        "6 of the 40 creatives lack an advertiser"
    );
    let mut group = c.benchmark_group("ad_library_parse");
    group.throughput(Throughput::Elements(40));
    group.bench_function("google_transparency_page_40_creatives", |b| {
        b.iter(|| parse_search_creatives(std::hint::black_box(&g)).map(|p| p.ads.len()))
    });
    group.throughput(Throughput::Elements(24));
    group.bench_function("linkedin_search_page_24_cards", |b| {
        b.iter(|| parse_search_page(std::hint::black_box(&l)).len())
    });
    group.finish();
    eprintln!(
        "page sizes: google {} bytes, linkedin {} bytes",
        g.len(),
        l.len()
    );
}

criterion_group!(benches, parse);
criterion_main!(benches);
