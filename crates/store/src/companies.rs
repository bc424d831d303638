//! Companies in the store: found by discovery sweeps (Google Maps, ad
//! libraries), merged by their identity keys, listed for enrichment.
//!
//! A company is kept as one row: the columns that are filtered or shown in
//! lists, and the whole merged [`Company`] (with per-field provenance) as a
//! JSON document. Its identity keys (`core::company::CompanyKeys`) live in
//! `company_keys`, one row per key, so a look-up is a primary-key probe.
//!
//! Upserts take a lock for the workspace's companies (SQLite's write lock;
//! a PostgreSQL advisory lock): two workers that find the same business in
//! neighbouring ZIP codes at the same moment must not both create it.

use leadgen_core::WorkspaceId;
use leadgen_core::company::{Company, CompanyId, CompanyKeyKind, CompanyKeys, merge_company_into};
use leadgen_core::dedupe::NewestWins;

use crate::{Result, StoreError};

/// What an upsert did with one company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Upserted {
    pub id: CompanyId,
    /// A new company (not merged into one already stored).
    pub inserted: bool,
    /// A stored company gained or changed a field.
    pub changed: bool,
}

/// A page of companies in id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyFilter {
    /// Only companies with a greater id (the previous page's last).
    pub after: Option<CompanyId>,
    /// Two-letter state code.
    pub state: Option<String>,
    pub limit: u32,
}

pub trait CompanyStore {
    /// Merges each company into the one stored under any of its keys, or
    /// stores it as new; in input order, in one transaction. A company
    /// without keys is stored as new (it can never be found again, so
    /// callers should not send one).
    fn upsert_companies(
        &self,
        ws: WorkspaceId,
        companies: &[Company],
        now: i64,
    ) -> Result<Vec<Upserted>>;
    fn get_company(&self, ws: WorkspaceId, id: CompanyId) -> Result<Option<Company>>;
    fn list_companies(&self, ws: WorkspaceId, f: &CompanyFilter) -> Result<Vec<Company>>;
    fn count_companies(&self, ws: WorkspaceId) -> Result<u64>;
}

/// The tables, in SQL both backends accept; `id` is the backend's
/// auto-increment primary key.
pub(crate) fn companies_ddl(id: &str) -> String {
    format!(
        "
CREATE TABLE companies (
    id {id},
    workspace_id BIGINT NOT NULL,
    name TEXT,
    domain TEXT,
    place_id TEXT,
    phone TEXT,
    city TEXT,
    state TEXT,
    postal_code TEXT,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX companies_by_workspace ON companies (workspace_id, id);
CREATE TABLE company_keys (
    workspace_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    company_id BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, key)
);
"
    )
}

/// The listed columns of a company, in the order of [`INSERT_SQL`]'s
/// placeholders after `workspace_id`.
pub(crate) struct CompanyColumns {
    pub name: Option<String>,
    pub domain: Option<String>,
    pub place_id: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub doc: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl CompanyColumns {
    pub(crate) fn of(c: &Company) -> Result<CompanyColumns> {
        Ok(CompanyColumns {
            name: c.name.as_ref().map(|n| n.as_str().to_owned()),
            domain: c.domain.as_ref().map(|d| d.as_str().to_owned()),
            place_id: c.place_id.clone(),
            phone: c.phone.as_ref().map(|p| p.canonical()),
            city: c.city.clone(),
            state: c.state.clone(),
            postal_code: c.postal_code.clone(),
            doc: serde_json::to_string(c)
                .map_err(|e| StoreError::Invalid(format!("company cannot be encoded: {e}")))?,
            created_at: c.created_at,
            updated_at: c.updated_at,
        })
    }
}

/// `INSERT … RETURNING id` with `p(n)` placeholders: workspace, then the
/// [`CompanyColumns`] in order.
pub(crate) fn insert_sql(p: fn(usize) -> String) -> String {
    let ph: Vec<String> = (1..=11).map(p).collect();
    format!(
        "INSERT INTO companies (workspace_id, name, domain, place_id, phone, city, state, \
         postal_code, doc, created_at, updated_at) VALUES ({}) RETURNING id",
        ph.join(", ")
    )
}

/// `UPDATE` of every column but `created_at`: the [`CompanyColumns`] in
/// order (without `created_at`), then workspace and id.
pub(crate) fn update_sql(p: fn(usize) -> String) -> String {
    format!(
        "UPDATE companies SET name = {}, domain = {}, place_id = {}, phone = {}, city = {}, \
         state = {}, postal_code = {}, doc = {}, updated_at = {} \
         WHERE workspace_id = {} AND id = {}",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8),
        p(9),
        p(10),
        p(11)
    )
}

pub(crate) fn key_kind_str(kind: CompanyKeyKind) -> &'static str {
    match kind {
        CompanyKeyKind::Domain => "domain",
        CompanyKeyKind::PlaceId => "place_id",
        CompanyKeyKind::Phone => "phone",
        CompanyKeyKind::NamePostal => "name_postal",
    }
}

pub(crate) fn decode(doc: &str, id: CompanyId) -> Result<Company> {
    let mut c: Company =
        serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("company {id}: {e}")))?;
    c.id = id;
    Ok(c)
}

/// One backend's statements inside the upsert's transaction.
pub(crate) trait CompanyRows {
    fn find_key(&mut self, ws: WorkspaceId, kind: &str, key: &str) -> Result<Option<CompanyId>>;
    fn load(&mut self, ws: WorkspaceId, id: CompanyId) -> Result<Company>;
    fn insert(&mut self, ws: WorkspaceId, cols: &CompanyColumns) -> Result<CompanyId>;
    fn update(&mut self, ws: WorkspaceId, id: CompanyId, cols: &CompanyColumns) -> Result<()>;
    /// Adds a key; a key already taken keeps its company.
    fn add_key(&mut self, ws: WorkspaceId, kind: &str, key: &str, id: CompanyId) -> Result<()>;
}

/// The upsert, the same on every backend: find by the strongest key,
/// merge or insert, then record every key the company now has.
pub(crate) fn upsert_all(
    rows: &mut dyn CompanyRows,
    ws: WorkspaceId,
    companies: &[Company],
    now: i64,
) -> Result<Vec<Upserted>> {
    let mut out = Vec::with_capacity(companies.len());
    for incoming in companies {
        let keys = CompanyKeys::of(incoming);
        let mut found = None;
        for (kind, key) in keys.in_precedence() {
            if let Some(id) = rows.find_key(ws, key_kind_str(kind), key)? {
                found = Some(id);
                break;
            }
        }
        let (stored, upserted) = match found {
            Some(id) => {
                let mut target = rows.load(ws, id)?;
                let changed = merge_company_into(&mut target, incoming, &NewestWins).changed();
                if changed {
                    target.updated_at = target.updated_at.max(now);
                    rows.update(ws, id, &CompanyColumns::of(&target)?)?;
                }
                (
                    target,
                    Upserted {
                        id,
                        inserted: false,
                        changed,
                    },
                )
            }
            None => {
                let mut c = incoming.clone();
                c.created_at = now;
                c.updated_at = now;
                let id = rows.insert(ws, &CompanyColumns::of(&c)?)?;
                c.id = id;
                (
                    c,
                    Upserted {
                        id,
                        inserted: true,
                        changed: true,
                    },
                )
            }
        };
        // The merged company may have gained keys (a domain, a phone): the
        // next record with only that key must find it.
        for (kind, key) in CompanyKeys::of(&stored).in_precedence() {
            rows.add_key(ws, key_kind_str(kind), key, upserted.id)?;
        }
        out.push(upserted);
    }
    Ok(out)
}
