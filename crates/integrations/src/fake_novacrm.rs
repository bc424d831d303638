//! A loopback fake of NovaCRM's lead capture (feature `testkit`):
//! `POST /api/leads/capture` with `x-api-key`, recording every capture so a
//! test can count them. Knobs inject 429 with `Retry-After`, 5xx and slow
//! answers.

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

use crate::fake::serve_on_loopback;

pub const FAKE_NOVACRM_KEY: &str = "fake-novacrm-key";

#[derive(Debug, Default)]
pub struct FakeNovaCrmControl {
    pub fail_5xx: u32,
    pub fail_429: u32,
    pub latency: Duration,
    /// Every accepted capture, in order.
    pub captures: Vec<Value>,
    pub requests: u64,
}

impl FakeNovaCrmControl {
    /// Captures of `email`.
    pub fn captures_of(&self, email: &str) -> Vec<&Value> {
        self.captures
            .iter()
            .filter(|c| c.get("email").and_then(Value::as_str) == Some(email))
            .collect()
    }
}

pub struct FakeNovaCrm {
    pub addr: SocketAddr,
    pub control: Arc<Mutex<FakeNovaCrmControl>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

type Shared = Arc<Mutex<FakeNovaCrmControl>>;

impl FakeNovaCrm {
    pub fn spawn() -> FakeNovaCrm {
        let control: Shared = Arc::default();
        let app = Router::new()
            .route("/api/leads/capture", post(capture))
            .with_state(control.clone());
        let (addr, stop) = serve_on_loopback("fake-novacrm", app);
        FakeNovaCrm {
            addr,
            control,
            _stop: stop,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control(&self) -> std::sync::MutexGuard<'_, FakeNovaCrmControl> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn capture(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let latency = {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        c.requests += 1;
        c.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(FAKE_NOVACRM_KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid api key"})),
        )
            .into_response();
    }
    let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
    if c.fail_429 > 0 {
        c.fail_429 -= 1;
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": "slow down"})),
        )
            .into_response();
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("2"));
        return r;
    }
    if c.fail_5xx > 0 {
        c.fail_5xx -= 1;
        return (StatusCode::BAD_GATEWAY, Json(json!({"error": "upstream"}))).into_response();
    }
    let Some(Json(body)) = body else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "body must be JSON"})),
        )
            .into_response();
    };
    let has = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    if !has("email") || !has("name") || !has("source") {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "name, email and source are required"})),
        )
            .into_response();
    }
    c.captures.push(body);
    let id = format!("nova-{}", c.captures.len());
    (
        StatusCode::CREATED,
        Json(json!({"success": true, "id": id})),
    )
        .into_response()
}
