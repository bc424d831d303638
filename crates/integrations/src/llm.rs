//! What the LLM clients ([`crate::anthropic`], [`crate::openai_compat`])
//! share: a request for JSON that follows a schema, the model's reply with
//! its token counts, and a price table entry to turn tokens into dollars.
//! Model ids and prices are configuration, never constants here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::IntegrationError;

/// One structured-output call.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    pub model: String,
    pub system: String,
    pub user: String,
    /// The JSON schema the answer must follow.
    pub schema: Value,
    /// A name for the schema (`[A-Za-z0-9_-]{1,64}`), required by the
    /// OpenAI-compatible `json_schema` format.
    pub schema_name: String,
    pub max_tokens: u32,
}

/// The model's answer: the JSON text as written (not yet validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmReply {
    pub text: String,
    pub model: String,
    pub stop_reason: Option<String>,
    pub usage: LlmUsage,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Dollars per million tokens of one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub input_per_mtok_usd: f64,
    pub output_per_mtok_usd: f64,
}

impl ModelPrice {
    /// The cost of `usage` in millionths of a dollar, rounded up.
    pub fn cost_micros(&self, usage: LlmUsage) -> u64 {
        // $/Mtok × tokens = micro-dollars.
        let micros = self.input_per_mtok_usd * usage.input_tokens as f64
            + self.output_per_mtok_usd * usage.output_tokens as f64;
        micros.max(0.0).ceil() as u64
    }
}

/// A client that answers [`LlmRequest`]s.
pub trait LlmClient: Send + Sync {
    /// The service name used in errors, spend and enrichments.
    fn provider(&self) -> &'static str;
    fn complete<'a>(
        &'a self,
        req: &'a LlmRequest,
    ) -> crate::maps::BoxFuture<'a, Result<LlmReply, IntegrationError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_become_micro_dollars() {
        let p = ModelPrice {
            input_per_mtok_usd: 2.0,
            output_per_mtok_usd: 10.0,
        };
        let u = LlmUsage {
            input_tokens: 1500,
            output_tokens: 300,
        };
        // 1500 × $2/M + 300 × $10/M = $0.003 + $0.003
        assert_eq!(p.cost_micros(u), 6000);
    }
}
