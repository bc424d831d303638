//! Edits of single leads outside an ingest: status and tags from the API and
//! dashboard, and deletion with the lead's identity keys and verification.
//!
//! `lead_keys` is keyed by the key alone (an import loads and appends it
//! whole), so "every key of lead 42" is a scan of the table: ~0.3 s on a
//! store of a million leads, per lead deleted. A deletion therefore removes
//! by primary key the keys the lead's own fields give (its email, LinkedIn
//! URL and name + company domain), and records the lead in
//! `deleted_leads`; keys it gained from rows merged into it under another
//! identity stay until the next import of the workspace, which reads every
//! key anyway and drops (and deletes) those of recorded leads
//! ([`drop_dead_keys`]).

use std::collections::HashSet;

use leadgen_core::dedupe::KeyHashes;
use leadgen_core::lead::LeadStatus;
use leadgen_core::{Lead, LeadId, WorkspaceId};
use rusqlite::params;

use crate::Result;
use crate::codec::{lead_from_row, select_list};
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

/// Leads deleted since their workspace's last import, whose other identity
/// keys that import removes.
pub(crate) const DELETED_LEADS_DDL: &str = "
CREATE TABLE deleted_leads (
    workspace_id BIGINT NOT NULL,
    lead_id BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, lead_id)
);
";

/// The stored identity keys `lead`'s own fields give.
fn own_keys(lead: &Lead, ws: WorkspaceId) -> Vec<i64> {
    KeyHashes::of(lead, &mut String::new())
        .stored(ws)
        .into_iter()
        .flatten()
        .collect()
}

/// Splits a workspace's stored keys into those of live leads and those of
/// the `dead` (deleted) ones.
pub(crate) fn drop_dead_keys(
    mut keys: Vec<(i64, LeadId)>,
    dead: &HashSet<LeadId>,
) -> (Vec<(i64, LeadId)>, Vec<i64>) {
    let mut stale = Vec::new();
    if !dead.is_empty() {
        keys.retain(|&(key, id)| {
            let is_dead = dead.contains(&id);
            if is_dead {
                stale.push(key);
            }
            !is_dead
        });
    }
    (keys, stale)
}

/// Records lead `p(2)` of workspace `p(1)` as deleted.
pub(crate) fn mark_deleted_sql(p: fn(usize) -> String) -> String {
    format!(
        "INSERT INTO deleted_leads (workspace_id, lead_id) VALUES ({}, {}) ON CONFLICT DO NOTHING",
        p(1),
        p(2)
    )
}

/// The deleted leads of workspace `p(1)`.
pub(crate) fn marks_sql(p: fn(usize) -> String) -> String {
    format!(
        "SELECT lead_id FROM deleted_leads WHERE workspace_id = {}",
        p(1)
    )
}

/// Forgets deleted lead `p(2)` of workspace `p(1)` once its keys are gone.
/// Only marks that were read are cleared: on PostgreSQL a lead deleted
/// meanwhile (its keys not seen) keeps its mark.
pub(crate) fn clear_mark_sql(p: fn(usize) -> String) -> String {
    format!(
        "DELETE FROM deleted_leads WHERE workspace_id = {} AND lead_id = {}",
        p(1),
        p(2)
    )
}

/// Every stored key of workspace `p(1)`'s deleted leads, found in one pass
/// over the keys (erasure, which may not leave them for the next import).
pub(crate) fn delete_marked_keys_sql(p: fn(usize) -> String) -> String {
    format!(
        "DELETE FROM lead_keys WHERE workspace_id = {0} \
         AND lead_id IN (SELECT lead_id FROM deleted_leads WHERE workspace_id = {0})",
        p(1)
    )
}

/// `DELETE … RETURNING` the lead's columns, with `p(n)` placeholders.
fn delete_returning_sql(p: fn(usize) -> String) -> String {
    format!(
        "DELETE FROM leads WHERE workspace_id = {} AND id = {} RETURNING {}",
        p(1),
        p(2),
        select_list()
    )
}

/// What an edit changes; `None` leaves the field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadEdit {
    pub status: Option<LeadStatus>,
    /// Replaces the lead's tags.
    pub tags: Option<Vec<String>>,
}

pub trait LeadEdits {
    /// `false` when the lead is not in the workspace.
    fn edit_lead(&self, ws: WorkspaceId, id: LeadId, edit: &LeadEdit, now: i64) -> Result<bool>;
    /// Removes the lead, its identity keys (a later import may bring the
    /// person back; see the module's note) and its verification. `false`
    /// when not in the workspace.
    fn delete_lead(&self, ws: WorkspaceId, id: LeadId) -> Result<bool>;
}

/// Tags as stored: a JSON array, NULL when there are none.
fn tags_column(tags: &[String]) -> Option<String> {
    (!tags.is_empty()).then(|| serde_json::Value::from(tags.to_vec()).to_string())
}

impl LeadEdits for SqliteStore {
    fn edit_lead(&self, ws: WorkspaceId, id: LeadId, edit: &LeadEdit, now: i64) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut n = tx.execute(
            "UPDATE leads SET updated_at = ?1 WHERE workspace_id = ?2 AND id = ?3",
            params![now, ws, id],
        )?;
        if let Some(status) = edit.status {
            n = tx.execute(
                "UPDATE leads SET status = ?1 WHERE workspace_id = ?2 AND id = ?3",
                params![status.as_str(), ws, id],
            )?;
        }
        if let Some(tags) = &edit.tags {
            n = tx.execute(
                "UPDATE leads SET tags = ?1 WHERE workspace_id = ?2 AND id = ?3",
                params![tags_column(tags), ws, id],
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    fn delete_lead(&self, ws: WorkspaceId, id: LeadId) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let lead = {
            let mut stmt = tx.prepare(&delete_returning_sql(|n| format!("?{n}")))?;
            let mut rows = stmt.query(params![ws, id])?;
            match rows.next()? {
                Some(row) => lead_from_row(row)?,
                None => return Ok(false),
            }
        };
        for key in own_keys(&lead, ws) {
            tx.execute(
                "DELETE FROM lead_keys WHERE key = ?1 AND lead_id = ?2",
                params![key, id],
            )?;
        }
        tx.execute(&mark_deleted_sql(|n| format!("?{n}")), params![ws, id])?;
        tx.execute(
            "DELETE FROM email_verifications WHERE workspace_id = ?1 AND lead_id = ?2",
            params![ws, id],
        )?;
        tx.commit()?;
        Ok(true)
    }
}

impl LeadEdits for PgStore {
    fn edit_lead(&self, ws: WorkspaceId, id: LeadId, edit: &LeadEdit, now: i64) -> Result<bool> {
        let status = edit.status.map(|s| s.as_str());
        let tags = edit.tags.as_deref().map(tags_column);
        let n = self.conn()?.client.execute(
            "UPDATE leads SET updated_at = $1, status = coalesce($2, status), \
             tags = CASE WHEN $3 THEN $4 ELSE tags END \
             WHERE workspace_id = $5 AND id = $6",
            &[&now, &status, &tags.is_some(), &tags.flatten(), &ws, &id],
        )?;
        Ok(n == 1)
    }

    fn delete_lead(&self, ws: WorkspaceId, id: LeadId) -> Result<bool> {
        let mut conn = self.conn()?;
        let mut tx = conn.client.transaction()?;
        crate::postgres::lock_ingest(&mut tx, ws)?;
        let rows = tx.query(&delete_returning_sql(|n| format!("${n}")), &[&ws, &id])?;
        let Some(row) = rows.first() else {
            return Ok(false);
        };
        let keys = own_keys(&lead_from_row(row)?, ws);
        tx.execute(
            "DELETE FROM lead_keys WHERE key = ANY($1) AND lead_id = $2",
            &[&keys, &id],
        )?;
        tx.execute(&mark_deleted_sql(|n| format!("${n}")), &[&ws, &id])?;
        tx.execute(
            "DELETE FROM email_verifications WHERE workspace_id = $1 AND lead_id = $2",
            &[&ws, &id],
        )?;
        tx.commit()?;
        Ok(true)
    }
}
