//! A loopback fake of LinkedIn's Ad Library search page
//! (`GET /ad-library/search`, HTML ad cards as
//! [`crate::linkedin_ads`] reads them, [`PAGE_SIZE`] cards a page by
//! `start` offset), with the login wall, 429, 5xx and slow answers on
//! demand ([`FakeLibraryControl`]).
//!
//! Its world is the Meta fake's ([`crate::fake::meta_world`]): advertiser
//! `k`'s LinkedIn company id is its Meta page id, and its ads run in the
//! same date ranges.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::fake::meta_world;
use crate::fake_google_ads_transparency::{FakeLibrary, FakeLibraryControl, library_gate};
use crate::linkedin_ads::{PAGE_SIZE, SEARCH_PATH};

/// The LinkedIn Ad Library fake.
pub struct FakeLinkedinAds;

impl FakeLinkedinAds {
    pub fn spawn() -> FakeLibrary {
        FakeLibrary::start("fake-linkedin-ads", |control| {
            Router::new()
                .route(SEARCH_PATH, get(search_page))
                .with_state(control)
        })
    }
}

const LOGIN_WALL: &str = r#"<!DOCTYPE html><html><head><title>Sign Up | LinkedIn</title></head>
<body class="authwall"><form class="join-form" action="/signup"><input name="email"></form></body></html>"#;

/// `2026-11-05` as `Nov 5, 2026`.
fn us_date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut p = iso.split('-');
    let (y, m, d) = (p.next(), p.next(), p.next());
    let m: usize = m.and_then(|m| m.parse().ok()).unwrap_or(1);
    let d: u32 = d.and_then(|d| d.parse().ok()).unwrap_or(1);
    format!(
        "{} {d}, {}",
        MONTHS[m.clamp(1, 12) - 1],
        y.unwrap_or("1970")
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn search_page(
    State(state): State<Arc<Mutex<FakeLibraryControl>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = library_gate(&state).await {
        return r;
    }
    let today = {
        let mut c = state.lock().unwrap_or_else(|p| p.into_inner());
        if c.login_wall {
            return Html(LOGIN_WALL).into_response();
        }
        c.requests += 1;
        c.today()
    };
    let keyword = q.get("keyword").map(String::as_str).unwrap_or("").trim();
    let ids: Vec<&str> = q
        .get("companyIds")
        .map(|c| {
            c.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let since = q.get("startdate").cloned();
    let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let search = if keyword.is_empty() { "ads" } else { keyword };
    let ads: Vec<_> = meta_world(search, &today)
        .into_iter()
        .filter(|a| ids.is_empty() || ids.contains(&a.advertiser_id.as_str()))
        .filter(|a| {
            since
                .as_deref()
                .is_none_or(|d| a.stopped.as_deref().is_none_or(|s| s >= d))
        })
        .collect();
    let mut html = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><title>LinkedIn Ad Library</title></head><body>\
         <main><ul class=\"search-results__list list-style-none\">\n",
    );
    for a in ads.iter().skip(start).take(PAGE_SIZE) {
        let company = format!("https://www.linkedin.com/company/{}", a.advertiser_id);
        let name = escape(a.advertiser_name.as_deref().unwrap_or(""));
        let text = escape(a.creative_text.as_deref().unwrap_or(""));
        let dates = match (&a.started, &a.stopped) {
            (Some(s), Some(e)) => format!("Ran from {} to {}", us_date(s), us_date(e)),
            (Some(s), None) => format!("Ran from {}", us_date(s)),
            _ => String::new(),
        };
        let landing = a
            .link
            .as_deref()
            .map(|l| {
                format!(
                    "<a class=\"sponsored-content-headline\" href=\"https://{}/demo?utm_source=linkedin&amp;utm_medium=paid\" \
                     data-tracking-control-name=\"ad_library_ad_preview_headline_content\"><h2>See it live</h2></a>",
                    l.to_ascii_lowercase()
                )
            })
            .unwrap_or_default();
        html.push_str(&format!(
            "<li><div class=\"ad-preview ad-preview--single-image\" data-ad-id=\"{id}\">\
             <div class=\"base-ad-preview-card\"><div class=\"flex\">\
             <a href=\"{company}?trk=ad_library_ad_preview_company_logo\" data-tracking-control-name=\"ad_library_ad_preview_company_logo\">\
             <img src=\"https://media.licdn.com/dms/image/logo-{id}.png\" alt=\"\"></a>\
             <div class=\"flex flex-col self-center\">\
             <a href=\"{company}?trk=ad_library_ad_preview_company_name\" data-tracking-control-name=\"ad_library_ad_preview_company_name\">\
             <div class=\"font-bold text-sm\">{name}</div></a>\
             <p class=\"text-xs text-color-text-low-emphasis\">Promoted</p></div></div>\
             <p class=\"commentary__content\">{text}</p>{landing}</div>\
             <p class=\"text-xs ad-preview__dates\">{dates}</p>\
             <a href=\"/ad-library/detail/{id}?trk=ad_library_view_ad_detail\" data-tracking-control-name=\"ad_library_view_ad_detail\">View details</a>\
             </div></li>\n",
            id = a.id,
        ));
    }
    html.push_str("</ul></main></body></html>");
    Html(html).into_response()
}
