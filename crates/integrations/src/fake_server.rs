//! What the delivery fakes (Resend, Slack, HubSpot, webhook receivers,
//! lead platforms) share: a loopback server on a thread of its own, and a
//! fault plan that makes the next requests answer 429 with `Retry-After`,
//! 5xx, or slowly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A running loopback server; stops when dropped.
pub struct FakeServer {
    pub addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeServer {
    /// Serves `app` on 127.0.0.1 from a thread of its own, so synchronous
    /// and async tests alike can use it.
    pub fn spawn(name: &str, app: Router) -> FakeServer {
        let (addr, stop) = crate::fake::serve_on_loopback(&format!("fake-{name}"), app);
        FakeServer { addr, _stop: stop }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Faults to inject into the next requests.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// The next this many requests get 429 with `Retry-After: retry_after_s`.
    pub fail_429: u32,
    pub retry_after_s: u64,
    /// The next this many requests get a 5xx (`u32::MAX`: all of them).
    pub fail_5xx: u32,
    /// Wait before answering (longer than a client's timeout: a timeout).
    pub latency: Duration,
}

/// What a fault plan decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    RateLimited { retry_after_s: u64 },
    ServerError,
}

impl Faults {
    /// Takes the next fault, if any, and the latency to apply first.
    pub fn take(&mut self) -> (Duration, Option<Fault>) {
        let fault = if self.fail_429 > 0 {
            self.fail_429 -= 1;
            Some(Fault::RateLimited {
                retry_after_s: self.retry_after_s,
            })
        } else if self.fail_5xx > 0 {
            if self.fail_5xx != u32::MAX {
                self.fail_5xx -= 1;
            }
            Some(Fault::ServerError)
        } else {
            None
        };
        (self.latency, fault)
    }
}

/// A fake's shared state behind a lock that survives a panicking test.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Applies the next fault of `faults` (sleeping its latency first): the
/// response to send instead of the real one, built by `body` for the
/// vendor's error shape.
pub async fn apply_faults<S>(
    state: &Arc<Mutex<S>>,
    faults: impl Fn(&mut S) -> &mut Faults,
    body: impl Fn(StatusCode) -> Response,
) -> Option<Response> {
    let (latency, fault) = faults(&mut lock(state)).take();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault? {
        Fault::RateLimited { retry_after_s } => {
            let mut r = body(StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut()
                .insert("retry-after", retry_after_s.to_string().parse().ok()?);
            Some(r)
        }
        Fault::ServerError => Some(body(StatusCode::INTERNAL_SERVER_ERROR)),
    }
}

/// A plain-text answer.
pub fn text(status: StatusCode, body: &str) -> Response {
    (status, body.to_owned()).into_response()
}
