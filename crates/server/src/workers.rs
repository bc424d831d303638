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
//! `/workers/leads/batch` and `/workers/enrichments/*` write for a job the
//! calling worker holds now (409 otherwise), in that job's workspace, once
//! per (job, key): a retry gets the first answer (see
//! `leadgen_app::remote_enrich`).
//!
//! The wire format is `leadgen_jobs::remote::wire`; times on it are
//! durations measured by the server's clock.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leadgen_app::remote_enrich::{self, RemoteWriteError};
use leadgen_app::remote_jobs;
use leadgen_core::job::{Completion, CompletionOutcome, Failure, Job, NewJob};
use leadgen_jobs::HandlerError;
use leadgen_jobs::remote::wire;
use leadgen_store::ClaimRequest;
use serde_json::json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::credentials::same_secret;
use crate::error::{ApiError, ApiResult, ErrorBody, field};
use crate::state::{AppState, now_ms};

/// Most jobs per claim and ids per call.
const MAX_BATCH: usize = 10_000;
const MAX_LEASE_MS: u64 = 3_600_000;
/// Longest retry delay a worker may ask for (30 days).
const MAX_RETRY_MS: u64 = 30 * 86_400_000;

/// The error answers of every route (in the API's error shape).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum WorkerErrors {
    #[response(status = 401, description = "Missing or wrong worker secret")]
    Unauthorized(ErrorBody),
    #[response(
        status = 404,
        description = "Remote-worker endpoints are off (no LEADGEN_WORKER_SECRET)"
    )]
    Off(ErrorBody),
    #[response(
        status = 409,
        description = "A write for a job this worker does not hold"
    )]
    NotHeld(ErrorBody),
    #[response(status = 422, description = "Malformed body")]
    Malformed(ErrorBody),
    #[response(status = 503, description = "Cannot be applied now; try again")]
    Unavailable(ErrorBody),
}

/// The routes, behind their own bearer check.
pub fn router(state: AppState) -> axum::Router<AppState> {
    routes()
        .route_layer(axum::middleware::from_fn_with_state(state, require_secret))
        .split_for_parts()
        .0
}

/// The routes with their OpenAPI document: one list for both.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(claim))
        .routes(routes!(start))
        .routes(routes!(extend))
        .routes(routes!(complete))
        .routes(routes!(fail))
        .routes(routes!(release))
        .routes(routes!(reap))
        .routes(routes!(next))
        .routes(routes!(leads_batch))
        .routes(routes!(create_enrichments))
        .routes(routes!(reserve))
}

/// The document's part for these routes, with the `worker_secret` bearer
/// scheme they use.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = routes().split_for_parts().1;
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "worker_secret",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The operator's worker secret (LEADGEN_WORKER_SECRET of `leadgen serve`), not an API key",
                ))
                .build(),
        ),
    );
    doc
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
    "/workers/leads/batch",
    "/workers/enrichments/create",
    "/workers/enrichments/reserve",
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

#[utoipa::path(post, path = "/workers/jobs/claim", tag = "workers",
    security(("worker_secret" = [])),
    description = "Claims up to `limit` pending jobs of `types` for `worker` (`{\"worker\",\"types\",\"limit\",\"lease_ms\",\"caps\"?}`); the payloads carry what the server looked up for a worker without the database.",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"jobs\": [{\"id\",\"workspace\",\"job_type\",\"payload\",\"attempts\",...}]}`", body = Object),
        WorkerErrors,
    ))]
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

#[utoipa::path(post, path = "/workers/jobs/start", tag = "workers",
    security(("worker_secret" = [])),
    description = "Marks held jobs as processing (`{\"worker\",\"ids\"}`).",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"count\"}`", body = Object),
        WorkerErrors,
    ))]
async fn start(
    State(st): State<AppState>,
    b: Result<Json<wire::IdsBody>, JsonRejection>,
) -> ApiResult<Json<wire::CountReply>> {
    let b = body(b, "start")?;
    ids_call(&st, b, |s, w, ids, now| s.start_jobs(w, ids, now)).await
}

#[utoipa::path(post, path = "/workers/jobs/extend", tag = "workers",
    security(("worker_secret" = [])),
    description = "Heartbeat: extends the leases of held jobs (`{\"worker\",\"ids\",\"lease_ms\"}`).",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"count\"}`", body = Object),
        WorkerErrors,
    ))]
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

#[utoipa::path(post, path = "/workers/jobs/release", tag = "workers",
    security(("worker_secret" = [])),
    description = "Hands held jobs back to the queue (`{\"worker\",\"ids\"}`).",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"count\"}`", body = Object),
        WorkerErrors,
    ))]
async fn release(
    State(st): State<AppState>,
    b: Result<Json<wire::IdsBody>, JsonRejection>,
) -> ApiResult<Json<wire::CountReply>> {
    let b = body(b, "release")?;
    ids_call(&st, b, |s, w, ids, now| s.release_jobs(w, ids, now)).await
}

#[utoipa::path(post, path = "/workers/jobs/reap", tag = "workers",
    security(("worker_secret" = [])),
    description = "Re-queues jobs whose lease ran out (`{}`).",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"count\"}`", body = Object),
        WorkerErrors,
    ))]
async fn reap(
    State(st): State<AppState>,
    b: Result<Json<wire::Empty>, JsonRejection>,
) -> ApiResult<Json<wire::CountReply>> {
    body(b, "reap")?;
    let count = st.blocking(|s| Ok(s.reap_expired(now_ms())?)).await?;
    Ok(Json(wire::CountReply { count }))
}

#[utoipa::path(post, path = "/workers/jobs/next", tag = "workers",
    security(("worker_secret" = [])),
    description = "How soon a job of `types` may need a worker (`{\"types\"}`).",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"due_in_ms\"}` (null: none pending or running)", body = Object),
        WorkerErrors,
    ))]
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

#[utoipa::path(post, path = "/workers/jobs/fail", tag = "workers",
    security(("worker_secret" = [])),
    description = "Fails attempts of held jobs (`{\"worker\",\"jobs\":[{\"id\",\"message\",\"retry_in_ms\"?}]}`).",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"statuses\":[\"pending\"|\"failed\"|null]}`", body = Object),
        WorkerErrors,
    ))]
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

#[utoipa::path(post, path = "/workers/jobs/complete", tag = "workers",
    security(("worker_secret" = [])),
    description = "Completes held jobs (`{\"worker\",\"jobs\":[{\"id\",\"result\",\"effects\"?,\"delta\"?,\"follow_ups\"?}]}`); the server applies type-specific results in the job's own workspace.",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"outcomes\":[{\"outcome\":\"completed\"|\"not_owned\"|\"duplicate_effect\"|\"rejected\",...}]}`", body = Object),
        WorkerErrors,
    ))]
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

/// The job `id` if `worker` holds it now; else a 409.
fn held_job(s: &dyn leadgen_store::Store, worker: &str, id: i64) -> ApiResult<Job> {
    s.held_jobs(worker, &[id])?
        .into_iter()
        .find(|j| j.id == id)
        .ok_or_else(|| {
            tracing::warn!(
                job = id,
                "remote-worker write for a job the worker does not hold"
            );
            ApiError::conflict(format!(
                "job {id} is not held by this worker (finished, expired or never claimed)"
            ))
            .with_details(json!({"field": "job", "outcome": "not_owned"}))
        })
}

/// A write `f` for `job`, which `worker` must hold now, in the job's
/// workspace; `f` answers with its reply and whether it was a replay.
async fn held_write<T: Send + 'static>(
    st: &AppState,
    worker: String,
    job: i64,
    what: &'static str,
    f: impl FnOnce(&dyn leadgen_store::Store, &AppState, &Job) -> Result<(T, bool), RemoteWriteError>
    + Send
    + 'static,
) -> ApiResult<T> {
    check_worker(&worker)?;
    let state = st.clone();
    st.blocking(move |s| {
        let job = held_job(s, &worker, job)?;
        let (reply, replayed) = f(s, &state, &job).map_err(write_error)?;
        tracing::info!(
            job = job.id,
            workspace = job.workspace,
            replayed,
            "remote worker's {what}"
        );
        Ok(reply)
    })
    .await
}

fn write_error(e: RemoteWriteError) -> ApiError {
    match e {
        RemoteWriteError::Invalid(m) => {
            tracing::warn!(error = %m, "remote-worker write refused");
            ApiError::unprocessable(m)
        }
        RemoteWriteError::Store(m) => unavailable(m),
    }
}

#[utoipa::path(post, path = "/workers/leads/batch", tag = "workers",
    security(("worker_secret" = [])),
    description = "Leads a worker found for a job it holds (`{\"worker\",\"job\",\"key\",\"tags\"?,\"leads\":[{column: value}]}`), stored through the import path in the job's workspace (source: the job's, e.g. `enrich`); once per (job, key).",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"batch\",\"outcomes\":[{\"outcome\":\"inserted\"|\"merged\"|\"rejected\",\"lead\",\"reason\"}]}`", body = Object),
        WorkerErrors,
    ))]
async fn leads_batch(
    State(st): State<AppState>,
    b: Result<Json<wire::LeadsBatchBody>, JsonRejection>,
) -> ApiResult<Json<wire::LeadsBatchReply>> {
    let b = body(b, "leads/batch")?;
    let (worker, job) = (b.worker.clone(), b.job);
    held_write(&st, worker, job, "lead batch", move |s, st, job| {
        remote_enrich::store_leads(s, st.config(), job, &b)
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/workers/enrichments/create", tag = "workers",
    security(("worker_secret" = [])),
    description = "Enrichment steps for a held job (`{\"worker\",\"job\",\"key\",\"lead_id\"?,\"company_id\"?,\"rows\":[{\"subject\",\"provider\",\"kind\",\"outcome\",\"result\",\"confidence\",\"reasoning\",\"input_tokens\",\"output_tokens\",\"cost_micros\"}],\"cache\"?}`), recorded in the job's workspace; once per (job, key).",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"ids\"}`", body = Object),
        WorkerErrors,
    ))]
async fn create_enrichments(
    State(st): State<AppState>,
    b: Result<Json<wire::EnrichmentsBody>, JsonRejection>,
) -> ApiResult<Json<wire::EnrichmentsReply>> {
    let b = body(b, "enrichments/create")?;
    let (worker, job) = (b.worker.clone(), b.job);
    held_write(&st, worker, job, "enrichment rows", move |s, _, job| {
        remote_enrich::store_enrichments(s, job, &b)
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/workers/enrichments/reserve", tag = "workers",
    security(("worker_secret" = [])),
    description = "Reserves `micros` of the job's workspace's monthly enrichment budget before a paid call (`{\"worker\",\"job\",\"key\",\"micros\"}`); the server's budget applies; once per (job, key).",
    request_body(content = Object, description = "JSON body (see the description)"),
    responses(
        (status = 200, description = "`{\"granted\"}`", body = Object),
        WorkerErrors,
    ))]
async fn reserve(
    State(st): State<AppState>,
    b: Result<Json<wire::ReserveBody>, JsonRejection>,
) -> ApiResult<Json<wire::ReserveReply>> {
    let b = body(b, "enrichments/reserve")?;
    let (worker, job) = (b.worker.clone(), b.job);
    let granted = held_write(&st, worker, job, "budget reservation", move |s, st, job| {
        remote_enrich::reserve(s, st.config(), job, &b)
    })
    .await?;
    Ok(Json(wire::ReserveReply { granted }))
}
