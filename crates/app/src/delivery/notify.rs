//! Notifications to the workspace's channels (Slack, email, webhooks):
//! a scraper run completed, a campaign is low on leads, a campaign's bounce
//! rate is high. Each is keyed so it goes out once: a run once, a
//! campaign's warning once per UTC day.
//!
//! "Run completed" is hooked into the job queue: every job of a scraper
//! run that completes enqueues a `notify_run_completed` follow-up in its
//! completion transaction ([`with_run_notice`]); the follow-up notifies
//! only when the run has finished, so the last job's follow-up is the one
//! that sends. (A run whose last job *failed* finishes without a
//! follow-up and is not announced.)

use std::sync::Arc;

use leadgen_core::ads::date_of_ms;
use leadgen_core::job::{NewJob, RunStatus};
use leadgen_jobs::{HandlerError, HandlerSpec, JobContext, Outcome};
use serde::Deserialize;
use serde_json::json;

use super::{ChannelResult, DeliveryService, EnvLookup, Notification};

pub const NOTIFY_RUN_COMPLETED: &str = "notify_run_completed";
/// Bounce rate (0–1) at or above which a campaign is reported.
pub const BOUNCE_THRESHOLD_ENV: &str = "LEADGEN_NOTIFY_BOUNCE_RATE";
pub const DEFAULT_BOUNCE_THRESHOLD: f64 = 0.05;

impl DeliveryService {
    /// A scraper run finished.
    pub async fn notify_run_completed(&self, run: &leadgen_core::job::Run) -> Vec<ChannelResult> {
        let cost = run.cost_micros as f64 / 1e6;
        self.notify(&Notification {
            event: "run.completed".into(),
            key: format!("run.completed:{}", run.id),
            subject: format!("Run {} ({}) completed", run.name, run.kind),
            text: format!(
                "{} jobs done ({} failed); {} companies and {} leads found; cost ${cost:.2}.",
                run.completed_jobs + run.failed_jobs,
                run.failed_jobs,
                run.companies_found,
                run.leads_found
            ),
            data: json!({
                "run_id": run.id, "kind": run.kind, "name": run.name,
                "completed_jobs": run.completed_jobs, "failed_jobs": run.failed_jobs,
                "companies_found": run.companies_found, "leads_found": run.leads_found,
                "cost_usd": cost,
            }),
        })
        .await
    }

    /// A campaign has only `remaining` leads left to send to; once per
    /// campaign and UTC day.
    pub async fn notify_low_leads(
        &self,
        campaign_name: &str,
        remaining: u64,
    ) -> Vec<ChannelResult> {
        let day = date_of_ms(leadgen_jobs::now_ms());
        self.notify(&Notification {
            event: "campaign.low_leads".into(),
            key: format!("campaign.low_leads:{campaign_name}:{day}"),
            subject: format!("Campaign {campaign_name} is low on leads"),
            text: format!(
                "{remaining} leads left to contact. Add leads matching its segment or widen it."
            ),
            data: json!({"campaign": campaign_name, "remaining": remaining}),
        })
        .await
    }

    /// The campaign's bounce rate (0–1); notifies once per campaign and
    /// UTC day when it reaches the threshold (`LEADGEN_NOTIFY_BOUNCE_RATE`,
    /// default 0.05). Nothing is sent below it (an empty list).
    pub async fn notify_bounce_rate(&self, campaign_name: &str, rate: f64) -> Vec<ChannelResult> {
        let threshold = self.bounce_threshold();
        if !rate.is_finite() || rate < threshold {
            return Vec::new();
        }
        let day = date_of_ms(leadgen_jobs::now_ms());
        self.notify(&Notification {
            event: "campaign.bounce_rate".into(),
            key: format!("campaign.bounce_rate:{campaign_name}:{day}"),
            subject: format!("Campaign {campaign_name}: bounce rate {:.1}%", rate * 100.0),
            text: format!(
                "{:.1}% of sent emails bounced (threshold {:.1}%). Pause the campaign and re-verify its leads.",
                rate * 100.0,
                threshold * 100.0
            ),
            data: json!({"campaign": campaign_name, "bounce_rate": rate, "threshold": threshold}),
        })
        .await
    }

    /// `LEADGEN_NOTIFY_BOUNCE_RATE` as a fraction (`0.05` or `5%`).
    pub fn bounce_threshold(&self) -> f64 {
        (self.env)(BOUNCE_THRESHOLD_ENV)
            .and_then(|v| {
                let v = v.trim();
                match v.strip_suffix('%') {
                    Some(p) => p.trim().parse::<f64>().ok().map(|p| p / 100.0),
                    None => v.parse::<f64>().ok(),
                }
            })
            .filter(|t| t.is_finite() && *t > 0.0)
            .unwrap_or(DEFAULT_BOUNCE_THRESHOLD)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunNoticePayload {
    run: i64,
}

/// Wraps a scraper's handler: each of its jobs that completes as part of a
/// run enqueues a `notify_run_completed` follow-up (not part of the run).
pub fn with_run_notice(mut spec: HandlerSpec) -> HandlerSpec {
    let inner = spec.handler.clone();
    spec.handler = Arc::new(move |ctx: JobContext| {
        let inner = inner.clone();
        Box::pin(async move {
            let (run, ws, job) = (ctx.job.run, ctx.job.workspace, ctx.job.id);
            let outcome = inner(ctx).await?;
            Ok(match run {
                None => outcome,
                Some(run) => {
                    let mut next =
                        NewJob::new(ws, NOTIFY_RUN_COMPLETED, &json!({"run": run}).to_string());
                    next.unique_key = Some(format!("{NOTIFY_RUN_COMPLETED}:{run}:{job}"));
                    next.max_attempts = 3;
                    outcome.then(next)
                }
            })
        })
    });
    spec
}

/// `notify_run_completed {run}`: announces the run if it has completed.
pub fn run_completed_spec(env: EnvLookup) -> HandlerSpec {
    let mut spec = HandlerSpec::new(NOTIFY_RUN_COMPLETED, move |ctx: JobContext| {
        let env = env.clone();
        async move {
            let p: RunNoticePayload = ctx.payload()?;
            let (store, ws) = (ctx.store()?.clone(), ctx.job.workspace);
            let run = tokio::task::spawn_blocking(move || store.get_run(ws, p.run))
                .await
                .map_err(|e| HandlerError::retry(e.to_string()))?
                .map_err(|e| HandlerError::retry(format!("store: {e}")))?;
            let Some(run) = run.filter(|r| r.status == RunStatus::Completed) else {
                return Ok(Outcome::new(json!({"notified": false})));
            };
            let service = DeliveryService::for_workspace(ctx.store()?.clone(), ws, env)
                .map_err(|e| HandlerError::Permanent(e.to_string()))?;
            if !service.has_channels() {
                return Ok(Outcome::new(
                    json!({"notified": false, "reason": "no channels"}),
                ));
            }
            let results = service.notify_run_completed(&run).await;
            let failed: Vec<String> = results
                .iter()
                .filter_map(|r| match &r.status {
                    super::SendStatus::Failed { error } => Some(format!("{}: {error}", r.channel)),
                    _ => None,
                })
                .collect();
            // Channels that delivered are in the ledger; a retry sends only
            // the failed ones again.
            if !failed.is_empty() {
                return Err(HandlerError::retry(failed.join("; ")));
            }
            Ok(Outcome::new(
                json!({"notified": true, "results": results, "failed": failed}),
            ))
        }
    });
    spec.max_attempts = 3;
    spec
}
