//! The REST API end to end: the app on a random port, on SQLite and on
//! PostgreSQL, driven over HTTP.

mod common;

use common::{A, App, JsonReply, SAMPLE_CSV, error_code};
use serde_json::{Value, json};

both_backends! {
    every_documented_route_refuses_anonymous_and_wrong_keys,
    documented_routes_and_router_agree,
    viewer_cannot_write,
    member_cannot_manage_keys_or_users,
    tenants_never_see_or_change_each_other,
    revoked_key_is_refused,
    import_then_filter_sort_page_and_read_provenance,
    create_update_delete_and_bulk_tag_leads,
    imports_take_a_column_mapping,
    jobs_and_runs_retry_cancel_pause_resume,
    errors_have_one_shape_and_the_right_status,
    admin_creates_and_lists_keys_and_users,
    companies_list_by_state_page_and_show_their_leads,
    verify_trigger_enqueues_a_job_per_lead_with_an_email,
    enrich_trigger_enqueues_a_job_per_lead_it_can_enrich_once,
    settings_show_services_budgets_and_rules_to_admins,
}

/// Every operation in the document, as (method, path with ids filled in).
async fn documented_operations(app: &App) -> Vec<(String, String)> {
    let doc: Value = app
        .get("/api/v1/openapi.json", &app.a_admin)
        .json_value()
        .await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1"
    );
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.push((method.clone(), path.replace("{id}", "999999")));
            }
        }
    }
    assert!(ops.len() >= 20, "{} operations documented", ops.len());
    ops
}

fn request(app: &App, method: &str, path: &str) -> reqwest::RequestBuilder {
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    app.http.request(m, app.url(path))
}

async fn every_documented_route_refuses_anonymous_and_wrong_keys(app: App) {
    for (method, path) in documented_operations(&app).await {
        if path.starts_with("/workers/") {
            // Remote-worker routes take the worker secret, not keys; this
            // server has none, so they are off (tests/workers.rs checks
            // their 401s with a secret configured).
            let r = request(&app, &method, &path)
                .bearer_auth(&app.a_admin)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "{method} {path} with no worker secret set");
            assert_eq!(error_code(r).await, "not_found");
            continue;
        }
        let r = request(&app, &method, &path).send().await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path} without credentials");
        assert_eq!(error_code(r).await, "unauthorized");
        let r = request(&app, &method, &path)
            .bearer_auth("lgk_not-a-real-key")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path} with an unknown key");
    }
    // Browsers asking for pages are sent to the login form instead.
    let r = app
        .http
        .get(app.url("/leads"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
}

async fn documented_routes_and_router_agree(app: App) {
    let ops = documented_operations(&app).await;
    // Document → router: every documented operation is routed (an unrouted
    // one would answer 404 "route not found" or 405).
    for (method, path) in &ops {
        let r = request(&app, method, path)
            .bearer_auth(&app.a_admin)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_ne!(status, 405, "{method} {path} is documented but not routed");
        if status == 404 {
            let v: Value = r.json().await.unwrap();
            assert_ne!(
                v["error"]["message"], "route not found",
                "{method} {path} is documented but not routed"
            );
        }
    }
    // Router → document: on a documented path, every method the document
    // does not list is refused by the router (405), so the router serves no
    // operation the document lacks; and paths outside the document are 404.
    for (method, path) in &ops {
        for other in ["get", "post", "put", "patch", "delete"] {
            if ops.iter().any(|(m, p)| m == other && p == path) {
                continue;
            }
            let r = request(&app, other, path)
                .bearer_auth(&app.a_admin)
                .send()
                .await
                .unwrap();
            if path.starts_with("/workers/") {
                // Off without a worker secret: nothing is served there
                // (tests/remote_writes.rs checks the 405s with one).
                assert_eq!(r.status(), 404, "{other} {path}");
                continue;
            }
            assert_eq!(
                r.status(),
                405,
                "{other} {path} answers but only {method} is documented"
            );
        }
    }
    let r = app
        .get("/api/v1/undocumented", &app.a_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "not_found");
}

async fn viewer_cannot_write(app: App) {
    app.import(&app.a_admin, SAMPLE_CSV).await;
    let id = first_lead_id(&app, &app.a_admin).await;
    let writes: Vec<(&str, String, Value)> = vec![
        (
            "post",
            "/api/v1/leads".into(),
            json!({"email": "v@x.example"}),
        ),
        (
            "patch",
            format!("/api/v1/leads/{id}"),
            json!({"tags": ["x"]}),
        ),
        ("delete", format!("/api/v1/leads/{id}"), json!({})),
        (
            "post",
            "/api/v1/leads/bulk-tag".into(),
            json!({"ids": [id], "add": ["x"]}),
        ),
        (
            "post",
            format!("/api/v1/jobs/{}/cancel", app.a_job),
            json!({}),
        ),
        (
            "post",
            format!("/api/v1/jobs/{}/retry", app.a_job),
            json!({}),
        ),
        (
            "post",
            format!("/api/v1/runs/{}/pause", app.a_run),
            json!({}),
        ),
        ("post", "/api/v1/imports".into(), json!({})),
        (
            "post",
            "/api/v1/api-keys".into(),
            json!({"name": "n", "role": "admin"}),
        ),
    ];
    for (method, path, body) in writes {
        let r = request(&app, method, &path)
            .bearer_auth(&app.a_viewer)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "viewer {method} {path}");
        assert_eq!(error_code(r).await, "forbidden");
    }
    // Nothing changed, and reading works.
    let r = app
        .get(&format!("/api/v1/leads/{id}"), &app.a_viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["lead"]["tags"].as_array().unwrap().is_empty());
    let job: Value = app
        .get(&format!("/api/v1/jobs/{}", app.a_job), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(job["status"], "pending");
}

async fn member_cannot_manage_keys_or_users(app: App) {
    for (method, path) in [
        ("get", "/api/v1/api-keys".to_owned()),
        ("get", "/api/v1/users".to_owned()),
        (
            "delete",
            format!("/api/v1/api-keys/{}", app.a_member_key_id),
        ),
    ] {
        let r = request(&app, method, &path)
            .bearer_auth(&app.a_member)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "member {method} {path}");
    }
    let r = app
        .post("/api/v1/users", &app.a_member)
        .json(&json!({"email": "m@a.example", "password": "0123456789ab", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A member does write leads.
    let r = app
        .post("/api/v1/leads", &app.a_member)
        .json(&json!({"email": "member@a.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn first_lead_id(app: &App, key: &str) -> i64 {
    let v: Value = app.get("/api/v1/leads?sort=oldest", key).json_value().await;
    v["leads"][0]["id"].as_i64().expect("a lead")
}

async fn tenants_never_see_or_change_each_other(app: App) {
    app.import(&app.a_admin, SAMPLE_CSV).await;
    let lead = first_lead_id(&app, &app.a_admin).await;
    let b = &app.b_admin;

    // Listings of B hold nothing of A.
    for (path, field) in [
        ("/api/v1/leads", "leads"),
        ("/api/v1/jobs", "jobs"),
        ("/api/v1/runs", "runs"),
        ("/api/v1/api-keys", "api_keys"),
        ("/api/v1/users", "users"),
    ] {
        let v: Value = app.get(path, b).send().await.unwrap().json().await.unwrap();
        let items = v[field].as_array().unwrap();
        assert!(
            items
                .iter()
                .all(|i| i.get("workspace").is_none_or(|w| w != A)),
            "{path} of B shows A's items: {v}"
        );
        match field {
            "leads" | "jobs" | "runs" | "users" => {
                assert!(items.is_empty(), "{path} of B: {v}")
            }
            // B's own key only.
            _ => assert_eq!(items.len(), 1, "{path} of B: {v}"),
        }
    }
    let stats: Value = app.get("/api/v1/stats", b).json_value().await;
    assert_eq!(stats["leads"], 0);
    let jobs: Value = app.get("/api/v1/jobs/stats", b).json_value().await;
    assert_eq!(jobs["by_status"]["pending"], 0);

    // A's resources by id: 404 for B, read or write, never 403.
    let attempts: Vec<(&str, String, Value)> = vec![
        ("get", format!("/api/v1/leads/{lead}"), json!(null)),
        (
            "patch",
            format!("/api/v1/leads/{lead}"),
            json!({"status": "invalid"}),
        ),
        ("delete", format!("/api/v1/leads/{lead}"), json!(null)),
        ("get", format!("/api/v1/jobs/{}", app.a_job), json!(null)),
        (
            "post",
            format!("/api/v1/jobs/{}/cancel", app.a_job),
            json!(null),
        ),
        (
            "post",
            format!("/api/v1/jobs/{}/retry", app.a_job),
            json!(null),
        ),
        ("get", format!("/api/v1/runs/{}", app.a_run), json!(null)),
        (
            "post",
            format!("/api/v1/runs/{}/pause", app.a_run),
            json!(null),
        ),
        (
            "post",
            format!("/api/v1/runs/{}/resume", app.a_run),
            json!(null),
        ),
        (
            "delete",
            format!("/api/v1/api-keys/{}", app.a_member_key_id),
            json!(null),
        ),
    ];
    for (method, path, body) in attempts {
        let mut req = request(&app, method, &path).bearer_auth(b);
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 404, "B {method} {path}");
        assert_eq!(error_code(r).await, "not_found");
    }
    let r = app
        .post("/api/v1/leads/bulk-tag", b)
        .json(&json!({"ids": [lead], "add": ["stolen"]}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["updated"], 0);
    assert_eq!(v["not_found"], json!([lead]));

    // And A's data is untouched.
    let v: Value = app
        .get(&format!("/api/v1/leads/{lead}"), &app.a_admin)
        .json_value()
        .await;
    assert_eq!(v["lead"]["status"], "raw");
    assert!(v["lead"]["tags"].as_array().unwrap().is_empty());
    let job: Value = app
        .get(&format!("/api/v1/jobs/{}", app.a_job), &app.a_admin)
        .json_value()
        .await;
    assert_eq!(job["status"], "pending");
    let run: Value = app
        .get(&format!("/api/v1/runs/{}", app.a_run), &app.a_admin)
        .json_value()
        .await;
    assert_eq!(run["status"], "running");
    let r = app
        .get("/api/v1/stats", &app.a_member)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "A's member key was not revoked by B");

    // An import by B lands in B only.
    app.import(b, SAMPLE_CSV).await;
    let a_stats: Value = app.get("/api/v1/stats", &app.a_admin).json_value().await;
    assert_eq!(a_stats["leads"], 2);
}

async fn revoked_key_is_refused(app: App) {
    let r = app
        .get("/api/v1/stats", &app.a_member)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/api-keys/{}", app.a_member_key_id)))
        .bearer_auth(&app.a_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .get("/api/v1/stats", &app.a_member)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(error_code(r).await, "unauthorized");
    let keys: Value = app.get("/api/v1/api-keys", &app.a_admin).json_value().await;
    let k = keys["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == app.a_member_key_id)
        .unwrap();
    assert!(k["revoked_at"].is_i64());
    assert!(k.get("key_hash").is_none(), "no hash in listings");
}

async fn import_then_filter_sort_page_and_read_provenance(app: App) {
    let s = app.import(&app.a_member, SAMPLE_CSV).await;
    assert_eq!(
        (s["rows_read"].as_u64(), s["inserted"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(s["rejected"], 1);
    assert_eq!(s["reject_reasons"][0]["line"], "4");
    assert!(s["reject_reasons"][0]["reason"].as_str().unwrap().len() > 3);

    let v: Value = app
        .get("/api/v1/leads?q=acme", &app.a_viewer)
        .json_value()
        .await;
    let leads = v["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["email"], "ann@acme.example");

    // Pages of one: two pages, then no cursor.
    let p1: Value = app
        .get("/api/v1/leads?limit=1&sort=oldest", &app.a_viewer)
        .json_value()
        .await;
    let cursor = p1["next_cursor"].as_str().expect("a next page").to_owned();
    let p2: Value = app
        .get(
            &format!("/api/v1/leads?limit=1&sort=oldest&cursor={cursor}"),
            &app.a_viewer,
        )
        .json_value()
        .await;
    assert_eq!(p1["leads"][0]["email"], "ann@acme.example");
    assert_eq!(p2["leads"][0]["email"], "bob@beta.example");
    let p3: Value = app
        .get(
            &format!(
                "/api/v1/leads?limit=1&sort=oldest&cursor={}",
                p2["next_cursor"].as_str().unwrap_or("")
            ),
            &app.a_viewer,
        )
        .json_value()
        .await;
    assert!(p3["leads"].as_array().unwrap().len() <= 1);
    let none: Value = app
        .get("/api/v1/leads?status=validated", &app.a_viewer)
        .json_value()
        .await;
    assert!(none["leads"].as_array().unwrap().is_empty());
    let scored: Value = app
        .get(
            "/api/v1/leads?min_score=0&max_score=100&source=csv_upload",
            &app.a_viewer,
        )
        .json_value()
        .await;
    assert_eq!(scored["leads"].as_array().unwrap().len(), 2);
    // Blank fields, as an HTML form sends them, are no filter.
    let blank: Value = app
        .get(
            "/api/v1/leads?min_score=&max_score=&status=&q=",
            &app.a_viewer,
        )
        .json_value()
        .await;
    assert_eq!(blank["leads"].as_array().unwrap().len(), 2);

    let id = leads[0]["id"].as_i64().unwrap();
    let d: Value = app
        .get(&format!("/api/v1/leads/{id}"), &app.a_viewer)
        .json_value()
        .await;
    let origin = d["provenance"]["origin"]
        .as_str()
        .expect("an origin record");
    let rec = &d["provenance"]["records"][origin];
    assert_eq!(rec["cells"]["company"], "Acme");
    assert_eq!(rec["line"], 2);
    assert_eq!(d["provenance"]["fields"]["email"], origin);
    assert!(d["score"]["factors"].is_array());
    assert!(d["verification"].is_null());
}

async fn imports_take_a_column_mapping(app: App) {
    let csv = "Contact,Who\nkim@k.example,Kim\n";
    let r = app
        .post(
            "/api/v1/imports?name=m.csv&map=email%3DContact,first_name%3DWho&tags=mapped",
            &app.a_member,
        )
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["inserted"], 1);
    let list: Value = app
        .get("/api/v1/leads?tag=mapped", &app.a_member)
        .json_value()
        .await;
    assert_eq!(list["leads"][0]["email"], "kim@k.example");
    assert_eq!(list["leads"][0]["first_name"], "Kim");
    let r = app
        .post("/api/v1/imports?map=shoe_size%3DContact", &app.a_member)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = app
        .post(
            "/api/v1/imports?map=email%3DNo%20Such%20Column",
            &app.a_member,
        )
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a mapping naming a missing column");
}

async fn create_update_delete_and_bulk_tag_leads(app: App) {
    let k = &app.a_member;
    let r = app
        .post("/api/v1/leads", k)
        .json(&json!({"email": "New@Example.com", "first_name": "Nia", "company_name": "Nexus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The same person again merges instead of duplicating.
    let r = app
        .post("/api/v1/leads", k)
        .json(&json!({"email": "new@example.com", "title": "VP Sales"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["merged"], 1);
    let list: Value = app.get("/api/v1/leads", k).json_value().await;
    let leads = list["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["email"], "new@example.com", "normalized");
    assert_eq!(leads[0]["title"], "VP Sales");
    let id = leads[0]["id"].as_i64().unwrap();

    let r = app
        .http
        .patch(app.url(&format!("/api/v1/leads/{id}")))
        .bearer_auth(k)
        .json(&json!({"status": "validated", "tags": ["hot"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["tags"].clone()),
        (Some("validated"), json!(["hot"]))
    );

    let r = app
        .post("/api/v1/leads/bulk-tag", k)
        .json(&json!({"ids": [id, 424242], "add": ["q3"], "remove": ["hot"]}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["updated"].clone(), v["not_found"].clone()),
        (json!(1), json!([424242]))
    );
    let tagged: Value = app.get("/api/v1/leads?tag=q3", k).json_value().await;
    assert_eq!(tagged["leads"][0]["tags"], json!(["q3"]));

    let r = app
        .http
        .delete(app.url(&format!("/api/v1/leads/{id}")))
        .bearer_auth(k)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .get(&format!("/api/v1/leads/{id}"), k)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let r = app
        .post("/api/v1/leads", k)
        .json(&json!({"first_name": "Only"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a row without identity is rejected");
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["details"]["reasons"][0]["reason"].is_string());
}

async fn jobs_and_runs_retry_cancel_pause_resume(app: App) {
    let k = &app.a_member;
    let job = format!("/api/v1/jobs/{}", app.a_job);
    let run = format!("/api/v1/runs/{}", app.a_run);
    let r = app.post(&format!("{job}/retry"), k).send().await.unwrap();
    assert_eq!(r.status(), 409, "a pending job cannot be retried");
    assert_eq!(error_code(r).await, "conflict");

    let v: Value = app.post(&format!("{run}/pause"), k).json_value().await;
    assert_eq!(v["status"], "paused");
    let r = app.post(&format!("{run}/pause"), k).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = app.post(&format!("{run}/resume"), k).json_value().await;
    assert_eq!(v["status"], "running");

    let v: Value = app.post(&format!("{job}/cancel"), k).json_value().await;
    assert_eq!(v["status"], "cancelled");
    let v: Value = app.post(&format!("{job}/retry"), k).json_value().await;
    assert_eq!(v["status"], "pending");

    let list: Value = app
        .get(&format!("/api/v1/jobs?status=pending&run={}", app.a_run), k)
        .json_value()
        .await;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1);
    let stats: Value = app.get("/api/v1/jobs/stats", k).json_value().await;
    assert_eq!(stats["by_status"]["pending"], 1);
    let runs: Value = app.get("/api/v1/runs", k).json_value().await;
    assert_eq!(runs["runs"][0]["id"], app.a_run);
    assert!(runs["runs"][0]["progress"].is_number());
}

async fn errors_have_one_shape_and_the_right_status(app: App) {
    let k = &app.a_admin;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (app.get("/api/v1/leads?min_score=lots", k), 400, "bad_request"),
        (app.get("/api/v1/leads?status=famous", k), 400, "bad_request"),
        (app.get("/api/v1/leads?cursor=zzz", k), 400, "bad_request"),
        (app.get("/api/v1/leads?limit=0", k), 400, "bad_request"),
        (app.get("/api/v1/leads/notanumber", k), 400, "bad_request"),
        (app.get("/api/v1/leads/777777", k), 404, "not_found"),
        (
            app.post("/api/v1/leads", k)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "bad_request",
        ),
        (
            app.post("/api/v1/leads", k).json(&json!({"shoe_size": "44"})),
            422,
            "unprocessable",
        ),
        (
            app.post("/api/v1/api-keys", k).json(&json!({"name": "x", "role": "god"})),
            422,
            "unprocessable",
        ),
        (
            app.post("/api/v1/users", k)
                .json(&json!({"email": common::ADMIN_EMAIL, "password": "0123456789ab", "role": "viewer"})),
            409,
            "conflict",
        ),
        (
            app.post("/api/v1/imports", k).header("content-type", "text/csv"),
            422,
            "unprocessable",
        ),
    ];
    for (req, status, code) in cases {
        let r = req.send().await.unwrap();
        let url = r.url().to_string();
        assert_eq!(r.status().as_u16(), status, "{url}");
        assert_eq!(error_code(r).await, code, "{url}");
    }
}

async fn admin_creates_and_lists_keys_and_users(app: App) {
    let r = app
        .post("/api/v1/api-keys", &app.a_admin)
        .json(&json!({"name": "zapier", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let issued: Value = r.json().await.unwrap();
    let key = issued["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("lgk_") && key.len() > 40);
    let r = app.get("/api/v1/stats", &key).send().await.unwrap();
    assert_eq!(r.status(), 200, "the new key works");
    let r = app
        .post("/api/v1/leads", &key)
        .json(&json!({"email": "x@y.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "with its role");
    let listing = app
        .get("/api/v1/api-keys", &app.a_admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listing.contains(&key), "a key is shown once only");

    let r = app
        .post("/api/v1/users", &app.a_admin)
        .json(&json!({"email": "Viewer@A.example", "password": "0123456789ab", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let users: Value = app.get("/api/v1/users", &app.a_admin).json_value().await;
    let emails: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec![common::ADMIN_EMAIL, "viewer@a.example"]);
    assert!(
        !users.to_string().contains("argon2"),
        "no hashes in listings"
    );
}

async fn companies_list_by_state_page_and_show_their_leads(app: App) {
    let acme = common::seed_company(&app, A, "Acme Dental", Some("acme-dental.com"), "NY").await;
    let beta = common::seed_company(&app, A, "Beta Labs", Some("betalabs.io"), "NJ").await;
    let gamma = common::seed_company(&app, A, "Gamma Cafe", None, "NY").await;
    let other =
        common::seed_company(&app, common::B, "Other Co", Some("other.example.com"), "NY").await;
    app.import(
        &app.a_admin,
        "email,first_name,company,company_domain\n\
         ann@acme-dental.com,Ann,Acme Dental,acme-dental.com\n\
         bo@gmail.com,Bo,Acme Dental,https://www.acme-dental.com/\n\
         cy@betalabs.io,Cy,Beta Labs,betalabs.io\n",
    )
    .await;

    let v = app
        .get("/api/v1/companies", &app.a_viewer)
        .json_value()
        .await;
    let ids: Vec<i64> = v["companies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![acme, beta, gamma],
        "only workspace A's, in id order"
    );
    assert_eq!(v["next_after"], Value::Null);
    assert_eq!(v["companies"][0]["domain"], "acme-dental.com");

    let v = app
        .get("/api/v1/companies?state=ny&limit=1", &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(v["companies"][0]["id"], acme);
    assert_eq!(v["next_after"], acme);
    let v = app
        .get(
            &format!("/api/v1/companies?state=NY&limit=1&after={acme}"),
            &app.a_viewer,
        )
        .json_value()
        .await;
    assert_eq!(v["companies"][0]["id"], gamma);

    // The detail lists the leads with its domain, however it was written.
    let v = app
        .get(&format!("/api/v1/companies/{acme}"), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(v["name"], "Acme Dental");
    assert!(v["provenance"].is_object());
    let mut emails: Vec<&str> = v["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["email"].as_str().unwrap())
        .collect();
    emails.sort();
    assert_eq!(emails, vec!["ann@acme-dental.com", "bo@gmail.com"]);
    let v = app
        .get(&format!("/api/v1/companies/{gamma}"), &app.a_viewer)
        .json_value()
        .await;
    assert_eq!(v["leads"], json!([]), "no domain, no leads");

    // The same filter on the lead listing, normalized like the import.
    let v = app
        .get(
            "/api/v1/leads?company_domain=WWW.Acme-Dental.com",
            &app.a_viewer,
        )
        .json_value()
        .await;
    assert_eq!(v["leads"].as_array().unwrap().len(), 2);
    let r = app
        .get(
            "/api/v1/leads?company_domain=not%20a%20domain",
            &app.a_viewer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Another workspace's company is not found; bad parameters are 400.
    for (path, status) in [
        (format!("/api/v1/companies/{other}"), 404),
        ("/api/v1/companies?state=New%20York".to_owned(), 400),
        ("/api/v1/companies?limit=0".to_owned(), 400),
    ] {
        let r = app.get(&path, &app.a_admin).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
    }
    let v = app
        .get("/api/v1/companies", &app.b_admin)
        .json_value()
        .await;
    assert_eq!(v["companies"].as_array().unwrap().len(), 1);
    assert_eq!(v["companies"][0]["id"], other);
}

async fn verify_trigger_enqueues_a_job_per_lead_with_an_email(app: App) {
    app.import(&app.a_admin, SAMPLE_CSV).await;
    app.import(
        &app.a_admin,
        "first_name,last_name,linkedin_url\nNo,Mail,https://www.linkedin.com/in/no-mail\n",
    )
    .await;
    app.import(&app.b_admin, "email\nzed@b.example\n").await;
    let r = app
        .post("/api/v1/leads/verify", &app.a_member)
        .json(&json!({"status": "raw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["enqueued"], 2, "{v}");
    assert_eq!(v["skipped"], 1, "the lead without an email: {v}");
    let run = v["run_id"].as_i64().expect("a run");
    let jobs = app
        .get(&format!("/api/v1/jobs?run={run}"), &app.a_viewer)
        .json_value()
        .await;
    let jobs = jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter().all(|j| j["job_type"] == "validate_email"),
        "{jobs:?}"
    );
    let mut lead_ids: Vec<i64> = Vec::new();
    for j in jobs {
        lead_ids.push(j["payload"]["lead_id"].as_i64().expect("payload.lead_id"));
    }
    lead_ids.sort();
    let listed = app
        .get("/api/v1/leads?sort=oldest", &app.a_viewer)
        .json_value()
        .await;
    let with_email: Vec<i64> = listed["leads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["email"].is_string())
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(lead_ids, with_email);

    // By id: another workspace's lead is not found, not verified.
    let b_lead = app.get("/api/v1/leads", &app.b_admin).json_value().await["leads"][0]["id"]
        .as_i64()
        .unwrap();
    let v = app
        .post("/api/v1/leads/verify", &app.a_member)
        .json(&json!({"ids": [with_email[0], b_lead]}))
        .json_value()
        .await;
    assert_eq!(v["enqueued"], 1);
    assert_eq!(v["not_found"], json!([b_lead]));

    for (key, body, status) in [
        (&app.a_viewer, json!({"status": "raw"}), 403),
        (&app.a_member, json!({"ids": [1], "status": "raw"}), 422),
        (&app.a_member, json!({"max": 0}), 422),
        (&app.a_member, json!({"status": "nonsense"}), 400),
        (&app.a_member, json!({"colour": "red"}), 422),
    ] {
        let r = app
            .post("/api/v1/leads/verify", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{body}");
    }
    let v = app
        .post("/api/v1/leads/verify", &app.a_member)
        .json(&json!({"status": "validated"}))
        .json_value()
        .await;
    assert_eq!(v["enqueued"], 0);
    assert_eq!(v["run_id"], Value::Null, "no run for nothing");
}

async fn enrich_trigger_enqueues_a_job_per_lead_it_can_enrich_once(app: App) {
    app.import(
        &app.a_admin,
        "first_name,last_name,company_domain,email\n\
         Ana,Silva,acme.com,\n\
         Bo,Chen,acme.com,\n\
         Cy,Has,acme.com,cy@acme.com\n",
    )
    .await;
    app.import(
        &app.b_admin,
        "first_name,last_name,company_domain\nZed,Other,bcorp.com\n",
    )
    .await;
    let v = app
        .post("/api/v1/leads/enrich", &app.a_member)
        .json(&json!({"status": "raw"}))
        .json_value()
        .await;
    assert_eq!(v["enqueued"], 2, "Ana and Bo: {v}");
    assert_eq!(v["skipped"], 1, "Cy has an email: {v}");
    let run = v["run_id"].as_i64().expect("a run");
    let jobs = app
        .get(&format!("/api/v1/jobs?run={run}"), &app.a_viewer)
        .json_value()
        .await;
    let jobs = jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter().all(|j| j["job_type"] == "enrich_lead"),
        "{jobs:?}"
    );

    // Enrichment is once per lead: asking again queues nothing new.
    let again = app
        .post("/api/v1/leads/enrich", &app.a_member)
        .json(&json!({"status": "raw"}))
        .json_value()
        .await;
    assert_eq!(again["enqueued"], 0, "{again}");
    assert_eq!(again["already_queued"], 2, "{again}");

    // Another workspace's lead is not found; viewers may not enrich.
    let b_lead = app.get("/api/v1/leads", &app.b_admin).json_value().await["leads"][0]["id"]
        .as_i64()
        .unwrap();
    let v = app
        .post("/api/v1/leads/enrich", &app.a_member)
        .json(&json!({"ids": [b_lead]}))
        .json_value()
        .await;
    assert_eq!(v["not_found"], json!([b_lead]));
    assert_eq!(v["enqueued"], 0);
    let r = app
        .post("/api/v1/leads/enrich", &app.a_viewer)
        .json(&json!({"status": "raw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

async fn settings_show_services_budgets_and_rules_to_admins(app: App) {
    let v = app.get("/api/v1/settings", &app.a_admin).json_value().await;
    let services = v["services"].as_array().expect("services");
    assert_eq!(services.len(), leadgen_integrations::SERVICES.len(), "{v}");
    for s in services {
        assert!(s["key_set"].is_boolean(), "{s}");
        assert!(s["base_url"].as_str().unwrap().starts_with("http"), "{s}");
    }
    assert!(
        v["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["set"].is_boolean()),
        "{v}"
    );
    assert!(v["scoring"].is_object(), "the rules in force: {v}");
    assert!(v["waterfall"]["contacts"].is_array(), "{v}");
    assert!(v["spend"]["today"].is_array(), "{v}");
    for key in [&app.a_member, &app.a_viewer] {
        let r = app.get("/api/v1/settings", key).send().await.unwrap();
        assert_eq!(r.status(), 403);
    }
}
