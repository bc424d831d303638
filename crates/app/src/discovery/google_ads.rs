//! Companies running ads on Google, from the Ads Transparency Center
//! (scraped; see `leadgen_integrations::google_ads_transparency`). The
//! search text is what the site's search box takes — an advertiser name or
//! a website — narrowed by advertiser ids and a region.

use leadgen_core::WorkspaceId;
use leadgen_core::ads::{Ad, date_of_ms, shift_date};
use leadgen_core::domain::Domain;
use leadgen_core::job::{RunId, types};
use leadgen_integrations::ServiceConfig;
use leadgen_integrations::google_ads_transparency::{
    self as gat, CreativeSearch, TransparencyClient, region_number,
};
use leadgen_jobs::{HandlerSpec, JobContext, RateLimit};
use leadgen_store::Store;
use serde::{Deserialize, Serialize};

use super::ads::{
    AdPlatform, Threshold, enqueue_scan, read_pages, store_advertisers, with_scan_limits,
};
use super::{DiscoveryError, EnvLookup, handler_error};

/// Pages of 40 creatives one job reads at most.
const MAX_PAGES: u32 = 25;

/// A `scrape_google_ads` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleAdsPayload {
    /// An advertiser name or website; may be empty with advertiser ids.
    pub keyword: String,
    #[serde(default)]
    pub advertiser_ids: Vec<String>,
    /// ISO code of the region the ads were shown in; `None` for anywhere.
    pub region: Option<String>,
    pub min_ads: u32,
    pub days: u32,
}

/// Checks the request and queues it as a run of one job.
pub fn start_google_scan(
    store: &dyn Store,
    ws: WorkspaceId,
    p: &GoogleAdsPayload,
    now: i64,
) -> Result<RunId, DiscoveryError> {
    if p.keyword.trim().is_empty() && p.advertiser_ids.is_empty() {
        return Err(DiscoveryError::Invalid(
            "give --keyword (an advertiser name or website) or --advertiser-ids (AR…)".into(),
        ));
    }
    if let Some(bad) = p.advertiser_ids.iter().find(|id| !id.starts_with("AR")) {
        return Err(DiscoveryError::Invalid(format!(
            "--advertiser-ids: {bad:?} is not a Transparency Center advertiser id (AR followed by digits)"
        )));
    }
    if let Some(r) = p.region.as_deref().filter(|r| region_number(r).is_none()) {
        return Err(DiscoveryError::Invalid(format!(
            "--region {r:?} is not a region leadgen knows (US, GB, CA, AU, DE, FR, …); leave it out to search anywhere"
        )));
    }
    Threshold {
        min_ads: p.min_ads,
        days: p.days,
    }
    .check()?;
    let name = format!(
        "google ads: {} ({})",
        if p.keyword.trim().is_empty() {
            p.advertiser_ids.join(",")
        } else {
            p.keyword.trim().to_owned()
        },
        p.region.as_deref().unwrap_or("anywhere")
    );
    enqueue_scan(store, ws, types::SCRAPE_GOOGLE_ADS, &name, p, now)
}

/// The Transparency Center gives the last day an ad was shown, not whether
/// it still runs: an ad shown yesterday or today counts as running. An ad
/// without a site of its own takes the searched one, when the search was
/// for a website.
fn settle(ads: &mut [Ad], today: &str, searched: Option<&Domain>) {
    let yesterday = shift_date(today, -1).unwrap_or_default();
    for a in ads {
        if a.stopped
            .as_deref()
            .is_some_and(|s| s >= yesterday.as_str())
        {
            a.stopped = None;
        }
        if a.link.is_none() {
            a.link = searched.map(|d| d.as_str().to_owned());
        }
    }
}

/// The `scrape_google_ads` handler, reading `LEADGEN_GOOGLE_ADS_TRANSPARENCY_BASE_URL`
/// through `env`.
pub fn google_ads_spec_with(env: EnvLookup) -> HandlerSpec {
    let spec = HandlerSpec::new(types::SCRAPE_GOOGLE_ADS, move |ctx: JobContext| {
        let env = env.clone();
        async move {
            let p: GoogleAdsPayload = ctx.payload()?;
            let config =
                ServiceConfig::from_lookup(gat::ENV_NAME, gat::DEFAULT_BASE_URL, |k| env(k));
            let client = TransparencyClient::new(config).map_err(handler_error)?;
            let search = CreativeSearch {
                text: p.keyword.clone(),
                advertiser_ids: p.advertiser_ids.clone(),
                region: p.region.clone(),
            };
            // A scraped endpoint: one request a second across workers.
            let rate = RateLimit {
                bucket: "ads:google_transparency".into(),
                per_second: 1.0,
                burst: 2.0,
            };
            let (client, search) = (&client, &search);
            let (mut ads, pages) = read_pages(&ctx, &rate, MAX_PAGES, move |token| async move {
                client.search(search, token.as_deref()).await
            })
            .await?;
            let today = date_of_ms(ctx.clock.now_ms());
            let searched = Domain::parse(p.keyword.trim())
                .ok()
                .filter(|_| p.keyword.contains('.'));
            settle(&mut ads, &today, searched.as_ref());
            let name = format!("google ads: {}", p.keyword);
            let threshold = Threshold {
                min_ads: p.min_ads,
                days: p.days,
            };
            store_advertisers(&ctx, AdPlatform::Google, ads, pages, threshold, name).await
        }
    });
    with_scan_limits(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ads_shown_since_yesterday_run_and_take_the_searched_site() {
        let ad = |stopped: &str, link: Option<&str>| Ad {
            stopped: Some(stopped.into()),
            link: link.map(str::to_owned),
            ..Ad::default()
        };
        let mut ads = vec![
            ad("2026-11-30", None),
            ad("2026-11-29", Some("x.com")),
            ad("2026-11-28", None),
        ];
        let d = Domain::parse("acme.com").unwrap();
        settle(&mut ads, "2026-11-30", Some(&d));
        assert_eq!(ads[0].stopped, None);
        assert_eq!(ads[1].stopped, None);
        assert_eq!(ads[2].stopped.as_deref(), Some("2026-11-28"));
        assert_eq!(ads[0].link.as_deref(), Some("acme.com"));
        assert_eq!(ads[1].link.as_deref(), Some("x.com"));
    }
}
