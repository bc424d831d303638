//! A loopback fake of Anthropic's Messages API (`POST /v1/messages`),
//! and the knobs both LLM fakes share ([`LlmFakeControl`]): 401 for a
//! wrong key, 429 with `retry-after`, 529 overloaded, 500, a spend-limit
//! 429, slow answers, and malformed model output (not JSON, or JSON that
//! breaks the schema). The model's answer is scripted: a fixed value, or a
//! function of the prompt.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// The key the LLM fakes accept.
pub const FAKE_KEY: &str = "fake-llm-key";

/// Answers the prompt (system and user text) with the model's JSON.
pub type Answer = Arc<dyn Fn(&str, &str) -> Value + Send + Sync>;

/// What an LLM fake is told to do, and what it saw.
pub struct LlmFakeControl {
    pub fail_429: u32,
    pub retry_after_s: u64,
    pub fail_529: u32,
    pub fail_500: u32,
    /// Every call gets the spend-limit 429 (never to be retried).
    pub spend_limit: bool,
    pub latency: Duration,
    /// Scripted raw texts for the next calls (malformed output, say),
    /// used before `answer`.
    pub raw_replies: VecDeque<String>,
    pub answer: Answer,
    /// Tokens reported per call.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Request bodies received (after the key check).
    pub requests: Vec<Value>,
}

impl Default for LlmFakeControl {
    fn default() -> Self {
        LlmFakeControl {
            fail_429: 0,
            retry_after_s: 1,
            fail_529: 0,
            fail_500: 0,
            spend_limit: false,
            latency: Duration::ZERO,
            raw_replies: VecDeque::new(),
            answer: Arc::new(|_, _| json!({})),
            input_tokens: 1200,
            output_tokens: 300,
            requests: Vec::new(),
        }
    }
}

pub type Control = Arc<Mutex<LlmFakeControl>>;

pub(crate) fn lock(c: &Control) -> std::sync::MutexGuard<'_, LlmFakeControl> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

/// A failure the control asks for, as (status, retry-after).
pub(crate) async fn injected(control: &Control) -> Option<(StatusCode, Option<u64>, &'static str)> {
    let (latency, verdict) = {
        let mut c = lock(control);
        let v = if c.spend_limit {
            Some((StatusCode::TOO_MANY_REQUESTS, None, "spend"))
        } else if c.fail_429 > 0 {
            c.fail_429 -= 1;
            Some((StatusCode::TOO_MANY_REQUESTS, Some(c.retry_after_s), "rate"))
        } else if c.fail_529 > 0 {
            c.fail_529 -= 1;
            Some((
                StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                None,
                "overloaded",
            ))
        } else if c.fail_500 > 0 {
            c.fail_500 -= 1;
            Some((StatusCode::INTERNAL_SERVER_ERROR, None, "api"))
        } else {
            None
        };
        (c.latency, v)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    verdict
}

/// The model's text for a call: a scripted raw reply, else the answer.
pub(crate) fn model_text(
    control: &Control,
    system: &str,
    user: &str,
    body: Value,
) -> (String, u64, u64) {
    let mut c = lock(control);
    c.requests.push(body);
    let text = match c.raw_replies.pop_front() {
        Some(raw) => raw,
        None => (c.answer)(system, user).to_string(),
    };
    (text, c.input_tokens, c.output_tokens)
}

/// A running LLM fake (either vendor's); stops when dropped.
pub struct LlmFake {
    pub addr: SocketAddr,
    pub control: Control,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl LlmFake {
    /// Serves the router `app` builds around a fresh control.
    pub(crate) fn start(name: &str, app: impl FnOnce(Control) -> Router) -> LlmFake {
        let control: Control = Arc::new(Mutex::new(LlmFakeControl::default()));
        let (addr, stop) = crate::fake::serve_on_loopback(name, app(control.clone()));
        LlmFake {
            addr,
            control,
            _stop: stop,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control(&self) -> std::sync::MutexGuard<'_, LlmFakeControl> {
        lock(&self.control)
    }
}

/// The Anthropic fake: `FakeAnthropic::spawn()`.
pub struct FakeAnthropic;

impl FakeAnthropic {
    pub fn spawn() -> LlmFake {
        LlmFake::start("fake-anthropic", |control| {
            Router::new()
                .route("/v1/messages", post(messages))
                .with_state(control)
        })
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"})),
    )
        .into_response()
}

async fn messages(State(control): State<Control>, headers: HeaderMap, body: String) -> Response {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    if header("x-api-key") != Some(FAKE_KEY) {
        return error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        );
    }
    if header("anthropic-version") != Some("2023-06-01") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version header is required",
        );
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "body is not JSON",
        );
    };
    if body["model"].as_str().is_none()
        || body["max_tokens"].as_u64().is_none()
        || !body["messages"].is_array()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "model, max_tokens and messages are required",
        );
    }
    // Newer models refuse a forced tool choice; so does the fake.
    if matches!(body["tool_choice"]["type"].as_str(), Some("any" | "tool")) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "forced tool_choice is not supported with this model",
        );
    }
    if let Some((status, retry_after, kind)) = injected(&control).await {
        let mut resp = match kind {
            "spend" => (
                status,
                Json(
                    json!({"type": "error", "error": {"type": "rate_limit_error",
                    "message": "You have reached your specified API usage limits.",
                    "details": {"error_code": "enforced_spend_limit_reached"}}}),
                ),
            )
                .into_response(),
            "rate" => error(
                status,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
            "overloaded" => error(status, "overloaded_error", "Overloaded"),
            _ => error(status, "api_error", "Internal server error"),
        };
        if let Some(s) = retry_after {
            resp.headers_mut().insert("retry-after", s.into());
        }
        return resp;
    }
    let system = body["system"].as_str().unwrap_or("").to_owned();
    let user = body["messages"][0]["content"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let model = body["model"].as_str().unwrap_or("").to_owned();
    let (text, input, output) = model_text(&control, &system, &user, body);
    Json(json!({
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }))
    .into_response()
}
