//! Prometheus text metrics: requests by route and status, request latency,
//! and the queue read from the store at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    /// (method, route, status) → count
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → (bucket counts, sum, count)
    latency: BTreeMap<String, ([u64; BUCKETS.len()], f64, u64)>,
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *c.requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let (buckets, sum, count) = c.latency.entry(route.to_owned()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                buckets[i] += 1;
            }
        }
        *sum += secs;
        *count += 1;
    }

    pub fn render(&self, out: &mut String) {
        let c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP leadgen_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE leadgen_http_requests_total counter\n");
        for ((m, r, s), n) in &c.requests {
            let _ = writeln!(
                out,
                "leadgen_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}",
                label(r)
            );
        }
        out.push_str("# HELP leadgen_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE leadgen_http_request_duration_seconds histogram\n");
        for (r, (buckets, sum, count)) in &c.latency {
            let r = label(r);
            for (le, n) in BUCKETS.iter().zip(buckets) {
                let _ = writeln!(
                    out,
                    "leadgen_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "leadgen_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "leadgen_http_request_duration_seconds_sum{{route=\"{r}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "leadgen_http_request_duration_seconds_count{{route=\"{r}\"}} {count}"
            );
        }
    }
}

/// Label values escaped as the text format asks.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: counts and times every request by its route pattern (never
/// the raw path, which would carry ids and make unbounded label sets).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let resp = next.run(req).await;
    state.inner.metrics.record(
        &method,
        &route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// The queue's gauges for every workspace, read at scrape time.
pub fn queue_gauges(
    store: &dyn leadgen_store::Store,
    now: i64,
    out: &mut String,
) -> leadgen_store::Result<()> {
    let mut workspaces: Vec<i64> = store.list_workspaces()?.iter().map(|w| w.id).collect();
    if !workspaces.contains(&leadgen_core::DEFAULT_WORKSPACE) {
        workspaces.insert(0, leadgen_core::DEFAULT_WORKSPACE);
    }
    out.push_str("# HELP leadgen_jobs Jobs by workspace and status.\n");
    out.push_str("# TYPE leadgen_jobs gauge\n");
    let mut ages = Vec::new();
    for ws in workspaces {
        let q = store.queue_stats(ws, now)?;
        for (status, n) in &q.by_status {
            let _ = writeln!(
                out,
                "leadgen_jobs{{workspace=\"{ws}\",status=\"{}\"}} {n}",
                status.as_str()
            );
        }
        ages.push((ws, q.oldest_pending_age_ms.unwrap_or(0)));
    }
    out.push_str("# HELP leadgen_jobs_oldest_pending_age_seconds Queue lag: age of the oldest due pending job.\n");
    out.push_str("# TYPE leadgen_jobs_oldest_pending_age_seconds gauge\n");
    for (ws, ms) in ages {
        let _ = writeln!(
            out,
            "leadgen_jobs_oldest_pending_age_seconds{{workspace=\"{ws}\"}} {}",
            ms as f64 / 1000.0
        );
    }
    Ok(())
}
