//! The website crawler: robots.txt first, then the home page, then the
//! contact, team, about and careers pages its links lead to, within a page
//! budget and a time budget per site. Every fetch goes through the
//! SSRF-safe [`Fetcher`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leadgen_core::geo::Country;
use serde::Serialize;
use url::Url;

use crate::extract::{self, Organization, PostalAddress, Social};
use crate::net::{FetchError, FetchOptions, Fetcher, HostResolver, SystemResolver};
use crate::robots::Robots;
use crate::tech::TechDb;

/// Limits of one site's crawl.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    pub fetch: FetchOptions,
    /// Pages fetched per site, the home page included (robots.txt is not
    /// counted).
    pub pages_per_site: usize,
    /// Wall time for the whole site.
    pub site_timeout: Duration,
    /// Region for phone numbers written without a country code.
    pub region: Country,
}

impl Default for CrawlOptions {
    fn default() -> Self {
        CrawlOptions {
            fetch: FetchOptions::default(),
            pages_per_site: 6,
            site_timeout: Duration::from_secs(30),
            region: Country::US,
        }
    }
}

/// An address and the page it was on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundEmail {
    pub email: String,
    pub source: String,
}

/// A person and the page that named them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundPerson {
    pub name: String,
    pub title: Option<String>,
    pub email: Option<String>,
    pub linkedin: Option<String>,
    pub source: String,
}

/// Website-quality signals for scoring.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Signals {
    /// The home page was finally served over HTTPS.
    pub https: bool,
    pub mobile_viewport: bool,
    /// Bytes of the home page's HTML.
    pub page_weight_bytes: usize,
    /// Home page, first byte sent to last byte read, redirects included.
    pub response_ms: u64,
    pub copyright_year: Option<u16>,
    /// The site has a form (contact form) on a crawled page.
    pub has_form: bool,
}

/// One fetched page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Visit {
    pub url: String,
    pub status: u16,
    pub bytes: usize,
    pub truncated: bool,
}

/// What a crawl found on one site.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteReport {
    pub start_url: String,
    /// The home page after redirects.
    pub final_url: Option<String>,
    /// The site's host without `www.`; `None` for an IP address.
    pub domain: Option<String>,
    pub name: Option<String>,
    pub emails: Vec<FoundEmail>,
    pub phones: Vec<String>,
    pub addresses: Vec<PostalAddress>,
    pub socials: Vec<(Social, String)>,
    pub organizations: Vec<Organization>,
    pub people: Vec<FoundPerson>,
    pub tech_stack: Vec<String>,
    pub signals: Signals,
    pub pages: Vec<Visit>,
    /// Pages robots.txt kept us from.
    pub robots_disallowed: Vec<String>,
    /// Pages that failed (the site as a whole may still have answered).
    pub errors: Vec<String>,
    /// Visible text of the pages read, for the LLM step (bounded).
    #[serde(skip)]
    pub text: String,
}

/// Text kept per site.
const MAX_SITE_TEXT: usize = 16_000;

/// Why a site could not be crawled at all.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error("{0:?} is not a website address")]
    BadStart(String),
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Crawls sites; cheap to clone, shares one connection pool.
#[derive(Clone)]
pub struct Crawler {
    fetcher: Fetcher,
    opts: Arc<CrawlOptions>,
    tech: Arc<TechDb>,
}

/// Which pages are worth fetching after the home page, best first.
const PAGE_KINDS: [(&str, &[&str]); 4] = [
    (
        "contact",
        &["contact", "kontakt", "get-in-touch", "reach-us"],
    ),
    (
        "team",
        &[
            "team",
            "people",
            "leadership",
            "staff",
            "our-doctors",
            "management",
            "founders",
        ],
    ),
    ("about", &["about", "company", "who-we-are", "impressum"]),
    ("careers", &["careers", "jobs", "join-us", "hiring"]),
];

impl Crawler {
    pub fn new(opts: CrawlOptions) -> Result<Crawler, FetchError> {
        Self::with_resolver(opts, Arc::new(SystemResolver))
    }

    pub fn with_resolver(
        opts: CrawlOptions,
        resolver: Arc<dyn HostResolver>,
    ) -> Result<Crawler, FetchError> {
        Ok(Crawler {
            fetcher: Fetcher::with_resolver(opts.fetch.clone(), resolver)?,
            opts: Arc::new(opts),
            tech: TechDb::bundled(),
        })
    }

    /// Uses `tech` instead of the bundled signatures.
    pub fn with_tech(mut self, tech: Arc<TechDb>) -> Crawler {
        self.tech = tech;
        self
    }

    /// The start URL for `input`: a URL as given, a bare domain as
    /// `https://domain/`.
    pub fn start_url(input: &str) -> Result<Url, CrawlError> {
        let t = input.trim();
        let with_scheme = if t.contains("://") {
            t.to_owned()
        } else {
            format!("https://{t}/")
        };
        Url::parse(&with_scheme)
            .ok()
            .filter(|u| u.host().is_some())
            .ok_or_else(|| CrawlError::BadStart(input.to_owned()))
    }

    /// Crawls the site at `input` (a domain or URL) within the limits.
    pub async fn crawl(&self, input: &str) -> Result<SiteReport, CrawlError> {
        let deadline = Instant::now() + self.opts.site_timeout;
        let start = Self::start_url(input)?;
        self.fetcher.check_url(&start)?;
        let mut report = SiteReport {
            start_url: start.to_string(),
            ..SiteReport::default()
        };

        let robots = self.robots(&start, deadline).await?;
        if !robots.allows(&path_of(&start)) {
            report.robots_disallowed.push(start.to_string());
            return Ok(report);
        }
        let home = self.fetch(&start, deadline).await;
        // A bare domain without HTTPS gets one try over plain HTTP.
        let home = match home {
            Err(FetchError::Transport { .. }) if !input.contains("://") => {
                let mut plain = start.clone();
                let _ = plain.set_scheme("http");
                self.fetch(&plain, deadline).await?
            }
            other => other?,
        };
        report.final_url = Some(home.url.to_string());
        report.domain = domain_of(&home.url);
        report.signals = Signals {
            https: home.url.scheme() == "https",
            page_weight_bytes: home.bytes,
            response_ms: home.elapsed.as_millis() as u64,
            ..Signals::default()
        };
        let home_url = home.url.clone();
        let mut queue: Vec<(usize, Url)> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        seen.insert(key(&home_url));
        for r in &home.redirects {
            seen.insert(key(r));
        }
        let home_facts = self.absorb(&mut report, &home, true);
        if let Some(f) = &home_facts {
            report.signals.mobile_viewport = f.has_viewport;
            report.signals.copyright_year = f.copyright_year;
            report.name = f.title.clone();
            for link in &f.links {
                if same_site(link, &home_url)
                    && let Some(rank) = page_rank(link)
                    && seen.insert(key(link))
                {
                    queue.push((rank, link.clone()));
                }
            }
        }
        queue.sort_by_key(|(rank, _)| *rank);

        let mut fetched = 1;
        for (_, link) in queue {
            if fetched >= self.opts.pages_per_site || Instant::now() >= deadline {
                break;
            }
            if !robots.allows(&path_of(&link)) {
                report.robots_disallowed.push(link.to_string());
                continue;
            }
            fetched += 1;
            match self.fetch(&link, deadline).await {
                Ok(page) => {
                    // A redirect may land outside the site (a login page on
                    // another host): read it only when it stayed.
                    if same_site(&page.url, &home_url) {
                        self.absorb(&mut report, &page, false);
                    }
                }
                Err(e) => report.errors.push(e.to_string()),
            }
        }
        if let Some(org) = report.organizations.iter().find(|o| o.name.is_some()) {
            report.name = org.name.clone();
        }
        Ok(report)
    }

    async fn fetch(&self, url: &Url, deadline: Instant) -> Result<crate::net::Page, FetchError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.fetcher.get(url)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout {
                url: url.to_string(),
            }),
        }
    }

    async fn robots(&self, start: &Url, deadline: Instant) -> Result<Robots, FetchError> {
        let Ok(url) = start.join("/robots.txt") else {
            return Ok(Robots::allow_all());
        };
        match self.fetch(&url, deadline).await {
            Ok(p) if p.status == 200 => Ok(Robots::parse(&p.body, "leadgen")),
            Ok(p) if p.status >= 500 => Ok(Robots::disallow_all()),
            Ok(_) => Ok(Robots::allow_all()),
            // Where the site points is a hard stop; a missing file is not.
            Err(e) if e.is_refusal() => Err(e),
            Err(_) => Ok(Robots::allow_all()),
        }
    }

    /// Adds a page's facts to the report; the facts of an HTML page.
    fn absorb(
        &self,
        report: &mut SiteReport,
        page: &crate::net::Page,
        is_home: bool,
    ) -> Option<extract::PageFacts> {
        report.pages.push(Visit {
            url: page.url.to_string(),
            status: page.status,
            bytes: page.bytes,
            truncated: page.truncated,
        });
        if page.status >= 400 || !page.is_html() {
            return None;
        }
        let team = is_home || matches!(page_rank(&page.url), Some(1 | 2));
        let facts = extract::extract(&page.body, &page.url, self.opts.region, team);
        let source = page.url.to_string();
        for e in &facts.emails {
            if !report.emails.iter().any(|f| f.email == *e) {
                report.emails.push(FoundEmail {
                    email: e.clone(),
                    source: source.clone(),
                });
            }
        }
        for p in &facts.phones {
            if !report.phones.contains(p) {
                report.phones.push(p.clone());
            }
        }
        for s in &facts.socials {
            if !report.socials.iter().any(|(k, _)| *k == s.0) {
                report.socials.push(s.clone());
            }
        }
        for o in &facts.organizations {
            if let Some(a) = &o.address
                && !report.addresses.contains(a)
            {
                report.addresses.push(a.clone());
            }
            if !report.organizations.contains(o) {
                report.organizations.push(o.clone());
            }
        }
        for p in &facts.people {
            if let Some(known) = report.people.iter_mut().find(|q| q.name == p.name) {
                known.title = known.title.take().or_else(|| p.title.clone());
                known.email = known.email.take().or_else(|| p.email.clone());
                known.linkedin = known.linkedin.take().or_else(|| p.linkedin.clone());
            } else {
                report.people.push(FoundPerson {
                    name: p.name.clone(),
                    title: p.title.clone(),
                    email: p.email.clone(),
                    linkedin: p.linkedin.clone(),
                    source: source.clone(),
                });
            }
        }
        for t in self.tech.detect(&page.body, &page.headers) {
            if !report.tech_stack.contains(&t) {
                report.tech_stack.push(t);
            }
        }
        report.signals.has_form |= facts.has_form;
        if report.text.len() + facts.text.len() <= MAX_SITE_TEXT {
            report
                .text
                .push_str(&format!("[{}]\n{}", page.url.path(), facts.text));
        }
        Some(facts)
    }
}

fn path_of(u: &Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

fn key(u: &Url) -> String {
    let mut u = u.clone();
    u.set_fragment(None);
    u.as_str().trim_end_matches('/').to_owned()
}

fn bare_host(u: &Url) -> Option<String> {
    let h = u.host_str()?.to_ascii_lowercase();
    Some(h.strip_prefix("www.").unwrap_or(&h).to_owned())
}

fn same_site(a: &Url, b: &Url) -> bool {
    bare_host(a) == bare_host(b) && a.port_or_known_default() == b.port_or_known_default()
}

/// The site's domain: its host without `www.`, `None` for IP addresses.
pub fn domain_of(u: &Url) -> Option<String> {
    match u.host()? {
        url::Host::Domain(_) => bare_host(u),
        _ => None,
    }
}

/// 0 contact, 1 team, 2 about, 3 careers; `None` for other pages.
fn page_rank(u: &Url) -> Option<usize> {
    let path = u.path().to_ascii_lowercase();
    if path.ends_with(".pdf") || path.ends_with(".jpg") || path.ends_with(".png") {
        return None;
    }
    PAGE_KINDS
        .iter()
        .position(|(_, words)| words.iter().any(|w| path.contains(w)))
}
