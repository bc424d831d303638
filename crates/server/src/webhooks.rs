//! Inbound vendor webhooks. They authenticate with a shared secret header
//! (Instantly signs nothing), not a session or API key; the delivery is
//! stored before the answer (see `leadgen_app::webhook_intake`).
//!
//! `POST /integrations/instantly/webhook[?workspace=N]` with
//! `X-Leadgen-Webhook-Secret: $LEADGEN_INSTANTLY_WEBHOOK_SECRET`:
//! 200 accepted or duplicate, 401 wrong secret, 400 malformed — all stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use leadgen_app::webhook_intake::{INSTANTLY, INTENT, Intake, WebhookSource, receive};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;

pub const SECRET_HEADER: &str = "x-leadgen-webhook-secret";

#[derive(Deserialize)]
pub(crate) struct WorkspaceParam {
    workspace: Option<i64>,
}

/// Headers worth keeping with an event; never the secret.
fn kept_headers(h: &HeaderMap) -> String {
    let keep = ["content-type", "user-agent", "x-forwarded-for"];
    let m: serde_json::Map<String, serde_json::Value> = keep
        .iter()
        .filter_map(|k| {
            h.get(*k)
                .and_then(|v| v.to_str().ok())
                .map(|v| ((*k).to_owned(), v.into()))
        })
        .collect();
    serde_json::Value::Object(m).to_string()
}

/// Compares without an early exit, so timing does not reveal the secret.
fn same_secret(given: &[u8], want: &[u8]) -> bool {
    let mut diff = given.len() ^ want.len();
    for (i, w) in want.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ w);
    }
    diff == 0
}

pub(crate) async fn instantly(
    State(state): State<AppState>,
    Query(q): Query<WorkspaceParam>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let secret = state.opts().instantly_webhook_secret.clone();
    intake(state, INSTANTLY, None, secret, q, headers, body).await
}

/// `POST /integrations/intent/{vendor}/webhook[?workspace=N]` with
/// `X-Leadgen-Webhook-Secret: $LEADGEN_INTENT_WEBHOOK_SECRET`: a vendor's
/// intent signals (see `leadgen_app::intent::ingest_webhook`).
pub(crate) async fn intent(
    State(state): State<AppState>,
    Path(vendor): Path<String>,
    Query(q): Query<WorkspaceParam>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ok = !vendor.is_empty()
        && vendor.len() <= 40
        && vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return ApiError::bad_request("the vendor in the path: 1 to 40 letters, digits, - and _")
            .into_response();
    }
    let secret = state.opts().intent_webhook_secret.clone();
    intake(state, INTENT, Some(vendor), secret, q, headers, body).await
}

async fn intake(
    state: AppState,
    src: WebhookSource,
    channel: Option<String>,
    secret: Option<String>,
    q: WorkspaceParam,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ws = q.workspace.unwrap_or(leadgen_core::DEFAULT_WORKSPACE);
    // No secret configured: every delivery is refused.
    let authorized = match (secret, headers.get(SECRET_HEADER)) {
        (Some(want), Some(given)) => {
            !want.is_empty() && same_secret(given.as_bytes(), want.as_bytes())
        }
        _ => false,
    };
    let kept = kept_headers(&headers);
    let store = state.inner.store.clone();
    let now = crate::now_ms();
    let done = tokio::task::spawn_blocking(move || {
        receive(
            &*store,
            ws,
            &src,
            channel.as_deref(),
            authorized,
            &kept,
            &body,
            now,
        )
    })
    .await;
    let result = match done {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(source = src.name, error = %e, "storing a webhook failed");
            // Not stored: the vendor must deliver it again.
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "not stored"})),
            )
                .into_response();
        }
        Err(e) => {
            tracing::error!(source = src.name, error = %e, "webhook task failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "internal"})),
            )
                .into_response();
        }
    };
    match result {
        Intake::Rejected { id } => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "missing or wrong X-Leadgen-Webhook-Secret", "id": id})),
        )
            .into_response(),
        Intake::Malformed { id, reason } => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": reason, "id": id})),
        )
            .into_response(),
        Intake::Duplicate => (StatusCode::OK, Json(json!({"duplicate": true}))).into_response(),
        Intake::Accepted { id, processed } => (
            StatusCode::OK,
            Json(json!({"id": id, "processed": processed.is_ok()})),
        )
            .into_response(),
    }
}
