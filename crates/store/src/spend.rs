//! What each paid provider cost per workspace and day, and the daily limits
//! that stop spending before it happens.
//!
//! A caller reserves a request's price before making the request; the
//! reservation and the limit check are one statement, so any number of
//! workers on one store never pass a limit together. Days are UTC dates
//! (`YYYY-MM-DD`): a new day starts from zero, so limits reset at midnight.

use leadgen_core::WorkspaceId;
use rusqlite::{OptionalExtension, params};

use crate::Result;
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

pub trait SpendLedger {
    /// Adds `micros` to the day's spend on `provider` unless that would pass
    /// `limit_micros`; the day's new total, or `None` when refused.
    fn reserve_spend(
        &self,
        ws: WorkspaceId,
        provider: &str,
        day: &str,
        micros: u64,
        limit_micros: Option<u64>,
    ) -> Result<Option<u64>>;

    /// The day's spend by provider, in millionths of a dollar.
    fn spend_on(&self, ws: WorkspaceId, day: &str) -> Result<Vec<(String, u64)>>;
}

pub(crate) const SPEND_DDL: &str = "
CREATE TABLE spend (
    workspace_id BIGINT NOT NULL,
    provider TEXT NOT NULL,
    day TEXT NOT NULL,
    micros BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, provider, day)
);
";

/// The day's row, then the guarded addition, with `p(n)` placeholders:
/// workspace, provider, day, amount, limit (NULL for none).
fn sql(p: fn(usize) -> String) -> (String, String) {
    let create = format!(
        "INSERT INTO spend (workspace_id, provider, day, micros) VALUES ({}, {}, {}, 0) \
         ON CONFLICT DO NOTHING",
        p(1),
        p(2),
        p(3)
    );
    let add = format!(
        "UPDATE spend SET micros = micros + {amount} \
         WHERE workspace_id = {} AND provider = {} AND day = {} \
         AND ({limit} IS NULL OR micros + {amount} <= {limit}) RETURNING micros",
        p(1),
        p(2),
        p(3),
        amount = p(4),
        limit = p(5),
    );
    (create, add)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SpendLedger for SqliteStore {
    fn reserve_spend(
        &self,
        ws: WorkspaceId,
        provider: &str,
        day: &str,
        micros: u64,
        limit_micros: Option<u64>,
    ) -> Result<Option<u64>> {
        let (create, add) = sql(|n| format!("?{n}"));
        let conn = self.conn();
        conn.execute(&create, params![ws, provider, day])?;
        let total: Option<i64> = conn
            .query_row(
                &add,
                params![ws, provider, day, to_i64(micros), limit_micros.map(to_i64)],
                |r| r.get(0),
            )
            .optional()?;
        Ok(total.map(|t| t as u64))
    }

    fn spend_on(&self, ws: WorkspaceId, day: &str) -> Result<Vec<(String, u64)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT provider, micros FROM spend WHERE workspace_id = ?1 AND day = ?2 ORDER BY provider",
        )?;
        let rows = stmt.query_map(params![ws, day], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl SpendLedger for PgStore {
    fn reserve_spend(
        &self,
        ws: WorkspaceId,
        provider: &str,
        day: &str,
        micros: u64,
        limit_micros: Option<u64>,
    ) -> Result<Option<u64>> {
        let (create, add) = sql(|n| format!("${n}"));
        // The limit's type must be known when it is NULL.
        let add = add.replace("$5", "$5::BIGINT");
        let mut conn = self.conn()?;
        conn.client.execute(&create, &[&ws, &provider, &day])?;
        let row = conn.client.query_opt(
            &add,
            &[
                &ws,
                &provider,
                &day,
                &to_i64(micros),
                &limit_micros.map(to_i64),
            ],
        )?;
        Ok(row.map(|r| r.get::<_, i64>(0) as u64))
    }

    fn spend_on(&self, ws: WorkspaceId, day: &str) -> Result<Vec<(String, u64)>> {
        let mut conn = self.conn()?;
        let rows = conn.client.query(
            "SELECT provider, micros FROM spend WHERE workspace_id = $1 AND day = $2 ORDER BY provider",
            &[&ws, &day],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
            .collect())
    }
}
