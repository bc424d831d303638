//! Instantly.ai API v2: create a campaign (a schedule is required), bulk-add
//! leads to it, read its analytics.
//!
//! - `POST /api/v2/campaigns` with `name` and `campaign_schedule.schedules[]`
//!   → the campaign object (`id`). Creating sends nothing.
//! - `POST /api/v2/leads/add` with `campaign_id` and at most 1,000 `leads[]`,
//!   the `skip_if_in_*` flags → counts and `created_leads[{index, id}]`,
//!   `index` pointing back into the request.
//! - `GET /api/v2/campaigns/analytics?id=` → an array of counters.
//!
//! Auth is `Authorization: Bearer <key>`. The limit is 100 requests/s and
//! 6,000/min per workspace across every key; callers share a token bucket
//! ([`RATE_PER_SECOND`], [`RATE_BURST`]). There are no idempotency keys:
//! the caller records batches so a retry never re-uploads (see
//! `leadgen_store::campaigns`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::http::{HttpClient, RetryPolicy};
use crate::{IntegrationError, ServiceConfig};

pub const ENV_NAME: &str = "INSTANTLY";
pub const DEFAULT_BASE_URL: &str = "https://api.instantly.ai";
/// Leads per `leads/add` call, the documented maximum.
pub const MAX_BATCH: usize = 1000;
/// The shared token bucket: 95 requests/s with a burst of 5 stays under
/// both 100/s and 6,000/min (5 + 60 × 95 = 5,705 in any minute).
pub const RATE_PER_SECOND: f64 = 95.0;
pub const RATE_BURST: f64 = 5.0;

/// One sending window of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub name: String,
    /// "HH:MM".
    pub from: String,
    pub to: String,
    /// Days `"0"`…`"6"` that send.
    pub days: Vec<u8>,
    /// One of Instantly's timezone values (America/Chicago, …).
    pub timezone: String,
}

impl Default for Schedule {
    /// Weekdays 09:00–17:00 US Central (`America/Chicago` is in Instantly's
    /// enum; America/New_York is not). Whether day 0 is Sunday is not
    /// documented, so 1–5 are used.
    fn default() -> Self {
        Schedule {
            name: "Business hours".into(),
            from: "09:00".into(),
            to: "17:00".into(),
            days: vec![1, 2, 3, 4, 5],
            timezone: "America/Chicago".into(),
        }
    }
}

/// A lead as uploaded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstantlyLead {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Our lead id, so webhook events can be matched back.
    pub custom_variables: serde_json::Map<String, Value>,
}

/// What a bulk add did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AddLeadsResult {
    #[serde(default)]
    pub total_sent: u64,
    #[serde(default)]
    pub leads_uploaded: u64,
    #[serde(default)]
    pub duplicated_leads: u64,
    #[serde(default)]
    pub skipped_count: u64,
    #[serde(default)]
    pub in_blocklist: u64,
    #[serde(default)]
    pub invalid_email_count: u64,
    #[serde(default)]
    pub created_leads: Vec<CreatedLead>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedLead {
    pub index: usize,
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// A campaign's counters as Instantly reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analytics {
    pub campaign_id: String,
    #[serde(default)]
    pub leads_count: u64,
    #[serde(default)]
    pub contacted_count: u64,
    #[serde(default)]
    pub emails_sent_count: u64,
    #[serde(default)]
    pub open_count: u64,
    #[serde(default)]
    pub reply_count: u64,
    #[serde(default)]
    pub link_click_count: u64,
    #[serde(default)]
    pub bounced_count: u64,
    #[serde(default)]
    pub unsubscribed_count: u64,
    #[serde(default)]
    pub total_opportunities: u64,
}

#[derive(Debug, Clone)]
pub struct InstantlyClient {
    http: HttpClient,
    config: ServiceConfig,
}

impl InstantlyClient {
    pub fn new(config: ServiceConfig) -> Result<InstantlyClient, IntegrationError> {
        config.require_key(ENV_NAME)?;
        // No idempotency keys: a write that timed out may have happened, so
        // the layer must not resend it on its own. The caller decides.
        let http =
            HttpClient::new("instantly", Duration::from_secs(60))?.with_policy(RetryPolicy {
                retries: 0,
                ..RetryPolicy::default()
            });
        Ok(InstantlyClient { http, config })
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, IntegrationError> {
        Self::new(ServiceConfig::from_lookup(ENV_NAME, DEFAULT_BASE_URL, get))
    }

    pub fn with_http(mut self, http: HttpClient) -> InstantlyClient {
        self.http = http;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    /// Creates a (draft) campaign; its id.
    pub async fn create_campaign(
        &self,
        name: &str,
        schedule: &Schedule,
    ) -> Result<String, IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?.to_owned();
        let days: serde_json::Map<String, Value> = (0u8..7)
            .map(|d| (d.to_string(), Value::Bool(schedule.days.contains(&d))))
            .collect();
        let body = json!({
            "name": name,
            "campaign_schedule": { "schedules": [{
                "name": schedule.name,
                "timing": { "from": schedule.from, "to": schedule.to },
                "days": days,
                "timezone": schedule.timezone,
            }]},
            "stop_on_reply": true,
        });
        let url = self.url("/api/v2/campaigns");
        let v: Value = self
            .http
            .json(|c| c.post(&url).bearer_auth(&key).json(&body))
            .await?;
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| IntegrationError::Decode {
                service: "instantly",
                message: "campaign without an id".into(),
            })
    }

    /// Adds up to [`MAX_BATCH`] leads to a campaign.
    pub async fn add_leads(
        &self,
        campaign_id: &str,
        leads: &[InstantlyLead],
        skip_if_in_campaign: bool,
    ) -> Result<AddLeadsResult, IntegrationError> {
        if leads.len() > MAX_BATCH {
            return Err(IntegrationError::Config(format!(
                "instantly: {} leads in one call; at most {MAX_BATCH}",
                leads.len()
            )));
        }
        let key = self.config.require_key(ENV_NAME)?.to_owned();
        let body = json!({
            "campaign_id": campaign_id,
            "leads": leads,
            "skip_if_in_campaign": skip_if_in_campaign,
            "skip_if_in_workspace": false,
        });
        let url = self.url("/api/v2/leads/add");
        self.http
            .json(|c| c.post(&url).bearer_auth(&key).json(&body))
            .await
    }

    /// Checks the key with a read: the analytics of every campaign (no
    /// write, one request of the rate limit). How many campaigns it sees.
    pub async fn check(&self) -> Result<usize, IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?.to_owned();
        let url = self.url("/api/v2/campaigns/analytics");
        let all: Vec<Value> = self
            .http
            .json(|c| {
                c.get(&url)
                    .bearer_auth(&key)
                    .query(&[("exclude_total_leads_count", "true")])
            })
            .await?;
        Ok(all.len())
    }

    /// The campaign's counters; `None` if Instantly does not know it.
    pub async fn analytics(
        &self,
        campaign_id: &str,
    ) -> Result<Option<Analytics>, IntegrationError> {
        let key = self.config.require_key(ENV_NAME)?.to_owned();
        let url = self.url("/api/v2/campaigns/analytics");
        let all: Vec<Analytics> = self
            .http
            .json(|c| c.get(&url).bearer_auth(&key).query(&[("id", campaign_id)]))
            .await?;
        Ok(all.into_iter().find(|a| a.campaign_id == campaign_id))
    }
}
