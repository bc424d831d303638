//! A loopback fake of the Ads Transparency Center's `SearchCreatives` RPC
//! (see [`crate::google_ads_transparency`] for the shape): a form body
//! with `f.req`, answers `{"1": creatives, "2": next token}`, `{}` for a
//! request without a search, 429 with `Retry-After`, 5xx and slow answers
//! on demand ([`FakeLibraryControl`], shared with the LinkedIn fake).
//!
//! Its world is the Meta fake's ([`crate::fake::meta_world`]): the same
//! twenty advertisers with `k + 1` ads each, rendered as creatives, so the
//! three ad libraries find the same companies.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::{Value, json};

use crate::fake::{meta_world, serve_on_loopback};

/// What an ad-library fake is told to do, and what it saw.
#[derive(Debug, Default)]
pub struct FakeLibraryControl {
    /// The next this many requests get 429 with `Retry-After: retry_after_s`.
    pub fail_429: u32,
    pub retry_after_s: u64,
    /// The next this many requests get 503.
    pub fail_5xx: u32,
    /// Wait before answering.
    pub latency: Duration,
    /// Every request answers with the login wall (LinkedIn).
    pub login_wall: bool,
    /// The day the ads' dates are relative to (`YYYY-MM-DD`); today when unset.
    pub today: Option<String>,
    /// Requests answered with results.
    pub requests: u64,
}

impl FakeLibraryControl {
    pub(crate) fn today(&self) -> String {
        self.today.clone().unwrap_or_else(|| {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            leadgen_core::ads::date_of_ms(ms)
        })
    }
}

/// Latency, then an injected 429 or 503. `None` lets the request on.
pub(crate) async fn library_gate(state: &Mutex<FakeLibraryControl>) -> Option<Response> {
    let (latency, verdict) = {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        let verdict = if c.fail_429 > 0 {
            c.fail_429 -= 1;
            Some((StatusCode::TOO_MANY_REQUESTS, Some(c.retry_after_s)))
        } else if c.fail_5xx > 0 {
            c.fail_5xx -= 1;
            Some((StatusCode::SERVICE_UNAVAILABLE, None))
        } else {
            None
        };
        (c.latency, verdict)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (status, retry_after) = verdict?;
    let mut resp = (status, "Too many requests, or the service is down.").into_response();
    if let Some(s) = retry_after {
        resp.headers_mut().insert("retry-after", s.into());
    }
    Some(resp)
}

/// A running ad-library fake; stops when dropped.
pub struct FakeLibrary {
    pub addr: SocketAddr,
    pub control: Arc<Mutex<FakeLibraryControl>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeLibrary {
    /// Serves `route` (given the shared control) on loopback.
    pub(crate) fn start(
        name: &str,
        route: impl FnOnce(Arc<Mutex<FakeLibraryControl>>) -> Router,
    ) -> FakeLibrary {
        let control = Arc::new(Mutex::new(FakeLibraryControl::default()));
        let (addr, stop) = serve_on_loopback(name, route(control.clone()));
        FakeLibrary {
            addr,
            control,
            _stop: stop,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control(&self) -> std::sync::MutexGuard<'_, FakeLibraryControl> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The Transparency Center fake.
pub struct FakeTransparency;

impl FakeTransparency {
    pub fn spawn() -> FakeLibrary {
        FakeLibrary::start("fake-transparency", |control| {
            Router::new()
                .route(
                    crate::google_ads_transparency::SEARCH_PATH,
                    post(search_creatives),
                )
                .with_state(control)
        })
    }
}

/// Unix seconds of a `YYYY-MM-DD` date.
fn secs_of(date: &str) -> i64 {
    use leadgen_core::ads::shift_date;
    // Count days back to the epoch by bisection on shift_date's calendar.
    let (mut lo, mut hi) = (0i64, 200_000i64);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if shift_date("1970-01-01", mid).is_some_and(|d| d.as_str() < date) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo * 86_400
}

async fn search_creatives(
    State(state): State<Arc<Mutex<FakeLibraryControl>>>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    if let Some(r) = library_gate(&state).await {
        return r;
    }
    let req: Value = form
        .get("f.req")
        .and_then(|f| serde_json::from_str(f).ok())
        .unwrap_or(Value::Null);
    let text = req["3"]["12"]["1"].as_str().unwrap_or("").trim().to_owned();
    let ids: Vec<String> = req["3"]["13"]["1"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if text.is_empty() && ids.is_empty() {
        // What the real endpoint does with a request it cannot read.
        return Json(json!({})).into_response();
    }
    let today = {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        c.requests += 1;
        c.today()
    };
    let size = req["2"].as_u64().unwrap_or(40).clamp(1, 100) as usize;
    let offset: usize = req["4"]
        .as_str()
        .and_then(|t| t.strip_prefix('p'))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let search = if text.is_empty() {
        "ads"
    } else {
        text.as_str()
    };
    let ads: Vec<_> = meta_world(search, &today)
        .into_iter()
        .filter(|a| ids.is_empty() || ids.contains(&format!("AR{}", a.advertiser_id)))
        .collect();
    let creatives: Vec<Value> = ads
        .iter()
        .enumerate()
        .skip(offset)
        .take(size)
        .map(|(i, a)| {
            let last = a.stopped.clone().unwrap_or_else(|| today.clone());
            let mut c = json!({
                "1": format!("AR{}", a.advertiser_id),
                "2": format!("CR{}", a.id),
                "6": {"1": secs_of(a.started.as_deref().unwrap_or(&today)).to_string(), "2": 0},
                "7": {"1": secs_of(&last).to_string(), "2": 0},
                "12": a.advertiser_name,
            });
            if i % 4 == 3 {
                c["4"] = json!(1);
                c["3"] = json!({"1": {"4": format!("https://tpc.googlesyndication.com/archive/{i}.png")}});
            } else {
                c["4"] = json!(2);
                let t = a.creative_text.clone().unwrap_or_default();
                c["3"] = json!({"3": {"2": format!("<div class=\"text-ad\"><b>{t}</b></div>")}});
            }
            if let Some(l) = &a.link {
                c["14"] = json!(l.to_ascii_lowercase());
            }
            c
        })
        .collect();
    let mut out = json!({"1": creatives});
    if offset + size < ads.len() {
        out["2"] = json!(format!("p{}", offset + size));
    }
    // The real endpoint guards its JSON against inclusion as a script.
    format!(")]}}'\n{out}").into_response()
}
