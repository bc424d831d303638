//! `leadgen deliver …`: connection tests of the delivery channels and
//! CRM/platform targets, the platform upload, and the delivery ledger.
//!
//! Connection tests are rows of [`CONNECTION_TESTS`]: a name, what the
//! test does, and an async function that returns what worked or the
//! error with how to fix it. A new target (NovaCRM, Instantly) is one more
//! function and one more row; `deliver test --help` lists the rows.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use leadgen_app::config::Config;
use leadgen_app::delivery::hubspot::{HubspotPush, contact_of, push_to_hubspot};
use leadgen_app::delivery::platform::{PLATFORMS, upload_to_platforms};
use leadgen_app::delivery::{
    ChannelSettings, DeliveryService, EnvLookup, NOTIFY_FROM_ENV, NOTIFY_TO_ENV, SendStatus,
    WEBHOOK_URLS_ENV, default_policy, drop_suppressed, redacted_target,
};
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_integrations::http::RetryPolicy;
use leadgen_integrations::hubspot::{self, HubspotClient};
use leadgen_integrations::instantly::{self, InstantlyClient};
use leadgen_integrations::novacrm::{self, NovaCrmClient};
use leadgen_integrations::platform::{PlatformClient, env_name};
use leadgen_integrations::resend::{self, OutgoingEmail, ResendClient};
use leadgen_integrations::slack::{SlackClient, SlackMessage, WEBHOOK_ENV};
use leadgen_integrations::webhook::{WebhookClient, WebhookTarget};
use leadgen_integrations::{IntegrationError, ServiceConfig};

use crate::open_store;

#[derive(Subcommand)]
pub enum DeliverCommand {
    /// Test a connection: slack, webhook, email, hubspot, platform, novacrm, instantly.
    Test(TestArgs),
    /// Upload hot and warm leads to the platform of their industry.
    PlatformUpload(UploadArgs),
    /// Upsert the leads a filter selects into HubSpot (by email, 100 per
    /// request); suppressed leads are left out.
    Hubspot(HubspotArgs),
    /// Show the workspace's channels, or store them from a JSON file
    /// (secrets stay in the environment: the file names their variables).
    Channels {
        /// `{"email": {"from", "to": [..]}, "slack_webhook_env": "VAR",
        /// "webhooks": [{"url", "secret_env": "VAR"}]}`
        #[arg(long)]
        set: Option<std::path::PathBuf>,
    },
    /// The newest deliveries: channel, target, event, status, attempts.
    Log {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct TestArgs {
    /// What to test.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(CONNECTION_TESTS.iter().map(|t| t.name)))]
    target: String,
}

#[derive(Args)]
pub struct HubspotArgs {
    #[command(flatten)]
    filter: crate::FilterArgs,
    /// Count what would be sent; send nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct UploadArgs {
    /// Plan the batches and print them; send nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

type TestFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// What a connection test reads: the environment and the workspace's
/// effective channels (stored, else from the environment).
#[derive(Clone)]
pub struct TestContext {
    pub env: EnvLookup,
    pub channels: ChannelSettings,
}

/// One connection test: `Ok(what worked)` or `Err(what failed and how to
/// fix it)`.
pub struct ConnectionTest {
    pub name: &'static str,
    pub run: fn(TestContext) -> TestFuture,
}

pub const CONNECTION_TESTS: &[ConnectionTest] = &[
    ConnectionTest {
        name: "slack",
        run: |ctx| Box::pin(test_slack(ctx)),
    },
    ConnectionTest {
        name: "webhook",
        run: |ctx| Box::pin(test_webhooks(ctx)),
    },
    ConnectionTest {
        name: "email",
        run: |ctx| Box::pin(test_email(ctx)),
    },
    ConnectionTest {
        name: "hubspot",
        run: |ctx| Box::pin(test_hubspot(ctx)),
    },
    ConnectionTest {
        name: "platform",
        run: |ctx| Box::pin(test_platforms(ctx)),
    },
    ConnectionTest {
        name: "novacrm",
        run: |ctx| Box::pin(test_novacrm(ctx)),
    },
    ConnectionTest {
        name: "instantly",
        run: |ctx| Box::pin(test_instantly(ctx)),
    },
];

/// A test does not wait long: one quick retry.
fn test_policy() -> RetryPolicy {
    RetryPolicy {
        retries: 1,
        base_delay: Duration::from_millis(200),
        max_wait: Duration::from_secs(5),
    }
}

/// An error, and what to do about it.
fn explain(e: &IntegrationError, key_var: &str, url_var: &str) -> String {
    let fix = match e {
        IntegrationError::Auth { .. } => format!("check {key_var}: the service refused it"),
        IntegrationError::Transport { .. } => {
            format!("check {url_var} and that the service is reachable from this machine")
        }
        IntegrationError::RateLimited { .. } => "rate limited: wait and run the test again".into(),
        IntegrationError::Server { .. } => "the service failed on its side: try again later".into(),
        IntegrationError::Decode { .. } => format!("{url_var} does not point at the right service"),
        IntegrationError::BadRequest { .. } | IntegrationError::Config(_) => String::new(),
    };
    if fix.is_empty() {
        e.to_string()
    } else {
        format!("{e}\n  fix: {fix}")
    }
}

fn process_env() -> EnvLookup {
    Arc::new(|k: &str| std::env::var(k).ok())
}

fn now_s() -> i64 {
    use leadgen_jobs::Clock;
    leadgen_jobs::SystemClock.now_ms() / 1000
}

async fn test_slack(ctx: TestContext) -> Result<String, String> {
    let var = ctx
        .channels
        .slack_webhook_env
        .clone()
        .unwrap_or_else(|| WEBHOOK_ENV.to_owned());
    let url = (ctx.env)(&var)
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| format!("no Slack webhook: set {var} to an incoming-webhook URL (Slack app → Incoming Webhooks)"))?;
    let client = SlackClient::new(&url).map_err(|e| e.to_string())?;
    client
        .with_policy(test_policy())
        .post(&SlackMessage::markdown(
            "leadgen connection test: this channel receives leadgen notifications.",
        ))
        .await
        .map_err(|e| explain(&e, &var, &var))?;
    Ok("posted a test message".into())
}

async fn test_webhooks(ctx: TestContext) -> Result<String, String> {
    let (env, settings) = (ctx.env, ctx.channels);
    if settings.webhooks.is_empty() {
        return Err(format!(
            "no webhooks: set {WEBHOOK_URLS_ENV} (comma-separated URLs) and their signing secret LEADGEN_WEBHOOK_SECRET"
        ));
    }
    let client = WebhookClient::new()
        .map_err(|e| e.to_string())?
        .with_policy(test_policy());
    let mut ok = Vec::new();
    let mut failed = Vec::new();
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
        match client.deliver(&target, "test.ping", &id, &body, now_s()).await {
            Ok(()) => ok.push(shown),
            Err(e @ IntegrationError::Auth { .. }) => failed.push(format!(
                "{shown}: {e}\n  fix: the receiver refused the signature: give it the same secret as {} and check its clock (5 min tolerance)",
                w.secret_env
            )),
            Err(e) => failed.push(format!("{shown}: {}", explain(&e, &w.secret_env, WEBHOOK_URLS_ENV))),
        }
    }
    if failed.is_empty() {
        Ok(format!("signed test.ping accepted by {}", ok.join(", ")))
    } else {
        Err(failed.join("\n"))
    }
}

async fn test_email(ctx: TestContext) -> Result<String, String> {
    let env = ctx.env;
    let settings = ctx
        .channels
        .email
        .ok_or_else(|| format!("no recipient: set {NOTIFY_TO_ENV}"))?;
    if settings.from.trim().is_empty() {
        return Err(format!(
            "no sender: set {NOTIFY_FROM_ENV} to an address on a domain Resend has verified"
        ));
    }
    let (from, to) = (settings.from, settings.to);
    let cfg = ServiceConfig::from_lookup(resend::ENV_NAME, resend::DEFAULT_BASE_URL, |k| env(k));
    let client = ResendClient::new(cfg)
        .map_err(|e| e.to_string())?
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

async fn test_hubspot(ctx: TestContext) -> Result<String, String> {
    let env = ctx.env;
    let cfg = ServiceConfig::from_lookup(hubspot::ENV_NAME, hubspot::DEFAULT_BASE_URL, |k| env(k));
    let client = HubspotClient::new(cfg)
        .map_err(|e| e.to_string())?
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

async fn test_platforms(ctx: TestContext) -> Result<String, String> {
    let env = ctx.env;
    let client = PlatformClient::new()
        .map_err(|e| e.to_string())?
        .with_policy(test_policy());
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for p in PLATFORMS {
        let cfg = ServiceConfig::from_lookup(&env_name(p), "", |k| env(k));
        if cfg.base_url.is_empty() {
            continue;
        }
        // An empty batch: the documented ping.
        let id = format!("connection-test-{}", now_s());
        let body = serde_json::json!({"format": leadgen_app::delivery::platform::FORMAT,
            "platform": p, "batch_id": id, "generated_at": now_s() * 1000, "count": 0, "leads": []});
        let var = format!("LEADGEN_{}", env_name(p));
        match client.upload(&cfg, &id, &body).await {
            Ok(()) => ok.push(p),
            Err(e) => failed.push(format!(
                "{p}: {}",
                explain(&e, &format!("{var}_API_KEY"), &format!("{var}_BASE_URL"))
            )),
        }
    }
    if ok.is_empty() && failed.is_empty() {
        return Err(format!(
            "no platform configured: set LEADGEN_PLATFORM_<NAME>_BASE_URL for any of {}",
            PLATFORMS.join(", ")
        ));
    }
    if failed.is_empty() {
        Ok(format!("accepted an empty batch: {}", ok.join(", ")))
    } else {
        Err(failed.join("\n"))
    }
}

async fn test_novacrm(ctx: TestContext) -> Result<String, String> {
    let env = ctx.env;
    let cfg = ServiceConfig::from_lookup(novacrm::ENV_NAME, novacrm::DEFAULT_BASE_URL, |k| env(k));
    let client = NovaCrmClient::new(cfg).map_err(|e| e.to_string())?;
    client.check().await.map_err(|e| {
        explain(
            &e,
            "LEADGEN_NOVACRM_API_KEY (NovaCRM's capture key, sent as x-api-key)",
            "LEADGEN_NOVACRM_BASE_URL",
        )
    })?;
    Ok("key accepted; an empty capture was refused as incomplete, so no lead was created".into())
}

async fn test_instantly(ctx: TestContext) -> Result<String, String> {
    let env = ctx.env;
    let cfg =
        ServiceConfig::from_lookup(instantly::ENV_NAME, instantly::DEFAULT_BASE_URL, |k| env(k));
    let client = InstantlyClient::new(cfg).map_err(|e| e.to_string())?;
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn deliver(config: &Config, cmd: DeliverCommand) -> Result<()> {
    match cmd {
        DeliverCommand::Test(args) => {
            let Some(test) = CONNECTION_TESTS.iter().find(|t| t.name == args.target) else {
                bail!("unknown target {}", args.target);
            };
            let env = process_env();
            let store = open_store(config)?;
            let channels = ChannelSettings::load(store.as_ref(), DEFAULT_WORKSPACE, &env)?;
            drop(store);
            match runtime()?.block_on((test.run)(TestContext { env, channels })) {
                Ok(what) => {
                    println!("{}: ok — {what}", test.name);
                    Ok(())
                }
                Err(why) => bail!("{}: FAILED — {why}", test.name),
            }
        }
        DeliverCommand::PlatformUpload(args) => {
            let store: Arc<dyn leadgen_store::Store> = Arc::from(open_store(config)?);
            let rt = runtime()?;
            let service =
                DeliveryService::for_workspace(store.clone(), DEFAULT_WORKSPACE, process_env())?;
            let report = rt.block_on(upload_to_platforms(
                &service,
                default_policy(),
                args.dry_run,
            ))?;
            drop(rt);
            drop(service);
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                for b in &report.batches {
                    let status = match &b.status {
                        SendStatus::Failed { error } => format!("FAILED: {error}"),
                        s => serde_json::to_value(s)?["status"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned(),
                    };
                    println!(
                        "{:<11} {:<28} {:>5} leads  {status}",
                        b.platform, b.batch_id, b.leads
                    );
                }
                eprintln!(
                    "{} hot/warm leads; {} already uploaded, {} suppressed; {} batches{}",
                    report.candidates,
                    report.already_uploaded,
                    report.suppressed,
                    report.batches.len(),
                    if report.dry_run {
                        " planned (dry run)"
                    } else {
                        ""
                    }
                );
            }
            let failed = report
                .batches
                .iter()
                .filter(|b| matches!(b.status, SendStatus::Failed { .. }))
                .count();
            drop(store);
            if failed > 0 {
                bail!("{failed} batches failed; they are retried on the next upload");
            }
            Ok(())
        }
        DeliverCommand::Hubspot(args) => {
            let filter = crate::build_filter(&args.filter)?;
            let store: Arc<dyn leadgen_store::Store> = Arc::from(open_store(config)?);
            let mut leads = Vec::new();
            store.export_leads(DEFAULT_WORKSPACE, &filter, &mut |l| {
                leads.push(l);
                Ok(())
            })?;
            let selected = leads.len();
            let push = if args.dry_run {
                let (kept, suppressed) = drop_suppressed(store.as_ref(), DEFAULT_WORKSPACE, leads)?;
                let sent = kept.iter().filter_map(contact_of).count() as u64;
                HubspotPush {
                    sent,
                    suppressed,
                    without_email: kept.len() as u64 - sent,
                    ..HubspotPush::default()
                }
            } else {
                let cfg = ServiceConfig::from_env(hubspot::ENV_NAME, hubspot::DEFAULT_BASE_URL);
                let client = HubspotClient::new(cfg)?;
                let rt = runtime()?;
                let push = rt.block_on(push_to_hubspot(
                    store.clone(),
                    DEFAULT_WORKSPACE,
                    &client,
                    leads,
                ))?;
                drop(rt);
                push
            };
            drop(store);
            if args.json {
                println!("{}", serde_json::to_string(&push)?);
            } else {
                println!(
                    "{selected} leads selected; {} {} ({} created, {} updated); {} suppressed, {} without email left out",
                    push.sent,
                    if args.dry_run {
                        "would be sent"
                    } else {
                        "sent"
                    },
                    push.created,
                    push.updated,
                    push.suppressed,
                    push.without_email
                );
                for e in &push.errors {
                    println!("refused: {e}");
                }
            }
            if !push.errors.is_empty() {
                bail!("HubSpot refused {} contacts", push.errors.len());
            }
            Ok(())
        }
        DeliverCommand::Channels { set } => {
            let store = open_store(config)?;
            if let Some(path) = set {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let parsed: ChannelSettings = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not channel settings", path.display()))?;
                store.set_delivery_channels(
                    DEFAULT_WORKSPACE,
                    &serde_json::to_string(&parsed)?,
                    now_s() * 1000,
                )?;
                eprintln!("stored; test them with `leadgen deliver test slack|webhook|email`");
            }
            let stored = store.delivery_channels(DEFAULT_WORKSPACE)?.is_some();
            let settings =
                ChannelSettings::load(store.as_ref(), DEFAULT_WORKSPACE, &process_env())?;
            let mut shown = serde_json::to_value(&settings)?;
            shown["from"] = serde_json::json!(if stored { "stored" } else { "environment" });
            println!("{shown}");
            Ok(())
        }
        DeliverCommand::Log { limit, json } => {
            let store = open_store(config)?;
            let list = store.list_deliveries(DEFAULT_WORKSPACE, limit)?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                for d in list {
                    println!(
                        "{:<9} {:<24} {:<20} {:<9} attempts {}  {}",
                        d.channel,
                        d.target,
                        d.event,
                        d.status.as_str(),
                        d.attempts,
                        d.last_error.unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
    }
}
