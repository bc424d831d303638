//! Google's Ads Transparency Center has no public API; its web app calls an
//! internal RPC, which this client calls the same way:
//! `POST /anji/_/rpc/SearchService/SearchCreatives?authuser=` with
//! `content-type: application/x-www-form-urlencoded`, `x-same-domain: 1`
//! and a body `f.req=<JSON with numbered keys>`:
//!
//! ```text
//! {"2": 40,                                   page size
//!  "3": {"12": {"1": "<text or domain>", "2": true},
//!        "13": {"1": ["AR…", …]}},           advertiser ids (optional)
//!  "4": "<token>",                            next page (optional)
//!  "7": {"1": 1, "2": 0, "3": <region>}}      region: 2000 + ISO 3166 numeric
//! ```
//!
//! The answer is `{"1": [creative, …], "2": "<next page token>"}`; a request
//! it does not understand gets 200 with `{}`. A creative is
//! `{"1": advertiser id, "2": creative id, "3": content, "4": format
//! (1 image, 2 text, 3 video), "6": {"1": first shown, Unix seconds},
//! "7": {"1": last shown}, "12": advertiser name, "14": advertiser domain}`.
//! Content is `{"1": {"4": preview URL}}` for image and video ads and
//! `{"3": {"2": "<html of the text ad>"}}` for text ads. Keys 1–12 are as
//! third-party scrapers read them; `"14"` and the text-ad content are
//! assumptions (API-CONTRACTS §10 marks the RPC undocumented), so every
//! field is optional and a creative missing one still counts.
//!
//! The endpoint is scraped, not licensed: the job handler keeps to one
//! request a second, and the answer may start with Google's `)]}'` guard.

use std::time::Duration;

use leadgen_core::ads::{Ad, date_of_ms};
use serde_json::{Value, json};

use crate::ad_library::{AdPage, strip_tags};
use crate::http::HttpClient;
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "GOOGLE_ADS_TRANSPARENCY";
pub const DEFAULT_BASE_URL: &str = "https://adstransparency.google.com";
pub const SEARCH_PATH: &str = "/anji/_/rpc/SearchService/SearchCreatives";
/// Creatives per page, as the web app asks.
pub const PAGE_SIZE: u32 = 40;
const SERVICE: &str = "google_ads_transparency";

/// A search of the Transparency Center.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreativeSearch {
    /// An advertiser name or a website, as typed into the site's search box.
    pub text: String,
    /// Advertiser ids (`AR…`) to narrow the search to.
    pub advertiser_ids: Vec<String>,
    /// ISO 3166 alpha-2 code of the region the ads were shown in; `None`
    /// searches anywhere.
    pub region: Option<String>,
}

/// The Transparency Center's region number of an ISO country code: 2000
/// plus the ISO 3166 numeric code. Only the countries leadgen is used in
/// are known; others search anywhere.
pub fn region_number(iso: &str) -> Option<u32> {
    let numeric = match iso.to_ascii_uppercase().as_str() {
        "US" => 840,
        "CA" => 124,
        "GB" | "UK" => 826,
        "IE" => 372,
        "AU" => 36,
        "NZ" => 554,
        "DE" => 276,
        "FR" => 250,
        "ES" => 724,
        "IT" => 380,
        "NL" => 528,
        "BE" => 56,
        "SE" => 752,
        "CH" => 756,
        "AT" => 40,
        "PL" => 616,
        "PT" => 620,
        "MX" => 484,
        "BR" => 76,
        "IN" => 356,
        "JP" => 392,
        "SG" => 702,
        "ZA" => 710,
        _ => return None,
    };
    Some(2000 + numeric)
}

#[derive(Debug, Clone)]
pub struct TransparencyClient {
    http: HttpClient,
    config: ServiceConfig,
}

impl TransparencyClient {
    /// No key: the Transparency Center is public.
    pub fn new(config: ServiceConfig) -> Result<TransparencyClient, IntegrationError> {
        Ok(TransparencyClient {
            http: HttpClient::new(SERVICE, Duration::from_secs(30))?,
            config,
        })
    }

    pub fn from_env() -> Result<TransparencyClient, IntegrationError> {
        Self::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    /// Replaces the HTTP layer (tests shorten its waits).
    pub fn with_http(mut self, http: HttpClient) -> TransparencyClient {
        self.http = http;
        self
    }

    /// The `f.req` document of one page.
    pub fn request_body(s: &CreativeSearch, page_token: Option<&str>) -> Value {
        let mut filter = json!({"12": {"1": s.text.trim(), "2": true}});
        if !s.advertiser_ids.is_empty() {
            filter["13"] = json!({"1": s.advertiser_ids});
        }
        let mut req = json!({"2": PAGE_SIZE, "3": filter, "7": {"1": 1, "2": 0}});
        if let Some(r) = s.region.as_deref().and_then(region_number) {
            req["3"]["8"] = json!([r]);
            req["7"]["3"] = json!(r);
        }
        if let Some(t) = page_token {
            req["4"] = json!(t);
        }
        req
    }

    /// One page; `page_token` is the previous page's `next`.
    pub async fn search(
        &self,
        s: &CreativeSearch,
        page_token: Option<&str>,
    ) -> Result<AdPage, IntegrationError> {
        let url = format!("{}{SEARCH_PATH}", self.config.base_url);
        let freq = Self::request_body(s, page_token).to_string();
        let reply = self
            .http
            .send(|c| {
                c.post(&url)
                    .query(&[("authuser", "")])
                    .header("x-same-domain", "1")
                    .form(&[("f.req", freq.as_str())])
            })
            .await?;
        parse_search_creatives(&reply.body).map_err(|message| IntegrationError::Decode {
            service: SERVICE,
            message,
        })
    }
}

/// Reads a `SearchCreatives` answer. Creatives without an advertiser id
/// are dropped (there is nothing to group them by); other missing fields
/// stay empty. Never panics, whatever the bytes.
pub fn parse_search_creatives(body: &str) -> Result<AdPage, String> {
    let body = body.trim_start();
    let body = body.strip_prefix(")]}'").unwrap_or(body);
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    if !v.is_object() {
        return Err("not a SearchCreatives answer (no object)".into());
    }
    let ads = v["1"]
        .as_array()
        .map(|a| a.iter().filter_map(creative_to_ad).collect())
        .unwrap_or_default();
    let next = v["2"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok(AdPage { ads, next })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `{"1": seconds, "2": nanos}` (seconds as a number or a string) as a date.
fn date(v: &Value) -> Option<String> {
    let secs = match &v["1"] {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    // Beyond year ±200000 the calendar arithmetic would be meaningless.
    (secs > 0 && secs < 6_000_000_000_000).then(|| date_of_ms(secs.saturating_mul(1000)))
}

fn creative_to_ad(c: &Value) -> Option<Ad> {
    let advertiser_id = text(&c["1"])?;
    let content = &c["3"];
    let creative_text = content["3"]["2"]
        .as_str()
        .map(strip_tags)
        .filter(|t| !t.is_empty());
    Some(Ad {
        id: text(&c["2"]).unwrap_or_default(),
        advertiser_id,
        advertiser_name: text(&c["12"]),
        link: text(&c["14"]),
        creative_text,
        started: date(&c["6"]),
        stopped: date(&c["7"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_text_advertisers_region_and_token() {
        let s = CreativeSearch {
            text: " acme.com ".into(),
            advertiser_ids: vec!["AR1".into()],
            region: Some("us".into()),
        };
        let r = TransparencyClient::request_body(&s, Some("tok"));
        assert_eq!(r["3"]["12"]["1"], "acme.com");
        assert_eq!(r["3"]["13"]["1"][0], "AR1");
        assert_eq!(
            (r["7"]["3"].as_u64(), r["4"].as_str()),
            (Some(2840), Some("tok"))
        );
        let anywhere = TransparencyClient::request_body(&CreativeSearch::default(), None);
        assert!(anywhere["7"]["3"].is_null() && anywhere["4"].is_null());
    }

    #[test]
    fn a_guarded_answer_and_string_seconds_are_read() {
        let body = r#")]}'
{"1":[{"1":"AR9","2":"CR1","4":2,"6":{"1":"1764547200"},"7":{"1":1764633600},
"12":"Acme","3":{"3":{"2":"<div>Save &amp; grow</div>"}}},{"2":"CR2"}],"2":"next"}"#;
        let p = parse_search_creatives(body).unwrap();
        assert_eq!(p.ads.len(), 1, "a creative without advertiser is dropped");
        let a = &p.ads[0];
        assert_eq!(a.started.as_deref(), Some("2025-12-01"));
        assert_eq!(a.stopped.as_deref(), Some("2025-12-02"));
        assert_eq!(a.creative_text.as_deref(), Some("Save & grow"));
        assert_eq!(p.next.as_deref(), Some("next"));
        assert_eq!(parse_search_creatives("{}").unwrap(), AdPage::default());
        assert!(parse_search_creatives("[1]").is_err());
        assert!(parse_search_creatives("<html>").is_err());
    }
}
