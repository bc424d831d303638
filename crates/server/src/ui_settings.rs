//! The settings page's editable parts: a form per service (key, base URL,
//! daily budget) with a "Test connection" button, and the scoring-rules
//! editor. Plain CSRF-protected forms that re-render the page with the
//! result inline; they call the same functions as the API
//! (`settings_api`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Extension, Form, Router};
use leadgen_app::settings::{self, IntegrationUpdate};
use leadgen_store::Role;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::api::ApiPath;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::settings_api::{run_test, save_integration, save_scoring};
use crate::state::AppState;
use crate::ui::{CsrfOnly, csrf_field, error_page, settings_response};

pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/settings/integrations/{id}", post(integration_form))
        .route("/settings/integrations/{id}/test", post(test_form))
        .route("/settings/scoring", post(scoring_form))
        .route("/settings/scoring/reset", post(scoring_reset_form))
}

/// A message shown at the top of the settings page after a form.
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

pub fn flash_markup(f: &Flash) -> Markup {
    html! {
        @if f.ok { div.notice #settings-result role="status" { pre.wrap { (f.text) } } }
        @else { div.notice.bad #settings-result role="alert" { pre.wrap { (f.text) } } }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One service's row: what is in force, and its form.
pub fn integration_markup(p: &Principal, sv: &Value) -> Markup {
    let id = text(&sv["id"]);
    let stored = &sv["stored"];
    let key = match (text(&sv["key_source"]).as_str(), text(&sv["key_ends_in"])) {
        ("workspace", end) if !end.is_empty() => format!("set here, ends in …{end}"),
        ("workspace", _) => "set here".to_owned(),
        ("environment", _) => "set in the environment".to_owned(),
        _ => "not set".to_owned(),
    };
    let budget = text(&sv["daily_budget_usd"]);
    html! {
        tr id=(format!("service-{id}")) {
            td { (text(&sv["name"])) br; span.muted { (text(&sv["used_for"])) } }
            td { (key) }
            td { code.wrap { (text(&sv["base_url"])) } }
            td { @if budget.is_empty() { span.muted { "none" } } @else { "$" (budget) } }
            td {
                details {
                    summary { "Edit" }
                    form.stack method="post" action=(format!("/settings/integrations/{id}")) {
                        (csrf_field(p))
                        label { "API key (blank keeps the stored one)"
                            input type="password" name="api_key" autocomplete="off" maxlength="4000"; }
                        label.check { input type="checkbox" name="remove_key" value="1"; "Remove the stored key" }
                        label { "Base URL (blank: the environment's or the vendor's)"
                            input type="url" name="base_url" value=(text(&stored["base_url"])) placeholder=(text(&sv["base_url"])); }
                        label { "Daily budget, USD (blank: none stored)"
                            input type="number" name="daily_budget_usd" min="0" step="0.01" value=(text(&stored["daily_budget_usd"])); }
                        button type="submit" { "Save" }
                    }
                }
                @if let Some(test) = sv["connection_test"].as_str() {
                    form.inline method="post" action=(format!("/settings/integrations/{id}/test")) {
                        (csrf_field(p))
                        button type="submit" title=(format!("leadgen deliver test {test}")) { "Test connection" }
                    }
                }
            }
        }
    }
}

/// The scoring-rules editor: the rules in force as JSON; TOML also accepted.
pub fn scoring_markup(p: &Principal, settings: &Value, draft: Option<&str>) -> Markup {
    let current = serde_json::to_string_pretty(&settings["scoring"]).unwrap_or_default();
    let own = settings["scoring_source"] == "workspace";
    html! {
        form.stack method="post" action="/settings/scoring" {
            (csrf_field(p))
            label { "Scoring rules (JSON, or TOML as in the config's [scoring])"
                textarea name="rules" rows="14" spellcheck="false" { (draft.unwrap_or(&current)) } }
            button type="submit" { "Save scoring rules" }
        }
        @if own {
            form.inline method="post" action="/settings/scoring/reset" {
                (csrf_field(p))
                button type="submit" { "Use the config's rules again" }
            }
        }
    }
}

#[derive(Deserialize)]
struct IntegrationForm {
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    remove_key: Option<String>,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    daily_budget_usd: String,
    #[serde(rename = "csrf_token")]
    _csrf: Option<String>,
}

/// The page again, with `flash`; a failure answers with its status.
async fn with_flash(st: &AppState, p: &Principal, status: StatusCode, flash: Flash) -> Response {
    let mut r = settings_response(st, p, None, Some(flash), None).await;
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

async fn integration_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    Form(f): Form<IntegrationForm>,
) -> Response {
    if let Err(e) = p.require(Role::Admin) {
        return error_page(&p, e);
    }
    let budget = match f.daily_budget_usd.trim() {
        "" => None,
        b => match b.parse::<f64>() {
            Ok(v) => Some(v),
            Err(_) => {
                let e = ApiError::unprocessable(format!(
                    "daily_budget_usd: '{b}' is not an amount in dollars"
                ));
                return with_flash(
                    &st,
                    &p,
                    e.status,
                    Flash {
                        ok: false,
                        text: e.message,
                    },
                )
                .await;
            }
        },
    };
    let api_key = if f.remove_key.is_some() {
        Some(String::new())
    } else {
        Some(f.api_key).filter(|k| !k.trim().is_empty())
    };
    let base_url = f.base_url.trim();
    let update = IntegrationUpdate {
        api_key,
        base_url: Some((!base_url.is_empty()).then(|| base_url.to_owned())),
        daily_budget_usd: Some(budget),
    };
    match save_integration(&st, p.workspace, id.clone(), update).await {
        Ok(_) => Redirect::to(&format!("/settings#service-{id}")).into_response(),
        Err(e) if e.status.is_client_error() => {
            with_flash(
                &st,
                &p,
                e.status,
                Flash {
                    ok: false,
                    text: e.message,
                },
            )
            .await
        }
        Err(e) => error_page(&p, e),
    }
}

async fn test_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    Form(_f): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = p.require(Role::Admin) {
        return error_page(&p, e);
    }
    match run_test(&st, p.workspace, &id).await {
        Ok(r) => {
            let text = if r.ok {
                format!("{}: ok ({} ms) — {}", r.test, r.latency_ms, r.message)
            } else {
                format!(
                    "{}: FAILED ({}, {} ms) — {}",
                    r.test,
                    r.class.unwrap_or("error"),
                    r.latency_ms,
                    r.message
                )
            };
            with_flash(&st, &p, StatusCode::OK, Flash { ok: r.ok, text }).await
        }
        Err(e) => error_page(&p, e),
    }
}

#[derive(Deserialize)]
struct ScoringForm {
    rules: String,
    #[serde(rename = "csrf_token")]
    _csrf: Option<String>,
}

async fn scoring_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<ScoringForm>,
) -> Response {
    if let Err(e) = p.require(Role::Admin) {
        return error_page(&p, e);
    }
    let rules = match settings::parse_scoring_text(&f.rules) {
        Ok(r) => r,
        Err(e) => {
            let e = ApiError::from(e);
            let flash = Flash {
                ok: false,
                text: e.message,
            };
            let mut r = settings_response(&st, &p, None, Some(flash), Some(&f.rules)).await;
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return r;
        }
    };
    match save_scoring(&st, p.workspace, Some(rules)).await {
        Ok(()) => {
            let flash = Flash {
                ok: true,
                text: "Scoring rules saved; they apply to leads scored from now on.".into(),
            };
            with_flash(&st, &p, StatusCode::OK, flash).await
        }
        Err(e) => error_page(&p, e),
    }
}

async fn scoring_reset_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(_f): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = p.require(Role::Admin) {
        return error_page(&p, e);
    }
    match save_scoring(&st, p.workspace, None).await {
        Ok(()) => Redirect::to("/settings").into_response(),
        Err(e) => error_page(&p, e),
    }
}
