//! The waterfall: for each wanted field (company facts, contacts, email)
//! the configured steps run in order until the result reaches the
//! confidence asked for. Free steps (crawl, pattern + verifier) come first
//! in the default config; paid steps (providers, LLM) run only within the
//! per-lead and per-run ceilings and the monthly budget, which is reserved
//! before a call is made. Results are cached by input, so a re-run does not
//! pay twice, and every step is recorded with its cost and confidence.
//!
//! The store is not a dependency of this crate: the caller hands in a
//! [`Ledger`] (the app's is backed by the store's tables and spend ledger;
//! [`MemoryLedger`] serves one-off runs and tests).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use leadgen_core::names::{PersonName, split_full_name};
use leadgen_integrations::llm::{LlmClient, ModelPrice};
use leadgen_verify::{Status, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::crawl::{CrawlError, Crawler, SiteReport};
use crate::finder::find_email;
use crate::llm::{LlmStep, LlmStepError, PromptKind};
use crate::pattern::{Inference, KnownAddress, Pattern, infer};
use crate::provider::{Contact, ContactProvider};

/// Which steps run for which field, and the money rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WaterfallConfig {
    /// Steps for company facts: `crawl`, `llm`.
    pub company: Vec<String>,
    /// Steps for people: `crawl`, `llm`, or a provider's name (`hunter`).
    pub contacts: Vec<String>,
    /// Steps for a person's address: `crawl`, `pattern`, or a provider.
    pub email: Vec<String>,
    /// A field is done when its result reaches this confidence (0–1).
    pub target_confidence: f64,
    /// Contacts wanted per company.
    pub wanted_contacts: usize,
    /// Candidates the pattern step probes per person.
    pub pattern_probes: usize,
    /// Paid spend allowed for one company or lead, in dollars.
    pub per_lead_ceiling_usd: f64,
    /// Paid spend allowed for one run (one command, one worker), in dollars.
    pub per_run_ceiling_usd: f64,
    /// Paid spend allowed per calendar month (UTC) across all runs.
    pub monthly_budget_usd: Option<f64>,
}

impl Default for WaterfallConfig {
    fn default() -> Self {
        WaterfallConfig {
            company: vec!["crawl".into(), "llm".into()],
            contacts: vec!["crawl".into(), "hunter".into(), "llm".into()],
            email: vec!["crawl".into(), "pattern".into(), "hunter".into()],
            target_confidence: 0.8,
            wanted_contacts: 3,
            pattern_probes: 4,
            per_lead_ceiling_usd: 0.10,
            per_run_ceiling_usd: 25.0,
            monthly_budget_usd: Some(100.0),
        }
    }
}

fn usd_to_micros(usd: f64) -> u64 {
    (usd.max(0.0) * 1_000_000.0).round() as u64
}

/// One step's record: what it found, what it cost, how sure it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// `company`, `contacts` or `email`.
    pub field: String,
    /// The step (`crawl`, `pattern`, `hunter`, `llm`).
    pub provider: String,
    /// What was asked (`crawl`, `find_contacts`, `email:Jane Doe`, …).
    pub kind: String,
    /// `found`, `nothing`, `cached`, `skipped_budget`, `skipped_ceiling`,
    /// `unavailable`, `error`.
    pub outcome: String,
    pub result: Value,
    pub confidence: Option<f64>,
    pub reasoning: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: u64,
}

/// A budget reservation in flight: `true` when granted.
pub type Reservation<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>;

/// Where results are cached, spend is reserved and steps are recorded.
pub trait Ledger: Send + Sync {
    /// A cached result for (provider, kind, input key).
    fn cached(&self, provider: &str, kind: &str, key: &str) -> Option<Value>;
    fn store_cache(&self, provider: &str, kind: &str, key: &str, value: &Value);
    /// Reserves `micros` of this month's paid budget; `false` when that
    /// would pass `limit_micros`. Asynchronous because the budget may live
    /// on another machine (a remote worker asks its server).
    fn reserve_month(&self, micros: u64, limit_micros: Option<u64>) -> Reservation<'_>;
    /// Records one step for `subject` (a company domain or lead id).
    fn record(&self, subject: &str, step: &StepRecord);
}

impl MemoryLedger {
    /// Marks `micros` of the month as already spent (tests, dry runs).
    pub fn reserve_month_for_test(&self, micros: u64) {
        self.month_micros.fetch_add(micros, Ordering::SeqCst);
    }
}

/// A ledger in memory: one process, no persistence.
#[derive(Default)]
pub struct MemoryLedger {
    cache: Mutex<BTreeMap<(String, String, String), Value>>,
    month_micros: AtomicU64,
    pub records: Mutex<Vec<(String, StepRecord)>>,
}

impl Ledger for MemoryLedger {
    fn cached(&self, provider: &str, kind: &str, key: &str) -> Option<Value> {
        let c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        c.get(&(provider.into(), kind.into(), key.into())).cloned()
    }

    fn store_cache(&self, provider: &str, kind: &str, key: &str, value: &Value) {
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        c.insert((provider.into(), kind.into(), key.into()), value.clone());
    }

    fn reserve_month(&self, micros: u64, limit_micros: Option<u64>) -> Reservation<'_> {
        let granted = self
            .month_micros
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |spent| {
                let next = spent.saturating_add(micros);
                limit_micros.is_none_or(|l| next <= l).then_some(next)
            })
            .is_ok();
        Box::pin(std::future::ready(granted))
    }

    fn record(&self, subject: &str, step: &StepRecord) {
        let mut r = self.records.lock().unwrap_or_else(|p| p.into_inner());
        r.push((subject.to_owned(), step.clone()));
    }
}

/// The LLM the waterfall may use.
#[derive(Clone)]
pub struct LlmSetup {
    pub client: Arc<dyn LlmClient>,
    pub model: String,
    /// From config; a model without a price is never called.
    pub price: Option<ModelPrice>,
    pub prompts_dir: Option<std::path::PathBuf>,
    pub max_tokens: u32,
}

/// Company facts as the CLI's `--json` prints them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompanyFacts {
    pub name: Option<String>,
    pub domain: Option<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub socials: BTreeMap<String, String>,
    pub tech_stack: Vec<String>,
    pub signals: crate::crawl::Signals,
    pub addresses: Vec<crate::extract::PostalAddress>,
    /// The `research_company` answer, when that step ran.
    pub research: Option<Value>,
}

/// One company's enrichment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompanyResult {
    pub company: CompanyFacts,
    pub contacts: Vec<Contact>,
    #[serde(skip)]
    pub steps: Vec<StepRecord>,
    /// Paid spend of this enrichment, in dollars.
    pub cost_usd: f64,
}

/// One person's email search.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PersonResult {
    pub email: Option<String>,
    pub confidence: Option<f64>,
    pub source: Option<String>,
    #[serde(skip)]
    pub steps: Vec<StepRecord>,
    pub cost_usd: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum WaterfallError {
    #[error(transparent)]
    Crawl(#[from] CrawlError),
}

/// Runs the configured steps; one per process or run, shared by tasks.
pub struct Waterfall {
    pub config: WaterfallConfig,
    pub crawler: Crawler,
    pub verifier: Option<Arc<Verifier>>,
    pub llm: Option<LlmSetup>,
    pub providers: Vec<Arc<dyn ContactProvider>>,
    pub ledger: Arc<dyn Ledger>,
    run_spent: AtomicU64,
}

/// Money state of one company's enrichment.
struct Spend {
    micros: u64,
}

impl Waterfall {
    pub fn new(config: WaterfallConfig, crawler: Crawler, ledger: Arc<dyn Ledger>) -> Waterfall {
        Waterfall {
            config,
            crawler,
            verifier: None,
            llm: None,
            providers: Vec::new(),
            ledger,
            run_spent: AtomicU64::new(0),
        }
    }

    /// Paid spend of this run so far, in micro-dollars.
    pub fn run_spent_micros(&self) -> u64 {
        self.run_spent.load(Ordering::SeqCst)
    }

    /// Takes `micros` from the lead's ceiling, the run's ceiling and the
    /// month's budget, in that order; the outcome to record when refused.
    async fn pay(&self, spend: &mut Spend, micros: u64) -> Result<(), &'static str> {
        if spend.micros + micros > usd_to_micros(self.config.per_lead_ceiling_usd) {
            return Err("skipped_ceiling");
        }
        let run_limit = usd_to_micros(self.config.per_run_ceiling_usd);
        if self
            .run_spent
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                (s + micros <= run_limit).then_some(s + micros)
            })
            .is_err()
        {
            return Err("skipped_ceiling");
        }
        if !self
            .ledger
            .reserve_month(micros, self.config.monthly_budget_usd.map(usd_to_micros))
            .await
        {
            self.run_spent.fetch_sub(micros, Ordering::SeqCst);
            return Err("skipped_budget");
        }
        spend.micros += micros;
        Ok(())
    }

    /// Replaces a reservation of `reserved` by the `actual` cost.
    fn settle(&self, spend: &mut Spend, reserved: u64, actual: u64) {
        spend.micros = spend.micros - reserved + actual;
        let _ = self
            .run_spent
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                Some(s.saturating_sub(reserved) + actual)
            });
    }

    /// Enriches the company at `input` (domain or URL). `known` are
    /// addresses of the domain whose owners are known (from the store),
    /// for the pattern step. `progress` sees each step as it ends.
    pub async fn enrich_company(
        &self,
        input: &str,
        known: &[KnownAddress],
        progress: &mut (dyn FnMut(&StepRecord) + Send),
    ) -> Result<CompanyResult, WaterfallError> {
        let mut out = CompanyResult::default();
        let mut spend = Spend { micros: 0 };
        let mut site: Option<SiteReport> = None;
        let mut steps: Vec<StepRecord> = Vec::new();
        let subject = input.trim().to_owned();
        let mut emit = |s: StepRecord| {
            self.ledger.record(&subject, &s);
            progress(&s);
            steps.push(s);
        };

        // Company facts.
        for step in &self.config.company {
            match step.as_str() {
                "crawl" => {
                    let r = self.crawler.crawl(input).await?;
                    let rec = crawl_record(&r);
                    apply_site(&mut out.company, &r);
                    site = Some(r);
                    emit(rec);
                }
                "llm" => {
                    let text = site.as_ref().map(|s| s.text.clone()).unwrap_or_default();
                    let vars = self.vars(&out.company, input, text);
                    let rec = self
                        .llm_step("company", PromptKind::ResearchCompany, vars, &mut spend)
                        .await;
                    if rec.outcome == "found" || rec.outcome == "cached" {
                        out.company.research = Some(rec.result.clone());
                    }
                    emit(rec);
                }
                other => emit(unknown_step("company", other)),
            }
        }
        let domain = out
            .company
            .domain
            .clone()
            .unwrap_or_else(|| subject.clone());

        // Contacts.
        let mut contacts: Vec<Contact> = Vec::new();
        for step in &self.config.contacts {
            if enough(&contacts, &self.config) {
                break;
            }
            let rec = match step.as_str() {
                "crawl" => match &site {
                    Some(r) => {
                        let found: Vec<Contact> = r
                            .people
                            .iter()
                            .filter(|p| p.title.is_some())
                            .map(|p| Contact {
                                name: p.name.clone(),
                                title: p.title.clone(),
                                email: p.email.clone(),
                                linkedin: p.linkedin.clone(),
                                // Named with a title on the company's own site.
                                confidence: 0.7,
                                source: "crawl".into(),
                                email_source: p.email.as_ref().map(|_| "crawl".into()),
                                reasoning: Some(format!("listed on {}", p.source)),
                            })
                            .collect();
                        merge_contacts(&mut contacts, found.clone());
                        record("contacts", "crawl", "people", &found, 0)
                    }
                    None => unavailable("contacts", "crawl", "run the crawl company step first"),
                },
                "llm" => {
                    let text = site.as_ref().map(|s| s.text.clone()).unwrap_or_default();
                    let vars = self.vars(&out.company, input, text);
                    let rec = self
                        .llm_step("contacts", PromptKind::FindContacts, vars, &mut spend)
                        .await;
                    if rec.outcome == "found" || rec.outcome == "cached" {
                        merge_contacts(&mut contacts, llm_contacts(&rec.result, &domain));
                    }
                    rec
                }
                name if !is_mail_domain(&domain) => match self.provider(name) {
                    Some(_) => unavailable("contacts", name, "the site has no domain name"),
                    None => unknown_step("contacts", name),
                },
                name => match self.provider(name) {
                    Some(p) => {
                        let rec = self
                            .provider_step("contacts", p.as_ref(), &domain, &mut spend, |p, d| {
                                Box::pin(async move {
                                    p.contacts(d)
                                        .await
                                        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                                })
                            })
                            .await;
                        if let Ok(found) =
                            serde_json::from_value::<Vec<ContactIn>>(rec.result.clone())
                        {
                            merge_contacts(
                                &mut contacts,
                                found.into_iter().map(Into::into).collect(),
                            );
                        }
                        rec
                    }
                    None => unknown_step("contacts", name),
                },
            };
            emit(rec);
        }

        // Emails for contacts without one.
        let mut known_all: Vec<KnownAddress> = known.to_vec();
        if let Some(r) = &site {
            known_all.extend(known_from_site(r, &contacts));
        }
        let inference = infer(&known_all);
        let site_emails: Vec<String> = out.company.emails.clone();
        for c in contacts.iter_mut() {
            if c.email.is_some() {
                continue;
            }
            let Some(name) = split_full_name(&c.name).filter(|n| !n.last.is_empty()) else {
                continue;
            };
            let best = self
                .email_steps(
                    &c.name,
                    &name,
                    &domain,
                    &inference,
                    &site_emails,
                    &mut spend,
                    &mut emit,
                )
                .await;
            if let Some((email, conf, source)) = best {
                c.email = Some(email);
                c.confidence = conf.min(1.0);
                c.email_source = Some(source);
            }
        }
        contacts.truncate(self.config.wanted_contacts.max(1) * 2);
        out.contacts = contacts;
        out.cost_usd = spend.micros as f64 / 1_000_000.0;
        out.steps = steps;
        Ok(out)
    }

    /// The email steps for one person, in order, until one reaches the
    /// target confidence: the best (address, confidence, step) found.
    #[allow(clippy::too_many_arguments)]
    async fn email_steps(
        &self,
        full_name: &str,
        name: &PersonName,
        domain: &str,
        inference: &Inference,
        site_emails: &[String],
        spend: &mut Spend,
        emit: &mut (dyn FnMut(StepRecord) + Send),
    ) -> Option<(String, f64, String)> {
        let mut best: Option<(String, f64, String)> = None;
        for step in &self.config.email {
            if best
                .as_ref()
                .is_some_and(|b| b.1 >= self.config.target_confidence)
            {
                break;
            }
            let kind = format!("email:{}", full_name);
            let rec = match step.as_str() {
                other if other != "crawl" && !is_mail_domain(domain) => {
                    unavailable("email", other, "the site has no domain name")
                }
                "crawl" => {
                    // An address on the site that fits one of the
                    // person's name patterns is theirs.
                    let hit = Pattern::ALL.iter().find_map(|p| {
                        let local = p.local(&name.first, &name.last)?;
                        site_emails
                            .iter()
                            .find(|e| e.split('@').next() == Some(local.as_str()))
                            .cloned()
                    });
                    match hit {
                        Some(e) => {
                            best = Some((e.clone(), 0.85, "crawl".into()));
                            found_record(
                                "email",
                                "crawl",
                                &kind,
                                json!({"email": e}),
                                Some(0.85),
                                0,
                            )
                        }
                        None => record::<Contact>("email", "crawl", &kind, &[], 0),
                    }
                }
                "pattern" => match &self.verifier {
                    Some(v) => {
                        match find_email(
                            v,
                            inference,
                            &name.first,
                            &name.last,
                            domain,
                            self.config.pattern_probes,
                        )
                        .await
                        {
                            Some(g) => {
                                let better = best.as_ref().is_none_or(|b| g.confidence > b.1);
                                if better && g.status != Status::Invalid {
                                    best = Some((g.email.clone(), g.confidence, "pattern".into()));
                                }
                                let mut r = found_record(
                                    "email",
                                    "pattern",
                                    &kind,
                                    serde_json::to_value(&g).unwrap_or(Value::Null),
                                    Some(g.confidence),
                                    0,
                                );
                                r.reasoning = Some(format!(
                                    "pattern {} ({} known addresses), verifier said {}",
                                    g.pattern.as_str(),
                                    inference.evidence,
                                    g.status.as_str()
                                ));
                                r
                            }
                            None => record::<Contact>("email", "pattern", &kind, &[], 0),
                        }
                    }
                    None => unavailable("email", "pattern", "no email verifier configured"),
                },
                pname => match self.provider(pname) {
                    Some(p) => {
                        let (first, last) = (name.first.clone(), name.last.clone());
                        let rec = self
                            .provider_step("email", p.as_ref(), domain, spend, move |p, d| {
                                Box::pin(async move {
                                    p.email(d, &first, &last).await.map(|r| {
                                        json!(r.map(|(e, c)| json!({"email": e, "confidence": c})))
                                    })
                                })
                            })
                            .await;
                        if let (Some(e), Some(conf)) = (
                            rec.result["email"].as_str(),
                            rec.result["confidence"].as_f64(),
                        ) && best.as_ref().is_none_or(|b| conf > b.1)
                        {
                            best = Some((e.to_owned(), conf, pname.to_owned()));
                        }
                        StepRecord { kind, ..rec }
                    }
                    None => unknown_step("email", pname),
                },
            };
            emit(rec);
        }
        best
    }

    /// Finds one person's address at `domain` with the email steps
    /// (`crawl` looks through `site_emails`), recording under `subject`.
    pub async fn enrich_person(
        &self,
        subject: &str,
        full_name: &str,
        domain: &str,
        known: &[KnownAddress],
        site_emails: &[String],
        progress: &mut (dyn FnMut(&StepRecord) + Send),
    ) -> PersonResult {
        let mut spend = Spend { micros: 0 };
        let mut steps = Vec::new();
        let found = match split_full_name(full_name).filter(|n| !n.last.is_empty()) {
            Some(name) => {
                let inference = infer(known);
                let mut emit = |s: StepRecord| {
                    self.ledger.record(subject, &s);
                    progress(&s);
                    steps.push(s);
                };
                self.email_steps(
                    full_name,
                    &name,
                    domain,
                    &inference,
                    site_emails,
                    &mut spend,
                    &mut emit,
                )
                .await
            }
            None => None,
        };
        PersonResult {
            email: found.as_ref().map(|f| f.0.clone()),
            confidence: found.as_ref().map(|f| f.1),
            source: found.map(|f| f.2),
            steps,
            cost_usd: spend.micros as f64 / 1_000_000.0,
        }
    }

    fn provider(&self, name: &str) -> Option<Arc<dyn ContactProvider>> {
        self.providers.iter().find(|p| p.name() == name).cloned()
    }

    fn vars(&self, c: &CompanyFacts, input: &str, text: String) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            (
                "company",
                c.name.clone().unwrap_or_else(|| input.to_owned()),
            ),
            (
                "domain",
                c.domain.clone().unwrap_or_else(|| input.to_owned()),
            ),
            ("site_text", text),
        ])
    }

    async fn llm_step(
        &self,
        field: &str,
        kind: PromptKind,
        vars: BTreeMap<&'static str, String>,
        spend: &mut Spend,
    ) -> StepRecord {
        let Some(setup) = &self.llm else {
            return unavailable(field, "llm", "no LLM configured");
        };
        let key = cache_key(&[
            setup.model.as_str(),
            kind.as_str(),
            &serde_json::to_string(&vars).unwrap_or_default(),
        ]);
        if let Some(v) = self.ledger.cached("llm", kind.as_str(), &key) {
            return StepRecord {
                outcome: "cached".into(),
                confidence: confidence_of(&v),
                ..found_record(field, "llm", kind.as_str(), v, None, 0)
            };
        }
        let Some(price) = setup.price else {
            return unavailable(field, "llm", &format!("no price for model {}", setup.model));
        };
        // Reserve the most the call can cost: the prompt at ~4 chars per
        // token and every output token allowed.
        let chars: usize = vars.values().map(String::len).sum::<usize>() + 2000;
        let estimate = price.cost_micros(leadgen_integrations::llm::LlmUsage {
            input_tokens: (chars / 4) as u64,
            output_tokens: u64::from(setup.max_tokens),
        });
        if let Err(outcome) = self.pay(spend, estimate).await {
            return skipped(field, "llm", kind.as_str(), outcome);
        }
        let step = LlmStep {
            client: setup.client.as_ref(),
            model: setup.model.clone(),
            price: setup.price,
            prompts_dir: setup.prompts_dir.clone(),
            max_attempts: 2,
            max_tokens: setup.max_tokens,
        };
        let answer = step.ask(kind, &vars).await;
        // The lead's and the run's spend count what the call cost, not the
        // reservation; the month keeps the reservation (conservative).
        let actual = match &answer {
            Ok(a) => a.cost_micros,
            Err(LlmStepError::Malformed { cost_micros, .. }) => *cost_micros,
            Err(_) => 0,
        };
        self.settle(spend, estimate, actual);
        match answer {
            Ok(a) => {
                self.ledger
                    .store_cache("llm", kind.as_str(), &key, &a.value);
                StepRecord {
                    input_tokens: a.usage.input_tokens,
                    output_tokens: a.usage.output_tokens,
                    confidence: confidence_of(&a.value),
                    reasoning: a.value["reasoning"].as_str().map(str::to_owned),
                    ..found_record(
                        field,
                        a.provider,
                        kind.as_str(),
                        a.value,
                        None,
                        a.cost_micros,
                    )
                }
            }
            Err(LlmStepError::Malformed {
                usage,
                cost_micros,
                last_error,
                ..
            }) => StepRecord {
                outcome: "error".into(),
                reasoning: Some(format!("invalid model output, not stored: {last_error}")),
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                cost_micros,
                ..record::<Contact>(field, "llm", kind.as_str(), &[], 0)
            },
            Err(e) => StepRecord {
                outcome: "error".into(),
                reasoning: Some(e.to_string()),
                // Not billed: the month keeps its reservation, the lead does not.
                cost_micros: 0,
                ..record::<Contact>(field, "llm", kind.as_str(), &[], 0)
            },
        }
    }

    async fn provider_step<'a, F>(
        &'a self,
        field: &str,
        p: &'a dyn ContactProvider,
        domain: &'a str,
        spend: &mut Spend,
        call: F,
    ) -> StepRecord
    where
        F: FnOnce(
            &'a dyn ContactProvider,
            &'a str,
        ) -> leadgen_integrations::maps::BoxFuture<
            'a,
            Result<Value, leadgen_integrations::IntegrationError>,
        >,
    {
        let kind = field.to_owned();
        let key = cache_key(&[field, domain]);
        if field == "contacts"
            && let Some(v) = self.ledger.cached(p.name(), &kind, &key)
        {
            return StepRecord {
                outcome: "cached".into(),
                ..found_record(field, p.name(), &kind, v, None, 0)
            };
        }
        if let Err(outcome) = self.pay(spend, p.cost_micros()).await {
            return skipped(field, p.name(), &kind, outcome);
        }
        match call(p, domain).await {
            Ok(v) => {
                if field == "contacts" {
                    self.ledger.store_cache(p.name(), &kind, &key, &v);
                }
                let empty = v.is_null() || v.as_array().is_some_and(Vec::is_empty);
                StepRecord {
                    outcome: if empty { "nothing" } else { "found" }.into(),
                    confidence: v["confidence"].as_f64(),
                    ..found_record(field, p.name(), &kind, v, None, p.cost_micros())
                }
            }
            Err(e) => StepRecord {
                outcome: "error".into(),
                reasoning: Some(e.to_string()),
                ..record::<Contact>(field, p.name(), &kind, &[], p.cost_micros())
            },
        }
    }
}

/// Contacts as a provider's step result holds them.
#[derive(Deserialize)]
struct ContactIn {
    name: String,
    title: Option<String>,
    email: Option<String>,
    linkedin: Option<String>,
    confidence: f64,
    source: String,
}

impl From<ContactIn> for Contact {
    fn from(c: ContactIn) -> Contact {
        Contact {
            email_source: c.email.as_ref().map(|_| c.source.clone()),
            name: c.name,
            title: c.title,
            email: c.email,
            linkedin: c.linkedin,
            confidence: c.confidence,
            source: c.source,
            reasoning: None,
        }
    }
}

fn enough(contacts: &[Contact], cfg: &WaterfallConfig) -> bool {
    contacts
        .iter()
        .filter(|c| c.confidence >= cfg.target_confidence)
        .count()
        >= cfg.wanted_contacts
}

/// Adds `found` to `into`, one entry per person (by folded name), keeping
/// the better-sourced values.
fn merge_contacts(into: &mut Vec<Contact>, found: Vec<Contact>) {
    let key = |n: &str| crate::pattern::fold(n);
    for f in found {
        match into.iter_mut().find(|c| key(&c.name) == key(&f.name)) {
            Some(c) => {
                if c.email.is_none() && f.email.is_some() {
                    c.email = f.email;
                    c.email_source = f.email_source.or(Some(f.source.clone()));
                }
                c.title = c.title.take().or(f.title);
                c.linkedin = c.linkedin.take().or(f.linkedin);
                c.confidence = c.confidence.max(f.confidence);
            }
            None => into.push(f),
        }
    }
}

fn llm_contacts(v: &Value, domain: &str) -> Vec<Contact> {
    v["contacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let name = c["name"].as_str()?.trim().to_owned();
            if name.is_empty() {
                return None;
            }
            // An address the model gives is kept only on the company's domain.
            let email = c["email"]
                .as_str()
                .map(str::to_ascii_lowercase)
                .filter(|e| e.ends_with(&format!("@{domain}")));
            Some(Contact {
                email_source: email.as_ref().map(|_| "llm".into()),
                name,
                title: c["title"].as_str().map(str::to_owned),
                email,
                linkedin: c["linkedin"].as_str().map(str::to_owned),
                confidence: c["confidence"].as_f64().unwrap_or(0.5).clamp(0.0, 1.0),
                source: "llm".into(),
                reasoning: c["reasoning"].as_str().map(str::to_owned),
            })
        })
        .collect()
}

/// Addresses on the site whose owners the crawl named.
fn known_from_site(r: &SiteReport, contacts: &[Contact]) -> Vec<KnownAddress> {
    contacts
        .iter()
        .filter_map(|c| {
            let email = c.email.as_ref()?;
            let n = split_full_name(&c.name)?;
            let local = email.split('@').next()?.to_owned();
            let on_site = r.emails.iter().any(|e| e.email == *email)
                || c.email_source.as_deref() == Some("crawl");
            on_site.then_some(KnownAddress {
                first: n.first,
                last: n.last,
                local,
            })
        })
        .collect()
}

fn apply_site(c: &mut CompanyFacts, r: &SiteReport) {
    c.name = r.name.clone();
    c.domain = r.domain.clone();
    c.phones = r.phones.clone();
    c.emails = r.emails.iter().map(|e| e.email.clone()).collect();
    c.socials = r
        .socials
        .iter()
        .map(|(k, u)| (k.as_str().to_owned(), u.clone()))
        .collect();
    c.tech_stack = r.tech_stack.clone();
    c.signals = r.signals.clone();
    c.addresses = r.addresses.clone();
}

fn crawl_record(r: &SiteReport) -> StepRecord {
    let result = json!({
        "final_url": r.final_url, "pages": r.pages.len(), "emails": r.emails.len(),
        "phones": r.phones.len(), "people": r.people.len(), "tech_stack": r.tech_stack,
        "robots_disallowed": r.robots_disallowed.len(), "errors": r.errors,
    });
    let found = !r.pages.is_empty();
    StepRecord {
        outcome: if found { "found" } else { "nothing" }.into(),
        confidence: found.then_some(0.9),
        ..found_record("company", "crawl", "crawl", result, None, 0)
    }
}

fn confidence_of(v: &Value) -> Option<f64> {
    let cs: Vec<f64> = v["contacts"]
        .as_array()?
        .iter()
        .filter_map(|c| c["confidence"].as_f64())
        .collect();
    (!cs.is_empty()).then(|| cs.iter().sum::<f64>() / cs.len() as f64)
}

fn found_record(
    field: &str,
    provider: &str,
    kind: &str,
    result: Value,
    confidence: Option<f64>,
    cost_micros: u64,
) -> StepRecord {
    StepRecord {
        field: field.into(),
        provider: provider.into(),
        kind: kind.into(),
        outcome: "found".into(),
        result,
        confidence,
        reasoning: None,
        input_tokens: 0,
        output_tokens: 0,
        cost_micros,
    }
}

fn record<T: Serialize>(
    field: &str,
    provider: &str,
    kind: &str,
    found: &[T],
    cost: u64,
) -> StepRecord {
    StepRecord {
        outcome: if found.is_empty() { "nothing" } else { "found" }.into(),
        ..found_record(
            field,
            provider,
            kind,
            serde_json::to_value(found).unwrap_or(Value::Null),
            None,
            cost,
        )
    }
}

fn skipped(field: &str, provider: &str, kind: &str, outcome: &str) -> StepRecord {
    StepRecord {
        outcome: outcome.into(),
        result: Value::Null,
        ..found_record(field, provider, kind, Value::Null, None, 0)
    }
}

fn unavailable(field: &str, provider: &str, why: &str) -> StepRecord {
    StepRecord {
        outcome: "unavailable".into(),
        reasoning: Some(why.into()),
        ..found_record(field, provider, field, Value::Null, None, 0)
    }
}

fn unknown_step(field: &str, name: &str) -> StepRecord {
    unavailable(
        field,
        name,
        &format!("no step named {name:?} is configured"),
    )
}

/// Whether `d` is a domain mail can be sent to (not an IP address or a URL).
fn is_mail_domain(d: &str) -> bool {
    !d.contains([':', '/'])
        && d.parse::<std::net::IpAddr>().is_err()
        && leadgen_core::domain::Domain::parse(d).is_ok()
}

/// A stable key for an input: XXH3-128 of its parts, hex.
pub fn cache_key(parts: &[&str]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    format!("{:032x}", h.digest128())
}
