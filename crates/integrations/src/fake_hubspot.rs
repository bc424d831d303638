//! A loopback fake of HubSpot's contacts batch upsert
//! (`POST /crm/v3/objects/contacts/batch/upsert`): bearer token, at most
//! 100 inputs, `idProperty: "email"`, contacts kept by email (the second
//! upsert of an email updates, `new: false`), `X-HubSpot-RateLimit-*`
//! headers, its `RATE_LIMIT` 429 body, and injected 5xx and latency.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::fake_server::{FakeServer, Faults, apply_faults, lock};
use crate::hubspot::{BATCH_SIZE, CONTACTS_PATH, UPSERT_PATH};

pub const FAKE_HUBSPOT_TOKEN: &str = "pat-fake-token";

#[derive(Debug, Default)]
pub struct HubspotState {
    pub faults: Faults,
    /// email → (id, properties).
    pub contacts: BTreeMap<String, (String, Map<String, Value>)>,
    /// Inputs per accepted request.
    pub batch_sizes: Vec<usize>,
    pub requests: u64,
}

pub struct FakeHubspot {
    pub server: FakeServer,
    pub state: Arc<Mutex<HubspotState>>,
}

fn error(status: StatusCode, category: &str, message: &str) -> Response {
    (
        status,
        Json(
            json!({"status": "error", "message": message, "category": category,
            "correlationId": "00000000-fake"}),
        ),
    )
        .into_response()
}

impl FakeHubspot {
    pub fn spawn() -> FakeHubspot {
        let state = Arc::new(Mutex::new(HubspotState::default()));
        let app = Router::new()
            .route(UPSERT_PATH, post(upsert))
            .route(CONTACTS_PATH, get(list))
            .with_state(state.clone());
        FakeHubspot {
            server: FakeServer::spawn("hubspot", app),
            state,
        }
    }

    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, HubspotState> {
        lock(&self.state)
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {FAKE_HUBSPOT_TOKEN}"))
}

/// `GET /crm/v3/objects/contacts`: the first contacts.
async fn list(State(state): State<Arc<Mutex<HubspotState>>>, headers: HeaderMap) -> Response {
    lock(&state).requests += 1;
    if !authorized(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
        );
    }
    let s = lock(&state);
    let results: Vec<Value> = s
        .contacts
        .values()
        .take(1)
        .map(|(id, props)| json!({"id": id, "properties": props}))
        .collect();
    Json(json!({"results": results})).into_response()
}

async fn upsert(
    State(state): State<Arc<Mutex<HubspotState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    lock(&state).requests += 1;
    let fault = apply_faults(&state, |s| &mut s.faults, |status| match status {
        StatusCode::TOO_MANY_REQUESTS => {
            let mut r = (
                status,
                Json(json!({"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})),
            )
                .into_response();
            let h = r.headers_mut();
            h.insert("x-hubspot-ratelimit-interval-milliseconds", 10_000.into());
            h.insert("x-hubspot-ratelimit-max", 100.into());
            h.insert("x-hubspot-ratelimit-remaining", 0.into());
            r
        }
        _ => error(status, "INTERNAL_ERROR", "Internal error"),
    })
    .await;
    if let Some(r) = fault {
        return r;
    }
    if !authorized(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
        );
    }
    let Ok(req) = serde_json::from_str::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid input JSON",
        );
    };
    let Some(inputs) = req["inputs"].as_array() else {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "inputs is required",
        );
    };
    if inputs.len() > BATCH_SIZE {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            &format!("Batch input limit is {BATCH_SIZE}, got {}", inputs.len()),
        );
    }
    let mut s = lock(&state);
    s.batch_sizes.push(inputs.len());
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        let email = input["id"].as_str().map(str::to_ascii_lowercase);
        let (Some(email), Some("email")) = (email, input["idProperty"].as_str()) else {
            errors.push(json!({"status": "error", "category": "VALIDATION_ERROR",
                "message": "each input needs id and idProperty \"email\""}));
            continue;
        };
        if !email.contains('@') {
            errors.push(json!({"status": "error", "category": "VALIDATION_ERROR",
                "message": format!("Email address {email} is invalid")}));
            continue;
        }
        let props = input["properties"].as_object().cloned().unwrap_or_default();
        let next_id = (s.contacts.len() + 1001).to_string();
        let new = !s.contacts.contains_key(&email);
        let entry = s
            .contacts
            .entry(email.clone())
            .or_insert((next_id, Map::new()));
        entry.1.extend(props);
        entry.1.insert("email".into(), json!(email));
        results.push(json!({"id": entry.0, "new": new, "properties": entry.1,
            "createdAt": "2026-12-01T00:00:00Z", "updatedAt": "2026-12-01T00:00:00Z"}));
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let mut out = json!({"status": "COMPLETE", "results": results,
        "startedAt": "2026-12-01T00:00:00Z", "completedAt": "2026-12-01T00:00:00Z"});
    if !errors.is_empty() {
        out["numErrors"] = json!(errors.len());
        out["errors"] = json!(errors);
    }
    (status, Json(out)).into_response()
}
