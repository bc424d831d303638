//! Enrichments: every waterfall step's result for a lead or a company
//! (provider, kind, outcome, result JSON, confidence, reasoning, tokens,
//! cost), and the cache of paid answers by input, so a re-run never pays
//! twice. One SQL text for both backends, placeholders aside.

use leadgen_core::WorkspaceId;
use rusqlite::{OptionalExtension, params};

use crate::Result;
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

/// One step to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEnrichment {
    /// `company:<domain>` or `lead:<id>`: what was enriched.
    pub subject: String,
    pub lead_id: Option<i64>,
    pub company_id: Option<i64>,
    pub provider: String,
    pub kind: String,
    /// `found`, `nothing`, `cached`, `skipped_budget`, `error`, …
    pub outcome: String,
    /// JSON text.
    pub result: String,
    pub confidence: Option<f64>,
    pub reasoning: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micros: u64,
}

/// A stored step.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment {
    pub id: i64,
    pub created_at: i64,
    pub step: NewEnrichment,
}

/// Totals for reports: subjects enriched, steps, paid spend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnrichmentTotals {
    pub subjects: u64,
    pub steps: u64,
    pub cost_micros: u64,
}

pub trait EnrichmentStore {
    fn record_enrichment(&self, ws: WorkspaceId, e: &NewEnrichment, now_ms: i64) -> Result<i64>;
    /// A subject's steps, oldest first.
    fn enrichments_of(&self, ws: WorkspaceId, subject: &str) -> Result<Vec<Enrichment>>;
    /// One step by id (for `enrich --explain`).
    fn enrichment_by_id(&self, ws: WorkspaceId, id: i64) -> Result<Option<Enrichment>>;
    fn enrichment_totals(&self, ws: WorkspaceId) -> Result<EnrichmentTotals>;
    fn cached_enrichment(
        &self,
        ws: WorkspaceId,
        provider: &str,
        kind: &str,
        input_key: &str,
    ) -> Result<Option<String>>;
    /// Keeps the first answer for an input (a later one is ignored).
    fn cache_enrichment(
        &self,
        ws: WorkspaceId,
        provider: &str,
        kind: &str,
        input_key: &str,
        result: &str,
        now_ms: i64,
    ) -> Result<()>;
}

pub(crate) fn enrichments_ddl(pk: &str) -> String {
    format!(
        "
CREATE TABLE enrichments (
    id {pk},
    workspace_id BIGINT NOT NULL,
    subject TEXT NOT NULL,
    lead_id BIGINT,
    company_id BIGINT,
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    result TEXT NOT NULL,
    confidence DOUBLE PRECISION,
    reasoning TEXT,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_micros BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX enrichments_subject ON enrichments (workspace_id, subject, id);
CREATE INDEX enrichments_lead ON enrichments (workspace_id, lead_id);
CREATE TABLE enrichment_cache (
    workspace_id BIGINT NOT NULL,
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    input_key TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, provider, kind, input_key)
);
"
    )
}

const COLUMNS: &str = "id, created_at, subject, lead_id, company_id, provider, kind, outcome, \
    result, confidence, reasoning, input_tokens, output_tokens, cost_micros";

struct Sql {
    insert: String,
    of_subject: String,
    by_id: String,
    totals: String,
    cache_get: String,
    cache_put: String,
}

fn sql(p: fn(usize) -> String) -> Sql {
    let ps = |from: usize, n: usize| (from..from + n).map(p).collect::<Vec<_>>().join(", ");
    Sql {
        insert: format!(
            "INSERT INTO enrichments (workspace_id, subject, lead_id, company_id, provider, kind, \
             outcome, result, confidence, reasoning, input_tokens, output_tokens, cost_micros, \
             created_at) VALUES ({}) RETURNING id",
            ps(1, 14)
        ),
        of_subject: format!(
            "SELECT {COLUMNS} FROM enrichments WHERE workspace_id = {} AND subject = {} ORDER BY id",
            p(1),
            p(2)
        ),
        by_id: format!(
            "SELECT {COLUMNS} FROM enrichments WHERE workspace_id = {} AND id = {}",
            p(1),
            p(2)
        ),
        totals: format!(
            "SELECT count(DISTINCT subject), count(*), CAST(coalesce(sum(cost_micros), 0) AS BIGINT) \
             FROM enrichments WHERE workspace_id = {}",
            p(1)
        ),
        cache_get: format!(
            "SELECT result FROM enrichment_cache WHERE workspace_id = {} AND provider = {} \
             AND kind = {} AND input_key = {}",
            p(1),
            p(2),
            p(3),
            p(4)
        ),
        cache_put: format!(
            "INSERT INTO enrichment_cache (workspace_id, provider, kind, input_key, result, created_at) \
             VALUES ({}) ON CONFLICT DO NOTHING",
            ps(1, 6)
        ),
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

type Row = (
    i64,
    i64,
    String,
    Option<i64>,
    Option<i64>,
    String,
    String,
    String,
    String,
    Option<f64>,
    Option<String>,
    i64,
    i64,
    i64,
);

fn from_row(r: Row) -> Enrichment {
    Enrichment {
        id: r.0,
        created_at: r.1,
        step: NewEnrichment {
            subject: r.2,
            lead_id: r.3,
            company_id: r.4,
            provider: r.5,
            kind: r.6,
            outcome: r.7,
            result: r.8,
            confidence: r.9,
            reasoning: r.10,
            input_tokens: r.11.max(0) as u64,
            output_tokens: r.12.max(0) as u64,
            cost_micros: r.13.max(0) as u64,
        },
    }
}

fn sqlite_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
    ))
}

fn pg_row(r: &postgres::Row) -> Row {
    (
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(8),
        r.get(9),
        r.get(10),
        r.get(11),
        r.get(12),
        r.get(13),
    )
}

impl EnrichmentStore for SqliteStore {
    fn record_enrichment(&self, ws: WorkspaceId, e: &NewEnrichment, now_ms: i64) -> Result<i64> {
        let s = sql(|n| format!("?{n}"));
        let conn = self.conn();
        Ok(conn.query_row(
            &s.insert,
            params![
                ws,
                e.subject,
                e.lead_id,
                e.company_id,
                e.provider,
                e.kind,
                e.outcome,
                e.result,
                e.confidence,
                e.reasoning,
                to_i64(e.input_tokens),
                to_i64(e.output_tokens),
                to_i64(e.cost_micros),
                now_ms
            ],
            |r| r.get(0),
        )?)
    }

    fn enrichments_of(&self, ws: WorkspaceId, subject: &str) -> Result<Vec<Enrichment>> {
        let s = sql(|n| format!("?{n}"));
        let conn = self.conn();
        let mut stmt = conn.prepare(&s.of_subject)?;
        let rows = stmt.query_map(params![ws, subject], sqlite_row)?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<Row>>>()?
            .into_iter()
            .map(from_row)
            .collect())
    }

    fn enrichment_by_id(&self, ws: WorkspaceId, id: i64) -> Result<Option<Enrichment>> {
        let s = sql(|n| format!("?{n}"));
        let conn = self.conn();
        Ok(conn
            .query_row(&s.by_id, params![ws, id], sqlite_row)
            .optional()?
            .map(from_row))
    }

    fn enrichment_totals(&self, ws: WorkspaceId) -> Result<EnrichmentTotals> {
        let s = sql(|n| format!("?{n}"));
        let conn = self.conn();
        Ok(conn.query_row(&s.totals, params![ws], |r| {
            Ok(EnrichmentTotals {
                subjects: r.get::<_, i64>(0)?.max(0) as u64,
                steps: r.get::<_, i64>(1)?.max(0) as u64,
                cost_micros: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })?)
    }

    fn cached_enrichment(
        &self,
        ws: WorkspaceId,
        provider: &str,
        kind: &str,
        input_key: &str,
    ) -> Result<Option<String>> {
        let s = sql(|n| format!("?{n}"));
        let conn = self.conn();
        Ok(conn
            .query_row(&s.cache_get, params![ws, provider, kind, input_key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn cache_enrichment(
        &self,
        ws: WorkspaceId,
        provider: &str,
        kind: &str,
        input_key: &str,
        result: &str,
        now_ms: i64,
    ) -> Result<()> {
        let s = sql(|n| format!("?{n}"));
        self.conn().execute(
            &s.cache_put,
            params![ws, provider, kind, input_key, result, now_ms],
        )?;
        Ok(())
    }
}

impl EnrichmentStore for PgStore {
    fn record_enrichment(&self, ws: WorkspaceId, e: &NewEnrichment, now_ms: i64) -> Result<i64> {
        let s = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        let row = conn.client.query_one(
            &s.insert,
            &[
                &ws,
                &e.subject,
                &e.lead_id,
                &e.company_id,
                &e.provider,
                &e.kind,
                &e.outcome,
                &e.result,
                &e.confidence,
                &e.reasoning,
                &to_i64(e.input_tokens),
                &to_i64(e.output_tokens),
                &to_i64(e.cost_micros),
                &now_ms,
            ],
        )?;
        Ok(row.get(0))
    }

    fn enrichments_of(&self, ws: WorkspaceId, subject: &str) -> Result<Vec<Enrichment>> {
        let s = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        let rows = conn.client.query(&s.of_subject, &[&ws, &subject])?;
        Ok(rows.iter().map(|r| from_row(pg_row(r))).collect())
    }

    fn enrichment_by_id(&self, ws: WorkspaceId, id: i64) -> Result<Option<Enrichment>> {
        let s = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        let row = conn.client.query_opt(&s.by_id, &[&ws, &id])?;
        Ok(row.map(|r| from_row(pg_row(&r))))
    }

    fn enrichment_totals(&self, ws: WorkspaceId) -> Result<EnrichmentTotals> {
        let s = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        let r = conn.client.query_one(&s.totals, &[&ws])?;
        Ok(EnrichmentTotals {
            subjects: r.get::<_, i64>(0).max(0) as u64,
            steps: r.get::<_, i64>(1).max(0) as u64,
            cost_micros: r.get::<_, i64>(2).max(0) as u64,
        })
    }

    fn cached_enrichment(
        &self,
        ws: WorkspaceId,
        provider: &str,
        kind: &str,
        input_key: &str,
    ) -> Result<Option<String>> {
        let s = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        let row = conn
            .client
            .query_opt(&s.cache_get, &[&ws, &provider, &kind, &input_key])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn cache_enrichment(
        &self,
        ws: WorkspaceId,
        provider: &str,
        kind: &str,
        input_key: &str,
        result: &str,
        now_ms: i64,
    ) -> Result<()> {
        let s = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        conn.client.execute(
            &s.cache_put,
            &[&ws, &provider, &kind, &input_key, &result, &now_ms],
        )?;
        Ok(())
    }
}
