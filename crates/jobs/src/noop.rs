//! The built-in `noop` job type, for health checks, load tests and the
//! queue's own end-to-end tests. Its payload (all fields optional):
//!
//! - `sleep_ms`: how long the job "works";
//! - `fail_times`: fail (retryably) the first N attempts;
//! - `effect`: record an effect of this kind keyed by the job id, so a test
//!   can count that every job's effect happened exactly once.

use std::time::Duration;

use leadgen_core::job::types::NOOP;
use serde::Deserialize;

use crate::handler::{HandlerError, HandlerSpec, JobContext, Outcome};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoopPayload {
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    fail_times: u32,
    #[serde(default)]
    effect: Option<String>,
}

pub fn spec() -> HandlerSpec {
    let mut spec = HandlerSpec::new(NOOP, run);
    spec.timeout = Duration::from_secs(60);
    spec
}

async fn run(ctx: JobContext) -> Result<Outcome, HandlerError> {
    let p: NoopPayload = ctx.payload()?;
    if p.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(p.sleep_ms)).await;
    }
    if ctx.job.attempts <= p.fail_times {
        return Err(HandlerError::retry(format!(
            "noop asked to fail attempt {} of its first {}",
            ctx.job.attempts, p.fail_times
        )));
    }
    let mut out = Outcome::new(serde_json::json!({"slept_ms": p.sleep_ms}));
    if let Some(kind) = p.effect {
        out = out.effect(&kind, ctx.job.id.to_string());
    }
    Ok(out)
}
