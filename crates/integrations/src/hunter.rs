//! Hunter.io v2: `GET /v2/domain-search`, `/v2/email-finder`,
//! `/v2/email-verifier`, the key as the `api_key` query parameter.
//! Success is `{data, meta}`; errors are `{errors: [{id, code, details}]}`.
//! Hunter's statuses are its own: 403 means "rate limit hit" (retry
//! later), 429 means the plan's monthly usage is spent (do not retry), and
//! the verifier answers 202 while a check is still running.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::http::HttpClient;
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "HUNTER";
pub const DEFAULT_BASE_URL: &str = "https://api.hunter.io";

#[derive(Debug, Clone)]
pub struct HunterClient {
    http: HttpClient,
    config: ServiceConfig,
}

/// One address from a domain search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HunterEmail {
    pub value: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// 0–100.
    #[serde(default)]
    pub confidence: Option<u8>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub position: Option<String>,
    #[serde(default)]
    pub linkedin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSearch {
    pub domain: Option<String>,
    #[serde(default)]
    pub accept_all: Option<bool>,
    /// `{first}.{last}` and the like.
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub emails: Vec<HunterEmail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailFinder {
    pub email: Option<String>,
    /// 0–100.
    #[serde(default)]
    pub score: Option<u8>,
    #[serde(default)]
    pub position: Option<String>,
    #[serde(default)]
    pub accept_all: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailVerification {
    /// valid, invalid, accept_all, webmail, disposable, unknown.
    pub status: String,
    #[serde(default)]
    pub score: Option<u8>,
    #[serde(default)]
    pub accept_all: Option<bool>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

fn classifier(
    service: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Option<IntegrationError> {
    let details = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["errors"][0]["details"].as_str().map(str::to_owned))
        .unwrap_or_else(|| crate::http::error_message(body));
    match status {
        403 => Some(IntegrationError::RateLimited {
            service,
            retry_after: retry_after.or(Some(Duration::from_secs(1))),
            message: details,
        }),
        429 => Some(IntegrationError::BadRequest {
            service,
            status,
            message: format!("plan usage limit reached: {details}"),
        }),
        401 => Some(IntegrationError::Auth {
            service,
            status,
            message: details,
        }),
        _ => None,
    }
}

impl HunterClient {
    pub fn new(config: ServiceConfig) -> Result<HunterClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        Ok(HunterClient {
            http: HttpClient::new("hunter", Duration::from_secs(30))?.with_classifier(classifier),
            config,
        })
    }

    pub fn from_env() -> Result<HunterClient, IntegrationError> {
        Self::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    pub fn with_http(mut self, http: HttpClient) -> HunterClient {
        self.http = http.with_classifier(classifier);
        self
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<(u16, T), IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?;
        let url = format!("{}/v2/{path}", self.config.base_url);
        let reply = self
            .http
            .send(|c| c.get(&url).query(params).query(&[("api_key", key)]))
            .await?;
        let env: Envelope<T> =
            serde_json::from_str(&reply.body).map_err(|e| IntegrationError::Decode {
                service: "hunter",
                message: e.to_string(),
            })?;
        Ok((reply.status, env.data))
    }

    pub async fn domain_search(
        &self,
        domain: &str,
        limit: u32,
    ) -> Result<DomainSearch, IntegrationError> {
        let limit = limit.to_string();
        Ok(self
            .get("domain-search", &[("domain", domain), ("limit", &limit)])
            .await?
            .1)
    }

    pub async fn email_finder(
        &self,
        domain: &str,
        first: &str,
        last: &str,
    ) -> Result<EmailFinder, IntegrationError> {
        Ok(self
            .get(
                "email-finder",
                &[
                    ("domain", domain),
                    ("first_name", first),
                    ("last_name", last),
                ],
            )
            .await?
            .1)
    }

    /// A 202 (still verifying) comes back as a short rate limit, so the
    /// caller's queue asks again a little later.
    pub async fn email_verifier(&self, email: &str) -> Result<EmailVerification, IntegrationError> {
        let (status, data) = self
            .get::<EmailVerification>("email-verifier", &[("email", email)])
            .await?;
        if status == 202 {
            return Err(IntegrationError::RateLimited {
                service: "hunter",
                retry_after: Some(Duration::from_secs(10)),
                message: "verification still running".into(),
            });
        }
        Ok(data)
    }
}
