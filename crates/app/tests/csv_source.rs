//! Behaviour of `CsvSource` on the files users really have: odd encodings and
//! delimiters, broken rows, binary files. Fixtures are generated into memory or
//! temp dirs so the repository holds no binary test files.

use std::io::Cursor;
use std::time::Instant;

use leadgen_app::csv_source::{
    CsvSource, CsvSourceError, MAX_CELL_BYTES, MAX_ROW_BYTES, RawRow, ReadError, RowErrorKind,
};
use leadgen_app::rejects::RejectsWriter;
use proptest::prelude::*;

/// A row as read: its line and cells, or its line and the rejection.
#[derive(Debug, PartialEq)]
enum Read {
    Row(u64, Vec<String>),
    Rejected(u64, RowErrorKind, Vec<String>),
}

fn source(bytes: &[u8]) -> CsvSource {
    CsvSource::from_reader(Cursor::new(bytes.to_vec()), "test.csv").expect("opens")
}

fn open_err(bytes: &[u8]) -> CsvSourceError {
    CsvSource::from_reader(Cursor::new(bytes.to_vec()), "test.csv").expect_err("must fail")
}

fn read_all(src: &mut CsvSource) -> Vec<Read> {
    let mut row = RawRow::new();
    let mut out = Vec::new();
    loop {
        match src.read_row(&mut row) {
            Ok(true) => out.push(Read::Row(
                row.line(),
                row.cells().map(str::to_string).collect(),
            )),
            Ok(false) => break,
            Err(ReadError::Row(e)) => {
                assert_eq!(e.line, row.line(), "error and row agree on the line");
                out.push(Read::Rejected(
                    e.line,
                    e.kind,
                    row.lossy_cells().map(|c| c.into_owned()).collect(),
                ))
            }
            Err(ReadError::Fatal(e)) => panic!("fatal: {e}"),
        }
        assert!(out.len() < 1_000_000, "reader does not stop");
    }
    out
}

fn row(line: u64, cells: &[&str]) -> Read {
    Read::Row(line, cells.iter().map(|c| c.to_string()).collect())
}

fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(if little_endian {
            b"\xFF\xFE"
        } else {
            b"\xFE\xFF"
        });
    }
    for unit in text.encode_utf16() {
        out.extend_from_slice(&if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    out
}

#[test]
fn plain_utf8_reads_headers_and_rows() {
    let data = b"Email,Name\na@x.com,Ann\nb@y.com,Bob\n";
    let mut src = source(data);
    assert_eq!(src.headers(), ["Email", "Name"]);
    assert_eq!(src.encoding(), "UTF-8");
    assert!(!src.has_bom());
    assert_eq!(src.delimiter(), b',');
    assert_eq!(
        read_all(&mut src),
        vec![row(2, &["a@x.com", "Ann"]), row(3, &["b@y.com", "Bob"])]
    );
    assert_eq!(src.bytes_read(), data.len() as u64);
}

#[test]
fn a_source_can_move_to_a_reader_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<CsvSource>();
    assert_send::<RawRow>();
}

#[test]
fn utf8_bom_is_stripped_from_the_first_header() {
    let mut src = source("\u{feff}Email,Name\nzoë@x.com,Zoë\n".as_bytes());
    assert_eq!(src.headers(), ["Email", "Name"]);
    assert_eq!(src.encoding(), "UTF-8");
    assert!(src.has_bom());
    assert_eq!(read_all(&mut src), vec![row(2, &["zoë@x.com", "Zoë"])]);
}

#[test]
fn utf16le_with_bom_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("excel-unicode.csv");
    std::fs::write(
        &path,
        utf16("Email\tName\r\njosé@x.com\tJosé\r\n", true, true),
    )
    .unwrap();
    let mut src = CsvSource::open(&path).unwrap();
    assert_eq!(src.encoding(), "UTF-16LE");
    assert_eq!(src.delimiter(), b'\t');
    assert_eq!(src.headers(), ["Email", "Name"]);
    assert_eq!(read_all(&mut src), vec![row(2, &["josé@x.com", "José"])]);
}

#[test]
fn utf16be_with_bom_and_utf16le_without_bom() {
    let text = "Email,Name\nx@y.com,Zoë\n";
    let mut be = source(&utf16(text, false, true));
    assert_eq!(be.encoding(), "UTF-16BE");
    assert_eq!(read_all(&mut be), vec![row(2, &["x@y.com", "Zoë"])]);
    let mut le = source(&utf16(text, true, false));
    assert_eq!(le.encoding(), "UTF-16LE");
    assert!(!le.has_bom());
    assert_eq!(read_all(&mut le), vec![row(2, &["x@y.com", "Zoë"])]);
}

#[test]
fn windows_1252_is_decoded() {
    let mut src = source(b"Name;City\nRen\xe9 M\xfcller;M\xfcnchen\n\x80 Corp;K\xf6ln\n");
    assert_eq!(src.encoding(), "windows-1252");
    assert_eq!(src.delimiter(), b';');
    assert_eq!(
        read_all(&mut src),
        vec![
            row(2, &["René Müller", "München"]),
            row(3, &["€ Corp", "Köln"])
        ]
    );
}

#[test]
fn delimiters_are_detected() {
    for (text, delimiter) in [
        ("a,b,c\n1,2,3\n", b','),
        ("a;b;c\n1,5;2;3\n4,5;6;7\n", b';'),
        ("a\tb\tc\n\"x, y\"\t2\t3\n", b'\t'),
        ("a|b|c\n1|2|3\n", b'|'),
        ("email\nx@y.com\n", b','),
    ] {
        let src = source(text.as_bytes());
        assert_eq!(src.delimiter(), delimiter, "{text:?}");
    }
    let mut src = source(b"a;b;c\n1,5;2;3\n");
    assert_eq!(read_all(&mut src), vec![row(2, &["1,5", "2", "3"])]);
}

#[test]
fn excel_sep_line_sets_the_delimiter() {
    let mut src = source(b"sep=;\r\nName;Note\r\nAnn;a,b,c\r\n");
    assert_eq!(src.delimiter(), b';');
    assert_eq!(src.headers(), ["Name", "Note"]);
    assert_eq!(read_all(&mut src), vec![row(3, &["Ann", "a,b,c"])]);
}

#[test]
fn quoted_line_breaks_keep_later_line_numbers_right() {
    let text = "Name,Note\nAnn,\"two\nlines\"\nBob,plain\n\n\nCid,\"a \"\"quote\"\"\r\nand CRLF\"\r\nDee,last";
    let mut src = source(text.as_bytes());
    assert_eq!(
        read_all(&mut src),
        vec![
            row(2, &["Ann", "two\nlines"]),
            row(4, &["Bob", "plain"]),
            row(7, &["Cid", "a \"quote\"\r\nand CRLF"]),
            row(9, &["Dee", "last"]),
        ]
    );
}

#[test]
fn crlf_and_blank_lines_are_counted() {
    let mut src = source(b"h\r\n\r\nx\r\ny\r\n\r\n\r\nz");
    assert_eq!(
        read_all(&mut src),
        vec![row(3, &["x"]), row(4, &["y"]), row(7, &["z"])]
    );
}

#[test]
fn old_mac_line_ends_give_every_row_its_own_line() {
    // Excel for Mac's "CSV (Macintosh)" ends lines with a lone CR. Each row
    // must still get its own line: the line is the row's record id. A CR
    // inside quotes is cell text, like a quoted CR in any other file.
    let mut src =
        source(b"Email,Name\ra@x.com,Ann\rb@y.com,\"Bob\rLee\"\r\rc@z.com,Cid\r\r\nd@w.com,Dee");
    assert_eq!(
        read_all(&mut src),
        vec![
            row(2, &["a@x.com", "Ann"]),
            row(3, &["b@y.com", "Bob\rLee"]),
            row(5, &["c@z.com", "Cid"]),
            row(7, &["d@w.com", "Dee"]),
        ]
    );
}

#[test]
fn a_stray_cr_in_an_lf_file_ends_a_row_on_its_own_line() {
    let mut src = source(b"a,b\n1,2\r3,4\n5,6\n");
    assert_eq!(
        read_all(&mut src),
        vec![
            row(2, &["1", "2"]),
            row(3, &["3", "4"]),
            row(4, &["5", "6"])
        ]
    );
}

#[test]
fn short_rows_are_padded_long_rows_rejected() {
    let mut src = source(b"a,b,c\n1,2\n1,2,3,4\n1,2,3,,\n5,6,7\n");
    let mut row = RawRow::new();
    assert!(src.read_row(&mut row).unwrap());
    assert_eq!((row.line(), row.len()), (2, 2));
    assert_eq!(row.get(2), "", "missing trailing cell reads as empty");
    assert_eq!(row.get(99), "");

    let err = src.read_row(&mut row).unwrap_err();
    let ReadError::Row(err) = err else {
        panic!("row error expected")
    };
    assert_eq!(err.line, 3);
    assert_eq!(
        err.kind,
        RowErrorKind::TooManyFields {
            found: 4,
            expected: 3,
            delimiter: ','
        }
    );
    assert!(
        err.reason().starts_with("row has 4 fields, header has 3"),
        "{}",
        err.reason()
    );
    assert_eq!(
        row.raw_cells().count(),
        4,
        "the bad row is kept for the rejects file"
    );

    // Trailing empty fields (Excel's trailing delimiters) are fine.
    assert!(src.read_row(&mut row).unwrap());
    assert_eq!(row.cells().collect::<Vec<_>>(), ["1", "2", "3"]);
    assert!(src.read_row(&mut row).unwrap());
    assert_eq!(row.line(), 5);
    assert!(!src.read_row(&mut row).unwrap());
    assert!(!src.read_row(&mut row).unwrap(), "stays at the end");
}

#[test]
fn unterminated_quote_rejects_the_rest_as_one_row() {
    let mut src = source(b"a,b\n1,2\n3,\"oops\n4,5\n6,7\n");
    assert_eq!(
        read_all(&mut src),
        vec![
            row(2, &["1", "2"]),
            Read::Rejected(
                3,
                RowErrorKind::UnterminatedQuote { last_line: 5 },
                vec!["3".into(), "oops\n4,5\n6,7\n".into()]
            ),
        ]
    );
    // Without a final line break, and with the quote opening the last cell.
    let mut src = source(b"a,b\n1,2\n3,\"");
    let all = read_all(&mut src);
    assert_eq!(all.len(), 2);
    assert!(matches!(
        &all[1],
        Read::Rejected(3, RowErrorKind::UnterminatedQuote { .. }, cells) if cells == &["3", ""]
    ));
}

#[test]
fn unterminated_quote_in_header_is_fatal() {
    let err = open_err(b"a,\"b\n1,2\n");
    assert!(matches!(
        err,
        CsvSourceError::UnterminatedHeader { line: 1, .. }
    ));
    assert!(err.to_string().contains("test.csv"));
}

#[test]
fn huge_cell_is_rejected_and_reading_goes_on() {
    let mut data = b"Email,Note\na@x.com,\"".to_vec();
    data.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    data.extend_from_slice(b"\"\nb@y.com,ok\n");
    let mut src = source(&data);
    let mut row = RawRow::new();
    match src.read_row(&mut row) {
        Err(ReadError::Row(e)) => {
            assert_eq!(e.line, 2);
            assert_eq!(
                e.kind,
                RowErrorKind::CellTooLarge {
                    column: "Note".into(),
                    bytes: 10 * 1024 * 1024
                }
            );
        }
        other => panic!("expected CellTooLarge, got {other:?}"),
    }
    assert!(src.read_row(&mut row).unwrap());
    assert_eq!((row.line(), row.get(0)), (3, "b@y.com"));
    const { assert!(MAX_CELL_BYTES < 10 * 1024 * 1024) };
}

#[test]
fn a_row_beyond_the_row_limit_is_cut_and_reading_goes_on() {
    let mut data = b"Email,Note\n".to_vec();
    data.extend_from_slice(b"a@x.com,\"");
    data.extend(std::iter::repeat_n(b'x', MAX_ROW_BYTES + 1024));
    data.extend_from_slice(b"\"\nb@y.com,ok\n");
    let mut src = source(&data);
    let mut row = RawRow::new();
    match src.read_row(&mut row) {
        Err(ReadError::Row(e)) => {
            assert_eq!(e.line, 2);
            assert!(
                matches!(e.kind, RowErrorKind::RowTooLarge { bytes } if bytes > MAX_ROW_BYTES as u64)
            );
        }
        other => panic!("expected RowTooLarge, got {other:?}"),
    }
    let kept: usize = row.raw_cells().map(<[u8]>::len).sum();
    assert!(kept <= MAX_ROW_BYTES, "only the start of the row is kept");
    assert_eq!(row.raw_cells().next(), Some(&b"a@x.com"[..]));
    assert!(src.read_row(&mut row).unwrap());
    assert_eq!((row.line(), row.get(0)), (3, "b@y.com"));
}

#[test]
fn invalid_utf8_rejects_only_that_row_with_its_line() {
    // Enough clean rows that the bad one lies beyond the encoding sniffer.
    let mut data = b"Email,Name\n".to_vec();
    for i in 0..30_000 {
        data.extend_from_slice(format!("user{i}@example.com,Person {i}\n").as_bytes());
    }
    data.extend_from_slice(b"bad@example.com,Ren\xe9\nlast@example.com,Zo\xc3\xab\n");
    let mut src = source(&data);
    assert_eq!(src.encoding(), "UTF-8");
    let all = read_all(&mut src);
    assert_eq!(all.len(), 30_002);
    assert_eq!(
        all[30_000],
        Read::Rejected(
            30_002,
            RowErrorKind::InvalidUtf8 {
                column: "Name".into()
            },
            vec!["bad@example.com".into(), "Ren\u{fffd}".into()]
        )
    );
    assert_eq!(all[30_001], row(30_003, &["last@example.com", "Zoë"]));
}

#[test]
fn nul_byte_in_a_later_row_rejects_that_row() {
    let mut data = b"a,b\n".to_vec();
    for i in 0..100 {
        data.extend_from_slice(format!("{i},row {i}\n").as_bytes());
    }
    data.extend_from_slice(b"3,x\x00y\n5,6\n");
    let mut src = source(&data);
    let all = read_all(&mut src);
    assert!(matches!(
        &all[100],
        Read::Rejected(102, RowErrorKind::NulByte { column }, _) if column == "b"
    ));
    assert_eq!(all[101], row(103, &["5", "6"]));
    // Text full of NULs is binary, not a CSV with bad rows.
    let err = open_err(b"a,b\n1,\x00\x00\x00\n2,\x00\x00\n");
    assert!(matches!(err, CsvSourceError::Binary { .. }), "{err}");
}

#[test]
fn binary_files_are_refused_with_advice() {
    let mut xlsx = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00".to_vec();
    xlsx.extend_from_slice(b"[Content_Types].xml");
    let err = open_err(&xlsx);
    let msg = err.to_string();
    assert!(matches!(err, CsvSourceError::Binary { .. }), "{msg}");
    assert!(msg.contains("binary file") && msg.contains("xlsx"), "{msg}");
    assert!(msg.contains("export it as CSV"), "{msg}");

    let gzip = open_err(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03abc");
    assert!(gzip.to_string().contains("gunzip"), "{gzip}");

    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let err = open_err(&garbage);
    assert!(matches!(err, CsvSourceError::Binary { .. }), "{err}");
    assert!(err.to_string().contains("export it as CSV"));
}

#[test]
fn empty_files_are_fatal_header_only_is_not() {
    for empty in [&b""[..], b"\xEF\xBB\xBF", b"\n\r\n  \n", b"\xFF\xFE"] {
        let err = open_err(empty);
        assert!(
            matches!(err, CsvSourceError::Empty { .. }),
            "{empty:?}: {err}"
        );
        assert!(err.to_string().contains("test.csv is empty"), "{err}");
    }
    let mut src = source(b"Email,Name\n");
    assert_eq!(src.headers(), ["Email", "Name"]);
    assert!(read_all(&mut src).is_empty());
    let mut src = source(b"Email,Name");
    assert_eq!(src.headers(), ["Email", "Name"]);
    assert!(read_all(&mut src).is_empty());
}

#[test]
fn duplicate_headers_are_kept_and_mapped_apart() {
    let mut src = source(b"Name,Email,Name\nAnn,a@x.com,Annie\n");
    assert_eq!(src.headers(), ["Name", "Email", "Name"]);
    let headers: Vec<&str> = src.headers().iter().map(String::as_str).collect();
    let mapping = leadgen_core::mapping::auto_map(&headers, &[]).unwrap();
    assert_eq!(mapping.custom_columns(), &[(2, "Name (2)".to_string())]);
    assert_eq!(
        read_all(&mut src),
        vec![row(2, &["Ann", "a@x.com", "Annie"])]
    );
}

#[test]
fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.csv");
    let err = CsvSource::open(&path).unwrap_err();
    assert!(matches!(err, CsvSourceError::Open { .. }));
    assert!(err.to_string().contains("nope.csv"), "{err}");
}

#[test]
fn rejected_rows_go_to_the_rejects_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("leads.csv");
    std::fs::write(
        &input,
        b"Email,Phone\na@x.com,1\nb@x.com,2,3\n=cmd,+1 415\nc@x.com,\"open\n",
    )
    .unwrap();
    let mut src = CsvSource::open(&input).unwrap();
    let mut rejects = RejectsWriter::new(&input, src.headers()).unwrap();
    let mut row = RawRow::new();
    let mut good = 0;
    loop {
        match src.read_row(&mut row) {
            Ok(true) => {
                good += 1;
                if row.get(0).starts_with('=') {
                    rejects.reject(&row, "invalid email").unwrap();
                }
            }
            Ok(false) => break,
            Err(ReadError::Row(e)) => rejects.reject(&row, &e.reason()).unwrap(),
            Err(ReadError::Fatal(e)) => panic!("{e}"),
        }
    }
    assert_eq!(good, 2);
    assert_eq!(rejects.count(), 3);
    let path = rejects.finish().unwrap().expect("a rejects file");
    assert_eq!(path, dir.path().join("leads.rejects.csv"));
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&path)
        .unwrap();
    assert_eq!(
        reader.headers().unwrap(),
        vec!["line", "reason", "Email", "Phone"]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(&records[0][0], "3");
    assert!(records[0][1].starts_with("row has 3 fields"));
    assert_eq!(
        records[0].iter().skip(2).collect::<Vec<_>>(),
        ["b@x.com", "2", "3"]
    );
    assert_eq!(&records[1][0], "4");
    assert_eq!(
        records[1].iter().skip(2).collect::<Vec<_>>(),
        ["'=cmd", "'+1 415"]
    );
    assert_eq!(&records[2][0], "5");
    assert!(records[2][1].contains("never closed"));
}

/// Writes `rows` with the csv crate and returns the bytes and each row's line.
fn written(rows: &[Vec<String>], delimiter: u8) -> (Vec<u8>, Vec<u64>) {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Vec::new());
    let mut lines = Vec::new();
    for r in rows {
        w.flush().unwrap();
        lines.push(1 + w.get_ref().iter().filter(|&&b| b == b'\n').count() as u64);
        w.write_record(r).unwrap();
    }
    (w.into_inner().unwrap(), lines)
}

fn cell() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-zA-Z0-9 @.éü€\",;\t|\n\r-]{0,12}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_or_hang(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(mut src) = CsvSource::from_reader(Cursor::new(bytes.clone()), "fuzz.csv") {
            let mut row = RawRow::new();
            let mut reads = 0;
            loop {
                match src.read_row(&mut row) {
                    Ok(false) | Err(ReadError::Fatal(_)) => break,
                    Ok(true) | Err(ReadError::Row(_)) => {
                        let _ = row.lossy_cells().count();
                    }
                }
                reads += 1;
                prop_assert!(reads <= bytes.len() + 2, "more rows than bytes");
            }
        }
    }

    #[test]
    fn csv_like_bytes_never_panic(bytes in prop::collection::vec(
        prop::sample::select(vec![b'a', b',', b';', b'"', b'\n', b'\r', b'\t', b'|', 0u8, 0xC3, 0xA9, 0xFF, b' ']),
        0..2048,
    )) {
        if let Ok(mut src) = CsvSource::from_reader(Cursor::new(bytes.clone()), "fuzz.csv") {
            let mut row = RawRow::new();
            let mut reads = 0;
            while !matches!(src.read_row(&mut row), Ok(false) | Err(ReadError::Fatal(_))) {
                reads += 1;
                prop_assert!(reads <= bytes.len() + 2);
            }
        }
    }

    #[test]
    fn written_rows_read_back_with_their_lines(
        rows in prop::collection::vec(prop::collection::vec(cell(), 3), 1..40),
    ) {
        let mut all = vec![vec!["Email".to_string(), "Name".to_string(), "Note".to_string()]];
        all.extend(rows);
        let (bytes, lines) = written(&all, b',');
        let mut src = CsvSource::from_reader(Cursor::new(bytes), "rt.csv").unwrap();
        prop_assert_eq!(src.delimiter(), b',');
        let mut row = RawRow::new();
        let mut got = Vec::new();
        while src.read_row(&mut row).unwrap() {
            got.push((row.line(), row.cells().map(str::to_string).collect::<Vec<_>>()));
        }
        let expected: Vec<(u64, Vec<String>)> = lines[1..]
            .iter()
            .copied()
            .zip(all[1..].iter().cloned())
            .collect();
        prop_assert_eq!(got, expected);
    }
}

/// Throughput of reading a sample file. Run with
/// `cargo test --release -p leadgen-app --test csv_source -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark; run in release"]
fn throughput_of_reading_a_million_row_sample() {
    use leadgen_app::sample::{SampleSpec, write_sample};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.csv");
    let spec = SampleSpec {
        rows: 1_000_000,
        dup_rate: 0.1,
        seed: 7,
    };
    let started = Instant::now();
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let stats = write_sample(&spec, file).unwrap();
    let write_secs = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "write_sample: {} rows, {:.1} MB in {:.3}s = {:.0} rows/s",
        stats.rows,
        size as f64 / 1e6,
        write_secs,
        stats.rows as f64 / write_secs
    );

    for round in 0..3 {
        let started = Instant::now();
        let mut src = CsvSource::open(&path).unwrap();
        let mut row = RawRow::new();
        let (mut rows, mut cells_len) = (0u64, 0usize);
        loop {
            match src.read_row(&mut row) {
                Ok(true) => {
                    rows += 1;
                    cells_len += row.get(6).len();
                }
                Ok(false) => break,
                Err(e) => panic!("{e}"),
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "read #{round}: {rows} rows in {secs:.3}s = {:.0} rows/s, {:.0} MB/s (checksum {cells_len})",
            rows as f64 / secs,
            size as f64 / 1e6 / secs
        );
        assert_eq!(rows, stats.rows);
    }
}
