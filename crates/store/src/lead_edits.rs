//! Edits of single leads outside an ingest: status and tags from the API and
//! dashboard, and deletion with the lead's identity keys and verification.

use leadgen_core::lead::LeadStatus;
use leadgen_core::{LeadId, WorkspaceId};
use rusqlite::params;

use crate::Result;
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

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
    /// person back) and its verification. `false` when not in the workspace.
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
        let n = tx.execute(
            "DELETE FROM leads WHERE workspace_id = ?1 AND id = ?2",
            params![ws, id],
        )?;
        if n == 1 {
            tx.execute(
                "DELETE FROM lead_keys WHERE workspace_id = ?1 AND lead_id = ?2",
                params![ws, id],
            )?;
            tx.execute(
                "DELETE FROM email_verifications WHERE workspace_id = ?1 AND lead_id = ?2",
                params![ws, id],
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
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
        let n = tx.execute(
            "DELETE FROM leads WHERE workspace_id = $1 AND id = $2",
            &[&ws, &id],
        )?;
        if n == 1 {
            tx.execute(
                "DELETE FROM lead_keys WHERE workspace_id = $1 AND lead_id = $2",
                &[&ws, &id],
            )?;
            tx.execute(
                "DELETE FROM email_verifications WHERE workspace_id = $1 AND lead_id = $2",
                &[&ws, &id],
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
    }
}
