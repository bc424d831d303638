//! `leadgen enrich`: one company now (`--company`), a segment as jobs
//! (`--status raw --limit N`), or what was found for a lead (`--explain`).

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use leadgen_app::config::Config;
use leadgen_app::enrich_job::{StoreLedger, build_waterfall, store_contacts};
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_core::job::{NewJob, types};
use leadgen_core::lead::LeadStatus;
use leadgen_store::{LeadFilter, NewEnrichment, Store};
use serde_json::{Value, json};

use crate::{now_ms, open_store};

#[derive(Args)]
pub struct EnrichArgs {
    /// A company's domain or website URL, enriched now.
    #[arg(long)]
    company: Option<String>,
    /// Enqueue `enrich_lead` jobs for leads with this status.
    #[arg(long)]
    status: Option<String>,
    /// Leads enqueued at most (with --status).
    #[arg(long, default_value_t = 1000)]
    limit: u32,
    /// Show each step recorded for a lead: result, cost, confidence.
    #[arg(long, value_name = "LEAD_ID")]
    explain: Option<i64>,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Allow loopback and private addresses (local tests and demos only).
    #[arg(long)]
    allow_private_network: bool,
}

pub fn enrich(config: &Config, args: EnrichArgs) -> Result<()> {
    match (&args.company, &args.status, args.explain) {
        (Some(c), None, None) => company(config, c, &args),
        (None, Some(s), None) => enqueue(config, s, args.limit),
        (None, None, Some(id)) => explain(config, id, args.json),
        _ => bail!("give exactly one of --company, --status or --explain"),
    }
}

fn company(config: &Config, input: &str, args: &EnrichArgs) -> Result<()> {
    let store: Arc<dyn Store> = Arc::from(open_store(config)?);
    store.migrate()?;
    let subject = input.trim().to_owned();
    let ledger = Arc::new(StoreLedger {
        store: store.clone(),
        ws: DEFAULT_WORKSPACE,
        lead_id: None,
        company_id: None,
    });
    let env = crate::workspace_env(config, store.as_ref())?;
    let wf = build_waterfall(config, &env, args.allow_private_network, ledger)
        .map_err(anyhow::Error::msg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let quiet = args.json;
    let result = rt
        .block_on(wf.enrich_company(&subject, &[], &mut |s| {
            if !quiet {
                eprintln!(
                    "  {:<9} {:<14} {:<22} {:<15} conf {:<5} ${:.4}{}",
                    s.field,
                    s.provider,
                    truncate(&s.kind, 22),
                    s.outcome,
                    s.confidence
                        .map(|c| format!("{c:.2}"))
                        .unwrap_or("-".into()),
                    s.cost_micros as f64 / 1e6,
                    s.reasoning
                        .as_deref()
                        .map(|r| format!("  {}", truncate(r, 60)))
                        .unwrap_or_default()
                );
            }
        }))
        .with_context(|| format!("enriching {subject}"))?;
    // The store is synchronous: drop the runtime's tasks first.
    drop(rt);
    let ids = store_contacts(&*store, config, DEFAULT_WORKSPACE, &result)
        .map_err(anyhow::Error::msg)
        .context("storing the contacts as leads")?;
    // Each new lead points at the company's steps, for --explain.
    for (id, c) in ids
        .iter()
        .zip(result.contacts.iter().filter(|c| c.email.is_some()))
    {
        let e = NewEnrichment {
            subject: format!("lead:{id}"),
            lead_id: Some(*id),
            company_id: None,
            provider: c.source.clone(),
            kind: "contact".into(),
            outcome: "found".into(),
            result: json!({"contact": c, "company_subject": subject, "company_leads": ids.len()})
                .to_string(),
            confidence: Some(c.confidence),
            reasoning: c.reasoning.clone(),
            input_tokens: 0,
            output_tokens: 0,
            cost_micros: 0,
        };
        store.record_enrichment(DEFAULT_WORKSPACE, &e, now_ms())?;
    }
    let jobs: Vec<NewJob> = ids
        .iter()
        .map(|id| {
            let mut j = NewJob::new(
                DEFAULT_WORKSPACE,
                types::VALIDATE_EMAIL,
                &json!({ "lead_id": id }).to_string(),
            );
            j.unique_key = Some(format!("validate_email:{id}"));
            j
        })
        .collect();
    store.enqueue(&jobs, now_ms())?;
    if args.json {
        let contacts: Vec<Value> = result
            .contacts
            .iter()
            .map(|c| {
                json!({"name": c.name, "title": c.title, "email": c.email,
                       "confidence": c.confidence, "source": c.email_source.as_ref().unwrap_or(&c.source)})
            })
            .collect();
        let f = &result.company;
        println!(
            "{}",
            json!({
                "company": {"name": f.name, "domain": f.domain, "phones": f.phones, "emails": f.emails,
                            "socials": f.socials, "tech_stack": f.tech_stack, "signals": f.signals},
                "contacts": contacts,
                "leads": ids,
                "cost_usd": result.cost_usd,
            })
        );
    } else {
        let f = &result.company;
        println!(
            "{} ({})",
            f.name.as_deref().unwrap_or("?"),
            f.domain.as_deref().unwrap_or(&subject)
        );
        println!("  phones: {}", f.phones.join(", "));
        println!("  emails: {}", f.emails.join(", "));
        println!("  tech:   {}", f.tech_stack.join(", "));
        for c in &result.contacts {
            println!(
                "  {} — {} <{}> {:.2} ({})",
                c.name,
                c.title.as_deref().unwrap_or("?"),
                c.email.as_deref().unwrap_or("no email"),
                c.confidence,
                c.source
            );
        }
        println!("{} leads stored, cost ${:.4}", ids.len(), result.cost_usd);
    }
    Ok(())
}

fn enqueue(config: &Config, status: &str, limit: u32) -> Result<()> {
    use leadgen_app::lead_jobs::{LeadSelection, MAX_SELECTION, enqueue_enrichments};
    let status = LeadStatus::parse(status.trim())
        .with_context(|| format!("--status '{status}' is not a lead status"))?;
    if !(1..=MAX_SELECTION).contains(&limit) {
        bail!("--limit must be 1 to {MAX_SELECTION}");
    }
    let store = open_store(config)?;
    let selection = LeadSelection::Filter {
        filter: LeadFilter {
            statuses: vec![status],
            ..LeadFilter::default()
        },
        max: limit,
    };
    let out = enqueue_enrichments(&*store, DEFAULT_WORKSPACE, &selection, now_ms())?;
    eprintln!(
        "enqueued {} enrich_lead jobs ({} already queued, {} skipped: they have an email or lack a name or company domain){}; run `leadgen worker` to process them",
        out.enqueued,
        out.already_queued,
        out.skipped,
        out.run_id
            .map(|r| format!(" in run {r}"))
            .unwrap_or_default()
    );
    Ok(())
}

fn explain(config: &Config, lead_id: i64, json_out: bool) -> Result<()> {
    let store = open_store(config)?;
    let mine = store.enrichments_of(DEFAULT_WORKSPACE, &format!("lead:{lead_id}"))?;
    if mine.is_empty() {
        bail!("no enrichment recorded for lead {lead_id}");
    }
    let mut subjects: Vec<String> = Vec::new();
    // A company's spend is shared by the leads it produced.
    let mut siblings = 1u64;
    for e in &mine {
        if let Ok(v) = serde_json::from_str::<Value>(&e.step.result)
            && let Some(s) = v["company_subject"].as_str()
            && !subjects.iter().any(|x| x == s)
        {
            subjects.push(s.to_owned());
            siblings = v["company_leads"].as_u64().unwrap_or(1).max(1);
        }
    }
    let mut all = mine;
    for s in &subjects {
        all.extend(store.enrichments_of(DEFAULT_WORKSPACE, s)?);
    }
    let total: u64 = all.iter().map(|e| e.step.cost_micros).sum();
    let per_lead = total as f64 / 1e6 / siblings as f64;
    if json_out {
        let steps: Vec<Value> = all
            .iter()
            .map(|e| {
                json!({"id": e.id, "subject": e.step.subject, "provider": e.step.provider, "kind": e.step.kind,
                    "outcome": e.step.outcome, "confidence": e.step.confidence, "reasoning": e.step.reasoning,
                    "input_tokens": e.step.input_tokens, "output_tokens": e.step.output_tokens,
                    "cost_usd": e.step.cost_micros as f64 / 1e6,
                    "result": serde_json::from_str::<Value>(&e.step.result).unwrap_or(Value::Null)})
            })
            .collect();
        println!(
            "{}",
            json!({"lead": lead_id, "steps": steps, "cost_usd": total as f64 / 1e6, "cost_per_lead_usd": per_lead})
        );
    } else {
        for e in &all {
            println!(
                "{:<20} {:<12} {:<24} {:<15} conf {:<5} tokens {}/{} ${:.4}{}",
                truncate(&e.step.subject, 20),
                e.step.provider,
                truncate(&e.step.kind, 24),
                e.step.outcome,
                e.step
                    .confidence
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or("-".into()),
                e.step.input_tokens,
                e.step.output_tokens,
                e.step.cost_micros as f64 / 1e6,
                e.step
                    .reasoning
                    .as_deref()
                    .map(|r| format!("  {}", truncate(r, 60)))
                    .unwrap_or_default()
            );
        }
        println!(
            "total ${:.4} for the company, ${per_lead:.4} per enriched lead",
            total as f64 / 1e6
        );
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
