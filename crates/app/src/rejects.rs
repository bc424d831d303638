//! The rejects file: every row an import refused, with its line and reason.
//!
//! "Nothing is lost silently": a row that cannot be imported is written to
//! `<input stem>.rejects.csv` next to the input (`leads.csv` →
//! `leads.rejects.csv`; a fixed `leads.rejects.csv` re-imported writes
//! `leads.rejects.rejects.csv`, so it never overwrites its own input). The
//! columns are `line,reason` followed by the input's own headers, so the user
//! can fix the rows in a spreadsheet, delete the first two columns and import
//! the file again.
//!
//! The file is created on the first reject only; an old one from an earlier
//! import of the same input is removed up front, so the rejects file on disk
//! always belongs to the last import.
//!
//! Cells beginning with `=`, `+`, `-`, `@`, tab or carriage return get a
//! leading apostrophe: the rows come from untrusted exports and the file is
//! meant to be opened in a spreadsheet, which would run them as formulas
//! (CSV injection). A phone like `+1 415…` therefore shows as `'+1 415…`;
//! the apostrophe is hidden by spreadsheets and harmless on re-import.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::csv_source::RawRow;
use crate::export::escape_formula;

/// Failure to maintain the rejects file; the message says what to do.
#[derive(Debug, Error)]
pub enum RejectsError {
    #[error(
        "cannot remove the old rejects file {}: {source}; delete it by hand and import again",
        path.display()
    )]
    RemoveOld { path: PathBuf, source: io::Error },

    #[error(
        "cannot create the rejects file {}: {source}; check that the input file's folder is \
         writable and has free space",
        path.display()
    )]
    Create { path: PathBuf, source: io::Error },

    #[error(
        "cannot write the rejects file {}: {source}; check free disk space and import again",
        path.display()
    )]
    Write { path: PathBuf, source: io::Error },
}

/// Writes rejected rows next to the input, creating the file on first use.
pub struct RejectsWriter {
    path: PathBuf,
    headers: Vec<String>,
    writer: Option<csv::Writer<BufWriter<File>>>,
    count: u64,
    /// Reused for escaped cells so a reject costs no allocation per cell.
    scratch: Vec<u8>,
}

impl std::fmt::Debug for RejectsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RejectsWriter")
            .field("path", &self.path)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl RejectsWriter {
    /// The rejects file that belongs to `input`: same folder, file stem plus
    /// `.rejects.csv`.
    pub fn path_for(input: &Path) -> PathBuf {
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "input".to_string());
        input.with_file_name(format!("{stem}.rejects.csv"))
    }

    /// Prepares the rejects file for `input` (with the input's `headers`) and
    /// removes one left by an earlier import of the same file.
    pub fn new(input: &Path, headers: &[String]) -> Result<RejectsWriter, RejectsError> {
        RejectsWriter::at(RejectsWriter::path_for(input), headers)
    }

    /// Like [`RejectsWriter::new`] with an explicit rejects path.
    pub fn at(path: PathBuf, headers: &[String]) -> Result<RejectsWriter, RejectsError> {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(RejectsError::RemoveOld { path, source }),
        }
        Ok(RejectsWriter {
            path,
            headers: headers.to_vec(),
            writer: None,
            count: 0,
            scratch: Vec::new(),
        })
    }

    /// Where rejects go (the file exists only once something was rejected).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows rejected so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Writes a row read by `CsvSource` with the reason it was refused.
    pub fn reject(&mut self, row: &RawRow, reason: &str) -> Result<(), RejectsError> {
        self.write(row.line(), reason, row.lossy_cells())
    }

    /// Writes any row: its line in the input, the reason and its cells.
    pub fn write<I, S>(&mut self, line: u64, reason: &str, cells: I) -> Result<(), RejectsError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let path = &self.path;
        let to_write_error = |e: csv::Error| RejectsError::Write {
            path: path.clone(),
            source: csv_io_error(e),
        };
        let writer = match &mut self.writer {
            Some(w) => w,
            None => {
                let file = File::create(path).map_err(|source| RejectsError::Create {
                    path: path.clone(),
                    source,
                })?;
                let mut w = csv::WriterBuilder::new()
                    .flexible(true)
                    .from_writer(BufWriter::with_capacity(64 * 1024, file));
                w.write_field("line").map_err(to_write_error)?;
                w.write_field("reason").map_err(to_write_error)?;
                for h in &self.headers {
                    w.write_field(escape_formula(h.as_bytes(), &mut self.scratch))
                        .map_err(to_write_error)?;
                }
                w.write_record(None::<&[u8]>).map_err(to_write_error)?;
                self.writer.insert(w)
            }
        };
        let mut digits = itoa::Buffer::new();
        writer
            .write_field(digits.format(line))
            .map_err(to_write_error)?;
        writer
            .write_field(escape_formula(reason.as_bytes(), &mut self.scratch))
            .map_err(to_write_error)?;
        for cell in cells {
            writer
                .write_field(escape_formula(cell.as_ref().as_bytes(), &mut self.scratch))
                .map_err(to_write_error)?;
        }
        writer.write_record(None::<&[u8]>).map_err(to_write_error)?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and closes the file. Returns its path if anything was
    /// rejected, `None` if no file was written.
    pub fn finish(mut self) -> Result<Option<PathBuf>, RejectsError> {
        let Some(mut writer) = self.writer.take() else {
            return Ok(None);
        };
        writer.flush().map_err(|source| RejectsError::Write {
            path: self.path.clone(),
            source,
        })?;
        let buffered = writer.into_inner().map_err(|e| RejectsError::Write {
            path: self.path.clone(),
            source: io::Error::other(e.to_string()),
        })?;
        let file = buffered.into_inner().map_err(|e| RejectsError::Write {
            path: self.path.clone(),
            source: io::Error::other(e.to_string()),
        })?;
        file.sync_all().map_err(|source| RejectsError::Write {
            path: self.path.clone(),
            source,
        })?;
        Ok(Some(self.path))
    }
}

fn csv_io_error(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_path_sits_next_to_the_input() {
        assert_eq!(
            RejectsWriter::path_for(Path::new("/data/leads.csv")),
            PathBuf::from("/data/leads.rejects.csv")
        );
        assert_eq!(
            RejectsWriter::path_for(Path::new("leads")),
            PathBuf::from("leads.rejects.csv")
        );
        assert_eq!(
            RejectsWriter::path_for(Path::new("x/leads.rejects.csv")),
            PathBuf::from("x/leads.rejects.rejects.csv")
        );
    }

    #[test]
    fn no_rejects_no_file_and_old_file_removed() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("leads.csv");
        let old = dir.path().join("leads.rejects.csv");
        std::fs::write(&old, "stale").unwrap();
        let w = RejectsWriter::new(&input, &["Email".to_string()]).unwrap();
        assert!(!old.exists(), "old rejects file is removed at start");
        assert_eq!(w.finish().unwrap(), None);
        assert!(!old.exists());
    }

    #[test]
    fn rejects_are_quoted_and_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("leads.csv");
        let headers = vec!["Email".to_string(), "Note".to_string()];
        let mut w = RejectsWriter::new(&input, &headers).unwrap();
        w.write(3, "invalid email", ["not-an-email", "=HYPERLINK(\"x\")"])
            .unwrap();
        w.write(9, "row has 3 fields, header has 2", ["a", "b,c", "d\ne"])
            .unwrap();
        assert_eq!(w.count(), 2);
        let path = w.finish().unwrap().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            text,
            "line,reason,Email,Note\n\
             3,invalid email,not-an-email,\"'=HYPERLINK(\"\"x\"\")\"\n\
             9,\"row has 3 fields, header has 2\",a,\"b,c\",\"d\ne\"\n"
        );
    }
}
