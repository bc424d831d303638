//! Intent signals per workspace (`intent_signals`), the active queries a
//! daily run asks the provider (`intent_queries`), and what the signals do
//! to leads: the level each lead's signals add up to is written to its
//! `intent` column. Which level a set of signals means is `core`'s rule
//! (`leadgen_core::intent::level_of`); the store only finds and counts.
//!
//! A signal is about a company (its registrable domain) or a person (their
//! email, lower-cased); a lead matches a company signal by its
//! `company_domain` and a person signal by its email. The same signal
//! reported twice (same subject, topic, source and time) is kept once.

use std::collections::HashMap;

use leadgen_core::intent::{IntentSignal, Strength, SubjectKind};
use leadgen_core::lead::IntentLevel;
use leadgen_core::{LeadId, WorkspaceId};
use rusqlite::params;

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{Result, StoreError};

pub trait IntentStore {
    /// Adds signals; those already stored are skipped. The number added.
    fn add_intent_signals(
        &self,
        ws: WorkspaceId,
        signals: &[IntentSignal],
        now: i64,
    ) -> Result<u64>;

    /// Signals observed at or after `since`, oldest first.
    fn intent_signals_since(&self, ws: WorkspaceId, since: i64) -> Result<Vec<IntentSignal>>;

    /// The strengths of the high and medium signals since `since` that
    /// match each lead, one row per match.
    fn lead_signal_strengths(&self, ws: WorkspaceId, since: i64)
    -> Result<Vec<(LeadId, Strength)>>;

    /// Sets the leads' intent to the given levels and every other lead's to
    /// cold; the number of leads whose level changed.
    fn set_lead_intents(
        &self,
        ws: WorkspaceId,
        levels: &HashMap<LeadId, IntentLevel>,
        now: i64,
    ) -> Result<u64>;

    /// Leads per intent level.
    fn leads_by_intent(&self, ws: WorkspaceId) -> Result<Vec<(IntentLevel, u64)>>;

    /// Hot and warm leads with an email not known to be bad, not yet pushed
    /// anywhere, scoring at least `min_score`: hot first, then by score.
    /// `verified_only` keeps those whose latest verification said valid.
    fn leads_ready_for_upload(
        &self,
        ws: WorkspaceId,
        min_score: u8,
        verified_only: bool,
        limit: u32,
    ) -> Result<Vec<LeadId>>;

    /// Saves the active query for `topic` (its JSON), replacing an older one.
    fn save_intent_query(&self, ws: WorkspaceId, topic: &str, query: &str, now: i64) -> Result<()>;
    /// `(topic, JSON)` of every active query, by topic.
    fn intent_queries(&self, ws: WorkspaceId) -> Result<Vec<(String, String)>>;
    fn delete_intent_query(&self, ws: WorkspaceId, topic: &str) -> Result<bool>;
}

/// First key of the intent recompute's advisory lock ("LG" + 0x11).
const INTENT_LOCK: i32 = 0x4c47_0011;

/// The tables, in SQL both backends accept; `id` is the backend's
/// auto-increment key.
pub(crate) fn intent_ddl(id: &str) -> String {
    format!(
        "
CREATE TABLE intent_signals (
    id {id},
    workspace_id BIGINT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    topic TEXT NOT NULL,
    score BIGINT NOT NULL,
    strength TEXT NOT NULL,
    signal_type TEXT NOT NULL,
    source TEXT NOT NULL,
    observed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, subject_kind, subject_key, topic, source, observed_at)
);
CREATE INDEX intent_signals_by_time ON intent_signals (workspace_id, observed_at);
CREATE INDEX intent_signals_by_subject ON intent_signals (workspace_id, subject_kind, subject_key);
CREATE TABLE intent_queries (
    workspace_id BIGINT NOT NULL,
    topic TEXT NOT NULL,
    query TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, topic)
);
"
    )
}

/// Statements both backends run, with `p(n)` placeholders.
struct Sql {
    insert: String,
    since: String,
    strengths: String,
    not_cold: String,
    set_level: String,
    by_intent: String,
    ready: String,
    save_query: String,
    queries: String,
    delete_query: String,
}

fn sql(p: fn(usize) -> String) -> Sql {
    let strengths = |kind: &str, column: &str| {
        format!(
            "SELECT l.id, s.strength FROM intent_signals s JOIN leads l \
             ON l.workspace_id = s.workspace_id AND lower(l.{column}) = s.subject_key \
             WHERE s.workspace_id = {} AND s.subject_kind = '{kind}' AND s.observed_at >= {} \
             AND s.strength <> 'low'",
            p(1),
            p(2)
        )
    };
    Sql {
        insert: format!(
            "INSERT INTO intent_signals (workspace_id, subject_kind, subject_key, topic, score, \
             strength, signal_type, source, observed_at, created_at) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}) ON CONFLICT DO NOTHING",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10)
        ),
        since: format!(
            "SELECT subject_kind, subject_key, topic, score, strength, signal_type, source, \
             observed_at FROM intent_signals WHERE workspace_id = {} AND observed_at >= {} \
             ORDER BY observed_at, id",
            p(1),
            p(2)
        ),
        strengths: format!(
            "{} UNION ALL {}",
            strengths("lead", "email"),
            strengths("company", "company_domain")
        ),
        not_cold: format!(
            "SELECT id, intent FROM leads WHERE workspace_id = {} AND intent <> 'cold'",
            p(1)
        ),
        set_level: format!(
            "UPDATE leads SET intent = {}, updated_at = {} WHERE workspace_id = {} AND id = {}",
            p(1),
            p(2),
            p(3),
            p(4)
        ),
        by_intent: format!(
            "SELECT intent, count(*) FROM leads WHERE workspace_id = {} GROUP BY intent",
            p(1)
        ),
        ready: format!(
            "SELECT l.id FROM leads l WHERE l.workspace_id = {ws} AND l.intent IN ('hot', 'warm') \
             AND l.email IS NOT NULL AND l.email <> '' \
             AND l.status NOT IN ('invalid', 'pushed_to_crm', 'pushed_to_instantly') \
             AND l.score >= {min} \
             AND NOT EXISTS (SELECT 1 FROM email_verifications v WHERE v.workspace_id = l.workspace_id \
                 AND v.lead_id = l.id AND v.status = 'invalid') \
             AND (CAST({verified} AS BIGINT) = 0 OR EXISTS (SELECT 1 FROM email_verifications v WHERE \
                 v.workspace_id = l.workspace_id AND v.lead_id = l.id AND v.status = 'valid')) \
             ORDER BY CASE l.intent WHEN 'hot' THEN 0 ELSE 1 END, l.score DESC, l.id LIMIT {limit}",
            ws = p(1),
            min = p(2),
            verified = p(3),
            limit = p(4)
        ),
        save_query: format!(
            "INSERT INTO intent_queries (workspace_id, topic, query, updated_at) \
             VALUES ({}, {}, {}, {}) ON CONFLICT (workspace_id, topic) \
             DO UPDATE SET query = excluded.query, updated_at = excluded.updated_at",
            p(1),
            p(2),
            p(3),
            p(4)
        ),
        queries: format!(
            "SELECT topic, query FROM intent_queries WHERE workspace_id = {} ORDER BY topic",
            p(1)
        ),
        delete_query: format!(
            "DELETE FROM intent_queries WHERE workspace_id = {} AND topic = {}",
            p(1),
            p(2)
        ),
    }
}

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("intent_signals.{what} = {v:?}"))
}

#[allow(clippy::too_many_arguments)]
fn signal_of(
    kind: String,
    key: String,
    topic: String,
    score: i64,
    strength: String,
    signal_type: String,
    source: String,
    observed_at: i64,
) -> Result<IntentSignal> {
    Ok(IntentSignal {
        subject: SubjectKind::parse(&kind).ok_or_else(|| corrupt("subject_kind", &kind))?,
        key,
        topic,
        score: u8::try_from(score).map_err(|_| corrupt("score", &score.to_string()))?,
        strength: Strength::parse(&strength).ok_or_else(|| corrupt("strength", &strength))?,
        signal_type,
        source,
        observed_at,
    })
}

fn level(s: &str) -> Result<IntentLevel> {
    IntentLevel::parse(s).ok_or_else(|| StoreError::Corrupt(format!("leads.intent = {s:?}")))
}

/// The updates that bring `current` (leads not cold) to `wanted`.
fn changes(
    current: Vec<(LeadId, String)>,
    wanted: &HashMap<LeadId, IntentLevel>,
) -> Vec<(LeadId, IntentLevel)> {
    let mut out: Vec<(LeadId, IntentLevel)> = Vec::new();
    let mut seen: HashMap<LeadId, &str> = HashMap::new();
    for (id, now) in &current {
        seen.insert(*id, now);
        if !wanted.contains_key(id) {
            out.push((*id, IntentLevel::Cold));
        }
    }
    for (id, l) in wanted {
        let was = seen.get(id).copied().unwrap_or("cold");
        if was != l.as_str() {
            out.push((*id, *l));
        }
    }
    out.sort_unstable_by_key(|(id, _)| *id);
    out
}

impl IntentStore for SqliteStore {
    fn add_intent_signals(
        &self,
        ws: WorkspaceId,
        signals: &[IntentSignal],
        now: i64,
    ) -> Result<u64> {
        let q = sql(|n| format!("?{n}"));
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut added = 0u64;
        {
            let mut stmt = tx.prepare_cached(&q.insert)?;
            for s in signals {
                added += stmt.execute(params![
                    ws,
                    s.subject.as_str(),
                    s.key,
                    s.topic,
                    i64::from(s.score),
                    s.strength.as_str(),
                    s.signal_type,
                    s.source,
                    s.observed_at,
                    now
                ])? as u64;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    fn intent_signals_since(&self, ws: WorkspaceId, since: i64) -> Result<Vec<IntentSignal>> {
        let q = sql(|n| format!("?{n}"));
        let conn = self.conn();
        let mut stmt = conn.prepare(&q.since)?;
        let rows = stmt.query_map(params![ws, since], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (a, b, c, d, e, f, g, h) = row?;
            out.push(signal_of(a, b, c, d, e, f, g, h)?);
        }
        Ok(out)
    }

    fn lead_signal_strengths(
        &self,
        ws: WorkspaceId,
        since: i64,
    ) -> Result<Vec<(LeadId, Strength)>> {
        let q = sql(|n| format!("?{n}"));
        let conn = self.conn();
        let mut stmt = conn.prepare(&q.strengths)?;
        let rows = stmt.query_map(params![ws, since], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, s) = row?;
            out.push((
                id,
                Strength::parse(&s).ok_or_else(|| corrupt("strength", &s))?,
            ));
        }
        Ok(out)
    }

    fn set_lead_intents(
        &self,
        ws: WorkspaceId,
        levels: &HashMap<LeadId, IntentLevel>,
        now: i64,
    ) -> Result<u64> {
        let q = sql(|n| format!("?{n}"));
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: Vec<(LeadId, String)> = {
            let mut stmt = tx.prepare(&q.not_cold)?;
            let rows = stmt.query_map(params![ws], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut changed = 0u64;
        {
            let mut stmt = tx.prepare_cached(&q.set_level)?;
            for (id, l) in changes(current, levels) {
                changed += stmt.execute(params![l.as_str(), now, ws, id])? as u64;
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    fn leads_by_intent(&self, ws: WorkspaceId) -> Result<Vec<(IntentLevel, u64)>> {
        let q = sql(|n| format!("?{n}"));
        let conn = self.conn();
        let mut stmt = conn.prepare(&q.by_intent)?;
        let rows = stmt.query_map(params![ws], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (l, n) = row?;
            out.push((level(&l)?, n as u64));
        }
        Ok(out)
    }

    fn leads_ready_for_upload(
        &self,
        ws: WorkspaceId,
        min_score: u8,
        verified_only: bool,
        limit: u32,
    ) -> Result<Vec<LeadId>> {
        let q = sql(|n| format!("?{n}"));
        let conn = self.conn();
        let mut stmt = conn.prepare(&q.ready)?;
        let rows = stmt.query_map(
            params![
                ws,
                i64::from(min_score),
                i64::from(verified_only),
                i64::from(limit)
            ],
            |r| r.get::<_, i64>(0),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn save_intent_query(&self, ws: WorkspaceId, topic: &str, query: &str, now: i64) -> Result<()> {
        let q = sql(|n| format!("?{n}"));
        self.conn()
            .execute(&q.save_query, params![ws, topic, query, now])?;
        Ok(())
    }

    fn intent_queries(&self, ws: WorkspaceId) -> Result<Vec<(String, String)>> {
        let q = sql(|n| format!("?{n}"));
        let conn = self.conn();
        let mut stmt = conn.prepare(&q.queries)?;
        let rows = stmt.query_map(params![ws], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delete_intent_query(&self, ws: WorkspaceId, topic: &str) -> Result<bool> {
        let q = sql(|n| format!("?{n}"));
        Ok(self.conn().execute(&q.delete_query, params![ws, topic])? == 1)
    }
}

impl IntentStore for PgStore {
    fn add_intent_signals(
        &self,
        ws: WorkspaceId,
        signals: &[IntentSignal],
        now: i64,
    ) -> Result<u64> {
        let q = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        let mut tx = conn.client.transaction()?;
        let stmt = tx.prepare(&q.insert)?;
        let mut added = 0u64;
        for s in signals {
            added += tx.execute(
                &stmt,
                &[
                    &ws,
                    &s.subject.as_str(),
                    &s.key,
                    &s.topic,
                    &i64::from(s.score),
                    &s.strength.as_str(),
                    &s.signal_type,
                    &s.source,
                    &s.observed_at,
                    &now,
                ],
            )?;
        }
        tx.commit()?;
        Ok(added)
    }

    fn intent_signals_since(&self, ws: WorkspaceId, since: i64) -> Result<Vec<IntentSignal>> {
        let q = sql(|n| format!("${n}"));
        let rows = self.conn()?.client.query(&q.since, &[&ws, &since])?;
        rows.iter()
            .map(|r| {
                signal_of(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                    r.try_get(6)?,
                    r.try_get(7)?,
                )
            })
            .collect()
    }

    fn lead_signal_strengths(
        &self,
        ws: WorkspaceId,
        since: i64,
    ) -> Result<Vec<(LeadId, Strength)>> {
        let q = sql(|n| format!("${n}"));
        let rows = self.conn()?.client.query(&q.strengths, &[&ws, &since])?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get(1)?;
                Ok((
                    r.try_get(0)?,
                    Strength::parse(&s).ok_or_else(|| corrupt("strength", &s))?,
                ))
            })
            .collect()
    }

    fn set_lead_intents(
        &self,
        ws: WorkspaceId,
        levels: &HashMap<LeadId, IntentLevel>,
        now: i64,
    ) -> Result<u64> {
        let q = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        let mut tx = conn.client.transaction()?;
        // One recompute at a time per workspace, or two could interleave.
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2::int)",
            &[&INTENT_LOCK, &(ws as i32)],
        )?;
        let current: Vec<(LeadId, String)> = tx
            .query(&q.not_cold, &[&ws])?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        let stmt = tx.prepare(&q.set_level)?;
        let mut changed = 0u64;
        for (id, l) in changes(current, levels) {
            changed += tx.execute(&stmt, &[&l.as_str(), &now, &ws, &id])?;
        }
        tx.commit()?;
        Ok(changed)
    }

    fn leads_by_intent(&self, ws: WorkspaceId) -> Result<Vec<(IntentLevel, u64)>> {
        let q = sql(|n| format!("${n}"));
        let rows = self.conn()?.client.query(&q.by_intent, &[&ws])?;
        rows.iter()
            .map(|r| {
                let l: String = r.try_get(0)?;
                Ok((level(&l)?, r.try_get::<_, i64>(1)? as u64))
            })
            .collect()
    }

    fn leads_ready_for_upload(
        &self,
        ws: WorkspaceId,
        min_score: u8,
        verified_only: bool,
        limit: u32,
    ) -> Result<Vec<LeadId>> {
        let q = sql(|n| format!("${n}"));
        let rows = self.conn()?.client.query(
            &q.ready,
            &[
                &ws,
                &i64::from(min_score),
                &i64::from(verified_only),
                &i64::from(limit),
            ],
        )?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    fn save_intent_query(&self, ws: WorkspaceId, topic: &str, query: &str, now: i64) -> Result<()> {
        let q = sql(|n| format!("${n}"));
        self.conn()?
            .client
            .execute(&q.save_query, &[&ws, &topic, &query, &now])?;
        Ok(())
    }

    fn intent_queries(&self, ws: WorkspaceId) -> Result<Vec<(String, String)>> {
        let q = sql(|n| format!("${n}"));
        let rows = self.conn()?.client.query(&q.queries, &[&ws])?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    fn delete_intent_query(&self, ws: WorkspaceId, topic: &str) -> Result<bool> {
        let q = sql(|n| format!("${n}"));
        Ok(self
            .conn()?
            .client
            .execute(&q.delete_query, &[&ws, &topic])?
            == 1)
    }
}
