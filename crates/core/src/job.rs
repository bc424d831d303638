//! Jobs and runs: the nouns of the durable queue and its pure rules
//! (retry backoff). The store persists them; `leadgen-jobs` runs them.
//!
//! Times are Unix milliseconds passed in by the caller; nothing here reads
//! the clock.

use serde::{Deserialize, Serialize};

use crate::WorkspaceId;

pub type JobId = i64;
pub type RunId = i64;

/// The job types of the plan. A type is an open string (plugins and later
/// stages add their own); these are the ones leadgen itself knows.
pub mod types {
    pub const NOOP: &str = "noop";
    pub const SCRAPE_GOOGLE_MAPS: &str = "scrape_google_maps";
    pub const ENRICH_LEAD: &str = "enrich_lead";
    pub const ENRICH_COMPANY: &str = "enrich_company";
    pub const VALIDATE_EMAIL: &str = "validate_email";
    pub const SCRAPE_GOOGLE_ADS: &str = "scrape_google_ads";
    pub const SCRAPE_LINKEDIN_ADS: &str = "scrape_linkedin_ads";
    pub const SCRAPE_META_ADS: &str = "scrape_meta_ads";
    pub const GENERATE_ANALYTICS: &str = "generate_analytics";
    pub const PUSH_TO_CRM: &str = "push_to_crm";
    pub const PUSH_TO_INSTANTLY: &str = "push_to_instantly";
    pub const SCORE_LEAD: &str = "score_lead";
    pub const RUN_INTENT: &str = "run_intent";
}

/// Priority runs from 1 (background) to 10 (most urgent); new jobs get 5.
pub const DEFAULT_PRIORITY: u8 = 5;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at` and a free worker.
    Pending,
    /// Taken by a worker, which holds a lease on it.
    Claimed,
    /// The worker's handler is running.
    Processing,
    Completed,
    /// Out of attempts, or failed with a permanent error; keeps its history.
    Failed,
    Cancelled,
}

str_enum!(JobStatus {
    Pending => "pending",
    Claimed => "claimed",
    Processing => "processing",
    Completed => "completed",
    Failed => "failed",
    Cancelled => "cancelled",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Its pending jobs are held: no worker claims them until it resumes.
    Paused,
    Completed,
    Cancelled,
}

str_enum!(RunStatus {
    Running => "running",
    Paused => "paused",
    Completed => "completed",
    Cancelled => "cancelled",
});

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub workspace: WorkspaceId,
    pub job_type: String,
    /// JSON text.
    pub payload: String,
    pub priority: u8,
    pub max_attempts: u32,
    /// Not before this time (ms); `None` means now.
    pub run_at: Option<i64>,
    /// Enqueueing a second job with the same key in the workspace is a
    /// no-op, forever (keys are idempotency keys: put a date or version in
    /// them to allow a later job).
    pub unique_key: Option<String>,
    pub run: Option<RunId>,
}

impl NewJob {
    pub fn new(workspace: WorkspaceId, job_type: &str, payload: &str) -> NewJob {
        NewJob {
            workspace,
            job_type: job_type.to_owned(),
            payload: payload.to_owned(),
            priority: DEFAULT_PRIORITY,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at: None,
            unique_key: None,
            run: None,
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: JobId,
    pub workspace: WorkspaceId,
    pub job_type: String,
    pub status: JobStatus,
    pub priority: u8,
    #[serde(serialize_with = "raw_json")]
    pub payload: String,
    #[serde(serialize_with = "raw_json_opt")]
    pub result: Option<String>,
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_at: i64,
    pub worker: Option<String>,
    pub lease_until: Option<i64>,
    /// One entry per failed attempt, oldest first.
    pub errors: Vec<JobErrorEntry>,
    pub unique_key: Option<String>,
    pub run: Option<RunId>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

fn raw_json<S: serde::Serializer>(s: &str, ser: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => v.serialize(ser),
        Err(_) => ser.serialize_str(s),
    }
}

fn raw_json_opt<S: serde::Serializer>(s: &Option<String>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(s) => raw_json(s, ser),
        None => ser.serialize_none(),
    }
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobErrorEntry {
    pub attempt: u32,
    pub at: i64,
    pub worker: Option<String>,
    pub message: String,
}

/// A unit of a job's effect, recorded in the same transaction that
/// completes the job. `(kind, key)` is unique per workspace: a job whose
/// effect another job already recorded fails instead of doubling it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    pub kind: String,
    pub key: String,
}

/// Counter increments a finished job adds to its run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RunDelta {
    pub leads_found: u64,
    pub companies_found: u64,
    pub cost_micros: u64,
}

/// A worker's report that a job succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub id: JobId,
    /// JSON text.
    pub result: String,
    pub effects: Vec<Effect>,
    pub delta: RunDelta,
    /// The next pipeline stages, enqueued atomically with the completion.
    pub follow_ups: Vec<NewJob>,
}

/// What became of a completion (on the wire to remote workers as
/// `{"outcome": "completed" | "not_owned" | …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CompletionOutcome {
    Completed,
    /// The job is no longer this worker's (lease expired and it was taken,
    /// or it was cancelled): nothing of the completion was written.
    NotOwned,
    /// An effect was already recorded by the given job: the job failed
    /// rather than doing it twice.
    DuplicateEffect {
        kind: String,
        key: String,
        by: JobId,
    },
    /// The result could not be applied (a remote worker's result the server
    /// refused, e.g. its lead was deleted meanwhile): the job failed.
    Rejected {
        message: String,
    },
}

/// A worker's report that an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub id: JobId,
    pub message: String,
    /// `None`: permanent, fail now. `Some(t)`: retry at `t` if attempts remain.
    pub retry_at: Option<i64>,
}

/// A run: a scrape, import or campaign push made of jobs, with progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub id: RunId,
    pub workspace: WorkspaceId,
    pub kind: String,
    pub name: String,
    pub status: RunStatus,
    pub total_jobs: u64,
    pub completed_jobs: u64,
    pub failed_jobs: u64,
    pub cancelled_jobs: u64,
    pub leads_found: u64,
    pub companies_found: u64,
    pub cost_micros: u64,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

impl Run {
    /// Jobs that reached an end (completed, failed or cancelled).
    pub fn done_jobs(&self) -> u64 {
        self.completed_jobs + self.failed_jobs + self.cancelled_jobs
    }

    /// Time left at the pace so far, for a running run that has finished
    /// at least one job; `None` when there is nothing to go on.
    pub fn eta_ms(&self, now: i64) -> Option<i64> {
        let done = self.done_jobs();
        if self.status != RunStatus::Running || done == 0 || done >= self.total_jobs {
            return None;
        }
        let elapsed = (now - self.created_at).max(0) as f64;
        let left = (self.total_jobs - done) as f64;
        Some((elapsed / done as f64 * left).round() as i64)
    }
}

/// Retry delays: exponential from `base_ms`, capped at `cap_ms`, with "equal
/// jitter" (a uniform draw from the upper half) so that jobs that failed
/// together do not retry together, while the delay never drops below half
/// the nominal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base_ms: u64,
    pub cap_ms: u64,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base_ms: 1_000,
            cap_ms: 3_600_000,
        }
    }
}

impl Backoff {
    /// Nominal delay after failed attempt number `attempt` (1-based).
    pub fn nominal_ms(&self, attempt: u32) -> u64 {
        let shift = attempt.saturating_sub(1).min(40);
        self.base_ms.saturating_mul(1u64 << shift).min(self.cap_ms)
    }

    /// The delay to use, given a uniform random `draw`.
    pub fn delay_ms(&self, attempt: u32, draw: u64) -> u64 {
        let nominal = self.nominal_ms(attempt);
        let half = nominal / 2;
        half + draw % (nominal - half + 1)
    }

    /// When to retry: the later of the backoff and an outside service's
    /// `Retry-After`.
    pub fn retry_at(&self, now: i64, attempt: u32, draw: u64, retry_after_ms: Option<u64>) -> i64 {
        let delay = self
            .delay_ms(attempt, draw)
            .max(retry_after_ms.unwrap_or(0));
        now.saturating_add(delay.min(i64::MAX as u64) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_follows_the_pace_so_far() {
        let mut r = Run {
            id: 1,
            workspace: 1,
            kind: "scrape_google_maps".into(),
            name: "x".into(),
            status: RunStatus::Running,
            total_jobs: 10,
            completed_jobs: 3,
            failed_jobs: 1,
            cancelled_jobs: 0,
            leads_found: 0,
            companies_found: 0,
            cost_micros: 0,
            created_at: 1_000,
            updated_at: 1_000,
            finished_at: None,
        };
        // 4 jobs in 8 s: 6 more take 12 s.
        assert_eq!(r.eta_ms(9_000), Some(12_000));
        r.status = RunStatus::Paused;
        assert_eq!(r.eta_ms(9_000), None);
        r.status = RunStatus::Running;
        r.completed_jobs = 0;
        r.failed_jobs = 0;
        assert_eq!(r.eta_ms(9_000), None, "nothing to go on yet");
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let b = Backoff {
            base_ms: 100,
            cap_ms: 1_000,
        };
        let nominal: Vec<u64> = (1..=6).map(|a| b.nominal_ms(a)).collect();
        assert_eq!(nominal, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(
            b.nominal_ms(200),
            1_000,
            "huge attempt counts do not overflow"
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let b = Backoff {
            base_ms: 1_000,
            cap_ms: 60_000,
        };
        for draw in [0, 1, 499, 500, 501, 12_345, u64::MAX] {
            let d = b.delay_ms(1, draw);
            assert!((500..=1_000).contains(&d), "draw {draw} gave {d}");
        }
        assert_eq!(b.delay_ms(1, 0), 500);
        assert_eq!(b.delay_ms(1, 500), 1_000);
    }

    #[test]
    fn retry_after_wins_when_longer() {
        let b = Backoff::default();
        assert_eq!(b.retry_at(10_000, 1, 0, Some(30_000)), 40_000);
        assert_eq!(b.retry_at(10_000, 1, 0, Some(10)), 10_500);
        assert_eq!(b.retry_at(10_000, 1, 0, None), 10_500);
    }

    #[test]
    fn statuses_round_trip_as_text() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(*s));
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(JobStatus::parse("done"), None);
    }
}
