//! What every handler shares: the store, the config, the rate limiter, the
//! metrics and the imports in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use leadgen_app::config::Config;
use leadgen_core::WorkspaceId;
use leadgen_store::Store;

use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
pub use leadgen_jobs::now_ms;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `Secure` on the session cookie: on unless bound to loopback.
    pub secure_cookies: bool,
    /// Requests per second each API key may make, and the burst above it.
    pub key_rate_per_s: f64,
    pub key_burst: f64,
    /// Login attempts per email: a burst, then this many per second.
    pub login_burst: f64,
    pub login_per_s: f64,
    /// Whether `/metrics` is open (true) or needs authentication.
    pub public_metrics: bool,
    /// How long a dashboard session lasts.
    pub session_ttl_ms: i64,
    /// Largest request body (CSV uploads included).
    pub max_body_bytes: usize,
    /// Inbound captures each capture key may post per second, and the burst.
    pub capture_per_s: f64,
    pub capture_burst: f64,
    /// Captures per second from one client address (IPv6: per /64).
    pub capture_ip_per_s: f64,
    pub capture_ip_burst: f64,
    /// Origins (`https://example.com`) whose pages may post captures; empty
    /// allows any.
    pub capture_origins: Vec<String>,
    /// The hidden form field people leave empty and bots fill in.
    pub capture_honeypot: String,
    /// `LEADGEN_INSTANTLY_WEBHOOK_SECRET`: Instantly's deliveries must carry
    /// it in `X-Leadgen-Webhook-Secret`; unset, all are refused.
    pub instantly_webhook_secret: Option<String>,
    /// `LEADGEN_INTENT_WEBHOOK_SECRET`: intent vendors' deliveries must carry
    /// it in `X-Leadgen-Webhook-Secret`; unset, all are refused.
    pub intent_webhook_secret: Option<String>,
    /// `LEADGEN_WORKER_SECRET`: remote workers send it as a bearer token on
    /// `/workers/*`; unset, those routes are off (404).
    pub worker_secret: Option<WorkerSecret>,
    /// The key that seals stored integration keys; `None`: from
    /// `LEADGEN_SECRET_KEY` or the data directory's key file, on first use.
    pub secret_key: Option<leadgen_store::SecretBox>,
    /// Let "test connection" call a service base URL on a loopback or
    /// private address (tests, local demos).
    pub allow_private_network: bool,
}

/// The remote workers' shared secret; `Debug` does not show it.
#[derive(Clone)]
pub struct WorkerSecret(String);

impl WorkerSecret {
    /// `None` for an empty or blank value.
    pub fn new(secret: &str) -> Option<WorkerSecret> {
        let s = secret.trim();
        (!s.is_empty()).then(|| WorkerSecret(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WorkerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerSecret(<redacted>)")
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            secure_cookies: true,
            key_rate_per_s: 50.0,
            key_burst: 100.0,
            public_metrics: true,
            login_burst: 10.0,
            login_per_s: 0.2,
            session_ttl_ms: 12 * 3600 * 1000,
            max_body_bytes: 256 * 1024 * 1024,
            capture_per_s: 5.0,
            capture_burst: 50.0,
            capture_ip_per_s: 0.5,
            capture_ip_burst: 10.0,
            capture_origins: Vec::new(),
            capture_honeypot: "website_url".to_owned(),
            instantly_webhook_secret: None,
            intent_webhook_secret: None,
            worker_secret: None,
            secret_key: None,
            allow_private_network: false,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub config: Config,
    pub opts: ServerOptions,
    pub limiter: RateLimiter,
    /// Login attempts per email.
    pub login_limiter: RateLimiter,
    pub metrics: Metrics,
    pub imports: ImportTracker,
    /// Captures per capture key, and per client address.
    pub capture_limiter: RateLimiter,
    pub capture_ip_limiter: RateLimiter,
    /// The secret key, once found or made.
    pub secrets: std::sync::OnceLock<leadgen_store::SecretBox>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config, opts: ServerOptions) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store,
                config,
                limiter: RateLimiter::new(opts.key_rate_per_s, opts.key_burst),
                login_limiter: RateLimiter::new(opts.login_per_s, opts.login_burst),
                capture_limiter: RateLimiter::new(opts.capture_per_s, opts.capture_burst),
                capture_ip_limiter: RateLimiter::new(opts.capture_ip_per_s, opts.capture_ip_burst),
                opts,
                metrics: Metrics::default(),
                imports: ImportTracker::default(),
                secrets: std::sync::OnceLock::new(),
            }),
        }
    }

    pub fn opts(&self) -> &ServerOptions {
        &self.inner.opts
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The key stored integration keys are sealed with: the options', else
    /// `LEADGEN_SECRET_KEY`, else the data directory's key file (made on
    /// first use). This process's workers get it too.
    pub fn secrets(&self) -> ApiResult<leadgen_store::SecretBox> {
        if let Some(b) = self.inner.secrets.get() {
            return Ok(b.clone());
        }
        let found = match &self.inner.opts.secret_key {
            Some(b) => b.clone(),
            None => leadgen_app::settings::secret_box(&self.inner.config.data_dir, &|k| {
                std::env::var(k).ok()
            })
            .map_err(ApiError::internal)?,
        };
        leadgen_app::settings::configure(found.clone());
        Ok(self.inner.secrets.get_or_init(|| found).clone())
    }

    /// Like [`AppState::secrets`], without making a key file: `None` when
    /// no key exists yet (so nothing can have been stored).
    pub fn existing_secrets(&self) -> ApiResult<Option<leadgen_store::SecretBox>> {
        if let Some(b) = self.inner.secrets.get() {
            return Ok(Some(b.clone()));
        }
        if self.inner.opts.secret_key.is_some() {
            return self.secrets().map(Some);
        }
        match leadgen_app::settings::load_secret_box(&self.inner.config.data_dir, &|k| {
            std::env::var(k).ok()
        })
        .map_err(ApiError::internal)?
        {
            Some(b) => Ok(Some(self.inner.secrets.get_or_init(|| b).clone())),
            None => Ok(None),
        }
    }

    /// The variables as workspace `ws` sees them: its stored settings over
    /// the server's environment.
    pub async fn workspace_env(
        &self,
        ws: WorkspaceId,
    ) -> ApiResult<leadgen_app::discovery::EnvLookup> {
        let secrets = self.existing_secrets()?;
        self.blocking(move |s| {
            Ok(leadgen_app::settings::workspace_env(
                s,
                ws,
                secrets.as_ref(),
                leadgen_app::settings::process_env(),
            )?)
        })
        .await
    }

    /// Runs a store call on the blocking pool (the store is synchronous).
    pub async fn blocking<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> ApiResult<T> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(ApiError::internal)?
    }
}

/// A token bucket per API key, in memory: each server process limits the
/// keys it serves.
pub(crate) struct RateLimiter {
    per_s: f64,
    burst: f64,
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
    /// When this process last recorded each key's use in the store.
    touched: Mutex<HashMap<i64, Instant>>,
}

impl RateLimiter {
    fn new(per_s: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            per_s: per_s.max(0.001),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the key's last use should be written now: at most once a
    /// minute per key, so busy keys do not turn every read into a write.
    pub fn should_touch(&self, key: i64) -> bool {
        let now = Instant::now();
        let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        match touched.get(&key) {
            Some(at) if now.duration_since(*at).as_secs() < 60 => false,
            _ => {
                touched.insert(key, now);
                true
            }
        }
    }

    /// `Ok` when the key may go on, else the seconds to wait.
    pub fn take(&self, key: i64) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets.entry(key).or_insert((self.burst, now));
        let refilled =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_s).min(self.burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(((1.0 - refilled) / self.per_s).ceil().max(1.0) as u64)
        }
    }
}

/// Progress of imports running in this process, for the dashboard's live
/// view. Finished imports stay listed for a minute.
#[derive(Default)]
pub(crate) struct ImportTracker {
    next: Mutex<u64>,
    live: Mutex<Vec<ImportStatus>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportStatus {
    pub id: u64,
    #[serde(skip)]
    pub workspace: i64,
    pub name: String,
    pub bytes_read: u64,
    pub total_bytes: u64,
    pub rows_read: u64,
    pub done: bool,
    pub summary: Option<serde_json::Value>,
    pub error: Option<String>,
    #[serde(skip)]
    pub finished_at: Option<Instant>,
}

impl ImportTracker {
    pub fn start(&self, workspace: i64, name: &str, total_bytes: u64) -> u64 {
        let id = {
            let mut n = self.next.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            *n
        };
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|s| s.finished_at.is_none_or(|t| t.elapsed().as_secs() < 60));
        live.push(ImportStatus {
            id,
            workspace,
            name: name.to_owned(),
            bytes_read: 0,
            total_bytes,
            rows_read: 0,
            done: false,
            summary: None,
            error: None,
            finished_at: None,
        });
        id
    }

    pub fn update(&self, id: u64, f: impl FnOnce(&mut ImportStatus)) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = live.iter_mut().find(|s| s.id == id) {
            f(s);
        }
    }

    pub fn of(&self, workspace: i64) -> Vec<ImportStatus> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.iter()
            .filter(|s| s.workspace == workspace)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_limited_after_its_burst_and_others_are_not() {
        let l = RateLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert_eq!(l.take(7), Ok(()));
        }
        assert_eq!(l.take(7), Err(1));
        assert_eq!(l.take(8), Ok(()), "buckets are per key");
    }

    #[test]
    fn a_key_use_is_written_once_a_minute() {
        let l = RateLimiter::new(1.0, 1.0);
        assert!(l.should_touch(1));
        assert!(!l.should_touch(1));
        assert!(l.should_touch(2));
    }
}
