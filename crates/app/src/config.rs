//! Configuration: one TOML file plus `LEADGEN_*` environment overrides,
//! validated once at start-up with a precise message for every bad field.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use leadgen_core::geo::Country;
use leadgen_core::score::ScoringRules;
use leadgen_jobs::cron::{ParsedSchedule, Schedule, plan_schedules};
use serde::Deserialize;

/// Why the configuration was refused. Each names the field and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

/// The file's shape. Every field is optional; defaults fill the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    default_country: Option<String>,
    #[serde(default)]
    import: ImportSection,
    scoring: Option<ScoringRules>,
    #[serde(default)]
    jobs: JobsSection,
    #[serde(default)]
    verify: crate::verify_job::VerifySection,
    #[serde(default)]
    enrich: crate::enrich_job::EnrichSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsSection {
    /// Time zone of the plan's built-in schedules.
    #[serde(default = "default_timezone")]
    timezone: String,
    /// Run the plan's built-in schedules (daily analytics, weekly trends).
    #[serde(default = "yes")]
    default_schedules: bool,
    /// Seconds a claimed job stays leased without a heartbeat.
    #[serde(default = "default_lease")]
    lease_secs: u64,
    #[serde(default)]
    schedules: Vec<Schedule>,
}

impl Default for JobsSection {
    fn default() -> JobsSection {
        JobsSection {
            timezone: default_timezone(),
            default_schedules: true,
            lease_secs: default_lease(),
            schedules: Vec::new(),
        }
    }
}

fn default_timezone() -> String {
    "UTC".into()
}
fn yes() -> bool {
    true
}
fn default_lease() -> u64 {
    30
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportSection {
    /// Source name → priority; higher wins a field conflict in a merge.
    #[serde(default)]
    source_priority: HashMap<String, i32>,
}

/// The validated configuration every entry point works from.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `postgres://…`, or `None` for the embedded SQLite file in `data_dir`.
    pub database_url: Option<String>,
    pub default_country: Country,
    pub source_priority: HashMap<String, i32>,
    pub scoring: ScoringRules,
    /// Cron schedules every worker runs (each tick enqueued once).
    pub schedules: Vec<ParsedSchedule>,
    pub lease: std::time::Duration,
    /// Email verification (`[verify]`, `LEADGEN_VERIFY_*`).
    pub verify: crate::verify_job::VerifyConfig,
    /// `[enrich]`: the waterfall, LLM model and prices.
    pub enrich: crate::enrich_job::EnrichSection,
}

impl Config {
    /// The store to open: the PostgreSQL URL, or the SQLite file's path.
    pub fn store_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => self.data_dir.join("leadgen.db").display().to_string(),
        }
    }

    /// Loads `path` (if given, else `./leadgen.toml` when it exists), then
    /// applies `env` (`LEADGEN_*` variables), then validates.
    pub fn load(path: Option<&Path>, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let default_path = Path::new("leadgen.toml");
        let path = path
            .map(Path::to_path_buf)
            .or_else(|| env.get("LEADGEN_CONFIG").map(PathBuf::from))
            .or_else(|| default_path.exists().then(|| default_path.to_path_buf()));
        let file = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::Parse {
                    path: p.clone(),
                    message: e.to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        let var = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
        let data_dir = var("LEADGEN_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| "leadgen-data".into());
        let database_url = var("LEADGEN_DATABASE_URL")
            .or(file.database_url)
            .filter(|u| !u.trim().is_empty());
        if let Some(url) = &database_url {
            let ok = ["postgres://", "postgresql://", "sqlite:"]
                .iter()
                .any(|p| url.starts_with(p));
            if !ok {
                return Err(ConfigError::Invalid {
                    field: "database_url (LEADGEN_DATABASE_URL)".into(),
                    message: format!(
                        "'{}' is not a postgres://user@host:port/db or sqlite:PATH URL",
                        redact_url(url)
                    ),
                });
            }
        }
        let country_raw = var("LEADGEN_DEFAULT_COUNTRY")
            .or(file.default_country)
            .unwrap_or_else(|| "US".into());
        let default_country = Country::parse(&country_raw).map_err(|e| ConfigError::Invalid {
            field: "default_country (LEADGEN_DEFAULT_COUNTRY)".into(),
            message: format!("'{country_raw}': {e}; use an ISO code such as US, GB or DE"),
        })?;
        let scoring = file.scoring.unwrap_or_default();
        scoring.validate().map_err(|e| ConfigError::Invalid {
            field: "scoring".into(),
            message: e.to_string(),
        })?;
        let jobs = file.jobs;
        let tz = var("LEADGEN_TIMEZONE").unwrap_or(jobs.timezone);
        let mut wanted = jobs.schedules;
        if jobs.default_schedules {
            for s in plan_schedules(&tz) {
                if !wanted.iter().any(|w| w.name == s.name) {
                    wanted.push(s);
                }
            }
        }
        let schedules = wanted
            .into_iter()
            .map(ParsedSchedule::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError::Invalid {
                field: "jobs.schedules".into(),
                message: e.to_string(),
            })?;
        if jobs.lease_secs < 2 {
            return Err(ConfigError::Invalid {
                field: "jobs.lease_secs".into(),
                message: format!("{} is too short; use at least 2 seconds", jobs.lease_secs),
            });
        }
        let verify = crate::verify_job::VerifyConfig::load(file.verify, &var)?;
        let enrich = file.enrich.load(&var)?;
        Ok(Config {
            verify,
            enrich,
            data_dir,
            database_url,
            default_country,
            source_priority: file.import.source_priority,
            scoring,
            schedules,
            lease: std::time::Duration::from_secs(jobs.lease_secs),
        })
    }
}

/// A URL safe to print: the password, if any, is replaced.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "data_dir = \"/from/file\"\ndefault_country = \"DE\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), &env(&[("LEADGEN_DATA_DIR", "/from/env")])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/env"));
        assert_eq!(c.default_country.as_str(), "DE");
        assert_eq!(c.store_url(), "/from/env/leadgen.db");
    }

    #[test]
    fn schedules_load_with_time_zones_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[jobs]\ntimezone = \"Europe/Berlin\"\n[[jobs.schedules]]\nname = \"discovery\"\ncron = \"0 2 * * *\"\njob_type = \"noop\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), &env(&[])).unwrap();
        let names: Vec<&str> = c
            .schedules
            .iter()
            .map(|s| s.schedule.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "discovery",
                "daily_analytics",
                "weekly_trends",
                "daily_intent"
            ]
        );
        assert_eq!(c.schedules[1].schedule.timezone, "Europe/Berlin");
        std::fs::write(
            &path,
            "[[jobs.schedules]]\nname = \"x\"\ncron = \"0 2 * * *\"\ntimezone = \"Nowhere/City\"\njob_type = \"noop\"\n",
        )
        .unwrap();
        let err = Config::load(Some(&path), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("jobs.schedules") && err.contains("Nowhere/City"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_country_names_the_field() {
        let err = Config::load(None, &env(&[("LEADGEN_DEFAULT_COUNTRY", "Atlantis")])).unwrap_err();
        assert!(err.to_string().contains("default_country"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "data_dri = \"x\"\n").unwrap();
        let err = Config::load(Some(&path), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("data_dri"), "{err}");
    }

    #[test]
    fn a_database_password_is_never_printed() {
        let err = Config::load(
            None,
            &env(&[("LEADGEN_DATABASE_URL", "mysql://u:secret@h/db")]),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/d"),
            "postgres://u:***@h:5432/d"
        );
    }

    #[test]
    fn scoring_rules_load_from_toml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[scoring]\ntier_a = 80\ntier_b = 50\n[[scoring.rules]]\nname = \"has_email\"\nweight = 10\nop = \"present\"\nfield = \"email\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), &env(&[])).unwrap();
        assert_eq!(c.scoring.rules.len(), 1);
        assert_eq!(c.scoring.tier_a, 80);
    }
}
