//! Settings: what the settings page and `GET /api/v1/settings` show, what
//! a workspace may store for itself, and the one resolution order every
//! caller uses.
//!
//! A workspace can store, per outside service (`integrations::SERVICES`),
//! an API key, a base URL and a daily budget, and its own scoring rules
//! (the config's `[scoring]` structure, validated the same way). Keys are
//! sealed at rest with the application's secret key (`LEADGEN_SECRET_KEY`,
//! else `secret.key` in the data directory, created 0600 on first use) and
//! never shown again: at most "ends in" four characters.
//!
//! **Resolution**: a workspace's stored value, else the environment
//! (`LEADGEN_<SERVICE>_API_KEY`, `_BASE_URL`, `_DAILY_BUDGET_USD`) and the
//! config, as before. [`workspace_env`] turns the stored values into an
//! [`EnvLookup`] that answers those variables first, so every client built
//! through `ServiceConfig::from_lookup` — jobs ([`with_workspace_settings`]),
//! the CLI, the server — sees a saved key without parsing anything twice.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use leadgen_core::WorkspaceId;
use leadgen_core::ads::date_of_ms;
use leadgen_core::score::{RulesError, ScoringRules};
use leadgen_integrations::{SERVICES, ServiceInfo};
use leadgen_jobs::{HandlerError, HandlerSpec, JobContext};
use leadgen_store::{IntegrationSettings, SecretBox, Store, StoreError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::config::Config;
use crate::discovery::EnvLookup;

/// The variable holding the secret key: 64 hex characters (32 bytes).
pub const SECRET_KEY_ENV: &str = "LEADGEN_SECRET_KEY";
/// The key file in the data directory, used when the variable is unset.
pub const KEY_FILE: &str = "secret.key";

/// Why a setting was refused or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value is not acceptable; `field` names it (`base_url`, `rules[0].field`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("no service '{0}': use one of the ids GET /api/v1/settings lists")]
    UnknownService(String),
    #[error(
        "{SECRET_KEY_ENV} must be 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`"
    )]
    BadSecretKey,
    #[error("secret key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn parse_key(hex: &str) -> Option<[u8; 32]> {
    leadgen_store::settings::unhex(hex.trim())?.try_into().ok()
}

/// The secret key if there is one: `LEADGEN_SECRET_KEY`, else
/// `<data_dir>/secret.key`; `None` when neither exists (then nothing can
/// have been sealed).
pub fn load_secret_box(
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SecretBox>, SettingsError> {
    if let Some(v) = env(SECRET_KEY_ENV).filter(|v| !v.trim().is_empty()) {
        return parse_key(&v)
            .map(|k| Some(SecretBox::new(k)))
            .ok_or(SettingsError::BadSecretKey);
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(&text)
            .map(|k| Some(SecretBox::new(k)))
            .ok_or_else(|| SettingsError::KeyFile {
                path: path.clone(),
                message: "not 64 hex characters".into(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SettingsError::KeyFile {
            path,
            message: e.to_string(),
        }),
    }
}

/// The secret key as [`load_secret_box`] finds it, else a new random one
/// written to `<data_dir>/secret.key` (mode 0600).
pub fn secret_box(
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SecretBox, SettingsError> {
    if let Some(b) = load_secret_box(data_dir, env)? {
        return Ok(b);
    }
    let path = data_dir.join(KEY_FILE);
    let fail = |e: std::io::Error| SettingsError::KeyFile {
        path: path.clone(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(data_dir).map_err(fail)?;
    let key = SecretBox::generate_key();
    let hex = leadgen_store::settings::hex(&key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(hex.as_bytes()).map_err(fail)?;
            tracing::info!(path = %path.display(), "created the secret key file for stored credentials");
            Ok(SecretBox::new(key))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => secret_box(data_dir, env),
        Err(e) => Err(fail(e)),
    }
}

static SECRETS: OnceLock<SecretBox> = OnceLock::new();

/// Sets the secret key this process's jobs open stored keys with (the CLI
/// and server do it at start). Later calls are ignored.
pub fn configure(secrets: SecretBox) {
    let _ = SECRETS.set(secrets);
}

/// The key given to [`configure`], if any.
pub fn configured() -> Option<&'static SecretBox> {
    SECRETS.get()
}

/// A service's id in URLs and the store: its variables' part, lower case
/// (`hunter`, `google_places`).
pub fn service_id(s: &ServiceInfo) -> String {
    s.env_name.to_ascii_lowercase()
}

pub fn find_service(id: &str) -> Option<&'static ServiceInfo> {
    SERVICES.iter().find(|s| service_id(s) == id)
}

/// `base` with the stored values answered first: `LEADGEN_<ENV>_API_KEY`,
/// `_BASE_URL` and `_DAILY_BUDGET_USD` of every stored service.
pub fn layered(stored: Vec<IntegrationSettings>, base: EnvLookup) -> EnvLookup {
    if stored.is_empty() {
        return base;
    }
    let vars: Vec<(String, String)> = stored
        .into_iter()
        .flat_map(|s| {
            let prefix = format!("LEADGEN_{}_", s.service.to_ascii_uppercase());
            [
                ("API_KEY", s.api_key),
                ("BASE_URL", s.base_url),
                ("DAILY_BUDGET_USD", s.daily_budget_usd),
            ]
            .into_iter()
            .filter_map(move |(suffix, v)| v.map(|v| (format!("{prefix}{suffix}"), v)))
        })
        .collect();
    Arc::new(move |k: &str| {
        vars.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .or_else(|| base(k))
    })
}

/// The variables as workspace `ws` sees them: its stored settings, else
/// `base`. Without a secret key nothing stored can be opened: `base`.
pub fn workspace_env(
    store: &dyn Store,
    ws: WorkspaceId,
    secrets: Option<&SecretBox>,
    base: EnvLookup,
) -> Result<EnvLookup, StoreError> {
    match secrets {
        Some(b) => Ok(layered(store.integrations(ws, b)?, base)),
        None => Ok(base),
    }
}

/// The process environment as an [`EnvLookup`].
pub fn process_env() -> EnvLookup {
    Arc::new(|k: &str| std::env::var(k).ok())
}

/// The scoring rules in force for `ws`: its own, else the config's.
pub fn scoring_rules(
    store: &dyn Store,
    ws: WorkspaceId,
    config: &Config,
) -> Result<ScoringRules, StoreError> {
    Ok(store.scoring(ws)?.unwrap_or_else(|| config.scoring.clone()))
}

/// Builds `make`'s handler for each job with the job's workspace settings
/// over the process environment (see [`workspace_env`]). A worker without
/// the database or a process without a configured key uses the environment.
pub fn with_workspace_settings(
    make: impl Fn(EnvLookup) -> HandlerSpec + Send + Sync + 'static,
) -> HandlerSpec {
    let base = process_env();
    let mut spec = make(base.clone());
    let make = Arc::new(make);
    spec.handler = Arc::new(move |ctx: JobContext| {
        let (make, base) = (make.clone(), base.clone());
        Box::pin(async move {
            let env = match (&ctx.store, configured()) {
                (Some(store), Some(secrets)) => {
                    let (store, ws, b) = (store.clone(), ctx.job.workspace, base.clone());
                    tokio::task::spawn_blocking(move || {
                        workspace_env(store.as_ref(), ws, Some(secrets), b)
                    })
                    .await
                    .map_err(|e| HandlerError::retry(e.to_string()))?
                    .map_err(|e| HandlerError::retry(format!("settings: {e}")))?
                }
                _ => base,
            };
            (make(env).handler)(ctx).await
        })
    });
    spec
}

/// A change to one service's stored settings. A field left out stays as
/// it is; `api_key: ""` removes the key; `base_url` or
/// `daily_budget_usd` `null` (or `""`) removes that value.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationUpdate {
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub base_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub daily_budget_usd: Option<Option<f64>>,
}

impl std::fmt::Debug for IntegrationUpdate {
    // The key is a secret: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationUpdate")
            .field("api_key", &self.api_key.as_ref().map(|_| "<given>"))
            .field("base_url", &self.base_url)
            .field("daily_budget_usd", &self.daily_budget_usd)
            .finish()
    }
}

/// A field that is present (even `null`) is `Some`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn check_base_url(url: &str) -> Result<(), SettingsError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| invalid("base_url", format!("'{url}' is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(invalid(
            "base_url",
            format!("'{url}' is not an http(s) URL with a host"),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "base_url",
            "put credentials in api_key, not in the URL",
        ));
    }
    Ok(())
}

/// Applies `update` to service `id`'s stored settings and returns them.
pub fn save_integration(
    store: &dyn Store,
    ws: WorkspaceId,
    secrets: &SecretBox,
    id: &str,
    update: IntegrationUpdate,
    now: i64,
) -> Result<IntegrationSettings, SettingsError> {
    find_service(id).ok_or_else(|| SettingsError::UnknownService(id.to_owned()))?;
    let mut s = store
        .integrations(ws, secrets)?
        .into_iter()
        .find(|s| s.service == id)
        .unwrap_or_else(|| IntegrationSettings {
            service: id.to_owned(),
            ..IntegrationSettings::default()
        });
    let blank = |v: String| {
        let v = v.trim().to_owned();
        (!v.is_empty()).then_some(v)
    };
    if let Some(key) = update.api_key {
        if key.trim().chars().any(char::is_control) {
            return Err(invalid("api_key", "contains control characters"));
        }
        s.api_key = blank(key);
    }
    if let Some(url) = update.base_url {
        s.base_url = url.and_then(blank);
        if let Some(u) = &s.base_url {
            check_base_url(u)?;
        }
    }
    if let Some(budget) = update.daily_budget_usd {
        if let Some(b) = budget
            && !(b.is_finite() && b >= 0.0)
        {
            return Err(invalid(
                "daily_budget_usd",
                format!("{b} is not an amount in dollars (0 or more, e.g. 12.5)"),
            ));
        }
        s.daily_budget_usd = budget.map(|b| b.to_string());
    }
    store.put_integration(ws, &s, secrets, now)?;
    s.updated_at = now;
    Ok(s)
}

/// The field a rule-set error is about.
fn rules_field(e: &RulesError, rules: &ScoringRules) -> String {
    match e {
        RulesError::NoWeight => "rules".into(),
        RulesError::BadTiers { a, .. } if *a > 100 => "tier_a".into(),
        RulesError::BadTiers { .. } => "tier_b".into(),
        RulesError::NotNumeric { rule, .. } => rules
            .rules
            .iter()
            .position(|r| &r.name == rule)
            .map_or("rules".into(), |i| format!("rules[{i}].field")),
    }
}

/// Scoring rules from JSON, checked as the config's `[scoring]` is.
pub fn parse_scoring(value: Value) -> Result<ScoringRules, SettingsError> {
    let rules: ScoringRules = serde_path(value)?;
    rules
        .validate()
        .map_err(|e| invalid(&rules_field(&e, &rules), e.to_string()))?;
    Ok(rules)
}

/// JSON into `T`, an error naming the path of the bad field.
fn serde_path<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, SettingsError> {
    serde_json::from_value(value).map_err(|e| {
        let msg = e.to_string();
        // serde names a missing or unknown field in backquotes.
        let field = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.contains("field"))
            .unwrap_or("scoring")
            .to_owned();
        invalid(&field, msg)
    })
}

/// The dashboard's text box: TOML (the config file's `[scoring]` body) or JSON.
pub fn parse_scoring_text(text: &str) -> Result<ScoringRules, SettingsError> {
    let value: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| invalid("scoring", format!("not JSON: {e}")))?
    } else {
        toml::from_str::<Value>(text).map_err(|e| invalid("scoring", format!("not TOML: {e}")))?
    };
    parse_scoring(value)
}

/// Stores `rules` for `ws` (`None`: back to the config's).
pub fn save_scoring(
    store: &dyn Store,
    ws: WorkspaceId,
    rules: Option<&ScoringRules>,
    now: i64,
) -> Result<(), SettingsError> {
    store.put_scoring(ws, rules, now)?;
    Ok(())
}

/// One service's configuration, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceStatus {
    /// The id in `PUT /api/v1/settings/integrations/{id}`.
    pub id: String,
    pub name: &'static str,
    /// `LEADGEN_<env_prefix>_API_KEY`, `_BASE_URL`, `_DAILY_BUDGET_USD`.
    pub env_prefix: &'static str,
    pub used_for: &'static str,
    pub key_set: bool,
    /// `workspace` (stored), `environment`, or absent.
    pub key_source: Option<&'static str>,
    /// The stored key's last four characters (keys of 12 or more only).
    pub key_ends_in: Option<String>,
    pub base_url: String,
    /// The base URL is not the vendor's (a proxy or a local fake).
    pub custom_base_url: bool,
    /// The daily budget in force, as given.
    pub daily_budget_usd: Option<String>,
    /// What the workspace stored (no key): `{base_url, daily_budget_usd, updated_at}`.
    pub stored: Option<IntegrationSettings>,
    /// `leadgen deliver test <name>` and the Test button apply.
    pub connection_test: Option<&'static str>,
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

/// The last four characters of a key long enough to keep its secret.
fn ends_in(key: &str) -> Option<String> {
    let chars: Vec<char> = key.chars().collect();
    (chars.len() >= 12).then(|| chars[chars.len() - 4..].iter().collect())
}

/// Every keyed service as the stored settings over `env` configure it.
pub fn services(
    env: &dyn Fn(&str) -> Option<String>,
    stored: &[IntegrationSettings],
) -> Vec<ServiceStatus> {
    SERVICES
        .iter()
        .map(|s| {
            let id = service_id(s);
            let mine = stored.iter().find(|x| x.service == id);
            let var = |suffix: &str| set(env(&format!("LEADGEN_{}_{suffix}", s.env_name)));
            let base = mine
                .and_then(|m| m.base_url.clone())
                .or_else(|| var("BASE_URL"));
            let stored_key = mine.and_then(|m| m.api_key.as_deref());
            let key_source = match (stored_key, var("API_KEY")) {
                (Some(_), _) => Some("workspace"),
                (None, Some(_)) => Some("environment"),
                (None, None) => None,
            };
            ServiceStatus {
                connection_test: crate::connection_test::for_service(&id).map(|t| t.name),
                key_set: key_source.is_some(),
                key_source,
                key_ends_in: stored_key.and_then(ends_in),
                custom_base_url: base.is_some(),
                base_url: base.unwrap_or_else(|| s.default_base_url.to_owned()),
                daily_budget_usd: mine
                    .and_then(|m| m.daily_budget_usd.clone())
                    .or_else(|| var("DAILY_BUDGET_USD")),
                stored: mine.cloned(),
                id,
                name: s.name,
                env_prefix: s.env_name,
                used_for: s.used_for,
            }
        })
        .collect()
}

/// The settings document: services, secrets set, spend, scoring, waterfall.
/// Without a secret key, stored settings are not read.
pub fn settings_json(
    store: &dyn Store,
    ws: WorkspaceId,
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: Option<&SecretBox>,
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
    let secrets_set: Vec<Value> = SECRET_VARS
        .iter()
        .map(|(var, what)| json!({"variable": var, "for": what, "set": set(env(var)).is_some()}))
        .collect();
    let stored = match secrets {
        Some(b) => store.integrations(ws, b)?,
        None => Vec::new(),
    };
    let own_scoring = store.scoring(ws)?;
    Ok(json!({
        "services": services(env, &stored),
        "secrets": secrets_set,
        "spend": {
            "day": day,
            "today": today,
            "month": month,
            "enrich_this_month_usd": usd(enrich_month),
            "enrich_monthly_budget_usd": config.enrich.waterfall.monthly_budget_usd,
            "per_lead_ceiling_usd": config.enrich.waterfall.per_lead_ceiling_usd,
            "per_run_ceiling_usd": config.enrich.waterfall.per_run_ceiling_usd,
        },
        "scoring_source": if own_scoring.is_some() { "workspace" } else { "config" },
        "scoring": own_scoring.as_ref().unwrap_or(&config.scoring),
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
        let all = services(&env, &[]);
        assert_eq!(all.len(), SERVICES.len());
        let hunter = all.iter().find(|s| s.env_prefix == "HUNTER").unwrap();
        assert!(hunter.key_set && hunter.custom_base_url);
        assert_eq!(hunter.key_source, Some("environment"));
        assert_eq!(hunter.key_ends_in, None, "an environment key is only set");
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

    #[test]
    fn a_stored_key_wins_over_the_environment_and_shows_only_its_end() {
        let env: EnvLookup = Arc::new(|k: &str| match k {
            "LEADGEN_HUNTER_API_KEY" => Some("from-env".to_owned()),
            "LEADGEN_HUNTER_BASE_URL" => Some("http://env.example".to_owned()),
            "LEADGEN_SERPAPI_API_KEY" => Some("serp-env".to_owned()),
            _ => None,
        });
        let stored = vec![IntegrationSettings {
            service: "hunter".into(),
            api_key: Some("stored-key-0123456789wxyz".into()),
            base_url: None,
            daily_budget_usd: Some("3".into()),
            updated_at: 1,
        }];
        let all = services(&*env, &stored);
        let layered = layered(stored, env);
        assert_eq!(
            layered("LEADGEN_HUNTER_API_KEY").as_deref(),
            Some("stored-key-0123456789wxyz")
        );
        assert_eq!(
            layered("LEADGEN_HUNTER_BASE_URL").as_deref(),
            Some("http://env.example"),
            "what is not stored comes from the environment"
        );
        assert_eq!(
            layered("LEADGEN_HUNTER_DAILY_BUDGET_USD").as_deref(),
            Some("3")
        );
        assert_eq!(
            layered("LEADGEN_SERPAPI_API_KEY").as_deref(),
            Some("serp-env")
        );
        let cfg = leadgen_integrations::ServiceConfig::from_lookup("HUNTER", "", |k| layered(k));
        assert_eq!(cfg.api_key.as_deref(), Some("stored-key-0123456789wxyz"));
        let hunter = all.iter().find(|s| s.id == "hunter").unwrap();
        assert_eq!(hunter.key_source, Some("workspace"));
        assert_eq!(hunter.key_ends_in.as_deref(), Some("wxyz"));
        let text = serde_json::to_string(&all).unwrap();
        assert!(!text.contains("stored-key"), "{text}");
    }

    #[test]
    fn bad_scoring_rules_name_their_field() {
        let err = |v: Value| match parse_scoring(v).unwrap_err() {
            SettingsError::Invalid { field, .. } => field,
            e => panic!("{e}"),
        };
        let rule = json!({"name": "x", "weight": 10, "op": "present", "field": "email"});
        assert_eq!(err(json!({"rules": [rule], "tier_a": 120})), "tier_a");
        assert_eq!(
            err(json!({"rules": [rule], "tier_a": 50, "tier_b": 60})),
            "tier_b"
        );
        assert_eq!(err(json!({"tier_a": 50})), "rules");
        let zero = json!({"name": "x", "weight": 0, "op": "present", "field": "email"});
        assert_eq!(err(json!({"rules": [zero]})), "rules");
        let between =
            json!({"name": "b", "weight": 5, "op": "between", "field": "email", "min": 1});
        assert_eq!(err(json!({"rules": [rule, between]})), "rules[1].field");
        assert!(parse_scoring_text("tier_a = 80\n[[rules]]\nname = \"e\"\nweight = 3\nop = \"present\"\nfield = \"email\"\n").is_ok());
    }

    /// A job of workspace 1 sees 1's stored key; workspace 2's job, with
    /// nothing stored, sees the environment.
    #[test]
    fn jobs_see_their_workspaces_stored_key_over_the_environment() {
        use leadgen_core::job::NewJob;
        use leadgen_jobs::{Outcome, SystemClock};
        let (_dir, store) = leadgen_store::testing::sqlite_store();
        let store: Arc<dyn Store> = Arc::new(store);
        configure(SecretBox::new([3; 32]));
        let secrets = configured().expect("configured");
        let update = IntegrationUpdate {
            api_key: Some("stored-hunter-key".into()),
            ..IntegrationUpdate::default()
        };
        save_integration(&*store, 1, secrets, "hunter", update, 1).unwrap();
        let spec = with_workspace_settings(|env: EnvLookup| {
            HandlerSpec::new("probe", move |_ctx: JobContext| {
                let key = env("LEADGEN_HUNTER_API_KEY");
                async move { Ok(Outcome::new(json!(key))) }
            })
        });
        let jobs = [NewJob::new(1, "probe", "{}"), NewJob::new(2, "probe", "{}")];
        let ids = store.enqueue(&jobs, 1).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let seen: Vec<Value> = [1, 2]
            .into_iter()
            .zip(ids)
            .map(|(ws, id)| {
                let job = store.get_job(ws, id.unwrap()).unwrap().unwrap();
                let ctx = JobContext {
                    job,
                    store: Some(store.clone()),
                    clock: Arc::new(SystemClock),
                };
                let outcome = rt.block_on((spec.handler)(ctx));
                outcome.map_err(|e| format!("{e:?}")).unwrap().result
            })
            .collect();
        assert_eq!(seen[0], json!("stored-hunter-key"));
        assert_eq!(
            seen[1],
            json!(std::env::var("LEADGEN_HUNTER_API_KEY").ok()),
            "workspace 2 stored nothing"
        );
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        let a = secret_box(dir.path(), &none).unwrap();
        let sealed = a.seal("x", "c");
        let b = secret_box(dir.path(), &none).unwrap();
        assert_eq!(b.open(&sealed, "c").unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let bad = |_: &str| Some("short".to_owned());
        assert!(matches!(
            secret_box(dir.path(), &bad),
            Err(SettingsError::BadSecretKey)
        ));
    }
}
