//! A loopback fake of Resend's `POST /emails`: bearer key, required
//! fields, `Idempotency-Key` (the same key answers the first email's id and
//! sends nothing), `{statusCode, name, message}` errors, and injected 429s
//! with `retry-after`, 5xx and latency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::fake_server::{FakeServer, Faults, apply_faults, lock};

pub const FAKE_RESEND_KEY: &str = "re_fake_key";

#[derive(Debug, Default)]
pub struct ResendState {
    pub faults: Faults,
    /// Emails accepted, in order (each sent once).
    pub sent: Vec<Value>,
    /// Idempotency key → email id.
    pub keys: HashMap<String, String>,
    pub requests: u64,
}

pub struct FakeResend {
    pub server: FakeServer,
    pub state: Arc<Mutex<ResendState>>,
}

fn error(status: StatusCode, name: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"statusCode": status.as_u16(), "name": name, "message": message})),
    )
        .into_response()
}

impl FakeResend {
    pub fn spawn() -> FakeResend {
        let state = Arc::new(Mutex::new(ResendState::default()));
        let app = Router::new()
            .route("/emails", post(send))
            .with_state(state.clone());
        FakeResend {
            server: FakeServer::spawn("resend", app),
            state,
        }
    }

    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, ResendState> {
        lock(&self.state)
    }
}

async fn send(
    State(state): State<Arc<Mutex<ResendState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    lock(&state).requests += 1;
    let fault = apply_faults(
        &state,
        |s| &mut s.faults,
        |status| match status {
            StatusCode::TOO_MANY_REQUESTS => error(
                status,
                "rate_limit_exceeded",
                "Too many requests. You can only make 2 requests per second.",
            ),
            _ => error(
                status,
                "internal_server_error",
                "An unexpected error occurred.",
            ),
        },
    )
    .await;
    if let Some(r) = fault {
        return r;
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    match auth {
        None => {
            return error(
                StatusCode::UNAUTHORIZED,
                "missing_api_key",
                "Missing API key in the authorization header.",
            );
        }
        Some(a) if a != format!("Bearer {FAKE_RESEND_KEY}") => {
            return error(
                StatusCode::FORBIDDEN,
                "invalid_api_key",
                "API key is invalid.",
            );
        }
        _ => {}
    }
    let Ok(email) = serde_json::from_str::<Value>(&body) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "Invalid JSON body.",
        );
    };
    for field in ["from", "to", "subject"] {
        if email.get(field).is_none_or(Value::is_null) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_error",
                &format!("The `{field}` field is missing."),
            );
        }
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 256) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "The key must be between 1-256 chars.",
        );
    }
    let mut s = lock(&state);
    if let Some(id) = key.as_ref().and_then(|k| s.keys.get(k)) {
        return Json(json!({"id": id})).into_response();
    }
    let id = format!("email-{}", s.sent.len() + 1);
    s.sent.push(email);
    if let Some(k) = key {
        s.keys.insert(k, id.clone());
    }
    Json(json!({"id": id})).into_response()
}
