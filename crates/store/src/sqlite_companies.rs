//! `CompanyStore` on SQLite: the shared upsert over one immediate
//! transaction (SQLite's write lock is the workspace lock).

use leadgen_core::WorkspaceId;
use leadgen_core::company::{Company, CompanyId};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use crate::Result;
use crate::companies::{
    CompanyColumns, CompanyFilter, CompanyRows, CompanyStore, Upserted, decode, insert_sql,
    update_sql, upsert_all,
};
use crate::sqlite::SqliteStore;

struct Rows<'a, 'c>(&'a Transaction<'c>);

fn sqlite_placeholder(n: usize) -> String {
    format!("?{n}")
}

impl CompanyRows for Rows<'_, '_> {
    fn find_key(&mut self, ws: WorkspaceId, kind: &str, key: &str) -> Result<Option<CompanyId>> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT company_id FROM company_keys WHERE workspace_id = ?1 AND kind = ?2 AND key = ?3",
            )?
            .query_row(params![ws, kind, key], |r| r.get(0))
            .optional()?)
    }

    fn load(&mut self, ws: WorkspaceId, id: CompanyId) -> Result<Company> {
        let doc: String = self
            .0
            .prepare_cached("SELECT doc FROM companies WHERE workspace_id = ?1 AND id = ?2")?
            .query_row(params![ws, id], |r| r.get(0))?;
        decode(&doc, id)
    }

    fn insert(&mut self, ws: WorkspaceId, c: &CompanyColumns) -> Result<CompanyId> {
        Ok(self
            .0
            .prepare_cached(&insert_sql(sqlite_placeholder))?
            .query_row(
                params![
                    ws,
                    c.name,
                    c.domain,
                    c.place_id,
                    c.phone,
                    c.city,
                    c.state,
                    c.postal_code,
                    c.doc,
                    c.created_at,
                    c.updated_at
                ],
                |r| r.get(0),
            )?)
    }

    fn update(&mut self, ws: WorkspaceId, id: CompanyId, c: &CompanyColumns) -> Result<()> {
        self.0
            .prepare_cached(&update_sql(sqlite_placeholder))?
            .execute(params![
                c.name,
                c.domain,
                c.place_id,
                c.phone,
                c.city,
                c.state,
                c.postal_code,
                c.doc,
                c.updated_at,
                ws,
                id
            ])?;
        Ok(())
    }

    fn add_key(&mut self, ws: WorkspaceId, kind: &str, key: &str, id: CompanyId) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO company_keys (workspace_id, kind, key, company_id) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?
            .execute(params![ws, kind, key, id])?;
        Ok(())
    }
}

impl CompanyStore for SqliteStore {
    fn upsert_companies(
        &self,
        ws: WorkspaceId,
        companies: &[Company],
        now: i64,
    ) -> Result<Vec<Upserted>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = upsert_all(&mut Rows(&tx), ws, companies, now)?;
        tx.commit()?;
        Ok(out)
    }

    fn get_company(&self, ws: WorkspaceId, id: CompanyId) -> Result<Option<Company>> {
        let conn = self.conn();
        let doc: Option<String> = conn
            .prepare_cached("SELECT doc FROM companies WHERE workspace_id = ?1 AND id = ?2")?
            .query_row(params![ws, id], |r| r.get(0))
            .optional()?;
        doc.map(|d| decode(&d, id)).transpose()
    }

    fn list_companies(&self, ws: WorkspaceId, f: &CompanyFilter) -> Result<Vec<Company>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, doc FROM companies WHERE workspace_id = ?1 AND id > ?2 \
             AND (?3 IS NULL OR state = ?3) ORDER BY id LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![ws, f.after.unwrap_or(0), f.state, i64::from(f.limit)],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, doc) = row?;
            out.push(decode(&doc, id)?);
        }
        Ok(out)
    }

    fn count_companies(&self, ws: WorkspaceId) -> Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT count(*) FROM companies WHERE workspace_id = ?1",
            params![ws],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }
}
