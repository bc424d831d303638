//! Remote workers: the `/workers/*` wire format (shared with the server,
//! which implements the other side) and [`HttpSource`], the [`JobSource`] of
//! a worker that reaches the queue through `leadgen serve` instead of the
//! database.
//!
//! Every request carries `Authorization: Bearer <worker secret>`. Times on
//! the wire are durations (`lease_ms`, `retry_in_ms`, `due_in_ms`), so the
//! worker's and the server's clocks need not agree.
//!
//! Losing the server: a call that meets a connection error, a timeout, a
//! 429 or a 5xx is tried again with capped exponential backoff
//! ([`HttpOptions`]: 0.25 s doubling up to 30 s) until the server answers;
//! the change to unreachable and back is logged once each, not per try.
//! Meanwhile the worker claims nothing (its claim call is the one
//! waiting). When it is told to stop, waiting calls give up
//! ([`HttpSource::stop_retrying`]). Jobs it held are not lost either way:
//! their leases run out and the reaper gives them to a worker again, and
//! the ownership guards refuse a late result from this one. A retried
//! claim or completion whose first try did reach the server is harmless
//! for the same reasons (the jobs of a lost claim come back after their
//! lease; a repeated completion is answered `not_owned`), and the
//! `/workers/leads/batch` and `/workers/enrichments/*` writes carry an
//! idempotency key.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use leadgen_core::job::{
    Completion, CompletionOutcome, Effect, Failure, Job, JobId, JobStatus, RunDelta,
};
use leadgen_store::{ClaimRequest, Store};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::handler::BoxFuture;
use crate::source::JobSource;
use crate::{JobsError, Result};

/// Request and response bodies of the `/workers/jobs/*` endpoints.
pub mod wire {
    use super::*;

    /// `POST /workers/jobs/claim`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ClaimBody {
        pub worker: String,
        /// The job types the worker can run.
        pub types: Vec<String>,
        pub limit: u32,
        pub lease_ms: u64,
        /// Per-type caps on jobs in flight across all workers.
        #[serde(default)]
        pub caps: Vec<(String, u32)>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct ClaimReply {
        pub jobs: Vec<ClaimedJob>,
    }

    /// A claimed job as a remote worker sees it. `payload` (JSON text) may
    /// carry more than the stored payload: what the server looked up for a
    /// worker without the database (e.g. the email of a `validate_email`
    /// job's lead).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct ClaimedJob {
        pub id: JobId,
        pub workspace: i64,
        pub job_type: String,
        pub priority: u8,
        pub payload: String,
        pub attempts: u32,
        pub max_attempts: u32,
        pub run_at: i64,
        pub run: Option<i64>,
        pub unique_key: Option<String>,
    }

    /// `start`, `extend` (with `lease_ms`) and `release`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct IdsBody {
        pub worker: String,
        pub ids: Vec<JobId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub lease_ms: Option<u64>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct CountReply {
        pub count: u64,
    }

    /// `POST /workers/jobs/complete`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct CompleteBody {
        pub worker: String,
        pub jobs: Vec<CompletedJob>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct CompletedJob {
        pub id: JobId,
        /// The handler's result; for some types (`validate_email`) the
        /// server applies it (see `leadgen_app::remote_jobs`).
        pub result: serde_json::Value,
        #[serde(default)]
        pub effects: Vec<Effect>,
        #[serde(default)]
        pub delta: RunDelta,
        /// Next stages; enqueued in the job's own workspace and run.
        #[serde(default)]
        pub follow_ups: Vec<FollowUp>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct FollowUp {
        pub job_type: String,
        pub payload: String,
        pub priority: u8,
        pub max_attempts: u32,
        #[serde(default)]
        pub run_in_ms: Option<u64>,
        #[serde(default)]
        pub unique_key: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct CompleteReply {
        pub outcomes: Vec<CompletionOutcome>,
    }

    /// `POST /workers/jobs/fail`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct FailBody {
        pub worker: String,
        pub jobs: Vec<FailedJob>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct FailedJob {
        pub id: JobId,
        pub message: String,
        /// `null`: permanent, fail now; else retry after this long (the
        /// type's backoff, computed by the worker) if attempts remain.
        #[serde(default)]
        pub retry_in_ms: Option<u64>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct FailReply {
        /// Per job: `pending` (retried later), `failed`, or `null` (not
        /// this worker's any more).
        pub statuses: Vec<Option<JobStatus>>,
    }

    /// `POST /workers/jobs/next`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct NextBody {
        pub types: Vec<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct NextReply {
        /// How soon a job of these types may need a worker (≤ 0: now);
        /// `null`: none is pending or running.
        pub due_in_ms: Option<i64>,
    }

    /// `POST /workers/jobs/reap`: no fields.
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Empty {}

    /// `POST /workers/leads/batch`: leads a worker found for a job it holds.
    /// A retry with the same `key` gets the first answer and adds nothing.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LeadsBatchBody {
        pub worker: String,
        pub job: JobId,
        /// Idempotency key, unique per job (e.g. `a1:contacts`).
        pub key: String,
        /// Tags every lead gets.
        #[serde(default)]
        pub tags: Vec<String>,
        /// One object per lead: column name (as an import maps it, e.g.
        /// `email`, `full_name`, `title`, `website`) → value.
        pub leads: Vec<BTreeMap<String, String>>,
    }

    /// What became of one lead of a batch.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct LeadOutcome {
        /// `inserted`, `merged` (into an existing lead) or `rejected`.
        pub outcome: String,
        #[serde(default)]
        pub lead: Option<i64>,
        #[serde(default)]
        pub reason: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct LeadsBatchReply {
        /// The import batch the leads' source records belong to.
        pub batch: Option<i64>,
        /// One per lead, in order.
        pub outcomes: Vec<LeadOutcome>,
    }

    /// One enrichment step, as the local handler records it.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct EnrichmentRow {
        /// What was enriched (a company domain or `lead:<id>`).
        pub subject: String,
        pub provider: String,
        pub kind: String,
        pub outcome: String,
        pub result: serde_json::Value,
        #[serde(default)]
        pub confidence: Option<f64>,
        #[serde(default)]
        pub reasoning: Option<String>,
        #[serde(default)]
        pub input_tokens: u64,
        #[serde(default)]
        pub output_tokens: u64,
        #[serde(default)]
        pub cost_micros: u64,
    }

    /// A paid answer for the server's enrichment cache.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct CacheEntry {
        pub provider: String,
        pub kind: String,
        pub key: String,
        pub value: serde_json::Value,
    }

    /// `POST /workers/enrichments/create`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct EnrichmentsBody {
        pub worker: String,
        pub job: JobId,
        pub key: String,
        /// The lead or company of the job's workspace the rows are about.
        #[serde(default)]
        pub lead_id: Option<i64>,
        #[serde(default)]
        pub company_id: Option<i64>,
        pub rows: Vec<EnrichmentRow>,
        #[serde(default)]
        pub cache: Vec<CacheEntry>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct EnrichmentsReply {
        /// Ids of the stored rows, in order.
        pub ids: Vec<i64>,
    }

    /// `POST /workers/enrichments/reserve`: `micros` of the month's paid
    /// enrichment budget of the job's workspace, before a paid call.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ReserveBody {
        pub worker: String,
        pub job: JobId,
        pub key: String,
        pub micros: u64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct ReserveReply {
        /// `false`: the server's monthly budget would be passed.
        pub granted: bool,
    }
}

/// How a remote worker reaches the server.
#[derive(Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// Per request.
    pub timeout: Duration,
    /// The pause after a call's first failure; doubled after each further
    /// failure, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// A call that keeps failing this long fails (the worker then stops);
    /// `None`: it is tried until the server answers or the worker is told
    /// to stop ([`HttpSource::stop_retrying`]).
    pub give_up_after: Option<Duration>,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            give_up_after: None,
        }
    }
}

impl HttpOptions {
    /// The pause before try `n + 1` (`n` failures so far, `n >= 1`).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// The queue of a `leadgen serve` reached over HTTP.
pub struct HttpSource {
    base: String,
    secret: String,
    client: reqwest::Client,
    opts: HttpOptions,
    /// Whether the last call reached the server: a change is logged once.
    reachable: std::sync::atomic::AtomicBool,
    /// Set when the worker stops: failing calls are not tried again.
    stopping: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("HttpSource")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpSource {
    /// `base_url` is the server's root (`http://host:8080`).
    pub fn new(base_url: &str, secret: &str, opts: HttpOptions) -> Result<HttpSource> {
        let base = base_url.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
            return Err(JobsError::Remote(format!(
                "server URL {base_url:?} must start with http:// or https://"
            )));
        }
        if secret.trim().is_empty() {
            return Err(JobsError::Remote("the worker secret is empty".into()));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.timeout)
            .build()
            .map_err(|e| JobsError::Remote(format!("HTTP client: {e}")))?;
        Ok(HttpSource {
            base,
            secret: secret.trim().to_owned(),
            client,
            opts,
            reachable: std::sync::atomic::AtomicBool::new(true),
            stopping: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// From now on a failing call fails at once instead of waiting for the
    /// server (the worker is stopping; its leases will run out).
    pub fn stop_retrying(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the last call reached the server.
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn set_reachable(&self, now: bool, problem: &str) {
        let was = self
            .reachable
            .swap(now, std::sync::atomic::Ordering::SeqCst);
        match (was, now) {
            (true, false) => tracing::warn!(
                server = %self.base,
                error = %problem,
                max_backoff = ?self.opts.max_backoff,
                "server unreachable; claiming nothing and retrying with backoff until it answers"
            ),
            (false, true) => {
                tracing::info!(server = %self.base, "server reachable again; carrying on")
            }
            _ => {}
        }
    }

    /// One call to `/workers/{path}`, retried with capped exponential
    /// backoff on connection errors, timeouts, 429 and 5xx.
    async fn post<B: Serialize + Sync, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R> {
        let url = format!("{}/workers/{path}", self.base);
        let started = std::time::Instant::now();
        let mut failures = 0u32;
        loop {
            let sent = self
                .client
                .post(&url)
                .bearer_auth(&self.secret)
                .json(body)
                .send()
                .await;
            let problem = match sent {
                Ok(resp) if resp.status().is_success() => {
                    self.set_reachable(true, "");
                    return resp
                        .json::<R>()
                        .await
                        .map_err(|e| JobsError::Remote(format!("{url}: unreadable answer: {e}")));
                }
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    let message = format!("{url}: HTTP {status}: {}", text.trim());
                    if !(status.is_server_error() || status.as_u16() == 429) {
                        self.set_reachable(true, "");
                        return Err(JobsError::Remote(message));
                    }
                    message
                }
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                    format!("{url}: {e}")
                }
                Err(e) => return Err(JobsError::Remote(format!("{url}: {e}"))),
            };
            failures += 1;
            let stopping = self.stopping.load(std::sync::atomic::Ordering::SeqCst);
            let out_of_time = self
                .opts
                .give_up_after
                .is_some_and(|limit| started.elapsed() >= limit);
            if stopping || out_of_time {
                return Err(JobsError::Remote(format!(
                    "{problem} (gave up after {failures} tries)"
                )));
            }
            self.set_reachable(false, &problem);
            let delay = self.opts.backoff(failures);
            tracing::debug!(error = %problem, retry_in = ?delay, "server call failed; trying again");
            tokio::time::sleep(delay).await;
        }
    }

    fn call<B, R, T>(
        self: &Arc<Self>,
        path: &'static str,
        body: B,
        map: impl FnOnce(R) -> T + Send + 'static,
    ) -> BoxFuture<Result<T>>
    where
        B: Serialize + Send + Sync + 'static,
        R: DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        let this = self.clone();
        Box::pin(async move { this.post::<B, R>(path, &body).await.map(map) })
    }

    /// `POST /workers/leads/batch`.
    pub async fn leads_batch(&self, body: &wire::LeadsBatchBody) -> Result<wire::LeadsBatchReply> {
        self.post("leads/batch", body).await
    }

    /// `POST /workers/enrichments/create`.
    pub async fn create_enrichments(
        &self,
        body: &wire::EnrichmentsBody,
    ) -> Result<wire::EnrichmentsReply> {
        self.post("enrichments/create", body).await
    }

    /// `POST /workers/enrichments/reserve`.
    pub async fn reserve(&self, body: &wire::ReserveBody) -> Result<wire::ReserveReply> {
        self.post("enrichments/reserve", body).await
    }
}

/// The `JobSource` of a remote worker: an `Arc<HttpSource>`.
#[derive(Clone, Debug)]
pub struct Remote(pub Arc<HttpSource>);

impl JobSource for Remote {
    fn describe(&self) -> String {
        self.0.base.clone()
    }

    fn store(&self) -> Option<Arc<dyn Store>> {
        None
    }

    fn claim(&self, req: ClaimRequest) -> BoxFuture<Result<Vec<Job>>> {
        let worker = req.worker.clone();
        let body = wire::ClaimBody {
            worker: req.worker,
            types: req.types.unwrap_or_default(),
            limit: req.limit,
            lease_ms: req.lease_ms,
            caps: req.caps,
        };
        self.0.call("jobs/claim", body, move |r: wire::ClaimReply| {
            r.jobs
                .into_iter()
                .map(|j| Job {
                    id: j.id,
                    workspace: j.workspace,
                    job_type: j.job_type,
                    status: JobStatus::Claimed,
                    priority: j.priority,
                    payload: j.payload,
                    result: None,
                    attempts: j.attempts,
                    max_attempts: j.max_attempts,
                    run_at: j.run_at,
                    worker: Some(worker.clone()),
                    lease_until: None,
                    errors: Vec::new(),
                    unique_key: j.unique_key,
                    run: j.run,
                    created_at: j.run_at,
                    updated_at: j.run_at,
                    finished_at: None,
                })
                .collect()
        })
    }

    fn start(&self, worker: String, ids: Vec<JobId>, _now: i64) -> BoxFuture<Result<u64>> {
        let body = wire::IdsBody {
            worker,
            ids,
            lease_ms: None,
        };
        self.0
            .call("jobs/start", body, |r: wire::CountReply| r.count)
    }

    fn extend(
        &self,
        worker: String,
        ids: Vec<JobId>,
        lease_until: i64,
        now: i64,
    ) -> BoxFuture<Result<u64>> {
        let body = wire::IdsBody {
            worker,
            ids,
            lease_ms: Some((lease_until - now).max(1) as u64),
        };
        self.0
            .call("jobs/extend", body, |r: wire::CountReply| r.count)
    }

    fn complete(
        &self,
        worker: String,
        done: Vec<Completion>,
        now: i64,
    ) -> BoxFuture<Result<Vec<CompletionOutcome>>> {
        let jobs = done
            .into_iter()
            .map(|c| wire::CompletedJob {
                id: c.id,
                result: serde_json::from_str(&c.result)
                    .unwrap_or(serde_json::Value::String(c.result)),
                effects: c.effects,
                delta: c.delta,
                follow_ups: c
                    .follow_ups
                    .into_iter()
                    .map(|n| wire::FollowUp {
                        job_type: n.job_type,
                        payload: n.payload,
                        priority: n.priority,
                        max_attempts: n.max_attempts,
                        run_in_ms: n.run_at.map(|t| (t - now).max(0) as u64),
                        unique_key: n.unique_key,
                    })
                    .collect(),
            })
            .collect();
        let body = wire::CompleteBody { worker, jobs };
        self.0
            .call("jobs/complete", body, |r: wire::CompleteReply| r.outcomes)
    }

    fn fail(
        &self,
        worker: String,
        failures: Vec<Failure>,
        now: i64,
    ) -> BoxFuture<Result<Vec<Option<JobStatus>>>> {
        let jobs = failures
            .into_iter()
            .map(|f| wire::FailedJob {
                id: f.id,
                message: f.message,
                retry_in_ms: f.retry_at.map(|t| (t - now).max(0) as u64),
            })
            .collect();
        let body = wire::FailBody { worker, jobs };
        self.0
            .call("jobs/fail", body, |r: wire::FailReply| r.statuses)
    }

    fn release(&self, worker: String, ids: Vec<JobId>, _now: i64) -> BoxFuture<Result<u64>> {
        let body = wire::IdsBody {
            worker,
            ids,
            lease_ms: None,
        };
        self.0
            .call("jobs/release", body, |r: wire::CountReply| r.count)
    }

    fn reap(&self, _now: i64) -> BoxFuture<Result<u64>> {
        self.0
            .call("jobs/reap", wire::Empty {}, |r: wire::CountReply| r.count)
    }

    fn next_claimable(&self, types: Vec<String>, now: i64) -> BoxFuture<Result<Option<i64>>> {
        self.0.call(
            "jobs/next",
            wire::NextBody { types },
            move |r: wire::NextReply| r.due_in_ms.map(|d| now + d),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_pause_and_stops_at_the_cap() {
        let o = HttpOptions::default();
        let secs: Vec<f64> = (1..=10).map(|n| o.backoff(n).as_secs_f64()).collect();
        assert_eq!(
            secs,
            vec![0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
        );
        assert_eq!(o.backoff(1_000), Duration::from_secs(30));
    }

    /// A port nothing listens on.
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[tokio::test]
    async fn a_call_waits_for_the_server_until_told_to_stop() {
        let opts = HttpOptions {
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            give_up_after: None,
            ..HttpOptions::default()
        };
        let url = format!("http://127.0.0.1:{}", closed_port());
        let http = Arc::new(HttpSource::new(&url, "secret", opts).unwrap());
        assert!(http.is_reachable());
        let call = tokio::spawn({
            let http = http.clone();
            async move {
                http.post::<_, wire::CountReply>("jobs/reap", &wire::Empty {})
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!call.is_finished(), "still waiting for the server");
        assert!(!http.is_reachable());
        http.stop_retrying();
        let r = tokio::time::timeout(Duration::from_secs(2), call)
            .await
            .expect("the call gives up once told to stop")
            .unwrap();
        let e = r.unwrap_err().to_string();
        assert!(e.contains("gave up"), "{e}");
    }

    #[tokio::test]
    async fn a_call_gives_up_after_its_time_limit() {
        let opts = HttpOptions {
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            give_up_after: Some(Duration::from_millis(200)),
            ..HttpOptions::default()
        };
        let url = format!("http://127.0.0.1:{}", closed_port());
        let http = HttpSource::new(&url, "secret", opts).unwrap();
        let started = std::time::Instant::now();
        let r = http
            .post::<_, wire::CountReply>("jobs/reap", &wire::Empty {})
            .await;
        assert!(r.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
