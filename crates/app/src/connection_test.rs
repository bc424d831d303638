//! Connection tests of the delivery channels, CRM and platform targets and
//! keyed services: `leadgen deliver test <name>`,
//! `POST /api/v1/settings/integrations/{service}/test` and the settings
//! page's "Test connection" button all run [`run`] and show its
//! [`TestReport`].
//!
//! Each test is a row of [`CONNECTION_TESTS`]: a name, the service whose
//! credentials it checks (if one), and an async function that returns what
//! worked or the error class and the fix. A new target is one more function
//! and one more row.
//!
//! A service's base URL can be set from the dashboard, so before a test
//! calls it the URL's host must resolve to public addresses only, unless
//! the caller allows private networks (the CLI, tests, local demos).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use leadgen_integrations::http::RetryPolicy;
use leadgen_integrations::hubspot::{self, HubspotClient};
use leadgen_integrations::instantly::{self, InstantlyClient};
use leadgen_integrations::novacrm::{self, NovaCrmClient};
use leadgen_integrations::platform::{PlatformClient, env_name};
use leadgen_integrations::resend::{self, OutgoingEmail, ResendClient};
use leadgen_integrations::slack::{SlackClient, SlackMessage, WEBHOOK_ENV};
use leadgen_integrations::webhook::{WebhookClient, WebhookTarget};
use leadgen_integrations::{IntegrationError, ServiceConfig};
use serde::Serialize;

use crate::delivery::platform::PLATFORMS;
use crate::delivery::{
    ChannelSettings, EnvLookup, NOTIFY_FROM_ENV, NOTIFY_TO_ENV, WEBHOOK_URLS_ENV, redacted_target,
};

/// What a connection test reads: the variables as the workspace sees them
/// (stored settings over the environment) and the workspace's channels.
#[derive(Clone)]
pub struct TestContext {
    pub env: EnvLookup,
    pub channels: ChannelSettings,
    /// Let a service's base URL be a loopback or private address.
    pub allow_private_network: bool,
}

/// Why a test failed: a class (`auth`, `transport`, `rate_limited`,
/// `server`, `decode`, `bad_request`, `config`, `refused`) and the message
/// with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: &'static str,
    pub message: String,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            class: "config",
            message,
        }
    }
}

/// What [`run`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestReport {
    pub test: &'static str,
    pub ok: bool,
    /// The failure's class; absent when it worked.
    pub class: Option<&'static str>,
    /// What worked, or what failed and how to fix it.
    pub message: String,
    pub latency_ms: u64,
}

type TestFuture = Pin<Box<dyn Future<Output = Result<String, Failure>> + Send>>;

/// One connection test.
pub struct ConnectionTest {
    pub name: &'static str,
    /// The service (`integrations::SERVICES` env name) whose key and base
    /// URL it checks.
    pub service: Option<&'static str>,
    pub run: fn(TestContext) -> TestFuture,
}

pub const CONNECTION_TESTS: &[ConnectionTest] = &[
    ConnectionTest {
        name: "slack",
        service: None,
        run: |ctx| Box::pin(test_slack(ctx)),
    },
    ConnectionTest {
        name: "webhook",
        service: None,
        run: |ctx| Box::pin(test_webhooks(ctx)),
    },
    ConnectionTest {
        name: "email",
        service: Some(resend::ENV_NAME),
        run: |ctx| Box::pin(test_email(ctx)),
    },
    ConnectionTest {
        name: "hubspot",
        service: Some(hubspot::ENV_NAME),
        run: |ctx| Box::pin(test_hubspot(ctx)),
    },
    ConnectionTest {
        name: "platform",
        service: None,
        run: |ctx| Box::pin(test_platforms(ctx)),
    },
    ConnectionTest {
        name: "novacrm",
        service: Some(novacrm::ENV_NAME),
        run: |ctx| Box::pin(test_novacrm(ctx)),
    },
    ConnectionTest {
        name: "instantly",
        service: Some(instantly::ENV_NAME),
        run: |ctx| Box::pin(test_instantly(ctx)),
    },
];

/// The test named `name`, or the one for service id `name` (`resend`).
pub fn find(name: &str) -> Option<&'static ConnectionTest> {
    CONNECTION_TESTS
        .iter()
        .find(|t| t.name == name)
        .or_else(|| for_service(name))
}

/// The test of a service's credentials, by service id (`hubspot`).
pub fn for_service(id: &str) -> Option<&'static ConnectionTest> {
    CONNECTION_TESTS
        .iter()
        .find(|t| t.service.is_some_and(|s| s.eq_ignore_ascii_case(id)))
}

/// Runs `test`: first the base-URL check, then the test itself, timed.
pub async fn run(test: &'static ConnectionTest, ctx: TestContext) -> TestReport {
    let started = Instant::now();
    let result = match guard(test, &ctx).await {
        Ok(()) => (test.run)(ctx).await,
        Err(f) => Err(f),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(message) => TestReport {
            test: test.name,
            ok: true,
            class: None,
            message,
            latency_ms,
        },
        Err(f) => TestReport {
            test: test.name,
            ok: false,
            class: Some(f.class),
            message: f.message,
            latency_ms,
        },
    }
}

/// Refuses a service base URL whose host is (or resolves to) a loopback,
/// private or otherwise non-public address, unless allowed.
async fn guard(test: &ConnectionTest, ctx: &TestContext) -> Result<(), Failure> {
    let Some(env_name) = test.service else {
        return Ok(());
    };
    if ctx.allow_private_network {
        return Ok(());
    }
    let cfg = ServiceConfig::from_lookup(env_name, "", |k| (ctx.env)(k));
    let vendor = leadgen_integrations::SERVICES
        .iter()
        .find(|s| s.env_name == env_name)
        .map(|s| s.default_base_url.trim_end_matches('/'));
    if cfg.base_url.is_empty() || Some(cfg.base_url.as_str()) == vendor {
        return Ok(());
    }
    let refused = |why: String| Failure {
        class: "refused",
        message: format!(
            "LEADGEN_{env_name}_BASE_URL {}: {why}; only public addresses are called",
            redacted_target(&cfg.base_url)
        ),
    };
    public_address(&cfg.base_url)
        .await
        .map_err(|e| refused(e.to_string()))
}

/// Why a base URL is not called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotPublic {
    /// Its host is, or resolves to, a loopback, private or reserved address.
    #[error("{0}")]
    Private(String),
    /// Its host does not resolve (now); nothing can be said about it.
    #[error("{0}")]
    Unresolved(String),
}

/// Whether `base_url`'s host is (and resolves only to) public addresses.
/// A connection test refuses either failure; saving a base URL refuses a
/// private one (see the server's settings API).
pub async fn public_address(base_url: &str) -> Result<(), NotPublic> {
    let url = url::Url::parse(base_url).map_err(|e| NotPublic::Private(e.to_string()))?;
    let ips: Vec<std::net::IpAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![ip.into()],
        Some(url::Host::Ipv6(ip)) => vec![ip.into()],
        Some(url::Host::Domain(d)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            tokio::net::lookup_host((d, port))
                .await
                .map_err(|e| NotPublic::Unresolved(format!("{d} does not resolve: {e}")))?
                .map(|a| a.ip())
                .collect()
        }
        None => return Err(NotPublic::Private("no host".into())),
    };
    match ips.iter().find(|ip| !leadgen_enrich::net::is_public(**ip)) {
        Some(ip) => Err(NotPublic::Private(format!("{ip} is not a public address"))),
        None => Ok(()),
    }
}

/// A test does not wait long: one quick retry.
fn test_policy() -> RetryPolicy {
    RetryPolicy {
        retries: 1,
        base_delay: Duration::from_millis(200),
        max_wait: Duration::from_secs(5),
    }
}

/// An error, its class, and what to do about it.
fn explain(e: &IntegrationError, key_var: &str, url_var: &str) -> Failure {
    let (class, fix) = match e {
        IntegrationError::Auth { .. } => {
            ("auth", format!("check {key_var}: the service refused it"))
        }
        IntegrationError::Transport { .. } => (
            "transport",
            format!("check {url_var} and that the service is reachable from this machine"),
        ),
        IntegrationError::RateLimited { .. } => (
            "rate_limited",
            "rate limited: wait and run the test again".into(),
        ),
        IntegrationError::Server { .. } => (
            "server",
            "the service failed on its side: try again later".into(),
        ),
        IntegrationError::Decode { .. } => (
            "decode",
            format!("{url_var} does not point at the right service"),
        ),
        IntegrationError::BadRequest { .. } => ("bad_request", String::new()),
        IntegrationError::Config(_) => ("config", String::new()),
    };
    let message = if fix.is_empty() {
        e.to_string()
    } else {
        format!("{e}\n  fix: {fix}")
    };
    Failure { class, message }
}

fn now_s() -> i64 {
    use leadgen_jobs::Clock;
    leadgen_jobs::SystemClock.now_ms() / 1000
}

fn config_error(e: IntegrationError) -> Failure {
    e.to_string().into()
}

async fn test_slack(ctx: TestContext) -> Result<String, Failure> {
    let var = ctx
        .channels
        .slack_webhook_env
        .clone()
        .unwrap_or_else(|| WEBHOOK_ENV.to_owned());
    let url = (ctx.env)(&var)
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| format!("no Slack webhook: set {var} to an incoming-webhook URL (Slack app → Incoming Webhooks)"))?;
    let client = SlackClient::new(&url).map_err(config_error)?;
    client
        .with_policy(test_policy())
        .post(&SlackMessage::markdown(
            "leadgen connection test: this channel receives leadgen notifications.",
        ))
        .await
        .map_err(|e| explain(&e, &var, &var))?;
    Ok("posted a test message".into())
}

async fn test_webhooks(ctx: TestContext) -> Result<String, Failure> {
    let (env, settings) = (ctx.env, ctx.channels);
    if settings.webhooks.is_empty() {
        return Err(format!(
            "no webhooks: set {WEBHOOK_URLS_ENV} (comma-separated URLs) and their signing secret LEADGEN_WEBHOOK_SECRET"
        )
        .into());
    }
    let client = WebhookClient::new()
        .map_err(config_error)?
        .with_policy(test_policy());
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let mut class = "config";
    for w in &settings.webhooks {
        let shown = redacted_target(&w.url);
        let Some(secret) = env(&w.secret_env).filter(|s| !s.trim().is_empty()) else {
            failed.push(format!("{shown}: no signing secret: set {}", w.secret_env));
            continue;
        };
        let target = WebhookTarget {
            url: w.url.clone(),
            secret,
        };
        let id = format!("test-{}", now_s());
        let body = serde_json::json!({"event": "test.ping", "id": id, "data": {}});
        match client
            .deliver(&target, "test.ping", &id, &body, now_s())
            .await
        {
            Ok(()) => ok.push(shown),
            Err(e @ IntegrationError::Auth { .. }) => {
                class = "auth";
                failed.push(format!(
                    "{shown}: {e}\n  fix: the receiver refused the signature: give it the same secret as {} and check its clock (5 min tolerance)",
                    w.secret_env
                ))
            }
            Err(e) => {
                let f = explain(&e, &w.secret_env, WEBHOOK_URLS_ENV);
                class = f.class;
                failed.push(format!("{shown}: {}", f.message))
            }
        }
    }
    if failed.is_empty() {
        Ok(format!("signed test.ping accepted by {}", ok.join(", ")))
    } else {
        Err(Failure {
            class,
            message: failed.join("\n"),
        })
    }
}

async fn test_email(ctx: TestContext) -> Result<String, Failure> {
    let env = ctx.env;
    let settings = ctx
        .channels
        .email
        .ok_or_else(|| format!("no recipient: set {NOTIFY_TO_ENV}"))?;
    if settings.from.trim().is_empty() {
        return Err(format!(
            "no sender: set {NOTIFY_FROM_ENV} to an address on a domain Resend has verified"
        )
        .into());
    }
    let (from, to) = (settings.from, settings.to);
    let cfg = ServiceConfig::from_lookup(resend::ENV_NAME, resend::DEFAULT_BASE_URL, |k| env(k));
    let client = ResendClient::new(cfg)
        .map_err(config_error)?
        .with_policy(test_policy());
    let email = OutgoingEmail {
        from,
        to: to.clone(),
        subject: "leadgen connection test".into(),
        text: Some("This address receives leadgen notifications.".into()),
        html: None,
        reply_to: None,
        tags: vec![],
    };
    let id = client
        .send(&email, &format!("connection-test-{}", now_s()))
        .await
        .map_err(|e| explain(&e, "LEADGEN_RESEND_API_KEY", "LEADGEN_RESEND_BASE_URL"))?;
    Ok(format!(
        "sent a test email to {} (Resend id {id})",
        to.join(", ")
    ))
}

async fn test_hubspot(ctx: TestContext) -> Result<String, Failure> {
    let env = ctx.env;
    let cfg = ServiceConfig::from_lookup(hubspot::ENV_NAME, hubspot::DEFAULT_BASE_URL, |k| env(k));
    let client = HubspotClient::new(cfg)
        .map_err(config_error)?
        .with_policy(test_policy());
    client.check().await.map_err(|e| {
        explain(
            &e,
            "LEADGEN_HUBSPOT_API_KEY (a private-app token with the crm.objects.contacts scopes)",
            "LEADGEN_HUBSPOT_BASE_URL",
        )
    })?;
    Ok("token accepted; contacts readable".into())
}

async fn test_platforms(ctx: TestContext) -> Result<String, Failure> {
    let env = ctx.env;
    let client = PlatformClient::new()
        .map_err(config_error)?
        .with_policy(test_policy());
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let mut class = "config";
    for p in PLATFORMS {
        let cfg = ServiceConfig::from_lookup(&env_name(p), "", |k| env(k));
        if cfg.base_url.is_empty() {
            continue;
        }
        // An empty batch: the documented ping.
        let id = format!("connection-test-{}", now_s());
        let body = serde_json::json!({"format": crate::delivery::platform::FORMAT,
            "platform": p, "batch_id": id, "generated_at": now_s() * 1000, "count": 0, "leads": []});
        let var = format!("LEADGEN_{}", env_name(p));
        match client.upload(&cfg, &id, &body).await {
            Ok(()) => ok.push(p),
            Err(e) => {
                let f = explain(&e, &format!("{var}_API_KEY"), &format!("{var}_BASE_URL"));
                class = f.class;
                failed.push(format!("{p}: {}", f.message))
            }
        }
    }
    if ok.is_empty() && failed.is_empty() {
        return Err(format!(
            "no platform configured: set LEADGEN_PLATFORM_<NAME>_BASE_URL for any of {}",
            PLATFORMS.join(", ")
        )
        .into());
    }
    if failed.is_empty() {
        Ok(format!("accepted an empty batch: {}", ok.join(", ")))
    } else {
        Err(Failure {
            class,
            message: failed.join("\n"),
        })
    }
}

async fn test_novacrm(ctx: TestContext) -> Result<String, Failure> {
    let env = ctx.env;
    let cfg = ServiceConfig::from_lookup(novacrm::ENV_NAME, novacrm::DEFAULT_BASE_URL, |k| env(k));
    let client = NovaCrmClient::new(cfg).map_err(config_error)?;
    client.check().await.map_err(|e| {
        explain(
            &e,
            "LEADGEN_NOVACRM_API_KEY (NovaCRM's capture key, sent as x-api-key)",
            "LEADGEN_NOVACRM_BASE_URL",
        )
    })?;
    Ok("key accepted; an empty capture was refused as incomplete, so no lead was created".into())
}

async fn test_instantly(ctx: TestContext) -> Result<String, Failure> {
    let env = ctx.env;
    let cfg =
        ServiceConfig::from_lookup(instantly::ENV_NAME, instantly::DEFAULT_BASE_URL, |k| env(k));
    let client = InstantlyClient::new(cfg).map_err(config_error)?;
    let campaigns = client.check().await.map_err(|e| {
        explain(
            &e,
            "LEADGEN_INSTANTLY_API_KEY (an API v2 key with campaigns and leads scopes, or all:all)",
            "LEADGEN_INSTANTLY_BASE_URL",
        )
    })?;
    Ok(format!(
        "key accepted; campaign analytics readable ({campaigns} campaigns)"
    ))
}
