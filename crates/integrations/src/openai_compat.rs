//! Any OpenAI-compatible Chat Completions endpoint (OpenAI, Ollama, vLLM,
//! llama.cpp's `llama-server`): `POST {base}/v1/chat/completions` with
//! `Authorization: Bearer <key>` and `response_format: {type:
//! "json_schema", json_schema: {name, schema, strict}}`. The JSON comes
//! back as a string in `choices[0].message.content`. Local servers ignore
//! the key but want one, so a missing key is sent as `local`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::http::HttpClient;
use crate::llm::{LlmClient, LlmReply, LlmRequest, LlmUsage};
use crate::maps::BoxFuture;
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "OPENAI_COMPAT";
/// Ollama's OpenAI-compatible endpoint (the base excludes `/v1`).
pub const DEFAULT_BASE_URL: &str = "http://localhost:11434";

#[derive(Debug, Clone)]
pub struct OpenAiCompatClient {
    http: HttpClient,
    config: ServiceConfig,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Usage,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// `[A-Za-z0-9_-]`, at most 64 characters.
fn schema_name(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "answer".into() } else { s }
}

impl OpenAiCompatClient {
    pub fn new(config: ServiceConfig) -> Result<OpenAiCompatClient, IntegrationError> {
        Ok(OpenAiCompatClient {
            http: HttpClient::new("openai_compat", Duration::from_secs(300))?,
            config,
        })
    }

    pub fn from_env() -> Result<OpenAiCompatClient, IntegrationError> {
        Self::new(ServiceConfig::from_env(ENV_NAME, DEFAULT_BASE_URL))
    }

    pub fn with_http(mut self, http: HttpClient) -> OpenAiCompatClient {
        self.http = http;
        self
    }

    pub fn body(req: &LlmRequest) -> serde_json::Value {
        json!({
            "model": req.model,
            "max_tokens": req.max_tokens,
            "messages": [
                {"role": "system", "content": req.system},
                {"role": "user", "content": req.user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema_name(&req.schema_name), "schema": req.schema, "strict": true},
            },
        })
    }

    pub async fn chat(&self, req: &LlmRequest) -> Result<LlmReply, IntegrationError> {
        let key = self.config.api_key.as_deref().unwrap_or("local");
        let base = self.config.base_url.trim_end_matches("/v1");
        let url = format!("{base}/v1/chat/completions");
        let body = Self::body(req);
        let c: Completion = self
            .http
            .json(|c| c.post(&url).bearer_auth(key).json(&body))
            .await?;
        let Some(first) = c.choices.into_iter().next() else {
            return Err(IntegrationError::Decode {
                service: "openai_compat",
                message: "no choices in the completion".into(),
            });
        };
        Ok(LlmReply {
            text: first.message.content.unwrap_or_default(),
            model: c.model,
            stop_reason: first.finish_reason,
            usage: LlmUsage {
                input_tokens: c.usage.prompt_tokens,
                output_tokens: c.usage.completion_tokens,
            },
        })
    }
}

impl LlmClient for OpenAiCompatClient {
    fn provider(&self) -> &'static str {
        "openai_compat"
    }

    fn complete<'a>(
        &'a self,
        req: &'a LlmRequest,
    ) -> BoxFuture<'a, Result<LlmReply, IntegrationError>> {
        Box::pin(self.chat(req))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_names_are_made_acceptable() {
        assert_eq!(super::schema_name("find contacts!"), "find_contacts_");
        assert_eq!(super::schema_name(""), "answer");
        assert_eq!(super::schema_name(&"x".repeat(100)).len(), 64);
    }
}
