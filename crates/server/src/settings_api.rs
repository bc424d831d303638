//! Editing settings: a service's stored credentials and budget, its
//! connection test, and the workspace's scoring rules. Admins only; keys
//! are sealed by the store and never answered (see `leadgen_app::settings`).
//! The dashboard's forms (`ui_settings`) call the same functions.

use axum::Extension;
use axum::Json;
use leadgen_app::connection_test::{self, NotPublic, TestContext, TestReport, public_address};
use leadgen_app::delivery::ChannelSettings;
use leadgen_app::settings::{self, IntegrationUpdate, SettingsError};
use leadgen_core::WorkspaceId;
use leadgen_core::score::ScoringRules;
use leadgen_store::Role;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiJson, ApiPath};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, field};
use crate::state::{AppState, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_integration))
        .routes(routes!(test_integration))
        .routes(routes!(put_scoring, delete_scoring))
}

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> ApiError {
        match e {
            SettingsError::Invalid { field: f, message } => {
                ApiError::unprocessable(format!("{f}: {message}")).with_details(field(&f))
            }
            e @ SettingsError::UnknownService(_) => ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                e.to_string(),
            ),
            SettingsError::Store(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

/// The service's entry of the settings document (masked).
async fn service_status(st: &AppState, ws: WorkspaceId, id: &str) -> ApiResult<Value> {
    let doc = crate::api::settings_value(st, ws).await?;
    Ok(doc["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == id))
        .cloned()
        .unwrap_or(Value::Null))
}

/// Stores `update` for service `id` of `ws`; the service's masked status.
pub async fn save_integration(
    st: &AppState,
    ws: WorkspaceId,
    id: String,
    update: IntegrationUpdate,
) -> ApiResult<Value> {
    let secrets = st.secrets()?;
    // Jobs call a stored base URL without asking again: one that is or
    // resolves to a private or loopback address is refused here, as the
    // connection test refuses it. A name that does not resolve now is kept.
    if let Some(Some(url)) = &update.base_url
        && !url.trim().is_empty()
        && !st.opts().allow_private_network
        && let Err(NotPublic::Private(why)) = public_address(url.trim()).await
    {
        return Err(ApiError::unprocessable(format!(
            "base_url {why}; only public addresses are called"
        ))
        .with_details(field("base_url")));
    }
    let service = id.clone();
    st.blocking(move |s| {
        settings::save_integration(s, ws, &secrets, &service, update, now_ms())?;
        Ok(())
    })
    .await?;
    tracing::info!(workspace = ws, service = %id, "integration settings changed");
    service_status(st, ws, &id).await
}

#[utoipa::path(put, path = "/api/v1/settings/integrations/{service}", tag = "settings",
    params(("service" = String, Path, description = "A service id from `GET /api/v1/settings` (`hunter`, `hubspot`, …)")),
    request_body(content = Object, description = "`{api_key?, base_url?, daily_budget_usd?}`: a field left out stays as it is; `api_key: \"\"` removes the stored key; `base_url` or `daily_budget_usd` `null` removes that value. Stored values win over the environment's."),
    responses((status = 200, description = "The service as `GET /api/v1/settings` shows it: the key only as `key_set` and `key_ends_in`", body = Object),
        (status = 404, description = "no such service", body = ErrorBody),
        (status = 422, description = "a bad value; `details.field` names it", body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn put_integration(
    axum::extract::State(st): axum::extract::State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(service): ApiPath<String>,
    ApiJson(update): ApiJson<IntegrationUpdate>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    Ok(Json(
        save_integration(&st, p.workspace, service, update).await?,
    ))
}

/// Runs the connection test `name` (a test or a service id) as workspace
/// `ws` sees its settings.
pub async fn run_test(st: &AppState, ws: WorkspaceId, name: &str) -> ApiResult<TestReport> {
    let test = connection_test::find(name).ok_or_else(|| {
        ApiError::not_found(&format!(
            "connection test for '{name}' (tests: {})",
            connection_test::CONNECTION_TESTS
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let env = st.workspace_env(ws).await?;
    let e = env.clone();
    let channels = st
        .blocking(move |s| {
            ChannelSettings::load(s, ws, &e).map_err(|e| ApiError::unprocessable(e.to_string()))
        })
        .await?;
    let ctx = TestContext {
        env,
        channels,
        allow_private_network: st.opts().allow_private_network,
    };
    let report = connection_test::run(test, ctx).await;
    tracing::info!(workspace = ws, test = test.name, ok = report.ok, class = ?report.class, latency_ms = report.latency_ms, "connection test");
    Ok(report)
}

#[utoipa::path(post, path = "/api/v1/settings/integrations/{service}/test", tag = "settings",
    params(("service" = String, Path, description = "A service id with a connection test (`hubspot`, `novacrm`, `instantly`, `resend`) or a test name (`slack`, `webhook`, `email`, `platform`)")),
    responses((status = 200, description = "`{test, ok, class, message, latency_ms}`: the test ran (`ok` false when the service refused; `class` is auth, transport, rate_limited, server, decode, bad_request, config or refused)", body = Object),
        (status = 404, description = "no connection test for that name", body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn test_integration(
    axum::extract::State(st): axum::extract::State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(service): ApiPath<String>,
) -> ApiResult<Json<TestReport>> {
    p.require(Role::Admin)?;
    Ok(Json(run_test(&st, p.workspace, &service).await?))
}

/// Stores `rules` (already validated) for `ws`, or goes back to the config's.
pub async fn save_scoring(
    st: &AppState,
    ws: WorkspaceId,
    rules: Option<ScoringRules>,
) -> ApiResult<()> {
    st.blocking(move |s| {
        settings::save_scoring(s, ws, rules.as_ref(), now_ms())?;
        Ok(())
    })
    .await?;
    tracing::info!(workspace = ws, "scoring rules changed");
    Ok(())
}

fn scoring_reply(rules: &ScoringRules, source: &str) -> Value {
    serde_json::json!({"scoring": rules, "scoring_source": source,
        "rescoring": "not automatic: the rules apply to leads scored from now on"})
}

#[utoipa::path(put, path = "/api/v1/settings/scoring", tag = "settings",
    request_body(content = Object, description = "The config's `[scoring]` as JSON: `{rules: [{name, weight, op, field, …}], tier_a, tier_b}`"),
    responses((status = 200, description = "`{scoring, scoring_source, rescoring}`", body = Object),
        (status = 422, description = "rules that do not parse or validate; `details.field` names the field (`tier_a`, `rules[1].field`)", body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn put_scoring(
    axum::extract::State(st): axum::extract::State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    let rules = settings::parse_scoring(body)?;
    save_scoring(&st, p.workspace, Some(rules.clone())).await?;
    Ok(Json(scoring_reply(&rules, "workspace")))
}

#[utoipa::path(delete, path = "/api/v1/settings/scoring", tag = "settings",
    responses((status = 200, description = "`{scoring, scoring_source: \"config\"}`: the workspace's rules removed; the config's apply", body = Object),
        (status = 403, body = ErrorBody)))]
async fn delete_scoring(
    axum::extract::State(st): axum::extract::State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    p.require(Role::Admin)?;
    save_scoring(&st, p.workspace, None).await?;
    Ok(Json(scoring_reply(&st.config().scoring, "config")))
}
