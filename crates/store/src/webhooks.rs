//! Inbound webhooks, stored raw before they are acknowledged: every
//! delivery (accepted, refused or malformed) is a row, so nothing a vendor
//! sent is lost and any event can be processed again. A delivery whose
//! dedupe key is already stored for its source is a duplicate and stores
//! nothing.

use leadgen_core::WorkspaceId;

use crate::Result;
use crate::campaigns::Exec;
use crate::codec::SqlValue;
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

/// A delivery as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEvent {
    /// `instantly`, …
    pub source: String,
    pub received_at: i64,
    /// The headers worth keeping (never the secret), as JSON text.
    pub headers: String,
    pub body: String,
    /// received | rejected | malformed
    pub status: String,
    pub error: Option<String>,
    /// `None` for refused and malformed deliveries (never deduplicated).
    pub dedupe_key: Option<String>,
    pub event_type: Option<String>,
    /// The vendor's campaign id, for counting events per campaign.
    pub campaign_ref: Option<String>,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookEvent {
    pub id: i64,
    pub source: String,
    pub received_at: i64,
    pub headers: String,
    pub body: String,
    pub status: String,
    pub error: Option<String>,
    pub dedupe_key: Option<String>,
    pub event_type: Option<String>,
    pub campaign_ref: Option<String>,
}

pub trait WebhookStore {
    /// Stores a delivery; its id, or `None` when its dedupe key is already
    /// stored for the source (a duplicate, stored no second time).
    fn record_webhook(&self, ws: WorkspaceId, e: &NewWebhookEvent) -> Result<Option<i64>>;
    /// processed | failed, with the failure.
    fn set_webhook_status(
        &self,
        ws: WorkspaceId,
        id: i64,
        status: &str,
        error: Option<&str>,
    ) -> Result<()>;
    fn get_webhook(&self, ws: WorkspaceId, id: i64) -> Result<Option<WebhookEvent>>;
    /// Processed events of a source's campaign, by event type.
    fn webhook_counts(
        &self,
        ws: WorkspaceId,
        source: &str,
        campaign_ref: &str,
    ) -> Result<Vec<(String, u64)>>;
    /// The newest deliveries of a source.
    fn list_webhooks(
        &self,
        ws: WorkspaceId,
        source: &str,
        limit: usize,
    ) -> Result<Vec<WebhookEvent>>;
}

pub(crate) fn webhooks_ddl(id: &str) -> String {
    format!(
        "
CREATE TABLE webhook_events (
    id {id},
    workspace_id BIGINT NOT NULL,
    source TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    dedupe_key TEXT,
    event_type TEXT,
    campaign_ref TEXT
);
CREATE UNIQUE INDEX webhook_events_dedupe ON webhook_events (workspace_id, source, dedupe_key);
CREATE INDEX webhook_events_campaign ON webhook_events (workspace_id, source, campaign_ref, status);
"
    )
}

const COLUMNS: &str =
    "id, source, received_at, headers, body, status, error, dedupe_key, event_type, campaign_ref";

fn event_of(c: &[SqlValue<'static>]) -> Result<WebhookEvent> {
    let text = |i: usize| match c.get(i) {
        Some(SqlValue::Text(s)) => Some(s.to_string()),
        _ => None,
    };
    let int = |i: usize| match c.get(i) {
        Some(SqlValue::Int(n)) => Ok(*n),
        other => Err(crate::StoreError::Corrupt(format!(
            "webhook column {i}: {other:?}"
        ))),
    };
    Ok(WebhookEvent {
        id: int(0)?,
        source: text(1).unwrap_or_default(),
        received_at: int(2)?,
        headers: text(3).unwrap_or_default(),
        body: text(4).unwrap_or_default(),
        status: text(5).unwrap_or_default(),
        error: text(6),
        dedupe_key: text(7),
        event_type: text(8),
        campaign_ref: text(9),
    })
}

fn opt(s: &Option<String>) -> SqlValue<'_> {
    s.as_deref()
        .map_or(SqlValue::Null, |s| SqlValue::Text(s.into()))
}

fn record(x: &dyn Exec, ws: i64, e: &NewWebhookEvent) -> Result<Option<i64>> {
    let ps: Vec<String> = (1..=11).map(|i| x.p(i)).collect();
    let sql = format!(
        "INSERT INTO webhook_events (workspace_id, source, received_at, headers, body, status, \
         error, dedupe_key, event_type, campaign_ref) VALUES ({}) ON CONFLICT DO NOTHING RETURNING id",
        ps[..10].join(", ")
    );
    let rows = x.rows(
        &sql,
        &[
            SqlValue::Int(ws),
            SqlValue::Text(e.source.as_str().into()),
            SqlValue::Int(e.received_at),
            SqlValue::Text(e.headers.as_str().into()),
            SqlValue::Text(e.body.as_str().into()),
            SqlValue::Text(e.status.as_str().into()),
            opt(&e.error),
            opt(&e.dedupe_key),
            opt(&e.event_type),
            opt(&e.campaign_ref),
        ],
    )?;
    Ok(rows.first().and_then(|r| match r.first() {
        Some(SqlValue::Int(id)) => Some(*id),
        _ => None,
    }))
}

fn set_status(x: &dyn Exec, ws: i64, id: i64, status: &str, error: Option<&str>) -> Result<()> {
    let sql = format!(
        "UPDATE webhook_events SET status = {}, error = {} WHERE workspace_id = {} AND id = {}",
        x.p(1),
        x.p(2),
        x.p(3),
        x.p(4)
    );
    x.exec(
        &sql,
        &[
            SqlValue::Text(status.into()),
            error.map_or(SqlValue::Null, |e| SqlValue::Text(e.into())),
            SqlValue::Int(ws),
            SqlValue::Int(id),
        ],
    )?;
    Ok(())
}

fn get(x: &dyn Exec, ws: i64, id: i64) -> Result<Option<WebhookEvent>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_events WHERE workspace_id = {} AND id = {}",
        x.p(1),
        x.p(2)
    );
    x.rows(&sql, &[SqlValue::Int(ws), SqlValue::Int(id)])?
        .first()
        .map(|r| event_of(r))
        .transpose()
}

fn counts(x: &dyn Exec, ws: i64, source: &str, campaign: &str) -> Result<Vec<(String, u64)>> {
    let sql = format!(
        "SELECT event_type, count(*) FROM webhook_events WHERE workspace_id = {} AND source = {} \
         AND campaign_ref = {} AND status = 'processed' AND event_type IS NOT NULL \
         GROUP BY event_type ORDER BY event_type",
        x.p(1),
        x.p(2),
        x.p(3)
    );
    x.rows(
        &sql,
        &[
            SqlValue::Int(ws),
            SqlValue::Text(source.into()),
            SqlValue::Text(campaign.into()),
        ],
    )?
    .iter()
    .map(|r| match (r.first(), r.get(1)) {
        (Some(SqlValue::Text(t)), Some(SqlValue::Int(n))) => Ok((t.to_string(), *n as u64)),
        other => Err(crate::StoreError::Corrupt(format!(
            "webhook count {other:?}"
        ))),
    })
    .collect()
}

fn list(x: &dyn Exec, ws: i64, source: &str, limit: usize) -> Result<Vec<WebhookEvent>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_events WHERE workspace_id = {} AND source = {} \
         ORDER BY id DESC LIMIT {}",
        x.p(1),
        x.p(2),
        x.p(3)
    );
    x.rows(
        &sql,
        &[
            SqlValue::Int(ws),
            SqlValue::Text(source.into()),
            SqlValue::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
        ],
    )?
    .iter()
    .map(|r| event_of(r))
    .collect()
}

macro_rules! webhook_store {
    ($ty:ty) => {
        impl WebhookStore for $ty {
            fn record_webhook(&self, ws: WorkspaceId, e: &NewWebhookEvent) -> Result<Option<i64>> {
                record(self, ws, e)
            }
            fn set_webhook_status(
                &self,
                ws: WorkspaceId,
                id: i64,
                status: &str,
                error: Option<&str>,
            ) -> Result<()> {
                set_status(self, ws, id, status, error)
            }
            fn get_webhook(&self, ws: WorkspaceId, id: i64) -> Result<Option<WebhookEvent>> {
                get(self, ws, id)
            }
            fn webhook_counts(
                &self,
                ws: WorkspaceId,
                source: &str,
                campaign_ref: &str,
            ) -> Result<Vec<(String, u64)>> {
                counts(self, ws, source, campaign_ref)
            }
            fn list_webhooks(
                &self,
                ws: WorkspaceId,
                source: &str,
                limit: usize,
            ) -> Result<Vec<WebhookEvent>> {
                list(self, ws, source, limit)
            }
        }
    };
}

webhook_store!(SqliteStore);
webhook_store!(PgStore);
