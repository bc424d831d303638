//! Enrichment as jobs and as a command: `[enrich]` config, the waterfall
//! built from it (crawler, verifier, LLM and providers whose keys are set),
//! a [`Ledger`] over the store (enrichments, the cache, the monthly budget
//! on the spend ledger), and the `enrich_company` / `enrich_lead` handlers.
//! Contacts found become leads through the import path (so they are
//! normalized, deduplicated and merged like any import) and get
//! `validate_email` jobs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use leadgen_core::WorkspaceId;
use leadgen_core::ads::date_of_ms;
use leadgen_core::job::{NewJob, types};
use leadgen_enrich::crawl::{CrawlOptions, Crawler};
use leadgen_enrich::net::FetchOptions;
use leadgen_enrich::provider::{Contact, HunterProvider};
use leadgen_enrich::waterfall::{
    CompanyResult, Ledger, LlmSetup, Reservation, StepRecord, Waterfall, WaterfallConfig,
};
use leadgen_integrations::ServiceConfig;
use leadgen_integrations::llm::{LlmClient, ModelPrice};
use leadgen_integrations::{anthropic, hunter, openai_compat};
use leadgen_jobs::{HandlerError, HandlerSpec, JobContext, Outcome};
use leadgen_store::{NewEnrichment, Store};
use leadgen_verify::Verifier;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{Config, ConfigError};
use crate::discovery::EnvLookup;
use leadgen_jobs::now_ms;

/// `[enrich]` as written in the file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichSection {
    /// `auto` (Anthropic when its key is set, else an OpenAI-compatible
    /// server when its base URL is set), `anthropic`, `openai_compat`, `none`.
    pub llm: String,
    /// Model id sent to the LLM; must have a price in `prices`.
    pub model: Option<String>,
    pub max_tokens: u32,
    /// Directory of prompt files overriding the bundled ones.
    pub prompts_dir: Option<PathBuf>,
    /// Dollars per million tokens, by model id.
    pub prices: BTreeMap<String, ModelPrice>,
    /// Price of one Hunter call in dollars.
    pub hunter_cost_usd: f64,
    pub pages_per_site: usize,
    /// Let jobs crawl loopback and private addresses (tests and local
    /// demos only; the CLI has `--allow-private-network` for one run).
    pub allow_private_network: bool,
    pub waterfall: WaterfallConfig,
}

impl Default for EnrichSection {
    fn default() -> Self {
        EnrichSection {
            llm: "auto".into(),
            model: None,
            max_tokens: 1024,
            prompts_dir: None,
            prices: BTreeMap::new(),
            hunter_cost_usd: 0.01,
            pages_per_site: 6,
            allow_private_network: false,
            waterfall: WaterfallConfig::default(),
        }
    }
}

impl EnrichSection {
    /// Checks the section, with `LEADGEN_ENRICH_LLM` and
    /// `LEADGEN_ENRICH_MODEL` applied over it.
    pub fn load(
        mut self,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<EnrichSection, ConfigError> {
        if let Some(v) = var("LEADGEN_ENRICH_LLM") {
            self.llm = v;
        }
        if let Some(v) = var("LEADGEN_ENRICH_MODEL") {
            self.model = Some(v);
        }
        let bad = |field: &str, message: String| ConfigError::Invalid {
            field: format!("enrich.{field}"),
            message,
        };
        if !["auto", "anthropic", "openai_compat", "none"].contains(&self.llm.as_str()) {
            return Err(bad(
                "llm",
                format!("'{}': use auto, anthropic, openai_compat or none", self.llm),
            ));
        }
        let w = &self.waterfall;
        if !(0.0..=1.0).contains(&w.target_confidence) {
            return Err(bad(
                "waterfall.target_confidence",
                format!("{} is not between 0 and 1", w.target_confidence),
            ));
        }
        for (name, v) in [
            ("waterfall.per_lead_ceiling_usd", w.per_lead_ceiling_usd),
            ("waterfall.per_run_ceiling_usd", w.per_run_ceiling_usd),
            ("hunter_cost_usd", self.hunter_cost_usd),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(name, format!("{v} is not an amount in dollars")));
            }
        }
        if let Some(m) = &self.model
            && !self.prices.contains_key(m)
        {
            return Err(bad(
                "prices",
                format!(
                    "model '{m}' has no price; add [enrich.prices.\"{m}\"] with input_per_mtok_usd and output_per_mtok_usd"
                ),
            ));
        }
        Ok(self)
    }
}

/// The LLM client the section and the environment select, if any.
fn llm_client(section: &EnrichSection, env: &EnvLookup) -> Option<Arc<dyn LlmClient>> {
    let anthropic_cfg =
        || ServiceConfig::from_lookup(anthropic::ENV_NAME, anthropic::DEFAULT_BASE_URL, |k| env(k));
    let openai_cfg = || {
        ServiceConfig::from_lookup(
            openai_compat::ENV_NAME,
            openai_compat::DEFAULT_BASE_URL,
            |k| env(k),
        )
    };
    let anthropic = || {
        anthropic::AnthropicClient::new(anthropic_cfg())
            .ok()
            .map(|c| Arc::new(c) as Arc<dyn LlmClient>)
    };
    let openai = || {
        openai_compat::OpenAiCompatClient::new(openai_cfg())
            .ok()
            .map(|c| Arc::new(c) as Arc<dyn LlmClient>)
    };
    match section.llm.as_str() {
        "anthropic" => anthropic(),
        "openai_compat" => openai(),
        "auto" if anthropic_cfg().api_key.is_some() => anthropic(),
        "auto" if env("LEADGEN_OPENAI_COMPAT_BASE_URL").is_some() => openai(),
        _ => None,
    }
}

/// The waterfall for this process: every step whose service is configured.
pub fn build_waterfall(
    config: &Config,
    env: &EnvLookup,
    allow_private_network: bool,
    ledger: Arc<dyn Ledger>,
) -> Result<Waterfall, String> {
    let section = &config.enrich;
    let crawler = Crawler::new(CrawlOptions {
        fetch: FetchOptions {
            allow_private_network,
            ..FetchOptions::default()
        },
        pages_per_site: section.pages_per_site.max(1),
        region: config.default_country,
        ..CrawlOptions::default()
    })
    .map_err(|e| e.to_string())?;
    let mut wf = Waterfall::new(section.waterfall.clone(), crawler, ledger);
    wf.verifier = Some(Arc::new(
        Verifier::new(config.verify.options.clone()).map_err(|e| e.to_string())?,
    ));
    if let (Some(client), Some(model)) = (llm_client(section, env), section.model.clone()) {
        wf.llm = Some(LlmSetup {
            price: section.prices.get(&model).copied(),
            client,
            model,
            prompts_dir: section.prompts_dir.clone(),
            max_tokens: section.max_tokens,
        });
    }
    let hunter_cfg =
        ServiceConfig::from_lookup(hunter::ENV_NAME, hunter::DEFAULT_BASE_URL, |k| env(k));
    if let Ok(client) = hunter::HunterClient::new(hunter_cfg) {
        wf.providers.push(Arc::new(HunterProvider {
            client,
            cost_micros: (section.hunter_cost_usd * 1e6).round() as u64,
        }));
    }
    Ok(wf)
}

/// Reserves `micros` of the workspace's paid enrichment budget for this
/// month (`limit_micros` at most): the spend ledger keyed by month
/// (`YYYY-MM`) instead of day. Local and remote workers both come here.
pub fn reserve_month(
    store: &dyn Store,
    ws: WorkspaceId,
    micros: u64,
    limit_micros: Option<u64>,
) -> bool {
    let month: String = date_of_ms(now_ms()).chars().take(7).collect();
    match store.reserve_spend(ws, "enrich", &month, micros, limit_micros) {
        Ok(granted) => granted.is_some(),
        Err(e) => {
            tracing::warn!(error = %e, "reserving enrichment budget");
            false
        }
    }
}

/// Runs a short store call from async code: on a multi-threaded runtime
/// inside `block_in_place` (PostgreSQL's blocking client refuses to run
/// on an async worker thread otherwise); elsewhere directly.
fn store_call<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// The store as the waterfall's ledger. Its calls are short indexed
/// statements; they run on the calling task (see [`store_call`]).
pub struct StoreLedger {
    pub store: Arc<dyn Store>,
    pub ws: WorkspaceId,
    pub lead_id: Option<i64>,
    pub company_id: Option<i64>,
}

impl Ledger for StoreLedger {
    fn cached(&self, provider: &str, kind: &str, key: &str) -> Option<Value> {
        match store_call(|| self.store.cached_enrichment(self.ws, provider, kind, key)) {
            Ok(v) => v.and_then(|t| serde_json::from_str(&t).ok()),
            Err(e) => {
                tracing::warn!(error = %e, "reading the enrichment cache");
                None
            }
        }
    }

    fn store_cache(&self, provider: &str, kind: &str, key: &str, value: &Value) {
        let r = store_call(|| {
            self.store
                .cache_enrichment(self.ws, provider, kind, key, &value.to_string(), now_ms())
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "writing the enrichment cache");
        }
    }

    fn reserve_month(&self, micros: u64, limit_micros: Option<u64>) -> Reservation<'_> {
        let granted = store_call(|| reserve_month(&*self.store, self.ws, micros, limit_micros));
        Box::pin(std::future::ready(granted))
    }

    fn record(&self, subject: &str, s: &StepRecord) {
        let e = NewEnrichment {
            subject: subject.to_owned(),
            lead_id: self.lead_id,
            company_id: self.company_id,
            provider: s.provider.clone(),
            kind: s.kind.clone(),
            outcome: s.outcome.clone(),
            result: s.result.to_string(),
            confidence: s.confidence,
            reasoning: s.reasoning.clone(),
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            cost_micros: s.cost_micros,
        };
        if let Err(err) = store_call(|| self.store.record_enrichment(self.ws, &e, now_ms())) {
            tracing::warn!(error = %err, "recording an enrichment");
        }
    }
}

/// A company's contacts with an address, as the lead rows an import maps
/// (`full_name`, `email`, `title`, `company_name`, `website`,
/// `linkedin_url`). Local and remote workers store exactly these.
pub fn contact_rows(company: &CompanyResult) -> Vec<BTreeMap<String, String>> {
    let domain = company.company.domain.clone().unwrap_or_default();
    company
        .contacts
        .iter()
        .filter_map(|c| {
            let email = c.email.clone()?;
            let cells = [
                ("full_name", c.name.clone()),
                ("email", email),
                ("title", c.title.clone().unwrap_or_default()),
                (
                    "company_name",
                    company.company.name.clone().unwrap_or_default(),
                ),
                ("website", domain.clone()),
                ("linkedin_url", c.linkedin.clone().unwrap_or_default()),
            ];
            Some(cells.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        })
        .collect()
}

/// The tags leads found by enrichment get.
pub fn contact_tags() -> Vec<String> {
    vec!["enriched".into()]
}

/// Stores contacts with an address as leads (one import of source
/// `enrich`, through [`crate::lead_batch`]) and returns their lead ids.
pub fn store_contacts(
    store: &dyn Store,
    config: &Config,
    ws: WorkspaceId,
    company: &CompanyResult,
) -> Result<Vec<i64>, String> {
    let rows = contact_rows(company);
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let domain = company.company.domain.clone().unwrap_or_default();
    let batch = crate::lead_batch::LeadBatch {
        workspace: ws,
        source: ENRICH_SOURCE,
        tags: contact_tags(),
        name: format!("{}-{}", domain.replace('/', "_"), now_ms()),
    };
    let reply =
        crate::lead_batch::ingest(store, config, &batch, &rows).map_err(|e| e.to_string())?;
    Ok(lead_ids(&reply.outcomes))
}

/// The leads a batch stored, in order, each once.
pub fn lead_ids(outcomes: &[leadgen_jobs::remote::wire::LeadOutcome]) -> Vec<i64> {
    let mut ids: Vec<i64> = Vec::new();
    for id in outcomes.iter().filter_map(|o| o.lead) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

fn validate_jobs(ws: WorkspaceId, ids: &[i64]) -> Vec<NewJob> {
    ids.iter()
        .map(|id| {
            let mut j = NewJob::new(
                ws,
                types::VALIDATE_EMAIL,
                &json!({ "lead_id": id }).to_string(),
            );
            j.unique_key = Some(format!("validate_email:{id}"));
            j
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompanyPayload {
    company_id: Option<i64>,
    domain: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeadPayload {
    lead_id: i64,
}

fn blocking_error(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::retry(format!("store: {e}"))
}

/// Stores the contacts as leads; the job's outcome: `summary` with the
/// lead ids and the cost, `validate_email` for each lead.
async fn finish(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    ws: WorkspaceId,
    found: CompanyResult,
    summary: Value,
    cost_usd: f64,
) -> Result<Outcome, HandlerError> {
    let ids = tokio::task::spawn_blocking(move || store_contacts(&*store, &config, ws, &found))
        .await
        .map_err(blocking_error)?
        .map_err(HandlerError::retry)?;
    Ok(company_outcome(ws, &ids, summary, cost_usd))
}

/// An enrichment job's outcome once its contacts are stored as `ids`:
/// `summary` with the lead ids and the cost, `validate_email` for each.
pub fn company_outcome(ws: WorkspaceId, ids: &[i64], mut summary: Value, cost_usd: f64) -> Outcome {
    summary["leads"] = json!(ids);
    summary["cost_usd"] = json!(cost_usd);
    let mut out = Outcome::new(summary);
    out.delta.cost_micros = (cost_usd * 1e6).round() as u64;
    out.follow_ups = validate_jobs(ws, ids);
    out
}

/// The company an `enrich_company` payload names: its domain and id (a
/// `company_id` without a domain is looked up in `ws`).
pub fn resolve_company(
    store: &dyn Store,
    ws: WorkspaceId,
    payload: &str,
) -> Result<(String, Option<i64>), HandlerError> {
    let p: CompanyPayload = serde_json::from_str(payload)
        .map_err(|e| HandlerError::Permanent(format!("enrich_company payload: {e}")))?;
    match (p.company_id, p.domain) {
        (_, Some(d)) => Ok((d, p.company_id)),
        (Some(id), None) => {
            let c = store
                .get_company(ws, id)
                .map_err(blocking_error)?
                .ok_or_else(|| HandlerError::Permanent(format!("no company {id}")))?;
            let d = c.domain.map(|d| d.as_str().to_owned()).ok_or_else(|| {
                HandlerError::Permanent(format!("company {id} has no website domain"))
            })?;
            Ok((d, Some(id)))
        }
        (None, None) => Err(HandlerError::Permanent(
            "payload needs company_id or domain".into(),
        )),
    }
}

/// The waterfall for the company at `domain` with `ledger`: what it found
/// and the job's summary so far. Local and remote workers both run this.
pub async fn run_company(
    config: &Config,
    env: &EnvLookup,
    ledger: Arc<dyn Ledger>,
    domain: &str,
) -> Result<(CompanyResult, Value), HandlerError> {
    let wf = build_waterfall(config, env, config.enrich.allow_private_network, ledger)
        .map_err(HandlerError::Permanent)?;
    let r = wf
        .enrich_company(domain, &[], &mut |_| {})
        .await
        .map_err(|e| HandlerError::Permanent(e.to_string()))?;
    let summary = json!({"domain": domain, "contacts": r.contacts.len()});
    Ok((r, summary))
}

/// `enrich_company`: the waterfall for one company; its contacts become
/// leads with `validate_email` follow-ups.
pub fn company_spec(config: Arc<Config>, env: EnvLookup) -> HandlerSpec {
    let mut spec = HandlerSpec::new(types::ENRICH_COMPANY, move |ctx: JobContext| {
        let (config, env) = (config.clone(), env.clone());
        async move {
            let (store, ws) = (ctx.store()?.clone(), ctx.job.workspace);
            let (s, payload) = (store.clone(), ctx.job.payload.clone());
            let (domain, company_id) =
                tokio::task::spawn_blocking(move || resolve_company(&*s, ws, &payload))
                    .await
                    .map_err(blocking_error)??;
            let ledger = Arc::new(StoreLedger {
                store: store.clone(),
                ws,
                lead_id: None,
                company_id,
            });
            let (r, summary) = run_company(&config, &env, ledger, &domain).await?;
            let cost = r.cost_usd;
            finish(store, config, ws, r, summary, cost).await
        }
    });
    spec.max_attempts = 3;
    spec.timeout = std::time::Duration::from_secs(300);
    spec
}

/// What `enrich_lead` needs to know of its lead (the server hands it to a
/// remote worker in the payload).
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadFacts {
    pub lead_id: i64,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_domain: Option<String>,
    pub company_name: Option<String>,
    pub title: Option<String>,
}

/// The lead an `enrich_lead` payload names, in `ws`.
pub fn lead_facts(
    store: &dyn Store,
    ws: WorkspaceId,
    payload: &str,
) -> Result<LeadFacts, HandlerError> {
    let p: LeadPayload = serde_json::from_str(payload)
        .map_err(|e| HandlerError::Permanent(format!("enrich_lead payload: {e}")))?;
    let lead = store
        .get_lead(ws, p.lead_id)
        .map_err(blocking_error)?
        .ok_or_else(|| HandlerError::Permanent(format!("no lead {}", p.lead_id)))?;
    Ok(LeadFacts {
        lead_id: lead.id,
        email: lead.email.map(|e| e.as_str().to_owned()),
        first_name: lead.first_name,
        last_name: lead.last_name,
        company_domain: lead.company_domain.map(|d| d.as_str().to_owned()),
        company_name: lead.company_name,
        title: lead.title,
    })
}

/// Where an enrichment run ended: done (nothing to store), or contacts
/// to store as leads before the job's outcome ([`company_outcome`]).
pub enum Enriched {
    Done(Outcome),
    Found {
        found: Box<CompanyResult>,
        summary: Value,
        cost_usd: f64,
    },
}

/// The waterfall for one lead's address with `ledger`. Local and remote
/// workers both run this.
pub async fn run_lead(
    config: &Config,
    env: &EnvLookup,
    ledger: Arc<dyn Ledger>,
    ws: WorkspaceId,
    lead: &LeadFacts,
) -> Result<Enriched, HandlerError> {
    if lead.email.is_some() {
        return Ok(Enriched::Done(
            Outcome::new(json!({"lead": lead.lead_id, "skipped": "has an email"}))
                .then(validate_jobs(ws, &[lead.lead_id]).remove(0)),
        ));
    }
    let (Some(domain), Some(first), Some(last)) = (
        lead.company_domain.clone(),
        lead.first_name.clone(),
        lead.last_name.clone(),
    ) else {
        return Err(HandlerError::Permanent(format!(
            "lead {} needs a first name, a last name and a company domain",
            lead.lead_id
        )));
    };
    let wf = build_waterfall(config, env, config.enrich.allow_private_network, ledger)
        .map_err(HandlerError::Permanent)?;
    let full = format!("{first} {last}");
    let r = wf
        .enrich_person(
            &format!("lead:{}", lead.lead_id),
            &full,
            &domain,
            &[],
            &[],
            &mut |_| {},
        )
        .await;
    let Some(email) = r.email.clone() else {
        return Ok(Enriched::Done(Outcome::new(
            json!({"lead": lead.lead_id, "email": null, "cost_usd": r.cost_usd}),
        )));
    };
    let found = CompanyResult {
        company: leadgen_enrich::waterfall::CompanyFacts {
            domain: Some(domain.clone()),
            name: lead.company_name.clone(),
            ..Default::default()
        },
        contacts: vec![Contact {
            name: full,
            title: lead.title.clone(),
            email: Some(email.clone()),
            linkedin: None,
            confidence: r.confidence.unwrap_or(0.0),
            source: r.source.clone().unwrap_or_default(),
            email_source: r.source.clone(),
            reasoning: None,
        }],
        ..CompanyResult::default()
    };
    let summary = json!({"lead": lead.lead_id, "email": email, "confidence": r.confidence});
    Ok(Enriched::Found {
        found: Box::new(found),
        summary,
        cost_usd: r.cost_usd,
    })
}

/// `enrich_lead`: finds the address of a lead that has a name and a
/// company domain but no email; merged back through the import path.
pub fn lead_spec(config: Arc<Config>, env: EnvLookup) -> HandlerSpec {
    let mut spec = HandlerSpec::new(types::ENRICH_LEAD, move |ctx: JobContext| {
        let (config, env) = (config.clone(), env.clone());
        async move {
            let (store, ws) = (ctx.store()?.clone(), ctx.job.workspace);
            let (s, payload) = (store.clone(), ctx.job.payload.clone());
            let lead = tokio::task::spawn_blocking(move || lead_facts(&*s, ws, &payload))
                .await
                .map_err(blocking_error)??;
            let ledger = Arc::new(StoreLedger {
                store: store.clone(),
                ws,
                lead_id: Some(lead.lead_id),
                company_id: None,
            });
            match run_lead(&config, &env, ledger, ws, &lead).await? {
                Enriched::Done(out) => Ok(out),
                Enriched::Found {
                    found,
                    summary,
                    cost_usd,
                } => finish(store, config, ws, *found, summary, cost_usd).await,
            }
        }
    });
    spec.max_attempts = 3;
    spec.timeout = std::time::Duration::from_secs(300);
    spec
}

/// The source leads found by enrichment carry.
pub const ENRICH_SOURCE: &str = "enrich";

/// A workspace's enrichment spend, for `stats` everywhere.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EnrichmentStats {
    /// Companies and leads enriched.
    pub subjects: u64,
    /// Steps recorded (crawl, pattern, provider, LLM).
    pub steps: u64,
    pub cost_usd: f64,
    /// Leads whose record came from enrichment.
    pub enriched_leads: u64,
    /// `cost_usd / enriched_leads`; `None` before the first.
    pub cost_per_enriched_lead_usd: Option<f64>,
}

/// [`EnrichmentStats`] from the store's totals and its stats' sources.
pub fn enrichment_stats(
    store: &dyn Store,
    ws: WorkspaceId,
    stats: &leadgen_store::StoreStats,
) -> leadgen_store::Result<EnrichmentStats> {
    let t = store.enrichment_totals(ws)?;
    let enriched_leads = stats
        .by_source
        .iter()
        .find(|(s, _)| s == ENRICH_SOURCE)
        .map_or(0, |(_, n)| *n);
    let cost_usd = t.cost_micros as f64 / 1e6;
    Ok(EnrichmentStats {
        subjects: t.subjects,
        steps: t.steps,
        cost_usd,
        enriched_leads,
        cost_per_enriched_lead_usd: (enriched_leads > 0).then(|| cost_usd / enriched_leads as f64),
    })
}

/// A workspace's stats with its enrichment spend, as `leadgen stats --json`
/// and `GET /api/v1/stats` print them.
pub fn stats_json(store: &dyn Store, ws: WorkspaceId) -> leadgen_store::Result<serde_json::Value> {
    let s = store.stats(ws)?;
    let e = enrichment_stats(store, ws, &s)?;
    let mut v = serde_json::to_value(&s).unwrap_or_default();
    v["enrichment"] = serde_json::to_value(e).unwrap_or_default();
    Ok(v)
}

static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();

/// Sets the config this process's enrichment jobs use (the CLI does it
/// after loading the config). Later calls are ignored.
pub fn configure(config: Config) {
    let _ = CONFIG.set(Arc::new(config));
}

/// The process's config (see [`configure`]), else the environment's;
/// `None` when none can be loaded.
pub fn process_config() -> Option<Arc<Config>> {
    if let Some(c) = CONFIG.get() {
        return Some(c.clone());
    }
    let env: std::collections::HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("LEADGEN_"))
        .collect();
    match Config::load(None, &env) {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            tracing::warn!(error = %e, "enrichment jobs are not available");
            None
        }
    }
}

/// Both handlers with the process's config; each job reads service keys
/// from its workspace's stored settings over the environment. `None` when
/// no config can be loaded.
pub fn specs() -> Option<[HandlerSpec; 2]> {
    use crate::settings::with_workspace_settings;
    let config = process_config()?;
    let for_leads = config.clone();
    Some([
        with_workspace_settings(move |env| company_spec(config.clone(), env)),
        with_workspace_settings(move |env| lead_spec(for_leads.clone(), env)),
    ])
}
