//! Company-intent providers: who is researching a topic now. One trait,
//! [`IntentProvider`], so a run does not care which vendor answers, and one
//! HTTP client for a DataShopper-style company-intent API.
//!
//! DataShopper's API reference is not public, so this client speaks an
//! **assumed contract**, recorded in `docs/INTENT-API.md` and summarized
//! here:
//!
//! ```text
//! POST {base}/v1/intent/companies/search
//! Authorization: Bearer <LEADGEN_DATASHOPPER_API_KEY>
//! {"topic": "crm software",
//!  "location": {"country": "US", "states": ["NY"]},
//!  "company_size": {"min": 10, "max": 500},
//!  "industries": ["software"],
//!  "limit": 100, "page": 1}
//! 200 {"data": [{"company": {"name", "domain", "industry", "employee_count",
//!                            "city", "state", "country"},
//!                "topic", "intent_score": 0–100, "intent_strength": "high",
//!                "signal_type": "surge", "detected_at": RFC 3339}],
//!      "pagination": {"page", "per_page", "has_more"},
//!      "credits_remaining": n}
//! 401 bad key · 402 {"error": {"code": "insufficient_credits"}} ·
//! 429 with Retry-After · 5xx; errors are {"error": {"code", "message"}}.
//! ```
//!
//! Any other vendor's signals come in as CSV or webhook JSON (the app's
//! `intent` service); only this pull needs a client.

use std::time::Duration;

use leadgen_core::intent::{ActiveQuery, RawSignal};
use serde::Deserialize;
use serde_json::json;

use crate::http::HttpClient;
use crate::maps::BoxFuture;
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "DATASHOPPER";
pub const DEFAULT_BASE_URL: &str = "https://api.datashopper.com";
pub const SEARCH_PATH: &str = "/v1/intent/companies/search";
/// Most companies per page the client asks for.
pub const PAGE_LIMIT: u32 = 100;
const SERVICE: &str = "datashopper";

/// One page of a provider's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntentPage {
    pub signals: Vec<RawSignal>,
    pub has_more: bool,
}

/// A source of company-intent signals.
pub trait IntentProvider: Send + Sync {
    /// The name signals are stored under (`datashopper`).
    fn name(&self) -> &'static str;

    /// Page `page` (from 1) of the companies researching `q.topic`.
    fn search_page<'a>(
        &'a self,
        q: &'a ActiveQuery,
        page: u32,
    ) -> BoxFuture<'a, Result<IntentPage, IntegrationError>>;
}

#[derive(Debug, Clone)]
pub struct DataShopperClient {
    http: HttpClient,
    config: ServiceConfig,
}

/// 402 is the vendor's "out of credits": wait for the next billing day.
fn classify_credits(
    service: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Option<IntegrationError> {
    (status == 402).then(|| IntegrationError::RateLimited {
        service,
        retry_after: retry_after.or(Some(Duration::from_secs(3600))),
        message: format!("out of credits: {}", crate::http::error_message(body)),
    })
}

impl DataShopperClient {
    pub fn new(config: ServiceConfig) -> Result<DataShopperClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        Ok(DataShopperClient {
            http: HttpClient::new(SERVICE, Duration::from_secs(30))?
                .with_classifier(classify_credits),
            config,
        })
    }

    pub fn from_env() -> Result<DataShopperClient, IntegrationError> {
        Self::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    /// As [`DataShopperClient::from_env`], reading variables through `get`.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<DataShopperClient, IntegrationError> {
        Self::new(ServiceConfig::from_lookup(ENV_NAME, DEFAULT_BASE_URL, get))
    }

    /// Replaces the HTTP layer (tests shorten its waits); 402 sorting stays.
    pub fn with_http(mut self, http: HttpClient) -> DataShopperClient {
        self.http = http.with_classifier(classify_credits);
        self
    }

    /// The request body of one page.
    pub fn request_body(q: &ActiveQuery, page: u32) -> serde_json::Value {
        let mut body = json!({
            "topic": q.topic,
            "limit": q.limit.clamp(1, PAGE_LIMIT),
            "page": page.max(1),
        });
        if q.country.is_some() || !q.states.is_empty() {
            body["location"] = json!({"country": q.country, "states": q.states});
        }
        if q.min_size.is_some() || q.max_size.is_some() {
            body["company_size"] = json!({"min": q.min_size, "max": q.max_size});
        }
        if !q.industries.is_empty() {
            body["industries"] = json!(q.industries);
        }
        body
    }

    pub async fn search(&self, q: &ActiveQuery, page: u32) -> Result<IntentPage, IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?;
        let url = format!("{}{SEARCH_PATH}", self.config.base_url);
        let body = Self::request_body(q, page);
        let resp: SearchResponse = self
            .http
            .json(|c| c.post(&url).bearer_auth(key).json(&body))
            .await?;
        Ok(IntentPage {
            signals: resp.data.into_iter().map(Hit::into_raw).collect(),
            has_more: resp.pagination.is_some_and(|p| p.has_more),
        })
    }
}

impl IntentProvider for DataShopperClient {
    fn name(&self) -> &'static str {
        SERVICE
    }

    fn search_page<'a>(
        &'a self,
        q: &'a ActiveQuery,
        page: u32,
    ) -> BoxFuture<'a, Result<IntentPage, IntegrationError>> {
        Box::pin(self.search(q, page))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SearchResponse {
    data: Vec<Hit>,
    pagination: Option<Pagination>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Pagination {
    has_more: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Hit {
    company: HitCompany,
    topic: Option<String>,
    intent_score: Option<f64>,
    intent_strength: Option<String>,
    signal_type: Option<String>,
    detected_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HitCompany {
    domain: Option<String>,
}

impl Hit {
    fn into_raw(self) -> RawSignal {
        RawSignal {
            domain: self.company.domain,
            email: None,
            topic: self.topic,
            score: self.intent_score.map(|s| s.to_string()),
            strength: self.intent_strength,
            signal_type: self.signal_type,
            detected_at: self.detected_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_only_the_filters_given() {
        let mut q = ActiveQuery {
            topic: "crm".into(),
            country: Some("US".into()),
            states: vec!["NY".into()],
            min_size: Some(10),
            max_size: None,
            industries: vec![],
            limit: 500,
        };
        let b = DataShopperClient::request_body(&q, 2);
        assert_eq!(
            (b["limit"].as_u64(), b["page"].as_u64()),
            (Some(100), Some(2))
        );
        assert_eq!(b["location"]["states"][0], "NY");
        assert_eq!(b["company_size"]["min"], 10);
        assert!(b["industries"].is_null());
        q.country = None;
        q.states.clear();
        assert!(DataShopperClient::request_body(&q, 0)["location"].is_null());
    }
}
