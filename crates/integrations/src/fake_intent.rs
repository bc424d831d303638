//! A loopback fake of the DataShopper-style company-intent API, speaking
//! the contract [`crate::intent`] assumes: bearer key (401 otherwise),
//! pages by `page` and `limit`, size filters, 402 when out of credits,
//! and 429 with `Retry-After`, 5xx and slow answers on demand.
//!
//! Every topic is researched by the same thirty companies
//! ([`intent_world`]): company `i` is `intent<i>-fake.com` with `10 (i + 1)`
//! employees, detected `3i mod 56` days before today, scored high (85) when
//! `i mod 3 = 0`, medium (55) when 1 and low (25) when 2.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::fake::{FAKE_KEY, serve_on_loopback};
use crate::fake_google_ads_transparency::{FakeLibraryControl, library_gate};

/// Companies researching every topic.
pub const WORLD_SIZE: u32 = 30;

/// One company of the fake's world, for one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentHit {
    pub domain: String,
    pub employees: u32,
    pub score: u8,
    pub days_ago: i64,
}

pub fn intent_world() -> Vec<IntentHit> {
    (0..WORLD_SIZE)
        .map(|i| IntentHit {
            domain: format!("intent{i}-fake.com"),
            employees: 10 * (i + 1),
            score: [85, 55, 25][(i % 3) as usize],
            days_ago: i64::from(3 * i % 56),
        })
        .collect()
}

/// What the fake saw, and its credits.
#[derive(Debug, Default)]
pub struct FakeIntentState {
    pub requests: u64,
    /// Every request is answered 402.
    pub out_of_credits: bool,
    /// The topics asked for, in order.
    pub topics: Vec<String>,
}

/// A running fake; stops when dropped.
pub struct FakeIntent {
    pub addr: SocketAddr,
    /// 429s, 5xx, latency and the day (`today`) the dates count back from.
    pub faults: Arc<Mutex<FakeLibraryControl>>,
    pub state: Arc<Mutex<FakeIntentState>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

type Shared = (Arc<Mutex<FakeLibraryControl>>, Arc<Mutex<FakeIntentState>>);

impl FakeIntent {
    pub fn spawn() -> FakeIntent {
        let faults = Arc::new(Mutex::new(FakeLibraryControl::default()));
        let state = Arc::new(Mutex::new(FakeIntentState::default()));
        let app = Router::new()
            .route(crate::intent::SEARCH_PATH, post(search))
            .with_state((faults.clone(), state.clone()));
        let (addr, stop) = serve_on_loopback("fake-intent", app);
        FakeIntent {
            addr,
            faults,
            state,
            _stop: stop,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn faults(&self) -> std::sync::MutexGuard<'_, FakeLibraryControl> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, FakeIntentState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

async fn search(
    State((faults, state)): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = library_gate(&faults).await {
        return r;
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {FAKE_KEY}") {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid API key.");
    }
    let Some(topic) = body["topic"].as_str().filter(|t| !t.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "topic is required",
        );
    };
    let today = faults.lock().unwrap_or_else(|p| p.into_inner()).today();
    {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        if s.out_of_credits {
            return error(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_credits",
                "Your plan has no credits left this month.",
            );
        }
        s.requests += 1;
        s.topics.push(topic.to_owned());
    }
    let min = body["company_size"]["min"].as_u64().unwrap_or(0);
    let max = body["company_size"]["max"].as_u64().unwrap_or(u64::MAX);
    let limit = body["limit"].as_u64().unwrap_or(25).clamp(1, 100) as usize;
    let page = body["page"].as_u64().unwrap_or(1).max(1) as usize;
    let hits: Vec<IntentHit> = intent_world()
        .into_iter()
        .filter(|h| (min..=max).contains(&u64::from(h.employees)))
        .collect();
    let data: Vec<Value> = hits
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|h| {
            let day = leadgen_core::ads::shift_date(&today, -h.days_ago).unwrap_or_default();
            json!({
                "company": {"name": h.domain.trim_end_matches(".com"), "domain": h.domain,
                    "industry": "software", "employee_count": h.employees,
                    "city": "New York", "state": "NY", "country": "US"},
                "topic": topic,
                "intent_score": h.score,
                "intent_strength": match h.score { 70.. => "high", 40.. => "medium", _ => "low" },
                "signal_type": "surge",
                "detected_at": format!("{day}T00:00:00Z"),
            })
        })
        .collect();
    Json(json!({
        "data": data,
        "pagination": {"page": page, "per_page": limit, "total": hits.len(),
            "has_more": page * limit < hits.len()},
        "credits_remaining": 1000,
    }))
    .into_response()
}
