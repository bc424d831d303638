//! Consent: GDPR access and erasure requests, over the store's suppression
//! list and audit log.
//!
//! An erasure deletes every lead with the address's dedupe key and the rows
//! that refer to them, then keeps only the SHA-256 of the key on the
//! suppression list, so the person is never imported and contacted again
//! while we no longer hold the address.

use leadgen_core::{LeadId, WorkspaceId};
use leadgen_store::suppression::{email_hash, email_key};
use leadgen_store::{AuditEntry, Result, Store, Suppression, SuppressionKind, SuppressionReason};
use serde_json::json;

/// Everything held on the person with `email`, as one JSON document: their
/// leads, each lead's email verification and raw source records, and
/// whether they are suppressed. The request is written to the audit log.
pub fn gdpr_export(
    store: &dyn Store,
    ws: WorkspaceId,
    email: &str,
    actor: &str,
    now: i64,
) -> Result<serde_json::Value> {
    let ids = store.lead_ids_by_email(ws, email)?;
    let mut leads = Vec::new();
    for id in &ids {
        let Some(lead) = store.get_lead(ws, *id)? else {
            continue;
        };
        let mut records = Vec::new();
        for r in lead.provenance.records() {
            if let Some(rec) = store.source_record(ws, r)? {
                records.push(rec);
            }
        }
        leads.push(json!({
            "lead": lead,
            "email_verification": store.verification(ws, *id)?,
            "source_records": records,
        }));
    }
    let (key, _) = email_key(email);
    let suppressed = store.suppressed_reason(ws, email)?.map(|r| r.as_str());
    store.audit(
        ws,
        &AuditEntry {
            at: now,
            actor: actor.to_owned(),
            action: "gdpr_export".into(),
            subject: email_hash(&key),
            detail: json!({ "leads": ids.len() }).to_string(),
        },
    )?;
    Ok(json!({
        "email": key,
        "exported_at": now,
        "leads": leads,
        "suppressed": suppressed,
    }))
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    /// SHA-256 of the email's dedupe key: all that is kept.
    pub hash: String,
    pub leads_erased: Vec<LeadId>,
}

/// Erases the person with `email`: their leads and everything referring to
/// them; keeps the hash on the suppression list; writes an audit entry
/// naming the hash, never the address.
pub fn gdpr_erase(
    store: &dyn Store,
    ws: WorkspaceId,
    email: &str,
    actor: &str,
    now: i64,
) -> Result<Erasure> {
    let ids = store.lead_ids_by_email(ws, email)?;
    // Suppress first: a crash between the two steps leaves the person
    // uncontactable rather than contactable.
    let entry = Suppression::for_email(
        email,
        SuppressionKind::EmailHash,
        SuppressionReason::GdprErasure,
        actor,
        now,
    );
    store.suppress(ws, &entry)?;
    store.erase_leads(ws, &ids)?;
    store.audit(
        ws,
        &AuditEntry {
            at: now,
            actor: actor.to_owned(),
            action: "gdpr_erase".into(),
            subject: entry.value.clone(),
            detail: json!({ "leads_erased": ids.len() }).to_string(),
        },
    )?;
    Ok(Erasure {
        hash: entry.value,
        leads_erased: ids,
    })
}
