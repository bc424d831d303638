//! A batch of leads given as field maps (an enrichment's contacts, a remote
//! worker's finds) stored through the import path — the same mapping,
//! normalization, dedupe and merge with provenance as `leadgen import` —
//! with an outcome per lead.
//!
//! The batch is written as one CSV file and imported with
//! [`crate::import::import_csv`] (one transaction, one source batch named
//! after the caller's `name`). Per-lead outcomes come from the import's
//! rejects file (`rejected` with its reason) and, for the rows it took, from
//! the lead that now holds the address: `inserted` when that lead was
//! created by this import (and no earlier row of the batch named it), else
//! `merged`. Every lead needs an email (it is how its lead is found again);
//! one without is rejected before the import.

use std::collections::{BTreeMap, HashMap};

use leadgen_core::WorkspaceId;
use leadgen_core::email::Email;
use leadgen_jobs::now_ms;
use leadgen_jobs::remote::wire::{LeadOutcome, LeadsBatchReply};
use leadgen_store::{LeadFilter, LeadQuery, Store};

use crate::config::Config;

/// Most leads in one batch.
pub const MAX_LEADS: usize = 1_000;

/// Why a batch was not stored (nothing of it was).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The leads cannot be imported as given (no column maps to a field…).
    #[error("{0}")]
    Invalid(String),
    /// The store or the scratch file failed; trying again may work.
    #[error("{0}")]
    Failed(String),
}

/// Where a batch comes from and what its leads get.
#[derive(Debug, Clone)]
pub struct LeadBatch<'a> {
    pub workspace: WorkspaceId,
    /// The leads' source (`enrich` for enrichment's contacts).
    pub source: &'a str,
    pub tags: Vec<String>,
    /// The source batch's name (a file name without its extension).
    pub name: String,
}

fn outcome(outcome: &str, lead: Option<i64>, reason: Option<String>) -> LeadOutcome {
    LeadOutcome {
        outcome: outcome.to_owned(),
        lead,
        reason,
    }
}

/// Stores `leads`; an outcome per lead, in order. An error is the import's
/// or the store's (nothing of the batch was stored).
pub fn ingest(
    store: &dyn Store,
    config: &Config,
    batch: &LeadBatch<'_>,
    leads: &[BTreeMap<String, String>],
) -> Result<LeadsBatchReply, BatchError> {
    let mut outcomes: Vec<Option<LeadOutcome>> = vec![None; leads.len()];
    // Rows to import: (index in `leads`, normalized email).
    let mut rows: Vec<(usize, String)> = Vec::new();
    for (i, lead) in leads.iter().enumerate() {
        let raw = lead
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("email"))
            .map(|(_, v)| v.trim())
            .unwrap_or("");
        match Email::parse(raw) {
            _ if raw.is_empty() => {
                outcomes[i] = Some(outcome(
                    "rejected",
                    None,
                    Some("no email: every lead of a batch needs one".into()),
                ))
            }
            Ok(e) => rows.push((i, e.as_str().to_owned())),
            Err(e) => outcomes[i] = Some(outcome("rejected", None, Some(e.to_string()))),
        }
    }
    let mut batch_id = None;
    if !rows.is_empty() {
        let mut headers: Vec<&str> = Vec::new();
        for (i, _) in &rows {
            for k in leads[*i].keys() {
                if !headers.contains(&k.as_str()) {
                    headers.push(k);
                }
            }
        }
        // A scratch directory of its own: the file's name is the batch's.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "leadgen-batch-{}-{}-{}",
            std::process::id(),
            now_ms(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| BatchError::Failed(format!("{}: {e}", dir.display())))?;
        let safe: String = batch
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(120)
            .collect();
        let path = dir.join(format!("{safe}.csv"));
        let written = (|| -> Result<(), csv::Error> {
            let mut w = csv::Writer::from_path(&path)?;
            w.write_record(&headers)?;
            for (i, _) in &rows {
                let lead = &leads[*i];
                // One physical line per row, so a row's line is its index + 2.
                w.write_record(headers.iter().map(|h| {
                    lead.get(*h)
                        .map(|v| v.replace(['\r', '\n'], " "))
                        .unwrap_or_default()
                }))?;
            }
            w.flush()?;
            Ok(())
        })();
        let opts = crate::import::ImportOptions {
            path: path.clone(),
            overrides: Vec::new(),
            tags: batch.tags.clone(),
            source: batch.source.to_owned(),
            default_country: config.default_country,
            rules: config.scoring.clone(),
            source_priority: config.source_priority.clone(),
            workspace: batch.workspace,
            staging_bytes: crate::import::STAGING_BYTES,
        };
        let started = now_ms();
        let imported = written
            .map_err(|e| BatchError::Failed(e.to_string()))
            .and_then(|()| {
                crate::import::import_csv(store, &opts, &|_| {}).map_err(|e| match e {
                    crate::import::ImportError::Mapping { source, .. } => {
                        BatchError::Invalid(source.to_string())
                    }
                    crate::import::ImportError::Source(e) => BatchError::Invalid(e.to_string()),
                    other => BatchError::Failed(other.to_string()),
                })
            });
        let summary = imported;
        let rejected = match summary.as_ref().ok().and_then(|s| s.rejects_file.as_ref()) {
            Some(f) => rejected_lines(f),
            None => HashMap::new(),
        };
        let _ = std::fs::remove_dir_all(&dir);
        let summary = summary?;
        batch_id = Some(summary.batch_id);
        let mut seen: Vec<i64> = Vec::new();
        for (n, (i, email)) in rows.iter().enumerate() {
            let line = n as u64 + 2;
            if let Some(reason) = rejected.get(&line) {
                outcomes[*i] = Some(outcome("rejected", None, Some(reason.clone())));
                continue;
            }
            let found = lead_by_email(store, batch.workspace, email)
                .map_err(|e| BatchError::Failed(e.to_string()))?;
            outcomes[*i] = Some(match found {
                Some((id, created_at)) => {
                    let new = created_at >= started && !seen.contains(&id);
                    seen.push(id);
                    outcome(if new { "inserted" } else { "merged" }, Some(id), None)
                }
                // Stored, but its address was changed by a merge rule.
                None => outcome("merged", None, None),
            });
        }
    }
    tracing::debug!(
        workspace = batch.workspace,
        batch = ?batch_id,
        leads = leads.len(),
        at = now_ms(),
        "lead batch stored"
    );
    Ok(LeadsBatchReply {
        batch: batch_id,
        outcomes: outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| outcome("rejected", None, None)))
            .collect(),
    })
}

/// `line → reason` of an import's rejects file (`line,reason,…`).
fn rejected_lines(path: &std::path::Path) -> HashMap<u64, String> {
    let Ok(mut r) = csv::Reader::from_path(path) else {
        return HashMap::new();
    };
    r.records()
        .filter_map(Result::ok)
        .filter_map(|rec| {
            let line = rec.get(0)?.parse().ok()?;
            Some((line, rec.get(1).unwrap_or_default().to_owned()))
        })
        .collect()
}

/// The lead holding `email` (normalized) and when it was created.
fn lead_by_email(
    store: &dyn Store,
    ws: WorkspaceId,
    email: &str,
) -> leadgen_store::Result<Option<(i64, i64)>> {
    let q = LeadQuery {
        filter: LeadFilter {
            text: Some(email.to_owned()),
            ..LeadFilter::default()
        },
        limit: 50,
        ..LeadQuery::default()
    };
    let page = store.query_leads(ws, &q)?;
    Ok(page
        .leads
        .iter()
        .find(|l| l.email.as_ref().is_some_and(|e| e.as_str() == email))
        .map(|l| (l.id, l.created_at)))
}
