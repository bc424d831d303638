//! Campaign pages of the dashboard: the list, the builder (a segment box
//! whose count and sample rows `app.js` fetches from the preview endpoint
//! as one types), and a campaign's detail with its metrics and the Push
//! and Pause forms. The work is done by `campaigns_api`'s functions, so the
//! pages and the API answer alike.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use leadgen_app::campaigns::status;
use leadgen_store::Role;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::api::ApiPath;
use crate::auth::Principal;
use crate::campaigns_api::{self, NewCampaign};
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::{CsrfOnly, action_form, csrf_field, error_page, fmt_time, layout, page};

pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(list_page).post(create_form))
        .route("/campaigns/new", get(builder_page))
        .route("/campaigns/{id}", get(detail_page))
        .route("/campaigns/{id}/{action}", post(action))
}

async fn list_page(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    let ws = p.workspace;
    let list = match st
        .blocking(move |s| campaigns_api::campaign_list(s, ws))
        .await
    {
        Ok(l) => l,
        Err(e) => return error_page(&p, e),
    };
    let n = |v: &Value, k: &str| v["counts"][k].as_u64().unwrap_or(0);
    let body = html! {
        h1 { "Campaigns" }
        @if p.role >= Role::Member { p.actions { a.button href="/campaigns/new" { "New campaign" } } }
        div.table-wrap { table.campaigns {
            thead { tr { th { "Name" } th { "Status" } th { "Segment" } th { "Leads" } th { "Pushed" } th { "Pushed to CRM" } th { "Created" } } }
            tbody {
                @for c in &list {
                    tr {
                        td { a href=(format!("/campaigns/{}", c["id"])) { (c["name"].as_str().unwrap_or("")) } }
                        td { (c["status"].as_str().unwrap_or("")) }
                        td { code { (c["segment"].as_str().unwrap_or("")) } }
                        td.num { (n(c, "leads")) }
                        td.num { (n(c, "pushed")) }
                        td.num { (n(c, "pushed_to_crm")) }
                        td { (fmt_time(c["created_at"].as_i64().unwrap_or(0))) }
                    }
                }
            }
        } }
        @if list.is_empty() { p.muted { "No campaign yet." } }
    };
    page("Campaigns", &p, body)
}

#[derive(Deserialize, Default)]
struct BuilderParams {
    name: Option<String>,
    #[serde(rename = "where")]
    segment: Option<String>,
}

/// The builder: name, segment, and the live preview `app.js` fills in.
fn builder(p: &Principal, name: &str, segment: &str, error: Option<&str>) -> Markup {
    html! {
        p { a href="/campaigns" { "← Campaigns" } }
        h1 { "New campaign" }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if p.role < Role::Member { p.error { "Your role cannot create campaigns." } }
        form #campaign-form.builder method="post" action="/campaigns" {
            (csrf_field(p))
            label for="campaign-name" { "Name" }
            input #campaign-name type="text" name="name" value=(name) required maxlength="200";
            label for="segment" { "Segment" }
            textarea #segment name="where" rows="3" required spellcheck="false"
                placeholder="industry = \"dentist\" and state in (\"NY\",\"NJ\",\"CT\") and score >= 70 and email_status = \"valid\"" { (segment) }
            p.muted {
                "Fields: industry, state, city, country, source, title, company_domain, tier, intent, status, lifecycle, "
                "email_status, score, employee_count, created_at (YYYY-MM-DD), running_ads (true/false), tags has \"…\". "
                "Combine with and, or, not and parentheses."
            }
            div #segment-preview aria-live="polite" {
                p { strong #segment-count { "—" } " leads match" }
                p #segment-error.error role="alert" hidden {}
                div.table-wrap { table #segment-sample {
                    thead { tr { th { "Name" } th { "Email" } th { "Company" } th { "Industry" } th { "State" } th { "Score" } } }
                    tbody {}
                } }
            }
            @if p.role >= Role::Member { button type="submit" { "Create campaign" } }
        }
    }
}

async fn builder_page(
    Extension(p): Extension<Principal>,
    Query(q): Query<BuilderParams>,
) -> Response {
    let body = builder(
        &p,
        q.name.as_deref().unwrap_or(""),
        q.segment.as_deref().unwrap_or(""),
        None,
    );
    page("New campaign", &p, body)
}

#[derive(Deserialize)]
struct CampaignForm {
    name: String,
    #[serde(rename = "where")]
    segment: String,
    #[serde(rename = "csrf_token")]
    _csrf: Option<String>,
}

/// Creates the campaign and shows it; a refused one shows the builder
/// again with what was typed and why.
async fn create_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<CampaignForm>,
) -> Response {
    let req = NewCampaign {
        name: f.name.clone(),
        segment: f.segment.clone(),
    };
    match campaigns_api::create(&st, &p, req).await {
        Ok((id, _)) => Redirect::to(&format!("/campaigns/{id}")).into_response(),
        Err(e) if e.status == StatusCode::FORBIDDEN => error_page(&p, e),
        Err(e) => {
            let body = builder(&p, &f.name, &f.segment, Some(&e.message));
            (e.status, layout("New campaign", Some(&p), body)).into_response()
        }
    }
}

/// The metric cards of a campaign, in the order of the issue.
const METRICS: [(&str, &str); 8] = [
    ("leads", "leads"),
    ("pushed", "pushed to Instantly"),
    ("sent", "sent"),
    ("opened", "opened"),
    ("replied", "replied"),
    ("bounced", "bounced"),
    ("positive_replies", "positive replies"),
    ("pushed_to_crm", "pushed to CRM"),
];

async fn detail_page(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let ws = p.workspace;
    let v = match st
        .blocking(move |s| campaigns_api::campaign_detail(s, ws, id))
        .await
    {
        Ok(v) => v,
        Err(e) => return error_page(&p, e),
    };
    let c = &v["campaign"];
    let name = c["name"].as_str().unwrap_or("").to_owned();
    let state = c["status"].as_str().unwrap_or("");
    let can_write = p.role >= Role::Member;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    };
    let body = html! {
        p { a href="/campaigns" { "← Campaigns" } }
        h1 { (name) " " span.muted data-field="status" { "(" (state) ")" } }
        div.cards {
            @for (key, label) in METRICS {
                div.card { span.n data-metric=(key) { (v["metrics"][key].as_u64().unwrap_or(0)) } span { (label) } }
            }
        }
        @if can_write {
            p.actions {
                @if state != status::COMPLETED {
                    (action_form(&p, &format!("/campaigns/{id}/push"), "Push to Instantly"))
                }
                @if [status::DRAFT, status::LOADING, status::ACTIVE].contains(&state) {
                    " " (action_form(&p, &format!("/campaigns/{id}/pause"), "Pause"))
                }
            }
        }
        section {
            h2 { "Campaign" }
            table.fields { tbody {
                tr { th scope="row" { "Segment" } td { code { (text(&c["segment"])) } } }
                tr { th scope="row" { "Instantly campaign" } td { (text(&c["instantly_campaign_id"])) } }
                tr { th scope="row" { "Suppressed members" } td { (text(&v["counts"]["suppressed"])) } }
                tr { th scope="row" { "Upload batches" } td { (text(&v["counts"]["batches"])) } }
                tr { th scope="row" { "Created" } td { (fmt_time(c["created_at"].as_i64().unwrap_or(0))) } }
                tr { th scope="row" { "Updated" } td { (fmt_time(c["updated_at"].as_i64().unwrap_or(0))) } }
            } }
        }
        section {
            h2 { "Events from Instantly" }
            @let events = v["events"].as_object().cloned().unwrap_or_default();
            @if events.is_empty() { p.muted { "No event received yet." } }
            @else {
                table.fields { tbody {
                    @for (k, n) in &events { tr { th scope="row" { (k) } td.num { (text(n)) } } }
                } }
            }
        }
    };
    page(&name, &p, body)
}

/// The Push and Pause buttons.
async fn action(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((id, action)): ApiPath<(i64, String)>,
    Form(_f): Form<CsrfOnly>,
) -> Response {
    let done = match action.as_str() {
        "push" => campaigns_api::push(&st, &p, id, leadgen_app::campaigns::MAX_PUSH_BATCH)
            .await
            .map(|_| ()),
        "pause" => campaigns_api::pause(&st, &p, id).await.map(|_| ()),
        _ => Err(ApiError::not_found("action")),
    };
    match done {
        Ok(()) => Redirect::to(&format!("/campaigns/{id}")).into_response(),
        Err(e) => error_page(&p, e),
    }
}
