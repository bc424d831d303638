//! A statement for bulk writes that binds text without copying it.
//!
//! rusqlite binds every non-empty text value with `SQLITE_TRANSIENT`: SQLite
//! allocates a copy of each string before the statement runs and frees it
//! afterwards. A 1M-row import binds some 17 million strings, and `perf` put
//! those copies at more than half of the writer's time in `insert_leads`.
//! Here text is bound with `SQLITE_STATIC`, so SQLite reads it in place when
//! the row is built. That is sound because [`BulkStatement::execute`] borrows
//! the values for the whole call and resets the statement and clears its
//! bindings before it returns: no pointer to them outlives the borrow.

use std::ffi::{CStr, c_char, c_int};
use std::marker::PhantomData;
use std::ptr;

use rusqlite::{Connection, ffi};

use crate::codec::SqlValue;

/// One prepared statement on a connection, finalized when dropped.
pub(crate) struct BulkStatement<'c> {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    params: usize,
    /// The statement must not outlive its connection.
    _conn: PhantomData<&'c Connection>,
}

impl<'c> BulkStatement<'c> {
    pub(crate) fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        let len = c_int::try_from(sql.len()).map_err(|_| rusqlite::Error::InvalidQuery)?;
        // SAFETY: the handle is only used while `conn` is borrowed, which
        // `_conn` ties to this statement's lifetime.
        let db = unsafe { conn.handle() };
        let mut stmt = ptr::null_mut();
        // SAFETY: `sql` is valid for `len` bytes; `stmt` receives the new
        // statement or stays null.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                db,
                sql.as_ptr().cast::<c_char>(),
                len,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        if stmt.is_null() {
            // Only whitespace or comments: nothing to run.
            return Err(rusqlite::Error::InvalidQuery);
        }
        // SAFETY: `stmt` is a valid statement.
        let params = unsafe { ffi::sqlite3_bind_parameter_count(stmt) } as usize;
        Ok(BulkStatement {
            db,
            stmt,
            params,
            _conn: PhantomData,
        })
    }

    /// Binds `values` to the parameters in order and runs the statement to
    /// completion (a write: any result rows are an error).
    pub(crate) fn execute(&mut self, values: &[SqlValue<'_>]) -> rusqlite::Result<()> {
        if values.len() != self.params {
            return Err(rusqlite::Error::InvalidParameterCount(
                values.len(),
                self.params,
            ));
        }
        let result = self.bind_and_step(values);
        // SAFETY: `stmt` is valid; after these calls SQLite holds no pointer
        // into `values`.
        unsafe {
            ffi::sqlite3_reset(self.stmt);
            ffi::sqlite3_clear_bindings(self.stmt);
        }
        result
    }

    fn bind_and_step(&mut self, values: &[SqlValue<'_>]) -> rusqlite::Result<()> {
        for (i, value) in values.iter().enumerate() {
            let col = (i + 1) as c_int;
            // SAFETY: `stmt` is valid and `col` within its parameter count.
            // Text stays borrowed until `execute` has cleared the bindings.
            let rc = unsafe {
                match value {
                    SqlValue::Null => ffi::sqlite3_bind_null(self.stmt, col),
                    SqlValue::Int(n) => ffi::sqlite3_bind_int64(self.stmt, col, *n),
                    SqlValue::Text(s) => ffi::sqlite3_bind_text64(
                        self.stmt,
                        col,
                        s.as_ptr().cast::<c_char>(),
                        s.len() as ffi::sqlite3_uint64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error(self.db, rc));
            }
        }
        // SAFETY: `stmt` is valid and every parameter is bound.
        match unsafe { ffi::sqlite3_step(self.stmt) } {
            ffi::SQLITE_DONE => Ok(()),
            ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
            rc => Err(error(self.db, rc)),
        }
    }
}

impl Drop for BulkStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: `stmt` came from `sqlite3_prepare_v2` and is finalized once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}

/// The connection's error for result code `rc`, with SQLite's message.
fn error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: `db` is a valid connection; its message is a NUL-terminated
    // string valid until the next call on the connection, copied here.
    let message = unsafe {
        let msg = ffi::sqlite3_errmsg(db);
        (!msg.is_null()).then(|| CStr::from_ptr(msg).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn binds_text_in_place_and_reuses_the_statement() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c TEXT)")
            .unwrap();
        let mut stmt = BulkStatement::prepare(&conn, "INSERT INTO t VALUES (?, ?, ?)").unwrap();
        for i in 0..3 {
            // A fresh string each time: SQLite must have copied the text into
            // the row before it is dropped.
            let text = format!("row {i} é");
            stmt.execute(&[
                SqlValue::Int(i),
                SqlValue::Text(Cow::Owned(text)),
                if i == 1 {
                    SqlValue::Null
                } else {
                    SqlValue::Text(Cow::Borrowed(""))
                },
            ])
            .unwrap();
        }
        drop(stmt);
        let rows: Vec<(i64, String, Option<String>)> = conn
            .prepare("SELECT a, b, c FROM t ORDER BY a")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (0, "row 0 é".to_owned(), Some(String::new())),
                (1, "row 1 é".to_owned(), None),
                (2, "row 2 é".to_owned(), Some(String::new())),
            ]
        );
    }

    #[test]
    fn reports_constraint_errors_and_wrong_parameter_counts() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a INTEGER PRIMARY KEY)")
            .unwrap();
        let mut stmt = BulkStatement::prepare(&conn, "INSERT INTO t VALUES (?)").unwrap();
        stmt.execute(&[SqlValue::Int(1)]).unwrap();
        let dup = stmt.execute(&[SqlValue::Int(1)]).unwrap_err();
        assert!(
            matches!(&dup, rusqlite::Error::SqliteFailure(e, Some(m))
                if e.code == rusqlite::ErrorCode::ConstraintViolation && m.contains("UNIQUE")),
            "{dup:?}"
        );
        // The statement is usable again after an error.
        stmt.execute(&[SqlValue::Int(2)]).unwrap();
        assert!(matches!(
            stmt.execute(&[]),
            Err(rusqlite::Error::InvalidParameterCount(0, 1))
        ));
        assert!(BulkStatement::prepare(&conn, "INSERT INTO nowhere VALUES (1)").is_err());
    }
}
