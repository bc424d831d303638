//! Platform upload: hot and warm leads (by intent) go to the partner
//! platform of their industry — `tech`, `finance`, `healthcare`, `retail`,
//! `marketing`, else `general` — in batches, in the JSON format documented
//! in `docs/platform-upload.md`. Each platform's endpoint comes from
//! `LEADGEN_PLATFORM_<NAME>_BASE_URL` (bearer key `…_API_KEY`). A batch
//! is identified by its platform and lead ids; it is recorded per lead
//! (`platform_uploads`) after the platform accepted it, so the next upload
//! leaves those leads out, and its id travels as `Idempotency-Key`, so a
//! batch re-sent after a crash is recognised by the receiver.

use std::collections::BTreeMap;

use leadgen_core::lead::IntentLevel;
use leadgen_core::{Lead, WorkspaceId};
use leadgen_integrations::ServiceConfig;
use leadgen_integrations::http::RetryPolicy;
use leadgen_integrations::platform::{PlatformClient, env_name};
use leadgen_store::{LeadFilter, NewDelivery, Store};
use serde::Serialize;
use serde_json::{Value, json};

use super::{DeliveryError, DeliveryService, SendStatus};

pub const FORMAT: &str = "leadgen.platform-upload.v1";
pub const PLATFORMS: [&str; 6] = [
    "tech",
    "finance",
    "healthcare",
    "retail",
    "marketing",
    "general",
];
/// Leads per upload request, unless `LEADGEN_PLATFORM_BATCH_SIZE` says.
pub const DEFAULT_BATCH: usize = 500;

/// The platform a lead's industry goes to.
pub fn platform_for(industry: Option<&str>) -> &'static str {
    let Some(i) = industry.map(str::to_ascii_lowercase) else {
        return "general";
    };
    let has = |words: &[&str]| words.iter().any(|w| i.contains(w));
    if has(&[
        "tech",
        "software",
        "saas",
        "information technology",
        "computer",
        "internet",
        "it services",
    ]) {
        "tech"
    } else if has(&[
        "financ",
        "bank",
        "insurance",
        "accounting",
        "investment",
        "fintech",
        "credit",
    ]) {
        "finance"
    } else if has(&[
        "health", "medical", "dental", "dentist", "clinic", "hospital", "pharma", "care",
    ]) {
        "healthcare"
    } else if has(&[
        "retail",
        "commerce",
        "store",
        "shop",
        "consumer goods",
        "apparel",
    ]) {
        "retail"
    } else if has(&[
        "marketing",
        "advertising",
        "media",
        "agency",
        "public relations",
    ]) {
        "marketing"
    } else {
        "general"
    }
}

/// A lead as uploads and webhooks carry it.
pub fn lead_json(l: &Lead) -> Value {
    json!({
        "id": l.id,
        "email": l.email.as_ref().map(|e| e.as_str()),
        "first_name": l.first_name,
        "last_name": l.last_name,
        "full_name": l.full_name(),
        "title": l.title,
        "phone": l.phone.as_ref().map(|p| p.e164()),
        "linkedin": l.linkedin.as_ref().map(|u| u.as_str()),
        "company": {
            "name": l.company_name,
            "domain": l.company_domain.as_ref().map(|d| d.as_str()),
            "industry": l.industry,
            "employees": l.employee_count,
            "revenue": l.revenue,
        },
        "location": {
            "city": l.city,
            "state": l.state,
            "country": l.country.as_ref().map(|c| c.as_str()),
            "postal_code": l.postal_code,
        },
        "score": l.score,
        "tier": l.tier.as_str(),
        "intent": l.intent.as_str(),
        "tags": l.tags,
        "source": l.source,
    })
}

/// One batch for one platform.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformBatch {
    pub platform: String,
    pub batch_id: String,
    pub lead_ids: Vec<i64>,
    #[serde(skip)]
    pub body: Value,
}

/// What an upload did, per batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchResult {
    pub platform: String,
    pub batch_id: String,
    pub leads: usize,
    #[serde(flatten)]
    pub status: SendStatus,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UploadReport {
    pub dry_run: bool,
    /// Hot and warm leads considered.
    pub candidates: u64,
    /// Left out: already uploaded to their platform.
    pub already_uploaded: u64,
    /// Left out: on the suppression list.
    pub suppressed: u64,
    pub batches: Vec<BatchResult>,
}

fn batch_id(platform: &str, ids: &[i64]) -> String {
    let mut bytes = Vec::with_capacity(ids.len() * 8);
    for id in ids {
        bytes.extend_from_slice(&id.to_le_bytes());
    }
    format!("{platform}-{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
}

/// The batches an upload would send now: hot and warm leads not yet
/// uploaded to their platform, by platform, in id order.
pub fn plan_upload(
    store: &dyn Store,
    ws: WorkspaceId,
    batch_size: usize,
    now_ms: i64,
    report: &mut UploadReport,
) -> Result<Vec<PlatformBatch>, DeliveryError> {
    let mut by_platform: BTreeMap<&'static str, Vec<Lead>> = BTreeMap::new();
    store
        .export_leads(ws, &LeadFilter::default(), &mut |l| {
            if matches!(l.intent, IntentLevel::Hot | IntentLevel::Warm) {
                by_platform
                    .entry(platform_for(l.industry.as_deref()))
                    .or_default()
                    .push(l);
            }
            Ok(())
        })
        .map_err(|e| DeliveryError::Config(format!("reading leads: {e}")))?;
    let mut out = Vec::new();
    for (platform, leads) in by_platform {
        report.candidates += leads.len() as u64;
        let done: std::collections::HashSet<i64> = store
            .uploaded_to_platform(ws, platform)?
            .into_iter()
            .collect();
        let before = leads.len();
        let fresh: Vec<Lead> = leads
            .into_iter()
            .filter(|l| !done.contains(&l.id))
            .collect();
        report.already_uploaded += (before - fresh.len()) as u64;
        let (fresh, dropped) = super::drop_suppressed(store, ws, fresh)?;
        report.suppressed += dropped;
        for chunk in fresh.chunks(batch_size.max(1)) {
            let ids: Vec<i64> = chunk.iter().map(|l| l.id).collect();
            let id = batch_id(platform, &ids);
            let body = json!({
                "format": FORMAT,
                "platform": platform,
                "batch_id": id,
                "generated_at": now_ms,
                "count": chunk.len(),
                "leads": chunk.iter().map(lead_json).collect::<Vec<_>>(),
            });
            out.push(PlatformBatch {
                platform: platform.to_owned(),
                batch_id: id,
                lead_ids: ids,
                body,
            });
        }
    }
    Ok(out)
}

/// Uploads every planned batch (or, with `dry_run`, only plans them). A
/// platform without an endpoint fails its batches with the variable to
/// set; the other platforms still upload.
pub async fn upload_to_platforms(
    service: &DeliveryService,
    policy: RetryPolicy,
    dry_run: bool,
) -> Result<UploadReport, DeliveryError> {
    let env = service.env.clone();
    let batch_size = env("LEADGEN_PLATFORM_BATCH_SIZE")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_BATCH);
    let (store, ws) = (service.store().clone(), service.workspace());
    let now = leadgen_jobs::now_ms();
    let (batches, mut report) = tokio::task::spawn_blocking(move || {
        let mut report = UploadReport::default();
        plan_upload(store.as_ref(), ws, batch_size, now, &mut report).map(|b| (b, report))
    })
    .await
    .map_err(|e| DeliveryError::Config(e.to_string()))??;
    report.dry_run = dry_run;
    let client = PlatformClient::new()?.with_policy(policy);
    for b in batches {
        let leads = b.lead_ids.len();
        let result = |status| BatchResult {
            platform: b.platform.clone(),
            batch_id: b.batch_id.clone(),
            leads,
            status,
        };
        if dry_run {
            report.batches.push(result(SendStatus::Planned));
            continue;
        }
        let cfg = ServiceConfig::from_lookup(&env_name(&b.platform), "", |k| env(k));
        let d = NewDelivery {
            channel: "platform".into(),
            target: b.platform.clone(),
            event: "leads.upload".into(),
            idempotency_key: format!("platform:{}", b.batch_id),
        };
        let (client, body, id) = (client.clone(), b.body.clone(), b.batch_id.clone());
        let platform = b.platform.clone();
        let sent = service
            .send(d, async move {
                if cfg.base_url.is_empty() {
                    return Err(leadgen_integrations::IntegrationError::Config(format!(
                        "platform {platform}: no endpoint: set LEADGEN_{}_BASE_URL",
                        env_name(&platform)
                    )));
                }
                client.upload(&cfg, &id, &body).await
            })
            .await;
        if matches!(
            sent.status,
            SendStatus::Delivered | SendStatus::AlreadyDelivered
        ) {
            let (store, p, id, ids) = (
                service.store().clone(),
                b.platform.clone(),
                b.batch_id.clone(),
                b.lead_ids.clone(),
            );
            let now = leadgen_jobs::now_ms();
            tokio::task::spawn_blocking(move || {
                store.record_platform_upload(ws, &p, &id, &ids, now)
            })
            .await
            .map_err(|e| DeliveryError::Config(e.to_string()))??;
        }
        report.batches.push(result(sent.status));
    }
    Ok(report)
}
