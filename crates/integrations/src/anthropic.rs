//! Anthropic's Messages API: `POST /v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`. Structured output goes through
//! `output_config.format = {type: "json_schema", schema}` — newer models
//! refuse a forced `tool_choice`, so we never send one. The JSON arrives
//! as the text of the first `text` block; `usage` gives the tokens.
//!
//! Errors come as `{"type":"error","error":{"type","message"}}`: 429
//! `rate_limit_error` with `retry-after`, 529 `overloaded_error` (retried
//! like a 5xx), and a 429 whose `error.details.error_code` is
//! `enforced_spend_limit_reached`, which is never retried.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::http::HttpClient;
use crate::llm::{LlmClient, LlmReply, LlmRequest, LlmUsage};
use crate::maps::BoxFuture;
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "ANTHROPIC";
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone)]
pub struct AnthropicClient {
    http: HttpClient,
    config: ServiceConfig,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    model: String,
    #[serde(default)]
    content: Vec<Block>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Usage,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
}

/// A spend-limit 429 is final; the rest sorts by status (529 is a 5xx).
fn classifier(
    service: &'static str,
    status: u16,
    _retry_after: Option<Duration>,
    body: &str,
) -> Option<IntegrationError> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    if status == 429 && v["error"]["details"]["error_code"] == "enforced_spend_limit_reached" {
        return Some(IntegrationError::BadRequest {
            service,
            status,
            message: format!(
                "spend limit reached: {}",
                v["error"]["message"].as_str().unwrap_or("")
            ),
        });
    }
    None
}

impl AnthropicClient {
    pub fn new(config: ServiceConfig) -> Result<AnthropicClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        Ok(AnthropicClient {
            http: HttpClient::new("anthropic", Duration::from_secs(120))?
                .with_classifier(classifier),
            config,
        })
    }

    pub fn from_env() -> Result<AnthropicClient, IntegrationError> {
        Self::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    pub fn with_http(mut self, http: HttpClient) -> AnthropicClient {
        self.http = http.with_classifier(classifier);
        self
    }

    /// The request body for `req`.
    pub fn body(req: &LlmRequest) -> serde_json::Value {
        json!({
            "model": req.model,
            "max_tokens": req.max_tokens,
            "system": req.system,
            "messages": [{"role": "user", "content": req.user}],
            "output_config": {"format": {"type": "json_schema", "schema": req.schema}},
        })
    }

    pub async fn messages(&self, req: &LlmRequest) -> Result<LlmReply, IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?;
        let url = format!("{}/v1/messages", self.config.base_url);
        let body = Self::body(req);
        let m: Message = self
            .http
            .json(|c| {
                c.post(&url)
                    .header("x-api-key", key)
                    .header("anthropic-version", API_VERSION)
                    .json(&body)
            })
            .await?;
        let text = m
            .content
            .iter()
            .filter(|b| b.kind == "text")
            .map(|b| b.text.as_str())
            .collect::<Vec<_>>()
            .join("");
        Ok(LlmReply {
            text,
            model: m.model,
            stop_reason: m.stop_reason,
            usage: LlmUsage {
                // Cached input is still input the call was billed for
                // (at a different rate we do not model yet).
                input_tokens: m.usage.input_tokens
                    + m.usage.cache_creation_input_tokens
                    + m.usage.cache_read_input_tokens,
                output_tokens: m.usage.output_tokens,
            },
        })
    }
}

impl LlmClient for AnthropicClient {
    fn provider(&self) -> &'static str {
        "anthropic"
    }

    fn complete<'a>(
        &'a self,
        req: &'a LlmRequest,
    ) -> BoxFuture<'a, Result<LlmReply, IntegrationError>> {
        Box::pin(self.messages(req))
    }
}
