//! Outbound webhooks signed with HMAC-SHA256, so a receiver can check that
//! a delivery came from us, unaltered, and recently.
//!
//! Each delivery is a `POST` of a JSON body with these headers:
//!
//! - `X-Leadgen-Event`: the event name (`lead.delivered`, `run.completed`, …);
//! - `X-Leadgen-Event-Id`: unique per event; the same id on every retry, so
//!   receivers drop duplicates by it;
//! - `X-Leadgen-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the MAC
//!   keyed with the endpoint's secret over `"<t>.<raw body>"`.
//!
//! [`verify_signature`] is the receiver's side: it recomputes the MAC in
//! constant time and refuses timestamps further than a tolerance from its
//! clock, so a captured request cannot be replayed later. The scheme is
//! documented for receivers in `docs/webhooks.md`.

use leadgen_core::hex::{hex, unhex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::IntegrationError;
use crate::http::{HttpClient, RetryPolicy};

pub const SIGNATURE_HEADER: &str = "X-Leadgen-Signature";
pub const EVENT_ID_HEADER: &str = "X-Leadgen-Event-Id";
pub const EVENT_HEADER: &str = "X-Leadgen-Event";
/// How old (or how far ahead) a signed timestamp may be: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// One receiving endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &"<set>")
            .finish()
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is not `t=<seconds>,v1=<hex>`")]
    Malformed,
    #[error("timestamp is {0} s away from now, outside the tolerance")]
    Expired(i64),
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key")
}

/// The signature header value for `body` signed at `timestamp` (Unix s).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("t={timestamp},v1={}", hex(&m.finalize().into_bytes()))
}

/// Checks `header` (the `X-Leadgen-Signature` value) against the raw
/// `body` with the endpoint's `secret`, at `now` (Unix s). Any `v1` entry
/// may match (several appear while a secret is being rotated).
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(unhex(v).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let age = now.saturating_sub(t);
    if age.unsigned_abs() > tolerance.as_secs() {
        return Err(SignatureError::Expired(age));
    }
    for c in candidates {
        let mut m = mac(secret);
        m.update(t.to_string().as_bytes());
        m.update(b".");
        m.update(body);
        if m.verify_slice(&c).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: HttpClient,
}

impl WebhookClient {
    pub fn new() -> Result<WebhookClient, IntegrationError> {
        Ok(WebhookClient {
            http: HttpClient::new("webhook", Duration::from_secs(15))?,
        })
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> WebhookClient {
        self.http = self.http.with_policy(policy);
        self
    }

    /// Posts `body` to `target`, signed at `now` (Unix s). Retries within
    /// the policy reuse the same timestamp, event id and signature.
    pub async fn deliver(
        &self,
        target: &WebhookTarget,
        event: &str,
        event_id: &str,
        body: &serde_json::Value,
        now: i64,
    ) -> Result<(), IntegrationError> {
        let raw = serde_json::to_vec(body).map_err(|e| IntegrationError::Config(e.to_string()))?;
        let signature = sign(&target.secret, now, &raw);
        self.http
            .send(|c| {
                c.post(&target.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(EVENT_HEADER, event)
                    .header(EVENT_ID_HEADER, event_id)
                    .header(SIGNATURE_HEADER, &signature)
                    .body(raw.clone())
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_547_200;

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let body = br#"{"event":"lead.delivered"}"#;
        let h = sign("s3cret", NOW, body);
        assert!(h.starts_with(&format!("t={NOW},v1=")));
        assert_eq!(
            verify_signature("s3cret", &h, body, NOW + 10, DEFAULT_TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify_signature("other", &h, body, NOW, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature("s3cret", &h, b"{}", NOW, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature("s3cret", &h, body, NOW + 301, DEFAULT_TOLERANCE),
            Err(SignatureError::Expired(301))
        );
    }

    #[test]
    fn a_replayed_body_under_a_new_timestamp_fails() {
        let body = b"{}";
        let h = sign("k", NOW, body);
        let mac = h.split_once(",v1=").unwrap().1;
        let forged = format!("t={},v1={mac}", NOW + 1000);
        assert_eq!(
            verify_signature("k", &forged, body, NOW + 1000, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_headers_are_refused_without_panicking() {
        for h in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "t=1,v1=abc"] {
            assert_eq!(
                verify_signature("k", h, b"", 1, DEFAULT_TOLERANCE),
                Err(SignatureError::Malformed),
                "{h}"
            );
        }
    }
}
