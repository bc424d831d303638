//! Bytes as a lead file: `CsvSource` (encoding, delimiter, header, rows) then
//! `RowParser::parse` on every row, as `leadgen import` reads a file.
//!
//! Besides not panicking or hanging, it checks what the import relies on:
//! rows come out in file order on distinct lines (the line is the row's
//! record id), a parsed lead merges into itself without change (re-imports
//! change nothing), and its company part, if any, has an identity key.

#![no_main]

use std::io::Cursor;

use leadgen_app::csv_source::{CsvSource, RawRow, ReadError};
use leadgen_core::company::{Company, CompanyKeys};
use leadgen_core::dedupe::{LeadKeys, NewestWins, merge_into};
use leadgen_core::geo::Country;
use leadgen_core::mapping::auto_map;
use leadgen_core::record::RowParser;
use leadgen_core::score::ScoringRules;
use leadgen_core::{RecordId, SourceRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut source) = CsvSource::from_reader(Cursor::new(data.to_vec()), "fuzz.csv") else {
        return;
    };
    let headers: Vec<String> = source.headers().to_vec();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let Ok(mapping) = auto_map(&headers, &[]) else {
        return;
    };
    let parser = RowParser::new(
        mapping,
        Country::US,
        "fuzz",
        vec!["fuzz".into()],
        ScoringRules::default(),
    );
    let mut row = RawRow::new();
    let mut last_line = 0;
    let mut reads = 0usize;
    loop {
        match source.read_row(&mut row) {
            Ok(false) | Err(ReadError::Fatal(_)) => break,
            Ok(true) => {
                let origin = SourceRef {
                    at: 1,
                    record: RecordId::new(1, row.line()),
                };
                if let Ok(lead) = parser.parse(&row, origin) {
                    assert!(
                        !LeadKeys::of(&lead).is_empty(),
                        "an accepted lead has a key"
                    );
                    let mut again = lead.clone();
                    let out = merge_into(&mut again, &lead, &NewestWins);
                    assert!(!out.changed(), "a lead merged into itself changed: {out:?}");
                    if let Some(company) = Company::from_lead(&lead) {
                        assert!(!CompanyKeys::of(&company).is_empty());
                    }
                }
            }
            Err(ReadError::Row(e)) => {
                assert_eq!(e.line, row.line(), "error and row agree on the line");
                let _ = row.lossy_cells().count();
            }
        }
        assert!(
            row.line() > last_line,
            "rows in file order on distinct lines"
        );
        last_line = row.line();
        reads += 1;
        assert!(reads <= data.len() + 2, "more rows than bytes");
    }
});
