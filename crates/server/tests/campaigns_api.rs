//! Segments and campaigns in the API and the dashboard, on SQLite and
//! PostgreSQL: the preview, `where=` on the lead listing, campaigns
//! created, listed, shown, pushed and paused, roles, tenants, and the
//! campaign pages with their forms.

mod common;

use std::sync::Arc;

use common::{A, App, B, JsonReply, error_code};
use leadgen_app::campaigns::push_spec_with;
use leadgen_app::discovery::EnvLookup;
use leadgen_integrations::fake_instantly::{FAKE_INSTANTLY_KEY, FakeInstantly};
use leadgen_jobs::{Registry, SystemClock, WorkerOptions, run_worker};
use leadgen_store::{NewWebhookEvent, Role};
use serde_json::{Value, json};

both_backends! {
    segment_preview_counts_samples_and_names_the_error_column,
    the_lead_listing_takes_a_segment,
    campaigns_are_created_listed_shown_pushed_and_paused,
    viewers_read_campaigns_and_members_write_them,
    tenants_never_see_or_change_each_others_campaigns,
    metrics_combine_events_analytics_and_positive_replies,
    a_paused_campaign_is_not_pushed_until_pushed_again,
    campaign_pages_build_show_push_and_pause,
    campaign_pages_escape_names_and_hide_other_tenants,
}

/// Two dentists in the northeast, a plumber in NY, a dentist in CA.
const LEADS_CSV: &str = "email,first_name,last_name,company,industry,state\n\
ann@acme.example,Ann,Archer,Acme,Dentist,NY\n\
bob@beta.example,Bob,Baker,Beta,dentist,NJ\n\
cy@gamma.example,Cy,Cole,Gamma,Plumber,NY\n\
dee@delta.example,Dee,Dunn,Delta,dentist,CA\n";

const NORTHEAST: &str = r#"industry = "dentist" and state in ("NY","NJ","CT")"#;

fn preview_url(segment: &str) -> String {
    format!(
        "/api/v1/segments/preview?{}",
        serde_urlencoded::to_string([("where", segment)]).unwrap()
    )
}

async fn create(app: &App, key: &str, name: &str, segment: &str) -> reqwest::Response {
    app.post("/api/v1/campaigns", key)
        .json(&json!({ "name": name, "where": segment }))
        .send()
        .await
        .unwrap()
}

/// Imports the leads and creates the northeast campaign in A; its id.
async fn seeded_campaign(app: &App) -> i64 {
    app.import(&app.a_admin, LEADS_CSV).await;
    let r = create(app, &app.a_member, "Dentists Northeast", NORTHEAST).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["preview_count"], 2, "{v}");
    v["id"].as_i64().unwrap()
}

async fn segment_preview_counts_samples_and_names_the_error_column(app: App) {
    app.import(&app.a_admin, LEADS_CSV).await;
    let v: Value = app
        .get(&preview_url(NORTHEAST), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(v["count"], 2, "{v}");
    let mut emails: Vec<&str> = v["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["email"].as_str().unwrap())
        .collect();
    emails.sort_unstable();
    assert_eq!(emails, ["ann@acme.example", "bob@beta.example"]);

    let v: Value = app
        .get(
            &format!("{}&sample=1", preview_url("state = \"NY\"")),
            &app.a_viewer,
        )
        .json_value()
        .await;
    assert_eq!(v["count"], 2);
    assert_eq!(v["sample"].as_array().unwrap().len(), 1, "sample=1");

    // A segment that does not parse: 400, naming where.
    let r = app
        .get(&preview_url(r#"industry = "dentist" and"#), &app.a_viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
    assert_eq!(v["error"]["details"]["field"], "where");
    let column = v["error"]["details"]["column"].as_u64().unwrap();
    assert!(column >= 24, "the column is past the 'and': {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("column {column}")),
        "{v}"
    );
    let r = app
        .get(&preview_url("shoe_size = 9"), &app.a_viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "bad_request");
    for bad in [
        "/api/v1/segments/preview",
        "/api/v1/segments/preview?where=score%3E1&sample=51",
    ] {
        let r = app.get(bad, &app.a_viewer).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(error_code(r).await, "bad_request");
    }
}

async fn the_lead_listing_takes_a_segment(app: App) {
    app.import(&app.a_admin, LEADS_CSV).await;
    let url = format!(
        "/api/v1/leads?sort=oldest&{}",
        serde_urlencoded::to_string([("where", NORTHEAST)]).unwrap()
    );
    let v: Value = app.get(&url, &app.a_viewer).json_value().await;
    let emails: Vec<&str> = v["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ann@acme.example", "bob@beta.example"]);
    // With the other filters, and paged: one per page.
    let v: Value = app
        .get(&format!("{url}&limit=1"), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(v["leads"].as_array().unwrap().len(), 1);
    let next = v["next_cursor"].as_str().expect("a second page");
    let v: Value = app
        .get(&format!("{url}&limit=1&cursor={next}"), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(v["leads"][0]["email"], "bob@beta.example");
    let r = app
        .get("/api/v1/leads?where=score%20%3E%3D", &app.a_viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["details"]["field"], "where", "{v}");
}

async fn campaigns_are_created_listed_shown_pushed_and_paused(app: App) {
    let id = seeded_campaign(&app).await;
    let v: Value = app
        .get("/api/v1/campaigns", &app.a_viewer)
        .json_value()
        .await;
    let list = v["campaigns"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["status"], "draft");
    assert_eq!(list[0]["counts"]["leads"], 2);

    let v: Value = app
        .get(&format!("/api/v1/campaigns/{id}"), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(v["campaign"]["name"], "Dentists Northeast");
    assert_eq!(v["campaign"]["segment"], NORTHEAST);
    assert_eq!(v["campaign"]["instantly_campaign_id"], Value::Null);
    let m = &v["metrics"];
    for (k, want) in [
        ("leads", 2),
        ("pushed", 0),
        ("sent", 0),
        ("opened", 0),
        ("replied", 0),
        ("bounced", 0),
        ("positive_replies", 0),
        ("pushed_to_crm", 0),
    ] {
        assert_eq!(m[k], want, "metrics.{k} in {v}");
    }

    // Push: a job is queued and the campaign is loading.
    let r = app
        .post(
            &format!("/api/v1/campaigns/{id}/push?batch_size=500"),
            &app.a_member,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    let job: Value = app
        .get(&format!("/api/v1/jobs/{}", v["job_id"]), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(job["job_type"], "push_to_instantly", "{job}");
    assert_eq!(job["payload"], json!({ "campaign": id, "batch_size": 500 }));
    let c: Value = app
        .get(&format!("/api/v1/campaigns/{id}"), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(c["campaign"]["status"], "loading");

    // Pause.
    let r = app
        .post(&format!("/api/v1/campaigns/{id}/pause"), &app.a_member)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "paused");

    // Refusals: a bad segment, a blank name, unknown fields, a bad batch
    // size, an unknown campaign.
    let r = create(&app, &app.a_member, "Bad", "industry ==").await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["details"]["field"], "where");
    let r = create(&app, &app.a_member, "  ", NORTHEAST).await;
    assert_eq!(r.status(), 422);
    assert_eq!(error_code(r).await, "unprocessable");
    let r = app
        .post("/api/v1/campaigns", &app.a_member)
        .json(&json!({"name": "x", "where": NORTHEAST, "owner": "me"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    error_code(r).await;
    let r = app
        .post(
            &format!("/api/v1/campaigns/{id}/push?batch_size=1001"),
            &app.a_member,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    for path in ["/api/v1/campaigns/999999", "/api/v1/campaigns/999999/push"] {
        let r = if path.ends_with("push") {
            app.post(path, &app.a_member).send().await.unwrap()
        } else {
            app.get(path, &app.a_member).send().await.unwrap()
        };
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(error_code(r).await, "not_found");
    }
    // A completed campaign is neither pushed nor paused.
    app.store(move |s| s.set_campaign_status(A, id, "completed", 1).unwrap())
        .await;
    for action in ["push", "pause"] {
        let r = app
            .post(&format!("/api/v1/campaigns/{id}/{action}"), &app.a_member)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{action}");
        assert_eq!(error_code(r).await, "conflict");
    }
    // The OpenAPI document lists every route.
    let doc: Value = app
        .get("/api/v1/openapi.json", &app.a_viewer)
        .json_value()
        .await;
    for (path, method) in [
        ("/api/v1/segments/preview", "get"),
        ("/api/v1/campaigns", "get"),
        ("/api/v1/campaigns", "post"),
        ("/api/v1/campaigns/{id}", "get"),
        ("/api/v1/campaigns/{id}/push", "post"),
        ("/api/v1/campaigns/{id}/pause", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} documented"
        );
    }
    let params = doc["paths"]["/api/v1/leads"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(
        params.iter().any(|p| p["name"] == "where"),
        "where= documented"
    );
}

async fn viewers_read_campaigns_and_members_write_them(app: App) {
    let id = seeded_campaign(&app).await;
    let r = create(&app, &app.a_viewer, "Viewer's", NORTHEAST).await;
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "forbidden");
    for action in ["push", "pause"] {
        let r = app
            .post(&format!("/api/v1/campaigns/{id}/{action}"), &app.a_viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "viewer {action}");
        assert_eq!(error_code(r).await, "forbidden");
    }
    let v: Value = app
        .get(&format!("/api/v1/campaigns/{id}"), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(v["campaign"]["status"], "draft", "nothing changed");
    let jobs: Value = app
        .get("/api/v1/jobs?type=push_to_instantly", &app.a_admin)
        .json_value()
        .await;
    assert!(jobs["jobs"].as_array().unwrap().is_empty(), "no job queued");
    let v: Value = app
        .get("/api/v1/campaigns", &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(v["campaigns"].as_array().unwrap().len(), 1);
    // Without credentials, nothing.
    for path in [
        "/api/v1/campaigns",
        "/api/v1/segments/preview?where=score%3E1",
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
}

async fn tenants_never_see_or_change_each_others_campaigns(app: App) {
    let id = seeded_campaign(&app).await;
    let b = &app.b_admin;
    let v: Value = app.get("/api/v1/campaigns", b).json_value().await;
    assert!(v["campaigns"].as_array().unwrap().is_empty(), "{v}");
    let v: Value = app.get(&preview_url(NORTHEAST), b).json_value().await;
    assert_eq!(v["count"], 0, "A's leads are not in B's segment: {v}");
    assert!(v["sample"].as_array().unwrap().is_empty());
    let url = format!(
        "/api/v1/leads?{}",
        serde_urlencoded::to_string([("where", NORTHEAST)]).unwrap()
    );
    let v: Value = app.get(&url, b).json_value().await;
    assert!(v["leads"].as_array().unwrap().is_empty());
    let r = app
        .get(&format!("/api/v1/campaigns/{id}"), b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "not_found");
    for action in ["push", "pause"] {
        let r = app
            .post(&format!("/api/v1/campaigns/{id}/{action}"), b)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "B {action}s A's campaign");
        assert_eq!(error_code(r).await, "not_found");
    }
    // B's own campaign over the same segment has none of A's leads, and
    // A does not see it.
    let r = create(&app, b, "B's", NORTHEAST).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["preview_count"], 0);
    let b_id = v["id"].as_i64().unwrap();
    let r = app
        .get(&format!("/api/v1/campaigns/{b_id}"), &app.a_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A's campaign is as it was, and no push job was queued in either.
    let v: Value = app
        .get(&format!("/api/v1/campaigns/{id}"), &app.a_admin)
        .json_value()
        .await;
    assert_eq!(v["campaign"]["status"], "draft");
    for key in [&app.a_admin, b] {
        let jobs: Value = app
            .get("/api/v1/jobs?type=push_to_instantly", key)
            .json_value()
            .await;
        assert!(jobs["jobs"].as_array().unwrap().is_empty());
    }
}

async fn metrics_combine_events_analytics_and_positive_replies(app: App) {
    let id = seeded_campaign(&app).await;
    app.store(move |s| {
        s.set_instantly_campaign(A, id, "cmp-1", 2).unwrap();
        // Instantly's analytics say 5 sent and 2 opened; webhooks brought
        // one sent, one reply and one bounce.
        let analytics = json!({"campaign_id": "cmp-1", "emails_sent_count": 5, "open_count": 2});
        s.set_campaign_metrics(A, id, &analytics.to_string(), 3)
            .unwrap();
        for (i, ty) in ["email_sent", "reply_received", "email_bounced"]
            .iter()
            .enumerate()
        {
            let e = NewWebhookEvent {
                source: "instantly".into(),
                received_at: 4,
                headers: "{}".into(),
                body: "{}".into(),
                status: "received".into(),
                error: None,
                dedupe_key: Some(format!("k{i}")),
                event_type: Some((*ty).into()),
                campaign_ref: Some("cmp-1".into()),
            };
            let wid = s.record_webhook(A, &e).unwrap().unwrap();
            s.set_webhook_status(A, wid, "processed", None).unwrap();
        }
        // A positive reply queued one lead for the CRM.
        let mut job = leadgen_core::job::NewJob::new(A, "push_to_crm", "{}");
        job.unique_key = Some(leadgen_store::campaigns::crm_job_key(id, 1));
        s.enqueue(&[job], 5).unwrap();
    })
    .await;
    let v: Value = app
        .get(&format!("/api/v1/campaigns/{id}"), &app.a_viewer)
        .json_value()
        .await;
    let m = &v["metrics"];
    assert_eq!(
        (
            &m["sent"],
            &m["opened"],
            &m["replied"],
            &m["bounced"],
            &m["positive_replies"]
        ),
        (&json!(5), &json!(2), &json!(1), &json!(1), &json!(1)),
        "{v}"
    );
    assert_eq!(v["campaign"]["instantly_campaign_id"], "cmp-1");
    assert_eq!(v["events"]["email_sent"], 1);
}

async fn a_paused_campaign_is_not_pushed_until_pushed_again(app: App) {
    let id = seeded_campaign(&app).await;
    let instantly = FakeInstantly::spawn();
    let base = instantly.base_url();
    let env: EnvLookup = Arc::new(move |k: &str| match k {
        "LEADGEN_INSTANTLY_BASE_URL" => Some(base.clone()),
        "LEADGEN_INSTANTLY_API_KEY" => Some(FAKE_INSTANTLY_KEY.into()),
        _ => None,
    });
    let mut registry = Registry::new();
    registry.register(push_spec_with(env));
    let registry = Arc::new(registry);
    let work = || async {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let mut o = WorkerOptions::new("campaigns-api");
        o.until_idle = true;
        run_worker(
            app.store.clone(),
            registry.clone(),
            Arc::new(SystemClock),
            o,
            rx,
        )
        .await
        .unwrap();
    };
    let post = |action: &'static str| {
        app.post(&format!("/api/v1/campaigns/{id}/{action}"), &app.a_member)
            .send()
    };
    assert_eq!(post("push").await.unwrap().status(), 202);
    assert_eq!(post("pause").await.unwrap().status(), 200);
    work().await;
    {
        let c = instantly.control();
        assert!(c.campaigns.is_empty(), "a paused campaign is not created");
        assert_eq!(c.uploads, 0, "nor uploaded");
    }
    let show = || async {
        app.get(&format!("/api/v1/campaigns/{id}"), &app.a_viewer)
            .json_value()
            .await
    };
    let v: Value = show().await;
    assert_eq!(v["campaign"]["status"], "paused");
    assert_eq!(v["metrics"]["pushed"], 0);
    // Pushed again, it resumes and finishes.
    assert_eq!(post("push").await.unwrap().status(), 202);
    work().await;
    let v: Value = show().await;
    assert_eq!(v["campaign"]["status"], "active", "{v}");
    assert_eq!(v["metrics"]["pushed"], 2);
    let c = instantly.control();
    assert_eq!(c.campaigns.len(), 1);
    assert!(c.duplicates().is_empty());
}

async fn form(app: &App, cookie: &str, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn campaign_pages_build_show_push_and_pause(app: App) {
    app.import(&app.a_admin, LEADS_CSV).await;
    let (session, csrf) = app.login().await;
    let home = app.page(app.url("/"), &session).await;
    assert!(home.contains("href=\"/campaigns\""), "nav link");
    assert!(home.contains("href=\"/campaigns/new\""), "quick action");
    let list = app.page(app.url("/campaigns"), &session).await;
    assert!(list.contains("No campaign yet"));
    let builder = app.page(app.url("/campaigns/new"), &session).await;
    for needle in [
        "id=\"segment\"",
        "name=\"where\"",
        "<textarea",
        "id=\"segment-count\"",
        "id=\"segment-sample\"",
        "<label for=\"segment\"",
        "name=\"csrf_token\"",
    ] {
        assert!(builder.contains(needle), "builder lacks {needle}");
    }
    // The script asks the preview endpoint, debounced, and shows errors.
    let js = app
        .http
        .get(app.url("/static/app.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("/api/v1/segments/preview?sample=10&where="));
    assert!(js.contains("setTimeout(previewSegment"));
    assert!(js.contains("segment-error"));
    // The session reads the preview as the script does.
    let r = app
        .http
        .get(app.url(&preview_url(NORTHEAST)))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["count"], 2);

    // Without the token the form is refused; a bad segment shows the
    // builder again with the error and what was typed.
    let fields = [("name", "Dentists NE"), ("where", NORTHEAST)];
    let r = form(&app, &session, "/campaigns", &fields).await;
    assert_eq!(r.status(), 403);
    let r = form(
        &app,
        &session,
        "/campaigns",
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "Dentists NE"),
            ("where", "industry = "),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("column"), "the error names the column");
    assert!(page.contains("value=\"Dentists NE\""), "the name is kept");
    assert!(
        page.contains(">industry = </textarea>"),
        "the segment is kept"
    );
    let r = form(
        &app,
        &session,
        "/campaigns",
        &[("csrf_token", csrf.as_str()), fields[0], fields[1]],
    )
    .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let id: i64 = location
        .strip_prefix("/campaigns/")
        .and_then(|s| s.parse().ok())
        .expect("redirected to the campaign");

    let detail = app.page(app.url(&location), &session).await;
    assert!(detail.contains("Dentists NE"));
    assert!(detail.contains("data-metric=\"leads\">2<"), "2 leads");
    for label in [
        "pushed to Instantly",
        "sent",
        "opened",
        "replied",
        "bounced",
        "positive replies",
        "pushed to CRM",
    ] {
        assert!(detail.contains(&format!("<span>{label}</span>")), "{label}");
    }
    assert!(detail.contains(&format!("action=\"/campaigns/{id}/push\"")));
    assert!(detail.contains(&format!("action=\"/campaigns/{id}/pause\"")));
    let list = app.page(app.url("/campaigns"), &session).await;
    assert!(list.contains(&format!("href=\"/campaigns/{id}\"")));

    // Push and Pause need the token too.
    let push = format!("/campaigns/{id}/push");
    let pause = format!("/campaigns/{id}/pause");
    assert_eq!(form(&app, &session, &push, &[]).await.status(), 403);
    let status = || async {
        let v: Value = app
            .get(&format!("/api/v1/campaigns/{id}"), &app.a_admin)
            .json_value()
            .await;
        v["campaign"]["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(status().await, "draft");
    let token = [("csrf_token", csrf.as_str())];
    let r = form(&app, &session, &push, &token).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], location.as_str());
    assert_eq!(status().await, "loading");
    assert_eq!(form(&app, &session, &pause, &token).await.status(), 303);
    assert_eq!(status().await, "paused");
    let detail = app.page(app.url(&location), &session).await;
    assert!(
        detail.contains(&format!("action=\"/campaigns/{id}/push\"")),
        "push resumes"
    );
    assert!(
        !detail.contains(&format!("action=\"/campaigns/{id}/pause\"")),
        "already paused"
    );
}

async fn campaign_pages_escape_names_and_hide_other_tenants(app: App) {
    app.import(&app.a_admin, LEADS_CSV).await;
    let r = create(
        &app,
        &app.a_member,
        "<script>alert(1)</script>",
        "state = \"NY\"",
    )
    .await;
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (session, csrf) = app.login().await;
    for path in ["/campaigns".to_owned(), format!("/campaigns/{id}")] {
        let page = app.page(app.url(&path), &session).await;
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
        assert!(!page.contains("<script>alert(1)"), "{path}");
    }
    // A segment typed into the builder's address is echoed escaped.
    let page = app
        .page(
            app.url("/campaigns/new?where=%3C%2Ftextarea%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E"),
            &session,
        )
        .await;
    assert!(!page.contains("<script>alert(2)"));
    assert!(page.contains("&lt;/textarea&gt;&lt;script&gt;"));

    // A user of workspace B sees none of it and changes nothing.
    let now = leadgen_server::now_ms();
    app.store(move |s| {
        leadgen_server::credentials::create_user(
            s,
            B,
            "bea@b.example",
            common::PASSWORD,
            Role::Admin,
            now,
        )
        .unwrap()
    })
    .await;
    let (b_session, b_csrf) = app.login_as("bea@b.example").await;
    let list = app.page(app.url("/campaigns"), &b_session).await;
    assert!(list.contains("No campaign yet"), "B's list is empty");
    let r = app
        .http
        .get(app.url(&format!("/campaigns/{id}")))
        .header("cookie", &b_session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    for action in ["push", "pause"] {
        let r = form(
            &app,
            &b_session,
            &format!("/campaigns/{id}/{action}"),
            &[("csrf_token", b_csrf.as_str())],
        )
        .await;
        assert_eq!(r.status(), 404, "B {action}es A's campaign");
    }
    let v: Value = app
        .get(&format!("/api/v1/campaigns/{id}"), &app.a_admin)
        .json_value()
        .await;
    assert_eq!(v["campaign"]["status"], "draft");
    // A's token does not work in B's session.
    let r = form(
        &app,
        &b_session,
        "/campaigns",
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "x"),
            ("where", "score > 1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
}
