//! Typed clients for the outside services leadgen talks to, sharing one HTTP
//! layer ([`http`]): timeouts, retries with backoff, `Retry-After`, and the
//! cost of every call.
//!
//! Every client's base URL and key are configurable
//! (`LEADGEN_<SERVICE>_BASE_URL`, `LEADGEN_<SERVICE>_API_KEY`), so the same
//! binary talks to the vendor, a proxy, or a local fake (feature `testkit`).
//! Clients decode vendor JSON into plain records ([`leadgen_core::place::Place`]);
//! turning raw strings into domain types is `core`'s job.

use std::time::Duration;

pub mod ad_library;
pub mod anthropic;
pub mod google_ads_transparency;
pub mod google_places;
pub mod http;
pub mod hubspot;
pub mod hunter;
pub mod instantly;
pub mod intent;
pub mod linkedin_ads;
pub mod llm;
pub mod maps;
pub mod meta_ads;
pub mod novacrm;
pub mod openai_compat;
pub mod platform;
pub mod resend;
pub mod serpapi;
pub mod slack;
pub mod webhook;

#[cfg(feature = "testkit")]
pub mod fake;
#[cfg(feature = "testkit")]
pub mod fake_anthropic;
#[cfg(feature = "testkit")]
pub mod fake_google_ads_transparency;
#[cfg(feature = "testkit")]
pub mod fake_hubspot;
#[cfg(feature = "testkit")]
pub mod fake_hunter;
#[cfg(feature = "testkit")]
pub mod fake_instantly;
#[cfg(feature = "testkit")]
pub mod fake_intent;
#[cfg(feature = "testkit")]
pub mod fake_linkedin_ads;
#[cfg(feature = "testkit")]
pub mod fake_novacrm;
#[cfg(feature = "testkit")]
pub mod fake_openai;
#[cfg(feature = "testkit")]
pub mod fake_resend;
#[cfg(feature = "testkit")]
pub mod fake_server;
#[cfg(feature = "testkit")]
pub mod fake_slack;
#[cfg(feature = "testkit")]
pub mod fake_webhook;

/// One outside service as settings show it: its variable prefix
/// (`LEADGEN_<env_name>_BASE_URL`, `_API_KEY`, `_DAILY_BUDGET_USD`) and what
/// leadgen uses it for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub env_name: &'static str,
    pub default_base_url: &'static str,
    pub used_for: &'static str,
}

/// Every keyed service leadgen has a client for.
pub const SERVICES: [ServiceInfo; 13] = [
    ServiceInfo {
        name: "Google Places",
        env_name: google_places::ENV_NAME,
        default_base_url: google_places::DEFAULT_BASE_URL,
        used_for: "Google Maps sweeps",
    },
    ServiceInfo {
        name: "SerpApi",
        env_name: serpapi::ENV_NAME,
        default_base_url: serpapi::DEFAULT_BASE_URL,
        used_for: "Google Maps sweeps (--provider serpapi)",
    },
    ServiceInfo {
        name: "Meta Ad Library",
        env_name: meta_ads::ENV_NAME,
        default_base_url: meta_ads::DEFAULT_BASE_URL,
        used_for: "scrape meta-ads",
    },
    ServiceInfo {
        name: "Google Ads Transparency Center",
        env_name: google_ads_transparency::ENV_NAME,
        default_base_url: google_ads_transparency::DEFAULT_BASE_URL,
        used_for: "scrape google-ads (no key)",
    },
    ServiceInfo {
        name: "LinkedIn Ad Library",
        env_name: linkedin_ads::ENV_NAME,
        default_base_url: linkedin_ads::DEFAULT_BASE_URL,
        used_for: "scrape linkedin-ads (no key)",
    },
    ServiceInfo {
        name: "DataShopper intent",
        env_name: intent::ENV_NAME,
        default_base_url: intent::DEFAULT_BASE_URL,
        used_for: "intent run",
    },
    ServiceInfo {
        name: "Anthropic",
        env_name: anthropic::ENV_NAME,
        default_base_url: anthropic::DEFAULT_BASE_URL,
        used_for: "enrichment: LLM research",
    },
    ServiceInfo {
        name: "OpenAI-compatible (local model)",
        env_name: openai_compat::ENV_NAME,
        default_base_url: openai_compat::DEFAULT_BASE_URL,
        used_for: "enrichment: LLM research",
    },
    ServiceInfo {
        name: "Hunter",
        env_name: hunter::ENV_NAME,
        default_base_url: hunter::DEFAULT_BASE_URL,
        used_for: "enrichment: contacts and emails",
    },
    ServiceInfo {
        name: "Instantly",
        env_name: instantly::ENV_NAME,
        default_base_url: instantly::DEFAULT_BASE_URL,
        used_for: "campaigns",
    },
    ServiceInfo {
        name: "NovaCRM",
        env_name: novacrm::ENV_NAME,
        default_base_url: novacrm::DEFAULT_BASE_URL,
        used_for: "positive replies to the CRM",
    },
    ServiceInfo {
        name: "HubSpot",
        env_name: hubspot::ENV_NAME,
        default_base_url: hubspot::DEFAULT_BASE_URL,
        used_for: "deliver hubspot",
    },
    ServiceInfo {
        name: "Resend",
        env_name: resend::ENV_NAME,
        default_base_url: resend::DEFAULT_BASE_URL,
        used_for: "email notifications",
    },
];

/// What went wrong talking to a service, sorted by what the caller should do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntegrationError {
    /// The service wants us to slow down (429, or a quota that refills).
    #[error("{service}: rate limited{}: {message}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        service: &'static str,
        retry_after: Option<Duration>,
        message: String,
    },
    /// The key is missing, wrong or not allowed: fix the configuration.
    #[error("{service}: not authorized ({status}): {message} — check LEADGEN_{}_API_KEY", service.to_ascii_uppercase())]
    Auth {
        service: &'static str,
        status: u16,
        message: String,
    },
    /// The request itself is wrong; sending it again fails the same way.
    #[error("{service}: request refused ({status}): {message}")]
    BadRequest {
        service: &'static str,
        status: u16,
        message: String,
    },
    /// The service failed (5xx) after our retries.
    #[error("{service}: server error ({status}): {message}")]
    Server {
        service: &'static str,
        status: u16,
        message: String,
    },
    /// No answer: connection refused, reset, or timed out.
    #[error("{service}: {message}")]
    Transport {
        service: &'static str,
        message: String,
    },
    /// An answer we cannot read: the vendor changed its shape, or it is not
    /// the vendor.
    #[error("{service}: unexpected response: {message}")]
    Decode {
        service: &'static str,
        message: String,
    },
    /// Not configured: no key, a bad base URL.
    #[error("{0}")]
    Config(String),
}

impl IntegrationError {
    /// Whether trying again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            IntegrationError::RateLimited { .. }
                | IntegrationError::Server { .. }
                | IntegrationError::Transport { .. }
        )
    }

    /// How long the service asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IntegrationError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Where a service is and how to authenticate: from
/// `LEADGEN_<SERVICE>_BASE_URL` and `LEADGEN_<SERVICE>_API_KEY`, else the
/// vendor's address and no key.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    pub base_url: String,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for ServiceConfig {
    // The key is a secret: never in logs or error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl ServiceConfig {
    /// `env_name` is the service's part of the variable names
    /// (`GOOGLE_PLACES` → `LEADGEN_GOOGLE_PLACES_BASE_URL`).
    pub fn from_env(env_name: &str, default_base: &str) -> ServiceConfig {
        Self::from_lookup(env_name, default_base, |k| std::env::var(k).ok())
    }

    /// As [`ServiceConfig::from_env`], reading variables through `get`.
    pub fn from_lookup(
        env_name: &str,
        default_base: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> ServiceConfig {
        let non_empty = |k: String| {
            get(&k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        ServiceConfig {
            base_url: non_empty(format!("LEADGEN_{env_name}_BASE_URL"))
                .unwrap_or_else(|| default_base.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            api_key: non_empty(format!("LEADGEN_{env_name}_API_KEY")),
        }
    }

    /// The key, or an error that names the variable to set.
    pub fn require_key(&self, env_name: &str) -> Result<&str, IntegrationError> {
        self.api_key.as_deref().ok_or_else(|| {
            IntegrationError::Config(format!(
                "no API key: set LEADGEN_{env_name}_API_KEY (and LEADGEN_{env_name}_BASE_URL for a proxy or a local fake)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_overrides_and_hides_the_key() {
        let env = |k: &str| match k {
            "LEADGEN_SERPAPI_BASE_URL" => Some("http://127.0.0.1:9/".to_owned()),
            "LEADGEN_SERPAPI_API_KEY" => Some("sekrit".to_owned()),
            _ => None,
        };
        let c = ServiceConfig::from_lookup("SERPAPI", "https://serpapi.com", env);
        assert_eq!(c.base_url, "http://127.0.0.1:9");
        assert_eq!(c.require_key("SERPAPI").unwrap(), "sekrit");
        assert!(!format!("{c:?}").contains("sekrit"));
        let d = ServiceConfig::from_lookup("SERPAPI", "https://serpapi.com", |_| None);
        assert_eq!(d.base_url, "https://serpapi.com");
        let err = d.require_key("SERPAPI").unwrap_err().to_string();
        assert!(err.contains("LEADGEN_SERPAPI_API_KEY"), "{err}");
    }
}
