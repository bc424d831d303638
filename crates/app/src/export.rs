//! `leadgen export`: leads out as CSV or JSON Lines, one lead per line.

use std::io::Write;

use leadgen_core::{Lead, WorkspaceId};
use leadgen_store::suppression::SuppressionSet;
use leadgen_store::{ExportError, LeadFilter, Store};
use serde_json::{Map, Value, json};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

/// The exported columns, in order. The same names are the JSONL keys.
pub const COLUMNS: [&str; 30] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "phone",
    "mobile",
    "linkedin_url",
    "company_name",
    "company_domain",
    "company_linkedin_url",
    "company_phone",
    "industry",
    "employee_count",
    "revenue",
    "city",
    "state",
    "postal_code",
    "country",
    "source",
    "status",
    "lifecycle",
    "score",
    "tier",
    "tags",
    "custom_fields",
    "created_at",
    "updated_at",
];

/// A lead as the flat JSON object both formats are written from.
pub fn lead_json(lead: &Lead) -> Map<String, Value> {
    let s = |o: &Option<String>| {
        o.as_deref()
            .map_or(Value::Null, |v| Value::String(v.to_owned()))
    };
    let phone = |p: &Option<leadgen_core::phone::Phone>| {
        p.as_ref().map_or(Value::Null, |p| json!(p.e164()))
    };
    let custom: Map<String, Value> = lead
        .custom
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let values = [
        json!(lead.id),
        lead.email
            .as_ref()
            .map_or(Value::Null, |e| json!(e.as_str())),
        s(&lead.first_name),
        s(&lead.last_name),
        s(&lead.title),
        s(&lead.seniority),
        s(&lead.department),
        phone(&lead.phone),
        phone(&lead.mobile),
        lead.linkedin
            .as_ref()
            .map_or(Value::Null, |l| json!(l.as_str())),
        s(&lead.company_name),
        lead.company_domain
            .as_ref()
            .map_or(Value::Null, |d| json!(d.as_str())),
        lead.company_linkedin
            .as_ref()
            .map_or(Value::Null, |l| json!(l.as_str())),
        phone(&lead.company_phone),
        s(&lead.industry),
        lead.employee_count.map_or(Value::Null, |n| json!(n)),
        lead.revenue.map_or(Value::Null, |n| json!(n)),
        s(&lead.city),
        s(&lead.state),
        s(&lead.postal_code),
        lead.country
            .as_ref()
            .map_or(Value::Null, |c| json!(c.as_str())),
        json!(lead.source),
        json!(lead.status.as_str()),
        json!(lead.lifecycle.as_str()),
        json!(lead.score),
        json!(lead.tier.as_str()),
        json!(lead.tags),
        Value::Object(custom),
        json!(rfc3339(lead.created_at)),
        json!(rfc3339(lead.updated_at)),
    ];
    COLUMNS.iter().map(|c| c.to_string()).zip(values).collect()
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// A spreadsheet would run a cell starting with `= + - @` (or a tab or CR)
/// as a formula; a leading apostrophe makes it text.
pub fn escape_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => escape_formula(s).into_owned(),
        Value::Array(items) => {
            let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            escape_formula(&parts.join(",")).into_owned()
        }
        Value::Object(m) if m.is_empty() => String::new(),
        other => escape_formula(&other.to_string()).into_owned(),
    }
}

/// Writes every lead matching `filter`; returns how many.
pub fn export(
    store: &dyn Store,
    ws: WorkspaceId,
    filter: &LeadFilter,
    format: Format,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    write_leads(store, ws, filter, format, out, &|_| true)
}

/// An export for sending (to a mailer, a dialer, a partner): leads whose
/// email is on the suppression list are left out. Returns (written, left out).
pub fn export_for_sending(
    store: &dyn Store,
    ws: WorkspaceId,
    filter: &LeadFilter,
    format: Format,
    out: &mut dyn Write,
) -> Result<(u64, u64), ExportError> {
    let set = SuppressionSet::load(store, ws)?;
    let left_out = std::cell::Cell::new(0u64);
    let keep = |lead: &Lead| {
        let blocked = lead
            .email
            .as_ref()
            .is_some_and(|e| set.reason(e.as_str()).is_some());
        if blocked {
            left_out.set(left_out.get() + 1);
        }
        !blocked
    };
    let n = write_leads(store, ws, filter, format, out, &keep)?;
    Ok((n, left_out.get()))
}

/// Writes the leads matching `filter` that `keep` accepts; how many.
fn write_leads(
    store: &dyn Store,
    ws: WorkspaceId,
    filter: &LeadFilter,
    format: Format,
    out: &mut dyn Write,
    keep: &dyn Fn(&Lead) -> bool,
) -> Result<u64, ExportError> {
    let mut written = 0u64;
    match format {
        Format::Jsonl => {
            store.export_leads(ws, filter, &mut |lead| {
                if !keep(&lead) {
                    return Ok(());
                }
                written += 1;
                serde_json::to_writer(&mut *out, &Value::Object(lead_json(&lead)))?;
                out.write_all(b"\n")
            })?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(COLUMNS).map_err(std::io::Error::from)?;
            store.export_leads(ws, filter, &mut |lead| {
                if !keep(&lead) {
                    return Ok(());
                }
                written += 1;
                let row = lead_json(&lead);
                w.write_record(COLUMNS.iter().map(|c| csv_cell(&row[*c])))
                    .map_err(std::io::Error::from)
            })?;
            w.flush()?;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_795_305_600_000), "2026-11-22T00:00:00.000Z");
    }

    #[test]
    fn formula_cells_are_escaped() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)"] {
            assert!(escape_formula(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(escape_formula("Acme"), "Acme");
    }
}
