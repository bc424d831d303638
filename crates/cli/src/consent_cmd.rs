//! `leadgen suppress …` and `leadgen gdpr …`: the suppression list and GDPR
//! access and erasure requests.

use anyhow::{Result, bail};
use clap::{Subcommand, ValueEnum};
use leadgen_app::config::Config;
use leadgen_app::consent::{gdpr_erase, gdpr_export};
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_jobs::clock::{Clock, SystemClock};
use leadgen_store::{Suppression, SuppressionKind, SuppressionReason};

#[derive(Subcommand)]
pub enum SuppressCommand {
    /// Put an address or a whole domain on the suppression list.
    Add {
        /// An email address, or a domain with --domain.
        value: String,
        /// Suppress every address at this domain.
        #[arg(long)]
        domain: bool,
        #[arg(long, value_enum, default_value_t = ReasonArg::Manual)]
        reason: ReasonArg,
    },
    /// The newest entries.
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Whether an address may be contacted.
    Check { email: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ReasonArg {
    Unsubscribed,
    HardBounce,
    Complaint,
    DoNotContactDomain,
    Manual,
}

impl From<ReasonArg> for SuppressionReason {
    fn from(r: ReasonArg) -> Self {
        match r {
            ReasonArg::Unsubscribed => SuppressionReason::Unsubscribed,
            ReasonArg::HardBounce => SuppressionReason::HardBounce,
            ReasonArg::Complaint => SuppressionReason::Complaint,
            ReasonArg::DoNotContactDomain => SuppressionReason::DoNotContactDomain,
            ReasonArg::Manual => SuppressionReason::Manual,
        }
    }
}

#[derive(Subcommand)]
pub enum GdprCommand {
    /// Print everything held on a person as JSON.
    Export { email: String },
    /// Delete a person's data; keep only a hash of the address on the
    /// suppression list.
    Erase { email: String },
}

pub fn suppress(config: &Config, cmd: SuppressCommand) -> Result<()> {
    let store = crate::open_store(config)?;
    let now = SystemClock.now_ms();
    match cmd {
        SuppressCommand::Add {
            value,
            domain,
            reason,
        } => {
            let entry = if domain {
                Suppression::for_domain(&value, reason.into(), "cli", now)
            } else {
                if !value.contains('@') {
                    bail!("'{value}' is not an email address; pass --domain to suppress a domain");
                }
                Suppression::for_email(&value, SuppressionKind::Email, reason.into(), "cli", now)
            };
            let new = store.suppress(DEFAULT_WORKSPACE, &entry)?;
            println!(
                "{} {} ({})",
                if new {
                    "suppressed"
                } else {
                    "already suppressed:"
                },
                entry.value,
                entry.kind.as_str()
            );
        }
        SuppressCommand::List { limit, json } => {
            let list = store.list_suppressions(DEFAULT_WORKSPACE, limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for s in list {
                    println!(
                        "{}\t{}\t{}\t{}",
                        s.kind.as_str(),
                        s.value,
                        s.reason.as_str(),
                        s.source
                    );
                }
            }
        }
        SuppressCommand::Check { email } => {
            match store.suppressed_reason(DEFAULT_WORKSPACE, &email)? {
                Some(r) => println!("suppressed: {}", r.as_str()),
                None => println!("not suppressed"),
            }
        }
    }
    Ok(())
}

pub fn gdpr(config: &Config, cmd: GdprCommand) -> Result<()> {
    let store = crate::open_store(config)?;
    let now = SystemClock.now_ms();
    match cmd {
        GdprCommand::Export { email } => {
            let doc = gdpr_export(&*store, DEFAULT_WORKSPACE, &email, "cli", now)?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        GdprCommand::Erase { email } => {
            let done = gdpr_erase(&*store, DEFAULT_WORKSPACE, &email, "cli", now)?;
            println!(
                "erased {} lead(s); kept hash {} on the suppression list",
                done.leads_erased.len(),
                done.hash
            );
        }
    }
    Ok(())
}
