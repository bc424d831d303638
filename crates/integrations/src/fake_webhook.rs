//! A loopback webhook receiver that checks leadgen's signatures the way a
//! customer's endpoint would ([`crate::webhook::verify_signature`]) and
//! drops duplicate event ids; also the fake lead platform, which takes
//! batches at [`crate::platform::UPLOAD_PATH`] per platform name
//! (`/<platform>/v1/leads/batch`). Both inject 429s, 5xx and latency.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;

use crate::fake_server::{FakeServer, Faults, apply_faults, lock, text};
use crate::webhook::{DEFAULT_TOLERANCE, EVENT_ID_HEADER, SIGNATURE_HEADER, verify_signature};

pub const FAKE_WEBHOOK_SECRET: &str = "whsec_fake";

#[derive(Debug, Default)]
pub struct WebhookState {
    pub faults: Faults,
    /// (event id, body) of accepted deliveries, duplicates excluded.
    pub received: Vec<(String, Value)>,
    pub seen: BTreeSet<String>,
    pub rejected_signatures: u64,
    pub requests: u64,
    /// (platform, idempotency key, batch) of platform uploads.
    pub uploads: Vec<(String, String, Value)>,
}

pub struct FakeWebhook {
    pub server: FakeServer,
    pub state: Arc<Mutex<WebhookState>>,
}

impl FakeWebhook {
    pub fn spawn() -> FakeWebhook {
        let state = Arc::new(Mutex::new(WebhookState::default()));
        let app = Router::new()
            .route("/hook", post(receive))
            .route("/{platform}/v1/leads/batch", post(upload))
            .with_state(state.clone());
        FakeWebhook {
            server: FakeServer::spawn("webhook", app),
            state,
        }
    }

    /// The endpoint to configure, signed with [`FAKE_WEBHOOK_SECRET`].
    pub fn url(&self) -> String {
        format!("{}/hook", self.server.base_url())
    }

    /// The base URL of the fake platform `name`.
    pub fn platform_url(&self, name: &str) -> String {
        format!("{}/{name}", self.server.base_url())
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, WebhookState> {
        lock(&self.state)
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn receive(
    State(state): State<Arc<Mutex<WebhookState>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    lock(&state).requests += 1;
    if let Some(r) = apply_faults(&state, |s| &mut s.faults, |st| text(st, "unavailable")).await {
        return r;
    }
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    let signature = header(SIGNATURE_HEADER);
    if verify_signature(
        FAKE_WEBHOOK_SECRET,
        signature,
        &body,
        now_s(),
        DEFAULT_TOLERANCE,
    )
    .is_err()
    {
        lock(&state).rejected_signatures += 1;
        return text(StatusCode::UNAUTHORIZED, "bad signature");
    }
    let id = header(EVENT_ID_HEADER).to_owned();
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return text(StatusCode::BAD_REQUEST, "not json");
    };
    let mut s = lock(&state);
    if s.seen.insert(id.clone()) {
        s.received.push((id, value));
    }
    text(StatusCode::OK, "received")
}

async fn upload(
    State(state): State<Arc<Mutex<WebhookState>>>,
    Path(platform): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    lock(&state).requests += 1;
    if let Some(r) = apply_faults(&state, |s| &mut s.faults, |st| text(st, "unavailable")).await {
        return r;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Ok(batch) = serde_json::from_str::<Value>(&body) else {
        return text(StatusCode::BAD_REQUEST, "not json");
    };
    let mut s = lock(&state);
    if !s
        .uploads
        .iter()
        .any(|(p, k, _)| *p == platform && *k == key)
    {
        s.uploads.push((platform, key, batch));
    }
    text(StatusCode::OK, "{\"accepted\":true}")
}
