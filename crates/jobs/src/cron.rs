//! Cron schedules with time zones. Every worker runs the scheduler; a tick
//! is enqueued with the unique key `cron:<name>:<tick ms>`, so however many
//! workers see it, it becomes one job.

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use leadgen_core::WorkspaceId;
use leadgen_core::job::NewJob;
use leadgen_store::Store;
use serde::Deserialize;

use crate::{JobsError, Result};

/// At most this many missed ticks of one schedule are enqueued at once.
const MAX_TICKS: usize = 100;

/// A schedule as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub name: String,
    /// Five fields (minute hour day month weekday), or six with seconds.
    pub cron: String,
    /// IANA name, e.g. `America/New_York`; UTC when absent.
    #[serde(default = "utc")]
    pub timezone: String,
    pub job_type: String,
    /// JSON text.
    #[serde(default = "empty_object")]
    pub payload: String,
    #[serde(default = "default_workspace")]
    pub workspace: WorkspaceId,
}

fn utc() -> String {
    "UTC".into()
}
fn empty_object() -> String {
    "{}".into()
}
fn default_workspace() -> WorkspaceId {
    leadgen_core::DEFAULT_WORKSPACE
}

/// A schedule whose expression and zone have been checked.
#[derive(Debug, Clone)]
pub struct ParsedSchedule {
    pub schedule: Schedule,
    cron: Cron,
    tz: Tz,
}

impl ParsedSchedule {
    pub fn parse(schedule: Schedule) -> Result<ParsedSchedule> {
        let bad = |reason: String| JobsError::Schedule {
            name: schedule.name.clone(),
            reason,
        };
        let cron = Cron::from_str(&schedule.cron)
            .map_err(|e| bad(format!("cron {:?}: {e}", schedule.cron)))?;
        let tz = Tz::from_str(&schedule.timezone).map_err(|_| {
            bad(format!(
                "time zone {:?} is not an IANA name such as Europe/Berlin",
                schedule.timezone
            ))
        })?;
        serde_json::from_str::<serde_json::Value>(&schedule.payload)
            .map_err(|e| bad(format!("payload is not JSON: {e}")))?;
        Ok(ParsedSchedule { schedule, cron, tz })
    }

    /// Tick times (ms) in `(after, until]`, oldest first, at most [`MAX_TICKS`].
    pub fn ticks_between(&self, after: i64, until: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let Some(start) = self.tz.timestamp_millis_opt(after).single() else {
            return out;
        };
        for t in self.cron.clone().iter_after(start) {
            let ms = t.with_timezone(&Utc).timestamp_millis();
            if ms > until || out.len() >= MAX_TICKS {
                break;
            }
            out.push(ms);
        }
        out
    }

    /// The job for one tick.
    pub fn job(&self, tick: i64) -> NewJob {
        let s = &self.schedule;
        let mut job = NewJob::new(s.workspace, &s.job_type, &s.payload);
        job.run_at = Some(tick);
        job.unique_key = Some(format!("cron:{}:{tick}", s.name));
        job
    }
}

/// Enqueues every tick in `(after, now]`; returns how many were new.
pub fn enqueue_due(
    store: &dyn Store,
    schedules: &[ParsedSchedule],
    after: i64,
    now: i64,
) -> Result<usize> {
    let jobs: Vec<NewJob> = schedules
        .iter()
        .flat_map(|s| s.ticks_between(after, now).into_iter().map(|t| s.job(t)))
        .collect();
    if jobs.is_empty() {
        return Ok(0);
    }
    let ids = store.enqueue(&jobs, now)?;
    let new = ids.iter().flatten().count();
    if new > 0 {
        tracing::info!(jobs = new, "cron ticks enqueued");
    }
    Ok(new)
}

/// The plan's schedules that have a handler today: daily analytics at
/// midnight, weekly trends on Sunday at 3 AM and the intent pull at 6 AM,
/// in `timezone`.
pub fn plan_schedules(timezone: &str) -> Vec<Schedule> {
    use leadgen_core::job::types::{GENERATE_ANALYTICS, RUN_INTENT};
    let make = |name: &str, cron: &str, job_type: &str, payload: &str| Schedule {
        name: name.into(),
        cron: cron.into(),
        timezone: timezone.into(),
        job_type: job_type.into(),
        payload: payload.into(),
        workspace: leadgen_core::DEFAULT_WORKSPACE,
    };
    vec![
        make(
            "daily_analytics",
            "0 0 * * *",
            GENERATE_ANALYTICS,
            r#"{"period":"daily"}"#,
        ),
        make(
            "weekly_trends",
            "0 3 * * SUN",
            GENERATE_ANALYTICS,
            r#"{"period":"weekly"}"#,
        ),
        make("daily_intent", "0 6 * * *", RUN_INTENT, "{}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    fn sched(cron: &str, tz: &str) -> ParsedSchedule {
        ParsedSchedule::parse(Schedule {
            name: "t".into(),
            cron: cron.into(),
            timezone: tz.into(),
            job_type: "noop".into(),
            payload: "{}".into(),
            workspace: 1,
        })
        .unwrap()
    }

    #[test]
    fn midnight_in_new_york_is_five_utc_in_winter_and_four_in_summer() {
        let s = sched("0 0 * * *", "America/New_York");
        let winter = s.ticks_between(ms("2026-01-10T12:00:00Z"), ms("2026-01-11T12:00:00Z"));
        assert_eq!(winter, vec![ms("2026-01-11T05:00:00Z")]);
        let summer = s.ticks_between(ms("2026-07-10T12:00:00Z"), ms("2026-07-11T12:00:00Z"));
        assert_eq!(summer, vec![ms("2026-07-11T04:00:00Z")]);
    }

    #[test]
    fn window_is_open_at_the_start_and_closed_at_the_end() {
        let s = sched("0 * * * *", "UTC");
        let t = ms("2026-03-01T10:00:00Z");
        assert_eq!(s.ticks_between(t, t + 3_600_000), vec![t + 3_600_000]);
        assert_eq!(s.ticks_between(t - 1, t), vec![t]);
        assert!(s.ticks_between(t, t + 3_599_999).is_empty());
    }

    #[test]
    fn weekly_sunday_three_am() {
        let s = sched("0 3 * * SUN", "Europe/Berlin");
        // 2026-11-22 is a Sunday; 03:00 CET is 02:00 UTC.
        let ticks = s.ticks_between(ms("2026-11-16T00:00:00Z"), ms("2026-11-30T00:00:00Z"));
        assert_eq!(
            ticks,
            vec![ms("2026-11-22T02:00:00Z"), ms("2026-11-29T02:00:00Z")]
        );
    }

    #[test]
    fn a_long_outage_enqueues_a_bounded_number_of_ticks() {
        let s = sched("* * * * *", "UTC");
        assert_eq!(s.ticks_between(0, 365 * 86_400_000).len(), MAX_TICKS);
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let mut bad = Schedule {
            name: "nightly".into(),
            cron: "61 * * * *".into(),
            timezone: "UTC".into(),
            job_type: "noop".into(),
            payload: "{}".into(),
            workspace: 1,
        };
        let e = ParsedSchedule::parse(bad.clone()).unwrap_err().to_string();
        assert!(e.contains("nightly") && e.contains("61"), "{e}");
        bad.cron = "0 0 * * *".into();
        bad.timezone = "Mars/Olympus".into();
        let e = ParsedSchedule::parse(bad).unwrap_err().to_string();
        assert!(e.contains("Mars/Olympus"), "{e}");
    }

    #[test]
    fn tick_jobs_carry_a_unique_key() {
        let s = sched("0 0 * * *", "UTC");
        let j = s.job(86_400_000);
        assert_eq!(j.unique_key.as_deref(), Some("cron:t:86400000"));
        assert_eq!(j.run_at, Some(86_400_000));
    }
}
