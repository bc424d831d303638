//! Email verifications stored on leads (issue 4's `email_verification`):
//! the latest result per lead, written together with the lead's new status.

use leadgen_core::lead::LeadStatus;
use leadgen_core::{LeadId, WorkspaceId};

use crate::Result;

/// The latest verification of a lead's email.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredVerification {
    pub lead: LeadId,
    pub email: String,
    /// valid | invalid | risky | catch_all | unknown
    pub status: String,
    pub score: u8,
    /// The verifier's full result as JSON text.
    pub result: String,
    pub checked_at: i64,
}

pub trait VerificationStore {
    /// Replaces the lead's verification and, when given, sets its status, in
    /// one transaction. `false` when the lead is not in the workspace.
    fn record_verification(
        &self,
        ws: WorkspaceId,
        v: &StoredVerification,
        lead_status: Option<LeadStatus>,
        now: i64,
    ) -> Result<bool>;

    fn verification(&self, ws: WorkspaceId, lead: LeadId) -> Result<Option<StoredVerification>>;
}

/// The table, in SQL both backends accept.
pub(crate) const VERIFICATIONS_DDL: &str = "
CREATE TABLE email_verifications (
    workspace_id BIGINT NOT NULL,
    lead_id BIGINT NOT NULL,
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    score BIGINT NOT NULL,
    result TEXT NOT NULL,
    checked_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, lead_id)
);
";

/// Upsert and status change with `p(n)` placeholders.
pub(crate) fn upsert_sql(p: fn(usize) -> String) -> String {
    format!(
        "INSERT INTO email_verifications \
         (workspace_id, lead_id, email, status, score, result, checked_at) \
         VALUES ({}, {}, {}, {}, {}, {}, {}) \
         ON CONFLICT (workspace_id, lead_id) DO UPDATE SET email = excluded.email, \
         status = excluded.status, score = excluded.score, result = excluded.result, \
         checked_at = excluded.checked_at",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7)
    )
}
