//! Inbound webhook infrastructure from the operator's side: every delivery
//! is listed (refused and malformed ones too), and a stored event can be
//! replayed from the API and the dashboard — admins only, own workspace.

mod common;

use common::{App, Backend, JsonReply, error_code, with_app_opts};
use serde_json::{Value, json};

const SECRET: &str = "replay-secret";

#[test]
fn sqlite() {
    with_app_opts(Backend::Sqlite, opts(), scenario);
}

#[test]
fn postgres() {
    with_app_opts(Backend::Postgres, opts(), scenario);
}

#[test]
fn intent_sqlite() {
    with_app_opts(Backend::Sqlite, opts(), intent_signals);
}

#[test]
fn intent_postgres() {
    with_app_opts(Backend::Postgres, opts(), intent_signals);
}

fn opts() -> leadgen_server::ServerOptions {
    leadgen_server::ServerOptions {
        instantly_webhook_secret: Some(SECRET.into()),
        intent_webhook_secret: Some(SECRET.into()),
        ..common::test_opts()
    }
}

async fn deliver(app: &App, secret: Option<&str>, body: &str) -> u16 {
    post_to(app, "/integrations/instantly/webhook", secret, body)
        .await
        .0
}

async fn post_to(app: &App, path: &str, secret: Option<&str>, body: &str) -> (u16, Value) {
    let mut r = app
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(s) = secret {
        r = r.header("X-Leadgen-Webhook-Secret", s);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

async fn scenario(app: App) {
    // An event about a lead leadgen does not have yet, a refused delivery
    // and a malformed one.
    let opened = json!({
        "event_type": "email_opened",
        "lead_email": "ann@acme.com",
        "campaign_id": "c-1",
        "timestamp": "2026-11-30T10:00:00Z",
    })
    .to_string();
    assert_eq!(deliver(&app, Some(SECRET), &opened).await, 200);
    assert_eq!(deliver(&app, Some("wrong"), &opened).await, 401);
    assert_eq!(deliver(&app, Some(SECRET), "{not json").await, 400);

    let list = app.get("/api/v1/webhooks", &app.a_admin).json_value().await;
    let events = list["events"].as_array().expect("events");
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["malformed", "rejected", "processed"],
        "newest first: {list}"
    );
    assert_eq!(events[2]["event_type"], "email_opened");
    assert_eq!(events[2]["body"]["lead_email"], "ann@acme.com");
    let event = events[2]["id"].as_i64().unwrap();
    let malformed = events[0]["id"].as_i64().unwrap();

    // The lead arrives; replaying the event now applies it to her.
    app.import(&app.a_admin, "email,first_name\nann@acme.com,Ann\n")
        .await;
    let lead = app.get("/api/v1/leads", &app.a_viewer).json_value().await["leads"][0].clone();
    assert_ne!(lead["lifecycle"], "contacted", "{lead}");
    let r = app
        .post(&format!("/api/v1/webhooks/{event}/replay"), &app.a_admin)
        .json_value()
        .await;
    assert_eq!(r["processed"], true, "{r}");
    assert_eq!(r["effects"]["leads"], json!([lead["id"]]), "{r}");
    let after = app
        .get(&format!("/api/v1/leads/{}", lead["id"]), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(after["lead"]["lifecycle"], "contacted", "{after}");

    // A malformed delivery is kept for the record, not replayed.
    let r = app
        .post(
            &format!("/api/v1/webhooks/{malformed}/replay"),
            &app.a_admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(r).await, "conflict");

    // Other workspaces and lesser roles see nothing and replay nothing.
    let r = app
        .post(&format!("/api/v1/webhooks/{event}/replay"), &app.b_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let theirs = app.get("/api/v1/webhooks", &app.b_admin).json_value().await;
    assert_eq!(theirs["events"], json!([]), "{theirs}");
    for key in [&app.a_member, &app.a_viewer] {
        let r = app.get("/api/v1/webhooks", key).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let r = app
            .post(&format!("/api/v1/webhooks/{event}/replay"), key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    let r = app
        .get("/api/v1/webhooks?source=nowhere", &app.a_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The dashboard: the list with a Replay button on the event only, and
    // the button (with its CSRF token) replays.
    let (session, csrf) = app.login().await;
    let page = app.page(app.url("/webhooks"), &session).await;
    assert!(page.contains("email_opened"), "{page}");
    assert_eq!(
        page.matches(&format!("action=\"/webhooks/{event}/replay\""))
            .count(),
        1
    );
    assert!(!page.contains(&format!("/webhooks/{malformed}/replay")));
    let r = app
        .http
        .post(app.url(&format!("/webhooks/{event}/replay")))
        .header("cookie", &session)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = app
        .http
        .post(app.url(&format!("/webhooks/{event}/replay")))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token, no replay");
    let stored: Value = app.get("/api/v1/webhooks", &app.a_admin).json_value().await;
    assert_eq!(stored["events"][2]["status"], "processed");
}

/// An intent vendor's signals by webhook: stored raw, once per body, the
/// signals deduplicated again by the store, listed and replayable.
async fn intent_signals(app: App) {
    app.import(
        &app.a_admin,
        "email,company_domain\nann@acme.com,acme.com\n",
    )
    .await;
    let path = "/integrations/intent/bombora/webhook";
    let signals = json!({"signals": [
        {"domain": "acme.com", "topic": "crm software", "score": 91, "detected_at": "2026-11-29"},
        {"domain": "acme.com", "topic": "sales automation", "score": 88, "detected_at": "2026-11-28"},
        {"domain": "acme.com", "topic": "", "score": 80, "detected_at": "2026-11-28"},
    ]})
    .to_string();
    let (status, v) = post_to(&app, path, Some(SECRET), &signals).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["processed"], true, "{v}");
    let (status, v) = post_to(&app, path, Some(SECRET), &signals).await;
    assert_eq!((status, &v["duplicate"]), (200, &json!(true)), "{v}");
    let (status, _) = post_to(&app, path, Some(SECRET), r#"{"hello": "world"}"#).await;
    assert_eq!(status, 400, "not signals");
    let (status, _) = post_to(&app, path, None, &signals).await;
    assert_eq!(status, 401);
    let (status, _) = post_to(
        &app,
        "/integrations/intent/bad%20name/webhook",
        Some(SECRET),
        &signals,
    )
    .await;
    assert_eq!(status, 400);

    let list = app
        .get("/api/v1/webhooks?source=intent:bombora", &app.a_admin)
        .json_value()
        .await;
    let events = list["events"].as_array().expect("events");
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["rejected", "malformed", "processed"], "{list}");
    let id = events[2]["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/api/v1/webhooks/{id}/replay"), &app.a_admin)
        .json_value()
        .await;
    assert_eq!(r["processed"], true, "{r}");
    assert_eq!(
        (
            &r["effects"]["received"],
            &r["effects"]["added"],
            &r["effects"]["rejected"]
        ),
        (&json!(3), &json!(0), &json!(1)),
        "the two good signals are stored already: {r}"
    );
}
