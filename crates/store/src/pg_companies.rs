//! `CompanyStore` on PostgreSQL: the shared upsert inside a transaction that
//! holds an advisory lock on the workspace's companies, so two workers that
//! find the same business at once cannot both create it.

use leadgen_core::WorkspaceId;
use leadgen_core::company::{Company, CompanyId};
use postgres::Transaction;

use crate::Result;
use crate::companies::{
    CompanyColumns, CompanyFilter, CompanyRows, CompanyStore, Upserted, decode, insert_sql,
    update_sql, upsert_all,
};
use crate::postgres::PgStore;

/// Advisory lock class of company upserts (the second key is the workspace).
const COMPANY_LOCK: i32 = 0x4c47_0004;

struct Rows<'a, 'c>(&'a mut Transaction<'c>);

fn pg_placeholder(n: usize) -> String {
    format!("${n}")
}

impl CompanyRows for Rows<'_, '_> {
    fn find_key(&mut self, ws: WorkspaceId, kind: &str, key: &str) -> Result<Option<CompanyId>> {
        let row = self.0.query_opt(
            "SELECT company_id FROM company_keys WHERE workspace_id = $1 AND kind = $2 AND key = $3",
            &[&ws, &kind, &key],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn load(&mut self, ws: WorkspaceId, id: CompanyId) -> Result<Company> {
        let row = self.0.query_one(
            "SELECT doc FROM companies WHERE workspace_id = $1 AND id = $2",
            &[&ws, &id],
        )?;
        decode(row.get(0), id)
    }

    fn insert(&mut self, ws: WorkspaceId, c: &CompanyColumns) -> Result<CompanyId> {
        let row = self.0.query_one(
            &insert_sql(pg_placeholder),
            &[
                &ws,
                &c.name,
                &c.domain,
                &c.place_id,
                &c.phone,
                &c.city,
                &c.state,
                &c.postal_code,
                &c.doc,
                &c.created_at,
                &c.updated_at,
            ],
        )?;
        Ok(row.get(0))
    }

    fn update(&mut self, ws: WorkspaceId, id: CompanyId, c: &CompanyColumns) -> Result<()> {
        self.0.execute(
            &update_sql(pg_placeholder),
            &[
                &c.name,
                &c.domain,
                &c.place_id,
                &c.phone,
                &c.city,
                &c.state,
                &c.postal_code,
                &c.doc,
                &c.updated_at,
                &ws,
                &id,
            ],
        )?;
        Ok(())
    }

    fn add_key(&mut self, ws: WorkspaceId, kind: &str, key: &str, id: CompanyId) -> Result<()> {
        self.0.execute(
            "INSERT INTO company_keys (workspace_id, kind, key, company_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&ws, &kind, &key, &id],
        )?;
        Ok(())
    }
}

impl CompanyStore for PgStore {
    fn upsert_companies(
        &self,
        ws: WorkspaceId,
        companies: &[Company],
        now: i64,
    ) -> Result<Vec<Upserted>> {
        let mut conn = self.conn()?;
        let mut tx = conn.client.transaction()?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2::int)",
            &[&COMPANY_LOCK, &(ws as i32)],
        )?;
        let out = upsert_all(&mut Rows(&mut tx), ws, companies, now)?;
        tx.commit()?;
        Ok(out)
    }

    fn get_company(&self, ws: WorkspaceId, id: CompanyId) -> Result<Option<Company>> {
        let mut conn = self.conn()?;
        let row = conn.client.query_opt(
            "SELECT doc FROM companies WHERE workspace_id = $1 AND id = $2",
            &[&ws, &id],
        )?;
        row.map(|r| decode(r.get(0), id)).transpose()
    }

    fn list_companies(&self, ws: WorkspaceId, f: &CompanyFilter) -> Result<Vec<Company>> {
        let mut conn = self.conn()?;
        let rows = conn.client.query(
            "SELECT id, doc FROM companies WHERE workspace_id = $1 AND id > $2 \
             AND ($3::text IS NULL OR state = $3) ORDER BY id LIMIT $4",
            &[&ws, &f.after.unwrap_or(0), &f.state, &i64::from(f.limit)],
        )?;
        rows.iter().map(|r| decode(r.get(1), r.get(0))).collect()
    }

    fn count_companies(&self, ws: WorkspaceId) -> Result<u64> {
        let mut conn = self.conn()?;
        let n: i64 = conn
            .client
            .query_one(
                "SELECT count(*) FROM companies WHERE workspace_id = $1",
                &[&ws],
            )?
            .get(0);
        Ok(n as u64)
    }
}
