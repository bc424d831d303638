//! `/workers/jobs/*`: the queue for remote workers (`leadgen worker
//! --server URL`), machines that cannot reach the database.
//!
//! Every route needs `Authorization: Bearer <worker secret>`
//! (`LEADGEN_WORKER_SECRET` of `leadgen serve`, compared in constant time,
//! never logged); without a configured secret the routes answer 404. The
//! secret is an operator credential: jobs of every workspace are served,
//! but each write applies only to the job's own workspace (effects,
//! follow-up jobs and a `validate_email` verification are written for the
//! workspace the held job belongs to, whatever the worker sends).
//!
//! The wire format is `leadgen_jobs::remote::wire`; times on it are
//! durations measured by the server's clock.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use leadgen_app::remote_jobs;
use leadgen_core::job::{Completion, CompletionOutcome, Failure, NewJob};
use leadgen_jobs::HandlerError;
use leadgen_jobs::remote::wire;
use leadgen_store::ClaimRequest;
use serde_json::json;

use crate::credentials::same_secret;
use crate::error::{ApiError, ApiResult, field};
use crate::state::{AppState, now_ms};

/// Most jobs per claim and ids per call.
const MAX_BATCH: usize = 10_000;
const MAX_LEASE_MS: u64 = 3_600_000;
/// Longest retry delay a worker may ask for (30 days).
const MAX_RETRY_MS: u64 = 30 * 86_400_000;

/// The routes, behind their own bearer check.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/workers/jobs/claim", post(claim))
        .route("/workers/jobs/start", post(start))
        .route("/workers/jobs/extend", post(extend))
        .route("/workers/jobs/complete", post(complete))
        .route("/workers/jobs/fail", post(fail))
        .route("/workers/jobs/release", post(release))
        .route("/workers/jobs/reap", post(reap))
        .route("/workers/jobs/next", post(next))
        .route_layer(axum::middleware::from_fn_with_state(state, require_secret))
}

/// Every path above, for tests and docs.
pub const ROUTES: &[&str] = &[
    "/workers/jobs/claim",
    "/workers/jobs/start",
    "/workers/jobs/extend",
    "/workers/jobs/complete",
    "/workers/jobs/fail",
    "/workers/jobs/release",
    "/workers/jobs/reap",
    "/workers/jobs/next",
];

async fn require_secret(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(secret) = st.opts().worker_secret.as_ref().map(|s| s.expose()) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "remote-worker endpoints are off: start the server with LEADGEN_WORKER_SECRET set",
        )
        .into_response();
    };
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if sent.is_empty() || !same_secret(sent, secret) {
        tracing::warn!(path = %req.uri().path(), "remote-worker request with a missing or wrong secret");
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send `Authorization: Bearer <worker secret>` (LEADGEN_WORKER_SECRET)",
        )
        .into_response();
    }
    next.run(req).await
}

/// The body, or the API's 4xx for a malformed one (logged, never a panic).
fn body<T>(b: Result<Json<T>, JsonRejection>, what: &str) -> ApiResult<T> {
    b.map(|Json(t)| t).map_err(|r| {
        let e = ApiError::from(r);
        tracing::warn!(request = what, status = %e.status, error = %e.message, "malformed remote-worker request");
        e
    })
}

fn check_worker(worker: &str) -> ApiResult<()> {
    if worker.trim().is_empty() || worker.len() > 200 {
        return Err(
            ApiError::unprocessable("worker must be 1 to 200 characters")
                .with_details(field("worker")),
        );
    }
    Ok(())
}

fn check_batch(n: usize, name: &str) -> ApiResult<()> {
    if n > MAX_BATCH {
        return Err(
            ApiError::unprocessable(format!("at most {MAX_BATCH} {name} per call"))
                .with_details(field(name)),
        );
    }
    Ok(())
}

fn check_types(types: &[String]) -> ApiResult<()> {
    if types.is_empty() {
        return Err(ApiError::unprocessable("types is empty").with_details(field("types")));
    }
    let other: Vec<&String> = types
        .iter()
        .filter(|t| !remote_jobs::REMOTE_TYPES.contains(&t.as_str()))
        .collect();
    if !other.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "job types {other:?} do not run on remote workers; these do: {}",
            remote_jobs::REMOTE_TYPES.join(", ")
        ))
        .with_details(json!({"field": "types", "remote_types": remote_jobs::REMOTE_TYPES})));
    }
    Ok(())
}

fn unavailable(message: String) -> ApiError {
    tracing::warn!(error = %message, "remote-worker request could not be applied now");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
}

async fn claim(
    State(st): State<AppState>,
    b: Result<Json<wire::ClaimBody>, JsonRejection>,
) -> ApiResult<Json<wire::ClaimReply>> {
    let b = body(b, "claim")?;
    check_worker(&b.worker)?;
    check_types(&b.types)?;
    if b.limit == 0 || b.limit as usize > MAX_BATCH {
        return Err(
            ApiError::unprocessable(format!("limit must be 1 to {MAX_BATCH}"))
                .with_details(field("limit")),
        );
    }
    if !(1_000..=MAX_LEASE_MS).contains(&b.lease_ms) {
        return Err(
            ApiError::unprocessable(format!("lease_ms must be 1000 to {MAX_LEASE_MS}"))
                .with_details(field("lease_ms")),
        );
    }
    let jobs = st
        .blocking(move |s| {
            let now = now_ms();
            let jobs = s.claim(&ClaimRequest {
                worker: b.worker.clone(),
                types: Some(b.types),
                limit: b.limit,
                lease_ms: b.lease_ms,
                now,
                caps: b.caps,
            })?;
            let mut out = Vec::with_capacity(jobs.len());
            for j in jobs {
                match remote_jobs::prepare(s, &j) {
                    Ok(payload) => out.push(wire::ClaimedJob {
                        id: j.id,
                        workspace: j.workspace,
                        job_type: j.job_type,
                        priority: j.priority,
                        payload,
                        attempts: j.attempts,
                        max_attempts: j.max_attempts,
                        run_at: j.run_at,
                        run: j.run,
                        unique_key: j.unique_key,
                    }),
                    Err(HandlerError::Permanent(message)) => {
                        let f = Failure {
                            id: j.id,
                            message,
                            retry_at: None,
                        };
                        s.fail_jobs(&b.worker, &[f], now)?;
                    }
                    Err(e) => {
                        tracing::warn!(job = j.id, error = %e, "cannot prepare a job for a remote worker; handed back");
                        s.release_jobs(&b.worker, &[j.id], now)?;
                    }
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Json(wire::ClaimReply { jobs }))
}

async fn ids_call(
    st: &AppState,
    b: wire::IdsBody,
    f: impl FnOnce(&dyn leadgen_store::Store, &str, &[i64], i64) -> leadgen_store::Result<u64>
    + Send
    + 'static,
) -> ApiResult<Json<wire::CountReply>> {
    check_worker(&b.worker)?;
    check_batch(b.ids.len(), "ids")?;
    let count = st
        .blocking(move |s| Ok(f(s, &b.worker, &b.ids, now_ms())?))
        .await?;
    Ok(Json(wire::CountReply { count }))
}

async fn start(
    State(st): State<AppState>,
    b: Result<Json<wire::IdsBody>, JsonRejection>,
) -> ApiResult<Json<wire::CountReply>> {
    let b = body(b, "start")?;
    ids_call(&st, b, |s, w, ids, now| s.start_jobs(w, ids, now)).await
}

async fn extend(
    State(st): State<AppState>,
    b: Result<Json<wire::IdsBody>, JsonRejection>,
) -> ApiResult<Json<wire::CountReply>> {
    let b = body(b, "extend")?;
    let lease = b
        .lease_ms
        .filter(|l| (1..=MAX_LEASE_MS).contains(l))
        .ok_or_else(|| {
            ApiError::unprocessable(format!("lease_ms must be 1 to {MAX_LEASE_MS}"))
                .with_details(field("lease_ms"))
        })? as i64;
    ids_call(&st, b, move |s, w, ids, now| {
        s.extend_leases(w, ids, now + lease, now)
    })
    .await
}

async fn release(
    State(st): State<AppState>,
    b: Result<Json<wire::IdsBody>, JsonRejection>,
) -> ApiResult<Json<wire::CountReply>> {
    let b = body(b, "release")?;
    ids_call(&st, b, |s, w, ids, now| s.release_jobs(w, ids, now)).await
}

async fn reap(
    State(st): State<AppState>,
    b: Result<Json<wire::Empty>, JsonRejection>,
) -> ApiResult<Json<wire::CountReply>> {
    body(b, "reap")?;
    let count = st.blocking(|s| Ok(s.reap_expired(now_ms())?)).await?;
    Ok(Json(wire::CountReply { count }))
}

async fn next(
    State(st): State<AppState>,
    b: Result<Json<wire::NextBody>, JsonRejection>,
) -> ApiResult<Json<wire::NextReply>> {
    let b = body(b, "next")?;
    check_types(&b.types)?;
    let due_in_ms = st
        .blocking(move |s| {
            let now = now_ms();
            Ok(s.next_claimable(Some(&b.types), now)?.map(|t| t - now))
        })
        .await?;
    Ok(Json(wire::NextReply { due_in_ms }))
}

async fn fail(
    State(st): State<AppState>,
    b: Result<Json<wire::FailBody>, JsonRejection>,
) -> ApiResult<Json<wire::FailReply>> {
    let b = body(b, "fail")?;
    check_worker(&b.worker)?;
    check_batch(b.jobs.len(), "jobs")?;
    let statuses = st
        .blocking(move |s| {
            let now = now_ms();
            let failures: Vec<Failure> = b
                .jobs
                .into_iter()
                .map(|f| Failure {
                    id: f.id,
                    message: f.message,
                    retry_at: f.retry_in_ms.map(|ms| now + ms.min(MAX_RETRY_MS) as i64),
                })
                .collect();
            Ok(s.fail_jobs(&b.worker, &failures, now)?)
        })
        .await?;
    Ok(Json(wire::FailReply { statuses }))
}

async fn complete(
    State(st): State<AppState>,
    b: Result<Json<wire::CompleteBody>, JsonRejection>,
) -> ApiResult<Json<wire::CompleteReply>> {
    let b = body(b, "complete")?;
    check_worker(&b.worker)?;
    check_batch(b.jobs.len(), "jobs")?;
    let threshold = st.config().verify.valid_threshold;
    let outcomes = st
        .blocking(move |s| {
            let now = now_ms();
            let worker = b.worker;
            let ids: Vec<i64> = b.jobs.iter().map(|j| j.id).collect();
            let held: HashMap<i64, leadgen_core::job::Job> = s
                .held_jobs(&worker, &ids)?
                .into_iter()
                .map(|j| (j.id, j))
                .collect();
            // Per job: its outcome now, or its place in the completions.
            let mut outcomes: Vec<Option<CompletionOutcome>> = Vec::with_capacity(ids.len());
            let mut done = Vec::new();
            let mut refused = Vec::new();
            for c in b.jobs {
                let Some(job) = held.get(&c.id) else {
                    outcomes.push(Some(CompletionOutcome::NotOwned));
                    continue;
                };
                match remote_jobs::apply(s, job, &c.result, threshold, now) {
                    Ok(result) => {
                        let follow_ups = c
                            .follow_ups
                            .into_iter()
                            .map(|f| NewJob {
                                // The job's own workspace and run, whatever
                                // the worker would like.
                                workspace: job.workspace,
                                run: job.run,
                                job_type: f.job_type,
                                payload: f.payload,
                                priority: f.priority,
                                max_attempts: f.max_attempts,
                                run_at: f.run_in_ms.map(|ms| now + ms.min(MAX_RETRY_MS) as i64),
                                unique_key: f.unique_key,
                            })
                            .collect();
                        done.push(Completion {
                            id: c.id,
                            result: result.to_string(),
                            effects: c.effects,
                            delta: c.delta,
                            follow_ups,
                        });
                        outcomes.push(None);
                    }
                    Err(HandlerError::Permanent(message)) => {
                        refused.push(Failure {
                            id: c.id,
                            message: message.clone(),
                            retry_at: None,
                        });
                        outcomes.push(Some(CompletionOutcome::Rejected { message }));
                    }
                    Err(e @ HandlerError::Retryable { .. }) => {
                        return Err(unavailable(format!(
                            "job {}: the result cannot be applied now: {e}",
                            c.id
                        )));
                    }
                }
            }
            if !refused.is_empty() {
                s.fail_jobs(&worker, &refused, now)?;
            }
            let mut written = s.complete_jobs(&worker, &done, now)?.into_iter();
            Ok(outcomes
                .into_iter()
                .map(|o| {
                    o.or_else(|| written.next())
                        .unwrap_or(CompletionOutcome::NotOwned)
                })
                .collect())
        })
        .await?;
    Ok(Json(wire::CompleteReply { outcomes }))
}
