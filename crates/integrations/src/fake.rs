//! A loopback fake of the maps vendors, speaking their documented shapes:
//! Google Places Text Search (`POST /v1/places:searchText`, key and field
//! mask headers, `pageSize` ≤ 20, page tokens that must come back with the
//! same parameters) and SerpApi's Google Maps engine (`GET /search.json`,
//! `start` offsets, `{"error": …}` bodies).
//!
//! Both serve one deterministic world: businesses sit on a grid of cells
//! about 2 km wide, several per cell, and a search returns those of the
//! cells around its point, nearest first. Neighbouring ZIP codes therefore
//! see many of the same businesses, under the same place ids on both
//! vendors — what a real sweep has to deduplicate. Some businesses lack a
//! phone or a website; a few share a chain's website.
//!
//! Knobs ([`FakeControl`]) make it answer 429 with `Retry-After`, run out of
//! quota, return nothing for a query, or answer slowly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// Key both fakes accept.
pub const FAKE_KEY: &str = "fake-key";
/// Cell size of the fake world, in degrees.
const CELL: f64 = 0.02;
/// Businesses per cell.
const PER_CELL: u32 = 4;
/// Results a query can page through (the legacy API's documented cap).
const MAX_RESULTS: usize = 60;

/// What the fake is told to do, and what it saw.
#[derive(Debug, Default)]
pub struct FakeControl {
    /// The next this many requests get 429 with `Retry-After: retry_after_s`.
    pub fail_429: u32,
    pub retry_after_s: u64,
    /// Every request gets the vendor's out-of-quota answer.
    pub quota_exhausted: bool,
    /// Queries containing this text find nothing.
    pub empty_query: Option<String>,
    /// Wait before answering.
    pub latency: Duration,
    /// Requests answered, by vendor.
    pub places_requests: u64,
    pub serpapi_requests: u64,
    pub meta_requests: u64,
    /// The day the Meta fake's ad dates are relative to (`YYYY-MM-DD`);
    /// today when unset.
    pub meta_today: Option<String>,
    /// Every field mask sent to Places.
    pub masks: Vec<String>,
}

/// A running fake; stops when dropped.
pub struct FakeMaps {
    pub addr: SocketAddr,
    pub control: Arc<Mutex<FakeControl>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeMaps {
    /// Starts the fake on 127.0.0.1 in a thread of its own, so it serves
    /// synchronous tests and async ones alike.
    pub fn spawn() -> FakeMaps {
        let control = Arc::new(Mutex::new(FakeControl::default()));
        let app = Router::new()
            .route("/v1/places:searchText", post(places))
            .route("/search.json", get(serpapi))
            .route("/{version}/ads_archive", get(meta_ads))
            .with_state(control.clone());
        let (addr, stop) = serve_on_loopback("fake-maps", app);
        FakeMaps {
            addr,
            control,
            _stop: stop,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control(&self) -> std::sync::MutexGuard<'_, FakeControl> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Serves `app` on 127.0.0.1 in a thread of its own, so a fake serves
/// synchronous tests and async ones alike; it stops when the returned
/// sender is dropped.
pub(crate) fn serve_on_loopback(
    name: &str,
    app: Router,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // Two threads: a fake whose handler waits (latency, rate
            // limits) still answers other requests.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("fake runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("binding the fake");
                let _ = addr_tx.send(listener.local_addr().expect("fake address"));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        })
        .expect("spawning the fake");
    let addr = addr_rx.recv().expect("the fake started");
    (addr, stop_tx)
}

/// One business of the fake world.
#[derive(Debug, Clone)]
pub struct FakeBusiness {
    pub place_id: String,
    pub name: String,
    pub street: String,
    pub postal_code: String,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub rating: f32,
    pub reviews: u32,
    pub lat: f64,
    pub lon: f64,
}

fn business(query: &str, cx: i64, cy: i64, i: u32) -> FakeBusiness {
    let seed = query.bytes().fold(0u64, |a, b| mix(a ^ u64::from(b)));
    let h = mix(mix(mix(cx as u64) ^ cy as u64) ^ u64::from(i) ^ seed);
    let lat = (cy as f64 + 0.1 + 0.2 * f64::from(i)) * CELL;
    let lon = (cx as f64 + 0.5) * CELL;
    const SURNAMES: [&str; 12] = [
        "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jones",
        "Kowalski", "Lopez",
    ];
    let noun = query.split_whitespace().last().unwrap_or("shop");
    let chain = h.is_multiple_of(17);
    FakeBusiness {
        place_id: format!("ChIJ{cx}x{cy}x{i}"),
        name: if chain {
            format!("Bright Care {noun}s")
        } else {
            // The index picks the first word, so a cell's businesses (one
            // postal code) never share a name.
            let first = ["Smile", "Family", "Downtown", "Park"][i as usize % 4];
            format!("{first} {} {noun}", SURNAMES[(h % 12) as usize])
        },
        street: format!("{} Main St", 1 + h % 900),
        postal_code: format!(
            "{:05}",
            (cx.unsigned_abs() * 7 + cy.unsigned_abs() * 13) % 100_000
        ),
        phone: (!h.is_multiple_of(5))
            .then(|| format!("(212) {:03}-{:04}", 200 + h % 700, h % 10_000)),
        website: if chain {
            Some("https://www.brightcare-fake.com/locations".into())
        } else {
            (!h.is_multiple_of(4))
                .then(|| format!("https://www.biz{}x{cy}x{i}-fake.com/", cx.unsigned_abs()))
        },
        rating: 3.0 + (h % 20) as f32 / 10.0,
        reviews: (h % 500) as u32,
        lat,
        lon,
    }
}

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The businesses a search around (lat, lon) finds, nearest first.
pub fn world_search(query: &str, lat: f64, lon: f64) -> Vec<FakeBusiness> {
    let (cx, cy) = ((lon / CELL).floor() as i64, (lat / CELL).floor() as i64);
    let mut found: Vec<FakeBusiness> = (-1..=1)
        .flat_map(|dx| (-1..=1).map(move |dy| (dx, dy)))
        .flat_map(|(dx, dy)| (0..PER_CELL).map(move |i| business(query, cx + dx, cy + dy, i)))
        .collect();
    let d = |b: &FakeBusiness| (b.lat - lat).powi(2) + (b.lon - lon).powi(2);
    found.sort_by(|a, b| {
        d(a).total_cmp(&d(b))
            .then_with(|| a.place_id.cmp(&b.place_id))
    });
    found.truncate(MAX_RESULTS);
    found
}

/// Common gate: latency, quota, injected 429s. `None` lets the request on.
async fn gate(state: &Mutex<FakeControl>, vendor: &str) -> Option<Response> {
    let (latency, verdict) = {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        let verdict = if c.quota_exhausted {
            Some((StatusCode::TOO_MANY_REQUESTS, None))
        } else if c.fail_429 > 0 {
            c.fail_429 -= 1;
            Some((StatusCode::TOO_MANY_REQUESTS, Some(c.retry_after_s)))
        } else {
            None
        };
        (c.latency, verdict)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (status, retry_after) = verdict?;
    let body = match (vendor, retry_after) {
        ("places", _) => json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
            "message": "Quota exceeded for quota metric 'Text Search requests' and limit 'per minute'."}}),
        (_, Some(_)) => json!({"error": "Your searches for the hour are used up."}),
        _ => json!({"error": "Your account has run out of searches."}),
    };
    let mut resp = (status, Json(body)).into_response();
    if let Some(s) = retry_after {
        resp.headers_mut().insert("retry-after", s.into());
    }
    Some(resp)
}

fn places_error(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": status.as_u16(), "status": reason, "message": message}})),
    )
        .into_response()
}

async fn places(
    State(state): State<Arc<Mutex<FakeControl>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = gate(&state, "places").await {
        return r;
    }
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if header("x-goog-api-key").as_deref() != Some(FAKE_KEY) {
        return places_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "API key not valid.",
        );
    }
    let Some(mask) = header("x-goog-fieldmask") else {
        return places_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "FieldMask is a required parameter.",
        );
    };
    let Some(query) = body["textQuery"].as_str().filter(|q| !q.is_empty()) else {
        return places_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "textQuery is required.",
        );
    };
    let center = &body["locationBias"]["circle"]["center"];
    let (Some(lat), Some(lon)) = (center["latitude"].as_f64(), center["longitude"].as_f64()) else {
        return places_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "locationBias is required here.",
        );
    };
    let size = body["pageSize"].as_u64().unwrap_or(20).clamp(1, 20) as usize;
    let mut params = body.clone();
    let token = params.as_object_mut().and_then(|o| o.remove("pageToken"));
    let params_key = mix(params
        .to_string()
        .bytes()
        .fold(0u64, |a, b| mix(a ^ u64::from(b))));
    let offset = match token.as_ref().and_then(Value::as_str) {
        None => 0,
        Some(t) => match t
            .split_once('.')
            .and_then(|(o, k)| Some((o.parse::<usize>().ok()?, k.parse::<u64>().ok()?)))
        {
            Some((o, k)) if k == params_key => o,
            _ => {
                return places_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_ARGUMENT",
                    "Page token does not match the request parameters.",
                );
            }
        },
    };
    {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        c.places_requests += 1;
        c.masks.push(mask.clone());
        if c.empty_query.as_deref().is_some_and(|e| query.contains(e)) {
            return Json(json!({})).into_response();
        }
    }
    let all = world_search(query, lat, lon);
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(size)
        .map(|b| places_json(b, &mask))
        .collect();
    let mut out = json!({"places": page});
    if offset + size < all.len() {
        out["nextPageToken"] = json!(format!("{}.{params_key}", offset + size));
    }
    Json(out).into_response()
}

/// A place with only the fields the mask asked for (as the API does).
fn places_json(b: &FakeBusiness, mask: &str) -> Value {
    let wants = |f: &str| {
        mask.split(',')
            .any(|m| m.trim() == format!("places.{f}") || m.trim() == "*")
    };
    let mut p = serde_json::Map::new();
    let mut put = |f: &str, v: Value| {
        if wants(f) && !v.is_null() {
            p.insert(f.to_owned(), v);
        }
    };
    put("id", json!(b.place_id));
    put("displayName", json!({"text": b.name, "languageCode": "en"}));
    put(
        "formattedAddress",
        json!(format!("{}, New York, NY {}, USA", b.street, b.postal_code)),
    );
    put(
        "addressComponents",
        json!([
            {"longText": b.street, "shortText": b.street, "types": ["route"]},
            {"longText": "New York", "shortText": "New York", "types": ["locality", "political"]},
            {"longText": "New York", "shortText": "NY", "types": ["administrative_area_level_1", "political"]},
            {"longText": b.postal_code, "shortText": b.postal_code, "types": ["postal_code"]},
            {"longText": "United States", "shortText": "US", "types": ["country", "political"]}
        ]),
    );
    put("nationalPhoneNumber", json!(b.phone));
    put("websiteUri", json!(b.website));
    put("rating", json!(b.rating));
    put("userRatingCount", json!(b.reviews));
    put("types", json!(["dentist", "health", "point_of_interest"]));
    put("location", json!({"latitude": b.lat, "longitude": b.lon}));
    put(
        "regularOpeningHours",
        json!({"weekdayDescriptions": ["Monday: 9:00 AM – 5:00 PM"]}),
    );
    put("businessStatus", json!("OPERATIONAL"));
    Value::Object(p)
}

async fn serpapi(
    State(state): State<Arc<Mutex<FakeControl>>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&state, "serpapi").await {
        return r;
    }
    let err = |status: StatusCode, msg: &str| (status, Json(json!({"error": msg}))).into_response();
    if q.get("api_key").map(String::as_str) != Some(FAKE_KEY) {
        return err(
            StatusCode::UNAUTHORIZED,
            "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key",
        );
    }
    if q.get("engine").map(String::as_str) != Some("google_maps") {
        return err(StatusCode::BAD_REQUEST, "Unsupported `engine` parameter.");
    }
    let Some(query) = q.get("q").filter(|s| !s.is_empty()) else {
        return err(StatusCode::BAD_REQUEST, "Missing query `q` parameter.");
    };
    let ll = q.get("ll").and_then(|ll| {
        let mut parts = ll.strip_prefix('@')?.split(',');
        Some((
            parts.next()?.parse::<f64>().ok()?,
            parts.next()?.parse::<f64>().ok()?,
        ))
    });
    let Some((lat, lon)) = ll else {
        return err(StatusCode::BAD_REQUEST, "Invalid `ll` parameter.");
    };
    let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        c.serpapi_requests += 1;
        if c.empty_query.as_deref().is_some_and(|e| query.contains(e)) {
            return Json(json!({"search_metadata": {"status": "Success"},
                "error": "Google hasn't returned any results for this query."}))
            .into_response();
        }
    }
    let all = world_search(query, lat, lon);
    let results: Vec<Value> = all
        .iter()
        .enumerate()
        .skip(start)
        .take(20)
        .map(|(i, b)| {
            let mut r = json!({
                "position": i + 1, "title": b.name, "place_id": b.place_id,
                "rating": b.rating, "reviews": b.reviews, "type": "Dentist",
                "types": ["Dentist"], "address": format!("{}, New York, NY {}", b.street, b.postal_code),
                "gps_coordinates": {"latitude": b.lat, "longitude": b.lon},
                "hours": "Open ⋅ Closes 5 PM",
            });
            if let Some(p) = &b.phone {
                r["phone"] = json!(p);
            }
            if let Some(w) = &b.website {
                r["website"] = json!(w);
            }
            r
        })
        .collect();
    let mut out = json!({"search_metadata": {"status": "Success"}, "local_results": results});
    if start + 20 < all.len() {
        out["serpapi_pagination"] = json!({"next": format!("/search.json?start={}", start + 20)});
    }
    Json(out).into_response()
}

/// Key the Meta fake accepts as `access_token`.
pub const FAKE_META_TOKEN: &str = "fake-meta-token";

/// The Meta fake's ads for a search: twenty advertisers. Advertiser `k`
/// has `k + 1` ads, all started within the last 60 days, every third one
/// stopped; advertisers 0, 5, 10 and 15 show no link caption (no site).
pub fn meta_world(search: &str, today: &str) -> Vec<leadgen_core::ads::Ad> {
    use leadgen_core::ads::{Ad, shift_date};
    let noun = search.split_whitespace().last().unwrap_or("shop");
    let mut out = Vec::new();
    for k in 0..20u32 {
        for j in 0..=k {
            let started = shift_date(today, -i64::from(5 + (j * 7 + k) % 55)).unwrap_or_default();
            let stopped = (j % 3 == 2).then(|| shift_date(today, -1).unwrap_or_default());
            out.push(Ad {
                id: format!("{k}{j:03}"),
                advertiser_id: format!("10{k:04}"),
                advertiser_name: Some(format!("Advertiser {k} {noun}")),
                link: (k % 5 != 0).then(|| format!("ADVERTISER{k}-FAKE.COM")),
                creative_text: Some(format!("{search}: offer {j} from advertiser {k}")),
                started: Some(started),
                stopped,
            });
        }
    }
    out
}

async fn meta_ads(
    State(state): State<Arc<Mutex<FakeControl>>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let graph_err = |status: StatusCode, code: i64, msg: &str| {
        (
            status,
            Json(json!({"error": {"message": msg, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}})),
        )
            .into_response()
    };
    let (latency, throttled, today) = {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        let throttled = c.quota_exhausted || c.fail_429 > 0;
        if c.fail_429 > 0 {
            c.fail_429 -= 1;
        }
        let today = c.meta_today.clone().unwrap_or_else(|| {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            leadgen_core::ads::date_of_ms(ms)
        });
        (c.latency, throttled, today)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if throttled {
        return graph_err(
            StatusCode::BAD_REQUEST,
            613,
            "Calls to this api have exceeded the rate limit.",
        );
    }
    if q.get("access_token").map(String::as_str) != Some(FAKE_META_TOKEN) {
        return graph_err(
            StatusCode::BAD_REQUEST,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        );
    }
    let countries: Option<Vec<String>> = q
        .get("ad_reached_countries")
        .and_then(|c| serde_json::from_str(c).ok());
    if countries.is_none_or(|c| c.is_empty()) {
        return graph_err(
            StatusCode::BAD_REQUEST,
            100,
            "(#100) The parameter ad_reached_countries is required",
        );
    }
    let Some(search) = q.get("search_terms").filter(|s| !s.is_empty()) else {
        return graph_err(
            StatusCode::BAD_REQUEST,
            100,
            "(#100) search_terms or search_page_ids is required",
        );
    };
    state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .meta_requests += 1;
    let active_only = q.get("ad_active_status").is_some_and(|s| s == "ACTIVE");
    let since = q.get("ad_delivery_date_min").cloned();
    let ads: Vec<leadgen_core::ads::Ad> = meta_world(search, &today)
        .into_iter()
        .filter(|a| !active_only || a.stopped.is_none())
        .filter(|a| {
            since
                .as_deref()
                .is_none_or(|d| a.stopped.as_deref().is_none_or(|s| s >= d))
        })
        .collect();
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25)
        .clamp(1, 1000);
    let offset: usize = q
        .get("after")
        .and_then(|a| a.strip_prefix("c"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let data: Vec<Value> = ads
        .iter()
        .skip(offset)
        .take(limit)
        .map(|a| {
            let mut v = json!({
                "id": a.id, "page_id": a.advertiser_id, "page_name": a.advertiser_name,
                "ad_creative_bodies": [a.creative_text],
                "ad_delivery_start_time": a.started,
                "publisher_platforms": ["facebook", "instagram"],
            });
            if let Some(l) = &a.link {
                v["ad_creative_link_captions"] = json!([l]);
            }
            if let Some(s) = &a.stopped {
                v["ad_delivery_stop_time"] = json!(s);
            }
            v
        })
        .collect();
    let mut out = json!({"data": data});
    if offset + limit < ads.len() {
        let after = format!("c{}", offset + limit);
        out["paging"] = json!({"cursors": {"before": "c0", "after": after},
            "next": format!("https://graph.facebook.com/v21.0/ads_archive?after={after}")});
    }
    Json(out).into_response()
}
