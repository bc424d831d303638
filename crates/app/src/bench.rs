//! Measured figures for the README and the closing notes: import throughput
//! with peak memory, and latency of filtered, paginated lead queries.

use std::time::Instant;

use leadgen_core::WorkspaceId;
use leadgen_core::lead::LeadStatus;
use leadgen_store::{Cursor, LeadFilter, LeadQuery, SortOrder, Store, StoreError};

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak so that a later reading covers only what follows.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Latency figures of one query shape.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryFigures {
    pub name: &'static str,
    pub runs: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub rows_per_page: f64,
}

/// The query shapes a dashboard and the CLI issue most.
pub fn query_shapes() -> Vec<(&'static str, LeadFilter, SortOrder)> {
    let f = LeadFilter::default;
    vec![
        ("newest", f(), SortOrder::Newest),
        (
            "status_raw_newest",
            LeadFilter {
                statuses: vec![LeadStatus::Raw],
                ..f()
            },
            SortOrder::Newest,
        ),
        (
            "min_score_60_by_score",
            LeadFilter {
                min_score: Some(60),
                ..f()
            },
            SortOrder::ScoreDesc,
        ),
        (
            "status_raw_score_40_70_by_score",
            LeadFilter {
                statuses: vec![LeadStatus::Raw],
                min_score: Some(40),
                max_score: Some(70),
                ..f()
            },
            SortOrder::ScoreDesc,
        ),
        (
            "source_csv_upload_newest",
            LeadFilter {
                source: Some("csv_upload".into()),
                ..f()
            },
            SortOrder::Newest,
        ),
        (
            "search_common_term",
            LeadFilter {
                text: Some("sales".into()),
                ..f()
            },
            SortOrder::Newest,
        ),
    ]
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Runs each shape `runs` times: page 1, then pages that start at a cursor
/// spread over the id range, as a user paging deep into a list would.
pub fn bench_queries(
    store: &dyn Store,
    ws: WorkspaceId,
    runs: usize,
    page: u32,
) -> Result<Vec<QueryFigures>, StoreError> {
    let newest = store.query_leads(
        ws,
        &LeadQuery {
            limit: 1,
            ..LeadQuery::default()
        },
    )?;
    let max_id = newest.leads.first().map_or(1, |l| l.id);
    let mut out = Vec::new();
    for (name, filter, sort) in query_shapes() {
        let mut times = Vec::with_capacity(runs);
        let mut rows = 0usize;
        for i in 0..runs {
            // Deterministic spread of starting points: first page, then deep pages.
            let after = (i % 4 != 0).then(|| {
                let id = 1 + (i as i64 * 7919) % max_id.max(1);
                Cursor {
                    score: 100 - (i % 60) as u8,
                    id,
                }
            });
            let q = LeadQuery {
                filter: filter.clone(),
                sort,
                limit: page,
                after,
            };
            let t = Instant::now();
            let p = store.query_leads(ws, &q)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            rows += p.leads.len();
        }
        times.sort_by(f64::total_cmp);
        out.push(QueryFigures {
            name,
            runs,
            p50_ms: percentile(&times, 0.5),
            p95_ms: percentile(&times, 0.95),
            max_ms: times.last().copied().unwrap_or(0.0),
            rows_per_page: rows as f64 / runs.max(1) as f64,
        });
    }
    Ok(out)
}
