//! Lead platforms: partner systems that take batches of hot and warm leads
//! by industry (a tech platform, finance, healthcare, retail, marketing, a
//! general one). Each platform is an HTTPS endpoint of its own,
//! `LEADGEN_PLATFORM_<NAME>_BASE_URL` with an optional bearer key in
//! `LEADGEN_PLATFORM_<NAME>_API_KEY`, and takes
//! `POST <base>/v1/leads/batch` with the batch (see `docs/platform-upload.md`)
//! and an `Idempotency-Key` equal to the batch id, so a retried upload is
//! recognised by the receiver.

use std::time::Duration;

use serde::Serialize;

use crate::http::{HttpClient, RetryPolicy};
use crate::{IntegrationError, ServiceConfig};

pub const UPLOAD_PATH: &str = "/v1/leads/batch";

/// The variable prefix of a platform (`tech` → `PLATFORM_TECH`).
pub fn env_name(platform: &str) -> String {
    format!("PLATFORM_{}", platform.to_ascii_uppercase())
}

#[derive(Debug, Clone)]
pub struct PlatformClient {
    http: HttpClient,
}

impl PlatformClient {
    pub fn new() -> Result<PlatformClient, IntegrationError> {
        Ok(PlatformClient {
            http: HttpClient::new("platform", Duration::from_secs(60))?,
        })
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> PlatformClient {
        self.http = self.http.with_policy(policy);
        self
    }

    /// Posts one batch to the platform `config` points at.
    pub async fn upload<T: Serialize + ?Sized>(
        &self,
        config: &ServiceConfig,
        batch_id: &str,
        batch: &T,
    ) -> Result<(), IntegrationError> {
        if config.base_url.is_empty() {
            return Err(IntegrationError::Config(
                "platform: no endpoint configured".into(),
            ));
        }
        let url = format!("{}{UPLOAD_PATH}", config.base_url);
        self.http
            .send(|c| {
                let r = c.post(&url).header("Idempotency-Key", batch_id).json(batch);
                match &config.api_key {
                    Some(k) => r.bearer_auth(k),
                    None => r,
                }
            })
            .await?;
        Ok(())
    }
}
