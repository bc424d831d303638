//! Handlers by job type: what a job type does, how often it may be tried,
//! how it backs off, how many may run at once and how fast.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use leadgen_core::job::{Backoff, DEFAULT_MAX_ATTEMPTS, Effect, Job, NewJob, RunDelta};
use leadgen_store::Store;
use serde::de::DeserializeOwned;

use crate::clock::Clock;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A handler: one job in, its outcome out.
pub type HandlerFn =
    Arc<dyn Fn(JobContext) -> BoxFuture<Result<Outcome, HandlerError>> + Send + Sync>;

/// What a handler gets: the job, the store and the clock.
#[derive(Clone)]
pub struct JobContext {
    pub job: Job,
    /// `None` on a remote worker (no database): use [`JobContext::store`].
    pub store: Option<Arc<dyn Store>>,
    pub clock: Arc<dyn Clock>,
}

impl JobContext {
    /// The store; a job type that needs it fails permanently on a worker
    /// without one (a remote worker claims only types that need none).
    pub fn store(&self) -> Result<&Arc<dyn Store>, HandlerError> {
        self.store.as_ref().ok_or_else(|| {
            HandlerError::Permanent(format!(
                "{} jobs need the database; this worker has none",
                self.job.job_type
            ))
        })
    }

    /// The payload as `T`; a payload that does not parse is a permanent
    /// failure (retrying cannot fix it).
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        serde_json::from_str(&self.job.payload).map_err(|e| {
            HandlerError::Permanent(format!(
                "payload of {} job {} does not fit: {e}",
                self.job.job_type, self.job.id
            ))
        })
    }

    /// Waits for a token of a shared bucket (all workers on this store).
    pub async fn rate_limit(&self, limit: &RateLimit) -> Result<(), HandlerError> {
        loop {
            let store = self.store()?.clone();
            let (bucket, per_s, burst) = (limit.bucket.clone(), limit.per_second, limit.burst);
            let now = self.clock.now_ms();
            let wait =
                tokio::task::spawn_blocking(move || store.take_token(&bucket, per_s, burst, now))
                    .await
                    .map_err(|e| HandlerError::retry(format!("rate limiter: {e}")))?
                    .map_err(|e| HandlerError::retry(format!("rate limiter: {e}")))?;
            if wait == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

/// A successful job's result, its effects, its run counters and the next
/// pipeline stages. All are written in one transaction with the completion.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub result: serde_json::Value,
    pub effects: Vec<Effect>,
    pub delta: RunDelta,
    pub follow_ups: Vec<NewJob>,
}

impl Outcome {
    pub fn new(result: serde_json::Value) -> Outcome {
        Outcome {
            result,
            ..Outcome::default()
        }
    }

    /// Records an effect that must happen once (`kind`, `key` unique).
    pub fn effect(mut self, kind: &str, key: impl Into<String>) -> Outcome {
        self.effects.push(Effect {
            kind: kind.to_owned(),
            key: key.into(),
        });
        self
    }

    /// Enqueues the next stage when this one completes.
    pub fn then(mut self, next: NewJob) -> Outcome {
        self.follow_ups.push(next);
        self
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HandlerError {
    /// Worth another attempt (timeouts, 5xx, 429), after the backoff or the
    /// service's `Retry-After`, whichever is later.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Will fail the same way again (bad input, 4xx, missing key): fail now.
    #[error("{0}")]
    Permanent(String),
}

impl HandlerError {
    pub fn retry(message: impl Into<String>) -> HandlerError {
        HandlerError::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }
}

/// A shared token bucket: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub bucket: String,
    pub per_second: f64,
    pub burst: f64,
}

/// Everything the worker knows about one job type.
#[derive(Clone)]
pub struct HandlerSpec {
    pub job_type: String,
    pub handler: HandlerFn,
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// At most this many in flight across all workers on the store.
    pub cap: Option<u32>,
    /// Every job of the type takes a token from this bucket first.
    pub rate: Option<RateLimit>,
    /// An attempt running longer fails (and is retried).
    pub timeout: Duration,
}

impl HandlerSpec {
    pub fn new<F, Fut>(job_type: &str, f: F) -> HandlerSpec
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outcome, HandlerError>> + Send + 'static,
    {
        HandlerSpec {
            job_type: job_type.to_owned(),
            handler: Arc::new(move |ctx| Box::pin(f(ctx))),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            backoff: Backoff::default(),
            cap: None,
            rate: None,
            timeout: Duration::from_secs(300),
        }
    }
}

/// The job types this process can run.
#[derive(Clone, Default)]
pub struct Registry {
    specs: BTreeMap<String, HandlerSpec>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn register(&mut self, spec: HandlerSpec) -> &mut Registry {
        self.specs.insert(spec.job_type.clone(), spec);
        self
    }

    pub fn get(&self, job_type: &str) -> Option<&HandlerSpec> {
        self.specs.get(job_type)
    }

    pub fn types(&self) -> Vec<String> {
        self.specs.keys().cloned().collect()
    }

    /// Per-type concurrency caps, for claims.
    pub fn caps(&self) -> Vec<(String, u32)> {
        self.specs
            .values()
            .filter_map(|s| s.cap.map(|c| (s.job_type.clone(), c)))
            .collect()
    }

    /// A new job of a registered type with that type's attempt budget.
    pub fn new_job(&self, ws: i64, job_type: &str, payload: &str) -> NewJob {
        let mut job = NewJob::new(ws, job_type, payload);
        if let Some(spec) = self.get(job_type) {
            job.max_attempts = spec.max_attempts;
        }
        job
    }

    /// Keeps only the given types (a worker started with `--types`);
    /// unknown names are returned as the error.
    pub fn restrict(&mut self, types: &[String]) -> Result<(), Vec<String>> {
        let unknown: Vec<String> = types
            .iter()
            .filter(|t| !self.specs.contains_key(*t))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        self.specs.retain(|t, _| types.contains(t));
        Ok(())
    }
}
