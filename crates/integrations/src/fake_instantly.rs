//! A loopback fake of Instantly API v2 (feature `testkit`): campaigns,
//! bulk lead upload and analytics in the documented shapes, Bearer auth,
//! and the workspace rate limit (100 requests/s and 6,000/min) enforced
//! with 429 and `Retry-After`.
//!
//! It remembers every lead it created per campaign, honours
//! `skip_if_in_campaign`, and counts how often each email was created in a
//! campaign, so a test can prove nothing was uploaded twice. Knobs
//! ([`FakeInstantlyControl`]) inject 5xx, 429, slow answers, and a 500
//! *after* the upload took effect (the answer lost on the way back).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// Key the fake accepts.
pub const FAKE_INSTANTLY_KEY: &str = "fake-instantly-key";

#[derive(Debug, Default)]
pub struct FakeInstantlyControl {
    /// The next this many requests get 500 and change nothing.
    pub fail_5xx: u32,
    /// The next this many uploads take effect, then answer 500.
    pub fail_after_upload: u32,
    /// The next this many requests get 429 with `Retry-After: 1`.
    pub fail_429: u32,
    /// Wait before answering.
    pub latency: Duration,
    /// Wait after an upload took effect, before answering it (a window in
    /// which the caller has been served but does not know it yet).
    pub answer_delay: Duration,
    /// Whether to enforce 100/s and 6,000/min.
    pub enforce_rate_limit: bool,
    /// What it saw.
    pub requests: u64,
    pub rate_limited: u64,
    pub uploads: u64,
    /// Campaign id → name.
    pub campaigns: HashMap<String, String>,
    /// Campaign id → email → times created (more than 1 is a duplicate).
    pub created: HashMap<String, HashMap<String, u32>>,
    /// Campaign id → lead ids by email.
    pub lead_ids: HashMap<String, HashMap<String, String>>,
    /// Counters reported by analytics, by campaign id (set by tests).
    pub analytics: HashMap<String, Value>,
    /// Start times of recent requests, for the limit.
    recent: VecDeque<Instant>,
    next_id: u64,
}

impl FakeInstantlyControl {
    /// Emails created more than once in some campaign.
    pub fn duplicates(&self) -> Vec<String> {
        self.created
            .values()
            .flat_map(|m| m.iter().filter(|(_, n)| **n > 1).map(|(e, _)| e.clone()))
            .collect()
    }

    /// Leads created in a campaign.
    pub fn lead_count(&self, campaign: &str) -> usize {
        self.created.get(campaign).map_or(0, HashMap::len)
    }

    /// Admits a request under the limit, or the seconds to wait.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            self.recent.pop_front();
        }
        if self.enforce_rate_limit {
            let last_second = self
                .recent
                .iter()
                .rev()
                .take_while(|t| now.duration_since(**t) < Duration::from_secs(1))
                .count();
            if last_second >= 100 || self.recent.len() >= 6000 {
                return Some(1);
            }
        }
        self.recent.push_back(now);
        None
    }
}

/// A running fake; stops when dropped.
pub struct FakeInstantly {
    pub addr: SocketAddr,
    pub control: Arc<Mutex<FakeInstantlyControl>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

type Shared = Arc<Mutex<FakeInstantlyControl>>;

impl FakeInstantly {
    pub fn spawn() -> FakeInstantly {
        let control: Shared = Arc::new(Mutex::new(FakeInstantlyControl {
            enforce_rate_limit: true,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/api/v2/campaigns", post(create_campaign))
            .route("/api/v2/leads/add", post(add_leads))
            .route("/api/v2/campaigns/analytics", get(analytics))
            .with_state(control.clone());
        let (addr, stop) = crate::fake::serve_on_loopback("fake-instantly", app);
        FakeInstantly {
            addr,
            control,
            _stop: stop,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control(&self) -> std::sync::MutexGuard<'_, FakeInstantlyControl> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or(""),
        "message": message,
    });
    (status, Json(body)).into_response()
}

/// Auth, the limit and injected failures, common to every route.
async fn gate(state: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let latency = {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        c.requests += 1;
        c.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {FAKE_INSTANTLY_KEY}") {
        return Err(error(StatusCode::UNAUTHORIZED, "Invalid API key"));
    }
    let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
    if c.fail_429 > 0 || c.admit(Instant::now()).is_some() {
        c.fail_429 = c.fail_429.saturating_sub(1);
        c.rate_limited += 1;
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        return Err(r);
    }
    if c.fail_5xx > 0 {
        c.fail_5xx -= 1;
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error"));
    }
    Ok(())
}

async fn create_campaign(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    if let Err(r) = gate(&state, &headers).await {
        return r;
    }
    let Some(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "body must be JSON");
    };
    let name = body.get("name").and_then(Value::as_str);
    let schedules = body
        .pointer("/campaign_schedule/schedules")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty());
    let (Some(name), Some(schedules)) = (name, schedules) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body must have name and campaign_schedule.schedules",
        );
    };
    let valid = schedules.iter().all(|s| {
        s.pointer("/timing/from").and_then(Value::as_str).is_some()
            && s.pointer("/timing/to").and_then(Value::as_str).is_some()
            && s.get("days").is_some_and(Value::is_object)
            && s.get("timezone").and_then(Value::as_str) != Some("America/New_York")
            && s.get("timezone").and_then(Value::as_str).is_some()
    });
    if !valid {
        return error(StatusCode::BAD_REQUEST, "invalid campaign_schedule");
    }
    let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
    c.next_id += 1;
    let id = format!("cmp-{:04}", c.next_id);
    c.campaigns.insert(id.clone(), name.to_owned());
    Json(json!({ "id": id, "name": name, "status": 0 })).into_response()
}

async fn add_leads(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    if let Err(r) = gate(&state, &headers).await {
        return r;
    }
    let Some(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "body must be JSON");
    };
    let campaign = body.get("campaign_id").and_then(Value::as_str);
    if body.get("list_id").is_some() == campaign.is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "exactly one of campaign_id or list_id",
        );
    }
    let Some(campaign) = campaign else {
        return error(StatusCode::BAD_REQUEST, "this fake only adds to campaigns");
    };
    let Some(leads) = body.get("leads").and_then(Value::as_array) else {
        return error(StatusCode::BAD_REQUEST, "leads must be an array");
    };
    if leads.len() > 1000 {
        return error(StatusCode::BAD_REQUEST, "at most 1000 leads");
    }
    let skip = body.get("skip_if_in_campaign").and_then(Value::as_bool) == Some(true);
    let (answer, delay) = match upload(&state, campaign, leads, skip) {
        Ok(x) => x,
        Err((status, message)) => return error(status, message),
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Json(answer).into_response()
}

/// Applies an upload; the answer and how long to hold it back.
fn upload(
    state: &Shared,
    campaign: &str,
    leads: &[Value],
    skip: bool,
) -> Result<(Value, Duration), (StatusCode, &'static str)> {
    let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
    if !c.campaigns.contains_key(campaign) {
        return Err((StatusCode::NOT_FOUND, "campaign not found"));
    }
    c.uploads += 1;
    let (mut created, mut skipped, mut invalid) = (Vec::new(), 0u64, 0u64);
    for (index, lead) in leads.iter().enumerate() {
        let Some(email) = lead
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| e.contains('@'))
        else {
            invalid += 1;
            continue;
        };
        let email = email.to_lowercase();
        let known = c
            .lead_ids
            .get(campaign)
            .is_some_and(|m| m.contains_key(&email));
        if skip && known {
            skipped += 1;
            continue;
        }
        c.next_id += 1;
        let id = format!("lead-{:06}", c.next_id);
        *c.created
            .entry(campaign.to_owned())
            .or_default()
            .entry(email.clone())
            .or_default() += 1;
        c.lead_ids
            .entry(campaign.to_owned())
            .or_default()
            .insert(email.clone(), id.clone());
        created.push(json!({ "index": index, "id": id, "email": email }));
    }
    if c.fail_after_upload > 0 {
        c.fail_after_upload -= 1;
        return Err((StatusCode::INTERNAL_SERVER_ERROR, "Internal error"));
    }
    let answer = json!({
        "status": "success",
        "total_sent": leads.len(),
        "leads_uploaded": created.len(),
        "in_blocklist": 0,
        "duplicated_leads": 0,
        "skipped_count": skipped,
        "invalid_email_count": invalid,
        "created_leads": created,
    });
    Ok((answer, c.answer_delay))
}

async fn analytics(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&state, &headers).await {
        return r;
    }
    let c = state.lock().unwrap_or_else(|p| p.into_inner());
    let ids: Vec<String> = match q.get("id") {
        Some(id) => vec![id.clone()],
        None => c.campaigns.keys().cloned().collect(),
    };
    let out: Vec<Value> = ids
        .iter()
        .filter_map(|id| {
            let name = c.campaigns.get(id)?;
            let mut v = json!({
                "campaign_id": id,
                "campaign_name": name,
                "campaign_status": 1,
                "leads_count": c.lead_count(id),
            });
            if let (Some(obj), Some(Value::Object(extra))) =
                (v.as_object_mut(), c.analytics.get(id))
            {
                obj.extend(extra.clone());
            }
            Some(v)
        })
        .collect();
    Json(Value::Array(out)).into_response()
}
