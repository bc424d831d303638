//! Uploaded CSV files through the same import pipeline as `leadgen import`:
//! the body goes to a private temporary file, `import_csv` runs on the
//! blocking pool, progress is published for the dashboard, and the rejects
//! file's reasons come back in the answer.

use std::path::Path;

use axum::body::Bytes;
use leadgen_app::import::{ImportError, ImportOptions, ImportSummary, import_csv, preview_mapping};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Reject reasons returned with a summary, at most.
const REASONS_SHOWN: usize = 20;

pub struct ImportOutcome {
    pub summary: ImportSummary,
    pub reject_reasons: Vec<Value>,
    pub import_id: u64,
}

impl ImportOutcome {
    pub fn json(&self) -> Value {
        let s = &self.summary;
        json!({
            "import_id": self.import_id,
            "batch_id": s.batch_id,
            "rows_read": s.rows_read,
            "inserted": s.inserted,
            "merged": s.merged,
            "rejected": s.rejected,
            "reject_reasons": self.reject_reasons,
            "preset": s.preset,
            "encoding": s.encoding,
            "elapsed_ms": s.elapsed_ms,
        })
    }
}

/// A file name safe to create in a temporary directory.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(80)
        .collect();
    if clean.trim_matches('.').is_empty() {
        "upload.csv".into()
    } else {
        clean
    }
}

fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::Store(s) => s.into(),
        ImportError::Source(_) | ImportError::Mapping { .. } => {
            // The message names the temporary path; the user knows the file
            // by the name they uploaded.
            ApiError::unprocessable(e.to_string())
        }
        other => ApiError::internal(other),
    }
}

/// `(line, reason)` of the first rejected rows.
fn reject_reasons(path: &Path) -> Vec<Value> {
    let Ok(mut r) = csv::Reader::from_path(path) else {
        return Vec::new();
    };
    r.records()
        .filter_map(Result::ok)
        .take(REASONS_SHOWN)
        .map(|rec| json!({"line": rec.get(0), "reason": rec.get(1)}))
        .collect()
}

/// What an import is told besides the file.
pub struct ImportRequest<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub tags: Vec<String>,
    /// Fields mapped to columns by hand, over the automatic mapping.
    pub overrides: Vec<(leadgen_core::Field, String)>,
}

pub async fn run_import(
    st: &AppState,
    p: &Principal,
    req: ImportRequest<'_>,
    body: Bytes,
) -> ApiResult<ImportOutcome> {
    let ImportRequest {
        name,
        source,
        tags,
        overrides,
    } = req;
    let name = safe_name(name);
    let cfg = st.config();
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let path = dir.path().join(&name);
    let mut opts = ImportOptions {
        path: path.clone(),
        overrides,
        tags,
        source: source.to_owned(),
        default_country: cfg.default_country,
        rules: cfg.scoring.clone(),
        source_priority: cfg.source_priority.clone(),
        workspace: p.workspace,
        staging_bytes: leadgen_app::import::STAGING_BYTES,
    };
    let tracker_id = st
        .inner
        .imports
        .start(p.workspace, &name, body.len() as u64);
    let state = st.clone();
    let result = st
        .blocking(move |s| {
            std::fs::write(&path, &body).map_err(ApiError::internal)?;
            // The workspace's own scoring rules, else the config's.
            opts.rules = leadgen_app::settings::scoring_rules(s, opts.workspace, state.config())?;
            let progress = |pr: leadgen_app::import::ImportProgress| {
                state.inner.imports.update(tracker_id, |t| {
                    t.bytes_read = pr.bytes_read;
                    t.rows_read = pr.rows_read;
                });
            };
            let summary = import_csv(s, &opts, &progress).map_err(import_error)?;
            let reasons = summary
                .rejects_file
                .as_deref()
                .map(reject_reasons)
                .unwrap_or_default();
            drop(dir);
            Ok((summary, reasons))
        })
        .await;
    let tracker = &st.inner.imports;
    match result {
        Ok((summary, reject_reasons)) => {
            let out = ImportOutcome {
                summary,
                reject_reasons,
                import_id: tracker_id,
            };
            let j = out.json();
            tracker.update(tracker_id, |t| {
                t.done = true;
                t.rows_read = out.summary.rows_read;
                t.bytes_read = t.total_bytes;
                t.summary = Some(j);
                t.finished_at = Some(std::time::Instant::now());
            });
            tracing::info!(workspace = p.workspace, file = %name, rows = out.summary.rows_read, inserted = out.summary.inserted, "import finished");
            Ok(out)
        }
        Err(e) => {
            tracker.update(tracker_id, |t| {
                t.done = true;
                t.error = Some(e.message.clone());
                t.finished_at = Some(std::time::Instant::now());
            });
            Err(e)
        }
    }
}

/// Column mapping and the first rows of an upload, before importing it.
pub async fn preview(st: &AppState, name: &str, body: Bytes) -> ApiResult<Value> {
    let name = safe_name(name);
    st.blocking(move |_| {
        let dir = tempfile::tempdir().map_err(ApiError::internal)?;
        let path = dir.path().join(&name);
        std::fs::write(&path, &body).map_err(ApiError::internal)?;
        let mapping = preview_mapping(&path, &[]).map_err(import_error)?;
        let mut rows = Vec::new();
        let mut headers = Vec::new();
        if let Ok(mut r) = csv::ReaderBuilder::new().flexible(true).from_path(&path) {
            if let Ok(h) = r.headers() {
                headers = h.iter().map(str::to_owned).collect();
            }
            for rec in r.records().take(5).filter_map(Result::ok) {
                rows.push(rec.iter().map(str::to_owned).collect::<Vec<_>>());
            }
        }
        let columns: Vec<Value> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let custom = mapping.custom_columns().iter().any(|(c, _)| *c == i);
                json!({
                    "header": h,
                    "field": mapping.field_of(i).map(|f| f.name()),
                    "custom": custom,
                })
            })
            .collect();
        let fields: Vec<&str> = leadgen_core::Field::ALL.iter().map(|f| f.name()).collect();
        Ok(json!({
            "preset": mapping.preset(),
            "columns": columns,
            "rows": rows,
            "fields": fields,
        }))
    })
    .await
}
