//! `leadgen deliver …`: connection tests of the delivery channels and
//! CRM/platform targets, the platform upload, and the delivery ledger.
//!
//! Connection tests are `leadgen_app::connection_test`'s rows, the same
//! code the API and the settings page run; `deliver test --help` lists them.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use leadgen_app::config::Config;
use leadgen_app::connection_test::{self, TestContext};
use leadgen_app::delivery::hubspot::{HubspotPush, contact_of, push_to_hubspot};
use leadgen_app::delivery::platform::upload_to_platforms;
use leadgen_app::delivery::{
    ChannelSettings, DeliveryService, SendStatus, default_policy, drop_suppressed,
};
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_integrations::ServiceConfig;
use leadgen_integrations::hubspot::{self, HubspotClient};

use crate::{open_store, workspace_env};

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
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(connection_test::CONNECTION_TESTS.iter().map(|t| t.name)))]
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn deliver(config: &Config, cmd: DeliverCommand) -> Result<()> {
    match cmd {
        DeliverCommand::Test(args) => {
            let Some(test) = connection_test::find(&args.target) else {
                bail!("unknown target {}", args.target);
            };
            let store = open_store(config)?;
            let env = workspace_env(config, store.as_ref())?;
            let channels = ChannelSettings::load(store.as_ref(), DEFAULT_WORKSPACE, &env)?;
            drop(store);
            // The operator's own machine: local addresses are allowed.
            let ctx = TestContext {
                env,
                channels,
                allow_private_network: true,
            };
            let report = runtime()?.block_on(connection_test::run(test, ctx));
            if report.ok {
                println!(
                    "{}: ok — {} ({} ms)",
                    test.name, report.message, report.latency_ms
                );
                Ok(())
            } else {
                bail!(
                    "{}: FAILED ({}) — {}",
                    test.name,
                    report.class.unwrap_or("error"),
                    report.message
                )
            }
        }
        DeliverCommand::PlatformUpload(args) => {
            let store: Arc<dyn leadgen_store::Store> = Arc::from(open_store(config)?);
            let rt = runtime()?;
            let env = workspace_env(config, store.as_ref())?;
            let service = DeliveryService::for_workspace(store.clone(), DEFAULT_WORKSPACE, env)?;
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
                let env = workspace_env(config, store.as_ref())?;
                let cfg =
                    ServiceConfig::from_lookup(hubspot::ENV_NAME, hubspot::DEFAULT_BASE_URL, |k| {
                        env(k)
                    });
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
                    leadgen_jobs::now_ms(),
                )?;
                eprintln!("stored; test them with `leadgen deliver test slack|webhook|email`");
            }
            let stored = store.delivery_channels(DEFAULT_WORKSPACE)?.is_some();
            let env = workspace_env(config, store.as_ref())?;
            let settings = ChannelSettings::load(store.as_ref(), DEFAULT_WORKSPACE, &env)?;
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
