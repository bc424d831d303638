//! The job queue on PostgreSQL: `FOR UPDATE SKIP LOCKED` claims, so any
//! number of workers on any number of machines take disjoint jobs without
//! waiting on each other; array parameters (`unnest`) so a batch is one
//! statement; `NOTIFY` on enqueue so idle workers wake at once.

use std::time::Duration;

use leadgen_core::WorkspaceId;
use leadgen_core::job::{
    Completion, CompletionOutcome, Failure, Job, JobId, JobStatus, NewJob, Run, RunDelta, RunId,
    RunStatus,
};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Transaction};

use crate::jobs::{
    ClaimRequest, JOB_COLUMNS, JOBS_CHANNEL, JobFilter, JobQueue, JobWakeup, QueueRow, QueueStats,
    RUN_COLUMNS, TypeSel, error_entry, finish_run_sql, job_from_row, refill, run_from_row,
    tally_runs, validate_new_job,
};
use crate::postgres::{PgStore, error_text, redact_url};
use crate::{Result, StoreError};

/// Claims that respect per-type caps serialize on this advisory lock, so two
/// workers cannot both see room for the last slot.
const CLAIM_CAPS_LOCK: i64 = 0x4c47_0003;
/// Jobs per enqueue statement.
const ENQUEUE_CHUNK: usize = 50_000;

impl QueueRow for Row {
    fn i64_at(&self, i: usize) -> Result<i64> {
        Ok(self.try_get(i)?)
    }
    fn opt_i64_at(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn str_at(&self, i: usize) -> Result<String> {
        Ok(self.try_get(i)?)
    }
    fn opt_str_at(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
}

fn jobs_of(rows: &[Row]) -> Result<Vec<Job>> {
    rows.iter().map(|r| job_from_row(r)).collect()
}

const NOT_PAUSED: &str =
    "(run_id IS NULL OR run_id NOT IN (SELECT id FROM runs WHERE status = 'paused'))";

fn insert_jobs(tx: &mut Transaction<'_>, jobs: &[NewJob], now: i64) -> Result<Vec<Option<JobId>>> {
    let mut out = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(ENQUEUE_CHUNK) {
        for j in chunk {
            validate_new_job(j)?;
        }
        // Ids are taken first so that each input knows its id, and a
        // duplicate unique key shows as an id missing from RETURNING. The
        // sequence is named once (materialized): resolving its name in every
        // row's `nextval` made id reservation 6x slower.
        let ids: Vec<i64> = tx
            .query(
                "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('jobs', 'id')::regclass AS seq) \
                 SELECT nextval(s.seq) FROM s, generate_series(1, $1::bigint)",
                &[&(chunk.len() as i64)],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let inserted: std::collections::HashSet<i64> =
            if chunk.iter().all(|j| j.unique_key.is_none()) {
                // Nothing can conflict: binary COPY, several times faster.
                copy_jobs(tx, chunk, &ids, now)?;
                ids.iter().copied().collect()
            } else {
                insert_unnest(tx, chunk, &ids, now)?
            };
        let mut added: Vec<(RunId, i64)> = Vec::new();
        for (j, id) in chunk.iter().zip(&ids) {
            if !inserted.contains(id) {
                out.push(None);
                continue;
            }
            out.push(Some(*id));
            if let Some(run) = j.run {
                match added.iter_mut().find(|(r, _)| *r == run) {
                    Some((_, c)) => *c += 1,
                    None => added.push((run, 1)),
                }
            }
        }
        for (run, n) in added {
            tx.execute(
                "UPDATE runs SET total_jobs = total_jobs + $1, updated_at = $2, finished_at = NULL, \
                 status = CASE status WHEN 'completed' THEN 'running' ELSE status END WHERE id = $3",
                &[&n, &now, &run],
            )?;
        }
    }
    if out.iter().any(Option::is_some) {
        tx.execute("SELECT pg_notify($1, '')", &[&JOBS_CHANNEL])?;
    }
    Ok(out)
}

/// Inserts with `ON CONFLICT DO NOTHING`; returns the ids that went in.
fn insert_unnest(
    tx: &mut Transaction<'_>,
    chunk: &[NewJob],
    ids: &[i64],
    now: i64,
) -> Result<std::collections::HashSet<i64>> {
    let ws: Vec<i64> = chunk.iter().map(|j| j.workspace).collect();
    let types: Vec<&str> = chunk.iter().map(|j| j.job_type.as_str()).collect();
    let prio: Vec<i64> = chunk.iter().map(|j| i64::from(j.priority)).collect();
    let payload: Vec<&str> = chunk.iter().map(|j| j.payload.as_str()).collect();
    let max: Vec<i64> = chunk.iter().map(|j| i64::from(j.max_attempts)).collect();
    let run_at: Vec<i64> = chunk.iter().map(|j| j.run_at.unwrap_or(now)).collect();
    let unique: Vec<Option<&str>> = chunk.iter().map(|j| j.unique_key.as_deref()).collect();
    let run: Vec<Option<i64>> = chunk.iter().map(|j| j.run).collect();
    Ok(tx
        .query(
            "INSERT INTO jobs (id, workspace_id, job_type, status, priority, payload, \
             max_attempts, run_at, unique_key, run_id, created_at, updated_at) \
             SELECT u.id, u.ws, u.t, 'pending', u.p, u.payload, u.m, u.r, u.k, u.run, $10, $10 \
             FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], \
             $6::bigint[], $7::bigint[], $8::text[], $9::bigint[]) \
             AS u(id, ws, t, p, payload, m, r, k, run) \
             ORDER BY u.id ON CONFLICT DO NOTHING RETURNING id",
            &[
                &ids, &ws, &types, &prio, &payload, &max, &run_at, &unique, &run, &now,
            ],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Appends a binary COPY field.
fn copy_int(buf: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => {
            buf.extend_from_slice(&8i32.to_be_bytes());
            buf.extend_from_slice(&v.to_be_bytes());
        }
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

fn copy_text(buf: &mut Vec<u8>, v: &str) {
    buf.extend_from_slice(&(v.len() as i32).to_be_bytes());
    buf.extend_from_slice(v.as_bytes());
}

/// Jobs without unique keys through binary `COPY`.
fn copy_jobs(tx: &mut Transaction<'_>, chunk: &[NewJob], ids: &[i64], now: i64) -> Result<()> {
    let mut buf = Vec::with_capacity(64 + chunk.len() * 128);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
    for (j, id) in chunk.iter().zip(ids) {
        buf.extend_from_slice(&11i16.to_be_bytes());
        copy_int(&mut buf, Some(*id));
        copy_int(&mut buf, Some(j.workspace));
        copy_text(&mut buf, &j.job_type);
        copy_text(&mut buf, JobStatus::Pending.as_str());
        copy_int(&mut buf, Some(i64::from(j.priority)));
        copy_text(&mut buf, &j.payload);
        copy_int(&mut buf, Some(i64::from(j.max_attempts)));
        copy_int(&mut buf, Some(j.run_at.unwrap_or(now)));
        copy_int(&mut buf, j.run);
        copy_int(&mut buf, Some(now));
        copy_int(&mut buf, Some(now));
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    let mut w = tx.copy_in(
        "COPY jobs (id, workspace_id, job_type, status, priority, payload, max_attempts, \
         run_at, run_id, created_at, updated_at) FROM STDIN (FORMAT binary)",
    )?;
    std::io::Write::write_all(&mut w, &buf)
        .map_err(|e| StoreError::Invalid(format!("sending jobs: {e}")))?;
    w.finish()?;
    Ok(())
}

fn count_in_runs(
    tx: &mut Transaction<'_>,
    finished: &[(Option<RunId>, JobStatus, RunDelta)],
    now: i64,
) -> Result<()> {
    for (run, col, n, d) in tally_runs(finished) {
        tx.execute(
            &format!(
                "UPDATE runs SET {col} = {col} + $1, leads_found = leads_found + $2, \
                 companies_found = companies_found + $3, cost_micros = cost_micros + $4, \
                 updated_at = $5 WHERE id = $6"
            ),
            &[
                &(n as i64),
                &(d.leads_found as i64),
                &(d.companies_found as i64),
                &(d.cost_micros as i64),
                &now,
                &run,
            ],
        )?;
        tx.execute(&finish_run_sql("$1", "$2"), &[&now, &run])?;
    }
    Ok(())
}

/// Appends an error entry and moves an owned job to `status`.
fn set_failed_or_pending(
    tx: &mut Transaction<'_>,
    id: JobId,
    status: JobStatus,
    run_at: Option<i64>,
    entry: &str,
    now: i64,
) -> Result<()> {
    tx.execute(
        "UPDATE jobs SET status = $1::text, run_at = coalesce($2::bigint, run_at), \
         worker_id = NULL, lease_until = NULL, updated_at = $3::bigint, \
         finished_at = CASE WHEN $1::text = 'failed' THEN $3::bigint END, \
         errors = (errors::jsonb || jsonb_build_array($4::text::jsonb))::text WHERE id = $5",
        &[&status.as_str(), &run_at, &now, &entry, &id],
    )?;
    Ok(())
}

impl PgStore {
    fn pg_tx<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        let mut tx = conn.client.transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl JobQueue for PgStore {
    fn enqueue(&self, jobs: &[NewJob], now: i64) -> Result<Vec<Option<JobId>>> {
        self.pg_tx(|tx| insert_jobs(tx, jobs, now))
    }

    fn claim(&self, req: &ClaimRequest) -> Result<Vec<Job>> {
        self.pg_tx(|tx| {
            let mut inflight = std::collections::HashMap::new();
            if !req.caps.is_empty() {
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CLAIM_CAPS_LOCK])?;
                for r in tx.query(
                    "SELECT job_type, count(*) FROM jobs \
                     WHERE status IN ('claimed', 'processing') AND lease_until > $1 \
                     GROUP BY job_type",
                    &[&req.now],
                )? {
                    inflight.insert(r.get::<_, String>(0), r.get::<_, i64>(1) as u64);
                }
            }
            let lease = req.now + req.lease_ms as i64;
            let mut out = Vec::new();
            for (sel, limit) in req.plan(&|t| inflight.get(t).copied().unwrap_or(0)) {
                let room = (req.limit as usize)
                    .saturating_sub(out.len())
                    .min(limit as usize);
                if room == 0 {
                    break;
                }
                let (clause, list) = match &sel {
                    TypeSel::Any => ("", None),
                    TypeSel::In(l) => (" AND job_type = ANY($5)", Some(l)),
                    TypeSel::NotIn(l) => (" AND job_type <> ALL($5)", Some(l)),
                };
                let sql = format!(
                    "WITH c AS (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= $3 \
                     AND {NOT_PAUSED}{clause} ORDER BY priority DESC, id LIMIT $4 \
                     FOR UPDATE SKIP LOCKED) \
                     UPDATE jobs SET status = 'claimed', worker_id = $1, lease_until = $2, \
                     attempts = attempts + 1, updated_at = $3 FROM c WHERE jobs.id = c.id \
                     RETURNING {}",
                    JOB_COLUMNS
                        .split(", ")
                        .map(|c| format!("jobs.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let room = room as i64;
                let mut params: Vec<&(dyn ToSql + Sync)> =
                    vec![&req.worker, &lease, &req.now, &room];
                if let Some(l) = list {
                    params.push(l);
                }
                out.append(&mut jobs_of(&tx.query(&sql, &params)?)?);
            }
            out.sort_by_key(|j| (std::cmp::Reverse(j.priority), j.id));
            Ok(out)
        })
    }

    fn start_jobs(&self, worker: &str, ids: &[JobId], now: i64) -> Result<u64> {
        self.pg_tx(|tx| {
            Ok(tx.execute(
                "UPDATE jobs SET status = 'processing', updated_at = $1 \
                 WHERE id = ANY($2) AND worker_id = $3 AND status = 'claimed'",
                &[&now, &ids, &worker],
            )?)
        })
    }

    fn extend_leases(
        &self,
        worker: &str,
        ids: &[JobId],
        lease_until: i64,
        now: i64,
    ) -> Result<u64> {
        self.pg_tx(|tx| {
            Ok(tx.execute(
                "UPDATE jobs SET lease_until = $1, updated_at = $2 \
                 WHERE id = ANY($3) AND worker_id = $4 AND status IN ('claimed', 'processing')",
                &[&lease_until, &now, &ids, &worker],
            )?)
        })
    }

    fn complete_jobs(
        &self,
        worker: &str,
        done: &[Completion],
        now: i64,
    ) -> Result<Vec<CompletionOutcome>> {
        self.pg_tx(|tx| {
            let ids: Vec<i64> = done.iter().map(|c| c.id).collect();
            let owned: std::collections::HashMap<i64, (Option<RunId>, WorkspaceId)> = tx
                .query(
                    "SELECT id, run_id, workspace_id FROM jobs WHERE id = ANY($1) \
                     AND worker_id = $2 AND status IN ('claimed', 'processing') FOR UPDATE",
                    &[&ids, &worker],
                )?
                .iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2))))
                .collect();
            // Effects of the owned jobs, in one statement; a row that does
            // not come back was already recorded.
            let (mut e_ws, mut e_kind, mut e_key, mut e_job) = (vec![], vec![], vec![], vec![]);
            for c in done {
                if let Some((_, ws)) = owned.get(&c.id) {
                    for e in &c.effects {
                        e_ws.push(*ws);
                        e_kind.push(e.kind.as_str());
                        e_key.push(e.key.as_str());
                        e_job.push(c.id);
                    }
                }
            }
            let mut recorded = std::collections::HashSet::new();
            if !e_job.is_empty() {
                for r in tx.query(
                    "INSERT INTO job_effects (workspace_id, kind, key, job_id, created_at) \
                     SELECT ws, k, key, j, $5 FROM unnest($1::bigint[], $2::text[], $3::text[], \
                     $4::bigint[]) AS u(ws, k, key, j) ON CONFLICT DO NOTHING \
                     RETURNING job_id, kind, key",
                    &[&e_ws, &e_kind, &e_key, &e_job, &now],
                )? {
                    recorded.insert((
                        r.get::<_, i64>(0),
                        r.get::<_, String>(1),
                        r.get::<_, String>(2),
                    ));
                }
            }
            let mut outcomes = Vec::with_capacity(done.len());
            let mut finished = Vec::new();
            let (mut ok_ids, mut ok_results) = (Vec::new(), Vec::new());
            let mut follow_ups = Vec::new();
            for c in done {
                let Some((run, ws)) = owned.get(&c.id).copied() else {
                    outcomes.push(CompletionOutcome::NotOwned);
                    continue;
                };
                let clash = c
                    .effects
                    .iter()
                    .find(|e| !recorded.contains(&(c.id, e.kind.clone(), e.key.clone())));
                if let Some(e) = clash {
                    tx.execute("DELETE FROM job_effects WHERE job_id = $1", &[&c.id])?;
                    let by: JobId = tx
                        .query_opt(
                            "SELECT job_id FROM job_effects WHERE workspace_id = $1 \
                             AND kind = $2 AND key = $3",
                            &[&ws, &e.kind, &e.key],
                        )?
                        .map(|r| r.get(0))
                        .unwrap_or(c.id);
                    let msg = format!(
                        "effect {}:{} was already recorded by job {by}; not doing it twice",
                        e.kind, e.key
                    );
                    let attempts: i64 = tx
                        .query_one("SELECT attempts FROM jobs WHERE id = $1", &[&c.id])?
                        .get(0);
                    let entry = error_entry(attempts, now, Some(worker), &msg);
                    set_failed_or_pending(tx, c.id, JobStatus::Failed, None, &entry, now)?;
                    finished.push((run, JobStatus::Failed, RunDelta::default()));
                    outcomes.push(CompletionOutcome::DuplicateEffect {
                        kind: e.kind.clone(),
                        key: e.key.clone(),
                        by,
                    });
                    continue;
                }
                ok_ids.push(c.id);
                ok_results.push(c.result.as_str());
                follow_ups.extend(c.follow_ups.iter().cloned());
                finished.push((run, JobStatus::Completed, c.delta));
                outcomes.push(CompletionOutcome::Completed);
            }
            if !ok_ids.is_empty() {
                tx.execute(
                    "UPDATE jobs SET status = 'completed', result = u.result, worker_id = NULL, \
                     lease_until = NULL, finished_at = $3, updated_at = $3 \
                     FROM unnest($1::bigint[], $2::text[]) AS u(id, result) WHERE jobs.id = u.id",
                    &[&ok_ids, &ok_results, &now],
                )?;
            }
            if !follow_ups.is_empty() {
                insert_jobs(tx, &follow_ups, now)?;
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
        self.pg_tx(|tx| {
            let mut out = Vec::with_capacity(failures.len());
            let mut finished = Vec::new();
            for f in failures {
                let Some(r) = tx.query_opt(
                    "SELECT attempts, max_attempts, run_id FROM jobs WHERE id = $1 \
                     AND worker_id = $2 AND status IN ('claimed', 'processing') FOR UPDATE",
                    &[&f.id, &worker],
                )?
                else {
                    out.push(None);
                    continue;
                };
                let (attempts, max, run): (i64, i64, Option<RunId>) =
                    (r.get(0), r.get(1), r.get(2));
                let entry = error_entry(attempts, now, Some(worker), &f.message);
                let retry = f.retry_at.filter(|_| attempts < max);
                let status = if retry.is_some() {
                    JobStatus::Pending
                } else {
                    JobStatus::Failed
                };
                set_failed_or_pending(tx, f.id, status, retry, &entry, now)?;
                if status == JobStatus::Failed {
                    finished.push((run, JobStatus::Failed, RunDelta::default()));
                }
                out.push(Some(status));
            }
            count_in_runs(tx, &finished, now)?;
            Ok(out)
        })
    }

    fn release_jobs(&self, worker: &str, ids: &[JobId], now: i64) -> Result<u64> {
        self.pg_tx(|tx| {
            let n = tx.execute(
                "UPDATE jobs SET status = 'pending', worker_id = NULL, lease_until = NULL, \
                 attempts = greatest(attempts - 1, 0), updated_at = $1 \
                 WHERE id = ANY($2) AND worker_id = $3 AND status IN ('claimed', 'processing')",
                &[&now, &ids, &worker],
            )?;
            if n > 0 {
                tx.execute("SELECT pg_notify($1, '')", &[&JOBS_CHANNEL])?;
            }
            Ok(n)
        })
    }

    fn reap_expired(&self, now: i64) -> Result<u64> {
        self.pg_tx(|tx| {
            let expired = tx.query(
                "SELECT id, attempts, max_attempts, worker_id, run_id FROM jobs \
                 WHERE status IN ('claimed', 'processing') AND lease_until < $1 \
                 FOR UPDATE SKIP LOCKED",
                &[&now],
            )?;
            let mut finished = Vec::new();
            for r in &expired {
                let (id, attempts, max): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
                let worker: Option<String> = r.get(3);
                let msg = crate::jobs::lease_expired_message(worker.as_deref());
                let entry = error_entry(attempts, now, worker.as_deref(), &msg);
                let status = if attempts < max {
                    JobStatus::Pending
                } else {
                    JobStatus::Failed
                };
                set_failed_or_pending(tx, id, status, None, &entry, now)?;
                if status == JobStatus::Failed {
                    finished.push((r.get(4), JobStatus::Failed, RunDelta::default()));
                }
            }
            count_in_runs(tx, &finished, now)?;
            if !expired.is_empty() {
                tx.execute("SELECT pg_notify($1, '')", &[&JOBS_CHANNEL])?;
            }
            Ok(expired.len() as u64)
        })
    }

    fn next_claimable(&self, types: Option<&[String]>, now: i64) -> Result<Option<i64>> {
        let mut conn = self.conn()?;
        let filter = if types.is_some() {
            " AND job_type = ANY($2)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT min(t) FROM ( \
               SELECT min(run_at) AS t FROM jobs WHERE status = 'pending' AND {NOT_PAUSED}{filter} \
               UNION ALL \
               SELECT min(lease_until) FROM jobs WHERE status IN ('claimed', 'processing') \
               AND $1::bigint = $1::bigint{filter}) AS x"
        );
        let stmt = conn.statement(&sql)?;
        let row = match types {
            Some(t) => conn.client.query_one(&stmt, &[&now, &t])?,
            None => conn.client.query_one(&stmt, &[&now])?,
        };
        Ok(row.get(0))
    }

    fn cancel_job(&self, ws: WorkspaceId, id: JobId, now: i64) -> Result<bool> {
        self.pg_tx(|tx| {
            match tx.query_opt(
                "UPDATE jobs SET status = 'cancelled', worker_id = NULL, lease_until = NULL, \
                 finished_at = $1, updated_at = $1 WHERE id = $2 AND workspace_id = $3 \
                 AND status IN ('pending', 'claimed', 'processing') RETURNING run_id",
                &[&now, &id, &ws],
            )? {
                Some(r) => {
                    count_in_runs(
                        tx,
                        &[(r.get(0), JobStatus::Cancelled, RunDelta::default())],
                        now,
                    )?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
    }

    fn retry_job(&self, ws: WorkspaceId, id: JobId, now: i64) -> Result<bool> {
        self.pg_tx(|tx| {
            let Some(r) = tx.query_opt(
                "SELECT status, run_id FROM jobs WHERE id = $1 AND workspace_id = $2 \
                 AND status IN ('failed', 'cancelled') FOR UPDATE",
                &[&id, &ws],
            )?
            else {
                return Ok(false);
            };
            let (old, run): (String, Option<RunId>) = (r.get(0), r.get(1));
            tx.execute(
                "UPDATE jobs SET status = 'pending', attempts = 0, run_at = $1, finished_at = NULL, \
                 updated_at = $1 WHERE id = $2",
                &[&now, &id],
            )?;
            if let Some(run) = run {
                let col = if old == "failed" { "failed_jobs" } else { "cancelled_jobs" };
                tx.execute(
                    &format!(
                        "UPDATE runs SET {col} = {col} - 1, updated_at = $1, finished_at = NULL, \
                         status = CASE status WHEN 'completed' THEN 'running' ELSE status END \
                         WHERE id = $2"
                    ),
                    &[&now, &run],
                )?;
            }
            tx.execute("SELECT pg_notify($1, '')", &[&JOBS_CHANNEL])?;
            Ok(true)
        })
    }

    fn get_job(&self, ws: WorkspaceId, id: JobId) -> Result<Option<Job>> {
        let mut conn = self.conn()?;
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND workspace_id = $2");
        Ok(jobs_of(&conn.client.query(&sql, &[&id, &ws])?)?.pop())
    }

    fn held_jobs(&self, worker: &str, ids: &[JobId]) -> Result<Vec<Job>> {
        let mut conn = self.conn()?;
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ANY($1) AND worker_id = $2 \
             AND status IN ('claimed', 'processing') ORDER BY id"
        );
        jobs_of(&conn.client.query(&sql, &[&ids, &worker])?)
    }

    fn list_jobs(&self, ws: WorkspaceId, f: &JobFilter) -> Result<Vec<Job>> {
        let mut conn = self.conn()?;
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 \
             AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR job_type = $3) \
             AND ($4::bigint IS NULL OR run_id = $4) ORDER BY id DESC LIMIT $5"
        );
        let limit = i64::from(if f.limit == 0 { 100 } else { f.limit });
        let rows = conn.client.query(
            &sql,
            &[
                &ws,
                &f.status.map(|s| s.as_str()),
                &f.job_type,
                &f.run,
                &limit,
            ],
        )?;
        jobs_of(&rows)
    }

    fn queue_stats(&self, ws: WorkspaceId, now: i64) -> Result<QueueStats> {
        let mut conn = self.conn()?;
        let rows: Vec<(String, String, i64)> = conn
            .client
            .query(
                "SELECT job_type, status, count(*) FROM jobs WHERE workspace_id = $1 \
                 GROUP BY job_type, status ORDER BY job_type, status",
                &[&ws],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let oldest: Option<i64> = conn
            .client
            .query_one(
                &format!(
                    "SELECT min(run_at) FROM jobs WHERE workspace_id = $1 AND status = 'pending' \
                     AND run_at <= $2 AND {NOT_PAUSED}"
                ),
                &[&ws, &now],
            )?
            .get(0);
        let recent: i64 = conn
            .client
            .query_one(
                "SELECT count(*) FROM jobs WHERE workspace_id = $1 AND status = 'completed' \
                 AND finished_at > $2",
                &[&ws, &(now - 60_000)],
            )?
            .get(0);
        crate::jobs::stats_from_counts(rows, oldest.map(|t| now - t), recent as u64)
    }

    fn create_run(&self, ws: WorkspaceId, kind: &str, name: &str, now: i64) -> Result<RunId> {
        self.pg_tx(|tx| {
            Ok(tx
                .query_one(
                    "INSERT INTO runs (workspace_id, kind, name, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, 'running', $4, $4) RETURNING id",
                    &[&ws, &kind, &name, &now],
                )?
                .get(0))
        })
    }

    fn get_run(&self, ws: WorkspaceId, id: RunId) -> Result<Option<Run>> {
        let mut conn = self.conn()?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 AND workspace_id = $2");
        conn.client
            .query_opt(&sql, &[&id, &ws])?
            .map(|r| run_from_row(&r))
            .transpose()
    }

    fn list_runs(&self, ws: WorkspaceId, limit: u32) -> Result<Vec<Run>> {
        let mut conn = self.conn()?;
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2"
        );
        conn.client
            .query(&sql, &[&ws, &i64::from(limit)])?
            .iter()
            .map(|r| run_from_row(r))
            .collect()
    }

    fn set_run_status(&self, ws: WorkspaceId, id: RunId, to: RunStatus, now: i64) -> Result<bool> {
        let from = crate::jobs::run_transition_from(to)?;
        self.pg_tx(|tx| {
            let n = tx.execute(
                &format!(
                    "UPDATE runs SET status = $1::text, updated_at = $2::bigint, \
                     finished_at = CASE WHEN $1::text = 'cancelled' THEN $2::bigint END \
                     WHERE id = $3 AND workspace_id = $4 AND status IN ({from})"
                ),
                &[&to.as_str(), &now, &id, &ws],
            )?;
            if n == 1 && to == RunStatus::Cancelled {
                let cancelled = tx.execute(
                    "UPDATE jobs SET status = 'cancelled', worker_id = NULL, lease_until = NULL, \
                     finished_at = $1, updated_at = $1 \
                     WHERE run_id = $2 AND status IN ('pending', 'claimed', 'processing')",
                    &[&now, &id],
                )?;
                tx.execute(
                    "UPDATE runs SET cancelled_jobs = cancelled_jobs + $1 WHERE id = $2",
                    &[&(cancelled as i64), &id],
                )?;
            }
            if n == 1 && to == RunStatus::Running {
                tx.execute("SELECT pg_notify($1, '')", &[&JOBS_CHANNEL])?;
            }
            Ok(n == 1)
        })
    }

    fn take_token(&self, bucket: &str, per_second: f64, burst: f64, now: i64) -> Result<u64> {
        self.pg_tx(|tx| {
            tx.execute(
                "INSERT INTO rate_buckets (name, tokens, refreshed_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&bucket, &burst, &now],
            )?;
            let r = tx.query_one(
                "SELECT tokens, refreshed_at FROM rate_buckets WHERE name = $1 FOR UPDATE",
                &[&bucket],
            )?;
            let (tokens, at): (f64, i64) = (r.get(0), r.get(1));
            let (left, wait) = refill(tokens, at, per_second, burst, now);
            tx.execute(
                "UPDATE rate_buckets SET tokens = $2, refreshed_at = $3 WHERE name = $1",
                &[&bucket, &left, &now.max(at)],
            )?;
            Ok(wait)
        })
    }

    fn effect_count(&self, ws: WorkspaceId, kind: &str) -> Result<u64> {
        let mut conn = self.conn()?;
        let n: i64 = conn
            .client
            .query_one(
                "SELECT count(*) FROM job_effects WHERE workspace_id = $1 AND kind = $2",
                &[&ws, &kind],
            )?
            .get(0);
        Ok(n as u64)
    }

    fn job_wakeup(&self) -> Result<Option<Box<dyn JobWakeup>>> {
        let mut client = Client::connect(&self.url, NoTls).map_err(|e| StoreError::Open {
            path: redact_url(&self.url),
            reason: error_text(&e),
        })?;
        client.batch_execute(&format!("LISTEN {JOBS_CHANNEL}"))?;
        Ok(Some(Box::new(PgWakeup { client })))
    }
}

/// A dedicated connection that `LISTEN`s on the jobs channel.
struct PgWakeup {
    client: Client,
}

impl JobWakeup for PgWakeup {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let mut notes = self.client.notifications();
        if notes.timeout_iter(timeout).next()?.is_none() {
            return Ok(false);
        }
        // One wake-up covers every notification already queued.
        while notes.iter().next()?.is_some() {}
        Ok(true)
    }
}
