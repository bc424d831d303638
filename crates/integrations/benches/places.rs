//! Processing of provider responses: decode a Places page, normalize each
//! listing into a company, and merge it with what the sweep already found
//! (by its identity keys), as the scrape handler does before the store.

use std::collections::HashMap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leadgen_core::company::{Company, CompanyKeys, merge_company_into};
use leadgen_core::dedupe::NewestWins;
use leadgen_core::geo::Country;
use leadgen_core::{RecordId, SourceRef};
use leadgen_integrations::fake::world_search;
use leadgen_integrations::google_places::parse_response;
use serde_json::json;

/// Twenty pages of twenty places around neighbouring points, as the
/// fake's world lays them out (so later pages repeat earlier places).
fn pages() -> Vec<String> {
    (0..20)
        .map(|i| {
            let lat = 40.70 + f64::from(i) * 0.01;
            let places: Vec<_> = world_search("dentist", lat, -73.99)
                .into_iter()
                .take(20)
                .map(|b| {
                    json!({"id": b.place_id, "displayName": {"text": b.name},
                      "formattedAddress": format!("{}, New York, NY {}, USA", b.street, b.postal_code),
                      "nationalPhoneNumber": b.phone, "websiteUri": b.website,
                      "rating": b.rating, "userRatingCount": b.reviews,
                      "types": ["dentist", "health"],
                      "location": {"latitude": b.lat, "longitude": b.lon}})
                })
                .collect();
            json!({"places": places, "nextPageToken": "t"}).to_string()
        })
        .collect()
}

fn process(pages: &[String]) -> usize {
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut companies: Vec<Company> = Vec::new();
    for (p, body) in pages.iter().enumerate() {
        let (places, _) = parse_response(body).expect("valid page");
        for (i, place) in places.iter().enumerate() {
            let origin = SourceRef {
                at: 1,
                record: RecordId::new(1, (p * 20 + i) as u64),
            };
            let c = place.to_company(origin, Country::US);
            let keys = CompanyKeys::of(&c);
            let found = keys
                .in_precedence()
                .find_map(|(_, k)| by_key.get(k).copied());
            let at = match found {
                Some(at) => {
                    merge_company_into(&mut companies[at], &c, &NewestWins);
                    at
                }
                None => {
                    companies.push(c);
                    companies.len() - 1
                }
            };
            for (_, k) in CompanyKeys::of(&companies[at]).in_precedence() {
                by_key.entry(k.to_owned()).or_insert(at);
            }
        }
    }
    companies.len()
}

fn bench(c: &mut Criterion) {
    let pages = pages();
    let n: usize = pages
        .iter()
        .map(|p| parse_response(p).unwrap().0.len())
        .sum();
    let mut g = c.benchmark_group("places");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("parse_normalize_merge", |b| b.iter(|| process(&pages)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
