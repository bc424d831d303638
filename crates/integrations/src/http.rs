//! The HTTP layer every client shares: one connection pool per service,
//! timeouts, a few quick retries for transient failures (connection errors,
//! 5xx, a 429 whose `Retry-After` is short), and errors sorted by what the
//! caller should do. Waits longer than the policy allows are handed back as
//! [`IntegrationError::RateLimited`] with the service's `Retry-After`, so
//! the job queue reschedules the job instead of holding a worker.

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;

use crate::IntegrationError;

/// How hard a client tries before giving up on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra attempts after the first.
    pub retries: u32,
    /// First backoff; doubled on each retry.
    pub base_delay: Duration,
    /// The longest `Retry-After` waited for in place.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 2,
            base_delay: Duration::from_millis(250),
            max_wait: Duration::from_secs(5),
        }
    }
}

/// A response that came back 2xx.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// Sorts a vendor's non-2xx answer when its status alone does not say
/// what happened (Meta's Graph API reports rate limits as 400 with a code).
pub type Classifier = fn(&'static str, u16, Option<Duration>, &str) -> Option<IntegrationError>;

/// One service's client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    service: &'static str,
    client: reqwest::Client,
    policy: RetryPolicy,
    classifier: Option<Classifier>,
}

impl HttpClient {
    pub fn new(service: &'static str, timeout: Duration) -> Result<HttpClient, IntegrationError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("leadgen/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| IntegrationError::Config(format!("{service}: HTTP client: {e}")))?;
        Ok(HttpClient {
            service,
            client,
            policy: RetryPolicy::default(),
            classifier: None,
        })
    }

    /// Consults `c` before the status-based sorting of errors.
    pub fn with_classifier(mut self, c: Classifier) -> HttpClient {
        self.classifier = Some(c);
        self
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> HttpClient {
        self.policy = policy;
        self
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Sends the request `make` builds (once per attempt) and returns the
    /// body of a 2xx answer.
    pub async fn send(
        &self,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Reply, IntegrationError> {
        let mut attempt = 0u32;
        loop {
            let err = match make(&self.client).send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    let body = resp.text().await.map_err(|e| IntegrationError::Transport {
                        service: self.service,
                        message: format!("reading the response: {e}"),
                    })?;
                    if (200..300).contains(&status) {
                        return Ok(Reply { status, body });
                    }
                    self.classifier
                        .and_then(|c| c(self.service, status, retry_after, &body))
                        .unwrap_or_else(|| classify(self.service, status, retry_after, &body))
                }
                Err(e) => IntegrationError::Transport {
                    service: self.service,
                    message: transport_message(&e),
                },
            };
            let wait = match &err {
                IntegrationError::RateLimited { retry_after, .. } => match retry_after {
                    Some(d) if *d > self.policy.max_wait => return Err(err),
                    Some(d) => *d,
                    None => self.backoff(attempt),
                },
                e if e.is_retryable() => self.backoff(attempt),
                _ => return Err(err),
            };
            if attempt >= self.policy.retries {
                return Err(err);
            }
            tracing::debug!(service = self.service, attempt, ?wait, error = %err, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// [`HttpClient::send`], then the body decoded as `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, IntegrationError> {
        let reply = self.send(make).await?;
        serde_json::from_str(&reply.body).map_err(|e| IntegrationError::Decode {
            service: self.service,
            message: format!("{e} in {}", snippet(&reply.body)),
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.policy.base_delay * 2u32.saturating_pow(attempt.min(10))
    }
}

/// Sorts a non-2xx answer by what the caller should do.
pub fn classify(
    service: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> IntegrationError {
    let message = error_message(body);
    match status {
        429 => IntegrationError::RateLimited {
            service,
            retry_after,
            message,
        },
        401 | 403 => IntegrationError::Auth {
            service,
            status,
            message,
        },
        500..=599 => IntegrationError::Server {
            service,
            status,
            message,
        },
        _ => IntegrationError::BadRequest {
            service,
            status,
            message,
        },
    }
}

/// The message of an error body: Google's `{"error": {"message"}}`,
/// SerpApi's `{"error": "…"}`, or the start of the text.
pub fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        let e = &v["error"];
        if let Some(m) = e["message"].as_str().or(e.as_str()) {
            return m.to_owned();
        }
        if let Some(m) = v["message"].as_str() {
            return m.to_owned();
        }
    }
    snippet(body)
}

fn snippet(body: &str) -> String {
    let t = body.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None if t.is_empty() => "(empty body)".to_owned(),
        None => t.to_owned(),
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3); a date in
/// the past means now.
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn error_bodies_of_each_vendor_give_their_message() {
        let google =
            r#"{"error":{"code":400,"message":"Invalid textQuery","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(error_message(google), "Invalid textQuery");
        assert_eq!(
            error_message(r#"{"error":"Invalid API key."}"#),
            "Invalid API key."
        );
        assert_eq!(error_message(""), "(empty body)");
        assert!(error_message(&"x".repeat(500)).ends_with('…'));
    }

    #[test]
    fn statuses_sort_into_what_to_do() {
        let c = |s| classify("svc", s, None, "{}");
        assert!(matches!(c(429), IntegrationError::RateLimited { .. }));
        assert!(matches!(c(401), IntegrationError::Auth { .. }));
        assert!(matches!(c(403), IntegrationError::Auth { .. }));
        assert!(matches!(c(503), IntegrationError::Server { .. }));
        assert!(matches!(c(400), IntegrationError::BadRequest { .. }));
        assert!(c(429).is_retryable() && c(503).is_retryable());
        assert!(!c(400).is_retryable() && !c(401).is_retryable());
    }
}
