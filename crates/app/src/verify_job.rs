//! `validate_email`: verifies a lead's email, stores the result as the
//! lead's `email_verification`, and moves the lead to `validated` or
//! `invalid` by the configured threshold (unknown results leave the status
//! alone).
//!
//! Configuration: the `[verify]` section of the config file, overridden by
//! `LEADGEN_VERIFY_*` variables (see [`VerifyConfig::load`]).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use leadgen_core::job::types;
use leadgen_core::lead::LeadStatus;
use leadgen_jobs::{HandlerError, HandlerSpec, JobContext, Outcome};
use leadgen_store::{Store, StoredVerification};
use leadgen_verify::{
    ResolverConfig, Socks5, Status, TlsMode, Verification, Verifier, VerifyOptions,
};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// `[verify]` as written in the file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySection {
    /// `ip:port` of a DNS server; the system resolver when absent.
    pub resolver: Option<String>,
    pub smtp_port: Option<u16>,
    pub helo: Option<String>,
    pub from: Option<String>,
    /// off, opportunistic or required.
    pub tls: Option<String>,
    /// `[user:password@]host:port`.
    pub socks5: Option<String>,
    /// Seconds each SMTP reply may take.
    pub timeout_secs: Option<u64>,
    pub per_host_concurrency: Option<usize>,
    /// New SMTP sessions per second to one MX host.
    pub per_host_rate: Option<f64>,
    pub greylist_delay_secs: Option<u64>,
    /// Score at or above which a lead becomes `validated` (else `invalid`).
    pub valid_threshold: Option<u8>,
}

/// The validated verifier settings.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub options: VerifyOptions,
    pub valid_threshold: u8,
}

/// The default threshold: `valid` (95, or 80 when the catch-all probe was
/// undecided) passes; risky role addresses (60), catch-all (50) and
/// disposable (15) do not.
pub const DEFAULT_VALID_THRESHOLD: u8 = 70;

impl Default for VerifyConfig {
    fn default() -> VerifyConfig {
        VerifyConfig {
            options: VerifyOptions::default(),
            valid_threshold: DEFAULT_VALID_THRESHOLD,
        }
    }
}

impl VerifyConfig {
    /// The file's section with `LEADGEN_VERIFY_RESOLVER`, `_SMTP_PORT`,
    /// `_HELO`, `_FROM`, `_TLS`, `_SOCKS5`, `_TIMEOUT_SECS`,
    /// `_PER_HOST_CONCURRENCY`, `_PER_HOST_RATE`, `_GREYLIST_DELAY_SECS` and
    /// `_VALID_THRESHOLD` applied over it.
    pub fn load(
        file: VerifySection,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<VerifyConfig, ConfigError> {
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            field: format!(
                "verify.{field} (LEADGEN_VERIFY_{})",
                field.to_ascii_uppercase()
            ),
            message,
        };
        fn num<T: std::str::FromStr>(
            v: Option<String>,
            file: Option<T>,
            field: &str,
            invalid: &dyn Fn(&str, String) -> ConfigError,
        ) -> Result<Option<T>, ConfigError> {
            match v {
                Some(s) => s
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| invalid(field, format!("'{s}' is not a number"))),
                None => Ok(file),
            }
        }
        let mut o = VerifyOptions::default();
        if let Some(r) = var("LEADGEN_VERIFY_RESOLVER").or(file.resolver) {
            let addr: SocketAddr = r.trim().parse().map_err(|_| {
                invalid(
                    "resolver",
                    format!("'{r}' is not ip:port (e.g. 127.0.0.1:53 or [::1]:53)"),
                )
            })?;
            o.resolver = ResolverConfig::Server(addr);
        }
        if let Some(p) = num(
            var("LEADGEN_VERIFY_SMTP_PORT"),
            file.smtp_port,
            "smtp_port",
            &invalid,
        )? {
            o.smtp_port = p;
        }
        if let Some(h) = var("LEADGEN_VERIFY_HELO").or(file.helo) {
            o.helo = h;
        }
        if let Some(f) = var("LEADGEN_VERIFY_FROM").or(file.from) {
            o.from = f;
        }
        if let Some(t) = var("LEADGEN_VERIFY_TLS").or(file.tls) {
            o.tls = parse_tls(&t).ok_or_else(|| {
                invalid(
                    "tls",
                    format!("'{t}' is not one of off, opportunistic, required"),
                )
            })?;
        }
        if let Some(s) = var("LEADGEN_VERIFY_SOCKS5").or(file.socks5) {
            o.socks5 = Some(parse_socks5(&s).map_err(|m| invalid("socks5", m))?);
        }
        if let Some(t) = num(
            var("LEADGEN_VERIFY_TIMEOUT_SECS"),
            file.timeout_secs,
            "timeout_secs",
            &invalid,
        )? {
            if t == 0 {
                return Err(invalid("timeout_secs", "use at least 1 second".into()));
            }
            o.step_timeout = Duration::from_secs(t);
        }
        if let Some(c) = num(
            var("LEADGEN_VERIFY_PER_HOST_CONCURRENCY"),
            file.per_host_concurrency,
            "per_host_concurrency",
            &invalid,
        )? {
            if c == 0 {
                return Err(invalid("per_host_concurrency", "use at least 1".into()));
            }
            o.per_host_concurrency = c;
        }
        if let Some(r) = num(
            var("LEADGEN_VERIFY_PER_HOST_RATE"),
            file.per_host_rate,
            "per_host_rate",
            &invalid,
        )? {
            if !(r > 0.0 && r.is_finite()) {
                return Err(invalid(
                    "per_host_rate",
                    format!("{r} is not a positive number of sessions per second"),
                ));
            }
            o.per_host_rate = Some(r);
        }
        if let Some(d) = num(
            var("LEADGEN_VERIFY_GREYLIST_DELAY_SECS"),
            file.greylist_delay_secs,
            "greylist_delay_secs",
            &invalid,
        )? {
            o.greylist_delay = Duration::from_secs(d);
        }
        let valid_threshold = num(
            var("LEADGEN_VERIFY_VALID_THRESHOLD"),
            file.valid_threshold,
            "valid_threshold",
            &invalid,
        )?
        .unwrap_or(DEFAULT_VALID_THRESHOLD);
        if valid_threshold > 100 {
            return Err(invalid(
                "valid_threshold",
                format!("{valid_threshold} is above 100"),
            ));
        }
        Ok(VerifyConfig {
            options: o,
            valid_threshold,
        })
    }
}

/// `off`, `opportunistic`, `required`.
pub fn parse_tls(s: &str) -> Option<TlsMode> {
    match s.trim().to_ascii_lowercase().as_str() {
        "off" | "no" | "false" => Some(TlsMode::Off),
        "opportunistic" | "on" | "auto" => Some(TlsMode::Opportunistic),
        "required" | "require" => Some(TlsMode::Required),
        _ => None,
    }
}

/// `[user:password@]host:port` (host an IP address).
pub fn parse_socks5(s: &str) -> Result<Socks5, String> {
    let (auth, hostport) = match s.rsplit_once('@') {
        Some((a, h)) => {
            let (u, p) = a
                .split_once(':')
                .ok_or_else(|| format!("'{a}' is not user:password"))?;
            (Some((u.to_owned(), p.to_owned())), h)
        }
        None => (None, s),
    };
    let proxy: SocketAddr = hostport
        .trim()
        .parse()
        .map_err(|_| format!("'{hostport}' is not ip:port"))?;
    Ok(Socks5 { proxy, auth })
}

static SETTINGS: OnceLock<VerifyConfig> = OnceLock::new();
static VERIFIER: OnceLock<Result<(Arc<Verifier>, u8), String>> = OnceLock::new();

/// Sets the verifier settings for this process's `validate_email` jobs
/// (the CLI does it after loading the config). Later calls are ignored.
pub fn configure(config: VerifyConfig) {
    let _ = SETTINGS.set(config);
}

/// The handler with the process's settings. The verifier is built on the
/// first job and shared by all (its DNS and catch-all caches, per-host
/// caps); without [`configure`] the defaults and `LEADGEN_VERIFY_*` apply.
pub fn spec() -> HandlerSpec {
    make_spec(process_verifier, Mode::Local)
}

/// The handler of a remote worker (no database): the payload carries the
/// email (the server looked it up at claim time), the probe's findings go
/// back in the result, and the server records them with [`record`].
pub fn remote_spec() -> HandlerSpec {
    make_spec(process_verifier, Mode::Remote)
}

fn process_verifier() -> Result<(Arc<Verifier>, u8), String> {
    {
        VERIFIER
            .get_or_init(|| {
                let config = match SETTINGS.get() {
                    Some(c) => c.clone(),
                    None => {
                        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
                        VerifyConfig::load(VerifySection::default(), &var)
                            .map_err(|e| e.to_string())?
                    }
                };
                let v = Verifier::new(config.options).map_err(|e| e.to_string())?;
                Ok((Arc::new(v), config.valid_threshold))
            })
            .clone()
    }
}

/// The handler with a given verifier and threshold (tests, embedding).
pub fn spec_with(verifier: Arc<Verifier>, valid_threshold: u8) -> HandlerSpec {
    make_spec(move || Ok((verifier.clone(), valid_threshold)), Mode::Local)
}

/// The remote worker's handler with a given verifier (tests).
pub fn remote_spec_with(verifier: Arc<Verifier>) -> HandlerSpec {
    make_spec(move || Ok((verifier.clone(), 0)), Mode::Remote)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    lead_id: i64,
}

/// A `validate_email` payload as a remote worker gets it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemotePayload {
    lead_id: i64,
    /// `null` when the lead has none (the job then fails, as locally).
    email: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Reads the lead and records the verification itself.
    Local,
    /// Probes only; the server records (see [`remote_spec`]).
    Remote,
}

fn make_spec<F>(verifier: F, mode: Mode) -> HandlerSpec
where
    F: Fn() -> Result<(Arc<Verifier>, u8), String> + Send + Sync + 'static,
{
    let verifier = Arc::new(verifier);
    let mut spec = HandlerSpec::new(types::VALIDATE_EMAIL, move |ctx: JobContext| {
        let verifier = verifier.clone();
        async move {
            let (verifier, threshold) = verifier().map_err(|e| {
                HandlerError::Permanent(format!("the email verifier cannot start: {e}"))
            })?;
            match mode {
                Mode::Local => validate(ctx, &verifier, threshold).await,
                Mode::Remote => probe_remote(ctx, &verifier).await,
            }
        }
    });
    spec.max_attempts = 3;
    // A probe may wait out a greylisting delay and several slow MX hosts.
    spec.timeout = Duration::from_secs(600);
    spec
}

/// The lead status a verification leads to: `None` (unchanged) for unknown.
pub fn lead_status_for(status: Status, score: u8, threshold: u8) -> Option<LeadStatus> {
    match status {
        Status::Unknown => None,
        _ if score >= threshold && status != Status::Invalid => Some(LeadStatus::Validated),
        _ => Some(LeadStatus::Invalid),
    }
}

async fn validate(
    ctx: JobContext,
    verifier: &Verifier,
    threshold: u8,
) -> Result<Outcome, HandlerError> {
    let p: Payload = ctx.payload()?;
    let (store, ws) = (ctx.store()?.clone(), ctx.job.workspace);
    let lead = tokio::task::spawn_blocking(move || store.get_lead(ws, p.lead_id))
        .await
        .map_err(|e| HandlerError::retry(e.to_string()))?
        .map_err(|e| HandlerError::retry(e.to_string()))?
        .ok_or_else(|| {
            HandlerError::Permanent(format!("lead {} is not in workspace {ws}", p.lead_id))
        })?;
    let email = lead_email(p.lead_id, lead.email.as_ref().map(|e| e.as_str()))?;
    let probed = Probed::new(p.lead_id, &verifier.verify(&email).await);
    let (store, now) = (ctx.store()?.clone(), ctx.clock.now_ms());
    let result = tokio::task::spawn_blocking(move || record(&*store, ws, &probed, threshold, now))
        .await
        .map_err(|e| HandlerError::retry(e.to_string()))??;
    Ok(Outcome::new(result))
}

fn lead_email(lead_id: i64, email: Option<&str>) -> Result<String, HandlerError> {
    email.map(str::to_owned).ok_or_else(|| {
        HandlerError::Permanent(format!("lead {lead_id} has no email address to verify"))
    })
}

async fn probe_remote(ctx: JobContext, verifier: &Verifier) -> Result<Outcome, HandlerError> {
    let p: RemotePayload = ctx.payload()?;
    let email = lead_email(p.lead_id, p.email.as_deref())?;
    let probed = Probed::new(p.lead_id, &verifier.verify(&email).await);
    let result = serde_json::to_value(&probed)
        .map_err(|e| HandlerError::Permanent(format!("verification result: {e}")))?;
    Ok(Outcome::new(result))
}

/// What a probe found, as the store keeps it: made on the worker (local or
/// remote) and recorded by [`record`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probed {
    pub lead_id: i64,
    pub email: String,
    pub status: String,
    pub score: u8,
    pub reason: Option<String>,
    /// The whole verification (`leadgen verify --json`'s shape).
    pub verification: serde_json::Value,
}

impl Probed {
    pub fn new(lead_id: i64, v: &Verification) -> Probed {
        Probed {
            lead_id,
            email: v.email.clone(),
            status: v.status.as_str().to_owned(),
            score: v.score,
            reason: v.reason.clone(),
            verification: serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
        }
    }
}

fn parse_status(s: &str) -> Option<Status> {
    [
        Status::Valid,
        Status::Invalid,
        Status::Risky,
        Status::CatchAll,
        Status::Unknown,
    ]
    .into_iter()
    .find(|st| st.as_str() == s)
}

/// Stores a verification as the lead's `email_verification` and moves the
/// lead's status by `threshold`; returns the job's result. The one place
/// both paths record: the local handler after its probe, the server when a
/// remote worker's result arrives (see `crate::remote_jobs`).
pub fn record(
    store: &dyn Store,
    ws: i64,
    p: &Probed,
    threshold: u8,
    now: i64,
) -> Result<serde_json::Value, HandlerError> {
    let status = parse_status(&p.status).ok_or_else(|| {
        HandlerError::Permanent(format!("verification status {:?} is unknown", p.status))
    })?;
    if p.score > 100 {
        return Err(HandlerError::Permanent(format!(
            "verification score {} is above 100",
            p.score
        )));
    }
    let new_status = lead_status_for(status, p.score, threshold);
    let stored = StoredVerification {
        lead: p.lead_id,
        email: p.email.clone(),
        status: status.as_str().to_owned(),
        score: p.score,
        result: p.verification.to_string(),
        checked_at: now,
    };
    let found = store
        .record_verification(ws, &stored, new_status, now)
        .map_err(|e| HandlerError::retry(e.to_string()))?;
    if !found {
        return Err(HandlerError::Permanent(format!(
            "lead {} was deleted during verification",
            p.lead_id
        )));
    }
    Ok(serde_json::json!({
        "lead_id": p.lead_id,
        "email": p.email,
        "status": status.as_str(),
        "score": p.score,
        "reason": p.reason,
        "lead_status": new_status.map(|s| s.as_str()),
    }))
}

/// The payload a remote worker gets: the stored one plus the lead's email.
pub fn remote_payload(store: &dyn Store, ws: i64, payload: &str) -> Result<String, HandlerError> {
    let p: Payload = serde_json::from_str(payload)
        .map_err(|e| HandlerError::Permanent(format!("validate_email payload: {e}")))?;
    let email = store
        .get_lead(ws, p.lead_id)
        .map_err(|e| HandlerError::retry(e.to_string()))?
        .and_then(|l| l.email.map(|e| e.as_str().to_owned()));
    Ok(serde_json::to_string(&RemotePayload {
        lead_id: p.lead_id,
        email,
    })
    .expect("plain data"))
}

/// A remote worker's result for a `validate_email` job of `ws` whose stored
/// payload is `payload`: recorded like the local handler's, for the job's
/// own lead whatever the result claims.
pub fn apply_remote(
    store: &dyn Store,
    ws: i64,
    payload: &str,
    result: &serde_json::Value,
    threshold: u8,
    now: i64,
) -> Result<serde_json::Value, HandlerError> {
    let p: Payload = serde_json::from_str(payload)
        .map_err(|e| HandlerError::Permanent(format!("validate_email payload: {e}")))?;
    let mut probed: Probed = serde_json::from_value(result.clone())
        .map_err(|e| HandlerError::Permanent(format!("validate_email result: {e}")))?;
    probed.lead_id = p.lead_id;
    record(store, ws, &probed, threshold, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_decides_validated_or_invalid_and_unknown_changes_nothing() {
        assert_eq!(
            lead_status_for(Status::Valid, 95, 70),
            Some(LeadStatus::Validated)
        );
        assert_eq!(
            lead_status_for(Status::Risky, 60, 70),
            Some(LeadStatus::Invalid)
        );
        assert_eq!(
            lead_status_for(Status::Risky, 60, 50),
            Some(LeadStatus::Validated)
        );
        assert_eq!(
            lead_status_for(Status::Invalid, 0, 0),
            Some(LeadStatus::Invalid)
        );
        assert_eq!(lead_status_for(Status::Unknown, 30, 10), None);
    }

    #[test]
    fn settings_come_from_the_file_and_the_environment_wins() {
        let file = VerifySection {
            resolver: Some("127.0.0.1:5353".into()),
            smtp_port: Some(2525),
            helo: Some("file.example".into()),
            valid_threshold: Some(80),
            ..VerifySection::default()
        };
        let var = |k: &str| (k == "LEADGEN_VERIFY_HELO").then(|| "env.example".to_owned());
        let c = VerifyConfig::load(file, &var).unwrap();
        assert_eq!(
            c.options.resolver,
            ResolverConfig::Server("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(c.options.smtp_port, 2525);
        assert_eq!(c.options.helo, "env.example");
        assert_eq!(c.valid_threshold, 80);
        let bad = |k: &str| (k == "LEADGEN_VERIFY_SMTP_PORT").then(|| "twenty".to_owned());
        let e = VerifyConfig::load(VerifySection::default(), &bad).unwrap_err();
        assert!(e.to_string().contains("LEADGEN_VERIFY_SMTP_PORT"), "{e}");
        let bad = |k: &str| (k == "LEADGEN_VERIFY_RESOLVER").then(|| "localhost".to_owned());
        assert!(VerifyConfig::load(VerifySection::default(), &bad).is_err());
        let bad = |k: &str| (k == "LEADGEN_VERIFY_PER_HOST_RATE").then(|| "0".to_owned());
        assert!(VerifyConfig::load(VerifySection::default(), &bad).is_err());
    }

    #[test]
    fn socks5_addresses_with_and_without_credentials() {
        let s = parse_socks5("127.0.0.1:1080").unwrap();
        assert_eq!((s.proxy.port(), s.auth), (1080, None));
        let s = parse_socks5("me:secret@127.0.0.1:1080").unwrap();
        assert_eq!(s.auth, Some(("me".into(), "secret".into())));
        assert!(parse_socks5("proxy.example:1080").is_err());
    }
}
