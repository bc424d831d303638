//! The job queue on SQLite: every change is one short `BEGIN IMMEDIATE`
//! transaction, which serializes claimers across processes (SQLite's write
//! lock), so a plain `UPDATE … RETURNING` claims atomically.

use leadgen_core::WorkspaceId;
use leadgen_core::job::{
    Completion, CompletionOutcome, Failure, Job, JobId, JobStatus, NewJob, Run, RunId, RunStatus,
};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use crate::Result;
use crate::jobs::{
    ClaimRequest, JOB_COLUMNS, JobFilter, JobQueue, JobWakeup, QueueRow, QueueStats, RUN_COLUMNS,
    TypeSel, error_entry, finish_run_sql, job_from_row, refill, run_from_row, tally_runs,
    validate_new_job,
};
use crate::sqlite::SqliteStore;

impl QueueRow for rusqlite::Row<'_> {
    fn i64_at(&self, i: usize) -> Result<i64> {
        Ok(self.get(i)?)
    }
    fn opt_i64_at(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn str_at(&self, i: usize) -> Result<String> {
        Ok(self.get(i)?)
    }
    fn opt_str_at(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }
}

fn select_jobs(
    tx: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Job>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(job_from_row(r)?);
    }
    Ok(out)
}

/// `AND job_type …` for a type selection, its list bound as one JSON array.
fn type_clause(sel: &TypeSel) -> (&'static str, String) {
    match sel {
        TypeSel::Any => ("", String::new()),
        TypeSel::In(l) => (
            " AND job_type IN (SELECT value FROM json_each(?5))",
            serde_json::to_string(l).expect("strings"),
        ),
        TypeSel::NotIn(l) => (
            " AND job_type NOT IN (SELECT value FROM json_each(?5))",
            serde_json::to_string(l).expect("strings"),
        ),
    }
}

const NOT_PAUSED: &str =
    "(run_id IS NULL OR run_id NOT IN (SELECT id FROM runs WHERE status = 'paused'))";

fn insert_jobs(tx: &Transaction<'_>, jobs: &[NewJob], now: i64) -> Result<Vec<Option<JobId>>> {
    let mut out = Vec::with_capacity(jobs.len());
    let mut added: Vec<(RunId, i64)> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO jobs (workspace_id, job_type, status, priority, payload, max_attempts, \
             run_at, unique_key, run_id, created_at, updated_at) \
             VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
             ON CONFLICT DO NOTHING",
        )?;
        for j in jobs {
            validate_new_job(j)?;
            let n = stmt.execute(params![
                j.workspace,
                j.job_type,
                j.priority,
                j.payload,
                j.max_attempts,
                j.run_at.unwrap_or(now),
                j.unique_key,
                j.run,
                now
            ])?;
            if n == 0 {
                out.push(None);
                continue;
            }
            out.push(Some(tx.last_insert_rowid()));
            if let Some(run) = j.run {
                match added.iter_mut().find(|(r, _)| *r == run) {
                    Some((_, c)) => *c += 1,
                    None => added.push((run, 1)),
                }
            }
        }
    }
    for (run, n) in added {
        tx.execute(
            "UPDATE runs SET total_jobs = total_jobs + ?1, updated_at = ?2, finished_at = NULL, \
             status = CASE status WHEN 'completed' THEN 'running' ELSE status END WHERE id = ?3",
            params![n, now, run],
        )?;
    }
    Ok(out)
}

/// Adds finished jobs to their runs' counters and closes runs that are done.
fn count_in_runs(
    tx: &Transaction<'_>,
    finished: &[(Option<RunId>, JobStatus, leadgen_core::job::RunDelta)],
    now: i64,
) -> Result<()> {
    for (run, col, n, d) in tally_runs(finished) {
        tx.execute(
            &format!(
                "UPDATE runs SET {col} = {col} + ?1, leads_found = leads_found + ?2, \
                 companies_found = companies_found + ?3, cost_micros = cost_micros + ?4, \
                 updated_at = ?5 WHERE id = ?6"
            ),
            params![
                n as i64,
                d.leads_found as i64,
                d.companies_found as i64,
                d.cost_micros as i64,
                now,
                run
            ],
        )?;
        tx.execute(&finish_run_sql("?1", "?2"), params![now, run])?;
    }
    Ok(())
}

/// Marks an owned job failed for good and returns its run.
fn fail_owned(
    tx: &Transaction<'_>,
    worker: &str,
    id: JobId,
    message: &str,
    now: i64,
) -> Result<Option<Option<RunId>>> {
    Ok(tx
        .query_row(
            "UPDATE jobs SET status = 'failed', worker_id = NULL, lease_until = NULL, \
             finished_at = ?1, updated_at = ?1, \
             errors = json_insert(errors, '$[#]', json(?2)) \
             WHERE id = ?3 AND worker_id = ?4 AND status IN ('claimed', 'processing') \
             RETURNING run_id",
            params![
                now,
                error_entry(attempts_of(tx, id)?, now, Some(worker), message),
                id,
                worker
            ],
            |r| r.get(0),
        )
        .optional()?)
}

fn attempts_of(tx: &Transaction<'_>, id: JobId) -> Result<i64> {
    Ok(tx
        .query_row("SELECT attempts FROM jobs WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0))
}

impl SqliteStore {
    fn write_tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl JobQueue for SqliteStore {
    fn enqueue(&self, jobs: &[NewJob], now: i64) -> Result<Vec<Option<JobId>>> {
        self.write_tx(|tx| insert_jobs(tx, jobs, now))
    }

    fn claim(&self, req: &ClaimRequest) -> Result<Vec<Job>> {
        self.write_tx(|tx| {
            let mut inflight = std::collections::HashMap::new();
            if !req.caps.is_empty() {
                let mut stmt = tx.prepare_cached(
                    "SELECT job_type, count(*) FROM jobs \
                     WHERE status IN ('claimed', 'processing') AND lease_until > ?1 \
                     GROUP BY job_type",
                )?;
                let rows = stmt.query_map([req.now], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?;
                for row in rows {
                    let (t, n) = row?;
                    inflight.insert(t, n as u64);
                }
            }
            let mut out = Vec::new();
            for (sel, limit) in req.plan(&|t| inflight.get(t).copied().unwrap_or(0)) {
                let room = (req.limit as usize)
                    .saturating_sub(out.len())
                    .min(limit as usize);
                if room == 0 {
                    break;
                }
                let (clause, list) = type_clause(&sel);
                let sql = format!(
                    "UPDATE jobs SET status = 'claimed', worker_id = ?1, lease_until = ?2, \
                     attempts = attempts + 1, updated_at = ?3 \
                     WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ?3 \
                     AND {NOT_PAUSED}{clause} ORDER BY priority DESC, id LIMIT ?4) \
                     RETURNING {JOB_COLUMNS}"
                );
                let lease = req.now + req.lease_ms as i64;
                let mut got = if clause.is_empty() {
                    select_jobs(tx, &sql, params![req.worker, lease, req.now, room as i64])?
                } else {
                    select_jobs(
                        tx,
                        &sql,
                        params![req.worker, lease, req.now, room as i64, list],
                    )?
                };
                out.append(&mut got);
            }
            out.sort_by_key(|j| (std::cmp::Reverse(j.priority), j.id));
            Ok(out)
        })
    }

    fn start_jobs(&self, worker: &str, ids: &[JobId], now: i64) -> Result<u64> {
        self.write_tx(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE jobs SET status = 'processing', updated_at = ?1 \
                 WHERE id = ?2 AND worker_id = ?3 AND status = 'claimed'",
            )?;
            let mut n = 0;
            for id in ids {
                n += stmt.execute(params![now, id, worker])? as u64;
            }
            Ok(n)
        })
    }

    fn extend_leases(
        &self,
        worker: &str,
        ids: &[JobId],
        lease_until: i64,
        now: i64,
    ) -> Result<u64> {
        self.write_tx(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE jobs SET lease_until = ?1, updated_at = ?2 \
                 WHERE id = ?3 AND worker_id = ?4 AND status IN ('claimed', 'processing')",
            )?;
            let mut n = 0;
            for id in ids {
                n += stmt.execute(params![lease_until, now, id, worker])? as u64;
            }
            Ok(n)
        })
    }

    fn complete_jobs(
        &self,
        worker: &str,
        done: &[Completion],
        now: i64,
    ) -> Result<Vec<CompletionOutcome>> {
        self.write_tx(|tx| {
            let mut outcomes = Vec::with_capacity(done.len());
            let mut finished = Vec::new();
            for c in done {
                let run: Option<Option<RunId>> = tx
                    .query_row(
                        "SELECT run_id FROM jobs WHERE id = ?1 AND worker_id = ?2 \
                         AND status IN ('claimed', 'processing')",
                        params![c.id, worker],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(run) = run else {
                    outcomes.push(CompletionOutcome::NotOwned);
                    continue;
                };
                let mut duplicate = None;
                for e in &c.effects {
                    let n = tx.execute(
                        "INSERT INTO job_effects (workspace_id, kind, key, job_id, created_at) \
                         SELECT workspace_id, ?1, ?2, id, ?3 FROM jobs WHERE id = ?4 \
                         ON CONFLICT DO NOTHING",
                        params![e.kind, e.key, now, c.id],
                    )?;
                    if n == 0 {
                        let by: JobId = tx.query_row(
                            "SELECT e.job_id FROM job_effects e JOIN jobs j \
                             ON j.workspace_id = e.workspace_id WHERE j.id = ?1 \
                             AND e.kind = ?2 AND e.key = ?3",
                            params![c.id, e.kind, e.key],
                            |r| r.get(0),
                        )?;
                        duplicate = Some((e.clone(), by));
                        break;
                    }
                }
                if let Some((e, by)) = duplicate {
                    // Undo this job's effects written before the conflict.
                    tx.execute("DELETE FROM job_effects WHERE job_id = ?1", params![c.id])?;
                    let msg = format!(
                        "effect {}:{} was already recorded by job {by}; not doing it twice",
                        e.kind, e.key
                    );
                    fail_owned(tx, worker, c.id, &msg, now)?;
                    finished.push((run, JobStatus::Failed, Default::default()));
                    outcomes.push(CompletionOutcome::DuplicateEffect {
                        kind: e.kind,
                        key: e.key,
                        by,
                    });
                    continue;
                }
                tx.execute(
                    "UPDATE jobs SET status = 'completed', result = ?1, worker_id = NULL, \
                     lease_until = NULL, finished_at = ?2, updated_at = ?2 WHERE id = ?3",
                    params![c.result, now, c.id],
                )?;
                insert_jobs(tx, &c.follow_ups, now)?;
                finished.push((run, JobStatus::Completed, c.delta));
                outcomes.push(CompletionOutcome::Completed);
            }
            count_in_runs(tx, &finished, now)?;
            Ok(outcomes)
        })
    }

    fn fail_jobs(
        &self,
        worker: &str,
        failures: &[Failure],
        now: i64,
    ) -> Result<Vec<Option<JobStatus>>> {
        self.write_tx(|tx| {
            let mut out = Vec::with_capacity(failures.len());
            let mut finished = Vec::new();
            for f in failures {
                let row: Option<(i64, i64, Option<RunId>)> = tx
                    .query_row(
                        "SELECT attempts, max_attempts, run_id FROM jobs WHERE id = ?1 \
                         AND worker_id = ?2 AND status IN ('claimed', 'processing')",
                        params![f.id, worker],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let Some((attempts, max, run)) = row else {
                    out.push(None);
                    continue;
                };
                match f.retry_at.filter(|_| attempts < max) {
                    Some(at) => {
                        tx.execute(
                            "UPDATE jobs SET status = 'pending', run_at = ?1, worker_id = NULL, \
                             lease_until = NULL, updated_at = ?2, \
                             errors = json_insert(errors, '$[#]', json(?3)) WHERE id = ?4",
                            params![
                                at,
                                now,
                                error_entry(attempts, now, Some(worker), &f.message),
                                f.id
                            ],
                        )?;
                        out.push(Some(JobStatus::Pending));
                    }
                    None => {
                        fail_owned(tx, worker, f.id, &f.message, now)?;
                        finished.push((run, JobStatus::Failed, Default::default()));
                        out.push(Some(JobStatus::Failed));
                    }
                }
            }
            count_in_runs(tx, &finished, now)?;
            Ok(out)
        })
    }

    fn release_jobs(&self, worker: &str, ids: &[JobId], now: i64) -> Result<u64> {
        self.write_tx(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE jobs SET status = 'pending', worker_id = NULL, lease_until = NULL, \
                 attempts = max(attempts - 1, 0), updated_at = ?1 \
                 WHERE id = ?2 AND worker_id = ?3 AND status IN ('claimed', 'processing')",
            )?;
            let mut n = 0;
            for id in ids {
                n += stmt.execute(params![now, id, worker])? as u64;
            }
            Ok(n)
        })
    }

    fn reap_expired(&self, now: i64) -> Result<u64> {
        self.write_tx(|tx| {
            type Expired = (JobId, i64, i64, Option<String>, Option<RunId>);
            let expired: Vec<Expired> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, attempts, max_attempts, worker_id, run_id FROM jobs \
                     WHERE status IN ('claimed', 'processing') AND lease_until < ?1",
                )?;
                stmt.query_map([now], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<_>>()?
            };
            let mut finished = Vec::new();
            for (id, attempts, max, worker, run) in &expired {
                let msg = crate::jobs::lease_expired_message(worker.as_deref());
                let entry = error_entry(*attempts, now, worker.as_deref(), &msg);
                let status = if attempts < max { "pending" } else { "failed" };
                tx.execute(
                    "UPDATE jobs SET status = ?1, worker_id = NULL, lease_until = NULL, \
                     updated_at = ?2, finished_at = CASE ?1 WHEN 'failed' THEN ?2 END, \
                     errors = json_insert(errors, '$[#]', json(?3)) WHERE id = ?4",
                    params![status, now, entry, id],
                )?;
                if status == "failed" {
                    finished.push((*run, JobStatus::Failed, Default::default()));
                }
            }
            count_in_runs(tx, &finished, now)?;
            Ok(expired.len() as u64)
        })
    }

    fn next_claimable(&self, types: Option<&[String]>, now: i64) -> Result<Option<i64>> {
        let conn = self.conn();
        let list = types.map(|t| serde_json::to_string(t).expect("strings"));
        let filter = if list.is_some() {
            " AND job_type IN (SELECT value FROM json_each(?2))"
        } else {
            ""
        };
        let sql = format!(
            "SELECT min(t) FROM ( \
               SELECT min(run_at) AS t FROM jobs WHERE status = 'pending' AND {NOT_PAUSED}{filter} \
               UNION ALL \
               SELECT min(lease_until) FROM jobs WHERE status IN ('claimed', 'processing') \
               AND ?1 = ?1{filter})"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let t: Option<i64> = match &list {
            Some(l) => stmt.query_row(params![now, l], |r| r.get(0))?,
            None => stmt.query_row(params![now], |r| r.get(0))?,
        };
        Ok(t)
    }

    fn cancel_job(&self, ws: WorkspaceId, id: JobId, now: i64) -> Result<bool> {
        self.write_tx(|tx| {
            let run: Option<Option<RunId>> = tx
                .query_row(
                    "UPDATE jobs SET status = 'cancelled', worker_id = NULL, lease_until = NULL, \
                     finished_at = ?1, updated_at = ?1 WHERE id = ?2 AND workspace_id = ?3 \
                     AND status IN ('pending', 'claimed', 'processing') RETURNING run_id",
                    params![now, id, ws],
                    |r| r.get(0),
                )
                .optional()?;
            match run {
                Some(run) => {
                    count_in_runs(tx, &[(run, JobStatus::Cancelled, Default::default())], now)?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
    }

    fn retry_job(&self, ws: WorkspaceId, id: JobId, now: i64) -> Result<bool> {
        self.write_tx(|tx| {
            let old: Option<(String, Option<RunId>)> = tx
                .query_row(
                    "SELECT status, run_id FROM jobs WHERE id = ?1 AND workspace_id = ?2 \
                     AND status IN ('failed', 'cancelled')",
                    params![id, ws],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((old, run)) = old else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE jobs SET status = 'pending', attempts = 0, run_at = ?1, finished_at = NULL, \
                 updated_at = ?1 WHERE id = ?2",
                params![now, id],
            )?;
            if let Some(run) = run {
                let col = if old == "failed" { "failed_jobs" } else { "cancelled_jobs" };
                tx.execute(
                    &format!(
                        "UPDATE runs SET {col} = {col} - 1, updated_at = ?1, finished_at = NULL, \
                         status = CASE status WHEN 'completed' THEN 'running' ELSE status END \
                         WHERE id = ?2"
                    ),
                    params![now, run],
                )?;
            }
            Ok(true)
        })
    }

    fn get_job(&self, ws: WorkspaceId, id: JobId) -> Result<Option<Job>> {
        let conn = self.conn();
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND workspace_id = ?2");
        Ok(select_jobs(&conn, &sql, params![id, ws])?.pop())
    }

    fn held_jobs(&self, worker: &str, ids: &[JobId]) -> Result<Vec<Job>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?1)) \
             AND worker_id = ?2 AND status IN ('claimed', 'processing') ORDER BY id"
        );
        let list = serde_json::to_string(ids).expect("numbers");
        select_jobs(&conn, &sql, params![list, worker])
    }

    fn list_jobs(&self, ws: WorkspaceId, f: &JobFilter) -> Result<Vec<Job>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE workspace_id = ?1 \
             AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR job_type = ?3) \
             AND (?4 IS NULL OR run_id = ?4) ORDER BY id DESC LIMIT ?5"
        );
        select_jobs(
            &conn,
            &sql,
            params![
                ws,
                f.status.map(|s| s.as_str()),
                f.job_type,
                f.run,
                if f.limit == 0 { 100 } else { f.limit }
            ],
        )
    }

    fn queue_stats(&self, ws: WorkspaceId, now: i64) -> Result<QueueStats> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT job_type, status, count(*) FROM jobs WHERE workspace_id = ?1 \
             GROUP BY job_type, status ORDER BY job_type, status",
        )?;
        let rows: Vec<(String, String, i64)> = stmt
            .query_map([ws], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let oldest: Option<i64> = conn.query_row(
            &format!(
                "SELECT min(run_at) FROM jobs WHERE workspace_id = ?1 AND status = 'pending' \
                 AND run_at <= ?2 AND {NOT_PAUSED}"
            ),
            params![ws, now],
            |r| r.get(0),
        )?;
        let recent: i64 = conn.query_row(
            "SELECT count(*) FROM jobs WHERE workspace_id = ?1 AND status = 'completed' \
             AND finished_at > ?2",
            params![ws, now - 60_000],
            |r| r.get(0),
        )?;
        crate::jobs::stats_from_counts(rows, oldest.map(|t| now - t), recent as u64)
    }

    fn create_run(&self, ws: WorkspaceId, kind: &str, name: &str, now: i64) -> Result<RunId> {
        self.write_tx(|tx| {
            tx.execute(
                "INSERT INTO runs (workspace_id, kind, name, status, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, 'running', ?4, ?4)",
                params![ws, kind, name, now],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn get_run(&self, ws: WorkspaceId, id: RunId) -> Result<Option<Run>> {
        let conn = self.conn();
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1 AND workspace_id = ?2");
        conn.query_row(&sql, params![id, ws], |r| Ok(run_from_row(r)))
            .optional()?
            .transpose()
    }

    fn list_runs(&self, ws: WorkspaceId, limit: u32) -> Result<Vec<Run>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = ?1 ORDER BY id DESC LIMIT ?2"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![ws, limit])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(run_from_row(r)?);
        }
        Ok(out)
    }

    fn set_run_status(&self, ws: WorkspaceId, id: RunId, to: RunStatus, now: i64) -> Result<bool> {
        let from = crate::jobs::run_transition_from(to)?;
        self.write_tx(|tx| {
            let n = tx.execute(
                &format!(
                    "UPDATE runs SET status = ?1, updated_at = ?2, \
                     finished_at = CASE ?1 WHEN 'cancelled' THEN ?2 END \
                     WHERE id = ?3 AND workspace_id = ?4 AND status IN ({from})"
                ),
                params![to.as_str(), now, id, ws],
            )?;
            if n == 1 && to == RunStatus::Cancelled {
                let cancelled = tx.execute(
                    "UPDATE jobs SET status = 'cancelled', worker_id = NULL, lease_until = NULL, \
                     finished_at = ?1, updated_at = ?1 \
                     WHERE run_id = ?2 AND status IN ('pending', 'claimed', 'processing')",
                    params![now, id],
                )?;
                tx.execute(
                    "UPDATE runs SET cancelled_jobs = cancelled_jobs + ?1 WHERE id = ?2",
                    params![cancelled as i64, id],
                )?;
            }
            Ok(n == 1)
        })
    }

    fn take_token(&self, bucket: &str, per_second: f64, burst: f64, now: i64) -> Result<u64> {
        self.write_tx(|tx| {
            let (tokens, at): (f64, i64) = tx
                .query_row(
                    "SELECT tokens, refreshed_at FROM rate_buckets WHERE name = ?1",
                    [bucket],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .unwrap_or((burst, now));
            let (left, wait) = refill(tokens, at, per_second, burst, now);
            tx.execute(
                "INSERT INTO rate_buckets (name, tokens, refreshed_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET tokens = ?2, refreshed_at = ?3",
                params![bucket, left, now.max(at)],
            )?;
            Ok(wait)
        })
    }

    fn effect_count(&self, ws: WorkspaceId, kind: &str) -> Result<u64> {
        let conn = self.conn();
        let n: i64 = conn.query_row(
            "SELECT count(*) FROM job_effects WHERE workspace_id = ?1 AND kind = ?2",
            params![ws, kind],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    fn job_wakeup(&self) -> Result<Option<Box<dyn JobWakeup>>> {
        Ok(None)
    }
}
