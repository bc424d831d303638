//! HubSpot CRM contacts: batch upsert by email,
//! `POST /crm/v3/objects/contacts/batch/upsert` with
//! `{"inputs": [{"id": "<email>", "idProperty": "email", "properties": {…}}]}`
//! and `Authorization: Bearer <private-app token>`.
//!
//! Batches hold at most 100 inputs. The answer is
//! `{status, results: [{id, new?, properties}], errors?, numErrors?}`
//! (207 Multi-Status when some inputs failed). Over the rate limit HubSpot
//! answers 429 with `{"errorType": "RATE_LIMIT", "policyName": …}` and
//! `X-HubSpot-RateLimit-*` headers; the shared HTTP layer honours
//! `Retry-After` and backs off otherwise.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::http::{HttpClient, RetryPolicy};
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "HUBSPOT";
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
pub const UPSERT_PATH: &str = "/crm/v3/objects/contacts/batch/upsert";
/// Contacts listing, used read-only as a connection check.
pub const CONTACTS_PATH: &str = "/crm/v3/objects/contacts";
/// Inputs per batch request.
pub const BATCH_SIZE: usize = 100;

/// A contact keyed by its email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubspotContact {
    pub email: String,
    /// HubSpot property names (`firstname`, `lastname`, `company`, …).
    pub properties: BTreeMap<String, String>,
}

/// What one or more batches did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertReport {
    /// email → HubSpot contact id.
    pub ids: BTreeMap<String, String>,
    pub created: u64,
    pub updated: u64,
    /// Inputs HubSpot refused, with its messages.
    pub errors: Vec<String>,
    pub requests: u64,
}

#[derive(Debug, Deserialize)]
struct BatchAnswer {
    #[serde(default)]
    results: Vec<ResultRow>,
    #[serde(default)]
    errors: Vec<ErrorRow>,
}

#[derive(Debug, Deserialize)]
struct ResultRow {
    id: String,
    #[serde(default)]
    new: Option<bool>,
    #[serde(default)]
    properties: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Deserialize)]
struct ErrorRow {
    #[serde(default)]
    message: String,
}

#[derive(Debug, Clone)]
pub struct HubspotClient {
    http: HttpClient,
    config: ServiceConfig,
}

impl HubspotClient {
    pub fn new(config: ServiceConfig) -> Result<HubspotClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        Ok(HubspotClient {
            http: HttpClient::new("hubspot", Duration::from_secs(30))?,
            config,
        })
    }

    pub fn from_env() -> Result<HubspotClient, IntegrationError> {
        HubspotClient::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> HubspotClient {
        self.http = self.http.with_policy(policy);
        self
    }

    /// Reads one contact: proves the token works and has the
    /// `crm.objects.contacts.read` scope, without writing anything.
    pub async fn check(&self) -> Result<(), IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?;
        let url = format!("{}{CONTACTS_PATH}", self.config.base_url);
        self.http
            .send(|c| c.get(&url).query(&[("limit", "1")]).bearer_auth(key))
            .await?;
        Ok(())
    }

    /// Upserts `contacts` in batches of [`BATCH_SIZE`], in order. A batch
    /// that fails stops the upsert with its error; batches before it stay
    /// done (an upsert by email is safe to repeat).
    pub async fn upsert_contacts(
        &self,
        contacts: &[HubspotContact],
    ) -> Result<UpsertReport, IntegrationError> {
        let mut report = UpsertReport::default();
        for batch in contacts.chunks(BATCH_SIZE) {
            self.upsert_batch(batch, &mut report).await?;
        }
        Ok(report)
    }

    async fn upsert_batch(
        &self,
        batch: &[HubspotContact],
        report: &mut UpsertReport,
    ) -> Result<(), IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?;
        let url = format!("{}{UPSERT_PATH}", self.config.base_url);
        let inputs: Vec<serde_json::Value> = batch
            .iter()
            .map(|c| {
                let mut props = c.properties.clone();
                props.insert("email".into(), c.email.clone());
                serde_json::json!({"id": c.email, "idProperty": "email", "properties": props})
            })
            .collect();
        let body = serde_json::json!({ "inputs": inputs });
        let answer: BatchAnswer = self
            .http
            .json(|c| c.post(&url).bearer_auth(key).json(&body))
            .await?;
        report.requests += 1;
        for r in answer.results {
            match r.new {
                Some(true) => report.created += 1,
                _ => report.updated += 1,
            }
            if let Some(Some(email)) = r.properties.get("email") {
                report.ids.insert(email.to_ascii_lowercase(), r.id);
            }
        }
        report
            .errors
            .extend(answer.errors.into_iter().map(|e| e.message));
        Ok(())
    }
}
