//! One mapping between a `Lead` and the columns of the `leads` table, shared
//! by both backends so they cannot drift apart.

use std::borrow::Cow;

use leadgen_core::domain::Domain;
use leadgen_core::email::Email;
use leadgen_core::geo::Country;
use leadgen_core::lead::{IntentLevel, LeadStatus, LifecycleStage, Provenance, Tier};
use leadgen_core::linkedin::LinkedinUrl;
use leadgen_core::phone::Phone;
use leadgen_core::{Lead, RecordId, SourceRef, WorkspaceId};

use crate::{Result, StoreError};

/// The `leads` columns in the order `push_lead_values` produces them.
pub const LEAD_COLUMNS: [&str; 33] = [
    "id",
    "workspace_id",
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
    "country",
    "postal_code",
    "tags",
    "custom_fields",
    "source",
    "status",
    "lifecycle",
    "score",
    "tier",
    "intent",
    "origin_record",
    "provenance",
    "created_at",
];

/// `updated_at` is written last and separately so that updates can name it.
pub const UPDATED_AT: &str = "updated_at";

/// A value bound to a statement, borrowed from the lead where possible.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue<'a> {
    Null,
    Int(i64),
    Text(Cow<'a, str>),
}

fn text<'a>(s: Option<&'a str>) -> SqlValue<'a> {
    s.map_or(SqlValue::Null, |s| SqlValue::Text(Cow::Borrowed(s)))
}

fn owned<'a>(s: Option<String>) -> SqlValue<'a> {
    s.map_or(SqlValue::Null, |s| SqlValue::Text(Cow::Owned(s)))
}

fn int<'a>(n: Option<i64>) -> SqlValue<'a> {
    n.map_or(SqlValue::Null, SqlValue::Int)
}

/// A phone as stored: E.164, with `;ext=` as RFC 3966 writes extensions.
pub fn phone_to_stored(p: &Phone) -> Cow<'_, str> {
    match p.extension() {
        None => Cow::Borrowed(p.e164()),
        Some(ext) => Cow::Owned(format!("{};ext={ext}", p.e164())),
    }
}

fn phone_from_stored(s: &str) -> Result<Phone> {
    Phone::from_e164(s).map_err(|e| StoreError::Corrupt(format!("phone '{s}': {e}")))
}

/// Appends the column values of a lead to `out`, so a batch of rows shares
/// one buffer.
pub fn push_lead_values<'a>(out: &mut Vec<SqlValue<'a>>, lead: &'a Lead, ws: WorkspaceId) {
    out.extend(lead_values(lead, ws));
}

/// Values per lead row: the `LEAD_COLUMNS`, then `updated_at`.
pub const LEAD_VALUES: usize = LEAD_COLUMNS.len() + 1;

/// The values [`push_lead_values`] appends, on the stack.
pub fn lead_values(lead: &Lead, ws: WorkspaceId) -> [SqlValue<'_>; LEAD_VALUES] {
    fn phone(p: &Option<Phone>) -> SqlValue<'_> {
        p.as_ref()
            .map_or(SqlValue::Null, |p| SqlValue::Text(phone_to_stored(p)))
    }
    let has_extra_provenance =
        !lead.provenance.fields.is_empty() || !lead.provenance.linked.is_empty();
    [
        SqlValue::Int(lead.id),
        SqlValue::Int(ws),
        text(lead.email.as_ref().map(|e| e.as_str())),
        text(lead.first_name.as_deref()),
        text(lead.last_name.as_deref()),
        text(lead.title.as_deref()),
        text(lead.seniority.as_deref()),
        text(lead.department.as_deref()),
        phone(&lead.phone),
        phone(&lead.mobile),
        text(lead.linkedin.as_ref().map(|l| l.as_str())),
        text(lead.company_name.as_deref()),
        text(lead.company_domain.as_ref().map(|d| d.as_str())),
        text(lead.company_linkedin.as_ref().map(|l| l.as_str())),
        phone(&lead.company_phone),
        text(lead.industry.as_deref()),
        int(lead.employee_count.map(i64::from)),
        int(lead.revenue.and_then(|r| i64::try_from(r).ok())),
        text(lead.city.as_deref()),
        text(lead.state.as_deref()),
        text(lead.country.as_ref().map(|c| c.as_str())),
        text(lead.postal_code.as_deref()),
        owned((!lead.tags.is_empty()).then(|| tags_to_json(&lead.tags))),
        owned((!lead.custom.is_empty()).then(|| custom_to_json(&lead.custom))),
        SqlValue::Text(Cow::Borrowed(&lead.source)),
        SqlValue::Text(Cow::Borrowed(lead.status.as_str())),
        SqlValue::Text(Cow::Borrowed(lead.lifecycle.as_str())),
        SqlValue::Int(i64::from(lead.score)),
        SqlValue::Text(Cow::Borrowed(lead.tier.as_str())),
        SqlValue::Text(Cow::Borrowed(lead.intent.as_str())),
        int(lead.provenance.origin.map(|o| o.record.0)),
        owned(has_extra_provenance.then(|| provenance_to_json(&lead.provenance))),
        SqlValue::Int(lead.created_at),
        SqlValue::Int(lead.updated_at),
    ]
}

/// Appends `s` as a JSON string literal. Written by hand because it runs for
/// every stored lead, where building `serde_json::Value`s allocated per entry.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn tags_to_json(tags: &[String]) -> String {
    let mut out = String::with_capacity(tags.iter().map(|t| t.len() + 3).sum::<usize>() + 2);
    out.push('[');
    for (i, t) in tags.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, t);
    }
    out.push(']');
    out
}

fn custom_to_json(custom: &[(String, String)]) -> String {
    let mut out = String::with_capacity(
        custom
            .iter()
            .map(|(k, v)| k.len() + v.len() + 6)
            .sum::<usize>()
            + 2,
    );
    out.push('{');
    for (i, (k, v)) in custom.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, k);
        out.push(':');
        push_json_str(&mut out, v);
    }
    out.push('}');
    out
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ExtraProvenance {
    #[serde(default)]
    fields: Vec<(leadgen_core::Field, SourceRef)>,
    #[serde(default)]
    linked: Vec<RecordId>,
}

fn provenance_to_json(p: &Provenance) -> String {
    serde_json::to_string(&ExtraProvenance {
        fields: p.fields.clone(),
        linked: p.linked.clone(),
    })
    .unwrap_or_default()
}

/// Reads typed cells of one result row; both drivers implement it.
pub trait RowGet {
    fn text(&self, idx: usize) -> Result<Option<String>>;
    fn int(&self, idx: usize) -> Result<Option<i64>>;
}

fn corrupt(what: &str, value: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what} '{value}': {e}"))
}

/// Rebuilds a lead from a row selected as `LEAD_COLUMNS` then `updated_at`.
pub fn lead_from_row(row: &impl RowGet) -> Result<Lead> {
    let t = |i| row.text(i);
    let email = t(const { col("email") })?
        .map(|s| Email::parse(&s).map_err(|e| corrupt("email", &s, e)))
        .transpose()?;
    let phone = |i| -> Result<Option<Phone>> { t(i)?.map(|s| phone_from_stored(&s)).transpose() };
    let linkedin = |i| -> Result<Option<LinkedinUrl>> {
        t(i)?
            .map(|s| LinkedinUrl::parse(&s).map_err(|e| corrupt("linkedin", &s, e)))
            .transpose()
    };
    let created_at = row.int(const { col("created_at") })?.unwrap_or(0);
    let origin = row.int(const { col("origin_record") })?.map(|r| SourceRef {
        at: created_at,
        record: RecordId(r),
    });
    let mut provenance = Provenance {
        origin,
        ..Provenance::default()
    };
    if let Some(s) = t(const { col("provenance") })? {
        let extra: ExtraProvenance =
            serde_json::from_str(&s).map_err(|e| corrupt("provenance", &s, e))?;
        provenance.fields = extra.fields;
        provenance.linked = extra.linked;
    }
    let enum_col = |i, what: &str| -> Result<String> {
        t(i)?.ok_or_else(|| StoreError::Corrupt(format!("{what} is empty")))
    };
    let status = enum_col(const { col("status") }, "status")?;
    let lifecycle = enum_col(const { col("lifecycle") }, "lifecycle")?;
    let tier = enum_col(const { col("tier") }, "tier")?;
    let intent = enum_col(const { col("intent") }, "intent")?;
    Ok(Lead {
        id: row.int(const { col("id") })?.unwrap_or(0),
        email,
        first_name: t(const { col("first_name") })?,
        last_name: t(const { col("last_name") })?,
        title: t(const { col("title") })?,
        seniority: t(const { col("seniority") })?,
        department: t(const { col("department") })?,
        phone: phone(const { col("phone") })?,
        mobile: phone(const { col("mobile") })?,
        linkedin: linkedin(const { col("linkedin_url") })?,
        company_name: t(const { col("company_name") })?,
        company_domain: t(const { col("company_domain") })?
            .map(|s| Domain::parse(&s).map_err(|e| corrupt("domain", &s, e)))
            .transpose()?,
        company_linkedin: linkedin(const { col("company_linkedin_url") })?,
        company_phone: phone(const { col("company_phone") })?,
        industry: t(const { col("industry") })?,
        employee_count: row
            .int(const { col("employee_count") })?
            .and_then(|n| u32::try_from(n).ok()),
        revenue: row
            .int(const { col("revenue") })?
            .and_then(|n| u64::try_from(n).ok()),
        city: t(const { col("city") })?,
        state: t(const { col("state") })?,
        country: t(const { col("country") })?
            .map(|s| Country::parse(&s).map_err(|e| corrupt("country", &s, e)))
            .transpose()?,
        postal_code: t(const { col("postal_code") })?,
        tags: match t(const { col("tags") })? {
            Some(s) => serde_json::from_str(&s).map_err(|e| corrupt("tags", &s, e))?,
            None => Vec::new(),
        },
        custom: match t(const { col("custom_fields") })? {
            Some(s) => {
                let map: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&s).map_err(|e| corrupt("custom_fields", &s, e))?;
                map.into_iter()
                    .map(|(k, v)| {
                        (
                            k,
                            v.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| v.to_string()),
                        )
                    })
                    .collect()
            }
            None => Vec::new(),
        },
        source: t(const { col("source") })?.unwrap_or_default(),
        status: LeadStatus::parse(&status).ok_or_else(|| corrupt("status", &status, "unknown"))?,
        lifecycle: LifecycleStage::parse(&lifecycle)
            .ok_or_else(|| corrupt("lifecycle", &lifecycle, "unknown"))?,
        score: row
            .int(const { col("score") })?
            .and_then(|n| u8::try_from(n).ok())
            .unwrap_or(0),
        tier: Tier::parse(&tier).ok_or_else(|| corrupt("tier", &tier, "unknown"))?,
        intent: IntentLevel::parse(&intent).ok_or_else(|| corrupt("intent", &intent, "unknown"))?,
        provenance,
        created_at,
        updated_at: row.int(const { col("updated_at") })?.unwrap_or(created_at),
    })
}

/// Position of a column in `select_list()`, resolved at compile time.
pub(crate) const fn col(name: &str) -> usize {
    let mut i = 0;
    while i < LEAD_COLUMNS.len() {
        if const_eq(LEAD_COLUMNS[i], name) {
            return i;
        }
        i += 1;
    }
    // `updated_at` follows the lead columns.
    LEAD_COLUMNS.len()
}

pub(crate) const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `col1, col2, …, updated_at`
pub fn select_list() -> String {
    let mut s = LEAD_COLUMNS.join(", ");
    s.push_str(", ");
    s.push_str(UPDATED_AT);
    s
}

/// Raw records of one chunk: CSV text, each row its line number and then
/// its cells, stored packed (see [`pack_records`]).
pub struct RecordChunk {
    pub first_line: u64,
    pub last_line: u64,
    pub packed: Vec<u8>,
}

/// The first byte of a packed chunk: an LZ4 block follows, after the
/// length of the text as a little-endian `u32`.
///
/// A chunk stored before chunks were packed is the CSV text itself, whose
/// first byte is a digit (the first row's line number): the two never mix,
/// and [`unpack_records`] reads both.
const PACKED_LZ4: u8 = 1;

/// Packs a chunk's CSV text into `out` (emptied first).
///
/// The raw records are as large as the import file: stored as text they
/// were 234 MB of a 650 MB store after a 1M-row `gen-sample` import. LZ4
/// (`lz4_flex`) packs them 3.3-fold at ~650 MB/s on one core, on the
/// parser threads (~2,200 instructions a row; its bounds-checked encoder,
/// the crate's default, took ~3,200); a chunk unpacks in about half a
/// millisecond, with the checked decoder, as stored bytes may be damaged.
/// `zstd -1` packs 5-fold but at ~450 MB/s (its command-line tool on this
/// machine), on the threads an import is short of. Text too long to carry
/// its length in a `u32` (over 4 GiB, which a chunk never reaches) is kept
/// as it is.
pub fn pack_records(text: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let Ok(len) = u32::try_from(text.len()) else {
        out.extend_from_slice(text);
        return;
    };
    let head = 5;
    out.resize(
        head + lz4_flex::block::get_maximum_output_size(text.len()),
        0,
    );
    out[0] = PACKED_LZ4;
    out[1..head].copy_from_slice(&len.to_le_bytes());
    match lz4_flex::block::compress_into(text, &mut out[head..]) {
        Ok(n) => out.truncate(head + n),
        // Cannot happen with room for the worst case; the text, stored as
        // it is, still reads back.
        Err(_) => {
            out.clear();
            out.extend_from_slice(text);
        }
    }
}

/// The CSV text of a stored chunk, packed or stored as text; `None` when
/// the bytes are neither (damaged), without allocating what a damaged
/// length claims.
pub fn unpack_records(stored: &[u8]) -> Option<Cow<'_, str>> {
    let Some((&PACKED_LZ4, rest)) = stored.split_first() else {
        return std::str::from_utf8(stored).ok().map(Cow::Borrowed);
    };
    let (len, block) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    // An LZ4 block expands at most ~255-fold.
    if len > block.len().saturating_mul(255).saturating_add(16) {
        return None;
    }
    let mut text = vec![0; len];
    match lz4_flex::block::decompress_into(block, &mut text) {
        Ok(n) if n == len => String::from_utf8(text).ok().map(Cow::Owned),
        _ => None,
    }
}

/// Builds a [`RecordChunk`] row by row without allocating per cell.
///
/// The text is CSV as the `csv` crate writes it by default (the reader in
/// [`decode_record`] reads it back): fields separated by `,`, rows ended by
/// `\n`, a field quoted only when it holds `,`, `"`, `\r` or `\n`, with its
/// quotes doubled. Written here byte by byte because it runs for every row
/// an import reads, where `csv::Writer`'s state machine and its buffer cost
/// ~1,300 instructions a row more (a test holds the two to the same bytes).
pub struct RecordChunkWriter {
    buf: Vec<u8>,
    first_line: Option<u64>,
    last_line: u64,
    line_buf: itoa::Buffer,
}

impl Default for RecordChunkWriter {
    fn default() -> Self {
        RecordChunkWriter::with_buffer(Vec::new(), 1 << 20)
    }
}

/// Whether a CSV field must be quoted: it holds a separator, a quote or a
/// line break. Looks at every byte (no early exit), which compiles to a
/// vector loop over the short cells of a lead file (a word-at-a-time
/// version measured ~300 instructions a row slower).
fn needs_quotes(cell: &[u8]) -> bool {
    cell.iter().fold(false, |any, &b| {
        any | matches!(b, b',' | b'"' | b'\r' | b'\n')
    })
}

fn push_field(out: &mut Vec<u8>, cell: &[u8]) {
    if !needs_quotes(cell) {
        out.extend_from_slice(cell);
        return;
    }
    out.reserve(cell.len() + 2);
    out.push(b'"');
    let mut rest = cell;
    while let Some(at) = rest.iter().position(|&b| b == b'"') {
        out.extend_from_slice(&rest[..=at]);
        out.push(b'"');
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

impl RecordChunkWriter {
    /// A writer into `buffer`, emptied first (the import hands a written
    /// chunk's text buffer back for reuse), with room for `bytes`
    /// of CSV text before it grows.
    pub fn with_buffer(mut buffer: Vec<u8>, bytes: usize) -> Self {
        buffer.clear();
        buffer.reserve(bytes);
        RecordChunkWriter {
            buf: buffer,
            first_line: None,
            last_line: 0,
            line_buf: itoa::Buffer::new(),
        }
    }

    pub fn push<'c>(&mut self, line: u64, cells: impl Iterator<Item = &'c [u8]>) {
        self.first_line.get_or_insert(line);
        self.last_line = line;
        // The line number leads, so a row is never one empty field (which
        // CSV would have to write as `""`).
        self.buf
            .extend_from_slice(self.line_buf.format(line).as_bytes());
        for cell in cells {
            self.buf.push(b',');
            push_field(&mut self.buf, cell);
        }
        self.buf.push(b'\n');
    }

    pub fn is_empty(&self) -> bool {
        self.first_line.is_none()
    }

    pub fn finish(self) -> Option<RecordChunk> {
        self.finish_into(Vec::new()).0
    }

    /// The chunk, packed into `out` (a spent chunk's [`RecordChunk::packed`]
    /// can be reused), and the writer's text buffer back for the next one.
    pub fn finish_into(self, mut out: Vec<u8>) -> (Option<RecordChunk>, Vec<u8>) {
        let Some(first_line) = self.first_line else {
            return (None, self.buf);
        };
        let buf = match std::str::from_utf8(&self.buf) {
            Ok(_) => self.buf,
            Err(_) => String::from_utf8_lossy(&self.buf).into_owned().into_bytes(),
        };
        pack_records(&buf, &mut out);
        let chunk = RecordChunk {
            first_line,
            last_line: self.last_line,
            packed: out,
        };
        (Some(chunk), buf)
    }
}

/// Finds one line's cells in a stored chunk (see [`unpack_records`]).
pub fn decode_record(stored: &[u8], line: u64) -> Option<Vec<String>> {
    let data = unpack_records(stored)?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data.as_bytes());
    let wanted = line.to_string();
    r.records()
        .filter_map(|rec| rec.ok())
        .find(|rec| rec.get(0) == Some(wanted.as_str()))
        .map(|rec| rec.iter().skip(1).map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rows as `csv::Writer` (default settings, flexible) writes them.
    fn with_csv_crate(rows: &[(u64, Vec<Vec<u8>>)]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        for (line, cells) in rows {
            w.write_field(line.to_string()).unwrap();
            for cell in cells {
                w.write_field(cell).unwrap();
            }
            w.write_record(None::<&[u8]>).unwrap();
        }
        w.into_inner().unwrap()
    }

    fn cell() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            // Lead-file text with the bytes that matter to CSV.
            proptest::collection::vec(
                prop_oneof![
                    Just(b','),
                    Just(b'"'),
                    Just(b'\r'),
                    Just(b'\n'),
                    Just(b' '),
                    Just(b'\t'),
                    Just(b'\\'),
                    Just(b'#'),
                    b'a'..=b'z',
                ],
                0..24
            ),
            proptest::collection::vec(any::<u8>(), 0..40),
        ]
    }

    proptest! {
        #[test]
        fn record_chunks_are_the_csv_crates_bytes(
            rows in proptest::collection::vec(
                (any::<u64>(), proptest::collection::vec(cell(), 0..6)),
                1..8,
            )
        ) {
            let mut w = RecordChunkWriter::with_buffer(Vec::new(), 0);
            for (line, cells) in &rows {
                w.push(*line, cells.iter().map(Vec::as_slice));
            }
            let expected = with_csv_crate(&rows);
            let packed = w.finish().unwrap().packed;
            prop_assert_eq!(packed[0], PACKED_LZ4);
            prop_assert_eq!(
                unpack_records(&packed).unwrap(),
                String::from_utf8(expected)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            );
        }

        /// Stored bytes come back from disk or a server: damaged ones give
        /// `None` or some text, never a panic.
        #[test]
        fn unpacking_any_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            packed_head in any::<bool>(),
        ) {
            let mut bytes = bytes;
            if packed_head && !bytes.is_empty() {
                bytes[0] = PACKED_LZ4;
            }
            let _ = unpack_records(&bytes);
            let _ = decode_record(&bytes, 1);
        }
    }

    #[test]
    fn packed_chunks_are_smaller_and_text_chunks_still_read() {
        let mut w = RecordChunkWriter::default();
        for line in 2..500u64 {
            let cells: [&[u8]; 3] = [b"Ada", b"Lovelace", b"ada@analytical.example"];
            w.push(line, cells.iter().copied());
        }
        let (chunk, text) = w.finish_into(Vec::new());
        let chunk = chunk.unwrap();
        assert!(
            chunk.packed.len() * 4 < text.len(),
            "{} packed bytes for {} of text",
            chunk.packed.len(),
            text.len()
        );
        assert_eq!(unpack_records(&chunk.packed).unwrap().as_bytes(), &text[..]);
        assert_eq!(
            decode_record(&chunk.packed, 321).unwrap(),
            ["Ada", "Lovelace", "ada@analytical.example"]
        );
        // A chunk stored as text, before chunks were packed.
        assert!(matches!(unpack_records(&text), Some(Cow::Borrowed(_))));
        assert_eq!(decode_record(&text, 2).unwrap()[0], "Ada");
    }

    #[test]
    fn damaged_packed_chunks_read_as_none() {
        let mut w = RecordChunkWriter::default();
        w.push(9, [b"Grace".as_slice(), b"Hopper".as_slice()].into_iter());
        let packed = w.finish().unwrap().packed;
        // Cut short.
        assert_eq!(unpack_records(&packed[..packed.len() - 1]), None);
        assert_eq!(unpack_records(&packed[..3]), None);
        // A length the block cannot hold is refused before any allocation.
        let mut huge = packed.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(unpack_records(&huge), None);
        // A length that disagrees with the block.
        let mut short = packed.clone();
        short[1] = short[1].wrapping_add(1);
        assert_eq!(unpack_records(&short), None);
        assert_eq!(decode_record(&short, 9), None);
        assert_eq!(decode_record(&packed, 9).unwrap(), ["Grace", "Hopper"]);
    }

    #[test]
    fn a_quoted_cell_reads_back_as_written() {
        let mut w = RecordChunkWriter::default();
        let cells: [&[u8]; 4] = [b"Acme, Inc", b"say \"hi\"", b"two\nlines", b""];
        w.push(7, cells.iter().copied());
        w.push(8, [b"plain".as_slice()].into_iter());
        let packed = w.finish().unwrap().packed;
        let data = unpack_records(&packed).unwrap();
        assert_eq!(
            data,
            "7,\"Acme, Inc\",\"say \"\"hi\"\"\",\"two\nlines\",\n8,plain\n"
        );
        assert_eq!(
            decode_record(&packed, 7).unwrap(),
            ["Acme, Inc", "say \"hi\"", "two\nlines", ""]
        );
        assert_eq!(decode_record(&packed, 8).unwrap(), ["plain"]);
    }
}
