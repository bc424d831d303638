//! `leadgen intent …`: active queries, the daily provider run, CSV imports
//! of any vendor's signals, weekly trends, the hot/warm/cold breakdown and
//! the leads ready for upload.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use leadgen_app::config::Config;
use leadgen_app::intent::{self, IntentColumn};
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_core::intent::ActiveQuery;
use leadgen_integrations::intent::DataShopperClient;

use crate::now_ms;
use crate::open_store;

#[derive(Subcommand)]
pub enum IntentCommand {
    /// The active queries the daily run asks the provider.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Pull signals for every active query from the provider
    /// (LEADGEN_DATASHOPPER_BASE_URL, LEADGEN_DATASHOPPER_API_KEY) and
    /// recompute lead levels.
    Run {
        #[arg(long)]
        json: bool,
    },
    /// Import a CSV of intent signals from any vendor.
    Import {
        file: PathBuf,
        /// Name a field's column: --map topic="Intent Topic". Fields are
        /// domain, email, topic, score, strength, signal_type, detected_at.
        #[arg(long = "map", value_name = "FIELD=COLUMN")]
        maps: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Signal volume per topic and week, with the change on last week.
    Trends {
        #[arg(long, default_value_t = 8)]
        weeks: u32,
        #[arg(long)]
        json: bool,
    },
    /// Hot, warm and cold leads and companies.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Hot and warm leads with a usable email, not pushed anywhere yet.
    Ready(ReadyArgs),
}

#[derive(Args)]
pub struct ReadyArgs {
    #[arg(long, default_value_t = 0)]
    min_score: u8,
    /// Only leads whose email was verified valid.
    #[arg(long)]
    verified_only: bool,
    #[arg(long, default_value_t = 1000)]
    limit: u32,
    /// One JSON object per lead.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum TopicsCommand {
    /// Add (or replace) the query for a topic.
    Add {
        topic: String,
        /// ISO code of the companies' country.
        #[arg(long)]
        country: Option<String>,
        #[arg(long, value_delimiter = ',')]
        states: Vec<String>,
        #[arg(long)]
        min_size: Option<u32>,
        #[arg(long)]
        max_size: Option<u32>,
        #[arg(long, value_delimiter = ',')]
        industries: Vec<String>,
        /// Most companies a run asks for.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        topic: String,
    },
}

fn parse_maps(maps: &[String]) -> Result<Vec<(IntentColumn, String)>> {
    let names: Vec<&str> = IntentColumn::ALL.iter().map(|c| c.name()).collect();
    crate::parse_field_maps(
        maps,
        "topic=\"Intent Topic\"",
        IntentColumn::from_name,
        &names,
    )
}

pub fn intent(config: &Config, cmd: IntentCommand) -> Result<()> {
    let store = open_store(config)?;
    let ws = DEFAULT_WORKSPACE;
    let now = now_ms();
    match cmd {
        IntentCommand::Topics(TopicsCommand::Add {
            topic,
            country,
            states,
            min_size,
            max_size,
            industries,
            limit,
        }) => {
            let q = ActiveQuery {
                topic,
                country: country.map(|c| c.to_ascii_uppercase()),
                states,
                min_size,
                max_size,
                industries,
                limit,
            };
            let q = intent::save_query(&*store, ws, q, now)?;
            println!(
                "active query for {:?} saved; `leadgen intent run` asks for it",
                q.topic
            );
        }
        IntentCommand::Topics(TopicsCommand::List { json }) => {
            for q in intent::queries(&*store, ws)? {
                if json {
                    println!("{}", serde_json::to_string(&q)?);
                } else {
                    println!(
                        "{:<32} limit {:>5}  {}",
                        q.topic,
                        q.limit,
                        q.country.as_deref().unwrap_or("any country")
                    );
                }
            }
        }
        IntentCommand::Topics(TopicsCommand::Remove { topic }) => {
            if !store.delete_intent_query(ws, topic.trim().to_lowercase().as_str())? {
                bail!("no active query for {topic:?} (`leadgen intent topics list` shows them)");
            }
        }
        IntentCommand::Run { json } => {
            let env = crate::workspace_env(config, store.as_ref())?;
            let client = DataShopperClient::from_lookup(|k| env(k))?;
            let store: Arc<dyn leadgen_store::Store> = Arc::from(store);
            let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let s = rt.block_on(intent::run_intent(store, ws, &client, now))?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!(
                    "{} queries, {} pages from {}: {} signals, {} new, {} refused; {} leads changed level",
                    s.queries,
                    s.pages,
                    s.provider,
                    s.received,
                    s.added,
                    s.rejected,
                    s.leads_changed
                );
            }
        }
        IntentCommand::Import { file, maps, json } => {
            let overrides = parse_maps(&maps)?;
            let s = intent::import_intent_csv(&*store, ws, &file, &overrides, now)?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!(
                    "{} rows: {} signals added, {} already known, {} refused; {} leads changed level",
                    s.received, s.added, s.duplicates, s.rejected, s.leads_changed
                );
                if let Some(r) = &s.rejects_file {
                    println!("refused rows and why: {}", r.display());
                }
            }
        }
        IntentCommand::Trends { weeks, json } => {
            let t = intent::trends(&*store, ws, now, weeks)?;
            if json {
                for topic in &t {
                    println!("{}", serde_json::to_string(topic)?);
                }
            } else {
                for topic in &t {
                    let change = topic
                        .change_pct
                        .map_or("new".to_owned(), |c| format!("{c:+.1}%"));
                    println!(
                        "{:<32} {:>6} this week {:>6} last week {:>8} {:<6} {:?}",
                        topic.topic,
                        topic.this_week,
                        topic.previous_week,
                        change,
                        format!("{:?}", topic.direction).to_lowercase(),
                        topic.weekly
                    );
                }
            }
        }
        IntentCommand::Stats { json } => {
            let s = intent::stats(&*store, ws, now)?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                for (what, b) in [("leads", &s.leads), ("companies", &s.companies)] {
                    println!(
                        "{what:<10} hot {} ({:.1}%)  warm {} ({:.1}%)  cold {} ({:.1}%)  of {}",
                        b.hot, b.hot_pct, b.warm, b.warm_pct, b.cold, b.cold_pct, b.total
                    );
                }
                println!(
                    "{} signals in the last {} days",
                    s.signals_in_window, s.window_days
                );
            }
        }
        IntentCommand::Ready(a) => {
            let leads = intent::ready_leads(&*store, ws, a.min_score, a.verified_only, a.limit)?;
            for l in &leads {
                let email = l.email.as_ref().map_or("", |e| e.as_str());
                if a.json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "id": l.id, "email": email, "first_name": l.first_name,
                            "last_name": l.last_name, "company_domain": l.company_domain.as_ref().map(|d| d.as_str()),
                            "intent": l.intent.as_str(), "score": l.score, "tier": l.tier.as_str(),
                            "status": l.status.as_str(),
                        })
                    );
                } else {
                    println!(
                        "{:>7}  {:<5} {:>3}  {}",
                        l.id,
                        l.intent.as_str(),
                        l.score,
                        email
                    );
                }
            }
        }
    }
    Ok(())
}
