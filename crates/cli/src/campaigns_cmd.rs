//! `leadgen campaigns …`: segments, campaigns and their push to Instantly.

use anyhow::Result;
use clap::Subcommand;
use leadgen_app::campaigns;
use leadgen_app::config::Config;
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_jobs::clock::{Clock, SystemClock};
use serde_json::json;

#[derive(Subcommand)]
pub enum CampaignsCommand {
    /// Create a campaign from a segment (see ARCHITECTURE.md, "Segments").
    Create {
        name: String,
        /// The segment: industry = "dentist" and state in ("NY","NJ") and score >= 70
        #[arg(long = "where")]
        segment: String,
        /// Print the segment's size and best leads.
        #[arg(long)]
        preview: bool,
        /// Print {"id", "preview_count"}.
        #[arg(long)]
        json: bool,
    },
    /// Count a segment and show its best leads, without creating anything.
    Preview {
        #[arg(long = "where")]
        segment: String,
        #[arg(long, default_value_t = 10)]
        sample: u32,
        #[arg(long)]
        json: bool,
    },
    /// Queue the upload to Instantly (run by `leadgen worker`).
    Push {
        id: i64,
        /// Leads per request (at most 1,000).
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
    },
    /// Stop pushing a campaign between batches (`push` resumes it).
    Pause { id: i64 },
    /// Leads, pushed, events and analytics of a campaign.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

pub fn campaigns(config: &Config, cmd: CampaignsCommand) -> Result<()> {
    let store = crate::open_store(config)?;
    let ws = DEFAULT_WORKSPACE;
    let now = SystemClock.now_ms();
    match cmd {
        CampaignsCommand::Create {
            name,
            segment,
            preview,
            json,
        } => {
            let (id, members) = campaigns::create(&*store, ws, &name, &segment, now)?;
            if json {
                println!("{}", json!({ "id": id, "preview_count": members }));
                return Ok(());
            }
            println!("campaign {id} \"{name}\": {members} leads");
            if preview {
                let p = campaigns::preview(&*store, ws, &segment, 10)?;
                print_sample(&p);
            }
        }
        CampaignsCommand::Preview {
            segment,
            sample,
            json,
        } => {
            let started = std::time::Instant::now();
            let p = campaigns::preview(&*store, ws, &segment, sample)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                println!(
                    "{} leads (count {} ms; with the {} best {} ms)",
                    p.count,
                    p.count_ms,
                    p.sample.len(),
                    started.elapsed().as_millis()
                );
                print_sample(&p);
            }
        }
        CampaignsCommand::Push { id, batch_size } => {
            let job = campaigns::enqueue_push(&*store, ws, id, batch_size, now)?;
            println!(
                "queued push_to_instantly job {job} for campaign {id}; run `leadgen worker --until-idle`"
            );
        }
        CampaignsCommand::Pause { id } => {
            let c = campaigns::pause(&*store, ws, id, now)?;
            println!("campaign {id} \"{}\" is {}", c.name, c.status);
        }
        CampaignsCommand::Show { id, json } => {
            let v = campaigns::show(&*store, ws, id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let c = &v["campaign"];
                let n = &v["counts"];
                println!(
                    "campaign {} \"{}\" [{}]",
                    c["id"],
                    c["name"].as_str().unwrap_or(""),
                    c["status"].as_str().unwrap_or("")
                );
                println!("segment: {}", c["segment"].as_str().unwrap_or(""));
                println!(
                    "instantly: {}",
                    c["instantly_campaign_id"].as_str().unwrap_or("-")
                );
                println!(
                    "leads {}  pushed {}  suppressed {}  pushed to CRM {}  batches {}  positive replies {}",
                    n["leads"],
                    n["pushed"],
                    n["suppressed"],
                    n["pushed_to_crm"],
                    n["batches"],
                    n["positive_replies"]
                );
                let e = &v["events"];
                let get = |k: &str| e.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
                println!(
                    "sent {}  opened {}  clicked {}  replied {}  bounced {}  unsubscribed {}  interested {}",
                    get("email_sent"),
                    get("email_opened"),
                    get("link_clicked"),
                    get("reply_received"),
                    get("email_bounced"),
                    get("lead_unsubscribed"),
                    get("lead_interested")
                );
                println!("instantly analytics: {}", v["instantly_analytics"]);
            }
        }
        CampaignsCommand::List { json } => {
            let list = store.list_campaigns(ws)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for c in list {
                    println!("{}\t{}\t{}\t{}", c.id, c.status, c.name, c.segment);
                }
            }
        }
    }
    Ok(())
}

fn print_sample(p: &campaigns::Preview) {
    for l in &p.sample {
        println!(
            "  {:>4}  {:<32} {:<24} {}",
            l.score,
            l.email.as_ref().map_or("", |e| e.as_str()),
            l.company_name.as_deref().unwrap_or(""),
            l.industry.as_deref().unwrap_or("")
        );
    }
}
