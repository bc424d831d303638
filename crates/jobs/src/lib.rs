//! The durable queue's behaviour on top of the store's tables: handlers by
//! job type, the worker loop (claim, heartbeat, complete, retry with
//! backoff, graceful shutdown), cron schedules and the built-in `noop` type.
//!
//! Storage semantics (atomic claims, leases, effects, runs) live in
//! `leadgen_store::jobs`; this crate decides *when* to call them.

pub mod clock;
pub mod cron;
pub mod handler;
pub mod noop;
pub mod remote;
pub mod source;
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock, now_ms};
pub use handler::{HandlerError, HandlerSpec, JobContext, Outcome, RateLimit, Registry};
pub use source::{JobSource, StoreSource};
pub use worker::{WorkerOptions, WorkerReport, run_worker, run_worker_on};

/// Errors of the worker loop itself (a handler's errors are job failures,
/// not these).
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error(transparent)]
    Store(#[from] leadgen_store::StoreError),
    #[error("cron schedule {name:?}: {reason}")]
    Schedule { name: String, reason: String },
    #[error("a store call panicked or was cancelled: {0}")]
    Join(String),
    /// A remote worker's server call failed (after its retries).
    #[error("server: {0}")]
    Remote(String),
}

pub type Result<T, E = JobsError> = std::result::Result<T, E>;
