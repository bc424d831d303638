//! Segments and campaigns in the API: a segment's preview (count and best
//! leads), campaigns listed, created from a segment, shown with their
//! counts and metrics, pushed to Instantly (a queued job) and paused.
//! Viewers read; members write. The work is `leadgen_app::campaigns`, the
//! same functions the CLI calls.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use leadgen_app::campaigns::{self, CampaignError};
use leadgen_core::segment::{ParseError, Segment};
use leadgen_store::{Campaign, Role, Store};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiJson, ApiPath, ApiQuery, lead_value};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, field};
use crate::state::{AppState, now_ms};

/// The routes of this module, merged into [`crate::api::api_router`].
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview_segment))
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(get_campaign))
        .routes(routes!(push_campaign))
        .routes(routes!(pause_campaign))
}

/// A segment that does not parse: 400, naming the column (1-based) and the
/// byte offset where it went wrong.
pub(crate) fn segment_error(e: &ParseError) -> ApiError {
    ApiError::bad_request(format!("segment {e}"))
        .with_details(json!({ "field": "where", "column": e.pos + 1, "offset": e.pos }))
}

/// A `where=` parameter as a segment; blank is none.
pub(crate) fn parse_where(text: Option<&str>) -> ApiResult<Option<Segment>> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => Segment::parse(t).map(Some).map_err(|e| segment_error(&e)),
    }
}

impl From<CampaignError> for ApiError {
    fn from(e: CampaignError) -> ApiError {
        match e {
            CampaignError::Segment(p) => segment_error(&p),
            CampaignError::NotFound(_) => ApiError::not_found("campaign"),
            CampaignError::Conflict(m) => ApiError::conflict(m),
            CampaignError::Store(s) => s.into(),
        }
    }
}

/// A campaign's row without the raw analytics text (the detail parses it).
fn campaign_json(c: &Campaign) -> Value {
    without_metrics(json!(c))
}

fn without_metrics(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("metrics");
    }
    v
}

/// A campaign as listed: its row and its member counts.
fn campaign_value(c: &Campaign, counts: &leadgen_store::CampaignCounts) -> Value {
    let mut v = campaign_json(c);
    v["counts"] = json!(counts);
    v
}

/// Every campaign of the workspace, newest first, with its counts; shared
/// with the dashboard.
pub(crate) fn campaign_list(s: &dyn Store, ws: i64) -> ApiResult<Vec<Value>> {
    s.list_campaigns(ws)?
        .iter()
        .map(|c| Ok(campaign_value(c, &s.campaign_counts(ws, c.id)?)))
        .collect()
}

/// One campaign: `{campaign, counts, events, instantly_analytics,
/// metrics}`; shared with the dashboard.
pub(crate) fn campaign_detail(s: &dyn Store, ws: i64, id: i64) -> ApiResult<Value> {
    let mut v = campaigns::show(s, ws, id)?;
    v["campaign"] = without_metrics(v["campaign"].take());
    Ok(v)
}

// -------------------------------------------------------------- segments

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewParams {
    /// The segment, e.g. `industry = "dentist" and state in ("NY","NJ") and score >= 70`.
    #[serde(rename = "where")]
    #[param(rename = "where")]
    pub segment: String,
    /// Sample leads, best score first: 0–50, default 10.
    pub sample: Option<u32>,
}

/// A segment's size and best leads; shared with the dashboard.
pub(crate) async fn preview(
    st: &AppState,
    p: &Principal,
    segment: String,
    sample: u32,
) -> ApiResult<Value> {
    if sample > 50 {
        return Err(ApiError::bad_request("sample must be 0 to 50").with_details(field("sample")));
    }
    // Parsed here too, so a bad segment never reaches the blocking pool.
    parse_where(Some(&segment))?;
    let ws = p.workspace;
    let pv = st
        .blocking(move |s| Ok(campaigns::preview(s, ws, &segment, sample)?))
        .await?;
    let sample: Vec<Value> = pv.sample.iter().map(lead_value).collect();
    Ok(json!({ "count": pv.count, "sample": sample }))
}

#[utoipa::path(get, path = "/api/v1/segments/preview", tag = "campaigns", params(PreviewParams),
    responses(
        (status = 200, description = "`{count, sample: [leads]}`: how many leads the segment selects, and the best-scored few", body = Object),
        (status = 400, description = "The segment does not parse; `details` name the column", body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn preview_segment(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<PreviewParams>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        preview(&st, &p, q.segment, q.sample.unwrap_or(10)).await?,
    ))
}

// ------------------------------------------------------------- campaigns

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns",
    responses((status = 200, description = "`{campaigns: [...]}`, newest first, each with its counts", body = Object)))]
async fn list_campaigns(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let ws = p.workspace;
    let list = st.blocking(move |s| campaign_list(s, ws)).await?;
    Ok(Json(json!({ "campaigns": list })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    pub name: String,
    /// The segment whose leads the campaign takes.
    #[serde(rename = "where")]
    pub segment: String,
}

/// Creates a campaign from a form or a JSON body; its id and member count.
pub(crate) async fn create(
    st: &AppState,
    p: &Principal,
    req: NewCampaign,
) -> ApiResult<(i64, u64)> {
    p.require(Role::Member)?;
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(
            ApiError::unprocessable("name must be 1 to 200 characters").with_details(field("name"))
        );
    }
    parse_where(Some(&req.segment))?
        .ok_or_else(|| ApiError::bad_request("give a segment").with_details(field("where")))?;
    member_write(st, p, move |s, ws, now| {
        campaigns::create(s, ws, &name, &req.segment, now)
    })
    .await
}

/// A write through `leadgen_app::campaigns` in the caller's workspace, on
/// the blocking pool; the caller must be a member (checked first).
async fn member_write<T: Send + 'static>(
    st: &AppState,
    p: &Principal,
    f: impl FnOnce(&dyn Store, i64, i64) -> Result<T, CampaignError> + Send + 'static,
) -> ApiResult<T> {
    p.require(Role::Member)?;
    let ws = p.workspace;
    st.blocking(move |s| Ok(f(s, ws, now_ms())?)).await
}

#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = NewCampaign,
    responses(
        (status = 201, description = "`{id, preview_count}`: the campaign, in draft, with the segment's current leads as members", body = Object),
        (status = 400, description = "The segment does not parse", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_campaign(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(req): ApiJson<NewCampaign>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (id, members) = create(&st, &p, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "preview_count": members })),
    ))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "`{campaign, counts, events, instantly_analytics, metrics}`; metrics: leads, pushed, sent, opened, replied, bounced, positive_replies, pushed_to_crm", body = Object),
        (status = 404, body = ErrorBody)))]
async fn get_campaign(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let ws = p.workspace;
    Ok(Json(
        st.blocking(move |s| campaign_detail(s, ws, id)).await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PushParams {
    /// Leads per Instantly request: 1–1000, default 1000.
    pub batch_size: Option<usize>,
}

/// Queues a campaign's push; the job id.
pub(crate) async fn push(st: &AppState, p: &Principal, id: i64, batch: usize) -> ApiResult<i64> {
    p.require(Role::Member)?;
    if !(1..=campaigns::MAX_PUSH_BATCH).contains(&batch) {
        return Err(
            ApiError::bad_request("batch_size must be 1 to 1000").with_details(field("batch_size"))
        );
    }
    member_write(st, p, move |s, ws, now| {
        campaigns::enqueue_push(s, ws, id, batch, now)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/push", tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id"), PushParams),
    responses(
        (status = 202, description = "`{campaign, job_id}`: a push_to_instantly job is queued; the campaign is `loading`", body = Object),
        (status = 404, body = ErrorBody), (status = 409, description = "The campaign is completed", body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn push_campaign(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PushParams>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let batch = q.batch_size.unwrap_or(campaigns::MAX_PUSH_BATCH);
    let job = push(&st, &p, id, batch).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "campaign": id, "job_id": job })),
    ))
}

/// Pauses a campaign; shared with the dashboard.
pub(crate) async fn pause(st: &AppState, p: &Principal, id: i64) -> ApiResult<Campaign> {
    member_write(st, p, move |s, ws, now| campaigns::pause(s, ws, id, now)).await
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/pause", tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "The campaign, `paused`: a running push stops before its next batch", body = Object),
        (status = 404, body = ErrorBody), (status = 409, description = "The campaign is completed", body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn pause_campaign(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(campaign_json(&pause(&st, &p, id).await?)))
}
