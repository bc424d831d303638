//! Google Maps sweeps: a sweep of ZIP codes for a business query.
//!
//! Planning picks the ZIP codes (by state or by list), cuts them into jobs
//! of `batch` ZIPs (payload `{query, zipCodes, maxPerZip, …}`), and prices
//! the run before anything is spent. Each `scrape_google_maps` job searches
//! around every ZIP's centroid a page at a time (each page takes a token of
//! the provider's shared rate limit), keeps the raw listings as source
//! records of a batch of its own, merges the companies into the store by
//! their identity keys, and enqueues `enrich_company` for each new one.

use std::sync::Arc;
use std::time::Duration;

use leadgen_core::WorkspaceId;
use leadgen_core::geo::Country;
use leadgen_core::job::{NewJob, RunId, types};
use leadgen_core::place::Place;
use leadgen_core::zipcodes::{self, ZipCode};
use leadgen_integrations::google_places::{self, PlacesClient, PlacesFields};
use leadgen_integrations::maps::{MapsProvider, MapsQuery};
use leadgen_integrations::serpapi::{self, SerpApiClient};
use leadgen_integrations::{IntegrationError, ServiceConfig};
use leadgen_jobs::{HandlerError, HandlerSpec, JobContext, RateLimit};
use leadgen_store::{BatchMeta, Store};
use serde::{Deserialize, Serialize};

use super::{DiscoveryError, EnvLookup, handler_error, reserve_spend, store_discovered};

/// Which maps vendor a sweep asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapsVendor {
    Places,
    Serpapi,
}

impl MapsVendor {
    pub fn parse(s: &str) -> Option<MapsVendor> {
        match s {
            "places" | "google_places" => Some(MapsVendor::Places),
            "serpapi" => Some(MapsVendor::Serpapi),
            _ => None,
        }
    }

    /// The source name companies from it carry, and its rate-limit bucket.
    pub fn source(self) -> &'static str {
        match self {
            MapsVendor::Places => "google_places",
            MapsVendor::Serpapi => "serpapi",
        }
    }

    /// The service's part of its `LEADGEN_*` variable names.
    fn env_name(self) -> &'static str {
        match self {
            MapsVendor::Places => google_places::ENV_NAME,
            MapsVendor::Serpapi => serpapi::ENV_NAME,
        }
    }

    /// Requests per second all workers together may send: Places allows
    /// per-minute quotas in the hundreds; SerpApi's hourly plans are slower.
    fn rate(self) -> RateLimit {
        let (per_second, burst) = match self {
            MapsVendor::Places => (10.0, 20.0),
            MapsVendor::Serpapi => (2.0, 5.0),
        };
        RateLimit {
            bucket: format!("maps:{}", self.source()),
            per_second,
            burst,
        }
    }
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct SweepRequest {
    pub query: String,
    pub states: Vec<String>,
    pub zips: Vec<String>,
    /// Include PO-box, single-organisation and military ZIPs of the states.
    pub all_zip_kinds: bool,
    pub max_per_zip: u32,
    pub vendor: MapsVendor,
    pub fields: PlacesFields,
    /// ZIPs per job (50–100 keeps jobs short and runs resumable).
    pub batch: usize,
    /// Search radius around a ZIP's centroid.
    pub radius_m: f64,
    /// Price of one request in millionths of a dollar; `None` for the
    /// vendor's list price.
    pub cost_micros: Option<u64>,
}

/// One job's work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapsPayload {
    pub query: String,
    pub zip_codes: Vec<String>,
    pub max_per_zip: u32,
    pub provider: MapsVendor,
    #[serde(default = "default_fields")]
    pub fields: String,
    #[serde(default = "default_radius")]
    pub radius_m: f64,
    pub cost_micros: u64,
}

fn default_fields() -> String {
    "full".into()
}
fn default_radius() -> f64 {
    5000.0
}

/// A sweep before it starts: what it will do and what it may cost.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPlan {
    pub query: String,
    pub provider: MapsVendor,
    pub zip_count: usize,
    pub job_count: usize,
    /// Requests if every ZIP fills `max_per_zip` (pages of at most 20).
    pub max_requests: u64,
    pub cost_per_request_usd: f64,
    pub max_cost_usd: f64,
    #[serde(skip)]
    pub payloads: Vec<MapsPayload>,
}

/// Plans a sweep; nothing is written.
pub fn plan_sweep(req: &SweepRequest) -> Result<SweepPlan, DiscoveryError> {
    let query = req.query.trim();
    if query.is_empty() {
        return Err(DiscoveryError::Invalid(
            "--query is empty: say what to search for, e.g. dentist".into(),
        ));
    }
    if !(1..=200).contains(&req.max_per_zip) {
        return Err(DiscoveryError::Invalid(format!(
            "--max-per-zip {} is out of range (1–200)",
            req.max_per_zip
        )));
    }
    let states: Vec<&str> = req.states.iter().map(String::as_str).collect();
    let zips: Vec<&str> = req.zips.iter().map(String::as_str).collect();
    let selected: Vec<&ZipCode> = zipcodes::select(&states, &zips, req.all_zip_kinds)?;
    let cost = req.cost_micros.unwrap_or(match req.vendor {
        MapsVendor::Places => req.fields.list_price_micros(),
        MapsVendor::Serpapi => serpapi::DEFAULT_COST_MICROS,
    });
    let fields = match req.fields {
        PlacesFields::Basic => "basic",
        PlacesFields::Contact => "contact",
        PlacesFields::Full => "full",
    };
    let batch = req.batch.clamp(1, 100);
    let payloads: Vec<MapsPayload> = selected
        .chunks(batch)
        .map(|chunk| MapsPayload {
            query: query.to_owned(),
            zip_codes: chunk.iter().map(|z| z.zip.to_owned()).collect(),
            max_per_zip: req.max_per_zip,
            provider: req.vendor,
            fields: fields.to_owned(),
            radius_m: req.radius_m,
            cost_micros: cost,
        })
        .collect();
    let pages_per_zip = u64::from(req.max_per_zip.div_ceil(20));
    let max_requests = selected.len() as u64 * pages_per_zip;
    Ok(SweepPlan {
        query: query.to_owned(),
        provider: req.vendor,
        zip_count: selected.len(),
        job_count: payloads.len(),
        max_requests,
        cost_per_request_usd: cost as f64 / 1e6,
        max_cost_usd: (max_requests * cost) as f64 / 1e6,
        payloads,
    })
}

/// Starts a planned sweep: a run and its jobs, in one go.
pub fn start_sweep(
    store: &dyn Store,
    ws: WorkspaceId,
    plan: &SweepPlan,
    now: i64,
) -> Result<RunId, DiscoveryError> {
    let name = format!(
        "google maps: {} ({} zips via {})",
        plan.query,
        plan.zip_count,
        plan.provider.source()
    );
    let run = store.create_run(ws, types::SCRAPE_GOOGLE_MAPS, &name, now)?;
    let jobs: Vec<NewJob> = plan
        .payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let payload = serde_json::to_string(p).expect("payload serializes");
            let mut j = NewJob::new(ws, types::SCRAPE_GOOGLE_MAPS, &payload);
            j.run = Some(run);
            j.unique_key = Some(format!("maps:{run}:{i}"));
            j.max_attempts = 6;
            j
        })
        .collect();
    for chunk in jobs.chunks(10_000) {
        store.enqueue(chunk, now)?;
    }
    Ok(run)
}

/// A provider for a payload, from `LEADGEN_<VENDOR>_BASE_URL` and `_API_KEY`.
fn provider(p: &MapsPayload, env: &EnvLookup) -> Result<Arc<dyn MapsProvider>, IntegrationError> {
    Ok(match p.provider {
        MapsVendor::Places => {
            let fields = PlacesFields::parse(&p.fields).unwrap_or_default();
            let config = ServiceConfig::from_lookup(
                google_places::ENV_NAME,
                google_places::DEFAULT_BASE_URL,
                |k| env(k),
            );
            Arc::new(PlacesClient::new(config, fields)?.with_cost_micros(p.cost_micros))
        }
        MapsVendor::Serpapi => {
            let config =
                ServiceConfig::from_lookup(serpapi::ENV_NAME, serpapi::DEFAULT_BASE_URL, |k| {
                    env(k)
                });
            Arc::new(SerpApiClient::new(config)?.with_cost_micros(p.cost_micros))
        }
    })
}

/// Everything one job found, before it is written.
struct Found {
    places: Vec<Place>,
    requests: u64,
    cost_micros: u64,
    /// ZIPs the bundled table does not know (reported, not fatal).
    unknown_zips: Vec<String>,
}

async fn search_zips(
    ctx: &JobContext,
    p: &MapsPayload,
    env: &EnvLookup,
) -> Result<Found, HandlerError> {
    let vendor = provider(p, env).map_err(handler_error)?;
    let rate = p.provider.rate();
    let mut found = Found {
        places: Vec::new(),
        requests: 0,
        cost_micros: 0,
        unknown_zips: Vec::new(),
    };
    for zip in &p.zip_codes {
        let Some(z) = zipcodes::lookup(zip) else {
            found.unknown_zips.push(zip.clone());
            continue;
        };
        let q = MapsQuery {
            query: p.query.clone(),
            lat: z.lat,
            lon: z.lon,
            radius_m: p.radius_m,
            page_size: p.max_per_zip.min(google_places::MAX_PAGE_SIZE),
        };
        let mut got = 0usize;
        let mut token: Option<String> = None;
        loop {
            ctx.rate_limit(&rate).await?;
            reserve_spend(
                ctx,
                env,
                p.provider.env_name(),
                p.provider.source(),
                p.cost_micros,
            )
            .await?;
            let page = vendor
                .search_page(&q, token.as_deref())
                .await
                .map_err(handler_error)?;
            found.requests += 1;
            found.cost_micros += page.cost_micros;
            let take = (p.max_per_zip as usize - got).min(page.places.len());
            got += take;
            found.places.extend(page.places.into_iter().take(take));
            match page.next_page {
                Some(t) if got < p.max_per_zip as usize => token = Some(t),
                _ => break,
            }
        }
    }
    Ok(found)
}

/// The `scrape_google_maps` handler, reading the vendors' URLs and keys
/// through `env`. Sweeps cover US ZIP codes, so a listing's phone without a
/// country code is read as a US number.
pub fn maps_spec_with(env: EnvLookup) -> HandlerSpec {
    let default_country = Country::US;
    let mut spec = HandlerSpec::new(types::SCRAPE_GOOGLE_MAPS, move |ctx: JobContext| {
        let env = env.clone();
        async move {
            let p: MapsPayload = ctx.payload()?;
            if p.query.trim().is_empty() || p.zip_codes.is_empty() || p.max_per_zip == 0 {
                return Err(HandlerError::Permanent(
                    "payload needs a query, zipCodes and maxPerZip > 0".into(),
                ));
            }
            let found = search_zips(&ctx, &p, &env).await?;
            let (store, ws, job_id, now) = (
                ctx.store()?.clone(),
                ctx.job.workspace,
                ctx.job.id,
                ctx.clock.now_ms(),
            );
            let meta = BatchMeta {
                kind: "google_maps".into(),
                name: format!(
                    "{}: {} zips from {}",
                    p.query,
                    p.zip_codes.len(),
                    p.zip_codes.first().map_or("", String::as_str)
                ),
                source: p.provider.source().into(),
                content_hash: String::new(),
                headers: vec!["listing".into()],
            };
            let raws: Vec<String> = found
                .places
                .iter()
                .map(|p| serde_json::to_string(p).expect("a place serializes"))
                .collect();
            let places = found.places;
            let stored = store_discovered(store, ws, job_id, meta, raws, now, move |i, origin| {
                Some(places[i].to_company(origin, default_country))
            })
            .await?;
            let result = serde_json::json!({
                "zips": p.zip_codes.len(),
                "unknown_zips": found.unknown_zips,
                "requests": found.requests,
                "cost_usd": found.cost_micros as f64 / 1e6,
            });
            Ok(stored.outcome(result, ws, found.cost_micros))
        }
    });
    spec.max_attempts = 6;
    spec.timeout = Duration::from_secs(30 * 60);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(states: &[&str], zips: &[&str]) -> SweepRequest {
        SweepRequest {
            query: "dentist".into(),
            states: states.iter().map(|s| s.to_string()).collect(),
            zips: zips.iter().map(|s| s.to_string()).collect(),
            all_zip_kinds: false,
            max_per_zip: 20,
            vendor: MapsVendor::Places,
            fields: PlacesFields::Full,
            batch: 50,
            radius_m: 5000.0,
            cost_micros: None,
        }
    }

    #[test]
    fn a_plan_cuts_zips_into_jobs_and_prices_them() {
        let plan = plan_sweep(&req(&["NY", "NJ", "CT"], &[])).unwrap();
        assert!(plan.zip_count > 2000, "{}", plan.zip_count);
        assert_eq!(plan.job_count, plan.zip_count.div_ceil(50));
        let zips: usize = plan.payloads.iter().map(|p| p.zip_codes.len()).sum();
        assert_eq!(zips, plan.zip_count);
        assert!(
            plan.payloads
                .iter()
                .all(|p| (1..=50).contains(&p.zip_codes.len()))
        );
        assert_eq!(plan.max_requests, plan.zip_count as u64);
        let expect = plan.zip_count as f64 * 0.04;
        assert!(
            (plan.max_cost_usd - expect).abs() < 1e-6,
            "{}",
            plan.max_cost_usd
        );
        let mut forty = req(&[], &["10001", "10002"]);
        forty.max_per_zip = 40;
        forty.vendor = MapsVendor::Serpapi;
        let p = plan_sweep(&forty).unwrap();
        assert_eq!((p.zip_count, p.job_count, p.max_requests), (2, 1, 4));
        assert!((p.max_cost_usd - 0.06).abs() < 1e-9);
    }

    #[test]
    fn bad_requests_say_what_to_fix() {
        let mut r = req(&["NY"], &[]);
        r.query = "  ".into();
        assert!(plan_sweep(&r).unwrap_err().to_string().contains("--query"));
        let mut r = req(&["NY"], &[]);
        r.max_per_zip = 0;
        assert!(
            plan_sweep(&r)
                .unwrap_err()
                .to_string()
                .contains("--max-per-zip")
        );
        assert!(
            plan_sweep(&req(&["Narnia"], &[]))
                .unwrap_err()
                .to_string()
                .contains("Narnia")
        );
    }

    #[test]
    fn a_payload_reads_back_in_the_documented_shape() {
        let plan = plan_sweep(&req(&[], &["10001"])).unwrap();
        let json = serde_json::to_value(&plan.payloads[0]).unwrap();
        assert_eq!(json["zipCodes"][0], "10001");
        assert_eq!(json["maxPerZip"], 20);
        assert_eq!(json["query"], "dentist");
        let back: MapsPayload = serde_json::from_value(json).unwrap();
        assert_eq!(back, plan.payloads[0]);
    }
}
