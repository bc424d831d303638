//! `leadgen export`: leads out as CSV or JSON Lines, one lead per line.

use std::io::Write;

use leadgen_core::{Lead, WorkspaceId};
use leadgen_store::suppression::SuppressionSet;
use leadgen_store::{ExportError, LeadFilter, Store};
use serde_json::{Map, Value};

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

/// One exported value, borrowed from the lead: what both formats, and the
/// JSON object of [`lead_json`], are written from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Text(&'a str),
    /// Wide enough for every integer field (ids and counts are `i64`,
    /// revenue `u64`).
    Int(i128),
    Tags(&'a [String]),
    /// Custom fields, as stored; written as one object, keys sorted, the
    /// last value of a repeated key kept.
    Custom(&'a [(String, String)]),
    /// Unix milliseconds, written as RFC 3339 UTC.
    Time(i64),
}

/// The lead's values in [`COLUMNS`] order.
pub fn cells(lead: &Lead) -> [Cell<'_>; COLUMNS.len()] {
    fn t(o: Option<&str>) -> Cell<'_> {
        o.map_or(Cell::Null, Cell::Text)
    }
    fn s(o: &Option<String>) -> Cell<'_> {
        t(o.as_deref())
    }
    fn phone(p: &Option<leadgen_core::phone::Phone>) -> Cell<'_> {
        t(p.as_ref().map(|p| p.e164()))
    }
    [
        Cell::Int(i128::from(lead.id)),
        t(lead.email.as_ref().map(|e| e.as_str())),
        s(&lead.first_name),
        s(&lead.last_name),
        s(&lead.title),
        s(&lead.seniority),
        s(&lead.department),
        phone(&lead.phone),
        phone(&lead.mobile),
        t(lead.linkedin.as_ref().map(|l| l.as_str())),
        s(&lead.company_name),
        t(lead.company_domain.as_ref().map(|d| d.as_str())),
        t(lead.company_linkedin.as_ref().map(|l| l.as_str())),
        phone(&lead.company_phone),
        s(&lead.industry),
        lead.employee_count
            .map_or(Cell::Null, |n| Cell::Int(i128::from(n))),
        lead.revenue
            .map_or(Cell::Null, |n| Cell::Int(i128::from(n))),
        s(&lead.city),
        s(&lead.state),
        s(&lead.postal_code),
        t(lead.country.as_ref().map(|c| c.as_str())),
        Cell::Text(&lead.source),
        Cell::Text(lead.status.as_str()),
        Cell::Text(lead.lifecycle.as_str()),
        Cell::Int(i128::from(lead.score)),
        Cell::Text(lead.tier.as_str()),
        Cell::Tags(&lead.tags),
        Cell::Custom(&lead.custom),
        Cell::Time(lead.created_at),
        Cell::Time(lead.updated_at),
    ]
}

/// Custom fields in the order they are written: keys sorted, and of a key
/// given more than once only its last value.
fn custom_sorted(custom: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = custom
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Stable: a repeated key's entries keep their order, the last one wins.
    v.sort_by(|a, b| a.0.cmp(b.0));
    let mut out: Vec<(&str, &str)> = Vec::with_capacity(v.len());
    for (k, val) in v {
        match out.last_mut() {
            Some(last) if last.0 == k => last.1 = val,
            _ => out.push((k, val)),
        }
    }
    out
}

impl Cell<'_> {
    fn to_value(self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Text(s) => Value::String(s.to_owned()),
            Cell::Int(n) => i64::try_from(n)
                .map(Value::from)
                .or_else(|_| u64::try_from(n).map(Value::from))
                .unwrap_or(Value::Null),
            Cell::Tags(tags) => tags.iter().map(|t| Value::String(t.clone())).collect(),
            Cell::Custom(custom) => Value::Object(
                custom_sorted(custom)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect(),
            ),
            Cell::Time(ms) => Value::String(rfc3339(ms)),
        }
    }

    /// Appends the value as JSON.
    fn write_json(self, out: &mut Vec<u8>) {
        match self {
            Cell::Null => out.extend_from_slice(b"null"),
            Cell::Text(s) => json_str(out, s),
            Cell::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Cell::Tags(tags) => {
                out.push(b'[');
                for (i, t) in tags.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_str(out, t);
                }
                out.push(b']');
            }
            Cell::Custom(custom) => {
                out.push(b'{');
                for (i, (k, v)) in custom_sorted(custom).into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_str(out, k);
                    out.push(b':');
                    json_str(out, v);
                }
                out.push(b'}');
            }
            Cell::Time(ms) => {
                out.push(b'"');
                push_rfc3339(out, ms);
                out.push(b'"');
            }
        }
    }

    /// Appends the value as the text of a CSV cell (before quoting and
    /// formula escaping): tags joined by commas, custom fields as JSON.
    fn write_text(self, out: &mut Vec<u8>) {
        match self {
            Cell::Null => {}
            Cell::Text(s) => out.extend_from_slice(s.as_bytes()),
            Cell::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Cell::Tags(tags) => {
                for (i, t) in tags.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(t.as_bytes());
                }
            }
            Cell::Custom([]) => {}
            Cell::Custom(_) => self.write_json(out),
            Cell::Time(ms) => push_rfc3339(out, ms),
        }
    }
}

/// Appends `s` as a JSON string literal.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(out, s);
}

/// A lead as one flat JSON object (keys sorted), for the API and `leads`.
pub fn lead_json(lead: &Lead) -> Map<String, Value> {
    COLUMNS
        .iter()
        .zip(cells(lead))
        .map(|(c, v)| (c.to_string(), v.to_value()))
        .collect()
}

/// Appends the lead as one JSON Lines record, keys in [`COLUMNS`] order.
fn write_json_line(out: &mut Vec<u8>, lead: &Lead) {
    out.push(b'{');
    for (i, (name, cell)) in COLUMNS.iter().zip(cells(lead)).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, name);
        out.push(b':');
        cell.write_json(out);
    }
    out.extend_from_slice(b"}\n");
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(ms: i64) -> String {
    let mut out = Vec::with_capacity(24);
    push_rfc3339(&mut out, ms);
    // Only ASCII digits and separators were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `ms` (Unix milliseconds) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn push_rfc3339(out: &mut Vec<u8>, ms: i64) {
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
    if (0..=9999).contains(&year) {
        let digits = |out: &mut Vec<u8>, n: i64, width: u32| {
            for p in (0..width).rev() {
                out.push(b'0' + (n / 10i64.pow(p) % 10) as u8);
            }
        };
        digits(out, year, 4);
        out.push(b'-');
        digits(out, month, 2);
        out.push(b'-');
        digits(out, day, 2);
        out.push(b'T');
        digits(out, rem / 3600, 2);
        out.push(b':');
        digits(out, rem % 3600 / 60, 2);
        out.push(b':');
        digits(out, rem % 60, 2);
        out.push(b'.');
        digits(out, ms.rem_euclid(1000), 3);
        out.push(b'Z');
    } else {
        // Years outside 0..=9999, as `format!` writes them.
        let text = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            ms.rem_euclid(1000)
        );
        out.extend_from_slice(text.as_bytes());
    }
}

/// `cell`, or `'` + `cell` (built in `scratch`) when a spreadsheet would
/// run it as a formula: it starts with `= + - @`, a tab or a CR.
pub fn escape_formula<'a>(cell: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    match cell.first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
            scratch.clear();
            scratch.push(b'\'');
            scratch.extend_from_slice(cell);
            scratch
        }
        _ => cell,
    }
}

/// Leads written between two calls of an export's `progress`.
pub const PROGRESS_EVERY: u64 = 4096;

/// Writes every lead matching `filter`; returns how many. `progress` hears
/// the count written so far every [`PROGRESS_EVERY`] leads and at the end.
pub fn export(
    store: &dyn Store,
    ws: WorkspaceId,
    filter: &LeadFilter,
    format: Format,
    out: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> Result<u64, ExportError> {
    write_leads(store, ws, filter, format, out, &|_| true, progress)
}

/// An export for sending (to a mailer, a dialer, a partner): leads whose
/// email is on the suppression list are left out. Returns (written, left out).
pub fn export_for_sending(
    store: &dyn Store,
    ws: WorkspaceId,
    filter: &LeadFilter,
    format: Format,
    out: &mut dyn Write,
    progress: &dyn Fn(u64),
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
    let n = write_leads(store, ws, filter, format, out, &keep, progress)?;
    Ok((n, left_out.get()))
}

/// Formats leads into the output, in one of the two formats.
enum LeadWriter<'o> {
    Jsonl {
        out: &'o mut dyn Write,
        line: Vec<u8>,
    },
    Csv {
        w: Box<csv::Writer<&'o mut dyn Write>>,
        cell: Vec<u8>,
        scratch: Vec<u8>,
    },
}

impl<'o> LeadWriter<'o> {
    /// A writer into `out`; for CSV the header is written first.
    fn new(format: Format, out: &'o mut dyn Write) -> std::io::Result<Self> {
        Ok(match format {
            Format::Jsonl => LeadWriter::Jsonl {
                out,
                line: Vec::with_capacity(4096),
            },
            Format::Csv => {
                let mut w = Box::new(csv::Writer::from_writer(out));
                w.write_record(COLUMNS)?;
                LeadWriter::Csv {
                    w,
                    cell: Vec::new(),
                    scratch: Vec::new(),
                }
            }
        })
    }

    fn write(&mut self, lead: &Lead) -> std::io::Result<()> {
        match self {
            LeadWriter::Jsonl { out, line } => {
                line.clear();
                write_json_line(line, lead);
                out.write_all(line)
            }
            LeadWriter::Csv { w, cell, scratch } => {
                for c in cells(lead) {
                    cell.clear();
                    c.write_text(cell);
                    w.write_field(escape_formula(cell, scratch))?;
                }
                Ok(w.write_record(None::<&[u8]>)?)
            }
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            LeadWriter::Jsonl { out, .. } => out.flush(),
            LeadWriter::Csv { mut w, .. } => w.flush(),
        }
    }
}

/// Writes the leads matching `filter` that `keep` accepts; how many.
fn write_leads(
    store: &dyn Store,
    ws: WorkspaceId,
    filter: &LeadFilter,
    format: Format,
    out: &mut dyn Write,
    keep: &dyn Fn(&Lead) -> bool,
    progress: &dyn Fn(u64),
) -> Result<u64, ExportError> {
    let mut w = LeadWriter::new(format, out)?;
    let mut written = 0u64;
    store.export_leads(ws, filter, &mut |lead| {
        if !keep(&lead) {
            return Ok(());
        }
        written += 1;
        if written.is_multiple_of(PROGRESS_EVERY) {
            progress(written);
        }
        w.write(&lead)
    })?;
    w.finish()?;
    progress(written);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadgen_core::lead::{RecordId, SourceRef};
    use leadgen_core::phone::Phone;
    use proptest::prelude::*;

    fn lead(
        title: &str,
        tags: &[&str],
        custom: &[(&str, &str)],
        revenue: Option<u64>,
        at: i64,
    ) -> Lead {
        let origin = SourceRef {
            at,
            record: RecordId::new(1, 2),
        };
        let mut l = Lead::empty("csv_upload", origin);
        l.id = 42;
        l.email = Some(leadgen_core::email::Email::parse("Jane.Doe@Acme.com").unwrap());
        l.first_name = Some("Jane".into());
        l.title = Some(title.into());
        l.phone = Some(Phone::parse("(415) 555-0123", leadgen_core::geo::Country::US).unwrap());
        l.revenue = revenue;
        l.employee_count = Some(250);
        l.tags = tags.iter().map(|t| t.to_string()).collect();
        l.custom = custom
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.created_at = at;
        l.updated_at = at + 1;
        l
    }

    /// The lead's CSV row, as the export writes it (without the header).
    fn csv_row(lead: &Lead) -> String {
        let mut out = Vec::new();
        let mut w = LeadWriter::new(Format::Csv, &mut out).unwrap();
        w.write(lead).unwrap();
        w.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        let (header, row) = text.split_once('\n').unwrap();
        assert_eq!(header, COLUMNS.join(","));
        row.to_owned()
    }

    #[test]
    fn a_csv_row_holds_every_column_escaped() {
        let l = lead(
            "=HYPERLINK(\"x\")",
            &["q4", "vip"],
            &[("zeta", "1"), ("alpha", "a,b"), ("zeta", "last")],
            Some(5_000_000),
            1_795_305_600_000,
        );
        assert_eq!(
            csv_row(&l),
            "42,Jane.Doe@acme.com,Jane,,\"'=HYPERLINK(\"\"x\"\")\",,,'+14155550123,,,,,,,,250,5000000,,,,,\
             csv_upload,raw,new,0,C,\"q4,vip\",\"{\"\"alpha\"\":\"\"a,b\"\",\"\"zeta\"\":\"\"last\"\"}\",\
             2026-11-22T00:00:00.000Z,2026-11-22T00:00:00.001Z\n"
        );
        let bare = lead("CEO", &[], &[], None, 0);
        assert!(csv_row(&bare).contains(",CEO,"));
        assert!(csv_row(&bare).contains(",C,,,1970-01-01T00:00:00.000Z,"));
    }

    proptest! {
        /// The streamed JSON line and the JSON object of the API are the
        /// same value, keys in column order, for any text in the fields.
        #[test]
        fn json_lines_agree_with_lead_json(
            title in "\\PC{0,20}|[\"\\\\\\x00-\\x1f]{0,5}",
            tags in proptest::collection::vec("\\PC{0,8}", 0..4),
            custom in proptest::collection::vec(("[a-c]{1,2}", "\\PC{0,8}"), 0..5),
            revenue in proptest::option::of(any::<u64>()),
            at in -62_135_596_800_000i64..253_402_300_799_999,
        ) {
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            let custom: Vec<(&str, &str)> =
                custom.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let l = lead(&title, &tags, &custom, revenue, at);
            let mut line = Vec::new();
            write_json_line(&mut line, &l);
            prop_assert_eq!(line.pop(), Some(b'\n'));
            let parsed: Value = serde_json::from_slice(&line).unwrap();
            prop_assert_eq!(&parsed, &Value::Object(lead_json(&l)));
            let text = String::from_utf8(line).unwrap();
            let mut from = 0;
            for c in COLUMNS {
                let at = text[from..].find(&format!("\"{c}\":")).map(|i| i + from);
                prop_assert!(at.is_some(), "{} missing or out of order", c);
                from = at.unwrap_or(from);
            }
        }

        /// Every millisecond of years 0000–9999 as chrono writes it.
        #[test]
        fn timestamps_agree_with_chrono(ms in -62_167_219_200_000i64..253_402_300_799_999) {
            let reference = chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            prop_assert_eq!(rfc3339(ms), reference);
        }
    }

    #[test]
    fn years_past_9999_are_written_whole() {
        assert_eq!(rfc3339(253_402_300_800_000), "10000-01-01T00:00:00.000Z");
    }

    #[test]
    fn timestamps_format_as_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_795_305_600_000), "2026-11-22T00:00:00.000Z");
    }

    #[test]
    fn formula_cells_are_escaped() {
        let mut s = Vec::new();
        for bad in [
            "=HYPERLINK(\"x\")",
            "=1+1",
            "+1 415",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            let escaped = escape_formula(bad.as_bytes(), &mut s).to_vec();
            assert_eq!(escaped, format!("'{bad}").into_bytes(), "{bad}");
        }
        assert_eq!(escape_formula(b"Acme", &mut s), b"Acme");
        assert_eq!(escape_formula(b"", &mut s), b"");
    }
}
