//! Planner statistics and tag rows of `leads`, gathered while a bulk load
//! writes it.
//!
//! A load into an empty `leads` sees every row the table will hold, so it
//! can count what `ANALYZE` counts for `sqlite_stat1` (the rows, and the
//! distinct prefixes of each index's key) as the rows go in, instead of
//! reading all the indexes again once they are built: about 0.7 s after a
//! million-row load, on one core, at the end of the import. It gathers the
//! `lead_tags` rows the same way, instead of scanning `leads` again and
//! sorting what `json_each` finds in every row (~0.5 s).

use std::borrow::Cow;
use std::collections::HashMap;

use foldhash::fast::FixedState;

use crate::codec::{LEAD_COLUMNS, SqlValue, col};
use crate::schema::LEAD_INDEXES;
use crate::{LeadRow, Result, StoreError};

/// One value of an index key, with text interned.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Null,
    Int(i64),
    Text(u32),
}

/// How one column of an index key is taken from a lead's values.
#[derive(Debug, PartialEq)]
struct KeyColumn {
    /// Position in `LEAD_COLUMNS`.
    value: usize,
    /// `lower(column)`: SQLite's built-in `lower`, ASCII letters only.
    lower: bool,
    /// The column is `id`, unique: every prefix that holds it is distinct.
    unique: bool,
}

/// Reads an index's column list as `schema::LEAD_INDEXES` writes it:
/// column names and `lower(name)`.
fn key_columns(cols: &str) -> Result<Vec<KeyColumn>> {
    cols.split(',')
        .map(|c| {
            let c = c.trim();
            let (name, lower) = match c.strip_prefix("lower(").and_then(|r| r.strip_suffix(')')) {
                Some(inner) => (inner, true),
                None => (c, false),
            };
            let value = LEAD_COLUMNS
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("index column {c:?} is not a lead column"))
                })?;
            Ok(KeyColumn {
                value,
                lower,
                unique: name == "id",
            })
        })
        .collect()
}

struct IndexCount {
    name: &'static str,
    columns: Vec<KeyColumn>,
    /// Per key column, the distinct key prefixes that end there, each
    /// numbered by (its own prefix's number, its last value).
    prefixes: Vec<HashMap<(u32, Part), u32, FixedState>>,
}

/// What `ANALYZE` would write to `sqlite_stat1` for the indexes of
/// `leads`, and the rows of `lead_tags`, over the rows given to
/// [`LeadIndexStats::add_rows`].
pub(crate) struct LeadIndexStats {
    rows: u64,
    indexes: Vec<IndexCount>,
    texts: HashMap<Vec<u8>, u32, FixedState>,
    lowered: Vec<u8>,
    /// Each tag's leads, as `json_each` reads the `tags` column.
    tags: HashMap<Box<str>, Vec<i64>, FixedState>,
}

/// One element of a `tags` array, borrowed unless it has escapes.
#[derive(serde::Deserialize)]
struct Tag<'a>(#[serde(borrow)] Cow<'a, str>);

const ID: usize = col("id");
const TAGS: usize = col("tags");

impl LeadIndexStats {
    pub(crate) fn new() -> Result<LeadIndexStats> {
        let indexes = LEAD_INDEXES
            .iter()
            .map(|(name, cols, _)| {
                let columns = key_columns(cols)?;
                let prefixes = columns.iter().map(|_| HashMap::default()).collect();
                Ok(IndexCount {
                    name,
                    columns,
                    prefixes,
                })
            })
            .collect::<Result<_>>()?;
        Ok(LeadIndexStats {
            rows: 0,
            indexes,
            texts: HashMap::default(),
            lowered: Vec::new(),
            tags: HashMap::default(),
        })
    }

    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Counts rows as inserted in workspace `ws`.
    pub(crate) fn add_rows(&mut self, rows: &[LeadRow], ws: i64) -> Result<()> {
        let mut values = Vec::with_capacity(LEAD_COLUMNS.len() + 1);
        for row in rows {
            values.clear();
            row.push_values(&mut values, ws)?;
            self.add(&values)?;
        }
        Ok(())
    }

    /// Counts one row, its values in `LEAD_COLUMNS` order.
    fn add(&mut self, values: &[SqlValue<'_>]) -> Result<()> {
        self.rows += 1;
        if let (SqlValue::Int(id), SqlValue::Text(tags)) = (&values[ID], &values[TAGS]) {
            let tags: Vec<Tag<'_>> = serde_json::from_str(tags)
                .map_err(|e| StoreError::Corrupt(format!("lead {id}: tags {tags:?}: {e}")))?;
            for Tag(tag) in tags {
                match self.tags.get_mut(tag.as_ref()) {
                    Some(leads) => leads.push(*id),
                    None => {
                        self.tags.insert(tag.into(), vec![*id]);
                    }
                }
            }
        }
        for index in &mut self.indexes {
            let mut prefix = 0;
            for (column, seen) in index.columns.iter().zip(&mut index.prefixes) {
                if column.unique {
                    break;
                }
                let part = match &values[column.value] {
                    SqlValue::Null => Part::Null,
                    SqlValue::Int(i) => Part::Int(*i),
                    SqlValue::Text(t) => {
                        let mut bytes = t.as_bytes();
                        if column.lower && bytes.iter().any(u8::is_ascii_uppercase) {
                            self.lowered.clear();
                            self.lowered
                                .extend(bytes.iter().map(u8::to_ascii_lowercase));
                            bytes = &self.lowered;
                        }
                        Part::Text(match self.texts.get(bytes) {
                            Some(id) => *id,
                            None => {
                                let id = self.texts.len() as u32;
                                self.texts.insert(bytes.to_vec(), id);
                                id
                            }
                        })
                    }
                };
                let next = seen.len() as u32;
                prefix = *seen.entry((prefix, part)).or_insert(next);
            }
        }
        Ok(())
    }

    /// The rows of `lead_tags`, `(tag, lead id)`, in key order and each
    /// once (a tag twice in one lead is one row).
    pub(crate) fn tag_rows(&mut self) -> Vec<(&str, i64)> {
        let mut tags: Vec<(&str, &mut Vec<i64>)> =
            self.tags.iter_mut().map(|(t, ids)| (&**t, ids)).collect();
        tags.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut rows = Vec::with_capacity(tags.iter().map(|(_, ids)| ids.len()).sum());
        for (tag, ids) in tags {
            ids.sort_unstable();
            ids.dedup();
            rows.extend(ids.iter().map(|id| (tag, *id)));
        }
        rows
    }

    /// `(index, stat)` rows for `sqlite_stat1`, in `ANALYZE`'s format: the
    /// row count, then for each key prefix the rows per distinct value,
    /// rounded up (and kept at 1 when under 1.1).
    pub(crate) fn stat1(&self) -> Vec<(&'static str, String)> {
        let rows = self.rows;
        self.indexes
            .iter()
            .map(|index| {
                let mut stat = rows.to_string();
                let mut unique = false;
                for (column, seen) in index.columns.iter().zip(&index.prefixes) {
                    // A prefix holding the unique id is distinct in every row;
                    // so is any longer one.
                    unique |= column.unique;
                    let distinct = if unique { rows } else { seen.len() as u64 }.max(1);
                    let mut per_value = rows.div_ceil(distinct);
                    if per_value == 2 && rows * 10 <= distinct * 11 {
                        per_value = 1;
                    }
                    stat.push(' ');
                    stat.push_str(&per_value.to_string());
                }
                (index.name, stat)
            })
            .collect()
    }
}
