//! Intent data: signals that a company or a person is researching a topic,
//! turned into each lead's hot/warm/cold level.
//!
//! Signals arrive three ways, all ending in [`store_signals`]:
//! - a daily pull from the configured provider ([`run_intent`]) for each of
//!   the workspace's active queries ([`save_query`]);
//! - a CSV export of any vendor ([`import_intent_csv`]), columns found by
//!   their headers or named by `--map`, bad rows to a rejects file;
//! - a vendor's webhook ([`ingest_webhook`]): a JSON array of signals, or
//!   an object with one under `signals` or `data`. A route is
//!   `ingest_webhook(&*store, ws, vendor, &body, now)` and its JSON answer.
//!
//! After new signals, [`recompute_intent`] counts each lead's high and
//! medium signals of the last [`LEVEL_WINDOW_DAYS`] days (by its email and
//! its company's domain) into core's level rule and writes the levels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leadgen_core::intent::{
    ActiveQuery, Breakdown, IntentSignal, RawSignal, SubjectKind, TopicTrend, level_of,
    weekly_trends,
};
use leadgen_core::lead::IntentLevel;
use leadgen_core::{Lead, LeadId, WorkspaceId};
use leadgen_integrations::IntegrationError;
use leadgen_integrations::intent::IntentProvider;
use leadgen_store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;

use crate::csv_source::{CsvSource, CsvSourceError, RawRow, ReadError};
use crate::rejects::{RejectsError, RejectsWriter};

/// Signals older than this do not count toward a level.
pub const LEVEL_WINDOW_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;
/// Signals stored per store call when importing.
const CHUNK: usize = 4096;
/// Pages one query reads at most.
const MAX_PAGES: u32 = 50;

#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Csv(#[from] CsvSourceError),
    #[error(transparent)]
    Rejects(#[from] RejectsError),
    #[error(transparent)]
    Provider(#[from] IntegrationError),
    #[error("{0}")]
    Invalid(String),
}

/// The columns of an intent export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentColumn {
    Domain,
    Email,
    Topic,
    Score,
    Strength,
    SignalType,
    DetectedAt,
}

impl IntentColumn {
    pub const ALL: [IntentColumn; 7] = [
        IntentColumn::Domain,
        IntentColumn::Email,
        IntentColumn::Topic,
        IntentColumn::Score,
        IntentColumn::Strength,
        IntentColumn::SignalType,
        IntentColumn::DetectedAt,
    ];

    pub fn name(self) -> &'static str {
        self.aliases()[0]
    }

    pub fn from_name(s: &str) -> Option<IntentColumn> {
        IntentColumn::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Header spellings vendors use, normalized (lower case, letters and
    /// digits only); the first is the column's name.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            IntentColumn::Domain => &[
                "domain",
                "companydomain",
                "website",
                "companywebsite",
                "url",
                "accountdomain",
                "accountwebsite",
            ],
            IntentColumn::Email => &["email", "emailaddress", "contactemail", "workemail"],
            IntentColumn::Topic => &["topic", "intenttopic", "topicname", "keyword", "category"],
            IntentColumn::Score => &["score", "intentscore", "compositescore", "surgescore"],
            IntentColumn::Strength => &["strength", "intentstrength", "intentlevel", "level"],
            IntentColumn::SignalType => &["signaltype", "type", "signal", "source_type"],
            IntentColumn::DetectedAt => &[
                "detectedat",
                "date",
                "observedat",
                "timestamp",
                "week",
                "signaldate",
            ],
        }
    }
}

fn normalize(h: &str) -> String {
    h.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Which column of the file holds each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentMapping {
    columns: HashMap<IntentColumn, usize>,
}

impl IntentMapping {
    /// Finds each field's column by its header, `overrides` first (field,
    /// exact header). A file needs a topic and a domain or an email.
    pub fn of(
        headers: &[String],
        overrides: &[(IntentColumn, String)],
    ) -> Result<IntentMapping, IntentError> {
        let mut columns = HashMap::new();
        for (field, header) in overrides {
            let i = headers
                .iter()
                .position(|h| h.trim() == header.trim())
                .ok_or_else(|| {
                    IntentError::Invalid(format!(
                        "--map {}={header:?}: the file has no such column (it has {})",
                        field.name(),
                        headers.join(", ")
                    ))
                })?;
            columns.insert(*field, i);
        }
        let normalized: Vec<String> = headers.iter().map(|h| normalize(h)).collect();
        for field in IntentColumn::ALL {
            if columns.contains_key(&field) {
                continue;
            }
            let found = field.aliases().iter().find_map(|a| {
                normalized
                    .iter()
                    .enumerate()
                    .find(|(i, h)| h.as_str() == normalize(a) && !columns.values().any(|c| c == i))
                    .map(|(i, _)| i)
            });
            if let Some(i) = found {
                columns.insert(field, i);
            }
        }
        if !columns.contains_key(&IntentColumn::Topic) {
            return Err(IntentError::Invalid(format!(
                "no topic column among {}: name it with --map topic=\"<header>\"",
                headers.join(", ")
            )));
        }
        if !columns.contains_key(&IntentColumn::Domain)
            && !columns.contains_key(&IntentColumn::Email)
        {
            return Err(IntentError::Invalid(format!(
                "no domain or email column among {}: name one with --map domain=\"<header>\"",
                headers.join(", ")
            )));
        }
        Ok(IntentMapping { columns })
    }

    /// `field ← header` lines, for a preview.
    pub fn describe(&self, headers: &[String]) -> String {
        IntentColumn::ALL
            .iter()
            .filter_map(|f| {
                let i = self.columns.get(f)?;
                Some(format!("{} ← {:?}", f.name(), headers.get(*i)?))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn raw(&self, row: &RawRow) -> RawSignal {
        let cell = |f: IntentColumn| {
            self.columns
                .get(&f)
                .map(|&i| row.get(i).to_owned())
                .filter(|s| !s.trim().is_empty())
        };
        RawSignal {
            domain: cell(IntentColumn::Domain),
            email: cell(IntentColumn::Email),
            topic: cell(IntentColumn::Topic),
            score: cell(IntentColumn::Score),
            strength: cell(IntentColumn::Strength),
            signal_type: cell(IntentColumn::SignalType),
            detected_at: cell(IntentColumn::DetectedAt),
        }
    }
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestSummary {
    pub received: u64,
    pub added: u64,
    /// Already stored (the same subject, topic, source and time).
    pub duplicates: u64,
    pub rejected: u64,
    /// Leads whose level changed.
    pub leads_changed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_file: Option<PathBuf>,
    /// Why each rejected webhook signal was refused, by its index.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<(usize, String)>,
}

/// Stores parsed signals; the number added.
pub fn store_signals(
    store: &dyn Store,
    ws: WorkspaceId,
    signals: &[IntentSignal],
    now: i64,
) -> Result<u64, IntentError> {
    Ok(store.add_intent_signals(ws, signals, now)?)
}

/// Imports a CSV export of intent signals (source `csv:<file name>`), then
/// recomputes the levels.
pub fn import_intent_csv(
    store: &dyn Store,
    ws: WorkspaceId,
    path: &Path,
    overrides: &[(IntentColumn, String)],
    now: i64,
) -> Result<IngestSummary, IntentError> {
    let mut src = CsvSource::open(path)?;
    let headers = src.headers().to_vec();
    let mapping = IntentMapping::of(&headers, overrides)?;
    let source = format!(
        "csv:{}",
        path.file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy())
    );
    let mut rejects = RejectsWriter::new(path, &headers)?;
    let mut summary = IngestSummary::default();
    let mut row = RawRow::new();
    let mut chunk: Vec<IntentSignal> = Vec::with_capacity(CHUNK);
    loop {
        match src.read_row(&mut row) {
            Ok(false) => break,
            Ok(true) => {
                summary.received += 1;
                match mapping.raw(&row).parse(&source, now) {
                    Ok(s) => chunk.push(s),
                    Err(e) => rejects.reject(&row, &e.to_string())?,
                }
            }
            Err(ReadError::Row(e)) => {
                summary.received += 1;
                rejects.write(e.line, &e.reason(), std::iter::empty::<&str>())?;
            }
            Err(ReadError::Fatal(e)) => return Err(e.into()),
        }
        if chunk.len() >= CHUNK {
            summary.added += store_signals(store, ws, &chunk, now)?;
            chunk.clear();
        }
    }
    summary.added += store_signals(store, ws, &chunk, now)?;
    summary.rejected = rejects.count();
    summary.rejects_file = rejects.finish()?;
    summary.duplicates = summary.received - summary.rejected - summary.added;
    summary.leads_changed = recompute_intent(store, ws, now)?;
    Ok(summary)
}

/// A JSON value as the text a CSV cell would hold.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One webhook signal: flat fields, or the company under `company`.
fn raw_from_json(v: &Value) -> RawSignal {
    let pick = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| text(&v[*n]).or_else(|| text(&v["company"][*n])))
    };
    RawSignal {
        domain: pick(&["domain", "company_domain", "website"]),
        email: pick(&["email", "contact_email"]),
        topic: pick(&["topic", "intent_topic"]),
        score: pick(&["score", "intent_score"]),
        strength: pick(&["strength", "intent_strength"]),
        signal_type: pick(&["signal_type", "type"]),
        detected_at: pick(&["detected_at", "observed_at", "date", "timestamp"]),
    }
}

/// Takes a vendor's webhook body (source `webhook:<vendor>`): signals that
/// parse are stored, the others listed by index with their reason.
pub fn ingest_webhook(
    store: &dyn Store,
    ws: WorkspaceId,
    vendor: &str,
    body: &[u8],
    now: i64,
) -> Result<IngestSummary, IntentError> {
    let vendor = vendor.trim();
    if vendor.is_empty()
        || !vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(IntentError::Invalid(format!(
            "vendor {vendor:?}: use letters, digits, - and _"
        )));
    }
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| IntentError::Invalid(format!("the body is not JSON: {e}")))?;
    let items = match &doc {
        Value::Array(a) => a.as_slice(),
        Value::Object(_) => doc["signals"]
            .as_array()
            .or(doc["data"].as_array())
            .map(Vec::as_slice)
            .ok_or_else(|| {
                IntentError::Invalid(
                    "expected an array of signals, or one under \"signals\" or \"data\"".into(),
                )
            })?,
        _ => return Err(IntentError::Invalid("expected an array of signals".into())),
    };
    let source = format!("webhook:{vendor}");
    let mut summary = IngestSummary {
        received: items.len() as u64,
        ..IngestSummary::default()
    };
    let mut good = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match raw_from_json(item).parse(&source, now) {
            Ok(s) => good.push(s),
            Err(e) => summary.errors.push((i, e.to_string())),
        }
    }
    summary.rejected = summary.errors.len() as u64;
    summary.added = store_signals(store, ws, &good, now)?;
    summary.duplicates = good.len() as u64 - summary.added;
    summary.leads_changed = recompute_intent(store, ws, now)?;
    Ok(summary)
}

/// Writes every lead's level from its signals of the last
/// [`LEVEL_WINDOW_DAYS`] days; the number of leads whose level changed.
pub fn recompute_intent(store: &dyn Store, ws: WorkspaceId, now: i64) -> Result<u64, IntentError> {
    let since = now - LEVEL_WINDOW_DAYS * DAY_MS;
    let mut by_lead: HashMap<LeadId, Vec<leadgen_core::intent::Strength>> = HashMap::new();
    for (lead, s) in store.lead_signal_strengths(ws, since)? {
        by_lead.entry(lead).or_default().push(s);
    }
    let levels: HashMap<LeadId, IntentLevel> = by_lead
        .into_iter()
        .map(|(id, s)| (id, level_of(s)))
        .filter(|(_, l)| *l != IntentLevel::Cold)
        .collect();
    Ok(store.set_lead_intents(ws, &levels, now)?)
}

/// Checks and saves an active query (replacing the topic's older one).
pub fn save_query(
    store: &dyn Store,
    ws: WorkspaceId,
    mut q: ActiveQuery,
    now: i64,
) -> Result<ActiveQuery, IntentError> {
    q.topic = q.topic.trim().to_lowercase();
    if q.topic.is_empty() {
        return Err(IntentError::Invalid("the topic is empty".into()));
    }
    if q.limit == 0 || q.limit > 10_000 {
        return Err(IntentError::Invalid(format!(
            "--limit {} is out of range (1–10000)",
            q.limit
        )));
    }
    if let (Some(a), Some(b)) = (q.min_size, q.max_size)
        && a > b
    {
        return Err(IntentError::Invalid(format!(
            "--min-size {a} is above --max-size {b}"
        )));
    }
    let json = serde_json::to_string(&q).expect("query serializes");
    store.save_intent_query(ws, &q.topic, &json, now)?;
    Ok(q)
}

pub fn queries(store: &dyn Store, ws: WorkspaceId) -> Result<Vec<ActiveQuery>, IntentError> {
    store
        .intent_queries(ws)?
        .into_iter()
        .map(|(topic, json)| {
            serde_json::from_str(&json).map_err(|e| {
                IntentError::Store(StoreError::Corrupt(format!("intent query {topic:?}: {e}")))
            })
        })
        .collect()
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunSummary {
    pub provider: &'static str,
    pub queries: u64,
    pub pages: u64,
    pub received: u64,
    pub added: u64,
    pub rejected: u64,
    pub leads_changed: u64,
}

/// Runs a store call off the async threads (the PostgreSQL client blocks).
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> Result<T, IntentError> + Send + 'static,
) -> Result<T, IntentError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&*store))
        .await
        .map_err(|e| IntentError::Invalid(format!("a store task failed: {e}")))?
}

/// The daily run: every active query, page by page up to its limit, from
/// `provider`; the signals stored, then the levels recomputed.
pub async fn run_intent(
    store: Arc<dyn Store>,
    ws: WorkspaceId,
    provider: &dyn IntentProvider,
    now: i64,
) -> Result<RunSummary, IntentError> {
    let qs = blocking(&store, move |s| queries(s, ws)).await?;
    if qs.is_empty() {
        return Err(IntentError::Invalid(
            "no active queries: add one with `leadgen intent topics add \"<topic>\"`".into(),
        ));
    }
    let mut summary = RunSummary {
        provider: provider.name(),
        queries: qs.len() as u64,
        ..RunSummary::default()
    };
    for q in &qs {
        let mut got: Vec<IntentSignal> = Vec::new();
        let mut received = 0u64;
        for page in 1..=MAX_PAGES {
            let p = provider.search_page(q, page).await?;
            summary.pages += 1;
            for raw in p.signals {
                received += 1;
                match raw.parse(provider.name(), now) {
                    Ok(s) => got.push(s),
                    Err(e) => {
                        summary.rejected += 1;
                        tracing::warn!(topic = %q.topic, error = %e, "intent signal refused");
                    }
                }
            }
            if !p.has_more || received >= u64::from(q.limit) {
                break;
            }
        }
        summary.received += received;
        summary.added += blocking(&store, move |s| store_signals(s, ws, &got, now)).await?;
    }
    summary.leads_changed = blocking(&store, move |s| recompute_intent(s, ws, now)).await?;
    Ok(summary)
}

/// Weekly volume per topic over the last `weeks` weeks.
pub fn trends(
    store: &dyn Store,
    ws: WorkspaceId,
    now: i64,
    weeks: u32,
) -> Result<Vec<TopicTrend>, IntentError> {
    let weeks = weeks.clamp(2, 104);
    let signals = store.intent_signals_since(ws, now - i64::from(weeks) * 7 * DAY_MS)?;
    Ok(weekly_trends(
        signals.iter().map(|s| (s.topic.as_str(), s.observed_at)),
        now,
        weeks,
    ))
}

/// The workspace's intent at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentStats {
    /// Leads by their stored level.
    pub leads: Breakdown,
    /// Companies (domains) with signals in the window, by the level their
    /// own signals add up to.
    pub companies: Breakdown,
    pub signals_in_window: u64,
    pub window_days: i64,
}

pub fn stats(store: &dyn Store, ws: WorkspaceId, now: i64) -> Result<IntentStats, IntentError> {
    let signals = store.intent_signals_since(ws, now - LEVEL_WINDOW_DAYS * DAY_MS)?;
    let mut by_domain: HashMap<&str, Vec<leadgen_core::intent::Strength>> = HashMap::new();
    for s in signals.iter().filter(|s| s.subject == SubjectKind::Company) {
        by_domain
            .entry(s.key.as_str())
            .or_default()
            .push(s.strength);
    }
    let mut counts: HashMap<IntentLevel, u64> = HashMap::new();
    for strengths in by_domain.into_values() {
        *counts.entry(level_of(strengths)).or_default() += 1;
    }
    Ok(IntentStats {
        leads: Breakdown::of(store.leads_by_intent(ws)?),
        companies: Breakdown::of(counts),
        signals_in_window: signals.len() as u64,
        window_days: LEVEL_WINDOW_DAYS,
    })
}

/// Hot and warm leads ready to push (see `IntentStore::leads_ready_for_upload`).
pub fn ready_leads(
    store: &dyn Store,
    ws: WorkspaceId,
    min_score: u8,
    verified_only: bool,
    limit: u32,
) -> Result<Vec<Lead>, IntentError> {
    let ids = store.leads_ready_for_upload(ws, min_score, verified_only, limit)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(l) = store.get_lead(ws, id)? {
            out.push(l);
        }
    }
    Ok(out)
}

/// `run_intent`: the daily run as a job (on cron by default), for the job's
/// workspace, with the provider's URL and key read through `env`. Without a
/// provider key or an active query there is nothing to pull: the job ends
/// saying so instead of failing every day.
pub fn run_spec_with(env: crate::discovery::EnvLookup) -> leadgen_jobs::HandlerSpec {
    use leadgen_integrations::intent::{DataShopperClient, ENV_NAME};
    use leadgen_jobs::{HandlerError, JobContext, Outcome};
    let mut spec = leadgen_jobs::HandlerSpec::new(
        leadgen_core::job::types::RUN_INTENT,
        move |ctx: JobContext| {
            let env = env.clone();
            async move {
                let (store, ws, now) =
                    (ctx.store()?.clone(), ctx.job.workspace, ctx.clock.now_ms());
                let client = match DataShopperClient::from_lookup(|k| env(k)) {
                    Ok(c) => c,
                    Err(_) => {
                        return Ok(Outcome::new(serde_json::json!({
                            "skipped": format!("no intent provider: set LEADGEN_{ENV_NAME}_API_KEY")
                        })));
                    }
                };
                let active = blocking(&store, move |s| queries(s, ws))
                    .await
                    .map_err(|e| HandlerError::retry(e.to_string()))?;
                if active.is_empty() {
                    return Ok(Outcome::new(
                        serde_json::json!({"skipped": "no active intent queries"}),
                    ));
                }
                match run_intent(store, ws, &client, now).await {
                    Ok(summary) => Ok(Outcome::new(serde_json::json!(summary))),
                    Err(IntentError::Provider(e)) => Err(crate::discovery::handler_error(e)),
                    Err(e) => Err(HandlerError::retry(e.to_string())),
                }
            }
        },
    );
    spec.max_attempts = 3;
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn columns_are_found_by_header_or_named() {
        let h = headers(&["Company Website", "Intent Topic", "Composite Score", "Week"]);
        let m = IntentMapping::of(&h, &[]).unwrap();
        assert_eq!(m.columns[&IntentColumn::Domain], 0);
        assert_eq!(m.columns[&IntentColumn::Topic], 1);
        assert_eq!(m.columns[&IntentColumn::Score], 2);
        assert_eq!(m.columns[&IntentColumn::DetectedAt], 3);
        let odd = headers(&["acct", "subject"]);
        assert!(IntentMapping::of(&odd, &[]).is_err());
        let named = IntentMapping::of(
            &odd,
            &[
                (IntentColumn::Domain, "acct".into()),
                (IntentColumn::Topic, "subject".into()),
            ],
        )
        .unwrap();
        assert_eq!(named.columns.len(), 2);
        let err = IntentMapping::of(&odd, &[(IntentColumn::Topic, "nope".into())]).unwrap_err();
        assert!(err.to_string().contains("no such column"), "{err}");
    }

    #[test]
    fn webhook_signals_take_flat_or_nested_fields() {
        let v: Value = serde_json::json!({"company": {"domain": "acme.com"}, "intent_topic": "crm",
            "intent_score": 91, "detected_at": 1764547200});
        let r = raw_from_json(&v);
        assert_eq!(r.domain.as_deref(), Some("acme.com"));
        assert_eq!(r.score.as_deref(), Some("91"));
        assert_eq!(r.detected_at.as_deref(), Some("1764547200"));
    }
}
