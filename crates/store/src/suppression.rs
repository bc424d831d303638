//! The suppression list: addresses, domains and erased people no outbound
//! path may contact, per workspace, and the audit log of consent actions.
//!
//! An email is suppressed when its dedupe key (`leadgen_core::Email::dedupe_key`),
//! the SHA-256 of that key (a GDPR erasure keeps only the hash), or its
//! domain is on the list. Every sender checks [`SuppressionStore`] right
//! before it sends; the bulk form keeps a 1,000-lead batch to a few queries.

use std::collections::HashSet;

use leadgen_core::LeadId;
use leadgen_core::email::Email;
use rusqlite::params_from_iter;
use sha2::Digest;

use crate::Result;
use crate::codec::SqlValue;
use crate::lead_edits::{clear_mark_sql, delete_marked_keys_sql, mark_deleted_sql};
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

/// Why a value is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    Unsubscribed,
    HardBounce,
    Complaint,
    DoNotContactDomain,
    GdprErasure,
    Manual,
}

impl SuppressionReason {
    pub const ALL: [SuppressionReason; 6] = [
        SuppressionReason::Unsubscribed,
        SuppressionReason::HardBounce,
        SuppressionReason::Complaint,
        SuppressionReason::DoNotContactDomain,
        SuppressionReason::GdprErasure,
        SuppressionReason::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::Unsubscribed => "unsubscribed",
            SuppressionReason::HardBounce => "hard_bounce",
            SuppressionReason::Complaint => "complaint",
            SuppressionReason::DoNotContactDomain => "do_not_contact_domain",
            SuppressionReason::GdprErasure => "gdpr_erasure",
            SuppressionReason::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<SuppressionReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a suppression's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionKind {
    /// An email's dedupe key.
    Email,
    /// A whole domain, lower case.
    Domain,
    /// SHA-256 hex of an email's dedupe key (GDPR erasure).
    EmailHash,
}

impl SuppressionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionKind::Email => "email",
            SuppressionKind::Domain => "domain",
            SuppressionKind::EmailHash => "email_hash",
        }
    }

    pub fn parse(s: &str) -> Option<SuppressionKind> {
        [
            SuppressionKind::Email,
            SuppressionKind::Domain,
            SuppressionKind::EmailHash,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suppression {
    /// The email dedupe key, the domain, or the SHA-256 hex for an erasure.
    pub value: String,
    pub kind: SuppressionKind,
    pub reason: SuppressionReason,
    /// Who added it: `cli`, `instantly_webhook`, `gdpr`, …
    pub source: String,
    pub created_at: i64,
}

impl Suppression {
    /// The entry for an address, in its canonical form for `kind`
    /// (`Domain` takes the address's domain, `EmailHash` hashes its key).
    pub fn for_email(
        email: &str,
        kind: SuppressionKind,
        reason: SuppressionReason,
        source: &str,
        now: i64,
    ) -> Suppression {
        let (key, domain) = email_key(email);
        let value = match kind {
            SuppressionKind::Email => key,
            SuppressionKind::Domain => domain,
            SuppressionKind::EmailHash => email_hash(&key),
        };
        Suppression {
            value,
            kind,
            reason,
            source: source.to_owned(),
            created_at: now,
        }
    }

    /// A domain entry; `domain` is lower-cased and a leading `@` dropped.
    pub fn for_domain(domain: &str, reason: SuppressionReason, source: &str, now: i64) -> Self {
        Suppression {
            value: domain.trim().trim_start_matches('@').to_lowercase(),
            kind: SuppressionKind::Domain,
            reason,
            source: source.to_owned(),
            created_at: now,
        }
    }
}

pub trait SuppressionStore {
    /// Adds an entry; `true` if it was not on the list yet (an existing
    /// entry keeps its first reason).
    fn suppress(&self, workspace: i64, s: &Suppression) -> Result<bool>;
    /// Why `email` may not be contacted: its key, its key's hash or its
    /// domain is listed. `None` when it may be.
    fn suppressed_reason(&self, workspace: i64, email: &str) -> Result<Option<SuppressionReason>>;
    /// Which of `emails` (as given) are suppressed.
    fn filter_suppressed(&self, workspace: i64, emails: &[String]) -> Result<HashSet<String>>;
    /// The newest entries first.
    fn list_suppressions(&self, workspace: i64, limit: usize) -> Result<Vec<Suppression>>;
}

/// An email's dedupe key and domain. An address that does not parse is
/// matched as written, lower case, so a malformed address is still checked.
pub fn email_key(email: &str) -> (String, String) {
    match Email::parse(email) {
        Ok(e) => (e.dedupe_key(), e.domain().to_lowercase()),
        Err(_) => {
            let key = email.trim().to_lowercase();
            let domain = key
                .rsplit_once('@')
                .map(|(_, d)| d.to_owned())
                .unwrap_or_default();
            (key, domain)
        }
    }
}

/// SHA-256 of an email dedupe key, lowercase hex: what an erasure keeps.
pub fn email_hash(key: &str) -> String {
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    out
}

pub(crate) const SUPPRESSION_DDL: &str = "
CREATE TABLE suppressions (
    workspace_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    reason TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, value)
);
CREATE INDEX suppressions_newest ON suppressions (workspace_id, created_at);
CREATE TABLE audit_log (
    workspace_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (workspace_id, at);
";

/// Emails per lookup query: three values each, well within both backends'
/// parameter limits.
const LOOKUP_CHUNK: usize = 300;

/// The values that would suppress each email, in check order.
fn candidates(email: &str) -> [(SuppressionKind, String); 3] {
    let (key, domain) = email_key(email);
    let hash = email_hash(&key);
    [
        (SuppressionKind::Email, key),
        (SuppressionKind::EmailHash, hash),
        (SuppressionKind::Domain, domain),
    ]
}

/// `(kind, value) → reason` of listed values among `values`, by `p(n)`
/// placeholders, for a backend's query function.
fn lookup_sql(p: fn(usize) -> String, n: usize) -> String {
    let ps: Vec<String> = (0..n).map(|i| p(i + 2)).collect();
    format!(
        "SELECT kind, value, reason FROM suppressions WHERE workspace_id = {} AND value IN ({})",
        p(1),
        ps.join(", ")
    )
}

fn insert_sql(p: fn(usize) -> String) -> String {
    format!(
        "INSERT INTO suppressions (workspace_id, kind, value, reason, source, created_at) \
         VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT DO NOTHING",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    )
}

const LIST_SQL: &str = "SELECT value, kind, reason, source, created_at FROM suppressions \
     WHERE workspace_id = {ws} ORDER BY created_at DESC, value LIMIT {limit}";

fn parse_row(
    value: String,
    kind: &str,
    reason: &str,
    source: String,
    created_at: i64,
) -> Result<Suppression> {
    let corrupt = || crate::StoreError::Corrupt(format!("suppression {kind}/{reason}"));
    Ok(Suppression {
        value,
        kind: SuppressionKind::parse(kind).ok_or_else(corrupt)?,
        reason: SuppressionReason::parse(reason).ok_or_else(corrupt)?,
        source,
        created_at,
    })
}

/// Runs the lookup for `emails` with `find` (one query per chunk of
/// values), returning each suppressed email with its reason.
fn check(
    emails: &[String],
    mut find: impl FnMut(&[String]) -> Result<Vec<(String, String, String)>>,
) -> Result<Vec<(usize, SuppressionReason)>> {
    let mut out = Vec::new();
    for (c, chunk) in emails.chunks(LOOKUP_CHUNK).enumerate() {
        let cands: Vec<[(SuppressionKind, String); 3]> =
            chunk.iter().map(|e| candidates(e)).collect();
        let mut values: Vec<String> = cands
            .iter()
            .flat_map(|c| c.iter().map(|(_, v)| v.clone()))
            .filter(|v| !v.is_empty())
            .collect();
        values.sort();
        values.dedup();
        if values.is_empty() {
            continue;
        }
        let found = find(&values)?;
        for (i, cand) in cands.iter().enumerate() {
            let reason = cand.iter().find_map(|(kind, value)| {
                found
                    .iter()
                    .find(|(k, v, _)| k == kind.as_str() && v == value)
                    .and_then(|(_, _, r)| SuppressionReason::parse(r))
            });
            if let Some(r) = reason {
                out.push((c * LOOKUP_CHUNK + i, r));
            }
        }
    }
    Ok(out)
}

fn to_params(ws: i64, values: &[String]) -> Vec<SqlValue<'_>> {
    std::iter::once(SqlValue::Int(ws))
        .chain(values.iter().map(|v| SqlValue::Text(v.as_str().into())))
        .collect()
}

impl SqliteStore {
    fn find_suppressed(&self, ws: i64, values: &[String]) -> Result<Vec<(String, String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&lookup_sql(|n| format!("?{n}"), values.len()))?;
        let rows = stmt.query_map(params_from_iter(to_params(ws, values)), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl PgStore {
    fn find_suppressed(&self, ws: i64, values: &[String]) -> Result<Vec<(String, String, String)>> {
        let mut conn = self.conn()?;
        let params = to_params(ws, values);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let rows = conn
            .client
            .query(&lookup_sql(|n| format!("${n}"), values.len()), &refs)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}

fn list_sql(p: fn(usize) -> String) -> String {
    LIST_SQL.replace("{ws}", &p(1)).replace("{limit}", &p(2))
}

impl SuppressionStore for SqliteStore {
    fn suppress(&self, workspace: i64, s: &Suppression) -> Result<bool> {
        let n = self.conn().execute(
            &insert_sql(|n| format!("?{n}")),
            rusqlite::params![
                workspace,
                s.kind.as_str(),
                s.value,
                s.reason.as_str(),
                s.source,
                s.created_at
            ],
        )?;
        Ok(n == 1)
    }

    fn suppressed_reason(&self, workspace: i64, email: &str) -> Result<Option<SuppressionReason>> {
        let found = check(&[email.to_owned()], |v| self.find_suppressed(workspace, v))?;
        Ok(found.first().map(|(_, r)| *r))
    }

    fn filter_suppressed(&self, workspace: i64, emails: &[String]) -> Result<HashSet<String>> {
        let found = check(emails, |v| self.find_suppressed(workspace, v))?;
        Ok(found.into_iter().map(|(i, _)| emails[i].clone()).collect())
    }

    fn list_suppressions(&self, workspace: i64, limit: usize) -> Result<Vec<Suppression>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&list_sql(|n| format!("?{n}")))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(rusqlite::params![workspace, limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (value, kind, reason, source, at) = row?;
            out.push(parse_row(value, &kind, &reason, source, at)?);
        }
        Ok(out)
    }
}

impl SuppressionStore for PgStore {
    fn suppress(&self, workspace: i64, s: &Suppression) -> Result<bool> {
        let mut conn = self.conn()?;
        let n = conn.client.execute(
            &insert_sql(|n| format!("${n}")),
            &[
                &workspace,
                &s.kind.as_str(),
                &s.value,
                &s.reason.as_str(),
                &s.source,
                &s.created_at,
            ],
        )?;
        Ok(n == 1)
    }

    fn suppressed_reason(&self, workspace: i64, email: &str) -> Result<Option<SuppressionReason>> {
        let found = check(&[email.to_owned()], |v| self.find_suppressed(workspace, v))?;
        Ok(found.first().map(|(_, r)| *r))
    }

    fn filter_suppressed(&self, workspace: i64, emails: &[String]) -> Result<HashSet<String>> {
        let found = check(emails, |v| self.find_suppressed(workspace, v))?;
        Ok(found.into_iter().map(|(i, _)| emails[i].clone()).collect())
    }

    fn list_suppressions(&self, workspace: i64, limit: usize) -> Result<Vec<Suppression>> {
        let mut conn = self.conn()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = conn
            .client
            .query(&list_sql(|n| format!("${n}")), &[&workspace, &limit])?;
        rows.iter()
            .map(|r| {
                parse_row(
                    r.get(0),
                    r.get::<_, &str>(1),
                    r.get::<_, &str>(2),
                    r.get(3),
                    r.get(4),
                )
            })
            .collect()
    }
}

/// One consent action: who did what to whom.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: i64,
    /// `cli`, a user's email, `instantly_webhook`, …
    pub actor: String,
    /// `gdpr_erase`, `gdpr_export`, `suppress`, …
    pub action: String,
    /// What it was done to; for an erasure the hash, never the address.
    pub subject: String,
    /// JSON text with the action's details.
    pub detail: String,
}

/// An append-only record of consent actions.
pub trait AuditLog {
    fn audit(&self, workspace: i64, e: &AuditEntry) -> Result<()>;
    /// The newest entries first.
    fn audit_entries(&self, workspace: i64, limit: usize) -> Result<Vec<AuditEntry>>;
}

fn audit_insert_sql(p: fn(usize) -> String) -> String {
    format!(
        "INSERT INTO audit_log (workspace_id, at, actor, action, subject, detail) \
         VALUES ({}, {}, {}, {}, {}, {})",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    )
}

fn audit_list_sql(p: fn(usize) -> String) -> String {
    format!(
        "SELECT at, actor, action, subject, detail FROM audit_log WHERE workspace_id = {} \
         ORDER BY at DESC LIMIT {}",
        p(1),
        p(2)
    )
}

impl AuditLog for SqliteStore {
    fn audit(&self, workspace: i64, e: &AuditEntry) -> Result<()> {
        self.conn().execute(
            &audit_insert_sql(|n| format!("?{n}")),
            rusqlite::params![workspace, e.at, e.actor, e.action, e.subject, e.detail],
        )?;
        Ok(())
    }

    fn audit_entries(&self, workspace: i64, limit: usize) -> Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&audit_list_sql(|n| format!("?{n}")))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(rusqlite::params![workspace, limit], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                subject: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl AuditLog for PgStore {
    fn audit(&self, workspace: i64, e: &AuditEntry) -> Result<()> {
        let mut conn = self.conn()?;
        conn.client.execute(
            &audit_insert_sql(|n| format!("${n}")),
            &[
                &workspace, &e.at, &e.actor, &e.action, &e.subject, &e.detail,
            ],
        )?;
        Ok(())
    }

    fn audit_entries(&self, workspace: i64, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut conn = self.conn()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = conn
            .client
            .query(&audit_list_sql(|n| format!("${n}")), &[&workspace, &limit])?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                at: r.get(0),
                actor: r.get(1),
                action: r.get(2),
                subject: r.get(3),
                detail: r.get(4),
            })
            .collect())
    }
}

/// Finding and erasing everything held on one person (GDPR access and
/// erasure requests).
pub trait PersonData {
    /// Leads whose email has the same dedupe key as `email`.
    fn lead_ids_by_email(&self, workspace: i64, email: &str) -> Result<Vec<LeadId>>;
    /// Deletes the leads and every row that refers to them, in one
    /// transaction; the number of leads deleted.
    fn erase_leads(&self, workspace: i64, ids: &[LeadId]) -> Result<u64>;
}

/// Tables holding rows about a lead, by their lead column; `leads` last.
/// Identity keys are not among them: nothing indexes them by lead, so the
/// erased leads are marked deleted and the keys of every marked lead go in
/// one pass at the end (`lead_edits::delete_marked_keys_sql`).
const PERSONAL_TABLES: &[(&str, &str)] = &[
    ("email_verifications", "lead_id"),
    ("campaign_leads", "lead_id"),
    ("leads", "id"),
];

fn email_stored_key(workspace: i64, email: &str) -> i64 {
    use leadgen_core::dedupe::{KeyKind, key_hash, stored_key};
    let (key, _) = email_key(email);
    stored_key(workspace, KeyKind::Email, key_hash(&key))
}

fn erase_sql(p: fn(usize) -> String, table: &str, column: &str) -> String {
    format!(
        "DELETE FROM {table} WHERE workspace_id = {} AND {column} = {}",
        p(1),
        p(2)
    )
}

/// Keeps the leads whose email really has `email`'s key (the stored key is
/// a hash).
fn same_person(leads: Vec<Option<leadgen_core::Lead>>, email: &str) -> Vec<LeadId> {
    let (key, _) = email_key(email);
    leads
        .into_iter()
        .flatten()
        .filter(|l| l.email.as_ref().is_some_and(|e| e.dedupe_key() == key))
        .map(|l| l.id)
        .collect()
}

impl PersonData for SqliteStore {
    fn lead_ids_by_email(&self, workspace: i64, email: &str) -> Result<Vec<LeadId>> {
        let ids: Vec<LeadId> = {
            let conn = self.conn();
            let mut stmt =
                conn.prepare("SELECT lead_id FROM lead_keys WHERE key = ?1 AND workspace_id = ?2")?;
            let rows = stmt.query_map(
                rusqlite::params![email_stored_key(workspace, email), workspace],
                |r| r.get(0),
            )?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let leads = ids
            .into_iter()
            .map(|id| crate::Store::get_lead(self, workspace, id))
            .collect::<Result<Vec<_>>>()?;
        Ok(same_person(leads, email))
    }

    fn erase_leads(&self, workspace: i64, ids: &[LeadId]) -> Result<u64> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut erased = 0;
        for id in ids {
            tx.execute(
                &mark_deleted_sql(|n| format!("?{n}")),
                rusqlite::params![workspace, id],
            )?;
            for (table, column) in PERSONAL_TABLES {
                let n = tx.execute(
                    &erase_sql(|n| format!("?{n}"), table, column),
                    rusqlite::params![workspace, id],
                )?;
                if *table == "leads" {
                    erased += n as u64;
                }
            }
        }
        tx.execute(&delete_marked_keys_sql(|n| format!("?{n}")), [workspace])?;
        for id in ids {
            tx.execute(
                &clear_mark_sql(|n| format!("?{n}")),
                rusqlite::params![workspace, id],
            )?;
        }
        tx.commit()?;
        Ok(erased)
    }
}

impl PersonData for PgStore {
    fn lead_ids_by_email(&self, workspace: i64, email: &str) -> Result<Vec<LeadId>> {
        let ids: Vec<LeadId> = {
            let mut conn = self.conn()?;
            conn.client
                .query(
                    "SELECT lead_id FROM lead_keys WHERE key = $1 AND workspace_id = $2",
                    &[&email_stored_key(workspace, email), &workspace],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        let leads = ids
            .into_iter()
            .map(|id| crate::Store::get_lead(self, workspace, id))
            .collect::<Result<Vec<_>>>()?;
        Ok(same_person(leads, email))
    }

    fn erase_leads(&self, workspace: i64, ids: &[LeadId]) -> Result<u64> {
        let mut conn = self.conn()?;
        let mut tx = conn.client.transaction()?;
        crate::postgres::lock_ingest(&mut tx, workspace)?;
        let mut erased = 0;
        for id in ids {
            tx.execute(&mark_deleted_sql(|n| format!("${n}")), &[&workspace, id])?;
            for (table, column) in PERSONAL_TABLES {
                let n = tx.execute(
                    &erase_sql(|n| format!("${n}"), table, column),
                    &[&workspace, id],
                )?;
                if *table == "leads" {
                    erased += n;
                }
            }
        }
        tx.execute(&delete_marked_keys_sql(|n| format!("${n}")), &[&workspace])?;
        for id in ids {
            tx.execute(&clear_mark_sql(|n| format!("${n}")), &[&workspace, id])?;
        }
        tx.commit()?;
        Ok(erased)
    }
}

/// The whole list of a workspace in memory, for checks inside a stream
/// (an export holds the store while it runs).
#[derive(Debug, Clone, Default)]
pub struct SuppressionSet {
    entries: std::collections::HashMap<(SuppressionKind, String), SuppressionReason>,
}

impl SuppressionSet {
    pub fn load(store: &dyn SuppressionStore, workspace: i64) -> Result<SuppressionSet> {
        let entries = store
            .list_suppressions(workspace, usize::MAX)?
            .into_iter()
            .map(|s| ((s.kind, s.value), s.reason))
            .collect();
        Ok(SuppressionSet { entries })
    }

    /// As [`SuppressionStore::suppressed_reason`].
    pub fn reason(&self, email: &str) -> Option<SuppressionReason> {
        candidates(email)
            .into_iter()
            .find_map(|k| self.entries.get(&k).copied())
    }
}
