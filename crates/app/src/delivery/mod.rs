//! Delivery channels: email (Resend), a Slack incoming webhook and any
//! number of signed generic webhooks, configured per workspace.
//!
//! Every send goes through [`DeliveryService::send`]: the delivery is
//! looked up by its idempotency key in the store's ledger (`deliveries`)
//! and skipped when already delivered, else attempted with the HTTP layer's
//! retries (3 after the first, exponential backoff, `Retry-After`
//! honoured) and recorded as delivered or failed. Channels of one event are
//! sent concurrently and each on its own: one failing (a Slack outage, a
//! dead webhook) never blocks or fails another.

use std::sync::Arc;
use std::time::Duration;

use leadgen_core::WorkspaceId;
use leadgen_integrations::http::RetryPolicy;
use leadgen_integrations::resend::{self, OutgoingEmail, ResendClient};
use leadgen_integrations::slack::{SlackClient, SlackMessage};
use leadgen_integrations::webhook::{WebhookClient, WebhookTarget};
use leadgen_integrations::{IntegrationError, ServiceConfig};
use leadgen_store::{NewDelivery, Store, StoreError};
use serde::{Deserialize, Serialize};

pub mod hubspot;
pub mod notify;
pub mod platform;

pub use crate::discovery::EnvLookup;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Integration(#[from] IntegrationError),
}

/// A workspace's channels as stored (`deliveries` settings, JSON). Secrets
/// are never stored: the settings name the environment variables that
/// hold them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    /// Notification emails through Resend (key: `LEADGEN_RESEND_API_KEY`).
    #[serde(default)]
    pub email: Option<EmailSettings>,
    /// The variable holding the Slack incoming-webhook URL.
    #[serde(default)]
    pub slack_webhook_env: Option<String>,
    #[serde(default)]
    pub webhooks: Vec<WebhookSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// `"Leadgen <alerts@yourdomain.com>"`, a sender Resend has verified.
    pub from: String,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
    /// The variable holding this endpoint's signing secret.
    pub secret_env: String,
}

pub const NOTIFY_TO_ENV: &str = "LEADGEN_NOTIFY_EMAIL_TO";
pub const NOTIFY_FROM_ENV: &str = "LEADGEN_NOTIFY_EMAIL_FROM";
pub const WEBHOOK_URLS_ENV: &str = "LEADGEN_WEBHOOK_URLS";
pub const WEBHOOK_SECRET_ENV: &str = "LEADGEN_WEBHOOK_SECRET";

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ChannelSettings {
    /// The settings the environment describes, for workspaces without
    /// stored ones: `LEADGEN_NOTIFY_EMAIL_TO` (+ `_FROM`),
    /// `LEADGEN_SLACK_WEBHOOK_URL`, `LEADGEN_WEBHOOK_URLS` (comma-separated,
    /// signed with `LEADGEN_WEBHOOK_SECRET`).
    pub fn from_env(env: &EnvLookup) -> ChannelSettings {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        ChannelSettings {
            email: get(NOTIFY_TO_ENV).map(|to| EmailSettings {
                from: get(NOTIFY_FROM_ENV).unwrap_or_default(),
                to: list(&to),
            }),
            slack_webhook_env: get(leadgen_integrations::slack::WEBHOOK_ENV)
                .map(|_| leadgen_integrations::slack::WEBHOOK_ENV.to_owned()),
            webhooks: get(WEBHOOK_URLS_ENV)
                .map(|urls| {
                    list(&urls)
                        .into_iter()
                        .map(|url| WebhookSettings {
                            url,
                            secret_env: WEBHOOK_SECRET_ENV.into(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The workspace's stored settings, else the environment's.
    pub fn load(
        store: &dyn Store,
        ws: WorkspaceId,
        env: &EnvLookup,
    ) -> Result<ChannelSettings, DeliveryError> {
        match store.delivery_channels(ws)? {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                DeliveryError::Config(format!(
                    "stored delivery channels of workspace {ws} do not parse: {e}; set them again"
                ))
            }),
            None => Ok(ChannelSettings::from_env(env)),
        }
    }
}

/// What one channel did with one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SendStatus {
    Delivered,
    /// Its idempotency key was delivered before; nothing was sent.
    AlreadyDelivered,
    /// Every recipient was on the suppression list; nothing was sent.
    Suppressed,
    Failed {
        error: String,
    },
    /// A dry run: planned, not sent.
    Planned,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelResult {
    pub channel: String,
    pub target: String,
    #[serde(flatten)]
    pub status: SendStatus,
}

/// An event for the notification channels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// `run.completed`, `campaign.low_leads`, `campaign.bounce_rate`.
    pub event: String,
    /// Unique per event occurrence; each channel's delivery key derives
    /// from it.
    pub key: String,
    pub subject: String,
    pub text: String,
    /// The webhook body's `data`.
    pub data: serde_json::Value,
}

/// The channels of one workspace, ready to send.
#[derive(Clone)]
pub struct DeliveryService {
    store: Arc<dyn Store>,
    ws: WorkspaceId,
    email: Option<(ResendClient, EmailSettings)>,
    slack: Option<SlackClient>,
    webhooks: Vec<WebhookTarget>,
    webhook_client: WebhookClient,
    /// Problems found while building the channels (a missing secret): each
    /// is reported as that channel's failure, the others still send.
    broken: Vec<(String, String, String)>,
    pub(crate) env: EnvLookup,
}

/// The delivery policy: 3 retries after the first attempt.
pub fn default_policy() -> RetryPolicy {
    RetryPolicy {
        retries: 3,
        base_delay: Duration::from_millis(500),
        max_wait: Duration::from_secs(30),
    }
}

/// Drops the leads whose email is on the workspace's suppression list;
/// returns those that may be contacted and how many were dropped. Every
/// outbound path that carries leads calls this right before sending.
pub fn drop_suppressed(
    store: &dyn Store,
    ws: WorkspaceId,
    leads: Vec<leadgen_core::Lead>,
) -> Result<(Vec<leadgen_core::Lead>, u64), StoreError> {
    let emails: Vec<String> = leads
        .iter()
        .filter_map(|l| l.email.as_ref().map(|e| e.as_str().to_owned()))
        .collect();
    if emails.is_empty() {
        return Ok((leads, 0));
    }
    let suppressed = store.filter_suppressed(ws, &emails)?;
    let before = leads.len();
    let kept: Vec<leadgen_core::Lead> = leads
        .into_iter()
        .filter(|l| {
            l.email
                .as_ref()
                .is_none_or(|e| !suppressed.contains(e.as_str()))
        })
        .collect();
    let dropped = (before - kept.len()) as u64;
    if dropped > 0 {
        tracing::info!(workspace = ws, dropped, "suppressed leads left out");
    }
    Ok((kept, dropped))
}

/// A URL as safe to record: scheme, host and path, no query or userinfo.
pub fn redacted_target(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or("");
    crate::config::redact_url(no_query)
}

impl DeliveryService {
    /// The workspace's channels from `settings`, secrets from `env`.
    pub fn new(
        store: Arc<dyn Store>,
        ws: WorkspaceId,
        settings: &ChannelSettings,
        env: EnvLookup,
        policy: RetryPolicy,
    ) -> Result<DeliveryService, DeliveryError> {
        let mut broken = Vec::new();
        let email = match &settings.email {
            None => None,
            Some(e) if e.from.trim().is_empty() => {
                broken.push(("email".into(), e.to.join(","), format!(
                    "no sender: set {NOTIFY_FROM_ENV} (or the stored email.from) to an address Resend has verified"
                )));
                None
            }
            Some(e) => {
                let cfg =
                    ServiceConfig::from_lookup(resend::ENV_NAME, resend::DEFAULT_BASE_URL, |k| {
                        env(k)
                    });
                match ResendClient::new(cfg) {
                    Ok(c) => Some((c.with_policy(policy), e.clone())),
                    Err(err) => {
                        broken.push(("email".into(), e.to.join(","), err.to_string()));
                        None
                    }
                }
            }
        };
        let slack = match &settings.slack_webhook_env {
            None => None,
            Some(var) => match SlackClient::from_lookup(|k| {
                if k == leadgen_integrations::slack::WEBHOOK_ENV {
                    env(var)
                } else {
                    env(k)
                }
            }) {
                Ok(c) => Some(c.with_policy(policy)),
                Err(err) => {
                    broken.push(("slack".into(), var.clone(), err.to_string()));
                    None
                }
            },
        };
        let mut webhooks = Vec::new();
        for w in &settings.webhooks {
            match env(&w.secret_env).filter(|s| !s.trim().is_empty()) {
                Some(secret) => webhooks.push(WebhookTarget {
                    url: w.url.clone(),
                    secret,
                }),
                None => broken.push((
                    "webhook".into(),
                    redacted_target(&w.url),
                    format!("no signing secret: set {}", w.secret_env),
                )),
            }
        }
        Ok(DeliveryService {
            store,
            ws,
            email,
            slack,
            webhooks,
            webhook_client: WebhookClient::new()?.with_policy(policy),
            broken,
            env,
        })
    }

    /// The workspace's stored (else environment) channels.
    pub fn for_workspace(
        store: Arc<dyn Store>,
        ws: WorkspaceId,
        env: EnvLookup,
    ) -> Result<DeliveryService, DeliveryError> {
        let settings = ChannelSettings::load(store.as_ref(), ws, &env)?;
        DeliveryService::new(store, ws, &settings, env, default_policy())
    }

    pub fn workspace(&self) -> WorkspaceId {
        self.ws
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether any channel is configured (working or not).
    pub fn has_channels(&self) -> bool {
        self.email.is_some()
            || self.slack.is_some()
            || !self.webhooks.is_empty()
            || !self.broken.is_empty()
    }

    /// Runs `attempt` once for `d.idempotency_key` unless the ledger says
    /// it was delivered; records the outcome.
    pub async fn send<F>(&self, d: NewDelivery, attempt: F) -> ChannelResult
    where
        F: Future<Output = Result<(), IntegrationError>>,
    {
        let (channel, target) = (d.channel.clone(), d.target.clone());
        let result = |status| ChannelResult {
            channel: channel.clone(),
            target: target.clone(),
            status,
        };
        let (store, ws, now) = (self.store.clone(), self.ws, leadgen_jobs::now_ms());
        let begun =
            tokio::task::spawn_blocking(move || store.begin_delivery(ws, &d, now).map(|r| (r, d)))
                .await;
        let (record, d) = match begun {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                return result(SendStatus::Failed {
                    error: format!("store: {e}"),
                });
            }
            Err(e) => {
                return result(SendStatus::Failed {
                    error: e.to_string(),
                });
            }
        };
        if record.status == leadgen_store::DeliveryStatus::Delivered {
            return result(SendStatus::AlreadyDelivered);
        }
        let outcome = attempt.await;
        let error = outcome.as_ref().err().map(|e| e.to_string());
        if let Some(e) = &error {
            tracing::warn!(channel = %d.channel, target = %d.target, event = %d.event, error = %e, "delivery failed");
        }
        let (store, ws, now, err2) = (
            self.store.clone(),
            self.ws,
            leadgen_jobs::now_ms(),
            error.clone(),
        );
        let key = d.idempotency_key.clone();
        let recorded = tokio::task::spawn_blocking(move || {
            store.finish_delivery(ws, &key, err2.as_deref(), now)
        })
        .await;
        match (error, recorded) {
            (Some(error), _) => result(SendStatus::Failed { error }),
            (None, Ok(Ok(()))) => result(SendStatus::Delivered),
            // Sent, but not recorded: say so; a retry will send again.
            (None, Ok(Err(e))) => result(SendStatus::Failed {
                error: format!("delivered, but not recorded: {e}"),
            }),
            (None, Err(e)) => result(SendStatus::Failed {
                error: format!("delivered, but not recorded: {e}"),
            }),
        }
    }

    /// Sends `n` to every channel at once; each result on its own.
    pub async fn notify(&self, n: &Notification) -> Vec<ChannelResult> {
        let mut set = tokio::task::JoinSet::new();
        for (channel, target, error) in &self.broken {
            let r = ChannelResult {
                channel: channel.clone(),
                target: target.clone(),
                status: SendStatus::Failed {
                    error: error.clone(),
                },
            };
            set.spawn(async move { r });
        }
        if let Some((client, settings)) = self.email.clone() {
            let (me, n) = (self.clone(), n.clone());
            set.spawn(async move {
                let email = OutgoingEmail {
                    from: settings.from.clone(),
                    to: settings.to.clone(),
                    subject: n.subject.clone(),
                    text: Some(n.text.clone()),
                    html: None,
                    reply_to: None,
                    tags: vec![],
                };
                me.send_email(&client, email, &n.event, &format!("email:{}", n.key))
                    .await
            });
        }
        if let Some(slack) = self.slack.clone() {
            let (me, n) = (self.clone(), n.clone());
            set.spawn(async move {
                let d = NewDelivery {
                    channel: "slack".into(),
                    target: "slack incoming webhook".into(),
                    event: n.event.clone(),
                    idempotency_key: format!("slack:{}", n.key),
                };
                let msg = SlackMessage::markdown(&format!("*{}*\n{}", n.subject, n.text));
                me.send(d, async move { slack.post(&msg).await }).await
            });
        }
        for (i, target) in self.webhooks.iter().enumerate() {
            let (me, n, target) = (self.clone(), n.clone(), target.clone());
            set.spawn(async move {
                let body = serde_json::json!({"event": n.event, "id": n.key, "data": n.data});
                me.send_webhook(&target, i, &n.event, &n.key, body).await
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(r) => out.push(r),
                Err(e) => out.push(ChannelResult {
                    channel: "?".into(),
                    target: "?".into(),
                    status: SendStatus::Failed {
                        error: e.to_string(),
                    },
                }),
            }
        }
        out.sort_by(|a, b| (&a.channel, &a.target).cmp(&(&b.channel, &b.target)));
        out
    }

    /// Posts `body` to one webhook endpoint (the `i`th), keyed by `key`.
    async fn send_webhook(
        &self,
        target: &WebhookTarget,
        i: usize,
        event: &str,
        key: &str,
        body: serde_json::Value,
    ) -> ChannelResult {
        let d = NewDelivery {
            channel: "webhook".into(),
            target: redacted_target(&target.url),
            event: event.to_owned(),
            idempotency_key: format!("webhook{i}:{key}"),
        };
        let now_s = leadgen_jobs::now_ms() / 1000;
        let client = self.webhook_client.clone();
        let event_id = key.to_owned();
        self.send(d, async move {
            client.deliver(target, event, &event_id, &body, now_s).await
        })
        .await
    }

    /// Sends one email, keyed by `key`, to its recipients that are not
    /// suppressed; none left, nothing is sent.
    async fn send_email(
        &self,
        client: &ResendClient,
        mut email: OutgoingEmail,
        event: &str,
        key: &str,
    ) -> ChannelResult {
        let target = email.to.join(",");
        let (store, ws, to) = (self.store.clone(), self.ws, email.to.clone());
        let suppressed =
            tokio::task::spawn_blocking(move || store.filter_suppressed(ws, &to)).await;
        let failed = |error: String| ChannelResult {
            channel: "email".into(),
            target: target.clone(),
            status: SendStatus::Failed { error },
        };
        match suppressed {
            Ok(Ok(s)) => email.to.retain(|a| !s.contains(a)),
            Ok(Err(e)) => return failed(format!("checking the suppression list: {e}")),
            Err(e) => return failed(e.to_string()),
        }
        if email.to.is_empty() {
            return ChannelResult {
                channel: "email".into(),
                target,
                status: SendStatus::Suppressed,
            };
        }
        let d = NewDelivery {
            channel: "email".into(),
            target: email.to.join(","),
            event: event.to_owned(),
            idempotency_key: key.to_owned(),
        };
        let key = key.to_owned();
        self.send(
            d,
            async move { client.send(&email, &key).await.map(|_| ()) },
        )
        .await
    }

    /// Emails one lead (a campaign's own message, an alert to a prospect)
    /// through Resend, once per `key`.
    pub async fn email_lead(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        key: &str,
    ) -> ChannelResult {
        let Some((client, settings)) = &self.email else {
            return ChannelResult {
                channel: "email".into(),
                target: to.to_owned(),
                status: SendStatus::Failed {
                    error: format!(
                        "email is not configured: set {NOTIFY_FROM_ENV} and LEADGEN_RESEND_API_KEY"
                    ),
                },
            };
        };
        let email = OutgoingEmail {
            from: settings.from.clone(),
            to: vec![to.to_owned()],
            subject: subject.to_owned(),
            text: Some(text.to_owned()),
            html: None,
            reply_to: None,
            tags: vec![],
        };
        self.send_email(client, email, "lead.email", key).await
    }

    /// Delivers leads to every webhook endpoint as `event`, keyed by `key`,
    /// leaving out suppressed leads; returns each endpoint's result and how
    /// many leads were left out. With none left, nothing is sent.
    pub async fn deliver_leads(
        &self,
        event: &str,
        key: &str,
        leads: Vec<leadgen_core::Lead>,
    ) -> Result<(Vec<ChannelResult>, u64), DeliveryError> {
        let (store, ws) = (self.store.clone(), self.ws);
        let (leads, dropped) =
            tokio::task::spawn_blocking(move || drop_suppressed(store.as_ref(), ws, leads))
                .await
                .map_err(|e| DeliveryError::Config(e.to_string()))??;
        if leads.is_empty() {
            return Ok((Vec::new(), dropped));
        }
        let payload: Vec<serde_json::Value> = leads.iter().map(platform::lead_json).collect();
        let mut set = tokio::task::JoinSet::new();
        for (i, target) in self.webhooks.iter().enumerate() {
            let (me, target, event, key) = (
                self.clone(),
                target.clone(),
                event.to_owned(),
                key.to_owned(),
            );
            let body = serde_json::json!({"event": event, "id": key, "data": {"leads": payload}});
            set.spawn(async move { me.send_webhook(&target, i, &event, &key, body).await });
        }
        let mut out = Vec::new();
        while let Some(Ok(r)) = set.join_next().await {
            out.push(r);
        }
        Ok((out, dropped))
    }
}
