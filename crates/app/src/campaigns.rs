//! Campaigns: a segment's leads pushed to Instantly in recorded batches,
//! Instantly's webhook events turned into lifecycle, suppression and CRM
//! pushes, and the NovaCRM push.
//!
//! Every outbound path checks the suppression list right before it sends:
//! `push_to_instantly` drops suppressed members from each batch, and
//! `push_to_crm` refuses a suppressed lead.

use std::sync::Arc;

use leadgen_core::job::{NewJob, types};
use leadgen_core::lead::LifecycleStage;
use leadgen_core::reply::{ReplyClass, class_of_event, classify};
use leadgen_core::segment::Segment;
use leadgen_core::{Lead, LeadId, WorkspaceId};
use leadgen_integrations::instantly::{
    InstantlyClient, InstantlyLead, MAX_BATCH, RATE_BURST, RATE_PER_SECOND, Schedule,
};
use leadgen_integrations::novacrm::{Capture, NovaCrmClient};
use leadgen_jobs::{HandlerError, HandlerSpec, JobContext, Outcome, RateLimit};
use leadgen_store::campaigns::member;
use leadgen_store::{
    Campaign, LeadFilter, Store, StoreError, Suppression, SuppressionKind, SuppressionReason,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::discovery::{EnvLookup, handler_error, store_error};

/// Leads per Instantly request, at most (the vendor's limit).
pub use leadgen_integrations::instantly::MAX_BATCH as MAX_PUSH_BATCH;

/// Why a campaign operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("segment {0}")]
    Segment(#[from] leadgen_core::segment::ParseError),
    #[error("no campaign {0}")]
    NotFound(i64),
    /// The campaign's status does not allow the action.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A segment's size and a few of its leads.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub count: u64,
    pub sample: Vec<Lead>,
    /// Time the count took, in milliseconds (the sample is extra).
    pub count_ms: u64,
}

pub fn segment_filter(text: &str) -> Result<LeadFilter, CampaignError> {
    Ok(LeadFilter {
        segment: Some(Segment::parse(text)?),
        ..LeadFilter::default()
    })
}

/// How many leads a segment selects, and the best-scored few.
pub fn preview(
    store: &dyn Store,
    ws: WorkspaceId,
    segment: &str,
    sample: u32,
) -> Result<Preview, CampaignError> {
    let filter = segment_filter(segment)?;
    let started = std::time::Instant::now();
    let count = store.count_leads(ws, &filter)?;
    let count_ms = started.elapsed().as_millis() as u64;
    let page = store.query_leads(
        ws,
        &leadgen_store::LeadQuery {
            filter,
            sort: leadgen_store::SortOrder::ScoreDesc,
            limit: sample,
            after: None,
        },
    )?;
    Ok(Preview {
        count,
        sample: page.leads,
        count_ms,
    })
}

/// Creates a campaign from a segment and adds its current leads; the id
/// and the number of members.
pub fn create(
    store: &dyn Store,
    ws: WorkspaceId,
    name: &str,
    segment: &str,
    now: i64,
) -> Result<(i64, u64), CampaignError> {
    let filter = segment_filter(segment)?;
    let id = store.create_campaign(ws, name, segment, now)?;
    let members = store.add_campaign_members(ws, id, &filter, now)?;
    Ok((id, members))
}

/// A campaign with its counts and event counters, for `campaigns show`.
pub fn show(store: &dyn Store, ws: WorkspaceId, id: i64) -> Result<Value, CampaignError> {
    let c = store
        .get_campaign(ws, id)?
        .ok_or(CampaignError::NotFound(id))?;
    let counts = store.campaign_counts(ws, id)?;
    let events: serde_json::Map<String, Value> = match &c.instantly_campaign_id {
        Some(iid) => store
            .webhook_counts(ws, INSTANTLY, iid)?
            .into_iter()
            .map(|(k, n)| (k, n.into()))
            .collect(),
        None => serde_json::Map::new(),
    };
    let analytics: Value = serde_json::from_str(&c.metrics).unwrap_or_else(|_| json!({}));
    let summary = metrics(&counts, &events, &analytics);
    Ok(json!({
        "campaign": c,
        "counts": counts,
        "events": events,
        "instantly_analytics": analytics,
        "metrics": summary,
    }))
}

/// The figures a campaign is judged by. Sent, opened, replied and bounced
/// come from two sources that each can lag: Instantly's webhook events
/// (counted as they arrive; a delivery can be lost) and its analytics
/// (pulled on a schedule); each figure is the larger of the two.
pub fn metrics(
    counts: &leadgen_store::CampaignCounts,
    events: &serde_json::Map<String, Value>,
    analytics: &Value,
) -> Value {
    let both = |event: &str, counter: &str| {
        let e = events.get(event).and_then(Value::as_u64).unwrap_or(0);
        let a = analytics.get(counter).and_then(Value::as_u64).unwrap_or(0);
        e.max(a)
    };
    json!({
        "leads": counts.leads,
        "pushed": counts.pushed,
        "sent": both("email_sent", "emails_sent_count"),
        "opened": both("email_opened", "open_count"),
        "replied": both("reply_received", "reply_count"),
        "bounced": both("email_bounced", "bounced_count"),
        "positive_replies": counts.positive_replies,
        "pushed_to_crm": counts.pushed_to_crm,
    })
}

/// Campaign statuses.
pub mod status {
    pub const DRAFT: &str = "draft";
    pub const LOADING: &str = "loading";
    pub const ACTIVE: &str = "active";
    pub const PAUSED: &str = "paused";
    pub const COMPLETED: &str = "completed";
}

/// The campaign, unless it is missing or completed (it cannot be `done`).
fn not_completed(
    store: &dyn Store,
    ws: WorkspaceId,
    id: i64,
    done: &str,
) -> Result<Campaign, CampaignError> {
    let c = store
        .get_campaign(ws, id)?
        .ok_or(CampaignError::NotFound(id))?;
    if c.status == status::COMPLETED {
        return Err(CampaignError::Conflict(format!(
            "campaign {id} is completed and cannot be {done}"
        )));
    }
    Ok(c)
}

/// Queues the upload of a campaign's leads (and of leads that joined its
/// segment since): the campaign goes to `loading`, so a paused one
/// resumes. The job's id.
pub fn enqueue_push(
    store: &dyn Store,
    ws: WorkspaceId,
    id: i64,
    batch_size: usize,
    now: i64,
) -> Result<i64, CampaignError> {
    not_completed(store, ws, id, "pushed")?;
    store.set_campaign_status(ws, id, status::LOADING, now)?;
    let ids = store.enqueue(&[push_job(ws, id, batch_size)], now)?;
    Ok(ids.first().copied().flatten().unwrap_or_default())
}

/// Pauses a campaign: a running push stops before its next batch, and no
/// batch starts until the campaign is pushed again. Sending that Instantly
/// already does is not paused there.
pub fn pause(
    store: &dyn Store,
    ws: WorkspaceId,
    id: i64,
    now: i64,
) -> Result<Campaign, CampaignError> {
    not_completed(store, ws, id, "paused")?;
    store.set_campaign_status(ws, id, status::PAUSED, now)?;
    store
        .get_campaign(ws, id)?
        .ok_or(CampaignError::NotFound(id))
}

/// Whether the campaign was paused (or removed) since the push started.
async fn paused(store: &Arc<dyn Store>, ws: WorkspaceId, id: i64) -> Result<bool, HandlerError> {
    let c = blocking(store, move |s| s.get_campaign(ws, id)).await?;
    Ok(c.is_none_or(|c| c.status == status::PAUSED))
}

/// The push job for a campaign.
pub fn push_job(ws: WorkspaceId, campaign: i64, batch_size: usize) -> NewJob {
    let payload = json!({ "campaign": campaign, "batch_size": batch_size });
    NewJob::new(ws, types::PUSH_TO_INSTANTLY, &payload.to_string())
}

pub const INSTANTLY: &str = "instantly";

#[derive(Debug, Deserialize)]
struct PushPayload {
    campaign: i64,
    #[serde(default = "max_batch")]
    batch_size: usize,
}

fn max_batch() -> usize {
    MAX_BATCH
}

/// Runs a store call off the async threads.
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, HandlerError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&*store))
        .await
        .map_err(|e| HandlerError::retry(format!("store task: {e}")))?
        .map_err(store_error)
}

/// The shared Instantly bucket of a workspace (every worker on the store).
pub fn instantly_rate(ws: WorkspaceId) -> RateLimit {
    RateLimit {
        bucket: format!("instantly:{ws}"),
        per_second: RATE_PER_SECOND,
        burst: RATE_BURST,
    }
}

fn to_instantly(lead: &Lead, email: String) -> InstantlyLead {
    let mut custom = serde_json::Map::new();
    custom.insert("leadgen_id".into(), lead.id.into());
    InstantlyLead {
        email,
        first_name: lead.first_name.clone(),
        last_name: lead.last_name.clone(),
        company_name: lead.company_name.clone(),
        job_title: lead.title.clone(),
        phone: lead.phone.as_ref().map(|p| p.e164().to_owned()),
        website: lead.company_domain.as_ref().map(|d| d.as_str().to_owned()),
        custom_variables: custom,
    }
}

/// `push_to_instantly`: creates the Instantly campaign if needed, then
/// uploads the campaign's members in recorded batches until none is left.
pub fn push_spec_with(env: EnvLookup) -> HandlerSpec {
    let mut spec = HandlerSpec::new(types::PUSH_TO_INSTANTLY, move |ctx: JobContext| {
        let env = env.clone();
        async move {
            let p: PushPayload = ctx.payload()?;
            let size = p.batch_size.clamp(1, MAX_BATCH);
            let client = InstantlyClient::from_lookup(|k| env(k)).map_err(handler_error)?;
            push(&ctx, &client, p.campaign, size).await
        }
    });
    spec.max_attempts = 10;
    spec
}

async fn push(
    ctx: &JobContext,
    client: &InstantlyClient,
    campaign: i64,
    size: usize,
) -> Result<Outcome, HandlerError> {
    let ws = ctx.job.workspace;
    let store = ctx.store()?;
    let now = ctx.clock.now_ms();
    let c: Campaign = blocking(store, move |s| s.get_campaign(ws, campaign))
        .await?
        .ok_or_else(|| HandlerError::Permanent(format!("no campaign {campaign}")))?;
    if c.status == status::PAUSED {
        return Ok(Outcome::new(
            json!({ "campaign": campaign, "paused": true, "batches": 0, "pushed": 0 }),
        ));
    }
    // Leads that joined the segment since the campaign was created.
    let filter = segment_filter(&c.segment).map_err(|e| HandlerError::Permanent(e.to_string()))?;
    blocking(store, move |s| {
        s.add_campaign_members(ws, campaign, &filter, now)
    })
    .await?;
    let instantly_id = match c.instantly_campaign_id.clone() {
        Some(id) => id,
        None => {
            ctx.rate_limit(&instantly_rate(ws)).await?;
            let id = client
                .create_campaign(&c.name, &Schedule::default())
                .await
                .map_err(handler_error)?;
            let rec = id.clone();
            // The status stays as it is (`loading` from `enqueue_push`), so
            // a pause that came meanwhile holds.
            blocking(store, move |s| {
                s.set_instantly_campaign(ws, campaign, &rec, now)
            })
            .await?;
            id
        }
    };
    let (mut batches, mut pushed, mut suppressed) = (0u64, 0u64, 0u64);
    let mut stopped = false;
    loop {
        if paused(store, ws, campaign).await? {
            stopped = true;
            break;
        }
        let now = ctx.clock.now_ms();
        let Some(batch) =
            blocking(store, move |s| s.next_push_batch(ws, campaign, size, now)).await?
        else {
            break;
        };
        // The suppression list is read right before the call.
        let members = batch.members.clone();
        let (send, dropped) = blocking(store, move |s| {
            let emails: Vec<String> = members.iter().filter_map(|m| m.email.clone()).collect();
            let blocked = s.filter_suppressed(ws, &emails)?;
            let mut send = Vec::new();
            let mut dropped = Vec::new();
            for m in members {
                match m.email {
                    Some(e) if !blocked.contains(&e) => {
                        if let Some(lead) = s.get_lead(ws, m.lead)? {
                            send.push(to_instantly(&lead, e));
                        }
                    }
                    _ => dropped.push(m.lead),
                }
            }
            s.set_member_state(ws, campaign, &dropped, member::SUPPRESSED, now)?;
            Ok((send, dropped))
        })
        .await?;
        suppressed += dropped.len() as u64;
        let mut done: Vec<(LeadId, Option<String>)> = Vec::new();
        if !send.is_empty() {
            ctx.rate_limit(&instantly_rate(ws)).await?;
            // Always with skip_if_in_campaign: a batch in doubt may have
            // reached Instantly already, and a fresh one loses nothing.
            let r = client
                .add_leads(&instantly_id, &send, true)
                .await
                .map_err(handler_error)?;
            let ids: Vec<LeadId> = send
                .iter()
                .map(|l| {
                    l.custom_variables
                        .get("leadgen_id")
                        .and_then(Value::as_i64)
                        .unwrap_or_default()
                })
                .collect();
            let mut vendor: Vec<Option<String>> = vec![None; ids.len()];
            for created in r.created_leads {
                if let Some(slot) = vendor.get_mut(created.index) {
                    *slot = Some(created.id);
                }
            }
            done = ids.into_iter().zip(vendor).collect();
        }
        pushed += done.len() as u64;
        batches += 1;
        let (batch_id, at) = (batch.id, ctx.clock.now_ms());
        blocking(store, move |s| s.finish_push_batch(ws, batch_id, &done, at)).await?;
    }
    if !stopped {
        let at = ctx.clock.now_ms();
        blocking(store, move |s| {
            s.set_campaign_status(ws, campaign, status::ACTIVE, at)
        })
        .await?;
    }
    Ok(Outcome::new(json!({
        "campaign": campaign,
        "instantly_campaign_id": instantly_id,
        "batches": batches,
        "pushed": pushed,
        "suppressed": suppressed,
        "paused": stopped,
    })))
}

/// `pull_instantly_analytics`: copies Instantly's counters of every pushed
/// campaign into the campaign's metrics (scheduled by cron).
pub const PULL_ANALYTICS: &str = "pull_instantly_analytics";

pub fn analytics_spec_with(env: EnvLookup) -> HandlerSpec {
    let mut spec = HandlerSpec::new(PULL_ANALYTICS, move |ctx: JobContext| {
        let env = env.clone();
        async move {
            let ws = ctx.job.workspace;
            let client = InstantlyClient::from_lookup(|k| env(k)).map_err(handler_error)?;
            let campaigns = blocking(ctx.store()?, move |s| s.list_campaigns(ws)).await?;
            let mut updated = 0;
            for c in campaigns {
                let Some(iid) = c.instantly_campaign_id.clone() else {
                    continue;
                };
                ctx.rate_limit(&instantly_rate(ws)).await?;
                let Some(a) = client.analytics(&iid).await.map_err(handler_error)? else {
                    continue;
                };
                let text = serde_json::to_string(&a).unwrap_or_else(|_| "{}".into());
                let now = ctx.clock.now_ms();
                blocking(ctx.store()?, move |s| {
                    s.set_campaign_metrics(ws, c.id, &text, now)
                })
                .await?;
                updated += 1;
            }
            Ok(Outcome::new(json!({ "campaigns_updated": updated })))
        }
    });
    spec.max_attempts = 3;
    spec
}

// ------------------------------------------------------------- webhooks

/// What processing one Instantly event did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventEffects {
    pub leads: Vec<LeadId>,
    pub suppressed: bool,
    pub class: Option<ReplyClass>,
    pub crm_jobs: u32,
}

/// The key that makes two deliveries of one Instantly event the same:
/// the type, the lead, the campaign, the step and the email id when given,
/// and the timestamp.
pub fn instantly_dedupe_key(v: &Value) -> Option<String> {
    let s = |k: &str| v.get(k).map(|x| x.to_string()).unwrap_or_default();
    let ty = v.get("event_type")?.as_str()?;
    let ts = v.get("timestamp")?;
    Some(format!(
        "{ty}|{}|{}|{}|{}|{ts}",
        s("lead_email"),
        s("campaign_id"),
        s("step"),
        s("email_id")
    ))
}

/// Applies an Instantly event: lifecycle, suppression, reply class and,
/// for a positive reply, a `push_to_crm` job (one per campaign and lead).
pub fn process_instantly_event(
    store: &dyn Store,
    ws: WorkspaceId,
    v: &Value,
    now: i64,
) -> Result<EventEffects, StoreError> {
    let ty = v.get("event_type").and_then(Value::as_str).unwrap_or("");
    let email = v.get("lead_email").and_then(Value::as_str).unwrap_or("");
    let mut fx = EventEffects::default();
    if email.is_empty() {
        return Ok(fx);
    }
    fx.leads = store.lead_ids_by_email(ws, email)?;
    let campaign = match v.get("campaign_id").and_then(Value::as_str) {
        Some(iid) => store.campaign_by_instantly_id(ws, iid)?,
        None => None,
    };
    let reply_text = ["reply_text", "reply_text_snippet", "email_text"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str));
    fx.class = match ty {
        "reply_received" => Some(reply_text.map_or(ReplyClass::Unclear, classify)),
        _ => class_of_event(ty),
    };
    let suppress = match (ty, fx.class) {
        ("email_bounced", _) => Some(SuppressionReason::HardBounce),
        ("lead_unsubscribed", _) | (_, Some(ReplyClass::UnsubscribeRequest)) => {
            Some(SuppressionReason::Unsubscribed)
        }
        _ => None,
    };
    if let Some(reason) = suppress {
        let entry = Suppression::for_email(email, SuppressionKind::Email, reason, INSTANTLY, now);
        store.suppress(ws, &entry)?;
        fx.suppressed = true;
    }
    let stage = match (ty, fx.class) {
        ("lead_meeting_booked" | "lead_meeting_completed", _) => Some(LifecycleStage::Meeting),
        ("lead_closed", _) => Some(LifecycleStage::Won),
        (_, Some(ReplyClass::Negative | ReplyClass::UnsubscribeRequest)) => {
            Some(LifecycleStage::Lost)
        }
        ("reply_received", _) | (_, Some(ReplyClass::Positive)) => Some(LifecycleStage::Replied),
        ("email_sent" | "email_opened" | "link_clicked", _) => Some(LifecycleStage::Contacted),
        _ => None,
    };
    for lead in &fx.leads {
        if let Some(stage) = stage {
            // Never move a lead backwards: a late `email_sent` after a reply.
            let current = store.get_lead(ws, *lead)?.map(|l| l.lifecycle);
            if current.is_some_and(|c| rank(c) < rank(stage)) {
                store.set_lead_lifecycle(ws, *lead, stage, now)?;
            }
        }
        if fx.class == Some(ReplyClass::Positive)
            && let Some(c) = &campaign
        {
            let payload = json!({ "campaign": c.id, "lead": lead, "interest": ty });
            let mut job = NewJob::new(ws, types::PUSH_TO_CRM, &payload.to_string());
            job.unique_key = Some(leadgen_store::campaigns::crm_job_key(c.id, *lead));
            if store.enqueue(&[job], now)?[0].is_some() {
                fx.crm_jobs += 1;
            }
        }
    }
    Ok(fx)
}

fn rank(s: LifecycleStage) -> u8 {
    match s {
        LifecycleStage::New => 0,
        LifecycleStage::Contacted => 1,
        LifecycleStage::Replied => 2,
        LifecycleStage::Meeting => 3,
        LifecycleStage::Won | LifecycleStage::Lost => 4,
    }
}

// ------------------------------------------------------------ NovaCRM

#[derive(Debug, Deserialize)]
struct CrmPayload {
    campaign: i64,
    lead: LeadId,
    #[serde(default)]
    interest: String,
}

/// A URL-safe form of a campaign name, for `utm_campaign` and `page_slug`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// The capture NovaCRM gets for a lead of a campaign.
pub fn capture_of(lead: &Lead, email: &str, campaign: &Campaign, interest: &str) -> Capture {
    let slug = slug(&campaign.name);
    Capture {
        name: lead.full_name().unwrap_or_else(|| email.to_owned()),
        email: email.to_owned(),
        phone: lead
            .phone
            .as_ref()
            .or(lead.mobile.as_ref())
            .map(|p| p.e164().to_owned()),
        organization_name: lead.company_name.clone(),
        role: lead.title.clone(),
        interest: format!("{} ({interest})", campaign.name),
        source: "leadgen".into(),
        page_slug: slug.clone(),
        utm_source: INSTANTLY.into(),
        utm_medium: "email".into(),
        utm_campaign: slug,
    }
}

/// `push_to_crm`: captures a lead at NovaCRM once, records its id, moves
/// it to `pushed_to_crm`. A suppressed lead is refused.
pub fn crm_spec_with(env: EnvLookup) -> HandlerSpec {
    let mut spec = HandlerSpec::new(types::PUSH_TO_CRM, move |ctx: JobContext| {
        let env = env.clone();
        async move {
            let p: CrmPayload = ctx.payload()?;
            let ws = ctx.job.workspace;
            let (campaign, lead) = (p.campaign, p.lead);
            if let Some(id) =
                blocking(ctx.store()?, move |s| s.member_crm_id(ws, campaign, lead)).await?
            {
                return Ok(Outcome::new(json!({ "crm_id": id, "already": true })));
            }
            let (c, l) = blocking(ctx.store()?, move |s| {
                Ok((s.get_campaign(ws, campaign)?, s.get_lead(ws, lead)?))
            })
            .await?;
            let (Some(c), Some(l)) = (c, l) else {
                return Err(HandlerError::Permanent(format!(
                    "campaign {campaign} or lead {lead} is gone"
                )));
            };
            let Some(email) = l.email.as_ref().map(|e| e.as_str().to_owned()) else {
                return Err(HandlerError::Permanent(format!("lead {lead} has no email")));
            };
            let check = email.clone();
            if let Some(reason) =
                blocking(ctx.store()?, move |s| s.suppressed_reason(ws, &check)).await?
            {
                return Ok(Outcome::new(
                    json!({ "skipped": "suppressed", "reason": reason.as_str() }),
                ));
            }
            let client = NovaCrmClient::from_lookup(|k| env(k)).map_err(handler_error)?;
            let id = client
                .capture(&capture_of(&l, &email, &c, &p.interest))
                .await
                .map_err(handler_error)?;
            let rec = id.clone();
            let now = ctx.clock.now_ms();
            blocking(ctx.store()?, move |s| {
                s.set_member_crm_id(ws, campaign, lead, &rec, now)
            })
            .await?;
            Ok(Outcome::new(json!({ "crm_id": id })))
        }
    });
    spec.max_attempts = 5;
    spec
}
