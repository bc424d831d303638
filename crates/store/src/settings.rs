//! Per-workspace settings edited from the dashboard and the API: each
//! outside service's credentials (API key, base URL) and daily budget, and
//! the workspace's scoring rules.
//!
//! API keys are sealed with ChaCha20-Poly1305 ([`SecretBox`]) before they
//! reach a statement: the column holds `v1:` and the hex of a random
//! 96-bit nonce and the ciphertext, and the workspace and service are the
//! associated data, so a sealed key copied to another row does not open.
//! The key of the box is the application's (`LEADGEN_SECRET_KEY` or a key
//! file); the store never sees it at rest. Scoring rules are kept as the
//! JSON of `core::score::ScoringRules`.

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use leadgen_core::WorkspaceId;
pub use leadgen_core::hex::{hex, unhex};
use leadgen_core::score::ScoringRules;
use rusqlite::{OptionalExtension, params};

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{Result, StoreError};

/// Seals and opens secrets at rest. `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key>)")
    }
}

const SEALED_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

impl SecretBox {
    pub fn new(key: [u8; 32]) -> SecretBox {
        SecretBox {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        }
    }

    /// 32 bytes from the operating system's random source.
    pub fn generate_key() -> [u8; 32] {
        Key::generate().into()
    }

    /// `v1:<hex of nonce and ciphertext>`; `context` must be given again to open it.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = Nonce::generate();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption into a Vec fails only on a message longer than 256 GiB.
        let sealed = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let bytes: Vec<u8> = nonce.iter().chain(&sealed).copied().collect();
        format!("{SEALED_PREFIX}{}", hex(&bytes))
    }

    /// The plaintext of [`SecretBox::seal`]'s output; an error for another
    /// key, another context or altered text.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String> {
        let refused = || {
            StoreError::Corrupt(format!(
                "a stored secret ({context}) does not open with this key: was LEADGEN_SECRET_KEY or the key file changed?"
            ))
        };
        let hex = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(refused)?;
        let bytes = unhex(hex).ok_or_else(refused)?;
        if bytes.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| refused())?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| refused())?;
        String::from_utf8(plain).map_err(|_| refused())
    }
}

/// What seals a service's key: its row, so it opens nowhere else.
fn context(ws: WorkspaceId, service: &str) -> String {
    format!("integration_settings:{ws}:{service}")
}

/// The key as the row stores it.
fn sealed_key(ws: WorkspaceId, s: &IntegrationSettings, secrets: &SecretBox) -> Option<String> {
    s.api_key
        .as_deref()
        .map(|k| secrets.seal(k, &context(ws, &s.service)))
}

/// One service's stored settings. `service` is the lower-case name of its
/// variables (`hunter` for `LEADGEN_HUNTER_*`). `Debug` hides the key.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IntegrationSettings {
    pub service: String,
    #[serde(skip)]
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    /// US dollars a day, as a decimal number (`"12.5"`).
    pub daily_budget_usd: Option<String>,
    pub updated_at: i64,
}

impl std::fmt::Debug for IntegrationSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationSettings")
            .field("service", &self.service)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("base_url", &self.base_url)
            .field("daily_budget_usd", &self.daily_budget_usd)
            .finish()
    }
}

impl IntegrationSettings {
    /// Nothing set: storing it removes the row.
    pub fn is_empty(&self) -> bool {
        self.api_key.is_none() && self.base_url.is_none() && self.daily_budget_usd.is_none()
    }
}

pub trait SettingsStore {
    /// Replaces one service's settings, the key sealed with `secrets`; a
    /// value with nothing set removes the service's row.
    fn put_integration(
        &self,
        ws: WorkspaceId,
        s: &IntegrationSettings,
        secrets: &SecretBox,
        now: i64,
    ) -> Result<()>;

    /// The workspace's stored services, by name, keys opened with `secrets`.
    fn integrations(
        &self,
        ws: WorkspaceId,
        secrets: &SecretBox,
    ) -> Result<Vec<IntegrationSettings>>;

    /// Sets the workspace's scoring rules; `None` goes back to the config's.
    fn put_scoring(&self, ws: WorkspaceId, rules: Option<&ScoringRules>, now: i64) -> Result<()>;

    /// The workspace's own scoring rules, if it has any.
    fn scoring(&self, ws: WorkspaceId) -> Result<Option<ScoringRules>>;
}

pub(crate) const SETTINGS_DDL: &str = "
CREATE TABLE integration_settings (
    workspace_id BIGINT NOT NULL,
    service TEXT NOT NULL,
    api_key_sealed TEXT,
    base_url TEXT,
    daily_budget_usd TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, service)
);
CREATE TABLE scoring_settings (
    workspace_id BIGINT PRIMARY KEY,
    rules TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
";

struct Sql {
    upsert: String,
    delete: String,
    list: String,
    put_scoring: String,
    delete_scoring: String,
    get_scoring: String,
}

fn sql(p: fn(usize) -> String) -> Sql {
    Sql {
        upsert: format!(
            "INSERT INTO integration_settings \
             (workspace_id, service, api_key_sealed, base_url, daily_budget_usd, updated_at) \
             VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (workspace_id, service) DO UPDATE SET \
             api_key_sealed = excluded.api_key_sealed, base_url = excluded.base_url, \
             daily_budget_usd = excluded.daily_budget_usd, updated_at = excluded.updated_at",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6)
        ),
        delete: format!(
            "DELETE FROM integration_settings WHERE workspace_id = {} AND service = {}",
            p(1),
            p(2)
        ),
        list: format!(
            "SELECT service, api_key_sealed, base_url, daily_budget_usd, updated_at \
             FROM integration_settings WHERE workspace_id = {} ORDER BY service",
            p(1)
        ),
        put_scoring: format!(
            "INSERT INTO scoring_settings (workspace_id, rules, updated_at) VALUES ({}, {}, {}) \
             ON CONFLICT (workspace_id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at",
            p(1),
            p(2),
            p(3)
        ),
        delete_scoring: format!("DELETE FROM scoring_settings WHERE workspace_id = {}", p(1)),
        get_scoring: format!(
            "SELECT rules FROM scoring_settings WHERE workspace_id = {}",
            p(1)
        ),
    }
}

/// A row as read: the key still sealed.
type Row = (String, Option<String>, Option<String>, Option<String>, i64);

fn open_rows(
    ws: WorkspaceId,
    rows: Vec<Row>,
    secrets: &SecretBox,
) -> Result<Vec<IntegrationSettings>> {
    rows.into_iter()
        .map(
            |(service, sealed, base_url, daily_budget_usd, updated_at)| {
                let api_key = sealed
                    .map(|s| secrets.open(&s, &context(ws, &service)))
                    .transpose()?;
                Ok(IntegrationSettings {
                    service,
                    api_key,
                    base_url,
                    daily_budget_usd,
                    updated_at,
                })
            },
        )
        .collect()
}

fn rules_json(rules: &ScoringRules) -> Result<String> {
    serde_json::to_string(rules).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn parse_rules(text: &str) -> Result<ScoringRules> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("scoring rules: {e}")))
}

impl SettingsStore for SqliteStore {
    fn put_integration(
        &self,
        ws: WorkspaceId,
        s: &IntegrationSettings,
        secrets: &SecretBox,
        now: i64,
    ) -> Result<()> {
        let q = sql(|n| format!("?{n}"));
        let conn = self.conn();
        if s.is_empty() {
            conn.execute(&q.delete, params![ws, s.service])?;
            return Ok(());
        }
        let sealed = sealed_key(ws, s, secrets);
        conn.execute(
            &q.upsert,
            params![ws, s.service, sealed, s.base_url, s.daily_budget_usd, now],
        )?;
        Ok(())
    }

    fn integrations(
        &self,
        ws: WorkspaceId,
        secrets: &SecretBox,
    ) -> Result<Vec<IntegrationSettings>> {
        let q = sql(|n| format!("?{n}"));
        let rows: Vec<Row> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(&q.list)?;
            let rows = stmt.query_map(params![ws], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        open_rows(ws, rows, secrets)
    }

    fn put_scoring(&self, ws: WorkspaceId, rules: Option<&ScoringRules>, now: i64) -> Result<()> {
        let q = sql(|n| format!("?{n}"));
        let conn = self.conn();
        match rules {
            Some(r) => conn.execute(&q.put_scoring, params![ws, rules_json(r)?, now])?,
            None => conn.execute(&q.delete_scoring, params![ws])?,
        };
        Ok(())
    }

    fn scoring(&self, ws: WorkspaceId) -> Result<Option<ScoringRules>> {
        let q = sql(|n| format!("?{n}"));
        let text: Option<String> = self
            .conn()
            .query_row(&q.get_scoring, params![ws], |r| r.get(0))
            .optional()?;
        text.as_deref().map(parse_rules).transpose()
    }
}

impl SettingsStore for PgStore {
    fn put_integration(
        &self,
        ws: WorkspaceId,
        s: &IntegrationSettings,
        secrets: &SecretBox,
        now: i64,
    ) -> Result<()> {
        let q = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        if s.is_empty() {
            conn.client.execute(&q.delete, &[&ws, &s.service])?;
            return Ok(());
        }
        let sealed = sealed_key(ws, s, secrets);
        conn.client.execute(
            &q.upsert,
            &[
                &ws,
                &s.service,
                &sealed,
                &s.base_url,
                &s.daily_budget_usd,
                &now,
            ],
        )?;
        Ok(())
    }

    fn integrations(
        &self,
        ws: WorkspaceId,
        secrets: &SecretBox,
    ) -> Result<Vec<IntegrationSettings>> {
        let q = sql(|n| format!("${n}"));
        let rows: Vec<Row> = self
            .conn()?
            .client
            .query(&q.list, &[&ws])?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        open_rows(ws, rows, secrets)
    }

    fn put_scoring(&self, ws: WorkspaceId, rules: Option<&ScoringRules>, now: i64) -> Result<()> {
        let q = sql(|n| format!("${n}"));
        let mut conn = self.conn()?;
        match rules {
            Some(r) => conn
                .client
                .execute(&q.put_scoring, &[&ws, &rules_json(r)?, &now])?,
            None => conn.client.execute(&q.delete_scoring, &[&ws])?,
        };
        Ok(())
    }

    fn scoring(&self, ws: WorkspaceId) -> Result<Option<ScoringRules>> {
        let q = sql(|n| format!("${n}"));
        let row = self.conn()?.client.query_opt(&q.get_scoring, &[&ws])?;
        row.map(|r| parse_rules(&r.get::<_, String>(0))).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let b = SecretBox::new([7; 32]);
        let sealed = b.seal("sk_live_abcdef", "ctx:1");
        assert!(
            sealed.starts_with("v1:") && !sealed.contains("abcdef"),
            "{sealed}"
        );
        assert_eq!(b.open(&sealed, "ctx:1").unwrap(), "sk_live_abcdef");
        assert_ne!(
            b.seal("sk_live_abcdef", "ctx:1"),
            sealed,
            "a fresh nonce each time"
        );
        assert!(b.open(&sealed, "ctx:2").is_err(), "another row");
        assert!(
            SecretBox::new([8; 32]).open(&sealed, "ctx:1").is_err(),
            "another key"
        );
        let mut tampered = sealed.clone();
        let last = tampered.pop();
        tampered.push(if last == Some('0') { '1' } else { '0' });
        assert!(b.open(&tampered, "ctx:1").is_err(), "altered text");
        assert!(b.open("plaintext", "ctx:1").is_err());
        assert!(!format!("{b:?}").contains('7'));
    }
}
