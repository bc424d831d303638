//! Resend's email API: `POST /emails` with `Authorization: Bearer re_…`.
//!
//! Body: `from` (`"Name <a@b>"` allowed), `to` (up to 50 addresses),
//! `subject`, `text`/`html`, optional `reply_to` and `tags[{name,value}]`.
//! An `Idempotency-Key` header (1–256 characters) makes a resend of the
//! same request return the first answer instead of sending again. Success
//! is `{"id": "…"}`; errors are `{statusCode, name, message}` (names such
//! as `validation_error`, `invalid_api_key`); over the rate limit (2/s per
//! team) the answer is 429 with `retry-after`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::http::{HttpClient, RetryPolicy};
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "RESEND";
pub const DEFAULT_BASE_URL: &str = "https://api.resend.com";
/// Recipients one request may carry.
pub const MAX_RECIPIENTS: usize = 50;

/// One email to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutgoingEmail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<EmailTag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailTag {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
struct Sent {
    id: String,
}

#[derive(Debug, Clone)]
pub struct ResendClient {
    http: HttpClient,
    config: ServiceConfig,
}

impl ResendClient {
    pub fn new(config: ServiceConfig) -> Result<ResendClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        Ok(ResendClient {
            http: HttpClient::new("resend", Duration::from_secs(30))?,
            config,
        })
    }

    pub fn from_env() -> Result<ResendClient, IntegrationError> {
        ResendClient::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> ResendClient {
        self.http = self.http.with_policy(policy);
        self
    }

    /// Sends `email`; the same `idempotency_key` never sends twice (within
    /// Resend's 24 h window). Returns Resend's email id.
    pub async fn send(
        &self,
        email: &OutgoingEmail,
        idempotency_key: &str,
    ) -> Result<String, IntegrationError> {
        if email.to.is_empty() || email.to.len() > MAX_RECIPIENTS {
            return Err(IntegrationError::Config(format!(
                "resend: an email needs 1 to {MAX_RECIPIENTS} recipients, not {}",
                email.to.len()
            )));
        }
        if idempotency_key.is_empty() || idempotency_key.len() > 256 {
            return Err(IntegrationError::Config(
                "resend: the idempotency key must be 1 to 256 characters".into(),
            ));
        }
        let key = self.config.require_key(ENV_NAME)?;
        let url = format!("{}/emails", self.config.base_url);
        let sent: Sent = self
            .http
            .json(|c| {
                c.post(&url)
                    .bearer_auth(key)
                    .header("Idempotency-Key", idempotency_key)
                    .json(email)
            })
            .await?;
        Ok(sent.id)
    }
}
