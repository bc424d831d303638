//! Slack incoming webhooks: `POST` a JSON message (`text`, and optionally
//! `blocks` with `text` as the notification fallback) to the webhook URL
//! (`LEADGEN_SLACK_WEBHOOK_URL`); the URL is the credential. Success is
//! 200 with the body `ok`. Failures come back as plain-text codes:
//! `invalid_payload`/`no_text` (400), `action_prohibited` (403),
//! `no_service`/`no_team` (404: the webhook was removed or the URL is
//! wrong), `channel_is_archived` (410), and 429 with `Retry-After` when
//! posting faster than about one message a second.

use std::time::Duration;

use serde::Serialize;

use crate::IntegrationError;
use crate::http::{HttpClient, RetryPolicy};

pub const WEBHOOK_ENV: &str = "LEADGEN_SLACK_WEBHOOK_URL";

/// A message: plain text, with optional blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackMessage {
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<serde_json::Value>,
}

impl SlackMessage {
    /// `text` as the fallback and as one mrkdwn section.
    pub fn markdown(text: &str) -> SlackMessage {
        SlackMessage {
            text: text.to_owned(),
            blocks: vec![serde_json::json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": text}
            })],
        }
    }
}

#[derive(Clone)]
pub struct SlackClient {
    http: HttpClient,
    webhook_url: String,
}

impl std::fmt::Debug for SlackClient {
    // The webhook URL is the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("webhook_url", &"<set>")
            .finish()
    }
}

/// Slack's plain-text codes, sorted: a removed webhook is configuration,
/// not a bad request to retry.
fn classify_slack(
    service: &'static str,
    status: u16,
    _retry_after: Option<Duration>,
    body: &str,
) -> Option<IntegrationError> {
    let code = body.trim();
    let fix = match (status, code) {
        (404, _) | (410, _) | (403, _) => format!(
            "the webhook URL was refused ({status} {code}): create a new incoming webhook in Slack and set {WEBHOOK_ENV}"
        ),
        (400, "invalid_payload" | "no_text" | "invalid_blocks") => {
            return Some(IntegrationError::BadRequest {
                service,
                status,
                message: format!("{code}: the message was malformed"),
            });
        }
        _ => return None,
    };
    Some(IntegrationError::Config(format!("{service}: {fix}")))
}

impl SlackClient {
    pub fn new(webhook_url: &str) -> Result<SlackClient, IntegrationError> {
        let url = webhook_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(IntegrationError::Config(format!(
                "slack: {WEBHOOK_ENV} must be an https:// incoming-webhook URL"
            )));
        }
        Ok(SlackClient {
            http: HttpClient::new("slack", Duration::from_secs(15))?
                .with_classifier(classify_slack),
            webhook_url: url.to_owned(),
        })
    }

    /// From `LEADGEN_SLACK_WEBHOOK_URL`.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<SlackClient, IntegrationError> {
        let url = get(WEBHOOK_ENV)
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                IntegrationError::Config(format!(
                    "slack: no webhook: set {WEBHOOK_ENV} to an incoming-webhook URL (Slack app → Incoming Webhooks)"
                ))
            })?;
        SlackClient::new(&url)
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> SlackClient {
        self.http = self.http.with_policy(policy);
        self
    }

    pub async fn post(&self, message: &SlackMessage) -> Result<(), IntegrationError> {
        let reply = self
            .http
            .send(|c| c.post(&self.webhook_url).json(message))
            .await?;
        if reply.body.trim() != "ok" {
            return Err(IntegrationError::Decode {
                service: "slack",
                message: format!("expected `ok`, got {:?}", reply.body.trim()),
            });
        }
        Ok(())
    }
}
