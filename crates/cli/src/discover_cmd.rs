//! `leadgen scrape …` (discovery sweeps as runs of jobs) and
//! `leadgen companies …` (what they found).

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use leadgen_app::companies::{batch_sources, company_json};
use leadgen_app::config::Config;
use leadgen_app::discovery::ads::{MetaAdsPayload, start_meta_scan};
use leadgen_app::discovery::google_ads::{GoogleAdsPayload, start_google_scan};
use leadgen_app::discovery::linkedin_ads::{LinkedinAdsPayload, start_linkedin_scan};
use leadgen_app::discovery::{MapsVendor, SweepRequest, plan_sweep, start_sweep};
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_core::job::RunId;
use leadgen_integrations::google_places::PlacesFields;
use leadgen_store::CompanyFilter;

use crate::{now_ms, open_store};

#[derive(Subcommand)]
pub enum ScrapeCommand {
    /// Sweep Google Maps ZIP code by ZIP code for a business query.
    GoogleMaps(MapsArgs),
    /// Companies running ads that match a search, from Meta's Ad Library.
    MetaAds(MetaAdsArgs),
    /// Companies running Google ads, from the Ads Transparency Center.
    GoogleAds(GoogleAdsArgs),
    /// Companies running LinkedIn ads, from LinkedIn's Ad Library.
    LinkedinAds(LinkedinAdsArgs),
}

/// The activity threshold and output every ad-library scan takes.
#[derive(Args)]
pub struct ScanArgs {
    /// Keep advertisers with at least this many ads in the window.
    #[arg(long, default_value_t = 5)]
    min_ads: u32,
    /// The window, in days before today.
    #[arg(long, default_value_t = 30)]
    days: u32,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct GoogleAdsArgs {
    /// An advertiser name or website, as the Transparency Center's search takes it.
    #[arg(long, default_value = "")]
    keyword: String,
    /// Transparency Center advertiser ids (AR…), comma-separated.
    #[arg(long, value_delimiter = ',')]
    advertiser_ids: Vec<String>,
    /// ISO code of the region the ads were shown in; `anywhere` for all.
    #[arg(long, default_value = "US")]
    region: String,
    #[command(flatten)]
    scan: ScanArgs,
}

#[derive(Args)]
pub struct LinkedinAdsArgs {
    /// Words the ads contain.
    #[arg(long)]
    keyword: Option<String>,
    /// LinkedIn company ids of the advertisers, comma-separated.
    #[arg(long, value_delimiter = ',')]
    company_ids: Vec<String>,
    /// ISO codes of the countries the ads ran in, comma-separated.
    #[arg(long, value_delimiter = ',')]
    countries: Vec<String>,
    #[command(flatten)]
    scan: ScanArgs,
}

#[derive(Args)]
pub struct MetaAdsArgs {
    /// Words the ads contain: "dental implants".
    #[arg(long)]
    search: String,
    /// ISO code of the country the ads reached.
    #[arg(long, default_value = "US")]
    country: String,
    #[command(flatten)]
    scan: ScanArgs,
}

#[derive(Args)]
pub struct MapsArgs {
    /// What to search for: "dentist", "roofing contractor", …
    #[arg(long)]
    query: String,
    /// States to sweep (codes or names), comma-separated.
    #[arg(long, value_delimiter = ',')]
    states: Vec<String>,
    /// Explicit ZIP codes, comma-separated (with or without --states).
    #[arg(long, value_delimiter = ',')]
    zips: Vec<String>,
    /// Also sweep PO-box, single-organisation and military ZIPs.
    #[arg(long)]
    all_zip_kinds: bool,
    /// Results kept per ZIP code.
    #[arg(long, default_value_t = 20)]
    max_per_zip: u32,
    /// places (Google Places API, New) or serpapi.
    #[arg(long, default_value = "places")]
    provider: String,
    /// Places fields, which set the price: basic, contact or full.
    #[arg(long, default_value = "full")]
    fields: String,
    /// ZIP codes per job.
    #[arg(long, default_value_t = 50)]
    batch: usize,
    /// Search radius around each ZIP's centroid, in meters.
    #[arg(long, default_value_t = 5000.0)]
    radius_m: f64,
    /// Price of one request in US dollars (defaults to the vendor's list price).
    #[arg(long)]
    cost_per_request: Option<f64>,
    /// Show the plan and its cost; enqueue nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum CompaniesCommand {
    /// Companies in id order; --after continues a listing.
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        after: Option<i64>,
        /// Two-letter state code.
        #[arg(long)]
        state: Option<String>,
        /// One JSON object per company.
        #[arg(long)]
        json: bool,
    },
    /// One company with the source of every field.
    Show { id: i64 },
}

pub fn scrape(config: &Config, cmd: ScrapeCommand) -> Result<()> {
    let a = match cmd {
        ScrapeCommand::GoogleMaps(a) => a,
        ScrapeCommand::MetaAds(a) => return meta_ads(config, a),
        ScrapeCommand::GoogleAds(a) => return google_ads(config, a),
        ScrapeCommand::LinkedinAds(a) => return linkedin_ads(config, a),
    };
    let Some(vendor) = MapsVendor::parse(&a.provider) else {
        bail!("--provider {:?}: use places or serpapi", a.provider);
    };
    let Some(fields) = PlacesFields::parse(&a.fields) else {
        bail!("--fields {:?}: use basic, contact or full", a.fields);
    };
    if let Some(c) = a.cost_per_request.filter(|c| !c.is_finite() || *c < 0.0) {
        bail!("--cost-per-request {c}: give a price in dollars, e.g. 0.035");
    }
    if !(a.radius_m.is_finite() && a.radius_m > 0.0) {
        bail!("--radius-m must be a positive number of meters");
    }
    let req = SweepRequest {
        query: a.query,
        states: a.states,
        zips: a.zips,
        all_zip_kinds: a.all_zip_kinds,
        max_per_zip: a.max_per_zip,
        vendor,
        fields,
        batch: a.batch,
        radius_m: a.radius_m,
        cost_micros: a.cost_per_request.map(|c| (c * 1e6).round() as u64),
    };
    let plan = plan_sweep(&req)?;
    let run = if a.dry_run {
        None
    } else {
        let store = open_store(config)?;
        Some(start_sweep(&*store, DEFAULT_WORKSPACE, &plan, now_ms())?)
    };
    if a.json {
        let mut v = serde_json::to_value(&plan)?;
        v["run"] = serde_json::json!(run);
        println!("{v}");
    } else {
        println!(
            "{} ZIP codes in {} jobs via {}; at most {} requests, at most ${:.2} (${:.4} per request)",
            plan.zip_count,
            plan.job_count,
            vendor.source(),
            plan.max_requests,
            plan.max_cost_usd,
            plan.cost_per_request_usd
        );
        match run {
            Some(id) => println!(
                "run {id} queued: `leadgen worker --until-idle` processes it, `leadgen runs show {id}` follows it"
            ),
            None => println!("dry run: nothing queued"),
        }
    }
    Ok(())
}

fn meta_ads(config: &Config, a: MetaAdsArgs) -> Result<()> {
    let payload = MetaAdsPayload {
        search: a.search,
        country: a.country.to_ascii_uppercase(),
        min_ads: a.scan.min_ads,
        days: a.scan.days,
    };
    let store = open_store(config)?;
    let run = start_meta_scan(&*store, DEFAULT_WORKSPACE, &payload, now_ms())?;
    print_queued(run, a.scan.json);
    Ok(())
}

fn google_ads(config: &Config, a: GoogleAdsArgs) -> Result<()> {
    let region = a.region.trim().to_ascii_uppercase();
    let payload = GoogleAdsPayload {
        keyword: a.keyword,
        advertiser_ids: a.advertiser_ids,
        region: (region != "ANYWHERE" && !region.is_empty()).then_some(region),
        min_ads: a.scan.min_ads,
        days: a.scan.days,
    };
    let store = open_store(config)?;
    let run = start_google_scan(&*store, DEFAULT_WORKSPACE, &payload, now_ms())?;
    print_queued(run, a.scan.json);
    Ok(())
}

fn linkedin_ads(config: &Config, a: LinkedinAdsArgs) -> Result<()> {
    let payload = LinkedinAdsPayload {
        keyword: a.keyword,
        company_ids: a.company_ids,
        countries: a.countries.iter().map(|c| c.to_ascii_uppercase()).collect(),
        min_ads: a.scan.min_ads,
        days: a.scan.days,
    };
    let store = open_store(config)?;
    let run = start_linkedin_scan(&*store, DEFAULT_WORKSPACE, &payload, now_ms())?;
    print_queued(run, a.scan.json);
    Ok(())
}

fn print_queued(run: RunId, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "run": run }));
    } else {
        println!(
            "run {run} queued: `leadgen worker --until-idle` processes it, `leadgen runs show {run}` follows it"
        );
    }
}

pub fn companies(config: &Config, cmd: CompaniesCommand) -> Result<()> {
    let store = open_store(config)?;
    match cmd {
        CompaniesCommand::List {
            limit,
            after,
            state,
            json,
        } => {
            let sources = batch_sources(&*store, DEFAULT_WORKSPACE)?;
            let f = CompanyFilter {
                after,
                state: state.map(|s| s.to_ascii_uppercase()),
                limit: limit.clamp(1, 10_000),
            };
            let page = store.list_companies(DEFAULT_WORKSPACE, &f)?;
            for c in &page {
                if json {
                    println!("{}", company_json(c, &sources, false));
                } else {
                    println!(
                        "{:>7}  {:<40}  {:<24}  {:<16}  {}",
                        c.id,
                        c.name.as_ref().map_or("", |n| n.as_str()),
                        c.domain.as_ref().map_or("", |d| d.as_str()),
                        c.phone.as_ref().map(|p| p.canonical()).unwrap_or_default(),
                        [
                            c.city.as_deref(),
                            c.state.as_deref(),
                            c.postal_code.as_deref()
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ")
                    );
                }
            }
            if let Some(last) = page
                .last()
                .filter(|_| !json && page.len() as u32 == f.limit)
            {
                eprintln!("more: --after {}", last.id);
            }
            Ok(())
        }
        CompaniesCommand::Show { id } => {
            let Some(c) = store.get_company(DEFAULT_WORKSPACE, id)? else {
                bail!("no company {id} in this workspace (`leadgen companies list` shows the ids)");
            };
            let sources = batch_sources(&*store, DEFAULT_WORKSPACE)?;
            let v = company_json(&c, &sources, true);
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
    }
}
