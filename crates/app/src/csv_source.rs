//! Reading lead CSV files as they come out of real tools: any of the usual
//! encodings and delimiters, with row-level problems reported per row.
//!
//! `leadgen import` must sustain hundreds of thousands of rows per second, so
//! the reading path avoids per-row allocation: [`CsvSource::read_row`] fills a
//! caller-owned [`RawRow`] whose buffers are reused row after row, and rows are
//! parsed with `csv_core` directly (the state machine under the `csv` crate)
//! so that every row carries the *physical* line it starts on — the `csv`
//! crate's positions drift on blank lines and CRLF endings, and a rejects file
//! that points at the wrong line is worse than none.
//!
//! What is detected before the first row:
//! * the encoding: a UTF-8 or UTF-16 byte-order mark, UTF-16 without a mark
//!   (NUL bytes in every other position), valid UTF-8, else Windows-1252 (what
//!   Excel on Windows writes). Non-UTF-8 input is decoded to UTF-8 on the fly;
//! * binary files (an `.xlsx` renamed to `.csv`, gzip, PDF, text full of NUL
//!   bytes), which are refused with a message saying to export as CSV; a
//!   stray NUL in otherwise good text only rejects its row;
//! * the delimiter among `,` `;` `\t` `|`: an Excel `sep=X` first line if
//!   present, else the one that splits the first lines into the same number
//!   of fields (quotes respected).
//!
//! Row problems are not fatal: [`ReadError::Row`] carries the line and the
//! reason, the row's cells stay readable for the rejects file, and the next
//! call reads on. The choices, so that behaviour is predictable:
//! * a row with *fewer* fields than the header is accepted and the missing
//!   trailing cells read as empty — exports routinely drop trailing empty
//!   cells;
//! * a row with *more* fields is rejected (a value probably holds an unquoted
//!   delimiter and every later cell is shifted), unless the extra fields are
//!   all empty (trailing delimiters, which Excel writes);
//! * a cell over [`MAX_CELL_BYTES`], invalid UTF-8 in a UTF-8 file, or a NUL
//!   byte rejects the row;
//! * a quote left open at the end of the file turns the rest of the file into
//!   one row; it is rejected as such, and every row before it was read.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use thiserror::Error;

/// The largest cell accepted. Lead data is short; a bigger cell almost always
/// means a quote was opened and never closed, swallowing following lines.
pub const MAX_CELL_BYTES: usize = 1 << 20;

/// The largest row kept in memory. A longer row (an unterminated quote early
/// in a huge file, or a file without line breaks) is still read to its end,
/// so the rows after it are not lost, but only its first bytes are kept.
pub const MAX_ROW_BYTES: usize = 64 << 20;

/// How much of the input is looked at to detect encoding and delimiter.
const SNIFF_BYTES: usize = 256 * 1024;
/// Read size of the parser's input buffer.
const READ_BUFFER: usize = 128 * 1024;
/// Delimiters tried, in order of preference when equally plausible.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Rows looked at per delimiter candidate.
const SNIFF_ROWS: usize = 50;

/// A problem that stops the import of the whole file.
#[derive(Debug, Error)]
pub enum CsvSourceError {
    #[error(
        "cannot read {}: {source}; check the path and that you are allowed to read the file",
        path.display()
    )]
    Open { path: PathBuf, source: io::Error },

    #[error(
        "reading {} failed near line {line}: {source}; check that the file is complete and \
         readable (not still downloading, not on a disconnected drive) and import it again",
        path.display()
    )]
    Read {
        path: PathBuf,
        line: u64,
        source: io::Error,
    },

    #[error(
        "{} is empty: export the leads again, with the column names on the first line",
        path.display()
    )]
    Empty { path: PathBuf },

    #[error("{} looks like a binary file ({what}), not CSV: {hint}", path.display())]
    Binary {
        path: PathBuf,
        what: &'static str,
        hint: &'static str,
    },

    #[error(
        "{}: the header row on line {line} opens a quote that is never closed, so the whole \
         file reads as one row; fix the quotes in the header and import again",
        path.display()
    )]
    UnterminatedHeader { path: PathBuf, line: u64 },

    #[error(
        "{}: the header row is larger than {} MiB, so this is not a CSV file with column \
         names on its first line; export the leads as CSV and import again",
        path.display(),
        MAX_ROW_BYTES >> 20
    )]
    HeaderTooLarge { path: PathBuf },
}

/// Why one row was rejected. The import goes on with the next row.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct RowError {
    /// 1-based physical line on which the row starts.
    pub line: u64,
    pub kind: RowErrorKind,
}

impl RowError {
    /// The reason without the line number, for the rejects file's `reason`
    /// column (which has the line in a column of its own).
    pub fn reason(&self) -> String {
        self.kind.to_string()
    }
}

/// The kinds of row problems, each phrased so the user knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RowErrorKind {
    #[error(
        "row has {found} fields, header has {expected}: a value probably contains an unquoted \
         '{delimiter}'; put that value in double quotes or remove the extra fields"
    )]
    TooManyFields {
        found: usize,
        expected: usize,
        delimiter: char,
    },

    #[error(
        "column \"{column}\" holds {bytes} bytes, more than the {} MiB a cell may hold; a quote \
         was probably opened and not closed in this row",
        MAX_CELL_BYTES >> 20
    )]
    CellTooLarge { column: String, bytes: usize },

    #[error(
        "row is {bytes} bytes long, more than the {} MiB a row may hold (only its start is \
         kept here); a quote was probably opened and not closed in this row",
        MAX_ROW_BYTES >> 20
    )]
    RowTooLarge { bytes: u64 },

    #[error(
        "column \"{column}\" is not valid UTF-8 although the file was read as UTF-8; save the \
         file as \"CSV UTF-8\" and import again"
    )]
    InvalidUtf8 { column: String },

    #[error("column \"{column}\" contains a NUL byte; remove it (part of the file may be binary)")]
    NulByte { column: String },

    #[error(
        "a quote opened in this row is never closed, so everything from here to the end of the \
         file (line {last_line}) was read as this one row; close the quote and import the \
         rows from this line on again"
    )]
    UnterminatedQuote { last_line: u64 },
}

/// The result of [`CsvSource::read_row`] when no row was produced normally.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The row is bad; write it to the rejects file and keep reading.
    #[error(transparent)]
    Row(#[from] RowError),
    /// Reading cannot go on; stop the import.
    #[error(transparent)]
    Fatal(#[from] CsvSourceError),
}

/// One row of the file, reused across [`CsvSource::read_row`] calls so that
/// reading allocates only while buffers grow to the largest row seen.
#[derive(Debug, Clone, Default)]
pub struct RawRow {
    /// The cells, concatenated, when the row is valid UTF-8.
    text: String,
    /// The cells, concatenated, when it is not.
    bytes: Vec<u8>,
    /// End offset of each cell in `text` (or `bytes`).
    ends: Vec<usize>,
    line: u64,
    utf8: bool,
}

impl RawRow {
    pub fn new() -> RawRow {
        RawRow::default()
    }

    /// The 1-based physical line the row starts on (quoted line breaks in
    /// earlier rows are counted), for error messages and provenance.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Number of cells the row has in the file. May be smaller than the
    /// header's column count: missing trailing cells read as empty.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Whether every cell is valid UTF-8. Always true for rows returned as
    /// `Ok(true)` by [`CsvSource::read_row`].
    pub fn is_utf8(&self) -> bool {
        self.utf8
    }

    /// The cell in column `col`, or `""` when the row has no such cell (or,
    /// for a rejected row, is not UTF-8: use [`RawRow::lossy_cells`] there).
    pub fn get(&self, col: usize) -> &str {
        if !self.utf8 || col >= self.ends.len() {
            return "";
        }
        let start = if col == 0 { 0 } else { self.ends[col - 1] };
        self.text.get(start..self.ends[col]).unwrap_or("")
    }

    /// The cells in file order (empty for a row that is not UTF-8).
    pub fn cells(&self) -> impl Iterator<Item = &str> + '_ {
        let n = if self.utf8 { self.ends.len() } else { 0 };
        (0..n).map(|i| self.get(i))
    }

    /// The cells as raw bytes, whatever their encoding, for provenance.
    pub fn raw_cells(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let data = self.raw_data();
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let cell = data.get(start..end).unwrap_or(&[]);
            start = end;
            cell
        })
    }

    /// The cells as text, invalid UTF-8 replaced by U+FFFD, for the rejects
    /// file (which is always UTF-8 so it can be fixed and imported again).
    pub fn lossy_cells(&self) -> impl Iterator<Item = Cow<'_, str>> + '_ {
        self.raw_cells().map(String::from_utf8_lossy)
    }

    /// Bytes of all cells together.
    pub fn data_len(&self) -> usize {
        self.raw_data().len()
    }

    /// All cells' bytes run together.
    fn raw_data(&self) -> &[u8] {
        if self.utf8 {
            self.text.as_bytes()
        } else {
            &self.bytes
        }
    }

    /// Copies a parsed record in and works out whether it is UTF-8.
    fn fill(&mut self, data: &[u8], ends: &[usize], line: u64) {
        self.line = line;
        self.ends.clear();
        self.ends.extend_from_slice(ends);
        self.text.clear();
        self.bytes.clear();
        match std::str::from_utf8(data) {
            // Valid as a whole, but a multi-byte character could still be
            // split between two cells: check every cell boundary.
            Ok(s) if ends.iter().all(|&e| s.is_char_boundary(e)) => {
                self.text.push_str(s);
                self.utf8 = true;
            }
            _ => {
                self.bytes.extend_from_slice(data);
                self.utf8 = false;
            }
        }
    }

    /// Index of the first cell that is not valid UTF-8.
    fn first_invalid_cell(&self) -> Option<usize> {
        if self.utf8 {
            return None;
        }
        self.raw_cells()
            .position(|c| std::str::from_utf8(c).is_err())
            .or(Some(self.ends.len().saturating_sub(1)))
    }

    /// Drops cells past `n` (used for empty trailing cells).
    fn truncate(&mut self, n: usize) {
        self.ends.truncate(n);
    }
}

/// A CSV file being read: detected encoding and delimiter, the header row,
/// then rows one at a time.
pub struct CsvSource {
    path: PathBuf,
    parser: Parser,
    headers: Vec<String>,
    encoding: &'static Encoding,
    has_bom: bool,
    delimiter: u8,
    done: bool,
}

impl std::fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSource")
            .field("path", &self.path)
            .field("encoding", &self.encoding.name())
            .field("delimiter", &(self.delimiter as char))
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl CsvSource {
    /// Opens a file, detects its encoding and delimiter and reads its header.
    pub fn open(path: &Path) -> Result<CsvSource, CsvSourceError> {
        let file = File::open(path).map_err(|source| CsvSourceError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        CsvSource::from_reader(file, path)
    }

    /// Like [`CsvSource::open`] over any reader; `name` is used in messages
    /// the way the path would be.
    pub fn from_reader<R: Read + Send + 'static>(
        reader: R,
        name: impl Into<PathBuf>,
    ) -> Result<CsvSource, CsvSourceError> {
        let path = name.into();
        let mut inner: Box<dyn Read + Send> = Box::new(reader);
        let (prefix, at_eof) =
            read_prefix(&mut inner, SNIFF_BYTES).map_err(|source| CsvSourceError::Open {
                path: path.clone(),
                source,
            })?;
        let detected = detect_encoding(&prefix, at_eof).map_err(|kind| CsvSourceError::Binary {
            path: path.clone(),
            what: kind.what(),
            hint: kind.hint(),
        })?;
        let body = &prefix[detected.bom_len..];

        let decoded_sample: Cow<'_, [u8]> = if detected.encoding == UTF_8 {
            Cow::Borrowed(body)
        } else {
            let (text, _) = detected.encoding.decode_without_bom_handling(body);
            Cow::Owned(text.into_owned().into_bytes())
        };
        if decoded_sample.iter().all(|b| b.is_ascii_whitespace()) && at_eof {
            return Err(CsvSourceError::Empty { path });
        }
        // Excel writes a `sep=;` line before the header when asked to, and
        // honours it when opening: do the same.
        let declared = excel_separator_line(&decoded_sample);
        let delimiter = match declared {
            Some(d) => d,
            None => sniff_delimiter(&decoded_sample, at_eof),
        };

        let raw = Prefixed {
            prefix,
            pos: detected.bom_len,
            inner,
            consumed: detected.bom_len as u64,
        };
        let source = if detected.encoding == UTF_8 {
            Source::Plain(raw)
        } else {
            Source::Decoded(Box::new(Decoding::new(raw, detected.encoding)))
        };
        let mut parser = Parser::new(source, delimiter);

        let mut header = RawRow::new();
        let read_error = |source| CsvSourceError::Read {
            path: path.clone(),
            line: 1,
            source,
        };
        if declared.is_some() {
            parser.next_record(&mut header).map_err(read_error)?;
        }
        let record = parser.next_record(&mut header).map_err(read_error)?;
        let Some(record) = record else {
            return Err(CsvSourceError::Empty { path });
        };
        if record.unterminated {
            return Err(CsvSourceError::UnterminatedHeader {
                path,
                line: header.line,
            });
        }
        if record.total_bytes > MAX_ROW_BYTES as u64 {
            return Err(CsvSourceError::HeaderTooLarge { path });
        }
        let headers = header
            .lossy_cells()
            .map(|c| c.trim_start_matches('\u{feff}').trim().to_string())
            .collect();

        Ok(CsvSource {
            path,
            parser,
            headers,
            encoding: detected.encoding,
            has_bom: detected.bom_len > 0,
            delimiter,
            done: false,
        })
    }

    /// The header row, each name trimmed. Names may repeat or be empty.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The detected encoding's name: `UTF-8`, `UTF-16LE`, `UTF-16BE` or
    /// `windows-1252`.
    pub fn encoding(&self) -> &'static str {
        self.encoding.name()
    }

    /// Whether the file started with a byte-order mark.
    pub fn has_bom(&self) -> bool {
        self.has_bom
    }

    /// The detected delimiter: `b','`, `b';'`, `b'\t'` or `b'|'`.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The path (or name) given when opening, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Raw input bytes consumed so far (read ahead by up to a buffer), for
    /// progress bars against the file size.
    pub fn bytes_read(&self) -> u64 {
        self.parser.bytes_read()
    }

    /// Reads the next row into `row`.
    ///
    /// `Ok(true)`: a good row; every cell is UTF-8 and there are at most as
    /// many cells as headers. `Ok(false)`: end of file. `Err(ReadError::Row)`:
    /// the row is bad — `row` still holds its line and cells for the rejects
    /// file — and reading may go on. `Err(ReadError::Fatal)`: stop.
    pub fn read_row(&mut self, row: &mut RawRow) -> Result<bool, ReadError> {
        if self.done {
            return Ok(false);
        }
        let record = match self.parser.next_record(row) {
            Ok(Some(record)) => record,
            Ok(None) => {
                self.done = true;
                return Ok(false);
            }
            Err(source) => {
                self.done = true;
                return Err(ReadError::Fatal(CsvSourceError::Read {
                    path: self.path.clone(),
                    line: self.parser.line(),
                    source,
                }));
            }
        };
        let line = row.line;
        let reject = |kind| Err(ReadError::Row(RowError { line, kind }));

        if record.unterminated {
            self.done = true;
            // The last line holding data: the quoted line breaks after the
            // row's start, not counting one that merely ends the file.
            let data = row.raw_data();
            let breaks = data.iter().filter(|&&b| b == b'\n').count() as u64;
            let last_line = if record.total_bytes > MAX_ROW_BYTES as u64 {
                self.parser.line().saturating_sub(1)
            } else {
                line + breaks - u64::from(data.last() == Some(&b'\n'))
            };
            return reject(RowErrorKind::UnterminatedQuote {
                last_line: last_line.max(line),
            });
        }
        if record.total_bytes > MAX_ROW_BYTES as u64 {
            return reject(RowErrorKind::RowTooLarge {
                bytes: record.total_bytes,
            });
        }
        let expected = self.headers.len();
        if row.len() > expected {
            let extra_all_empty = row.raw_cells().skip(expected).all(<[u8]>::is_empty);
            if !extra_all_empty {
                return reject(RowErrorKind::TooManyFields {
                    found: row.len(),
                    expected,
                    delimiter: self.delimiter as char,
                });
            }
            row.truncate(expected);
        }
        let data_len = row.ends.last().copied().unwrap_or(0);
        if data_len > MAX_CELL_BYTES
            && let Some((col, bytes)) = row
                .raw_cells()
                .map(<[u8]>::len)
                .enumerate()
                .find(|&(_, len)| len > MAX_CELL_BYTES)
        {
            return reject(RowErrorKind::CellTooLarge {
                column: self.column_name(col),
                bytes,
            });
        }
        if let Some(col) = row.first_invalid_cell() {
            return reject(RowErrorKind::InvalidUtf8 {
                column: self.column_name(col),
            });
        }
        if row.text.as_bytes().contains(&0) {
            let col = row.raw_cells().position(|c| c.contains(&0)).unwrap_or(0);
            return reject(RowErrorKind::NulByte {
                column: self.column_name(col),
            });
        }
        Ok(true)
    }

    /// A column's header for messages, or `column N` when it has none.
    fn column_name(&self, col: usize) -> String {
        match self.headers.get(col) {
            Some(h) if !h.is_empty() => h.clone(),
            _ => format!("column {}", col + 1),
        }
    }
}

/// What [`Parser::next_record`] learnt about the record beyond its cells.
#[derive(Debug, Clone, Copy)]
struct RecordInfo {
    /// Bytes of cell data in the record, including any not kept.
    total_bytes: u64,
    /// The record ran into the end of the input inside a quoted field.
    unterminated: bool,
}

/// `csv_core` driven over our own buffers, tracking physical line numbers.
struct Parser {
    core: csv_core::Reader,
    /// The line of the next unread byte. A line ends at every `\n` (quoted
    /// or not, as `csv_core` counts) and also at a lone `\r` that ends a
    /// row or a blank line. `csv_core`'s own count misses the latter
    /// although it ends records there: in a file with old-Mac line ends
    /// every row would be on line 1, and share one record id.
    line: u64,
    /// Whether the last byte consumed was a `\r` that ended a line, so that
    /// the `\n` of a CRLF counts no second time, even in the next read.
    prev_cr: bool,
    input: Input,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    input_eof: bool,
    finished: bool,
    /// Scratch output; its length is its usable size (kept initialised).
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl Parser {
    fn new(source: Source, delimiter: u8) -> Parser {
        let core = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .double_quote(true)
            .build();
        Parser {
            core,
            line: 1,
            prev_cr: false,
            input: Input {
                source,
                newline_added: false,
            },
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            input_eof: false,
            finished: false,
            out: vec![0; 4096],
            ends: vec![0; 64],
        }
    }

    /// The line of the next unread byte.
    fn line(&self) -> u64 {
        self.line
    }

    fn bytes_read(&self) -> u64 {
        self.input.source.raw().consumed
    }

    fn fill(&mut self) -> io::Result<()> {
        let n = read_retrying(&mut self.input, &mut self.buf)?;
        self.start = 0;
        self.end = n;
        if n == 0 {
            self.input_eof = true;
        }
        Ok(())
    }

    /// Parses the next record into `row`; `None` at the end of the input.
    fn next_record(&mut self, row: &mut RawRow) -> io::Result<Option<RecordInfo>> {
        use csv_core::ReadRecordResult as R;
        if self.finished {
            return Ok(None);
        }
        let mut nout = 0usize;
        let mut nend = 0usize;
        // Once a row outgrows MAX_ROW_BYTES, output goes to a scratch area past
        // the kept part and is overwritten; `kept` marks what stays.
        let mut kept: Option<(usize, usize)> = None;
        let mut total: u64 = 0;
        let mut start_line = self.line;
        let mut at_record_start = true;

        loop {
            if self.start == self.end && !self.input_eof {
                self.fill()?;
            }
            let input = &self.buf[self.start..self.end];
            let input_was_empty = input.is_empty();
            let (res, nin, o, e) = match kept {
                None => self
                    .core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]),
                Some((kout, kend)) => {
                    self.core
                        .read_record(input, &mut self.out[kout..], &mut self.ends[kend..])
                }
            };
            let mut body = &input[..nin];
            if at_record_start {
                // csv_core skips blank lines before a record; count them so
                // the record's line is where its first byte is.
                let skipped = body
                    .iter()
                    .take_while(|&&b| b == b'\n' || b == b'\r')
                    .count();
                self.line += count_line_breaks(&body[..skipped], &mut self.prev_cr);
                start_line = self.line;
                at_record_start = skipped == nin;
                body = &body[skipped..];
            }
            if !body.is_empty() {
                self.line += body.iter().filter(|&&b| b == b'\n').count() as u64;
                // A record's last byte is its terminator; a `\r` there ends
                // the line (csv_core takes a following `\n` as a blank line).
                self.prev_cr = matches!(res, R::Record) && body.last() == Some(&b'\r');
                self.line += u64::from(self.prev_cr);
            }
            self.start += nin;
            total += o as u64;
            if kept.is_none() {
                nout += o;
                nend += e;
            }
            match res {
                R::InputEmpty if input_was_empty && self.input_eof => {
                    // csv_core wants no more input yet produced nothing:
                    // treat as the end rather than ever looping.
                    self.finished = true;
                    return Ok(None);
                }
                R::InputEmpty => {}
                R::OutputFull => {
                    if kept.is_none() && nout + 1 >= MAX_ROW_BYTES {
                        kept = Some((nout, nend));
                        self.grow_out(nout + 64 * 1024);
                        self.grow_ends(nend + 1024);
                    } else if kept.is_none() {
                        self.grow_out(self.out.len() * 2);
                    }
                }
                R::OutputEndsFull => {
                    if kept.is_none() && nend >= MAX_ROW_BYTES / 8 {
                        kept = Some((nout, nend));
                        self.grow_out(nout + 64 * 1024);
                        self.grow_ends(nend + 1024);
                    } else if kept.is_none() {
                        self.grow_ends(self.ends.len() * 2);
                    }
                }
                R::Record => {
                    // The input always ends with a line break we appended, so
                    // a record only ends on the final empty read when that
                    // break sat inside an open quote.
                    let unterminated = input_was_empty && self.input_eof;
                    if let Some((kout, kend)) = kept {
                        // Close the kept part as one last, truncated cell.
                        nout = kout;
                        nend = kend;
                        if nend == 0 || self.ends[nend - 1] != nout {
                            self.ends[nend] = nout;
                            nend += 1;
                        }
                    } else if unterminated && nend > 0 && nout > 0 && self.out[nout - 1] == b'\n' {
                        // Drop the line break we appended.
                        nout -= 1;
                        total -= 1;
                        self.ends[nend - 1] = nout;
                    }
                    row.fill(&self.out[..nout], &self.ends[..nend], start_line);
                    return Ok(Some(RecordInfo {
                        total_bytes: total,
                        unterminated,
                    }));
                }
                R::End => {
                    self.finished = true;
                    return Ok(None);
                }
            }
        }
    }

    fn grow_out(&mut self, len: usize) {
        if self.out.len() < len {
            self.out.resize(len, 0);
        }
    }

    fn grow_ends(&mut self, len: usize) {
        if self.ends.len() < len {
            self.ends.resize(len, 0);
        }
    }
}

/// Line breaks in unquoted `bytes` (the blank lines before a record), where
/// csv_core ends a record: `\n`, `\r\n` and a lone `\r` each count once.
/// `prev_cr` says whether the byte before `bytes` was a `\r` that ended a
/// line and is updated to the last byte, so a CRLF split between two reads
/// counts once. CRLF pairs are only looked for when a `\r` is there.
fn count_line_breaks(bytes: &[u8], prev_cr: &mut bool) -> u64 {
    let Some(&last) = bytes.last() else {
        return 0;
    };
    let lf = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    let cr = bytes.iter().filter(|&&b| b == b'\r').count() as u64;
    let mut crlf = u64::from(*prev_cr && bytes[0] == b'\n');
    if cr > 0 {
        crlf += bytes.windows(2).filter(|w| w == b"\r\n").count() as u64;
    }
    *prev_cr = last == b'\r';
    lf + cr - crlf
}

/// The byte stream the parser reads: the source, then one extra line break.
///
/// The extra break ends a last line that has none; if it does not end the
/// last record, that record is inside an unterminated quote — which is how
/// such a quote is detected without peeking into `csv_core`'s state.
struct Input {
    source: Source,
    newline_added: bool,
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.source.read(buf)?;
        if n > 0 || self.newline_added {
            return Ok(n);
        }
        self.newline_added = true;
        buf[0] = b'\n';
        Ok(1)
    }
}

enum Source {
    Plain(Prefixed),
    Decoded(Box<Decoding>),
}

impl Source {
    fn raw(&self) -> &Prefixed {
        match self {
            Source::Plain(p) => p,
            Source::Decoded(d) => &d.inner,
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(p) => p.read(buf),
            Source::Decoded(d) => d.read(buf),
        }
    }
}

/// The bytes read for detection, then the rest of the input.
struct Prefixed {
    prefix: Vec<u8>,
    pos: usize,
    inner: Box<dyn Read + Send>,
    consumed: u64,
}

impl Read for Prefixed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = if self.pos < self.prefix.len() {
            let n = (self.prefix.len() - self.pos).min(buf.len());
            buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            n
        } else {
            self.inner.read(buf)?
        };
        self.consumed += n as u64;
        Ok(n)
    }
}

/// Decodes a non-UTF-8 stream to UTF-8 with `encoding_rs`. Malformed input
/// (an unpaired UTF-16 surrogate) becomes U+FFFD, as every browser does.
struct Decoding {
    inner: Prefixed,
    decoder: Decoder,
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    in_eof: bool,
    output: Box<[u8]>,
    out_start: usize,
    out_end: usize,
    finished: bool,
}

impl Decoding {
    fn new(inner: Prefixed, encoding: &'static Encoding) -> Decoding {
        Decoding {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            input: vec![0; 64 * 1024].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            in_eof: false,
            // Worst case 1 input byte → 3 output bytes (windows-1252 → €).
            output: vec![0; 3 * 64 * 1024 + 16].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
            finished: false,
        }
    }
}

impl Read for Decoding {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = (self.out_end - self.out_start).min(buf.len());
                buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.in_eof {
                let n = read_retrying(&mut self.inner, &mut self.input)?;
                self.in_start = 0;
                self.in_end = n;
                self.in_eof = n == 0;
            }
            let (result, read, written, _) = self.decoder.decode_to_utf8(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                self.in_eof,
            );
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if self.in_eof && result == CoderResult::InputEmpty {
                self.finished = true;
            }
        }
    }
}

fn read_retrying(reader: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads up to `limit` bytes; also says whether the input ended within them.
fn read_prefix(reader: &mut dyn Read, limit: usize) -> io::Result<(Vec<u8>, bool)> {
    let mut prefix = vec![0; limit];
    let mut len = 0;
    while len < limit {
        let n = read_retrying(reader, &mut prefix[len..])?;
        if n == 0 {
            prefix.truncate(len);
            return Ok((prefix, true));
        }
        len += n;
    }
    Ok((prefix, false))
}

struct Detected {
    encoding: &'static Encoding,
    bom_len: usize,
}

/// Kinds of non-CSV input recognised from their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinaryKind {
    Zip,
    OldExcel,
    Gzip,
    Pdf,
    Unknown,
}

impl BinaryKind {
    fn what(self) -> &'static str {
        match self {
            BinaryKind::Zip => "an Excel .xlsx workbook or a zip archive",
            BinaryKind::OldExcel => "an old Excel .xls workbook",
            BinaryKind::Gzip => "gzip-compressed data",
            BinaryKind::Pdf => "a PDF document",
            BinaryKind::Unknown => "it contains NUL or control bytes; xlsx/zip?",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            BinaryKind::Zip => {
                "open it in Excel, Numbers or Google Sheets and export it as CSV (UTF-8); \
                 if it is a zip archive, unzip it and import the .csv inside"
            }
            BinaryKind::OldExcel | BinaryKind::Unknown => {
                "open it in Excel, Numbers or Google Sheets and export it as CSV (UTF-8)"
            }
            BinaryKind::Gzip => "decompress it (gunzip FILE) and import the .csv inside",
            BinaryKind::Pdf => "export the leads from the tool that made it as CSV",
        }
    }
}

/// Decides the encoding from the first bytes, or refuses binary input.
fn detect_encoding(prefix: &[u8], at_eof: bool) -> Result<Detected, BinaryKind> {
    let found = |encoding, bom_len| Ok(Detected { encoding, bom_len });
    if prefix.starts_with(b"\xEF\xBB\xBF") {
        return found(UTF_8, 3);
    }
    if prefix.starts_with(b"\xFF\xFE") {
        return found(UTF_16LE, 2);
    }
    if prefix.starts_with(b"\xFE\xFF") {
        return found(UTF_16BE, 2);
    }
    for (magic, kind) in [
        (&b"PK\x03\x04"[..], BinaryKind::Zip),
        (b"PK\x05\x06", BinaryKind::Zip),
        (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", BinaryKind::OldExcel),
        (b"\x1F\x8B", BinaryKind::Gzip),
        (b"%PDF-", BinaryKind::Pdf),
    ] {
        if prefix.starts_with(magic) {
            return Err(kind);
        }
    }
    if let Some(encoding) = utf16_without_bom(prefix) {
        return found(encoding, 0);
    }
    let controls = prefix
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C))
        .count();
    // A stray NUL in a text export only costs its row; many mean binary.
    let nuls = prefix.iter().filter(|&&b| b == 0).count();
    if nuls * 200 > prefix.len() || (controls >= 8 && controls * 20 > prefix.len()) {
        return Err(BinaryKind::Unknown);
    }
    match std::str::from_utf8(prefix) {
        Ok(_) => found(UTF_8, 0),
        // Cut off mid-character at the end of the sample: still UTF-8.
        Err(e) if e.error_len().is_none() && !at_eof => found(UTF_8, 0),
        Err(_) => found(WINDOWS_1252, 0),
    }
}

/// UTF-16 without a byte-order mark shows as NUL bytes in every other
/// position (ASCII characters have a zero high byte).
fn utf16_without_bom(prefix: &[u8]) -> Option<&'static Encoding> {
    let sample = &prefix[..prefix.len().min(4096) & !1];
    let pairs = sample.len() / 2;
    if pairs < 2 {
        return None;
    }
    let (mut even, mut odd) = (0, 0);
    for pair in sample.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    let many = |n: usize| n * 10 >= pairs * 3;
    let few = |n: usize| n * 20 <= pairs;
    if many(odd) && few(even) {
        Some(UTF_16LE)
    } else if many(even) && few(odd) {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// The delimiter named by an Excel `sep=X` first line, if there is one.
fn excel_separator_line(sample: &[u8]) -> Option<u8> {
    let rest = sample.strip_prefix(b"sep=")?;
    match rest {
        [d, b'\n', ..] | [d, b'\r', ..] => DELIMITERS.contains(d).then_some(*d),
        _ => None,
    }
}

/// Picks the delimiter that splits the sample's first rows most consistently.
///
/// A candidate must give the header more than one field. Among those, one
/// whose rows (nearly) all have the header's field count wins, then the one
/// giving more fields; `,` wins ties. With no candidate, `,` is assumed (a
/// one-column file).
fn sniff_delimiter(sample: &[u8], complete: bool) -> u8 {
    let mut best: Option<((bool, usize, u32), u8)> = None;
    for (priority, &delimiter) in DELIMITERS.iter().enumerate() {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(sample);
        let mut record = csv::ByteRecord::new();
        let mut counts = Vec::with_capacity(SNIFF_ROWS);
        while counts.len() < SNIFF_ROWS {
            match reader.read_byte_record(&mut record) {
                Ok(true) => counts.push(record.len()),
                _ => break,
            }
        }
        // The sample may end mid-row: do not judge by that row.
        if !complete && counts.len() < SNIFF_ROWS && counts.len() > 1 {
            counts.pop();
        }
        let Some(&header) = counts.first() else {
            continue;
        };
        if header < 2 {
            continue;
        }
        let matching = counts.iter().filter(|&&c| c == header).count();
        let consistent = matching * 10 >= counts.len() * 9;
        let ratio = (matching * 1000 / counts.len()) as u32;
        let score = (consistent, header, ratio * 4 + (3 - priority as u32));
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, delimiter));
        }
    }
    best.map_or(b',', |(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_count_lf_crlf_and_lone_cr_once_each() {
        let count = |chunks: &[&[u8]]| {
            let mut prev_cr = false;
            chunks
                .iter()
                .map(|c| count_line_breaks(c, &mut prev_cr))
                .sum::<u64>()
        };
        assert_eq!(count(&[b""]), 0);
        assert_eq!(count(&[b"a\nb\n"]), 2);
        assert_eq!(count(&[b"a\r\nb\r\n"]), 2);
        assert_eq!(count(&[b"a\rb\r"]), 2);
        assert_eq!(count(&[b"\r\r\n\n\r"]), 4);
        assert_eq!(count(&[b"a\r", b"\nb"]), 1, "a CRLF split between reads");
        assert_eq!(
            count(&[b"a\r", b"", b"\nb"]),
            1,
            "an empty read keeps the CR"
        );
        assert_eq!(count(&[b"a\r", b"b\n"]), 2);
    }

    #[test]
    fn delimiter_prefers_consistent_splits() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n", true), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3\n", true), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n\"x,y\"\tz\n", true), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\nc|d\n", true), b'|');
        assert_eq!(sniff_delimiter(b"email\nx@y.com\n", true), b',');
        assert_eq!(sniff_delimiter(b"", true), b',');
    }

    #[test]
    fn utf16_is_recognised_without_bom() {
        let le: Vec<u8> = "email,name\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let be: Vec<u8> = "email,name\n"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(utf16_without_bom(&le), Some(UTF_16LE));
        assert_eq!(utf16_without_bom(&be), Some(UTF_16BE));
        assert_eq!(utf16_without_bom(b"email,name\n"), None);
    }
}
