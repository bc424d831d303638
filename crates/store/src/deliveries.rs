//! The delivery ledger: every message, webhook and upload leadgen sends
//! out, keyed by an idempotency key, so a retried job never delivers the
//! same thing twice; lead-platform uploads by lead; and each workspace's
//! delivery channel settings.
//!
//! A delivery is begun (a `pending` row, or the existing row for its key),
//! attempted, then finished as `delivered` or `failed` with the attempt
//! counted and the last error kept. A key already `delivered` is skipped by
//! the caller. Two workers attempting one key at the same moment can both
//! call the vendor; the vendor-side keys (Resend's `Idempotency-Key`, the
//! webhook event id, the platform batch id) cover that window.

use leadgen_core::{LeadId, WorkspaceId};
use rusqlite::{OptionalExtension, params};

use crate::jobs::QueueRow;
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{Result, StoreError};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// A delivery about to be attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// `email`, `slack`, `webhook`, `hubspot`, `platform`.
    pub channel: String,
    /// Where to: an address, a URL without its secret, a platform name.
    pub target: String,
    /// What happened: `run.completed`, `campaign.low_leads`, `leads.upload`.
    pub event: String,
    /// Unique per workspace; the same key is the same delivery.
    pub idempotency_key: String,
}

/// A delivery as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub id: i64,
    pub channel: String,
    pub target: String,
    pub event: String,
    pub idempotency_key: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One upload to a lead platform, summed over its leads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlatformUpload {
    pub platform: String,
    pub batch_id: String,
    pub leads: u64,
    pub uploaded_at: i64,
}

pub trait DeliveryStore {
    /// The delivery for `d.idempotency_key`, created `pending` if new.
    fn begin_delivery(&self, ws: WorkspaceId, d: &NewDelivery, now: i64) -> Result<Delivery>;
    /// Counts an attempt of the delivery `key`: `delivered` when `error`
    /// is `None`, else `failed` with the error kept.
    fn finish_delivery(
        &self,
        ws: WorkspaceId,
        key: &str,
        error: Option<&str>,
        now: i64,
    ) -> Result<()>;
    /// Newest first.
    fn list_deliveries(&self, ws: WorkspaceId, limit: u32) -> Result<Vec<Delivery>>;

    /// Records that `leads` went to `platform` in batch `batch_id`. A lead
    /// already recorded for the platform keeps its first upload.
    fn record_platform_upload(
        &self,
        ws: WorkspaceId,
        platform: &str,
        batch_id: &str,
        leads: &[LeadId],
        now: i64,
    ) -> Result<()>;
    /// The leads already uploaded to `platform`.
    fn uploaded_to_platform(&self, ws: WorkspaceId, platform: &str) -> Result<Vec<LeadId>>;
    /// Uploads by batch, newest first.
    fn platform_uploads(&self, ws: WorkspaceId, limit: u32) -> Result<Vec<PlatformUpload>>;

    /// The workspace's channel settings (JSON the app defines), if set.
    fn delivery_channels(&self, ws: WorkspaceId) -> Result<Option<String>>;
    fn set_delivery_channels(&self, ws: WorkspaceId, json: &str, now: i64) -> Result<()>;
}

pub(crate) fn deliveries_ddl(id_column: &str) -> String {
    format!(
        "
CREATE TABLE deliveries (
    id {id_column},
    workspace_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, idempotency_key)
);
CREATE TABLE platform_uploads (
    workspace_id BIGINT NOT NULL,
    platform TEXT NOT NULL,
    lead_id BIGINT NOT NULL,
    batch_id TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, platform, lead_id)
);
CREATE TABLE delivery_channels (
    workspace_id BIGINT PRIMARY KEY,
    config TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
"
    )
}

const DELIVERY_COLUMNS: &str = "id, channel, target, event, idempotency_key, status, attempts, last_error, created_at, updated_at";

fn delivery_from_row(r: &dyn QueueRow) -> Result<Delivery> {
    let status = r.str_at(5)?;
    Ok(Delivery {
        id: r.i64_at(0)?,
        channel: r.str_at(1)?,
        target: r.str_at(2)?,
        event: r.str_at(3)?,
        idempotency_key: r.str_at(4)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery status {status:?}")))?,
        attempts: r.i64_at(6)?.clamp(0, i64::from(u32::MAX)) as u32,
        last_error: r.opt_str_at(7)?,
        created_at: r.i64_at(8)?,
        updated_at: r.i64_at(9)?,
    })
}

/// The statements both backends run, with `p(n)` placeholders.
struct Sql {
    insert: String,
    select: String,
    finish: String,
    list: String,
    upload: String,
    uploaded: String,
    uploads: String,
    channels: String,
    set_channels: String,
}

fn sql(p: fn(usize) -> String) -> Sql {
    Sql {
        insert: format!(
            "INSERT INTO deliveries (workspace_id, channel, target, event, idempotency_key, status, attempts, created_at, updated_at) \
             VALUES ({}, {}, {}, {}, {}, 'pending', 0, {}, {}) ON CONFLICT (workspace_id, idempotency_key) DO NOTHING",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(6)
        ),
        select: format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE workspace_id = {} AND idempotency_key = {}",
            p(1),
            p(2)
        ),
        finish: format!(
            "UPDATE deliveries SET status = {}, attempts = attempts + 1, last_error = {}, updated_at = {} \
             WHERE workspace_id = {} AND idempotency_key = {}",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        ),
        list: format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE workspace_id = {} ORDER BY id DESC LIMIT {}",
            p(1),
            p(2)
        ),
        upload: format!(
            "INSERT INTO platform_uploads (workspace_id, platform, lead_id, batch_id, uploaded_at) \
             VALUES ({}, {}, {}, {}, {}) ON CONFLICT DO NOTHING",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        ),
        uploaded: format!(
            "SELECT lead_id FROM platform_uploads WHERE workspace_id = {} AND platform = {} ORDER BY lead_id",
            p(1),
            p(2)
        ),
        uploads: format!(
            "SELECT platform, batch_id, count(*), max(uploaded_at) FROM platform_uploads \
             WHERE workspace_id = {} GROUP BY platform, batch_id ORDER BY max(uploaded_at) DESC, batch_id LIMIT {}",
            p(1),
            p(2)
        ),
        channels: format!(
            "SELECT config FROM delivery_channels WHERE workspace_id = {}",
            p(1)
        ),
        set_channels: format!(
            "INSERT INTO delivery_channels (workspace_id, config, updated_at) VALUES ({}, {}, {}) \
             ON CONFLICT (workspace_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
            p(1),
            p(2),
            p(3)
        ),
    }
}

fn status_of(error: Option<&str>) -> &'static str {
    match error {
        None => DeliveryStatus::Delivered.as_str(),
        Some(_) => DeliveryStatus::Failed.as_str(),
    }
}

impl DeliveryStore for SqliteStore {
    fn begin_delivery(&self, ws: WorkspaceId, d: &NewDelivery, now: i64) -> Result<Delivery> {
        let s = sql(|n| format!("?{n}"));
        let conn = self.conn();
        conn.execute(
            &s.insert,
            params![ws, d.channel, d.target, d.event, d.idempotency_key, now],
        )?;
        conn.query_row(&s.select, params![ws, d.idempotency_key], |r| {
            Ok(delivery_from_row(r))
        })?
    }

    fn finish_delivery(
        &self,
        ws: WorkspaceId,
        key: &str,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let s = sql(|n| format!("?{n}"));
        self.conn()
            .execute(&s.finish, params![status_of(error), error, now, ws, key])?;
        Ok(())
    }

    fn list_deliveries(&self, ws: WorkspaceId, limit: u32) -> Result<Vec<Delivery>> {
        let s = sql(|n| format!("?{n}"));
        let conn = self.conn();
        let mut stmt = conn.prepare(&s.list)?;
        let rows = stmt.query_map(params![ws, i64::from(limit)], |r| Ok(delivery_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    fn record_platform_upload(
        &self,
        ws: WorkspaceId,
        platform: &str,
        batch_id: &str,
        leads: &[LeadId],
        now: i64,
    ) -> Result<()> {
        let s = sql(|n| format!("?{n}"));
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(&s.upload)?;
            for id in leads {
                stmt.execute(params![ws, platform, id, batch_id, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn uploaded_to_platform(&self, ws: WorkspaceId, platform: &str) -> Result<Vec<LeadId>> {
        let s = sql(|n| format!("?{n}"));
        let conn = self.conn();
        let mut stmt = conn.prepare(&s.uploaded)?;
        let rows = stmt.query_map(params![ws, platform], |r| r.get::<_, i64>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn platform_uploads(&self, ws: WorkspaceId, limit: u32) -> Result<Vec<PlatformUpload>> {
        let s = sql(|n| format!("?{n}"));
        let conn = self.conn();
        let mut stmt = conn.prepare(&s.uploads)?;
        let rows = stmt.query_map(params![ws, i64::from(limit)], |r| {
            Ok(PlatformUpload {
                platform: r.get(0)?,
                batch_id: r.get(1)?,
                leads: r.get::<_, i64>(2)? as u64,
                uploaded_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delivery_channels(&self, ws: WorkspaceId) -> Result<Option<String>> {
        let s = sql(|n| format!("?{n}"));
        Ok(self
            .conn()
            .query_row(&s.channels, params![ws], |r| r.get(0))
            .optional()?)
    }

    fn set_delivery_channels(&self, ws: WorkspaceId, json: &str, now: i64) -> Result<()> {
        let s = sql(|n| format!("?{n}"));
        self.conn()
            .execute(&s.set_channels, params![ws, json, now])?;
        Ok(())
    }
}

impl DeliveryStore for PgStore {
    fn begin_delivery(&self, ws: WorkspaceId, d: &NewDelivery, now: i64) -> Result<Delivery> {
        let s = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        conn.client.execute(
            &s.insert,
            &[
                &ws,
                &d.channel,
                &d.target,
                &d.event,
                &d.idempotency_key,
                &now,
            ],
        )?;
        let row = conn
            .client
            .query_one(&s.select, &[&ws, &d.idempotency_key])?;
        delivery_from_row(&row)
    }

    fn finish_delivery(
        &self,
        ws: WorkspaceId,
        key: &str,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let s = sql(|n| format!("${n}"));
        self.conn()?
            .client
            .execute(&s.finish, &[&status_of(error), &error, &now, &ws, &key])?;
        Ok(())
    }

    fn list_deliveries(&self, ws: WorkspaceId, limit: u32) -> Result<Vec<Delivery>> {
        let s = sql(|n| format!("${n}"));
        let rows = self
            .conn()?
            .client
            .query(&s.list, &[&ws, &i64::from(limit)])?;
        rows.iter().map(|r| delivery_from_row(r)).collect()
    }

    fn record_platform_upload(
        &self,
        ws: WorkspaceId,
        platform: &str,
        batch_id: &str,
        leads: &[LeadId],
        now: i64,
    ) -> Result<()> {
        let s = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        let mut tx = conn.client.transaction()?;
        let stmt = tx.prepare(&s.upload)?;
        for id in leads {
            tx.execute(&stmt, &[&ws, &platform, id, &batch_id, &now])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn uploaded_to_platform(&self, ws: WorkspaceId, platform: &str) -> Result<Vec<LeadId>> {
        let s = sql(|n| format!("${n}"));
        let rows = self.conn()?.client.query(&s.uploaded, &[&ws, &platform])?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0)).collect())
    }

    fn platform_uploads(&self, ws: WorkspaceId, limit: u32) -> Result<Vec<PlatformUpload>> {
        let s = sql(|n| format!("${n}"));
        let rows = self
            .conn()?
            .client
            .query(&s.uploads, &[&ws, &i64::from(limit)])?;
        Ok(rows
            .iter()
            .map(|r| PlatformUpload {
                platform: r.get(0),
                batch_id: r.get(1),
                leads: r.get::<_, i64>(2) as u64,
                uploaded_at: r.get(3),
            })
            .collect())
    }

    fn delivery_channels(&self, ws: WorkspaceId) -> Result<Option<String>> {
        let s = sql(|n| format!("${n}"));
        let row = self.conn()?.client.query_opt(&s.channels, &[&ws])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn set_delivery_channels(&self, ws: WorkspaceId, json: &str, now: i64) -> Result<()> {
        let s = sql(|n| format!("${n}"));
        self.conn()?
            .client
            .execute(&s.set_channels, &[&ws, &json, &now])?;
        Ok(())
    }
}
