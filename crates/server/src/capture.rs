//! Inbound lead capture: `POST /api/v1/capture` takes a web form or a JSON
//! object from a landing page and feeds it to the same import pipeline as a
//! CSV upload (source `capture`, tag `inbound`).
//!
//! The page holds a *capture key*: an API key with the `capture` role, which
//! may post here and nowhere else (the authentication middleware refuses it
//! on every other route), so publishing it in HTML exposes no data. Against
//! spam: a honeypot field that people leave empty (a filled one is answered
//! like a success and dropped), and token buckets per key and per client
//! address. CORS answers browsers from the configured origins (any origin
//! when none are configured; the endpoint uses no cookies).

use std::net::SocketAddr;

use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use leadgen_store::Role;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Principal, Via};
use crate::credentials::hash_token;
use crate::error::{ApiError, ApiResult};
use crate::imports::{ImportRequest, run_import};
use crate::state::AppState;

/// Header carrying the capture key (or the form field of the same meaning).
pub const KEY_HEADER: &str = "x-capture-key";
pub const KEY_FIELD: &str = "capture_key";
/// Form field naming where a browser goes after a form post.
pub const REDIRECT_FIELD: &str = "_redirect";
/// Largest capture body: a form, not a file.
const BODY_LIMIT: usize = 64 * 1024;
const MAX_FIELDS: usize = 60;
const MAX_VALUE_CHARS: usize = 5_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(capture))
}

/// Answers a browser's CORS preflight for the capture endpoint.
pub async fn preflight(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    if allow_origin(&st, &headers, &mut res).is_err() {
        return ApiError::forbidden("this origin may not post leads here").into_response();
    }
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, x-capture-key"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    res
}

/// Capture one inbound lead.
///
/// Send the fields of a form as `application/x-www-form-urlencoded` or a
/// JSON object of strings and numbers. Columns are mapped like a CSV header
/// (`email`, `First Name`, `phone`, `company`, …); unknown ones are kept as
/// custom fields. The capture key goes in `X-Capture-Key` or the
/// `capture_key` field; `_redirect` sends a form post on with a 303.
#[utoipa::path(post, path = "/api/v1/capture", tag = "capture", security(()),
    request_body(content = Object, description = "The form's fields",
        content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Accepted", body = Object),
        (status = 303, description = "Accepted; redirected to `_redirect`"),
        (status = 401, description = "Missing or unknown capture key", body = crate::error::ErrorBody),
        (status = 403, description = "Origin not allowed, or a key without the capture right", body = crate::error::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::error::ErrorBody),
        (status = 422, description = "No usable lead in the fields", body = crate::error::ErrorBody),
        (status = 429, description = "Too many captures from this key or address", body = crate::error::ErrorBody),
    ))]
pub async fn capture(State(st): State<AppState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let mut res = match accept(&st, req).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    };
    // Browsers read errors too only when the origin is allowed.
    let _ = allow_origin(&st, &headers, &mut res);
    res
}

async fn accept(st: &AppState, req: Request) -> ApiResult<Response> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let headers = req.headers().clone();
    if headers
        .get(header::ORIGIN)
        .is_some_and(|origin| !origin_allowed(st, origin))
    {
        return Err(ApiError::forbidden("this origin may not post leads here"));
    }
    if let Some(ip) = peer {
        st.inner
            .capture_ip_limiter
            .take(ip_bucket(ip))
            .map_err(ApiError::rate_limited)?;
    }
    let body = to_bytes(req.into_body(), BODY_LIMIT).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "a capture body is at most 64 KiB",
        )
    })?;
    let fields = parse_fields(&headers, &body)?;
    let key = headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| field_value(&fields, KEY_FIELD).map(str::to_owned))
        .ok_or_else(ApiError::unauthorized)?;
    let key_hash = hash_token(key.trim());
    let found = st
        .blocking(move |s| Ok(s.api_key_by_hash(&key_hash)?))
        .await?;
    let Some(k) = found.filter(|k| k.revoked_at.is_none()) else {
        return Err(ApiError::unauthorized());
    };
    if k.role != Role::Capture && k.role < Role::Member {
        return Err(ApiError::forbidden(
            "this key may not add leads; create one with the capture role",
        ));
    }
    st.inner
        .capture_limiter
        .take(k.id)
        .map_err(ApiError::rate_limited)?;
    let redirect = field_value(&fields, REDIRECT_FIELD)
        .map(|r| redirect_target(st, r))
        .transpose()?;
    let accepted = move || match &redirect {
        Some(url) => Redirect::to(url).into_response(),
        None => (StatusCode::OK, axum::Json(json!({"accepted": true}))).into_response(),
    };
    let honeypot = &st.opts().capture_honeypot;
    if field_value(&fields, honeypot).is_some_and(|v| !v.trim().is_empty()) {
        // Answered like a success so that the bot learns nothing.
        tracing::info!(
            workspace = k.workspace,
            key = k.id,
            "capture dropped: honeypot field filled"
        );
        return Ok(accepted());
    }
    let lead: Vec<&(String, String)> = fields
        .iter()
        .filter(|(name, _)| {
            name != KEY_FIELD && name != REDIRECT_FIELD && name != honeypot && !name.is_empty()
        })
        .collect();
    if lead.is_empty() {
        return Err(ApiError::unprocessable("no lead fields were sent"));
    }
    let mut csv = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut csv);
        w.write_record(lead.iter().map(|(k, _)| k.as_str()))
            .and_then(|_| w.write_record(lead.iter().map(|(_, v)| v.as_str())))
            .and_then(|_| w.flush().map_err(Into::into))
            .map_err(ApiError::internal)?;
    }
    let p = Principal {
        workspace: k.workspace,
        role: Role::Member,
        via: Via::ApiKey { id: k.id },
    };
    let request = ImportRequest {
        name: "capture.csv",
        source: "capture",
        tags: vec!["inbound".to_owned()],
        overrides: Vec::new(),
    };
    let out = run_import(st, &p, request, csv.into()).await?;
    if out.summary.rejected > 0 {
        return Err(ApiError::unprocessable("the lead was rejected")
            .with_details(json!({ "reasons": out.reject_reasons })));
    }
    Ok(accepted())
}

/// The body's fields in order, from a form or a flat JSON object.
fn parse_fields(headers: &HeaderMap, body: &[u8]) -> ApiResult<Vec<(String, String)>> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let fields: Vec<(String, String)> = if ctype.starts_with("application/json") {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
        let Value::Object(map) = v else {
            return Err(ApiError::bad_request("send one JSON object of fields"));
        };
        let mut out = Vec::with_capacity(map.len());
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => continue,
                _ => {
                    return Err(ApiError::unprocessable(format!(
                        "field '{k}' must be a string or a number"
                    ))
                    .with_details(crate::error::field(&k)));
                }
            };
            out.push((k, text));
        }
        out
    } else if ctype.starts_with("application/x-www-form-urlencoded") || ctype.is_empty() {
        serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::bad_request(format!("the form body is malformed: {e}")))?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/x-www-form-urlencoded or application/json",
        ));
    };
    if fields.len() > MAX_FIELDS {
        return Err(ApiError::unprocessable(format!(
            "at most {MAX_FIELDS} fields per capture"
        )));
    }
    if let Some((k, _)) = fields
        .iter()
        .find(|(_, v)| v.chars().count() > MAX_VALUE_CHARS)
    {
        return Err(ApiError::unprocessable(format!(
            "field '{k}' is longer than {MAX_VALUE_CHARS} characters"
        ))
        .with_details(crate::error::field(k)));
    }
    Ok(fields)
}

fn field_value<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn origin_allowed(st: &AppState, origin: &HeaderValue) -> bool {
    let allowed = &st.opts().capture_origins;
    allowed.is_empty()
        || origin
            .to_str()
            .is_ok_and(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)))
}

/// Adds `Access-Control-Allow-Origin` for an allowed origin; `Err` when the
/// request came from an origin that is not.
fn allow_origin(st: &AppState, headers: &HeaderMap, res: &mut Response) -> Result<(), ()> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    if !origin_allowed(st, origin) {
        return Err(());
    }
    let h = res.headers_mut();
    if st.opts().capture_origins.is_empty() {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.append(header::VARY, HeaderValue::from_static("origin"));
    }
    Ok(())
}

/// Where a form post is sent on: an absolute http(s) address, on one of the
/// allowed origins when origins are configured (no open redirect).
fn redirect_target(st: &AppState, raw: &str) -> ApiResult<String> {
    let raw = raw.trim();
    let refuse = || {
        ApiError::unprocessable(format!(
            "{REDIRECT_FIELD} must be an http(s) address on an allowed origin"
        ))
        .with_details(crate::error::field(REDIRECT_FIELD))
    };
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(refuse)?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..host_end];
    if authority.is_empty()
        || authority.contains('@')
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(refuse());
    }
    let origin = &raw[..raw.len() - rest.len() + host_end];
    let allowed = &st.opts().capture_origins;
    if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return Err(refuse());
    }
    Ok(raw.to_owned())
}

/// One rate-limit bucket per client address (IPv6 by its /64).
fn ip_bucket(ip: std::net::IpAddr) -> i64 {
    let bits: u64 = match ip {
        std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
        std::net::IpAddr::V6(v6) => (u128::from(v6) >> 64) as u64 | (1 << 63),
    };
    bits as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_a_bucket_per_64_and_never_collide_with_ipv4() {
        let a: std::net::IpAddr = "2001:db8::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8::ffff".parse().unwrap();
        let c: std::net::IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let v4: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(ip_bucket(a), ip_bucket(b));
        assert_ne!(ip_bucket(a), ip_bucket(c));
        assert_ne!(ip_bucket(v4), ip_bucket(a));
        assert!(ip_bucket(v4) >= 0 && ip_bucket(a) < 0);
    }

    #[test]
    fn json_and_form_bodies_give_fields_in_order() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let mut f = parse_fields(&h, br#"{"email":"a@b.co","age":41,"x":null}"#).unwrap();
        f.sort();
        assert_eq!(
            f,
            vec![
                ("age".into(), "41".into()),
                ("email".into(), "a@b.co".into())
            ]
        );
        assert!(parse_fields(&h, b"[1]").is_err());
        assert!(parse_fields(&h, br#"{"a":{"b":1}}"#).is_err());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let f = parse_fields(&h, b"First+Name=Ann&email=ann%40x.io").unwrap();
        assert_eq!(f[0], ("First Name".into(), "Ann".into()));
        assert_eq!(f[1], ("email".into(), "ann@x.io".into()));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        assert!(parse_fields(&h, b"<a/>").is_err());
    }
}
