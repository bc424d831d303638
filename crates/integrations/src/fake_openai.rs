//! A loopback fake of an OpenAI-compatible server
//! (`POST /v1/chat/completions`, `response_format` json_schema), with the
//! same knobs as the Anthropic fake ([`crate::fake_anthropic::LlmFakeControl`]).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::fake_anthropic::{Control, FAKE_KEY, LlmFake, injected, model_text};

/// The OpenAI-compatible fake: `FakeOpenAi::spawn()`.
pub struct FakeOpenAi;

impl FakeOpenAi {
    pub fn spawn() -> LlmFake {
        LlmFake::start("fake-openai", |control| {
            Router::new()
                .route("/v1/chat/completions", post(completions))
                .with_state(control)
        })
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": null, "code": null}})),
    )
        .into_response()
}

async fn completions(State(control): State<Control>, headers: HeaderMap, body: String) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {FAKE_KEY}")) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Incorrect API key provided",
        );
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "body is not JSON",
        );
    };
    let rf = &body["response_format"];
    if rf["type"] != "json_schema"
        || !rf["json_schema"]["schema"].is_object()
        || rf["json_schema"]["name"].as_str().is_none()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "response_format json_schema with name and schema expected",
        );
    }
    if let Some((status, retry_after, _)) = injected(&control).await {
        let mut resp = error(status, "server_error", "failure injected by the fake");
        if let Some(s) = retry_after {
            resp.headers_mut().insert("retry-after", s.into());
        }
        return resp;
    }
    let msgs = body["messages"].as_array().cloned().unwrap_or_default();
    let text_of = |role: &str| {
        msgs.iter()
            .find(|m| m["role"] == role)
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    let (system, user) = (text_of("system"), text_of("user"));
    let model = body["model"].as_str().unwrap_or("").to_owned();
    let (text, input, output) = model_text(&control, &system, &user, body);
    Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
    }))
    .into_response()
}
