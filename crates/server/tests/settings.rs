//! Editable settings over HTTP: stored integration credentials (masked,
//! admin only, per workspace), scoring rules (validated), connection tests
//! against loopback fakes, and the settings page's forms.

mod common;

use common::{App, Backend, JsonReply, error_code, test_opts, with_app_opts};
use leadgen_integrations::fake_hubspot::{FAKE_HUBSPOT_TOKEN, FakeHubspot};
use leadgen_server::ServerOptions;
use serde_json::{Value, json};

const KEY: &str = "hk_live_SECRETVALUE_9f3a";

both_backends! {
    integration_keys_are_stored_masked_and_never_returned,
    only_admins_change_settings,
    workspaces_keep_their_own_settings,
    bad_values_are_refused_naming_the_field,
    scoring_rules_are_validated_stored_and_used_for_imports,
    the_settings_page_saves_a_key_and_scoring_rules_with_csrf,
}

fn put(app: &App, path: &str, key: &str, body: Value) -> reqwest::RequestBuilder {
    app.http.put(app.url(path)).bearer_auth(key).json(&body)
}

fn service<'a>(settings: &'a Value, id: &str) -> &'a Value {
    settings["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no service {id} in {settings}"))
}

async fn integration_keys_are_stored_masked_and_never_returned(app: App) {
    let path = "/api/v1/settings/integrations/hunter";
    let r = put(
        &app,
        path,
        &app.a_admin,
        json!({"api_key": KEY, "base_url": "https://proxy.example/hunter", "daily_budget_usd": 12.5}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains("SECRETVALUE"), "{text}");
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["key_source"], "workspace", "{saved}");
    assert_eq!(saved["key_ends_in"], "9f3a", "{saved}");

    let r = app
        .get("/api/v1/settings", &app.a_admin)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        !text.contains("SECRETVALUE"),
        "the key is never answered: {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let h = service(&v, "hunter");
    assert_eq!(h["key_set"], true);
    assert_eq!(h["base_url"], "https://proxy.example/hunter");
    assert_eq!(h["daily_budget_usd"], "12.5");
    assert_eq!(h["stored"]["base_url"], "https://proxy.example/hunter");

    // A field left out stays; null removes; an empty key removes the key.
    let r = put(&app, path, &app.a_admin, json!({"daily_budget_usd": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["key_source"], "workspace", "{v}");
    assert!(v["daily_budget_usd"].is_null(), "{v}");
    let v: Value = put(&app, path, &app.a_admin, json!({"api_key": ""}))
        .json_value()
        .await;
    assert!(v["key_ends_in"].is_null(), "{v}");
    assert_ne!(v["key_source"], "workspace", "{v}");
    assert_eq!(v["base_url"], "https://proxy.example/hunter", "{v}");
}

async fn only_admins_change_settings(app: App) {
    for key in [&app.a_member, &app.a_viewer] {
        let r = put(
            &app,
            "/api/v1/settings/integrations/hunter",
            key,
            json!({"api_key": KEY}),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(error_code(r).await, "forbidden");
        let r = put(&app, "/api/v1/settings/scoring", key, json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = app
            .post("/api/v1/settings/integrations/hubspot/test", key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = app
            .http
            .delete(app.url("/api/v1/settings/scoring"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    let v = app.get("/api/v1/settings", &app.a_admin).json_value().await;
    assert_eq!(service(&v, "hunter")["key_source"], Value::Null, "{v}");
}

async fn workspaces_keep_their_own_settings(app: App) {
    let r = put(
        &app,
        "/api/v1/settings/integrations/hunter",
        &app.a_admin,
        json!({"api_key": KEY, "base_url": "https://a.example"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let rules = json!({"rules": [{"name": "e", "weight": 1, "op": "present", "field": "email"}], "tier_a": 90, "tier_b": 10});
    let r = put(&app, "/api/v1/settings/scoring", &app.a_admin, rules)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b = app.get("/api/v1/settings", &app.b_admin).json_value().await;
    let h = service(&b, "hunter");
    assert!(h["stored"].is_null(), "B sees nothing A stored: {b}");
    assert_ne!(h["base_url"], "https://a.example", "{b}");
    assert_eq!(b["scoring_source"], "config", "{b}");
    let a = app.get("/api/v1/settings", &app.a_admin).json_value().await;
    assert_eq!(a["scoring_source"], "workspace", "{a}");
}

async fn bad_values_are_refused_naming_the_field(app: App) {
    let path = "/api/v1/settings/integrations/hunter";
    for (body, field) in [
        (json!({"base_url": "ftp://x.example"}), "base_url"),
        (json!({"base_url": "not a url"}), "base_url"),
        (json!({"base_url": "https://user:pw@x.example"}), "base_url"),
        (json!({"daily_budget_usd": -1}), "daily_budget_usd"),
    ] {
        let r = put(&app, path, &app.a_admin, body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unprocessable", "{v}");
        assert_eq!(v["error"]["details"]["field"], field, "{v}");
    }
    let r = put(&app, path, &app.a_admin, json!({"api_key": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a key that is not a string");
    let r = put(
        &app,
        "/api/v1/settings/integrations/carrier_pigeon",
        &app.a_admin,
        json!({"api_key": KEY}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "not_found");
    let r = app
        .post(
            "/api/v1/settings/integrations/carrier_pigeon/test",
            &app.a_admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    for (body, field) in [
        (json!({"rules": [], "tier_a": 50}), "rules"),
        (
            json!({"rules": [{"name": "e", "weight": 1, "op": "present", "field": "email"}], "tier_a": 150}),
            "tier_a",
        ),
        (
            json!({"rules": [{"name": "e", "weight": 1, "op": "present", "field": "email"},
                            {"name": "b", "weight": 1, "op": "between", "field": "email", "min": 1}]}),
            "rules[1].field",
        ),
        (json!({"tier_a": 50}), "rules"),
    ] {
        let r = put(&app, "/api/v1/settings/scoring", &app.a_admin, body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["details"]["field"], field, "{body} → {v}");
    }
}

async fn scoring_rules_are_validated_stored_and_used_for_imports(app: App) {
    // One rule: a title earns everything.
    let rules = json!({"rules": [{"name": "has_title", "weight": 10, "op": "present", "field": "title"}],
        "tier_a": 80, "tier_b": 40});
    let v: Value = put(&app, "/api/v1/settings/scoring", &app.a_admin, rules)
        .json_value()
        .await;
    assert_eq!(v["scoring_source"], "workspace", "{v}");
    app.import(
        &app.a_admin,
        "email,title\nann@acme.example,CEO\nbob@beta.example,\n",
    )
    .await;
    let leads: Value = app
        .get("/api/v1/leads?sort=score", &app.a_admin)
        .json_value()
        .await;
    let scores: Vec<i64> = leads["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["score"].as_i64().unwrap())
        .collect();
    assert_eq!(scores, [100, 0], "scored by the stored rules: {leads}");
    // The lead's factors are the stored rules too.
    let id = leads["leads"][0]["id"].as_i64().unwrap();
    let d = app
        .get(&format!("/api/v1/leads/{id}"), &app.a_admin)
        .json_value()
        .await;
    assert!(d.to_string().contains("has_title"), "{d}");
    let r = app
        .http
        .delete(app.url("/api/v1/settings/scoring"))
        .bearer_auth(&app.a_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = app.get("/api/v1/settings", &app.a_admin).json_value().await;
    assert_eq!(v["scoring_source"], "config", "{v}");
}

async fn the_settings_page_saves_a_key_and_scoring_rules_with_csrf(app: App) {
    let (session, csrf) = app.login().await;
    let page = app.page(app.url("/settings"), &session).await;
    assert!(
        page.contains("action=\"/settings/integrations/hunter\""),
        "a form per service"
    );
    assert!(page.contains("Test connection"), "a test button");
    assert!(page.contains("name=\"rules\""), "the scoring editor");
    let form = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![("csrf_token", csrf.clone())];
        f.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        f
    };
    // Without the token: refused.
    let r = app
        .http
        .post(app.url("/settings/integrations/hunter"))
        .header("cookie", &session)
        .form(&[("api_key", KEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .http
        .post(app.url("/settings/integrations/hunter"))
        .header("cookie", &session)
        .form(&form(&[
            ("api_key", KEY),
            ("base_url", ""),
            ("daily_budget_usd", "7"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = app.page(app.url("/settings"), &session).await;
    assert!(page.contains("ends in …9f3a"), "masked");
    assert!(!page.contains("SECRETVALUE"), "never shown again");
    assert!(page.contains("$7"), "the budget");
    // A bad budget re-renders the page with the message.
    let r = app
        .http
        .post(app.url("/settings/integrations/hunter"))
        .header("cookie", &session)
        .form(&form(&[("daily_budget_usd", "-3")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("daily_budget_usd"));
    // Scoring: a bad rule set is shown again with the field named; a good one saved.
    let r = app
        .http
        .post(app.url("/settings/scoring"))
        .header("cookie", &session)
        .form(&form(&[("rules", "tier_a = 150\n[[rules]]\nname = \"e\"\nweight = 1\nop = \"present\"\nfield = \"email\"\n")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("tier_a") && body.contains("tier_a = 150"),
        "{body}"
    );
    let r = app
        .http
        .post(app.url("/settings/scoring"))
        .header("cookie", &session)
        .form(&form(&[("rules", "tier_a = 60\ntier_b = 20\n[[rules]]\nname = \"has_email_x\"\nweight = 1\nop = \"present\"\nfield = \"email\"\n")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = app.get("/api/v1/settings", &app.a_admin).json_value().await;
    assert_eq!(v["scoring"]["rules"][0]["name"], "has_email_x", "{v}");
    assert_eq!(service(&v, "hunter")["key_ends_in"], "9f3a", "{v}");
}

fn loopback_opts() -> ServerOptions {
    ServerOptions {
        allow_private_network: true,
        ..test_opts()
    }
}

/// A stored HubSpot key and base URL pointing at the loopback fake.
async fn store_hubspot(app: &App, key: &str, base: &str) {
    let r = put(
        app,
        "/api/v1/settings/integrations/hubspot",
        &app.a_admin,
        json!({"api_key": key, "base_url": base}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
}

/// Stores HubSpot's key and base URL, then runs its connection test.
async fn hubspot_test(app: &App, key: &str, base: &str) -> Value {
    store_hubspot(app, key, base).await;
    app.post("/api/v1/settings/integrations/hubspot/test", &app.a_admin)
        .json_value()
        .await
}

async fn connection_test_passes_and_fails_against_the_fake(app: App) {
    let fake = FakeHubspot::spawn();
    let v = hubspot_test(&app, FAKE_HUBSPOT_TOKEN, &fake.base_url()).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["test"], "hubspot", "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("token accepted"),
        "{v}"
    );
    assert!(v["latency_ms"].is_u64(), "{v}");
    assert!(fake.state().requests >= 1, "the fake was called");
    // A wrong key: the test runs and says why it failed.
    let v = hubspot_test(&app, "pat-wrong-token-0000", &fake.base_url()).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["class"], "auth", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("LEADGEN_HUBSPOT_API_KEY"),
        "{v}"
    );
    // The page's button shows the same result inline.
    let (session, csrf) = app.login().await;
    let r = app
        .http
        .post(app.url("/settings/integrations/hubspot/test"))
        .header("cookie", &session)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("hubspot: FAILED (auth"), "{page}");
    assert!(!page.contains("pat-wrong-token"), "the key is not echoed");
}

async fn connection_tests_refuse_private_addresses_by_default(app: App) {
    // A loopback base URL is not stored, so no job or test can call it.
    let fake = FakeHubspot::spawn();
    let r = put(
        &app,
        "/api/v1/settings/integrations/hubspot",
        &app.a_admin,
        json!({"api_key": FAKE_HUBSPOT_TOKEN, "base_url": fake.base_url()}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["details"]["field"], "base_url", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{v}"
    );
    let settings = app.get("/api/v1/settings", &app.a_admin).json_value().await;
    let hubspot = service(&settings, "hubspot");
    assert_eq!(hubspot["custom_base_url"], false, "{settings}");
    assert_eq!(
        hubspot["key_source"],
        Value::Null,
        "nothing was stored: {settings}"
    );
    // `localhost` resolves to loopback: refused too.
    let r = put(
        &app,
        "/api/v1/settings/integrations/hubspot",
        &app.a_admin,
        json!({"base_url": "http://localhost:9/"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    // The connection test of the vendor's own URL never reaches the fake.
    let v = app
        .post("/api/v1/settings/integrations/hubspot/test", &app.a_admin)
        .json_value()
        .await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(fake.state().requests, 0, "nothing was sent");
}

#[test]
fn sqlite_connection_test_passes_and_fails_against_the_fake() {
    with_app_opts(
        Backend::Sqlite,
        loopback_opts(),
        connection_test_passes_and_fails_against_the_fake,
    );
}

#[test]
fn postgres_connection_test_passes_and_fails_against_the_fake() {
    with_app_opts(
        Backend::Postgres,
        loopback_opts(),
        connection_test_passes_and_fails_against_the_fake,
    );
}

#[test]
fn sqlite_connection_tests_refuse_private_addresses_by_default() {
    with_app_opts(
        Backend::Sqlite,
        test_opts(),
        connection_tests_refuse_private_addresses_by_default,
    );
}
