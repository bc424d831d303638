//! A loopback fake of Hunter.io v2 (`/v2/domain-search`,
//! `/v2/email-finder`, `/v2/email-verifier`, `api_key` query parameter,
//! `{data, meta}` / `{errors: [...]}` bodies), with Hunter's own statuses:
//! 401 bad key, 403 rate limit, 429 plan usage spent, 202 verification
//! still running, plus 500 and slow answers.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::fake::serve_on_loopback;

pub const FAKE_KEY: &str = "fake-hunter-key";

/// A person the fake knows at a domain.
#[derive(Debug, Clone)]
pub struct HunterPerson {
    pub first: String,
    pub last: String,
    pub email: String,
    pub position: String,
    pub confidence: u8,
}

#[derive(Debug, Default)]
pub struct HunterControl {
    pub fail_403: u32,
    pub retry_after_s: Option<u64>,
    pub fail_500: u32,
    pub usage_spent: bool,
    /// The next this many verifier calls answer 202.
    pub verifying: u32,
    pub latency: Duration,
    /// Domain → people.
    pub people: BTreeMap<String, Vec<HunterPerson>>,
    pub accept_all: Vec<String>,
    pub requests: u64,
}

pub struct FakeHunter {
    pub addr: SocketAddr,
    pub control: Arc<Mutex<HunterControl>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

type Ctl = Arc<Mutex<HunterControl>>;

impl FakeHunter {
    pub fn spawn() -> FakeHunter {
        let control: Ctl = Arc::new(Mutex::new(HunterControl::default()));
        let app = Router::new()
            .route("/v2/domain-search", get(domain_search))
            .route("/v2/email-finder", get(email_finder))
            .route("/v2/email-verifier", get(email_verifier))
            .with_state(control.clone());
        let (addr, stop) = serve_on_loopback("fake-hunter", app);
        FakeHunter {
            addr,
            control,
            _stop: stop,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control(&self) -> std::sync::MutexGuard<'_, HunterControl> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn errors(status: StatusCode, id: &str, details: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"id": id, "code": status.as_u16(), "details": details}]})),
    )
        .into_response()
}

/// Key check and injected failures; `None` lets the request on.
async fn gate(ctl: &Ctl, q: &HashMap<String, String>) -> Option<Response> {
    let (latency, verdict) = {
        let mut c = ctl.lock().unwrap_or_else(|p| p.into_inner());
        c.requests += 1;
        let v = if q.get("api_key").map(String::as_str) != Some(FAKE_KEY) {
            Some(errors(
                StatusCode::UNAUTHORIZED,
                "authentication_failed",
                "No user found for the API key supplied",
            ))
        } else if c.usage_spent {
            Some(errors(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "You have reached your monthly quota",
            ))
        } else if c.fail_403 > 0 {
            c.fail_403 -= 1;
            let mut r = errors(
                StatusCode::FORBIDDEN,
                "restricted_account",
                "Rate limit reached",
            );
            if let Some(s) = c.retry_after_s {
                r.headers_mut().insert("retry-after", s.into());
            }
            Some(r)
        } else if c.fail_500 > 0 {
            c.fail_500 -= 1;
            Some(errors(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Something went wrong",
            ))
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

fn people(ctl: &Ctl, domain: &str) -> (Vec<HunterPerson>, bool) {
    let c = ctl.lock().unwrap_or_else(|p| p.into_inner());
    (
        c.people.get(domain).cloned().unwrap_or_default(),
        c.accept_all.iter().any(|d| d == domain),
    )
}

async fn domain_search(
    State(ctl): State<Ctl>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&ctl, &q).await {
        return r;
    }
    let Some(domain) = q.get("domain") else {
        return errors(
            StatusCode::BAD_REQUEST,
            "wrong_params",
            "You are missing the domain or company parameter",
        );
    };
    let (found, accept_all) = people(&ctl, domain);
    let emails: Vec<Value> = found
        .iter()
        .map(|p| {
            json!({"value": p.email, "type": "personal", "confidence": p.confidence,
            "first_name": p.first, "last_name": p.last, "position": p.position,
            "linkedin": null, "verification": {"status": "valid"}, "sources": []})
        })
        .collect();
    Json(
        json!({"data": {"domain": domain, "accept_all": accept_all, "pattern": "{first}.{last}",
        "organization": null, "emails": emails},
        "meta": {"results": emails.len(), "limit": 10, "offset": 0}}),
    )
    .into_response()
}

async fn email_finder(
    State(ctl): State<Ctl>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&ctl, &q).await {
        return r;
    }
    let (Some(domain), Some(first), Some(last)) =
        (q.get("domain"), q.get("first_name"), q.get("last_name"))
    else {
        return errors(
            StatusCode::BAD_REQUEST,
            "wrong_params",
            "domain, first_name and last_name are required",
        );
    };
    let (found, accept_all) = people(&ctl, domain);
    let hit = found
        .iter()
        .find(|p| p.first.eq_ignore_ascii_case(first) && p.last.eq_ignore_ascii_case(last));
    Json(json!({"data": {
        "first_name": first, "last_name": last, "domain": domain,
        "email": hit.map(|p| p.email.clone()), "score": hit.map(|p| p.confidence),
        "position": hit.map(|p| p.position.clone()), "accept_all": accept_all,
        "verification": {"status": if hit.is_some() { "valid" } else { "unknown" }}, "sources": []},
        "meta": {"params": q}}))
    .into_response()
}

async fn email_verifier(
    State(ctl): State<Ctl>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&ctl, &q).await {
        return r;
    }
    let email = q.get("email").cloned().unwrap_or_default();
    let domain = email.rsplit('@').next().unwrap_or("").to_owned();
    let pending = {
        let mut c = ctl.lock().unwrap_or_else(|p| p.into_inner());
        let p = c.verifying > 0;
        c.verifying = c.verifying.saturating_sub(1);
        p
    };
    let (found, accept_all) = people(&ctl, &domain);
    let known = found.iter().any(|p| p.email.eq_ignore_ascii_case(&email));
    let status = if accept_all {
        "accept_all"
    } else if known {
        "valid"
    } else {
        "invalid"
    };
    let code = if pending {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(
            json!({"data": {"status": status, "score": if known { 95 } else { 10 },
        "email": email, "mx_records": true, "smtp_check": known, "accept_all": accept_all,
        "disposable": false, "webmail": false, "block": false}}),
        ),
    )
        .into_response()
}
