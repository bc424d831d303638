//! Meta's Ad Library API: `GET /{version}/ads_archive` on the Graph API.
//!
//! Parameters: `search_terms`, `ad_reached_countries` (a JSON array of ISO
//! codes), `ad_active_status` (ACTIVE, INACTIVE, ALL), `ad_delivery_date_min`,
//! `fields`, `limit`, `after` (the cursor of the previous page) and the
//! `access_token`. Answers are `{data: [...], paging: {cursors: {after},
//! next}}`. Errors are `{error: {message, type, code}}`; the Graph API
//! reports throttling as HTTP 400/403 with codes 4, 17, 32 or 613, and a
//! bad token as code 190, so errors are sorted by code, not by status.

use std::time::Duration;

use leadgen_core::ads::Ad;
use serde::Deserialize;

use crate::http::HttpClient;
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "META";
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
pub const API_VERSION: &str = "v21.0";
/// Most ads per page the client asks for.
pub const PAGE_LIMIT: u32 = 100;
const FIELDS: &str = "id,page_id,page_name,ad_creative_bodies,ad_creative_link_captions,\
ad_delivery_start_time,ad_delivery_stop_time,publisher_platforms";

/// A search of the library.
#[derive(Debug, Clone, PartialEq)]
pub struct AdSearch {
    pub search_terms: String,
    /// ISO country codes the ads reached.
    pub countries: Vec<String>,
    /// Only ads delivered on or after this date (`YYYY-MM-DD`).
    pub delivered_since: Option<String>,
    pub active_only: bool,
}

pub use crate::ad_library::AdPage;

#[derive(Debug, Clone)]
pub struct MetaAdsClient {
    http: HttpClient,
    config: ServiceConfig,
}

/// Sorts Graph API errors by their code.
fn classify_graph(
    service: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Option<IntegrationError> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let code = v["error"]["code"].as_i64()?;
    let message = v["error"]["message"].as_str().unwrap_or("").to_owned();
    Some(match code {
        4 | 17 | 32 | 613 | 80000..=80099 => IntegrationError::RateLimited {
            service,
            retry_after,
            message,
        },
        190 | 10 | 200..=299 => IntegrationError::Auth {
            service,
            status,
            message,
        },
        _ => return None,
    })
}

impl MetaAdsClient {
    pub fn new(config: ServiceConfig) -> Result<MetaAdsClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        Ok(MetaAdsClient {
            http: HttpClient::new("meta", Duration::from_secs(60))?.with_classifier(classify_graph),
            config,
        })
    }

    pub fn from_env() -> Result<MetaAdsClient, IntegrationError> {
        Self::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    /// Replaces the HTTP layer (tests shorten its waits); the Graph API's
    /// error sorting stays.
    pub fn with_http(mut self, http: HttpClient) -> MetaAdsClient {
        self.http = http.with_classifier(classify_graph);
        self
    }

    /// One page; `after` is the previous page's `next`.
    pub async fn search(
        &self,
        s: &AdSearch,
        after: Option<&str>,
    ) -> Result<AdPage, IntegrationError> {
        let token = self.config.require_key(ENV_NAME)?;
        let url = format!("{}/{API_VERSION}/ads_archive", self.config.base_url);
        let countries = serde_json::to_string(&s.countries).unwrap_or_else(|_| "[]".into());
        let mut params: Vec<(&str, String)> = vec![
            ("search_terms", s.search_terms.clone()),
            ("ad_reached_countries", countries),
            (
                "ad_active_status",
                if s.active_only { "ACTIVE" } else { "ALL" }.to_owned(),
            ),
            ("ad_type", "ALL".to_owned()),
            ("fields", FIELDS.to_owned()),
            ("limit", PAGE_LIMIT.to_string()),
            ("access_token", token.to_owned()),
        ];
        if let Some(d) = &s.delivered_since {
            params.push(("ad_delivery_date_min", d.clone()));
        }
        if let Some(a) = after {
            params.push(("after", a.to_owned()));
        }
        let resp: ArchiveResponse = self.http.json(|c| c.get(&url).query(&params)).await?;
        let next = resp
            .paging
            .filter(|p| p.next.is_some())
            .and_then(|p| p.cursors.and_then(|c| c.after));
        Ok(AdPage {
            ads: resp.data.into_iter().map(ArchivedAd::into_ad).collect(),
            next,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArchiveResponse {
    data: Vec<ArchivedAd>,
    paging: Option<Paging>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Paging {
    cursors: Option<Cursors>,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Cursors {
    after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArchivedAd {
    id: Option<String>,
    page_id: Option<String>,
    page_name: Option<String>,
    ad_creative_bodies: Vec<String>,
    ad_creative_link_captions: Vec<String>,
    ad_delivery_start_time: Option<String>,
    ad_delivery_stop_time: Option<String>,
}

/// The date part of a Graph API time (`2026-11-01` or
/// `2026-11-01T08:00:00+0000`).
fn date_part(s: Option<String>) -> Option<String> {
    s.and_then(|s| s.get(..10).map(str::to_owned))
}

impl ArchivedAd {
    fn into_ad(self) -> Ad {
        Ad {
            id: self.id.unwrap_or_default(),
            advertiser_id: self.page_id.unwrap_or_default(),
            advertiser_name: self.page_name,
            link: self
                .ad_creative_link_captions
                .into_iter()
                .find(|c| !c.trim().is_empty()),
            creative_text: self.ad_creative_bodies.into_iter().next(),
            started: date_part(self.ad_delivery_start_time),
            stopped: date_part(self.ad_delivery_stop_time),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_sort_by_code() {
        let body = |code: i64| {
            format!(r#"{{"error":{{"message":"m","type":"OAuthException","code":{code}}}}}"#)
        };
        assert!(matches!(
            classify_graph("meta", 400, None, &body(613)),
            Some(IntegrationError::RateLimited { .. })
        ));
        assert!(matches!(
            classify_graph("meta", 400, None, &body(190)),
            Some(IntegrationError::Auth { .. })
        ));
        assert_eq!(classify_graph("meta", 400, None, &body(100)), None);
        assert_eq!(classify_graph("meta", 500, None, "not json"), None);
    }

    #[test]
    fn an_archived_ad_becomes_an_ad() {
        let a = ArchivedAd {
            id: Some("1".into()),
            page_id: Some("p".into()),
            page_name: Some("Acme Dental".into()),
            ad_creative_bodies: vec!["Smile!".into()],
            ad_creative_link_captions: vec!["".into(), "ACMEDENTAL.COM".into()],
            ad_delivery_start_time: Some("2026-11-01T08:00:00+0000".into()),
            ad_delivery_stop_time: None,
        }
        .into_ad();
        assert_eq!(a.link.as_deref(), Some("ACMEDENTAL.COM"));
        assert_eq!(a.started.as_deref(), Some("2026-11-01"));
        assert!(a.stopped.is_none());
    }
}
