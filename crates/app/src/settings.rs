//! What the settings page and `GET /api/v1/settings` show: each outside
//! service's configuration (whether its key is set — never the key), the
//! webhook and channel secrets that are set, budgets and today's spend, and
//! the scoring rules and enrichment waterfall in force. Secrets live in the
//! environment (`LEADGEN_<SERVICE>_API_KEY`, …), not in the store.

use leadgen_core::WorkspaceId;
use leadgen_core::ads::date_of_ms;
use leadgen_integrations::SERVICES;
use leadgen_store::Store;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Config;

/// One service's configuration, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceStatus {
    pub name: &'static str,
    /// `LEADGEN_<env_prefix>_API_KEY`, `_BASE_URL`, `_DAILY_BUDGET_USD`.
    pub env_prefix: &'static str,
    pub used_for: &'static str,
    pub key_set: bool,
    pub base_url: String,
    /// The base URL is not the vendor's (a proxy or a local fake).
    pub custom_base_url: bool,
    /// `LEADGEN_<env_prefix>_DAILY_BUDGET_USD` as given.
    pub daily_budget_usd: Option<String>,
}

/// Secrets and channel settings that are only reported set or unset.
pub const SECRET_VARS: [(&str, &str); 7] = [
    ("LEADGEN_INSTANTLY_WEBHOOK_SECRET", "Instantly's webhooks"),
    ("LEADGEN_INTENT_WEBHOOK_SECRET", "intent vendors' webhooks"),
    ("LEADGEN_SLACK_WEBHOOK_URL", "Slack notifications"),
    ("LEADGEN_WEBHOOK_URLS", "signed outbound webhooks"),
    (
        "LEADGEN_WEBHOOK_SECRET",
        "the outbound webhooks' signing secret",
    ),
    ("LEADGEN_NOTIFY_EMAIL_TO", "email notifications' recipients"),
    ("LEADGEN_WORKER_SECRET", "remote workers"),
];

fn set(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Every keyed service as `env` configures it.
pub fn services(env: &dyn Fn(&str) -> Option<String>) -> Vec<ServiceStatus> {
    SERVICES
        .iter()
        .map(|s| {
            let var = |suffix: &str| set(env(&format!("LEADGEN_{}_{suffix}", s.env_name)));
            let base = var("BASE_URL");
            ServiceStatus {
                name: s.name,
                env_prefix: s.env_name,
                used_for: s.used_for,
                key_set: var("API_KEY").is_some(),
                custom_base_url: base.is_some(),
                base_url: base.unwrap_or_else(|| s.default_base_url.to_owned()),
                daily_budget_usd: var("DAILY_BUDGET_USD"),
            }
        })
        .collect()
}

/// The settings document: services, secrets set, spend, scoring, waterfall.
pub fn settings_json(
    store: &dyn Store,
    ws: WorkspaceId,
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    now: i64,
) -> leadgen_store::Result<Value> {
    let day = date_of_ms(now);
    let month: String = day.chars().take(7).collect();
    let usd = |micros: u64| micros as f64 / 1e6;
    let today: Vec<Value> = store
        .spend_on(ws, &day)?
        .into_iter()
        .map(|(provider, micros)| json!({"provider": provider, "usd": usd(micros)}))
        .collect();
    let enrich_month = store
        .spend_on(ws, &month)?
        .into_iter()
        .find(|(p, _)| p == "enrich")
        .map_or(0, |(_, m)| m);
    let secrets: Vec<Value> = SECRET_VARS
        .iter()
        .map(|(var, what)| json!({"variable": var, "for": what, "set": set(env(var)).is_some()}))
        .collect();
    Ok(json!({
        "services": services(env),
        "secrets": secrets,
        "spend": {
            "day": day,
            "today": today,
            "month": month,
            "enrich_this_month_usd": usd(enrich_month),
            "enrich_monthly_budget_usd": config.enrich.waterfall.monthly_budget_usd,
            "per_lead_ceiling_usd": config.enrich.waterfall.per_lead_ceiling_usd,
            "per_run_ceiling_usd": config.enrich.waterfall.per_run_ceiling_usd,
        },
        "scoring": config.scoring,
        "waterfall": config.enrich.waterfall,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_report_keys_as_set_never_their_value() {
        let env = |k: &str| match k {
            "LEADGEN_HUNTER_API_KEY" => Some("hk_secret_value".to_owned()),
            "LEADGEN_HUNTER_BASE_URL" => Some("http://127.0.0.1:9/".to_owned()),
            "LEADGEN_GOOGLE_PLACES_DAILY_BUDGET_USD" => Some("12.5".to_owned()),
            "LEADGEN_ANTHROPIC_API_KEY" => Some("   ".to_owned()),
            _ => None,
        };
        let all = services(&env);
        assert_eq!(all.len(), SERVICES.len());
        let hunter = all.iter().find(|s| s.env_prefix == "HUNTER").unwrap();
        assert!(hunter.key_set && hunter.custom_base_url);
        assert_eq!(hunter.base_url, "http://127.0.0.1:9/");
        let places = all
            .iter()
            .find(|s| s.env_prefix == "GOOGLE_PLACES")
            .unwrap();
        assert_eq!(places.daily_budget_usd.as_deref(), Some("12.5"));
        assert!(!places.key_set && !places.custom_base_url);
        let anthropic = all.iter().find(|s| s.env_prefix == "ANTHROPIC").unwrap();
        assert!(!anthropic.key_set, "a blank key is no key");
        let text = serde_json::to_string(&all).unwrap();
        assert!(!text.contains("hk_secret_value"), "{text}");
    }
}
