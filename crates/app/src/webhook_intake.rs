//! Inbound webhooks, for any source: the raw delivery is stored before it
//! is acknowledged (refused and malformed ones too, for the record),
//! duplicates by the source's dedupe key are ignored, and processing runs
//! on the stored event, so any event can be replayed.

use leadgen_core::WorkspaceId;
use leadgen_store::{NewWebhookEvent, Store, StoreError};
use serde_json::Value;

/// One inbound source: how to recognise and apply its events.
#[derive(Clone, Copy)]
pub struct WebhookSource {
    /// Stored as the event's source; with a channel (the intent vendor),
    /// as `<name>:<channel>`.
    pub name: &'static str,
    /// What makes two deliveries the same event; `None`: not an event.
    pub dedupe_key: fn(&Value) -> Option<String>,
    /// Why a body without a dedupe key is not an event.
    pub not_an_event: &'static str,
    pub event_type: fn(&Value) -> Option<String>,
    /// The vendor's campaign (or other grouping) id, for counting.
    pub campaign_ref: fn(&Value) -> Option<String>,
    /// Applies an event (with the stored source, which names the channel);
    /// its effects as JSON.
    pub process: ProcessFn,
}

/// `(store, workspace, stored source, event, now)` → the event's effects.
pub type ProcessFn = fn(&dyn Store, WorkspaceId, &str, &Value, i64) -> Result<Value, StoreError>;

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// Instantly's webhooks (`POST /integrations/instantly/webhook`).
pub const INSTANTLY: WebhookSource = WebhookSource {
    name: crate::campaigns::INSTANTLY,
    dedupe_key: crate::campaigns::instantly_dedupe_key,
    not_an_event: "not an event: an object with event_type and timestamp expected",
    event_type: |v| str_field(v, "event_type"),
    campaign_ref: |v| str_field(v, "campaign_id"),
    process: |store, ws, _source, v, now| {
        let fx = crate::campaigns::process_instantly_event(store, ws, v, now)?;
        Ok(serde_json::to_value(fx).unwrap_or_default())
    },
};

/// Any intent vendor's signals (`POST /integrations/intent/{vendor}/webhook`):
/// a delivery is one batch, the same body twice is one event, and the
/// signals themselves are deduplicated by the store.
pub const INTENT: WebhookSource = WebhookSource {
    name: "intent",
    dedupe_key: |v| {
        use sha2::Digest;
        let signals = v.is_array() || v["signals"].is_array() || v["data"].is_array();
        signals.then(|| {
            let digest = sha2::Sha256::digest(v.to_string().as_bytes());
            digest.iter().map(|b| format!("{b:02x}")).collect()
        })
    },
    not_an_event: "expected an array of signals, or one under \"signals\" or \"data\"",
    event_type: |_| Some("signals".into()),
    campaign_ref: |_| None,
    process: |store, ws, source, v, now| {
        let vendor = source.strip_prefix("intent:").unwrap_or("webhook");
        let summary =
            crate::intent::ingest_webhook(store, ws, vendor, v.to_string().as_bytes(), now)
                .map_err(|e| match e {
                    crate::intent::IntentError::Store(e) => e,
                    other => StoreError::Invalid(other.to_string()),
                })?;
        Ok(serde_json::to_value(summary).unwrap_or_default())
    },
};

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// The secret was missing or wrong (stored as `rejected`).
    Rejected { id: Option<i64> },
    /// Not JSON, or not an event (stored as `malformed`).
    Malformed { id: Option<i64>, reason: String },
    /// Seen before: nothing stored, nothing done.
    Duplicate,
    /// Stored, then processed (`Ok`) or not (`Err`, stored as `failed`).
    Accepted {
        id: i64,
        processed: Result<Value, String>,
    },
}

/// Receives one delivery. `channel` names a source's sender (the intent
/// vendor); `authorized` is the source's secret check; `headers` the kept
/// headers as JSON text (never the secret).
#[allow(clippy::too_many_arguments)]
pub fn receive(
    store: &dyn Store,
    ws: WorkspaceId,
    src: &WebhookSource,
    channel: Option<&str>,
    authorized: bool,
    headers: &str,
    body: &[u8],
    now: i64,
) -> Result<Intake, StoreError> {
    let text = String::from_utf8_lossy(body).into_owned();
    let mut e = NewWebhookEvent {
        source: match channel {
            Some(c) => format!("{}:{c}", src.name),
            None => src.name.to_owned(),
        },
        received_at: now,
        headers: headers.to_owned(),
        body: text,
        status: "received".into(),
        error: None,
        dedupe_key: None,
        event_type: None,
        campaign_ref: None,
    };
    if !authorized {
        e.status = "rejected".into();
        e.error = Some("missing or wrong secret header".into());
        return Ok(Intake::Rejected {
            id: store.record_webhook(ws, &e)?,
        });
    }
    let parsed: Result<Value, String> = serde_json::from_slice(body).map_err(|x| x.to_string());
    let value = match parsed {
        Ok(v) => v,
        Err(x) => return malformed(store, ws, e, format!("the body is not JSON: {x}")),
    };
    let Some(key) = (src.dedupe_key)(&value) else {
        return malformed(store, ws, e, src.not_an_event.into());
    };
    e.dedupe_key = Some(key);
    e.event_type = (src.event_type)(&value);
    e.campaign_ref = (src.campaign_ref)(&value);
    let Some(id) = store.record_webhook(ws, &e)? else {
        return Ok(Intake::Duplicate);
    };
    let processed = apply(store, ws, src, &e.source, id, &value, now);
    Ok(Intake::Accepted { id, processed })
}

fn malformed(
    store: &dyn Store,
    ws: WorkspaceId,
    mut e: NewWebhookEvent,
    reason: String,
) -> Result<Intake, StoreError> {
    e.status = "malformed".into();
    e.error = Some(reason.clone());
    Ok(Intake::Malformed {
        id: store.record_webhook(ws, &e)?,
        reason,
    })
}

fn apply(
    store: &dyn Store,
    ws: WorkspaceId,
    src: &WebhookSource,
    source: &str,
    id: i64,
    value: &Value,
    now: i64,
) -> Result<Value, String> {
    match (src.process)(store, ws, source, value, now) {
        Ok(fx) => {
            let _ = store.set_webhook_status(ws, id, "processed", None);
            Ok(fx)
        }
        Err(e) => {
            tracing::warn!(source = src.name, id, error = %e, "webhook processing failed");
            let msg = e.to_string();
            let _ = store.set_webhook_status(ws, id, "failed", Some(&msg));
            Err(msg)
        }
    }
}

/// Every source leadgen takes webhooks from.
pub const SOURCES: [WebhookSource; 2] = [INSTANTLY, INTENT];

/// The source a stored event's `source` belongs to (`intent:bombora` →
/// [`INTENT`]).
pub fn source_of(stored: &str) -> Option<&'static WebhookSource> {
    SOURCES.iter().find(|s| {
        stored == s.name
            || stored
                .strip_prefix(s.name)
                .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq)]
pub enum Replay {
    /// No such event in the workspace.
    NotFound,
    /// Refused and malformed deliveries are kept for the record only.
    NotAnEvent(String),
    /// Processed again: its effects, or why it failed (stored on the event).
    Done(Result<Value, String>),
}

/// Processes a stored event again (after a failure, or a fix), with its
/// source's rules. Effects are the source's own: Instantly's events are
/// idempotent per lead and campaign, so a replay of a processed event
/// changes nothing it already did.
pub fn replay(store: &dyn Store, ws: WorkspaceId, id: i64, now: i64) -> Result<Replay, StoreError> {
    let Some(e) = store.get_webhook(ws, id)? else {
        return Ok(Replay::NotFound);
    };
    let Some(src) = source_of(&e.source) else {
        return Ok(Replay::NotAnEvent(format!(
            "event {id} comes from {}, which leadgen no longer reads",
            e.source
        )));
    };
    if e.dedupe_key.is_none() {
        return Ok(Replay::NotAnEvent(format!(
            "event {id} was {} when received, not an event to process",
            e.status
        )));
    }
    let value: Value = match serde_json::from_str(&e.body) {
        Ok(v) => v,
        Err(x) => return Ok(Replay::NotAnEvent(x.to_string())),
    };
    Ok(Replay::Done(apply(
        store, ws, src, &e.source, id, &value, now,
    )))
}
