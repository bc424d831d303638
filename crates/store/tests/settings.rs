//! Per-workspace settings on both backends: services' credentials and
//! budgets, scoring rules, isolation between workspaces, and keys sealed
//! at rest.

use leadgen_core::score::ScoringRules;
use leadgen_store::{IntegrationSettings, SecretBox, SettingsStore, Store, testing};

const WS: i64 = 1;
const OTHER: i64 = 2;
const KEY: &str = "hk_live_0123456789abcdef";

macro_rules! both {
    ($($t:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $t() { let (_dir, s) = leadgen_store::testing::sqlite_store(); super::$t(&s); } )*
        }
        mod postgres {
            $( #[test] fn $t() { let Some(s) = leadgen_store::testing::pg_store() else { return }; super::$t(&s); } )*
        }
    };
}

both!(
    integrations_are_stored_replaced_and_removed,
    workspaces_see_only_their_own_settings,
    a_key_does_not_open_with_another_secret_key,
    scoring_rules_are_stored_per_workspace,
);

fn secrets() -> SecretBox {
    SecretBox::new([42; 32])
}

fn hunter(key: Option<&str>) -> IntegrationSettings {
    IntegrationSettings {
        service: "hunter".into(),
        api_key: key.map(str::to_owned),
        base_url: Some("http://127.0.0.1:9".into()),
        daily_budget_usd: Some("12.5".into()),
        updated_at: 0,
    }
}

fn integrations_are_stored_replaced_and_removed(s: &dyn Store) {
    let b = secrets();
    assert!(s.integrations(WS, &b).unwrap().is_empty());
    s.put_integration(WS, &hunter(Some(KEY)), &b, 1_000)
        .unwrap();
    let got = s.integrations(WS, &b).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].api_key.as_deref(), Some(KEY));
    assert_eq!(got[0].base_url.as_deref(), Some("http://127.0.0.1:9"));
    assert_eq!(got[0].daily_budget_usd.as_deref(), Some("12.5"));
    assert_eq!(got[0].updated_at, 1_000);
    // Replaced: the key removed, the rest kept.
    s.put_integration(WS, &hunter(None), &b, 2_000).unwrap();
    let got = s.integrations(WS, &b).unwrap();
    assert_eq!((got[0].api_key.clone(), got[0].updated_at), (None, 2_000));
    assert!(got[0].base_url.is_some());
    // Nothing set: the row goes.
    let empty = IntegrationSettings {
        service: "hunter".into(),
        ..IntegrationSettings::default()
    };
    s.put_integration(WS, &empty, &b, 3_000).unwrap();
    assert!(s.integrations(WS, &b).unwrap().is_empty());
}

fn workspaces_see_only_their_own_settings(s: &dyn Store) {
    let b = secrets();
    s.put_integration(WS, &hunter(Some(KEY)), &b, 1_000)
        .unwrap();
    assert!(s.integrations(OTHER, &b).unwrap().is_empty());
    let mut theirs = hunter(Some("theirs"));
    theirs.base_url = None;
    s.put_integration(OTHER, &theirs, &b, 1_000).unwrap();
    assert_eq!(
        s.integrations(WS, &b).unwrap()[0].api_key.as_deref(),
        Some(KEY)
    );
    assert_eq!(
        s.integrations(OTHER, &b).unwrap()[0].api_key.as_deref(),
        Some("theirs")
    );
    s.put_scoring(WS, Some(&rules(90)), 1).unwrap();
    assert_eq!(s.scoring(OTHER).unwrap(), None);
}

fn a_key_does_not_open_with_another_secret_key(s: &dyn Store) {
    s.put_integration(WS, &hunter(Some(KEY)), &secrets(), 1_000)
        .unwrap();
    let err = s
        .integrations(WS, &SecretBox::new([1; 32]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("LEADGEN_SECRET_KEY"), "{err}");
    assert!(!err.contains(KEY), "{err}");
}

fn rules(tier_a: u8) -> ScoringRules {
    serde_json::from_value(serde_json::json!({
        "tier_a": tier_a, "tier_b": 30,
        "rules": [{"name": "has_email", "weight": 10, "op": "present", "field": "email"}]
    }))
    .unwrap()
}

fn scoring_rules_are_stored_per_workspace(s: &dyn Store) {
    assert_eq!(s.scoring(WS).unwrap(), None);
    s.put_scoring(WS, Some(&rules(80)), 1).unwrap();
    assert_eq!(s.scoring(WS).unwrap(), Some(rules(80)));
    s.put_scoring(WS, Some(&rules(90)), 2).unwrap();
    assert_eq!(s.scoring(WS).unwrap().unwrap().tier_a, 90);
    s.put_scoring(WS, None, 3).unwrap();
    assert_eq!(s.scoring(WS).unwrap(), None);
}

/// The stored column, as any reader of the database file sees it.
fn assert_sealed(raw: Option<String>) {
    let raw = raw.expect("a sealed key is stored");
    assert!(raw.starts_with("v1:"), "{raw}");
    assert!(
        !raw.contains(KEY) && !raw.contains("0123456789abcdef"),
        "{raw}"
    );
}

#[test]
fn sqlite_keeps_keys_sealed_at_rest() {
    let (dir, s) = testing::sqlite_store();
    s.put_integration(WS, &hunter(Some(KEY)), &secrets(), 1)
        .unwrap();
    drop(s);
    let conn = rusqlite::Connection::open(testing::sqlite_path(dir.path())).unwrap();
    let raw: Option<String> = conn
        .query_row(
            "SELECT api_key_sealed FROM integration_settings WHERE service = 'hunter'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_sealed(raw);
    let file = std::fs::read(testing::sqlite_path(dir.path())).unwrap();
    let needle = KEY.as_bytes();
    assert!(
        !file.windows(needle.len()).any(|w| w == needle),
        "the key is nowhere in the database file"
    );
}

#[test]
fn postgres_keeps_keys_sealed_at_rest() {
    let Some(url) = testing::pg_url() else { return };
    let s = leadgen_store::postgres::PgStore::connect(&url).unwrap();
    s.put_integration(WS, &hunter(Some(KEY)), &secrets(), 1)
        .unwrap();
    let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let row = client
        .query_one(
            "SELECT api_key_sealed FROM integration_settings WHERE service = 'hunter'",
            &[],
        )
        .unwrap();
    assert_sealed(row.get(0));
}

#[test]
fn postgres_suite_runs_or_says_why_not() {
    if !testing::pg_available() {
        testing::print_skip();
    }
}
