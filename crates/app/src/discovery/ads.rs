//! Companies running ads. Three libraries feed the same path: Meta's Ad
//! Library (the official `ads_archive` API, here), Google's Ads
//! Transparency Center ([`super::google_ads`]) and LinkedIn's Ad Library
//! ([`super::linkedin_ads`]), both scraped. A scan's ads are grouped by
//! advertiser; advertisers at or above the activity threshold (`min_ads`
//! ads in the last `days`) become companies with the platform's activity,
//! found again by the site their ads link to.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use leadgen_core::WorkspaceId;
use leadgen_core::ads::{Ad, AdActivity, date_of_ms, shift_date};
use leadgen_core::company::{Company, CompanyField, CompanyName};
use leadgen_core::domain::Domain;
use leadgen_core::geo::Country;
use leadgen_core::job::{NewJob, RunId, types};
use leadgen_core::linkedin::LinkedinUrl;
use leadgen_integrations::meta_ads::{self, AdSearch, MetaAdsClient};
use leadgen_integrations::{IntegrationError, ServiceConfig};
use leadgen_jobs::{HandlerError, HandlerSpec, JobContext, Outcome, RateLimit};
use leadgen_store::{BatchMeta, Store};
use serde::{Deserialize, Serialize};

use super::{DiscoveryError, EnvLookup, handler_error, store_discovered};
/// Pages of 100 ads one job reads at most.
const MAX_PAGES: u32 = 50;

/// A `scrape_meta_ads` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaAdsPayload {
    pub search: String,
    pub country: String,
    /// Advertisers with fewer ads in the window are left out.
    pub min_ads: u32,
    pub days: u32,
}

/// The ad libraries leadgen reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdPlatform {
    Google,
    Meta,
    Linkedin,
}

impl AdPlatform {
    /// As `Company::ad_platforms` names it.
    pub fn name(self) -> &'static str {
        match self {
            AdPlatform::Google => "google",
            AdPlatform::Meta => "meta",
            AdPlatform::Linkedin => "linkedin",
        }
    }

    /// The custom field that keeps the advertiser's id in the library.
    fn id_field(self) -> &'static str {
        match self {
            AdPlatform::Google => "google_advertiser_id",
            AdPlatform::Meta => "meta_page_id",
            AdPlatform::Linkedin => "linkedin_company_id",
        }
    }

    /// The kind and source of the batch a scan's advertisers are kept in.
    fn batch_kind_and_source(self) -> (&'static str, &'static str) {
        match self {
            AdPlatform::Google => ("google_ads", "google_ads_transparency"),
            AdPlatform::Meta => ("meta_ads", "meta_ad_library"),
            AdPlatform::Linkedin => ("linkedin_ads", "linkedin_ad_library"),
        }
    }

    fn field(self) -> CompanyField {
        match self {
            AdPlatform::Google => CompanyField::GoogleAds,
            AdPlatform::Meta => CompanyField::MetaAds,
            AdPlatform::Linkedin => CompanyField::LinkedinAds,
        }
    }

    fn activity_mut(self, c: &mut Company) -> &mut Option<AdActivity> {
        match self {
            AdPlatform::Google => &mut c.google_ads,
            AdPlatform::Meta => &mut c.meta_ads,
            AdPlatform::Linkedin => &mut c.linkedin_ads,
        }
    }
}

/// The activity threshold every scan has: `min_ads` ads in the last `days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub min_ads: u32,
    pub days: u32,
}

impl Threshold {
    pub(crate) fn check(self) -> Result<(), DiscoveryError> {
        if !(1..=365).contains(&self.days) {
            return Err(DiscoveryError::Invalid(format!(
                "--days {} is out of range (1–365)",
                self.days
            )));
        }
        Ok(())
    }
}

/// Queues a scan as a run of one job of `job_type`.
pub(crate) fn enqueue_scan(
    store: &dyn Store,
    ws: WorkspaceId,
    job_type: &str,
    name: &str,
    payload: &impl Serialize,
    now: i64,
) -> Result<RunId, DiscoveryError> {
    let run = store.create_run(ws, job_type, name, now)?;
    let payload = serde_json::to_string(payload).expect("payload serializes");
    let mut j = NewJob::new(ws, job_type, &payload);
    j.run = Some(run);
    j.unique_key = Some(format!("{job_type}:{run}"));
    store.enqueue(&[j], now)?;
    Ok(run)
}

/// Checks the request and queues it as a run of one job.
pub fn start_meta_scan(
    store: &dyn Store,
    ws: WorkspaceId,
    p: &MetaAdsPayload,
    now: i64,
) -> Result<RunId, DiscoveryError> {
    if p.search.trim().is_empty() {
        return Err(DiscoveryError::Invalid(
            "--search is empty: give the words the ads contain".into(),
        ));
    }
    if Country::parse(&p.country).is_err() {
        return Err(DiscoveryError::Invalid(format!(
            "--country {:?} is not an ISO country code (US, GB, DE, …)",
            p.country
        )));
    }
    Threshold {
        min_ads: p.min_ads,
        days: p.days,
    }
    .check()?;
    let name = format!("meta ads: {} ({})", p.search.trim(), p.country);
    enqueue_scan(store, ws, types::SCRAPE_META_ADS, &name, p, now)
}

/// One advertiser's ads and what they add up to.
struct Advertiser<'a> {
    ads: Vec<&'a Ad>,
    activity: AdActivity,
}

/// Groups ads by advertiser; keeps those with at least `min_ads` in the
/// window, in advertiser-id order.
fn active_advertisers<'a>(ads: &'a [Ad], today: &str, t: Threshold) -> Vec<Advertiser<'a>> {
    let mut by: BTreeMap<&str, Vec<&Ad>> = BTreeMap::new();
    for a in ads.iter().filter(|a| !a.advertiser_id.is_empty()) {
        by.entry(a.advertiser_id.as_str()).or_default().push(a);
    }
    by.into_values()
        .filter_map(|ads| {
            let activity = AdActivity::of(&ads, today, t.days)?;
            (activity.ad_count >= t.min_ads).then_some(Advertiser { ads, activity })
        })
        .collect()
}

/// The company behind an advertiser: its name and the site its ads link
/// to. Without a site there is nothing to match it to, and `None`.
fn advertiser_company(
    a: &Advertiser<'_>,
    origin: leadgen_core::SourceRef,
    platform: AdPlatform,
) -> Option<Company> {
    let first = a.ads.first()?;
    let domain = a
        .ads
        .iter()
        .filter_map(|ad| ad.link.as_deref())
        .find_map(|l| Domain::parse(l).ok())?;
    let mut c = Company::new(origin);
    c.name = a
        .ads
        .iter()
        .find_map(|ad| ad.advertiser_name.as_deref().and_then(CompanyName::parse));
    c.domain = Some(domain);
    *platform.activity_mut(&mut c) = Some(a.activity.clone());
    c.custom
        .push((platform.id_field().into(), first.advertiser_id.clone()));
    if platform == AdPlatform::Linkedin && !first.advertiser_id.starts_with("name:") {
        c.linkedin = LinkedinUrl::parse(&format!(
            "https://www.linkedin.com/company/{}",
            first.advertiser_id
        ))
        .ok();
    }
    for (field, set) in [
        (CompanyField::Name, c.name.is_some()),
        (CompanyField::Domain, true),
        (CompanyField::Linkedin, c.linkedin.is_some()),
        (platform.field(), true),
    ] {
        if set {
            c.provenance.set(field, origin);
        }
    }
    Some(c)
}

/// Reads pages until the library has no more or `max_pages` are read,
/// taking a token of `rate` before each request.
pub(crate) async fn read_pages<F, Fut>(
    ctx: &JobContext,
    rate: &RateLimit,
    max_pages: u32,
    mut fetch: F,
) -> Result<(Vec<Ad>, u32), HandlerError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<leadgen_integrations::ad_library::AdPage, IntegrationError>>,
{
    let mut ads: Vec<Ad> = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0u32;
    loop {
        ctx.rate_limit(rate).await?;
        let page = fetch(token.take()).await.map_err(handler_error)?;
        pages += 1;
        ads.extend(page.ads);
        match page.next {
            Some(n) if pages < max_pages => token = Some(n),
            _ => break,
        }
    }
    Ok((ads, pages))
}

/// A scan job's retries and time limit.
pub(crate) fn with_scan_limits(mut spec: HandlerSpec) -> HandlerSpec {
    spec.max_attempts = 6;
    spec.timeout = Duration::from_secs(15 * 60);
    spec
}

/// Keeps a scan's active advertisers as source records of the job's batch
/// (named `name`) and merges their companies into the store; the job's
/// outcome.
pub(crate) async fn store_advertisers(
    ctx: &JobContext,
    platform: AdPlatform,
    ads: Vec<Ad>,
    pages: u32,
    threshold: Threshold,
    name: String,
) -> Result<Outcome, HandlerError> {
    let (kind, source) = platform.batch_kind_and_source();
    let meta = BatchMeta {
        kind: kind.into(),
        name,
        source: source.into(),
        content_hash: String::new(),
        headers: vec!["advertiser_ads".into()],
    };
    let now = ctx.clock.now_ms();
    let today = date_of_ms(now);
    let advertisers = active_advertisers(&ads, &today, threshold);
    let raws: Vec<String> = advertisers
        .iter()
        .map(|a| serde_json::to_string(&a.ads).expect("ads serialize"))
        .collect();
    // Companies are built inside the store call, where the batch's record
    // ids are known.
    let owned: Vec<(Vec<Ad>, AdActivity)> = advertisers
        .iter()
        .map(|a| {
            (
                a.ads.iter().map(|x| (*x).clone()).collect(),
                a.activity.clone(),
            )
        })
        .collect();
    let stored = store_discovered(
        ctx.store()?.clone(),
        ctx.job.workspace,
        ctx.job.id,
        meta,
        raws,
        now,
        move |i, origin| {
            let (ads, activity) = &owned[i];
            let a = Advertiser {
                ads: ads.iter().collect(),
                activity: activity.clone(),
            };
            advertiser_company(&a, origin, platform)
        },
    )
    .await?;
    let result = serde_json::json!({
        "ads": ads.len(),
        "pages": pages,
        "advertisers_active": advertisers.len(),
    });
    Ok(stored.outcome(result, ctx.job.workspace, 0))
}

/// The `scrape_meta_ads` handler, reading `LEADGEN_META_BASE_URL` and
/// `LEADGEN_META_API_KEY` (the access token) through `env`.
pub fn meta_ads_spec_with(env: EnvLookup) -> HandlerSpec {
    let spec = HandlerSpec::new(types::SCRAPE_META_ADS, move |ctx: JobContext| {
        let env = env.clone();
        async move {
            let p: MetaAdsPayload = ctx.payload()?;
            let config =
                ServiceConfig::from_lookup(meta_ads::ENV_NAME, meta_ads::DEFAULT_BASE_URL, |k| {
                    env(k)
                });
            let client = MetaAdsClient::new(config).map_err(handler_error)?;
            let today = date_of_ms(ctx.clock.now_ms());
            let search = AdSearch {
                search_terms: p.search.clone(),
                countries: vec![p.country.to_ascii_uppercase()],
                delivered_since: shift_date(&today, -i64::from(p.days)),
                active_only: false,
            };
            let rate = RateLimit {
                bucket: "ads:meta".into(),
                per_second: 1.0,
                burst: 3.0,
            };
            let (client, search) = (&client, &search);
            let (ads, pages) = read_pages(&ctx, &rate, MAX_PAGES, move |after| async move {
                client.search(search, after.as_deref()).await
            })
            .await?;
            let name = format!("meta ads: {} ({})", p.search, p.country);
            let threshold = Threshold {
                min_ads: p.min_ads,
                days: p.days,
            };
            store_advertisers(&ctx, AdPlatform::Meta, ads, pages, threshold, name).await
        }
    });
    with_scan_limits(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadgen_core::{RecordId, SourceRef};

    fn ad(adv: &str, started: &str, link: Option<&str>) -> Ad {
        Ad {
            id: format!("{adv}-{started}"),
            advertiser_id: adv.into(),
            advertiser_name: Some(format!("Advertiser {adv}")),
            link: link.map(str::to_owned),
            creative_text: Some("Book now".into()),
            started: Some(started.into()),
            stopped: None,
        }
    }

    #[test]
    fn advertisers_below_the_threshold_or_without_a_site_are_left_out() {
        let ads = vec![
            ad("a", "2026-11-20", Some("https://www.a-dental.com/offer")),
            ad("a", "2026-11-21", None),
            ad("a", "2026-11-22", None),
            ad("b", "2026-11-20", Some("b.com")),
            ad("c", "2026-11-01", None),
            ad("c", "2026-11-02", None),
            ad("c", "2026-11-03", None),
        ];
        let t = Threshold {
            min_ads: 2,
            days: 30,
        };
        let active = active_advertisers(&ads, "2026-11-30", t);
        assert_eq!(active.len(), 2, "b has one ad");
        let origin = SourceRef {
            at: 0,
            record: RecordId::new(1, 1),
        };
        let a = advertiser_company(&active[0], origin, AdPlatform::Meta).unwrap();
        assert_eq!(a.domain.as_ref().unwrap().as_str(), "a-dental.com");
        assert_eq!(a.meta_ads.as_ref().unwrap().ad_count, 3);
        assert_eq!(a.ad_platforms(), ["meta"]);
        assert!(
            advertiser_company(&active[1], origin, AdPlatform::Meta).is_none(),
            "c links nowhere"
        );
    }
}
