//! LinkedIn's Ad Library: the public search page
//! `GET /ad-library/search?keyword=…&companyIds=…&countries=…&dateOption=…`,
//! read as HTML. (LinkedIn's `rest/adLibrary` API needs an OAuth app with
//! the Ad Library product and returns no creatives; the page needs nothing.)
//!
//! Each ad is a card, `div.ad-preview`, holding the advertiser (a link to
//! `linkedin.com/company/<id>` around a `.font-bold` name), the post text
//! (`p.commentary__content`), the headline link to the advertiser's landing
//! page, and a link to `/ad-library/detail/<ad id>`; these are the
//! selectors third-party scrapers use. Cards of ads served in the EU carry
//! their run dates ("Ran from Nov 1, 2026 to Nov 20, 2026"); without dates
//! an ad counts as running. Pages are asked for by `start` offset, [`PAGE_SIZE`]
//! cards at a time — an assumption: the site itself loads more on scroll.
//!
//! LinkedIn turns scrapers away with HTTP 999 or a login wall (200 with an
//! `authwall` page); both are reported as rate limiting, to be tried later.
//! The job handler keeps to one page every two seconds.

use std::time::Duration;

use leadgen_core::ads::Ad;

use crate::ad_library::{AdPage, Tag, decode_entities, inner_html, strip_tags, tags};
use crate::http::HttpClient;
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "LINKEDIN_ADS";
pub const DEFAULT_BASE_URL: &str = "https://www.linkedin.com";
pub const SEARCH_PATH: &str = "/ad-library/search";
/// Cards a full page holds.
pub const PAGE_SIZE: usize = 24;
const SERVICE: &str = "linkedin_ads";

/// A search of the library.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkedinAdSearch {
    pub keyword: Option<String>,
    /// Numeric LinkedIn company ids of the advertisers.
    pub company_ids: Vec<String>,
    /// ISO alpha-2 codes of the countries the ads ran in.
    pub countries: Vec<String>,
    /// Ads that ran in this range (`YYYY-MM-DD`); `None` for any time.
    pub date_range: Option<(String, String)>,
}

impl LinkedinAdSearch {
    /// The query string of the page at offset `start`.
    pub fn query(&self, start: usize) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(k) = self
            .keyword
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            q.push(("keyword", k.to_owned()));
        }
        if !self.company_ids.is_empty() {
            q.push(("companyIds", self.company_ids.join(",")));
        }
        if !self.countries.is_empty() {
            q.push(("countries", self.countries.join(",")));
        }
        match &self.date_range {
            Some((from, to)) => {
                q.push(("dateOption", "custom-date-range".into()));
                q.push(("startdate", from.clone()));
                q.push(("enddate", to.clone()));
            }
            None => q.push(("dateOption", "all-time".into())),
        }
        if start > 0 {
            q.push(("start", start.to_string()));
        }
        q
    }
}

#[derive(Debug, Clone)]
pub struct LinkedinAdsClient {
    http: HttpClient,
    config: ServiceConfig,
}

/// LinkedIn answers bots with 999.
fn classify_linkedin(
    service: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    _body: &str,
) -> Option<IntegrationError> {
    (status == 999).then(|| IntegrationError::RateLimited {
        service,
        retry_after,
        message: "LinkedIn refused the request (999): too many requests from this address".into(),
    })
}

impl LinkedinAdsClient {
    /// No key: the library's pages are public.
    pub fn new(config: ServiceConfig) -> Result<LinkedinAdsClient, IntegrationError> {
        Ok(LinkedinAdsClient {
            http: HttpClient::new(SERVICE, Duration::from_secs(30))?
                .with_classifier(classify_linkedin),
            config,
        })
    }

    pub fn from_env() -> Result<LinkedinAdsClient, IntegrationError> {
        Self::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    /// Replaces the HTTP layer (tests shorten its waits); the 999 sorting stays.
    pub fn with_http(mut self, http: HttpClient) -> LinkedinAdsClient {
        self.http = http.with_classifier(classify_linkedin);
        self
    }

    /// One page; `page_token` is the previous page's `next` (an offset).
    pub async fn search(
        &self,
        s: &LinkedinAdSearch,
        page_token: Option<&str>,
    ) -> Result<AdPage, IntegrationError> {
        let start: usize = page_token.and_then(|t| t.parse().ok()).unwrap_or(0);
        let url = format!("{}{SEARCH_PATH}", self.config.base_url);
        let query = s.query(start);
        let reply = self
            .http
            .send(|c| {
                c.get(&url)
                    .query(&query)
                    .header("accept", "text/html")
                    .header("accept-language", "en-US,en;q=0.9")
            })
            .await?;
        if is_login_wall(&reply.body) {
            return Err(IntegrationError::RateLimited {
                service: SERVICE,
                retry_after: None,
                message: "LinkedIn showed its login wall instead of the library".into(),
            });
        }
        let ads = parse_search_page(&reply.body);
        let next = (ads.len() >= PAGE_SIZE).then(|| (start + ads.len()).to_string());
        Ok(AdPage { ads, next })
    }
}

/// Whether the page is LinkedIn's sign-in wall rather than results.
pub fn is_login_wall(html: &str) -> bool {
    (html.contains("authwall") || html.contains("join-form"))
        && !html.contains("ad-library/detail/")
}

/// The ads on a search page, in page order. Cards without an advertiser
/// (no company link and no name) are dropped. Never panics, whatever the
/// bytes.
pub fn parse_search_page(html: &str) -> Vec<Ad> {
    let starts: Vec<usize> = tags(html, 0)
        .filter(|t| t.has_class("ad-preview"))
        .map(|t| t.start)
        .collect();
    starts
        .iter()
        .enumerate()
        .filter_map(|(i, &s)| {
            let end = starts.get(i + 1).copied().unwrap_or(html.len());
            html.get(s..end).and_then(parse_card)
        })
        .collect()
}

fn parse_card(card: &str) -> Option<Ad> {
    let all: Vec<Tag<'_>> = tags(card, 0).collect();
    let anchors = || {
        all.iter()
            .filter(|t| t.name.eq_ignore_ascii_case("a"))
            .filter_map(|t| Some((t, decode_entities(t.attr("href")?))))
    };
    let company_link = anchors().find_map(|(t, href)| Some((t, company_id(&href)?)));
    let bold_name = || {
        all.iter()
            .find(|t| t.has_class("font-bold"))
            .map(|t| text_until_tag(card, t))
    };
    let name = company_link
        .as_ref()
        .map(|(t, _)| strip_tags(inner_html(card, t)))
        .filter(|n| !n.is_empty())
        .or_else(bold_name)
        .filter(|n| !n.is_empty());
    let advertiser_id = match (&company_link, &name) {
        (Some((_, id)), _) => id.clone(),
        (None, Some(n)) => format!("name:{}", n.to_lowercase()),
        (None, None) => return None,
    };
    let id = anchors()
        .find_map(|(_, href)| detail_id(&href))
        .unwrap_or_default();
    let link = anchors().map(|(_, h)| h).find(|h| is_landing_page(h));
    let creative_text = all
        .iter()
        .find(|t| t.has_class("commentary__content"))
        .map(|t| strip_tags(inner_html(card, t)))
        .filter(|t| !t.is_empty());
    let (started, stopped) = run_dates(card);
    Some(Ad {
        id,
        advertiser_id,
        advertiser_name: name,
        link,
        creative_text,
        started,
        stopped,
    })
}

/// Text right after an opening tag, up to the next tag.
fn text_until_tag(html: &str, t: &Tag<'_>) -> String {
    let rest = html.get(t.end..).unwrap_or("");
    strip_tags(&rest[..rest.find('<').unwrap_or(rest.len())])
}

/// `1234` of `https://www.linkedin.com/company/1234/?trk=…`.
fn company_id(href: &str) -> Option<String> {
    let after = &href[href.find("linkedin.com/company/")? + "linkedin.com/company/".len()..];
    let id: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!id.is_empty()).then_some(id)
}

fn detail_id(href: &str) -> Option<String> {
    let after = &href[href.find("/ad-library/detail/")? + "/ad-library/detail/".len()..];
    let id: String = after.chars().take_while(char::is_ascii_digit).collect();
    (!id.is_empty()).then_some(id)
}

/// An outside page the ad sends people to (not LinkedIn's own).
fn is_landing_page(href: &str) -> bool {
    let Some(rest) = href
        .strip_prefix("https://")
        .or_else(|| href.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    !host.is_empty()
        && !["linkedin.com", "licdn.com", "lnkd.in"]
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// "Ran from Nov 1, 2026 to Nov 20, 2026" (or without "to …" while it
/// runs) as `YYYY-MM-DD` dates.
fn run_dates(card: &str) -> (Option<String>, Option<String>) {
    let Some(i) = card.find("Ran from") else {
        return (None, None);
    };
    let rest = &card[i + "Ran from".len()..];
    let text = decode_entities(&rest[..rest.find('<').unwrap_or(rest.len())]);
    let (from, to) = match text.split_once(" to ") {
        Some((f, t)) => (f, Some(t)),
        None => (text.as_str(), None),
    };
    (us_date(from), to.and_then(us_date))
}

/// `Nov 1, 2026` or `November 1, 2026` as `2026-11-01`.
fn us_date(s: &str) -> Option<String> {
    let mut parts = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty());
    let month = parts.next()?.to_ascii_lowercase();
    let m = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|p| month.get(..3) == Some(*p))?
        + 1;
    let d: u32 = parts.next()?.parse().ok()?;
    let y: u32 = parts.next()?.parse().ok()?;
    ((1..=31).contains(&d) && (1900..=9999).contains(&y)).then(|| format!("{y:04}-{m:02}-{d:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_keyword_companies_countries_dates_and_offset() {
        let s = LinkedinAdSearch {
            keyword: Some(" crm ".into()),
            company_ids: vec!["12".into(), "34".into()],
            countries: vec!["US".into()],
            date_range: Some(("2026-11-01".into(), "2026-11-30".into())),
        };
        let q = s.query(24);
        assert!(q.contains(&("keyword", "crm".into())));
        assert!(q.contains(&("companyIds", "12,34".into())));
        assert!(q.contains(&("startdate", "2026-11-01".into())));
        assert!(q.contains(&("start", "24".into())));
        assert!(
            !LinkedinAdSearch::default()
                .query(0)
                .iter()
                .any(|(k, _)| *k == "start")
        );
    }

    #[test]
    fn dates_hosts_and_ids_are_read_strictly() {
        assert_eq!(us_date("Nov 1, 2026").as_deref(), Some("2026-11-01"));
        assert_eq!(us_date("September 30, 2025").as_deref(), Some("2025-09-30"));
        assert_eq!(us_date("Smarch 1, 2026"), None);
        assert_eq!(
            run_dates("<p>Ran from Nov 1, 2026 to Nov 20, 2026</p>"),
            (Some("2026-11-01".into()), Some("2026-11-20".into()))
        );
        assert_eq!(run_dates("<p>Ran from Nov 1, 2026</p>").1, None);
        assert!(is_landing_page("https://acme.com/x?utm=li"));
        assert!(!is_landing_page("https://www.linkedin.com/company/1"));
        assert!(!is_landing_page("https://media.licdn.com/a.png"));
        assert!(!is_landing_page("/ad-library/detail/1"));
        assert_eq!(
            company_id("https://www.linkedin.com/company/1234/?trk=x").as_deref(),
            Some("1234")
        );
        assert_eq!(
            detail_id("/ad-library/detail/656802214?trk=y").as_deref(),
            Some("656802214")
        );
    }
}
