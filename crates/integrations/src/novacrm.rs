//! NovaCRM lead capture: `POST {base}/api/leads/capture` with the key in
//! `x-api-key` and the plan's payload (name, email, phone,
//! organization_name, role, interest, source "leadgen", page_slug,
//! utm_source/medium/campaign). The answer carries the new lead's `id`.
//!
//! A capture is a write without an idempotency key, so the HTTP layer does
//! not resend it; the `push_to_crm` job records the returned id and never
//! captures a lead that has one.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::http::{HttpClient, RetryPolicy};
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "NOVACRM";
pub const DEFAULT_BASE_URL: &str = "http://localhost:3000";

/// The capture payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Capture {
    pub name: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// What they are interested in: the campaign and the reply's class.
    pub interest: String,
    /// Always "leadgen".
    pub source: String,
    pub page_slug: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
}

#[derive(Debug, Clone)]
pub struct NovaCrmClient {
    http: HttpClient,
    config: ServiceConfig,
}

impl NovaCrmClient {
    pub fn new(config: ServiceConfig) -> Result<NovaCrmClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        let http = HttpClient::new("novacrm", Duration::from_secs(30))?.with_policy(RetryPolicy {
            retries: 0,
            ..RetryPolicy::default()
        });
        Ok(NovaCrmClient { http, config })
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, IntegrationError> {
        Self::new(ServiceConfig::from_lookup(ENV_NAME, DEFAULT_BASE_URL, get))
    }

    pub fn with_http(mut self, http: HttpClient) -> NovaCrmClient {
        self.http = http;
        self
    }

    /// Checks the key without creating a lead: an empty capture, which
    /// NovaCRM refuses as incomplete (400 or 422) once it has accepted the
    /// key, and with 401/403 when it has not. (Capture is the only call
    /// NovaCRM offers; this assumes it checks the key before the body.)
    pub async fn check(&self) -> Result<(), IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?.to_owned();
        let url = format!("{}/api/leads/capture", self.config.base_url);
        let empty = serde_json::json!({});
        match self
            .http
            .send(|c| c.post(&url).header("x-api-key", &key).json(&empty))
            .await
        {
            Ok(_)
            | Err(IntegrationError::BadRequest {
                status: 400 | 422, ..
            }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Captures a lead; NovaCRM's id for it.
    pub async fn capture(&self, lead: &Capture) -> Result<String, IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?.to_owned();
        let url = format!("{}/api/leads/capture", self.config.base_url);
        let v: Value = self
            .http
            .json(|c| c.post(&url).header("x-api-key", &key).json(lead))
            .await?;
        let id = v
            .get("id")
            .or_else(|| v.pointer("/lead/id"))
            .or_else(|| v.pointer("/data/id"));
        match id {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(IntegrationError::Decode {
                service: "novacrm",
                message: "capture answer without an id".into(),
            }),
        }
    }
}
