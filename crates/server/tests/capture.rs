//! `POST /api/v1/capture`: inbound leads from web forms and landing pages,
//! with capture keys, CORS, a honeypot and rate limits.

mod common;

use common::{App, Backend, JsonReply, error_code, test_opts, with_app_opts};
use leadgen_server::ServerOptions;
use leadgen_server::credentials::issue_api_key;
use leadgen_store::Role;
use serde_json::Value;

const URL: &str = "/api/v1/capture";

async fn capture_key(app: &App, ws: i64) -> String {
    app.store(move |s| {
        issue_api_key(
            s,
            ws,
            "landing page",
            Role::Capture,
            leadgen_server::now_ms(),
        )
        .unwrap()
        .key
    })
    .await
}

/// The leads of the admin key's workspace that came in through capture.
async fn captured(app: &App, admin_key: &str) -> Vec<Value> {
    let v = app
        .get("/api/v1/leads?source=capture", admin_key)
        .json_value()
        .await;
    v["leads"].as_array().expect("a lead list").clone()
}

fn run<F, Fut>(backend: Backend, opts: ServerOptions, test: F)
where
    F: FnOnce(App) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    with_app_opts(backend, opts, test)
}

async fn a_form_post_becomes_a_lead_of_the_key_s_workspace(app: App) {
    let key = capture_key(&app, common::A).await;
    let r = app
        .http
        .post(app.url(URL))
        .header("x-capture-key", &key)
        .form(&[
            ("Email", "Dana.Diaz@Delta.example"),
            ("First Name", "Dana"),
            ("company", "Delta"),
            ("how_did_you_hear", "podcast"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], true);
    let leads = captured(&app, &app.a_admin).await;
    assert_eq!(leads.len(), 1, "{leads:?}");
    let lead = leads[0].to_string();
    assert!(lead.contains("Dana.Diaz@delta.example"), "{lead}");
    assert!(lead.contains("inbound"), "tagged inbound: {lead}");
    assert!(lead.contains("podcast"), "unknown fields kept: {lead}");
    assert!(
        captured(&app, &app.b_admin).await.is_empty(),
        "another workspace sees nothing"
    );

    // JSON works too, with the key in the body; the same person again merges.
    let r = app
        .http
        .post(app.url(URL))
        .json(&serde_json::json!({"capture_key": key, "email": "dana.diaz@delta.example", "phone": "+1 212 555 0100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(captured(&app, &app.a_admin).await.len(), 1);
}

#[test]
fn form_post_sqlite() {
    run(
        Backend::Sqlite,
        test_opts(),
        a_form_post_becomes_a_lead_of_the_key_s_workspace,
    );
}

#[test]
fn form_post_postgres() {
    run(
        Backend::Postgres,
        test_opts(),
        a_form_post_becomes_a_lead_of_the_key_s_workspace,
    );
}

#[test]
fn keys_are_checked_and_a_capture_key_opens_nothing_else() {
    run(Backend::Sqlite, test_opts(), |app: App| async move {
        let form = [("email", "eve@echo.example")];
        let r = app
            .http
            .post(app.url(URL))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "no key");
        assert_eq!(error_code(r).await, "unauthorized");
        let r = app
            .http
            .post(app.url(URL))
            .header("x-capture-key", "lgk_unknown")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "unknown key");
        let r = app
            .http
            .post(app.url(URL))
            .header("x-capture-key", &app.a_viewer)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "a viewer key may not add leads");

        let key = capture_key(&app, common::A).await;
        for path in ["/api/v1/leads", "/api/v1/stats", "/api/v1/api-keys"] {
            let r = app.get(path, &key).send().await.unwrap();
            assert_eq!(r.status(), 403, "GET {path} with a capture key");
        }
        let r = app
            .post("/api/v1/leads", &key)
            .json(&serde_json::json!({"email": "x@y.example"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "a capture key cannot use the lead API");

        // A revoked capture key stops working.
        let id: i64 = app
            .store({
                let k = key.clone();
                move |s| {
                    let hash = leadgen_server::credentials::hash_token(&k);
                    s.api_key_by_hash(&hash).unwrap().unwrap().id
                }
            })
            .await;
        app.store(move |s| s.revoke_api_key(common::A, id, 1).unwrap())
            .await;
        let r = app
            .http
            .post(app.url(URL))
            .header("x-capture-key", &key)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "revoked key");
        assert!(captured(&app, &app.a_admin).await.is_empty());
    });
}

#[test]
fn honeypot_posts_look_accepted_but_store_nothing() {
    run(Backend::Sqlite, test_opts(), |app: App| async move {
        let key = capture_key(&app, common::A).await;
        let r = app
            .http
            .post(app.url(URL))
            .header("x-capture-key", &key)
            .form(&[
                ("email", "bot@spam.example"),
                ("website_url", "http://spam.example"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["accepted"], true);
        assert!(captured(&app, &app.a_admin).await.is_empty());
        // The empty honeypot a person leaves is no obstacle.
        let r = app
            .http
            .post(app.url(URL))
            .header("x-capture-key", &key)
            .form(&[("email", "person@real.example"), ("website_url", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(captured(&app, &app.a_admin).await.len(), 1);
    });
}

#[test]
fn bad_fields_get_a_clear_error_and_nothing_is_stored() {
    run(Backend::Sqlite, test_opts(), |app: App| async move {
        let key = capture_key(&app, common::A).await;
        let post = |body: &'static str, ctype: &'static str| {
            app.http
                .post(app.url(URL))
                .header("x-capture-key", &key)
                .header("content-type", ctype)
                .body(body)
                .send()
        };
        let r = post("email=not-an-email", "application/x-www-form-urlencoded")
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let r = post("{\"email\": ", "application/json").await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "bad_request");
        let r = post("{\"email\": {\"a\": 1}}", "application/json")
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let r = post("<lead/>", "text/xml").await.unwrap();
        assert_eq!(r.status(), 415);
        let r = post(
            "_redirect=https://x.example/",
            "application/x-www-form-urlencoded",
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 422, "no lead fields");
        let big = format!("email=a@b.example&note={}", "x".repeat(70 * 1024));
        let r = app
            .http
            .post(app.url(URL))
            .header("x-capture-key", &key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        assert!(captured(&app, &app.a_admin).await.is_empty());
    });
}

#[test]
fn cors_and_redirects_follow_the_allowed_origins() {
    let opts = ServerOptions {
        capture_origins: vec!["https://good.example".to_owned()],
        ..test_opts()
    };
    run(Backend::Sqlite, opts, |app: App| async move {
        let key = capture_key(&app, common::A).await;
        let preflight = |origin: &'static str| {
            app.http
                .request(reqwest::Method::OPTIONS, app.url(URL))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .send()
        };
        let r = preflight("https://good.example").await.unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://good.example"
        );
        assert!(
            r.headers()["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("x-capture-key")
        );
        let r = preflight("https://evil.example").await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.headers().get("access-control-allow-origin").is_none());

        let post = |origin: &'static str, redirect: &'static str| {
            app.http
                .post(app.url(URL))
                .header("origin", origin)
                .form(&[
                    ("capture_key", key.as_str()),
                    ("email", "fay@foxtrot.example"),
                    ("_redirect", redirect),
                ])
                .send()
        };
        let r = post("https://evil.example", "https://good.example/thanks")
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "a post from another origin");
        let r = post("https://good.example", "https://evil.example/phish")
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "no open redirect");
        assert!(captured(&app, &app.a_admin).await.is_empty());
        let r = post("https://good.example", "https://good.example/thanks?x=1")
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "https://good.example/thanks?x=1");
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://good.example"
        );
        assert_eq!(captured(&app, &app.a_admin).await.len(), 1);
    });
}

#[test]
fn captures_are_rate_limited_per_key_and_per_address() {
    let opts = ServerOptions {
        capture_per_s: 0.01,
        capture_burst: 2.0,
        ..test_opts()
    };
    run(Backend::Sqlite, opts, |app: App| async move {
        let key = capture_key(&app, common::A).await;
        let mut statuses = Vec::new();
        for i in 0..3 {
            let r = app
                .http
                .post(app.url(URL))
                .header("x-capture-key", &key)
                .form(&[("email", format!("p{i}@rate.example"))])
                .send()
                .await
                .unwrap();
            if r.status() == 429 {
                assert!(r.headers().contains_key("retry-after"));
            }
            statuses.push(r.status().as_u16());
        }
        assert_eq!(statuses, vec![200, 200, 429]);
    });
    let opts = ServerOptions {
        capture_ip_per_s: 0.01,
        capture_ip_burst: 2.0,
        ..test_opts()
    };
    run(Backend::Sqlite, opts, |app: App| async move {
        // Fresh keys each time: only the address limit can refuse.
        let mut statuses = Vec::new();
        for i in 0..3 {
            let key = capture_key(&app, common::A).await;
            let r = app
                .http
                .post(app.url(URL))
                .header("x-capture-key", &key)
                .form(&[("email", format!("q{i}@rate.example"))])
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        assert_eq!(statuses, vec![200, 200, 429]);
    });
}

#[test]
fn users_cannot_have_the_capture_role() {
    run(Backend::Sqlite, test_opts(), |app: App| async move {
        let r = app
            .post("/api/v1/users", &app.a_admin)
            .json(&serde_json::json!({"email": "c@a.example", "password": "0123456789ab", "role": "capture"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let r = app
            .post("/api/v1/api-keys", &app.a_admin)
            .json(&serde_json::json!({"name": "landing", "role": "capture"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "capture keys are issued through the API");
    });
}
