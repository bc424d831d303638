//! The REST API under `/api/v1`. Each handler parses its input, checks the
//! caller's role, makes one store or service call scoped to the caller's
//! workspace, and renders JSON. The OpenAPI document is generated from the
//! `#[utoipa::path]` annotations below, and the router is built from the same
//! list, so the two cannot drift apart.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use leadgen_app::lead_jobs::LeadSelection;
use leadgen_core::job::{JobStatus, RunStatus};
use leadgen_core::lead::LeadStatus;
use leadgen_core::{Field, Lead, LeadId, WorkspaceId};
use leadgen_store::{Cursor, JobFilter, LeadEdit, LeadFilter, LeadQuery, Role, SortOrder};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::credentials::{self, CredentialError, IssuedKey};
use crate::error::{ApiError, ApiResult, ErrorBody, field};
use crate::state::{AppState, now_ms};

// ------------------------------------------------------------ extractors

/// `Query` whose rejection has the API's error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

type Caller = Extension<Principal>;

// ------------------------------------------------------------- document

#[derive(OpenApi)]
#[openapi(
    info(
        title = "leadgen API",
        version = "1",
        description = "Leads, imports, jobs and runs of one workspace. Authenticate with `Authorization: Bearer <api key>`."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorBody, IssuedKey))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's routes and their OpenAPI document, from one list.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_leads, create_lead))
        .routes(routes!(get_lead, update_lead, delete_lead))
        .routes(routes!(bulk_tag))
        .routes(routes!(verify_leads))
        .routes(routes!(enrich_leads))
        .routes(routes!(list_companies))
        .routes(routes!(get_company))
        .routes(routes!(list_jobs))
        .routes(routes!(job_stats))
        .routes(routes!(get_job))
        .routes(routes!(retry_job))
        .routes(routes!(cancel_job))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(pause_run))
        .routes(routes!(resume_run))
        .routes(routes!(stats))
        .routes(routes!(create_import))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_settings))
        .routes(routes!(list_webhooks))
        .routes(routes!(replay_webhook))
        .routes(routes!(openapi_json))
        .merge(crate::campaigns_api::router())
        .merge(crate::settings_api::router())
}

/// The generated document, for `openapi.json` and tests.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().split_for_parts().1;
    doc.merge(crate::capture::router().split_for_parts().1);
    doc.merge(crate::workers::openapi());
    doc
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
async fn openapi_json(Extension(_p): Caller) -> Response {
    Json(openapi()).into_response()
}

// ---------------------------------------------------------------- leads

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadListParams {
    /// Statuses, comma-separated (raw, enriching, enriched, validated, invalid, …).
    pub status: Option<String>,
    pub source: Option<String>,
    #[serde(default, deserialize_with = "blank_as_none")]
    pub min_score: Option<u8>,
    #[serde(default, deserialize_with = "blank_as_none")]
    pub max_score: Option<u8>,
    /// Tags the lead must all have, comma-separated.
    pub tag: Option<String>,
    /// Free text: name, email, company or title.
    pub q: Option<String>,
    /// Leads of the company with this domain (`acme.com`).
    pub company_domain: Option<String>,
    /// A segment, as campaigns take it: `industry = "dentist" and state in ("NY","NJ") and score >= 70`.
    #[serde(rename = "where")]
    #[param(rename = "where")]
    pub segment: Option<String>,
    /// `newest` (default), `oldest` or `score`.
    pub sort: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    #[serde(default, deserialize_with = "blank_as_none")]
    pub limit: Option<u32>,
}

/// An empty form field (`min_score=`) means "not set", as HTML forms send it.
fn blank_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

fn split_list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Listing parameters as a store query; shared with the dashboard.
pub fn lead_query(p: &LeadListParams) -> ApiResult<LeadQuery> {
    let statuses = split_list(&p.status)
        .iter()
        .map(|s| {
            LeadStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!("unknown status '{s}'")).with_details(field("status"))
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let sort = match p.sort.as_deref().filter(|s| !s.is_empty()) {
        None => SortOrder::Newest,
        Some(s) => SortOrder::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!("unknown sort '{s}'; use newest, oldest or score"))
                .with_details(field("sort"))
        })?,
    };
    let after = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            Cursor::decode(c)
                .map_err(|e| ApiError::bad_request(e.to_string()).with_details(field("cursor")))?,
        ),
    };
    if let (Some(lo), Some(hi)) = (p.min_score, p.max_score)
        && lo > hi
    {
        return Err(ApiError::bad_request("min_score is above max_score"));
    }
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 500").with_details(field("limit")));
    }
    Ok(LeadQuery {
        filter: LeadFilter {
            statuses,
            source: p.source.clone().filter(|s| !s.is_empty()),
            min_score: p.min_score,
            max_score: p.max_score,
            tier: None,
            tags: split_list(&p.tag),
            text: p.q.clone().filter(|s| !s.trim().is_empty()),
            company_domain: match p.company_domain.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(d) => Some(leadgen_app::company_domain_key(d).ok_or_else(|| {
                    ApiError::bad_request(format!("company_domain '{d}' is not a domain"))
                        .with_details(field("company_domain"))
                })?),
            },
            segment: crate::campaigns_api::parse_where(p.segment.as_deref())?,
        },
        sort,
        limit,
        after,
    })
}

pub(crate) fn lead_value(lead: &Lead) -> Value {
    Value::Object(leadgen_app::export::lead_json(lead))
}

#[utoipa::path(get, path = "/api/v1/leads", tag = "leads", params(LeadListParams),
    responses(
        (status = 200, description = "`{leads: [...], next_cursor}`", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_leads(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiQuery(params): ApiQuery<LeadListParams>,
) -> ApiResult<Json<Value>> {
    let q = lead_query(&params)?;
    let ws = p.workspace;
    let page = st.blocking(move |s| Ok(s.query_leads(ws, &q)?)).await?;
    let leads: Vec<Value> = page.leads.iter().map(lead_value).collect();
    Ok(Json(json!({
        "leads": leads,
        "next_cursor": page.next.map(|c| c.encode()),
    })))
}

/// A lead with where each field came from, its score factors and its
/// verification; shared with the dashboard.
pub fn lead_detail(
    s: &dyn leadgen_store::Store,
    rules: &leadgen_core::score::ScoringRules,
    ws: i64,
    id: LeadId,
) -> ApiResult<Value> {
    let lead = s
        .get_lead(ws, id)?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    let mut records = Map::new();
    for r in lead.provenance.records() {
        if let Some(rec) = s.source_record(ws, r)? {
            let cells: Map<String, Value> = rec
                .headers
                .iter()
                .zip(&rec.cells)
                .map(|(h, c)| (h.clone(), Value::String(c.clone())))
                .collect();
            records.insert(
                r.0.to_string(),
                json!({
                    "batch": rec.batch_name, "source": rec.source,
                    "observed_at": rec.observed_at, "line": r.line(), "cells": cells,
                }),
            );
        }
    }
    let origin = lead.provenance.origin.map(|o| o.record.0.to_string());
    let field_sources: Map<String, Value> = Field::ALL
        .iter()
        .filter(|f| leadgen_core::score::field_text(&lead, **f).is_some())
        .map(|f| {
            let src = lead
                .provenance
                .of(*f)
                .map(|r| r.record.0.to_string())
                .or_else(|| origin.clone());
            (f.name().to_owned(), json!(src))
        })
        .collect();
    let card = rules.score(&lead);
    let verification = s.verification(ws, id)?;
    Ok(json!({
        "lead": lead_value(&lead),
        "provenance": { "origin": origin, "fields": field_sources, "records": records },
        "score": card,
        "verification": verification,
    }))
}

#[utoipa::path(get, path = "/api/v1/leads/{id}", tag = "leads",
    params(("id" = i64, Path, description = "Lead id")),
    responses(
        (status = 200, description = "`{lead, provenance, score, verification}`", body = Object),
        (status = 404, body = ErrorBody)))]
async fn get_lead(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<LeadId>,
) -> ApiResult<Json<Value>> {
    let ws = p.workspace;
    let state = st.clone();
    Ok(Json(
        st.blocking(move |s| {
            let rules = leadgen_app::settings::scoring_rules(s, ws, state.config())?;
            lead_detail(s, &rules, ws, id)
        })
        .await?,
    ))
}

// ------------------------------------------------------------ companies

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyListParams {
    /// Two-letter state code.
    pub state: Option<String>,
    /// `next_after` of the previous page.
    #[serde(default, deserialize_with = "blank_as_none")]
    pub after: Option<i64>,
    /// 1–500, default 50.
    #[serde(default, deserialize_with = "blank_as_none")]
    pub limit: Option<u32>,
}

/// The company filter of a listing, checked.
pub fn company_filter(p: &CompanyListParams) -> ApiResult<leadgen_store::CompanyFilter> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 500").with_details(field("limit")));
    }
    let state = match p.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) if s.len() == 2 && s.chars().all(|c| c.is_ascii_alphabetic()) => {
            Some(s.to_ascii_uppercase())
        }
        Some(s) => {
            return Err(
                ApiError::bad_request(format!("state '{s}' is not a two-letter code"))
                    .with_details(field("state")),
            );
        }
    };
    Ok(leadgen_store::CompanyFilter {
        after: p.after,
        state,
        limit,
    })
}

#[utoipa::path(get, path = "/api/v1/companies", tag = "companies", params(CompanyListParams),
    responses(
        (status = 200, description = "`{companies: [...], next_after}` in id order", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_companies(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiQuery(params): ApiQuery<CompanyListParams>,
) -> ApiResult<Json<Value>> {
    let f = company_filter(&params)?;
    let ws = p.workspace;
    let (page, sources) = st
        .blocking(move |s| {
            Ok((
                s.list_companies(ws, &f)?,
                leadgen_app::companies::batch_sources(s, ws)?,
            ))
        })
        .await?;
    let next_after = (page.len() as u32 == params.limit.unwrap_or(50))
        .then(|| page.last().map(|c| c.id))
        .flatten();
    let companies: Vec<Value> = page
        .iter()
        .map(|c| leadgen_app::companies::company_json(c, &sources, false))
        .collect();
    Ok(Json(
        json!({ "companies": companies, "next_after": next_after }),
    ))
}

/// A company as JSON (`detail`: with provenance), and its newest 50 leads
/// (those with its domain); shared with the dashboard.
pub fn company_with_leads(
    s: &dyn leadgen_store::Store,
    ws: i64,
    id: i64,
    detail: bool,
) -> ApiResult<(leadgen_core::company::Company, Value, Vec<Lead>)> {
    let c = s
        .get_company(ws, id)?
        .ok_or_else(|| ApiError::not_found("company"))?;
    let sources = leadgen_app::companies::batch_sources(s, ws)?;
    let v = leadgen_app::companies::company_json(&c, &sources, detail);
    let leads = match &c.domain {
        Some(d) => {
            let q = LeadQuery {
                filter: LeadFilter {
                    company_domain: Some(d.as_str().to_owned()),
                    ..LeadFilter::default()
                },
                sort: SortOrder::Newest,
                limit: 50,
                after: None,
            };
            s.query_leads(ws, &q)?.leads
        }
        None => Vec::new(),
    };
    Ok((c, v, leads))
}

#[utoipa::path(get, path = "/api/v1/companies/{id}", tag = "companies",
    params(("id" = i64, Path, description = "Company id")),
    responses(
        (status = 200, description = "The company with provenance and its first 50 leads (by domain)", body = Object),
        (status = 404, body = ErrorBody)))]
async fn get_company(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let ws = p.workspace;
    let (_, mut v, leads) = st
        .blocking(move |s| company_with_leads(s, ws, id, true))
        .await?;
    v["leads"] = leads.iter().map(lead_value).collect();
    Ok(Json(v))
}

#[utoipa::path(post, path = "/api/v1/leads", tag = "leads",
    request_body(content = Object, description = "Field name → value, e.g. `{\"email\": \"a@b.com\", \"first_name\": \"Ann\"}`; goes through the import pipeline (normalized, deduplicated, scored)"),
    responses(
        (status = 201, description = "Created: the import summary", body = Object),
        (status = 200, description = "Merged into an existing lead", body = Object),
        (status = 422, description = "The row was rejected; details give the reason", body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn create_lead(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<Response> {
    p.require(Role::Member)?;
    let mut fields = Vec::with_capacity(body.len());
    for (k, v) in &body {
        if Field::from_name(k).is_none() {
            return Err(
                ApiError::unprocessable(format!("unknown field '{k}'")).with_details(field(k))
            );
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Null => continue,
            _ => {
                return Err(ApiError::unprocessable(format!(
                    "field '{k}' must be a string or a number"
                ))
                .with_details(field(k)));
            }
        };
        fields.push((k.clone(), text));
    }
    if fields.is_empty() {
        return Err(ApiError::unprocessable("no fields given"));
    }
    let mut csv = Vec::new();
    {
        let mut w = csv_writer(&mut csv);
        w.write_record(fields.iter().map(|(k, _)| k.as_str()))
            .and_then(|_| w.write_record(fields.iter().map(|(_, v)| v.as_str())))
            .and_then(|_| w.flush().map_err(Into::into))
            .map_err(ApiError::internal)?;
    }
    let req = crate::imports::ImportRequest {
        name: "api.csv",
        source: "api",
        tags: Vec::new(),
        overrides: Vec::new(),
    };
    let out = crate::imports::run_import(&st, &p, req, csv.into()).await?;
    if out.summary.rejected > 0 {
        return Err(ApiError::unprocessable("the lead was rejected")
            .with_details(json!({ "reasons": out.reject_reasons })));
    }
    let status = if out.summary.inserted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out.json())).into_response())
}

fn csv_writer(buf: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::Writer::from_writer(buf)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadPatch {
    /// New status.
    pub status: Option<String>,
    /// Replaces the lead's tags.
    pub tags: Option<Vec<String>>,
}

fn clean_tags(tags: &[String]) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim();
        if t.is_empty() || t.len() > 64 {
            return Err(ApiError::unprocessable("tags must be 1 to 64 characters")
                .with_details(field("tags")));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

#[utoipa::path(patch, path = "/api/v1/leads/{id}", tag = "leads",
    params(("id" = i64, Path)), request_body = LeadPatch,
    responses(
        (status = 200, description = "The updated lead", body = Object),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn update_lead(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<LeadId>,
    ApiJson(patch): ApiJson<LeadPatch>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Member)?;
    let status = match &patch.status {
        None => None,
        Some(s) => Some(LeadStatus::parse(s).ok_or_else(|| {
            ApiError::unprocessable(format!("unknown status '{s}'")).with_details(field("status"))
        })?),
    };
    let tags = patch.tags.as_deref().map(clean_tags).transpose()?;
    let edit = LeadEdit { status, tags };
    let ws = p.workspace;
    let lead = st
        .blocking(move |s| {
            if !s.edit_lead(ws, id, &edit, now_ms())? {
                return Err(ApiError::not_found("lead"));
            }
            s.get_lead(ws, id)?
                .ok_or_else(|| ApiError::not_found("lead"))
        })
        .await?;
    Ok(Json(lead_value(&lead)))
}

#[utoipa::path(delete, path = "/api/v1/leads/{id}", tag = "leads", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_lead(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<LeadId>,
) -> ApiResult<StatusCode> {
    p.require(Role::Member)?;
    let ws = p.workspace;
    if st.blocking(move |s| Ok(s.delete_lead(ws, id)?)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("lead"))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTag {
    pub ids: Vec<LeadId>,
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Leads chosen by id, or by the listing's filters (at most `max`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadSelectionBody {
    #[serde(default)]
    pub ids: Vec<LeadId>,
    pub status: Option<String>,
    pub source: Option<String>,
    pub min_score: Option<u8>,
    pub max_score: Option<u8>,
    pub tag: Option<String>,
    pub q: Option<String>,
    pub company_domain: Option<String>,
    /// With filters: how many leads at most, newest first (default 10,000).
    pub max: Option<u32>,
}

impl LeadSelectionBody {
    fn filters(&self) -> LeadListParams {
        LeadListParams {
            status: self.status.clone(),
            source: self.source.clone(),
            min_score: self.min_score,
            max_score: self.max_score,
            tag: self.tag.clone(),
            q: self.q.clone(),
            company_domain: self.company_domain.clone(),
            ..LeadListParams::default()
        }
    }
}

/// The leads a selection names; filters are checked like the listing's.
pub fn lead_selection(
    params: &LeadListParams,
    ids: Vec<LeadId>,
    max: Option<u32>,
) -> ApiResult<LeadSelection> {
    let filter = lead_query(params)?.filter;
    let max_allowed = leadgen_app::lead_jobs::MAX_SELECTION;
    if !ids.is_empty() {
        if filter != LeadFilter::default() || max.is_some() {
            return Err(ApiError::unprocessable("give ids or filters, not both"));
        }
        if ids.len() > max_allowed as usize {
            return Err(
                ApiError::unprocessable(format!("at most {max_allowed} ids"))
                    .with_details(field("ids")),
            );
        }
        return Ok(LeadSelection::Ids(ids));
    }
    let max = max.unwrap_or(10_000);
    if !(1..=max_allowed).contains(&max) {
        return Err(
            ApiError::unprocessable(format!("max must be 1 to {max_allowed}"))
                .with_details(field("max")),
        );
    }
    Ok(LeadSelection::Filter { filter, max })
}

#[utoipa::path(post, path = "/api/v1/leads/verify", tag = "leads", request_body = LeadSelectionBody,
    responses(
        (status = 202, description = "`{run_id, enqueued, already_queued, skipped, not_found}`: one validate_email job per lead with an email, in one run", body = Object),
        (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn verify_leads(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiJson(req): ApiJson<LeadSelectionBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    lead_jobs_request(st, p, req, leadgen_app::lead_jobs::enqueue_verifications).await
}

#[utoipa::path(post, path = "/api/v1/leads/enrich", tag = "leads", request_body = LeadSelectionBody,
    responses(
        (status = 202, description = "`{run_id, enqueued, already_queued, skipped, not_found}`: one enrich_lead job per lead without an email that has a first and last name and a company domain, in one run; a lead is enriched once", body = Object),
        (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn enrich_leads(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiJson(req): ApiJson<LeadSelectionBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    lead_jobs_request(st, p, req, leadgen_app::lead_jobs::enqueue_enrichments).await
}

/// A members' request for jobs on chosen leads (verify, enrich): 202 with
/// what was enqueued.
async fn lead_jobs_request(
    st: AppState,
    p: Principal,
    req: LeadSelectionBody,
    enqueue: leadgen_app::lead_jobs::EnqueueFn,
) -> ApiResult<(StatusCode, Json<Value>)> {
    p.require(Role::Member)?;
    let selection = lead_selection(&req.filters(), req.ids.clone(), req.max)?;
    let ws = p.workspace;
    let out = st
        .blocking(move |s| Ok(enqueue(s, ws, &selection, now_ms())?))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!(out))))
}

#[utoipa::path(post, path = "/api/v1/leads/bulk-tag", tag = "leads", request_body = BulkTag,
    responses(
        (status = 200, description = "`{updated, not_found: [ids]}`", body = Object),
        (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn bulk_tag(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiJson(req): ApiJson<BulkTag>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Member)?;
    if req.ids.is_empty() || req.ids.len() > 1000 {
        return Err(ApiError::unprocessable("give 1 to 1000 ids").with_details(field("ids")));
    }
    let add = clean_tags(&req.add)?;
    let remove = clean_tags(&req.remove)?;
    let ws = p.workspace;
    let (updated, missing) = st
        .blocking(move |s| {
            let (mut updated, mut missing) = (0u64, Vec::new());
            for id in req.ids {
                let Some(lead) = s.get_lead(ws, id)? else {
                    missing.push(id);
                    continue;
                };
                let mut tags: Vec<String> = lead
                    .tags
                    .into_iter()
                    .filter(|t| !remove.contains(t))
                    .collect();
                for t in &add {
                    if !tags.contains(t) {
                        tags.push(t.clone());
                    }
                }
                let edit = LeadEdit {
                    status: None,
                    tags: Some(tags),
                };
                if s.edit_lead(ws, id, &edit, now_ms())? {
                    updated += 1;
                } else {
                    missing.push(id);
                }
            }
            Ok((updated, missing))
        })
        .await?;
    Ok(Json(json!({ "updated": updated, "not_found": missing })))
}

// ------------------------------------------------------------ jobs, runs

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListParams {
    /// pending, claimed, processing, completed, failed, cancelled
    pub status: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub job_type: Option<String>,
    pub run: Option<i64>,
    /// 1–1000, default 100.
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobListParams),
    responses((status = 200, description = "`{jobs: [...]}`", body = Object), (status = 400, body = ErrorBody)))]
async fn list_jobs(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<JobListParams>,
) -> ApiResult<Json<Value>> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!("unknown job status '{s}'")).with_details(field("status"))
        })?),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 1000").with_details(field("limit")));
    }
    let f = JobFilter {
        status,
        job_type: q.job_type.filter(|t| !t.is_empty()),
        run: q.run,
        limit,
    };
    let ws = p.workspace;
    let jobs = st.blocking(move |s| Ok(s.list_jobs(ws, &f)?)).await?;
    Ok(Json(json!({ "jobs": jobs })))
}

#[utoipa::path(get, path = "/api/v1/jobs/stats", tag = "jobs",
    responses((status = 200, description = "Counts by status and type, oldest pending age, throughput", body = Object)))]
async fn job_stats(State(st): State<AppState>, Extension(p): Caller) -> ApiResult<Json<Value>> {
    let ws = p.workspace;
    let q = st
        .blocking(move |s| Ok(s.queue_stats(ws, now_ms())?))
        .await?;
    Ok(Json(leadgen_app::queue::queue_json(&q)))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, description = "The job with its error history", body = Object), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let ws = p.workspace;
    let job = st
        .blocking(move |s| s.get_job(ws, id)?.ok_or_else(|| ApiError::not_found("job")))
        .await?;
    Ok(Json(json!(job)))
}

/// A job action: 404 when the job is not the caller's, 409 when its state
/// does not allow the action.
async fn job_action(
    st: &AppState,
    p: &Principal,
    id: i64,
    action: &'static str,
) -> ApiResult<Json<Value>> {
    p.require(Role::Member)?;
    let ws = p.workspace;
    let job = st
        .blocking(move |s| {
            let before = s
                .get_job(ws, id)?
                .ok_or_else(|| ApiError::not_found("job"))?;
            let now = now_ms();
            let done = match action {
                "retry" => s.retry_job(ws, id, now)?,
                _ => s.cancel_job(ws, id, now)?,
            };
            if !done {
                return Err(ApiError::conflict(format!(
                    "cannot {action} a job that is {}",
                    before.status.as_str()
                )));
            }
            s.get_job(ws, id)?.ok_or_else(|| ApiError::not_found("job"))
        })
        .await?;
    Ok(Json(json!(job)))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn retry_job(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    job_action(&st, &p, id, "retry").await
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn cancel_job(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    job_action(&st, &p, id, "cancel").await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListParams {
    /// 1–500, default 50.
    pub limit: Option<u32>,
}

/// A run with its progress as a fraction of finished jobs.
pub fn run_value(r: &leadgen_core::job::Run) -> Value {
    let finished = r.completed_jobs + r.failed_jobs + r.cancelled_jobs;
    let progress = if r.total_jobs == 0 {
        0.0
    } else {
        finished as f64 / r.total_jobs as f64
    };
    let mut v = json!(r);
    v["progress"] = json!(progress);
    v
}

#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(RunListParams),
    responses((status = 200, description = "`{runs: [...]}`, newest first", body = Object)))]
async fn list_runs(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<RunListParams>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 500").with_details(field("limit")));
    }
    let ws = p.workspace;
    let runs = st.blocking(move |s| Ok(s.list_runs(ws, limit)?)).await?;
    Ok(Json(
        json!({ "runs": runs.iter().map(run_value).collect::<Vec<_>>() }),
    ))
}

#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", params(("id" = i64, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn get_run(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let ws = p.workspace;
    let run = st
        .blocking(move |s| s.get_run(ws, id)?.ok_or_else(|| ApiError::not_found("run")))
        .await?;
    Ok(Json(run_value(&run)))
}

async fn run_action(
    st: &AppState,
    p: &Principal,
    id: i64,
    to: RunStatus,
) -> ApiResult<Json<Value>> {
    p.require(Role::Member)?;
    let ws = p.workspace;
    let run = st
        .blocking(move |s| {
            let before = s
                .get_run(ws, id)?
                .ok_or_else(|| ApiError::not_found("run"))?;
            if !s.set_run_status(ws, id, to, now_ms())? {
                return Err(ApiError::conflict(format!(
                    "cannot move a {} run to {}",
                    before.status.as_str(),
                    to.as_str()
                )));
            }
            s.get_run(ws, id)?.ok_or_else(|| ApiError::not_found("run"))
        })
        .await?;
    Ok(Json(run_value(&run)))
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/pause", tag = "runs", params(("id" = i64, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn pause_run(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    run_action(&st, &p, id, RunStatus::Paused).await
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/resume", tag = "runs", params(("id" = i64, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn resume_run(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    run_action(&st, &p, id, RunStatus::Running).await
}

#[utoipa::path(get, path = "/api/v1/stats", tag = "stats",
    responses((status = 200, description = "Lead counts by status, tier and source", body = Object)))]
async fn stats(State(st): State<AppState>, Extension(p): Caller) -> ApiResult<Json<Value>> {
    let ws = p.workspace;
    let v = st
        .blocking(move |s| Ok(leadgen_app::enrich_job::stats_json(s, ws)?))
        .await?;
    Ok(Json(v))
}

// -------------------------------------------------------------- imports

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// File name shown in listings (default `upload.csv`).
    pub name: Option<String>,
    /// Source the leads carry (default `csv_upload`).
    pub source: Option<String>,
    /// Tags added to every lead, comma-separated.
    pub tags: Option<String>,
    /// Columns mapped by hand over the automatic mapping, comma-separated
    /// `field=Column Header` pairs, e.g. `email=Work Email,title=Role`.
    pub map: Option<String>,
}

/// `field=Column,field2=Column 2` as mapping overrides.
fn parse_mapping(s: &str) -> ApiResult<Vec<(Field, String)>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (f, col) = pair.split_once('=').ok_or_else(|| {
                ApiError::unprocessable(format!("'{pair}' is not field=Column"))
                    .with_details(field("map"))
            })?;
            let f = Field::from_name(f.trim()).ok_or_else(|| {
                ApiError::unprocessable(format!("unknown field '{}'", f.trim()))
                    .with_details(field("map"))
            })?;
            Ok((f, col.trim().to_owned()))
        })
        .collect()
}

#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", params(ImportParams),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses(
        (status = 200, description = "Import summary: rows_read, inserted, merged, rejected, reject reasons", body = Object),
        (status = 422, description = "The file cannot be imported (no usable columns, unreadable)", body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn create_import(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<ImportParams>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    p.require(Role::Member)?;
    if body.is_empty() {
        return Err(ApiError::unprocessable(
            "the request body is empty; send the CSV file",
        ));
    }
    let name = q.name.unwrap_or_else(|| "upload.csv".into());
    let source = q.source.unwrap_or_else(|| "csv_upload".into());
    let tags = clean_tags(&split_list(&q.tags))?;
    let overrides = parse_mapping(q.map.as_deref().unwrap_or(""))?;
    let req = crate::imports::ImportRequest {
        name: &name,
        source: &source,
        tags,
        overrides,
    };
    let out = crate::imports::run_import(&st, &p, req, body).await?;
    Ok(Json(out.json()))
}

// ------------------------------------------------------- keys and users

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "settings",
    responses((status = 200, description = "`{api_keys: [...]}` (never the keys themselves)", body = Object), (status = 403, body = ErrorBody)))]
async fn list_api_keys(State(st): State<AppState>, Extension(p): Caller) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    let ws = p.workspace;
    let keys = st.blocking(move |s| Ok(s.list_api_keys(ws)?)).await?;
    Ok(Json(json!({ "api_keys": keys })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    /// admin, member, viewer, or capture (API keys for /api/v1/capture)
    pub role: String,
}

fn parse_role(s: &str) -> ApiResult<Role> {
    Role::parse(s).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "unknown role '{s}'; use admin, member, viewer or capture (keys only)"
        ))
        .with_details(field("role"))
    })
}

impl From<CredentialError> for ApiError {
    fn from(e: CredentialError) -> ApiError {
        match e {
            CredentialError::Invalid(m) => ApiError::unprocessable(m),
            CredentialError::EmailTaken(_) => ApiError::conflict(e.to_string()),
            CredentialError::Store(s) => s.into(),
            CredentialError::Hash(_) => ApiError::internal(e),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "settings", request_body = NewKey,
    responses((status = 201, description = "The key, shown this once", body = IssuedKey), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_api_key(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiJson(req): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<IssuedKey>)> {
    p.require(Role::Admin)?;
    let role = parse_role(&req.role)?;
    let ws = p.workspace;
    let issued = st
        .blocking(move |s| {
            Ok(credentials::issue_api_key(
                s,
                ws,
                &req.name,
                role,
                now_ms(),
            )?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "settings", params(("id" = i64, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn revoke_api_key(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    p.require(Role::Admin)?;
    let ws = p.workspace;
    if st
        .blocking(move |s| Ok(s.revoke_api_key(ws, id, now_ms())?))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("active API key"))
    }
}

#[utoipa::path(get, path = "/api/v1/users", tag = "settings",
    responses((status = 200, description = "`{users: [{id, email, role, created_at}]}`", body = Object), (status = 403, body = ErrorBody)))]
async fn list_users(State(st): State<AppState>, Extension(p): Caller) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    let ws = p.workspace;
    let users = st.blocking(move |s| Ok(s.list_users(ws)?)).await?;
    let users: Vec<Value> = users
        .iter()
        .map(|u| json!({"id": u.id, "email": u.email, "role": u.role, "created_at": u.created_at}))
        .collect();
    Ok(Json(json!({ "users": users })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub role: String,
}

#[utoipa::path(post, path = "/api/v1/users", tag = "settings", request_body = NewUser,
    responses((status = 201, description = "`{id}`", body = Object), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_user(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiJson(req): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    p.require(Role::Admin)?;
    let role = parse_role(&req.role)?;
    let ws = p.workspace;
    let id = st
        .blocking(move |s| {
            Ok(credentials::create_user(
                s,
                ws,
                &req.email,
                &req.password,
                role,
                now_ms(),
            )?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WebhookListParams {
    /// The source: `instantly` (default) or `intent:<vendor>`.
    pub source: Option<String>,
    /// Newest first; 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// A stored delivery's body: its JSON, or the raw text when it is not JSON.
pub fn webhook_body(e: &leadgen_store::WebhookEvent) -> Value {
    serde_json::from_str::<Value>(&e.body).unwrap_or_else(|_| json!(e.body))
}

/// One stored delivery as the API shows it.
pub fn webhook_json(e: &leadgen_store::WebhookEvent) -> Value {
    let body = webhook_body(e);
    json!({
        "id": e.id,
        "source": e.source,
        "received_at": e.received_at,
        "status": e.status,
        "error": e.error,
        "event_type": e.event_type,
        "campaign_ref": e.campaign_ref,
        "dedupe_key": e.dedupe_key,
        "body": body,
    })
}

/// The source and limit a webhook listing asks for.
pub fn webhook_listing(q: &WebhookListParams) -> ApiResult<(String, usize)> {
    let name = q.source.as_deref().unwrap_or("instantly").trim().to_owned();
    if leadgen_app::webhook_intake::source_of(&name).is_none() {
        return Err(ApiError::bad_request(format!(
            "unknown webhook source '{name}'; use instantly or intent:<vendor>"
        ))
        .with_details(field("source")));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 500").with_details(field("limit")));
    }
    Ok((name, limit as usize))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "settings", params(WebhookListParams),
    responses((status = 200, description = "`{events: [{id, source, received_at, status, error, event_type, campaign_ref, body}]}`, newest first: every delivery, refused and malformed ones too", body = Object),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_webhooks(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<WebhookListParams>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    let (source, limit) = webhook_listing(&q)?;
    let ws = p.workspace;
    let events = st
        .blocking(move |s| Ok(s.list_webhooks(ws, &source, limit)?))
        .await?;
    let events: Vec<Value> = events.iter().map(webhook_json).collect();
    Ok(Json(json!({ "events": events })))
}

/// Replays a stored event; the API's answer for each outcome.
pub async fn replay_stored_webhook(st: &AppState, ws: WorkspaceId, id: i64) -> ApiResult<Value> {
    use leadgen_app::webhook_intake::{Replay, replay};
    match st
        .blocking(move |s| Ok(replay(s, ws, id, now_ms())?))
        .await?
    {
        Replay::NotFound => Err(ApiError::not_found("webhook event")),
        Replay::NotAnEvent(why) => Err(ApiError::conflict(why)),
        Replay::Done(Ok(effects)) => Ok(json!({"id": id, "processed": true, "effects": effects})),
        Replay::Done(Err(error)) => Ok(json!({"id": id, "processed": false, "error": error})),
    }
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "settings", params(("id" = i64, Path)),
    responses((status = 200, description = "`{id, processed, effects | error}`: the stored event processed again", body = Object),
        (status = 404, body = ErrorBody), (status = 409, description = "a refused or malformed delivery, kept for the record only", body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn replay_webhook(
    State(st): State<AppState>,
    Extension(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    Ok(Json(replay_stored_webhook(&st, p.workspace, id).await?))
}

/// The settings document: the workspace's stored settings (masked) over
/// the server's environment and config.
pub async fn settings_value(st: &AppState, ws: WorkspaceId) -> ApiResult<Value> {
    let secrets = st.existing_secrets()?;
    let state = st.clone();
    st.blocking(move |s| {
        let env = |k: &str| std::env::var(k).ok();
        Ok(leadgen_app::settings::settings_json(
            s,
            ws,
            state.config(),
            &env,
            secrets.as_ref(),
            now_ms(),
        )?)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/settings", tag = "settings",
    responses((status = 200, description = "`{services: [{id, name, env_prefix, used_for, key_set, key_source, key_ends_in, base_url, custom_base_url, daily_budget_usd, stored: {service, base_url, daily_budget_usd, updated_at}, connection_test}], secrets: [{variable, for, set}], spend: {day, today: [{provider, usd}], enrich_this_month_usd, enrich_monthly_budget_usd, per_lead_ceiling_usd, per_run_ceiling_usd}, scoring_source, scoring, waterfall}` — whether each key is set (and, for a stored key of 12 or more characters, its last four), never a key; values in force are the workspace's stored ones, else the environment's", body = Object),
        (status = 403, body = ErrorBody)))]
async fn get_settings(State(st): State<AppState>, Extension(p): Caller) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    Ok(Json(settings_value(&st, p.workspace).await?))
}
