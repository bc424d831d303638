//! A loopback fake of a Slack incoming webhook at `/services/T…/B…/X…`:
//! answers `ok`, or Slack's plain-text codes (`invalid_payload`, `no_text`,
//! `no_service` for an unknown hook), and injected 429s with `Retry-After`,
//! 5xx and latency.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;

use crate::fake_server::{FakeServer, Faults, apply_faults, lock, text};

/// The hook path the fake knows; any other answers `no_service`.
pub const FAKE_SLACK_HOOK: &str = "T000/B000/fakehook";

#[derive(Debug, Default)]
pub struct SlackState {
    pub faults: Faults,
    pub messages: Vec<Value>,
    pub requests: u64,
}

pub struct FakeSlack {
    pub server: FakeServer,
    pub state: Arc<Mutex<SlackState>>,
}

impl FakeSlack {
    pub fn spawn() -> FakeSlack {
        let state = Arc::new(Mutex::new(SlackState::default()));
        let app = Router::new()
            .route("/services/{*hook}", post(hook))
            .with_state(state.clone());
        FakeSlack {
            server: FakeServer::spawn("slack", app),
            state,
        }
    }

    /// The webhook URL to configure.
    pub fn webhook_url(&self) -> String {
        format!("{}/services/{FAKE_SLACK_HOOK}", self.server.base_url())
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, SlackState> {
        lock(&self.state)
    }
}

async fn hook(
    State(state): State<Arc<Mutex<SlackState>>>,
    Path(path): Path<String>,
    body: String,
) -> Response {
    lock(&state).requests += 1;
    let fault = apply_faults(
        &state,
        |s| &mut s.faults,
        |status| match status {
            StatusCode::TOO_MANY_REQUESTS => text(status, "rate_limited"),
            _ => text(status, "internal_error"),
        },
    )
    .await;
    if let Some(r) = fault {
        return r;
    }
    if path != FAKE_SLACK_HOOK {
        return text(StatusCode::NOT_FOUND, "no_service");
    }
    let Ok(msg) = serde_json::from_str::<Value>(&body) else {
        return text(StatusCode::BAD_REQUEST, "invalid_payload");
    };
    let has_text = msg["text"].as_str().is_some_and(|t| !t.is_empty());
    if !has_text && !msg["blocks"].is_array() {
        return text(StatusCode::BAD_REQUEST, "no_text");
    }
    lock(&state).messages.push(msg);
    text(StatusCode::OK, "ok")
}
