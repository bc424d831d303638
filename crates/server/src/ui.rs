//! The dashboard: server-rendered HTML (maud escapes every interpolated
//! string), one stylesheet, one small script, charts as inline SVG, and live
//! counters over Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use leadgen_store::Role;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::api::{
    ApiPath, CompanyListParams, LeadListParams, WebhookListParams, company_filter,
    company_with_leads, lead_detail, lead_query, lead_selection, replay_stored_webhook, run_value,
    webhook_body, webhook_listing,
};
use crate::auth::{CSRF_FIELD, Principal, SESSION_COOKIE};
use crate::credentials;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, now_ms};

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");

/// Pages anyone may load: the login form and the static assets.
pub fn public_pages() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
}

/// Pages behind authentication.
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/logout", post(logout))
        .route("/leads", get(leads_page))
        .route("/leads/{id}", get(lead_page))
        .route("/leads/verify", post(verify_form))
        .route("/leads/enrich", post(enrich_form))
        .route("/companies", get(companies_page))
        .route("/companies/{id}", get(company_page))
        .route("/upload", get(upload_page))
        .route("/upload/preview", post(upload_preview))
        .route("/runs", get(runs_page))
        .route("/runs/{id}/{action}", post(run_form_action))
        .route("/jobs/{id}/{action}", post(job_form_action))
        .route("/settings", get(settings_page))
        .route("/webhooks", get(webhooks_page))
        .route("/webhooks/{id}/replay", post(replay_webhook_form))
        .route("/settings/api-keys", post(create_key_form))
        .route("/settings/api-keys/{id}/revoke", post(revoke_key_form))
        .route("/settings/users", post(create_user_form))
        .route("/events", get(events))
        .merge(crate::ui_campaigns::pages())
        .merge(crate::ui_settings::pages())
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        JS,
    )
        .into_response()
}

/// Every page's frame: head, navigation, the CSRF token for scripts.
pub(crate) fn layout(title: &str, p: Option<&Principal>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(p) = p { meta name="csrf-token" content=(p.csrf_token()); }
                title { (title) " · leadgen" }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                @if let Some(p) = p {
                    header.top {
                        a.brand href="/" { "leadgen" }
                        nav aria-label="Main" {
                            a href="/" { "Home" }
                            a href="/leads" { "Leads" }
                            a href="/companies" { "Companies" }
                            a href="/campaigns" { "Campaigns" }
                            a href="/upload" { "Upload" }
                            a href="/runs" { "Runs & jobs" }
                            @if p.role >= Role::Admin { a href="/settings" { "Settings" } }
                        }
                        form.logout method="post" action="/logout" {
                            (csrf_field(p))
                            span.who { (p.label()) " (" (p.role.as_str()) ")" }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub(crate) fn csrf_field(p: &Principal) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(p.csrf_token()); }
}

pub(crate) fn page(title: &str, p: &Principal, body: Markup) -> Response {
    layout(title, Some(p), body).into_response()
}

/// Errors on pages: the same message as the API, as a page.
pub(crate) fn error_page(p: &Principal, e: ApiError) -> Response {
    let status = e.status;
    let body = html! {
        h1 { "Something went wrong" }
        p.error role="alert" { (e.message) }
        p { a href="/" { "Back to the dashboard" } }
    };
    (status, layout("Error", Some(p), body)).into_response()
}

pub(crate) fn fmt_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

// ---------------------------------------------------------------- login

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

fn login_markup(error: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            section.login {
                h1 { "Log in to leadgen" }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action="/login" {
                    label for="email" { "Email" }
                    input #email type="email" name="email" autocomplete="username" required;
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

async fn login_page() -> Markup {
    login_markup(None)
}

/// The login limiter's bucket for an email.
fn email_bucket(email: &str) -> i64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    email.trim().to_lowercase().hash(&mut h);
    h.finish() as i64
}

async fn login(State(st): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    if let Err(wait) = st.inner.login_limiter.take(email_bucket(&f.email)) {
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            login_markup(Some(
                "Too many attempts for this email; wait a little and try again.",
            )),
        )
            .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(wait));
        return resp;
    }
    let ttl = st.opts().session_ttl_ms;
    let result = st
        .blocking(move |s| {
            credentials::login(s, &f.email, &f.password, now_ms(), ttl).map_err(ApiError::from)
        })
        .await;
    match result {
        Ok(Some((token, su))) => {
            tracing::info!(user = su.user.id, "logged in");
            let secure = if st.opts().secure_cookies {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                ttl / 1000
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            login_markup(Some("Wrong email or password.")),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn logout(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    if let crate::auth::Via::Session { token_hash, .. } = p.via {
        let _ = st
            .blocking(move |s| Ok(s.delete_session(&token_hash)?))
            .await;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

// ----------------------------------------------------------------- home

/// A horizontal bar chart as inline SVG.
fn bar_chart(title: &str, rows: &[(String, u64)]) -> Markup {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let h = rows.len() as u32 * 26 + 4;
    html! {
        figure.chart {
            figcaption { (title) }
            @if rows.is_empty() { p.muted { "No leads yet." } }
            svg viewBox=(format!("0 0 320 {h}")) role="img" aria-label=(title) {
                @for (i, (label, n)) in rows.iter().enumerate() {
                    @let y = i as u32 * 26 + 2;
                    @let w = (*n as f64 / max as f64 * 180.0).max(1.0);
                    text x="0" y=(y + 16) { (label) }
                    rect x="110" y=(y + 3) width=(format!("{w:.1}")) height="18" rx="3" {}
                    text x=(format!("{:.1}", 116.0 + w)) y=(y + 16) { (n) }
                }
            }
        }
    }
}

fn progress_bar(label: &str, fraction: f64, id: &str) -> Markup {
    let pct = (fraction.clamp(0.0, 1.0) * 100.0).round();
    html! {
        div.progress role="progressbar" aria-label=(label) aria-valuemin="0" aria-valuemax="100"
            aria-valuenow=(pct) data-progress=(id) {
            div.bar style=(format!("width:{pct}%")) {}
        }
    }
}

async fn home(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    let ws = p.workspace;
    let data = st
        .blocking(move |s| {
            let stats = s.stats(ws)?;
            let queue = s.queue_stats(ws, now_ms())?;
            let runs = s.list_runs(ws, 10)?;
            Ok((stats, queue, runs))
        })
        .await;
    let (stats, queue, runs) = match data {
        Ok(d) => d,
        Err(e) => return error_page(&p, e),
    };
    let count_of = |name: &str| {
        stats
            .by_status
            .iter()
            .find(|(s, _)| s == name)
            .map_or(0, |(_, n)| *n)
    };
    let pending = queue
        .by_status
        .iter()
        .find(|(s, _)| s.as_str() == "pending")
        .map_or(0, |(_, n)| *n);
    let active: Vec<_> = runs
        .iter()
        .filter(|r| matches!(r.status.as_str(), "running" | "paused"))
        .collect();
    let body = html! {
        h1 { "Overview" }
        div.cards {
            div.card { span.n data-stat="leads" { (stats.leads) } span { "leads" } }
            div.card { span.n { (count_of("validated")) } span { "validated" } }
            div.card { span.n { (stats.with_email) } span { "with email" } }
            div.card { span.n { (stats.batches) } span { "imports" } }
            div.card { span.n data-stat="pending" { (pending) } span { "jobs pending" } }
        }
        p.actions {
            a.button href="/upload" { "Upload CSV" } " "
            a.button href="/leads" { "Browse leads" } " "
            a.button href="/campaigns/new" { "New campaign" }
        }
        section {
            h2 { "Active runs" }
            @if active.is_empty() { p.muted { "No run is active." } }
            @for r in &active {
                @let v = run_value(r);
                div.run {
                    span { (r.name) " — " (r.status.as_str()) }
                    (progress_bar(&r.name, v["progress"].as_f64().unwrap_or(0.0), &format!("run-{}", r.id)))
                }
            }
        }
        div.charts {
            (bar_chart("Leads by status", &stats.by_status))
            (bar_chart("Leads by tier", &stats.by_tier))
        }
    };
    page("Overview", &p, body)
}

// ---------------------------------------------------------------- leads

/// The status filter's choices; "" is any.
const STATUSES: [&str; 8] = [
    "",
    "raw",
    "enriching",
    "enriched",
    "validated",
    "invalid",
    "pushed_to_crm",
    "pushed_to_instantly",
];

async fn leads_page(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(params): Query<LeadListParams>,
) -> Response {
    let q = match lead_query(&params) {
        Ok(q) => q,
        Err(e) => return error_page(&p, e),
    };
    let ws = p.workspace;
    let page_data = match st.blocking(move |s| Ok(s.query_leads(ws, &q)?)).await {
        Ok(x) => x,
        Err(e) => return error_page(&p, e),
    };
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let filters = filter_pairs(&params);
    let next_link = page_data.next.map(|c| {
        let mut pairs = filters.clone();
        pairs.push(("sort", v(&params.sort)));
        pairs.push(("cursor", c.encode()));
        pairs.retain(|(_, val)| !val.is_empty());
        format!(
            "/leads?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    });
    let status = v(&params.status);
    let sort = v(&params.sort);
    let score = |s: Option<u8>| s.map(|n| n.to_string()).unwrap_or_default();
    let body = html! {
        h1 { "Leads" }
        form.filters method="get" action="/leads" role="search" {
            label { "Search" input type="search" name="q" value=(v(&params.q)) placeholder="name, email, company"; }
            @if let Some(d) = params.company_domain.as_deref().filter(|d| !d.is_empty()) {
                label { "Company domain" input type="text" name="company_domain" value=(d); }
            }
            label { "Status"
                select name="status" {
                    @for s in STATUSES {
                        option value=(s) selected[status == s] { @if s.is_empty() { "any" } @else { (s) } }
                    }
                }
            }
            label { "Source" input type="text" name="source" value=(v(&params.source)); }
            label { "Tag" input type="text" name="tag" value=(v(&params.tag)); }
            label { "Segment" input type="text" name="where" value=(v(&params.segment)) placeholder="industry = \"dentist\" and score >= 70"; }
            label { "Min score" input type="number" min="0" max="100" name="min_score" value=(score(params.min_score)); }
            label { "Max score" input type="number" min="0" max="100" name="max_score" value=(score(params.max_score)); }
            label { "Sort"
                select name="sort" {
                    option value="newest" selected[sort == "newest" || sort.is_empty()] { "newest" }
                    option value="oldest" selected[sort == "oldest"] { "oldest" }
                    option value="score" selected[sort == "score"] { "score" }
                }
            }
            button type="submit" { "Filter" }
        }
        @if p.role >= Role::Member && !page_data.leads.is_empty() {
            @for (action, label) in [("verify", "Verify the matching leads"), ("enrich", "Enrich the matching leads")] {
                form.actions method="post" action=(format!("/leads/{action}")) {
                    (csrf_field(&p))
                    @for (k, val) in &filters { input type="hidden" name=(k) value=(val); }
                    button type="submit" { (label) }
                }
            }
        }
        (leads_table(&page_data.leads))
        @if page_data.leads.is_empty() { p.muted { "No lead matches." } }
        @if let Some(href) = next_link { p { a.button href=(href) rel="next" { "Next page →" } } }
    };
    page("Leads", &p, body)
}

/// The listing's filters as query pairs (set ones only), for links and forms.
fn filter_pairs(params: &LeadListParams) -> Vec<(&'static str, String)> {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let mut pairs = vec![
        ("status", v(&params.status)),
        ("source", v(&params.source)),
        ("tag", v(&params.tag)),
        ("q", v(&params.q)),
        ("company_domain", v(&params.company_domain)),
        ("where", v(&params.segment)),
        (
            "min_score",
            params.min_score.map(|m| m.to_string()).unwrap_or_default(),
        ),
        (
            "max_score",
            params.max_score.map(|m| m.to_string()).unwrap_or_default(),
        ),
    ];
    pairs.retain(|(_, val)| !val.is_empty());
    pairs
}

/// "Verify the matching leads": one validate_email job per lead with an
/// email among the first 10,000 that match, then the runs page.
async fn verify_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(params): Form<LeadListParams>,
) -> Response {
    lead_jobs_form(st, p, params, leadgen_app::lead_jobs::enqueue_verifications).await
}

/// "Enrich the matching leads": one enrich_lead job per lead the waterfall
/// can work on among the first 10,000 that match, then the runs page.
async fn enrich_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(params): Form<LeadListParams>,
) -> Response {
    lead_jobs_form(st, p, params, leadgen_app::lead_jobs::enqueue_enrichments).await
}

async fn lead_jobs_form(
    st: AppState,
    p: Principal,
    params: LeadListParams,
    enqueue: leadgen_app::lead_jobs::EnqueueFn,
) -> Response {
    if let Err(e) = p.require(Role::Member) {
        return error_page(&p, e);
    }
    let selection = match lead_selection(&params, Vec::new(), None) {
        Ok(s) => s,
        Err(e) => return error_page(&p, e),
    };
    let ws = p.workspace;
    match st
        .blocking(move |s| Ok(enqueue(s, ws, &selection, now_ms())?))
        .await
    {
        Ok(_) => Redirect::to("/runs").into_response(),
        Err(e) => error_page(&p, e),
    }
}

/// The table of leads on the leads page and a company's page.
fn leads_table(leads: &[leadgen_core::Lead]) -> Markup {
    html! {
        div.table-wrap {
            table.leads {
                thead { tr { th { "Name" } th { "Email" } th { "Company" } th { "Title" } th { "Status" } th { "Score" } th { "Source" } } }
                tbody {
                    @for l in leads {
                        tr {
                            td { a href=(format!("/leads/{}", l.id)) { (l.full_name().unwrap_or_else(|| format!("#{}", l.id))) } }
                            td { (l.email.as_ref().map(|e| e.as_str()).unwrap_or("")) }
                            td { (l.company_name.as_deref().unwrap_or("")) }
                            td { (l.title.as_deref().unwrap_or("")) }
                            td { (l.status.as_str()) }
                            td.num { (l.score) }
                            td { (l.source) }
                        }
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------ companies

async fn companies_page(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(params): Query<CompanyListParams>,
) -> Response {
    let f = match company_filter(&params) {
        Ok(f) => f,
        Err(e) => return error_page(&p, e),
    };
    let ws = p.workspace;
    let limit = f.limit;
    let list = match st
        .blocking(move |s| Ok((s.list_companies(ws, &f)?, s.count_companies(ws)?)))
        .await
    {
        Ok(x) => x,
        Err(e) => return error_page(&p, e),
    };
    let (companies, total) = list;
    let state = params.state.clone().unwrap_or_default();
    let next_link = companies
        .last()
        .filter(|_| companies.len() as u32 == limit)
        .map(|c| {
            let mut pairs = vec![("after", c.id.to_string())];
            if !state.is_empty() {
                pairs.push(("state", state.clone()));
            }
            format!(
                "/companies?{}",
                serde_urlencoded::to_string(&pairs).unwrap_or_default()
            )
        });
    let body = html! {
        h1 { "Companies " span.muted { "(" (total) ")" } }
        form.filters method="get" action="/companies" role="search" {
            label { "State" input type="text" name="state" value=(state) maxlength="2" size="3" placeholder="NY"; }
            button type="submit" { "Filter" }
        }
        div.table-wrap {
            table.companies {
                thead { tr { th { "Name" } th { "Domain" } th { "Phone" } th { "Place" } th { "Industry" } th { "Ads" } th { "Rating" } } }
                tbody {
                    @for c in &companies {
                        tr {
                            td { a href=(format!("/companies/{}", c.id)) { (c.name.as_ref().map_or_else(|| format!("#{}", c.id), |n| n.as_str().to_owned())) } }
                            td { (c.domain.as_ref().map_or("", |d| d.as_str())) }
                            td { (c.phone.as_ref().map(|p| p.canonical()).unwrap_or_default()) }
                            td { ([c.city.as_deref(), c.state.as_deref(), c.postal_code.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")) }
                            td { (c.industry.as_deref().unwrap_or("")) }
                            td { (c.ad_platforms().join(", ")) }
                            td.num { @if let Some(r) = c.rating { (format!("{r:.1}")) } }
                        }
                    }
                }
            }
        }
        @if companies.is_empty() { p.muted { "No company yet: `leadgen scrape google-maps` or `leadgen scrape meta-ads` find them." } }
        @if let Some(href) = next_link { p { a.button href=(href) rel="next" { "Next page →" } } }
    };
    page("Companies", &p, body)
}

async fn company_page(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let ws = p.workspace;
    let found = st
        .blocking(move |s| company_with_leads(s, ws, id, false))
        .await;
    let (c, v, leads) = match found {
        Ok(x) => x,
        Err(e) => return error_page(&p, e),
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let name = c
        .name
        .as_ref()
        .map_or_else(|| format!("Company #{id}"), |n| n.as_str().to_owned());
    let body = html! {
        p { a href="/companies" { "← Companies" } }
        h1 { (name) }
        section {
            h2 { "Fields" }
            table.fields {
                tbody {
                    @for (k, val) in v.as_object().into_iter().flatten() {
                        @if !val.is_null() && k != "id" && val != &Value::Array(Vec::new()) {
                            tr { th scope="row" { (k) } td { (text(val)) } }
                        }
                    }
                    @for (k, val) in &c.custom {
                        tr { th scope="row" { (k) } td { (val) } }
                    }
                }
            }
        }
        section {
            h2 { "Leads at this company" }
            @match &c.domain {
                Some(d) => {
                    (leads_table(&leads))
                    @if leads.is_empty() { p.muted { "No lead with the company domain " (d.as_str()) " yet." } }
                    @else { p { a href=(format!("/leads?company_domain={}", d.as_str())) { "All its leads →" } } }
                }
                None => { p.muted { "Without a known domain, leads cannot be matched to this company." } }
            }
        }
    };
    page(&name, &p, body)
}

async fn lead_page(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let ws = p.workspace;
    let state = st.clone();
    let detail = st.blocking(move |s| {
        let rules = leadgen_app::settings::scoring_rules(s, ws, state.config())?;
        lead_detail(s, &rules, ws, id)
    });
    let d = match detail.await {
        Ok(d) => d,
        Err(e) => return error_page(&p, e),
    };
    let lead = d["lead"].as_object().cloned().unwrap_or_default();
    let fields = d["provenance"]["fields"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let records = d["provenance"]["records"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let source_of = |f: &str| -> String {
        let rec = fields.get(f).and_then(Value::as_str).unwrap_or("");
        records.get(rec).map_or_else(String::new, |r| {
            format!("{} line {}", text(&r["batch"]), text(&r["line"]))
        })
    };
    let name = [text(&lead["first_name"]), text(&lead["last_name"])]
        .join(" ")
        .trim()
        .to_owned();
    let body = html! {
        p { a href="/leads" { "← Leads" } }
        h1 { @if name.is_empty() { "Lead #" (id) } @else { (name) } }
        section {
            h2 { "Fields" }
            table.fields {
                thead { tr { th { "Field" } th { "Value" } th { "Source" } } }
                tbody {
                    @for (k, v) in &lead {
                        @if !v.is_null() && k != "custom_fields" {
                            tr { th scope="row" { (k) } td { (text(v)) } td.muted { (source_of(k)) } }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Score " (text(&d["score"]["score"])) " (" (text(&d["score"]["tier"])) ")" }
            ul.factors {
                @for f in d["score"]["factors"].as_array().into_iter().flatten() {
                    li.matched[f["matched"].as_bool().unwrap_or(false)] {
                        (text(&f["rule"])) " — weight " (text(&f["weight"]))
                        @if f["matched"].as_bool().unwrap_or(false) { " ✓" } @else { " ✗" }
                    }
                }
            }
        }
        section {
            h2 { "Verification" }
            @if d["verification"].is_null() { p.muted { "Not verified yet." } }
            @else { p { (text(&d["verification"]["status"])) " (score " (text(&d["verification"]["score"])) ")" } }
        }
        section {
            h2 { "Source records" }
            @for (rid, r) in &records {
                details {
                    summary { (text(&r["batch"])) " line " (text(&r["line"])) " — " (text(&r["source"])) " (record " (rid) ")" }
                    table {
                        @for (h, c) in r["cells"].as_object().into_iter().flatten() {
                            tr { th scope="row" { (h) } td { (text(c)) } }
                        }
                    }
                }
            }
        }
    };
    page("Lead", &p, body)
}

// --------------------------------------------------------------- upload

async fn upload_page(Extension(p): Extension<Principal>) -> Response {
    let body = html! {
        h1 { "Upload a CSV" }
        @if p.role < Role::Member { p.error { "Your role cannot import." } }
        @else {
            form #upload-form {
                div #drop.drop tabindex="0" {
                    p { "Drop a CSV file here, or choose one:" }
                    label for="file" { "CSV file" }
                    input #file type="file" name="file" accept=".csv,text/csv";
                }
            }
            section #preview hidden {
                h2 { "Column mapping" }
                p #preset.muted {}
                div.table-wrap { table #mapping { thead { tr { th { "Column" } th { "Maps to" } th { "First values" } } } tbody {} } }
                button #import type="button" { "Import" }
            }
            section #progress-box hidden {
                h2 { "Importing" }
                (progress_bar("Import progress", 0.0, "import"))
                p #progress-text.muted {}
            }
            section #result hidden aria-live="polite" {
                h2 { "Result" }
                dl #result-list {}
                p { a href="/leads" { "See the leads →" } }
            }
            p #upload-error.error role="alert" hidden {}
        }
    };
    page("Upload", &p, body)
}

#[derive(Deserialize)]
struct PreviewParams {
    name: Option<String>,
}

async fn upload_preview(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<PreviewParams>,
    body: Bytes,
) -> ApiResult<axum::Json<Value>> {
    p.require(Role::Member)?;
    let name = q.name.unwrap_or_else(|| "upload.csv".into());
    Ok(axum::Json(crate::imports::preview(&st, &name, body).await?))
}

// ----------------------------------------------------------- runs, jobs

async fn runs_page(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    let ws = p.workspace;
    let data = st
        .blocking(move |s| {
            let runs = s.list_runs(ws, 50)?;
            let failed = s.list_jobs(
                ws,
                &leadgen_store::JobFilter {
                    status: Some(leadgen_core::job::JobStatus::Failed),
                    limit: 50,
                    ..Default::default()
                },
            )?;
            let recent = s.list_jobs(
                ws,
                &leadgen_store::JobFilter {
                    limit: 50,
                    ..Default::default()
                },
            )?;
            let queue = s.queue_stats(ws, now_ms())?;
            Ok((runs, failed, recent, queue))
        })
        .await;
    let (runs, failed, recent, queue) = match data {
        Ok(d) => d,
        Err(e) => return error_page(&p, e),
    };
    let can_write = p.role >= Role::Member;
    let counts: Vec<(String, u64)> = queue
        .by_status
        .iter()
        .map(|(s, n)| (s.as_str().to_owned(), *n))
        .collect();
    let body = html! {
        h1 { "Runs & jobs" }
        div.cards {
            @for (s, n) in &counts { div.card { span.n data-stat=(format!("jobs-{s}")) { (n) } span { (s) } } }
        }
        section {
            h2 { "Runs" }
            div.table-wrap { table {
                thead { tr { th { "Run" } th { "Kind" } th { "Status" } th { "Progress" } th { "Jobs" } th {} } }
                tbody {
                    @for r in &runs {
                        @let v = run_value(r);
                        tr data-run=(r.id) {
                            td { (r.name) } td { (r.kind) } td data-field="status" { (r.status.as_str()) }
                            td { (progress_bar(&r.name, v["progress"].as_f64().unwrap_or(0.0), &format!("run-{}", r.id))) }
                            td data-field="counts" { (r.completed_jobs) " done, " (r.failed_jobs) " failed / " (r.total_jobs) }
                            td {
                                @if can_write && r.status.as_str() == "running" { (action_form(&p, &format!("/runs/{}/pause", r.id), "Pause")) }
                                @if can_write && r.status.as_str() == "paused" { (action_form(&p, &format!("/runs/{}/resume", r.id), "Resume")) }
                            }
                        }
                    }
                }
            } }
            @if runs.is_empty() { p.muted { "No runs yet." } }
        }
        section {
            h2 { "Failed jobs" }
            @if failed.is_empty() { p.muted { "No failed job." } }
            div.table-wrap { table {
                tbody {
                    @for j in &failed {
                        tr {
                            td { "#" (j.id) } td { (j.job_type) }
                            td { (j.errors.last().map(|e| e.message.as_str()).unwrap_or("")) }
                            td { @if can_write { (action_form(&p, &format!("/jobs/{}/retry", j.id), "Retry")) } }
                        }
                    }
                }
            } }
        }
        section {
            h2 { "Recent jobs" }
            div.table-wrap { table {
                thead { tr { th { "Job" } th { "Type" } th { "Status" } th { "Attempts" } th { "Updated" } } }
                tbody {
                    @for j in &recent {
                        tr { td { "#" (j.id) } td { (j.job_type) } td { (j.status.as_str()) } td.num { (j.attempts) "/" (j.max_attempts) } td { (fmt_time(j.updated_at)) } }
                    }
                }
            } }
        }
    };
    page("Runs & jobs", &p, body)
}

pub(crate) fn action_form(p: &Principal, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(p))
            button type="submit" { (label) }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(rename = "csrf_token")]
    _csrf: Option<String>,
}

async fn run_form_action(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((id, action)): ApiPath<(i64, String)>,
    Form(_f): Form<CsrfOnly>,
) -> Response {
    let to = match action.as_str() {
        "pause" => leadgen_core::job::RunStatus::Paused,
        "resume" => leadgen_core::job::RunStatus::Running,
        _ => return error_page(&p, ApiError::not_found("action")),
    };
    if let Err(e) = p.require(Role::Member) {
        return error_page(&p, e);
    }
    let ws = p.workspace;
    match st
        .blocking(move |s| Ok(s.set_run_status(ws, id, to, now_ms())?))
        .await
    {
        Ok(_) => Redirect::to("/runs").into_response(),
        Err(e) => error_page(&p, e),
    }
}

async fn job_form_action(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((id, action)): ApiPath<(i64, String)>,
    Form(_f): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = p.require(Role::Member) {
        return error_page(&p, e);
    }
    let retry = match action.as_str() {
        "retry" => true,
        "cancel" => false,
        _ => return error_page(&p, ApiError::not_found("action")),
    };
    let ws = p.workspace;
    let r = st
        .blocking(move |s| {
            Ok(if retry {
                s.retry_job(ws, id, now_ms())?
            } else {
                s.cancel_job(ws, id, now_ms())?
            })
        })
        .await;
    match r {
        Ok(_) => Redirect::to("/runs").into_response(),
        Err(e) => error_page(&p, e),
    }
}

/// Live counters: runs, the queue and imports in flight, sent when they
/// change (checked every 250 ms).
async fn events(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    let ws = p.workspace;
    let stream = async_stream(st, ws);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn async_stream(
    st: AppState,
    ws: i64,
) -> impl tokio_stream::Stream<Item = Result<Event, Infallible>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(4);
    tokio::spawn(async move {
        let mut last = String::new();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            // The browser went away: stop polling for it.
            if tx.is_closed() {
                break;
            }
            let snapshot = st
                .blocking(move |s| {
                    let runs = s.list_runs(ws, 20)?;
                    let queue = s.queue_stats(ws, now_ms())?;
                    Ok((runs, queue))
                })
                .await;
            let Ok((runs, queue)) = snapshot else {
                continue;
            };
            let data = serde_json::json!({
                "runs": runs.iter().map(run_value).collect::<Vec<_>>(),
                "jobs": leadgen_app::queue::queue_json(&queue)["by_status"],
                "imports": st.inner.imports.of(ws),
            })
            .to_string();
            if data != last {
                if tx
                    .send(Event::default().event("progress").data(data.clone()))
                    .await
                    .is_err()
                {
                    break;
                }
                last = data;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok)
}

use tokio_stream::StreamExt as _;

// ------------------------------------------------------------- settings

async fn settings_page(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    if let Err(e) = p.require(Role::Admin) {
        return error_page(&p, e);
    }
    settings_response(&st, &p, None, None, None).await
}

/// The settings page; `new_key` (name, key) is shown once after it is made,
/// `flash` is a form's result, `scoring_draft` refused rules to edit again.
pub(crate) async fn settings_response(
    st: &AppState,
    p: &Principal,
    new_key: Option<(&str, &str)>,
    flash: Option<crate::ui_settings::Flash>,
    scoring_draft: Option<&str>,
) -> Response {
    let ws = p.workspace;
    let data = st
        .blocking(move |s| Ok((s.list_api_keys(ws)?, s.list_users(ws)?)))
        .await;
    let (keys, users) = match data {
        Ok(d) => d,
        Err(e) => return error_page(p, e),
    };
    let settings = match crate::api::settings_value(st, ws).await {
        Ok(v) => v,
        Err(e) => return error_page(p, e),
    };
    page(
        "Settings",
        p,
        settings_markup(p, &keys, &users, new_key, &settings, flash, scoring_draft),
    )
}

/// Roles to pick from; keys may also be capture keys for web forms.
fn role_select(for_keys: bool) -> Markup {
    html! {
        select name="role" {
            @if for_keys { option value="capture" { "capture (web forms)" } }
            option value="viewer" { "viewer" }
            option value="member" selected { "member" }
            option value="admin" { "admin" }
        }
    }
}

fn settings_markup(
    p: &Principal,
    keys: &[leadgen_store::ApiKey],
    users: &[leadgen_store::User],
    new_key: Option<(&str, &str)>,
    settings: &Value,
    flash: Option<crate::ui_settings::Flash>,
    scoring_draft: Option<&str>,
) -> Markup {
    let arr = |k: &str| settings[k].as_array().cloned().unwrap_or_default();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    html! {
        h1 { "Settings" }
        @if let Some(f) = &flash { (crate::ui_settings::flash_markup(f)) }
        @if let Some((name, key)) = new_key {
            div.notice role="status" {
                p { "New key " strong { (name) } " — copy it now, it is not shown again:" }
                code #new-key { (key) }
            }
        }
        section {
            h2 { "API keys" }
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "Key" } th { "Role" } th { "Created" } th { "Last used" } th {} } }
                tbody {
                    @for k in keys {
                        tr {
                            td { (k.name) } td { code { (k.prefix) "…" } } td { (k.role.as_str()) }
                            td { (fmt_time(k.created_at)) }
                            td { (k.last_used_at.map(fmt_time).unwrap_or_default()) }
                            td {
                                @if k.revoked_at.is_some() { "revoked" }
                                @else { (action_form(p, &format!("/settings/api-keys/{}/revoke", k.id), "Revoke")) }
                            }
                        }
                    }
                }
            } }
            form.filters method="post" action="/settings/api-keys" {
                (csrf_field(p))
                label { "Name" input type="text" name="name" required maxlength="100"; }
                label { "Role" (role_select(true)) }
                button type="submit" { "Create key" }
            }
        }
        section {
            h2 { "Users" }
            div.table-wrap { table {
                thead { tr { th { "Email" } th { "Role" } th { "Since" } } }
                tbody { @for u in users { tr { td { (u.email) } td { (u.role.as_str()) } td { (fmt_time(u.created_at)) } } } }
            } }
            form.filters method="post" action="/settings/users" {
                (csrf_field(p))
                label { "Email" input type="email" name="email" required; }
                label { "Password" input type="password" name="password" required minlength="10" autocomplete="new-password"; }
                label { "Role" (role_select(false)) }
                button type="submit" { "Add user" }
            }
        }
        section {
            h2 { "Integrations" }
            p.muted { "A key, base URL or budget saved here is sealed in the store for this workspace and wins over the server's environment ("
                code { "LEADGEN_<PREFIX>_API_KEY" } ", " code { "_BASE_URL" } ", " code { "_DAILY_BUDGET_USD" }
                "). A saved key is never shown again, only its last four characters. "
                code { "leadgen deliver test <target>" } " runs the same connection tests." }
            div.table-wrap { table.settings {
                thead { tr { th { "Service" } th { "Key" } th { "Base URL" } th { "Daily budget" } th {} } }
                tbody {
                    @for sv in arr("services") { (crate::ui_settings::integration_markup(p, &sv)) }
                }
            } }
            h3 { "Secrets and channels" }
            ul {
                @for sec in arr("secrets") {
                    li { code { (text(&sec["variable"])) } " (" (text(&sec["for"])) "): "
                        @if sec["set"] == Value::Bool(true) { "set" } @else { span.muted { "not set" } } }
                }
            }
        }
        section {
            h2 { "Budgets and spend" }
            @let sp = &settings["spend"];
            p { "Enrichment this month (" (text(&sp["month"])) "): $" (format!("{:.4}", sp["enrich_this_month_usd"].as_f64().unwrap_or(0.0)))
                " of " @if sp["enrich_monthly_budget_usd"].is_null() { "no monthly budget" } @else { "$" (text(&sp["enrich_monthly_budget_usd"])) }
                "; per lead at most $" (text(&sp["per_lead_ceiling_usd"])) ", per run $" (text(&sp["per_run_ceiling_usd"])) "." }
            @let today = sp["today"].as_array().cloned().unwrap_or_default();
            @if today.is_empty() { p.muted { "No provider spend today (" (text(&sp["day"])) ", UTC)." } }
            @else {
                div.table-wrap { table {
                    thead { tr { th { "Provider" } th { "Spent today (UTC)" } } }
                    tbody { @for row in &today { tr { td { (text(&row["provider"])) } td.num { "$" (format!("{:.4}", row["usd"].as_f64().unwrap_or(0.0))) } } } }
                } }
            }
        }
        section {
            h2 { "Scoring rules and the enrichment waterfall" }
            p.muted { "Scoring rules: " @if settings["scoring_source"] == "workspace" { "this workspace's own" } @else { "from " code { "leadgen.toml" } " (" code { "[scoring]" } ")" }
                "; the waterfall from " code { "[enrich.waterfall]" } ". A change applies to leads scored after it (stored leads are not re-scored)." }
            (crate::ui_settings::scoring_markup(p, settings, scoring_draft))
            details { summary { "Waterfall" } pre { (serde_json::to_string_pretty(&settings["waterfall"]).unwrap_or_default()) } }
        }
        section {
            h2 { "Inbound webhooks" }
            p { "Every delivery is stored before it is answered. "
                a href="/webhooks" { "See the deliveries and replay an event" } "." }
        }
    }
}

/// For the settings forms: the caller must be an admin, and the role they
/// grant must exist.
fn admin_grants_role(p: &Principal, role: &str) -> Result<Role, ApiError> {
    p.require(Role::Admin)?;
    Role::parse(role).ok_or_else(|| ApiError::unprocessable("unknown role"))
}

#[derive(Deserialize)]
struct KeyForm {
    name: String,
    role: String,
}

async fn create_key_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<KeyForm>,
) -> Response {
    let role = match admin_grants_role(&p, &f.role) {
        Ok(role) => role,
        Err(e) => return error_page(&p, e),
    };
    let ws = p.workspace;
    let name = f.name.clone();
    let r = st
        .blocking(move |s| Ok(credentials::issue_api_key(s, ws, &name, role, now_ms())?))
        .await;
    match r {
        Ok(issued) => settings_response(&st, &p, Some((&f.name, &issued.key)), None, None).await,
        Err(e) => error_page(&p, e),
    }
}

async fn revoke_key_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    Form(_f): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = p.require(Role::Admin) {
        return error_page(&p, e);
    }
    let ws = p.workspace;
    match st
        .blocking(move |s| Ok(s.revoke_api_key(ws, id, now_ms())?))
        .await
    {
        Ok(true) => Redirect::to("/settings").into_response(),
        Ok(false) => error_page(&p, ApiError::not_found("active API key")),
        Err(e) => error_page(&p, e),
    }
}

#[derive(Deserialize)]
struct UserForm {
    email: String,
    password: String,
    role: String,
}

async fn create_user_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<UserForm>,
) -> Response {
    let role = match admin_grants_role(&p, &f.role) {
        Ok(role) => role,
        Err(e) => return error_page(&p, e),
    };
    let ws = p.workspace;
    match st
        .blocking(move |s| {
            Ok(credentials::create_user(
                s,
                ws,
                &f.email,
                &f.password,
                role,
                now_ms(),
            )?)
        })
        .await
    {
        Ok(_) => Redirect::to("/settings").into_response(),
        Err(e) => error_page(&p, e),
    }
}

// ------------------------------------------------------------- webhooks

/// Inbound deliveries, newest first, with a Replay button on each event.
async fn webhooks_page(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<WebhookListParams>,
) -> Response {
    if let Err(e) = p.require(Role::Admin) {
        return error_page(&p, e);
    }
    let (source, limit) = match webhook_listing(&q) {
        Ok(l) => l,
        Err(e) => return error_page(&p, e),
    };
    let ws = p.workspace;
    let title = source.clone();
    let events = match st
        .blocking(move |s| Ok(s.list_webhooks(ws, &source, limit)?))
        .await
    {
        Ok(ev) => ev,
        Err(e) => return error_page(&p, e),
    };
    let body = html! {
        h1 { "Inbound webhooks: " (title) }
        p.muted { "Every delivery is kept, refused and malformed ones too. Replay processes a stored event again with today's rules; an event's effects happen once." }
        div.table-wrap { table {
            thead { tr { th { "#" } th { "Received" } th { "Event" } th { "Status" } th { "Error" } th { "Body" } th {} } }
            tbody {
                @for e in &events {
                    tr {
                        td.num { (e.id) }
                        td { (fmt_time(e.received_at)) }
                        td { (e.event_type.as_deref().unwrap_or("")) }
                        td { (e.status) }
                        td { (e.error.as_deref().unwrap_or("")) }
                        td { details { summary { "body" } pre { (serde_json::to_string_pretty(&webhook_body(e)).unwrap_or_default()) } } }
                        td { @if e.dedupe_key.is_some() { (action_form(&p, &format!("/webhooks/{}/replay", e.id), "Replay")) } }
                    }
                }
            }
        } }
        @if events.is_empty() { p.muted { "No delivery yet." } }
    };
    page("Inbound webhooks", &p, body)
}

async fn replay_webhook_form(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    Form(_f): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = p.require(Role::Admin) {
        return error_page(&p, e);
    }
    match replay_stored_webhook(&st, p.workspace, id).await {
        Ok(_) => Redirect::to("/webhooks").into_response(),
        Err(e) => error_page(&p, e),
    }
}
