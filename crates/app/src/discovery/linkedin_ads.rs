//! Companies running ads on LinkedIn, from its Ad Library's search page
//! (scraped; see `leadgen_integrations::linkedin_ads`): by keyword and/or
//! the advertisers' LinkedIn company ids, in the window's date range.

use leadgen_core::WorkspaceId;
use leadgen_core::ads::{date_of_ms, shift_date};
use leadgen_core::geo::Country;
use leadgen_core::job::{RunId, types};
use leadgen_integrations::ServiceConfig;
use leadgen_integrations::linkedin_ads::{self as li, LinkedinAdSearch, LinkedinAdsClient};
use leadgen_jobs::{HandlerSpec, JobContext, RateLimit};
use leadgen_store::Store;
use serde::{Deserialize, Serialize};

use super::ads::{
    AdPlatform, Threshold, enqueue_scan, read_pages, store_advertisers, with_scan_limits,
};
use super::{DiscoveryError, EnvLookup, handler_error};

/// Pages one job reads at most.
const MAX_PAGES: u32 = 20;

/// A `scrape_linkedin_ads` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedinAdsPayload {
    pub keyword: Option<String>,
    #[serde(default)]
    pub company_ids: Vec<String>,
    /// ISO codes of the countries the ads ran in; empty for all.
    #[serde(default)]
    pub countries: Vec<String>,
    pub min_ads: u32,
    pub days: u32,
}

/// Checks the request and queues it as a run of one job.
pub fn start_linkedin_scan(
    store: &dyn Store,
    ws: WorkspaceId,
    p: &LinkedinAdsPayload,
    now: i64,
) -> Result<RunId, DiscoveryError> {
    let keyword = p
        .keyword
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if keyword.is_none() && p.company_ids.is_empty() {
        return Err(DiscoveryError::Invalid(
            "give --keyword or --company-ids (LinkedIn company ids, e.g. 1234,5678)".into(),
        ));
    }
    if let Some(bad) = p
        .company_ids
        .iter()
        .find(|id| id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(DiscoveryError::Invalid(format!(
            "--company-ids: {bad:?} is not a LinkedIn company id (digits, as in linkedin.com/company/1234)"
        )));
    }
    if let Some(bad) = p.countries.iter().find(|c| Country::parse(c).is_err()) {
        return Err(DiscoveryError::Invalid(format!(
            "--countries: {bad:?} is not an ISO country code (US, GB, DE, …)"
        )));
    }
    Threshold {
        min_ads: p.min_ads,
        days: p.days,
    }
    .check()?;
    let what = match keyword {
        Some(k) => k.to_owned(),
        None => format!("companies {}", p.company_ids.join(",")),
    };
    let name = format!("linkedin ads: {what}");
    enqueue_scan(store, ws, types::SCRAPE_LINKEDIN_ADS, &name, p, now)
}

/// The `scrape_linkedin_ads` handler, reading `LEADGEN_LINKEDIN_ADS_BASE_URL` through
/// `env`.
pub fn linkedin_ads_spec_with(env: EnvLookup) -> HandlerSpec {
    let spec = HandlerSpec::new(types::SCRAPE_LINKEDIN_ADS, move |ctx: JobContext| {
        let env = env.clone();
        async move {
            let p: LinkedinAdsPayload = ctx.payload()?;
            let config = ServiceConfig::from_lookup(li::ENV_NAME, li::DEFAULT_BASE_URL, |k| env(k));
            let client = LinkedinAdsClient::new(config).map_err(handler_error)?;
            let today = date_of_ms(ctx.clock.now_ms());
            let search = LinkedinAdSearch {
                keyword: p.keyword.clone(),
                company_ids: p.company_ids.clone(),
                countries: p.countries.iter().map(|c| c.to_ascii_uppercase()).collect(),
                date_range: shift_date(&today, -i64::from(p.days))
                    .map(|from| (from, today.clone())),
            };
            // LinkedIn turns fast readers away: one page every two seconds.
            let rate = RateLimit {
                bucket: "ads:linkedin".into(),
                per_second: 0.5,
                burst: 1.0,
            };
            let (client, search) = (&client, &search);
            let (ads, pages) = read_pages(&ctx, &rate, MAX_PAGES, move |token| async move {
                client.search(search, token.as_deref()).await
            })
            .await?;
            let name = format!(
                "linkedin ads: {}",
                p.keyword.as_deref().unwrap_or("companies")
            );
            let threshold = Threshold {
                min_ads: p.min_ads,
                days: p.days,
            };
            store_advertisers(&ctx, AdPlatform::Linkedin, ads, pages, threshold, name).await
        }
    });
    with_scan_limits(spec)
}
