//! Sessions, CSRF, rate limits, escaping, live events and the operations
//! endpoints, on SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{A, App, Backend, JsonReply, SAMPLE_CSV, error_code, test_opts, with_app_opts};
use leadgen_server::ServerOptions;

both_backends! {
    login_sets_a_session_cookie_and_logout_ends_it,
    form_posts_without_the_csrf_token_are_refused,
    a_lead_named_like_a_script_renders_as_text,
    dashboard_pages_render_for_a_session,
    progress_events_follow_run_changes_within_a_second,
    health_ready_and_metrics_are_open_and_count_requests,
    company_pages_list_show_leads_and_escape_names,
    the_leads_page_verifies_the_matching_leads,
    the_leads_page_enriches_the_matching_leads,
}

async fn login_sets_a_session_cookie_and_logout_ends_it(app: App) {
    let r = app
        .http
        .post(app.url("/login"))
        .form(&[
            ("email", common::ADMIN_EMAIL),
            ("password", "wrong password!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());

    let r = app.post_login().await;
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );

    let (session, csrf) = app.login().await;
    // The session reads the API too.
    let r = app
        .http
        .get(app.url("/api/v1/stats"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .post(app.url("/logout"))
        .header("cookie", &session)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = app
        .http
        .get(app.url("/api/v1/stats"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the session ended");
}

#[test]
fn session_cookie_is_secure_off_loopback() {
    let opts = ServerOptions {
        secure_cookies: true,
        ..test_opts()
    };
    with_app_opts(Backend::Sqlite, opts, |app| async move {
        let r = app.post_login().await;
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.contains("; Secure"), "{cookie}");
    });
}

async fn form_posts_without_the_csrf_token_are_refused(app: App) {
    let (session, csrf) = app.login().await;
    let run = format!("/runs/{}/pause", app.a_run);
    // No token, a wrong token, and a wrong header: all refused.
    let r = app
        .http
        .post(app.url(&run))
        .header("cookie", &session)
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "csrf");
    let r = app
        .http
        .post(app.url(&run))
        .header("cookie", &session)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .http
        .post(app.url("/api/v1/leads"))
        .header("cookie", &session)
        .header("x-csrf-token", "forged")
        .json(&serde_json::json!({"email": "c@d.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "API writes with a session need the token too"
    );
    let run_now: serde_json::Value = app
        .get(&format!("/api/v1/runs/{}", app.a_run), &app.a_admin)
        .json_value()
        .await;
    assert_eq!(run_now["status"], "running", "nothing changed");

    // With the token the same form works.
    let r = app
        .http
        .post(app.url(&run))
        .header("cookie", &session)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let run_now: serde_json::Value = app
        .get(&format!("/api/v1/runs/{}", app.a_run), &app.a_admin)
        .json_value()
        .await;
    assert_eq!(run_now["status"], "paused");
}

async fn a_lead_named_like_a_script_renders_as_text(app: App) {
    let csv = "email,first_name,last_name,company,title\n\
               x@evil.example,<script>alert(1)</script>,\"<img src=x onerror=alert(2)>\",Evil & Co,\"\"\"quoted\"\"\"\n";
    app.import(&app.a_admin, csv).await;
    let (session, _) = app.login().await;
    let list = app.page(app.url("/leads"), &session).await;
    let id: i64 = list
        .split("href=\"/leads/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .expect("a link to the lead");
    let detail = app.page(app.url(&format!("/leads/{id}")), &session).await;
    for page in [&list, &detail] {
        // Names are title-cased on import; compare case-insensitively.
        let lower = page.to_lowercase();
        assert!(
            lower.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!lower.contains("<script>alert"), "raw script in page");
        assert!(!lower.contains("<img src=x"), "raw tag in page");
        assert!(page.contains("Evil &amp; Co"));
    }
    // A search for the same text is echoed escaped in the filter form.
    let search = app
        .page(
            app.url("/leads?q=%22%3E%3Cscript%3Ealert(3)%3C%2Fscript%3E"),
            &session,
        )
        .await;
    assert!(!search.contains("<script>alert(3)"));
    assert!(search.contains("&quot;&gt;&lt;script&gt;alert(3)"));
}

async fn dashboard_pages_render_for_a_session(app: App) {
    app.import(&app.a_admin, SAMPLE_CSV).await;
    let (session, _) = app.login().await;
    for (path, needle) in [
        ("/", "Active runs"),
        ("/leads", "ann@acme.example"),
        ("/leads?status=validated", "No lead matches"),
        ("/upload", "Drop a CSV file here"),
        ("/runs", "seeded run"),
        ("/settings", "API keys"),
        ("/settings", "LEADGEN_INSTANTLY_WEBHOOK_SECRET"),
        ("/settings", "Scoring rules"),
        ("/settings", "Budgets and spend"),
        ("/webhooks", "No delivery yet"),
    ] {
        let r = app
            .http
            .get(app.url(path))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{path} lacks {needle:?}");
        if ["/leads", "/upload", "/settings"].contains(&path) {
            assert!(body.contains("<label"), "{path} has labelled inputs");
        }
    }
    // The preview maps the columns of an upload before importing it.
    let (session2, csrf2) = app.login().await;
    let v: serde_json::Value = app
        .http
        .post(app.url("/upload/preview?name=x.csv"))
        .header("cookie", &session2)
        .header("x-csrf-token", &csrf2)
        .body(SAMPLE_CSV)
        .json_value()
        .await;
    let cols = v["columns"].as_array().unwrap();
    assert_eq!(cols[0]["header"], "email");
    assert_eq!(cols[0]["field"], "email");
    assert_eq!(cols[3]["field"], "company_name");
    assert_eq!(v["rows"][0][1], "Ann");
}

/// Reads SSE `data:` lines until one satisfies `want` or the deadline.
async fn wait_for_event(
    resp: &mut reqwest::Response,
    deadline: Instant,
    want: impl Fn(&serde_json::Value) -> bool,
) -> bool {
    let mut buf = String::new();
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Ok(Some(chunk))) = tokio::time::timeout(left, resp.chunk()).await else {
            return false;
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data:")
                    && let Ok(v) = serde_json::from_str::<serde_json::Value>(data.trim())
                    && want(&v)
                {
                    return true;
                }
            }
        }
    }
    false
}

async fn progress_events_follow_run_changes_within_a_second(app: App) {
    let (session, _) = app.login().await;
    let mut resp = app
        .http
        .get(app.url("/events"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let run = app.a_run;
    let status_is = |want: &'static str| {
        move |v: &serde_json::Value| {
            v["runs"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["id"] == run && r["status"] == want))
        }
    };
    assert!(
        wait_for_event(
            &mut resp,
            Instant::now() + Duration::from_secs(2),
            status_is("running")
        )
        .await,
        "a first snapshot"
    );
    let r = app
        .post(&format!("/api/v1/runs/{run}/pause"), &app.a_member)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let changed_at = Instant::now();
    assert!(
        wait_for_event(
            &mut resp,
            changed_at + Duration::from_secs(1),
            status_is("paused")
        )
        .await,
        "the pause reached the stream within 1 s"
    );
}

async fn health_ready_and_metrics_are_open_and_count_requests(app: App) {
    for path in ["/healthz", "/readyz"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    app.get("/api/v1/leads", &app.a_viewer)
        .send()
        .await
        .unwrap();
    app.get("/api/v1/leads", &app.a_viewer)
        .send()
        .await
        .unwrap();
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "leadgen_http_requests_total{method=\"GET\",route=\"/api/v1/leads\",status=\"200\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains("leadgen_http_request_duration_seconds_count{route=\"/api/v1/leads\"} 2")
    );
    assert!(
        text.contains("leadgen_jobs{workspace=\"1\",status=\"pending\"} 1"),
        "{text}"
    );
    assert!(text.contains("leadgen_jobs_oldest_pending_age_seconds{workspace=\"1\"}"));
}

#[test]
fn password_guessing_is_slowed_per_email() {
    // No refill during the test, however slow the machine.
    let opts = ServerOptions {
        login_burst: 10.0,
        login_per_s: 0.0001,
        ..test_opts()
    };
    with_app_opts(Backend::Sqlite, opts, |app| async move {
        let attempt = |password: &'static str| {
            app.http
                .post(app.url("/login"))
                .form(&[("email", common::ADMIN_EMAIL), ("password", password)])
                .send()
        };
        for _ in 0..10 {
            assert_eq!(attempt("wrong guess").await.unwrap().status(), 401);
        }
        let r = attempt("wrong guess").await.unwrap();
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
        // Even the right password waits now; other emails do not.
        assert_eq!(attempt(common::PASSWORD).await.unwrap().status(), 429);
        let other = app
            .http
            .post(app.url("/login"))
            .form(&[("email", "someone@else.example"), ("password", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 401);
    });
}

#[test]
fn metrics_can_require_authentication() {
    let opts = ServerOptions {
        public_metrics: false,
        ..test_opts()
    };
    with_app_opts(Backend::Sqlite, opts, |app| async move {
        let r = app.http.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = app.get("/metrics", &app.a_viewer).send().await.unwrap();
        assert_eq!(r.status(), 200);
    });
}

#[test]
fn a_key_over_its_rate_gets_429_with_retry_after() {
    let opts = ServerOptions {
        key_rate_per_s: 0.5,
        key_burst: 3.0,
        ..test_opts()
    };
    with_app_opts(Backend::Sqlite, opts, |app| async move {
        for i in 0..3 {
            let r = app
                .get("/api/v1/stats", &app.a_viewer)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "request {i} is within the burst");
        }
        let r = app
            .get("/api/v1/stats", &app.a_viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&wait), "Retry-After {wait}");
        assert_eq!(error_code(r).await, "rate_limited");
        // Other keys are not held back.
        let r = app
            .get("/api/v1/stats", &app.a_member)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
}

async fn company_pages_list_show_leads_and_escape_names(app: App) {
    let id = common::seed_company(&app, A, "<b>Bold</b> & Sons", Some("boldsons.com"), "CT").await;
    common::seed_company(&app, common::B, "Hidden Other Tenant", None, "CT").await;
    app.import(
        &app.a_admin,
        "email,first_name,company_domain\ndee@boldsons.com,Dee,boldsons.com\n",
    )
    .await;
    let (session, _) = app.login().await;
    let list = app.page(app.url("/companies"), &session).await;
    assert!(
        list.contains("&lt;b&gt;Bold&lt;/b&gt; &amp; Sons"),
        "{list}"
    );
    assert!(!list.contains("<b>Bold"), "raw markup in the list");
    assert!(!list.contains("Hidden Other Tenant"));
    assert!(list.contains(&format!("href=\"/companies/{id}\"")));
    let detail = app
        .page(app.url(&format!("/companies/{id}")), &session)
        .await;
    assert!(detail.contains("dee@boldsons.com"), "{detail}");
    assert!(detail.contains("/leads?company_domain=boldsons.com"));
    assert!(!detail.contains("<b>Bold"));
    let r = app
        .http
        .get(app.url("/companies/999999"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let filtered = app
        .page(app.url("/leads?company_domain=boldsons.com"), &session)
        .await;
    assert!(filtered.contains("dee@boldsons.com"));
}

async fn the_leads_page_verifies_the_matching_leads(app: App) {
    app.import(&app.a_admin, SAMPLE_CSV).await;
    let (session, csrf) = app.login().await;
    let list = app.page(app.url("/leads?q=ann"), &session).await;
    assert!(list.contains("Verify the matching leads"));
    assert!(
        list.contains(r#"name="q" value="ann""#),
        "the filter rides along"
    );
    let r = app
        .http
        .post(app.url("/leads/verify"))
        .header("cookie", &session)
        .form(&[("csrf_token", csrf.as_str()), ("q", "ann")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/runs");
    let runs = app.page(app.url("/runs"), &session).await;
    assert!(runs.contains("verify leads: 1 leads"), "{runs}");
    let shown = runs.matches("verify leads:").count();
    // Without the token the form is refused and nothing is enqueued.
    let r = app
        .http
        .post(app.url("/leads/verify"))
        .header("cookie", &session)
        .form(&[("q", "bob")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let runs = app.page(app.url("/runs"), &session).await;
    assert_eq!(
        runs.matches("verify leads:").count(),
        shown,
        "no second run"
    );
}

async fn the_leads_page_enriches_the_matching_leads(app: App) {
    app.import(
        &app.a_admin,
        "first_name,last_name,company_domain\nAnn,Lee,acme.com\nBob,Ray,acme.com\n",
    )
    .await;
    let (session, csrf) = app.login().await;
    let list = app.page(app.url("/leads?q=ann"), &session).await;
    assert!(list.contains("Enrich the matching leads"), "{list}");
    let r = app
        .http
        .post(app.url("/leads/enrich"))
        .header("cookie", &session)
        .form(&[("csrf_token", csrf.as_str()), ("q", "ann")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/runs");
    let runs = app.page(app.url("/runs"), &session).await;
    assert!(runs.contains("enrich leads: 1 leads"), "only Ann: {runs}");
}
