//! The whole import (`import_csv` into a SQLite store) fed what ends up in
//! users' files: arbitrary bytes, and CSV-shaped text whose headers are partly
//! real export headers and whose cells mix real values with unicode, quotes,
//! delimiters, line breaks and cells over the size limit.
//!
//! Whatever the input, the import must
//! * never panic, in the caller's thread or in its parsing thread;
//! * either refuse the file with a file-level error that names it, or account
//!   for every row: `rows_read == inserted + merged + rejected`;
//! * write every rejected row, and only those, to the rejects file, in file
//!   order;
//! * change nothing when the same file is imported again.
//!
//! Case counts are modest so the suite stays fast in a debug build; raise
//! them with `PROPTEST_CASES=5000` for a longer hunt.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use leadgen_app::csv_source::{CsvSourceError, MAX_CELL_BYTES};
use leadgen_app::export::{Format, export};
use leadgen_app::import::{ImportError, ImportOptions, ImportSummary, import_csv};
use leadgen_app::rejects::RejectsWriter;
use leadgen_core::DEFAULT_WORKSPACE;
use leadgen_core::geo::Country;
use leadgen_core::mapping::MappingError;
use leadgen_core::score::ScoringRules;
use leadgen_store::sqlite::SqliteStore;
use leadgen_store::{LeadFilter, Store};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

/// Headers of real exports (Apollo, HubSpot, Sales Navigator, Maps
/// scrapers), so that generated files get mapped columns, not only custom ones.
const REAL_HEADERS: &[&str] = &[
    "Email",
    "First Name",
    "Last Name",
    "Full Name",
    "Title",
    "Company",
    "Company Name",
    "Website",
    "Phone",
    "Mobile Phone",
    "Person Linkedin Url",
    "Company Linkedin Url",
    "Industry",
    "# Employees",
    "Annual Revenue",
    "City",
    "State",
    "Country",
    "Zip",
    "Tags",
];

/// Cells real files hold, good and bad, including formulas and lookalikes.
const REAL_CELLS: &[&str] = &[
    "jane@acme.com",
    "JANE@ACME.COM ",
    "jane.doe+news@googlemail.com",
    "janedoe@gmail.com",
    "not-an-email",
    "@acme.com",
    "Jane",
    "Doe",
    "Müller-Lüdenscheidt",
    "O'Brien",
    "Dr. Jane Q. Doe, PhD",
    "VP, Sales",
    "ACME HOLDINGS, INC.",
    "acme.com",
    "https://www.acme.co.uk/about",
    "http://localhost",
    "10.0.0.1",
    "co.uk",
    "+1 415 555 0100",
    "(415) 555-0100 ext. 12",
    "555",
    "linkedin.com/in/janedoe",
    "https://www.linkedin.com/in/Jane%20Doe/?utm_source=x",
    "https://www.linkedin.com/company/acme",
    "https://www.linkedin.com/sales/lead/123",
    "lnkd.in/abc",
    "51-200",
    "10,000+",
    "$1.5M",
    "1.2B USD",
    "-5",
    "US",
    "Deutschland",
    "Atlantis",
    "CA",
    "SW1A 1AA",
    "q4, webinar; vip",
    "=HYPERLINK(\"http://x\")",
    "@SUM(A1)",
    "",
    " ",
    "\u{feff}",
    "\u{0}",
    "🚀 Growth",
    "ＡＣＭＥ",
];

/// One cell of a generated file. A cell over the size limit is written at
/// render time, so a failing case prints as a few lines, not a mebibyte.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    /// `n` bytes of `x`: a cell around [`MAX_CELL_BYTES`].
    Huge(usize),
}

#[derive(Debug, Clone, Copy)]
enum Quoting {
    /// Quotes cells that need it, as a correct CSV writer does.
    AsNeeded,
    /// Quotes every cell.
    Always,
    /// Never quotes: a cell with a delimiter, quote or line break breaks the
    /// row, as in a hand-made file.
    Never,
}

#[derive(Debug, Clone)]
struct CsvFile {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
    delimiter: u8,
    quoting: Quoting,
    crlf: bool,
    bom: bool,
    /// An Excel `sep=X` line before the header.
    sep_line: bool,
    final_newline: bool,
}

impl CsvFile {
    fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.bom {
            out.extend_from_slice(b"\xEF\xBB\xBF");
        }
        let newline: &[u8] = if self.crlf { b"\r\n" } else { b"\n" };
        if self.sep_line {
            out.extend_from_slice(b"sep=");
            out.push(self.delimiter);
            out.extend_from_slice(newline);
        }
        self.render_row(
            &mut out,
            self.headers.iter().map(|h| Cow::Borrowed(h.as_str())),
        );
        for row in &self.rows {
            out.extend_from_slice(newline);
            self.render_row(
                &mut out,
                row.iter().map(|c| match c {
                    Cell::Text(s) => Cow::Borrowed(s.as_str()),
                    Cell::Huge(n) => Cow::Owned("x".repeat(*n)),
                }),
            );
        }
        if self.final_newline {
            out.extend_from_slice(newline);
        }
        out
    }

    fn render_row<'a>(&self, out: &mut Vec<u8>, cells: impl Iterator<Item = Cow<'a, str>>) {
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            let needs_quotes = cell
                .bytes()
                .any(|b| b == self.delimiter || matches!(b, b'"' | b'\r' | b'\n'));
            let quote = match self.quoting {
                Quoting::AsNeeded => needs_quotes,
                Quoting::Always => true,
                Quoting::Never => false,
            };
            if quote {
                out.push(b'"');
                out.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
                out.push(b'"');
            } else {
                out.extend_from_slice(cell.as_bytes());
            }
        }
    }
}

fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(REAL_HEADERS).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
        1 => "(?s).{0,6}",
    ]
}

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        6 => prop::sample::select(REAL_CELLS).prop_map(str::to_owned),
        // Small alphabets, so that rows collide on a key and merge.
        2 => "[ab]{1,2}\\.?[ab]?@(x|y)\\.(com|de)",
        1 => "linkedin\\.com/in/[ab]{1,3}",
        1 => "(Ann|Bob) (Lee|Kim)",
        2 => "(?s).{0,16}",
        1 => "[\",;\t| \r\n]{0,4}",
    ]
    .prop_map(Cell::Text)
}

fn csv_file() -> impl Strategy<Value = CsvFile> {
    prop::collection::vec(header(), 1..8)
        .prop_flat_map(|headers| {
            let n = headers.len();
            let row = prop_oneof![
                8 => prop::collection::vec(cell(), n..=n),
                1 => prop::collection::vec(cell(), 0..=n + 2),
            ];
            (
                Just(headers),
                prop::collection::vec(row, 0..24),
                prop::sample::select(&b",;\t|"[..]),
                prop_oneof![
                    4 => Just(Quoting::AsNeeded),
                    1 => Just(Quoting::Always),
                    2 => Just(Quoting::Never),
                ],
                (
                    any::<bool>(),
                    prop::bool::weighted(0.2),
                    prop::bool::weighted(0.1),
                ),
                prop::bool::weighted(0.8),
                prop::option::weighted(
                    0.08,
                    (
                        any::<Index>(),
                        any::<Index>(),
                        prop::sample::select(vec![MAX_CELL_BYTES, MAX_CELL_BYTES + 1]),
                    ),
                ),
            )
        })
        .prop_map(
            |(
                headers,
                mut rows,
                delimiter,
                quoting,
                (crlf, bom, sep_line),
                final_newline,
                huge,
            )| {
                if let Some((r, c, bytes)) = huge.filter(|_| !rows.is_empty()) {
                    let row = r.get_mut(&mut rows);
                    if !row.is_empty() {
                        *c.get_mut(row) = Cell::Huge(bytes);
                    }
                }
                CsvFile {
                    headers,
                    rows,
                    delimiter,
                    quoting,
                    crlf,
                    bom,
                    sep_line,
                    final_newline,
                }
            },
        )
}

/// Arbitrary bytes, alone or after a real header line (so that they are
/// read as rows rather than refused as a binary file).
fn raw_bytes() -> impl Strategy<Value = Vec<u8>> {
    let bytes = prop::collection::vec(any::<u8>(), 0..1024);
    prop_oneof![
        bytes.clone(),
        bytes.prop_map(|b| [&b"Email,First Name,Last Name,Website\n"[..], &b].concat()),
    ]
}

/// Panics in the import's reading and parsing threads. `import_csv` joins
/// those threads itself, so a panic there would not fail the test on its own.
static PARSE_THREAD_PANICS: AtomicU64 = AtomicU64::new(0);

fn count_parse_thread_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if matches!(
                std::thread::current().name(),
                Some("leadgen-read" | "leadgen-parse")
            ) {
                PARSE_THREAD_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

fn options(path: &Path) -> ImportOptions {
    ImportOptions {
        path: path.to_path_buf(),
        overrides: Vec::new(),
        tags: Vec::new(),
        source: "csv_upload".into(),
        default_country: Country::US,
        rules: ScoringRules::default(),
        source_priority: HashMap::new(),
        workspace: DEFAULT_WORKSPACE,
        staging_bytes: leadgen_app::import::STAGING_BYTES,
    }
}

/// Errors that refuse a whole file for what it is, not for a bug.
fn is_file_level(e: &ImportError) -> bool {
    matches!(
        e,
        ImportError::Source(
            CsvSourceError::Empty { .. }
                | CsvSourceError::Binary { .. }
                | CsvSourceError::UnterminatedHeader { .. }
                | CsvSourceError::HeaderTooLarge { .. }
        ) | ImportError::Mapping {
            source: MappingError::EmptyHeader,
            ..
        }
    )
}

fn lead_count(store: &dyn Store) -> u64 {
    store
        .count_leads(DEFAULT_WORKSPACE, &LeadFilter::default())
        .expect("counting leads")
}

fn export_jsonl(store: &dyn Store) -> String {
    let mut out = Vec::new();
    export(
        store,
        DEFAULT_WORKSPACE,
        &LeadFilter::default(),
        Format::Jsonl,
        &mut out,
        &|_| {},
    )
    .expect("exporting");
    String::from_utf8(out).expect("JSONL is UTF-8")
}

/// The rejects file holds exactly the rejected rows, each with a reason, in
/// file order; there is no file when nothing was rejected.
fn check_rejects(input: &Path, summary: &ImportSummary) -> Result<(), TestCaseError> {
    let expected = RejectsWriter::path_for(input);
    if summary.rejected == 0 {
        prop_assert_eq!(&summary.rejects_file, &None);
        prop_assert!(!expected.exists(), "no rejects, no rejects file");
        return Ok(());
    }
    prop_assert_eq!(summary.rejects_file.as_deref(), Some(expected.as_path()));
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&expected)
        .map_err(|e| TestCaseError::fail(format!("opening the rejects file: {e}")))?;
    let mut lines = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| TestCaseError::fail(format!("reading the rejects file: {e}")))?;
        let line: u64 = record[0]
            .parse()
            .map_err(|e| TestCaseError::fail(format!("line column '{}': {e}", &record[0])))?;
        prop_assert!(line >= 2, "data rows start after the header: {}", line);
        prop_assert!(!record[1].is_empty(), "every reject says why");
        lines.push(line);
    }
    prop_assert_eq!(
        lines.len() as u64,
        summary.rejected,
        "rejected rows in the file"
    );
    prop_assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "rejects are in file order: {:?}",
        lines
    );
    Ok(())
}

/// Imports `bytes` twice into a fresh store and checks every property.
fn import_and_reimport(bytes: &[u8]) -> Result<(), TestCaseError> {
    count_parse_thread_panics();
    let panics_before = PARSE_THREAD_PANICS.load(Ordering::SeqCst);
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("leads.csv");
    std::fs::write(&input, bytes).expect("writing the input");
    let store = SqliteStore::open(&dir.path().join("leadgen.db")).expect("opening the store");
    let opts = options(&input);

    let first = import_csv(&store, &opts, &|_| {});
    prop_assert_eq!(
        PARSE_THREAD_PANICS.load(Ordering::SeqCst),
        panics_before,
        "the parsing thread panicked (see the message above)"
    );
    let first = match first {
        Ok(summary) => summary,
        Err(e) => {
            prop_assert!(is_file_level(&e), "not a file-level refusal: {:?}", e);
            prop_assert!(
                e.to_string().contains("leads.csv"),
                "the message names the file: {}",
                e
            );
            prop_assert_eq!(lead_count(&store), 0);
            return Ok(());
        }
    };
    prop_assert_eq!(
        first.rows_read,
        first.inserted + first.merged + first.rejected,
        "every row is accounted for: {:?}",
        first
    );
    prop_assert_eq!(lead_count(&store), first.inserted);
    check_rejects(&input, &first)?;
    let exported = export_jsonl(&store);

    let again = import_csv(&store, &opts, &|_| {})
        .map_err(|e| TestCaseError::fail(format!("re-import failed: {e}")))?;
    prop_assert_eq!(again.inserted, 0, "re-importing adds nothing: {:?}", again);
    prop_assert_eq!(again.rows_read, first.rows_read);
    prop_assert_eq!(again.rejected, first.rejected);
    prop_assert_eq!(again.merged, first.inserted + first.merged);
    prop_assert_eq!(again.batch_id, first.batch_id, "same file, same batch");
    prop_assert_eq!(lead_count(&store), first.inserted);
    check_rejects(&input, &again)?;
    prop_assert_eq!(
        export_jsonl(&store),
        exported,
        "re-importing changes no lead"
    );
    prop_assert_eq!(
        PARSE_THREAD_PANICS.load(Ordering::SeqCst),
        panics_before,
        "the parsing thread panicked (see the message above)"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn any_bytes_import_or_are_refused_cleanly(bytes in raw_bytes()) {
        import_and_reimport(&bytes)?;
    }

    #[test]
    fn csv_shaped_text_imports_every_row_or_rejects_it(file in csv_file()) {
        import_and_reimport(&file.render())?;
    }
}

#[test]
fn a_sample_file_survives_the_same_checks() {
    // A fixed, realistic file through the same checks, so that the property
    // harness itself is known to see inserts, merges and rejects.
    let text = "Email,First Name,Last Name,Website,Person Linkedin Url\n\
                jane@acme.com,Jane,Doe,acme.com,\n\
                JANE@acme.com,,,,linkedin.com/in/janedoe\n\
                ,Bob,Lee,bob.io,\n\
                nobody,,,,\n\
                \"a,b\",c,d,e,f,g\n";
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("leads.csv");
    std::fs::write(&input, text).unwrap();
    let store = SqliteStore::open(&dir.path().join("leadgen.db")).unwrap();
    let summary = import_csv(&store, &options(&input), &|_| {}).unwrap();
    assert_eq!(
        (
            summary.rows_read,
            summary.inserted,
            summary.merged,
            summary.rejected
        ),
        (5, 2, 1, 2)
    );
    import_and_reimport(text.as_bytes()).unwrap();
}
